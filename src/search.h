/*
 * search: the one module that knows Xapian (search_xapian.cc, C++ behind
 * this C interface; no exception ever crosses it). One Xapian database per
 * tenant and index generation, in a directory the caller names
 * (index.c: <datadir>/index/<tenant>/<generation>). The indexer process is
 * the only writer (search_writer); workers read (search_reader). What a
 * document's terms and value slots are is decided here alone
 * (docs/storage.md "Search index").
 *
 * Every function returns SEARCH_OK or an error code with a message in err;
 * nothing here touches Berkeley DB, HTTP or the process model.
 */
#ifndef ORCHID_SEARCH_H
#define ORCHID_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct arena;
struct lucene_node;

enum search_rc {
	SEARCH_OK = 0,
	SEARCH_BAD,       /* the request is refused: 400 (err says why) */
	SEARCH_MISSING,   /* the database directory does not exist */
	SEARCH_CORRUPT,   /* DatabaseCorruptError and kin: rebuild this index */
	SEARCH_ERR        /* anything else (I/O, disk full, memory): logged by caller */
};

enum search_kind { SEARCH_ITEM = 0, SEARCH_EVENT, SEARCH_RELATION };

/*
 * One document of the index: an item (its current version), an event or a
 * relation. Names are NUL-terminated UTF-8. The identity fields (kind,
 * cid, key, and for an event type/timestamp/ordinal, for a relation
 * relation/dst_cid/dst_key) name the document; search_writer_delete needs
 * only those.
 */
struct search_doc {
	enum search_kind kind;
	uint64_t cid;              /* the collection id of the item / event / relation source */
	const char *collection;    /* its name */
	const char *key;
	const char *ref;           /* 16 hex digits */
	int64_t reftime;           /* ms */
	/* events */
	const char *type;
	int64_t timestamp;         /* ms */
	uint64_t ordinal;
	/* relations */
	const char *relation;
	uint64_t dst_cid;
	const char *dst_collection;
	const char *dst_key;
	/*
	 * The entry a search result shows for this document, minus "score"
	 * and "distance": {"path":{...},"value":...,"reftime":N} as canonical
	 * JSON (index.c builds it; the result of a search hands it back).
	 */
	const char *entry;
	size_t entry_len;
	/* The value (canonical JSON) whose fields are indexed. */
	const char *value;
	size_t vlen;
};

/* ---- writer (the indexer process only) ---- */

struct search_writer;

/* Opens (creating when absent) the database in dir for writing. Fails with
 * SEARCH_ERR when another writer holds it. */
enum search_rc search_writer_open(const char *dir, struct search_writer **out, char *err,
    size_t errlen);
/* Cancels an open transaction and closes; NULL is fine. */
void search_writer_close(struct search_writer *w);
/* Starts a transaction (begin_transaction(true)); every change until the
 * commit is atomic with the metadata set in it. */
enum search_rc search_writer_begin(struct search_writer *w, char *err, size_t errlen);
/* Adds or replaces the document (replace_document on its unique term). */
enum search_rc search_writer_put(struct search_writer *w, const struct search_doc *d,
    char *err, size_t errlen);
/* Deletes the document named by d's identity fields; absent is fine. */
enum search_rc search_writer_delete(struct search_writer *w, const struct search_doc *d,
    char *err, size_t errlen);
/* Deletes the item (cid, key), its events and every relation from or to
 * it (a purge). */
enum search_rc search_writer_delete_item_all(struct search_writer *w, uint64_t cid,
    const char *key, char *err, size_t errlen);
/* Deletes every document of collection cid: items, events, relations
 * from or to its items (a dropped collection). */
enum search_rc search_writer_delete_collection(struct search_writer *w, uint64_t cid,
    char *err, size_t errlen);
/* Metadata, committed with the documents (keys <= 200 bytes; "" value deletes). */
enum search_rc search_writer_set_meta(struct search_writer *w, const char *key,
    const char *value, size_t vlen, char *err, size_t errlen);
/* Reads metadata as of the writer's view; *value in arena a ("" when absent). */
enum search_rc search_writer_get_meta(struct search_writer *w, const char *key,
    struct arena *a, char **value, size_t *vlen, char *err, size_t errlen);
/* Commits the transaction. After any error other than SEARCH_BAD the caller
 * closes the writer and opens it again (never reuses it after an I/O
 * error: Xapian Trac #317). */
enum search_rc search_writer_commit(struct search_writer *w, char *err, size_t errlen);
/* Cancels the open transaction. */
void search_writer_cancel(struct search_writer *w);
/* Writers commit without fsync; this makes every commit so far of the
 * database in dir durable (fdatasync of its files, fsync of the
 * directory). SEARCH_MISSING when dir is gone. */
enum search_rc search_sync(const char *dir, char *err, size_t errlen);
/* The number of documents (as of the last commit plus pending changes). */
uint64_t search_writer_doccount(struct search_writer *w);

/* ---- reader (workers) ---- */

struct search_reader;

/* Opens dir for reading (SEARCH_MISSING when the directory is absent). */
enum search_rc search_reader_open(const char *dir, struct search_reader **out, char *err,
    size_t errlen);
void search_reader_close(struct search_reader *r);
/* Moves to the newest committed revision (reopen()). */
enum search_rc search_reader_refresh(struct search_reader *r, char *err, size_t errlen);
/* Metadata of the revision the reader is at; *value in arena a ("" when absent). */
enum search_rc search_reader_get_meta(struct search_reader *r, const char *key,
    struct arena *a, char **value, size_t *vlen, char *err, size_t errlen);

/* sort= clauses (search_spec.c parses them). */
enum search_sort_kind {
	SORT_FIELD,      /* value.f or a bare name: by the field's value */
	SORT_PATH,       /* @path.key, @path.kind, @path.collection, @path.reftime, ... */
	SORT_RANDOM,     /* _random or _random:seed */
	SORT_DISTANCE,   /* value.loc:distance:asc|desc (needs a NEAR clause on it) */
	SORT_SCORE       /* _score (Orchid addition: relevance as a tie breaker) */
};

struct search_sort {
	enum search_sort_kind kind;
	const char *field;   /* as written, e.g. "value.price", "@path.key"; NULL for random/score */
	bool desc;
	bool seeded;
	uint64_t seed;
};

/* aggregate= specs (search_spec.c parses them). */
enum search_agg_kind { AGG_STATS, AGG_RANGE, AGG_DISTANCE, AGG_TOP_VALUES, AGG_TIME_SERIES };

struct search_bucket {
	bool has_min, has_max;   /* "*": open end */
	double min, max;         /* min inclusive, max exclusive */
	const char *min_text, *max_text; /* as written, for the response */
};

enum search_interval { IV_YEAR, IV_QUARTER, IV_MONTH, IV_WEEK, IV_DAY, IV_HOUR };

struct search_agg {
	enum search_agg_kind kind;
	const char *field;        /* as written ("value.f") */
	/* range, distance */
	struct search_bucket *buckets;
	size_t nbuckets;
	/* top_values */
	unsigned offset, limit;   /* defaults 0 and 10 */
	/* time_series */
	enum search_interval interval;
	bool has_tz;
	int tz_minutes;           /* east of UTC, from "+0900" / "-0530" */
	const char *tz_text;      /* as written, echoed as "time_zone" */
};

#define SEARCH_MAX_SORT 8
#define SEARCH_MAX_AGGS 16  /* the npm client's own aggregate test sends 10 */
#define SEARCH_MAX_BUCKETS 64

/*
 * Parses sort= (e.g. "value.price:desc,@path.key:asc,_random:42") and
 * aggregate= (e.g. "value.age:stats,value.age:range:*~10:10~*") into
 * arrays in arena a. 0, or -1 with err (400 search_param_invalid).
 */
int search_parse_sort(struct arena *a, const char *text, struct search_sort **out,
    size_t *n, char *err, size_t errlen);
int search_parse_aggregates(struct arena *a, const char *text, struct search_agg **out,
    size_t *n, char *err, size_t errlen);

struct search_query {
	const struct lucene_node *query;
	const char *collection;   /* NULL: every collection of the tenant */
	const struct search_sort *sort;
	size_t nsort;
	const struct search_agg *aggs;
	size_t naggs;
	unsigned offset;
	unsigned limit;           /* 0: only total_count (and aggregates) */
	unsigned max_expansion;   /* terms one wildcard, prefix or fuzzy clause may expand to */
};

struct search_hit {
	const char *entry;        /* the document's entry (search_doc.entry), in the arena */
	size_t entry_len;
	double score;
	bool has_distance;
	double distance;          /* in the unit of the query's NEAR clause */
};

struct search_result {
	uint64_t total;           /* exact number of matches */
	struct search_hit *hits;
	size_t nhits;
	/* The "aggregates" array as JSON text (NULL when none were asked). */
	const char *aggregates;
	size_t aggregates_len;
};

/*
 * Runs q on the reader's current revision (retrying from a reopen, at most
 * 3 times, on DatabaseModifiedError). The kind rule: unless the query
 * names @path.kind, only items match. SEARCH_BAD: the query cannot run
 * (a wildcard over max_expansion terms, a distance sort or aggregate
 * without a NEAR clause on that field, ...), err says why.
 */
enum search_rc search_run(struct search_reader *r, const struct search_query *q,
    struct arena *a, struct search_result *out, char *err, size_t errlen);
/* The same over an index with no document (a tenant that never wrote):
 * no hits, and aggregates over nothing. */
enum search_rc search_run_empty(const struct search_query *q, struct arena *a,
    struct search_result *out, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
