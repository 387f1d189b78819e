/*
 * reclaim: removes the records of dropped collections in the background.
 * Dropping a collection (collections.h) only removes its name and queues
 * T | cid in reclaim.db; nothing can reach the cid's records after that.
 * The maintainer then calls reclaim_step in bounded transactions until
 * the queue is empty: each deletes at most a given number of records of
 * the first queued collection, by prefix, database by database (a
 * relation's record with its mirror under the other item's collection,
 * relations.h); the step that finds nothing left removes the counters and
 * the queue entry. A kill at any point loses nothing: the next step starts
 * again from the prefix, where the deleted records are already gone.
 *
 * A purge of an item with more events than it removes at once (items.c)
 * queues the rest the same way, keyed by the item key and its 0x00 (which
 * sorts after its collection's T | cid), with the item's last ordinal at the
 * purge: a step removes the item's events up to that ordinal only (an event
 * written after the purge, the key reused, has a larger one), looks at most
 * at max of them, and notes in the entry where it stopped. A purge of an
 * item with more versions or refs than it removes at once queues them under
 * the item key, its 0x00 and 'v', with the item's last seq (its floor,
 * items.c): a step removes the versions, then the refs, with a seq up to it.
 */
#ifndef ORCHID_RECLAIM_H
#define ORCHID_RECLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct arena;

struct reclaim_result {
	bool idle;          /* the queue is empty: nothing was done */
	bool finished;      /* the collection (item) is gone and left the queue */
	bool item;          /* a purged item's events, not a collection */
	bool versions;      /* a purged item's versions and refs (item too) */
	uint32_t tenant;    /* the collection worked on */
	uint64_t cid;
	const char *name;   /* its name (an item's key), in the arena */
	uint64_t deleted;   /* records deleted by this step */
	uint64_t bytes;     /* their keys and values */
};

/*
 * One step in transaction t: deletes at most max records, and stops after 8
 * MiB of keys and values (plus, in the last step of a collection, its
 * LAYOUT_SHARDS counters and its queue entry) of the first queued collection
 * or purged item (of which it looks at no more than max events). The caller commits t on STORE_OK (the
 * transaction runner retries a deadlock).
 */
enum store_rc reclaim_step(struct store_txn *t, struct arena *a, uint64_t max,
    struct reclaim_result *r);

/*
 * Runs steps of at most max records, each in its own transaction (deadlocks
 * retried up to retries times), until the queue is empty or steps steps were
 * made. *last is the last step's result, its name in a (reset at each step).
 */
enum store_rc reclaim_run(struct store *s, struct arena *a, uint64_t max, int steps,
    int retries, struct reclaim_result *last);

/* The numbers of dropped collections and of purged items' entries (one for
 * events, one for versions and refs) in the queue. */
enum store_rc reclaim_pending(struct store_txn *t, uint64_t *collections, uint64_t *items);

#endif
