/*
 * index: the domain side of search. Every write of the domain records what
 * it changed for the search index in an outbox, inside the write's own
 * transaction (index_note_*); the indexer process (indexer.h) applies the
 * outbox to the tenant's Xapian index (search.h). index_search answers a
 * query once the index covers every write committed before it began.
 *
 * The outbox is one Berkeley DB database per writer slot (a worker, or an
 * orchidctl process), so writers of different slots never wait for each
 * other's page locks: key T(be32) | seq(be64), where seq grows in commit
 * order within a slot (a slot has one process at a time, and each process
 * starts at a new epoch). docs/storage.md "Search index" has the layout.
 */
#ifndef ORCHID_INDEX_H
#define ORCHID_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain.h"
#include "search.h"

struct config;
struct store;

/*
 * Chooses this process's outbox slot and takes a new epoch for it (a short
 * write transaction). Workers pass their worker number; any other writer
 * passes INDEX_SLOT_CTL and gets a free control slot (held by a lock on
 * <datadir>/index/ctl-N.lock until the process exits). 0, or -1 with err.
 * Call it before the first write transaction: a process that writes
 * without it gets a control slot at its first write, from inside that
 * write's transaction, which is safe only while no indexer runs (unit
 * tests): the slot's own transaction could wait for the indexer while the
 * indexer waits for the write, a cycle of one thread's two transactions
 * that the deadlock detector cannot see.
 */
#define INDEX_SLOT_CTL (-1)
#define INDEX_CTL_FIRST 256
#define INDEX_CTL_SLOTS 15
/* Not an outbox: the registry of the slots ever used, be16(slot) -> "", so
 * that a search knows every outbox that may hold pending entries. It lives
 * in outbox.db (never in a database a write transaction touches, so a
 * process may register its slot while one of its transactions is open). */
#define INDEX_REGISTRY_SLOT (STORE_OUTBOX_SLOTS - 1)
int index_init(struct store *s, int slot, char *err, size_t errlen);

/*
 * What an outbox entry says changed, with the full key of the record in
 * its database (T first): an item (items.db key), an event (events.db
 * key), a relation (relations.db key), an item purged with its events and
 * relations (items.db key), a collection dropped (T | cid). coll is the
 * name of the collection of the key (the source's, for a relation).
 */
enum index_op { INDEX_ITEM = 'I', INDEX_EVENT = 'E', INDEX_RELATION = 'R',
	INDEX_PURGE = 'P', INDEX_DROP = 'D' };
enum dom_rc index_note(struct dom *d, enum index_op op, const char *coll,
    const unsigned char *key, size_t klen);
/* A non-blocking pipe to the indexer: each note writes a byte to it (a
 * full pipe is fine: the indexer is awake anyway). -1: none. */
void index_set_wake_fd(int fd);
/* A non-blocking pipe to the indexer: a search that has to wait for the
 * index writes a byte to it, which makes a yielding indexer (a write flood,
 * indexer_yield) index at full speed again. -1: none. */
void index_set_urgent_fd(int fd);

/*
 * The state of a tenant's index (meta.db "ix" | T): its generation (the
 * directory <datadir>/index/<T>/<gen>), whether it is ready or being
 * (re)built, and the documents a build has written so far.
 */
enum index_state { IX_READY = 0, IX_BUILDING = 1, IX_REQUESTED = 2 };
struct index_info {
	uint64_t gen;
	enum index_state state;
	bool created;      /* the indexer created the directory of gen */
	uint64_t done;     /* documents written by the build in progress */
};
/* Reads it; a tenant without a record is ready at generation 0, once the
 * indexer has initialised the environment (else: requested). */
enum dom_rc index_info_get(struct store_txn *t, uint32_t tenant, struct index_info *out);
enum dom_rc index_info_put(struct store_txn *t, uint32_t tenant, const struct index_info *in);
/* Asks the indexer to rebuild the tenant's index (state requested). */
enum dom_rc index_request_rebuild(struct store_txn *t, uint32_t tenant);
/* The meta.db key the indexer sets once every tenant that existed before
 * search has an index state record. */
const char *index_ixinit_key(size_t *len);
/* The outbox key layout: T(be32) | seq(be64). */
#define INDEX_OUTBOX_KEY_LEN 12
/* Writes <datadir>/index/<T>/<gen> into buf. */
void index_dir(const char *datadir, uint32_t tenant, uint64_t gen, char *buf, size_t size);

/*
 * Runs a search for tenant with the consistency rule: waits (at most
 * cfg->search_wait_ms) until the tenant's index covers every write
 * committed before the call, then runs q. Results in arena a.
 *   DOM_OK          *out filled
 *   DOM_INVALID     err says why (400 search_query_malformed / param)
 *   DOM_UNAVAILABLE the index is being built, or the wait ran out (503
 *                   with Retry-After: *retry_after seconds); err says which
 *   DOM_ERR         a fault (logged)
 */
enum dom_rc index_search(struct store *s, const struct config *cfg, uint32_t tenant,
    const struct search_query *q, struct arena *a, struct search_result *out,
    int *retry_after, char *err, size_t errlen);

#endif
