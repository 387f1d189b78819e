/*
 * handle_items: the HTTP side of items, refs and collections. Each handler
 * reads its inputs from the request, calls the items domain (items.h) and
 * turns the result into a response.
 */
#include "handler.h"

#include <stdio.h>
#include <string.h>

#include "collections.h"
#include "config.h"
#include "fields.h"
#include "items.h"
#include "json.h"
#include "mem.h"
#include "patch.h"
#include "timefmt.h"

static const char *
coll_of(const struct ctx *c)
{
	return c->req->path.seg[0].s;
}

static const char *
key_of(const struct ctx *c)
{
	return c->req->path.seg[1].s;
}

/* ETag and Location (or Content-Location) of a version. */
static void
version_headers(struct ctx *c, const char *coll, const char *key,
    const struct item_version *v, const char *location_header)
{
	struct buf loc;

	buf_init(&loc, 0);
	handler_item_path(&loc, coll, key);
	buf_printf(&loc, "/refs/%s", v->ref);
	http_header(c->resp, "ETag", "\"%s\"", v->ref);
	if (loc.b_failed)
		c->resp->headers.b_failed = true;
	else
		http_header(c->resp, location_header, "%s", loc.b_data);
	buf_free(&loc);
}

static void
answer_written(struct ctx *c, const char *coll, const char *key,
    const struct item_version *v)
{
	c->resp->status = 201;
	version_headers(c, coll, key, v, "Location");
}

enum store_rc
handle_item_get(struct ctx *c)
{
	char date[TIMEFMT_HTTP_DATE_SIZE];
	struct fields_filter *f;
	struct item_version v;
	struct dom d;
	int ok;
	enum dom_rc rc;

	if ((ok = handler_fields(c, &f)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	handler_dom(c, &d);
	rc = item_get(&d, coll_of(c), key_of(c), &v);
	if (rc == DOM_OK && handler_filter(c, f, v.value, v.vlen, &v.value, &v.vlen) == -1)
		rc = DOM_ERR;
	fields_free(f);
	if (rc != DOM_OK)
		return handler_fail(c, rc, coll_of(c), key_of(c), NULL);
	buf_add(&c->resp->body, v.value, v.vlen);
	version_headers(c, coll_of(c), key_of(c), &v, "Content-Location");
	if (timefmt_http_date(v.reftime, date, sizeof(date)) == 0)
		http_header(c->resp, "Last-Modified", "%s", date);
	return STORE_OK;
}

enum store_rc
handle_item_put(struct ctx *c)
{
	struct dom_cond im, inm;
	struct item_version v;
	struct dom d;
	const char *val;
	size_t vlen;
	int ok;
	enum dom_rc rc;

	if (handler_cond(c, c->req->if_match, false, &im) == -1 ||
	    handler_cond(c, c->req->if_none_match, true, &inm) == -1)
		return STORE_OK;
	if ((ok = handler_body(c, &val, &vlen)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	handler_dom(c, &d);
	rc = item_put(&d, coll_of(c), key_of(c), val, vlen, &im, &inm, &v);
	if (rc != DOM_OK)
		return handler_fail(c, rc, coll_of(c), key_of(c), NULL);
	answer_written(c, coll_of(c), key_of(c), &v);
	return STORE_OK;
}

enum store_rc
handle_item_post(struct ctx *c)
{
	struct item_version v;
	struct dom d;
	const char *val;
	size_t vlen;
	char key[17];
	int ok;
	enum dom_rc rc;

	if ((ok = handler_body(c, &val, &vlen)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	handler_dom(c, &d);
	rc = item_create(&d, coll_of(c), val, vlen, key, &v);
	if (rc != DOM_OK)
		return handler_fail(c, rc, coll_of(c), NULL, NULL);
	answer_written(c, coll_of(c), key, &v);
	return STORE_OK;
}

enum store_rc
handle_item_delete(struct ctx *c)
{
	struct dom_cond im;
	struct dom d;
	bool purge;
	enum dom_rc rc;

	if (handler_bool(c, "purge", false, &purge) == -1 ||
	    handler_cond(c, c->req->if_match, false, &im) == -1)
		return STORE_OK;
	handler_dom(c, &d);
	rc = item_delete(&d, coll_of(c), key_of(c), &im, purge);
	if (rc != DOM_OK)
		return handler_fail(c, rc, coll_of(c), key_of(c), NULL);
	c->resp->status = 204;
	return STORE_OK;
}

enum store_rc
handle_item_patch(struct ctx *c)
{
	struct json_object *patch;
	struct patch_error err = { .op_index = -1 };
	struct item_version v;
	struct dom_cond im;
	struct dom d;
	bool merge, upsert;
	int ok;
	enum dom_rc rc;
	enum store_rc src;

	if (handler_bool(c, "upsert", false, &upsert) == -1 ||
	    handler_cond(c, c->req->if_match, false, &im) == -1)
		return STORE_OK;
	if ((ok = handler_patch_body(c, &patch, &merge)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	handler_dom(c, &d);
	rc = item_patch(&d, coll_of(c), key_of(c), patch, merge, upsert, &im, &v, &err);
	json_release(patch);
	src = STORE_OK;
	if (rc == DOM_OK)
		answer_written(c, coll_of(c), key_of(c), &v);
	else
		src = handler_fail(c, rc, coll_of(c), key_of(c), &err);
	patch_error_free(&err);
	return src;
}

/* ---- lists ---- */

/* What a list visitor needs. */
struct emit {
	struct ctx *c;
	const char *coll;
	bool values;
	int64_t count;
	bool keep_last;        /* collection lists: keep a copy of the last key */
	const char *last;
	size_t lastlen;
	const struct fields_filter *f; /* with_fields / without_fields, or NULL */
};

/* Appends one history or listing entry: {"path":{...},"reftime":..,"value":..}. */
static enum dom_visit
emit_entry(void *arg, const char *key, size_t keylen, const struct item_version *v)
{
	struct emit *e = arg;
	struct buf *b = &e->c->resp->body;
	const char *value = v->value;
	size_t vlen = v->vlen;

	if (e->values && !v->tombstone &&
	    handler_filter(e->c, e->f, v->value, v->vlen, &value, &vlen) == -1)
		return DOM_VISIT_FAIL;
	if (!handler_room(e->c, vlen + keylen + 256, e->count))
		return DOM_VISIT_STOP;
	if (e->count++ > 0)
		buf_addc(b, ',');
	buf_adds(b, "{\"path\":{\"collection\":");
	json_emit_string(b, e->coll, strlen(e->coll));
	buf_adds(b, ",\"kind\":\"item\",\"key\":");
	json_emit_string(b, key, keylen);
	buf_printf(b, ",\"ref\":\"%s\",\"reftime\":%lld%s},\"reftime\":%lld", v->ref,
	    (long long)v->reftime, v->tombstone ? ",\"tombstone\":true" : "",
	    (long long)v->reftime);
	if (e->values && !v->tombstone) {
		buf_adds(b, ",\"value\":");
		buf_add(b, value, vlen);
	}
	buf_addc(b, '}');
	if (e->keep_last) {
		/* The key lives in the cursor's memory only until its next move. */
		if ((e->last = mem_strndup(e->c->req->arena, key, keylen)) == NULL)
			return DOM_VISIT_FAIL;
		e->lastlen = keylen;
	}
	return b->b_failed ? DOM_VISIT_FAIL : DOM_VISIT_NEXT;
}

/* Adds "next"/"prev" to the body and Link headers for an offset-paged list. */
static void
page_links(struct ctx *c, const char *base, int64_t offset, int64_t limit,
    int64_t count, bool more, const char *extra)
{
	struct buf link;

	buf_init(&link, 0);
	if (more) {
		buf_printf(&link, "%s?offset=%lld&limit=%lld%s", base,
		    (long long)(offset + count), (long long)limit, extra);
		buf_adds(&c->resp->body, ",\"next\":");
		json_emit_string(&c->resp->body, link.b_data, link.b_len);
		http_header(c->resp, "Link", "<%s>; rel=\"next\"", link.b_data);
	}
	if (offset > 0) {
		buf_reset(&link);
		buf_printf(&link, "%s?offset=%lld&limit=%lld%s", base,
		    (long long)(offset > limit ? offset - limit : 0), (long long)limit, extra);
		buf_adds(&c->resp->body, ",\"prev\":");
		json_emit_string(&c->resp->body, link.b_data, link.b_len);
		http_header(c->resp, "Link", "<%s>; rel=\"prev\"", link.b_data);
	}
	if (link.b_failed)
		c->resp->body.b_failed = true;
	buf_free(&link);
}

enum store_rc
handle_item_refs(struct ctx *c)
{
	struct emit e = { c, coll_of(c), false, 0, false, NULL, 0, NULL };
	struct fields_filter *f;
	struct buf base, extra;
	struct dom d;
	int64_t limit, offset;
	bool more;
	int ok;
	enum dom_rc rc;

	if (handler_limit_offset(c, &limit, &offset) == -1 ||
	    handler_bool(c, "values", false, &e.values) == -1)
		return STORE_OK;
	if ((ok = handler_fields(c, &f)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	e.f = f;
	handler_dom(c, &d);
	buf_adds(&c->resp->body, "{\"results\":[");
	rc = item_history(&d, coll_of(c), key_of(c), offset, limit, emit_entry, &e, &more);
	fields_free(f);
	if (rc != DOM_OK)
		return handler_fail(c, rc, coll_of(c), key_of(c), NULL);
	buf_printf(&c->resp->body, "],\"count\":%lld", (long long)e.count);
	buf_init(&base, 0);
	handler_item_path(&base, coll_of(c), key_of(c));
	buf_adds(&base, "/refs");
	buf_init(&extra, 0);
	if (e.values)
		buf_adds(&extra, "&values=true");
	handler_fields_query(c, &extra);
	if (base.b_failed || extra.b_failed)
		c->resp->body.b_failed = true;
	else
		page_links(c, base.b_data, offset, limit, e.count, more,
		    extra.b_data ? extra.b_data : "");
	buf_free(&extra);
	buf_free(&base);
	buf_addc(&c->resp->body, '}');
	return STORE_OK;
}

enum store_rc
handle_item_ref(struct ctx *c)
{
	const struct seg *ref = &c->req->path.seg[3];
	struct fields_filter *f;
	struct item_version v;
	struct dom d;
	int ok;
	enum dom_rc rc;

	if ((ok = handler_fields(c, &f)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	handler_dom(c, &d);
	rc = item_get_ref(&d, coll_of(c), key_of(c), ref->s, ref->len, &v);
	if (rc == DOM_OK && handler_filter(c, f, v.value, v.vlen, &v.value, &v.vlen) == -1)
		rc = DOM_ERR;
	fields_free(f);
	if (rc == DOM_INVALID) {
		http_error(c->resp, 400, "item_ref_malformed",
		    "The provided Item Ref is malformed.", NULL);
		return STORE_OK;
	}
	if (rc != DOM_OK)
		return handler_fail(c, rc, coll_of(c), key_of(c), NULL);
	buf_add(&c->resp->body, v.value, v.vlen);
	version_headers(c, coll_of(c), key_of(c), &v, "Content-Location");
	return STORE_OK;
}

/* Reads the key bounds of a collection listing; answers 400 itself. */
static int
list_bounds(struct ctx *c, struct key_range *r)
{
	const struct query *q = &c->req->query;
	const char *sk = query_get(q, "startKey", NULL), *ak = query_get(q, "afterKey", NULL);
	const char *ek = query_get(q, "endKey", NULL), *bk = query_get(q, "beforeKey", NULL);

	if ((sk && ak) || (ek && bk)) {
		http_error(c->resp, 400, "search_param_invalid",
		    "A provided search query param is invalid.",
		    "{\"info\":\"Send at most one of startKey/afterKey and one of endKey/beforeKey.\"}");
		return -1;
	}
	r->start = sk ? sk : ak;
	r->start_incl = sk != NULL;
	r->end = ek ? ek : bk;
	r->end_incl = ek != NULL;
	return 0;
}

/* The next page: after the last key listed, or from the first key not
 * examined when the page ran out of its scan budget (stop). */
static void
list_next_link(struct ctx *c, const struct emit *e, int64_t limit,
    const struct key_range *r, const struct scan_stop *stop)
{
	struct buf l;

	buf_init(&l, 0);
	buf_adds(&l, "/v0/");
	route_encode_segment(&l, e->coll, strlen(e->coll));
	buf_printf(&l, "?limit=%lld&%s=", (long long)limit,
	    stop->key != NULL ? "startKey" : "afterKey");
	if (stop->key != NULL)
		route_encode_query(&l, stop->key, stop->keylen);
	else
		route_encode_query(&l, e->last, e->lastlen);
	if (r->end != NULL) {
		buf_adds(&l, r->end_incl ? "&endKey=" : "&beforeKey=");
		route_encode_query(&l, r->end, strlen(r->end));
	}
	if (!e->values)
		buf_adds(&l, "&values=false");
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

enum store_rc
handle_collection_list(struct ctx *c)
{
	struct emit e = { c, coll_of(c), true, 0, true, NULL, 0, NULL };
	struct fields_filter *f;
	struct scan_stop stop;
	struct key_range r;
	struct dom d;
	int64_t limit;
	bool more;
	int ok;
	enum dom_rc rc;

	if ((ok = handler_export_wanted(c)) != 0)
		return ok == 1 ? handle_export(c, coll_of(c)) : STORE_OK;
	if (handler_limit_offset(c, &limit, NULL) == -1 || list_bounds(c, &r) == -1 ||
	    handler_bool(c, "values", true, &e.values) == -1)
		return STORE_OK;
	if ((ok = handler_fields(c, &f)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	e.f = f;
	handler_dom(c, &d);
	buf_adds(&c->resp->body, "{\"results\":[");
	rc = item_list(&d, coll_of(c), &r, limit, c->req->cfg->list_scan_budget, emit_entry,
	    &e, &more, &stop);
	fields_free(f);
	if (rc != DOM_OK)
		return handler_fail(c, rc, coll_of(c), NULL, NULL);
	buf_printf(&c->resp->body, "],\"count\":%lld", (long long)e.count);
	if (more && (e.count > 0 || stop.key != NULL))
		list_next_link(c, &e, limit, &r, &stop);
	buf_addc(&c->resp->body, '}');
	return STORE_OK;
}

enum store_rc
handle_collection_delete(struct ctx *c)
{
	struct dom d;
	bool force, existed;
	enum dom_rc rc;

	if (handler_bool(c, "force", false, &force) == -1)
		return STORE_OK;
	if (!force) {
		http_error_bad_request(c->resp, "Deleting a collection removes every item, "
		    "version, ref and event in it: send force=true to confirm.");
		return STORE_OK;
	}
	handler_dom(c, &d);
	rc = coll_drop(&d, coll_of(c), &existed);
	if (rc != DOM_OK)
		return handler_fail(c, rc, coll_of(c), NULL, NULL);
	c->resp->status = 204;
	return STORE_OK;
}

static enum dom_visit
emit_collection(void *arg, const char *name, size_t len, int64_t items)
{
	struct emit *e = arg;
	struct buf *b = &e->c->resp->body;

	buf_adds(b, e->count++ > 0 ? ",{\"collection\":" : "{\"collection\":");
	json_emit_string(b, name, len);
	buf_printf(b, ",\"items\":%lld}", (long long)items);
	return b->b_failed ? DOM_VISIT_FAIL : DOM_VISIT_NEXT;
}

enum store_rc
handle_collections(struct ctx *c)
{
	struct emit e = { c, NULL, false, 0, false, NULL, 0, NULL };
	struct dom d;
	int ok;
	enum dom_rc rc;

	if ((ok = handler_export_wanted(c)) != 0)
		return ok == 1 ? handle_export(c, NULL) : STORE_OK;
	handler_dom(c, &d);
	buf_adds(&c->resp->body, "{\"results\":[");
	rc = collections_list(&d, emit_collection, &e);
	if (rc != DOM_OK)
		return handler_fail(c, rc, NULL, NULL, NULL);
	buf_printf(&c->resp->body, "],\"count\":%lld}", (long long)e.count);
	return STORE_OK;
}

enum store_rc
handle_ping(struct ctx *c)
{
	/* HEAD /v0 is the clients' ping: authenticated, empty. */
	(void)c;
	return STORE_OK;
}
