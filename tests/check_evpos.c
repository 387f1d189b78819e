/*
 * check_evpos: unit tests for src/evpos.h (ordinals, event positions, range
 * bounds and the ranges a list walks).
 *
 * Table-driven. The hex ordinals were converted with Python's int(s, 16);
 * the timestamps of other formats are the RFC 7231 example date
 * (1994-11-06T08:49:37Z = 784111777000 ms), as in check_timefmt.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evpos.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define MAX		UINT64_MAX

/* ---- ordinals ------------------------------------------------------------ */

struct ord_case {
	const char	*in;
	size_t		 len;
	int		 rc;
	uint64_t	 ord;
};

#define ORD(s, v)	{ (s), sizeof(s) - 1, 0, (v) }
#define ORD_BAD(s)	{ (s), sizeof(s) - 1, -1, 0 }

static const struct ord_case ord_cases[] = {
	/* Decimal, as in URLs and "ordinal". */
	ORD("0", 0),
	ORD("7", 7),
	ORD("007", 7),
	ORD("6843983222401925120", UINT64_C(6843983222401925120)),
	ORD("18446744073709551615", MAX),
	/* Exactly 16 hex digits: ordinal_str, either case. */
	ORD("5efab67ad4000000", UINT64_C(0x5efab67ad4000000)),
	ORD("5EFAB67AD4000000", UINT64_C(0x5efab67ad4000000)),
	ORD("ffffffffffffffff", MAX),
	ORD("0000000000000000", 0),
	/* 16 digits are hex even when they look decimal (real decimal
	 * ordinals have 19 or 20 digits). */
	ORD("0000000000000010", 16),
	ORD("1234567890123456", UINT64_C(0x1234567890123456)),
	/* 15 and 17 digits are decimal, so hex letters are refused. */
	ORD("123456789012345", UINT64_C(123456789012345)),
	ORD("12345678901234567", UINT64_C(12345678901234567)),
	ORD_BAD("5efab67ad400000"),
	ORD_BAD("5efab67ad40000000"),
	ORD_BAD(""),
	ORD_BAD("18446744073709551616"),
	ORD_BAD("99999999999999999999"),
	ORD_BAD("000000000000000000001"),
	ORD_BAD("-1"),
	ORD_BAD("+1"),
	ORD_BAD(" 1"),
	ORD_BAD("1 "),
	ORD_BAD("0x10"),
	ORD_BAD("1.0"),
	ORD_BAD("1e3"),
	ORD_BAD("1\0" "2"),
	ORD_BAD("5efab67ad400000g"),
	ORD_BAD("5efab67ad400000\0"),
};

START_TEST(test_ordinal)
{
	const struct ord_case *tc = &ord_cases[_i];
	uint64_t got = 12345;
	int rc = evpos_parse_ordinal(tc->in, tc->len, &got);

	ck_assert_msg(rc == tc->rc, "evpos_parse_ordinal(\"%s\"): rc %d, want %d",
	    tc->in, rc, tc->rc);
	if (rc == 0)
		ck_assert_msg(got == tc->ord, "evpos_parse_ordinal(\"%s\"): %" PRIu64
		    ", want %" PRIu64, tc->in, got, tc->ord);
}
END_TEST

/* ---- positions ----------------------------------------------------------- */

struct pos_case {
	const char	*in;
	size_t		 len;
	int		 rc;
	uint64_t	 ts, ord;
	bool		 ord_given;
};

#define POS(s, t, o, g)	{ (s), sizeof(s) - 1, 0, (t), (o), (g) }
#define POS_BAD(s)	{ (s), sizeof(s) - 1, -1, 0, 0, false }

#define RFC	UINT64_C(784111777000)

static const struct pos_case pos_cases[] = {
	POS("1500000000000", UINT64_C(1500000000000), 0, false),
	POS("1500000000000/7", UINT64_C(1500000000000), 7, true),
	POS("1500000000000/0", UINT64_C(1500000000000), 0, true),
	POS("1500000000000/5efab67ad4000000", UINT64_C(1500000000000),
	    UINT64_C(0x5efab67ad4000000), true),
	POS("1500000000000/18446744073709551615", UINT64_C(1500000000000), MAX, true),
	POS("0", 0, 0, false),
	POS("0/0", 0, 0, true),
	POS("253402300799999", UINT64_C(253402300799999), 0, false),
	/* Every timestamp format, with and without an ordinal. */
	POS("1994-11-06T08:49:37Z", RFC, 0, false),
	POS("1994-11-06T08:49:37.123Z/3", RFC + 123, 3, true),
	POS("1994-11-06T09:49:37+01:00/3", RFC, 3, true),
	POS("Sun, 06 Nov 1994 08:49:37 GMT/3", RFC, 3, true),
	POS("Sunday, 06-Nov-94 08:49:37 GMT", UINT64_C(3939871777000), 0, false),
	POS("Sun Nov  6 08:49:37 1994/12", RFC, 12, true),
	/* Bad timestamps. */
	POS_BAD(""),
	POS_BAD("abc"),
	POS_BAD("-1"),
	POS_BAD("253402300800000"),
	POS_BAD("1500000000000x"),
	POS_BAD(" 1500000000000"),
	/* Bad ordinals and separators. */
	POS_BAD("1500000000000/"),
	POS_BAD("/7"),
	POS_BAD("/"),
	POS_BAD("1500000000000/7/8"),
	POS_BAD("1500000000000//7"),
	POS_BAD("1500000000000/x"),
	POS_BAD("1500000000000/-7"),
	POS_BAD("1500000000000/18446744073709551616"),
	POS_BAD("1500000000000/7 "),
	POS_BAD("1500000000000\0/7"),
	POS_BAD("1500000000000/7\0"),
};

START_TEST(test_pos)
{
	const struct pos_case *tc = &pos_cases[_i];
	struct evpos p = { 99, 99 };
	bool given = !tc->ord_given;
	int rc = evpos_parse(tc->in, tc->len, &p, &given);

	ck_assert_msg(rc == tc->rc, "evpos_parse(\"%s\"): rc %d, want %d", tc->in, rc, tc->rc);
	if (rc != 0)
		return;
	ck_assert_msg(p.ts == tc->ts && p.ord == tc->ord && given == tc->ord_given,
	    "evpos_parse(\"%s\"): %" PRIu64 "/%" PRIu64 " given %d, want %" PRIu64
	    "/%" PRIu64 " given %d", tc->in, p.ts, p.ord, given, tc->ts, tc->ord,
	    tc->ord_given);
}
END_TEST

/* The length bounds the input: a longer buffer is not read past len. */
START_TEST(test_pos_len)
{
	struct evpos p;
	bool given;

	ck_assert_int_eq(evpos_parse("1500/7", 4, &p, &given), 0);
	ck_assert(p.ts == 1500 && p.ord == 0 && !given);
	ck_assert_int_eq(evpos_parse("1500/7", 5, &p, &given), -1);
	ck_assert_int_eq(evpos_parse("1500/78", 6, &p, &given), 0);
	ck_assert(p.ts == 1500 && p.ord == 7 && given);
}
END_TEST

/* ---- range bounds -------------------------------------------------------- */

struct bound_case {
	const char	*in;
	bool		 upper, excl;
	int		 rc;
	uint64_t	 ts, ord;
};

static const struct bound_case bound_cases[] = {
	/* A bare timestamp covers its whole millisecond ... */
	{ "1000", false, false, 0, 1000, 0 },		/* startEvent */
	{ "1000", true, false, 0, 1000, MAX },		/* endEvent */
	/* ... or excludes it whole. */
	{ "1000", false, true, 0, 1000, MAX },		/* afterEvent */
	{ "1000", true, true, 0, 1000, 0 },		/* beforeEvent */
	/* An ordinal is taken as given, in both forms. */
	{ "1000/5", false, false, 0, 1000, 5 },
	{ "1000/5", true, false, 0, 1000, 5 },
	{ "1000/5", false, true, 0, 1000, 5 },
	{ "1000/5", true, true, 0, 1000, 5 },
	{ "1000/0", false, true, 0, 1000, 0 },
	{ "1000/000000000000000a", true, true, 0, 1000, 10 },
	{ "1994-11-06T08:49:37Z", true, false, 0, RFC, MAX },
	{ "x", false, false, -1, 0, 0 },
	{ "1000/", true, true, -1, 0, 0 },
	{ "10000000000000000000", true, false, -1, 0, 0 },
};

START_TEST(test_bound)
{
	const struct bound_case *tc = &bound_cases[_i];
	struct evpos p = { 99, 99 };
	int rc = evpos_parse_bound(tc->in, strlen(tc->in), tc->upper, tc->excl, &p);

	ck_assert_msg(rc == tc->rc, "evpos_parse_bound(\"%s\", upper %d, excl %d): rc %d",
	    tc->in, tc->upper, tc->excl, rc);
	if (rc == 0)
		ck_assert_msg(p.ts == tc->ts && p.ord == tc->ord,
		    "evpos_parse_bound(\"%s\", upper %d, excl %d): %" PRIu64 "/%" PRIu64
		    ", want %" PRIu64 "/%" PRIu64, tc->in, tc->upper, tc->excl, p.ts, p.ord,
		    tc->ts, tc->ord);
}
END_TEST

/* ---- comparison and ranges ----------------------------------------------- */

START_TEST(test_cmp)
{
	static const struct { struct evpos a, b; int want; } t[] = {
		{ { 1, 0 }, { 1, 0 }, 0 },
		{ { 1, 0 }, { 1, 1 }, -1 },
		{ { 1, MAX }, { 2, 0 }, -1 },
		{ { 2, 0 }, { 1, MAX }, 1 },
		{ { MAX, MAX }, { MAX, MAX - 1 }, 1 },
		{ { 0, MAX }, { 0, MAX }, 0 },
	};

	for (int i = 0; i < NCASES(t); i++)
		ck_assert_msg(evpos_cmp(&t[i].a, &t[i].b) == t[i].want &&
		    evpos_cmp(&t[i].b, &t[i].a) == -t[i].want, "row %d", i);
}
END_TEST

/* A range made from query text, as events_list builds it. */
static struct evrange
range_of(const char *lo, bool lo_excl, const char *hi, bool hi_excl)
{
	struct evrange r;

	evrange_all(&r);
	if (lo != NULL) {
		ck_assert_int_eq(evpos_parse_bound(lo, strlen(lo), false, lo_excl, &r.lo), 0);
		r.lo_excl = lo_excl;
	}
	if (hi != NULL) {
		ck_assert_int_eq(evpos_parse_bound(hi, strlen(hi), true, hi_excl, &r.hi), 0);
		r.hi_excl = hi_excl;
	}
	return r;
}

struct where_case {
	const char	*lo;
	bool		 lo_excl;
	const char	*hi;
	bool		 hi_excl;
	struct evpos	 p;
	int		 want;
};

static const struct where_case where_cases[] = {
	/* No bounds: everything, the extremes included. */
	{ NULL, false, NULL, false, { 0, 0 }, 0 },
	{ NULL, false, NULL, false, { MAX, MAX }, 0 },
	/* startEvent=1000 / endEvent=1000: the whole millisecond. */
	{ "1000", false, NULL, false, { 1000, 0 }, 0 },
	{ "1000", false, NULL, false, { 999, MAX }, -1 },
	{ NULL, false, "1000", false, { 1000, MAX }, 0 },
	{ NULL, false, "1000", false, { 1001, 0 }, 1 },
	/* afterEvent=1000 / beforeEvent=1000: none of it. */
	{ "1000", true, NULL, false, { 1000, MAX }, -1 },
	{ "1000", true, NULL, false, { 1000, MAX - 1 }, -1 },
	{ "1000", true, NULL, false, { 1001, 0 }, 0 },
	{ NULL, false, "1000", true, { 1000, 0 }, 1 },
	{ NULL, false, "1000", true, { 999, MAX }, 0 },
	/* TS/ORD bounds: inclusive holds the position, exclusive not. */
	{ "1000/5", false, NULL, false, { 1000, 5 }, 0 },
	{ "1000/5", false, NULL, false, { 1000, 4 }, -1 },
	{ "1000/5", true, NULL, false, { 1000, 5 }, -1 },
	{ "1000/5", true, NULL, false, { 1000, 6 }, 0 },
	{ NULL, false, "1000/5", false, { 1000, 5 }, 0 },
	{ NULL, false, "1000/5", true, { 1000, 5 }, 1 },
	{ NULL, false, "1000/5", true, { 1000, 4 }, 0 },
	/* Both ends; an empty range holds nothing. */
	{ "1000", false, "2000", false, { 1500, 7 }, 0 },
	{ "1000", false, "2000", false, { 2000, MAX }, 0 },
	{ "1000", false, "2000", true, { 2000, 0 }, 1 },
	{ "2000", false, "1000", false, { 1500, 0 }, -1 },
	{ "1000/5", true, "1000/6", true, { 1000, 5 }, -1 },
	{ "1000/5", true, "1000/6", true, { 1000, 6 }, 1 },
	{ "1000/5", false, "1000/5", false, { 1000, 5 }, 0 },
};

START_TEST(test_where)
{
	const struct where_case *tc = &where_cases[_i];
	struct evrange r = range_of(tc->lo, tc->lo_excl, tc->hi, tc->hi_excl);
	int got = evrange_where(&r, &tc->p);

	ck_assert_msg(got == tc->want, "lo %s%s hi %s%s, %" PRIu64 "/%" PRIu64
	    ": %d, want %d", tc->lo ? tc->lo : "-", tc->lo_excl ? " excl" : "",
	    tc->hi ? tc->hi : "-", tc->hi_excl ? " excl" : "", tc->p.ts, tc->p.ord,
	    got, tc->want);
}
END_TEST

/* GET .../events/TYPE/TS narrows whatever range the query gave to TS. */
struct narrow_case {
	const char	*lo;
	bool		 lo_excl;
	const char	*hi;
	bool		 hi_excl;
	uint64_t	 ms;
	struct evpos	 in[3];		/* positions within ms that must be in */
	struct evpos	 out[3];	/* positions that must be out */
};

static const struct narrow_case narrow_cases[] = {
	/* No query bounds: exactly the millisecond. */
	{ NULL, false, NULL, false, 1000, { { 1000, 0 }, { 1000, 7 }, { 1000, MAX } },
	    { { 999, MAX }, { 1001, 0 }, { 0, 0 } } },
	/* A tighter bound of the query is kept, inclusive or exclusive. */
	{ "1000/5", true, NULL, false, 1000, { { 1000, 6 }, { 1000, MAX }, { 1000, 6 } },
	    { { 1000, 5 }, { 1000, 0 }, { 1001, 0 } } },
	{ NULL, false, "1000/5", true, 1000, { { 1000, 0 }, { 1000, 4 }, { 1000, 4 } },
	    { { 1000, 5 }, { 1000, MAX }, { 999, MAX } } },
	{ "1000/2", false, "1000/4", false, 1000, { { 1000, 2 }, { 1000, 3 }, { 1000, 4 } },
	    { { 1000, 1 }, { 1000, 5 }, { 1001, 3 } } },
	/* A wider bound is replaced by the millisecond. */
	{ "500", false, "2000", true, 1000, { { 1000, 0 }, { 1000, MAX }, { 1000, 1 } },
	    { { 999, 0 }, { 1001, 0 }, { 1500, 0 } } },
	/* Bounds that exclude the millisecond leave nothing of it. */
	{ "1000", true, NULL, false, 1000, { { 0, 0 }, { 0, 0 }, { 0, 0 } },
	    { { 1000, 0 }, { 1000, MAX }, { 1000, 9 } } },
	{ NULL, false, "1000", true, 1000, { { 0, 0 }, { 0, 0 }, { 0, 0 } },
	    { { 1000, 0 }, { 1000, MAX }, { 1000, 9 } } },
	{ "2000", false, NULL, false, 1000, { { 0, 0 }, { 0, 0 }, { 0, 0 } },
	    { { 1000, 0 }, { 1000, MAX }, { 2000, 0 } } },
};

START_TEST(test_narrow)
{
	const struct narrow_case *tc = &narrow_cases[_i];
	struct evrange r = range_of(tc->lo, tc->lo_excl, tc->hi, tc->hi_excl);
	bool empty = tc->in[0].ts == 0;

	evrange_narrow_ms(&r, tc->ms);
	for (int i = 0; i < 3 && !empty; i++)
		ck_assert_msg(evrange_where(&r, &tc->in[i]) == 0, "row %d: %" PRIu64 "/%"
		    PRIu64 " should be in", _i, tc->in[i].ts, tc->in[i].ord);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(evrange_where(&r, &tc->out[i]) != 0, "row %d: %" PRIu64 "/%"
		    PRIu64 " should be out", _i, tc->out[i].ts, tc->out[i].ord);
}
END_TEST

static Suite *
evpos_suite(void)
{
	Suite *s = suite_create("evpos");
	TCase *parse = tcase_create("parse");
	TCase *range = tcase_create("range");

	tcase_add_loop_test(parse, test_ordinal, 0, NCASES(ord_cases));
	tcase_add_loop_test(parse, test_pos, 0, NCASES(pos_cases));
	tcase_add_test(parse, test_pos_len);
	tcase_add_loop_test(parse, test_bound, 0, NCASES(bound_cases));
	suite_add_tcase(s, parse);

	tcase_add_test(range, test_cmp);
	tcase_add_loop_test(range, test_where, 0, NCASES(where_cases));
	tcase_add_loop_test(range, test_narrow, 0, NCASES(narrow_cases));
	suite_add_tcase(s, range);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(evpos_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
