/*
 * check_util: unit tests for src/util.h (strict number parsing, hex,
 * big-endian helpers, UTF-8 validation).
 *
 * Table-driven. UTF-8 cases follow RFC 3629 (and Markus Kuhn's
 * UTF-8-test.txt for the malformed ones); an exhaustive pass encodes every
 * code point with a test-side encoder, in shortest and in overlong forms.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

struct int_case {
	const char	*s;
	size_t		 len;
	int64_t		 min, max;
	int		 rc;
	int64_t		 want;
};

/* The length comes from sizeof, so embedded NUL bytes are part of the input. */
#define I_OK(s, lo, hi, v)	{ (s), sizeof(s) - 1, (lo), (hi), 0, (v) }
#define I_BAD(s, lo, hi)	{ (s), sizeof(s) - 1, (lo), (hi), -1, 0 }

static const struct int_case int_core[] = {
	I_OK("0", 0, 10, 0),
	I_OK("7", 0, 10, 7),
	I_OK("42", 0, 100, 42),
	I_OK("00042", 0, 100, 42),
	I_OK("-5", -10, 10, -5),
	I_OK("-0", -1, 1, 0),
	I_OK("123456789", 0, INT64_MAX, 123456789),
	I_OK("1411421154480", 0, INT64_MAX, INT64_C(1411421154480)),
};

static const struct int_case int_limits[] = {
	I_OK("10", 0, 10, 10),
	I_OK("-10", -10, 10, -10),
	I_OK("1", 1, 5, 1),
	I_OK("9223372036854775807", INT64_MIN, INT64_MAX, INT64_MAX),
	I_OK("-9223372036854775808", INT64_MIN, INT64_MAX, INT64_MIN),
	I_OK("00000000000000000001", 0, 5, 1),
	I_BAD("11", 0, 10),
	I_BAD("-11", -10, 10),
	I_BAD("0", 1, 5),
	I_BAD("9223372036854775808", INT64_MIN, INT64_MAX),
	I_BAD("-9223372036854775809", INT64_MIN, INT64_MAX),
	I_BAD("18446744073709551615", INT64_MIN, INT64_MAX),
	I_BAD("18446744073709551616", INT64_MIN, INT64_MAX),
	I_BAD("99999999999999999999", INT64_MIN, INT64_MAX),
	I_BAD("-99999999999999999999", INT64_MIN, INT64_MAX),
	I_BAD("9223372036854775807", INT64_MIN, INT64_MAX - 1),
	I_BAD("-9223372036854775808", INT64_MIN + 1, INT64_MAX),
};

static const struct int_case int_errors[] = {
	I_BAD("", 0, 10),
	I_BAD("-", -10, 10),
	I_BAD("+1", 0, 10),
	I_BAD(" 1", 0, 10),
	I_BAD("1 ", 0, 10),
	I_BAD("1x", 0, 10),
	I_BAD("x", 0, 10),
	I_BAD("0x1", 0, 10),
	I_BAD("1.0", 0, 10),
	I_BAD("1e1", 0, 100),
	I_BAD("--1", -10, 10),
	I_BAD("-+1", -10, 10),
	I_BAD("-1", 0, 10),
	I_BAD("-0", 0, 10),
	I_BAD("1\0", 0, 10),
	I_BAD("\0" "1", 0, 10),
	I_BAD("1,000", 0, 10000),
	I_BAD("\xef\xbc\x91", 0, 10),
	I_BAD("\t1", 0, 10),
	I_BAD("1-", -10, 10),
};

static void
check_int(const struct int_case *tc)
{
	int64_t got = INT64_C(-4242);
	int rc;

	rc = util_parse_int64(tc->s, tc->len, tc->min, tc->max, &got);
	ck_assert_msg(rc == tc->rc, "util_parse_int64(\"%.*s\", [%" PRId64 ", %"
	    PRId64 "]): got %d (%" PRId64 "), want %d", (int)tc->len, tc->s,
	    tc->min, tc->max, rc, got, tc->rc);
	if (rc == 0)
		ck_assert_msg(got == tc->want, "util_parse_int64(\"%.*s\"): got %"
		    PRId64 ", want %" PRId64, (int)tc->len, tc->s, got, tc->want);
	else
		ck_assert_msg(got == INT64_C(-4242), "util_parse_int64(\"%.*s\") "
		    "failed but wrote *out: got %" PRId64 ", want -4242",
		    (int)tc->len, tc->s, got);
}

START_TEST(test_int_core)
{
	check_int(&int_core[_i]);
}
END_TEST

START_TEST(test_int_limits)
{
	check_int(&int_limits[_i]);
}
END_TEST

START_TEST(test_int_errors)
{
	check_int(&int_errors[_i]);
}
END_TEST

struct uint_case {
	const char	*s;
	size_t		 len;
	int		 rc;
	uint64_t	 want;
};

#define U_OK(s, v)	{ (s), sizeof(s) - 1, 0, (v) }
#define U_BAD(s)	{ (s), sizeof(s) - 1, -1, 0 }

static const struct uint_case uint_cases[] = {
	U_OK("0", 0),
	U_OK("42", 42),
	U_OK("0042", 42),
	U_OK("9223372036854775808", UINT64_C(9223372036854775808)),
	U_OK("18446744073709551614", UINT64_MAX - 1),
	U_OK("18446744073709551615", UINT64_MAX),
	U_OK("00000000000000000000", 0),
	U_BAD("18446744073709551616"),
	U_BAD("18446744073709551620"),
	U_BAD("99999999999999999999"),
	U_BAD("184467440737095516150"),
	U_BAD(""),
	U_BAD("-1"),
	U_BAD("-0"),
	U_BAD("+1"),
	U_BAD(" 1"),
	U_BAD("1 "),
	U_BAD("1a"),
	U_BAD("1\0"),
};

START_TEST(test_uint)
{
	const struct uint_case *tc = &uint_cases[_i];
	uint64_t got = 4242;
	int rc;

	rc = util_parse_uint64(tc->s, tc->len, &got);
	ck_assert_msg(rc == tc->rc, "util_parse_uint64(\"%.*s\"): got %d (%"
	    PRIu64 "), want %d", (int)tc->len, tc->s, rc, got, tc->rc);
	if (rc == 0)
		ck_assert_msg(got == tc->want, "util_parse_uint64(\"%.*s\"): got %"
		    PRIu64 ", want %" PRIu64, (int)tc->len, tc->s, got, tc->want);
	else
		ck_assert_msg(got == 4242, "util_parse_uint64(\"%.*s\") failed but "
		    "wrote *out: got %" PRIu64 ", want 4242", (int)tc->len, tc->s,
		    got);
}
END_TEST

/* Only len bytes are read. */
START_TEST(test_parse_counted)
{
	int64_t i = 0;
	uint64_t u = 0;
	int rc;

	rc = util_parse_int64("12345", 3, 0, 1000, &i);
	ck_assert_msg(rc == 0 && i == 123, "util_parse_int64(\"12345\", 3): got "
	    "%d %" PRId64 ", want 0 123", rc, i);
	rc = util_parse_uint64("99x", 2, &u);
	ck_assert_msg(rc == 0 && u == 99, "util_parse_uint64(\"99x\", 2): got "
	    "%d %" PRIu64 ", want 0 99", rc, u);
	rc = util_parse_int64("-", 0, -5, 5, &i);
	ck_assert_msg(rc == -1, "util_parse_int64(\"\", 0): got %d, want -1", rc);
}
END_TEST

struct hex_case {
	const char	*s;
	size_t		 len;
	bool		 want;
};

#define HEX(s, w)	{ (s), sizeof(s) - 1, (w) }

static const struct hex_case is_hex_cases[] = {
	HEX("0", true),
	HEX("0123456789", true),
	HEX("abcdef", true),
	HEX("ABCDEF", true),
	HEX("aBcD09", true),
	HEX("015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862",
	    true),
	HEX("", false),
	HEX("/", false),
	HEX(":", false),
	HEX("@", false),
	HEX("G", false),
	HEX("`", false),
	HEX("g", false),
	HEX(" 1", false),
	HEX("1 ", false),
	HEX("0x1", false),
	HEX("1\0", false),
	HEX("-1", false),
	HEX("\xc3\xa9", false),
};

START_TEST(test_is_hex)
{
	const struct hex_case *tc = &is_hex_cases[_i];
	bool got = util_is_hex(tc->s, tc->len);

	ck_assert_msg(got == tc->want, "util_is_hex(\"%.*s\", %zu): got %d, want %d",
	    (int)tc->len, tc->s, tc->len, got, tc->want);
}
END_TEST

struct tohex_case {
	const char	*in;
	size_t		 len;
	const char	*out;
};

#define TOHEX(s, o)	{ (s), sizeof(s) - 1, (o) }

static const struct tohex_case tohex_cases[] = {
	TOHEX("", ""),
	TOHEX("\0", "00"),
	TOHEX("\xff", "ff"),
	TOHEX("\x01\x23\xab\xcd\xef", "0123abcdef"),
	TOHEX("\xde\xad\xbe\xef", "deadbeef"),
	TOHEX("abc", "616263"),
	TOHEX("\x0f\xf0\x80\x7f", "0ff0807f"),
};

START_TEST(test_hex)
{
	const struct tohex_case *tc = &tohex_cases[_i];
	char out[64];

	memset(out, 'x', sizeof(out));
	util_hex((const unsigned char *)tc->in, tc->len, out);
	ck_assert_msg(strcmp(out, tc->out) == 0, "util_hex(%zu bytes): got \"%s\", "
	    "want \"%s\"", tc->len, out, tc->out);
	ck_assert_msg(out[2 * tc->len + 1] == 'x', "util_hex(%zu bytes) wrote past "
	    "2*len+1 bytes", tc->len);
}
END_TEST

struct be_case {
	uint64_t	 v;
	const char	*bytes;   /* 8 bytes for be64; the last 4 for be32 */
};

static const struct be_case be_cases[] = {
	{ 0, "\x00\x00\x00\x00\x00\x00\x00\x00" },
	{ 1, "\x00\x00\x00\x00\x00\x00\x00\x01" },
	{ 0x01020304, "\x00\x00\x00\x00\x01\x02\x03\x04" },
	{ UINT64_C(0x0102030405060708), "\x01\x02\x03\x04\x05\x06\x07\x08" },
	{ UINT64_C(0x8000000000000000), "\x80\x00\x00\x00\x00\x00\x00\x00" },
	{ UINT64_C(0x00000000ffffffff), "\x00\x00\x00\x00\xff\xff\xff\xff" },
	{ UINT64_C(0x0000000080000000), "\x00\x00\x00\x00\x80\x00\x00\x00" },
	{ UINT64_MAX, "\xff\xff\xff\xff\xff\xff\xff\xff" },
};

START_TEST(test_be)
{
	const struct be_case *tc = &be_cases[_i];
	unsigned char b[10];
	uint64_t v64;
	uint32_t v32 = (uint32_t)tc->v;

	memset(b, 0xaa, sizeof(b));
	util_put_be64(b + 1, tc->v);
	ck_assert_msg(memcmp(b + 1, tc->bytes, 8) == 0 && b[0] == 0xaa &&
	    b[9] == 0xaa, "util_put_be64(0x%" PRIx64 "): got %02x%02x%02x%02x"
	    "%02x%02x%02x%02x, want the big-endian bytes", tc->v, b[1], b[2],
	    b[3], b[4], b[5], b[6], b[7], b[8]);
	v64 = util_get_be64(b + 1);
	ck_assert_msg(v64 == tc->v, "util_get_be64(put(0x%" PRIx64 ")): got 0x%"
	    PRIx64 ", want 0x%" PRIx64, tc->v, v64, tc->v);

	memset(b, 0xaa, sizeof(b));
	util_put_be32(b + 1, v32);
	ck_assert_msg(memcmp(b + 1, tc->bytes + 4, 4) == 0 && b[0] == 0xaa &&
	    b[5] == 0xaa, "util_put_be32(0x%" PRIx32 "): got %02x%02x%02x%02x, "
	    "want the big-endian bytes", v32, b[1], b[2], b[3], b[4]);
	ck_assert_msg(util_get_be32(b + 1) == v32, "util_get_be32(put(0x%" PRIx32
	    ")): got 0x%" PRIx32 ", want 0x%" PRIx32, v32, util_get_be32(b + 1),
	    v32);
}
END_TEST

static uint64_t
next_rand(uint64_t *state)
{
	*state = *state * UINT64_C(6364136223846793005) +
	    UINT64_C(1442695040888963407);
	return *state;
}

/* Byte order is numeric order: memcmp of the encodings agrees with <. */
START_TEST(test_be_order)
{
	uint64_t state = 0x5eed;

	for (int i = 0; i < 100000; i++) {
		uint64_t a = next_rand(&state), b = next_rand(&state);
		unsigned char ea[8], eb[8];
		int c;

		/* Mix in near neighbours, where a single byte differs. */
		if (i % 3 == 0)
			b = a + (b & 0xff);
		util_put_be64(ea, a);
		util_put_be64(eb, b);
		c = memcmp(ea, eb, 8);
		if ((c < 0) != (a < b) || (c == 0) != (a == b))
			ck_abort_msg("be64 order of 0x%" PRIx64 " and 0x%" PRIx64
			    ": got memcmp %d, want the sign of a - b", a, b, c);
		if (util_get_be64(ea) != a)
			ck_abort_msg("be64 round trip of 0x%" PRIx64 ": got 0x%"
			    PRIx64, a, util_get_be64(ea));
		util_put_be32(ea, (uint32_t)a);
		util_put_be32(eb, (uint32_t)b);
		c = memcmp(ea, eb, 4);
		if ((c < 0) != ((uint32_t)a < (uint32_t)b))
			ck_abort_msg("be32 order of 0x%" PRIx32 " and 0x%" PRIx32
			    ": got memcmp %d", (uint32_t)a, (uint32_t)b, c);
		if (util_get_be32(ea) != (uint32_t)a)
			ck_abort_msg("be32 round trip of 0x%" PRIx32 ": got 0x%"
			    PRIx32, (uint32_t)a, util_get_be32(ea));
	}
}
END_TEST

struct utf8_case {
	const char	*s;
	size_t		 len;
	bool		 want;
};

#define U8(s, w)	{ (s), sizeof(s) - 1, (w) }

static const struct utf8_case utf8_core[] = {
	U8("", true),
	U8("a", true),
	U8("hello, world", true),
	U8("\0", true),
	U8("\x7f", true),
	U8("h\xc3\xa9llo", true),
	U8("\xe2\x82\xac", true),
	U8("\xf0\x9f\x98\x80", true),
	U8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true),
};

static const struct utf8_case utf8_limits[] = {
	/* The first and last code point of each length. */
	U8("\xc2\x80", true),
	U8("\xdf\xbf", true),
	U8("\xe0\xa0\x80", true),
	U8("\xef\xbf\xbf", true),
	U8("\xf0\x90\x80\x80", true),
	U8("\xf4\x8f\xbf\xbf", true),
	/* Around the surrogates. */
	U8("\xed\x9f\xbf", true),
	U8("\xee\x80\x80", true),
	U8("\xed\xa0\x80", false),
	U8("\xed\xaf\xbf", false),
	U8("\xed\xb0\x80", false),
	U8("\xed\xbf\xbf", false),
	U8("\xed\xa0\x80\xed\xb0\x80", false),
	/* Just past U+10FFFF. */
	U8("\xf4\x90\x80\x80", false),
	U8("\xf5\x80\x80\x80", false),
	U8("\xf7\xbf\xbf\xbf", false),
	/* The largest overlong of each length. */
	U8("\xc1\xbf", false),
	U8("\xe0\x9f\xbf", false),
	U8("\xf0\x8f\xbf\xbf", false),
};

static const struct utf8_case utf8_errors[] = {
	/* Overlong forms of '/' and NUL. */
	U8("\xc0\xaf", false),
	U8("\xe0\x80\xaf", false),
	U8("\xf0\x80\x80\xaf", false),
	U8("\xc0\x80", false),
	U8("\xe0\x80\x80", false),
	U8("\xf0\x80\x80\x80", false),
	/* Five- and six-byte forms, and bytes that never occur. */
	U8("\xf8\x88\x80\x80\x80", false),
	U8("\xfc\x84\x80\x80\x80\x80", false),
	U8("\xfe", false),
	U8("\xff", false),
	U8("a\xffz", false),
	/* Truncated sequences. */
	U8("\xc3", false),
	U8("\xe2\x82", false),
	U8("\xf0\x9f\x98", false),
	U8("a\xc3", false),
	U8("\xe2\x82" "a", false),
	U8("\xf0\x9f" "ab", false),
	/* Stray continuation bytes. */
	U8("\x80", false),
	U8("\xbf", false),
	U8("a\x80" "b", false),
	U8("\xc3\xa9\xa9", false),
	U8("\x80\x80\x80\x80", false),
	/* A lead byte followed by a non-continuation. */
	U8("\xc3\x28", false),
	U8("\xc3\xc3", false),
	U8("\xe2\x28\xa1", false),
	U8("\xe2\x82\x28", false),
	U8("\xf0\x28\x8c\xbc", false),
	U8("\xf0\x9f\x98\x28", false),
};

static void
check_utf8(const struct utf8_case *tc)
{
	bool got = util_utf8_valid(tc->s, tc->len);
	char hex[64];

	util_hex((const unsigned char *)tc->s, tc->len < 31 ? tc->len : 31, hex);
	ck_assert_msg(got == tc->want, "util_utf8_valid(%s): got %d, want %d",
	    hex, got, tc->want);
}

START_TEST(test_utf8_core)
{
	check_utf8(&utf8_core[_i]);
}
END_TEST

START_TEST(test_utf8_limits)
{
	check_utf8(&utf8_limits[_i]);
}
END_TEST

START_TEST(test_utf8_errors)
{
	check_utf8(&utf8_errors[_i]);
}
END_TEST

/* Only len bytes are checked. */
START_TEST(test_utf8_counted)
{
	static const struct utf8_case cases[] = {
		{ "\xc3\xa9", 1, false },
		{ "a\xff", 1, true },
		{ "\xf0\x9f\x98\x80", 3, false },
		{ "ab\xc3\xa9", 2, true },
	};

	for (int i = 0; i < NCASES(cases); i++)
		check_utf8(&cases[i]);
}
END_TEST

/* Encodes cp in n bytes (1..4) without checking that n is the shortest. */
static void
encode(uint32_t cp, int n, unsigned char *p)
{
	static const unsigned char lead[] = { 0, 0, 0xc0, 0xe0, 0xf0 };

	for (int i = n - 1; i > 0; i--) {
		p[i] = (unsigned char)(0x80 | (cp & 0x3f));
		cp >>= 6;
	}
	p[0] = (unsigned char)(n == 1 ? cp : lead[n] | cp);
}

static int
shortest(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/*
 * Every code point up to 0x1FFFFF: the shortest form is valid exactly when
 * the code point is a scalar value (not a surrogate, at most U+10FFFF);
 * every longer form is an overlong and invalid.
 */
START_TEST(test_utf8_exhaustive)
{
	unsigned char b[4];

	for (uint32_t cp = 0; cp <= 0x1fffff; cp++) {
		bool scalar = cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);

		for (int n = shortest(cp); n <= 4; n++) {
			bool want = scalar && n == shortest(cp);

			encode(cp, n, b);
			if (util_utf8_valid((const char *)b, (size_t)n) != want)
				ck_abort_msg("util_utf8_valid(U+%04" PRIX32 " in %d "
				    "bytes): got %d, want %d", cp, n, !want, want);
			/* Cut short, it is never valid (unless n is 1). */
			if (n > 1 && util_utf8_valid((const char *)b,
			    (size_t)n - 1))
				ck_abort_msg("util_utf8_valid(U+%04" PRIX32 " cut to "
				    "%d bytes): got 1, want 0", cp, n - 1);
		}
	}
}
END_TEST

static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_int_core, 0, NCASES(int_core));
	tcase_add_loop_test(core, test_uint, 0, NCASES(uint_cases));
	tcase_add_test(core, test_parse_counted);
	tcase_add_loop_test(core, test_is_hex, 0, NCASES(is_hex_cases));
	tcase_add_loop_test(core, test_hex, 0, NCASES(tohex_cases));
	tcase_add_loop_test(core, test_be, 0, NCASES(be_cases));
	tcase_add_test(core, test_be_order);
	tcase_add_loop_test(core, test_utf8_core, 0, NCASES(utf8_core));
	tcase_add_test(core, test_utf8_counted);
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_int_limits, 0, NCASES(int_limits));
	tcase_add_loop_test(limits, test_utf8_limits, 0, NCASES(utf8_limits));
	tcase_add_test(limits, test_utf8_exhaustive);
	tcase_set_timeout(limits, 60);
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_int_errors, 0, NCASES(int_errors));
	tcase_add_loop_test(errors, test_utf8_errors, 0, NCASES(utf8_errors));
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
