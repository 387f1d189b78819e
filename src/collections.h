/*
 * collections: the business rules of collections (domain.h). A collection
 * name of a tenant maps to a collection id (cid) in collections.db; every
 * record of the collection is keyed under T | cid (layout.h). A write to a
 * missing collection creates it with a new cid; dropping a collection
 * removes the name and queues the cid for reclaim (reclaim.h) in the same
 * transaction, so from the client's view it is gone at once, whatever its
 * size, and a new write starts a fresh collection under a new cid.
 *
 * Live-item counters are kept in the write transaction, in LAYOUT_SHARDS
 * records per collection (the shard of an item is a hash of its key), so
 * writers of different items rarely wait for one another; a read sums them.
 */
#ifndef ORCHID_COLLECTIONS_H
#define ORCHID_COLLECTIONS_H

#include "domain.h"

/* The cid of a live collection; DOM_NOT_FOUND when there is none. */
enum dom_rc coll_lookup(struct dom *d, const char *name, uint64_t *cid);

/* The cid of the collection, created (with a new cid) when missing. */
enum dom_rc coll_ensure(struct dom *d, const char *name, uint64_t *cid);

/*
 * Drops the collection: removes its name and queues its cid for reclaim.
 * *existed tells whether there was one (a missing collection is DOM_OK and
 * nothing is written).
 */
enum dom_rc coll_drop(struct dom *d, const char *name, bool *existed);

/* Adds delta (+1: an item became live, -1: it stopped being live) to the
 * counter shard of key in collection cid. */
enum dom_rc coll_count_add(struct dom *d, uint64_t cid, const char *key, size_t keylen,
    int delta);

/* The number of live items of collection cid (the sum of its shards). */
enum dom_rc coll_count(struct dom *d, uint64_t cid, int64_t *items);

/* Visits one collection of the tenant with its number of live items. */
typedef enum dom_visit (*coll_visit_fn)(void *arg, const char *name, size_t len,
    int64_t items);

/*
 * The tenant's collections that hold live items, in name order, with their
 * counts: O(collections), never a walk over the items.
 */
enum dom_rc collections_list(struct dom *d, coll_visit_fn fn, void *arg);

/*
 * The tenant's first collection whose name sorts after the after_len bytes
 * at after (after NULL: the first of all), in name (byte) order, whether it
 * holds live items or not: *name (NUL-terminated, *len bytes, in the dom's
 * arena) and *cid. DOM_NOT_FOUND when there is none.
 */
enum dom_rc coll_next(struct dom *d, const char *after, size_t after_len,
    const char **name, size_t *len, uint64_t *cid);

/*
 * A new cid, from the counter "cid" in meta.db (write-locked until commit;
 * only collection creation takes it). For coll_ensure and the upgrade.
 */
enum dom_rc coll_new_cid(struct dom *d, uint64_t *cid);

#endif
