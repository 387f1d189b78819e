/*
 * check_reqparse: unit tests for src/reqparse.h (FastCGI parameters to a
 * struct request, and CONTENT_LENGTH).
 *
 * Table-driven: each row is one parameter (REQUEST_METHOD, REQUEST_URI, a
 * header, REQUEST_ID, CONTENT_LENGTH) with what we want reqparse to make of
 * it. The parameters reach reqparse_fill through a lookup function over a
 * small table, as fcgi_param does in the worker. Before each call the request
 * and the parse result are filled with junk, so a field reqparse forgets to
 * set shows. The reasons are the texts route.c and query.c give the client.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "mem.h"
#include "reqparse.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define MAX_PARAMS	8
#define MIB2		(INT64_C(2) << 20)	/* the default max_body */

/* ---- the lookup function --------------------------------------------------- */

struct param {
	const char	*name;
	const char	*value;
};

/* The parameters of one request, up to the first NULL name. */
struct params {
	struct param	 p[MAX_PARAMS];
	int		 calls;
};

static const char *
lookup(void *ctx, const char *name)
{
	struct params *ps = ctx;

	ps->calls++;
	for (int i = 0; i < MAX_PARAMS && ps->p[i].name != NULL; i++) {
		if (strcmp(ps->p[i].name, name) == 0)
			return ps->p[i].value;
	}
	return NULL;
}

/* One request parsed from ps, with its arena and config. */
struct parsed {
	struct arena		*arena;
	struct config		 cfg;
	struct request		 req;
	struct parse_result	 pr;
};

/* Parses ps into *out (max_name 0: the default); free with parsed_free. */
static void
parse(struct params *ps, int max_name, struct parsed *out)
{
	memset(out, 0x5a, sizeof(*out));
	out->arena = mem_new();
	ck_assert_msg(out->arena != NULL, "mem_new: got NULL, want an arena");
	config_defaults(&out->cfg);
	if (max_name > 0)
		out->cfg.max_name_length = max_name;
	out->req.arena = out->arena;
	out->req.cfg = &out->cfg;
	ps->calls = 0;
	reqparse_fill(&out->req, &out->pr, lookup, ps);
	ck_assert_msg(ps->calls > 0, "reqparse_fill: got no lookups, want some");
}

static void
parsed_free(struct parsed *p)
{
	mem_free(p->arena);
}

/* ---- REQUEST_METHOD ------------------------------------------------------- */

struct method_case {
	const char		*value;	/* NULL: absent */
	enum http_method	 m;
	const char		*name;	/* want method_name */
};

static const struct method_case method_core[] = {
	{ "GET", M_GET, "GET" },
	{ "HEAD", M_HEAD, "HEAD" },
	{ "PUT", M_PUT, "PUT" },
	{ "POST", M_POST, "POST" },
	{ "PATCH", M_PATCH, "PATCH" },
	{ "DELETE", M_DELETE, "DELETE" },
};

static const struct method_case method_errors[] = {
	{ NULL, M_OTHER, "" },
	{ "", M_OTHER, "" },
	{ "get", M_OTHER, "get" },
	{ "Get", M_OTHER, "Get" },
	{ "OPTIONS", M_OTHER, "OPTIONS" },
	{ "TRACE", M_OTHER, "TRACE" },
	{ "GET ", M_OTHER, "GET " },
	{ " GET", M_OTHER, " GET" },
	{ "POSTX", M_OTHER, "POSTX" },
	{ "PATC", M_OTHER, "PATC" },
	{ "G\xc3\xa9T", M_OTHER, "G\xc3\xa9T" },
};

static void
check_method(const struct method_case *tc)
{
	struct params ps = { { { "REQUEST_URI", "/v0/c" },
	    { tc->value ? "REQUEST_METHOD" : NULL, tc->value } }, 0 };
	struct parsed p;

	parse(&ps, 0, &p);
	ck_assert_msg(p.req.method == tc->m && strcmp(p.req.method_name, tc->name) == 0,
	    "REQUEST_METHOD %s: got %d \"%s\", want %d \"%s\"",
	    tc->value ? tc->value : "absent", (int)p.req.method, p.req.method_name,
	    (int)tc->m, tc->name);
	if (tc->value != NULL)
		ck_assert_msg(p.req.method_name == tc->value,
		    "REQUEST_METHOD %s: got a copy, want the parameter itself", tc->value);
	parsed_free(&p);
}

START_TEST(test_method_core)
{
	check_method(&method_core[_i]);
}
END_TEST

START_TEST(test_method_errors)
{
	check_method(&method_errors[_i]);
}
END_TEST

/* ---- REQUEST_URI ---------------------------------------------------------- */

#define WHY_EMPTY	"The path has an empty segment."
#define WHY_DOT		"The path has a \".\" or \"..\" segment."
#define WHY_SEGS	"The path has too many segments."
#define WHY_ESCAPE	"The path has a malformed percent escape."
#define WHY_NUL		"A name in the path contains a NUL byte."
#define WHY_UTF8	"A name in the path is not valid UTF-8."
#define WHY_LONG	"A name in the path is too long."
#define QWHY_ESCAPE	"The query string has a malformed percent escape."
#define QWHY_BYTES	"A query parameter contains a NUL byte or invalid UTF-8."
#define QWHY_REPEAT	"A query parameter is repeated with different values."
#define QWHY_MANY	"The query string has too many parameters."

struct uri_case {
	const char	*uri;		/* NULL: absent */
	enum route_rc	 rc;
	const char	*why;		/* ROUTE_BAD's reason */
	const char	*path;		/* want path_raw */
	const char	*query;		/* want query_raw */
	const char	*query_why;	/* NULL: the query parses */
	const char	*segs[7];	/* decoded segments, up to NULL */
	const char	*params[4];	/* decoded "name=value", up to NULL */
};

static const struct uri_case uri_core[] = {
	{ .uri = "/v0", .path = "/v0", .query = "" },
	{ .uri = "/v0/", .path = "/v0/", .query = "" },
	{ .uri = "/v0/c", .path = "/v0/c", .query = "", .segs = { "c" } },
	{ .uri = "/v0/c/k", .path = "/v0/c/k", .query = "", .segs = { "c", "k" } },
	{ .uri = "/v0/c/k/", .path = "/v0/c/k/", .query = "", .segs = { "c", "k" } },
	{ .uri = "//v0/c/k", .path = "//v0/c/k", .query = "", .segs = { "c", "k" } },
	/* Split first, decode after: "%2F" stays inside its segment. */
	{ .uri = "/v0/c/a%2Fb", .path = "/v0/c/a%2Fb", .query = "",
	  .segs = { "c", "a/b" } },
	{ .uri = "/v0/c/a%2fb%20c", .path = "/v0/c/a%2fb%20c", .query = "",
	  .segs = { "c", "a/b c" } },
	{ .uri = "/v0/c/a+b", .path = "/v0/c/a+b", .query = "", .segs = { "c", "a+b" } },
	{ .uri = "/v0/c/%E2%82%AC", .path = "/v0/c/%E2%82%AC", .query = "",
	  .segs = { "c", "\xe2\x82\xac" } },
	{ .uri = "/v0/c/\xe2\x82\xac", .path = "/v0/c/\xe2\x82\xac", .query = "",
	  .segs = { "c", "\xe2\x82\xac" } },
	{ .uri = "/v0/c%3Fx/k", .path = "/v0/c%3Fx/k", .query = "", .segs = { "c?x", "k" } },
	{ .uri = "/v0/c/%2E%2E", .path = "/v0/c/%2E%2E", .query = "", .segs = { "c", ".." } },
	{ .uri = "/v0/c/k#f", .path = "/v0/c/k#f", .query = "", .segs = { "c", "k#f" } },
	{ .uri = "/v0/c/k/events/t/1500000000000/7",
	  .path = "/v0/c/k/events/t/1500000000000/7", .query = "",
	  .segs = { "c", "k", "events", "t", "1500000000000", "7" } },
	{ .uri = "/v0/c/k/relations/kind/c2/k2", .path = "/v0/c/k/relations/kind/c2/k2",
	  .query = "", .segs = { "c", "k", "relations", "kind", "c2", "k2" } },
	/* The query: after the first '?', '+' is a space. */
	{ .uri = "/v0/c/k?x=1", .path = "/v0/c/k", .query = "x=1", .segs = { "c", "k" },
	  .params = { "x=1" } },
	{ .uri = "/v0/c?limit=10&offset=5", .path = "/v0/c", .query = "limit=10&offset=5",
	  .segs = { "c" }, .params = { "limit=10", "offset=5" } },
	{ .uri = "/v0/c/k?", .path = "/v0/c/k", .query = "", .segs = { "c", "k" } },
	{ .uri = "/v0?", .path = "/v0", .query = "" },
	{ .uri = "/v0/c/k?a=1?b=2", .path = "/v0/c/k", .query = "a=1?b=2",
	  .segs = { "c", "k" }, .params = { "a=1?b=2" } },
	{ .uri = "/v0/c?query=value%3A*+x&q=a+b&q=a%20b", .path = "/v0/c",
	  .query = "query=value%3A*+x&q=a+b&q=a%20b", .segs = { "c" },
	  .params = { "query=value:* x", "q=a b" } },
	{ .uri = "/v0/c?%2Fk=%2F/", .path = "/v0/c", .query = "%2Fk=%2F/", .segs = { "c" },
	  .params = { "/k=//" } },
};

static const struct uri_case uri_errors[] = {
	/* Not under /v0: 404. */
	{ .uri = NULL, .rc = ROUTE_NOT_API, .path = "", .query = "" },
	{ .uri = "", .rc = ROUTE_NOT_API, .path = "", .query = "" },
	{ .uri = "/", .rc = ROUTE_NOT_API, .path = "/", .query = "" },
	{ .uri = "/v1/c", .rc = ROUTE_NOT_API, .path = "/v1/c", .query = "" },
	{ .uri = "/v0c", .rc = ROUTE_NOT_API, .path = "/v0c", .query = "" },
	{ .uri = "v0/c", .rc = ROUTE_NOT_API, .path = "v0/c", .query = "" },
	{ .uri = "/V0/c", .rc = ROUTE_NOT_API, .path = "/V0/c", .query = "" },
	{ .uri = "///v0/c", .rc = ROUTE_NOT_API, .path = "///v0/c", .query = "" },
	{ .uri = "/v0%2Fc", .rc = ROUTE_NOT_API, .path = "/v0%2Fc", .query = "" },
	{ .uri = "?/v0/c", .rc = ROUTE_NOT_API, .path = "", .query = "/v0/c",
	  .params = { "/v0/c=" } },
	{ .uri = "http://h/v0/c", .rc = ROUTE_NOT_API, .path = "http://h/v0/c", .query = "" },
	/* Malformed paths: 400 with a reason. */
	{ .uri = "/v0//c", .rc = ROUTE_BAD, .why = WHY_EMPTY, .path = "/v0//c", .query = "" },
	{ .uri = "/v0/c//", .rc = ROUTE_BAD, .why = WHY_EMPTY, .path = "/v0/c//", .query = "" },
	{ .uri = "/v0/c//k", .rc = ROUTE_BAD, .why = WHY_EMPTY, .path = "/v0/c//k",
	  .query = "" },
	{ .uri = "/v0/./c", .rc = ROUTE_BAD, .why = WHY_DOT, .path = "/v0/./c", .query = "" },
	{ .uri = "/v0/c/..", .rc = ROUTE_BAD, .why = WHY_DOT, .path = "/v0/c/..", .query = "" },
	{ .uri = "/v0/c/%", .rc = ROUTE_BAD, .why = WHY_ESCAPE, .path = "/v0/c/%", .query = "" },
	{ .uri = "/v0/c/%4", .rc = ROUTE_BAD, .why = WHY_ESCAPE, .path = "/v0/c/%4",
	  .query = "" },
	{ .uri = "/v0/c/%zz", .rc = ROUTE_BAD, .why = WHY_ESCAPE, .path = "/v0/c/%zz",
	  .query = "" },
	{ .uri = "/v0/c/%4?=1", .rc = ROUTE_BAD, .why = WHY_ESCAPE, .path = "/v0/c/%4",
	  .query = "=1", .params = { "=1" } },
	{ .uri = "/v0/c/%00", .rc = ROUTE_BAD, .why = WHY_NUL, .path = "/v0/c/%00", .query = "" },
	{ .uri = "/v0/c/%FF", .rc = ROUTE_BAD, .why = WHY_UTF8, .path = "/v0/c/%FF", .query = "" },
	{ .uri = "/v0/c/\xff", .rc = ROUTE_BAD, .why = WHY_UTF8, .path = "/v0/c/\xff",
	  .query = "" },
	{ .uri = "/v0/c/%C0%AF", .rc = ROUTE_BAD, .why = WHY_UTF8, .path = "/v0/c/%C0%AF",
	  .query = "" },
	{ .uri = "/v0/c/%ED%A0%80", .rc = ROUTE_BAD, .why = WHY_UTF8,
	  .path = "/v0/c/%ED%A0%80", .query = "" },
	/* Malformed queries are recorded apart from the path. */
	{ .uri = "/v0/c/k?a=%", .path = "/v0/c/k", .query = "a=%", .query_why = QWHY_ESCAPE,
	  .segs = { "c", "k" } },
	{ .uri = "/v0/c/k?a=1&a=2", .path = "/v0/c/k", .query = "a=1&a=2",
	  .query_why = QWHY_REPEAT, .segs = { "c", "k" } },
	{ .uri = "/v0/c/k?a=%00", .path = "/v0/c/k", .query = "a=%00",
	  .query_why = QWHY_BYTES, .segs = { "c", "k" } },
	{ .uri = "/v0/c/k?a=%FF", .path = "/v0/c/k", .query = "a=%FF",
	  .query_why = QWHY_BYTES, .segs = { "c", "k" } },
	{ .uri = "/v0/c/k?\xc3\x28=1", .path = "/v0/c/k", .query = "\xc3\x28=1",
	  .query_why = QWHY_BYTES, .segs = { "c", "k" } },
	/* Both wrong: both recorded. */
	{ .uri = "/v1?a=%", .rc = ROUTE_NOT_API, .path = "/v1", .query = "a=%",
	  .query_why = QWHY_ESCAPE },
	{ .uri = "/v0//c?a=1&a=2", .rc = ROUTE_BAD, .why = WHY_EMPTY, .path = "/v0//c",
	  .query = "a=1&a=2", .query_why = QWHY_REPEAT },
};

/* The segments and parameters of an accepted path and query. */
static void
check_parts(const struct uri_case *tc, const struct request *req,
    const struct parse_result *pr, const char *u)
{
	size_t n = 0;

	while (n < 7 && tc->segs[n] != NULL)
		n++;
	if (tc->rc == ROUTE_OK) {
		ck_assert_msg(req->path.nseg == n, "REQUEST_URI %s: got %zu segments, want %zu",
		    u, req->path.nseg, n);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(req->path.seg[i].len == strlen(tc->segs[i]) &&
			    strcmp(req->path.seg[i].s, tc->segs[i]) == 0,
			    "REQUEST_URI %s segment %zu: got \"%s\", want \"%s\"", u, i,
			    req->path.seg[i].s, tc->segs[i]);
	}
	if (pr->query_bad)
		return;
	for (n = 0; n < 4 && tc->params[n] != NULL; n++) {
		const char *eq = strchr(tc->params[n], '=');
		size_t nlen = (size_t)(eq - tc->params[n]);
		const struct qparam *q = n < req->query.n ? &req->query.p[n] : NULL;

		ck_assert_msg(q != NULL && strlen(q->name) == nlen &&
		    memcmp(q->name, tc->params[n], nlen) == 0 && strcmp(q->value, eq + 1) == 0 &&
		    q->vlen == strlen(eq + 1), "REQUEST_URI %s parameter %zu: got %s=%s, want %s",
		    u, n, q ? q->name : "(none)", q ? q->value : "", tc->params[n]);
	}
	ck_assert_msg(req->query.n == n, "REQUEST_URI %s: got %zu parameters, want %zu", u,
	    req->query.n, n);
}

static void
check_uri(const struct uri_case *tc)
{
	struct params ps = { { { tc->uri ? "REQUEST_URI" : "REQUEST_METHOD",
	    tc->uri ? tc->uri : "GET" } }, 0 };
	const char *u = tc->uri ? tc->uri : "(absent)";
	const char *q_why;
	struct parsed p;
	struct request *req = &p.req;
	struct parse_result *pr = &p.pr;

	parse(&ps, 0, &p);
	ck_assert_msg(strcmp(req->uri, tc->uri ? tc->uri : "") == 0,
	    "REQUEST_URI %s: got uri \"%s\"", u, req->uri);
	ck_assert_msg(req->path_raw == req->uri && req->path_raw_len == strlen(tc->path) &&
	    memcmp(req->path_raw, tc->path, req->path_raw_len) == 0,
	    "REQUEST_URI %s: got path \"%.*s\", want \"%s\"", u, (int)req->path_raw_len,
	    req->path_raw, tc->path);
	ck_assert_msg(strcmp(req->query_raw, tc->query) == 0 &&
	    req->query_raw_len == strlen(tc->query), "REQUEST_URI %s: got query \"%s\" "
	    "(%zu), want \"%s\"", u, req->query_raw, req->query_raw_len, tc->query);
	ck_assert_msg(pr->path_rc == tc->rc, "REQUEST_URI %s: got route rc %d (%s), want %d",
	    u, (int)pr->path_rc, pr->path_why ? pr->path_why : "", (int)tc->rc);
	ck_assert_msg((pr->path_why == NULL && tc->why == NULL) || (pr->path_why != NULL &&
	    tc->why != NULL && strcmp(pr->path_why, tc->why) == 0),
	    "REQUEST_URI %s: got reason \"%s\", want \"%s\"", u,
	    pr->path_why ? pr->path_why : "(none)", tc->why ? tc->why : "(none)");
	q_why = pr->query_bad ? pr->query_why : NULL;
	ck_assert_msg((pr->query_bad == 0 || pr->query_bad == 1) &&
	    ((q_why == NULL && tc->query_why == NULL) || (q_why != NULL &&
	    tc->query_why != NULL && strcmp(q_why, tc->query_why) == 0)),
	    "REQUEST_URI %s: got query_bad %d \"%s\", want \"%s\"", u, pr->query_bad,
	    q_why ? q_why : "(none)", tc->query_why ? tc->query_why : "(none)");
	check_parts(tc, req, pr, u);
	parsed_free(&p);
}

START_TEST(test_uri_core)
{
	check_uri(&uri_core[_i]);
}
END_TEST

START_TEST(test_uri_errors)
{
	check_uri(&uri_errors[_i]);
}
END_TEST

/*
 * Long inputs, built at run time: head, then unit count times (numbered:
 * followed by its index), then tail; parsed with max_name (0: 1024).
 */
struct long_case {
	const char	*head;
	const char	*unit;
	bool		 numbered;
	int		 count;
	const char	*tail;
	int		 max_name;
	enum route_rc	 rc;
	const char	*why;		/* ROUTE_BAD's reason */
	size_t		 nseg;		/* when ROUTE_OK */
	const char	*query_why;
	size_t		 nparams;	/* when the query parses */
};

static const struct long_case long_cases[] = {
	/* Segments: at most 32 after /v0. */
	{ "/v0", "/a", false, 32, "", 0, ROUTE_OK, NULL, 32, NULL, 0 },
	{ "/v0", "/a", false, 32, "/", 0, ROUTE_OK, NULL, 32, NULL, 0 },
	{ "/v0", "/a", false, 33, "", 0, ROUTE_BAD, WHY_SEGS, 0, NULL, 0 },
	{ "/v0", "/a", false, 1000, "", 0, ROUTE_BAD, WHY_SEGS, 0, NULL, 0 },
	/* Names: at most max_name_length bytes once decoded. */
	{ "/v0/c/", "x", false, 1024, "", 0, ROUTE_OK, NULL, 2, NULL, 0 },
	{ "/v0/c/", "x", false, 1025, "", 0, ROUTE_BAD, WHY_LONG, 0, NULL, 0 },
	{ "/v0/c/", "%41", false, 1024, "", 0, ROUTE_OK, NULL, 2, NULL, 0 },
	{ "/v0/c/", "%41", false, 1025, "", 0, ROUTE_BAD, WHY_LONG, 0, NULL, 0 },
	{ "/v0/c/", "\xc3\xa9", false, 512, "", 0, ROUTE_OK, NULL, 2, NULL, 0 },
	{ "/v0/c/", "\xc3\xa9", false, 513, "", 0, ROUTE_BAD, WHY_LONG, 0, NULL, 0 },
	{ "/v0/", "a", false, 1, "/b", 1, ROUTE_OK, NULL, 2, NULL, 0 },
	{ "/v0/", "a", false, 2, "/b", 1, ROUTE_BAD, WHY_LONG, 0, NULL, 0 },
	{ "/v0/c/", "x", false, 4096, "", 4096, ROUTE_OK, NULL, 2, NULL, 0 },
	{ "/v0/c/", "x", false, 4097, "", 4096, ROUTE_BAD, WHY_LONG, 0, NULL, 0 },
	/* Query parameters: at most 64 distinct names; repeats are free. */
	{ "/v0/c?", "&p", true, 64, "", 0, ROUTE_OK, NULL, 1, NULL, 64 },
	{ "/v0/c?", "&p", true, 65, "", 0, ROUTE_OK, NULL, 1, QWHY_MANY, 0 },
	{ "/v0/c?", "&a=1", false, 10000, "", 0, ROUTE_OK, NULL, 1, NULL, 1 },
	{ "/v0/c?", "&a=1", false, 10000, "&a=2", 0, ROUTE_OK, NULL, 1, QWHY_REPEAT, 0 },
	/* No length limit of its own: nginx bounds the request line. */
	{ "/v0/c/k?v=", "y", false, 1 << 20, "", 0, ROUTE_OK, NULL, 2, NULL, 1 },
	{ "/v0/c/k?v=", "y", false, 1 << 20, "%", 0, ROUTE_OK, NULL, 2, QWHY_ESCAPE, 0 },
};

/* The long input of tc, malloc'ed. */
static char *
long_input(const struct long_case *tc)
{
	size_t ulen = strlen(tc->unit) + (tc->numbered ? 6 : 0);
	size_t size = strlen(tc->head) + (size_t)tc->count * ulen + strlen(tc->tail) + 1;
	char *s = malloc(size), *p;

	ck_assert_msg(s != NULL, "malloc(%zu) failed", size);
	p = s + snprintf(s, size, "%s", tc->head);
	for (int i = 0; i < tc->count; i++) {
		if (tc->numbered)
			p += snprintf(p, size - (size_t)(p - s), "%s%d", tc->unit, i);
		else
			p += snprintf(p, size - (size_t)(p - s), "%s", tc->unit);
	}
	(void)snprintf(p, size - (size_t)(p - s), "%s", tc->tail);
	return s;
}

START_TEST(test_long)
{
	const struct long_case *tc = &long_cases[_i];
	char *uri = long_input(tc);
	struct params ps = { { { "REQUEST_URI", uri } }, 0 };
	struct parsed p;

	parse(&ps, tc->max_name, &p);
	ck_assert_msg(p.pr.path_rc == tc->rc && (tc->why == NULL ? p.pr.path_why == NULL :
	    p.pr.path_why != NULL && strcmp(p.pr.path_why, tc->why) == 0),
	    "row %d (%s%s x %d%s): got route rc %d \"%s\", want %d \"%s\"", _i, tc->head,
	    tc->unit, tc->count, tc->tail, (int)p.pr.path_rc,
	    p.pr.path_why ? p.pr.path_why : "", (int)tc->rc, tc->why ? tc->why : "");
	if (tc->rc == ROUTE_OK)
		ck_assert_msg(p.req.path.nseg == tc->nseg, "row %d: got %zu segments, want %zu",
		    _i, p.req.path.nseg, tc->nseg);
	ck_assert_msg(tc->query_why == NULL ? !p.pr.query_bad :
	    p.pr.query_bad && strcmp(p.pr.query_why, tc->query_why) == 0,
	    "row %d: got query_bad %d \"%s\", want \"%s\"", _i, p.pr.query_bad,
	    p.pr.query_bad ? p.pr.query_why : "", tc->query_why ? tc->query_why : "");
	if (tc->query_why == NULL)
		ck_assert_msg(p.req.query.n == tc->nparams, "row %d: got %zu parameters, "
		    "want %zu", _i, p.req.query.n, tc->nparams);
	parsed_free(&p);
	free(uri);
}
END_TEST

/* ---- headers -------------------------------------------------------------- */

enum field { F_NONE, F_AUTH, F_IF_MATCH, F_IF_NONE_MATCH, F_CONTENT_TYPE };

struct header_case {
	const char	*param;
	const char	*value;
	enum field	 field;	/* the member that must hold value; F_NONE: none */
};

static const struct header_case header_core[] = {
	{ "HTTP_AUTHORIZATION", "Basic Zm9vOg==", F_AUTH },
	{ "HTTP_AUTHORIZATION", "Bearer abc", F_AUTH },
	{ "HTTP_IF_MATCH", "\"015abd7f5cc57a2d\"", F_IF_MATCH },
	{ "HTTP_IF_MATCH", "W/\"a\", \"b\"", F_IF_MATCH },
	{ "HTTP_IF_NONE_MATCH", "*", F_IF_NONE_MATCH },
	{ "HTTP_IF_NONE_MATCH", "\"015abd7f5cc57a2d\"", F_IF_NONE_MATCH },
	{ "CONTENT_TYPE", "application/json", F_CONTENT_TYPE },
	{ "CONTENT_TYPE", "application/json-patch+json; charset=utf-8", F_CONTENT_TYPE },
	{ "CONTENT_TYPE", "application/merge-patch+json", F_CONTENT_TYPE },
};

/* reqparse judges no header: whatever arrives is kept for the handlers. */
static const struct header_case header_errors[] = {
	{ "HTTP_AUTHORIZATION", "", F_AUTH },
	{ "HTTP_IF_MATCH", "", F_IF_MATCH },
	{ "HTTP_IF_NONE_MATCH", "", F_IF_NONE_MATCH },
	{ "CONTENT_TYPE", "", F_CONTENT_TYPE },
	{ "HTTP_AUTHORIZATION", "\x01\x7f\xff", F_AUTH },
	{ "HTTP_IF_MATCH", "not a tag", F_IF_MATCH },
	{ "CONTENT_TYPE", "text/plain", F_CONTENT_TYPE },
	/* Look-alike names are not read. */
	{ "AUTHORIZATION", "Basic Zm9vOg==", F_NONE },
	{ "http_authorization", "Basic Zm9vOg==", F_NONE },
	{ "HTTP_AUTHORIZATION ", "Basic Zm9vOg==", F_NONE },
	{ "HTTP_IF_MATCHX", "\"ab\"", F_NONE },
	{ "IF_MATCH", "\"ab\"", F_NONE },
	{ "HTTP_IF_NONE_MATCH_", "*", F_NONE },
	{ "HTTP_CONTENT_TYPE", "application/json", F_NONE },
	{ "CONTENT-TYPE", "application/json", F_NONE },
};

static void
check_header(const struct header_case *tc, const char *value)
{
	struct params ps = { { { "REQUEST_URI", "/v0/c/k" }, { tc->param, value } }, 0 };
	const char *got[5];
	struct parsed p;

	parse(&ps, 0, &p);
	got[F_NONE] = NULL;
	got[F_AUTH] = p.req.authorization;
	got[F_IF_MATCH] = p.req.if_match;
	got[F_IF_NONE_MATCH] = p.req.if_none_match;
	got[F_CONTENT_TYPE] = p.req.content_type;
	for (int f = F_AUTH; f <= F_CONTENT_TYPE; f++) {
		const char *want = (int)tc->field == f ? value : NULL;

		/* Borrowed, not copied: FastCGI params live as long as the request. */
		ck_assert_msg(got[f] == want, "%s=\"%.40s\": field %d got \"%.40s\", want "
		    "\"%.40s\"", tc->param, value, f, got[f] ? got[f] : "(null)",
		    want ? want : "(null)");
	}
	parsed_free(&p);
}

START_TEST(test_header_core)
{
	check_header(&header_core[_i], header_core[_i].value);
}
END_TEST

START_TEST(test_header_errors)
{
	check_header(&header_errors[_i], header_errors[_i].value);
}
END_TEST

/* Each header, 64 KiB long, comes through whole. */
START_TEST(test_header_long)
{
	const struct header_case *tc = &header_core[_i];
	size_t size = 64 * 1024;
	char *v = malloc(size + 1);

	ck_assert_msg(v != NULL, "malloc failed");
	memset(v, 'a', size);
	v[size] = '\0';
	check_header(tc, v);
	free(v);
}
END_TEST

/* Absent headers are NULL. */
START_TEST(test_header_absent)
{
	struct params ps = { { { "REQUEST_URI", "/v0/c/k" } }, 0 };
	struct parsed p;

	parse(&ps, 0, &p);
	ck_assert_msg(p.req.authorization == NULL && p.req.if_match == NULL &&
	    p.req.if_none_match == NULL && p.req.content_type == NULL,
	    "no headers: got %p %p %p %p, want all NULL", (const void *)p.req.authorization,
	    (const void *)p.req.if_match, (const void *)p.req.if_none_match,
	    (const void *)p.req.content_type);
	parsed_free(&p);
}
END_TEST

/* ---- REQUEST_ID ----------------------------------------------------------- */

#define ID39	"0123456789abcdef0123456789abcdef0123456"

struct id_case {
	const char	*value;	/* NULL: absent */
	bool		 kept;	/* false: a new UUID is made instead */
};

static const struct id_case id_core[] = {
	{ "4a9a2f0e-9f3c-4f47-b33c-3a9d6b3c9b52", true },
	{ "0123456789abcdef0123456789abcdef", true },	/* nginx's $request_id */
	{ "ABCDEF0123456789", true },
	{ ID39, true },
	{ "0", true },
	{ "-", true },
	{ "a-b-c", true },
};

static const struct id_case id_errors[] = {
	{ NULL, false },
	{ "", false },
	{ ID39 "7", false },				/* 40 characters */
	{ ID39 ID39 ID39, false },
	{ "g", false },
	{ "0123 4567", false },
	{ "abc\r\nX-Evil: 1", false },
	{ "abc\"", false },
	{ "ab_cd", false },
	{ "\xc3\xa9", false },
	{ "4a9a2f0e-9f3c-4f47-b33c-3a9d6b3c9b5z", false },
	{ "{4a9a2f0e-9f3c-4f47-b33c-3a9d6b3c9b52}", false },
	{ " 0123", false },
	{ "0123 ", false },
};

/* A version 4 UUID in lowercase, as ids_uuid makes. */
static bool
is_uuid4(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash != (s[i] == '-'))
			return false;
		if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static void
check_id(const struct id_case *tc)
{
	struct params ps = { { { "REQUEST_URI", "/v0/c/k" },
	    { tc->value ? "REQUEST_ID" : NULL, tc->value } }, 0 };
	const char *v = tc->value ? tc->value : "(absent)";
	struct parsed p;
	char first[sizeof(p.req.req_id)];

	parse(&ps, 0, &p);
	ck_assert_msg(memchr(p.req.req_id, '\0', sizeof(p.req.req_id)) != NULL,
	    "REQUEST_ID %s: got an unterminated req_id", v);
	if (tc->kept) {
		ck_assert_msg(strcmp(p.req.req_id, tc->value) == 0,
		    "REQUEST_ID %s: got \"%s\", want it kept", v, p.req.req_id);
		parsed_free(&p);
		return;
	}
	ck_assert_msg(is_uuid4(p.req.req_id), "REQUEST_ID %s: got \"%s\", want a new "
	    "UUID", v, p.req.req_id);
	memcpy(first, p.req.req_id, sizeof(first));
	parsed_free(&p);
	parse(&ps, 0, &p);
	ck_assert_msg(is_uuid4(p.req.req_id) && strcmp(first, p.req.req_id) != 0,
	    "REQUEST_ID %s twice: got \"%s\" then \"%s\", want two new UUIDs", v, first,
	    p.req.req_id);
	parsed_free(&p);
}

START_TEST(test_id_core)
{
	check_id(&id_core[_i]);
}
END_TEST

START_TEST(test_id_errors)
{
	check_id(&id_errors[_i]);
}
END_TEST

/* ---- CONTENT_LENGTH ------------------------------------------------------- */

struct cl_case {
	const char	*value;	/* NULL: absent */
	int64_t		 max;
	int		 status;
	int64_t		 len;	/* when status is 0 */
};

static const struct cl_case cl_core[] = {
	{ NULL, MIB2, 0, 0 },
	{ "", MIB2, 0, 0 },
	{ "0", MIB2, 0, 0 },
	{ "1", MIB2, 0, 1 },
	{ "1024", MIB2, 0, 1024 },
	{ "2097152", MIB2, 0, MIB2 },
	{ "007", MIB2, 0, 7 },
	{ "0000", MIB2, 0, 0 },
	{ "0", 0, 0, 0 },
	{ "9223372036854775807", INT64_MAX, 0, INT64_MAX },
	/* RFC 9110: 1*DIGIT, so any number of leading zeros (nginx passes them). */
	{ "000000000000000000000000000000005", MIB2, 0, 5 },
	{ "0000000000000000000009223372036854775807", INT64_MAX, 0, INT64_MAX },
};

static const struct cl_case cl_errors[] = {
	/* Not a plain decimal number: 400. */
	{ "-1", MIB2, 400, 0 },
	{ "-0", MIB2, 400, 0 },
	{ "+1", MIB2, 400, 0 },
	{ " 1", MIB2, 400, 0 },
	{ "1 ", MIB2, 400, 0 },
	{ "\t1", MIB2, 400, 0 },
	{ "1.0", MIB2, 400, 0 },
	{ "0x10", MIB2, 400, 0 },
	{ "1e3", MIB2, 400, 0 },
	{ "1,2", MIB2, 400, 0 },
	{ "abc", MIB2, 400, 0 },
	{ "\xef\xbc\x91", MIB2, 400, 0 },	/* fullwidth 1 */
	{ "99999999999999999999x", MIB2, 400, 0 },
	/* Over max: 413, even when over any int64_t. */
	{ "2097153", MIB2, 413, 0 },
	{ "1", 0, 413, 0 },
	{ "9223372036854775807", MIB2, 413, 0 },
	{ "9223372036854775808", MIB2, 413, 0 },
	{ "18446744073709551616", INT64_MAX, 413, 0 },
	{ "99999999999999999999999999999999", INT64_MAX, 413, 0 },
	{ "00000000000000000000000000000000000000000000002097153", MIB2, 413, 0 },
};

static void
check_cl(const struct cl_case *tc)
{
	const char *v = tc->value ? tc->value : "(absent)";
	int64_t len = -12345;
	int st = reqparse_content_length(tc->value, tc->max, &len);

	ck_assert_msg(st == tc->status, "CONTENT_LENGTH %s (max %" PRId64 "): got %d, "
	    "want %d", v, tc->max, st, tc->status);
	if (st == 0)
		ck_assert_msg(len == tc->len, "CONTENT_LENGTH %s: got %" PRId64 ", want %"
		    PRId64, v, len, tc->len);
	/* The fuzz target relies on a 413's length being over max (saturated). */
	if (st == 413)
		ck_assert_msg(len > tc->max || len == INT64_MAX, "CONTENT_LENGTH %s: got %" PRId64 " with 413, "
		    "want more than %" PRId64, v, len, tc->max);
}

START_TEST(test_cl_core)
{
	check_cl(&cl_core[_i]);
}
END_TEST

START_TEST(test_cl_errors)
{
	check_cl(&cl_errors[_i]);
}
END_TEST

static Suite *
reqparse_suite(void)
{
	Suite *s = suite_create("reqparse");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_method_core, 0, NCASES(method_core));
	tcase_add_loop_test(core, test_uri_core, 0, NCASES(uri_core));
	tcase_add_loop_test(core, test_header_core, 0, NCASES(header_core));
	tcase_add_test(core, test_header_absent);
	tcase_add_loop_test(core, test_id_core, 0, NCASES(id_core));
	tcase_add_loop_test(core, test_cl_core, 0, NCASES(cl_core));
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_long, 0, NCASES(long_cases));
	tcase_add_loop_test(limits, test_header_long, 0, NCASES(header_core));
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_method_errors, 0, NCASES(method_errors));
	tcase_add_loop_test(errors, test_uri_errors, 0, NCASES(uri_errors));
	tcase_add_loop_test(errors, test_header_errors, 0, NCASES(header_errors));
	tcase_add_loop_test(errors, test_id_errors, 0, NCASES(id_errors));
	tcase_add_loop_test(errors, test_cl_errors, 0, NCASES(cl_errors));
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(reqparse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
