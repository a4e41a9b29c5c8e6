/* The C bodies of claim_c.py (tests/test_native_actors.py): `claim` (a check-then-act on one
   slot), `bump` (the tiny scenario's increment), `probe` (what the harness hands C), and three
   bodies that use a name or an address they may not (each an error the run must name). */

#include "testbed.h"

/* One round: claim the slot if it is free (check, then act), then give it back. */
void claim(tb_env *env)
{
    uint64_t *slot = tb_region(env, "slot");
    uint64_t me = (uint64_t)tb_actor_index(env) + 1;
    int locked = (int)tb_param(env, "locked", 0), lock = tb_lock_id(env, "slot");
    if (locked)
        tb_lock(env, lock);
    int free = tb_load(env, &slot[0]) == 0;
    tb_point(env, tb_point_id(env, "claim.check"));
    if (free)
        tb_store(env, &slot[0], me);
    if (locked)
        tb_unlock(env, lock);
    if (!free) {
        tb_record(env, tb_outcome(env, "busy"));
        return;
    }
    tb_point(env, tb_point_id(env, "claim.set"));
    if (tb_load(env, &slot[0]) != me) {
        tb_record(env, tb_outcome(env, "stolen"));
        return;
    }
    tb_record(env, tb_outcome(env, "claimed"));
    tb_lock(env, lock);
    if (tb_load(env, &slot[0]) == me)
        tb_store(env, &slot[0], 0);
    tb_unlock(env, lock);
}

/* The Python tiny scenario's increment (tiny.py): read at a, write at b. */
void bump(tb_env *env)
{
    uint64_t *w = tb_region(env, "slot");
    int apart = (int)tb_param(env, "apart", 0), word = apart ? tb_actor_index(env) + 1 : 1;
    tb_point(env, tb_point_id(env, "claim.check"));
    uint64_t x = tb_load(env, &w[word]);
    tb_point(env, tb_point_id(env, "claim.set"));
    tb_store(env, &w[word], x + 1);
    uint64_t done = tb_load(env, &w[3]) + 1;
    tb_store(env, &w[3], done);
    if (done == 2)
        tb_record(env, tb_outcome(env, apart || tb_load(env, &w[1]) == 2 ? "claimed" : "stolen"));
}

/* What the harness hands C: identity, params, regions, core, all written where Python reads. */
void probe(tb_env *env)
{
    uint64_t *out = tb_region(env, "probe") + 8 * tb_actor_index(env);
    uint64_t reply = 0;
    out[0] = (uint64_t)tb_actor_index(env) + 100;
    out[1] = (uint64_t)tb_param(env, "weight", -1);
    out[2] = (uint64_t)tb_param(env, "missing", 77);
    out[3] = tb_region_words(env, "probe");
    out[4] = (uint64_t)tb_core_call(env, 5, 1, 2, 3, &reply);
    out[5] = reply;
    out[6] = tb_actor_name(env)[1] == '0' + tb_actor_index(env);
    out[7] = tb_variant(env)[0];
    uint64_t *slot = tb_region(env, "slot");
    tb_region(env, "probe")[16 + tb_actor_index(env)] = tb_fetch_add(env, &slot[0], 1) < 2
                                       && tb_cas(env, &slot[2], 0, 9) + tb_cas(env, &slot[2], 0, 9) == 1;
    tb_record(env, tb_outcome(env, "claimed"));
}

void bad_region(tb_env *env) { tb_region(env, "nowhere"); }
void bad_outcome(tb_env *env) { tb_outcome(env, "nothing"); }
void bad_address(tb_env *env) { uint64_t local = 0; tb_store(env, &local, 1); }

/* tb_record_at and tb_fail: an outcome detected at a point, then the C's own error. */
void stolen_at_set(tb_env *env)
{
    tb_record_at(env, tb_outcome(env, "stolen"), tb_point_id(env, "claim.set"));
}

void own_error(tb_env *env) { tb_fail(env, "the slot's invariant broke"); }
