/*
 * handle_bulk: POST /v0, the bulk import (bulk.h). Reads every operation
 * of the body first (a request over max_bulk_ops, or whose results could
 * not fit the response, is refused before anything is written), then
 * applies them in order, each in its own transaction committed without a
 * log flush, and flushes the log once before the 200, so that every
 * success reported is durable when the answer arrives. An export's end
 * line, wherever it comes, is a success of its own that writes nothing.
 */
#include "handler.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bulk.h"
#include "config.h"
#include "log.h"
#include "mem.h"

/* One operation of the request as read: op, or why it cannot be applied. */
struct entry {
	bool ok;
	struct bulk_op op;
	struct bulk_fail fail;
};

struct reading {
	struct ctx *c;
	const struct bulk_limits *lim;
	struct entry *e;
	size_t n, cap;
	bool too_many;     /* over max_bulk_ops: stopped */
	bool nomem;
};

/* True when the Content-Type is one bulk takes (parameters ignored). */
static bool
bulk_type(const char *ct)
{
	static const char *const types[] = {
		"application/orchestrate-export-stream+json", "application/json",
	};

	if (ct == NULL)
		return false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t n = strlen(types[i]);

		if (strncasecmp(ct, types[i], n) == 0 &&
		    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t'))
			return true;
	}
	return false;
}

/* The splitter's callback: reads each operation into the next entry. */
static int
take(void *arg, const struct bulk_unit *u)
{
	struct reading *r = arg;
	struct entry *e;

	if (r->n == (size_t)r->c->req->cfg->max_bulk_ops) {
		r->too_many = true;
		return -1;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct entry *ne = mem_alloc(r->c->req->arena, cap * sizeof(*ne));

		if (ne == NULL) {
			r->nomem = true;
			return -1;
		}
		if (r->n > 0)
			memcpy(ne, r->e, r->n * sizeof(*ne));
		r->e = ne;
		r->cap = cap;
	}
	e = &r->e[r->n++];
	e->ok = false;
	if (!u->ok) {
		e->fail = u->fail;
		return 0;
	}
	switch (bulk_read_unit(r->lim, r->c->req->arena, u, &e->op, &e->fail)) {
	case BULK_OK:
		e->ok = true;
		return 0;
	case BULK_REFUSED:
		return 0;
	default:
		r->nomem = true;
		return -1;
	}
}

/* Reads the body into r; -1 when out of memory. */
static int
read_all(struct ctx *c, struct reading *r)
{
	struct bulk_split *sp = bulk_split_new(r->lim);
	int rc;

	if (sp == NULL)
		return -1;
	rc = bulk_split_feed(sp, c->req->body, c->req->body_len, take, r);
	if (rc == 0)
		rc = bulk_split_end(sp, take, r);
	bulk_split_free(sp);
	return r->nomem || (rc == -1 && !r->too_many) ? -1 : 0;
}

/* True when the results of every entry fit the response's cap. */
static bool
results_fit(struct ctx *c, const struct reading *r)
{
	size_t cap = c->resp->body.b_max, need = 128;

	for (size_t i = 0; i < r->n; i++)
		need += bulk_entry_bound(r->e[i].ok ? &r->e[i].op : NULL);
	return cap == 0 || need <= cap;
}

/* One operation's transaction, as store_run_ex calls it. */
struct attempt {
	struct ctx *c;
	struct arena *scratch;   /* what the domain allocates, reset after each */
	const struct bulk_op *op;
	struct bulk_done done;
	struct bulk_fail fail;
	enum dom_rc rc;
};

static enum store_rc
apply_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct attempt *a = arg;
	struct dom d;

	handler_dom(a->c, &d);
	d.txn = t;
	d.arena = a->scratch;
	a->rc = bulk_apply(&d, a->op, &a->done, &a->fail);
	*commit = a->rc == DOM_OK;
	return dom_fault(a->rc) ? dom_to_store(a->rc) : STORE_OK;
}

/*
 * Applies each entry in order and appends its result to out; *ok counts
 * the successes. The domain's allocations go to scratch, reset after each
 * operation (a result holds nothing of them), so they do not add up over
 * the request. A fault stops it: returned (and logged) for a 5xx.
 */
static enum store_rc
apply_all(struct ctx *c, const struct reading *r, struct arena *scratch, struct buf *out,
    size_t *ok)
{
	const struct config *cfg = c->req->cfg;

	*ok = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct attempt a;
		enum store_rc rc;

		memset(&a, 0, sizeof(a));
		a.c = c;
		a.scratch = scratch;
		a.op = &r->e[i].op;
		mem_reset(scratch);
		if (i > 0)
			buf_addc(out, ',');
		if (!r->e[i].ok) {
			bulk_emit_failure(out, i, &r->e[i].fail);
			continue;
		}
		if (a.op->kind == BULK_END) {
			/* A marker: no transaction, and no count to check here,
			 * since a stream may come in several requests. */
			bulk_emit_success(out, i, a.op, &a.done);
			(*ok)++;
			continue;
		}
		rc = store_run_ex(c->store, true, true, cfg->deadlock_retries, apply_txn, &a);
		if (rc == STORE_RETRY) {
			/* Only this operation gave up; the next may get through. */
			log_warn("bulk: operation %zu gave up after %d deadlocks", i,
			    cfg->deadlock_retries + 1);
			bulk_fail_busy(&a.fail);
			bulk_emit_failure(out, i, &a.fail);
		} else if (rc != STORE_OK) {
			log_err("bulk: operation %zu of %zu failed in the store; %zu applied "
			    "before it", i, r->n, *ok);
			return rc;
		} else if (a.rc == DOM_OK) {
			bulk_emit_success(out, i, a.op, &a.done);
			(*ok)++;
		} else {
			bulk_emit_failure(out, i, &a.fail);
		}
	}
	return STORE_OK;
}

static void
answer(struct ctx *c, size_t n, size_t ok, const struct buf *results)
{
	struct buf *b = &c->resp->body;

	/* With no operation at all nothing failed: success. */
	buf_printf(b, "{\"status\":\"%s\",\"success_count\":%zu,\"results\":[",
	    ok == n ? "success" : ok == 0 ? "failure" : "partial", ok);
	if (results->b_len > 0)
		buf_add(b, results->b_data, results->b_len);
	buf_adds(b, "]}");
}

enum store_rc
handle_bulk(struct ctx *c)
{
	const struct config *cfg = c->req->cfg;
	struct bulk_limits lim = { (size_t)cfg->max_body, cfg->max_json_depth,
		(size_t)cfg->max_name_length };
	struct reading r = { c, &lim, NULL, 0, 0, false, false };
	struct arena *scratch;
	struct buf results;
	size_t ok;
	enum store_rc rc;

	if (!bulk_type(c->req->content_type)) {
		http_error(c->resp, 415, "api_bad_request", "A bulk request (POST /v0) takes "
		    "Content-Type application/orchestrate-export-stream+json (or "
		    "application/json): a stream of JSON objects, one per operation.", NULL);
		return STORE_OK;
	}
	if (read_all(c, &r) == -1) {
		log_err("bulk: out of memory reading %zu operations", r.n);
		return STORE_ERR;
	}
	if (r.too_many) {
		char d[64];

		(void)snprintf(d, sizeof(d), "{\"max_bulk_ops\":%d}", cfg->max_bulk_ops);
		http_error(c->resp, 413, "request_too_large", "The bulk request has more "
		    "operations than the server takes at once (max_bulk_ops); nothing was "
		    "applied. Send them in smaller requests.", d);
		return STORE_OK;
	}
	if (!results_fit(c, &r)) {
		http_error(c->resp, 413, "request_too_large", "The results of this bulk "
		    "request would be larger than the largest response (names too long for "
		    "this many operations); nothing was applied. Send fewer operations.",
		    NULL);
		return STORE_OK;
	}
	if ((scratch = mem_new()) == NULL) {
		log_err("bulk: out of memory");
		return STORE_ERR;
	}
	buf_init(&results, c->resp->body.b_max);
	rc = apply_all(c, &r, scratch, &results, &ok);
	mem_free(scratch);
	/* One flush makes every success durable (the commits did not wait);
	 * durability = none promises nothing past a crash, so it skips it. */
	if (rc == STORE_OK && ok > 0 && cfg->durability != DURABILITY_NONE &&
	    (rc = store_log_flush(c->store)) != STORE_OK)
		log_err("bulk: the log flush after %zu operations failed", ok);
	if (rc == STORE_OK && results.b_failed) {
		log_err("bulk: the results of %zu operations could not be built", r.n);
		rc = STORE_ERR;
	}
	if (rc == STORE_OK)
		answer(c, r.n, ok, &results);
	buf_free(&results);
	return rc;
}
