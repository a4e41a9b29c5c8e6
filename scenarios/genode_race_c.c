/* genode-race-c: Genode's context allocator in C, the system under test on real cores
 * (scenarios/genode_race_c.py). kernel_model/genode/context_allocator.py is the readable
 * reference, mutants.py the mutants': the same regions (pdN.threads: word 0 the high-water
 * mark, words 1.. the records, each a thread's `_context`; pdN.slots: the slot bitmap), the
 * same locks, the same named points in the same order, the same requests to core
 * (tb_core_call), the same outcomes. The layout's constants, core's ops and statuses come
 * from the Python (the actor's params), defined once there.
 *
 * Read the `create_*` functions side by side: as in the Python, the variants differ only in
 * where the locks are and when the slot becomes visible to the PD's other threads. The quick
 * fix's gap, between alloc_lock's release and the `_context` store, is a few instructions. */
#include <stdio.h>
#include <string.h>

#include "testbed.h"

#define MAX_CHILDREN 1024 /* genode_race.py's MAX_CHILDREN */
#define FREE UINT64_MAX   /* thread_list.py: not in the list (UNSET, 0: in it, no context) */

enum variant {
    RACY, QUICKFIX, FIXED, BITALLOC, /* context_allocator.py */
    UNLOCKED_REMOVE, CHECK_THEN_LOCK, TORN_CONTEXT, LIST_FREE_EARLY, /* mutants.py */
    BIT_UNLOCKED, BIT_FREE_EARLY, BIT_LOST_RELEASE, LOCK_INVERSION,
    NVARIANTS
};
static const char *const VARIANT_NAMES[NVARIANTS] = {
    "racy", "quickfix", "fixed", "bitalloc",
    "unlocked_remove", "check_then_lock", "torn_context", "list_free_early",
    "bit_unlocked", "bit_free_early", "bit_lost_release", "lock_inversion",
};

/* context_allocator.py's POINTS, by name */
enum point {
    CREATE, ALLOC_ACQUIRE, ALLOC_ACQUIRED, THREADS_ACQUIRE, THREADS_ACQUIRED, SEARCH_SLOT,
    LIST_INSERT, BITS_RESERVE, THREADS_RELEASE, CORE_RAM_ALLOC, CORE_ATTACH_AT, CORE_REPLY,
    ALLOC_RELEASE, CONTEXT_ASSIGN, CORE_DETACH, CORE_RAM_FREE, LIST_REMOVE, BITS_RELEASE,
    NPOINTS
};
static const char *const POINT_NAMES[NPOINTS] = {
    "create", "alloc_lock.acquire", "alloc_lock.acquired", "threads_lock.acquire",
    "threads_lock.acquired", "search.slot", "list.insert", "bits.reserve",
    "threads_lock.release", "core.ram_alloc", "core.attach_at", "core.reply",
    "alloc_lock.release", "context.assign", "core.detach", "core.ram_free", "list.remove",
    "bits.release",
};

enum { THREADS, ALLOC }; /* the PD's two locks */

struct stack { uint64_t slot, record, ds, offset; };

/* One PD's allocator, as the actor sees it. */
struct alloc {
    tb_env *env;
    enum variant v;
    uint64_t first_slot, *threads, capacity, *slots;
    int lock[2], pt[NPOINTS];
    int ok, conflict, no_space, too_large; /* outcome ids */
    int at; /* where the last failure showed (a point id) */
    /* layout.py */
    uint64_t area_base, slot_size, num_slots, page_size, record_size, max_stack;
    /* core.py's Op and status.py's Status */
    uint64_t op_ram_alloc, op_ram_free, op_attach_at, op_detach;
    int st_ok, st_conflict;
};

static uint64_t need(tb_env *env, const char *key)
{
    int64_t v = tb_param(env, key, -1);
    if (v < 0)
        tb_fail(env, "genode-race-c: a layout constant is missing from the actor's params");
    return (uint64_t)v;
}

static void setup(struct alloc *a, tb_env *env)
{
    char name[32];
    int pd = (int)tb_param(env, "pd", 0);
    a->env = env;
    a->v = NVARIANTS;
    for (int k = 0; k < NVARIANTS; k++)
        if (strcmp(tb_variant(env), VARIANT_NAMES[k]) == 0)
            a->v = (enum variant)k;
    if (a->v == NVARIANTS)
        tb_fail(env, "genode-race-c: a variant the C does not know");
    for (int k = 0; k < NPOINTS; k++)
        a->pt[k] = tb_point_id(env, POINT_NAMES[k]);
    snprintf(name, sizeof name, "pd%d.threads", pd);
    a->threads = tb_region(env, name);
    a->capacity = tb_region_words(env, name) - 1;
    a->lock[THREADS] = tb_lock_id(env, name);
    snprintf(name, sizeof name, "pd%d.alloc", pd);
    a->lock[ALLOC] = tb_lock_id(env, name);
    snprintf(name, sizeof name, "pd%d.slots", pd);
    a->slots = tb_region(env, name);
    a->ok = tb_outcome(env, "ok");
    a->conflict = tb_outcome(env, "region_conflict");
    a->no_space = tb_outcome(env, "out_of_stack_space");
    a->too_large = tb_outcome(env, "stack_too_large");
    a->area_base = need(env, "area_base");
    a->slot_size = need(env, "slot_size");
    a->num_slots = need(env, "num_slots");
    a->page_size = need(env, "page_size");
    a->record_size = need(env, "context_record_size");
    a->max_stack = need(env, "max_stack_size");
    a->op_ram_alloc = need(env, "op_ram_alloc");
    a->op_ram_free = need(env, "op_ram_free");
    a->op_attach_at = need(env, "op_attach_at");
    a->op_detach = need(env, "op_detach");
    a->st_ok = (int)need(env, "status_ok");
    a->st_conflict = (int)need(env, "status_region_conflict");
    int bits = a->v == BITALLOC || a->v == BIT_UNLOCKED || a->v == BIT_FREE_EARLY
               || a->v == BIT_LOST_RELEASE;
    a->first_slot = bits ? 1 : 0; /* Bitalloc: slot 0 is the main thread's */
}

static inline void point(struct alloc *a, enum point p) { tb_point(a->env, a->pt[p]); }

/* context_allocator.py's _Held: `L.acquire` before, `L.acquired` once held, `L.release`. */
static void hold(struct alloc *a, int which)
{
    point(a, which == THREADS ? THREADS_ACQUIRE : ALLOC_ACQUIRE);
    tb_lock(a->env, a->lock[which]);
    point(a, which == THREADS ? THREADS_ACQUIRED : ALLOC_ACQUIRED);
}

static void let_go(struct alloc *a, int which)
{
    point(a, which == THREADS ? THREADS_RELEASE : ALLOC_RELEASE);
    tb_unlock(a->env, a->lock[which]);
}

static int fail_at(struct alloc *a, int outcome, enum point p)
{
    a->at = a->pt[p];
    return outcome;
}

/* ---- layout.py ---------------------------------------------------------------------------- */
static uint64_t ds_size(struct alloc *a, uint64_t stack_size)
{
    uint64_t n = stack_size + a->record_size;
    return (n + a->page_size - 1) & ~(a->page_size - 1);
}

static uint64_t stack_offset(struct alloc *a, uint64_t slot, uint64_t stack_size)
{
    return (slot + 1) * a->slot_size - ds_size(a, stack_size);
}

static uint64_t context_address(struct alloc *a, uint64_t slot)
{
    return a->area_base + (slot + 1) * a->slot_size - a->record_size;
}

/* ---- thread_list.py ---------------------------------------------------------------------- */
static int is_in_use(struct alloc *a, uint64_t context)
{
    uint64_t *w = a->threads, top = tb_load(a->env, &w[0]);
    if (top > a->capacity)
        top = a->capacity;
    for (uint64_t i = 1; i <= top; i++)
        if (tb_load(a->env, &w[i]) == context)
            return 1;
    return 0;
}

static uint64_t list_insert(struct alloc *a) /* the record's index; 0: the list is full */
{
    uint64_t *w = a->threads;
    for (uint64_t i = 1; i <= a->capacity; i++)
        if (tb_load(a->env, &w[i]) == FREE) {
            tb_store(a->env, &w[i], 0);
            if (i > tb_load(a->env, &w[0]))
                tb_store(a->env, &w[0], i);
            return i;
        }
    return 0;
}

static void list_assign(struct alloc *a, uint64_t record, uint64_t context)
{
    tb_store(a->env, &a->threads[record], context);
}

static void list_remove(struct alloc *a, uint64_t record)
{
    uint64_t *w = a->threads;
    tb_store(a->env, &w[record], FREE);
    uint64_t top = tb_load(a->env, &w[0]);
    while (top && tb_load(a->env, &w[top]) == FREE)
        top--;
    tb_store(a->env, &w[0], top);
}

/* ---- the slot bitmap --------------------------------------------------------------------- */
static int64_t first_clear(struct alloc *a, uint64_t start, uint64_t n)
{
    uint64_t word = 0, loaded = UINT64_MAX;
    for (uint64_t s = start; s < start + n; s++) {
        if (s / 64 != loaded)
            word = tb_load(a->env, &a->slots[loaded = s / 64]);
        if (!(word >> (s % 64) & 1))
            return (int64_t)s;
    }
    return -1;
}

static void set_bit(struct alloc *a, uint64_t slot, int on)
{
    uint64_t *w = &a->slots[slot / 64], bit = 1ull << (slot % 64);
    uint64_t old = tb_load(a->env, w);
    tb_store(a->env, w, on ? old | bit : old & ~bit);
}

/* ---- the steps the variants share (ContextAllocator's) ------------------------------------ */
static int core(struct alloc *a, uint64_t op, uint64_t a0, uint64_t a1, uint64_t a2,
                uint64_t *reply)
{
    return tb_core_call(a->env, op, a0, a1, a2, reply);
}

static void release_slot(struct alloc *a, uint64_t record, uint64_t slot)
{
    if (a->first_slot) { /* the bit allocators */
        point(a, BITS_RELEASE);
        set_bit(a, slot, 0);
    } else {
        point(a, LIST_REMOVE);
        list_remove(a, record);
    }
}

static void undo(struct alloc *a, uint64_t record, uint64_t slot)
{
    hold(a, THREADS);
    release_slot(a, record, slot);
    let_go(a, THREADS);
}

/* Context_allocator::alloc: find a slot no listed thread uses, insert a record. */
static int alloc(struct alloc *a, struct stack *s)
{
    hold(a, THREADS);
    for (uint64_t slot = a->first_slot; slot < a->num_slots; slot++) {
        point(a, SEARCH_SLOT);
        if (!is_in_use(a, context_address(a, slot))) {
            point(a, LIST_INSERT);
            s->record = list_insert(a);
            s->slot = slot;
            let_go(a, THREADS);
            return s->record ? a->ok : fail_at(a, a->no_space, LIST_INSERT);
        }
    }
    let_go(a, THREADS);
    return fail_at(a, a->no_space, SEARCH_SLOT);
}

/* The two requests to core: a RAM dataspace, attached at the top of the slot. */
static int back(struct alloc *a, struct stack *s, uint64_t stack_size)
{
    uint64_t size = ds_size(a, stack_size), ds = 0;
    s->offset = stack_offset(a, s->slot, stack_size);
    point(a, CORE_RAM_ALLOC);
    int st = core(a, a->op_ram_alloc, size, 0, 0, &ds);
    point(a, CORE_REPLY);
    if (st != a->st_ok) {
        undo(a, s->record, s->slot);
        tb_fail(a->env, "genode-race-c: core refused ram_alloc (a bug, not an outcome)");
    }
    s->ds = ds;
    point(a, CORE_ATTACH_AT);
    st = core(a, a->op_attach_at, ds, s->offset, size, NULL);
    point(a, CORE_REPLY);
    if (st != a->st_ok) {
        point(a, CORE_RAM_FREE);
        core(a, a->op_ram_free, ds, 0, 0, NULL);
        point(a, CORE_REPLY);
        undo(a, s->record, s->slot);
        if (st != a->st_conflict)
            tb_fail(a->env, "genode-race-c: core refused attach_at (a bug, not an outcome)");
        return fail_at(a, a->conflict, CORE_ATTACH_AT);
    }
    return a->ok;
}

/* Thread_base::_context = ...: from here on `_is_in_use` sees the slot. */
static void assign(struct alloc *a, struct stack *s)
{
    point(a, CONTEXT_ASSIGN);
    list_assign(a, s->record, context_address(a, s->slot));
}

static void unback(struct alloc *a, struct stack *s)
{
    point(a, CORE_DETACH);
    core(a, a->op_detach, s->offset, 0, 0, NULL);
    point(a, CORE_REPLY);
    point(a, CORE_RAM_FREE);
    core(a, a->op_ram_free, s->ds, 0, 0, NULL);
    point(a, CORE_REPLY);
}

static int reserve_slot(struct alloc *a, struct stack *s) /* Bitalloc's */
{
    point(a, BITS_RESERVE);
    int64_t slot = first_clear(a, a->first_slot, a->num_slots - a->first_slot);
    if (slot < 0)
        return fail_at(a, a->no_space, BITS_RESERVE);
    set_bit(a, (uint64_t)slot, 1);
    s->slot = (uint64_t)slot;
    s->record = 0;
    return a->ok;
}

static int free_slot(struct alloc *a, struct stack *s) /* CheckThenLock's: no lock */
{
    for (uint64_t slot = a->first_slot; slot < a->num_slots; slot++) {
        point(a, SEARCH_SLOT);
        if (!is_in_use(a, context_address(a, slot))) {
            s->slot = slot;
            return a->ok;
        }
    }
    return fail_at(a, a->no_space, SEARCH_SLOT);
}

/* ---- the variants' one difference: create --------------------------------------------------- */
static int create_racy(struct alloc *a, struct stack *s, uint64_t size)
{
    int o = alloc(a, s);
    if (o == a->ok && (o = back(a, s, size)) == a->ok)
        assign(a, s); /* too late: the slot looked free during both requests */
    return o;
}

static int create_quickfix(struct alloc *a, struct stack *s, uint64_t size)
{
    hold(a, ALLOC);
    int o = alloc(a, s);
    if (o == a->ok)
        o = back(a, s, size);
    let_go(a, ALLOC);
    if (o == a->ok)
        assign(a, s); /* the gap: alloc_lock released, _context still unset */
    return o;
}

static int create_fixed(struct alloc *a, struct stack *s, uint64_t size)
{
    hold(a, ALLOC);
    int o = alloc(a, s);
    if (o == a->ok && (o = back(a, s, size)) == a->ok)
        assign(a, s);
    let_go(a, ALLOC);
    return o;
}

static int create_bitalloc(struct alloc *a, struct stack *s, uint64_t size)
{
    hold(a, THREADS);
    int o = reserve_slot(a, s); /* owned before any request to core */
    let_go(a, THREADS);
    return o == a->ok ? back(a, s, size) : o;
}

static int create_bit_unlocked(struct alloc *a, struct stack *s, uint64_t size)
{
    int o = reserve_slot(a, s); /* no _threads_lock */
    return o == a->ok ? back(a, s, size) : o;
}

static int create_check_then_lock(struct alloc *a, struct stack *s, uint64_t size)
{
    int o = free_slot(a, s); /* no lock */
    if (o != a->ok)
        return o;
    hold(a, THREADS);
    point(a, LIST_INSERT);
    s->record = list_insert(a);
    if (s->record)
        list_assign(a, s->record, context_address(a, s->slot));
    let_go(a, THREADS);
    return s->record ? back(a, s, size) : fail_at(a, a->no_space, LIST_INSERT);
}

static int create_torn_context(struct alloc *a, struct stack *s, uint64_t size)
{
    hold(a, THREADS);
    int o = free_slot(a, s);
    if (o == a->ok) {
        point(a, LIST_INSERT);
        s->record = list_insert(a);
        if (s->record) /* the high half */
            list_assign(a, s->record, context_address(a, s->slot) >> 32 << 32);
    }
    let_go(a, THREADS);
    if (o != a->ok)
        return o;
    if (!s->record)
        return fail_at(a, a->no_space, LIST_INSERT);
    point(a, CONTEXT_ASSIGN);
    list_assign(a, s->record, context_address(a, s->slot)); /* the low half, after the lock */
    return back(a, s, size);
}

static int create(struct alloc *a, struct stack *s, uint64_t size)
{
    point(a, CREATE);
    if (!(0 < size && size <= a->max_stack))
        return fail_at(a, a->too_large, CREATE);
    switch (a->v) {
    case RACY:
        return create_racy(a, s, size);
    case QUICKFIX:
        return create_quickfix(a, s, size);
    case BITALLOC: case BIT_FREE_EARLY: case BIT_LOST_RELEASE:
        return create_bitalloc(a, s, size);
    case BIT_UNLOCKED:
        return create_bit_unlocked(a, s, size);
    case CHECK_THEN_LOCK:
        return create_check_then_lock(a, s, size);
    case TORN_CONTEXT:
        return create_torn_context(a, s, size);
    default: /* FIXED, UNLOCKED_REMOVE, LIST_FREE_EARLY, LOCK_INVERSION */
        return create_fixed(a, s, size);
    }
}

/* ---- destroy: detach and free the stack, then make its slot free again ------------------- */
static void destroy(struct alloc *a, struct stack *s)
{
    switch (a->v) {
    case UNLOCKED_REMOVE:
        unback(a, s);
        release_slot(a, s->record, s->slot); /* no _threads_lock */
        return;
    case LIST_FREE_EARLY: case BIT_FREE_EARLY:
        undo(a, s->record, s->slot); /* too early: the stack is still attached */
        unback(a, s);
        return;
    case BIT_LOST_RELEASE:
        unback(a, s);
        point(a, BITS_RELEASE);
        set_bit(a, s->slot, 0); /* read and written back, no lock */
        return;
    case LOCK_INVERSION:
        unback(a, s);
        hold(a, THREADS);
        hold(a, ALLOC); /* the other order */
        release_slot(a, s->record, s->slot);
        let_go(a, ALLOC);
        let_go(a, THREADS);
        return;
    default:
        unback(a, s);
        undo(a, s->record, s->slot);
    }
}

/* ---- one round of a creator (genode_race.py's run_actor) ---------------------------------- */
static struct stack stacks[MAX_CHILDREN];

void genode_race_round(tb_env *env)
{
    struct alloc a;
    setup(&a, env);
    int64_t children = tb_param(env, "children", 4), made = 0;
    uint64_t size = (uint64_t)tb_param(env, "stack_size", 16384);
    if (children > MAX_CHILDREN)
        children = MAX_CHILDREN;
    for (int64_t i = 0; i < children && !tb_stopping(env); i++) {
        struct stack *s = &stacks[made];
        int o = create(&a, s, size);
        if (o == a.ok) {
            made++;
            tb_record(env, o);
        } else {
            tb_record_at(env, o, a.at);
        }
    }
    /* threads end in any order, so slots recycle unevenly: an order drawn from the round's
     * own slots (xorshift), which a replay reproduces along with them */
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(tb_actor_index(env) + 1);
    for (int64_t i = 0; i < made; i++)
        x = (x ^ stacks[i].slot) * 0xBF58476D1CE4E5B9ull + 1;
    for (int64_t i = made - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t j = (int64_t)(x % (uint64_t)(i + 1));
        struct stack t = stacks[i];
        stacks[i] = stacks[j];
        stacks[j] = t;
    }
    for (int64_t i = 0; i < made; i++)
        destroy(&a, &stacks[i]);
}
