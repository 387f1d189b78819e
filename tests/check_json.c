/*
 * check_json: unit tests for src/json.h (parsing request bodies within limits,
 * the canonical serialisation, JSON string literals).
 *
 * Table-driven: each row is a body with the result code we want and, for
 * accepted bodies, the canonical form. What is valid JSON follows RFC 8259;
 * the number rule (integers strictly between -2^63 and 2^64-1, finite
 * doubles) and the depth rule come from src/json.h and API.md.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
/* JSONC_CFLAGS puts json-c's own json.h first on the include path. */
#include "../src/json.h"
#include "util.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define DEPTH		64

/* For NaN and Infinity either answer is right: they are not JSON at all. */
#define JSON_NUMBER_OR_SYNTAX	((enum json_rc)-1)

struct parse_case {
	const char	*in;
	size_t		 len;
	int		 depth;
	enum json_rc	 rc;
	const char	*canon;   /* for JSON_OK; NULL: the input itself */
};

/* The length comes from sizeof, so embedded NUL bytes are part of the input. */
#define OK(s, c)	{ (s), sizeof(s) - 1, DEPTH, JSON_OK, (c) }
#define OKD(s, d)	{ (s), sizeof(s) - 1, (d), JSON_OK, NULL }
#define ERR(s, rc)	{ (s), sizeof(s) - 1, DEPTH, (rc), NULL }
#define ERRD(s, d, rc)	{ (s), sizeof(s) - 1, (d), (rc), NULL }

static const char *
rc_name(enum json_rc rc)
{
	switch ((int)rc) {
	case JSON_OK: return "JSON_OK";
	case JSON_SYNTAX: return "JSON_SYNTAX";
	case JSON_DEPTH: return "JSON_DEPTH";
	case JSON_NUMBER: return "JSON_NUMBER";
	case JSON_NOT_OBJECT: return "JSON_NOT_OBJECT";
	case JSON_NOMEM: return "JSON_NOMEM";
	case -1: return "JSON_NUMBER or JSON_SYNTAX";
	}
	return "?";
}

/* Prints bytes readably for a failure message (static buffer). */
static const char *
show(const char *s, size_t len)
{
	static char out[512];
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < sizeof(out); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

static const struct parse_case parse_core[] = {
	OK("{}", NULL),
	OK("{\"a\":1}", NULL),
	/* Compact: no spaces. */
	OK(" { \"a\" : 1 , \"b\" : [ 1 , 2 ] } ", "{\"a\":1,\"b\":[1,2]}"),
	OK("{\r\n\t\"a\": {\"b\": [true, false, null]}\n}",
	    "{\"a\":{\"b\":[true,false,null]}}"),
	OK("{\"a\":1}\n", "{\"a\":1}"),
	/* Member order is kept. */
	OK("{\"b\":1,\"a\":2,\"c\":3}", NULL),
	OK("{\"a\":{},\"b\":[],\"c\":\"\"}", NULL),
	OK("{\"a\":[1,{\"b\":[]}]}", NULL),
	/* Strings: '/' stays unescaped, UTF-8 stays raw. */
	OK("{\"a\":\"x/y\"}", NULL),
	OK("{\"a\":\"\\/\"}", "{\"a\":\"/\"}"),
	OK("{\"a\":\"\xc3\xa9\"}", NULL),
	OK("{\"a\":\"\\u00e9\"}", "{\"a\":\"\xc3\xa9\"}"),
	OK("{\"\xe2\x82\xac\":\"\xf0\x9f\x98\x80\"}", NULL),
	OK("{\"a\":\"\\ud83d\\ude00\"}", "{\"a\":\"\xf0\x9f\x98\x80\"}"),
	OK("{\"a\":\"x\\u0000y\"}", NULL),
	OK("{\"a\":\"\\\"\\\\\\n\\t\"}", NULL),
	OK("{\"a\":\"\\u0001\\u001f\"}", NULL),
	/* Numbers keep their text. */
	OK("{\"a\":1.50}", NULL),
	OK("{\"a\":1.5e3}", NULL),
	OK("{\"a\":1E+2}", NULL),
	OK("{\"a\":0.1}", NULL),
	OK("{\"a\":1.0}", NULL),
	OK("{\"a\":-2.25e-3}", NULL),
	OK("{\"a\":0}", NULL),
	OK("{\"a\":-7}", NULL),
	OK("{\"a\":true,\"b\":false,\"c\":null}", NULL),
};

static const struct parse_case parse_limits[] = {
	/* The integer range: -2^63 and 2^64-1 are where json-c clamps. */
	OK("{\"a\":18446744073709551614}", NULL),
	OK("{\"a\":9223372036854775808}", NULL),
	OK("{\"a\":9223372036854775807}", NULL),
	OK("{\"a\":-9223372036854775807}", NULL),
	OK("{\"a\":1.7976931348623157e308}", NULL),
	ERR("{\"a\":18446744073709551615}", JSON_NUMBER),
	ERR("{\"a\":99999999999999999999}", JSON_NUMBER),
	ERR("{\"a\":-9223372036854775808}", JSON_NUMBER),
	ERR("{\"a\":-9223372036854775809}", JSON_NUMBER),
	ERR("{\"a\":-18446744073709551615}", JSON_NUMBER),
	ERR("{\"a\":1e400}", JSON_NUMBER),
	ERR("{\"a\":-1e400}", JSON_NUMBER),
	ERR("{\"a\":1.7976931348623157e309}", JSON_NUMBER),
	ERR("{\"a\":[1,2,99999999999999999999]}", JSON_NUMBER),
	ERR("{\"a\":{\"b\":{\"c\":1e400}}}", JSON_NUMBER),
	/* Depth counts containers (objects and arrays); scalars add none. */
	OKD("{}", 1),
	OKD("{\"a\":1}", 1),
	OKD("{\"a\":{}}", 2),
	OKD("{\"a\":{\"b\":1}}", 2),
	OKD("{\"a\":{\"b\":{}}}", 3),
	OKD("{\"a\":[1]}", 2),
	OKD("{\"a\":[[]]}", 3),
	OKD("{\"a\":\"{{{{\"}", 1),
	ERRD("{\"a\":{}}", 1, JSON_DEPTH),
	ERRD("{\"a\":{\"b\":{}}}", 2, JSON_DEPTH),
	ERRD("{\"a\":{\"b\":{\"c\":{}}}}", 3, JSON_DEPTH),
	ERRD("{\"a\":[[1]]}", 2, JSON_DEPTH),
	ERRD("{\"a\":[[[]]]}", 3, JSON_DEPTH),
	ERRD("{\"a\":[{\"b\":[1]}]}", 3, JSON_DEPTH),
};

static const struct parse_case parse_errors[] = {
	/* Empty, truncated. */
	ERR("", JSON_SYNTAX),
	ERR(" ", JSON_SYNTAX),
	ERR("{", JSON_SYNTAX),
	ERR("}", JSON_SYNTAX),
	ERR("{\"a\":", JSON_SYNTAX),
	ERR("{\"a\":1", JSON_SYNTAX),
	ERR("{\"a\":\"b\"", JSON_SYNTAX),
	ERR("{\"a", JSON_SYNTAX),
	/* Trailing garbage. */
	ERR("{\"a\":1}x", JSON_SYNTAX),
	ERR("{\"a\":1}}", JSON_SYNTAX),
	ERR("{} {}", JSON_SYNTAX),
	ERR("{}[]", JSON_SYNTAX),
	ERR("{\"a\":1}//", JSON_SYNTAX),
	ERR("/*c*/{}", JSON_SYNTAX),
	/* Not JSON grammar. */
	ERR("{'a':1}", JSON_SYNTAX),
	ERR("{\"a\":'x'}", JSON_SYNTAX),
	ERR("{a:1}", JSON_SYNTAX),
	ERR("{\"a\"}", JSON_SYNTAX),
	ERR("{\"a\" 1}", JSON_SYNTAX),
	ERR("{,}", JSON_SYNTAX),
	ERR("{\"a\":1,}", JSON_SYNTAX),
	ERR("{\"a\":[1,]}", JSON_SYNTAX),
	ERR("{\"a\":\"\\x\"}", JSON_SYNTAX),
	ERR("{\"a\":\"\\u12\"}", JSON_SYNTAX),
	ERR("{\"a\":tru}", JSON_SYNTAX),
	ERR("{\"a\":TRUE}", JSON_SYNTAX),
	ERR("{\"a\":NULL}", JSON_SYNTAX),
	/* Not JSON numbers (RFC 8259 section 6). */
	ERR("{\"a\":01}", JSON_SYNTAX),
	ERR("{\"a\":00}", JSON_SYNTAX),
	ERR("{\"a\":-01}", JSON_SYNTAX),
	ERR("{\"a\":.5}", JSON_SYNTAX),
	ERR("{\"a\":-.5}", JSON_SYNTAX),
	ERR("{\"a\":1.}", JSON_SYNTAX),
	ERR("{\"a\":1.e5}", JSON_SYNTAX),
	ERR("{\"a\":+1}", JSON_SYNTAX),
	ERR("{\"a\":0x10}", JSON_SYNTAX),
	ERR("{\"a\":1e+}", JSON_SYNTAX),
	ERR("{\"a\":12e}", JSON_SYNTAX),
	ERR("{\"a\":-}", JSON_SYNTAX),
	ERR("{\"a\":NaN}", JSON_NUMBER_OR_SYNTAX),
	ERR("{\"a\":Infinity}", JSON_NUMBER_OR_SYNTAX),
	ERR("{\"a\":-Infinity}", JSON_NUMBER_OR_SYNTAX),
	ERR("{\"a\":nan}", JSON_NUMBER_OR_SYNTAX),
	/* Invalid UTF-8, in values and names. */
	ERR("{\"a\":\"\xff\"}", JSON_SYNTAX),
	ERR("{\"a\":\"\x80\"}", JSON_SYNTAX),
	ERR("{\"a\":\"\xc3\x28\"}", JSON_SYNTAX),
	ERR("{\"a\":\"\xe2\x82\"}", JSON_SYNTAX),
	ERR("{\"\xff\":1}", JSON_SYNTAX),
	ERR("{\"a\":\"\xc0\xaf\"}", JSON_SYNTAX),
	ERR("{\"a\":\"\xe0\x80\xaf\"}", JSON_SYNTAX),
	ERR("{\"a\":\"\xed\xa0\x80\"}", JSON_SYNTAX),
	ERR("{\"a\":\"\xf4\x90\x80\x80\"}", JSON_SYNTAX),
	/* json-c keeps names as C strings: a NUL would cut the name. */
	ERR("{\"a\\u0000b\":1}", JSON_SYNTAX),
	ERR("{\"\\u0000\":1}", JSON_SYNTAX),
	ERR("{\"a\":{\"\\u0000\":1}}", JSON_SYNTAX),
	/* A lone surrogate escape cannot be stored as UTF-8 unchanged. */
	ERR("{\"a\":\"\\ud800\"}", JSON_SYNTAX),
	ERR("{\"a\":\"\\udc00x\"}", JSON_SYNTAX),
	/* A NUL byte inside the body. */
	ERR("{\"a\":1}\0", JSON_SYNTAX),
	ERR("{\"a\":1}  \0", JSON_SYNTAX),
	ERR("{\"a\":\"x\0y\"}", JSON_SYNTAX),
	ERR("{\0}", JSON_SYNTAX),
	ERR("\0{}", JSON_SYNTAX),
	ERR("{\"a\":1\0}", JSON_SYNTAX),
	/* Valid JSON, but not an object. */
	ERR("[]", JSON_NOT_OBJECT),
	ERR("[1]", JSON_NOT_OBJECT),
	ERR("[{\"a\":1}]", JSON_NOT_OBJECT),
	ERR("\"s\"", JSON_NOT_OBJECT),
	ERR("\"\"", JSON_NOT_OBJECT),
	ERR("1 ", JSON_NOT_OBJECT),
	ERR("true ", JSON_NOT_OBJECT),
	ERR("1", JSON_NOT_OBJECT),
	ERR("3.5", JSON_NOT_OBJECT),
	ERR("true", JSON_NOT_OBJECT),
	ERR("null", JSON_NOT_OBJECT),
};

static void
check_parse(const struct parse_case *tc)
{
	struct json_object *o = (struct json_object *)&o;
	const char *why = NULL, *canon, *want;
	size_t len = 0;
	enum json_rc rc;

	rc = json_parse_object(tc->in, tc->len, tc->depth, &o, &why);
	if (tc->rc == JSON_NUMBER_OR_SYNTAX ? rc != JSON_NUMBER &&
	    rc != JSON_SYNTAX : rc != tc->rc) {
		/* Release first: under CK_FORK=no the abort does not return. */
		if (rc == JSON_OK)
			json_release(o);
		ck_abort_msg("json_parse_object(%s, depth %d): got %s, want %s",
		    show(tc->in, tc->len), tc->depth, rc_name(rc),
		    rc_name(tc->rc));
	}
	if (rc != JSON_OK) {
		ck_assert_msg(o == NULL, "json_parse_object(%s) failed: got an "
		    "object, want NULL", show(tc->in, tc->len));
		ck_assert_msg(why != NULL && why[0] != '\0',
		    "json_parse_object(%s): got no reason, want one",
		    show(tc->in, tc->len));
		return;
	}
	ck_assert_msg(o != NULL, "json_parse_object: got JSON_OK and NULL, "
	    "want an object");
	want = tc->canon != NULL ? tc->canon : tc->in;
	canon = json_canonical(o, &len);
	if (canon == NULL || len != strlen(want) || strcmp(canon, want) != 0) {
		char got[512];

		snprintf(got, sizeof(got), "%s", canon ? canon : "(null)");
		json_release(o);
		ck_abort_msg("json_canonical(%s): got %s, want %s",
		    show(tc->in, tc->len), got, want);
	}
	json_release(o);
}

START_TEST(test_parse_core)
{
	check_parse(&parse_core[_i]);
}
END_TEST

START_TEST(test_parse_limits)
{
	check_parse(&parse_limits[_i]);
}
END_TEST

START_TEST(test_parse_errors)
{
	check_parse(&parse_errors[_i]);
}
END_TEST

/* Only len bytes are parsed. */
START_TEST(test_parse_counted)
{
	static const struct parse_case cases[] = {
		{ "{\"a\":1}xyz", 7, DEPTH, JSON_OK, "{\"a\":1}" },
		{ "{\"a\":1}", 6, DEPTH, JSON_SYNTAX, NULL },
		{ "{\"a\":12}", 6, DEPTH, JSON_SYNTAX, NULL },
	};

	for (int i = 0; i < NCASES(cases); i++)
		check_parse(&cases[i]);
}
END_TEST

struct nest_case {
	int	 levels;   /* nested objects, the innermost holding 1 */
	int	 depth;
	enum json_rc rc;
};

static const struct nest_case nest_cases[] = {
	{ 64, 64, JSON_OK },
	{ 65, 64, JSON_DEPTH },
	{ 1000, 1000, JSON_OK },
	{ 1001, 1000, JSON_DEPTH },
	{ 100000, 64, JSON_DEPTH },
};

START_TEST(test_parse_nesting)
{
	const struct nest_case *tc = &nest_cases[_i];
	size_t cap = (size_t)tc->levels * 7 + 8, len = 0;
	char *s = malloc(cap);
	struct json_object *o = NULL;
	const char *why = NULL;
	enum json_rc rc;

	ck_assert_msg(s != NULL, "malloc: got NULL");
	for (int i = 0; i < tc->levels; i++) {
		memcpy(s + len, "{\"a\":", 5);
		len += 5;
	}
	s[len++] = '1';
	memset(s + len, '}', (size_t)tc->levels);
	len += (size_t)tc->levels;
	rc = json_parse_object(s, len, tc->depth, &o, &why);
	ck_assert_msg(rc == tc->rc, "json_parse_object(%d nested objects, depth "
	    "%d): got %s, want %s", tc->levels, tc->depth, rc_name(rc),
	    rc_name(tc->rc));
	json_release(o);
	free(s);
}
END_TEST

/* A big flat object is fine; only depth is limited here. */
START_TEST(test_parse_wide)
{
	struct buf b;
	struct json_object *o = NULL;
	const char *why = NULL;
	enum json_rc rc;

	buf_init(&b, 0);
	buf_addc(&b, '{');
	for (int i = 0; i < 20000; i++)
		buf_printf(&b, "%s\"k%d\":[%d,\"v\"]", i ? "," : "", i, i);
	buf_addc(&b, '}');
	rc = json_parse_object(b.b_data, b.b_len, 3, &o, &why);
	ck_assert_msg(rc == JSON_OK, "json_parse_object(20000 members): got %s, "
	    "want JSON_OK", rc_name(rc));
	json_release(o);
	buf_free(&b);
}
END_TEST

START_TEST(test_release_null)
{
	json_release(NULL);
}
END_TEST

struct emit_case {
	const char	*in;
	size_t		 len;
	const char	*out;
};

#define EMIT(s, o)	{ (s), sizeof(s) - 1, (o) }

static const struct emit_case emit_cases[] = {
	EMIT("", "\"\""),
	EMIT("abc", "\"abc\""),
	EMIT("a\"b", "\"a\\\"b\""),
	EMIT("a\\b", "\"a\\\\b\""),
	EMIT("\n\r\t", "\"\\n\\r\\t\""),
	EMIT("a/b", "\"a/b\""),
	EMIT("\x01", "\"\\u0001\""),
	EMIT("\x08\x0c", "\"\\u0008\\u000c\""),
	EMIT("\x1f", "\"\\u001f\""),
	EMIT("\x7f", "\"\\u007f\""),
	EMIT("a\0b", "\"a\\u0000b\""),
	EMIT(" ~", "\" ~\""),
	EMIT("\xc3\xa9", "\"\xc3\xa9\""),
	EMIT("\xe2\x80\xa8\xf0\x9f\x98\x80", "\"\xe2\x80\xa8\xf0\x9f\x98\x80\""),
	EMIT("<\'&>", "\"<\'&>\""),
	/* Bytes that are not well-formed UTF-8 become U+FFFD, one each. */
	EMIT("\xff", "\"\\ufffd\""),
	EMIT("a\xc3", "\"a\\ufffd\""),
	EMIT("\xc3\x28", "\"\\ufffd(\""),
	EMIT("\xc0\xaf", "\"\\ufffd\\ufffd\""),
	EMIT("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""),
	EMIT("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
	EMIT("\x80\xc3\xa9\xe2\x82", "\"\\ufffd\xc3\xa9\\ufffd\\ufffd\""),
};

START_TEST(test_emit)
{
	const struct emit_case *tc = &emit_cases[_i];
	struct buf b;
	int rc;

	buf_init(&b, 0);
	buf_adds(&b, "x=");
	rc = json_emit_string(&b, tc->in, tc->len);
	ck_assert_msg(rc == 0, "json_emit_string(%s): got %d, want 0",
	    show(tc->in, tc->len), rc);
	ck_assert_msg(strncmp(b.b_data, "x=", 2) == 0 &&
	    strcmp(b.b_data + 2, tc->out) == 0,
	    "json_emit_string(%s): got %s, want %s", show(tc->in, tc->len),
	    b.b_data + 2, tc->out);
	buf_free(&b);
}
END_TEST

static uint64_t
next_rand(uint64_t *state)
{
	*state = *state * UINT64_C(6364136223846793005) +
	    UINT64_C(1442695040888963407);
	return *state >> 33;
}

/* Appends one random code point as UTF-8; returns the byte count. */
static size_t
random_utf8(uint64_t *state, char *p)
{
	static const uint32_t ranges[][2] = {
		{ 0, 0x7f }, { 0x80, 0x7ff }, { 0x800, 0xd7ff },
		{ 0xe000, 0xffff }, { 0x10000, 0x10ffff },
	};
	const uint32_t *r = ranges[next_rand(state) % 5];
	uint32_t cp = r[0] + (uint32_t)(next_rand(state) % (r[1] - r[0] + 1));

	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | cp >> 6);
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | cp >> 12);
		p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | cp >> 18);
	p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * What json_emit_string writes is a JSON string that json-c reads back as
 * the same bytes, and json_parse_object accepts it in an object.
 */
START_TEST(test_emit_round_trip)
{
	uint64_t state = 0x5eed;
	char s[200];

	for (int i = 0; i < 2000; i++) {
		size_t len = 0, n = next_rand(&state) % 40;
		struct json_object *o = NULL, *v;
		const char *why = NULL, *got;
		struct buf b;
		enum json_rc rc;

		for (size_t j = 0; j < n; j++)
			len += random_utf8(&state, s + len);
		buf_init(&b, 0);
		buf_adds(&b, "{\"k\":");
		json_emit_string(&b, s, len);
		buf_addc(&b, '}');
		rc = json_parse_object(b.b_data, b.b_len, 2, &o, &why);
		if (rc != JSON_OK)
			ck_abort_msg("json_parse_object(%s): got %s (%s), want "
			    "JSON_OK", show(b.b_data, b.b_len), rc_name(rc), why);
		if (!json_object_object_get_ex(o, "k", &v) ||
		    (size_t)json_object_get_string_len(v) != len ||
		    memcmp((got = json_object_get_string(v)), s, len) != 0)
			ck_abort_msg("round trip of %s: got other bytes, want the "
			    "same", show(s, len));
		json_release(o);
		buf_free(&b);
	}
}
END_TEST

/*
 * Any bytes at all (an echo of a client's header, a message cut
 * mid-character) come out as a JSON string in valid UTF-8 that
 * json_parse_object accepts.
 */
START_TEST(test_emit_any_bytes)
{
	uint64_t state = 0xb17e5;
	char s[64];

	for (int i = 0; i < 5000; i++) {
		size_t len = next_rand(&state) % sizeof(s);
		struct json_object *o = NULL;
		const char *why = NULL;
		struct buf b;
		enum json_rc rc;

		for (size_t j = 0; j < len; j++)
			s[j] = (char)(next_rand(&state) & 0xff);
		buf_init(&b, 0);
		buf_adds(&b, "{\"k\":");
		json_emit_string(&b, s, len);
		buf_addc(&b, '}');
		ck_assert_msg(util_utf8_valid(b.b_data, b.b_len),
		    "json_emit_string(%s): got invalid UTF-8, want valid", show(s, len));
		rc = json_parse_object(b.b_data, b.b_len, 2, &o, &why);
		if (rc != JSON_OK)
			ck_abort_msg("json_parse_object(%s): got %s (%s), want JSON_OK",
			    show(b.b_data, b.b_len), rc_name(rc), why);
		json_release(o);
		buf_free(&b);
	}
}
END_TEST

/* A buffer at its cap: -1, and the failure sticks. */
START_TEST(test_emit_cap)
{
	struct buf b;
	int rc;

	buf_init(&b, 10);
	rc = json_emit_string(&b, "0123456789abcdef", 16);
	ck_assert_msg(rc == -1, "json_emit_string over the cap: got %d, want -1",
	    rc);
	ck_assert_msg(b.b_failed, "b_failed: got false, want true");
	buf_free(&b);
	buf_init(&b, 10);
	rc = json_emit_string(&b, "\x01\x02", 2);
	ck_assert_msg(rc == -1, "json_emit_string of escapes over the cap: got "
	    "%d, want -1", rc);
	buf_free(&b);
}
END_TEST

/* buf_printf writes into the room the buffer has when the piece fits, and
 * grows it when not; the cap (b_max) holds either way, and a refused piece
 * leaves the buffer as it was, terminated. */
START_TEST(test_printf_room_and_cap)
{
	struct buf b;
	char want[600];

	buf_init(&b, 0);
	ck_assert_int_eq(buf_adds(&b, "a"), 0);         /* 256 bytes of room */
	ck_assert_int_eq(buf_printf(&b, "%d-%s", 42, "x"), 0);
	ck_assert_str_eq(b.b_data, "a42-x");
	memset(want, 'y', 500);
	want[500] = '\0';
	ck_assert_int_eq(buf_printf(&b, "%s", want), 0); /* does not fit: grows */
	ck_assert_uint_eq(b.b_len, 505);
	ck_assert_int_eq(memcmp(b.b_data + 5, want, 500), 0);
	ck_assert_int_eq(b.b_data[505], '\0');
	buf_free(&b);

	/* Room past the cap: a cap of 8 in a 256-byte buffer. */
	buf_init(&b, 8);
	ck_assert_int_eq(buf_adds(&b, "abc"), 0);
	ck_assert_int_eq(buf_printf(&b, "%s", "12345"), 0);  /* exactly 8 */
	ck_assert_str_eq(b.b_data, "abc12345");
	ck_assert_int_eq(buf_printf(&b, "%s", "z"), -1);
	ck_assert(b.b_failed);
	ck_assert_uint_eq(b.b_len, 8);
	ck_assert_str_eq(b.b_data, "abc12345");
	buf_free(&b);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_parse_core, 0, NCASES(parse_core));
	tcase_add_test(core, test_parse_counted);
	tcase_add_test(core, test_release_null);
	tcase_add_loop_test(core, test_emit, 0, NCASES(emit_cases));
	tcase_add_test(core, test_emit_round_trip);
	tcase_add_test(core, test_emit_any_bytes);
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_parse_limits, 0, NCASES(parse_limits));
	tcase_add_loop_test(limits, test_parse_nesting, 0, NCASES(nest_cases));
	tcase_add_test(limits, test_parse_wide);
	tcase_add_test(limits, test_emit_cap);
	tcase_add_test(limits, test_printf_room_and_cap);
	tcase_set_timeout(limits, 60);
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_parse_errors, 0, NCASES(parse_errors));
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
