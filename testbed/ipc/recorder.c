/* Recording schedule-point events into this process's ring (testbed/harness/recorder.py),
 * and the access-level operations recorded in the same call as their access
 * (testbed/harness/access.py).
 *
 * Each event takes a ticket from one shared counter (the global order) and goes into its
 * actor's ring (tb.h's struct tb_recorder holds the layout). One call an event.
 */
#include "tb.h"

static inline void tb_put(struct tb_recorder *r, uint64_t ticket, uint64_t point) /* | what << 16 */
{
    uint64_t n = r->ring[0];
    uint64_t *e = r->ring + 1 + 2 * (n & r->mask);
    e[0] = ticket;
    e[1] = point;
    __atomic_store_n(&r->ring[0], n + 1, __ATOMIC_RELEASE);
}

static uint64_t tb_record(struct tb_recorder *r, uint64_t point, uint64_t what)
{
    uint64_t ticket = __atomic_fetch_add(r->counter, 1, __ATOMIC_SEQ_CST);
    tb_put(r, ticket, what << 16 | point);
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

static inline uint64_t acc_ticket(void)
{
    return __atomic_fetch_add(tb_self.counter, 1, __ATOMIC_SEQ_CST);
}

/* Record `event` and store (hi << 32 | lo) into words[index]; answers the ticket. */
uint64_t tb_rec_store(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo, uint32_t hi)
{
    uint64_t ticket = acc_ticket();
    __atomic_store_n(&words[index], (uint64_t)hi << 32 | lo, __ATOMIC_SEQ_CST);
    tb_put(&tb_self, ticket, event);
    return ticket;
}

/* Record `event` and look for (hi << 32 | lo) among words[0..n); answers 1 found, 0 not. */
int tb_rec_find(uint32_t event, const uint64_t *words, uint32_t n, uint32_t lo, uint32_t hi)
{
    uint64_t value = (uint64_t)hi << 32 | lo;
    uint64_t ticket = acc_ticket();
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
    uint64_t ticket = acc_ticket();
    uint64_t v = __atomic_load_n(&words[index], __ATOMIC_SEQ_CST);
    tb_put(&tb_self, ticket, (uint64_t)index << 16 | event);
    return v;
}

/* Record `event` for words[index] and store (hi << 32 | lo) into it; answers the ticket. */
uint64_t tb_acc_store(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo, uint32_t hi)
{
    uint64_t ticket = acc_ticket();
    __atomic_store_n(&words[index], (uint64_t)hi << 32 | lo, __ATOMIC_SEQ_CST);
    tb_put(&tb_self, ticket, (uint64_t)index << 16 | event);
    return ticket;
}

/* Record `event` for words[start..start+n) (n < 2^24) and copy them into out. */
uint64_t tb_acc_copy(uint32_t event, const uint64_t *words, uint32_t start, uint32_t n,
                     uint64_t *out)
{
    uint64_t ticket = acc_ticket();
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
 * writes (a bitmap range set or cleared, too: the other bits of its words are kept). The
 * bitmap operations are tb.h's, as bitmap.c's tb_bm_* are. */

static inline uint64_t bm_what(uint64_t start, uint64_t n) /* the words of bits [start, start+n) */
{
    uint64_t first = start / TB_WORD_BITS;
    uint64_t count = n ? (start + n - 1) / TB_WORD_BITS + 1 - first : 1;
    return count == 1 ? first : count << 24 | first;
}

int64_t tb_acc_bm_first_set(uint32_t event, const uint64_t *bm, uint32_t start, uint32_t n)
{
    uint64_t ticket = acc_ticket();
    int64_t r = tb_bits_first(bm, start, n, 0);
    tb_put(&tb_self, ticket, bm_what(start, n) << 16 | event);
    return r;
}

int64_t tb_acc_bm_first_clear(uint32_t event, const uint64_t *bm, uint32_t start, uint32_t n)
{
    uint64_t ticket = acc_ticket();
    int64_t r = tb_bits_first(bm, start, n, ~0ull);
    tb_put(&tb_self, ticket, bm_what(start, n) << 16 | event);
    return r;
}

uint64_t tb_acc_bm_count(uint32_t event, const uint64_t *bm, uint32_t start, uint32_t n)
{
    uint64_t ticket = acc_ticket();
    uint64_t r = tb_bits_count(bm, start, n);
    tb_put(&tb_self, ticket, bm_what(start, n) << 16 | event);
    return r;
}

/* Set (set != 0) or clear bits [start, start+n); answers the ticket. */
uint64_t tb_acc_bm_apply(uint32_t event, uint64_t *bm, uint32_t start, uint32_t n, uint32_t set)
{
    uint64_t ticket = acc_ticket();
    tb_bits_apply(bm, start, n, set != 0);
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
