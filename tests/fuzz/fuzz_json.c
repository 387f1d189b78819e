/*
 * fuzz_json: libFuzzer target for json_parse_object, json_parse_patch,
 * json_canonical, json_depth and json_emit_string.
 *
 * The input is a request body, parsed with a depth limit of 64. Whatever
 * happens, nothing may crash or leak; a refusal must come with a reason and
 * no object. An accepted body has the right top-level type and its canonical
 * form is valid UTF-8, parses again to JSON_OK and serialises to the very same
 * string (a stored document never changes when read back and written again).
 * Independently, json_emit_string of valid UTF-8 input must give a JSON
 * string literal that parses back to the same bytes. Build (see run.sh):
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_json.c src/json.c src/buf.c src/util.c \
 *     $(pkg-config --cflags --libs json-c) -lm
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "fuzz.h"
#include "json.h"

#define MAX_DEPTH 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The canonical text of an accepted value is a fixed point. */
static void
check_roundtrip(struct json_object *o, bool arrays)
{
	struct json_object *again = NULL;
	const char *text, *text2, *why = NULL;
	size_t len, len2;
	char *copy;
	enum json_rc rc;

	require(json_object_is_type(o, json_type_object) ||
	    (arrays && json_object_is_type(o, json_type_array)));
	text = json_canonical(o, &len);
	require(text != NULL);
	require(strlen(text) == len);
	require(util_utf8_valid(text, len));
	require(json_depth(text, len) <= MAX_DEPTH);
	copy = fuzz_strndup(text, len);
	rc = arrays ? json_parse_patch(copy, len, MAX_DEPTH, &again, &why)
		    : json_parse_object(copy, len, MAX_DEPTH, &again, &why);
	require(rc == JSON_OK && again != NULL);
	text2 = json_canonical(again, &len2);
	require(text2 != NULL);
	require(len2 == len && memcmp(text2, copy, len) == 0);
	json_release(again);
	free(copy);
}

/* One parser on the input: the outcome is consistent, and OK round-trips. */
static void
check_parse(const uint8_t *data, size_t size, bool arrays)
{
	struct json_object *o = (struct json_object *)&o; /* must be reset */
	const char *why = NULL;
	enum json_rc rc;

	rc = arrays ? json_parse_patch((const char *)data, size, MAX_DEPTH, &o, &why)
		    : json_parse_object((const char *)data, size, MAX_DEPTH, &o, &why);
	require(rc >= JSON_OK && rc <= JSON_NOMEM);
	if (rc != JSON_OK) {
		require(o == NULL && why != NULL);
		return;
	}
	require(o != NULL);
	check_roundtrip(o, arrays);
	json_release(o);
}

/* json_emit_string writes a literal that json-c reads back byte for byte. */
static void
check_emit(const uint8_t *data, size_t size)
{
	struct json_object *o = NULL, *v = NULL;
	const char *why = NULL;
	struct buf b;

	if (!util_utf8_valid((const char *)data, size))
		return;
	buf_init(&b, 0);
	require(buf_adds(&b, "{\"k\":") == 0);
	require(json_emit_string(&b, (const char *)data, size) == 0);
	require(buf_addc(&b, '}') == 0);
	require(json_parse_object(b.b_data, b.b_len, MAX_DEPTH, &o, &why) == JSON_OK);
	require(json_object_object_get_ex(o, "k", &v));
	require(json_object_is_type(v, json_type_string));
	require((size_t)json_object_get_string_len(v) == size);
	require(memcmp(json_object_get_string(v), data, size) == 0);
	json_release(o);
	buf_free(&b);
}

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)json_depth((const char *)data, size);
	check_parse(data, size, false);
	check_parse(data, size, true);
	check_emit(data, size);
	return 0;
}
