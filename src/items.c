/*
 * items: the business rules of items, versions and refs (items.h) over the
 * layout of layout.h. Every version keeps its own seq, so the history lists
 * every write, even several in one millisecond.
 */
#include "items.h"

#include <string.h>

#include "collections.h"
#include "index.h"
#include "mem.h"
#include "relations.h"
#include "timefmt.h"
#include "util.h"

/* An item's key and its collection. */
struct ikey {
	unsigned char *k;      /* T | cid | key, with 9 bytes of room for a suffix */
	size_t len;            /* without the room */
	uint64_t cid;
	const char *key;
	const char *coll;      /* the collection's name */
};

static enum dom_rc
ikey_build(struct dom *d, const char *coll, uint64_t cid, const char *key, struct ikey *ik)
{
	ik->coll = coll;
	ik->cid = cid;
	ik->key = key;
	ik->k = layout_item_key(d->arena, d->tenant, cid, key, 9, &ik->len);
	return ik->k == NULL ? DOM_ERR : DOM_OK;
}

/*
 * Resolves the collection and builds the item key. A missing collection is
 * DOM_NOT_FOUND, unless create: then it is created (for writes that store
 * a version).
 */
static enum dom_rc
item_key(struct dom *d, const char *coll, const char *key, bool create, struct ikey *ik)
{
	uint64_t cid;
	enum dom_rc rc = create ? coll_ensure(d, coll, &cid) : coll_lookup(d, coll, &cid);

	return rc == DOM_OK ? ikey_build(d, coll, cid, key, ik) : rc;
}

/* Reads the head; DOM_NOT_FOUND when the item never existed or was purged. */
static enum dom_rc
read_head(struct dom *d, const unsigned char *ik, size_t il, bool rmw,
    struct item_version *v)
{
	void *p;
	size_t pl;
	enum store_rc rc = store_get(d->txn, STORE_DB_ITEMS, ik, il, rmw, d->arena, &p, &pl);

	if (rc != STORE_OK)
		return dom_from_store(rc);
	return layout_item_decode(p, pl, v) == 0 ? DOM_OK : DOM_ERR;
}

/*
 * The item's floor: the last seq of a purged incarnation whose versions and
 * refs still wait for reclaim (refs.db, I | 0x00, be64; see purge_versions),
 * or 0. A new incarnation starts above it; versions and refs at or below it
 * are gone for every reader. ik holds I with room for its 0x00.
 */
static enum dom_rc
read_floor(struct dom *d, unsigned char *ik, size_t il, uint64_t *floor)
{
	void *p;
	size_t pl;
	enum store_rc rc;

	*floor = 0;
	ik[il] = 0;
	rc = store_get(d->txn, STORE_DB_REFS, ik, il + 1, false, d->arena, &p, &pl);
	if (rc == STORE_NOTFOUND)
		return DOM_OK;
	if (rc != STORE_OK)
		return dom_from_store(rc);
	if (pl != 8)
		return DOM_ERR;
	*floor = util_get_be64(p);
	return DOM_OK;
}

enum dom_rc
item_version_purged(struct dom *d, const unsigned char *k, size_t il, uint64_t seq,
    bool *old)
{
	unsigned char *ik = mem_alloc(d->arena, il + 1);
	uint64_t floor;
	enum dom_rc rc;

	*old = false;
	if (ik == NULL)
		return DOM_ERR;
	memcpy(ik, k, il);
	if ((rc = read_floor(d, ik, il, &floor)) == DOM_OK)
		*old = seq <= floor;
	return rc;
}

/* +1 when an item becomes live, -1 when it stops being live, else 0. */
static int
live_delta(const struct item_version *prev, bool live_after)
{
	bool before = prev != NULL && !prev->tombstone;

	return (int)live_after - (int)before;
}

/* Stores a new version (value, or a tombstone when value is NULL) as head,
 * history and ref index, and counts the item in or out of the collection's
 * live items. prev: the head, or NULL when there is none. */
static enum dom_rc
write_version(struct dom *d, struct ikey *ik, const struct item_version *prev,
    const char *value, size_t vlen, struct item_version *v)
{
	unsigned char *rec, seq[8];
	size_t rl, kl;
	enum store_rc rc;
	enum dom_rc drc;

	memset(v, 0, sizeof(*v));
	if (prev == NULL && (drc = read_floor(d, ik->k, ik->len, &v->seq)) != DOM_OK)
		return drc;
	v->seq = prev ? prev->seq + 1 : v->seq + 1;
	/* The time of the write, taken with the item locked (not when the
	 * request arrived: a deadlock retry or a slow body would make history
	 * go back in time), and never before the previous version's. An
	 * import (d->reftime set) keeps the reftime it was given, as is. */
	v->reftime = d->reftime != 0 ? d->reftime : timefmt_now_ms();
	if (d->reftime == 0 && prev != NULL && v->reftime < prev->reftime)
		v->reftime = prev->reftime;
	v->tombstone = value == NULL;
	if (value == NULL)
		ids_ref("null", 4, v->ref, v->refbin);
	else
		ids_ref(value, vlen, v->ref, v->refbin);
	v->value = value;
	v->vlen = value ? vlen : 0;
	drc = coll_count_add(d, ik->cid, ik->key, strlen(ik->key),
	    live_delta(prev, value != NULL));
	if (drc == DOM_OK)
		drc = index_note(d, INDEX_ITEM, ik->coll, ik->k, ik->len);
	if (drc != DOM_OK)
		return drc;
	rec = layout_item_encode(d->arena, v, &rl);
	if (rec == NULL)
		return DOM_ERR;
	rc = store_put(d->txn, STORE_DB_ITEMS, ik->k, ik->len, rec, rl);
	if (rc != STORE_OK)
		return dom_from_store(rc);
	kl = layout_version_key(ik->k, ik->len, v->seq);
	rc = store_put(d->txn, STORE_DB_VERSIONS, ik->k, kl, rec, rl);
	if (rc != STORE_OK || v->tombstone)
		return dom_from_store(rc);
	kl = layout_ref_key(ik->k, ik->len, v->refbin);
	util_put_be64(seq, v->seq);
	return dom_from_store(store_put(d->txn, STORE_DB_REFS, ik->k, kl, seq, 8));
}

enum dom_rc
item_get(struct dom *d, const char *coll, const char *key, struct item_version *out)
{
	struct ikey ik;
	enum dom_rc rc = item_key(d, coll, key, false, &ik);

	if (rc == DOM_OK)
		rc = read_head(d, ik.k, ik.len, false, out);
	if (rc == DOM_OK && out->tombstone)
		return DOM_NOT_FOUND;
	return rc;
}

enum dom_rc
item_get_ref(struct dom *d, const char *coll, const char *key, const char *ref,
    size_t reflen, struct item_version *out)
{
	unsigned char refbin[IDS_REF_BYTES];
	struct ikey ik;
	size_t kl, pl;
	uint64_t floor;
	void *p;
	enum store_rc rc;
	enum dom_rc drc;

	if (!util_is_hex(ref, reflen))
		return DOM_INVALID;
	if (ids_ref_parse(ref, reflen, refbin) == -1)
		return DOM_NOT_FOUND; /* hex, but no ref is that long */
	if ((drc = item_key(d, coll, key, false, &ik)) != DOM_OK)
		return drc;
	if ((drc = read_floor(d, ik.k, ik.len, &floor)) != DOM_OK)
		return drc;
	kl = layout_ref_key(ik.k, ik.len, refbin);
	rc = store_get(d->txn, STORE_DB_REFS, ik.k, kl, false, d->arena, &p, &pl);
	if (rc == STORE_OK && pl != 8)
		return DOM_ERR;
	if (rc == STORE_OK && util_get_be64(p) <= floor)
		return DOM_NOT_FOUND; /* a purged version's, waiting for reclaim */
	if (rc == STORE_OK) {
		kl = layout_version_key(ik.k, ik.len, util_get_be64(p));
		rc = store_get(d->txn, STORE_DB_VERSIONS, ik.k, kl, false, d->arena, &p, &pl);
	}
	if (rc != STORE_OK)
		return dom_from_store(rc);
	return layout_item_decode(p, pl, out) == 0 ? DOM_OK : DOM_ERR;
}

/*
 * Reads the head for a write: *live when there is a current value; prev is
 * NULL when the item does not exist at all. A missing collection is an
 * absent item: *nocoll is set and the collection is created only by
 * write_key, once the conditions hold (nothing is written unless DOM_OK).
 */
static enum dom_rc
head_for_write(struct dom *d, const char *coll, const char *key, struct ikey *ik,
    struct item_version *head, const struct item_version **prev, bool *live,
    bool *nocoll)
{
	enum dom_rc rc = item_key(d, coll, key, false, ik);

	*prev = NULL;
	*live = false;
	*nocoll = rc == DOM_NOT_FOUND;
	if (rc != DOM_OK)
		return *nocoll ? DOM_OK : rc;
	rc = read_head(d, ik->k, ik->len, true, head);
	*prev = rc == DOM_OK ? head : NULL;
	*live = rc == DOM_OK && !head->tombstone;
	return rc == DOM_NOT_FOUND ? DOM_OK : rc;
}

/* The key to write to: creates the collection when head_for_write found none. */
static enum dom_rc
write_key(struct dom *d, const char *coll, const char *key, bool nocoll, struct ikey *ik)
{
	return nocoll ? item_key(d, coll, key, true, ik) : DOM_OK;
}

enum dom_rc
item_put(struct dom *d, const char *coll, const char *key, const char *value,
    size_t vlen, const struct dom_cond *if_match, const struct dom_cond *if_none_match,
    struct item_version *out)
{
	struct item_version head;
	const struct item_version *prev;
	struct ikey ik;
	bool live, nocoll;
	enum dom_rc rc = head_for_write(d, coll, key, &ik, &head, &prev, &live, &nocoll);

	if (rc != DOM_OK)
		return rc;
	if (if_match->present && !dom_cond_holds(if_match, live ? head.ref : NULL))
		return DOM_MISMATCH;
	if (if_none_match->present && live && dom_cond_holds(if_none_match, head.ref))
		return DOM_PRESENT;
	if ((rc = write_key(d, coll, key, nocoll, &ik)) != DOM_OK)
		return rc;
	return write_version(d, &ik, prev, value, vlen, out);
}

enum dom_rc
item_create(struct dom *d, const char *coll, const char *value, size_t vlen,
    char key[17], struct item_version *out)
{
	struct item_version head;
	struct ikey ik;
	uint64_t cid;
	enum dom_rc rc;

	if ((rc = coll_ensure(d, coll, &cid)) != DOM_OK)
		return rc;
	/* A random low part makes a collision within one millisecond
	 * unlikely; the existence check makes it impossible. */
	for (int attempt = 0; attempt < 8; attempt++) {
		uint32_t rnd;

		if (ids_random(&rnd, sizeof(rnd)) == -1)
			return DOM_ERR;
		ids_hex64(ids_time_id(d->now_ms, rnd), key);
		if ((rc = ikey_build(d, coll, cid, key, &ik)) != DOM_OK)
			return rc;
		rc = read_head(d, ik.k, ik.len, true, &head);
		if (rc != DOM_OK)
			break;
	}
	if (rc != DOM_NOT_FOUND)
		return rc == DOM_OK ? DOM_ERR : rc;
	return write_version(d, &ik, NULL, value, vlen, out);
}

/* A purge removes at most this many of the item's events (and this many
 * bytes of them) in its own transaction; more are left to the maintainer. */
#define PURGE_EVENTS_MAX 1000
#define PURGE_EVENTS_MAX_BYTES ((uint64_t)1 << 20)
/* The same for its versions, and for its refs. */
#define PURGE_VERSIONS_MAX 1000
#define PURGE_VERSIONS_MAX_BYTES ((uint64_t)1 << 20)

/*
 * Removes the item's events (the prefix p, the item key and its 0x00, pl
 * bytes), or, when there are more than a purge removes at once, removes that
 * many and queues the rest for the maintainer in the same transaction
 * (reclaim.h): the queue entry holds the item's last ordinal (evseq), which
 * stays, so that events written after the purge get larger ordinals and are
 * neither hidden nor removed with the old ones (events.h, event_purged).
 */
static enum dom_rc
purge_events(struct dom *d, const unsigned char *p, size_t pl)
{
	uint64_t n = 0, bytes = 0;
	size_t vl;
	void *v;
	enum store_rc rc = store_delete_prefix_max(d->txn, STORE_DB_EVENTS, p, pl,
	    PURGE_EVENTS_MAX, PURGE_EVENTS_MAX_BYTES, &n, &bytes);

	if (rc != STORE_OK)
		return dom_from_store(rc);
	if (n < PURGE_EVENTS_MAX && bytes < PURGE_EVENTS_MAX_BYTES) {
		/* All gone: so is the work of an older purge's queue entry.
		 * Looked at first: a delete would write-lock the queue's page
		 * even when there is nothing to delete. */
		rc = store_del(d->txn, STORE_DB_EVSEQ, p, pl - 1);
		if (rc == STORE_OK)
			rc = store_get_committed(d->txn, STORE_DB_RECLAIM, p, pl, d->arena, &v, &vl);
		if (rc == STORE_OK)
			rc = store_del(d->txn, STORE_DB_RECLAIM, p, pl);
		return dom_from_store(rc == STORE_NOTFOUND ? STORE_OK : rc);
	}
	rc = store_get(d->txn, STORE_DB_EVSEQ, p, pl - 1, true, d->arena, &v, &vl);
	if (rc == STORE_OK && vl == 8 && util_get_be64(v) != 0) /* 0: nothing waits */
		return dom_from_store(store_put(d->txn, STORE_DB_RECLAIM, p, pl, v, 8));
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return dom_from_store(rc);
	/* No last ordinal to mark the old events with (a store written
	 * otherwise than by events.c, or only ordinal 0 imported): remove
	 * them all here, as before. */
	return dom_from_store(store_delete_prefix(d->txn, STORE_DB_EVENTS, p, pl, &n));
}

/*
 * Removes the item's versions and refs (the prefix p, the item key and its
 * 0x00, pl bytes), at most PURGE_VERSIONS_MAX records (and bytes) of each;
 * when more remain, keeps the floor (read_floor: the head's seq, or the
 * floor already kept when there is no head) and queues the rest for the
 * maintainer under I | 0x00 | 'v' in reclaim.db (reclaim.h), the floor as
 * its value. When all are gone, so are the floor and an older entry.
 */
static enum dom_rc
purge_versions(struct dom *d, unsigned char *p, size_t pl, const struct item_version *head)
{
	unsigned char seq[8];
	uint64_t floor, n = 0, bytes = 0, rn = 0, rbytes = 0;
	size_t vl;
	void *v;
	enum store_rc rc;
	enum dom_rc drc = read_floor(d, p, pl - 1, &floor);

	if (drc != DOM_OK)
		return drc;
	if (head != NULL)
		floor = head->seq;
	rc = store_delete_prefix_max(d->txn, STORE_DB_VERSIONS, p, pl, PURGE_VERSIONS_MAX,
	    PURGE_VERSIONS_MAX_BYTES, &n, &bytes);
	if (rc == STORE_OK)
		rc = store_delete_prefix_max(d->txn, STORE_DB_REFS, p, pl, PURGE_VERSIONS_MAX,
		    PURGE_VERSIONS_MAX_BYTES, &rn, &rbytes);
	if (rc != STORE_OK)
		return dom_from_store(rc);
	p[pl] = 'v';
	if (n < PURGE_VERSIONS_MAX && bytes < PURGE_VERSIONS_MAX_BYTES &&
	    rn < PURGE_VERSIONS_MAX && rbytes < PURGE_VERSIONS_MAX_BYTES) {
		/* All gone, the floor with them (the first key of the
		 * refs prefix): an older entry has nothing left to do. */
		rc = store_get_committed(d->txn, STORE_DB_RECLAIM, p, pl + 1, d->arena, &v, &vl);
		if (rc == STORE_OK)
			rc = store_del(d->txn, STORE_DB_RECLAIM, p, pl + 1);
		return dom_from_store(rc == STORE_NOTFOUND ? STORE_OK : rc);
	}
	util_put_be64(seq, floor);
	rc = store_put(d->txn, STORE_DB_RECLAIM, p, pl + 1, seq, 8);
	if (rc == STORE_OK)
		rc = store_put(d->txn, STORE_DB_REFS, p, pl, seq, 8);
	return dom_from_store(rc);
}

/* Removes an item, its history and its ref index (or queues them,
 * purge_versions), its events (or queues them, purge_events) and its
 * relations (both directions, relations.h), and counts it out of the live
 * items when it was live. head: the head, or NULL when there is none. */
static enum dom_rc
purge_item(struct dom *d, struct ikey *ik, const struct item_version *head)
{
	enum store_rc rc;
	enum dom_rc drc = coll_count_add(d, ik->cid, ik->key, strlen(ik->key),
	    head != NULL && !head->tombstone ? -1 : 0);

	if (drc == DOM_OK)
		drc = index_note(d, INDEX_PURGE, ik->coll, ik->k, ik->len);
	if (drc != DOM_OK)
		return drc;
	if ((rc = store_del(d->txn, STORE_DB_ITEMS, ik->k, ik->len)) != STORE_OK)
		return dom_from_store(rc);
	ik->k[ik->len] = 0;
	if ((drc = purge_versions(d, ik->k, ik->len + 1, head)) != DOM_OK)
		return drc;
	ik->k[ik->len] = 0;
	if ((drc = purge_events(d, ik->k, ik->len + 1)) != DOM_OK)
		return drc;
	return relation_purge_item(d, ik->k, ik->len);
}

enum dom_rc
item_delete(struct dom *d, const char *coll, const char *key,
    const struct dom_cond *if_match, bool purge)
{
	struct item_version head, v;
	const struct item_version *prev;
	struct ikey ik;
	bool live, nocoll;
	enum dom_rc rc = head_for_write(d, coll, key, &ik, &head, &prev, &live, &nocoll);

	if (rc != DOM_OK)
		return rc;
	if (if_match->present && !dom_cond_holds(if_match, live ? head.ref : NULL))
		return DOM_MISMATCH;
	if (nocoll)
		return DOM_OK; /* no collection: nothing to delete */
	if (purge)
		return purge_item(d, &ik, prev);
	if (!live)
		return DOM_OK; /* nothing to delete: nothing is written */
	return write_version(d, &ik, prev, NULL, 0, &v);
}

enum dom_rc
item_patch(struct dom *d, const char *coll, const char *key, struct json_object *patch,
    bool merge, bool upsert, const struct dom_cond *if_match, struct item_version *out,
    struct patch_error *err)
{
	struct item_version head;
	const struct item_version *prev;
	struct ikey ik;
	const char *value;
	size_t vlen;
	bool live, nocoll;
	enum dom_rc rc = head_for_write(d, coll, key, &ik, &head, &prev, &live, &nocoll);

	if (rc != DOM_OK)
		return rc;
	if (!live && !upsert)
		return DOM_NOT_FOUND;
	if (if_match->present && !dom_cond_holds(if_match, live ? head.ref : NULL))
		return DOM_MISMATCH;
	rc = dom_patch_value(d, live ? head.value : NULL, live ? head.vlen : 0, patch, merge,
	    err, &value, &vlen);
	if (rc == DOM_OK)
		rc = write_key(d, coll, key, nocoll, &ik);
	if (rc != DOM_OK)
		return rc;
	return write_version(d, &ik, prev, value, vlen, out);
}

enum dom_rc
item_history(struct dom *d, const char *coll, const char *key, int64_t offset,
    int64_t limit, item_visit_fn fn, void *arg, bool *more)
{
	struct item_version head, v;
	struct ikey ik;
	size_t kl, pl, keylen = strlen(key);
	uint64_t floor;
	int64_t i;
	enum dom_rc rc;

	*more = false;
	if ((rc = item_key(d, coll, key, false, &ik)) != DOM_OK)
		return rc;
	if ((rc = read_head(d, ik.k, ik.len, false, &head)) != DOM_OK)
		return rc;
	if ((rc = read_floor(d, ik.k, ik.len, &floor)) != DOM_OK)
		return rc;
	if (floor > head.seq)
		return DOM_ERR;
	/* Versions are numbered floor+1..head.seq without gaps: page by seq. */
	for (i = 0; i < limit && (uint64_t)(offset + i) < head.seq - floor; i++) {
		void *p;
		enum store_rc src;

		kl = layout_version_key(ik.k, ik.len, head.seq - (uint64_t)(offset + i));
		src = store_get(d->txn, STORE_DB_VERSIONS, ik.k, kl, false, d->arena, &p, &pl);
		if (src != STORE_OK)
			return src == STORE_NOTFOUND ? DOM_ERR : dom_from_store(src);
		if (layout_item_decode(p, pl, &v) == -1)
			return DOM_ERR;
		switch (fn(arg, key, keylen, &v)) {
		case DOM_VISIT_NEXT:
			break;
		case DOM_VISIT_STOP:
			*more = true;
			return DOM_OK;
		default:
			return DOM_ERR;
		}
	}
	*more = (uint64_t)(offset + i) < head.seq - floor;
	return DOM_OK;
}

/* True when key k (kl bytes) is past the end bound of r. */
static bool
past_end(const char *k, size_t kl, const struct key_range *r)
{
	size_t el;
	int cmp;

	if (r->end == NULL)
		return false;
	el = strlen(r->end);
	cmp = memcmp(k, r->end, kl < el ? kl : el);
	if (cmp == 0)
		cmp = kl < el ? -1 : kl > el;
	return r->end_incl ? cmp > 0 : cmp >= 0;
}

enum dom_rc
item_list(struct dom *d, const char *coll, const struct key_range *r, int64_t limit,
    int64_t budget, item_visit_fn fn, void *arg, bool *more, struct scan_stop *stop)
{
	struct store_cursor *cur;
	struct item_version v;
	const void *k, *val;
	size_t pl, kl, vl, sl = r->start ? strlen(r->start) : 0;
	unsigned char *p;
	uint64_t cid;
	int64_t count = 0, examined = 0;
	enum store_rc rc;
	enum dom_rc out = coll_lookup(d, coll, &cid);

	*more = false;
	stop->key = NULL;
	stop->keylen = 0;
	if (out != DOM_OK)
		return out == DOM_NOT_FOUND ? DOM_OK : out; /* no collection: empty */
	if ((p = layout_item_key(d->arena, d->tenant, cid, NULL, sl, &pl)) == NULL)
		return DOM_ERR;
	if (sl > 0)
		memcpy(p + pl, r->start, sl);
	rc = store_cursor_open(d->txn, STORE_DB_ITEMS, &cur);
	if (rc != STORE_OK)
		return dom_from_store(rc);
	rc = store_cursor_get(cur, STORE_SEEK_GE, p, pl + sl, &k, &kl, &val, &vl);
	for (; rc == STORE_OK; rc = store_cursor_get(cur, STORE_NEXT, NULL, 0, &k, &kl, &val, &vl)) {
		const char *key = (const char *)k + pl;
		size_t keylen = kl - pl;

		if (kl < pl || memcmp(k, p, pl) != 0 || past_end(key, keylen, r))
			break;
		if (r->start != NULL && !r->start_incl && keylen == sl &&
		    memcmp(key, r->start, sl) == 0)
			continue;
		if (budget > 0 && examined++ == budget) {
			/* The page ends before this key, not yet examined:
			 * the next page starts at it. */
			stop->key = mem_strndup(d->arena, key, keylen);
			stop->keylen = keylen;
			if (stop->key == NULL)
				out = DOM_ERR;
			*more = true;
			break;
		}
		if (layout_item_decode(val, vl, &v) == -1) {
			out = DOM_ERR;
			break;
		}
		if (v.tombstone)
			continue;
		if (count == limit) {
			*more = true;
			break;
		}
		enum dom_visit vis = fn(arg, key, keylen, &v);

		if (vis == DOM_VISIT_STOP) {
			*more = true;
			break;
		}
		if (vis != DOM_VISIT_NEXT) {
			out = DOM_ERR;
			break;
		}
		count++;
	}
	store_cursor_close(cur);
	if (out == DOM_OK && rc != STORE_OK && rc != STORE_NOTFOUND)
		out = dom_from_store(rc);
	return out;
}
