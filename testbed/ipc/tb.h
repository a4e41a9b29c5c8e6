/* tb.h: what the testbed's C files share (private; testbed/include/testbed.h is the public one).
 *
 * The library testbed.ipc._native is bitmap.c, atomics.c, mailbox.c, pagetable.c,
 * recorder.c, gate.c, handoff.c and hooks.c; kernel_model/genode/_fastcore.c (its own extension)
 * includes this header for the mailbox layout, the bit-range walker and the recorder's type.
 * testbed/ipc/native.py loads the functions below by name with ctypes: their names and
 * signatures are its contract.
 */
#ifndef TB_PRIVATE_H
#define TB_PRIVATE_H

#include <stdint.h>
#include <time.h>

#define TB_WORD_BITS 64u

/* ---- The bit-range walker ------------------------------------------------------------------
 * The words of the bit range [start, start+n) of a bitmap (bit i in word i / 64), one at a
 * time: `word` its index, `mask` the range's bits in it. Every bitmap loop is one of these:
 *
 *     for (struct tb_bits it = tb_bits(start, n); tb_bits_next(&it);)
 *         ... bm[it.word] & it.mask ...
 */
struct tb_bits {
    uint64_t word, mask; /* the current word and the range's bits in it */
    uint64_t next, end;  /* the bits left: [next, end) */
};

static inline struct tb_bits tb_bits(uint64_t start, uint64_t n)
{
    return (struct tb_bits){0, 0, start, start + n};
}

static inline int tb_bits_next(struct tb_bits *it)
{
    if (it->next >= it->end)
        return 0;
    uint64_t w = it->next / TB_WORD_BITS, lo = it->next % TB_WORD_BITS;
    uint64_t left = it->end - w * TB_WORD_BITS;
    uint64_t hi = left < TB_WORD_BITS ? left : TB_WORD_BITS; /* bits [lo, hi) of word w */
    uint64_t upper = hi >= TB_WORD_BITS ? ~0ull : (1ull << hi) - 1ull;
    it->word = w;
    it->mask = upper & ~((1ull << lo) - 1ull);
    it->next = w * TB_WORD_BITS + hi;
    return 1;
}

/* The operations on a range, on the walker: the exported tb_bm_* (bitmap.c), the recorded
 * tb_acc_bm_* (recorder.c) and _fastcore.c's page bitmaps are these. Loads acquire,
 * read-modify-writes are acq_rel. */

/* Index of the first bit in [start, start+n) that is set (flip 0) or clear (flip ~0); -1
 * if none is. */
static inline int64_t tb_bits_first(const uint64_t *bm, uint64_t start, uint64_t n, uint64_t flip)
{
    for (struct tb_bits it = tb_bits(start, n); tb_bits_next(&it);) {
        uint64_t bits = (__atomic_load_n(&bm[it.word], __ATOMIC_ACQUIRE) ^ flip) & it.mask;
        if (bits)
            return (int64_t)(it.word * TB_WORD_BITS + (uint64_t)__builtin_ctzll(bits));
    }
    return -1;
}

/* Number of set bits in [start, start+n). */
static inline uint64_t tb_bits_count(const uint64_t *bm, uint64_t start, uint64_t n)
{
    uint64_t count = 0;
    for (struct tb_bits it = tb_bits(start, n); tb_bits_next(&it);)
        count += (uint64_t)__builtin_popcountll(__atomic_load_n(&bm[it.word], __ATOMIC_ACQUIRE) &
                                                it.mask);
    return count;
}

/* Set (set != 0) or clear the bits [start, start+n), the other bits of their words kept. */
static inline void tb_bits_apply(uint64_t *bm, uint64_t start, uint64_t n, int set)
{
    for (struct tb_bits it = tb_bits(start, n); tb_bits_next(&it);) {
        if (set)
            __atomic_fetch_or(&bm[it.word], it.mask, __ATOMIC_ACQ_REL);
        else
            __atomic_fetch_and(&bm[it.word], ~it.mask, __ATOMIC_ACQ_REL);
    }
}

/* ---- The mailbox (testbed/ipc/mailbox.py: WORDS, ST, OP, UNUSED, A0, A1, A2, STATUS, VALUE) -
 * One cache line a client: the state, the request (op, a0-a2), the answer (status, value).
 * Word 2 is no part of the protocol (no request names its PD: core knows each client's);
 * _fastcore.c reads a PD there only for a core without sessions (FastCore.serve's scratch
 * mailbox). */
enum tb_mb_word {
    TB_MB_ST, TB_MB_OP, TB_MB_PD, TB_MB_A0, TB_MB_A1, TB_MB_A2, TB_MB_STATUS, TB_MB_VALUE,
    TB_MB_WORDS
};
/* The state word: IDLE -> REQUEST (client) -> [WAITING (client, going to sleep)] -> REPLIED
 * (core) -> IDLE (client). */
enum tb_mb_state { TB_IDLE = 0, TB_REQUEST = 1, TB_WAITING = 2, TB_REPLIED = 3 };

/* A core in C serving the request in a mailbox in place (writes STATUS and VALUE; answers
 * the status): _fastcore.c's fc_serve_mailbox and fc_serve_recorded, called by
 * tb_server_run. */
typedef int64_t (*tb_serve_fn)(void *core, uint64_t *mailbox, int client);

/* ---- The recorder (recorder.c; testbed/harness/recorder.py reads the rings) ----------------
 * Each event takes a ticket from one shared counter (the global order) and goes into its
 * actor's ring: word 0 the number of events ever written, then `mask + 1` entries of two
 * words: the ticket, and (what << 16 | event). */
struct tb_recorder {
    uint64_t *ring, mask, *counter;
};

/* tb_rec_what's type: a C core records its requests through it (_fastcore.c). */
typedef uint64_t (*tb_rec_what_fn)(uint32_t event, uint32_t what_lo, uint32_t what_hi);

#ifdef CLOCK_MONOTONIC /* in the files that asked for POSIX clocks (_GNU_SOURCE) */
/* the monotonic clock in seconds: spin budgets and timeouts (mailbox.c, handoff.c) */
static inline double tb_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* the CLOCK_REALTIME instant `timeout_s` from now, as sem_timedwait wants its deadline */
static inline struct timespec tb_deadline_in(double timeout_s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(timeout_s * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}
#endif

static inline void tb_cpu_relax(void) /* in a spin loop: let the sibling hyperthread run */
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* ---- The library's functions, by file ------------------------------------------------------ */
struct tb_client; /* mailbox.c */
struct tb_server;

/* bitmap.c */
int64_t tb_bm_first_set(const uint64_t *bm, uint64_t start, uint64_t n);
int64_t tb_bm_first_clear(const uint64_t *bm, uint64_t start, uint64_t n);
void tb_bm_set_range(uint64_t *bm, uint64_t start, uint64_t n);
void tb_bm_clear_range(uint64_t *bm, uint64_t start, uint64_t n);
uint64_t tb_bm_count(const uint64_t *bm, uint64_t start, uint64_t n);

/* atomics.c */
uint64_t tb_cas(uint64_t *p, uint64_t expected, uint64_t desired);
uint64_t tb_fetch_add(uint64_t *p, uint64_t v);
uint64_t tb_exchange(uint64_t *p, uint64_t v);
uint64_t tb_load(const uint64_t *p);
void tb_store(uint64_t *p, uint64_t v);

/* mailbox.c */
void *tb_sem_open(const char *name);
void *tb_client_new(uint64_t *mb, uint64_t *pending, uint64_t bit, uint64_t *core_waiting,
                    void *doorbell, void *reply, double spin_s, double timeout_s,
                    const uint64_t *abort);
int tb_call(struct tb_client *c); /* 0: replied (STATUS, VALUE in the mailbox) */
void *tb_server_new(uint64_t *pending, uint64_t nwords, uint64_t *core_waiting,
                    uint64_t *mailboxes, uint64_t nclients, void *doorbell, double spin_s,
                    double timeout_s, uint64_t stride);
void tb_server_set_reply(struct tb_server *s, uint64_t client, void *sem);
int64_t tb_server_step(struct tb_server *s);
int64_t tb_server_run(struct tb_server *s, void *serve, void *core, int64_t batch);

/* pagetable.c */
void tb_pt_set(uint8_t *pt, uint64_t start, uint64_t n, uint8_t value);
int64_t tb_pt_check(const uint8_t *pt, uint64_t start, uint64_t n, uint8_t need);

/* recorder.c: recording, and the access-level operations recorded in the same call. A native
 * actor calls tb_rec, tb_acc_load, tb_acc_store, tb_acc_cas and tb_acc_fetch_add through
 * pointers in its tb_env (testbed/include/testbed.h, filled by testbed/native/bridge.py):
 * the types of those pointers there are these signatures, written out again because
 * testbed.h is public and its own tb_load, tb_store, tb_cas and tb_fetch_add are other
 * functions than atomics.c's. */
void tb_recorder_bind(uint64_t *ring, uint64_t capacity, uint64_t *counter);
uint64_t tb_rec(uint32_t event);
uint64_t tb_rec_what(uint32_t event, uint32_t what_lo, uint32_t what_hi);
uint64_t tb_rec_store(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo, uint32_t hi);
int tb_rec_find(uint32_t event, const uint64_t *words, uint32_t n, uint32_t lo, uint32_t hi);
uint64_t tb_acc_load(uint32_t event, const uint64_t *words, uint32_t index);
uint64_t tb_acc_store(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo, uint32_t hi);
uint64_t tb_acc_copy(uint32_t event, const uint64_t *words, uint32_t start, uint32_t n,
                     uint64_t *out);
int64_t tb_acc_bm_first_set(uint32_t event, const uint64_t *bm, uint32_t start, uint32_t n);
int64_t tb_acc_bm_first_clear(uint32_t event, const uint64_t *bm, uint32_t start, uint32_t n);
uint64_t tb_acc_bm_count(uint32_t event, const uint64_t *bm, uint32_t start, uint32_t n);
uint64_t tb_acc_bm_apply(uint32_t event, uint64_t *bm, uint32_t start, uint32_t n, uint32_t set);
uint64_t tb_acc_cas(uint32_t event, uint64_t *words, uint32_t index, uint32_t exp_lo,
                    uint32_t exp_hi, uint32_t des_lo, uint32_t des_hi);
uint64_t tb_acc_fetch_add(uint32_t event, uint64_t *words, uint32_t index, uint32_t lo,
                          uint32_t hi);

/* gate.c: the iteration's start gate; its words as testbed/harness/iteration.py lays them out
 * (then, from TB_GATE_HEADER, n start times, n iterations, n sleep flags, the histogram) */
enum tb_gate_word { TB_GATE_GEN, TB_GATE_DONE, TB_GATE_COMPLETED, TB_GATE_STOPPED, TB_GATE_HEADER = 8 };
uint64_t tb_now_ns(void);
uint64_t tb_gate_spin(const uint64_t *word, uint64_t target, uint64_t spins);
void tb_gate_bind(uint64_t *w, uint64_t n, uint64_t nbuckets, uint64_t *stop, uint64_t *abort,
                  uint64_t rounds, uint64_t *woken);
int tb_gate_close(uint64_t released);
uint64_t tb_gate_open(uint64_t me, uint64_t released);
uint64_t tb_spread_note(const uint64_t *starts, uint64_t n, uint64_t *hist, uint64_t nbuckets);

/* handoff.c: the step handoff of a controlled run (testbed/ipc/handoff.py) */
struct tb_handoff;
void *tb_handoff_new(uint64_t *count, uint64_t *sleeping, uint64_t *watch, uint64_t *bump,
                     const uint64_t *allow, void *sem, double spin_s);
void tb_handoff_free(struct tb_handoff *h);
int64_t tb_handoff_give(struct tb_handoff *h);
void tb_handoff_bump(uint64_t *turn);
int64_t tb_handoff_wait(struct tb_handoff *h, uint64_t turn_seen, int spin_first, double timeout_s);
int64_t tb_handoff_pass(struct tb_handoff *give, struct tb_handoff *wait, double timeout_s);
uint64_t tb_handoff_stat(const struct tb_handoff *h, int what);
int64_t tb_handoff_announce(struct tb_handoff *h);
int64_t tb_handoff_block(struct tb_handoff *h, double timeout_s);

/* hooks.c: each answers a Python builtin function for a hot path (declared where Python.h
 * is included, for its PyObject) */
#ifdef Py_PYTHON_H
PyObject *tb_hook_point(PyObject *ids, void *counter, int ticket);
PyObject *tb_hook_record(void);
PyObject *tb_hook_store(uint32_t event, uint64_t *words, uint64_t nwords);
PyObject *tb_hook_find(uint32_t event, uint64_t *words, uint64_t nwords);
PyObject *tb_hook_call(void *client, uint64_t *mb, PyObject *error, PyObject *aborted,
                       PyObject *timed_out);
PyObject *tb_hook_step(void *server, uint64_t *mailboxes, uint64_t stride);
PyObject *tb_hook_record_request(uint64_t base, uint64_t max_op);
PyObject *tb_hook_lock(void *sem, uint64_t *holder, uint64_t me);
/* access_hooks.c: the access-level views' operations, recorded (a tuple of builtins) */
PyObject *tb_hook_words(uint32_t read, uint32_t write, uint64_t *words, Py_ssize_t n);
PyObject *tb_hook_bits(uint32_t read, uint32_t write, uint64_t *bm, Py_ssize_t nbits);
#endif

#endif /* TB_PRIVATE_H */
