/* Atomics on 64-bit words of the shared segment (testbed/ipc/native.py's Atomics, AtomicWord).
 *
 * All sequentially consistent: the mailbox protocol relies on store-load ordering between
 * client and core (a Dekker handshake).
 */
#include "tb.h"

uint64_t tb_cas(uint64_t *p, uint64_t expected, uint64_t desired)
{
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected; /* the old value: equal to `expected` iff the swap happened */
}

uint64_t tb_fetch_add(uint64_t *p, uint64_t v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

uint64_t tb_exchange(uint64_t *p, uint64_t v)
{
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}

uint64_t tb_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
void tb_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
