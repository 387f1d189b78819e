/*
 * events: time-ordered JSON records attached to an item, by type.
 *
 * Layout (docs/storage.md), with I = the item key T|c|0|k:
 *   events: I|0|type|0|timestamp(be64)|ordinal(be64) -> record
 *   evseq:  I -> the last ordinal given out for this item (be64)
 * A record is: format(1) flags(1) reftime(8) ref(8) value(...).
 * Ordinals are ((now - 2014) << 24 | n), strictly increasing per item: a new
 * one is max(time id, last + 1), under the evseq record's write lock. Lists
 * walk the B-tree backwards from the upper bound: O(log n + page).
 */
#include "handler.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "evpos.h"
#include "ids.h"
#include "json.h"
#include "mem.h"
#include "patch.h"
#include "timefmt.h"
#include "util.h"

#define EV_FORMAT 1
#define EV_HDR 18
#define EV_MAX_LIMIT 100

struct ev_rec {
	int64_t reftime;
	unsigned char refbin[IDS_REF_BYTES];
	char ref[IDS_REF_LEN + 1];
	const char *value;
	size_t vlen;
};

struct evkey {
	unsigned char *b;   /* I|0|type|0 followed by 16 bytes of position */
	size_t plen;        /* length of the prefix before the position */
};

static const char *
coll_of(struct ctx *c)
{
	return c->req->path.seg[0].s;
}

static const char *
key_of(struct ctx *c)
{
	return c->req->path.seg[1].s;
}

static const char *
type_of(struct ctx *c)
{
	return c->req->path.seg[3].s;
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

static int
build_key(struct ctx *c, struct evkey *k)
{
	const char *type = type_of(c);
	size_t tl = strlen(type), il;
	unsigned char *b = items_key(c, coll_of(c), key_of(c), 1 + tl + 1 + 16, &il);

	if (b == NULL)
		return -1;
	b[il] = 0;
	memcpy(b + il + 1, type, tl);
	b[il + 1 + tl] = 0;
	k->b = b;
	k->plen = il + 1 + tl + 1;
	return 0;
}

static void
set_pos(struct evkey *k, const struct evpos *p)
{
	util_put_be64(k->b + k->plen, p->ts);
	util_put_be64(k->b + k->plen + 8, p->ord);
}

static int
rec_decode(const void *v, size_t vl, struct ev_rec *r)
{
	const unsigned char *b = v;

	if (vl < EV_HDR || b[0] != EV_FORMAT)
		return -1;
	r->reftime = (int64_t)util_get_be64(b + 2);
	memcpy(r->refbin, b + 10, IDS_REF_BYTES);
	util_hex(r->refbin, IDS_REF_BYTES, r->ref);
	r->value = (const char *)b + EV_HDR;
	r->vlen = vl - EV_HDR;
	return 0;
}

static enum store_rc
put_event(struct ctx *c, const struct evkey *k, const char *val, size_t vlen,
    struct ev_rec *r)
{
	unsigned char *b = mem_alloc(c->req->arena, EV_HDR + vlen);

	if (b == NULL)
		return STORE_ERR;
	r->reftime = timefmt_now_ms(); /* when written, not when received */
	ids_ref(val, vlen, r->ref, r->refbin);
	b[0] = EV_FORMAT;
	b[1] = 0;
	util_put_be64(b + 2, (uint64_t)r->reftime);
	memcpy(b + 10, r->refbin, IDS_REF_BYTES);
	memcpy(b + EV_HDR, val, vlen);
	return store_put(c->txn, STORE_DB_EVENTS, k->b, k->plen + 16, b, EV_HDR + vlen);
}

/* The next ordinal of this item, strictly above every earlier one. */
static enum store_rc
next_ordinal(struct ctx *c, uint64_t *ord)
{
	unsigned char *ik, seq[8];
	size_t il, vl;
	void *v;
	uint64_t o = ids_time_id(c->req->now_ms, 0);
	enum store_rc rc;

	ik = items_key(c, coll_of(c), key_of(c), 0, &il);
	if (ik == NULL)
		return STORE_ERR;
	rc = store_get(c->txn, STORE_DB_EVSEQ, ik, il, true, c->req->arena, &v, &vl);
	if (rc == STORE_OK && vl == 8 && util_get_be64(v) >= o)
		o = util_get_be64(v) + 1;
	else if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	util_put_be64(seq, o);
	*ord = o;
	return store_put(c->txn, STORE_DB_EVSEQ, ik, il, seq, 8);
}

static void
event_path(struct buf *b, struct ctx *c, const struct evpos *p)
{
	handler_item_path(b, coll_of(c), key_of(c));
	buf_adds(b, "/events/");
	route_encode_segment(b, type_of(c), strlen(type_of(c)));
	buf_printf(b, "/%llu/%llu", (unsigned long long)p->ts, (unsigned long long)p->ord);
}

static void
answer_event_written(struct ctx *c, int status, const struct evpos *p,
    const struct ev_rec *r)
{
	struct buf loc;

	buf_init(&loc, 0);
	event_path(&loc, c, p);
	c->resp->status = status;
	http_header(c->resp, "ETag", "\"%s\"", r->ref);
	if (!loc.b_failed)
		http_header(c->resp, "Location", "%s", loc.b_data);
	buf_free(&loc);
}

/* The canonical body of a create or replace; answers 400 itself. */
static enum store_rc
event_body(struct ctx *c, struct json_object **obj, const char **val, size_t *vlen,
    int *ok)
{
	enum store_rc rc = items_parse_body(c, obj, ok);

	if (rc != STORE_OK || !*ok)
		return rc;
	*val = json_canonical(*obj, vlen);
	return *val ? STORE_OK : STORE_ERR;
}

enum store_rc
events_create(struct ctx *c)
{
	struct json_object *obj = NULL;
	struct evkey k;
	struct evpos p;
	struct ev_rec r;
	const char *val = NULL, *ts = NULL;
	size_t vlen = 0, tslen = 0;
	int64_t ms = c->req->now_ms;
	int ok;
	enum store_rc rc;

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
	rc = event_body(c, &obj, &val, &vlen, &ok);
	if (rc != STORE_OK || !ok)
		goto out;
	p.ts = (uint64_t)ms;
	if (build_key(c, &k) == -1) {
		rc = STORE_ERR;
		goto out;
	}
	rc = next_ordinal(c, &p.ord);
	if (rc != STORE_OK)
		goto out;
	set_pos(&k, &p);
	rc = put_event(c, &k, val, vlen, &r);
	if (rc == STORE_OK)
		answer_event_written(c, c->req->method == M_PUT ? 204 : 201, &p, &r);
out:
	json_release(obj);
	return rc;
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

/* Reads one event (rmw for writes); STORE_NOTFOUND when absent. */
static enum store_rc
load_event(struct ctx *c, struct evkey *k, const struct evpos *p, bool rmw,
    struct ev_rec *r)
{
	void *v;
	size_t vl;
	enum store_rc rc;

	if (build_key(c, k) == -1)
		return STORE_ERR;
	set_pos(k, p);
	rc = store_get(c->txn, STORE_DB_EVENTS, k->b, k->plen + 16, rmw, c->req->arena,
	    &v, &vl);
	if (rc != STORE_OK)
		return rc;
	return rec_decode(v, vl, r) == 0 ? STORE_OK : STORE_ERR;
}

static void
event_not_found(struct ctx *c)
{
	http_error_not_found(c->resp, coll_of(c), key_of(c));
}

/* Appends the wrapper of one event: {"path":{...},"value":..,...}. */
static void
emit_event(struct buf *b, struct ctx *c, const struct evpos *p, const struct ev_rec *r)
{
	char ordhex[17];

	ids_hex64(p->ord, ordhex);
	buf_adds(b, "{\"path\":{\"collection\":");
	json_emit_string(b, coll_of(c), strlen(coll_of(c)));
	buf_adds(b, ",\"kind\":\"event\",\"key\":");
	json_emit_string(b, key_of(c), strlen(key_of(c)));
	buf_adds(b, ",\"type\":");
	json_emit_string(b, type_of(c), strlen(type_of(c)));
	buf_printf(b, ",\"timestamp\":%llu,\"ordinal\":%llu,\"ordinal_str\":\"%s\","
	    "\"ref\":\"%s\",\"reftime\":%lld},\"value\":", (unsigned long long)p->ts,
	    (unsigned long long)p->ord, ordhex, r->ref, (long long)r->reftime);
	buf_add(b, r->value, r->vlen);
	buf_printf(b, ",\"timestamp\":%llu,\"ordinal\":%llu,\"reftime\":%lld}",
	    (unsigned long long)p->ts, (unsigned long long)p->ord, (long long)r->reftime);
}

enum store_rc
events_get(struct ctx *c)
{
	struct evkey k;
	struct evpos p;
	struct ev_rec r;
	enum store_rc rc;

	if (single_pos(c, &p) == -1)
		return STORE_OK;
	rc = load_event(c, &k, &p, false, &r);
	if (rc == STORE_NOTFOUND) {
		event_not_found(c);
		return STORE_OK;
	}
	if (rc != STORE_OK)
		return rc;
	emit_event(&c->resp->body, c, &p, &r);
	http_header(c->resp, "ETag", "\"%s\"", r.ref);
	return STORE_OK;
}

/* Common start of PUT, PATCH and DELETE on one event: position, If-Match,
 * the current record. Returns 1 to go on, 0 when answered, -1 on store error
 * (*rc set). */
static int
begin_change(struct ctx *c, struct evkey *k, struct evpos *p, struct ev_rec *r,
    bool missing_is_ok, enum store_rc *rc)
{
	struct etag_list im;
	int has_im;

	*rc = STORE_OK;
	if (single_pos(c, p) == -1 ||
	    (has_im = handler_parse_cond(c, c->req->if_match, &im)) == -1)
		return 0;
	*rc = load_event(c, k, p, true, r);
	if (*rc == STORE_NOTFOUND) {
		*rc = STORE_OK;
		if (has_im)
			handler_version_mismatch(c);
		else if (!missing_is_ok)
			event_not_found(c);
		else
			c->resp->status = 204;
		return 0;
	}
	if (*rc != STORE_OK)
		return -1;
	if (has_im && !http_etags_match(&im, r->ref)) {
		handler_version_mismatch(c);
		return 0;
	}
	return 1;
}

enum store_rc
events_update(struct ctx *c)
{
	struct json_object *obj = NULL;
	struct evkey k;
	struct evpos p;
	struct ev_rec r;
	const char *val = NULL;
	size_t vlen = 0;
	int ok;
	enum store_rc rc;

	rc = event_body(c, &obj, &val, &vlen, &ok);
	if (rc == STORE_OK && ok && begin_change(c, &k, &p, &r, false, &rc) == 1) {
		rc = put_event(c, &k, val, vlen, &r);
		if (rc == STORE_OK)
			answer_event_written(c, 204, &p, &r);
	}
	json_release(obj);
	return rc;
}

/* Applies a PATCH body (operations or merge document) to doc. Answers
 * 400/409/413/415 itself and returns 0; 1 when applied; -1 when out of memory. */
static int
apply_patch(struct ctx *c, struct json_object **doc)
{
	const char *ct = c->req->content_type ? c->req->content_type : "";
	struct json_object *body = NULL;
	struct patch_error err;
	struct patch_limits lim;
	const char *why = NULL;
	bool merge;
	enum patch_rc prc;
	enum json_rc jrc;

	memset(&err, 0, sizeof(err));
	jrc = json_parse_patch(c->req->body, c->req->body_len, c->req->cfg->max_json_depth,
	    &body, &why);
	if (jrc == JSON_NOMEM)
		return -1;
	if (jrc != JSON_OK) {
		http_error_bad_request(c->resp, c->req->body_len ? why : "The request body is empty.");
		return 0;
	}
	/* NET sends application/json for both kinds: decide by shape then. */
	merge = strncmp(ct, "application/merge-patch+json", 28) == 0 ||
	    (strncmp(ct, "application/json-patch+json", 27) != 0 &&
	    json_object_is_type(body, json_type_object));
	if (merge != json_object_is_type(body, json_type_object)) {
		json_release(body);
		http_error_bad_request(c->resp, merge
		    ? "A merge patch must be a JSON object."
		    : "A JSON patch must be an array of operations.");
		return 0;
	}
	lim.max_bytes = (size_t)c->req->cfg->max_body;
	lim.max_depth = c->req->cfg->max_json_depth;
	prc = merge ? patch_merge(doc, body, &lim, &err) : patch_apply(doc, body, &lim, &err);
	json_release(body);
	if (prc == PATCH_OK)
		return 1;
	if (prc == PATCH_NOMEM) {
		patch_error_free(&err);
		return -1;
	}
	if (prc == PATCH_CONFLICT)
		http_error(c->resp, 409, "patch_conflict",
		    "The patch could not be applied due to a potentially inconsistent state.",
		    err.details ? json_object_to_json_string_ext(err.details,
		    JSON_C_TO_STRING_PLAIN) : NULL);
	else if (prc == PATCH_TOO_LARGE) /* as a PUT of the result would be */
		http_error(c->resp, 413, "request_too_large", err.info, NULL);
	else
		http_error_bad_request(c->resp, err.info[0] ? err.info : HTTP_MSG_BAD_REQUEST);
	patch_error_free(&err);
	return 0;
}

enum store_rc
events_patch(struct ctx *c)
{
	struct json_object *doc = NULL;
	struct evkey k;
	struct evpos p;
	struct ev_rec r;
	const char *val, *why;
	size_t vlen;
	int applied;
	enum store_rc rc;

	if (begin_change(c, &k, &p, &r, false, &rc) != 1)
		return rc;
	if (json_parse_object(r.value, r.vlen, 100000, &doc, &why) != JSON_OK)
		return STORE_ERR;
	applied = apply_patch(c, &doc);
	rc = applied == -1 ? STORE_ERR : STORE_OK;
	if (applied == 1) {
		val = json_canonical(doc, &vlen);
		if (val != NULL && json_depth(val, vlen) > c->req->cfg->max_json_depth) {
			http_error_bad_request(c->resp, "The patched value would be nested too deeply.");
			json_release(doc);
			return STORE_OK;
		}
		rc = val ? put_event(c, &k, val, vlen, &r) : STORE_ERR;
		if (rc == STORE_OK)
			answer_event_written(c, 204, &p, &r);
	}
	json_release(doc);
	return rc;
}

enum store_rc
events_delete(struct ctx *c)
{
	struct evkey k;
	struct evpos p;
	struct ev_rec r;
	bool purge;
	enum store_rc rc;

	if (query_bool(&c->req->query, "purge", false, &purge) == -1 || !purge) {
		param_invalid(c, "purge", "Events keep no history: delete them with purge=true.");
		return STORE_OK;
	}
	if (begin_change(c, &k, &p, &r, true, &rc) != 1)
		return rc;
	rc = store_del(c->txn, STORE_DB_EVENTS, k.b, k.plen + 16);
	if (rc == STORE_OK)
		c->resp->status = 204;
	return rc;
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

/* Fills the bounds from the query (and the path for .../TYPE/TS). */
static int
list_bounds(struct ctx *c, struct bounds *b)
{
	static const struct { const char *name; bool upper, excl; } params[] = {
		{ "startEvent", false, false }, { "afterEvent", false, true },
		{ "start", false, false }, { "endEvent", true, false },
		{ "beforeEvent", true, true }, { "end", true, true },
	};
	int nlo = 0, nhi = 0;
	const char *second = NULL; /* the bound that conflicts with an earlier one */

	memset(b, 0, sizeof(*b));
	evrange_all(&b->r);
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		struct evpos *p = params[i].upper ? &b->r.hi : &b->r.lo;
		bool *excl = params[i].upper ? &b->r.hi_excl : &b->r.lo_excl;
		int r = read_bound(c, params[i].name, params[i].upper, params[i].excl, p, excl);

		if (r == -1)
			return -1;
		if (r == 1 && ((params[i].upper && nhi == 1) || (!params[i].upper && nlo == 1)))
			second = params[i].name;
		if (r == 1 && !params[i].upper) {
			nlo++;
			b->lo_name = params[i].name;
			b->lo_value = query_get(&c->req->query, params[i].name, NULL);
		}
		nhi += r == 1 && params[i].upper;
	}
	if (nlo > 1 || nhi > 1) {
		param_invalid(c, second,
		    "Send at most one lower bound (startEvent, afterEvent, start) and one "
		    "upper bound (endEvent, beforeEvent, end).");
		return -1;
	}
	return 0;
}

/* Narrows the bounds to the millisecond of GET .../events/TYPE/TS. */
static int
exact_ms_bounds(struct ctx *c, struct bounds *b)
{
	const struct seg *ts = &c->req->path.seg[4];
	int64_t ms;

	if (timefmt_parse(ts->s, ts->len, &ms) == -1) {
		param_invalid(c, "timestamp", "Not a timestamp in a supported format, or out of range.");
		return -1;
	}
	evrange_narrow_ms(&b->r, (uint64_t)ms);
	return 0;
}

static void
list_next(struct ctx *c, int64_t limit, const struct bounds *b, const struct evpos *last)
{
	struct buf l;

	buf_init(&l, 0);
	handler_item_path(&l, coll_of(c), key_of(c));
	buf_adds(&l, "/events/");
	route_encode_segment(&l, type_of(c), strlen(type_of(c)));
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
	if (!l.b_failed) {
		buf_adds(&c->resp->body, ",\"next\":");
		json_emit_string(&c->resp->body, l.b_data, l.b_len);
		http_header(c->resp, "Link", "<%s>; rel=\"next\"", l.b_data);
	}
	buf_free(&l);
}

/* Walks newest first from the upper bound; emits up to limit events. */
static enum store_rc
walk(struct ctx *c, struct evkey *k, const struct bounds *b, int64_t limit,
    int64_t *count, bool *more, struct evpos *last)
{
	struct store_cursor *cur;
	const void *kp, *vp;
	size_t kl, vl;
	enum store_rc rc;

	set_pos(k, &b->r.hi);
	rc = store_cursor_open(c->txn, STORE_DB_EVENTS, &cur);
	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(cur, STORE_SEEK_LE, k->b, k->plen + 16, &kp, &kl, &vp, &vl);
	for (; rc == STORE_OK; rc = store_cursor_get(cur, STORE_PREV, NULL, 0, &kp, &kl, &vp, &vl)) {
		struct evpos p;
		struct ev_rec r;
		int where;

		if (kl != k->plen + 16 || memcmp(kp, k->b, k->plen) != 0)
			break;
		p.ts = util_get_be64((const unsigned char *)kp + k->plen);
		p.ord = util_get_be64((const unsigned char *)kp + k->plen + 8);
		where = evrange_where(&b->r, &p);
		if (where > 0) /* only the exclusive upper bound itself */
			continue;
		if (where < 0)
			break;
		if (*count == limit) {
			*more = true;
			break;
		}
		if (rec_decode(vp, vl, &r) == -1) {
			rc = STORE_ERR;
			break;
		}
		if ((*count)++ > 0)
			buf_addc(&c->resp->body, ',');
		emit_event(&c->resp->body, c, &p, &r);
		*last = p;
	}
	store_cursor_close(cur);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

enum store_rc
events_list(struct ctx *c)
{
	struct bounds b;
	struct evkey k;
	struct evpos last = { 0, 0 };
	int64_t limit, count = 0;
	bool more = false;
	enum store_rc rc;

	if (query_int(&c->req->query, "limit", 1, EV_MAX_LIMIT, 10, &limit) == -1) {
		param_invalid(c, "limit", "limit must be an integer from 1 to 100.");
		return STORE_OK;
	}
	if (list_bounds(c, &b) == -1 ||
	    (c->req->path.nseg == 5 && exact_ms_bounds(c, &b) == -1))
		return STORE_OK;
	if (build_key(c, &k) == -1)
		return STORE_ERR;
	buf_adds(&c->resp->body, "{\"results\":[");
	rc = walk(c, &k, &b, limit, &count, &more, &last);
	if (rc != STORE_OK)
		return rc;
	buf_printf(&c->resp->body, "],\"count\":%lld", (long long)count);
	if (more)
		list_next(c, limit, &b, &last);
	buf_addc(&c->resp->body, '}');
	return STORE_OK;
}
