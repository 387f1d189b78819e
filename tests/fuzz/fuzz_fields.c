/*
 * fuzz_fields: libFuzzer target for fields_compile and fields_apply.
 *
 * The input is three newline-separated parts: the with_fields list, the
 * without_fields list and a JSON value. A part that is exactly "-" is an
 * absent parameter (so "-" itself cannot be fuzzed as a name; any other
 * byte string can). Whatever happens, nothing may crash or leak, and:
 * - a refused list comes with a message that is non-empty valid UTF-8 (it
 *   goes into a JSON error body) and no filter; an accepted one with a
 *   filter that is empty exactly when both parameters are absent;
 * - applying succeeds and leaves the value byte for byte as it was;
 * - with_fields alone gives a fixed point (applying it to its own result
 *   changes nothing), and so does without_fields alone;
 * - both lists at once give what with_fields, then without_fields, give;
 * - on an object, without_fields listing every top-level member it can name
 *   (at most FIELDS_MAX_PATHS) leaves exactly the others (so {} when all
 *   can be named), and with_fields listing them gives exactly those.
 * Build (see run.sh):
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_fields.c src/fields.c src/util.c \
 *     $(pkg-config --cflags --libs json-c)
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

#include "fields.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* The compact serialisation of o, as a malloc'ed string. */
static char *
text_of(struct json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	require(s != NULL);
	return s;
}

/* fields_apply(f, in) as a new reference; the input must not change. */
static struct json_object *
apply(const struct fields_filter *f, struct json_object *in)
{
	struct json_object *out = NULL;
	char *before = text_of(in), *after;

	require(fields_apply(f, in, &out) == FIELDS_OK);
	after = text_of(in);
	require(strcmp(before, after) == 0);
	free(after);
	free(before);
	return out;
}

/* Compiles one pair of lists, checking the outcome; NULL when refused. */
static struct fields_filter *
compile(const char *with, size_t wl, const char *without, size_t xl)
{
	struct fields_filter *f = (struct fields_filter *)&f;
	char err[FIELDS_ERR_LEN];
	enum fields_rc rc;

	memset(err, 0, sizeof(err));
	rc = fields_compile(with, wl, without, xl, &f, err, sizeof(err));
	require(rc == FIELDS_OK || rc == FIELDS_BAD || rc == FIELDS_NOMEM);
	if (rc != FIELDS_OK) {
		require(f == NULL);
		require(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
		require(util_utf8_valid(err, strlen(err)));
		return NULL;
	}
	require(f != NULL);
	require(fields_is_empty(f) == (with == NULL && without == NULL));
	return f;
}

/* a and b serialise the same; both references are dropped. */
static void
require_same(struct json_object *a, struct json_object *b)
{
	char *ta = text_of(a), *tb = text_of(b);

	require(strcmp(ta, tb) == 0);
	free(ta);
	free(tb);
	json_object_put(a);
	json_object_put(b);
}

/* Applying f to its own result changes nothing. */
static void
check_fixed_point(const struct fields_filter *f, struct json_object *doc)
{
	struct json_object *once = apply(f, doc);

	require_same(apply(f, once), once);
}

/* Both lists at once equal with_fields, then without_fields. */
static void
check_in_turn(const struct fields_filter *both, const char *with, size_t wl,
    const char *without, size_t xl, struct json_object *doc)
{
	struct fields_filter *fw = compile(with, wl, NULL, 0);
	struct fields_filter *fx = compile(NULL, 0, without, xl);
	struct json_object *mid;

	require(fw != NULL && fx != NULL);
	mid = apply(fw, doc);
	require_same(apply(both, doc), apply(fx, mid));
	json_object_put(mid);
	fields_free(fx);
	fields_free(fw);
}

/* A member name a list can hold: non-empty text without '.' or ','. */
static bool
nameable(const char *k)
{
	size_t len = strlen(k);

	return len > 0 && len <= FIELDS_MAX_PATH_LEN && strpbrk(k, ".,") == NULL &&
	    util_utf8_valid(k, len);
}

/*
 * Lists the nameable top-level members of the object doc (at most
 * FIELDS_MAX_PATHS), then checks that without_fields of that list removes
 * exactly them and with_fields of it keeps exactly them.
 */
static void
check_top_level(struct json_object *doc)
{
	size_t cap = 1, len = 0, n = 0;
	struct fields_filter *fx, *fw;
	struct json_object *gone, *kept;
	char *list;

	json_object_object_foreach(doc, k0, v0) {
		(void)v0;
		cap += strlen(k0) + 1;
	}
	require((list = malloc(cap)) != NULL);
	json_object_object_foreach(doc, k, v) {
		(void)v;
		if (n == FIELDS_MAX_PATHS || !nameable(k))
			continue;
		if (n++ > 0)
			list[len++] = ',';
		memcpy(list + len, k, strlen(k));
		len += strlen(k);
	}
	if (n == 0) {
		free(list);
		return;
	}
	fx = compile(NULL, 0, list, len);
	fw = compile(list, len, NULL, 0);
	require(fx != NULL && fw != NULL);
	gone = apply(fx, doc);
	kept = apply(fw, doc);
	require(json_object_object_length(gone) + json_object_object_length(kept) ==
	    json_object_object_length(doc));
	json_object_object_foreach(doc, key, val) {
		struct json_object *g = NULL, *w = NULL;
		bool in_gone = json_object_object_get_ex(gone, key, &g);
		bool in_kept = json_object_object_get_ex(kept, key, &w);

		require(in_gone != in_kept);
		require(json_object_equal(in_gone ? g : w, val));
	}
	json_object_put(kept);
	json_object_put(gone);
	fields_free(fw);
	fields_free(fx);
	free(list);
}

/* Splits off the part of data up to the next newline (or the end). */
static const uint8_t *
next_part(const uint8_t **data, size_t *size, size_t *len)
{
	const uint8_t *p = *data, *nl = memchr(p, '\n', *size);

	*len = nl != NULL ? (size_t)(nl - p) : *size;
	*data = nl != NULL ? nl + 1 : p + *size;
	*size -= nl != NULL ? *len + 1 : *len;
	return p;
}

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t wl, xl;
	const uint8_t *w = next_part(&data, &size, &wl);
	const uint8_t *x = next_part(&data, &size, &xl);
	bool has_with = !(wl == 1 && w[0] == '-');
	bool has_without = !(xl == 1 && x[0] == '-');
	char *with = dup_text(w, wl), *without = dup_text(x, xl);
	char *doc_text = dup_text(data, size);	/* the rest, newlines and all */
	struct json_object *doc = json_tokener_parse(doc_text);
	struct fields_filter *f;

	f = compile(has_with ? with : NULL, wl, has_without ? without : NULL, xl);
	if (f != NULL && doc != NULL) {
		json_object_put(apply(f, doc));
		if (!has_with || !has_without)
			check_fixed_point(f, doc);
		else
			check_in_turn(f, with, wl, without, xl, doc);
	}
	if (doc != NULL && json_object_is_type(doc, json_type_object))
		check_top_level(doc);
	fields_free(f);
	json_object_put(doc);
	free(doc_text);
	free(without);
	free(with);
	return 0;
}
