/*
 * dispatch: routing, authentication, the transaction and its retries.
 */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "handler.h"
#include "log.h"
#include "mem.h"
#include "ratelimit.h"
#include "routes.h"
#include "store.h"
#include "tenants.h"


static void
unauthorized(struct response *resp)
{
	http_error(resp, 401, "security_unauthorized", "Valid credentials are required.",
	    NULL);
	http_header(resp, "WWW-Authenticate", "Basic realm=\"orchid\"");
}

/*
 * The media types a web page may send to another site without a CORS
 * preflight (an HTML form, or fetch with no custom header): a write that
 * carries one of them is refused, so that a page on another site cannot
 * make a browser holding Basic credentials for Orchid write with them.
 * Every Orchid client sends application/json (or a patch or export-stream
 * type). The type before any ';', case-insensitive.
 */
static const char *
cross_site_type(const char *ct)
{
	static const char *const types[] = {
		"application/x-www-form-urlencoded", "multipart/form-data", "text/plain",
	};

	if (ct == NULL)
		return NULL;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t n = strlen(types[i]);
		const char *e = ct + n;

		if (strncasecmp(ct, types[i], n) != 0)
			continue;
		while (*e == ' ' || *e == '\t')
			e++;
		if (*e == '\0' || *e == ';')
			return types[i];
	}
	return NULL;
}

/* Answers what needs no handler; returns true when resp is complete. */
static bool
answer_early(const struct request *req, const struct parse_result *pr,
    const struct route_match *m, struct response *resp)
{
	const char *xs;

	if (pr->path_rc == ROUTE_BAD) {
		http_error_bad_request(resp, pr->path_why);
		return true;
	}
	if (pr->query_bad) {
		http_error_bad_request(resp, pr->query_why);
		return true;
	}
	if (!m->found) {
		http_error(resp, 404, "api_bad_request",
		    "The requested resource does not exist.", NULL);
		return true;
	}
	if (m->fn == NULL) {
		http_error(resp, 405, "api_bad_request",
		    "The method is not allowed for the requested resource.", NULL);
		http_header(resp, "Allow", "%s", m->allow);
		return true;
	}
	if ((req->method == M_PUT || req->method == M_POST || req->method == M_PATCH) &&
	    (xs = cross_site_type(req->content_type)) != NULL) {
		char msg[256];

		snprintf(msg, sizeof(msg), "A write with Content-Type %s is refused (a web page "
		    "on another site could send one); send JSON with Content-Type: "
		    "application/json.", xs);
		http_error(resp, 415, "api_bad_request", msg, NULL);
		return true;
	}
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

/*
 * The tenant's share of the workers: false (and a 429) when it already has
 * tenant_max_inflight requests in flight in other workers. The worker
 * records the end of the request once its answer is written (a stream
 * too), worker.c.
 */
static bool
within_share(const struct request *req, struct response *resp)
{
	if (ratelimit_enter(req->limiter, req->slot, req->tenant,
	    config_tenant_max_inflight(req->cfg)))
		return true;
	http_error(resp, 429, "tenant_busy", "This tenant already has as many requests in "
	    "progress as it may (tenant_max_inflight); retry after the time in Retry-After.",
	    NULL);
	http_header(resp, "Retry-After", "1");
	return false;
}

/* One request's transaction, as store_run calls it (again after a deadlock). */
struct attempt {
	struct store *s;
	struct request *req;
	const struct parse_result *pr;
	struct response *resp;
	const struct route_match *m;
	bool go;    /* an own-transaction route passed auth: run its handler */
	bool not_master;  /* a write on a replica: answered 307 or 503 */
};

/* One log line per 10 s of writes refused for a full disk. */
static void
log_ratelimited_disk_full(const struct request *req)
{
	static int64_t logged_ms;
	static unsigned long left_out;

	if (logged_ms != 0 && req->now_ms - logged_ms < 10000 && req->now_ms >= logged_ms) {
		left_out++;
		return;
	}
	log_err("%s %s: refused (507): the data directory's file system has less than "
	    "min_free_space free (%lu more refused since the last line)", req->method_name,
	    req->uri, left_out);
	logged_ms = req->now_ms;
	left_out = 0;
}

/* A write refused before it changes anything when the disk is nearly full
 * (store_space_low); true (and a 507) then. */
static bool
space_refused(const struct attempt *a, struct response *resp)
{
	if (!a->m->write || !store_space_low(a->s))
		return false;
	log_ratelimited_disk_full(a->req);
	http_error(resp, 507, "storage_full", "The server keeps its last free space "
	    "(min_free_space) and refuses writes until there is more; nothing was changed. "
	    "Retry later.", NULL);
	http_header(resp, "Retry-After", "30");
	return true;
}

/*
 * A write sent to a replica (docs/replication.md): 307 to the same URI at
 * the master's replication_url, which the master's heartbeat brings to
 * every site; 503 while no master is known (an election) or its heartbeat
 * has not arrived yet.
 */
static void
answer_not_master(struct store *s, struct request *req, struct response *resp)
{
	struct store_rep_info *ri = mem_alloc(req->arena, sizeof(*ri));
	const char *master = NULL;

	if (ri != NULL && store_rep_info(s, ri) == 0 && ri->role == STORE_ROLE_REPLICA) {
		for (int i = 0; i < ri->nsites; i++) {
			if (ri->sites[i].master)
				master = ri->sites[i].addr;
		}
	}
	if (master != NULL && ri->beat_ms != 0 && strcmp(master, ri->beat_site) == 0 &&
	    ri->beat_url[0] != '\0') {
		size_t n = strlen(ri->beat_url);

		if (n > 0 && ri->beat_url[n - 1] == '/')
			n--;
		http_error(resp, 307, "not_master", "This site is a replica: writes go to the "
		    "master, at the URL in Location.", NULL);
		http_header(resp, "Location", "%.*s%s", (int)n, ri->beat_url, req->uri);
		return;
	}
	http_error(resp, 503, "no_master", "This site is a replica and no master is known "
	    "now (an election may be under way); nothing was changed. Retry shortly.", NULL);
	http_header(resp, "Retry-After", "1");
}

/* Orchid-Read-After on a read: waits until this site has the commit the
 * token names; false (and the answer) when it cannot. */
static bool
read_after(struct store *s, struct request *req, struct response *resp)
{
	switch (store_wait_applied(s, req->read_after, req->cfg->replication_read_wait)) {
	case STORE_APPLIED_YES:
		return true;
	case STORE_APPLIED_BAD:
		http_error(resp, 400, "bad_token", "Orchid-Read-After must be a token from an "
		    "Orchid-Commit-Token header: 40 hexadecimal digits.", NULL);
		return false;
	case STORE_APPLIED_NEVER:
		http_error(resp, 409, "token_unknown", "This site will not have the write that "
		    "token names: it was never acknowledged and was rolled back in a failover, "
		    "or it is of another replication group.", NULL);
		return false;
	default:
		http_error(resp, 503, "replica_behind", "This replica has not yet received the "
		    "write the Orchid-Read-After token names (replication_read_wait); retry, or "
		    "read from the master.", NULL);
		http_header(resp, "Retry-After", "1");
		return false;
	}
}

static enum store_rc
attempt(struct store_txn *txn, void *arg, bool *commit)
{
	struct attempt *a = arg;
	struct response *resp = a->resp;
	struct ctx c = { a->req, resp, txn, a->s };
	bool ok, waited = false;
	enum store_rc rc;

	http_response_reset(resp);
	rc = authenticate(&c, &ok);
	if (rc == STORE_OK && !ok && a->req->read_after != NULL &&
	    a->req->authorization != NULL && !a->m->write && config_replicated(a->req->cfg)) {
		/* The key itself may be in the commit the token names (a key just
		 * made on the master): wait for it, then look again. */
		if (!read_after(a->s, a->req, resp)) {
			*commit = false;
			return STORE_OK;
		}
		waited = true;
		http_response_reset(resp);
		rc = authenticate(&c, &ok);
	}
	if (rc == STORE_OK && ok && a->not_master) {
		answer_not_master(a->s, a->req, resp);
		*commit = false;
		return STORE_OK;
	}
	if (rc == STORE_OK && ok && !waited && a->req->read_after != NULL && !a->m->write &&
	    config_replicated(a->req->cfg) && !read_after(a->s, a->req, resp)) {
		*commit = false;
		return STORE_OK;
	}
	if (rc == STORE_OK && ok && within_rate(a->req, resp) && within_share(a->req, resp) &&
	    !answer_early(a->req, a->pr, a->m, resp) && !space_refused(a, resp)) {
		if (a->m->own) {
			/* Only authenticated here; the handler runs after. */
			a->go = true;
			*commit = false;
			return STORE_OK;
		}
		rc = a->m->fn(&c);
	}
	/* A response that could not be built whole (out of memory, over a cap)
	 * is never sent as a 2xx, and its writes are not committed. */
	if (rc == STORE_OK && (resp->body.b_failed || resp->headers.b_failed)) {
		log_err("%s %s: the response could not be built (%zu bytes of body)",
		    a->req->method_name, a->req->uri, resp->body.b_len);
		rc = STORE_ERR;
	}
	*commit = rc == STORE_OK && resp->status < 400;
	return rc;
}

int
dispatch_request(struct store *s, struct request *req, const struct parse_result *pr,
    struct response *resp)
{
	struct route_match m;
	struct attempt a = { s, req, pr, resp, &m, false, false };
	enum store_rc rc;
	bool rep = config_replicated(req->cfg);

	routes_match(req, &m);
	req->route = (int)m.id;
	/* A replica redirects writes, after authentication (attempt). */
	a.not_master = rep && m.write && store_role(s, NULL, 0) != STORE_ROLE_MASTER;
	rc = store_run(s, m.write && !m.own, req->cfg->deadlock_retries, attempt, &a);
	if (rc == STORE_OK && a.go) {
		struct ctx c = { req, resp, NULL, s };

		rc = m.fn(&c);
		if (rc == STORE_OK && (resp->body.b_failed || resp->headers.b_failed)) {
			log_err("%s %s: the response could not be built (%zu bytes of body)",
			    req->method_name, req->uri, resp->body.b_len);
			rc = STORE_ERR;
		}
	}
	/*
	 * A write whose commit failed (a log write or flush that reported an
	 * error, a panic during the commit) may or may not be durable: the
	 * client is told so, never asked to simply retry, and never sent a
	 * 2xx. The worker exits and the master recovers the environment,
	 * after which the write is either wholly there or wholly absent. A
	 * commit refused for lack of space before anything was flushed is
	 * the 507 below: nothing stored.
	 */
	if (rc != STORE_OK && m.write && store_outcome_unknown() &&
	    (rc == STORE_PANIC || !store_full())) {
		log_err("%s %s: the commit failed; whether the write was stored is unknown "
		    "until recovery", req->method_name, req->uri);
		http_error(resp, 500, "write_outcome_unknown", "The write could not be made "
		    "durable (the database met an I/O error while committing it): it may or may "
		    "not have been stored. Read it back before writing it again.", NULL);
		return -1;
	}
	if (rep && rc == STORE_ERR && store_unacked()) {
		log_err("%s %s: committed here but not acknowledged by the replication group "
		    "within replication_ack_timeout", req->method_name, req->uri);
		http_error(resp, 503, "replication_unacknowledged", "The write was not "
		    "acknowledged by enough sites of the replication group in time "
		    "(replication_ack_policy): it may or may not survive a failover. Read it "
		    "back before writing it again.", NULL);
		http_header(resp, "Retry-After", "1");
		return 0;
	}
	if (rep && rc == STORE_ERR && store_not_master()) {
		answer_not_master(s, req, resp);
		return 0;
	}
	if (rep && rc == STORE_OK && m.write && resp->status < 300) {
		char tok[64];

		if (store_commit_token(tok, sizeof(tok)))
			http_header(resp, "Orchid-Commit-Token", "%s", tok);
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
		if (store_corrupt(NULL, 0, NULL)) {
			/* This request read a page that failed its checksum
			 * (store.c logs which): retrying cannot help until the
			 * data is repaired, so no 503 and no Retry-After. */
			log_err("%s %s: a page it needs is corrupt", req->method_name, req->uri);
			http_error(resp, 500, "storage_corrupt", "The stored data this request "
			    "needs is damaged; it cannot be read until the operator repairs it.",
			    NULL);
			return -1;
		}
		log_err("%s %s: the environment needs recovery", req->method_name, req->uri);
		http_error_unavailable(resp, "The database is recovering; retry the request.");
		return -1;
	default:
		if (store_full()) {
			/*
			 * The disk filled inside Berkeley DB, past min_free_space
			 * (0, or another program took the space between two
			 * looks). A write's commit that could not be logged could
			 * not log its abort either: its transaction may still hold
			 * locks in this process. So the worker answers 507, then
			 * exits for the master's failure check and recovery,
			 * which retries until there is space again.
			 */
			log_err("%s %s: refused: no space left for the database", req->method_name,
			    req->uri);
			http_error(resp, 507, "storage_full", "The server has no space left to "
			    "store this write; it was not stored. Retry later.", NULL);
			http_header(resp, "Retry-After", "30");
			return m.write ? -1 : 0;
		}
		log_err("%s %s: store error", req->method_name, req->uri);
		http_error_internal(resp);
		return 0;
	}
}
