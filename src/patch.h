/*
 * patch: Orchestrate's PATCH dialect over json-c values. JSON Patch
 * operations (add, remove, replace, move, copy, test) with Orchestrate's
 * extensions (test with negate or without value, inc, init, append, merge,
 * nested patch with conditional), dotted or JSON-pointer paths, and RFC 7386
 * merge patches. Pure: no I/O.
 *
 * A patch can never make what a PUT could not store: the caller passes the
 * limits a PUT has, and every operation is checked against them before it
 * builds anything large. The work a patch may do is bounded too, so that a
 * patch that fails in the end cannot burn the worker's memory or time first.
 */
#ifndef ORCHID_PATCH_H
#define ORCHID_PATCH_H

#include <stddef.h>

struct json_object;

/*
 * The limits of a PUT, which bound the result of a patch:
 * - max_bytes: the largest canonical (compact, json_canonical()) size of the
 *   document, in bytes: the configuration's max_body. Every step that adds
 *   bytes must keep the document within it, not only the result; its exact
 *   size is tracked as operations add and remove values, so nothing larger
 *   is built first (at most one value already in memory is copied before a
 *   refusal). Nested conditional patches, which run on copies, may hold at
 *   most max_bytes of copies at once.
 * - max_depth: the deepest nesting of the document (max_json_depth; an
 *   object is 1 deep); values larger than 1000 count as 1000.
 * The work a call may do (bytes of values walked, copied, compared; array
 * elements shifted) is at most PATCH_WORK_FACTOR times (max_bytes plus the
 * canonical size of the patch itself).
 */
struct patch_limits {
	size_t	max_bytes;
	int	max_depth;
};

#define PATCH_WORK_FACTOR	8

/*
 * What the HTTP layer answers for each result:
 * - PATCH_BAD_REQUEST: 400 api_bad_request with info as the message.
 * - PATCH_CONFLICT: 409 patch_conflict with details. Besides an operation
 *   that cannot apply (a missing path, a failed test), this is also the
 *   answer when the result would nest deeper than max_depth, and when the
 *   patch runs out of its work budget (details.info says so): both depend
 *   on the stored document as much as on the patch, and details.opIndex
 *   names the operation that hit the limit.
 * - PATCH_TOO_LARGE: 413 request_too_large (the code for a body over
 *   max_body), info as the message: a PUT of the result would get the same.
 * - PATCH_NOMEM: 503, as any allocation failure.
 */
enum patch_rc {
	PATCH_OK,
	PATCH_BAD_REQUEST, /* malformed operation list or unknown op: 400 api_bad_request */
	PATCH_CONFLICT,    /* an operation could not apply (missing path, failed test): 409 patch_conflict */
	PATCH_NOMEM,
	PATCH_TOO_LARGE    /* the document would exceed limits->max_bytes: 413 request_too_large */
};

struct patch_error {
	int op_index;                 /* index of the failing top-level operation, or -1 */
	char info[256];               /* a sentence for details.info / the 400 or 413 message */
	struct json_object *details;  /* new reference: {"op":..,"opIndex":N,"info":"..",...}; release with json_object_put */
};

/*
 * Applies the array of operations ops to the document *doc (a JSON object),
 * atomically: on any failure *doc is left exactly as it was. On success *doc
 * may be replaced by a new object (the old reference is released); its
 * canonical size is at most lim->max_bytes and its depth at most
 * lim->max_depth. On failure err is filled (err->details set for
 * PATCH_CONFLICT). lim must not be NULL.
 */
enum patch_rc patch_apply(struct json_object **doc, struct json_object *ops,
    const struct patch_limits *lim, struct patch_error *err);

/*
 * Applies an RFC 7386 merge patch (a JSON object) to *doc: members set to
 * null are removed, objects merge recursively, anything else replaces. The
 * limits, the atomicity and the results are those of patch_apply; a conflict
 * (work budget, depth) has op_index -1.
 */
enum patch_rc patch_merge(struct json_object **doc, struct json_object *merge,
    const struct patch_limits *lim, struct patch_error *err);

/* Releases err->details; safe to call twice. */
void patch_error_free(struct patch_error *err);

#endif
