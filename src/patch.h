/*
 * patch: Orchestrate's PATCH dialect over json-c values. JSON Patch
 * operations (add, remove, replace, move, copy, test) with Orchestrate's
 * extensions (test with negate or without value, inc, init, append, merge,
 * nested patch with conditional), dotted or JSON-pointer paths, and RFC 7386
 * merge patches. Pure: no I/O.
 */
#ifndef ORCHID_PATCH_H
#define ORCHID_PATCH_H

struct json_object;

enum patch_rc {
	PATCH_OK,
	PATCH_BAD_REQUEST, /* malformed operation list or unknown op: 400 api_bad_request */
	PATCH_CONFLICT,    /* an operation could not apply (missing path, failed test): 409 patch_conflict */
	PATCH_NOMEM
};

struct patch_error {
	int op_index;                 /* index of the failing top-level operation, or -1 */
	char info[256];               /* a sentence for details.info / the 400 message */
	struct json_object *details;  /* new reference: {"op":..,"opIndex":N,"info":"..",...}; release with json_object_put */
};

/*
 * Applies the array of operations ops to the document *doc (a JSON object),
 * atomically: on any failure *doc is left exactly as it was. On success *doc
 * may be replaced by a new object (the old reference is released). On failure
 * err is filled (err->details set for PATCH_CONFLICT).
 */
enum patch_rc patch_apply(struct json_object **doc, struct json_object *ops,
    struct patch_error *err);

/*
 * Applies an RFC 7386 merge patch (a JSON object) to *doc: members set to
 * null are removed, objects merge recursively, anything else replaces.
 */
enum patch_rc patch_merge(struct json_object **doc, struct json_object *merge,
    struct patch_error *err);

/* Releases err->details; safe to call twice. */
void patch_error_free(struct patch_error *err);

#endif
