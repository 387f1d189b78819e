/*
 * relations: the business rules of graph relations (domain.h). A relation
 * points one way from a source item to a destination item, under a kind
 * (a free-form name); there is at most one per (source, kind,
 * destination), with JSON properties ("{}" when none) and a ref, the
 * content hash of the properties. Both endpoints must be live items when
 * a relation is written or read. Relations keep no history. A relation is
 * stored by source (relations.db, with its record) and mirrored by
 * destination (relrev.db), so that purging an item removes the relations
 * in both directions; deleting an item without purge keeps them (they come
 * back into traversals when the item is written again).
 *
 * A traversal follows one kind per hop from a start item and returns the
 * live items reached at the last hop, each once, in (collection id, key)
 * order, bounded by max_hops and max_traversal.
 */
#ifndef ORCHID_RELATIONS_H
#define ORCHID_RELATIONS_H

#include "domain.h"
#include "layout.h"

/* A relation's address: source item, kind, destination item. */
struct rel_name {
	const char *coll;
	const char *key;
	const char *kind;
	const char *to_coll;
	const char *to_key;
};

/* What a DOM_NOT_FOUND of relation_get is missing. */
enum rel_missing {
	REL_MISSING_NONE,
	REL_MISSING_SOURCE,    /* the source item is not live */
	REL_MISSING_DEST,      /* the destination item is not live */
	REL_MISSING_RELATION   /* both are, but there is no such relation */
};

/*
 * Creates or replaces the relation with properties value (canonical JSON
 * object; NULL or "{}": none). Both endpoints must be live items, else
 * DOM_NOT_FOUND with *missing_dst telling which one is missing (the source
 * is checked first). if_match holds only for an existing relation with a
 * listed ref (DOM_MISMATCH); if_none_match fails for an existing one it
 * matches (DOM_PRESENT). The reftime is d->reftime when non-zero, else the
 * clock's. *out is the stored relation; its value and dst_coll point to
 * value (or a static "{}") and n->to_coll. Nothing is written unless
 * DOM_OK.
 */
enum dom_rc relation_put(struct dom *d, const struct rel_name *n, const char *value,
    size_t vlen, const struct dom_cond *if_match, const struct dom_cond *if_none_match,
    struct rel_record *out, bool *missing_dst);

/*
 * The relation; DOM_NOT_FOUND with *missing telling what is missing (an
 * endpoint that is not live, or the relation itself). *out points into
 * the dom's arena.
 */
enum dom_rc relation_get(struct dom *d, const struct rel_name *n, struct rel_record *out,
    enum rel_missing *missing);

/*
 * Deletes the relation (both records). A source item that is not live is
 * DOM_NOT_FOUND; an absent relation is DOM_OK and nothing is written,
 * unless if_match is present (DOM_MISMATCH, as for a relation whose ref is
 * not listed).
 */
enum dom_rc relation_delete(struct dom *d, const struct rel_name *n,
    const struct dom_cond *if_match);

/*
 * Removes every relation of the item whose key is ik (T | cid | key, il
 * bytes): those out of it and those into it, each with its mirror. For
 * the purge of an item, in its transaction.
 */
enum dom_rc relation_purge_item(struct dom *d, const unsigned char *ik, size_t il);

/*
 * Deletes the records of db (STORE_DB_RELATIONS or STORE_DB_RELREV) whose
 * keys start with prefix, each with its mirror in the other database, and
 * stops as store_delete_prefix_max does once *n (records deleted, mirrors
 * included) reached max or *bytes (their keys and values) max_bytes; both
 * are added to. Mirror keys are built in a. For reclaim and purge.
 */
enum store_rc relation_delete_prefix_max(struct store_txn *t, struct arena *a,
    enum store_db db, const void *prefix, size_t plen, uint64_t max, uint64_t max_bytes,
    uint64_t *n, uint64_t *bytes);

/* A position in a one-hop traversal: the destination item's collection
 * id and key (not NUL-terminated). */
struct rel_pos {
	uint64_t cid;
	const char *key;
	size_t keylen;
};

/* The page a traversal returns, and its bounds. */
struct rel_page {
	int64_t offset;          /* items skipped (when after is NULL) */
	int64_t limit;           /* items returned at most */
	const struct rel_pos *after; /* one hop only: start after this position
	                          * (a seek) instead of skipping offset items */
	int max_hops;            /* kinds a traversal may name */
	int64_t max_traversal;   /* relations it may follow, all hops together */
};

/* Visits one item of a traversal: its collection name, key and head. */
typedef enum dom_visit (*rel_visit_fn)(void *arg, const char *coll, size_t colllen,
    const char *key, size_t keylen, const struct item_version *v);

/*
 * Follows kinds[0] from the live item coll/key, then kinds[1] from each
 * item reached, and so on, and visits the distinct live items of the last
 * hop in (collection id, key) order, from offset (or after) up to limit.
 * Items that are not live, and items of dropped collections, are left out
 * and not counted. A missing or deleted start item is DOM_NOT_FOUND. More
 * than max_hops kinds, or more than max_traversal relations followed, is
 * DOM_INVALID with *why (in the arena) naming the limit. *more: further
 * items remain (or the visitor stopped early); *last: the position of the
 * last item visited (its key in the arena), for the next page's after.
 */
enum dom_rc relation_traverse(struct dom *d, const char *coll, const char *key,
    const char *const *kinds, size_t nkinds, const struct rel_page *page,
    rel_visit_fn fn, void *arg, bool *more, struct rel_pos *last, const char **why);

/*
 * The after token of a position: hex of cid (be64) and key, in the arena;
 * NULL when out of memory.
 */
char *relation_pos_encode(struct arena *a, const struct rel_pos *p);

/* Parses a token (len bytes) into *p (its key in the arena); -1 when it is
 * not one (or out of memory: *nomem). */
int relation_pos_decode(struct arena *a, const char *s, size_t len, struct rel_pos *p,
    bool *nomem);

#endif
