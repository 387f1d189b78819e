/*
 * check_http: unit tests for src/http.h (entity tags, error bodies, methods
 * and reason phrases).
 *
 * Table-driven. Entity-tag rules come from API.md "Transport and auth"
 * (If-Match: one tag or a list, quoted or bare, or "*"; a tag that is empty
 * or not hex is item_ref_malformed; a weak tag never matches). Error bodies
 * are read back with json-c, independently of the module's own writer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "http.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

struct tag {
	const char	*tag;
	bool		 weak;
};

struct etag_case {
	const char	*header;
	int		 rc;
	bool		 any;
	size_t		 n;
	struct tag	 t[3];
};

#define E_OK(h, any, n, ...)	{ (h), 0, (any), (n), { __VA_ARGS__ } }
#define E_BAD(h)		{ (h), -1, false, 0, { { NULL, false } } }

static const struct etag_case etag_core[] = {
	E_OK("\"abc123\"", false, 1, { "abc123", false }),
	E_OK("abc123", false, 1, { "abc123", false }),
	E_OK("*", true, 0, { NULL, false }),
	E_OK("\"*\"", true, 0, { NULL, false }),
	E_OK("\"a\", \"b\"", false, 2, { "a", false }, { "b", false }),
	E_OK("\"a\",\"b\"", false, 2, { "a", false }, { "b", false }),
	E_OK("  \"a\" ,  b  ", false, 2, { "a", false }, { "b", false }),
	E_OK("\t\"a\"\t,\tb", false, 2, { "a", false }, { "b", false }),
	E_OK("W/\"ab\"", false, 1, { "ab", true }),
	E_OK("W/\"ab\", \"cd\"", false, 2, { "ab", true }, { "cd", false }),
	E_OK("\"ABC123\"", false, 1, { "abc123", false }),
	E_OK("\"015abd7f5cc57a2d\"", false, 1, { "015abd7f5cc57a2d", false }),
	E_OK("0", false, 1, { "0", false }),
	E_OK("*, \"ab\"", true, 1, { "ab", false }),
};

static const struct etag_case etag_errors[] = {
	E_BAD(""),
	E_BAD("   "),
	E_BAD("\"\""),
	E_BAD("\"badetag\""),
	E_BAD("badetag"),
	E_BAD("\"abc"),
	E_BAD("abc\""),
	E_BAD("\"abc123"),
	E_BAD("W/ab"),
	E_BAD("W/\"\""),
	E_BAD("w/\"ab\""),
	E_BAD("W/\"ab"),
	E_BAD("\"a\","),
	E_BAD(",\"a\""),
	E_BAD("\"a\",,\"b\""),
	E_BAD("\"a\" \"b\""),
	E_BAD("\"a\";q=1"),
	E_BAD("\"a\"x"),
	E_BAD("**"),
	E_BAD("*x"),
	E_BAD("\"0x12\""),
	E_BAD("\"12 34\""),
	E_BAD("\"12-34\""),
	E_BAD("\"g\""),
	E_BAD("\"\xc3\xa9\""),
	E_BAD("W/*"),
	E_BAD("\"*"),
	E_BAD("*\""),
	E_BAD("\"a\" ,"),
	E_BAD("\"\x01\""),
	E_BAD("\"ab\"\r\n"),
	E_BAD("\"ab\"W/\"cd\""),
	E_BAD("W/W/\"ab\""),
	E_BAD("'ab'"),
};

static void
check_etags(const struct etag_case *tc)
{
	struct etag_list l;
	int rc;

	rc = http_parse_etags(tc->header, &l);
	ck_assert_msg(rc == tc->rc, "http_parse_etags(%s): got %d, want %d",
	    tc->header, rc, tc->rc);
	if (rc != 0)
		return;
	ck_assert_msg(l.any == tc->any, "http_parse_etags(%s) any: got %d, want %d",
	    tc->header, l.any, tc->any);
	ck_assert_msg(l.n == tc->n, "http_parse_etags(%s): got %zu tags, want %zu",
	    tc->header, l.n, tc->n);
	for (size_t i = 0; i < tc->n; i++) {
		ck_assert_msg(strcmp(l.t[i].tag, tc->t[i].tag) == 0,
		    "http_parse_etags(%s) tag %zu: got \"%s\", want \"%s\"",
		    tc->header, i, l.t[i].tag, tc->t[i].tag);
		ck_assert_msg(l.t[i].weak == tc->t[i].weak,
		    "http_parse_etags(%s) tag %zu weak: got %d, want %d",
		    tc->header, i, l.t[i].weak, tc->t[i].weak);
	}
}

START_TEST(test_etags_core)
{
	check_etags(&etag_core[_i]);
}
END_TEST

START_TEST(test_etags_errors)
{
	check_etags(&etag_errors[_i]);
}
END_TEST

struct count_case {
	int	 ntags;
	size_t	 digits;
	int	 rc;
};

static const struct count_case count_cases[] = {
	{ 1, 1, 0 },
	{ 1, 64, 0 },
	{ 1, 65, -1 },
	{ 1, 1000, -1 },
	{ HTTP_MAX_TAGS, 16, 0 },
	{ HTTP_MAX_TAGS, 64, 0 },
	{ HTTP_MAX_TAGS + 1, 16, -1 },
	{ HTTP_MAX_TAGS * 4, 1, -1 },
};

START_TEST(test_etags_limits)
{
	const struct count_case *tc = &count_cases[_i];
	char *h = malloc((size_t)tc->ntags * (tc->digits + 4) + 1);
	struct etag_list l;
	size_t len = 0;
	int rc;

	ck_assert_msg(h != NULL, "malloc: got NULL");
	for (int i = 0; i < tc->ntags; i++) {
		if (i > 0) {
			h[len++] = ',';
			h[len++] = ' ';
		}
		h[len++] = '"';
		for (size_t j = 0; j < tc->digits; j++)
			h[len++] = "0123456789abcdef"[(j + (size_t)i) % 16];
		h[len++] = '"';
	}
	h[len] = '\0';
	rc = http_parse_etags(h, &l);
	ck_assert_msg(rc == tc->rc, "http_parse_etags(%d tags of %zu digits): got "
	    "%d, want %d", tc->ntags, tc->digits, rc, tc->rc);
	if (rc == 0)
		ck_assert_msg(l.n == (size_t)tc->ntags &&
		    strlen(l.t[l.n - 1].tag) == tc->digits,
		    "got %zu tags, the last of %zu digits, want %d of %zu", l.n,
		    strlen(l.t[l.n - 1].tag), tc->ntags, tc->digits);
	free(h);
}
END_TEST

struct match_case {
	const char	*header;
	const char	*ref;
	bool		 want;
};

#define REF	"015abd7f5cc57a2d"

static const struct match_case match_cases[] = {
	{ "\"" REF "\"", REF, true },
	{ REF, REF, true },
	{ "*", REF, true },
	{ "\"*\"", REF, true },
	{ "\"ab\", \"" REF "\"", REF, true },
	{ "\"015ABD7F5CC57A2D\"", REF, true },
	{ "W/\"" REF "\", \"" REF "\"", REF, true },
	{ "*, \"ab\"", REF, true },
	{ "W/\"" REF "\"", REF, false },
	{ "\"ab\"", REF, false },
	{ "\"015abd7f5cc57a2c\"", REF, false },
	{ "\"015abd7f5cc57a2\"", REF, false },
	{ "\"015abd7f5cc57a2d0\"", REF, false },
	{ "\"015abd7f\"", REF, false },
	{ "\"" REF REF "\"", REF, false },
	{ "W/\"ab\", W/\"" REF "\"", REF, false },
};

START_TEST(test_etags_match)
{
	const struct match_case *tc = &match_cases[_i];
	struct etag_list l;
	bool got;

	ck_assert_msg(http_parse_etags(tc->header, &l) == 0,
	    "http_parse_etags(%s): got -1, want 0", tc->header);
	got = http_etags_match(&l, tc->ref);
	ck_assert_msg(got == tc->want, "http_etags_match(%s, %s): got %d, want %d",
	    tc->header, tc->ref, got, tc->want);
}
END_TEST

/*
 * Checks that r holds status and a JSON body {"message","code"[,"details"]}
 * with these values; details_json NULL means no details member. Returns the
 * parsed body (the caller puts it) for further checks.
 */
static struct json_object *
check_error_body(struct response *r, int status, const char *code,
    const char *message, const char *details_json)
{
	struct json_object *body, *v, *want;
	const char *text = r->body.b_data ? r->body.b_data : "";

	ck_assert_msg(r->status == status, "status: got %d, want %d", r->status,
	    status);
	ck_assert_msg(!r->body.b_failed, "body: got b_failed, want a body");
	body = json_tokener_parse(text);
	ck_assert_msg(body != NULL && json_object_is_type(body, json_type_object),
	    "body: got %s, want a JSON object", text);
	ck_assert_msg(json_object_object_length(body) == (details_json ? 3 : 2),
	    "body %s: got %d members, want %d", text,
	    json_object_object_length(body), details_json ? 3 : 2);
	ck_assert_msg(json_object_object_get_ex(body, "message", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), message) == 0,
	    "body %s: got another message, want \"%s\"", text, message);
	ck_assert_msg(json_object_object_get_ex(body, "code", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), code) == 0,
	    "body %s: got another code, want \"%s\"", text, code);
	if (details_json != NULL) {
		want = json_tokener_parse(details_json);
		ck_assert_msg(json_object_object_get_ex(body, "details", &v) &&
		    json_object_equal(v, want),
		    "body %s: got other details, want %s", text, details_json);
		json_object_put(want);
	}
	return body;
}

struct error_case {
	int		 status;
	const char	*code;
	const char	*message;
	const char	*details;
};

static const struct error_case error_cases[] = {
	{ 400, "api_bad_request", "The API request is malformed.", NULL },
	{ 401, "security_unauthorized", "Valid credentials are required.", NULL },
	{ 412, "item_version_mismatch", "The version of the item does not match.",
	    NULL },
	{ 409, "x", "quote \" backslash \\ newline \n tab \t ctl \x01 del \x7f",
	    NULL },
	{ 400, "c", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 a/b", NULL },
	{ 404, "items_not_found", "m", "{\"items\":[]}" },
	{ 400, "api_bad_request", "m", "{\"info\":\"x\",\"n\":[1,2,{}]}" },
	{ 500, "internal_error", "", "null" },
};

START_TEST(test_error)
{
	const struct error_case *tc = &error_cases[_i];
	struct response r;

	http_response_init(&r);
	/* What was there before is replaced. */
	http_header(&r, "ETag", "\"%s\"", REF);
	buf_adds(&r.body, "{\"old\":true}");
	http_error(&r, tc->status, tc->code, tc->message, tc->details);
	json_object_put(check_error_body(&r, tc->status, tc->code, tc->message,
	    tc->details));
	ck_assert_msg(r.headers.b_len == 0, "headers: got \"%s\", want none",
	    r.headers.b_data);
	http_response_free(&r);
}
END_TEST

struct nf_case {
	const char	*collection;
	const char	*key;
	const char	*details;
};

static const struct nf_case nf_cases[] = {
	{ "users", "alice",
	    "{\"items\":[{\"collection\":\"users\",\"key\":\"alice\"}]}" },
	{ "users", NULL, "{\"items\":[{\"collection\":\"users\"}]}" },
	{ "a\"b", "k/\x01\xc3\xa9",
	    "{\"items\":[{\"collection\":\"a\\\"b\",\"key\":\"k/\\u0001\xc3\xa9\"}]}" },
	{ "c", "", "{\"items\":[{\"collection\":\"c\",\"key\":\"\"}]}" },
};

START_TEST(test_error_not_found)
{
	const struct nf_case *tc = &nf_cases[_i];
	struct response r;

	http_response_init(&r);
	http_error_not_found(&r, tc->collection, tc->key);
	json_object_put(check_error_body(&r, 404, "items_not_found",
	    "The requested items could not be found.", tc->details));
	http_response_free(&r);
}
END_TEST

START_TEST(test_error_common)
{
	struct response r;

	http_response_init(&r);
	http_error_bad_request(&r, "The path has an \"empty\" segment.");
	json_object_put(check_error_body(&r, 400, "api_bad_request",
	    HTTP_MSG_BAD_REQUEST,
	    "{\"info\":\"The path has an \\\"empty\\\" segment.\"}"));
	http_error_internal(&r);
	json_object_put(check_error_body(&r, 500, "internal_error",
	    "Internal Error.", NULL));
	http_error_unavailable(&r, "Try again.");
	json_object_put(check_error_body(&r, 503, "service_unavailable",
	    "Try again.", NULL));
	ck_assert_msg(r.headers.b_data != NULL &&
	    strstr(r.headers.b_data, "Retry-After: 1\r\n") != NULL,
	    "503 headers: got \"%s\", want Retry-After", r.headers.b_data ?
	    r.headers.b_data : "");
	http_response_free(&r);
}
END_TEST

START_TEST(test_header)
{
	struct response r;
	static char big[70 * 1024];
	size_t before;

	http_response_init(&r);
	ck_assert_msg(r.status == 200, "initial status: got %d, want 200",
	    r.status);
	http_header(&r, "ETag", "\"%s\"", REF);
	http_header(&r, "Location", "/v0/%s/%s", "c", "k");
	ck_assert_msg(strcmp(r.headers.b_data, "ETag: \"" REF "\"\r\n"
	    "Location: /v0/c/k\r\n") == 0, "headers: got \"%s\", want ETag and "
	    "Location lines", r.headers.b_data);
	/* A long value is kept whole (a Location with long names)... */
	memset(big, 'x', sizeof(big) - 1);
	big[5000] = '\0';
	before = r.headers.b_len;
	http_header(&r, "X-Long", "%s", big);
	ck_assert_msg(!r.headers.b_failed && r.headers.b_len == before + 5010,
	    "a 5000-byte header: got failed %d, %zu bytes, want kept whole",
	    r.headers.b_failed, r.headers.b_len - before);
	/* ... and one past the header buffer's cap fails the response, which
	 * the dispatcher answers with 500: a header is never dropped. */
	big[5000] = 'x';
	big[sizeof(big) - 1] = '\0';
	http_header(&r, "X-Big", "%s", big);
	ck_assert_msg(r.headers.b_failed, "a 70 KiB header: got accepted, want "
	    "b_failed");
	http_response_reset(&r);
	ck_assert_msg(r.headers.b_len == 0 && !r.headers.b_failed &&
	    r.body.b_len == 0 && r.status == 200,
	    "after reset: got %zu header bytes, failed %d, status %d, want 0, 0, "
	    "200", r.headers.b_len, r.headers.b_failed, r.status);
	http_response_free(&r);
}
END_TEST

struct method_case {
	const char		*name;
	enum http_method	 m;
};

static const struct method_case method_core[] = {
	{ "GET", M_GET },
	{ "HEAD", M_HEAD },
	{ "PUT", M_PUT },
	{ "POST", M_POST },
	{ "PATCH", M_PATCH },
	{ "DELETE", M_DELETE },
};

static const struct method_case method_errors[] = {
	{ NULL, M_OTHER },
	{ "", M_OTHER },
	{ "get", M_OTHER },
	{ "Get", M_OTHER },
	{ "OPTIONS", M_OTHER },
	{ "TRACE", M_OTHER },
	{ "CONNECT", M_OTHER },
	{ "GETX", M_OTHER },
	{ "GE", M_OTHER },
	{ " GET", M_OTHER },
	{ "GET ", M_OTHER },
	{ "DELETE\r\n", M_OTHER },
};

static void
check_method(const struct method_case *tc)
{
	enum http_method got = http_method_parse(tc->name);

	ck_assert_msg(got == tc->m, "http_method_parse(%s): got %d, want %d",
	    tc->name ? tc->name : "NULL", (int)got, (int)tc->m);
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

struct reason_case {
	int		 status;
	const char	*reason;  /* NULL: any non-empty text */
};

static const struct reason_case reason_cases[] = {
	{ 200, "OK" },
	{ 201, "Created" },
	{ 204, "No Content" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 409, "Conflict" },
	{ 412, "Precondition Failed" },
	{ 413, "Payload Too Large" },
	{ 415, "Unsupported Media Type" },
	{ 429, "Too Many Requests" },
	{ 500, "Internal Server Error" },
	{ 503, "Service Unavailable" },
	{ 0, NULL },
	{ -1, NULL },
	{ 299, NULL },
	{ 999, NULL },
	{ 100000, NULL },
};

START_TEST(test_reason)
{
	const struct reason_case *tc = &reason_cases[_i];
	const char *got = http_reason(tc->status);

	ck_assert_msg(got != NULL && got[0] != '\0' && strchr(got, '\r') == NULL &&
	    strchr(got, '\n') == NULL, "http_reason(%d): got \"%s\", want one line "
	    "of text", tc->status, got ? got : "(null)");
	if (tc->reason != NULL)
		ck_assert_msg(strcmp(got, tc->reason) == 0, "http_reason(%d): got "
		    "\"%s\", want \"%s\"", tc->status, got, tc->reason);
}
END_TEST

/* A stream whose release counts its calls. */
static enum http_stream_rc
count_run(void *arg, struct http_sink *sink, const char **why)
{
	(void)arg;
	(void)sink;
	(void)why;
	return HTTP_STREAM_DONE;
}

static void
count_release(void *arg)
{
	(*(int *)arg)++;
}

/* How a response with a stream is ended, and how often the stream must
 * have been released by then (always exactly once). */
enum stream_end { END_RESET, END_ERROR, END_REPLACE, END_FREE };

static const struct {
	enum stream_end end;
	const char *name;
} stream_cases[] = {
	{ END_RESET, "http_response_reset" },
	{ END_ERROR, "http_error" },
	{ END_REPLACE, "a second http_response_stream" },
	{ END_FREE, "http_response_free" },
};

START_TEST(test_stream_release)
{
	struct response r;
	int released = 0, other = 0;
	struct http_stream s = { count_run, count_release, &released };
	struct http_stream s2 = { count_run, count_release, &other };

	http_response_init(&r);
	r.status = 404;
	http_response_stream(&r, "application/x-test", &s);
	ck_assert_msg(r.status == 200 && r.stream.run == count_run &&
	    strcmp(r.content_type, "application/x-test") == 0,
	    "after http_response_stream: got status %d, want 200 with the stream and "
	    "its content type", r.status);
	ck_assert_msg(released == 0, "released before the end: got %d, want 0", released);
	switch (stream_cases[_i].end) {
	case END_RESET:
		http_response_reset(&r);
		break;
	case END_ERROR:
		http_error_internal(&r);
		break;
	case END_REPLACE:
		http_response_stream(&r, "application/json", &s2);
		break;
	case END_FREE:
		http_response_free(&r);
		break;
	}
	ck_assert_msg(released == 1, "%s: got %d releases, want 1", stream_cases[_i].name,
	    released);
	if (stream_cases[_i].end == END_FREE)
		return;
	if (stream_cases[_i].end == END_REPLACE) {
		ck_assert_msg(r.stream.arg == &other, "%s: got another stream, want the "
		    "second", stream_cases[_i].name);
	} else {
		ck_assert_msg(r.stream.run == NULL && r.content_type == NULL,
		    "%s: got a stream or content type left, want none", stream_cases[_i].name);
	}
	http_response_free(&r);
	ck_assert_msg(released == 1, "%s, then http_response_free: got %d releases, "
	    "want 1", stream_cases[_i].name, released);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_etags_core, 0, NCASES(etag_core));
	tcase_add_loop_test(core, test_etags_match, 0, NCASES(match_cases));
	tcase_add_loop_test(core, test_error, 0, NCASES(error_cases));
	tcase_add_loop_test(core, test_error_not_found, 0, NCASES(nf_cases));
	tcase_add_test(core, test_error_common);
	tcase_add_test(core, test_header);
	tcase_add_loop_test(core, test_method_core, 0, NCASES(method_core));
	tcase_add_loop_test(core, test_reason, 0, NCASES(reason_cases));
	tcase_add_loop_test(core, test_stream_release, 0, NCASES(stream_cases));
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_etags_limits, 0, NCASES(count_cases));
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_etags_errors, 0, NCASES(etag_errors));
	tcase_add_loop_test(errors, test_method_errors, 0,
	    NCASES(method_errors));
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
