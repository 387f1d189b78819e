/*
 * check_query: unit tests for src/query.h (query-string parsing and typed
 * parameters).
 *
 * Table-driven: each row is a raw query string (without '?') with the return
 * code and the decoded parameters we want, or a parameter read with the value
 * we want.
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "query.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

struct pair {
	const char	*name;
	const char	*value;
};

struct parse_case {
	const char	*qs;
	size_t		 len;
	int		 rc;
	size_t		 n;
	struct pair	 p[4];
};

/* The length comes from sizeof, so embedded NUL bytes are part of the input. */
#define OK(s, n, ...)	{ (s), sizeof(s) - 1, 0, (n), { __VA_ARGS__ } }
#define OK0(s)		{ (s), sizeof(s) - 1, 0, 0, { { NULL, NULL } } }
#define BAD(s)		{ (s), sizeof(s) - 1, -1, 0, { { NULL, NULL } } }

static const struct parse_case parse_core[] = {
	OK0(""),
	OK0("&"),
	OK0("&&&"),
	OK("a=1", 1, { "a", "1" }),
	OK("a=1&b=x%20y", 2, { "a", "1" }, { "b", "x y" }),
	/* '+' is a space; "%2B" is a plus. */
	OK("q=a+b", 1, { "q", "a b" }),
	OK("q=a%2Bb", 1, { "q", "a+b" }),
	OK("q=%2b", 1, { "q", "+" }),
	OK("a+b=1", 1, { "a b", "1" }),
	/* Empty pieces are harmless. */
	OK("a=1&&b=2", 2, { "a", "1" }, { "b", "2" }),
	OK("&a=1&", 1, { "a", "1" }),
	/* Parameters without a value. */
	OK("flag", 1, { "flag", "" }),
	OK("flag=", 1, { "flag", "" }),
	OK("a&b=2", 2, { "a", "" }, { "b", "2" }),
	/* A repeat with the same (decoded) value. */
	OK("a=1&a=1", 1, { "a", "1" }),
	OK("a&a=", 1, { "a", "" }),
	OK("a=+&a=%20", 1, { "a", " " }),
	OK("a=1&b=2&a=1", 2, { "a", "1" }, { "b", "2" }),
	/* Names are decoded and case-sensitive. */
	OK("%61=1", 1, { "a", "1" }),
	OK("a=1&A=2", 2, { "a", "1" }, { "A", "2" }),
	OK("a=b=c", 1, { "a", "b=c" }),
	OK("k=%26%3D%3F%23", 1, { "k", "&=?#" }),
	OK("q=%C3%A9", 1, { "q", "\xc3\xa9" }),
	OK("q=\xc3\xa9", 1, { "q", "\xc3\xa9" }),
	OK("q=%2F/", 1, { "q", "//" }),
	OK("limit=10&offset=20&values=true", 3, { "limit", "10" },
	    { "offset", "20" }, { "values", "true" }),
};

static const struct parse_case parse_errors[] = {
	/* Conflicting repeats. */
	BAD("a=1&a=2"),
	BAD("a=1&a"),
	BAD("a&a=1"),
	BAD("a=1&a=1&a=2"),
	BAD("a=x&a=x%20"),
	BAD("a=x&a=X"),
	BAD("q=a+b&q=a%2Bb"),
	/* Bad escapes, in the value or the name. */
	BAD("a=%"),
	BAD("a=%4"),
	BAD("a=%zz"),
	BAD("a=%g1"),
	BAD("%=1"),
	BAD("a%=1"),
	BAD("%4"),
	BAD("a=1&b=%"),
	/* NUL, escaped or raw. */
	BAD("a=%00"),
	BAD("a=x%00y"),
	BAD("%00=1"),
	BAD("a%00b"),
	BAD("a=\0"),
	BAD("a\0=1"),
	/* Invalid UTF-8, escaped or raw. */
	BAD("a=%C3%28"),
	BAD("a=%C0%AF"),
	BAD("a=%ED%A0%80"),
	BAD("a=%F4%90%80%80"),
	BAD("a=%FF"),
	BAD("a=%80"),
	BAD("a=%C3"),
	BAD("%FF=1"),
	BAD("a=\xff"),
	BAD("\xc3\x28=1"),
};

static void
check_parse(const struct parse_case *tc)
{
	struct arena *a = mem_new();
	struct query q;
	const char *why = NULL;
	int rc;

	rc = query_parse(a, tc->qs, tc->len, &q, &why);
	ck_assert_msg(rc == tc->rc, "query_parse(\"%.*s\"): got %d (%s), want %d",
	    (int)tc->len, tc->qs, rc, why ? why : "", tc->rc);
	if (rc == -1) {
		ck_assert_msg(why != NULL && why[0] != '\0',
		    "query_parse(\"%.*s\"): got no reason, want one",
		    (int)tc->len, tc->qs);
	} else {
		ck_assert_msg(q.n == tc->n,
		    "query_parse(\"%.*s\"): got %zu params, want %zu",
		    (int)tc->len, tc->qs, q.n, tc->n);
		for (size_t i = 0; i < tc->n; i++) {
			ck_assert_msg(strcmp(q.p[i].name, tc->p[i].name) == 0,
			    "query_parse(\"%.*s\") name %zu: got \"%s\", want "
			    "\"%s\"", (int)tc->len, tc->qs, i, q.p[i].name,
			    tc->p[i].name);
			ck_assert_msg(q.p[i].vlen == strlen(tc->p[i].value) &&
			    strcmp(q.p[i].value, tc->p[i].value) == 0,
			    "query_parse(\"%.*s\") value of %s: got \"%s\" (%zu), "
			    "want \"%s\"", (int)tc->len, tc->qs, tc->p[i].name,
			    q.p[i].value, q.p[i].vlen, tc->p[i].value);
		}
	}
	mem_free(a);
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

/* Only the len bytes count. */
START_TEST(test_parse_counted)
{
	static const struct parse_case cases[] = {
		{ "a=1&b=%", 3, 0, 1, { { "a", "1" } } },
		{ "a=12", 3, 0, 1, { { "a", "1" } } },
		{ "a=%41", 4, -1, 0, { { NULL, NULL } } },
		{ "a=1", 0, 0, 0, { { NULL, NULL } } },
	};

	for (int i = 0; i < NCASES(cases); i++)
		check_parse(&cases[i]);
}
END_TEST

struct count_case {
	int	 distinct;  /* parameters p0, p1, ... */
	int	 repeats;   /* then p0=0 again this many times */
	int	 rc;
};

static const struct count_case count_cases[] = {
	{ QUERY_MAX_PARAMS - 1, 0, 0 },
	{ QUERY_MAX_PARAMS, 0, 0 },
	{ QUERY_MAX_PARAMS, 10, 0 },
	{ 1, 500, 0 },
	{ QUERY_MAX_PARAMS + 1, 0, -1 },
	{ QUERY_MAX_PARAMS * 3, 0, -1 },
};

START_TEST(test_parse_count)
{
	const struct count_case *tc = &count_cases[_i];
	struct arena *a = mem_new();
	struct query q;
	const char *why = NULL;
	char qs[8192];
	size_t len = 0;
	int rc;

	for (int i = 0; i < tc->distinct; i++)
		len += (size_t)snprintf(qs + len, sizeof(qs) - len, "&p%d=%d", i, i);
	for (int i = 0; i < tc->repeats; i++)
		len += (size_t)snprintf(qs + len, sizeof(qs) - len, "&p0=0");
	ck_assert_msg(len < sizeof(qs), "query too long for the test buffer");
	rc = query_parse(a, qs, len, &q, &why);
	ck_assert_msg(rc == tc->rc, "query_parse(%d params, %d repeats): got %d, "
	    "want %d", tc->distinct, tc->repeats, rc, tc->rc);
	if (rc == 0) {
		char name[16], want[16];
		const char *v;

		ck_assert_msg(q.n == (size_t)tc->distinct,
		    "got %zu params, want %d", q.n, tc->distinct);
		snprintf(name, sizeof(name), "p%d", tc->distinct - 1);
		snprintf(want, sizeof(want), "%d", tc->distinct - 1);
		v = query_get(&q, name, NULL);
		ck_assert_msg(v != NULL && strcmp(v, want) == 0,
		    "last param: got \"%s\", want \"%s\"", v ? v : "(null)", want);
	}
	mem_free(a);
}
END_TEST

struct get_case {
	const char	*name;
	const char	*value;   /* NULL: absent */
};

static const struct get_case get_cases[] = {
	{ "a", "1" },
	{ "b", "" },
	{ "c", "" },
	{ "d e", "x y" },
	{ "long", "0123456789" },
	{ "d", NULL },
	{ "A", NULL },
	{ "", NULL },
	{ "a ", NULL },
	{ "lon", NULL },
};

START_TEST(test_get)
{
	static const char qs[] = "a=1&b=&c&d+e=x+y&long=0123456789";
	const struct get_case *tc = &get_cases[_i];
	struct arena *a = mem_new();
	struct query q;
	const char *why = NULL, *v;
	size_t len = 999;
	int rc;

	rc = query_parse(a, qs, sizeof(qs) - 1, &q, &why);
	ck_assert_msg(rc == 0, "query_parse: got %d, want 0", rc);
	v = query_get(&q, tc->name, &len);
	if (tc->value == NULL) {
		ck_assert_msg(v == NULL, "query_get(\"%s\"): got \"%s\", want NULL",
		    tc->name, v);
	} else {
		ck_assert_msg(v != NULL && strcmp(v, tc->value) == 0 &&
		    len == strlen(tc->value),
		    "query_get(\"%s\"): got \"%s\" (%zu), want \"%s\" (%zu)",
		    tc->name, v ? v : "(null)", len, tc->value,
		    strlen(tc->value));
		/* len may be NULL. */
		v = query_get(&q, tc->name, NULL);
		ck_assert_msg(v != NULL && strcmp(v, tc->value) == 0,
		    "query_get(\"%s\", NULL): got \"%s\", want \"%s\"", tc->name,
		    v ? v : "(null)", tc->value);
	}
	mem_free(a);
}
END_TEST

struct bool_case {
	const char	*qs;
	bool		 def;
	int		 rc;
	bool		 want;
};

static const struct bool_case bool_core[] = {
	{ "", true, 0, true },
	{ "", false, 0, false },
	{ "y=1", true, 0, true },
	{ "x=true", false, 0, true },
	{ "x=false", true, 0, false },
	{ "x=%74rue", false, 0, true },
	{ "x=true&x=true", false, 0, true },
};

static const struct bool_case bool_errors[] = {
	{ "x=TRUE", false, -1, false },
	{ "x=True", false, -1, false },
	{ "x=FALSE", true, -1, false },
	{ "x=1", false, -1, false },
	{ "x=0", true, -1, false },
	{ "x=yes", false, -1, false },
	{ "x=", false, -1, false },
	{ "x", true, -1, false },
	{ "x=true+", false, -1, false },
	{ "x=+true", false, -1, false },
	{ "x=truex", false, -1, false },
	{ "x=t", false, -1, false },
	{ "x=fals", true, -1, false },
};

static void
check_bool(const struct bool_case *tc)
{
	struct arena *a = mem_new();
	struct query q;
	const char *why = NULL;
	bool got = !tc->want;
	int rc;

	rc = query_parse(a, tc->qs, strlen(tc->qs), &q, &why);
	ck_assert_msg(rc == 0, "query_parse(\"%s\"): got %d, want 0", tc->qs, rc);
	rc = query_bool(&q, "x", tc->def, &got);
	ck_assert_msg(rc == tc->rc, "query_bool(\"%s\", def %d): got %d, want %d",
	    tc->qs, tc->def, rc, tc->rc);
	if (rc == 0)
		ck_assert_msg(got == tc->want,
		    "query_bool(\"%s\", def %d): got %d, want %d", tc->qs,
		    tc->def, got, tc->want);
	mem_free(a);
}

START_TEST(test_bool_core)
{
	check_bool(&bool_core[_i]);
}
END_TEST

START_TEST(test_bool_errors)
{
	check_bool(&bool_errors[_i]);
}
END_TEST

struct int_case {
	const char	*qs;
	int64_t		 min, max, def;
	int		 rc;
	int64_t		 want;
};

static const struct int_case int_core[] = {
	{ "", 0, 100, 10, 0, 10 },
	{ "y=5", 0, 100, 10, 0, 10 },
	{ "n=0", 0, 100, 10, 0, 0 },
	{ "n=42", 0, 100, 10, 0, 42 },
	{ "n=007", 0, 100, 10, 0, 7 },
	{ "n=-5", -10, 10, 0, 0, -5 },
	{ "n=-0", -10, 10, 3, 0, 0 },
	{ "n=%34%32", 0, 100, 10, 0, 42 },
};

static const struct int_case int_limits[] = {
	{ "n=1", 1, 100, 10, 0, 1 },
	{ "n=100", 1, 100, 10, 0, 100 },
	{ "n=0", 1, 100, 10, -1, 0 },
	{ "n=101", 1, 100, 10, -1, 0 },
	{ "n=-10", -10, 10, 0, 0, -10 },
	{ "n=-11", -10, 10, 0, -1, 0 },
	{ "n=9223372036854775807", INT64_MIN, INT64_MAX, 0, 0, INT64_MAX },
	{ "n=-9223372036854775808", INT64_MIN, INT64_MAX, 0, 0, INT64_MIN },
	{ "n=9223372036854775808", INT64_MIN, INT64_MAX, 0, -1, 0 },
	{ "n=-9223372036854775809", INT64_MIN, INT64_MAX, 0, -1, 0 },
	{ "n=18446744073709551615", INT64_MIN, INT64_MAX, 0, -1, 0 },
	{ "n=99999999999999999999", INT64_MIN, INT64_MAX, 0, -1, 0 },
	{ "n=00000000000000000001", 0, 100, 0, 0, 1 },
};

static const struct int_case int_errors[] = {
	{ "n=-1", 0, 100, 10, -1, 0 },
	{ "n=%2B1", 0, 100, 10, -1, 0 },
	{ "n=+1", 0, 100, 10, -1, 0 },
	{ "n=%201", 0, 100, 10, -1, 0 },
	{ "n=1%20", 0, 100, 10, -1, 0 },
	{ "n=1x", 0, 100, 10, -1, 0 },
	{ "n=x1", 0, 100, 10, -1, 0 },
	{ "n=", 0, 100, 10, -1, 0 },
	{ "n", 0, 100, 10, -1, 0 },
	{ "n=-", -10, 10, 0, -1, 0 },
	{ "n=--1", -10, 10, 0, -1, 0 },
	{ "n=1.5", 0, 100, 10, -1, 0 },
	{ "n=0x10", 0, 100, 10, -1, 0 },
	{ "n=1e3", 0, 10000, 10, -1, 0 },
	{ "n=%EF%BC%91", 0, 100, 10, -1, 0 },
};

static void
check_int(const struct int_case *tc)
{
	struct arena *a = mem_new();
	struct query q;
	const char *why = NULL;
	int64_t got = INT64_C(-4242);
	int rc;

	rc = query_parse(a, tc->qs, strlen(tc->qs), &q, &why);
	ck_assert_msg(rc == 0, "query_parse(\"%s\"): got %d, want 0", tc->qs, rc);
	rc = query_int(&q, "n", tc->min, tc->max, tc->def, &got);
	ck_assert_msg(rc == tc->rc, "query_int(\"%s\", [%" PRId64 ", %" PRId64
	    "]): got %d (%" PRId64 "), want %d", tc->qs, tc->min, tc->max, rc,
	    got, tc->rc);
	if (rc == 0)
		ck_assert_msg(got == tc->want, "query_int(\"%s\"): got %" PRId64
		    ", want %" PRId64, tc->qs, got, tc->want);
	mem_free(a);
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

static Suite *
query_suite(void)
{
	Suite *s = suite_create("query");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_parse_core, 0, NCASES(parse_core));
	tcase_add_test(core, test_parse_counted);
	tcase_add_loop_test(core, test_get, 0, NCASES(get_cases));
	tcase_add_loop_test(core, test_bool_core, 0, NCASES(bool_core));
	tcase_add_loop_test(core, test_int_core, 0, NCASES(int_core));
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_parse_count, 0, NCASES(count_cases));
	tcase_add_loop_test(limits, test_int_limits, 0, NCASES(int_limits));
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_parse_errors, 0, NCASES(parse_errors));
	tcase_add_loop_test(errors, test_bool_errors, 0, NCASES(bool_errors));
	tcase_add_loop_test(errors, test_int_errors, 0, NCASES(int_errors));
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(query_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
