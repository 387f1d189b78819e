/*
 * handle_events: the HTTP side of events: positions, bounds and bodies from
 * the request to the events domain (events.h), results to responses.
 */
#include "handler.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "events.h"
#include "fields.h"
#include "ids.h"
#include "json.h"
#include "patch.h"
#include "timefmt.h"

#define EV_MAX_LIMIT 100

static void
name_of(const struct ctx *c, struct event_name *n)
{
	n->coll = c->req->path.seg[0].s;
	n->key = c->req->path.seg[1].s;
	n->type = c->req->path.seg[3].s;
}

static void
param_invalid(struct ctx *c, const char *param, const char *info)
{
	struct buf d;

	buf_init(&d, 0);
	buf_adds(&d, "{\"param\":");
	json_emit_string(&d, param, strlen(param));
	buf_adds(&d, ",\"info\":");
	json_emit_string(&d, info, strlen(info));
	buf_addc(&d, '}');
	http_error(c->resp, 400, "event_param_invalid", "A provided event param is invalid.",
	    d.b_failed ? NULL : d.b_data);
	buf_free(&d);
}

static void
event_path(struct buf *b, const struct event_name *n, const struct evpos *p)
{
	handler_item_path(b, n->coll, n->key);
	buf_adds(b, "/events/");
	route_encode_segment(b, n->type, strlen(n->type));
	buf_printf(b, "/%llu/%llu", (unsigned long long)p->ts, (unsigned long long)p->ord);
}

static void
answer_written(struct ctx *c, int status, const struct event_name *n,
    const struct evpos *p, const struct event_record *r)
{
	struct buf loc;

	buf_init(&loc, 0);
	event_path(&loc, n, p);
	c->resp->status = status;
	http_header(c->resp, "ETag", "\"%s\"", r->ref);
	if (loc.b_failed)
		c->resp->headers.b_failed = true;
	else
		http_header(c->resp, "Location", "%s", loc.b_data);
	buf_free(&loc);
}

enum store_rc
handle_event_create(struct ctx *c)
{
	struct event_name n;
	struct event_record r;
	struct evpos p;
	struct dom d;
	const char *val, *ts;
	size_t vlen, tslen = 0;
	int64_t ms = c->req->now_ms;
	int ok;
	enum dom_rc rc;

	if (c->req->path.nseg == 5) {
		ts = c->req->path.seg[4].s;
		tslen = c->req->path.seg[4].len;
	} else {
		/* The legacy PUT takes it here; POST accepts it too. */
		ts = query_get(&c->req->query, "timestamp", &tslen);
	}
	if (ts != NULL && timefmt_parse(ts, tslen, &ms) == -1) {
		param_invalid(c, "timestamp", "Not a timestamp in a supported format, or out of range.");
		return STORE_OK;
	}
	if ((ok = handler_body(c, &val, &vlen)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	name_of(c, &n);
	handler_dom(c, &d);
	rc = event_create(&d, &n, ms, val, vlen, &p, &r);
	if (rc != DOM_OK)
		return handler_fail(c, rc, n.coll, n.key, NULL);
	answer_written(c, c->req->method == M_PUT ? 204 : 201, &n, &p, &r);
	return STORE_OK;
}

/* Parses the timestamp and ordinal of a single-event path; answers 400. */
static int
single_pos(struct ctx *c, struct evpos *p)
{
	const struct seg *ts = &c->req->path.seg[4], *ord = &c->req->path.seg[5];
	int64_t ms;

	if (timefmt_parse(ts->s, ts->len, &ms) == -1) {
		param_invalid(c, "timestamp", "Not a timestamp in a supported format, or out of range.");
		return -1;
	}
	if (evpos_parse_ordinal(ord->s, ord->len, &p->ord) == -1) {
		param_invalid(c, "ordinal", "An ordinal is a decimal number or 16 hex digits.");
		return -1;
	}
	p->ts = (uint64_t)ms;
	return 0;
}

/* Appends the wrapper of one event: {"path":{...},"value":..,...}. */
static void
emit_event(struct buf *b, const struct event_name *n, const struct evpos *p,
    const struct event_record *r)
{
	char ordhex[17];

	ids_hex64(p->ord, ordhex);
	buf_adds(b, "{\"path\":{\"collection\":");
	json_emit_string(b, n->coll, strlen(n->coll));
	buf_adds(b, ",\"kind\":\"event\",\"key\":");
	json_emit_string(b, n->key, strlen(n->key));
	buf_adds(b, ",\"type\":");
	json_emit_string(b, n->type, strlen(n->type));
	buf_printf(b, ",\"timestamp\":%llu,\"ordinal\":%llu,\"ordinal_str\":\"%s\","
	    "\"ref\":\"%s\",\"reftime\":%lld},\"value\":", (unsigned long long)p->ts,
	    (unsigned long long)p->ord, ordhex, r->ref, (long long)r->reftime);
	buf_add(b, r->value, r->vlen);
	buf_printf(b, ",\"timestamp\":%llu,\"ordinal\":%llu,\"reftime\":%lld}",
	    (unsigned long long)p->ts, (unsigned long long)p->ord, (long long)r->reftime);
}

enum store_rc
handle_event_get(struct ctx *c)
{
	struct fields_filter *f;
	struct event_name n;
	struct event_record r;
	struct evpos p;
	struct dom d;
	int ok;
	enum dom_rc rc;

	if (single_pos(c, &p) == -1)
		return STORE_OK;
	if ((ok = handler_fields(c, &f)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	name_of(c, &n);
	handler_dom(c, &d);
	rc = event_get(&d, &n, &p, &r);
	if (rc == DOM_OK && handler_filter(c, f, r.value, r.vlen, &r.value, &r.vlen) == -1)
		rc = DOM_ERR;
	fields_free(f);
	if (rc != DOM_OK)
		return handler_fail(c, rc, n.coll, n.key, NULL);
	emit_event(&c->resp->body, &n, &p, &r);
	http_header(c->resp, "ETag", "\"%s\"", r.ref);
	return STORE_OK;
}

enum store_rc
handle_event_replace(struct ctx *c)
{
	struct event_name n;
	struct event_record r;
	struct dom_cond im;
	struct evpos p;
	struct dom d;
	const char *val;
	size_t vlen;
	int ok;
	enum dom_rc rc;

	if ((ok = handler_body(c, &val, &vlen)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	if (single_pos(c, &p) == -1 || handler_cond(c, c->req->if_match, false, &im) == -1)
		return STORE_OK;
	name_of(c, &n);
	handler_dom(c, &d);
	rc = event_replace(&d, &n, &p, val, vlen, &im, &r);
	if (rc != DOM_OK)
		return handler_fail(c, rc, n.coll, n.key, NULL);
	answer_written(c, 204, &n, &p, &r);
	return STORE_OK;
}

enum store_rc
handle_event_patch(struct ctx *c)
{
	struct json_object *patch;
	struct patch_error err = { .op_index = -1 };
	struct event_name n;
	struct event_record r;
	struct dom_cond im;
	struct evpos p;
	struct dom d;
	bool merge;
	int ok;
	enum dom_rc rc;
	enum store_rc src = STORE_OK;

	if (single_pos(c, &p) == -1 || handler_cond(c, c->req->if_match, false, &im) == -1)
		return STORE_OK;
	if ((ok = handler_patch_body(c, &patch, &merge)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	name_of(c, &n);
	handler_dom(c, &d);
	rc = event_patch(&d, &n, &p, patch, merge, &im, &r, &err);
	json_release(patch);
	if (rc == DOM_OK)
		answer_written(c, 204, &n, &p, &r);
	else
		src = handler_fail(c, rc, n.coll, n.key, &err);
	patch_error_free(&err);
	return src;
}

enum store_rc
handle_event_delete(struct ctx *c)
{
	struct event_name n;
	struct dom_cond im;
	struct evpos p;
	struct dom d;
	bool purge;
	enum dom_rc rc;

	if (query_bool(&c->req->query, "purge", false, &purge) == -1 || !purge) {
		param_invalid(c, "purge", "Events keep no history: delete them with purge=true.");
		return STORE_OK;
	}
	if (single_pos(c, &p) == -1 || handler_cond(c, c->req->if_match, false, &im) == -1)
		return STORE_OK;
	name_of(c, &n);
	handler_dom(c, &d);
	rc = event_delete(&d, &n, &p, &im);
	if (rc != DOM_OK)
		return handler_fail(c, rc, n.coll, n.key, NULL);
	c->resp->status = 204;
	return STORE_OK;
}

/* --- lists ---------------------------------------------------------------- */

struct bounds {
	struct evrange r;
	const char *lo_name, *lo_value; /* carried into "next" */
};

/* Reads one bound parameter; 1 when present, 0 absent, -1 answered 400. */
static int
read_bound(struct ctx *c, const char *name, bool is_upper, bool excl, struct evpos *p,
    bool *p_excl)
{
	size_t len;
	const char *v = query_get(&c->req->query, name, &len);

	if (v == NULL)
		return 0;
	if (evpos_parse_bound(v, len, is_upper, excl, p) == -1) {
		param_invalid(c, name, "Expected a timestamp or timestamp/ordinal.");
		return -1;
	}
	*p_excl = excl;
	return 1;
}

static const struct { const char *name; bool upper, excl; } bound_params[] = {
	{ "startEvent", false, false }, { "afterEvent", false, true },
	{ "start", false, false }, { "endEvent", true, false },
	{ "beforeEvent", true, true }, { "end", true, true },
};

/*
 * The bound parameter that, in the order of the query string, is the second
 * of its side (a name repeated with the same value counts once); NULL when
 * no side has two.
 */
static const char *
second_bound(const struct query *q)
{
	int seen[2] = { 0, 0 };

	for (size_t i = 0; i < q->n; i++) {
		const char *name = q->p[i].name;
		size_t j, k;

		for (j = 0; j < sizeof(bound_params) / sizeof(bound_params[0]); j++)
			if (strcmp(name, bound_params[j].name) == 0)
				break;
		if (j == sizeof(bound_params) / sizeof(bound_params[0]))
			continue;
		for (k = 0; k < i; k++)
			if (strcmp(q->p[k].name, name) == 0)
				break;
		if (k == i && ++seen[bound_params[j].upper] == 2)
			return name;
	}
	return NULL;
}

/* Fills the bounds from the query (and the path for .../TYPE/TS). */
static int
list_bounds(struct ctx *c, struct bounds *b)
{
	const size_t nparams = sizeof(bound_params) / sizeof(bound_params[0]);
	int nlo = 0, nhi = 0;

	memset(b, 0, sizeof(*b));
	evrange_all(&b->r);
	for (size_t i = 0; i < nparams; i++) {
		bool upper = bound_params[i].upper;
		struct evpos *p = upper ? &b->r.hi : &b->r.lo;
		bool *excl = upper ? &b->r.hi_excl : &b->r.lo_excl;
		int r = read_bound(c, bound_params[i].name, upper, bound_params[i].excl, p, excl);

		if (r == -1)
			return -1;
		if (r == 1 && !upper) {
			nlo++;
			b->lo_name = bound_params[i].name;
			b->lo_value = query_get(&c->req->query, bound_params[i].name, NULL);
		}
		nhi += r == 1 && upper;
	}
	if (nlo > 1 || nhi > 1) {
		/* Named as the client sent them: the second one is refused. */
		param_invalid(c, second_bound(&c->req->query),
		    "Send at most one lower bound (startEvent, afterEvent, start) and one "
		    "upper bound (endEvent, beforeEvent, end).");
		return -1;
	}
	if (c->req->path.nseg == 5) {
		/* GET .../events/TYPE/TS: exactly that millisecond. */
		const struct seg *ts = &c->req->path.seg[4];
		int64_t ms;

		if (timefmt_parse(ts->s, ts->len, &ms) == -1) {
			param_invalid(c, "timestamp",
			    "Not a timestamp in a supported format, or out of range.");
			return -1;
		}
		evrange_narrow_ms(&b->r, (uint64_t)ms);
	}
	return 0;
}

static void
list_next(struct ctx *c, const struct event_name *n, int64_t limit,
    const struct bounds *b, const struct evpos *last)
{
	struct buf l;

	buf_init(&l, 0);
	handler_item_path(&l, n->coll, n->key);
	buf_adds(&l, "/events/");
	route_encode_segment(&l, n->type, strlen(n->type));
	if (c->req->path.nseg == 5) {
		buf_addc(&l, '/');
		route_encode_segment(&l, c->req->path.seg[4].s, c->req->path.seg[4].len);
	}
	buf_printf(&l, "?limit=%lld", (long long)limit);
	if (b->lo_name != NULL) {
		buf_printf(&l, "&%s=", b->lo_name);
		route_encode_query(&l, b->lo_value, strlen(b->lo_value));
	}
	buf_printf(&l, "&beforeEvent=%llu/%llu", (unsigned long long)last->ts,
	    (unsigned long long)last->ord);
	handler_fields_query(c, &l);
	if (l.b_failed) {
		c->resp->body.b_failed = true;
	} else {
		buf_adds(&c->resp->body, ",\"next\":");
		json_emit_string(&c->resp->body, l.b_data, l.b_len);
		http_header(c->resp, "Link", "<%s>; rel=\"next\"", l.b_data);
	}
	buf_free(&l);
}

struct ev_emit {
	struct ctx *c;
	const struct event_name *n;
	int64_t count;
	const struct fields_filter *f;
};

static enum dom_visit
visit_event(void *arg, const struct evpos *p, const struct event_record *r)
{
	struct ev_emit *e = arg;
	struct buf *b = &e->c->resp->body;
	const struct event_name *n = e->n;
	struct event_record fr = *r;

	if (handler_filter(e->c, e->f, r->value, r->vlen, &fr.value, &fr.vlen) == -1)
		return DOM_VISIT_FAIL;
	if (!handler_room(e->c, fr.vlen + strlen(n->coll) + strlen(n->key) +
	    strlen(n->type) + 256, e->count))
		return DOM_VISIT_STOP;
	if (e->count++ > 0)
		buf_addc(b, ',');
	emit_event(b, n, p, &fr);
	return b->b_failed ? DOM_VISIT_FAIL : DOM_VISIT_NEXT;
}

enum store_rc
handle_event_list(struct ctx *c)
{
	struct event_name n;
	struct ev_emit e = { c, &n, 0, NULL };
	struct evpos last = { 0, 0 };
	struct fields_filter *f;
	struct bounds b;
	struct dom d;
	int64_t limit;
	bool more;
	int ok;
	enum dom_rc rc;

	if (query_int(&c->req->query, "limit", 1, EV_MAX_LIMIT, 10, &limit) == -1) {
		param_invalid(c, "limit", "limit must be an integer from 1 to 100.");
		return STORE_OK;
	}
	if (list_bounds(c, &b) == -1)
		return STORE_OK;
	if ((ok = handler_fields(c, &f)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	e.f = f;
	name_of(c, &n);
	handler_dom(c, &d);
	buf_adds(&c->resp->body, "{\"results\":[");
	rc = event_list(&d, &n, &b.r, limit, visit_event, &e, &more, &last);
	fields_free(f);
	if (rc != DOM_OK)
		return handler_fail(c, rc, n.coll, n.key, NULL);
	buf_printf(&c->resp->body, "],\"count\":%lld", (long long)e.count);
	if (more && e.count > 0)
		list_next(c, &n, limit, &b, &last);
	buf_addc(&c->resp->body, '}');
	return STORE_OK;
}
