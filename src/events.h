/*
 * events: the business rules of events (domain.h): time-ordered JSON records
 * attached to an item (which need not exist), by type, identified by
 * timestamp and ordinal. Ordinals are strictly increasing per item (a new one
 * is max(time id, last + 1) under the write lock of the item's evseq
 * record); events keep no history (a replace or patch overwrites, a delete
 * erases). Values are canonical JSON objects within the dom's limits. The
 * reftime of a write is the clock's, or d->reftime when set (an import).
 */
#ifndef ORCHID_EVENTS_H
#define ORCHID_EVENTS_H

#include "domain.h"
#include "evpos.h"
#include "layout.h"

struct json_object;
struct patch_error;

/* An event's address. */
struct event_name {
	const char *coll;
	const char *key;
	const char *type;
};

/* Stores a new event at timestamp ts (ms) with the next ordinal; *pos
 * gets its position. */
enum dom_rc event_create(struct dom *d, const struct event_name *n, int64_t ts,
    const char *value, size_t vlen, struct evpos *pos, struct event_record *out);

/*
 * Stores value as the event at exactly pos (an import of an export),
 * replacing the one there, and raises the item's last ordinal to at least
 * pos->ord, so that events created later get larger ordinals.
 * DOM_UNAVAILABLE when pos->ord is not above the last ordinal of the item's
 * events that wait for removal after a purge (event_purged): retry later.
 */
enum dom_rc event_put_at(struct dom *d, const struct event_name *n,
    const struct evpos *pos, const char *value, size_t vlen, struct event_record *out);

/* One event; DOM_NOT_FOUND when absent. */
enum dom_rc event_get(struct dom *d, const struct event_name *n,
    const struct evpos *pos, struct event_record *out);

/* Replaces the value of an existing event (DOM_NOT_FOUND when absent, or
 * DOM_MISMATCH when if_match is present). */
enum dom_rc event_replace(struct dom *d, const struct event_name *n,
    const struct evpos *pos, const char *value, size_t vlen,
    const struct dom_cond *if_match, struct event_record *out);

/* Patches an existing event as item_patch does an item, but with no upsert,
 * and a missing event with if_match present is DOM_MISMATCH (as for
 * event_replace), not DOM_NOT_FOUND. */
enum dom_rc event_patch(struct dom *d, const struct event_name *n,
    const struct evpos *pos, struct json_object *patch, bool merge,
    const struct dom_cond *if_match, struct event_record *out,
    struct patch_error *err);

/* Erases an event; DOM_OK also when it is already gone, unless if_match is
 * present (then DOM_MISMATCH). */
enum dom_rc event_delete(struct dom *d, const struct event_name *n,
    const struct evpos *pos, const struct dom_cond *if_match);

/*
 * *old: the event with key k and ordinal ord is one of the events of an item
 * purged before it was written, which the maintainer has not removed yet
 * (reclaim.h); no read shows it. il: the item key's length in k.
 */
enum dom_rc event_purged(struct dom *d, const unsigned char *k, size_t il, uint64_t ord,
    bool *old);

/* Visits one event of a list. */
typedef enum dom_visit (*event_visit_fn)(void *arg, const struct evpos *pos,
    const struct event_record *r);

/*
 * The events of the range, newest first (timestamp, then ordinal), up to
 * limit. *more: further events remain (or the visitor stopped early); *last
 * is the last event visited.
 */
enum dom_rc event_list(struct dom *d, const struct event_name *n,
    const struct evrange *r, int64_t limit, event_visit_fn fn, void *arg,
    bool *more, struct evpos *last);

#endif
