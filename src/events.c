/*
 * events: the business rules of events (events.h) over the layout of
 * layout.h. Lists walk the B-tree backwards from the upper bound:
 * O(log n + page), whatever the size of the stream.
 */
#include "events.h"

#include <string.h>

#include "mem.h"
#include "timefmt.h"
#include "util.h"

/* The key of the event at pos (pos NULL: the prefix only). */
static unsigned char *
event_key(struct dom *d, const struct event_name *n, const struct evpos *pos,
    size_t *plen)
{
	unsigned char *k = layout_event_key(d->arena, d->tenant, n->coll, n->key, n->type,
	    plen);

	if (k != NULL && pos != NULL)
		layout_event_pos(k, *plen, pos->ts, pos->ord);
	return k;
}

static enum dom_rc
put_event(struct dom *d, const unsigned char *k, size_t kl, const char *value,
    size_t vlen, struct event_record *r)
{
	unsigned char *rec;
	size_t rl;

	r->reftime = timefmt_now_ms(); /* when written, not when received */
	ids_ref(value, vlen, r->ref, r->refbin);
	r->value = value;
	r->vlen = vlen;
	if ((rec = layout_event_encode(d->arena, r, &rl)) == NULL)
		return DOM_ERR;
	return dom_from_store(store_put(d->txn, STORE_DB_EVENTS, k, kl, rec, rl));
}

/* The next ordinal of this item, strictly above every earlier one. */
static enum dom_rc
next_ordinal(struct dom *d, const struct event_name *n, uint64_t *ord)
{
	unsigned char *ik, seq[8];
	size_t il, vl;
	void *v;
	uint64_t o = ids_time_id(d->now_ms, 0);
	enum store_rc rc;

	if ((ik = layout_item_key(d->arena, d->tenant, n->coll, n->key, 0, &il)) == NULL)
		return DOM_ERR;
	rc = store_get(d->txn, STORE_DB_EVSEQ, ik, il, true, d->arena, &v, &vl);
	if (rc == STORE_OK && vl == 8 && util_get_be64(v) >= o)
		o = util_get_be64(v) + 1;
	else if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return dom_from_store(rc);
	util_put_be64(seq, o);
	*ord = o;
	return dom_from_store(store_put(d->txn, STORE_DB_EVSEQ, ik, il, seq, 8));
}

enum dom_rc
event_create(struct dom *d, const struct event_name *n, int64_t ts, const char *value,
    size_t vlen, struct evpos *pos, struct event_record *out)
{
	unsigned char *k;
	size_t pl;
	enum dom_rc rc;

	pos->ts = (uint64_t)ts;
	if ((rc = next_ordinal(d, n, &pos->ord)) != DOM_OK)
		return rc;
	if ((k = event_key(d, n, pos, &pl)) == NULL)
		return DOM_ERR;
	return put_event(d, k, pl + 16, value, vlen, out);
}

/* Reads one event (rmw: write-locked); *k gets its key. */
static enum dom_rc
load(struct dom *d, const struct event_name *n, const struct evpos *pos, bool rmw,
    unsigned char **k, size_t *kl, struct event_record *r)
{
	void *v;
	size_t vl, pl;
	enum store_rc rc;

	if ((*k = event_key(d, n, pos, &pl)) == NULL)
		return DOM_ERR;
	*kl = pl + 16;
	rc = store_get(d->txn, STORE_DB_EVENTS, *k, *kl, rmw, d->arena, &v, &vl);
	if (rc != STORE_OK)
		return dom_from_store(rc);
	return layout_event_decode(v, vl, r) == 0 ? DOM_OK : DOM_ERR;
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
	return put_event(d, k, kl, value, vlen, out);
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
	return put_event(d, k, kl, value, vlen, out);
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
	return dom_from_store(store_del(d->txn, STORE_DB_EVENTS, k, kl));
}

enum dom_rc
event_list(struct dom *d, const struct event_name *n, const struct evrange *r,
    int64_t limit, event_visit_fn fn, void *arg, bool *more, struct evpos *last)
{
	struct store_cursor *cur;
	const void *kp, *vp;
	size_t pl, kl, vl;
	unsigned char *k = event_key(d, n, &r->hi, &pl);
	int64_t count = 0;
	enum store_rc rc;
	enum dom_rc out = DOM_OK;

	*more = false;
	if (k == NULL)
		return DOM_ERR;
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
