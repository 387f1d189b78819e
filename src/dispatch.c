/*
 * dispatch: routing, authentication, the transaction and its retries.
 */
#include "dispatch.h"

#include <string.h>
#include <time.h>

#include "auth.h"
#include "config.h"
#include "handler.h"
#include "log.h"
#include "ratelimit.h"
#include "store.h"
#include "tenants.h"


struct match {
	handler_fn fn;
	bool write;
	const char *allow;     /* for 405 */
	bool unsupported;      /* a known resource this version cannot serve */
};

static bool
seg_is(const struct request *req, size_t i, const char *lit)
{
	return req->path.nseg > i && strcmp(req->path.seg[i].s, lit) == 0;
}

/* /v0/c/k/events/TYPE[/TS[/ORD]] */
static int
match_events(const struct request *req, struct match *m)
{
	enum http_method me = req->method;
	size_t n = req->path.nseg;

	if (n == 4) {
		m->allow = "GET, HEAD, POST, PUT";
		if (me == M_GET || me == M_HEAD)
			m->fn = events_list;
		else if (me == M_POST || me == M_PUT)
			m->fn = events_create, m->write = true;
	} else if (n == 5) {
		m->allow = "GET, HEAD, POST";
		if (me == M_GET || me == M_HEAD)
			m->fn = events_list;
		else if (me == M_POST)
			m->fn = events_create, m->write = true;
	} else {
		m->allow = "GET, HEAD, PUT, PATCH, DELETE";
		if (me == M_GET || me == M_HEAD)
			m->fn = events_get;
		else if (me == M_PUT)
			m->fn = events_update, m->write = true;
		else if (me == M_PATCH)
			m->fn = events_patch, m->write = true;
		else if (me == M_DELETE)
			m->fn = events_delete, m->write = true;
	}
	return 0;
}

/* Fills m for req; returns 0, or 404 when no resource has this path. */
static int
match_route(const struct request *req, struct match *m)
{
	enum http_method me = req->method;
	size_t n = req->path.nseg;

	memset(m, 0, sizeof(*m));
	if (n == 0) {
		m->allow = "GET, HEAD";
		if (me == M_GET)
			m->fn = items_list_collections;
		else if (me == M_HEAD)
			m->fn = items_ping;
		else if (me == M_POST)
			m->unsupported = true; /* bulk: a later release */
		return 0;
	}
	if (n == 1) {
		m->allow = "GET, HEAD, POST";
		if (me == M_GET || me == M_HEAD)
			m->fn = items_list_collection;
		else if (me == M_POST)
			m->fn = items_post, m->write = true;
		else if (me == M_DELETE)
			m->unsupported = true;
		return 0;
	}
	if (n == 2) {
		m->allow = "GET, HEAD, PUT, DELETE";
		if (me == M_GET || me == M_HEAD)
			m->fn = items_get;
		else if (me == M_PUT)
			m->fn = items_put, m->write = true;
		else if (me == M_DELETE)
			m->fn = items_delete, m->write = true;
		else if (me == M_PATCH)
			m->unsupported = true;
		return 0;
	}
	if (seg_is(req, 2, "refs") && (n == 3 || n == 4)) {
		m->allow = "GET, HEAD";
		if (me == M_GET || me == M_HEAD)
			m->fn = n == 3 ? items_list_refs : items_get_ref;
		return 0;
	}
	if (seg_is(req, 2, "events") && n >= 4 && n <= 6)
		return match_events(req, m);
	if (seg_is(req, 2, "relation") || seg_is(req, 2, "relations")) {
		m->unsupported = true;
		return 0;
	}
	return 404;
}

static void
unauthorized(struct response *resp)
{
	http_error(resp, 401, "security_unauthorized", "Valid credentials are required.",
	    NULL);
	http_header(resp, "WWW-Authenticate", "Basic realm=\"orchid\"");
}

/* Answers what needs no handler; returns true when resp is complete. */
static bool
answer_early(const struct request *req, const struct parse_result *pr,
    const struct match *m, int found, struct response *resp)
{
	if (pr->path_rc == ROUTE_BAD) {
		http_error_bad_request(resp, pr->path_why);
		return true;
	}
	if (pr->query_bad) {
		http_error_bad_request(resp, pr->query_why);
		return true;
	}
	if (found == 404) {
		http_error(resp, 404, "api_bad_request",
		    "The requested resource does not exist.", NULL);
		return true;
	}
	if (m->unsupported) {
		http_error(resp, 501, "api_unsupported",
		    "This operation is not available in this version of Orchid.", NULL);
		return true;
	}
	if (m->fn == NULL) {
		http_error(resp, 405, "api_bad_request",
		    "The method is not allowed for the requested resource.", NULL);
		http_header(resp, "Allow", "%s", m->allow);
		return true;
	}
	(void)req;
	return false;
}

/* Authenticates inside the transaction; false (and a 401) when refused. */
static enum store_rc
authenticate(struct ctx *c, bool *ok)
{
	char key[AUTH_MAX_KEY + 1];
	enum store_rc rc;

	*ok = false;
	if (c->req->authorization == NULL ||
	    auth_parse_basic(c->req->authorization, key) == -1) {
		unauthorized(c->resp);
		return STORE_OK;
	}
	rc = tenants_auth(c->txn, c->req->arena, key, &c->req->tenant);
	if (rc == STORE_NOTFOUND) {
		unauthorized(c->resp);
		return STORE_OK;
	}
	*ok = rc == STORE_OK;
	return rc;
}

/* The tenant's request rate; false (and a 429) when over its limit. */
static bool
within_rate(const struct request *req, struct response *resp)
{
	int64_t retry_ms;

	if (ratelimit_take(req->limiter, req->tenant, req->now_ms, req->cfg->rate_limit,
	    req->cfg->rate_burst, &retry_ms))
		return true;
	http_error(resp, 429, "rate_limited",
	    "Too many requests for this tenant; retry after the time in Retry-After.", NULL);
	http_header(resp, "Retry-After", "%lld", (long long)((retry_ms + 999) / 1000));
	return false;
}

static enum store_rc
run_once(struct store *s, struct request *req, const struct parse_result *pr,
    struct response *resp)
{
	struct store_txn *txn;
	struct match m;
	struct ctx c;
	bool ok;
	int found = match_route(req, &m);
	enum store_rc rc;

	http_response_reset(resp);
	rc = store_begin(s, m.write, &txn);
	if (rc != STORE_OK)
		return rc;
	c.req = req;
	c.resp = resp;
	c.txn = txn;
	rc = authenticate(&c, &ok);
	if (rc == STORE_OK && ok && within_rate(req, resp) &&
	    !answer_early(req, pr, &m, found, resp))
		rc = m.fn(&c);
	if (rc == STORE_OK && resp->status < 400)
		return store_commit(txn);
	store_abort(txn);
	return rc;
}

int
dispatch_request(struct store *s, struct request *req, const struct parse_result *pr,
    struct response *resp)
{
	enum store_rc rc;

	for (int attempt = 0;; attempt++) {
		rc = run_once(s, req, pr, resp);
		if (rc != STORE_RETRY || attempt >= req->cfg->deadlock_retries)
			break;
		/* Back off a little so the winner of the deadlock can finish. */
		struct timespec ts = { 0, (long)(attempt + 1) * 200000L };
		(void)nanosleep(&ts, NULL);
	}
	switch (rc) {
	case STORE_OK:
		return 0;
	case STORE_RETRY:
		log_warn("%s %s: gave up after %d deadlocks", req->method_name, req->uri,
		    req->cfg->deadlock_retries + 1);
		http_error_unavailable(resp, "The database is busy; retry the request.");
		return 0;
	case STORE_PANIC:
		log_err("%s %s: the environment needs recovery", req->method_name, req->uri);
		http_error_unavailable(resp, "The database is recovering; retry the request.");
		return -1;
	default:
		log_err("%s %s: store error", req->method_name, req->uri);
		http_error_internal(resp);
		return 0;
	}
}
