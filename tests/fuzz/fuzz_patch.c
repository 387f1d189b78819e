/*
 * fuzz_patch: libFuzzer target for patch_apply and patch_merge.
 *
 * The input is a document and an operation list (or merge patch) as JSON,
 * separated by the first newline. Each is run twice: with roomy limits
 * (2 MiB, depth 1000) and with tight ones derived from the input (around
 * the document's own size, depth 2 to 7), so that the limits are hit and
 * just missed. Whatever happens, nothing may crash or leak, the operations
 * must not change, a failure must leave the document byte for byte as it
 * was, and a success must leave a JSON object whose canonical size is at
 * most max_bytes and whose depth is at most max_depth. (run.sh builds with
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which makes patch.c also check
 * its size accounting to the byte.) Build:
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc src/patch.c \
 *     tests/fuzz/fuzz_patch.c $(pkg-config --cflags --libs json-c)
 */
/* strdup is POSIX; the build may not define _GNU_SOURCE. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct patch_limits roomy = { (size_t)2 << 20, 1000 };

/* abort() rather than assert(), so that NDEBUG cannot turn the checks off. */
static void
require(int cond)
{
	if (!cond)
		abort();
}

/* A NUL-terminated copy of len bytes at s; aborts when out of memory. */
static char *
dup_text(const uint8_t *s, size_t len)
{
	char *t = malloc(len + 1);

	require(t != NULL);
	memcpy(t, s, len);
	t[len] = '\0';
	return t;
}

/* The canonical serialisation of o (json_canonical()'s flags), as a
 * malloc'ed string; *len gets its length. */
static char *
text_of(struct json_object *o, size_t *len)
{
	const char *s = json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
	char *t;

	require(s != NULL);
	t = strdup(s);
	require(t != NULL);
	return t;
}

/* Nesting depth as json_depth() counts it: an object or array is 1. */
static int
depth_of(struct json_object *v)
{
	int d = 0, c;
	size_t n;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, child) {
			(void)key;
			c = depth_of(child);
			d = c > d ? c : d;
		}
		return d + 1;
	}
	if (!json_object_is_type(v, json_type_array))
		return 0;
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		c = depth_of(json_object_array_get_idx(v, i));
		d = c > d ? c : d;
	}
	return d + 1;
}

/*
 * Checks the outcome of one call: err against rc, the document against rc
 * and lim. A conflict names an operation, except for a merge patch, a
 * document that is not an object or one already deeper than the limit.
 */
static void
check_outcome(enum patch_rc rc, struct patch_error *err,
    struct json_object *doc, const char *before, bool merge,
    const struct patch_limits *lim, int depth_before)
{
	size_t len;
	char *after = text_of(doc, &len);

	require(rc == PATCH_OK || rc == PATCH_BAD_REQUEST ||
	    rc == PATCH_CONFLICT || rc == PATCH_NOMEM ||
	    rc == PATCH_TOO_LARGE);
	if (rc == PATCH_OK) {
		require(json_object_is_type(doc, json_type_object));
		require(err->details == NULL);
		require(len <= lim->max_bytes);
		require(depth_of(doc) <= lim->max_depth);
	} else {
		require(strcmp(before, after) == 0);
		require(err->info[0] != '\0');
		require((err->details != NULL) == (rc == PATCH_CONFLICT));
		require(rc != PATCH_CONFLICT || err->op_index >= 0 || merge ||
		    depth_before > lim->max_depth ||
		    !json_object_is_type(doc, json_type_object));
	}
	patch_error_free(err);
	patch_error_free(err);
	free(after);
}

/* Runs fn(&copy of doc, ops) and checks it; ops must come back unchanged. */
static void
run(struct json_object *doc, struct json_object *ops, bool merge,
    const struct patch_limits *lim)
{
	struct json_object *work = NULL;
	struct patch_error err;
	char *before, *ops_before, *ops_after;
	size_t len;
	enum patch_rc rc;

	if (json_object_deep_copy(doc, &work, NULL) != 0)
		return;
	before = text_of(work, &len);
	ops_before = text_of(ops, &len);
	rc = merge ? patch_merge(&work, ops, lim, &err) :
	    patch_apply(&work, ops, lim, &err);
	check_outcome(rc, &err, work, before, merge, lim, depth_of(doc));
	ops_after = text_of(ops, &len);
	require(strcmp(ops_before, ops_after) == 0);
	free(ops_after);
	free(ops_before);
	free(before);
	json_object_put(work);
}

/* Runs ops on doc as a patch, and as a merge patch if it is an object. */
static void
run_both(struct json_object *doc, struct json_object *ops,
    const struct patch_limits *lim)
{
	run(doc, ops, false, lim);
	if (json_object_is_type(ops, json_type_object))
		run(doc, ops, true, lim);
}

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	struct json_object *doc, *ops;
	struct patch_limits tight;
	char *doc_text, *ops_text;
	size_t len = 0;

	if (nl == NULL)
		return 0;
	doc_text = dup_text(data, (size_t)(nl - data));
	ops_text = dup_text(nl + 1, size - (size_t)(nl - data) - 1);
	doc = json_tokener_parse(doc_text);
	ops = json_tokener_parse(ops_text);
	if (doc != NULL && ops != NULL) {
		run_both(doc, ops, &roomy);
		/* From 16 bytes below the document's size to 80 above. */
		free(text_of(doc, &len));
		len += size % 97;
		tight.max_bytes = len > 16 ? len - 16 : 0;
		tight.max_depth = 2 + (int)(size % 6);
		run_both(doc, ops, &tight);
	}
	json_object_put(doc);
	json_object_put(ops);
	free(doc_text);
	free(ops_text);
	return 0;
}
