/*
 * items: the business rules of items, versions and refs (items.h) over the
 * layout of layout.h. Every version keeps its own seq, so the history lists
 * every write, even several in one millisecond.
 */
#include "items.h"

#include <string.h>

#include "mem.h"
#include "timefmt.h"
#include "util.h"

/* The item key with 9 bytes of room for a version or ref suffix. */
static unsigned char *
item_key(struct dom *d, const char *coll, const char *key, size_t *len)
{
	return layout_item_key(d->arena, d->tenant, coll, key, 9, len);
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

/* Stores a new version (value, or a tombstone when value is NULL) as head,
 * history and ref index. prev: the head, or NULL when there is none. */
static enum dom_rc
write_version(struct dom *d, unsigned char *ik, size_t il,
    const struct item_version *prev, const char *value, size_t vlen,
    struct item_version *v)
{
	unsigned char *rec, seq[8];
	size_t rl, kl;
	enum store_rc rc;

	memset(v, 0, sizeof(*v));
	v->seq = prev ? prev->seq + 1 : 1;
	/* The time of the write, taken with the item locked (not when the
	 * request arrived: a deadlock retry or a slow body would make history
	 * go back in time), and never before the previous version's. */
	v->reftime = timefmt_now_ms();
	if (prev != NULL && v->reftime < prev->reftime)
		v->reftime = prev->reftime;
	v->tombstone = value == NULL;
	if (value == NULL)
		ids_ref("null", 4, v->ref, v->refbin);
	else
		ids_ref(value, vlen, v->ref, v->refbin);
	v->value = value;
	v->vlen = value ? vlen : 0;
	rec = layout_item_encode(d->arena, v, &rl);
	if (rec == NULL)
		return DOM_ERR;
	rc = store_put(d->txn, STORE_DB_ITEMS, ik, il, rec, rl);
	if (rc != STORE_OK)
		return dom_from_store(rc);
	kl = layout_version_key(ik, il, v->seq);
	rc = store_put(d->txn, STORE_DB_VERSIONS, ik, kl, rec, rl);
	if (rc != STORE_OK || v->tombstone)
		return dom_from_store(rc);
	kl = layout_ref_key(ik, il, v->refbin);
	util_put_be64(seq, v->seq);
	return dom_from_store(store_put(d->txn, STORE_DB_REFS, ik, kl, seq, 8));
}

enum dom_rc
item_get(struct dom *d, const char *coll, const char *key, struct item_version *out)
{
	size_t il;
	unsigned char *ik = item_key(d, coll, key, &il);
	enum dom_rc rc;

	if (ik == NULL)
		return DOM_ERR;
	rc = read_head(d, ik, il, false, out);
	if (rc == DOM_OK && out->tombstone)
		return DOM_NOT_FOUND;
	return rc;
}

enum dom_rc
item_get_ref(struct dom *d, const char *coll, const char *key, const char *ref,
    size_t reflen, struct item_version *out)
{
	unsigned char refbin[IDS_REF_BYTES], *ik;
	size_t il, kl, pl;
	void *p;
	enum store_rc rc;

	if (!util_is_hex(ref, reflen))
		return DOM_INVALID;
	if (ids_ref_parse(ref, reflen, refbin) == -1)
		return DOM_NOT_FOUND; /* hex, but no ref is that long */
	if ((ik = item_key(d, coll, key, &il)) == NULL)
		return DOM_ERR;
	kl = layout_ref_key(ik, il, refbin);
	rc = store_get(d->txn, STORE_DB_REFS, ik, kl, false, d->arena, &p, &pl);
	if (rc == STORE_OK && pl != 8)
		return DOM_ERR;
	if (rc == STORE_OK) {
		kl = layout_version_key(ik, il, util_get_be64(p));
		rc = store_get(d->txn, STORE_DB_VERSIONS, ik, kl, false, d->arena, &p, &pl);
	}
	if (rc != STORE_OK)
		return dom_from_store(rc);
	return layout_item_decode(p, pl, out) == 0 ? DOM_OK : DOM_ERR;
}

/* Reads the head for a write: *live when there is a current value; prev is
 * NULL when the item does not exist at all. */
static enum dom_rc
head_for_write(struct dom *d, unsigned char *ik, size_t il, struct item_version *head,
    const struct item_version **prev, bool *live)
{
	enum dom_rc rc = read_head(d, ik, il, true, head);

	*prev = rc == DOM_OK ? head : NULL;
	*live = rc == DOM_OK && !head->tombstone;
	return rc == DOM_NOT_FOUND ? DOM_OK : rc;
}

enum dom_rc
item_put(struct dom *d, const char *coll, const char *key, const char *value,
    size_t vlen, const struct dom_cond *if_match, const struct dom_cond *if_none_match,
    struct item_version *out)
{
	struct item_version head;
	const struct item_version *prev;
	size_t il;
	unsigned char *ik = item_key(d, coll, key, &il);
	bool live;
	enum dom_rc rc;

	if (ik == NULL)
		return DOM_ERR;
	if ((rc = head_for_write(d, ik, il, &head, &prev, &live)) != DOM_OK)
		return rc;
	if (if_match->present && !dom_cond_holds(if_match, live ? head.ref : NULL))
		return DOM_MISMATCH;
	if (if_none_match->present && live && dom_cond_holds(if_none_match, head.ref))
		return DOM_PRESENT;
	return write_version(d, ik, il, prev, value, vlen, out);
}

enum dom_rc
item_create(struct dom *d, const char *coll, const char *value, size_t vlen,
    char key[17], struct item_version *out)
{
	struct item_version head;
	unsigned char *ik = NULL;
	size_t il = 0;
	enum dom_rc rc = DOM_ERR;

	/* A random low part makes a collision within one millisecond
	 * unlikely; the existence check makes it impossible. */
	for (int attempt = 0; attempt < 8; attempt++) {
		uint32_t rnd;

		if (ids_random(&rnd, sizeof(rnd)) == -1)
			return DOM_ERR;
		ids_hex64(ids_time_id(d->now_ms, rnd), key);
		if ((ik = item_key(d, coll, key, &il)) == NULL)
			return DOM_ERR;
		rc = read_head(d, ik, il, true, &head);
		if (rc != DOM_OK)
			break;
	}
	if (rc != DOM_NOT_FOUND)
		return rc == DOM_OK ? DOM_ERR : rc;
	return write_version(d, ik, il, NULL, value, vlen, out);
}

/* Removes an item, its history, its ref index and its events. */
static enum dom_rc
purge_item(struct dom *d, unsigned char *ik, size_t il)
{
	static const enum store_db dbs[] = { STORE_DB_VERSIONS, STORE_DB_REFS,
		STORE_DB_EVENTS, STORE_DB_RELATIONS };
	uint64_t n;
	enum store_rc rc;

	rc = store_del(d->txn, STORE_DB_ITEMS, ik, il);
	if (rc == STORE_OK)
		rc = store_del(d->txn, STORE_DB_EVSEQ, ik, il);
	ik[il] = 0;
	for (size_t i = 0; rc == STORE_OK && i < sizeof(dbs) / sizeof(dbs[0]); i++)
		rc = store_delete_prefix(d->txn, dbs[i], ik, il + 1, &n);
	return dom_from_store(rc);
}

enum dom_rc
item_delete(struct dom *d, const char *coll, const char *key,
    const struct dom_cond *if_match, bool purge)
{
	struct item_version head, v;
	const struct item_version *prev;
	size_t il;
	unsigned char *ik = item_key(d, coll, key, &il);
	bool live;
	enum dom_rc rc;

	if (ik == NULL)
		return DOM_ERR;
	if ((rc = head_for_write(d, ik, il, &head, &prev, &live)) != DOM_OK)
		return rc;
	if (if_match->present && !dom_cond_holds(if_match, live ? head.ref : NULL))
		return DOM_MISMATCH;
	if (purge)
		return purge_item(d, ik, il);
	if (!live)
		return DOM_OK; /* nothing to delete: nothing is written */
	return write_version(d, ik, il, prev, NULL, 0, &v);
}

enum dom_rc
item_patch(struct dom *d, const char *coll, const char *key, struct json_object *patch,
    bool merge, bool upsert, const struct dom_cond *if_match, struct item_version *out,
    struct patch_error *err)
{
	struct item_version head;
	const struct item_version *prev;
	const char *value;
	size_t il, vlen;
	unsigned char *ik = item_key(d, coll, key, &il);
	bool live;
	enum dom_rc rc;

	if (ik == NULL)
		return DOM_ERR;
	if ((rc = head_for_write(d, ik, il, &head, &prev, &live)) != DOM_OK)
		return rc;
	if (!live && !upsert)
		return DOM_NOT_FOUND;
	if (if_match->present && !dom_cond_holds(if_match, live ? head.ref : NULL))
		return DOM_MISMATCH;
	rc = dom_patch_value(d, live ? head.value : NULL, head.vlen, patch, merge, err,
	    &value, &vlen);
	if (rc != DOM_OK)
		return rc;
	return write_version(d, ik, il, prev, value, vlen, out);
}

enum dom_rc
item_history(struct dom *d, const char *coll, const char *key, int64_t offset,
    int64_t limit, item_visit_fn fn, void *arg, bool *more)
{
	struct item_version head, v;
	size_t il, kl, pl, keylen = strlen(key);
	unsigned char *ik = item_key(d, coll, key, &il);
	int64_t i;
	enum dom_rc rc;

	*more = false;
	if (ik == NULL)
		return DOM_ERR;
	if ((rc = read_head(d, ik, il, false, &head)) != DOM_OK)
		return rc;
	/* Versions are numbered 1..head.seq without gaps: page by seq. */
	for (i = 0; i < limit && (uint64_t)(offset + i) < head.seq; i++) {
		void *p;
		enum store_rc src;

		kl = layout_version_key(ik, il, head.seq - (uint64_t)(offset + i));
		src = store_get(d->txn, STORE_DB_VERSIONS, ik, kl, false, d->arena, &p, &pl);
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
	*more = (uint64_t)(offset + i) < head.seq;
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
    item_visit_fn fn, void *arg, bool *more)
{
	struct store_cursor *cur;
	struct item_version v;
	const void *k, *val;
	size_t pl, kl, vl, sl = r->start ? strlen(r->start) : 0;
	unsigned char *p = layout_item_key(d->arena, d->tenant, coll, NULL, sl, &pl);
	int64_t count = 0;
	enum store_rc rc;
	enum dom_rc out = DOM_OK;

	*more = false;
	if (p == NULL)
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

enum dom_rc
collections_list(struct dom *d, coll_visit_fn fn, void *arg)
{
	struct store_cursor *cur;
	struct item_version v;
	unsigned char t[4];
	const void *k, *val;
	size_t kl, vl;
	char *name = NULL;
	size_t namelen = 0;
	int64_t items = 0;
	enum store_rc rc;
	enum dom_rc out = DOM_OK;

	util_put_be32(t, d->tenant);
	rc = store_cursor_open(d->txn, STORE_DB_ITEMS, &cur);
	if (rc != STORE_OK)
		return dom_from_store(rc);
	rc = store_cursor_get(cur, STORE_SEEK_GE, t, 4, &k, &kl, &val, &vl);
	for (;; rc = store_cursor_get(cur, STORE_NEXT, NULL, 0, &k, &kl, &val, &vl)) {
		const char *coll = (const char *)k + 4;
		size_t cl = 0;
		bool same;

		if (rc == STORE_OK && (kl < 5 || memcmp(k, t, 4) != 0))
			rc = STORE_NOTFOUND;
		if (rc == STORE_OK)
			cl = strnlen(coll, kl - 4);
		same = rc == STORE_OK && name != NULL && cl == namelen &&
		    memcmp(coll, name, cl) == 0;
		if (name != NULL && !same && items > 0 &&
		    fn(arg, name, namelen, items) != DOM_VISIT_NEXT) {
			out = DOM_ERR;
			break;
		}
		if (rc != STORE_OK)
			break;
		if (!same) {
			name = mem_strndup(d->arena, coll, cl);
			namelen = cl;
			items = 0;
			if (name == NULL) {
				out = DOM_ERR;
				break;
			}
		}
		if (layout_item_decode(val, vl, &v) == 0 && !v.tombstone)
			items++;
	}
	store_cursor_close(cur);
	if (out == DOM_OK && rc != STORE_NOTFOUND)
		out = dom_from_store(rc);
	return out;
}
