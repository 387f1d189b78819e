/*
 * bulk: the bulk import stream (POST /v0, orchidctl import): a stream of
 * JSON objects, one operation each, as an export writes them (one per
 * line) or as clients send them (back to back, or any whitespace between).
 *
 * The splitter cuts the stream into operations in constant memory: it
 * keeps the current operation's bytes only (at most bulk_op_max), checks
 * them with json-c's incremental tokener as they arrive and counts
 * brackets outside strings to find the operation's end. Its rules, exactly:
 *  - Between operations, JSON whitespace (space, tab, CR, LF) is skipped.
 *  - An operation starts at the first other byte, which must be '{', and
 *    ends at the '}' that closes it; it is handed on whole (bulk_read
 *    checks it strictly, as a request body is checked).
 *  - A '{' that begins a line (the byte after a LF), outside strings,
 *    always starts an operation: an operation still open there is cut
 *    short (a failure, below). So in a stream of one operation per line
 *    (an export) a damaged line never takes the next one with it; an
 *    operation written over several lines must not begin a line with '{'
 *    except its first (no pretty-printer does).
 *  - Every operation, read or not, gets the next operation_index (from 0).
 *  - A top-level byte that is not '{' (a non-object value, stray text), a
 *    syntax error inside an operation (the tokener's, a raw control
 *    character, or the cut above) and the end of the stream inside an
 *    operation are one failure each, api_bad_request with details.info
 *    naming the byte offset. After the first two, reading resumes at the
 *    first '{' that begins a line (the first byte of the stream, or the
 *    byte after a LF), at or after the byte where the error was found;
 *    the bytes before it are covered by that one failure. So objects sent
 *    back to back, without newlines, are one failure from the first syntax
 *    error to the end of the stream.
 *  - An operation longer than bulk_op_max bytes, or nested deeper than the
 *    limits allow (its value past max_depth), is one failure
 *    (request_too_large, or api_bad_request) and is skipped, without being
 *    kept, to the bracket that closes its first '{' (brackets inside
 *    strings are not counted) or to a line that begins with '{', whichever
 *    comes first; reading resumes there. A raw control character met while
 *    skipping is a syntax error as above, without a second failure.
 *
 * bulk_read validates one operation into a typed struct bulk_op (names as
 * the router checks them, the value a JSON object within max_body and
 * max_json_depth); bulk_apply (bulk_apply.c, which needs the store) runs
 * it through items.h, events.h and relations.h; the emitters write the
 * result entries of the response. The forms an operation may take, and
 * what each result looks like, are in docs/api.md, "Bulk".
 */
#ifndef ORCHID_BULK_H
#define ORCHID_BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "domain.h"
#include "evpos.h"
#include "ids.h"

struct arena;
struct bulk_split;
struct json_object;

/* The limits of one operation (from the config). */
struct bulk_limits {
	size_t max_value;  /* max_body: the largest value, as stored */
	int max_depth;     /* max_json_depth: the deepest value */
	size_t max_name;   /* max_name_length: the longest name, in bytes */
};

/* The largest operation text the splitter keeps: max_value plus room for
 * its path, every name escaped at most six bytes a byte. */
size_t bulk_op_max(const struct bulk_limits *l);

/* Why an operation failed: a result entry's "error". */
#define BULK_INFO_LEN 200
struct bulk_fail {
	const char *code;             /* "api_bad_request", "items_not_found", ... */
	const char *message;
	char info[BULK_INFO_LEN];     /* details.info; "" for none */
	const char *nf_coll, *nf_key; /* items_not_found: the missing item */
};

/* One operation as the splitter found it. */
struct bulk_unit {
	size_t index;       /* operation_index */
	uint64_t offset;    /* the stream offset of its first byte */
	bool ok;            /* text holds a whole object; else fail says why */
	const char *text;   /* its bytes, valid only during the call */
	size_t len;
	struct json_object *obj; /* ok: the splitter's json-c parse of text, not
	                          * yet checked strictly (bulk_read_unit does);
	                          * borrowed, valid only during the call */
	struct bulk_fail fail;
};

/* Receives each operation in stream order; 0 to go on, -1 to stop. */
typedef int (*bulk_unit_fn)(void *arg, const struct bulk_unit *u);

/* A new splitter for a stream with these limits; NULL when out of memory.
 * Free it with bulk_split_free. */
struct bulk_split *bulk_split_new(const struct bulk_limits *l);
void bulk_split_free(struct bulk_split *sp);

/*
 * Feeds the next len bytes of the stream; fn gets every operation they
 * complete. Returns 0, or -1 when fn returned -1 (the splitter must not be
 * fed again) or when out of memory.
 */
int bulk_split_feed(struct bulk_split *sp, const char *p, size_t len, bulk_unit_fn fn,
    void *arg);

/* Ends the stream: an operation it ends inside is a failure. 0 or -1 as
 * bulk_split_feed. */
int bulk_split_end(struct bulk_split *sp, bulk_unit_fn fn, void *arg);

/* Bytes the splitter has consumed so far. */
uint64_t bulk_split_offset(const struct bulk_split *sp);

/* BULK_END: {"kind":"end","lines":N}, the last line of an export. It is a
 * marker, not data: applying it writes nothing; whoever reads a whole
 * stream (orchidctl import) checks lines against what came before it. */
enum bulk_kind { BULK_ITEM, BULK_EVENT, BULK_RELATION, BULK_END };

/* One valid operation; strings are NUL-terminated, in the arena. */
struct bulk_op {
	enum bulk_kind kind;
	const char *coll, *key;        /* the item (the source of a relation) */
	const char *type;              /* event type */
	const char *relation;          /* relation kind */
	const char *to_coll, *to_key;  /* the destination of a relation */
	const char *value;             /* canonical JSON object; NULL: tombstone */
	size_t vlen;
	bool tombstone;                /* an item's tombstone version */
	int64_t reftime;               /* 0: the clock's */
	bool has_ts;                   /* events: else the request's time */
	int64_t ts;
	bool has_ord;                  /* events: store at exactly (ts, ord) */
	uint64_t ord;
	int64_t lines;                 /* end: the lines it says came before it */
};

enum bulk_rc {
	BULK_OK,
	BULK_REFUSED,   /* the operation is invalid: fail says why */
	BULK_NOMEM
};

/*
 * Reads and validates the len bytes of one operation into op (its strings
 * in the arena a). BULK_REFUSED fills fail.
 */
enum bulk_rc bulk_read(const struct bulk_limits *l, struct arena *a, const char *text,
    size_t len, struct bulk_op *op, struct bulk_fail *fail);

/*
 * As bulk_read for the text of a whole unit u, reusing the tree the
 * splitter built (u->obj) instead of parsing it again: same result, same
 * refusals. Reads u->text when u->obj is NULL.
 */
enum bulk_rc bulk_read_unit(const struct bulk_limits *l, struct arena *a,
    const struct bulk_unit *u, struct bulk_op *op, struct bulk_fail *fail);

/* What a successful operation wrote. */
struct bulk_done {
	char ref[IDS_REF_LEN + 1];
	int64_t reftime;
	struct evpos pos;   /* events */
};

/*
 * Applies op in d's transaction (d->reftime is set to op's), through the
 * same domain calls as the HTTP handlers. DOM_OK fills done; a refusal
 * (DOM_NOT_FOUND, DOM_TOO_LARGE, ...) fills fail and has written nothing;
 * a fault (DOM_RETRY, DOM_ERR, DOM_PANIC) must abort the transaction. An
 * end line is DOM_OK and touches nothing (callers may skip the
 * transaction).
 */
enum dom_rc bulk_apply(struct dom *d, const struct bulk_op *op, struct bulk_done *done,
    struct bulk_fail *fail);

/* Fills fail for an operation the store was too busy for (deadlocks past
 * the retries). */
void bulk_fail_busy(struct bulk_fail *fail);

/* Appends the result entry of operation index: a success (of an end line:
 * {"operation_index":i,"status":"success","end":{"lines":N}}), or a
 * failure. */
void bulk_emit_success(struct buf *b, size_t index, const struct bulk_op *op,
    const struct bulk_done *done);
void bulk_emit_failure(struct buf *b, size_t index, const struct bulk_fail *fail);

/* At least the bytes either entry of op (NULL: an unread operation) takes. */
size_t bulk_entry_bound(const struct bulk_op *op);

#endif
