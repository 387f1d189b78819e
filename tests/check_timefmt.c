/*
 * check_timefmt: unit tests for src/timefmt.c.
 *
 * Table-driven: every row is one input with the return code and milliseconds
 * we want.  The expected values were computed independently of timefmt.c
 * (Python's datetime and `date -u -d ... +%s`), and the formatters are checked
 * against gmtime_r/strftime in the C locale, which the module itself never uses.
 */
/* gmtime_r is POSIX; the build may not define _GNU_SOURCE. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

struct parse_case {
	const char	*in;
	size_t		 len;
	int		 rc;
	int64_t		 ms;
};

/* The length comes from sizeof, so embedded NUL bytes are part of the input. */
#define OK(s, v)	{ (s), sizeof(s) - 1, 0, (int64_t)(v) }
#define BAD(s)		{ (s), sizeof(s) - 1, -1, 0 }

/* 1994-11-06T08:49:37Z, the example date of RFC 7231. */
#define RFC_EXAMPLE	784111777000

static const struct parse_case core_cases[] = {
	/* Integer milliseconds. */
	OK("1", 1),
	OK("0007", 7),
	OK("1411421154480", 1411421154480),
	/* ISO 8601. */
	OK("1994-11-06", 784080000000),
	OK("1994-11-06T08:49:37Z", RFC_EXAMPLE),
	OK("1994-11-06T08:49:37z", RFC_EXAMPLE),
	OK("1994-11-06t08:49:37Z", RFC_EXAMPLE),
	OK("1994-11-06T08:49:37", RFC_EXAMPLE),
	OK("1994-11-06T08:49:37.123Z", 784111777123),
	OK("1994-11-06T08:49:37.1Z", 784111777100),
	OK("1994-11-06T08:49:37.12Z", 784111777120),
	OK("1994-11-06T08:49:37.123456Z", 784111777123),
	OK("1994-11-06T08:49:37.000Z", RFC_EXAMPLE),
	OK("1994-11-06T08:49:37.5", 784111777500),
	OK("1994-11-06T01:49:37-07:00", RFC_EXAMPLE),
	OK("1994-11-06T14:19:37+05:30", RFC_EXAMPLE),
	OK("1994-11-06T14:19:37+0530", RFC_EXAMPLE),
	OK("1994-11-06T09:49:37+01", RFC_EXAMPLE),
	OK("1994-11-06T01:49:37-07", RFC_EXAMPLE),
	OK("1994-11-06T08:49:37+00:00", RFC_EXAMPLE),
	OK("1994-11-06T08:49:37-00:00", RFC_EXAMPLE),
	OK("1994-11-06T08:49:37+0000", RFC_EXAMPLE),
	OK("2014-09-22T21:25:54.480Z", 1411421154480),
	OK("2014-09-22T14:25:54.480-07:00", 1411421154480),
	/* RFC 1123; the day name is not checked against the date. */
	OK("Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE),
	OK("sun, 06 nov 1994 08:49:37 gmt", RFC_EXAMPLE),
	OK("SUN, 06 NOV 1994 08:49:37 GMT", RFC_EXAMPLE),
	OK("Sun, 06 Nov 1994 08:49:37 UTC", RFC_EXAMPLE),
	OK("Sun, 06 Nov 1994 08:49:37 +0000", RFC_EXAMPLE),
	OK("Sun, 06 Nov 1994 01:49:37 -0700", RFC_EXAMPLE),
	OK("Sun, 06 Nov 1994 14:19:37 +0530", RFC_EXAMPLE),
	OK("Mon, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE),
	OK("Mon, 22 Sep 2014 21:25:54 GMT", 1411421154000),
	/* RFC 1036 / RFC 850: two-digit years are 20YY. */
	OK("Sunday, 06-Nov-94 08:49:37 GMT", 3939871777000),
	OK("Sunday, 06-Nov-1994 08:49:37 GMT", RFC_EXAMPLE),
	OK("sunday, 06-nov-94 08:49:37 gmt", 3939871777000),
	OK("Thursday, 06-Nov-94 08:49:37 GMT", 3939871777000),
	OK("Sun, 06 Nov 94 08:49:37 GMT", 3939871777000),
	OK("Sun, 06-Nov-94 08:49:37 GMT", 3939871777000),
	OK("Sunday, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE),
	OK("Sunday, 06-Nov-94 01:49:37 -0700", 3939871777000),
	/* asctime. */
	OK("Sun Nov  6 08:49:37 1994", RFC_EXAMPLE),
	OK("Sun Nov 06 08:49:37 1994", RFC_EXAMPLE),
	OK("sun nov  6 08:49:37 1994", RFC_EXAMPLE),
	OK("Mon Sep 22 21:25:54 2014", 1411421154000),
	OK("Sat Jan  1 00:00:00 2000", 946684800000),
};

static const struct parse_case limit_cases[] = {
	/* The edges of the range, in every format. */
	OK("0", 0),
	OK("00000000000000000000000000", 0),
	OK("253402300799999", 253402300799999),
	OK("000253402300799999", 253402300799999),
	BAD("253402300800000"),
	BAD("999999999999999"),
	BAD("99999999999999999999"),
	BAD("18446744073709551616"),
	BAD("9223372036854775807"),
	BAD("9223372036854775808"),
	BAD("184467440737095516160000000000"),
	OK("1970-01-01", 0),
	OK("1970-01-01T00:00:00Z", 0),
	OK("1970-01-01T00:00:00.000Z", 0),
	OK("1970-01-01T00:00:00.001Z", 1),
	OK("1969-12-31T23:00:00-01:00", 0),
	OK("1969-12-31T23:59:59.999-00:01", 59999),
	BAD("1969-12-31T23:59:59.999Z"),
	BAD("1969-12-31"),
	BAD("0000-01-01"),
	BAD("0000-01-01T00:00:00Z"),
	BAD("1970-01-01T00:00:00+00:01"),
	BAD("1970-01-01T00:59:59.999+01:00"),
	OK("9999-12-31T23:59:59.999Z", 253402300799999),
	OK("9999-12-31T23:59:59.999999999Z", 253402300799999),
	OK("9999-12-31T23:59:59Z", 253402300799000),
	OK("9999-12-31T23:59:59.999+01:00", 253402297199999),
	BAD("9999-12-31T23:59:59.999-01:00"),
	BAD("9999-12-31T23:59:59.999-00:01"),
	BAD("10000-01-01"),
	OK("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799000),
	BAD("Fri, 31 Dec 9999 23:59:59 -0001"),
	BAD("Thu, 31 Dec 1969 23:59:59 GMT"),
	BAD("Thu, 01 Jan 1970 00:00:00 +0001"),
	OK("Thu, 01 Jan 1970 00:00:00 GMT", 0),
	OK("Thu Jan  1 00:00:00 1970", 0),
	OK("Fri Dec 31 23:59:59 9999", 253402300799000),
	BAD("Wed Dec 31 23:59:59 1969"),
	/* Leap days. */
	OK("2000-02-29", 951782400000),
	OK("2024-02-29", 1709164800000),
	OK("1996-02-29", 825552000000),
	OK("2400-02-29", 13574563200000),
	OK("2100-02-28", 4107456000000),
	OK("2024-02-29T12:00:00Z", 1709208000000),
	OK("Thu, 29 Feb 2024 12:00:00 GMT", 1709208000000),
	OK("Thu Feb 29 12:00:00 2024", 1709208000000),
	BAD("2100-02-29"),
	BAD("2023-02-29"),
	BAD("1900-02-29"),
	BAD("2200-02-29"),
	BAD("2024-02-30"),
	BAD("Sun, 29 Feb 2023 00:00:00 GMT"),
	BAD("Monday, 29-Feb-23 00:00:00 GMT"),
	BAD("Mon Feb 29 00:00:00 2100"),
	/* Ends of months. */
	OK("2014-12-31", 1419984000000),
	OK("2014-04-30", 1398816000000),
	OK("2099-12-31T23:59:59Z", 4102444799000),
	OK("Thursday, 31-Dec-99 23:59:59 GMT", 4102444799000),
	OK("Saturday, 01-Jan-00 00:00:00 GMT", 946684800000),
	BAD("2014-04-31"),
	BAD("2014-06-31"),
	BAD("2014-09-31"),
	BAD("2014-11-31"),
	BAD("2014-01-32"),
	BAD("2014-00-10"),
	BAD("2014-13-01"),
	BAD("2014-01-00"),
	BAD("Sun, 31 Nov 2014 00:00:00 GMT"),
	BAD("Sun, 00 Nov 2014 00:00:00 GMT"),
	BAD("Sun Nov 31 00:00:00 2014"),
	BAD("Sun Nov  0 00:00:00 2014"),
	/* Time of day and offsets. */
	OK("2014-01-01T23:59:59Z", 1388620799000),
	OK("2014-01-01T00:00:00+23:59", 1388448060000),
	OK("2014-01-01T00:00:00-23:59", 1388620740000),
	OK("2014-01-01T00:00:00+2359", 1388448060000),
	OK("2014-01-01T00:00:00+23", 1388451600000),
	BAD("2014-01-01T24:00:00Z"),
	BAD("2014-01-01T23:60:00Z"),
	BAD("2014-01-01T23:59:60Z"),
	BAD("2014-01-01T00:00:00+24:00"),
	BAD("2014-01-01T00:00:00-24:00"),
	BAD("2014-01-01T00:00:00+23:60"),
	BAD("2014-01-01T00:00:00+2400"),
	BAD("2014-01-01T00:00:00+24"),
	BAD("2014-01-01T00:00:00+99:99"),
	BAD("Wed, 01 Jan 2014 00:00:00 +2400"),
	BAD("Wed, 01 Jan 2014 00:00:00 +0060"),
	BAD("Wed, 01 Jan 2014 24:00:00 GMT"),
	BAD("Wed Jan  1 00:00:60 2014"),
	/* Fractions: 1 to 9 digits. */
	OK("2014-01-01T00:00:00.999999999Z", 1388534400999),
	BAD("2014-01-01T00:00:00.0000000000Z"),
	BAD("2014-01-01T00:00:00.1234567890"),
};

static const struct parse_case error_cases[] = {
	/* Integer form: digits only. */
	BAD(""),
	BAD(" 1"),
	BAD("1 "),
	BAD("-1"),
	BAD("+1"),
	BAD("1411421154480x"),
	BAD("0x10"),
	BAD("1e3"),
	BAD("1,000"),
	BAD("1.5"),
	BAD("\t1"),
	BAD("1\n"),
	BAD("1\0"),
	BAD("\0" "1"),
	BAD("\xef\xbc\x91"),
	/* ISO 8601 syntax. */
	BAD("2014-01-01T00:00:00Zjunk"),
	BAD("2014-01-01T00:00:00Z "),
	BAD(" 2014-01-01T00:00:00Z"),
	BAD("2014-01-01\0"),
	BAD("2014-01-01 00:00:00Z"),
	BAD("2014-01-01T00:00Z"),
	BAD("2014-01-01T00:00"),
	BAD("2014-01-01T"),
	BAD("2014-01-01Z"),
	BAD("2014-01-01T00:00:00."),
	BAD("2014-01-01T00:00:00.Z"),
	BAD("2014-01-01T00:00:00,5Z"),
	BAD("2014-01-01T00:00:00ZZ"),
	BAD("2014-01-01T00:00:00+"),
	BAD("2014-01-01T00:00:00-"),
	BAD("2014-01-01T00:00:00+5:30"),
	BAD("2014-01-01T00:00:00+05:3"),
	BAD("2014-01-01T00:00:00+053"),
	BAD("2014-01-01T00:00:00+05:"),
	BAD("2014-01-01T00:00:00+05:30:00"),
	BAD("2014-01-01T00:00:00+05:30Z"),
	BAD("2014-01-01T00:00:00 +05:30"),
	BAD("2014-01-01T00:00:00GMT"),
	BAD("2014-01-01T00:00:00 UTC"),
	BAD("2014-01-01T1:00:00Z"),
	BAD("2014-01-01T01:0:00Z"),
	BAD("2014-01-01T01:00:0Z"),
	BAD("2014-01-01X00:00:00Z"),
	BAD("20140101T000000Z"),
	BAD("20140101Z"),
	BAD("2014-1-01"),
	BAD("2014-01-1"),
	BAD("14-01-01"),
	BAD("2014/01/01"),
	BAD("2014-01"),
	BAD("2014-"),
	BAD("-2014-01-01"),
	BAD("+2014-01-01"),
	BAD("2014-0a-01"),
	/* RFC 1123 and RFC 1036 syntax. */
	BAD("Sun, 06 Nov 1994 08:49:37"),
	BAD("Sun, 06 Nov 1994 08:49:37 "),
	BAD("Sun, 06 Nov 1994 08:49:37 GMT "),
	BAD("Sun, 06 Nov 1994 08:49:37 GMTx"),
	BAD(" Sun, 06 Nov 1994 08:49:37 GMT"),
	BAD("Sun, 06 Nov 1994 08:49:37 EST"),
	BAD("Sun, 06 Nov 1994 08:49:37 Z"),
	BAD("Sun, 06 Nov 1994 08:49:37 +00"),
	BAD("Sun, 06 Nov 1994 08:49:37 +00:00"),
	BAD("Sun, 06 Nov 1994 08:49:37 0000"),
	BAD("Sun, 06 Nov 1994 08:49:37  GMT"),
	BAD("Sun, 6 Nov 1994 08:49:37 GMT"),
	BAD("Sun,  06 Nov 1994 08:49:37 GMT"),
	BAD("Sun,06 Nov 1994 08:49:37 GMT"),
	BAD("Sun 06 Nov 1994 08:49:37 GMT"),
	BAD("Sun, 06 Foo 1994 08:49:37 GMT"),
	BAD("Sun, 06 November 1994 08:49:37 GMT"),
	BAD("Sun, 06-Nov 1994 08:49:37 GMT"),
	BAD("Sun, 06 Nov-1994 08:49:37 GMT"),
	BAD("Sun, 06/Nov/1994 08:49:37 GMT"),
	BAD("Sun, 06 Nov 994 08:49:37 GMT"),
	BAD("Sun, 06 Nov 19944 08:49:37 GMT"),
	BAD("Sun, 06 Nov 1994 8:49:37 GMT"),
	BAD("Sun, 06 Nov 1994 08:49 GMT"),
	BAD("Sun, 06 Nov 1994T08:49:37 GMT"),
	BAD("Xyz, 06 Nov 1994 08:49:37 GMT"),
	BAD("Sunda, 06 Nov 1994 08:49:37 GMT"),
	BAD("Su, 06 Nov 1994 08:49:37 GMT"),
	BAD("Sundays, 06-Nov-94 08:49:37 GMT"),
	BAD("Sunday 06-Nov-94 08:49:37 GMT"),
	BAD("Sunday, 06-Nov-194 08:49:37 GMT"),
	BAD("Sunday, 06-Nov-9 08:49:37 GMT"),
	BAD("Sunday, 06-Nov-94 08:49:37"),
	BAD("Sunday, 6-Nov-94 08:49:37 GMT"),
	BAD("Sunday, 06-Nov-94 08:49:37 GMT\r\n"),
	/* asctime syntax. */
	BAD("Sun Nov 6 08:49:37 1994"),
	BAD("Sun Nov   6 08:49:37 1994"),
	BAD("Sun Nov  06 08:49:37 1994"),
	BAD("Sun Nov  6 08:49:37 94"),
	BAD("Sun Nov  6 08:49:37 1994 GMT"),
	BAD("Sun Nov  6 08:49:37 1994\n"),
	BAD("Sun Nov  6 08:49:37  1994"),
	BAD("Sunday Nov  6 08:49:37 1994"),
	BAD("Sun November  6 08:49:37 1994"),
	BAD("Sun Nov  6 8:49:37 1994"),
	BAD("Sun  Nov  6 08:49:37 1994"),
	BAD("Nov  6 08:49:37 1994"),
	/* Not a timestamp at all. */
	BAD("now"),
	BAD("Z"),
	BAD("T"),
	BAD("-"),
	BAD(","),
	BAD("Sun"),
	BAD("Sun,"),
	BAD("Sunday,"),
	BAD("\xff"),
	BAD("1994-11-06T08:49:37Z1994-11-06T08:49:37Z"),
};

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

static void
check_parse(const struct parse_case *tc)
{
	const int64_t sentinel = INT64_C(-42);
	int64_t got = sentinel;
	int rc;

	rc = timefmt_parse(tc->in, tc->len, &got);
	ck_assert_msg(rc == tc->rc,
	    "parse(\"%.*s\"): got rc %d (ms %" PRId64 "), want rc %d",
	    (int)tc->len, tc->in, rc, got, tc->rc);
	if (tc->rc == 0)
		ck_assert_msg(got == tc->ms,
		    "parse(\"%.*s\"): got %" PRId64 ", want %" PRId64,
		    (int)tc->len, tc->in, got, tc->ms);
	else
		ck_assert_msg(got == sentinel,
		    "parse(\"%.*s\") failed but wrote *ms: got %" PRId64
		    ", want %" PRId64, (int)tc->len, tc->in, got, sentinel);
}

START_TEST(test_parse_core)
{
	check_parse(&core_cases[_i]);
}
END_TEST

START_TEST(test_parse_limits)
{
	check_parse(&limit_cases[_i]);
}
END_TEST

START_TEST(test_parse_errors)
{
	check_parse(&error_cases[_i]);
}
END_TEST

/* Only the len bytes count: a longer buffer is not read past len. */
static const struct parse_case counted_cases[] = {
	{ "12345", 3, 0, 123 },
	{ "1994-11-06T08:49:37Zjunk", 20, 0, RFC_EXAMPLE },
	{ "1994-11-06T08:49:37.123Z", 19, 0, RFC_EXAMPLE },
	{ "Sun Nov  6 08:49:37 1994 GMT", 24, 0, RFC_EXAMPLE },
	{ "1994-11-06T08:49:37Z", 19, 0, RFC_EXAMPLE },
	{ "1994-11-06T08:49:37Z", 18, -1, 0 },
	{ "1994-11-06T08:49:37.", 20, -1, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 GMT", 28, -1, 0 },
	{ "12345", 0, -1, 0 },
};

START_TEST(test_parse_counted)
{
	check_parse(&counted_cases[_i]);
}
END_TEST

START_TEST(test_parse_null)
{
	int64_t got = -42;

	ck_assert_msg(timefmt_parse(NULL, 0, &got) == -1,
	    "parse(NULL, 0): got success, want -1");
	ck_assert_msg(timefmt_parse(NULL, 5, &got) == -1,
	    "parse(NULL, 5): got success, want -1");
	ck_assert_msg(timefmt_parse("1", 1, NULL) == -1,
	    "parse(\"1\", ms = NULL): got success, want -1");
	ck_assert_msg(got == -42, "got *ms %" PRId64 ", want -42", got);
}
END_TEST

struct format_case {
	int64_t		 ms;
	const char	*http;
	const char	*iso;
};

/* Expected strings from Python's datetime, not from the module. */
static const struct format_case format_cases[] = {
	{ 0, "Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01T00:00:00.000Z" },
	{ 1, "Thu, 01 Jan 1970 00:00:00 GMT", "1970-01-01T00:00:00.001Z" },
	{ 86399999, "Thu, 01 Jan 1970 23:59:59 GMT",
	    "1970-01-01T23:59:59.999Z" },
	{ 784111777123, "Sun, 06 Nov 1994 08:49:37 GMT",
	    "1994-11-06T08:49:37.123Z" },
	{ 951782400000, "Tue, 29 Feb 2000 00:00:00 GMT",
	    "2000-02-29T00:00:00.000Z" },
	{ 1411421154480, "Mon, 22 Sep 2014 21:25:54 GMT",
	    "2014-09-22T21:25:54.480Z" },
	{ 1709208000000, "Thu, 29 Feb 2024 12:00:00 GMT",
	    "2024-02-29T12:00:00.000Z" },
	{ 4107456000000, "Sun, 28 Feb 2100 00:00:00 GMT",
	    "2100-02-28T00:00:00.000Z" },
	{ 13574563200000, "Tue, 29 Feb 2400 00:00:00 GMT",
	    "2400-02-29T00:00:00.000Z" },
	{ 253402300799999, "Fri, 31 Dec 9999 23:59:59 GMT",
	    "9999-12-31T23:59:59.999Z" },
};

START_TEST(test_format)
{
	const struct format_case *fc = &format_cases[_i];
	char buf[64];
	int rc;

	rc = timefmt_http_date(fc->ms, buf, TIMEFMT_HTTP_DATE_SIZE);
	ck_assert_msg(rc == 0 && strcmp(buf, fc->http) == 0,
	    "http_date(%" PRId64 "): got %d \"%s\", want 0 \"%s\"",
	    fc->ms, rc, rc == 0 ? buf : "", fc->http);
	rc = timefmt_iso8601(fc->ms, buf, TIMEFMT_ISO_SIZE);
	ck_assert_msg(rc == 0 && strcmp(buf, fc->iso) == 0,
	    "iso8601(%" PRId64 "): got %d \"%s\", want 0 \"%s\"",
	    fc->ms, rc, rc == 0 ? buf : "", fc->iso);
}
END_TEST

/* A small deterministic generator, so a failure can be replayed. */
static uint64_t
next_rand(uint64_t *state)
{
	*state = *state * UINT64_C(6364136223846793005) +
	    UINT64_C(1442695040888963407);
	return *state >> 11;
}

/*
 * Check's ck_assert records a mark point through a pipe on every call, so the
 * loops below test with plain if and call ck_abort_msg only on failure.
 */
static void
check_round_trip(int64_t ms)
{
	char buf[TIMEFMT_HTTP_DATE_SIZE];
	int64_t got = -1, want = ms - ms % 1000;

	if (timefmt_iso8601(ms, buf, sizeof(buf)) != 0)
		ck_abort_msg("iso8601(%" PRId64 "): got -1, want 0", ms);
	if (timefmt_parse(buf, strlen(buf), &got) != 0 || got != ms)
		ck_abort_msg("parse(iso8601(%" PRId64 ") = \"%s\"): got %"
		    PRId64 ", want %" PRId64, ms, buf, got, ms);
	if (timefmt_http_date(ms, buf, sizeof(buf)) != 0)
		ck_abort_msg("http_date(%" PRId64 "): got -1, want 0", ms);
	if (timefmt_parse(buf, strlen(buf), &got) != 0 || got != want)
		ck_abort_msg("parse(http_date(%" PRId64 ") = \"%s\"): got %"
		    PRId64 ", want %" PRId64, ms, buf, got, want);
}

START_TEST(test_round_trip)
{
	static const int64_t edges[] = {
		0, 1, 999, 1000, 86399999, 86400000, 951782399999,
		951782400000, 1411421154480, TIMEFMT_MAX_MS - 1, TIMEFMT_MAX_MS,
	};
	uint64_t state = 0x5eed;
	size_t i;

	for (i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		check_round_trip(edges[i]);
	for (i = 0; i < 20000; i++)
		check_round_trip((int64_t)(next_rand(&state) %
		    (uint64_t)(TIMEFMT_MAX_MS + 1)));
}
END_TEST

/*
 * Days against glibc's gmtime_r and strftime (C locale), which checks the
 * calendar and the day names of both formatters: every day up to 2408 (more
 * than one whole 400-year Gregorian cycle), every 37th day after that, and
 * every day of the last 2000 before the maximum.
 */
static int64_t
next_day(int64_t day, int64_t last)
{
	if (day < 160000 || day >= last - 2000)
		return day + 1;
	return day + 37 < last - 2000 ? day + 37 : last - 2000;
}

START_TEST(test_many_days)
{
	const int64_t last = TIMEFMT_MAX_MS / 86400000;
	char got[TIMEFMT_HTTP_DATE_SIZE], want[64];
	struct tm tm;
	int64_t day, ms;
	time_t t;

	for (day = 0; day <= last; day = next_day(day, last)) {
		/* A time of day that moves, so that hours and seconds vary too. */
		ms = day * 86400000 + (day * 7919 % 86400) * 1000 + day % 1000;
		t = (time_t)(ms / 1000);
		if (gmtime_r(&t, &tm) == NULL || strftime(want, sizeof(want),
		    "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
			ck_abort_msg("gmtime_r/strftime(%" PRId64 ") failed", ms);
		if (timefmt_http_date(ms, got, sizeof(got)) != 0 ||
		    strcmp(got, want) != 0)
			ck_abort_msg("http_date(%" PRId64 "): got \"%s\", want "
			    "\"%s\"", ms, got, want);
		(void)strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
		if (timefmt_iso8601(ms, got, sizeof(got)) != 0 ||
		    strncmp(got, want, 19) != 0)
			ck_abort_msg("iso8601(%" PRId64 "): got \"%s\", want "
			    "\"%s.mmmZ\"", ms, got, want);
	}
}
END_TEST

struct format_error {
	int64_t		 ms;
	size_t		 size;
};

static const struct format_error format_errors[] = {
	{ -1, 64 },
	{ INT64_MIN, 64 },
	{ TIMEFMT_MAX_MS + 1, 64 },
	{ INT64_MAX, 64 },
	{ 0, 0 },
	{ 0, 1 },
	{ 0, TIMEFMT_ISO_SIZE - 1 },
	{ TIMEFMT_MAX_MS, TIMEFMT_ISO_SIZE - 1 },
};

/* Out of range or a short buffer: -1 from both, and no overflow of buf. */
START_TEST(test_format_errors)
{
	const struct format_error *fe = &format_errors[_i];
	char buf[80];
	size_t http_size;
	int rc;

	/* The HTTP date is longer, so shrink its buffer by the same amount. */
	http_size = fe->size == 64 ? 64 :
	    fe->size == 0 ? 0 : fe->size + TIMEFMT_HTTP_DATE_SIZE -
	    TIMEFMT_ISO_SIZE;
	memset(buf, 'x', sizeof(buf));
	rc = timefmt_iso8601(fe->ms, buf, fe->size);
	ck_assert_msg(rc == -1, "iso8601(%" PRId64 ", size %zu): got %d, "
	    "want -1", fe->ms, fe->size, rc);
	ck_assert_msg(buf[fe->size] == 'x', "iso8601 wrote past size %zu",
	    fe->size);
	memset(buf, 'x', sizeof(buf));
	rc = timefmt_http_date(fe->ms, buf, http_size);
	ck_assert_msg(rc == -1, "http_date(%" PRId64 ", size %zu): got %d, "
	    "want -1", fe->ms, http_size, rc);
	ck_assert_msg(buf[http_size] == 'x', "http_date wrote past size %zu",
	    http_size);
}
END_TEST

START_TEST(test_format_null)
{
	ck_assert_msg(timefmt_iso8601(0, NULL, 0) == -1,
	    "iso8601(buf = NULL): got 0, want -1");
	ck_assert_msg(timefmt_http_date(0, NULL, 0) == -1,
	    "http_date(buf = NULL): got 0, want -1");
}
END_TEST

/* The exact sizes the header promises are enough. */
START_TEST(test_format_exact_size)
{
	char buf[TIMEFMT_HTTP_DATE_SIZE];
	int rc;

	rc = timefmt_iso8601(TIMEFMT_MAX_MS, buf, TIMEFMT_ISO_SIZE);
	ck_assert_msg(rc == 0 && strlen(buf) == TIMEFMT_ISO_SIZE - 1,
	    "iso8601 in %d bytes: got %d \"%s\", want 0 and %d chars",
	    TIMEFMT_ISO_SIZE, rc, rc == 0 ? buf : "", TIMEFMT_ISO_SIZE - 1);
	rc = timefmt_http_date(TIMEFMT_MAX_MS, buf, TIMEFMT_HTTP_DATE_SIZE);
	ck_assert_msg(rc == 0 && strlen(buf) == TIMEFMT_HTTP_DATE_SIZE - 1,
	    "http_date in %d bytes: got %d \"%s\", want 0 and %d chars",
	    TIMEFMT_HTTP_DATE_SIZE, rc, rc == 0 ? buf : "",
	    TIMEFMT_HTTP_DATE_SIZE - 1);
}
END_TEST

START_TEST(test_now)
{
	int64_t before, now, after;

	before = (int64_t)time(NULL) * 1000;
	now = timefmt_now_ms();
	after = ((int64_t)time(NULL) + 1) * 1000;
	ck_assert_msg(now >= before && now <= after,
	    "now_ms: got %" PRId64 ", want within [%" PRId64 ", %" PRId64 "]",
	    now, before, after);
	ck_assert_msg(now > INT64_C(1577836800000) && now <= TIMEFMT_MAX_MS,
	    "now_ms: got %" PRId64 ", want after 2020 and in range", now);
}
END_TEST

static Suite *
timefmt_suite(void)
{
	Suite *s = suite_create("timefmt");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_parse_core, 0, NCASES(core_cases));
	tcase_add_loop_test(core, test_parse_counted, 0,
	    NCASES(counted_cases));
	tcase_add_loop_test(core, test_format, 0, NCASES(format_cases));
	tcase_add_test(core, test_round_trip);
	tcase_add_test(core, test_now);
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_parse_limits, 0, NCASES(limit_cases));
	tcase_add_test(limits, test_format_exact_size);
	tcase_add_test(limits, test_many_days);
	/* About 240,000 days take some seconds under valgrind. */
	tcase_set_timeout(limits, 60);
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_parse_errors, 0, NCASES(error_cases));
	tcase_add_test(errors, test_parse_null);
	tcase_add_loop_test(errors, test_format_errors, 0,
	    NCASES(format_errors));
	tcase_add_test(errors, test_format_null);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(timefmt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
