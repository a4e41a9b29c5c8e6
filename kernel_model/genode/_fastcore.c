/* Genode's core in C: the RAM service and one region map a PD, for the hot requests.
 *
 * The same requests, checks and answers as kernel_model/genode/core.py (the readable
 * reference; tests/test_fastcore.py runs both on random request sequences and compares
 * every answer and the final state). Loaded with ctypes by kernel_model/genode/fastcore.py.
 * Only what the genode-race scenario needs: no pager, so FAULT is INVALID_OP as in the
 * Python core without page tables.
 *
 * Status codes and ops are kernel_model/genode/status.py's and core.py's Op.
 */
#include <stdint.h>
#include <stdlib.h>

#include "tb.h" /* testbed/ipc/tb.h: the mailbox's layout, the bit-range walker, tb_rec_what_fn */

enum { OK = 0, REGION_CONFLICT = 1, OUT_OF_RAM = 2, INVALID_PD = 3, INVALID_RANGE = 4,
       UNALIGNED = 5, INVALID_SIZE = 6, INVALID_DATASPACE = 7, NOT_ATTACHED = 8,
       DATASPACE_ATTACHED = 9, INVALID_OP = 10, DATASPACE_TOO_SMALL = 11 };
enum { NULL_OP = 0, RAM_ALLOC = 1, RAM_FREE = 2, ATTACH_AT = 3, DETACH = 4 };

#define AREA_BASE 0x40000000ull           /* layout.py: the stack area */
#define AREA_SIZE (256ull << 20)
#define PAGE_SIZE 4096ull
#define AREA_PAGES (AREA_SIZE / PAGE_SIZE)

/* Dataspaces: open addressing keyed by id (ids only grow, so an index by id would
 * collide with a long-lived one), linear probing, deletion by backward shift. */
struct ds { uint64_t id, owner, size, attached; }; /* id 0: an empty entry */

/* RAM accounting: each PD has its own quota and dataspace limit (ram.py: a RAM session a
 * component), so one PD exhausting its memory never makes another's allocation fail. */
struct account { uint64_t quota, used, count; };

/* A PD's region map: the page bitmap (shared memory, the Python core's too) and, by page,
 * the attachment starting there (ds 0: none), so a detach by offset is one lookup. */
struct attachment { uint64_t ds, pages; };
struct fc_pd { uint64_t *bitmap; struct attachment *at; struct account ram; };

struct fc_core {
    /* recording a served request, in the testbed's format (testbed/harness/recorder.py): a
     * call of the testbed's own tb_rec_what(event, what_lo, what_hi), handed over as a pointer */
    tb_rec_what_fn record;
    uint64_t event_base;
    uint64_t npds, next_id, count, max_dataspaces, mask;
    uint64_t *sessions, nsessions; /* each client's PD (the core server's sessions) */
    struct ds *table;
    struct fc_pd pds[];
};

static inline struct account *account_of(struct fc_core *c, uint64_t pd)
{
    return &c->pds[pd].ram;
}

static inline uint64_t slot_of(const struct fc_core *c, uint64_t id)
{
    return (id * 0x9E3779B97F4A7C15ull >> 17) & c->mask;
}

static struct ds *ds_find(struct fc_core *c, uint64_t id)
{
    if (id == 0)
        return NULL;
    for (uint64_t i = slot_of(c, id);; i = (i + 1) & c->mask) {
        struct ds *d = &c->table[i];
        if (d->id == id)
            return d;
        if (d->id == 0)
            return NULL;
    }
}

/* The dataspace `id` if `pd` owns it (ram.py's lookup). */
static struct ds *ds_lookup(struct fc_core *c, uint64_t pd, uint64_t id)
{
    struct ds *d = ds_find(c, id);
    return d && d->owner == pd ? d : NULL;
}

static void ds_insert(struct fc_core *c, struct ds d)
{
    uint64_t i = slot_of(c, d.id);
    while (c->table[i].id)
        i = (i + 1) & c->mask;
    c->table[i] = d;
}

static void ds_remove(struct fc_core *c, struct ds *d)
{
    uint64_t hole = (uint64_t)(d - c->table);
    for (uint64_t i = (hole + 1) & c->mask; c->table[i].id; i = (i + 1) & c->mask) {
        uint64_t home = slot_of(c, c->table[i].id);
        /* move entry i into the hole unless its home lies cyclically in (hole, i] */
        if (((i - home) & c->mask) >= ((i - hole) & c->mask)) {
            c->table[hole] = c->table[i];
            hole = i;
        }
    }
    c->table[hole].id = 0;
}

/* ---- the requests (ram.py, region_map.py) --------------------------------------------- */
static int ram_alloc(struct fc_core *c, uint64_t pd, uint64_t size, uint64_t *ds)
{
    struct account *a = account_of(c, pd);
    if (size == 0)
        return INVALID_SIZE;
    if (size > a->quota) /* before rounding up: no overflow */
        return OUT_OF_RAM;
    size = (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    if (size > a->quota - a->used || a->count >= c->max_dataspaces)
        return OUT_OF_RAM;
    *ds = c->next_id++;
    ds_insert(c, (struct ds){*ds, pd, size, 0});
    c->count++, a->count++;
    a->used += size;
    return OK;
}

static int ram_free(struct fc_core *c, uint64_t pd, uint64_t id)
{
    struct ds *d = ds_lookup(c, pd, id);
    if (!d)
        return INVALID_DATASPACE;
    if (d->attached)
        return DATASPACE_ATTACHED;
    account_of(c, pd)->used -= d->size;
    account_of(c, pd)->count--;
    ds_remove(c, d);
    c->count--;
    return OK;
}

static int attach_at(struct fc_core *c, uint64_t pd, uint64_t id, uint64_t offset,
                     uint64_t size, uint64_t *address)
{
    struct ds *d = ds_lookup(c, pd, id);
    if (!d)
        return INVALID_DATASPACE;
    if (offset % PAGE_SIZE || size % PAGE_SIZE)
        return UNALIGNED;
    if (size == 0)
        return INVALID_SIZE;
    if (offset > AREA_SIZE || size > AREA_SIZE - offset)
        return INVALID_RANGE;
    if (size > d->size)
        return DATASPACE_TOO_SMALL;
    struct fc_pd *p = &c->pds[pd];
    uint64_t first = offset / PAGE_SIZE, n = size / PAGE_SIZE;
    /* the page bitmap, a whole attachment a call (tb.h's range operations, as the testbed's) */
    if (tb_bits_first(p->bitmap, first, n, 0) >= 0)
        return REGION_CONFLICT;
    tb_bits_apply(p->bitmap, first, n, 1);
    p->at[first] = (struct attachment){id, n};
    d->attached++;
    *address = AREA_BASE + offset;
    return OK;
}

static int detach(struct fc_core *c, uint64_t pd, uint64_t offset)
{
    if (offset >= AREA_SIZE)
        return INVALID_RANGE;
    struct fc_pd *p = &c->pds[pd];
    /* only page-aligned offsets start an attachment (attach_at refuses the others) */
    struct attachment *a = offset % PAGE_SIZE ? NULL : &p->at[offset / PAGE_SIZE];
    if (!a || !a->ds)
        return NOT_ATTACHED;
    tb_bits_apply(p->bitmap, offset / PAGE_SIZE, a->pages, 0);
    struct ds *d = ds_lookup(c, pd, a->ds);
    if (d)
        d->attached--;
    a->ds = a->pages = 0;
    return OK;
}

/* ---- the public face ------------------------------------------------------------------ */

/* A core of `npds` PDs; bitmaps[pd] is PD pd's page bitmap (AREA_PAGES bits). NULL if out
 * of memory. */
void *fc_new(uint64_t npds, uint64_t *const *bitmaps, uint64_t quota, uint64_t max_dataspaces)
{
    struct fc_core *c = calloc(1, sizeof *c + npds * sizeof(struct fc_pd));
    if (!c)
        return NULL;
    uint64_t cap = 16;
    while (cap < 2 * max_dataspaces * (npds ? npds : 1)) /* load factor at most 1/2 */
        cap <<= 1;
    c->npds = npds, c->next_id = 1, c->max_dataspaces = max_dataspaces, c->mask = cap - 1;
    c->table = calloc(cap, sizeof *c->table);
    int ok = c->table != NULL;
    for (uint64_t pd = 0; pd < npds && ok; pd++) {
        c->pds[pd].bitmap = bitmaps[pd];
        c->pds[pd].ram = (struct account){quota, 0, 0};
        c->pds[pd].at = calloc(AREA_PAGES, sizeof(struct attachment));
        ok = c->pds[pd].at != NULL;
    }
    if (!ok) {
        for (uint64_t pd = 0; pd < npds; pd++)
            free(c->pds[pd].at);
        free(c->table);
        free(c);
        return NULL;
    }
    return c;
}

void fc_free(struct fc_core *c)
{
    if (!c)
        return;
    for (uint64_t pd = 0; pd < c->npds; pd++)
        free(c->pds[pd].at);
    free(c->sessions);
    free(c->table);
    free(c);
}

/* Each client's PD, as the core server knows it from the run's spec: a request served in
 * a mailbox is served for its client's PD, never for a PD the mailbox names. 0 if out of
 * memory. */
int fc_set_sessions(struct fc_core *c, const uint64_t *pds, uint64_t n)
{
    uint64_t *s = malloc((n ? n : 1) * sizeof *s);
    if (!s)
        return 0;
    for (uint64_t i = 0; i < n; i++)
        s[i] = pds[i];
    free(c->sessions);
    c->sessions = s, c->nsessions = n;
    return 1;
}

/* One request (Core.serve): answers value << 8 | status, in one 64-bit word so a ctypes
 * caller needs no out-parameter (a value is a ds id or an address, well below 2^56). */
uint64_t fc_serve(struct fc_core *c, uint64_t op, uint64_t pd, uint64_t a0, uint64_t a1,
                  uint64_t a2)
{
    uint64_t value = 0;
    int st;
    if (pd >= c->npds)
        return INVALID_PD;
    switch (op) {
    case RAM_ALLOC: st = ram_alloc(c, pd, a0, &value); break;
    case ATTACH_AT: st = attach_at(c, pd, a0, a1, a2, &value); break;
    case DETACH: st = detach(c, pd, a0); break;
    case RAM_FREE: st = ram_free(c, pd, a0); break;
    case NULL_OP: st = OK; break;
    default: st = INVALID_OP; /* FAULT too: this core has no pager */
    }
    return value << 8 | (uint64_t)st;
}

/* Serve the request in a testbed mailbox (tb.h's layout: op, a0, a1, a2) and write status
 * and value into it: one call, no conversion of the words to Python. Answers the status.
 * `client` (the mailbox's index) is only for fc_serve_recorded's sake: both have one
 * signature, tb.h's tb_serve_fn (but for the core's type), called by tb_server_run. */
int64_t fc_serve_mailbox(struct fc_core *c, uint64_t *mb, int client)
{
    /* a client's session decides its PD; without sessions (FastCore.serve's scratch
     * mailbox) the PD is the word the caller wrote */
    uint64_t pd = !c->sessions ? mb[TB_MB_PD]
                  : (uint64_t)client < c->nsessions ? c->sessions[client] : UINT64_MAX;
    uint64_t r = fc_serve(c, mb[TB_MB_OP], pd, mb[TB_MB_A0], mb[TB_MB_A1], mb[TB_MB_A2]);
    mb[TB_MB_STATUS] = r & 0xFF, mb[TB_MB_VALUE] = r >> 8;
    return (int64_t)(r & 0xFF);
}

/* What a trace keeps of a request besides op and status: the slot it touches (Core.key). */
static uint64_t key_of(uint64_t op, uint64_t a0, uint64_t a1)
{
    return op == ATTACH_AT ? a1 >> 20 : op == DETACH ? a0 >> 20 : 0; /* 1 MiB slots */
}

/* recorder.pack_core: op, client, status and key in one word. */
uint64_t fc_pack(uint64_t op, uint64_t client, uint64_t status, uint64_t key)
{
    return (op & 0xFF) | (client & 0xFFF) << 8 | (status & 0xFF) << 20 | (key & 0xFFFFF) << 28;
}

/* The recorder fc_serve_recorded calls: the testbed's tb_rec_what, and its CORE_EVENT. */
void fc_set_recorder(struct fc_core *c, void *fn, uint64_t event_base)
{
    c->record = (tb_rec_what_fn)fn, c->event_base = event_base;
}

/* fc_serve_mailbox, then record the request as the core server does in Python (event
 * CORE_EVENT + op, packed op, client, status, key), before the reply is posted. */
int64_t fc_serve_recorded(struct fc_core *c, uint64_t *mb, int client)
{
    uint64_t op = mb[TB_MB_OP], a0 = mb[TB_MB_A0], a1 = mb[TB_MB_A1];
    int64_t st = fc_serve_mailbox(c, mb, client);
    if (c->record) {
        uint64_t what = fc_pack(op, (uint64_t)client, (uint64_t)st, key_of(op, a0, a1));
        c->record((uint32_t)(c->event_base + op), (uint32_t)what, (uint32_t)(what >> 32));
    }
    return st;
}

/* ---- the state, for the differential test ---------------------------------------------- */
uint64_t fc_used(const struct fc_core *c, uint64_t pd) { return account_of((struct fc_core *)c, pd)->used; }
uint64_t fc_next_id(const struct fc_core *c) { return c->next_id; }
uint64_t fc_count(const struct fc_core *c) { return c->count; }

/* Dataspace `id`: 1 and its owner, size, attachment count; 0 if there is none. */
int fc_dataspace(struct fc_core *c, uint64_t id, uint64_t out[3])
{
    struct ds *d = ds_find(c, id);
    if (!d)
        return 0;
    out[0] = d->owner, out[1] = d->size, out[2] = d->attached;
    return 1;
}

/* PD pd's attachments from page `*page` on: the next one's page, ds and size in pages;
 * -1 when there is none. */
int64_t fc_next_attachment(const struct fc_core *c, uint64_t pd, uint64_t page, uint64_t out[2])
{
    for (; page < AREA_PAGES; page++) {
        const struct attachment *a = &c->pds[pd].at[page];
        if (a->ds) {
            out[0] = a->ds, out[1] = a->pages;
            return (int64_t)page;
        }
    }
    return -1;
}
