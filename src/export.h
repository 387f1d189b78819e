/*
 * export: a tenant's data as the export stream, one JSON object per line
 * (docs/api.md, "Export"): for each collection in name order its items in
 * key order (the current value; with history every version oldest first,
 * tombstones included), then its events in events.db order; after every
 * collection, the relations out of each collection in relations.db order
 * (those whose two ends are live items), so that an import meets them
 * after their ends. The last line of a complete export is the end line,
 * {"kind":"end","lines":N}, N the lines before it: written only once every
 * batch has succeeded, so a stream that was cut short (a worker killed
 * outright, which nginx may pass on as a normal end of the body) lacks it,
 * and any reader can tell a whole export from a truncated one.
 *
 * An export runs in batches. Each batch is one short read transaction that
 * writes at most batch_records lines (or ends with the line that reaches
 * batch_bytes; one record always goes in whole) and remembers the last
 * database key it wrote; the next batch seeks past that key. No
 * transaction stays open between batches, so a slow reader of the stream
 * never holds a lock that a writer waits for, and the memory an export
 * uses is the same whatever its size. The export is therefore not a
 * snapshot of one moment: each batch is consistent in itself, and a write
 * made between two batches is in the stream when it lands after the
 * position reached, not when it lands before. With history an item's
 * versions follow one another in versions.db, so its list is either read
 * in one batch or resumes at exactly the next version.
 */
#ifndef ORCHID_EXPORT_H
#define ORCHID_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain.h"

struct export;

/* The byte budget of a batch: a short transaction and a small buffer, yet
 * few transactions per megabyte of stream. */
#define EXPORT_BATCH_BYTES ((size_t)256 << 10)

/* The content type of the stream (one JSON object per line). */
#define EXPORT_CONTENT_TYPE "application/orchestrate-export-stream+json"

struct export_spec {
	uint32_t tenant;
	const char *coll;        /* one collection (copied), or NULL: all of the tenant's */
	bool history;            /* every version, tombstones included */
	int64_t batch_records;   /* lines per batch at most (>= 1) */
	size_t batch_bytes;      /* a batch ends after the line that reaches this */
};

/* What an export has written so far. */
struct export_totals {
	int64_t items;           /* item lines (one per version with history) */
	int64_t events;
	int64_t relations;
	uint64_t bytes;          /* of every line, the end line included */
};

/* A new export of spec; NULL when out of memory. Free it with export_free. */
struct export *export_new(const struct export_spec *spec);
void export_free(struct export *x);

/*
 * The next batch, read in a transaction of its own on s (a deadlock is
 * retried up to retries times): *data and *len are whole lines, which stay
 * valid until the next call or export_free. *done: nothing is left after
 * them, and they end with the end line (further calls give no lines).
 * Returns STORE_OK or the fault (STORE_ERR for a malformed record or no
 * memory, logged; STORE_RETRY; STORE_PANIC); after a fault the export
 * cannot go on, and it never gives the end line.
 */
enum store_rc export_next(struct export *x, struct store *s, int retries,
    const char **data, size_t *len, bool *done);

/* The totals of the batches returned so far. */
void export_totals(const struct export *x, struct export_totals *t);

/* The live items of collection coll (NULL: of every collection of the
 * tenant), from the kept counts: the size of an export without history,
 * for a progress estimate. DOM_NOT_FOUND when coll does not exist. */
enum dom_rc export_count_items(struct dom *d, const char *coll, int64_t *items);

#endif
