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
 * Chooses this process's outbox slot and takes a new epoch (a short write
 * transaction). Workers pass their worker number; every other writer
 * (orchidctl, tests) passes INDEX_SLOT_CTL and gets a free one of the
 * control slots (held by a lock on a file until the process exits).
 * 0, or -1 with err.
 */
#define INDEX_SLOT_CTL (-1)
int index_init(struct store *s, const struct config *cfg, int slot, char *err, size_t errlen);

/* Outbox notes, called by the domain inside the write's transaction. */
enum dom_rc index_note_item(struct dom *d, uint64_t cid, const char *key, size_t keylen);
enum dom_rc index_note_event(struct dom *d, uint64_t cid, const char *key, size_t keylen,
    const char *type, int64_t ts, uint64_t ord);
enum dom_rc index_note_relation(struct dom *d, uint64_t cid, const char *key,
    size_t keylen, const char *kind, uint64_t dst_cid, const char *dst_key,
    size_t dst_keylen);
enum dom_rc index_note_purge(struct dom *d, uint64_t cid, const char *key, size_t keylen);
enum dom_rc index_note_drop(struct dom *d, uint64_t cid);

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
