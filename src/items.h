/*
 * items: the business rules of Key/Value items, their versions and refs,
 * over one store transaction (domain.h). Every write makes a new version
 * (value or tombstone) with the next seq, a content-hash ref and a reftime
 * taken with the item locked (or d->reftime as given, when set: an import);
 * history keeps every version; purge erases the item, its history, refs,
 * events and relations (relations.h). Values are canonical JSON objects
 * (json.h), within the dom's limits. Items live in collections
 * (collections.h): a write creates a missing collection, a read of a
 * missing one finds nothing; every change of an item's liveness updates
 * the collection's live-item counter in the same transaction.
 */
#ifndef ORCHID_ITEMS_H
#define ORCHID_ITEMS_H

#include "domain.h"
#include "layout.h"

struct json_object;
struct patch_error;

/* The current version; DOM_NOT_FOUND when absent or deleted. */
enum dom_rc item_get(struct dom *d, const char *coll, const char *key,
    struct item_version *out);

/* The newest version with this ref (16 hex digits; anything else is
 * DOM_INVALID); DOM_NOT_FOUND when the item never had it. */
enum dom_rc item_get_ref(struct dom *d, const char *coll, const char *key,
    const char *ref, size_t reflen, struct item_version *out);

/*
 * Stores value as the new version. if_match holds only for a live version
 * with a listed ref (DOM_MISMATCH); if_none_match fails for a live version
 * it matches (DOM_PRESENT).
 */
enum dom_rc item_put(struct dom *d, const char *coll, const char *key,
    const char *value, size_t vlen, const struct dom_cond *if_match,
    const struct dom_cond *if_none_match, struct item_version *out);

/* Stores value under a new time-ordered key (16 hex digits, in key). */
enum dom_rc item_create(struct dom *d, const char *coll, const char *value,
    size_t vlen, char key[17], struct item_version *out);

/*
 * Deletes: a tombstone version (nothing is written when there is no live
 * version; its relations stay), or with purge the whole item, history,
 * refs, events and relations in both directions. if_match as for item_put.
 */
enum dom_rc item_delete(struct dom *d, const char *coll, const char *key,
    const struct dom_cond *if_match, bool purge);

/*
 * Applies a patch to the current value and stores the result as the new
 * version, all in this transaction with the head write-locked. patch is an
 * array of operations, or with merge an RFC 7386 merge document. A missing
 * (or deleted) item is DOM_NOT_FOUND, also with if_match, unless upsert: then
 * the patch applies to {}. DOM_INVALID or DOM_CONFLICT fill err (release it
 * with patch_error_free); limits as dom_patch_value (domain.h). Nothing is
 * written unless DOM_OK.
 */
enum dom_rc item_patch(struct dom *d, const char *coll, const char *key,
    struct json_object *patch, bool merge, bool upsert,
    const struct dom_cond *if_match, struct item_version *out,
    struct patch_error *err);

/* Visits one version of a history or one item of a listing. */
typedef enum dom_visit (*item_visit_fn)(void *arg, const char *key, size_t keylen,
    const struct item_version *v);

/*
 * The history, newest first: versions offset+1.. up to limit of them (a
 * tombstone is a version). DOM_NOT_FOUND when the item does not exist at all
 * (never written, or purged). *more: older versions remain.
 */
enum dom_rc item_history(struct dom *d, const char *coll, const char *key,
    int64_t offset, int64_t limit, item_visit_fn fn, void *arg, bool *more);

/*
 * *old when version seq of the item with key k (I, il bytes) was purged and
 * waits for reclaim (its seq is not above the item's floor, items.c): a
 * reader must not see it.
 */
enum dom_rc item_version_purged(struct dom *d, const unsigned char *k, size_t il,
    uint64_t seq, bool *old);

/* Key bounds of a listing: each NULL for none; incl: the bound itself is in. */
struct key_range {
	const char *start;
	bool start_incl;
	const char *end;
	bool end_incl;
};

/* Where a list page that ran out of its scan budget stopped. */
struct scan_stop {
	const char *key;    /* the first key not examined (in the arena), or NULL */
	size_t keylen;
};

/*
 * The live items of a collection in key order within the range, up to limit.
 * *more: further items remain (or the visitor stopped early). At most budget
 * records (live or deleted) are examined (0: no limit); when that ends the
 * page, stop->key is where the next page starts (inclusive), else NULL.
 */
enum dom_rc item_list(struct dom *d, const char *coll, const struct key_range *r,
    int64_t limit, int64_t budget, item_visit_fn fn, void *arg, bool *more,
    struct scan_stop *stop);

#endif
