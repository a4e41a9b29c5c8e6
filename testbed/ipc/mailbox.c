/* The mailbox handshake, both ends: a client's request and core's loop (mailbox.py explains
 * the protocol; tb.h holds the mailbox's layout).
 *
 * Here so that a round trip costs one ctypes call on each side, not six: the target is a
 * round trip within 1.2x of a bare semaphore ping-pong. The named semaphores are the ones
 * posix_ipc created; sem_open finds them by name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdlib.h>
#include <time.h>

#include "tb.h"

/* Spin until *word != 0 (any_of: any of n words) or `spin_s` passed; answers whether it did. */
static int spin_until_set(const uint64_t *words, uint64_t n, uint64_t want, double spin_s)
{
    if (spin_s <= 0)
        return 0;
    double deadline = tb_now_s() + spin_s;
    for (unsigned k = 1;; k++) {
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v = __atomic_load_n(&words[i], __ATOMIC_ACQUIRE);
            if (want ? v == want : v != 0)
                return 1;
        }
        tb_cpu_relax();
        if ((k & 63) == 0 && tb_now_s() > deadline)
            return 0;
    }
}

/* Wait on `sem` for at most `timeout_s`, in slices, giving up early if *abort is set.
 * 0: acquired; -1: timed out; -2: aborted. */
static int sem_wait_for(sem_t *sem, double timeout_s, const uint64_t *abort)
{
    double deadline = tb_now_s() + timeout_s;
    for (;;) {
        double left = deadline - tb_now_s();
        if (left <= 0)
            return -1;
        double slice = left < 0.25 ? left : 0.25;
        struct timespec ts = tb_deadline_in(slice);
        if (sem_timedwait(sem, &ts) == 0)
            return 0;
        if (errno != ETIMEDOUT && errno != EINTR)
            return -3;
        if (abort && __atomic_load_n(abort, __ATOMIC_ACQUIRE))
            return -2;
    }
}

void *tb_sem_open(const char *name)
{
    sem_t *s = sem_open(name, 0);
    return s == SEM_FAILED ? NULL : (void *)s;
}

/* ---- The client ----------------------------------------------------------------------------
 * Its mailbox and semaphores, set up once, so a call passes one pointer. */
struct tb_client {
    uint64_t *mb, *pending, bit, *core_waiting;
    sem_t *doorbell, *reply;
    double spin_s, timeout_s;
    const uint64_t *abort;
};

void *tb_client_new(uint64_t *mb, uint64_t *pending, uint64_t bit, uint64_t *core_waiting,
                    void *doorbell, void *reply, double spin_s, double timeout_s,
                    const uint64_t *abort)
{
    struct tb_client *c = calloc(1, sizeof *c);
    if (c)
        *c = (struct tb_client){mb, pending, bit, core_waiting, doorbell, reply,
                                spin_s, timeout_s, abort};
    return c;
}

/* One request and its reply; the caller has written OP..A2 into the mailbox (a ctypes
 * call costs about 0.1 us an argument here, a store into the mailbox far less). Answers 0
 * when core replied (STATUS and VALUE are in the mailbox: any word, so never the answer
 * itself, or a status with its top bit set would read as an error), or -1 no reply within
 * timeout_s, -2 the run was aborted, -3 a semaphore error. */
int tb_call(struct tb_client *c)
{
    uint64_t *mb = c->mb;
    /* the fetch_or (a full barrier) publishes the request and orders the store of ST before
     * the load of core_waiting (the Dekker pair with next_request's store and scan) */
    __atomic_store_n(&mb[TB_MB_ST], TB_REQUEST, __ATOMIC_RELEASE);
    __atomic_fetch_or(c->pending, c->bit, __ATOMIC_SEQ_CST);
    /* read before the exchange: the word shares its cache line with words every actor
     * reads (control.STOP), and a write each request would take the line from them all */
    if (__atomic_load_n(c->core_waiting, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(c->core_waiting, 0, __ATOMIC_SEQ_CST))
        sem_post(c->doorbell);
    if (!spin_until_set(&mb[TB_MB_ST], 1, TB_REPLIED, c->spin_s)) {
        uint64_t expected = TB_REQUEST;
        if (__atomic_compare_exchange_n(&mb[TB_MB_ST], &expected, TB_WAITING, 0,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            int rc = sem_wait_for(c->reply, c->timeout_s, c->abort);
            if (rc)
                return rc;
        }
    }
    __atomic_store_n(&mb[TB_MB_ST], TB_IDLE, __ATOMIC_RELEASE);
    return 0;
}

/* ---- Core ----------------------------------------------------------------------------------
 * The pending words, the doorbell and every client's reply semaphore. */
struct tb_server {
    uint64_t *pending, nwords, *core_waiting, *mailboxes, nclients;
    uint64_t stride; /* words from one client's mailbox to the next's (a page each) */
    sem_t *doorbell;
    double spin_s, timeout_s;
    uint64_t word, bits; /* requests taken from `pending` and not served yet */
    int64_t current;     /* the client being served, -1 for none */
    sem_t *replies[];
};

void *tb_server_new(uint64_t *pending, uint64_t nwords, uint64_t *core_waiting,
                    uint64_t *mailboxes, uint64_t nclients, void *doorbell, double spin_s,
                    double timeout_s, uint64_t stride)
{
    struct tb_server *s = calloc(1, sizeof *s + nclients * sizeof(sem_t *));
    if (s) {
        s->pending = pending, s->nwords = nwords, s->core_waiting = core_waiting;
        s->mailboxes = mailboxes, s->nclients = nclients, s->doorbell = doorbell;
        s->spin_s = spin_s, s->timeout_s = timeout_s, s->current = -1, s->stride = stride;
    }
    return s;
}

void tb_server_set_reply(struct tb_server *s, uint64_t client, void *sem)
{
    s->replies[client] = sem;
}

static int take_pending(struct tb_server *s)
{
    for (uint64_t i = 0; i < s->nwords; i++)
        if (__atomic_load_n(&s->pending[i], __ATOMIC_ACQUIRE)) {
            uint64_t bits = __atomic_exchange_n(&s->pending[i], 0, __ATOMIC_SEQ_CST);
            if (i == s->nwords - 1 && s->nclients % TB_WORD_BITS) /* no such client: drop */
                bits &= (1ull << (s->nclients % TB_WORD_BITS)) - 1;
            if (bits) {
                s->word = i, s->bits = bits;
                return 1;
            }
        }
    return 0;
}

/* Index of the next client with a request, waiting for one (spin, then announce
 * core_waiting and sleep on the doorbell) up to timeout_s; -1 if none came. */
static int64_t next_request(struct tb_server *s)
{
    if (!s->bits && !take_pending(s)) {
        if (!spin_until_set(s->pending, s->nwords, 0, s->spin_s)) {
            __atomic_store_n(s->core_waiting, 1, __ATOMIC_SEQ_CST);
            int found = take_pending(s);
            if (!found) {
                sem_wait_for(s->doorbell, s->timeout_s, NULL);
                __atomic_store_n(s->core_waiting, 0, __ATOMIC_SEQ_CST);
                found = take_pending(s);
            } else {
                __atomic_store_n(s->core_waiting, 0, __ATOMIC_SEQ_CST);
            }
            if (!found)
                return -1;
        } else if (!take_pending(s)) {
            return -1;
        }
    }
    uint64_t low = s->bits & (~s->bits + 1);
    s->bits ^= low;
    return (int64_t)(s->word * TB_WORD_BITS + (uint64_t)__builtin_ctzll(low));
}

/* One step of core's loop: answer the current request (the caller has written STATUS and
 * VALUE into its mailbox), waking the client only if it went to sleep; then wait for the
 * next. Answers the next client's index, or -1 if none came within timeout_s. */
int64_t tb_server_step(struct tb_server *s)
{
    if (s->current >= 0) {
        uint64_t *mb = s->mailboxes + s->stride * (uint64_t)s->current;
        if (__atomic_exchange_n(&mb[TB_MB_ST], TB_REPLIED, __ATOMIC_SEQ_CST) == TB_WAITING)
            sem_post(s->replies[s->current]);
    }
    /* a pending bit is only a hint (any process can set it): a client is served only if its
     * own mailbox holds a request, so a stray bit never replays a client's last request */
    for (;;) {
        s->current = next_request(s);
        if (s->current < 0)
            return s->current;
        uint64_t st = __atomic_load_n(
            &s->mailboxes[s->stride * (uint64_t)s->current + TB_MB_ST], __ATOMIC_ACQUIRE);
        if (st == TB_REQUEST || st == TB_WAITING)
            return s->current;
    }
}

/* Core's loop for a core in C that serves a request in its mailbox in place (`serve(core,
 * mailbox, client)`, a tb_serve_fn: writes STATUS and VALUE, as fc_serve_recorded does): up
 * to `batch` requests, or until none comes within the timeout; answers how many. No Python
 * between two requests; the last one is answered by the next call's first step, as in
 * mailbox.Server.serve. */
int64_t tb_server_run(struct tb_server *s, void *serve, void *core, int64_t batch)
{
    tb_serve_fn fn = (tb_serve_fn)serve;
    for (int64_t n = 0; n < batch; n++) {
        int64_t i = tb_server_step(s);
        if (i < 0)
            return n;
        fn(core, s->mailboxes + s->stride * (uint64_t)i, (int)i);
    }
    return batch;
}
