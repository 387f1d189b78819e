/*
 * check_ids: unit tests for src/ids.h (refs, time-ordered ids, UUIDs).
 *
 * Table-driven. The refs were computed with coreutils, e.g.
 * printf '%s' '{"a":1}' | sha256sum | cut -c1-16, and the time ids with
 * Python: ((ms - 1388534400000) << 24) | (low24 & 0xffffff).
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

struct ref_case {
	const char	*in;
	size_t		 len;
	const char	*ref;
};

#define REF(s, r)	{ (s), sizeof(s) - 1, (r) }

static const struct ref_case ref_cases[] = {
	REF("{\"a\":1}", "015abd7f5cc57a2d"),
	REF("{}", "44136fa355b3678a"),
	/* One more byte, a different ref. */
	REF("{\"a\":1} ", "e76a443e8bc10145"),
	REF("{\"key\":\"value\"}", "e43abcf337524483"),
	REF("", "e3b0c44298fc1c14"),
	REF("abc", "ba7816bf8f01cfea"),
};

static int
hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The 8 bytes that 16 hex digits stand for (test-side decoder). */
static void
unhex(const char *s, unsigned char out[IDS_REF_BYTES])
{
	for (int i = 0; i < IDS_REF_BYTES; i++)
		out[i] = (unsigned char)(hexdigit(s[2 * i]) << 4 |
		    hexdigit(s[2 * i + 1]));
}

START_TEST(test_ref)
{
	const struct ref_case *tc = &ref_cases[_i];
	char out[IDS_REF_LEN + 2], again[IDS_REF_LEN + 1];
	unsigned char bin[IDS_REF_BYTES], want[IDS_REF_BYTES];

	memset(out, 'x', sizeof(out));
	ids_ref(tc->in, tc->len, out, bin);
	ck_assert_msg(out[IDS_REF_LEN] == '\0' && strcmp(out, tc->ref) == 0,
	    "ids_ref(\"%s\"): got \"%.*s\", want \"%s\"", tc->in, IDS_REF_LEN,
	    out, tc->ref);
	ck_assert_msg(out[IDS_REF_LEN + 1] == 'x',
	    "ids_ref(\"%s\") wrote past the NUL: got '%c', want 'x'", tc->in,
	    out[IDS_REF_LEN + 1]);
	unhex(tc->ref, want);
	ck_assert_msg(memcmp(bin, want, sizeof(want)) == 0,
	    "ids_ref(\"%s\") binary form: got other bytes, want those of %s",
	    tc->in, tc->ref);
	/* Same input, same ref; bin may be NULL. */
	ids_ref(tc->in, tc->len, again, NULL);
	ck_assert_msg(strcmp(again, out) == 0, "ids_ref(\"%s\") again: got %s, "
	    "want %s", tc->in, again, out);
}
END_TEST

/* Only len bytes are hashed. */
START_TEST(test_ref_counted)
{
	char a[IDS_REF_LEN + 1];

	ids_ref("{\"a\":1}xyz", 7, a, NULL);
	ck_assert_msg(strcmp(a, "015abd7f5cc57a2d") == 0,
	    "ids_ref(first 7 bytes): got %s, want 015abd7f5cc57a2d", a);
	ids_ref("abc\0def", 7, a, NULL);
	ck_assert_msg(strcmp(a, "ba7816bf8f01cfea") != 0,
	    "ids_ref(\"abc\\0def\", 7): got the ref of \"abc\", want another");
}
END_TEST

struct parse_case {
	const char	*s;
	size_t		 len;
	const char	*hex;    /* lowercase form; NULL: want -1 */
};

#define PARSE_OK(s, h)	{ (s), sizeof(s) - 1, (h) }
#define PARSE_BAD(s)	{ (s), sizeof(s) - 1, NULL }

static const struct parse_case parse_core[] = {
	PARSE_OK("015abd7f5cc57a2d", "015abd7f5cc57a2d"),
	PARSE_OK("015ABD7F5CC57A2D", "015abd7f5cc57a2d"),
	PARSE_OK("015AbD7f5cC57a2D", "015abd7f5cc57a2d"),
	PARSE_OK("0000000000000000", "0000000000000000"),
	PARSE_OK("ffffffffffffffff", "ffffffffffffffff"),
	PARSE_OK("FFFFFFFFFFFFFFFF", "ffffffffffffffff"),
	PARSE_OK("0123456789abcdef", "0123456789abcdef"),
	PARSE_OK("fedcba9876543210", "fedcba9876543210"),
};

static const struct parse_case parse_errors[] = {
	/* Lengths. */
	PARSE_BAD(""),
	PARSE_BAD("0"),
	PARSE_BAD("015abd7f5cc57a2"),
	PARSE_BAD("015abd7f5cc57a2d0"),
	PARSE_BAD("015abd7f5cc57a2d5cc57a2d"),
	PARSE_BAD("015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"),
	/* The characters just outside each hex range. */
	PARSE_BAD("015abd7f5cc57a2/"),
	PARSE_BAD("015abd7f5cc57a2:"),
	PARSE_BAD("015abd7f5cc57a2@"),
	PARSE_BAD("015abd7f5cc57a2G"),
	PARSE_BAD("015abd7f5cc57a2`"),
	PARSE_BAD("015abd7f5cc57a2g"),
	PARSE_BAD("g15abd7f5cc57a2d"),
	PARSE_BAD("015abd7fxcc57a2d"),
	/* Spaces, signs, prefixes, NUL and non-ASCII bytes. */
	PARSE_BAD(" 015abd7f5cc57a2"),
	PARSE_BAD("015abd7f5cc57a2 "),
	PARSE_BAD("015abd7f-cc57a2d"),
	PARSE_BAD("+015abd7f5cc57a2"),
	PARSE_BAD("0x5abd7f5cc57a2d"),
	PARSE_BAD("015abd7f5cc57a2\0"),
	PARSE_BAD("\0" "15abd7f5cc57a2d"),
	PARSE_BAD("015abd7f5cc57a\xc3\xa9"),
	PARSE_BAD("\"15abd7f5cc57a2\""),
};

/* One bad character at each position of an otherwise valid ref. */
struct poison_case {
	int	 pos;
	char	 c;
};

static const struct poison_case poison_cases[] = {
	{ 0, 'g' }, { 1, 'G' }, { 2, '/' }, { 3, ':' }, { 4, '@' }, { 5, '`' },
	{ 6, ' ' }, { 7, '\0' }, { 8, '\xff' }, { 9, '-' }, { 10, 'x' },
	{ 11, 'z' }, { 12, '.' }, { 13, '\n' }, { 14, '"' }, { 15, 'h' },
};

START_TEST(test_parse_poison)
{
	const struct poison_case *tc = &poison_cases[_i];
	char s[IDS_REF_LEN + 1] = "015abd7f5cc57a2d";
	unsigned char bin[IDS_REF_BYTES];
	int rc;

	s[tc->pos] = tc->c;
	rc = ids_ref_parse(s, IDS_REF_LEN, bin);
	ck_assert_msg(rc == -1, "ids_ref_parse with 0x%02x at %d: got %d, want -1",
	    (unsigned char)tc->c, tc->pos, rc);
}
END_TEST

static void
check_parse(const struct parse_case *tc)
{
	unsigned char bin[IDS_REF_BYTES], want[IDS_REF_BYTES];
	int rc;

	memset(bin, 0xaa, sizeof(bin));
	rc = ids_ref_parse(tc->s, tc->len, bin);
	if (tc->hex == NULL) {
		ck_assert_msg(rc == -1, "ids_ref_parse(\"%.*s\", %zu): got %d, "
		    "want -1", (int)tc->len, tc->s, tc->len, rc);
		return;
	}
	ck_assert_msg(rc == 0, "ids_ref_parse(\"%s\"): got %d, want 0", tc->s, rc);
	unhex(tc->hex, want);
	ck_assert_msg(memcmp(bin, want, sizeof(want)) == 0,
	    "ids_ref_parse(\"%s\"): got other bytes, want those of %s", tc->s,
	    tc->hex);
}

START_TEST(test_parse_core)
{
	check_parse(&parse_core[_i]);
}
END_TEST

START_TEST(test_parse_errors)
{
	check_parse(&parse_errors[_i]);
}
END_TEST

/* ids_ref and ids_ref_parse agree; only len bytes are read. */
START_TEST(test_parse_ref_round_trip)
{
	char ref[IDS_REF_LEN + 1], padded[IDS_REF_LEN + 4];
	unsigned char bin[IDS_REF_BYTES], parsed[IDS_REF_BYTES];
	int rc;

	for (int i = 0; i < NCASES(ref_cases); i++) {
		ids_ref(ref_cases[i].in, ref_cases[i].len, ref, bin);
		snprintf(padded, sizeof(padded), "%sxyz", ref);
		rc = ids_ref_parse(padded, IDS_REF_LEN, parsed);
		ck_assert_msg(rc == 0 && memcmp(bin, parsed, sizeof(bin)) == 0,
		    "ids_ref_parse(ids_ref(\"%s\") = %s): got %d or other bytes, "
		    "want 0 and the ref's bytes", ref_cases[i].in, ref, rc);
	}
}
END_TEST

struct time_case {
	int64_t		 now_ms;
	uint32_t	 low24;
	uint64_t	 want;
};

static const struct time_case time_core[] = {
	{ INT64_C(1388534400001), 0, UINT64_C(0x0000000001000000) },
	{ INT64_C(1388534401000), 0xabcdef, UINT64_C(0x00000003e8abcdef) },
	{ INT64_C(1411421154480), 5, UINT64_C(0x05542828b0000005) },
	{ INT64_C(1411421154480), 0, UINT64_C(0x05542828b0000000) },
};

static const struct time_case time_limits[] = {
	/* low24 is masked to 24 bits. */
	{ INT64_C(1411421154480), 0x1ffffff, UINT64_C(0x05542828b0ffffff) },
	{ INT64_C(1411421154480), 0xff000000, UINT64_C(0x05542828b0000000) },
	{ INT64_C(1411421154480), 0xffffffff, UINT64_C(0x05542828b0ffffff) },
	/* The epoch itself and earlier times give 0 high bits. */
	{ IDS_EPOCH_MS, 1, 1 },
	{ IDS_EPOCH_MS - 1, 0xffffff, UINT64_C(0xffffff) },
	{ 0, 7, 7 },
	{ -1, 7, 7 },
	{ INT64_MIN, 0xabc, 0xabc },
	/* The last millisecond that fits 40 bits of time. */
	{ IDS_EPOCH_MS + (INT64_C(1) << 40) - 1, 0xffffff, UINT64_MAX },
};

static void
check_time(const struct time_case *tc)
{
	uint64_t got = ids_time_id(tc->now_ms, tc->low24);

	ck_assert_msg(got == tc->want, "ids_time_id(%" PRId64 ", 0x%" PRIx32
	    "): got 0x%016" PRIx64 ", want 0x%016" PRIx64, tc->now_ms, tc->low24,
	    got, tc->want);
}

START_TEST(test_time_core)
{
	check_time(&time_core[_i]);
}
END_TEST

START_TEST(test_time_limits)
{
	check_time(&time_limits[_i]);
}
END_TEST

/* Later milliseconds always sort after earlier ones, whatever low24 holds. */
START_TEST(test_time_order)
{
	int64_t t = INT64_C(1411421154480);

	for (int i = 0; i < 1000; i++, t += 997) {
		uint64_t a = ids_time_id(t, 0xffffff), b = ids_time_id(t + 1, 0);

		if (!(a < b))
			ck_abort_msg("ids_time_id(%" PRId64 ", max) = 0x%" PRIx64
			    ", ids_time_id(+1 ms, 0) = 0x%" PRIx64 ": got not "
			    "ordered, want a < b", t, a, b);
	}
}
END_TEST

struct hex_case {
	uint64_t	 id;
	const char	*hex;
};

static const struct hex_case hex_cases[] = {
	{ 0, "0000000000000000" },
	{ 1, "0000000000000001" },
	{ 0xabcdef, "0000000000abcdef" },
	{ UINT64_C(0x0123456789abcdef), "0123456789abcdef" },
	{ UINT64_C(0x8000000000000000), "8000000000000000" },
	{ UINT64_MAX, "ffffffffffffffff" },
	{ UINT64_C(0x05542828b0000005), "05542828b0000005" },
};

START_TEST(test_hex64)
{
	const struct hex_case *tc = &hex_cases[_i];
	char out[19];

	memset(out, 'x', sizeof(out));
	ids_hex64(tc->id, out);
	ck_assert_msg(out[16] == '\0' && strcmp(out, tc->hex) == 0,
	    "ids_hex64(0x%" PRIx64 "): got \"%.16s\", want \"%s\"", tc->id, out,
	    tc->hex);
	ck_assert_msg(out[17] == 'x', "ids_hex64(0x%" PRIx64 ") wrote past 17 "
	    "bytes: got '%c', want 'x'", tc->id, out[17]);
}
END_TEST

/* Returns NULL when s is a version 4 UUID, else what is wrong. */
static const char *
uuid_v4_problem(const char *s)
{
	if (strlen(s) != 36)
		return "length is not 36";
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return "no dash at 8, 13, 18 or 23";
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f'))) {
			return "not lowercase hex";
		}
	}
	if (s[14] != '4')
		return "version nibble is not 4";
	if (strchr("89ab", s[19]) == NULL)
		return "variant nibble is not 8-b";
	return NULL;
}

static int
cmp_uuid(const void *a, const void *b)
{
	return strcmp(a, b);
}

START_TEST(test_uuid)
{
	enum { N = 1000 };
	char (*u)[38] = calloc(N, sizeof(*u));
	const char *why;

	ck_assert_msg(u != NULL, "calloc: got NULL");
	for (int i = 0; i < N; i++) {
		memset(u[i], 'x', sizeof(u[i]));
		if (ids_uuid(u[i]) != 0)
			ck_abort_msg("ids_uuid #%d: got -1, want 0", i);
		if (u[i][37] != 'x')
			ck_abort_msg("ids_uuid wrote past 37 bytes");
		if ((why = uuid_v4_problem(u[i])) != NULL)
			ck_abort_msg("ids_uuid #%d: got \"%.36s\" (%s), want a "
			    "version 4 UUID", i, u[i], why);
	}
	qsort(u, N, sizeof(*u), cmp_uuid);
	for (int i = 1; i < N; i++) {
		if (strcmp(u[i - 1], u[i]) == 0)
			ck_abort_msg("ids_uuid: got \"%s\" twice, want unique", u[i]);
	}
	free(u);
}
END_TEST

START_TEST(test_random)
{
	unsigned char a[32], b[32], zero[32] = { 0 };

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	ck_assert_msg(ids_random(a, sizeof(a)) == 0, "ids_random(32): got -1, "
	    "want 0");
	ck_assert_msg(ids_random(b, sizeof(b)) == 0, "ids_random(32): got -1, "
	    "want 0");
	ck_assert_msg(memcmp(a, zero, sizeof(a)) != 0 && memcmp(a, b, sizeof(a)) != 0,
	    "ids_random: got zero or repeated bytes, want random ones");
	ck_assert_msg(ids_random(a, 0) == 0, "ids_random(0): got -1, want 0");
}
END_TEST

/* More than an int's worth of bytes is refused before touching the buffer. */
START_TEST(test_random_too_big)
{
	unsigned char a[4];
	int rc = ids_random(a, (size_t)INT32_MAX + 1);

	ck_assert_msg(rc == -1, "ids_random(2^31): got %d, want -1", rc);
}
END_TEST

static Suite *
ids_suite(void)
{
	Suite *s = suite_create("ids");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_ref, 0, NCASES(ref_cases));
	tcase_add_test(core, test_ref_counted);
	tcase_add_loop_test(core, test_parse_core, 0, NCASES(parse_core));
	tcase_add_test(core, test_parse_ref_round_trip);
	tcase_add_loop_test(core, test_time_core, 0, NCASES(time_core));
	tcase_add_test(core, test_time_order);
	tcase_add_loop_test(core, test_hex64, 0, NCASES(hex_cases));
	tcase_add_test(core, test_uuid);
	tcase_add_test(core, test_random);
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_time_limits, 0, NCASES(time_limits));
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_parse_errors, 0, NCASES(parse_errors));
	tcase_add_loop_test(errors, test_parse_poison, 0, NCASES(poison_cases));
	tcase_add_test(errors, test_random_too_big);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ids_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
