/*
 * fuzz_patch: libFuzzer target for patch_apply and patch_merge.
 *
 * The input is a document and an operation list (or merge patch) as JSON,
 * separated by the first newline. Whatever happens, nothing may crash or
 * leak, the operations must not change, a failure must leave the document
 * byte for byte as it was, and a success must leave a JSON object. Build:
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc src/patch.c \
 *     tests/fuzz/fuzz_patch.c $(pkg-config --cflags --libs json-c)
 */
/* strdup is POSIX; the build may not define _GNU_SOURCE. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

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

/* A new reference to the plain serialisation of o, as a malloc'ed string. */
static char *
text_of(struct json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));

	require(s != NULL);
	return s;
}

/* Checks the outcome of one call: err against rc, the document against rc. */
static void
check_outcome(enum patch_rc rc, struct patch_error *err,
    struct json_object *doc, const char *before)
{
	char *after = text_of(doc);

	require(rc == PATCH_OK || rc == PATCH_BAD_REQUEST ||
	    rc == PATCH_CONFLICT || rc == PATCH_NOMEM ||
	    rc == PATCH_TOO_LARGE);
	if (rc == PATCH_OK) {
		require(json_object_is_type(doc, json_type_object));
		require(err->details == NULL);
	} else {
		require(strcmp(before, after) == 0);
		require(err->info[0] != '\0');
		require((err->details != NULL) == (rc == PATCH_CONFLICT));
		require(rc != PATCH_CONFLICT || err->op_index >= 0 ||
		    !json_object_is_type(doc, json_type_object));
	}
	patch_error_free(err);
	patch_error_free(err);
	free(after);
}

/* Runs fn(&copy of doc, ops) and checks it; ops must come back unchanged. */
static void
run(struct json_object *doc, struct json_object *ops, int merge)
{
	struct json_object *work = NULL;
	struct patch_error err;
	char *before, *ops_before, *ops_after;
	enum patch_rc rc;

	if (json_object_deep_copy(doc, &work, NULL) != 0)
		return;
	before = text_of(work);
	ops_before = text_of(ops);
	rc = merge ? patch_merge(&work, ops, &roomy, &err) :
	    patch_apply(&work, ops, &roomy, &err);
	check_outcome(rc, &err, work, before);
	ops_after = text_of(ops);
	require(strcmp(ops_before, ops_after) == 0);
	free(ops_after);
	free(ops_before);
	free(before);
	json_object_put(work);
}

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	struct json_object *doc, *ops;
	char *doc_text, *ops_text;

	if (nl == NULL)
		return 0;
	doc_text = dup_text(data, (size_t)(nl - data));
	ops_text = dup_text(nl + 1, size - (size_t)(nl - data) - 1);
	doc = json_tokener_parse(doc_text);
	ops = json_tokener_parse(ops_text);
	if (doc != NULL && ops != NULL) {
		run(doc, ops, 0);
		if (json_object_is_type(ops, json_type_object))
			run(doc, ops, 1);
	}
	json_object_put(doc);
	json_object_put(ops);
	free(doc_text);
	free(ops_text);
	return 0;
}
