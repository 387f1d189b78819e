/*
 * export: the export stream in batches (export.h) over the layout of
 * layout.h. A position is the pass (items and events of each collection,
 * then relations of each collection), the collection being written (name
 * and cid), the part of it (items or events) and the last key written in
 * that part's database. Every batch works on a copy of the position, so a
 * batch that fails or is retried after a deadlock leaves the position as
 * it was. The batch that reaches the end gets the end line after its
 * transaction succeeded.
 */
#include "export.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "collections.h"
#include "events.h"
#include "items.h"
#include "json.h"
#include "layout.h"
#include "log.h"
#include "mem.h"
#include "util.h"

/* The largest line: a value as large as any max_body allows (config.c),
 * with the names of its collection, key and type (escaped) around it. */
#define LINE_MAX_BYTES (((size_t)64 << 20) + ((size_t)1 << 20))

/* The end line, {"kind":"end","lines":N}, with N of up to 19 digits. */
#define END_LINE_MAX 64

/* Records a batch may pass over without writing them (deleted items'
 * heads, relations the API does not show) per line it may write: a
 * collection of tombstones still makes short transactions. */
#define SCAN_FACTOR 8

enum pass { PASS_DATA, PASS_RELATIONS, PASS_DONE };
enum part { PART_ITEMS, PART_EVENTS };

/* A growable byte string owned by a position. */
struct bytes {
	unsigned char *p;
	size_t len, cap;
};

struct xpos {
	enum pass pass;
	enum part part;
	bool in_coll;        /* coll is the collection being written */
	bool have_coll;      /* coll holds a name (else: before the first) */
	struct bytes coll;   /* that name, or the last one written */
	uint64_t cid;
	bool have_key;       /* key is the last record written in this part */
	struct bytes key;
};

struct export {
	struct export_spec spec;
	char *only;              /* spec.coll, copied */
	struct xpos pos;         /* where the last batch stopped */
	struct xpos next;        /* the batch in hand moves this copy */
	struct arena *arena;     /* a batch's allocations, freed by the next */
	struct buf out;
	struct export_totals totals, batch;
	int64_t scanned;         /* records the batch in hand passed over */
	bool failed;
	bool ended;              /* the end line was given */
	/* For relations, within one batch: a cursor over items.db to read
	 * heads, the last source item looked at and whether it is live, and
	 * the last destination collection name looked up and its cid (0: it
	 * does not exist). */
	struct store_cursor *heads;
	struct bytes src;
	bool src_valid, src_live;
	struct bytes dst;
	bool dst_valid;
	uint64_t dst_cid;
};

static int
bytes_set(struct bytes *b, const void *p, size_t len)
{
	if (len + 1 > b->cap) {
		unsigned char *n = realloc(b->p, len + 1);

		if (n == NULL)
			return -1;
		b->p = n;
		b->cap = len + 1;
	}
	memcpy(b->p, p, len);
	b->p[len] = 0; /* so a collection name is a C string */
	b->len = len;
	return 0;
}

static int
xpos_copy(struct xpos *to, const struct xpos *from)
{
	struct bytes coll = to->coll, key = to->key;

	*to = *from;
	to->coll = coll;
	to->key = key;
	if (bytes_set(&to->coll, from->coll.p, from->coll.len) == -1 ||
	    bytes_set(&to->key, from->key.p, from->key.len) == -1)
		return -1;
	return 0;
}

struct export *
export_new(const struct export_spec *spec)
{
	struct export *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->spec = *spec;
	if (x->spec.batch_records < 1)
		x->spec.batch_records = 1;
	x->spec.coll = NULL;
	x->arena = mem_new();
	if (x->arena == NULL || (spec->coll != NULL &&
	    (x->only = strdup(spec->coll)) == NULL) ||
	    bytes_set(&x->pos.coll, "", 0) == -1 || bytes_set(&x->pos.key, "", 0) == -1) {
		export_free(x);
		return NULL;
	}
	buf_init(&x->out, x->spec.batch_bytes + LINE_MAX_BYTES + END_LINE_MAX);
	return x;
}

void
export_free(struct export *x)
{
	if (x == NULL)
		return;
	free(x->pos.coll.p);
	free(x->pos.key.p);
	free(x->next.coll.p);
	free(x->next.key.p);
	free(x->src.p);
	free(x->dst.p);
	free(x->only);
	mem_free(x->arena);
	buf_free(&x->out);
	free(x);
}

void
export_totals(const struct export *x, struct export_totals *t)
{
	*t = x->totals;
}

/* True when the batch in hand is full (its first record always goes in). */
static bool
batch_full(const struct export *x)
{
	int64_t lines = x->batch.items + x->batch.events + x->batch.relations;

	return lines >= x->spec.batch_records || x->out.b_len >= x->spec.batch_bytes ||
	    x->scanned >= x->spec.batch_records * SCAN_FACTOR;
}

static enum dom_rc
malformed(const struct export *x, const char *db)
{
	log_err("export: a record of %s in collection %s of tenant %u is malformed", db,
	    (const char *)x->next.coll.p, x->spec.tenant);
	return DOM_ERR;
}

/* After a line: a buffer that could not take it is a fault, never a short line. */
static enum dom_rc
line_done(struct export *x, int64_t *counter)
{
	if (x->out.b_failed) {
		log_err("export: a line of collection %s of tenant %u does not fit in memory",
		    (const char *)x->next.coll.p, x->spec.tenant);
		return DOM_ERR;
	}
	(*counter)++;
	return DOM_OK;
}

/* {"kind":"item","path":{...},"value":...,"reftime":...}: a version. */
static enum dom_rc
write_item(struct export *x, const char *key, size_t keylen, const struct item_version *v)
{
	struct buf *b = &x->out;

	buf_adds(b, "{\"kind\":\"item\",\"path\":{\"collection\":");
	json_emit_string(b, (const char *)x->next.coll.p, x->next.coll.len);
	buf_adds(b, ",\"key\":");
	json_emit_string(b, key, keylen);
	buf_printf(b, ",\"kind\":\"item\",\"ref\":\"%s\",\"reftime\":%lld%s}", v->ref,
	    (long long)v->reftime, v->tombstone ? ",\"tombstone\":true" : "");
	if (!v->tombstone) {
		buf_adds(b, ",\"value\":");
		buf_add(b, v->value, v->vlen);
	}
	buf_printf(b, ",\"reftime\":%lld}\n", (long long)v->reftime);
	return line_done(x, &x->batch.items);
}

/* A record's writer: *wrote tells whether it made a line. */
typedef enum dom_rc (*emit_fn)(struct export *x, struct dom *d, const unsigned char *k,
    size_t kl, const void *v, size_t vl, bool *wrote);

/* items.db (I -> head): the live items' current values. */
static enum dom_rc
emit_head(struct export *x, struct dom *d, const unsigned char *k, size_t kl,
    const void *v, size_t vl, bool *wrote)
{
	struct item_version iv;

	(void)d;
	*wrote = false;
	if (layout_item_decode(v, vl, &iv) == -1)
		return malformed(x, "items.db");
	if (iv.tombstone)
		return DOM_OK;
	*wrote = true;
	return write_item(x, (const char *)k + LAYOUT_PREFIX_LEN, kl - LAYOUT_PREFIX_LEN, &iv);
}

/* versions.db (I | 0x00 | seq -> version): every version, in key order and
 * then seq order, i.e. oldest first. */
static enum dom_rc
emit_version(struct export *x, struct dom *d, const unsigned char *k, size_t kl,
    const void *v, size_t vl, bool *wrote)
{
	struct item_version iv;
	bool old;
	enum dom_rc rc;

	*wrote = false;
	if (kl < LAYOUT_PREFIX_LEN + 1 + 9 || k[kl - 9] != 0 ||
	    layout_item_decode(v, vl, &iv) == -1)
		return malformed(x, "versions.db");
	rc = item_version_purged(d, k, kl - 9, iv.seq, &old);
	if (rc != DOM_OK || old)
		return rc; /* purged: the maintainer removes it */
	*wrote = true;
	return write_item(x, (const char *)k + LAYOUT_PREFIX_LEN,
	    kl - LAYOUT_PREFIX_LEN - 9, &iv);
}

/* events.db (I | 0x00 | type | 0x00 | ts | ordinal -> event). Neither the
 * key nor the type holds a 0x00 byte; the position may. */
static enum dom_rc
emit_event(struct export *x, struct dom *d, const unsigned char *k, size_t kl,
    const void *v, size_t vl, bool *wrote)
{
	const unsigned char *key = k + LAYOUT_PREFIX_LEN, *type, *end, *z;
	struct event_record r;
	struct buf *b = &x->out;
	uint64_t ts, ord;
	char ordhex[17];

	*wrote = false;
	if (kl < LAYOUT_PREFIX_LEN + 4 + 16)
		return malformed(x, "events.db");
	end = k + kl - 16;
	if ((z = memchr(key, 0, (size_t)(end - key))) == NULL || z == key)
		return malformed(x, "events.db");
	type = z + 1;
	if (type >= end || (z = memchr(type, 0, (size_t)(end - type))) == NULL ||
	    z == type || z + 1 != end || layout_event_decode(v, vl, &r) == -1)
		return malformed(x, "events.db");
	layout_event_pos_get(k, (size_t)(end - k), &ts, &ord);
	bool old;
	enum dom_rc rc = event_purged(d, k, (size_t)(type - 1 - k), ord, &old);

	if (rc != DOM_OK || old)
		return rc; /* purged: the maintainer removes it */
	ids_hex64(ord, ordhex);
	buf_adds(b, "{\"kind\":\"event\",\"path\":{\"collection\":");
	json_emit_string(b, (const char *)x->next.coll.p, x->next.coll.len);
	buf_adds(b, ",\"key\":");
	json_emit_string(b, (const char *)key, (size_t)(type - 1 - key));
	buf_adds(b, ",\"kind\":\"event\",\"type\":");
	json_emit_string(b, (const char *)type, (size_t)(z - type));
	buf_printf(b, ",\"timestamp\":%llu,\"ordinal\":%llu,\"ordinal_str\":\"%s\","
	    "\"ref\":\"%s\",\"reftime\":%lld},\"value\":", (unsigned long long)ts,
	    (unsigned long long)ord, ordhex, r.ref, (long long)r.reftime);
	buf_add(b, r.value, r.vlen);
	buf_printf(b, ",\"reftime\":%lld}\n", (long long)r.reftime);
	*wrote = true;
	return line_done(x, &x->batch.events);
}

/*
 * Whether item (cid, key) has a live head, read through the batch's items
 * cursor: its buffer is reused from one head to the next, so the memory a
 * batch takes does not grow with the relations it looks at.
 */
static enum dom_rc
head_live(struct export *x, struct dom *d, uint64_t cid, const char *key, size_t keylen,
    bool *live)
{
	struct item_version iv;
	unsigned char *ik;
	const void *k, *v;
	size_t il, kl, vl;
	enum store_rc rc;

	*live = false;
	if (x->heads == NULL && (rc = store_cursor_open(d->txn, STORE_DB_ITEMS,
	    &x->heads)) != STORE_OK)
		return dom_from_store(rc);
	il = LAYOUT_PREFIX_LEN + keylen;
	if ((ik = mem_alloc(d->arena, il)) == NULL)
		return DOM_ERR;
	layout_prefix(ik, x->spec.tenant, cid);
	memcpy(ik + LAYOUT_PREFIX_LEN, key, keylen);
	rc = store_cursor_get(x->heads, STORE_SEEK_GE, ik, il, &k, &kl, &v, &vl);
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && (kl != il || memcmp(k, ik, il) != 0)))
		return DOM_OK;
	if (rc != STORE_OK)
		return dom_from_store(rc);
	if (layout_item_decode(v, vl, &iv) == -1)
		return malformed(x, "items.db");
	*live = !iv.tombstone;
	return DOM_OK;
}

/* Whether the relation's source (in the collection being written) is live;
 * relations come grouped by source, so the last answer is kept. */
static enum dom_rc
source_live(struct export *x, struct dom *d, const struct rel_key *rk, bool *live)
{
	enum dom_rc rc;

	if (x->src_valid && x->src.len == rk->keylen &&
	    memcmp(x->src.p, rk->key, rk->keylen) == 0) {
		*live = x->src_live;
		return DOM_OK;
	}
	if ((rc = head_live(x, d, x->next.cid, rk->key, rk->keylen, live)) != DOM_OK)
		return rc;
	if (bytes_set(&x->src, rk->key, rk->keylen) == -1)
		return DOM_ERR;
	x->src_valid = true;
	x->src_live = *live;
	return DOM_OK;
}

/* The cid the destination's collection name has now (0: none); the last
 * name looked up is kept. */
static enum dom_rc
dest_cid(struct export *x, struct dom *d, const struct rel_record *r, uint64_t *cid)
{
	const char *name;
	enum dom_rc rc;

	if (x->dst_valid && x->dst.len == r->dst_coll_len &&
	    memcmp(x->dst.p, r->dst_coll, r->dst_coll_len) == 0) {
		*cid = x->dst_cid;
		return DOM_OK;
	}
	if ((name = mem_strndup(d->arena, r->dst_coll, r->dst_coll_len)) == NULL)
		return DOM_ERR;
	rc = coll_lookup(d, name, cid);
	if (rc == DOM_NOT_FOUND)
		*cid = 0;
	else if (rc != DOM_OK)
		return rc;
	if (bytes_set(&x->dst, r->dst_coll, r->dst_coll_len) == -1)
		return DOM_ERR;
	x->dst_valid = true;
	x->dst_cid = *cid;
	return DOM_OK;
}

/*
 * relations.db (I(src) | 0x00 | kind | 0x00 | dst cid | dst key -> record):
 * the relations the API shows, i.e. whose two ends are live items. Those
 * of a deleted item, or into a dropped collection (reclaim pending), are
 * passed over: no client can see them, and an import could not write them.
 */
static enum dom_rc
emit_relation(struct export *x, struct dom *d, const unsigned char *k, size_t kl,
    const void *v, size_t vl, bool *wrote)
{
	struct rel_record r;
	struct rel_key rk;
	struct buf *b = &x->out;
	uint64_t cid;
	bool live;
	enum dom_rc rc;

	*wrote = false;
	if (layout_rel_split(k, kl, &rk) == -1 || layout_rel_decode(v, vl, &r) == -1)
		return malformed(x, "relations.db");
	if ((rc = source_live(x, d, &rk, &live)) != DOM_OK || !live)
		return rc;
	if ((rc = dest_cid(x, d, &r, &cid)) != DOM_OK || cid != rk.other_cid)
		return rc;
	if ((rc = head_live(x, d, rk.other_cid, rk.other_key, rk.other_keylen, &live)) !=
	    DOM_OK || !live)
		return rc;
	buf_adds(b, "{\"kind\":\"relationship\",\"source\":{\"collection\":");
	json_emit_string(b, (const char *)x->next.coll.p, x->next.coll.len);
	buf_adds(b, ",\"key\":");
	json_emit_string(b, rk.key, rk.keylen);
	buf_adds(b, "},\"destination\":{\"collection\":");
	json_emit_string(b, r.dst_coll, r.dst_coll_len);
	buf_adds(b, ",\"key\":");
	json_emit_string(b, rk.other_key, rk.other_keylen);
	buf_adds(b, "},\"relation\":");
	json_emit_string(b, rk.kind, rk.kindlen);
	buf_adds(b, ",\"value\":");
	buf_add(b, r.value, r.vlen);
	buf_printf(b, ",\"ref\":\"%s\",\"reftime\":%lld}\n", r.ref, (long long)r.reftime);
	*wrote = true;
	return line_done(x, &x->batch.relations);
}

/*
 * Writes the records of the current collection in db from just after the
 * position's key (or from the start) until the batch is full (*finished
 * false) or the collection's records end (*finished true).
 */
static enum dom_rc
walk(struct export *x, struct dom *d, enum store_db db, emit_fn emit, bool *finished)
{
	struct xpos *p = &x->next;
	unsigned char prefix[LAYOUT_PREFIX_LEN];
	struct store_cursor *cur;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc;
	enum dom_rc out = DOM_OK;

	*finished = false;
	layout_prefix(prefix, x->spec.tenant, p->cid);
	if ((rc = store_cursor_open(d->txn, db, &cur)) != STORE_OK)
		return dom_from_store(rc);
	if (p->have_key) {
		rc = store_cursor_get(cur, STORE_SEEK_GE, p->key.p, p->key.len, &k, &kl, &v, &vl);
		if (rc == STORE_OK && kl == p->key.len && memcmp(k, p->key.p, kl) == 0)
			rc = store_cursor_get(cur, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	} else {
		rc = store_cursor_get(cur, STORE_SEEK_GE, prefix, sizeof(prefix), &k, &kl, &v, &vl);
	}
	for (; rc == STORE_OK; rc = store_cursor_get(cur, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl)) {
		bool wrote;

		if (kl <= LAYOUT_PREFIX_LEN || memcmp(k, prefix, LAYOUT_PREFIX_LEN) != 0) {
			*finished = true;
			break;
		}
		if (batch_full(x))
			break;
		if ((out = emit(x, d, k, kl, v, vl, &wrote)) != DOM_OK)
			break;
		x->scanned += !wrote;
		if (bytes_set(&p->key, k, kl) == -1) {
			out = DOM_ERR;
			break;
		}
		p->have_key = true;
	}
	store_cursor_close(cur);
	if (rc == STORE_NOTFOUND)
		*finished = true;
	else if (out == DOM_OK && rc != STORE_OK)
		out = dom_from_store(rc);
	return out;
}

/* Moves to the next collection of the pass, or ends the pass. */
static enum dom_rc
next_collection(struct export *x, struct dom *d)
{
	struct xpos *p = &x->next;
	const char *name = x->only;
	size_t len = name != NULL ? strlen(name) : 0;
	uint64_t cid;
	enum dom_rc rc;

	if (x->only != NULL)
		rc = p->have_coll ? DOM_NOT_FOUND : coll_lookup(d, x->only, &cid);
	else
		rc = coll_next(d, p->have_coll ? (const char *)p->coll.p : NULL, p->coll.len,
		    &name, &len, &cid);
	if (rc == DOM_NOT_FOUND) {
		/* The relations come after every collection's items and events:
		 * an import needs both ends of a relation written first. */
		p->pass = p->pass == PASS_DATA ? PASS_RELATIONS : PASS_DONE;
		p->have_coll = false;
		return DOM_OK;
	}
	if (rc != DOM_OK)
		return rc;
	if (bytes_set(&p->coll, name, len) == -1)
		return DOM_ERR;
	p->have_coll = p->in_coll = true;
	p->cid = cid;
	p->part = PART_ITEMS;
	p->have_key = false;
	return DOM_OK;
}

/*
 * A collection dropped since the last batch (its name gone, or given to a
 * new collection with another cid) is not followed further: its records
 * still wait for reclaim, and a new collection of the name starts after
 * the position. The export goes on with the next name.
 */
static enum dom_rc
check_current(struct export *x, struct dom *d)
{
	struct xpos *p = &x->next;
	uint64_t cid;
	enum dom_rc rc;

	if (!p->in_coll)
		return DOM_OK;
	rc = coll_lookup(d, (const char *)p->coll.p, &cid);
	if (rc == DOM_NOT_FOUND || (rc == DOM_OK && cid != p->cid)) {
		p->in_coll = false;
		return DOM_OK;
	}
	return rc;
}

/* Writes the current part of the current collection; at its end moves on. */
static enum dom_rc
write_part(struct export *x, struct dom *d)
{
	struct xpos *p = &x->next;
	bool finished;
	enum dom_rc rc;

	if (p->pass == PASS_RELATIONS)
		rc = walk(x, d, STORE_DB_RELATIONS, emit_relation, &finished);
	else if (p->part == PART_ITEMS)
		rc = x->spec.history ? walk(x, d, STORE_DB_VERSIONS, emit_version, &finished)
		    : walk(x, d, STORE_DB_ITEMS, emit_head, &finished);
	else
		rc = walk(x, d, STORE_DB_EVENTS, emit_event, &finished);
	if (rc != DOM_OK || !finished)
		return rc;
	p->have_key = false;
	if (p->pass == PASS_DATA && p->part == PART_ITEMS)
		p->part = PART_EVENTS;
	else
		p->in_coll = false;
	return DOM_OK;
}

/* One batch (store_run's function): from a copy of the position. */
static enum store_rc
batch_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct export *x = arg;
	struct dom d;
	enum dom_rc rc;

	*commit = false; /* a reader: nothing to commit */
	mem_reset(x->arena);
	buf_reset(&x->out);
	memset(&x->batch, 0, sizeof(x->batch));
	x->scanned = 0;
	x->heads = NULL; /* closed with the transaction of the last batch */
	x->src_valid = x->dst_valid = false;
	if (xpos_copy(&x->next, &x->pos) == -1)
		return STORE_ERR;
	memset(&d, 0, sizeof(d));
	d.txn = t;
	d.arena = x->arena;
	d.tenant = x->spec.tenant;
	rc = check_current(x, &d);
	while (rc == DOM_OK && x->next.pass != PASS_DONE && !batch_full(x))
		rc = x->next.in_coll ? write_part(x, &d) : next_collection(x, &d);
	if (rc == DOM_NOT_FOUND)
		rc = DOM_ERR; /* no step answers it; never a silent end */
	return dom_to_store(rc);
}

/*
 * Appends the end line to the last batch: it is written after that
 * batch's transaction succeeded, and only then, so every line before it
 * has been read without a fault. It counts the lines of every batch.
 */
static int
write_end(struct export *x)
{
	int64_t lines = x->totals.items + x->totals.events + x->totals.relations;

	buf_printf(&x->out, "{\"kind\":\"end\",\"lines\":%lld}\n", (long long)lines);
	if (x->out.b_failed) {
		log_err("export: the end line of tenant %u does not fit in memory",
		    x->spec.tenant);
		return -1;
	}
	x->ended = true;
	return 0;
}

enum store_rc
export_next(struct export *x, struct store *s, int retries, const char **data,
    size_t *len, bool *done)
{
	struct xpos held;
	enum store_rc rc;

	*data = "";
	*len = 0;
	*done = false;
	if (x->failed)
		return STORE_ERR;
	rc = store_run(s, false, retries, batch_txn, x);
	if (rc != STORE_OK) {
		x->failed = true;
		return rc;
	}
	/* The batch's position becomes the position; the old one's storage
	 * is reused by the next batch. */
	held = x->pos;
	x->pos = x->next;
	x->next = held;
	x->totals.items += x->batch.items;
	x->totals.events += x->batch.events;
	x->totals.relations += x->batch.relations;
	if (x->pos.pass == PASS_DONE && !x->ended && write_end(x) == -1) {
		x->failed = true;
		return STORE_ERR;
	}
	x->totals.bytes += x->out.b_len;
	if (x->out.b_len > 0)
		*data = x->out.b_data;
	*len = x->out.b_len;
	*done = x->pos.pass == PASS_DONE;
	return STORE_OK;
}

static enum dom_visit
add_count(void *arg, const char *name, size_t len, int64_t items)
{
	(void)name;
	(void)len;
	*(int64_t *)arg += items;
	return DOM_VISIT_NEXT;
}

enum dom_rc
export_count_items(struct dom *d, const char *coll, int64_t *items)
{
	uint64_t cid;
	enum dom_rc rc;

	*items = 0;
	if (coll == NULL)
		return collections_list(d, add_count, items);
	if ((rc = coll_lookup(d, coll, &cid)) != DOM_OK)
		return rc;
	return coll_count(d, cid, items);
}
