/* testbed.h: what a native actor's C code sees of the testbed (issue 21, "Native actors").
 *
 * A scenario names its C sources in `Scenario.native`; its actor body calls
 * `env.native("name")`, which calls `void name(tb_env *env)` in the actor's own process. C11,
 * no other header needed. The harness fills `tb_env` (testbed/native/bridge.py); read it only
 * through the functions below.
 *
 *   shared memory  tb_region, tb_region_words, tb_load, tb_store, tb_cas, tb_fetch_add
 *   identity       tb_actor_index, tb_actor_name, tb_variant, tb_param
 *   outcomes       tb_outcome, tb_record
 *   points, locks  tb_point_id, tb_point, tb_lock_id, tb_lock, tb_unlock, tb_stopping
 *   core           tb_core_call
 *
 * At `--points named` tb_load/tb_store are plain relaxed accesses (no fence: a store may sit
 * in the store buffer) and a tb_point with nothing to do costs a load and a branch. At
 * `--points access` each tb_load, tb_store, tb_cas and tb_fetch_add of a declared region is a
 * schedule point named after its region and word (`x[0].r`), recorded in the same C call as
 * the access (a ticket taken by an atomic fetch-add: a full fence on x86).
 *
 * A name that is not declared (region, outcome, point, lock) fails the actor with a message
 * naming it: the call unwinds to the harness, which ends the run as aborted.
 */
#ifndef TESTBED_H
#define TESTBED_H

#include <stddef.h>
#include <stdint.h>

#define TB_ABI 2

typedef struct tb_env tb_env;

/* Filled by the harness; the layout is mirrored by testbed/native/bridge.py (TbEnv). */
struct tb_env {
    uint32_t abi;
    int32_t access;      /* 1 at --points access */
    int32_t actor_index;
    int32_t failed;      /* a harness call failed: the shim unwinds to the harness */
    int32_t point_mode;  /* what tb_point does: 0 nothing, 1 record (rec), 2 the harness */
    int32_t nregions, npoints, noutcomes, nlocks, nparams;
    const char *actor_name;
    const char *variant;
    const uint64_t *stop; /* nonzero once the run is told to stop */
    const char *const *region_names;
    uint64_t *const *region_base;
    const uint64_t *region_words;
    const uint32_t *region_read;  /* access level: the point ids of `region[].r` ... */
    const uint32_t *region_write; /* ... and `region[].w` */
    const char *const *point_names;
    const char *const *outcome_names;
    const char *const *lock_names;
    const char *const *param_keys;
    const int64_t *param_values;
    /* recording, in the testbed's C library (NULL when the run records nothing) */
    uint64_t (*rec)(uint32_t event);
    uint64_t (*acc_load)(uint32_t event, const uint64_t *words, uint32_t index);
    uint64_t (*acc_store)(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo,
                          uint32_t hi);
    uint64_t (*acc_cas)(uint32_t event, uint64_t *words, uint32_t index, uint32_t exp_lo,
                        uint32_t exp_hi, uint32_t des_lo, uint32_t des_hi);
    uint64_t (*acc_fetch_add)(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo,
                              uint32_t hi);
    /* the harness (ctypes callbacks into the actor's Env); a failed one sets `failed` */
    int64_t (*point)(int32_t point);
    int64_t (*before)(int64_t code); /* access level, before an access (NULL: nothing) */
    int64_t (*record)(int32_t outcome);
    int64_t (*lock)(int32_t lock, int32_t acquire);
    int64_t (*core)(uint64_t op, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *reply);
    void (*fail)(const char *what, const char *name);
    void *unwind; /* the shim's jmp_buf */
    const void *caller; /* access level: where the access was made (testbed explain's line) */
};

/* ---- the shim (testbed/native/shim.c, compiled into every native library) -------------- */
#if defined(__GNUC__)
#define TB_NORETURN __attribute__((noreturn))
#else
#define TB_NORETURN _Noreturn
#endif
TB_NORETURN void tb__fail(tb_env *env, const char *what, const char *name);
void tb__harness_point(tb_env *env, int point);
uint64_t tb__access_load(tb_env *env, const uint64_t *p);
void tb__access_store(tb_env *env, uint64_t *p, uint64_t v);
int tb__access_cas(tb_env *env, uint64_t *p, uint64_t expected, uint64_t desired);
uint64_t tb__access_fetch_add(tb_env *env, uint64_t *p, uint64_t v);

static inline void tb__check(tb_env *env)
{
    if (env->failed)
        tb__fail(env, NULL, NULL);
}

/* ---- shared memory ---------------------------------------------------------------------- */
uint64_t *tb_region(tb_env *env, const char *name);      /* a declared region's words */
size_t tb_region_words(tb_env *env, const char *name);   /* how many */

static inline uint64_t tb_load(tb_env *env, const uint64_t *p)
{
    if (env->access)
        return tb__access_load(env, p);
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void tb_store(tb_env *env, uint64_t *p, uint64_t v)
{
    if (env->access)
        tb__access_store(env, p, v);
    else
        __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* Swap in `desired` if *p is `expected` (sequentially consistent); answers 1 if it did. */
static inline int tb_cas(tb_env *env, uint64_t *p, uint64_t expected, uint64_t desired)
{
    if (env->access)
        return tb__access_cas(env, p, expected, desired);
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

/* Add `v` to *p (sequentially consistent); answers the old value. */
static inline uint64_t tb_fetch_add(tb_env *env, uint64_t *p, uint64_t v)
{
    if (env->access)
        return tb__access_fetch_add(env, p, v);
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

/* ---- identity --------------------------------------------------------------------------- */
static inline int tb_actor_index(tb_env *env) { return env->actor_index; }
static inline const char *tb_actor_name(tb_env *env) { return env->actor_name; }
static inline const char *tb_variant(tb_env *env) { return env->variant; }
/* An integer param of the actor (its params first, then the scenario's config), or dflt. */
int64_t tb_param(tb_env *env, const char *key, int64_t dflt);

/* ---- outcomes ----------------------------------------------------------------------------- */
int tb_outcome(tb_env *env, const char *name); /* a declared outcome's id */

static inline void tb_record(tb_env *env, int outcome)
{
    env->record(outcome);
    tb__check(env);
}

/* ---- schedule points, locks, stopping --------------------------------------------------- */
int tb_point_id(tb_env *env, const char *name); /* a declared point's id */

static inline void tb_point(tb_env *env, int point)
{
    if (env->point_mode == 0)
        return;
    if (env->point_mode == 1 && (unsigned)point < (unsigned)env->npoints)
        env->rec((uint32_t)point);
    else
        tb__harness_point(env, point);
}

int tb_lock_id(tb_env *env, const char *name); /* a declared lock's id */

/* The same locks as `env.lock(name)`: holder words, deadlock watch, and at --points access
 * their `L.acquire`, `L.acquired`, `L.release` points. */
static inline void tb_lock(tb_env *env, int lock)
{
    env->lock(lock, 1);
    tb__check(env);
}

static inline void tb_unlock(tb_env *env, int lock)
{
    env->lock(lock, 0);
    tb__check(env);
}

static inline int tb_stopping(tb_env *env) { return __atomic_load_n(env->stop, __ATOMIC_RELAXED) != 0; }

/* ---- core --------------------------------------------------------------------------------- */
/* One request to the scenario's core as the actor's PD: answers the status, *reply the
 * value (reply may be NULL). */
static inline int tb_core_call(tb_env *env, uint64_t op, uint64_t a0, uint64_t a1, uint64_t a2,
                               uint64_t *reply)
{
    uint64_t value = 0;
    int status = (int)env->core(op, a0, a1, a2, &value);
    tb__check(env);
    if (reply)
        *reply = value;
    return status;
}

#endif /* TESTBED_H */
