/*
 * fuzz_request: libFuzzer target for reqparse_fill and
 * reqparse_content_length, plus the header parsers the handlers run next.
 *
 * The input is a table of FastCGI parameters, "NAME=VALUE" pairs separated by
 * NUL bytes when the input holds one, else by newlines (so seeds are plain
 * text). A name of one character is shorthand (see short_names) so that
 * mutations reach the interesting parameters cheaply; "config:KEY=VALUE"
 * applies a config_set first (max_name_length, max_body...). The first pair
 * of a name wins. Whatever happens, nothing may crash or leak. Invariants:
 * req_id is 1..39 characters of hex and '-' (and is REQUEST_ID when that is
 * valid); the method matches its name; path and query parts split the URI at
 * its first '?'; an accepted path holds valid segments (fuzz_check_path) and
 * an accepted query NUL-free values; CONTENT_LENGTH gives 0, 400 or 413 and a
 * length within [0, max_body] on 0; the 400 bodies that echo the client's
 * bytes (a bad path or query, a malformed If-Match) are JSON objects in
 * valid UTF-8. Build (see run.sh):
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_request.c src/reqparse.c src/route.c src/query.c \
 *     src/http.c src/auth.c src/ids.c src/json.c src/config.c src/log.c \
 *     src/buf.c src/mem.c src/util.c \
 *     $(pkg-config --cflags --libs json-c libcrypto) -lm
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "fuzz.h"
#include "http.h"
#include "json.h"
#include "mem.h"
#include "reqparse.h"
#include "util.h"

#define MAX_PARAMS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct table {
	size_t n;
	struct {
		char *name;
		char *value;
	} p[MAX_PARAMS];
};

static const struct {
	char c;
	const char *name;
} short_names[] = {
	{ 'U', "REQUEST_URI" },
	{ 'M', "REQUEST_METHOD" },
	{ 'A', "HTTP_AUTHORIZATION" },
	{ 'I', "HTTP_IF_MATCH" },
	{ 'N', "HTTP_IF_NONE_MATCH" },
	{ 'L', "CONTENT_LENGTH" },
	{ 'T', "CONTENT_TYPE" },
	{ 'R', "REQUEST_ID" },
};

/* The lookup function reqparse_fill calls: the first pair named name. */
static const char *
get_param(void *ctx, const char *name)
{
	const struct table *t = ctx;

	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->p[i].name, name) == 0)
			return t->p[i].value;
	}
	return NULL;
}

/* Adds one "NAME=VALUE" piece (a piece without '=' is ignored). */
static void
add_pair(struct table *t, struct arena *a, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	size_t nlen;

	if (eq == NULL || t->n == MAX_PARAMS)
		return;
	nlen = (size_t)(eq - s);
	t->p[t->n].name = mem_strndup(a, s, nlen);
	t->p[t->n].value = mem_strndup(a, eq + 1, len - nlen - 1);
	require(t->p[t->n].name != NULL && t->p[t->n].value != NULL);
	if (nlen == 1) {
		for (size_t i = 0; i < sizeof(short_names) / sizeof(short_names[0]); i++) {
			if (short_names[i].c == s[0])
				t->p[t->n].name = (char *)short_names[i].name;
		}
	}
	t->n++;
}

/* Splits the input into the table, in the arena. */
static void
decode_table(struct table *t, struct arena *a, const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char sep = memchr(data, '\0', size) != NULL ? '\0' : '\n';

	t->n = 0;
	while (p < end) {
		const char *s = memchr(p, sep, (size_t)(end - p));
		const char *pend = s ? s : end;

		add_pair(t, a, p, (size_t)(pend - p));
		p = s ? s + 1 : end;
	}
}

/* Applies the "config:KEY=VALUE" pairs; bad ones are ignored. */
static void
apply_config(struct config *cfg, const struct table *t)
{
	char err[256];

	for (size_t i = 0; i < t->n; i++) {
		if (strncmp(t->p[i].name, "config:", 7) == 0)
			(void)config_set(cfg, t->p[i].name + 7, t->p[i].value, err,
			    sizeof(err));
	}
}

/* The request id: given when valid, else generated; hex and '-' only. */
static void
check_req_id(const struct request *req, const char *given)
{
	size_t n = strnlen(req->req_id, sizeof(req->req_id));
	bool given_ok = given != NULL && *given != '\0' && strlen(given) <= 39;

	require(n >= 1 && n <= 39);
	for (size_t i = 0; i < n; i++)
		require(util_is_hex(&req->req_id[i], 1) || req->req_id[i] == '-');
	for (size_t i = 0; given_ok && given[i] != '\0'; i++)
		given_ok = util_is_hex(&given[i], 1) || given[i] == '-';
	if (given_ok)
		require(strcmp(req->req_id, given) == 0);
}

/* URI, method and query as reqparse_fill recorded them. */
static void
check_request(const struct request *req, const struct parse_result *pr,
    const struct config *cfg)
{
	size_t ulen;

	require(req->method_name != NULL && req->uri != NULL);
	require(req->method == http_method_parse(req->method_name));
	ulen = strlen(req->uri);
	require(req->path_raw == req->uri && req->path_raw_len <= ulen);
	require(memchr(req->path_raw, '?', req->path_raw_len) == NULL);
	if (req->path_raw_len < ulen) {
		require(req->uri[req->path_raw_len] == '?');
		require(req->query_raw == req->uri + req->path_raw_len + 1);
	} else {
		require(*req->query_raw == '\0');
	}
	require(req->query_raw_len == strlen(req->query_raw));
	require(pr->path_rc == ROUTE_OK || pr->path_rc == ROUTE_NOT_API ||
	    pr->path_rc == ROUTE_BAD);
	require((pr->path_rc == ROUTE_BAD) == (pr->path_why != NULL));
	if (pr->path_rc == ROUTE_OK)
		fuzz_check_path(req->arena, &req->path, (size_t)cfg->max_name_length);
	require(!pr->query_bad || pr->query_why != NULL);
	for (size_t i = 0; !pr->query_bad && i < req->query.n; i++) {
		require(memchr(req->query.p[i].value, '\0', req->query.p[i].vlen) == NULL);
		require(util_utf8_valid(req->query.p[i].value, req->query.p[i].vlen));
	}
}

/* What dispatch and the handlers do next with the headers and the length. */
static void
check_headers(const struct request *req, const struct table *t,
    const struct config *cfg)
{
	char key[AUTH_MAX_KEY + 1];
	struct etag_list l;
	int64_t len = -1;
	int st;

	if (req->authorization != NULL && auth_parse_basic(req->authorization, key) == 0)
		require(strlen(key) >= 1 && strlen(key) <= AUTH_MAX_KEY);
	if (req->if_match != NULL && http_parse_etags(req->if_match, &l) == 0)
		require(l.any || l.n > 0);
	if (req->if_none_match != NULL && http_parse_etags(req->if_none_match, &l) == 0)
		require(l.any || l.n > 0);
	st = reqparse_content_length(get_param((void *)t, "CONTENT_LENGTH"),
	    cfg->max_body, &len);
	require(st == 0 || st == 400 || st == 413);
	if (st == 0)
		require(len >= 0 && len <= cfg->max_body);
	if (st == 413)
		require(len > cfg->max_body);
}

/* A 4xx body is one JSON object in valid UTF-8, whatever client bytes its
 * message or details echo. */
static void
require_error_body(const struct response *r)
{
	struct json_tokener *tok;
	struct json_object *o;

	require(r->status >= 400 && r->status < 500 && !r->body.b_failed);
	require(util_utf8_valid(r->body.b_data, r->body.b_len));
	tok = json_tokener_new();
	require(tok != NULL);
	o = json_tokener_parse_ex(tok, r->body.b_data, (int)r->body.b_len);
	require(o != NULL && json_object_is_type(o, json_type_object) &&
	    json_tokener_get_parse_end(tok) == r->body.b_len);
	json_object_put(o);
	json_tokener_free(tok);
}

/* The error bodies that echo what the client sent: the reasons of a bad
 * path or query, and a malformed If-Match as handler_cond echoes it (cut at
 * 200 bytes, wherever that falls). */
static void
check_error_bodies(const struct request *req, const struct parse_result *pr)
{
	struct response r;
	struct etag_list l;

	http_response_init(&r);
	if (pr->path_why != NULL) {
		http_error_bad_request(&r, pr->path_why);
		require_error_body(&r);
	}
	if (pr->query_bad) {
		http_error_bad_request(&r, pr->query_why);
		require_error_body(&r);
	}
	if (req->if_match != NULL && http_parse_etags(req->if_match, &l) != 0) {
		struct buf d;

		buf_init(&d, 0);
		buf_adds(&d, "{\"ref\":");
		json_emit_string(&d, req->if_match, strnlen(req->if_match, 200));
		buf_addc(&d, '}');
		require(!d.b_failed);
		http_error(&r, 400, "item_ref_malformed", "The provided Item Ref is malformed.",
		    d.b_data);
		require_error_body(&r);
		buf_free(&d);
	}
	http_response_free(&r);
}

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = mem_new();
	struct request req;
	struct parse_result pr;
	struct config cfg;
	struct table t;

	require(a != NULL);
	decode_table(&t, a, data, size);
	config_defaults(&cfg);
	apply_config(&cfg, &t);
	memset(&req, 0, sizeof(req));
	req.arena = a;
	req.cfg = &cfg;
	reqparse_fill(&req, &pr, get_param, &t);
	check_req_id(&req, get_param(&t, "REQUEST_ID"));
	check_request(&req, &pr, &cfg);
	check_headers(&req, &t, &cfg);
	check_error_bodies(&req, &pr);
	mem_free(a);
	return 0;
}
