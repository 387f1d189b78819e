/*
 * check_bulk: unit tests for src/bulk.h: the splitter (whitespace or none
 * between objects, truncated and malformed operations and where reading
 * resumes, non-object values, operations over the size and depth limits,
 * every stream also fed byte by byte and in 7-byte chunks, which must not
 * change anything), the reader (the forms of an operation and every way
 * one is refused), bulk_apply over a real Berkeley DB environment
 * (reftimes kept, tombstones, events at exact ordinals, relations with
 * missing endpoints; an export's end line writes nothing), the result
 * entries and their bound, and the config settings of bulk.
 *
 * The limits of the pure tests are small: values of 64 bytes, 3 levels,
 * names of 16 bytes.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "bulk.h"
#include "collections.h"
#include "config.h"
#include "events.h"
#include "items.h"
#include "relations.h"
#include "testdom.h"
#include "timefmt.h"

static const struct bulk_limits LIM = { 64, 3, 16 };

/* ---- the splitter ---------------------------------------------------------- */

/* What the splitter handed on: "text" for an operation, "!code" for a
 * failure, joined by '|'; the infos of the failures joined by '|'. */
struct got {
	char units[8192];
	char infos[4096];
	size_t n;
	uint64_t offsets[64];
	int stop_at;    /* return -1 from the call numbered stop_at (from 1) */
};

static void
add(char *dst, size_t size, const char *s, size_t len)
{
	size_t cur = strlen(dst);

	ck_assert_msg(cur + len + 2 < size, "recording units: got more than %zu bytes, "
	    "want fewer", size);
	if (cur > 0)
		dst[cur++] = '|';
	memcpy(dst + cur, s, len);
	dst[cur + len] = '\0';
}

static int
record(void *arg, const struct bulk_unit *u)
{
	struct got *g = arg;

	ck_assert_msg(u->index == g->n, "operation_index: got %zu, want %zu", u->index, g->n);
	if (g->n < 64)
		g->offsets[g->n] = u->offset;
	g->n++;
	if (u->ok) {
		add(g->units, sizeof(g->units), u->text, u->len);
	} else {
		char code[64];

		snprintf(code, sizeof(code), "!%s", u->fail.code);
		add(g->units, sizeof(g->units), code, strlen(code));
		add(g->infos, sizeof(g->infos), u->fail.info, strlen(u->fail.info));
	}
	return (int)g->n == g->stop_at ? -1 : 0;
}

/* Splits the len bytes of in, fed chunk bytes at a time (0: at once). */
static int
split(const char *in, size_t len, size_t chunk, const struct bulk_limits *l,
    struct got *g)
{
	struct bulk_split *sp = bulk_split_new(l);
	int rc = 0;

	ck_assert_msg(sp != NULL, "bulk_split_new: got NULL, want a splitter");
	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	for (size_t i = 0; i < len && rc == 0; i += chunk)
		rc = bulk_split_feed(sp, in + i, len - i < chunk ? len - i : chunk, record, g);
	if (rc == 0)
		rc = bulk_split_end(sp, record, g);
	if (rc == 0)
		ck_assert_msg(bulk_split_offset(sp) == len, "offset after the stream: got %"
		    PRIu64 ", want %zu", bulk_split_offset(sp), len);
	bulk_split_free(sp);
	return rc;
}

struct split_case {
	const char *name;
	const char *in;
	size_t len;          /* 0: strlen(in) */
	const char *want;    /* units, as struct got records them */
	const char *info;    /* a substring of the failures' infos, or NULL */
};

#define NL "\n"

static const struct split_case split_cases[] = {
	/* core: the separators */
	{ "an export with its end line", "{\"a\":1}" NL "{\"kind\":\"end\",\"lines\":1}" NL, 0,
	  "{\"a\":1}|{\"kind\":\"end\",\"lines\":1}", NULL },
	{ "lines", "{\"a\":1}" NL "{\"b\":2}" NL, 0, "{\"a\":1}|{\"b\":2}", NULL },
	{ "back to back", "{\"a\":1}{\"b\":2}{}", 0, "{\"a\":1}|{\"b\":2}|{}", NULL },
	{ "any whitespace", " \t\r\n{\"a\":1} \r\n\t {\"b\":[1,{\"c\":\"}\"}]}  ", 0,
	  "{\"a\":1}|{\"b\":[1,{\"c\":\"}\"}]}", NULL },
	{ "CRLF", "{\"a\":1}\r\n{\"b\":2}\r\n", 0, "{\"a\":1}|{\"b\":2}", NULL },
	{ "braces and escapes in strings", "{\"a\":\"}{\\\"}[\"}{\"b\":\"\\\\\"}", 0,
	  "{\"a\":\"}{\\\"}[\"}|{\"b\":\"\\\\\"}", NULL },
	{ "pretty-printed", "{\n  \"a\": {\n    \"b\": 1\n  }\n}\n{\n}\n", 0,
	  "{\n  \"a\": {\n    \"b\": 1\n  }\n}|{\n}", NULL },
	{ "unicode", "{\"k\":\"\xc3\xa9\xf0\x9f\x98\x80\"}", 0,
	  "{\"k\":\"\xc3\xa9\xf0\x9f\x98\x80\"}", NULL },
	{ "empty stream", "", 0, "", NULL },
	{ "whitespace only", " \n\r\n\t ", 0, "", NULL },
	/* json-c takes single quotes; the reader refuses them (strictly). */
	{ "lenient for the reader to refuse", "{'a':1}" NL "{\"b\":2}", 0,
	  "{'a':1}|{\"b\":2}", NULL },
	/* errors: where reading resumes */
	{ "truncated at the end", "{\"a\":1}" NL "{\"b\":", 0,
	  "{\"a\":1}|!api_bad_request", "stream ends inside the operation at byte 8" },
	{ "truncated line, next line read", "{\"a\":1" NL "{\"b\":2}" NL, 0,
	  "!api_bad_request|{\"b\":2}", "cut short by a line that begins with '{' at "
	  "byte 7" },
	{ "a syntax error, next line read", "{\"a\":1 \"b\":2}" NL "{\"c\":3}" NL, 0,
	  "!api_bad_request|{\"c\":3}", "separator ',' expected at byte 7" },
	{ "truncated line before a line it could take as its value",
	  "{\"a\":" NL "{\"b\":1}" NL "{\"c\":2}" NL, 0,
	  "!api_bad_request|{\"b\":1}|{\"c\":2}", "cut short by a line that begins with "
	  "'{' at byte 6" },
	{ "a line that begins with { inside an object", "{\"a\":[" NL "{\"b\":1}]}" NL
	  "{\"c\":2}", 0, "!api_bad_request|{\"b\":1}|!api_bad_request|{\"c\":2}",
	  "at byte 7" },
	{ "a line that begins with { inside a string is an error anyway",
	  "{\"a\":\"" NL "{\"}" NL "{\"c\":2}", 0, "!api_bad_request|!api_bad_request|"
	  "{\"c\":2}", "raw control character at byte 6" },
	{ "a { after spaces does not cut", "{\"a\":" NL "  {\"b\":1}}" NL "{\"c\":2}", 0,
	  "{\"a\":" NL "  {\"b\":1}}|{\"c\":2}", NULL },
	{ "a truncated line in a stream of lines", "{\"a\":1}" NL "{\"b\":{\"x\"" NL
	  "{\"c\":3}" NL, 0, "{\"a\":1}|!api_bad_request|{\"c\":3}", NULL },
	{ "syntax error back to back: the rest is one failure",
	  "{\"a\" 1}{\"b\":2}{\"c\":3}", 0, "!api_bad_request", "':' expected at byte 5" },
	{ "syntax error, resume at the next line",
	  "{\"a\" 1}{\"b\":2}" NL "{\"c\":3}", 0, "!api_bad_request|{\"c\":3}", NULL },
	/* json-c takes a '-' that begins the second part of a number split
	 * across two calls: numbers are never split, so chunks of 1 and 7 bytes
	 * see the error too. */
	{ "a '-' inside a number", "{\"a\":12-34}{\"b\":1}", 0, "!api_bad_request",
	  "number expected at byte 7" },
	{ "a '-' inside a number, then a line", "{\"a\":12-34,\"c\":true}" NL "{\"b\":1}",
	  0, "!api_bad_request|{\"b\":1}", NULL },
	{ "mismatched bracket", "{\"a\":[1}" NL "{\"b\":2}", 0,
	  "!api_bad_request|{\"b\":2}", "at byte 7" },
	{ "closes with the wrong bracket", "{\"a\":1]" NL "{\"b\":2}", 0,
	  "!api_bad_request|{\"b\":2}", NULL },
	{ "a comment", "{\"a\":1 /* } */}" NL "{\"b\":2}", 0, "!api_bad_request|{\"b\":2}",
	  NULL },
	{ "garbage after an object on its line", "{\"a\":1} x" NL "{\"b\":2}", 0,
	  "{\"a\":1}|!api_bad_request|{\"b\":2}", "must be a JSON object (byte 8)" },
	{ "lines that do not begin with { are skipped",
	  "{\"a\" 1}" NL "  {\"b\":2}" NL "x" NL NL "{\"c\":3}", 0,
	  "!api_bad_request|{\"c\":3}", NULL },
	/* errors: not objects */
	{ "an array", "[1,2]" NL "{\"a\":1}", 0, "!api_bad_request|{\"a\":1}",
	  "must be a JSON object (byte 0)" },
	{ "a number then an object on its line", "42 {\"a\":1}", 0, "!api_bad_request",
	  NULL },
	{ "a string", "\"x\"" NL "{\"a\":1}", 0, "!api_bad_request|{\"a\":1}", NULL },
	{ "a stray closing brace", "}" NL "{\"a\":1}", 0, "!api_bad_request|{\"a\":1}", NULL },
	{ "null", "null", 0, "!api_bad_request", NULL },
	/* errors: control characters */
	{ "a raw newline in a string", "{\"a\":\"x" NL "y\"}" NL "{\"b\":1}", 0,
	  "!api_bad_request|{\"b\":1}", "raw control character at byte 7" },
	{ "a NUL between objects", "{\"a\":1}\0{\"b\":2}" NL "{\"c\":3}", 23,
	  "{\"a\":1}|!api_bad_request|{\"c\":3}", NULL },
	{ "a NUL inside an object", "{\"a\":\0}" NL "{\"c\":3}", 15,
	  "!api_bad_request|{\"c\":3}", "at byte 5" },
	{ "a raw tab in a string", "{\"a\":\"\t\"}", 0, "!api_bad_request", NULL },
	/* limits (max_depth 3: an operation nests at most 4 levels) */
	{ "deepest allowed", "{\"value\":{\"a\":{\"b\":[1]}}}", 0,
	  "{\"value\":{\"a\":{\"b\":[1]}}}", NULL },
	{ "too deep, skipped to its end", "{\"value\":{\"a\":{\"b\":[[1]]}}}{\"c\":3}", 0,
	  "!api_bad_request|{\"c\":3}", "nested deeper than max_json_depth" },
	{ "too deep and brackets in strings", "{\"v\":[[[[\"]]]]}\"]]]]}" NL "{\"c\":3}", 0,
	  "!api_bad_request|{\"c\":3}", NULL },
	{ "too deep and a control character", "{\"v\":[[[[\"\x01\"]]]]}{\"a\":1}" NL
	  "{\"c\":3}", 0, "!api_bad_request|{\"c\":3}", NULL },
	{ "too deep to the end", "{\"v\":[[[[[[[[[[[[[[[[", 0, "!api_bad_request", NULL },
	{ "too deep and truncated, then a line", "{\"v\":[[[[[[[[" NL "{\"c\":3}", 0,
	  "!api_bad_request|{\"c\":3}", NULL },
	{ "lines of {", "{" NL "{" NL "{" NL "{\"c\":3}", 0, "!api_bad_request|"
	  "!api_bad_request|!api_bad_request|{\"c\":3}", NULL },
};

static void
check_split(const struct split_case *c, size_t chunk)
{
	struct got g;
	size_t len = c->len ? c->len : strlen(c->in);
	int rc;

	memset(&g, 0, sizeof(g));
	rc = split(c->in, len, chunk, &LIM, &g);
	ck_assert_msg(rc == 0, "%s (chunks of %zu): got %d, want 0", c->name, chunk, rc);
	ck_assert_msg(strcmp(g.units, c->want) == 0, "%s (chunks of %zu): got units [%s], "
	    "want [%s]", c->name, chunk, g.units, c->want);
	if (c->info != NULL)
		ck_assert_msg(strstr(g.infos, c->info) != NULL, "%s (chunks of %zu): got "
		    "infos [%s], want one holding \"%s\"", c->name, chunk, g.infos, c->info);
}

START_TEST(test_split)
{
	const struct split_case *c = &split_cases[_i];

	check_split(c, 0);
	check_split(c, 1);
	check_split(c, 7);
}
END_TEST

/* Every unit's offset is the stream offset of its first byte. */
START_TEST(test_split_offsets)
{
	static const char in[] = "  {\"a\":1}\n[2]\n{\"b\":2}{\"c\":";
	static const uint64_t want[] = { 2, 10, 14, 21 };
	struct got g;

	memset(&g, 0, sizeof(g));
	ck_assert_msg(split(in, strlen(in), 3, &LIM, &g) == 0, "split: got -1, want 0");
	ck_assert_msg(g.n == 4, "units: got %zu, want 4 (%s)", g.n, g.units);
	for (size_t i = 0; i < 4; i++)
		ck_assert_msg(g.offsets[i] == want[i], "offset of unit %zu: got %" PRIu64
		    ", want %" PRIu64, i, g.offsets[i], want[i]);
}
END_TEST

/* A callback that returns -1 stops the splitter at once. */
START_TEST(test_split_stop)
{
	static const char in[] = "{\"a\":1}{\"b\":2}{\"c\":3}";
	struct got g;

	memset(&g, 0, sizeof(g));
	g.stop_at = 2;
	ck_assert_msg(split(in, strlen(in), 0, &LIM, &g) == -1, "stopped split: got 0, "
	    "want -1");
	ck_assert_msg(g.n == 2, "units before the stop: got %zu, want 2", g.n);
}
END_TEST

/* Operations around op_max, fed whole and byte by byte: at most op_max
 * bytes are kept; a longer one is one failure, skipped to its end. */
START_TEST(test_split_size)
{
	size_t max = bulk_op_max(&LIM), n = max + 64;
	char *in = malloc(2 * n + 32);
	static const size_t chunks[] = { 0, 1, 4096 };

	ck_assert_msg(in != NULL, "malloc: got NULL");
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		for (int over = 0; over <= 1; over++) {
			size_t len = max + (size_t)over;
			struct got g;

			/* {"v":"xxx...x"} of exactly len bytes, then {"c":3}. */
			memcpy(in, "{\"v\":\"", 6);
			memset(in + 6, 'x', len - 8);
			memcpy(in + len - 2, "\"}", 2);
			memcpy(in + len, "{\"c\":3}", 7);
			memset(&g, 0, sizeof(g));
			ck_assert_msg(split(in, len + 7, chunks[k], &LIM, &g) == 0, "split");
			ck_assert_msg(g.n == 2, "%zu bytes: got %zu units, want 2", len, g.n);
			if (over)
				ck_assert_msg(strncmp(g.units, "!request_too_large|{\"c\":3}", 40) ==
				    0, "%zu bytes (op_max %zu): got [%.60s], want a too large "
				    "failure and {\"c\":3}", len, max, g.units);
			else
				ck_assert_msg(strncmp(g.units, "{\"v\":\"xxx", 9) == 0 &&
				    strcmp(g.units + len, "|{\"c\":3}") == 0, "%zu bytes "
				    "(op_max %zu): got [%.60s...], want the whole operation", len,
				    max, g.units);
		}
	}
	free(in);
}
END_TEST

/* A hostile stream: a million brackets, never closed, in constant memory. */
START_TEST(test_split_hostile_nesting)
{
	size_t n = 1000000;
	char *in = malloc(n + 8);
	struct got g;

	ck_assert_msg(in != NULL, "malloc: got NULL");
	memcpy(in, "{\"v\":", 5);
	memset(in + 5, '[', n);
	memset(&g, 0, sizeof(g));
	ck_assert_msg(split(in, n + 5, 65536, &LIM, &g) == 0, "split");
	ck_assert_msg(strcmp(g.units, "!api_bad_request") == 0, "got [%s], want one "
	    "failure", g.units);
	free(in);
}
END_TEST

/* ---- the reader ------------------------------------------------------------ */

struct read_case {
	const char *name;
	const char *in;
	enum bulk_rc want;
	/* BULK_OK: the op as "kind coll/key/type/relation/to_coll/to_key value
	 * tomb reftime ts ord" (- for absent); BULK_REFUSED: "code: info". */
	const char *op;
};

#define PI "\"path\":{\"collection\":\"c\",\"key\":\"k\""
#define PE "\"path\":{\"collection\":\"c\",\"key\":\"k\",\"type\":\"t\""
/* With {"a":"..."} around it, a value of 64 bytes. */
#define D56 "01234567890123456789012345678901234567890123456789012345"
#define REL "\"source\":{\"collection\":\"a\",\"key\":\"1\"},\"destination\":" \
	    "{\"collection\":\"b\",\"key\":\"2\"},\"relation\":\"likes\""

static const struct read_case read_cases[] = {
	/* items */
	{ "item", "{" PI ",\"kind\":\"item\"},\"value\":{\"a\":1}}", BULK_OK,
	  "item c/k/-/-/-/- {\"a\":1} 0 0 - -" },
	{ "kind at the top", "{\"kind\":\"item\"," PI "},\"value\":{}}", BULK_OK,
	  "item c/k/-/-/-/- {} 0 0 - -" },
	{ "no kind: an item", "{" PI "},\"value\":{}}", BULK_OK,
	  "item c/k/-/-/-/- {} 0 0 - -" },
	{ "an export's item", "{\"kind\":\"item\"," PI ",\"kind\":\"item\",\"ref\":"
	  "\"0123456789abcdef\",\"reftime\":1411421154598},\"value\":{\"a\":1},"
	  "\"reftime\":1411421154598}", BULK_OK,
	  "item c/k/-/-/-/- {\"a\":1} 0 1411421154598 - -" },
	{ "reftime in path only", "{" PI ",\"reftime\":5},\"value\":{}}", BULK_OK,
	  "item c/k/-/-/-/- {} 0 5 - -" },
	{ "a tombstone", "{\"kind\":\"item\"," PI ",\"kind\":\"item\",\"tombstone\":true,"
	  "\"reftime\":7},\"reftime\":7}", BULK_OK, "item c/k/-/-/-/- - 1 7 - -" },
	{ "a tombstone with value null", "{" PI ",\"tombstone\":true},\"value\":null}",
	  BULK_OK, "item c/k/-/-/-/- - 1 0 - -" },
	{ "tombstone false", "{" PI ",\"tombstone\":false},\"value\":{}}", BULK_OK,
	  "item c/k/-/-/-/- {} 0 0 - -" },
	{ "canonical value", "{" PI "},\"value\" : { \"b\" : 1 ,\"a\":[ 1, 2 ]} }", BULK_OK,
	  "item c/k/-/-/-/- {\"b\":1,\"a\":[1,2]} 0 0 - -" },
	{ "unicode names", "{\"path\":{\"collection\":\"\xc3\xa9\",\"key\":"
	  "\"\xf0\x9f\x98\x80\\u00e9\"},\"value\":{}}", BULK_OK,
	  "item \xc3\xa9/\xf0\x9f\x98\x80\xc3\xa9/-/-/-/- {} 0 0 - -" },
	{ "names of 16 bytes", "{\"path\":{\"collection\":\"0123456789abcdef\",\"key\":"
	  "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"},\"value\":{}}",
	  BULK_OK, "item 0123456789abcdef/\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	  "\xc3\xa9\xc3\xa9/-/-/-/- {} 0 0 - -" },
	{ "names . and ..", "{\"path\":{\"collection\":\".\",\"key\":\"..\"},\"value\":{}}",
	  BULK_OK, "item ./../-/-/-/- {} 0 0 - -" },
	{ "unknown members are ignored", "{" PI ",\"x\":1},\"value\":{},\"y\":[]}", BULK_OK,
	  "item c/k/-/-/-/- {} 0 0 - -" },
	{ "value 64 bytes", "{" PI "},\"value\":{\"a\":\"" D56 "\"}}", BULK_OK,
	  "item c/k/-/-/-/- {\"a\":\"" D56 "\"} 0 0 - -" },
	{ "value 3 levels", "{" PI "},\"value\":{\"a\":{\"b\":[1]}}}", BULK_OK,
	  "item c/k/-/-/-/- {\"a\":{\"b\":[1]}} 0 0 - -" },
	/* events */
	{ "event", "{" PE ",\"kind\":\"event\",\"timestamp\":1234},\"value\":{}}", BULK_OK,
	  "event c/k/t/-/-/- {} 0 0 1234 -" },
	{ "event without a timestamp", "{\"kind\":\"event\"," PE "},\"value\":{}}", BULK_OK,
	  "event c/k/t/-/-/- {} 0 0 - -" },
	{ "no kind: an event by its type", "{" PE "},\"value\":{}}", BULK_OK,
	  "event c/k/t/-/-/- {} 0 0 - -" },
	{ "event timestamp 0", "{" PE ",\"timestamp\":0},\"value\":{}}", BULK_OK,
	  "event c/k/t/-/-/- {} 0 0 0 -" },
	{ "event ISO timestamp", "{" PE ",\"timestamp\":\"2014-09-22T21:25:54.480Z\"},"
	  "\"value\":{}}", BULK_OK, "event c/k/t/-/-/- {} 0 0 1411421154480 -" },
	{ "an export's event", "{\"kind\":\"event\"," PE ",\"kind\":\"event\",\"timestamp\":"
	  "1411421154480,\"ordinal\":383976025430188032,\"ordinal_str\":\"0554282926086000\","
	  "\"ref\":\"7196b6d0a0ffe069\",\"reftime\":1411421154598},\"value\":{\"h\":\"d\"},"
	  "\"reftime\":1411421154598}", BULK_OK, "event c/k/t/-/-/- {\"h\":\"d\"} 0 "
	  "1411421154598 1411421154480 383976025430188032" },
	{ "ordinal_str wins over a rounded ordinal", "{" PE ",\"timestamp\":1,\"ordinal\":"
	  "383976025430188000,\"ordinal_str\":\"0554282926086000\"},\"value\":{}}", BULK_OK,
	  "event c/k/t/-/-/- {} 0 0 1 383976025430188032" },
	{ "ordinal 0", "{" PE ",\"timestamp\":1,\"ordinal\":0},\"value\":{}}", BULK_OK,
	  "event c/k/t/-/-/- {} 0 0 1 0" },
	{ "ordinal above int64", "{" PE ",\"timestamp\":1,\"ordinal\":18446744073709551614},"
	  "\"value\":{}}", BULK_OK, "event c/k/t/-/-/- {} 0 0 1 18446744073709551614" },
	{ "ordinal as a decimal string", "{" PE ",\"timestamp\":1,\"ordinal\":"
	  "\"383976025430188032\"},\"value\":{}}", BULK_OK,
	  "event c/k/t/-/-/- {} 0 0 1 383976025430188032" },
	/* relationships */
	{ "relationship", "{" REL "}", BULK_OK, "relationship a/1/-/likes/b/2 - 0 0 - -" },
	{ "relationship with kind and props", "{\"kind\":\"relationship\"," REL ",\"value\":"
	  "{\"since\":2014},\"ref\":\"x\",\"reftime\":9}", BULK_OK,
	  "relationship a/1/-/likes/b/2 {\"since\":2014} 0 9 - -" },
	/* an export's end line */
	{ "end line", "{\"kind\":\"end\",\"lines\":12}", BULK_OK, "end 12" },
	{ "end line of an empty export", "{ \"lines\" : 0, \"kind\" : \"end\" }", BULK_OK,
	  "end 0" },
	{ "end line, other members ignored", "{\"kind\":\"end\",\"lines\":3,\"at\":\"x\","
	  "\"path\":{\"kind\":\"end\"},\"value\":[]}", BULK_OK, "end 3" },
	{ "end line, the largest count", "{\"kind\":\"end\",\"lines\":9223372036854775807}",
	  BULK_OK, "end 9223372036854775807" },
};

static const struct read_case read_errors[] = {
	{ "empty object", "{}", BULK_REFUSED, "api_bad_request: Can't read bulk operation "
	  "from malformed JSON" },
	{ "unknown kind", "{\"kind\":\"doc\"," PI "},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: kind must be" },
	{ "kind not a string", "{\"kind\":1," PI "},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: kind must be" },
	{ "kind with a NUL", "{\"kind\":\"item\\u0000\"," PI "},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: kind must be" },
	{ "kinds differ", "{\"kind\":\"event\"," PI ",\"kind\":\"item\"},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: kind and path.kind differ" },
	{ "item without a path", "{\"kind\":\"item\",\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: an item needs a path" },
	{ "path not an object", "{\"path\":\"c/k\",\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: path must be an object" },
	{ "no collection", "{\"path\":{\"key\":\"k\"},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: path.collection must be a string" },
	{ "collection not a string", "{\"path\":{\"collection\":1,\"key\":\"k\"},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: path.collection must be a string" },
	{ "empty collection", "{\"path\":{\"collection\":\"\",\"key\":\"k\"},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: path.collection is empty" },
	{ "NUL in a key", "{\"path\":{\"collection\":\"c\",\"key\":\"a\\u0000b\"},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: path.key contains a NUL" },
	{ "key of 17 bytes", "{\"path\":{\"collection\":\"c\",\"key\":\"0123456789abcdefg\"},"
	  "\"value\":{}}", BULK_REFUSED, "api_bad_request: path.key is longer than "
	  "max_name_length (16 bytes)" },
	{ "no value", "{" PI "}}", BULK_REFUSED, "api_bad_request: value is missing" },
	{ "value null", "{" PI "},\"value\":null}", BULK_REFUSED,
	  "api_bad_request: value must be a JSON object" },
	{ "value an array", "{" PI "},\"value\":[1]}", BULK_REFUSED,
	  "api_bad_request: value must be a JSON object" },
	{ "value a string", "{" PI "},\"value\":\"{}\"}", BULK_REFUSED,
	  "api_bad_request: value must be a JSON object" },
	{ "value 65 bytes", "{" PI "},\"value\":{\"a\":\"" D56 "6\"}}", BULK_REFUSED,
	  "request_too_large: value is longer than max_body (64 bytes)" },
	{ "value 4 levels", "{" PI "},\"value\":{\"a\":{\"b\":[[1]]}}}", BULK_REFUSED,
	  "api_bad_request: Can't read bulk operation from malformed JSON: The JSON document "
	  "is nested too deeply." },
	{ "tombstone with a value", "{" PI ",\"tombstone\":true},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: a tombstone (path.tombstone) has no value" },
	{ "tombstone not a boolean", "{" PI ",\"tombstone\":1},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: path.tombstone must be true or false" },
	{ "reftime 0", "{" PI "},\"value\":{},\"reftime\":0}", BULK_REFUSED,
	  "api_bad_request: reftime is out of range" },
	{ "reftime negative", "{" PI ",\"reftime\":-5},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: path.reftime is out of range" },
	{ "reftime past 9999", "{" PI "},\"value\":{},\"reftime\":253402300800000}",
	  BULK_REFUSED, "api_bad_request: reftime is out of range" },
	{ "reftime a string", "{" PI "},\"value\":{},\"reftime\":\"5\"}", BULK_REFUSED,
	  "api_bad_request: reftime must be an integer" },
	{ "reftime a fraction", "{" PI "},\"value\":{},\"reftime\":5.5}", BULK_REFUSED,
	  "api_bad_request: reftime must be an integer" },
	{ "reftimes differ", "{" PI ",\"reftime\":5},\"value\":{},\"reftime\":6}",
	  BULK_REFUSED, "api_bad_request: reftime and path.reftime differ" },
	{ "event without a type", "{\"kind\":\"event\"," PI "},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: path.type must be a string" },
	{ "event without a value", "{" PE "}}", BULK_REFUSED,
	  "api_bad_request: value is missing" },
	{ "event timestamp negative", "{" PE ",\"timestamp\":-1},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: path.timestamp is out of range" },
	{ "event timestamp past 9999", "{" PE ",\"timestamp\":253402300800000},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: path.timestamp is out of range" },
	{ "event timestamp unreadable", "{" PE ",\"timestamp\":\"yesterday\"},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: path.timestamp must be" },
	{ "event timestamp a boolean", "{" PE ",\"timestamp\":true},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: path.timestamp must be" },
	{ "event ordinal negative", "{" PE ",\"timestamp\":1,\"ordinal\":-1},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: path.ordinal must be a non-negative integer" },
	{ "event ordinal a fraction", "{" PE ",\"timestamp\":1,\"ordinal\":1.5},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: path.ordinal must be a non-negative integer" },
	{ "event ordinal_str of 15 digits", "{" PE ",\"timestamp\":1,\"ordinal_str\":"
	  "\"554282926086000\"},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: path.ordinal_str must be 16 hex digits" },
	{ "event ordinal_str not hex", "{" PE ",\"timestamp\":1,\"ordinal_str\":"
	  "\"055428292608600g\"},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: path.ordinal_str must be 16 hex digits" },
	{ "event ordinal without a timestamp", "{" PE ",\"ordinal\":5},\"value\":{}}",
	  BULK_REFUSED, "api_bad_request: an event with an ordinal needs its path.timestamp" },
	{ "event tombstone", "{" PE ",\"tombstone\":true},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: events have no tombstones" },
	{ "relationship without a source", "{\"destination\":{\"collection\":\"b\",\"key\":"
	  "\"2\"},\"relation\":\"r\"}", BULK_REFUSED,
	  "api_bad_request: a relationship needs source and destination objects" },
	{ "relationship destination not an object", "{\"source\":{\"collection\":\"a\","
	  "\"key\":\"1\"},\"destination\":[],\"relation\":\"r\"}", BULK_REFUSED,
	  "api_bad_request: a relationship needs source and destination objects" },
	{ "relationship without a relation", "{\"source\":{\"collection\":\"a\",\"key\":"
	  "\"1\"},\"destination\":{\"collection\":\"b\",\"key\":\"2\"}}", BULK_REFUSED,
	  "api_bad_request: relation must be a string" },
	{ "relationship empty relation", "{\"kind\":\"relationship\",\"source\":{"
	  "\"collection\":\"a\",\"key\":\"1\"},\"destination\":{\"collection\":\"b\","
	  "\"key\":\"2\"},\"relation\":\"\"}", BULK_REFUSED,
	  "api_bad_request: relation is empty" },
	{ "relationship destination key missing", "{\"source\":{\"collection\":\"a\","
	  "\"key\":\"1\"},\"destination\":{\"collection\":\"b\"},\"relation\":\"r\"}",
	  BULK_REFUSED, "api_bad_request: destination.key must be a string" },
	{ "relationship props not an object", "{" REL ",\"value\":[]}", BULK_REFUSED,
	  "api_bad_request: value must be a JSON object" },
	{ "JSON with a trailing dot", "{" PI "},\"value\":{\"a\":1.}}", BULK_REFUSED,
	  "api_bad_request: Can't read bulk operation from malformed JSON: The request body "
	  "is not valid JSON." },
	{ "single quotes", "{'path':{}}", BULK_REFUSED,
	  "api_bad_request: Can't read bulk operation from malformed JSON" },
	{ "invalid UTF-8", "{" PI "},\"value\":{\"a\":\"\xc3\x28\"}}", BULK_REFUSED,
	  "api_bad_request: Can't read bulk operation from malformed JSON: The request body "
	  "is not valid UTF-8." },
	{ "a number out of range", "{" PI "},\"value\":{\"a\":1e999}}", BULK_REFUSED,
	  "api_bad_request: Can't read bulk operation from malformed JSON: A number is not "
	  "finite" },
	{ "not an object", "[1]", BULK_REFUSED,
	  "api_bad_request: Can't read bulk operation from malformed JSON: The value must be "
	  "a JSON object." },
	{ "end line without lines", "{\"kind\":\"end\"}", BULK_REFUSED,
	  "api_bad_request: lines (of an end line) must be a non-negative integer" },
	{ "end line, lines null", "{\"kind\":\"end\",\"lines\":null}", BULK_REFUSED,
	  "api_bad_request: lines (of an end line) must be a non-negative integer" },
	{ "end line, lines negative", "{\"kind\":\"end\",\"lines\":-1}", BULK_REFUSED,
	  "api_bad_request: lines (of an end line) must be a non-negative integer" },
	{ "end line, lines a fraction", "{\"kind\":\"end\",\"lines\":1.5}", BULK_REFUSED,
	  "api_bad_request: lines (of an end line) must be a non-negative integer" },
	{ "end line, lines a string", "{\"kind\":\"end\",\"lines\":\"3\"}", BULK_REFUSED,
	  "api_bad_request: lines (of an end line) must be a non-negative integer" },
	{ "end line, lines past int64", "{\"kind\":\"end\",\"lines\":9223372036854775808}",
	  BULK_REFUSED, "api_bad_request: lines (of an end line) must be a non-negative "
	  "integer" },
	{ "end as path.kind only", "{" PI ",\"kind\":\"end\"},\"value\":{}}", BULK_REFUSED,
	  "api_bad_request: kind must be \"item\", \"event\" or \"relationship\" (or \"end\" "
	  "at the top level)" },
	{ "end and path.kind differ", "{\"kind\":\"end\",\"lines\":0," PI ",\"kind\":"
	  "\"item\"}}", BULK_REFUSED, "api_bad_request: kind and path.kind differ" },
};

static const char *
or_dash(const char *s)
{
	return s != NULL ? s : "-";
}

/* The op as read_case's op field spells it. */
static void
describe(const struct bulk_op *op, char *out, size_t size)
{
	static const char *const kinds[] = { "item", "event", "relationship", "end" };
	char ts[32] = "-", ord[32] = "-";

	if (op->kind == BULK_END) {
		snprintf(out, size, "end %" PRId64, op->lines);
		return;
	}
	if (op->has_ts)
		snprintf(ts, sizeof(ts), "%" PRId64, op->ts);
	if (op->has_ord)
		snprintf(ord, sizeof(ord), "%" PRIu64, op->ord);
	snprintf(out, size, "%s %s/%s/%s/%s/%s/%s %s %d %" PRId64 " %s %s", kinds[op->kind],
	    or_dash(op->coll), or_dash(op->key), or_dash(op->type), or_dash(op->relation),
	    or_dash(op->to_coll), or_dash(op->to_key), or_dash(op->value), op->tombstone,
	    op->reftime, ts, ord);
}

static void
check_read(const struct read_case *c)
{
	struct arena *a = mem_new();
	struct bulk_op op;
	struct bulk_fail f;
	char got[1024];
	enum bulk_rc rc;

	ck_assert_msg(a != NULL, "mem_new: got NULL");
	rc = bulk_read(&LIM, a, c->in, strlen(c->in), &op, &f);
	if (rc == BULK_OK) {
		describe(&op, got, sizeof(got));
		if (op.value != NULL)
			ck_assert_msg(strlen(op.value) == op.vlen, "%s: vlen %zu for \"%s\"",
			    c->name, op.vlen, op.value);
	} else {
		snprintf(got, sizeof(got), "%s: %s", f.code ? f.code : "(null)", f.info);
	}
	ck_assert_msg(rc == c->want, "%s: got %d (%s), want %d", c->name, (int)rc, got,
	    (int)c->want);
	if (rc == BULK_OK)
		ck_assert_msg(strcmp(got, c->op) == 0, "%s: got \"%s\", want \"%s\"", c->name,
		    got, c->op);
	else
		ck_assert_msg(strncmp(got, c->op, strlen(c->op)) == 0 && f.message != NULL,
		    "%s: got \"%s\", want \"%s...\"", c->name, got, c->op);
	mem_free(a);
}

START_TEST(test_read)
{
	check_read(&read_cases[_i]);
}
END_TEST

START_TEST(test_read_errors)
{
	check_read(&read_errors[_i]);
}
END_TEST

/* ---- result entries -------------------------------------------------------- */

/* Parses one entry; fails the test unless it is a JSON object. */
static struct json_object *
parse_entry(const struct buf *b)
{
	struct json_object *o;

	ck_assert_msg(!b->b_failed, "entry: the buffer failed");
	o = json_tokener_parse(b->b_data);
	ck_assert_msg(o != NULL && json_object_is_type(o, json_type_object), "entry: got "
	    "%s, want a JSON object", b->b_data);
	return o;
}

START_TEST(test_entries)
{
	/* The longest names (max_name of 16 bytes, each a DEL: six bytes
	 * escaped) and the largest numbers: every entry within its bound. */
	static const char name[] = "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f"
	    "\x7f\x7f\x7f";
	struct bulk_op ops[4];
	struct bulk_done done;
	struct bulk_fail f;
	struct buf b;
	char want[128];

	memset(ops, 0, sizeof(ops));
	for (int k = 0; k < 4; k++) {
		ops[k].kind = k == 0 || k == 3 ? BULK_ITEM : k == 1 ? BULK_EVENT : BULK_RELATION;
		ops[k].coll = ops[k].key = ops[k].type = name;
		ops[k].relation = ops[k].to_coll = ops[k].to_key = name;
		ops[k].tombstone = k == 3;
	}
	memset(&done, 0, sizeof(done));
	memcpy(done.ref, "0123456789abcdef", 17);
	done.reftime = TIMEFMT_MAX_MS;
	done.pos.ts = TIMEFMT_MAX_MS;
	done.pos.ord = UINT64_MAX;
	for (int k = 0; k < 4; k++) {
		struct json_object *o, *v;

		buf_init(&b, 0);
		bulk_emit_success(&b, SIZE_MAX, &ops[k], &done);
		ck_assert_msg(b.b_len <= bulk_entry_bound(&ops[k]), "success entry %d: got %zu "
		    "bytes, want at most the bound %zu", k, b.b_len, bulk_entry_bound(&ops[k]));
		o = parse_entry(&b);
		ck_assert_msg(json_object_object_get_ex(o, "status", &v) &&
		    strcmp(json_object_get_string(v), "success") == 0, "entry %d: %s", k,
		    b.b_data);
		ck_assert_msg(json_object_object_get_ex(o, k == 2 ? "relationship" : "item",
		    &v) && !json_object_object_get_ex(o, k == 2 ? "item" : "relationship", NULL),
		    "entry %d: %s", k, b.b_data);
		json_object_put(o);
		buf_free(&b);
	}
	/* An end line's entry: its count, nothing else. */
	memset(&ops[0], 0, sizeof(ops[0]));
	ops[0].kind = BULK_END;
	ops[0].lines = INT64_MAX;
	buf_init(&b, 0);
	bulk_emit_success(&b, SIZE_MAX, &ops[0], &done);
	snprintf(want, sizeof(want), "{\"operation_index\":%zu,\"status\":\"success\","
	    "\"end\":{\"lines\":%" PRId64 "}}", SIZE_MAX, INT64_MAX);
	ck_assert_msg(strcmp(b.b_data, want) == 0 && b.b_len <= bulk_entry_bound(&ops[0]),
	    "end entry: got %s, want %s within %zu bytes", b.b_data, want,
	    bulk_entry_bound(&ops[0]));
	json_object_put(parse_entry(&b));
	buf_free(&b);
	/* The longest failure: a full info of characters escaped twice. */
	memset(&f, 0, sizeof(f));
	f.code = "api_bad_request";
	f.message = "The API request is malformed.";
	memset(f.info, '"', sizeof(f.info) - 1);
	buf_init(&b, 0);
	bulk_emit_failure(&b, SIZE_MAX, &f);
	ck_assert_msg(b.b_len <= bulk_entry_bound(NULL), "failure entry: got %zu bytes, "
	    "want at most the bound %zu", b.b_len, bulk_entry_bound(NULL));
	json_object_put(parse_entry(&b));
	buf_free(&b);
	/* A missing item names it in details.items. */
	f.code = "items_not_found";
	f.nf_coll = name;
	f.nf_key = "k";
	buf_init(&b, 0);
	bulk_emit_failure(&b, 3, &f);
	ck_assert_msg(strstr(b.b_data, "\"details\":{\"items\":[{\"collection\":") != NULL &&
	    b.b_len <= bulk_entry_bound(&ops[2]), "not found entry: %s", b.b_data);
	json_object_put(parse_entry(&b));
	buf_free(&b);
	bulk_fail_busy(&f);
	ck_assert_msg(strcmp(f.code, "service_unavailable") == 0 && f.info[0] == '\0',
	    "busy: got %s", f.code);
}
END_TEST

/* The settings of bulk: defaults and bounds. */
START_TEST(test_config)
{
	static const struct { const char *key, *value; int ok; } rows[] = {
		{ "max_bulk_ops", "1", 0 }, { "max_bulk_ops", "100000", 0 },
		{ "max_bulk_ops", "0", -1 }, { "max_bulk_ops", "100001", -1 },
		{ "max_bulk_body", "1k", 0 }, { "max_bulk_body", "1G", 0 },
		{ "max_bulk_body", "1023", -1 }, { "max_bulk_body", "2G", -1 },
		{ "max_bulk_body", "x", -1 },
	};
	struct config c;
	char err[256];

	config_defaults(&c);
	ck_assert_msg(c.max_bulk_ops == 1000, "max_bulk_ops: got %d, want 1000",
	    c.max_bulk_ops);
	ck_assert_msg(c.max_bulk_body == (int64_t)16 << 20, "max_bulk_body: got %" PRId64
	    ", want 16 MiB", c.max_bulk_body);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(config_set(&c, rows[i].key, rows[i].value, err, sizeof(err)) ==
		    rows[i].ok, "%s = %s: got %d, want %d", rows[i].key, rows[i].value,
		    -1 - rows[i].ok, rows[i].ok);
}
END_TEST

/* ---- bulk_apply over a store ----------------------------------------------- */

/* Reads one operation and applies it in its own transaction. */
static enum dom_rc
apply(const char *text, struct bulk_done *done, struct bulk_fail *f)
{
	static const struct bulk_limits lim = { DEF_BYTES, DEF_DEPTH, 64 };
	struct bulk_op op;
	struct dom d;
	enum bulk_rc brc = bulk_read(&lim, td_ar, text, strlen(text), &op, f);
	enum dom_rc rc;

	ck_assert_msg(brc == BULK_OK, "bulk_read(%s): got %d (%s), want BULK_OK", text,
	    (int)brc, f->info);
	td_begin(&d, 1);
	rc = bulk_apply(&d, &op, done, f);
	td_end(&d, rc);
	return rc;
}

static void
apply_ok(const char *text, struct bulk_done *done)
{
	struct bulk_fail f;
	enum dom_rc rc = apply(text, done, &f);

	ck_assert_msg(rc == DOM_OK, "bulk_apply(%s): got %s (%s), want DOM_OK", text,
	    dom_rc_name(rc), f.code ? f.code : "");
}

START_TEST(test_apply_items)
{
	struct bulk_done done;
	struct item_version v;
	struct dom d;
	enum dom_rc rc;

	td_setup();
	/* A reftime given is kept as is, even older than the version before. */
	apply_ok("{\"kind\":\"item\",\"path\":{\"collection\":\"c\",\"key\":\"k\"},"
	    "\"value\":{\"a\":1},\"reftime\":1411421154598}", &done);
	ck_assert_msg(done.reftime == 1411421154598 && strcmp(done.ref, REF1) == 0,
	    "first version: got %s at %" PRId64 ", want %s at 1411421154598", done.ref,
	    done.reftime, REF1);
	apply_ok("{\"path\":{\"collection\":\"c\",\"key\":\"k\",\"reftime\":5},"
	    "\"value\":{\"a\":2}}", &done);
	ck_assert_msg(done.reftime == 5, "older reftime: got %" PRId64 ", want 5",
	    done.reftime);
	td_begin(&d, 1);
	rc = item_get(&d, "c", "k", &v);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK && v.reftime == 5 && v.seq == 2 &&
	    strcmp(v.ref, REF2) == 0, "item_get: got %s seq %" PRIu64 " at %" PRId64,
	    dom_rc_name(rc), v.seq, v.reftime);
	/* Without one, the clock's (never before NOW in this test run). */
	apply_ok("{\"path\":{\"collection\":\"c\",\"key\":\"k2\"},\"value\":{}}", &done);
	ck_assert_msg(done.reftime >= NOW && strcmp(done.ref, REFE) == 0,
	    "clock reftime: got %" PRId64 " ref %s", done.reftime, done.ref);
	/* A tombstone deletes a live item; on an absent one it writes nothing. */
	apply_ok("{\"path\":{\"collection\":\"c\",\"key\":\"k\",\"tombstone\":true},"
	    "\"reftime\":9}", &done);
	td_begin(&d, 1);
	rc = item_get(&d, "c", "k", &v);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_NOT_FOUND, "after the tombstone: got %s, want "
	    "DOM_NOT_FOUND", dom_rc_name(rc));
	apply_ok("{\"path\":{\"collection\":\"c\",\"key\":\"never\",\"tombstone\":true}}",
	    &done);
	apply_ok("{\"path\":{\"collection\":\"none\",\"key\":\"never\",\"tombstone\":true}}",
	    &done);
	td_teardown();
}
END_TEST

static enum dom_visit
count_coll(void *arg, const char *name, size_t len, int64_t items)
{
	(void)name;
	(void)len;
	(void)items;
	(*(int *)arg)++;
	return DOM_VISIT_NEXT;
}

/* An end line is a success that writes nothing. */
START_TEST(test_apply_end)
{
	struct bulk_done done;
	struct dom d;
	int colls = 0;
	enum dom_rc rc;

	td_setup();
	apply_ok("{\"kind\":\"end\",\"lines\":7}", &done);
	ck_assert_msg(done.ref[0] == '\0' && done.reftime == 0, "end line: got ref \"%s\" "
	    "reftime %" PRId64 ", want none", done.ref, done.reftime);
	td_begin(&d, 1);
	rc = collections_list(&d, count_coll, &colls);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK && colls == 0, "collections after an end line: got %s, "
	    "%d; want DOM_OK, 0", dom_rc_name(rc), colls);
	td_teardown();
}
END_TEST

START_TEST(test_apply_events)
{
	struct event_name n = { "c", "k", "t" };
	struct bulk_done done;
	struct event_record r;
	struct evpos p = { 100, 5000 };
	struct dom d;
	enum dom_rc rc;

	td_setup();
	/* At exactly (ts, ordinal), far above what the clock would give. */
	apply_ok("{\"path\":{\"collection\":\"c\",\"key\":\"k\",\"kind\":\"event\",\"type\":"
	    "\"t\",\"timestamp\":100,\"ordinal_str\":\"7000000000000000\",\"reftime\":42},"
	    "\"value\":{\"a\":1}}", &done);
	ck_assert_msg(done.pos.ts == 100 && done.pos.ord == UINT64_C(0x7000000000000000) &&
	    done.reftime == 42 && strcmp(done.ref, REF1) == 0, "put at: got %" PRIu64 "/%"
	    PRIu64 " reftime %" PRId64, done.pos.ts, done.pos.ord, done.reftime);
	/* A new event gets a larger ordinal. */
	apply_ok("{\"path\":{\"collection\":\"c\",\"key\":\"k\",\"type\":\"t\"},"
	    "\"value\":{}}", &done);
	ck_assert_msg(done.pos.ord == UINT64_C(0x7000000000000001) && done.pos.ts == NOW,
	    "next create: got %" PRIu64 "/%" PRIu64 ", want NOW/0x7000000000000001",
	    done.pos.ts, done.pos.ord);
	/* A smaller given ordinal is stored there, and does not lower the last. */
	apply_ok("{\"path\":{\"collection\":\"c\",\"key\":\"k\",\"type\":\"t\",\"timestamp\":"
	    "100,\"ordinal\":5000},\"value\":{\"a\":2}}", &done);
	td_begin(&d, 1);
	rc = event_get(&d, &n, &p, &r);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK && strcmp(r.ref, REF2) == 0, "event at 100/5000: got %s",
	    dom_rc_name(rc));
	apply_ok("{\"path\":{\"collection\":\"c\",\"key\":\"k\",\"type\":\"x\",\"timestamp\":"
	    "7},\"value\":{}}", &done);
	ck_assert_msg(done.pos.ts == 7 && done.pos.ord == UINT64_C(0x7000000000000002),
	    "create after the smaller one: got %" PRIu64 "/%" PRIu64, done.pos.ts,
	    done.pos.ord);
	/* The same position again replaces the event. */
	apply_ok("{\"path\":{\"collection\":\"c\",\"key\":\"k\",\"type\":\"t\",\"timestamp\":"
	    "100,\"ordinal\":5000},\"value\":{\"b\":1}}", &done);
	td_begin(&d, 1);
	rc = event_get(&d, &n, &p, &r);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK && strcmp(r.ref, REFB) == 0, "replaced event: got %s "
	    "ref %s, want ref %s", dom_rc_name(rc), r.ref, REFB);
	td_teardown();
}
END_TEST

START_TEST(test_apply_relations)
{
	static const char rel[] = "{\"source\":{\"collection\":\"u\",\"key\":\"a\"},"
	    "\"destination\":{\"collection\":\"p\",\"key\":\"b\"},\"relation\":\"likes\","
	    "\"value\":{\"w\":1},\"reftime\":77}";
	struct bulk_done done;
	struct bulk_fail f;
	enum dom_rc rc;

	td_setup();
	rc = apply(rel, &done, &f);
	ck_assert_msg(rc == DOM_NOT_FOUND && strcmp(f.code, "items_not_found") == 0 &&
	    strcmp(f.nf_coll, "u") == 0 && strcmp(f.nf_key, "a") == 0, "no source: got %s "
	    "naming %s/%s", dom_rc_name(rc), or_dash(f.nf_coll), or_dash(f.nf_key));
	apply_ok("{\"path\":{\"collection\":\"u\",\"key\":\"a\"},\"value\":{}}", &done);
	rc = apply(rel, &done, &f);
	ck_assert_msg(rc == DOM_NOT_FOUND && strcmp(f.nf_coll, "p") == 0 &&
	    strcmp(f.nf_key, "b") == 0, "no destination: got %s naming %s/%s",
	    dom_rc_name(rc), or_dash(f.nf_coll), or_dash(f.nf_key));
	apply_ok("{\"path\":{\"collection\":\"p\",\"key\":\"b\"},\"value\":{}}", &done);
	apply_ok(rel, &done);
	/* The ref of the properties {"w":1}. */
	ck_assert_msg(done.reftime == 77 && strcmp(done.ref, "1462bb4a1d3f03fb") == 0,
	    "relation: got ref %s reftime %" PRId64 ", want 1462bb4a1d3f03fb at 77",
	    done.ref, done.reftime);
	td_teardown();
}
END_TEST

static Suite *
bulk_suite(void)
{
	Suite *s = suite_create("bulk");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_split, 0, NCASES(split_cases));
	tcase_add_test(core, test_split_offsets);
	tcase_add_test(core, test_split_stop);
	tcase_add_loop_test(core, test_read, 0, NCASES(read_cases));
	tcase_add_test(core, test_entries);
	tcase_add_test(core, test_apply_items);
	tcase_add_test(core, test_apply_events);
	tcase_add_test(core, test_apply_relations);
	tcase_add_test(core, test_apply_end);
	tcase_set_timeout(core, 60);
	suite_add_tcase(s, core);

	tcase_add_test(limits, test_split_size);
	tcase_add_test(limits, test_split_hostile_nesting);
	tcase_add_test(limits, test_config);
	tcase_set_timeout(limits, 60);
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_read_errors, 0, NCASES(read_errors));
	tcase_set_timeout(errors, 60);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(bulk_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
