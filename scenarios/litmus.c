/* Litmus tests on real hardware (issue 21): store buffering (SB) and message passing (MP).
 * A call is one actor's part of one iteration (the testbed's iteration: fresh state, the two
 * actors released together by its start gate, then litmus.py's arbiter reads the registers).
 * `x` and `y` are reached with tb_load/tb_store (plain relaxed accesses at --points named,
 * recorded points at --points access); the registers `r` are plain C words the arbiter reads.
 *
 * The start gate releases the actors within a microsecond or so of each other; the few
 * instructions of a test must overlap closer than that. So each actor first counts itself in
 * (`ready`) and waits, briefly and boundedly, for the other to arrive (litmus7's
 * synchronisation, within the iteration): free runs overlap, and a controlled run (one actor
 * at a time: replay, explore) only spends the bound and goes on. */
#define _GNU_SOURCE
#include <sched.h>

#include "testbed.h"

/* how long an actor waits for the other: pauses, then yields (the other may share its CPU) */
#define RENDEZVOUS_PAUSES 256
#define RENDEZVOUS_YIELDS 64
#define START_AHEAD 2000 /* clock ticks (cycles): under a microsecond */

static inline void pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline uint64_t now(void)
{
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_ia32_rdtsc(); /* one clock for every CPU (constant, synchronised TSC) */
#else
    return 0; /* no common clock: start as soon as both arrived */
#endif
}

/* Both actors read both variables first (plain loads, no points): each CPU holds both lines
 * shared, so a store waits in the store buffer for the other CPU's copy to go while the load
 * after it hits its own cache, as in a loop that runs the test again and again. Then the
 * second to arrive names a start a little ahead on the common clock and both wait for it
 * (litmus7's timebase synchronisation): they start within tens of ns, whichever saw the
 * other arrive first. ready[0] counts the arrivals, ready[1] is the start. */
static void rendezvous(tb_env *env, const uint64_t *x, const uint64_t *y)
{
    uint64_t *ready = tb_region(env, "ready");
    (void)__atomic_load_n(x, __ATOMIC_RELAXED);
    (void)__atomic_load_n(y, __ATOMIC_RELAXED);
    if (__atomic_add_fetch(&ready[0], 1, __ATOMIC_ACQ_REL) == 2)
        __atomic_store_n(&ready[1], now() + START_AHEAD, __ATOMIC_RELEASE);
    uint64_t start = 0;
    for (int i = 0; i < RENDEZVOUS_PAUSES * RENDEZVOUS_YIELDS; i++) {
        if ((start = __atomic_load_n(&ready[1], __ATOMIC_ACQUIRE)) != 0)
            break;
        if (i % RENDEZVOUS_PAUSES == RENDEZVOUS_PAUSES - 1)
            sched_yield();
        else
            pause();
    }
    while (start && now() < start && now() + START_AHEAD >= start)
        pause();
}

static inline void fence(int fenced)
{
    if (fenced)
        __atomic_thread_fence(__ATOMIC_SEQ_CST); /* mfence on x86 */
}

/* SB: x = 1; r0 = y  ||  y = 1; r1 = x */
void litmus_sb(tb_env *env)
{
    uint64_t *x = tb_region(env, "x"), *y = tb_region(env, "y"), *r = tb_region(env, "r");
    int me = tb_actor_index(env), fenced = (int)tb_param(env, "fenced", 0);
    rendezvous(env, x, y);
    if (me == 0) {
        tb_store(env, x, 1);
        fence(fenced);
        r[0] = tb_load(env, y);
    } else {
        tb_store(env, y, 1);
        fence(fenced);
        r[1] = tb_load(env, x);
    }
}

/* MP: x = 1; y = 1  ||  r0 = y; r1 = x  (y the flag, x the data) */
void litmus_mp(tb_env *env)
{
    uint64_t *x = tb_region(env, "x"), *y = tb_region(env, "y"), *r = tb_region(env, "r");
    int me = tb_actor_index(env), fenced = (int)tb_param(env, "fenced", 0);
    rendezvous(env, x, y);
    if (me == 0) {
        tb_store(env, x, 1);
        fence(fenced);
        tb_store(env, y, 1);
    } else {
        r[0] = tb_load(env, y);
        fence(fenced);
        r[1] = tb_load(env, x);
    }
}
