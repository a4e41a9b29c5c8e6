/* bench/native_cost.py's body: n named tb_points, then n tb_loads of one declared word,
 * each loop timed with the monotonic clock; the results in the region `out` (ns). */
#define _POSIX_C_SOURCE 199309L
#include <time.h>

#include "testbed.h"

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void native_cost(tb_env *env)
{
    int64_t n = tb_param(env, "iterations", 100000);
    uint64_t *word = tb_region(env, "word"), *out = tb_region(env, "out");
    int p = tb_point_id(env, "p");
    uint64_t t0 = now_ns();
    for (int64_t i = 0; i < n; i++)
        tb_point(env, p);
    uint64_t t1 = now_ns(), sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += tb_load(env, &word[0]);
    uint64_t t2 = now_ns();
    out[0] = t1 - t0;
    out[1] = t2 - t1;
    out[2] = sum;
}
