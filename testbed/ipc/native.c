/* Bitmap ranges and atomics on words of the shared segment, for the testbed.
 *
 * Loaded with ctypes (testbed/native.py). Every call works on a whole range or
 * batch: one ctypes call costs more than a bit test in Python, so a call must
 * carry enough work to pay for itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORD_BITS 64u

static inline uint64_t range_mask(uint64_t lo, uint64_t hi) /* bits [lo, hi) of one word */
{
    uint64_t upper = hi >= WORD_BITS ? ~0ull : ((1ull << hi) - 1ull);
    return upper & ~((1ull << lo) - 1ull);
}

/* Index of the first set bit in [start, start+n), or -1 if all are clear. */
int64_t tb_bm_first_set(const uint64_t *bm, uint64_t start, uint64_t n)
{
    uint64_t end = start + n;
    uint64_t i = start;
    while (i < end) {
        uint64_t w = i / WORD_BITS, lo = i % WORD_BITS;
        uint64_t hi = (end - w * WORD_BITS) < WORD_BITS ? end - w * WORD_BITS : WORD_BITS;
        uint64_t bits = __atomic_load_n(&bm[w], __ATOMIC_ACQUIRE) & range_mask(lo, hi);
        if (bits)
            return (int64_t)(w * WORD_BITS + (uint64_t)__builtin_ctzll(bits));
        i = w * WORD_BITS + hi;
    }
    return -1;
}

/* Index of the first clear bit in [start, start+n), or -1 if all are set. */
int64_t tb_bm_first_clear(const uint64_t *bm, uint64_t start, uint64_t n)
{
    uint64_t end = start + n;
    uint64_t i = start;
    while (i < end) {
        uint64_t w = i / WORD_BITS, lo = i % WORD_BITS;
        uint64_t hi = (end - w * WORD_BITS) < WORD_BITS ? end - w * WORD_BITS : WORD_BITS;
        uint64_t bits = ~__atomic_load_n(&bm[w], __ATOMIC_ACQUIRE) & range_mask(lo, hi);
        if (bits)
            return (int64_t)(w * WORD_BITS + (uint64_t)__builtin_ctzll(bits));
        i = w * WORD_BITS + hi;
    }
    return -1;
}

static void apply_range(uint64_t *bm, uint64_t start, uint64_t n, int set)
{
    uint64_t end = start + n;
    uint64_t i = start;
    while (i < end) {
        uint64_t w = i / WORD_BITS, lo = i % WORD_BITS;
        uint64_t hi = (end - w * WORD_BITS) < WORD_BITS ? end - w * WORD_BITS : WORD_BITS;
        uint64_t m = range_mask(lo, hi);
        if (set)
            __atomic_fetch_or(&bm[w], m, __ATOMIC_ACQ_REL);
        else
            __atomic_fetch_and(&bm[w], ~m, __ATOMIC_ACQ_REL);
        i = w * WORD_BITS + hi;
    }
}

void tb_bm_set_range(uint64_t *bm, uint64_t start, uint64_t n) { apply_range(bm, start, n, 1); }
void tb_bm_clear_range(uint64_t *bm, uint64_t start, uint64_t n) { apply_range(bm, start, n, 0); }

/* Number of set bits in [start, start+n). */
uint64_t tb_bm_count(const uint64_t *bm, uint64_t start, uint64_t n)
{
    uint64_t end = start + n, i = start, count = 0;
    while (i < end) {
        uint64_t w = i / WORD_BITS, lo = i % WORD_BITS;
        uint64_t hi = (end - w * WORD_BITS) < WORD_BITS ? end - w * WORD_BITS : WORD_BITS;
        count += (uint64_t)__builtin_popcountll(__atomic_load_n(&bm[w], __ATOMIC_ACQUIRE) & range_mask(lo, hi));
        i = w * WORD_BITS + hi;
    }
    return count;
}

/* Atomics on 64-bit words. All sequentially consistent: the mailbox protocol
 * relies on store-load ordering between client and core (a Dekker handshake). */
uint64_t tb_cas(uint64_t *p, uint64_t expected, uint64_t desired)
{
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected; /* the old value: equal to `expected` iff the swap happened */
}

uint64_t tb_fetch_add(uint64_t *p, uint64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
uint64_t tb_exchange(uint64_t *p, uint64_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
uint64_t tb_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
void tb_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

/* ---- The mailbox handshake (testbed/mailbox.py explains the protocol) -------------------
 * Here so that a round trip costs one ctypes call on each side, not six: the target is a
 * round trip within 1.2x of a bare semaphore ping-pong. The named semaphores are the ones
 * posix_ipc created; sem_open finds them by name. */

enum { IDLE = 0, REQUEST = 1, WAITING = 2, REPLIED = 3 };
enum { ST, OP, PD, A0, A1, A2, STATUS, VALUE };

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Spin until *word != 0 (any_of: any of n words) or `spin_s` passed; answers whether it did. */
static int spin_until_set(const uint64_t *words, uint64_t n, uint64_t want, double spin_s)
{
    if (spin_s <= 0)
        return 0;
    double deadline = now_s() + spin_s;
    for (unsigned k = 1;; k++) {
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v = __atomic_load_n(&words[i], __ATOMIC_ACQUIRE);
            if (want ? v == want : v != 0)
                return 1;
        }
        cpu_relax();
        if ((k & 63) == 0 && now_s() > deadline)
            return 0;
    }
}

/* Wait on `sem` for at most `timeout_s`, in slices, giving up early if *abort is set.
 * 0: acquired; -1: timed out; -2: aborted. */
static int sem_wait_for(sem_t *sem, double timeout_s, const uint64_t *abort)
{
    double deadline = now_s() + timeout_s;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            return -1;
        double slice = left < 0.25 ? left : 0.25;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long ns = (long long)ts.tv_nsec + (long long)(slice * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000LL);
        ts.tv_nsec = (long)(ns % 1000000000LL);
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


/* Client: its mailbox and semaphores, set up once, so a call passes one pointer. */
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
 * call costs about 0.1 us an argument here, a store into the mailbox far less). Answers the
 * status core gave (VALUE is in the mailbox), or -1 no reply within timeout_s, -2 the run
 * was aborted, -3 a semaphore error. */
int64_t tb_call(struct tb_client *c)
{
    uint64_t *mb = c->mb;
    /* the fetch_or (a full barrier) publishes the request and orders the store of ST before
     * the load of core_waiting (the Dekker pair with next_request's store and scan) */
    __atomic_store_n(&mb[ST], REQUEST, __ATOMIC_RELEASE);
    __atomic_fetch_or(c->pending, c->bit, __ATOMIC_SEQ_CST);
    /* read before the exchange: the word shares its cache line with words every actor
     * reads (control.STOP), and a write each request would take the line from them all */
    if (__atomic_load_n(c->core_waiting, __ATOMIC_SEQ_CST) &&
        __atomic_exchange_n(c->core_waiting, 0, __ATOMIC_SEQ_CST))
        sem_post(c->doorbell);
    if (!spin_until_set(&mb[ST], 1, REPLIED, c->spin_s)) {
        uint64_t expected = REQUEST;
        if (__atomic_compare_exchange_n(&mb[ST], &expected, WAITING, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            int rc = sem_wait_for(c->reply, c->timeout_s, c->abort);
            if (rc)
                return rc;
        }
    }
    __atomic_store_n(&mb[ST], IDLE, __ATOMIC_RELEASE);
    return (int64_t)mb[STATUS];
}

/* Core: the pending words, the doorbell and every client's reply semaphore. */
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
            if (i == s->nwords - 1 && s->nclients % WORD_BITS) /* no such client: drop */
                bits &= (1ull << (s->nclients % WORD_BITS)) - 1;
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
    return (int64_t)(s->word * WORD_BITS + (uint64_t)__builtin_ctzll(low));
}

/* One step of core's loop: answer the current request (the caller has written STATUS and
 * VALUE into its mailbox), waking the client only if it went to sleep; then wait for the
 * next. Answers the next client's index, or -1 if none came within timeout_s. */
int64_t tb_server_step(struct tb_server *s)
{
    if (s->current >= 0) {
        uint64_t *mb = s->mailboxes + s->stride * (uint64_t)s->current;
        if (__atomic_exchange_n(&mb[ST], REPLIED, __ATOMIC_SEQ_CST) == WAITING)
            sem_post(s->replies[s->current]);
    }
    /* a pending bit is only a hint (any process can set it): a client is served only if its
     * own mailbox holds a request, so a stray bit never replays a client's last request */
    for (;;) {
        s->current = next_request(s);
        if (s->current < 0)
            return s->current;
        uint64_t st = __atomic_load_n(&s->mailboxes[s->stride * (uint64_t)s->current + ST],
                                      __ATOMIC_ACQUIRE);
        if (st == REQUEST || st == WAITING)
            return s->current;
    }
}

/* Core's loop for a core in C that serves a request in its mailbox in place (`serve(core,
 * mailbox, client)` writes STATUS and VALUE, as fc_serve_recorded does): up to `batch`
 * requests, or until none comes within the timeout; answers how many. No Python between
 * two requests; the last one is answered by the next call's first step, as in
 * mailbox.Server.serve. */
typedef int64_t (*tb_serve_fn)(void *core, uint64_t *mailbox, int client);

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

/* ---- Page tables: one byte a 4 KiB page (permission bits), for the MMU model -------------
 * An access is checked over its whole range in one call: the target is under 2 ns a page. */

/* Set `n` entries from `start` to `value`. */
void tb_pt_set(uint8_t *pt, uint64_t start, uint64_t n, uint8_t value)
{
    for (uint64_t i = 0; i < n; i++)
        __atomic_store_n(&pt[start + i], value, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

/* First entry in [start, start+n) lacking any bit of `need`, or -1 if all have them. */
int64_t tb_pt_check(const uint8_t *pt, uint64_t start, uint64_t n, uint8_t need)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    const uint8_t *p = pt + start;
    uint64_t i = 0;
    /* eight entries at a time while they all carry `need` */
    uint64_t need8 = 0x0101010101010101ull * need;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        __builtin_memcpy(&w, p + i, 8);
        if ((w & need8) != need8)
            break;
    }
    for (; i < n; i++)
        if ((p[i] & need) != need)
            return (int64_t)(start + i);
    return -1;
}

/* ---- Recording schedule-point events --------------------------------------------------
 * Each event takes a ticket from one shared counter (the global order) and goes into its
 * actor's ring: word 0 the number of events ever written, then `capacity` entries of two
 * words: the ticket, and (what << 16 | point id). One call an event. */

struct tb_recorder {
    uint64_t *ring, mask, *counter;
};

static uint64_t tb_record(struct tb_recorder *r, uint64_t point, uint64_t what)
{
    uint64_t ticket = __atomic_fetch_add(r->counter, 1, __ATOMIC_SEQ_CST);
    uint64_t n = r->ring[0];
    uint64_t *e = r->ring + 1 + 2 * (n & r->mask);
    e[0] = ticket;
    e[1] = what << 16 | point;
    __atomic_store_n(&r->ring[0], n + 1, __ATOMIC_RELEASE);
    return ticket;
}

/* The process's own ring, for the one-argument call below: a ctypes call costs about
 * 0.1-0.2 us an argument here, and a schedule point should cost next to nothing. */
static struct tb_recorder tb_self;

void tb_recorder_bind(uint64_t *ring, uint64_t capacity, uint64_t *counter)
{
    tb_self = (struct tb_recorder){ring, capacity - 1, counter};
}

/* Record `event` (a point id, < 2^31) in this process's ring; answers the ticket. */
uint64_t tb_rec(uint32_t event) { return tb_record(&tb_self, event, 0); }

/* Record `event` with a 64-bit `what` given in two halves (32-bit arguments need no ctypes
 * conversion). */
uint64_t tb_rec_what(uint32_t event, uint32_t what_lo, uint32_t what_hi)
{
    return tb_record(&tb_self, event, (uint64_t)what_hi << 32 | what_lo);
}

/* ---- Recording a step at its shared-memory access ----------------------------------------
 * A schedule point's ticket is taken when the hook is called, and Python runs 0.5-1 us more
 * before the step's read or write: two steps on two CPUs can touch memory in the other order
 * than their tickets, and a replay then forces an order that never happened. For a step
 * that is one access, these take the ticket, do the access right after it and record the
 * event, in one call: the trace's order is the accesses' order (but for the one instruction
 * between the ticket and the access). They use the process's bound recorder (tb_self);
 * 64-bit values come in two 32-bit halves, as tb_rec_what's do. */

static inline void tb_put(struct tb_recorder *r, uint64_t ticket, uint64_t point) /* | what << 16 */
{
    uint64_t n = r->ring[0];
    uint64_t *e = r->ring + 1 + 2 * (n & r->mask);
    e[0] = ticket;
    e[1] = point;
    __atomic_store_n(&r->ring[0], n + 1, __ATOMIC_RELEASE);
}

/* Record `event` and store (hi << 32 | lo) into words[index]; answers the ticket. */
uint64_t tb_rec_store(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo, uint32_t hi)
{
    uint64_t ticket = __atomic_fetch_add(tb_self.counter, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&words[index], (uint64_t)hi << 32 | lo, __ATOMIC_SEQ_CST);
    tb_put(&tb_self, ticket, event);
    return ticket;
}

/* Record `event` and look for (hi << 32 | lo) among words[0..n); answers 1 found, 0 not. */
int tb_rec_find(uint32_t event, const uint64_t *words, uint32_t n, uint32_t lo, uint32_t hi)
{
    uint64_t value = (uint64_t)hi << 32 | lo;
    uint64_t ticket = __atomic_fetch_add(tb_self.counter, 1, __ATOMIC_SEQ_CST);
    int found = 0;
    for (uint32_t i = 0; i < n && !found; i++)
        found = __atomic_load_n(&words[i], __ATOMIC_ACQUIRE) == value;
    tb_put(&tb_self, ticket, event);
    return found;
}

/* ---- Access-level points: one read or write of a shared word, recorded in the same call ---
 * The event's `what` is the word's index (a slice: start | count << 24), so one event id
 * stands for a region and a kind (read, write) and the trace names the word. */

/* Record `event` for words[index] and load it; answers the word. */
uint64_t tb_acc_load(uint32_t event, const uint64_t *words, uint32_t index)
{
    uint64_t ticket = __atomic_fetch_add(tb_self.counter, 1, __ATOMIC_SEQ_CST);
    uint64_t v = __atomic_load_n(&words[index], __ATOMIC_SEQ_CST);
    tb_put(&tb_self, ticket, (uint64_t)index << 16 | event);
    return v;
}

/* Record `event` for words[index] and store (hi << 32 | lo) into it; answers the ticket. */
uint64_t tb_acc_store(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo, uint32_t hi)
{
    uint64_t ticket = __atomic_fetch_add(tb_self.counter, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&words[index], (uint64_t)hi << 32 | lo, __ATOMIC_SEQ_CST);
    tb_put(&tb_self, ticket, (uint64_t)index << 16 | event);
    return ticket;
}

/* Record `event` for words[start..start+n) (n < 2^24) and copy them into out. */
uint64_t tb_acc_copy(uint32_t event, const uint64_t *words, uint32_t start, uint32_t n,
                     uint64_t *out)
{
    uint64_t ticket = __atomic_fetch_add(tb_self.counter, 1, __ATOMIC_SEQ_CST);
    for (uint32_t i = 0; i < n; i++)
        out[i] = __atomic_load_n(&words[start + i], __ATOMIC_ACQUIRE);
    tb_put(&tb_self, ticket, ((uint64_t)n << 24 | start) << 16 | event);
    return ticket;
}

/* ---- Access-level points on memory reached by address: bitmaps and atomic words ----------
 * `env.bitmap(...)` and `env.atomic(...)` under --points access (testbed/harness/access.py):
 * each operation is one schedule point, recorded in the same call as the operation, as
 * tb_acc_load/tb_acc_store do for a word. The event's `what` names the words the operation
 * touches (one word: its index; more: start | count << 24), so a bitmap's point reads
 * `slots[0].w` or `pages[3:5].r`. A CAS and a fetch_add are read-modify-writes recorded as
 * writes (a bitmap range set or cleared, too: the other bits of its words are kept). */

static inline uint64_t bm_what(uint64_t start, uint64_t n) /* the words of bits [start, start+n) */
{
    uint64_t first = start / WORD_BITS;
    uint64_t count = n ? (start + n - 1) / WORD_BITS + 1 - first : 1;
    return count == 1 ? first : count << 24 | first;
}

static inline uint64_t acc_ticket(void)
{
    return __atomic_fetch_add(tb_self.counter, 1, __ATOMIC_SEQ_CST);
}

int64_t tb_acc_bm_first_set(uint32_t event, const uint64_t *bm, uint32_t start, uint32_t n)
{
    uint64_t ticket = acc_ticket();
    int64_t r = tb_bm_first_set(bm, start, n);
    tb_put(&tb_self, ticket, bm_what(start, n) << 16 | event);
    return r;
}

int64_t tb_acc_bm_first_clear(uint32_t event, const uint64_t *bm, uint32_t start, uint32_t n)
{
    uint64_t ticket = acc_ticket();
    int64_t r = tb_bm_first_clear(bm, start, n);
    tb_put(&tb_self, ticket, bm_what(start, n) << 16 | event);
    return r;
}

uint64_t tb_acc_bm_count(uint32_t event, const uint64_t *bm, uint32_t start, uint32_t n)
{
    uint64_t ticket = acc_ticket();
    uint64_t r = tb_bm_count(bm, start, n);
    tb_put(&tb_self, ticket, bm_what(start, n) << 16 | event);
    return r;
}

/* Set (set != 0) or clear bits [start, start+n); answers the ticket. */
uint64_t tb_acc_bm_apply(uint32_t event, uint64_t *bm, uint32_t start, uint32_t n, uint32_t set)
{
    uint64_t ticket = acc_ticket();
    apply_range(bm, start, n, set != 0);
    tb_put(&tb_self, ticket, bm_what(start, n) << 16 | event);
    return ticket;
}

/* Compare words[index] with (exp_hi << 32 | exp_lo), swap in (des_hi << 32 | des_lo) if
 * equal; answers the old value (equal to the expected one iff the swap happened). */
uint64_t tb_acc_cas(uint32_t event, uint64_t *words, uint32_t index, uint32_t exp_lo,
                    uint32_t exp_hi, uint32_t des_lo, uint32_t des_hi)
{
    uint64_t expected = (uint64_t)exp_hi << 32 | exp_lo;
    uint64_t ticket = acc_ticket();
    __atomic_compare_exchange_n(&words[index], &expected, (uint64_t)des_hi << 32 | des_lo, 0,
                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    tb_put(&tb_self, ticket, (uint64_t)index << 16 | event);
    return expected;
}

/* Add (hi << 32 | lo) to words[index]; answers the old value. */
uint64_t tb_acc_fetch_add(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo,
                          uint32_t hi)
{
    uint64_t ticket = acc_ticket();
    uint64_t old = __atomic_fetch_add(&words[index], (uint64_t)hi << 32 | lo, __ATOMIC_SEQ_CST);
    tb_put(&tb_self, ticket, (uint64_t)index << 16 | event);
    return old;
}

/* ---- The iteration's start gate (testbed/harness/iteration.py) ----------------------------
 * Actors of an iterating run wait for the generation word to reach their iteration, then
 * run their body at once: spinning here (no Python between the load that sees the release
 * and the timestamp) is what makes them start within a microsecond or two of each other. */

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
        cpu_relax();
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
