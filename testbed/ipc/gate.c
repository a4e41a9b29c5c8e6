/* The iteration's start gate (testbed/harness/iteration.py).
 *
 * Actors of an iterating run wait for the generation word to reach their iteration, then
 * run their body at once: spinning here (no Python between the load that sees the release
 * and the timestamp) is what makes them start within a microsecond or two of each other.
 */
#define _GNU_SOURCE
#include <time.h>

#include "tb.h"

uint64_t tb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spin until *word >= target, at most `spins` pauses; answers the time it got there
 * (CLOCK_MONOTONIC ns), or 0 if the spins ran out first. */
uint64_t tb_gate_spin(const uint64_t *word, uint64_t target, uint64_t spins)
{
    for (uint64_t k = 0; k < spins; k++) {
        if (__atomic_load_n(word, __ATOMIC_ACQUIRE) >= target)
            return tb_now_ns();
        tb_cpu_relax();
    }
    return 0;
}

/* The spread of `n` start times (max - min, ns) counted in `hist`: bucket 0 for 0 ns, then
 * four buckets an octave (bucket 1 + 4 * b + f holds [2^b (1 + f/4), 2^b (1 + (f+1)/4)),
 * a resolution of at most 25%). Answers the spread. */
uint64_t tb_spread_note(const uint64_t *starts, uint64_t n, uint64_t *hist, uint64_t nbuckets)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (starts[i] < lo)
            lo = starts[i];
        if (starts[i] > hi)
            hi = starts[i];
    }
    uint64_t spread = n ? hi - lo : 0, k = 0;
    if (spread) {
        int b = 63 - __builtin_clzll(spread);
        uint64_t f = b >= 2 ? (spread >> (b - 2)) & 3 : (spread << (2 - b)) & 3;
        k = 1 + 4 * (uint64_t)b + f;
    }
    hist[k < nbuckets ? k : nbuckets - 1] += 1;
    return spread;
}

/* ---- Passing the gate, in two calls of the last actor to arrive -------------------------
 * The gate's words (iteration.py): GEN, DONE, COMPLETED, STOPPED, then from word 8 the start
 * time of each of the n actors, the iteration each is in, whether each sleeps, and the
 * spread histogram. One gate a process: bound once. */

static struct {
    uint64_t *w, n, nbuckets, rounds, *stop, *abort, *woken;
} gate;

void tb_gate_bind(uint64_t *w, uint64_t n, uint64_t nbuckets, uint64_t *stop, uint64_t *abort,
                  uint64_t rounds, uint64_t *woken)
{
    gate.w = w, gate.n = n, gate.nbuckets = nbuckets, gate.rounds = rounds;
    gate.stop = stop, gate.abort = abort, gate.woken = woken;
}

/* Close the iteration just done (release `released` - 1; none before the first): count it,
 * note its start spread, and decide whether another follows. Answers 1 if the run stops. */
int tb_gate_close(uint64_t released)
{
    uint64_t *w = gate.w, n = gate.n;
    w[TB_GATE_DONE] = 0;
    if (released > 1) {
        w[TB_GATE_COMPLETED] += 1;
        tb_spread_note(w + TB_GATE_HEADER, n, w + TB_GATE_HEADER + 3 * n, gate.nbuckets);
    }
    if (__atomic_load_n(gate.stop, __ATOMIC_SEQ_CST) || __atomic_load_n(gate.abort, __ATOMIC_SEQ_CST)
        || (gate.rounds && w[TB_GATE_COMPLETED] >= gate.rounds)) {
        __atomic_store_n(gate.stop, 1, __ATOMIC_SEQ_CST);
        w[TB_GATE_STOPPED] = 1;
        return 1;
    }
    return 0;
}

/* Release everybody (`me` is the releaser): its start time, the generation word, then the
 * sleepers' words taken back; answers how many sleep, their indexes in `woken` (to post). */
uint64_t tb_gate_open(uint64_t me, uint64_t released)
{
    uint64_t *w = gate.w, n = gate.n, k = 0;
    w[TB_GATE_HEADER + me] = tb_now_ns();
    __atomic_store_n(&w[TB_GATE_GEN], released, __ATOMIC_SEQ_CST);
    for (uint64_t i = 0; i < n; i++)
        if (i != me && __atomic_exchange_n(&w[TB_GATE_HEADER + 2 * n + i], 0, __ATOMIC_SEQ_CST))
            gate.woken[k++] = i;
    return k;
}
