/* The step handoff of a controlled run (testbed/ipc/handoff.py says why; the runner's side is
 * testbed/harness/scheduler.py, the actor's testbed/harness/gate/controlled.py).
 *
 * One direction of a handoff is a count of gives in shared memory, the waiter's `sleeping`
 * flag and the waiter's named semaphore. The waiter spins on the count for a while when it
 * has a CPU (the iteration gate's adaptive budget, gate.c), then says it sleeps and blocks;
 * the giver bumps the count and posts only if the flag says the waiter sleeps. A post is
 * only a hint (one can arrive late, or twice): the count has the last say. The flag and the
 * count are a Dekker pair, every access sequentially consistent: either the waiter sees the
 * new count after it raised its flag, or the giver sees the flag after it bumped the count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "tb.h"

#define MIN_BUDGET_S 20e-6 /* a budget halved below this stops spinning */
#define PROBE_EVERY 64     /* sleeps between two tries at spinning again */

struct tb_handoff {
    uint64_t *count, *sleeping; /* shared: gives so far; 1 while the waiter sleeps */
    uint64_t *watch;            /* shared, or NULL: a spin stops when it moves */
    uint64_t *bump;             /* shared, or NULL: what every give moves (the runner's turn) */
    const uint64_t *allow;      /* shared: 0 while the machine has no CPU to spare (the runner's) */
    sem_t *sem;                 /* the waiter's */
    uint64_t seen;              /* the waiter's: gives it has taken */
    double spin_s, budget;      /* the waiter's: the most it spins, what it spins now */
    uint64_t sleeps;
    uint64_t spun, slept;       /* the waiter's: waits answered spinning, sleeping */
};

/* `count` and `sleeping` are words of a fresh segment (0), `sem` a named semaphore of
 * value 0 (tb_sem_open); a wait's spin stops when `watch` moves (the give went elsewhere, or
 * the giver is busy a while: no use holding a CPU another process needs); every give moves
 * `bump`; a wait spins only while `allow` is set; `spin_s` the most a wait spins (0: it
 * blocks at once). */
void *tb_handoff_new(uint64_t *count, uint64_t *sleeping, uint64_t *watch, uint64_t *bump,
                     const uint64_t *allow, void *sem, double spin_s)
{
    struct tb_handoff *h = calloc(1, sizeof *h);
    if (h)
        *h = (struct tb_handoff){count, sleeping, watch, bump, allow, sem, 0, spin_s, spin_s,
                                 0, 0, 0};
    return h;
}

void tb_handoff_free(struct tb_handoff *h)
{
    if (h) {
        sem_close(h->sem);
        free(h);
    }
}

/* The giver: one more give; the waiter's semaphore posted if it sleeps. 0, or -errno. */
int64_t tb_handoff_give(struct tb_handoff *h)
{
    __atomic_add_fetch(h->count, 1, __ATOMIC_SEQ_CST);
    if (h->bump) /* after the count: a spinner that sees the turn move sees its own count */
        __atomic_add_fetch(h->bump, 1, __ATOMIC_SEQ_CST);
    /* read before the exchange: a spinning waiter keeps the line to itself */
    if (__atomic_load_n(h->sleeping, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(h->sleeping, 0, __ATOMIC_SEQ_CST))
        if (sem_post(h->sem) != 0)
            return -errno;
    return 0;
}

/* The runner's word `turn` moved on (another actor's go, or the runner busy for a while). */
void tb_handoff_bump(uint64_t *turn)
{
    __atomic_add_fetch(turn, 1, __ATOMIC_SEQ_CST);
}

static inline int given(struct tb_handoff *h)
{
    return __atomic_load_n(h->count, __ATOMIC_SEQ_CST) > h->seen;
}

enum { RAN_OUT, GIVEN, PASSED };

/* Times this thread was preempted: a spinner preempted while it spun did not have a CPU of
 * its own (a busy machine, or a third process of the run wanted it). */
static long preempted(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : 0;
}

/* Spin until given, `turn` (if any) leaves `turn_seen`, or `spin_s` passed. */
static int spin(struct tb_handoff *h, const uint64_t *turn, uint64_t turn_seen, double spin_s)
{
    double deadline = tb_now_s() + spin_s;
    for (unsigned k = 1;; k++) {
        if (given(h))
            return GIVEN;
        if (turn && __atomic_load_n(turn, __ATOMIC_SEQ_CST) != turn_seen)
            return given(h) ? GIVEN : PASSED;
        tb_cpu_relax();
        if ((k & 63) == 0 && tb_now_s() > deadline)
            return RAN_OUT;
    }
}

/* ---- Sleeping, in two halves (a test forces a give between them: the racy window) ------- */

/* Say so in the flag, then look once more: 1 given (the flag down again), 0 not yet (the
 * flag up: a give from now on posts). */
static int announce(struct tb_handoff *h)
{
    __atomic_store_n(h->sleeping, 1, __ATOMIC_SEQ_CST);
    if (!given(h))
        return 0;
    __atomic_exchange_n(h->sleeping, 0, __ATOMIC_SEQ_CST);
    return 1;
}

/* After an announce that saw nothing: block until given, by `deadline` (CLOCK_REALTIME);
 * whatever woke it, the count decides. A post meant for an earlier wait (its giver saw the
 * flag of a wait that then found the count) wakes it for nothing: it announces again and
 * blocks again. Leaves the flag down (a giver that took it first posts: a hint for later).
 * 1 given, 0 not by the deadline, -EINTR a signal, -errno a semaphore error. */
static int64_t block_until(struct tb_handoff *h, const struct timespec *deadline)
{
    int64_t rc = 1;
    for (;;) {
        int err = sem_timedwait(h->sem, deadline) == 0 ? 0 : errno;
        if (given(h))
            break;
        if (err) {
            rc = err == ETIMEDOUT ? 0 : -err;
            break;
        }
        if (announce(h))
            return 1;
    }
    __atomic_exchange_n(h->sleeping, 0, __ATOMIC_SEQ_CST);
    return rc <= 0 && given(h) ? 1 : rc;
}

/* Announce, then block: 1 given, 0 not within `timeout_s`, -EINTR a signal (the caller's
 * Python runs its handlers, then waits again), -errno a semaphore error. */
static int64_t sleep_for(struct tb_handoff *h, double timeout_s)
{
    struct timespec deadline = tb_deadline_in(timeout_s);
    return announce(h) ? 1 : block_until(h, &deadline);
}

/* A sleep's answer: a give taken, counted. */
static int64_t took(struct tb_handoff *h, int64_t rc)
{
    if (rc == 1) {
        h->slept++;
        h->seen++;
    }
    return rc;
}

/* The two halves of a sleep, one call each (the test of the racy window between them). */
int64_t tb_handoff_announce(struct tb_handoff *h)
{
    return took(h, announce(h));
}

int64_t tb_handoff_block(struct tb_handoff *h, double timeout_s)
{
    struct timespec deadline = tb_deadline_in(timeout_s);
    return took(h, block_until(h, &deadline));
}

/* The waiter: take the next give, spinning first (within the budget) if `spin` is set, then
 * sleeping at most `timeout_s`. `turn_seen`: the watched word as it was before the waiter's
 * partner could move it (before the waiter said where it stopped, or gave a go). Answers 1
 * given, 0 not given within timeout_s, -EINTR, or -errno. The budget adapts as an adaptive
 * mutex's: a spin that saw the give keeps it, one that ran out (the giver was slow, or
 * preempted on a busy machine) halves it, down to none, and one preempted while it spun
 * stops it at once; then every PROBE_EVERY sleeps a probe tries spinning again. */
int64_t tb_handoff_wait(struct tb_handoff *h, uint64_t turn_seen, int spin_first, double timeout_s)
{
    int64_t rc = 0;
    if (spin_first && h->budget > 0 && __atomic_load_n(h->allow, __ATOMIC_RELAXED)) {
        long before = preempted();
        int r = spin(h, h->watch, turn_seen, h->budget);
        if (preempted() != before)
            h->budget = 0; /* it took a CPU somebody wanted: block until the next probe */
        else if (r == GIVEN)
            h->budget = h->spin_s;
        else if (r == RAN_OUT)
            h->budget = h->budget > MIN_BUDGET_S ? h->budget / 2 : 0;
        if (r == GIVEN) {
            h->spun++;
            h->seen++;
            return 1;
        }
    } else if (spin_first && h->spin_s > 0 && ++h->sleeps % PROBE_EVERY == 0) {
        h->budget = h->spin_s / 8;
    }
    rc = sleep_for(h, timeout_s);
    return took(h, rc);
}

/* Give on `give`, then wait on `wait` (spinning first), its watched word read before the
 * give lets the partner move it: an actor at a point (its arrival, then its next go), or
 * the runner's step (a go, then the arrival). Answers as tb_handoff_wait, or -errno of the
 * give. */
int64_t tb_handoff_pass(struct tb_handoff *give, struct tb_handoff *wait, double timeout_s)
{
    uint64_t seen = wait->watch ? __atomic_load_n(wait->watch, __ATOMIC_SEQ_CST) : 0;
    int64_t rc = tb_handoff_give(give);
    return rc ? rc : tb_handoff_wait(wait, seen, 1, timeout_s);
}

/* What the waiter saw: waits answered while spinning (0) or sleeping (1), its budget (2,
 * in ns), its gives taken (3). */
uint64_t tb_handoff_stat(const struct tb_handoff *h, int what)
{
    switch (what) {
    case 0:
        return h->spun;
    case 1:
        return h->slept;
    case 2:
        return (uint64_t)(h->budget * 1e9);
    default:
        return h->seen;
    }
}
