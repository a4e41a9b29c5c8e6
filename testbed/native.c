/* Bitmap ranges and atomics on words of the shared segment, for the testbed.
 *
 * Loaded with ctypes (testbed/native.py). Every call works on a whole range or
 * batch: one ctypes call costs more than a bit test in Python, so a call must
 * carry enough work to pay for itself.
 */
#include <stdint.h>
#include <stddef.h>

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
uint64_t tb_fetch_or(uint64_t *p, uint64_t v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
uint64_t tb_exchange(uint64_t *p, uint64_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
uint64_t tb_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
void tb_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }

/* The client half of the mailbox handshake in one call: publish the request, flag it
 * pending, and answer whether core was asleep (then the caller rings the doorbell). */
uint64_t tb_submit(uint64_t *state, uint64_t request, uint64_t *pending, uint64_t bit,
                   uint64_t *core_waiting)
{
    __atomic_store_n(state, request, __ATOMIC_SEQ_CST);
    __atomic_fetch_or(pending, bit, __ATOMIC_SEQ_CST);
    return __atomic_exchange_n(core_waiting, 0, __ATOMIC_SEQ_CST);
}
