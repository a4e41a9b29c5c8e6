/* The shim compiled into every native library with the scenario's sources: the call from the
 * harness (tb__run, which the harness unwinds to when a call fails), name lookups, and the
 * slow paths of testbed.h (access-level points, a point the harness handles). */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "testbed.h"

/* Call fn(env); answers 0 when it returned, 1 when it failed (tb__fail unwound here). */
int tb__run(void (*fn)(tb_env *), tb_env *env)
{
    jmp_buf here;
    void *outer = env->unwind;
    env->unwind = &here;
    if (setjmp(here) == 0) {
        fn(env);
        env->unwind = outer;
        return 0;
    }
    env->unwind = outer;
    return 1;
}

void tb__fail(tb_env *env, const char *what, const char *name)
{
    if (what)
        env->fail(what, name); /* the harness builds the error naming it */
    env->failed = 1;
    longjmp(*(jmp_buf *)env->unwind, 1);
}

static int find(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

static int region(tb_env *env, const char *name)
{
    int k = find(env->region_names, env->nregions, name);
    if (k < 0)
        tb__fail(env, "region", name);
    return k;
}

uint64_t *tb_region(tb_env *env, const char *name) { return env->region_base[region(env, name)]; }

size_t tb_region_words(tb_env *env, const char *name)
{
    return (size_t)env->region_words[region(env, name)];
}

int64_t tb_param(tb_env *env, const char *key, int64_t dflt)
{
    int k = find(env->param_keys, env->nparams, key);
    return k < 0 ? dflt : env->param_values[k];
}

int tb_outcome(tb_env *env, const char *name)
{
    int k = find(env->outcome_names, env->noutcomes, name);
    if (k < 0)
        tb__fail(env, "outcome", name);
    return k;
}

int tb_point_id(tb_env *env, const char *name)
{
    int k = find(env->point_names, env->npoints, name);
    if (k < 0)
        tb__fail(env, "point", name);
    return k;
}

int tb_lock_id(tb_env *env, const char *name)
{
    int k = find(env->lock_names, env->nlocks, name);
    if (k < 0)
        tb__fail(env, "lock", name);
    return k;
}

void tb__harness_point(tb_env *env, int point)
{
    if ((unsigned)point >= (unsigned)env->npoints) {
        char id[24];
        snprintf(id, sizeof id, "%d", point);
        tb__fail(env, "point id", id);
    }
    env->point(point);
    tb__check(env);
}

/* ---- access level: which region and word an address is, and the point before it ------- */
static int word_of(tb_env *env, const uint64_t *p, uint32_t *index)
{
    for (int k = 0; k < env->nregions; k++) {
        const uint64_t *base = env->region_base[k];
        if (p >= base && p < base + env->region_words[k]) {
            *index = (uint32_t)(p - base);
            return k;
        }
    }
    char addr[32];
    snprintf(addr, sizeof addr, "%p", (const void *)p);
    tb__fail(env, "address", addr);
}

static void before(tb_env *env, uint32_t index, uint32_t id)
{
    if (env->before) {
        env->before((int64_t)index << 16 | id);
        env->caller = NULL; /* a callback of another kind has no line of its own */
        tb__check(env);
    }
}

uint64_t tb__access_load(tb_env *env, const uint64_t *p)
{
    uint32_t i;
    env->caller = __builtin_return_address(0); /* in the scenario's code */
    int k = word_of(env, p, &i);
    before(env, i, env->region_read[k]);
    if (env->acc_load)
        return env->acc_load(env->region_read[k], env->region_base[k], i);
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

void tb__access_store(tb_env *env, uint64_t *p, uint64_t v)
{
    uint32_t i;
    env->caller = __builtin_return_address(0); /* in the scenario's code */
    int k = word_of(env, p, &i);
    before(env, i, env->region_write[k]);
    if (env->acc_store)
        env->acc_store(env->region_write[k], env->region_base[k], i, (uint32_t)v,
                       (uint32_t)(v >> 32));
    else
        __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

int tb__access_cas(tb_env *env, uint64_t *p, uint64_t expected, uint64_t desired)
{
    uint32_t i;
    env->caller = __builtin_return_address(0); /* in the scenario's code */
    int k = word_of(env, p, &i);
    before(env, i, env->region_write[k]);
    if (env->acc_cas)
        return env->acc_cas(env->region_write[k], env->region_base[k], i, (uint32_t)expected,
                            (uint32_t)(expected >> 32), (uint32_t)desired,
                            (uint32_t)(desired >> 32)) == expected;
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

uint64_t tb__access_fetch_add(tb_env *env, uint64_t *p, uint64_t v)
{
    uint32_t i;
    env->caller = __builtin_return_address(0); /* in the scenario's code */
    int k = word_of(env, p, &i);
    before(env, i, env->region_write[k]);
    if (env->acc_fetch_add)
        return env->acc_fetch_add(env->region_write[k], env->region_base[k], i, (uint32_t)v,
                                  (uint32_t)(v >> 32));
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
