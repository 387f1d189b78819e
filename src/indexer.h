/*
 * indexer: the one process that writes the search indexes (search.h). It
 * empties the outboxes (index.h) into each tenant's index: per tenant, one
 * Xapian transaction applies a batch and records, per outbox slot, the last
 * entry applied (metadata "slot:<n>") in the same commit; only then are the
 * entries deleted from the outbox. After a kill -9 anywhere, the entries
 * still in the outbox whose seq is at or below the slot's mark are deleted
 * without applying them again, so each change is applied exactly once.
 * Changes are applied from the database's current state (an entry names a
 * record; the indexer reads it), so their order across slots does not
 * matter. It also (re)builds the index of a tenant whose state is
 * "requested" into a new generation, from a scan of the tenant's records.
 */
#ifndef ORCHID_INDEXER_H
#define ORCHID_INDEXER_H

#include <stdbool.h>
#include <stdint.h>

struct config;
struct store;

/* The indexer process under the master: opens its own store, writes one
 * byte to ready_fd, runs until SIGTERM; never returns. A byte on wake_fd
 * (non-blocking) says a worker noted a change: it looks at once instead of
 * at its next idle poll. A byte on urgent_fd says a search waits for the
 * index: no yielding to a write flood for a moment. */
void indexer_main(const struct config *cfg, int ready_fd, int parent, int wake_fd,
    int urgent_fd)
    __attribute__((noreturn));

/*
 * Runs the indexer's work in this process until no build is pending or in
 * progress and the outboxes are empty (orchidctl reindex with orchidd
 * stopped). progress, when not NULL, is called after each build step.
 * 0, or -1 after an error (logged).
 */
typedef void (*indexer_progress_fn)(void *arg, uint32_t tenant, uint64_t done, bool finished);
int indexer_drain(struct store *s, const struct config *cfg, indexer_progress_fn progress,
    void *arg);

#endif
