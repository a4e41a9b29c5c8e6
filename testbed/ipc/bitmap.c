/* Bitmap ranges on words of the shared segment (testbed/ipc/native.py's Bitmap).
 *
 * Every call works on a whole range: one ctypes call costs more than a bit test in Python,
 * so a call must carry enough work to pay for itself. The loops are tb.h's bit-range walker.
 */
#include "tb.h"

/* Index of the first set bit in [start, start+n), or -1 if all are clear. */
int64_t tb_bm_first_set(const uint64_t *bm, uint64_t start, uint64_t n)
{
    return tb_bits_first(bm, start, n, 0);
}

/* Index of the first clear bit in [start, start+n), or -1 if all are set. */
int64_t tb_bm_first_clear(const uint64_t *bm, uint64_t start, uint64_t n)
{
    return tb_bits_first(bm, start, n, ~0ull);
}

void tb_bm_set_range(uint64_t *bm, uint64_t start, uint64_t n) { tb_bits_apply(bm, start, n, 1); }
void tb_bm_clear_range(uint64_t *bm, uint64_t start, uint64_t n) { tb_bits_apply(bm, start, n, 0); }

/* Number of set bits in [start, start+n). */
uint64_t tb_bm_count(const uint64_t *bm, uint64_t start, uint64_t n)
{
    return tb_bits_count(bm, start, n);
}
