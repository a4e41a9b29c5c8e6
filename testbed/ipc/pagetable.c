/* Page tables: one byte a 4 KiB page (permission bits), for the MMU model
 * (testbed/ipc/native.py's PageBytes, kernel_model/page_table.py).
 *
 * An access is checked over its whole range in one call: the target is under 2 ns a page.
 */
#include "tb.h"

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
