/*
 * events: the business rules of events (events.h) over the layout of
 * layout.h. Lists walk the B-tree backwards from the upper bound:
 * O(log n + page), whatever the size of the stream.
 */
#include "events.h"

#include <string.h>

#include "collections.h"
#include "index.h"
#include "mem.h"
#include "timefmt.h"
#include "util.h"

/*
 * The key of the event at pos (pos NULL: the prefix only) in *k, *plen the
 * prefix length. A missing collection is DOM_NOT_FOUND, unless create.
 */
static enum dom_rc
event_key(struct dom *d, const struct event_name *n, const struct evpos *pos,
    bool create, unsigned char **k, size_t *plen)
{
	uint64_t cid;
	enum dom_rc rc = create ? coll_ensure(d, n->coll, &cid) : coll_lookup(d, n->coll, &cid);

	if (rc != DOM_OK)
		return rc;
	*k = layout_event_key(d->arena, d->tenant, cid, n->key, n->type, plen);
	if (*k == NULL)
		return DOM_ERR;
	if (pos != NULL)
		layout_event_pos(*k, *plen, pos->ts, pos->ord);
	return DOM_OK;
}

static enum dom_rc
put_event(struct dom *d, const char *coll, const unsigned char *k, size_t kl,
    const char *value, size_t vlen, struct event_record *r)
{
	unsigned char *rec;
	size_t rl;

	/* When written, not when received; an import keeps its own. */
	r->reftime = d->reftime != 0 ? d->reftime : timefmt_now_ms();
	ids_ref(value, vlen, r->ref, r->refbin);
	r->value = value;
	r->vlen = vlen;
	enum dom_rc drc;

	if ((rec = layout_event_encode(d->arena, r, &rl)) == NULL)
		return DOM_ERR;
	if ((drc = index_note(d, INDEX_EVENT, coll, k, kl)) != DOM_OK)
		return drc;
	return dom_from_store(store_put(d->txn, STORE_DB_EVENTS, k, kl, rec, rl));
}

/*
 * The events of an item purged with more events than a purge removes at once
 * wait for the maintainer (reclaim.h): the queue entry in reclaim.db, keyed
 * by the item key and its 0x00, holds the item's last ordinal at the purge.
 * Every event of the item up to it is gone for reads; later events (the key
 * reused) have larger ordinals. *floor gets it, 0 when nothing waits. k is
 * an event key whose first il bytes are the item key. The read holds no lock
 * (a purge or a reclaim step may change the entry without waiting for us).
 */
static enum dom_rc
purge_floor(struct dom *d, const unsigned char *k, size_t il, uint64_t *floor)
{
	void *v;
	size_t vl;
	enum store_rc rc = store_get_committed(d->txn, STORE_DB_RECLAIM, k, il + 1, d->arena,
	    &v, &vl);

	*floor = 0;
	if (rc == STORE_NOTFOUND)
		return DOM_OK;
	if (rc != STORE_OK)
		return dom_from_store(rc);
	if (vl < 8)
		return DOM_ERR;
	*floor = util_get_be64(v);
	return DOM_OK;
}

enum dom_rc
event_purged(struct dom *d, const unsigned char *k, size_t il, uint64_t ord, bool *old)
{
	uint64_t floor;
	enum dom_rc rc = purge_floor(d, k, il, &floor);

	*old = rc == DOM_OK && floor != 0 && ord <= floor; /* 0: nothing waits */
	return rc;
}

/* The item key's length in an event key k of type type (the event key up
 * to the 0x00 before the type); plen: the key's length without position. */
static size_t
item_len(size_t plen, const char *type)
{
	return plen - strlen(type) - 2;
}

/* The next ordinal of this item, strictly above every earlier one. k is the
 * event key, whose first il bytes are the item key. */
static enum dom_rc
next_ordinal(struct dom *d, const unsigned char *k, size_t il, uint64_t *ord)
{
	unsigned char seq[8];
	size_t vl;
	void *v;
	uint64_t o = ids_time_id(d->now_ms, 0);
	enum store_rc rc;

	rc = store_get(d->txn, STORE_DB_EVSEQ, k, il, true, d->arena, &v, &vl);
	if (rc == STORE_OK && vl == 8 && util_get_be64(v) >= o)
		o = util_get_be64(v) + 1;
	else if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return dom_from_store(rc);
	util_put_be64(seq, o);
	*ord = o;
	return dom_from_store(store_put(d->txn, STORE_DB_EVSEQ, k, il, seq, 8));
}

enum dom_rc
event_create(struct dom *d, const struct event_name *n, int64_t ts, const char *value,
    size_t vlen, struct evpos *pos, struct event_record *out)
{
	unsigned char *k;
	size_t pl;
	enum dom_rc rc = event_key(d, n, NULL, true, &k, &pl);

	if (rc != DOM_OK)
		return rc;
	/* The item key is the event key up to the 0x00 before the type. */
	rc = next_ordinal(d, k, item_len(pl, n->type), &pos->ord);
	if (rc != DOM_OK)
		return rc;
	pos->ts = (uint64_t)ts;
	layout_event_pos(k, pl, pos->ts, pos->ord);
	return put_event(d, n->coll, k, pl + 16, value, vlen, out);
}

/* Raises the item's last ordinal (evseq) to at least ord, under its write
 * lock, so that later new events get larger ordinals. k is the event key,
 * whose first il bytes are the item key. */
static enum dom_rc
raise_ordinal(struct dom *d, const unsigned char *k, size_t il, uint64_t ord)
{
	unsigned char seq[8];
	size_t vl;
	void *v;
	enum store_rc rc = store_get(d->txn, STORE_DB_EVSEQ, k, il, true, d->arena, &v, &vl);

	if (rc == STORE_OK && vl == 8 && util_get_be64(v) >= ord)
		return DOM_OK;
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return dom_from_store(rc);
	util_put_be64(seq, ord);
	return dom_from_store(store_put(d->txn, STORE_DB_EVSEQ, k, il, seq, 8));
}

enum dom_rc
event_put_at(struct dom *d, const struct event_name *n, const struct evpos *pos,
    const char *value, size_t vlen, struct event_record *out)
{
	unsigned char *k;
	size_t pl;
	enum dom_rc rc = event_key(d, n, pos, true, &k, &pl);

	if (rc != DOM_OK)
		return rc;
	bool old;

	/* An event at a position from before the item's purge would be taken
	 * by the maintainer with the purged ones: not until they are gone. */
	rc = event_purged(d, k, item_len(pl, n->type), pos->ord, &old);
	if (rc == DOM_OK && old)
		return DOM_UNAVAILABLE;
	if (rc == DOM_OK)
		rc = raise_ordinal(d, k, item_len(pl, n->type), pos->ord);
	if (rc != DOM_OK)
		return rc;
	return put_event(d, n->coll, k, pl + 16, value, vlen, out);
}

/* Reads one event (rmw: write-locked); *k gets its key. */
static enum dom_rc
load(struct dom *d, const struct event_name *n, const struct evpos *pos, bool rmw,
    unsigned char **k, size_t *kl, struct event_record *r)
{
	void *v;
	size_t vl, pl;
	enum store_rc rc;
	enum dom_rc drc = event_key(d, n, pos, false, k, &pl);

	if (drc != DOM_OK)
		return drc;
	*kl = pl + 16;
	rc = store_get(d->txn, STORE_DB_EVENTS, *k, *kl, rmw, d->arena, &v, &vl);
	if (rc != STORE_OK)
		return dom_from_store(rc);
	bool old;

	drc = event_purged(d, *k, item_len(pl, n->type), pos->ord, &old);
	if (drc == DOM_OK && old)
		return DOM_NOT_FOUND;
	if (drc != DOM_OK)
		return drc;
	return layout_event_decode(v, vl, r) == 0 ? DOM_OK : DOM_ERR;
}

/*
 * For a list: *floor as purge_floor, and *none when every event the item
 * has is one of those waiting (no event was written since the purge: its
 * last ordinal is still the floor), so that a list of a purged item does not
 * walk the events the maintainer has not removed yet.
 */
static enum dom_rc
list_floor(struct dom *d, const unsigned char *k, size_t il, uint64_t *floor, bool *none)
{
	void *v;
	size_t vl;
	enum store_rc rc;
	enum dom_rc drc = purge_floor(d, k, il, floor);

	*none = false;
	if (drc != DOM_OK || *floor == 0)
		return drc;
	rc = store_get(d->txn, STORE_DB_EVSEQ, k, il, false, d->arena, &v, &vl);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return dom_from_store(rc);
	*none = rc == STORE_NOTFOUND || (vl == 8 && util_get_be64(v) <= *floor);
	return DOM_OK;
}

enum dom_rc
event_get(struct dom *d, const struct event_name *n, const struct evpos *pos,
    struct event_record *out)
{
	unsigned char *k;
	size_t kl;

	return load(d, n, pos, false, &k, &kl, out);
}

/* The start of every change of one event: the current record, write-locked,
 * and the condition. */
static enum dom_rc
load_for_change(struct dom *d, const struct event_name *n, const struct evpos *pos,
    const struct dom_cond *if_match, unsigned char **k, size_t *kl,
    struct event_record *r)
{
	enum dom_rc rc = load(d, n, pos, true, k, kl, r);

	if (rc == DOM_NOT_FOUND && if_match->present)
		return DOM_MISMATCH;
	if (rc == DOM_OK && !dom_cond_holds(if_match, r->ref))
		return DOM_MISMATCH;
	return rc;
}

enum dom_rc
event_replace(struct dom *d, const struct event_name *n, const struct evpos *pos,
    const char *value, size_t vlen, const struct dom_cond *if_match,
    struct event_record *out)
{
	unsigned char *k;
	size_t kl;
	enum dom_rc rc = load_for_change(d, n, pos, if_match, &k, &kl, out);

	if (rc != DOM_OK)
		return rc;
	return put_event(d, n->coll, k, kl, value, vlen, out);
}

enum dom_rc
event_patch(struct dom *d, const struct event_name *n, const struct evpos *pos,
    struct json_object *patch, bool merge, const struct dom_cond *if_match,
    struct event_record *out, struct patch_error *err)
{
	const char *value;
	unsigned char *k;
	size_t kl, vlen;
	enum dom_rc rc = load_for_change(d, n, pos, if_match, &k, &kl, out);

	if (rc != DOM_OK)
		return rc;
	rc = dom_patch_value(d, out->value, out->vlen, patch, merge, err, &value, &vlen);
	if (rc != DOM_OK)
		return rc;
	return put_event(d, n->coll, k, kl, value, vlen, out);
}

enum dom_rc
event_delete(struct dom *d, const struct event_name *n, const struct evpos *pos,
    const struct dom_cond *if_match)
{
	struct event_record r;
	unsigned char *k;
	size_t kl;
	enum dom_rc rc = load_for_change(d, n, pos, if_match, &k, &kl, &r);

	if (rc == DOM_NOT_FOUND)
		return DOM_OK; /* already gone */
	if (rc != DOM_OK)
		return rc;
	if ((rc = index_note(d, INDEX_EVENT, n->coll, k, kl)) != DOM_OK)
		return rc;
	return dom_from_store(store_del(d->txn, STORE_DB_EVENTS, k, kl));
}

enum dom_rc
event_list(struct dom *d, const struct event_name *n, const struct evrange *r,
    int64_t limit, event_visit_fn fn, void *arg, bool *more, struct evpos *last)
{
	struct store_cursor *cur;
	const void *kp, *vp;
	size_t pl, kl, vl;
	unsigned char *k;
	uint64_t floor;
	int64_t count = 0;
	bool none;
	enum store_rc rc;
	enum dom_rc out = event_key(d, n, &r->hi, false, &k, &pl);

	*more = false;
	if (out != DOM_OK)
		return out == DOM_NOT_FOUND ? DOM_OK : out; /* no collection: no events */
	if ((out = list_floor(d, k, item_len(pl, n->type), &floor, &none)) != DOM_OK || none)
		return out;
	rc = store_cursor_open(d->txn, STORE_DB_EVENTS, &cur);
	if (rc != STORE_OK)
		return dom_from_store(rc);
	rc = store_cursor_get(cur, STORE_SEEK_LE, k, pl + 16, &kp, &kl, &vp, &vl);
	for (; rc == STORE_OK; rc = store_cursor_get(cur, STORE_PREV, NULL, 0, &kp, &kl, &vp, &vl)) {
		struct evpos p;
		struct event_record rec;
		int where;

		if (kl != pl + 16 || memcmp(kp, k, pl) != 0)
			break;
		layout_event_pos_get(kp, pl, &p.ts, &p.ord);
		if (floor != 0 && p.ord <= floor)
			continue; /* purged; the maintainer removes it */
		where = evrange_where(r, &p);
		if (where > 0) /* only the exclusive upper bound itself */
			continue;
		if (where < 0)
			break;
		if (count == limit) {
			*more = true;
			break;
		}
		if (layout_event_decode(vp, vl, &rec) == -1) {
			out = DOM_ERR;
			break;
		}
		enum dom_visit vis = fn(arg, &p, &rec);

		if (vis == DOM_VISIT_STOP) {
			*more = true;
			break;
		}
		if (vis != DOM_VISIT_NEXT) {
			out = DOM_ERR;
			break;
		}
		count++;
		*last = p;
	}
	store_cursor_close(cur);
	if (out == DOM_OK && rc != STORE_OK && rc != STORE_NOTFOUND)
		out = dom_from_store(rc);
	return out;
}
