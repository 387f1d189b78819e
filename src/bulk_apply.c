/*
 * bulk_apply: one bulk operation (bulk.h) through the domain: an item PUT
 * or tombstone (items.h), an event created or stored at its exact position
 * (events.h), a relation PUT (relations.h), unconditionally, with the
 * operation's reftime; an export's end line writes nothing. Apart from
 * bulk.c so that the splitter and the reader build and fuzz without the
 * store.
 */
#include "bulk.h"

#include <string.h>

#include "events.h"
#include "items.h"
#include "relations.h"

static enum dom_rc
apply_item(struct dom *d, const struct bulk_op *op, struct bulk_done *done)
{
	struct dom_cond none;
	struct item_version v;
	enum dom_rc rc;

	memset(&none, 0, sizeof(none));
	/* A tombstone writes a version only when the item is live, as a
	 * DELETE does: importing it twice changes nothing. */
	if (op->tombstone)
		return item_delete(d, op->coll, op->key, &none, false);
	rc = item_put(d, op->coll, op->key, op->value, op->vlen, &none, &none, &v);
	if (rc == DOM_OK) {
		memcpy(done->ref, v.ref, sizeof(done->ref));
		done->reftime = v.reftime;
	}
	return rc;
}

static enum dom_rc
apply_event(struct dom *d, const struct bulk_op *op, struct bulk_done *done)
{
	struct event_name n = { op->coll, op->key, op->type };
	struct event_record r;
	enum dom_rc rc;

	if (op->has_ord) {
		done->pos.ts = (uint64_t)op->ts;
		done->pos.ord = op->ord;
		rc = event_put_at(d, &n, &done->pos, op->value, op->vlen, &r);
	} else {
		rc = event_create(d, &n, op->has_ts ? op->ts : d->now_ms, op->value, op->vlen,
		    &done->pos, &r);
	}
	if (rc == DOM_OK) {
		memcpy(done->ref, r.ref, sizeof(done->ref));
		done->reftime = r.reftime;
	}
	return rc;
}

static enum dom_rc
apply_relation(struct dom *d, const struct bulk_op *op, struct bulk_done *done,
    struct bulk_fail *fail)
{
	struct rel_name n = { op->coll, op->key, op->relation, op->to_coll, op->to_key };
	struct dom_cond none;
	struct rel_record r;
	bool missing_dst = false;
	enum dom_rc rc;

	memset(&none, 0, sizeof(none));
	rc = relation_put(d, &n, op->value, op->vlen, &none, &none, &r, &missing_dst);
	if (rc == DOM_OK) {
		memcpy(done->ref, r.ref, sizeof(done->ref));
		done->reftime = r.reftime;
	} else if (rc == DOM_NOT_FOUND) {
		fail->nf_coll = missing_dst ? op->to_coll : op->coll;
		fail->nf_key = missing_dst ? op->to_key : op->key;
	}
	return rc;
}

/* The failure entry of a refusal, as the HTTP handlers answer it. */
static void
refusal(enum dom_rc rc, const struct bulk_op *op, struct bulk_fail *fail)
{
	switch (rc) {
	case DOM_NOT_FOUND:
		fail->code = "items_not_found";
		fail->message = "The requested items could not be found.";
		if (fail->nf_coll == NULL) {
			fail->nf_coll = op->coll;
			fail->nf_key = op->key;
		}
		return;
	case DOM_TOO_LARGE:
		fail->code = "request_too_large";
		fail->message = "The result would be larger than the largest value the "
		    "server stores (max_body).";
		return;
	case DOM_UNAVAILABLE:
		/* An event at an ordinal of a purged item's events that are
		 * still being removed (events.h, event_put_at). */
		fail->code = "service_unavailable";
		fail->message = "The item was purged and its events are still being "
		    "removed; retry later.";
		return;
	default:
		fail->code = "api_bad_request";
		fail->message = "The API request is malformed.";
		return;
	}
}

enum dom_rc
bulk_apply(struct dom *d, const struct bulk_op *op, struct bulk_done *done,
    struct bulk_fail *fail)
{
	enum dom_rc rc;

	memset(done, 0, sizeof(*done));
	memset(fail, 0, sizeof(*fail));
	d->reftime = op->reftime;
	switch (op->kind) {
	case BULK_ITEM:
		rc = apply_item(d, op, done);
		break;
	case BULK_EVENT:
		rc = apply_event(d, op, done);
		break;
	case BULK_END:
		/* A marker of the stream, not data. */
		return DOM_OK;
	default:
		rc = apply_relation(d, op, done, fail);
		break;
	}
	if (rc != DOM_OK && !dom_fault(rc))
		refusal(rc, op, fail);
	return rc;
}
