/* The shim compiled into every native library with the scenario's sources: the call from the
 * harness (tb__run, which the harness unwinds to when a call fails), name lookups, and the
 * slow paths of testbed.h (access-level points, a point the harness handles). */
#include <errno.h>
#include <semaphore.h>
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

/* ---- locks taken and released in C (tb_env's lock_sem): as the harness's NamedLock does it,
 * the holder word names the actor while it holds the lock ------------------------------- */
int tb__lock_now(tb_env *env, int lock)
{
    if (sem_trywait((sem_t *)env->lock_sem[lock]) != 0)
        return 0; /* taken (EAGAIN) or interrupted: the harness waits */
    __atomic_store_n(env->lock_holder[lock], env->lock_me, __ATOMIC_RELEASE);
    return 1;
}

void tb__unlock_now(tb_env *env, int lock)
{
    __atomic_store_n(env->lock_holder[lock], 0, __ATOMIC_RELEASE);
    if (sem_post((sem_t *)env->lock_sem[lock]) != 0) {
        char err[64];
        snprintf(err, sizeof err, "releasing lock %s: sem_post failed, errno %d",
                 env->lock_names[lock], errno);
        tb__fail(env, "error", err);
    }
}

/* ---- a request to core from C (tb_env's core_client): the words `env.core_call` writes, then
 * the testbed's own handshake (mailbox.c's tb_call) ------------------------------------- */
int tb__core_now(tb_env *env, uint64_t op, uint64_t a0, uint64_t a1, uint64_t a2,
                 uint64_t *reply)
{
    *env->core_op = op;
    env->core_args[0] = a0, env->core_args[1] = a1, env->core_args[2] = a2;
    int64_t rc = env->core_now(env->core_client); /* its first store is seq_cst */
    char text[96];
    if (rc < 0) { /* tb_call answers whether core replied; the status is in the mailbox */
        snprintf(text, sizeof text, "%lld", (long long)rc);
        tb__fail(env, "core", text);
    }
    uint64_t status = *env->core_status; /* any word core wrote: never trusted to fit */
    if (status > (uint64_t)INT32_MAX) {
        snprintf(text, sizeof text, "core answered status %llu, which tb_core_call's int cannot hold",
                 (unsigned long long)status);
        tb__fail(env, "error", text);
    }
    if (reply)
        *reply = *env->core_value;
    return (int)status;
}
