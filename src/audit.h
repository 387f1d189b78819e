/*
 * audit: the logical check of a format-2 environment behind `orchidctl
 * verify`, beside Berkeley DB's check of each file. Every record keyed by
 * collection (items, versions, refs, events, evseq, relations, relrev,
 * counts) must belong to a named collection (collections.db) or to a
 * dropped one waiting for reclaim (reclaim.db): anything else is an orphan.
 * Every named collection's counters must sum to its live items. Every
 * relation must have its mirror (a relations.db record its relrev.db
 * entry and the reverse), and its other end's cid must belong to a
 * collection too. No format-1 key may be left. Meant for a quiescent environment (orchidd
 * stopped, or a backup copy): on a live one the counts could move while
 * they are compared.
 */
#ifndef ORCHID_AUDIT_H
#define ORCHID_AUDIT_H

#include <stdint.h>

#include "buf.h"
#include "store.h"

struct audit_report {
	uint64_t collections;  /* named */
	uint64_t queued;       /* dropped, waiting for reclaim */
	uint64_t records;      /* keyed by collection, counters included */
	uint64_t pending;      /* of those, of queued collections */
	uint64_t orphans;      /* of no collection at all */
	uint64_t old_keys;     /* format-1 keys */
	uint64_t malformed;    /* keys or values that do not decode */
	uint64_t bad_counts;   /* collections whose counters are wrong */
	uint64_t unmirrored;   /* relations.db or relrev.db records without
	                        * their mirror in the other */
};

/*
 * Audits the environment of s, appending a summary and the first problems
 * found to out. STORE_OK when the audit ran (problems are in *r; the
 * environment is sound when orphans, old_keys, malformed, bad_counts and
 * unmirrored are 0), else the store error.
 */
enum store_rc audit_run(struct store *s, struct buf *out, struct audit_report *r);

#endif
