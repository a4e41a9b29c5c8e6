/* Litmus tests on real hardware (issue 21): store buffering (SB) and message passing (MP),
 * one iteration a call, the two actors started together by a spinning barrier. Actor 0 is
 * the arbiter: it reads both actors' registers, records the outcome and resets the
 * variables. `x` and `y` are reached with tb_load/tb_store (plain relaxed accesses at
 * --points named, recorded points at --points access); the registers, the barrier and the
 * histogram are the harness's own words, plain C. */
#define _GNU_SOURCE
#include <sched.h>

#include "testbed.h"

static inline void relax(unsigned *spins)
{
    if (++*spins < 256) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else { /* the other actor may share our CPU: let it run */
        *spins = 0;
        sched_yield();
    }
}

/* Both actors arrive before either leaves; 0 if the run stopped meanwhile. b[0] counts the
 * arrivals, b[1] is the generation the last one to arrive moves on. */
static int barrier(tb_env *env, uint64_t *b)
{
    uint64_t gen = __atomic_load_n(&b[1], __ATOMIC_ACQUIRE);
    if (__atomic_add_fetch(&b[0], 1, __ATOMIC_ACQ_REL) == 2) {
        __atomic_store_n(&b[0], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b[1], gen + 1, __ATOMIC_RELEASE);
        return 1;
    }
    unsigned spins = 0;
    while (__atomic_load_n(&b[1], __ATOMIC_ACQUIRE) == gen) {
        if (tb_stopping(env))
            return 0;
        relax(&spins);
    }
    return 1;
}

static inline void fence(int fenced)
{
    if (fenced)
        __atomic_thread_fence(__ATOMIC_SEQ_CST); /* mfence on x86 */
}

/* One iteration; `relaxed` is the outcome no interleaving of the two actors gives. */
static void iterate(tb_env *env, int mp)
{
    uint64_t *x = tb_region(env, "x"), *y = tb_region(env, "y");
    uint64_t *r = tb_region(env, "r"), *sync = tb_region(env, "sync");
    int me = tb_actor_index(env), fenced = (int)tb_param(env, "fenced", 0);
    if (!barrier(env, sync))
        return;
    if (!mp && me == 0) { /* SB: x = 1; r0 = y  ||  y = 1; r1 = x */
        tb_store(env, x, 1);
        fence(fenced);
        r[0] = tb_load(env, y);
    } else if (!mp) {
        tb_store(env, y, 1);
        fence(fenced);
        r[1] = tb_load(env, x);
    } else if (me == 0) { /* MP: x = 1; y = 1  ||  r0 = y; r1 = x  (y the flag, x the data) */
        tb_store(env, x, 1);
        fence(fenced);
        tb_store(env, y, 1);
    } else {
        r[0] = tb_load(env, y);
        fence(fenced);
        r[1] = tb_load(env, x);
    }
    if (!barrier(env, sync))
        return;
    if (me == 0) {
        uint64_t r0 = r[0], r1 = r[1];
        int relaxed = mp ? (r0 == 1 && r1 == 0) : (r0 == 0 && r1 == 0);
        tb_region(env, "histogram")[2 * r0 + r1]++;
        *x = *y = r[0] = r[1] = 0;
        tb_record(env, tb_outcome(env, relaxed ? "relaxed" : "interleaved"));
    }
    barrier(env, sync); /* the reset is seen before the next iteration starts */
}

void litmus_sb(tb_env *env) { iterate(env, 0); }
void litmus_mp(tb_env *env) { iterate(env, 1); }
