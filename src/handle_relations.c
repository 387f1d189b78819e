/*
 * handle_relations: the HTTP side of graph relations: one relation
 * (/v0/{c}/{k}/relation/{kind}/{toC}/{toK}: PUT, GET, DELETE) and
 * traversals (/v0/{c}/{k}/relations/{kind}[/{kind}...]). Names, bodies,
 * conditions and paging parameters from the request to the relations
 * domain (relations.h); results to responses.
 */
#include "handler.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fields.h"
#include "json.h"
#include "mem.h"
#include "relations.h"

#define REL_MAX_LIMIT 100
#define GRAPH_INVALID "A provided graph param is invalid."
#define NO_RELATION "The requested graph relationship could not be found."

/* The relation of a /relation/ path. */
static void
name_of(const struct ctx *c, struct rel_name *n)
{
	const struct seg *s = c->req->path.seg;

	n->coll = s[0].s;
	n->key = s[1].s;
	n->kind = s[3].s;
	n->to_coll = s[4].s;
	n->to_key = s[5].s;
}

/* 400 graph_param_invalid; details name the parameter (when param is not
 * NULL) and say what is wrong. */
static void
graph_invalid(struct ctx *c, const char *param, const char *info)
{
	struct buf d;

	buf_init(&d, 0);
	buf_addc(&d, '{');
	if (param != NULL) {
		buf_adds(&d, "\"param\":");
		json_emit_string(&d, param, strlen(param));
		buf_addc(&d, ',');
	}
	buf_adds(&d, "\"info\":");
	json_emit_string(&d, info, strlen(info));
	buf_addc(&d, '}');
	http_error(c->resp, 400, "graph_param_invalid", GRAPH_INVALID,
	    d.b_failed ? NULL : d.b_data);
	buf_free(&d);
}

static void
emit_endpoint(struct buf *b, const char *coll, const char *key)
{
	buf_adds(b, "{\"collection\":");
	json_emit_string(b, coll, strlen(coll));
	buf_adds(b, ",\"key\":");
	json_emit_string(b, key, strlen(key));
	buf_addc(b, '}');
}

/* 404 relation_not_found, naming the relation in details. */
static void
relation_not_found(struct ctx *c, const struct rel_name *n)
{
	struct buf d;

	buf_init(&d, 0);
	buf_adds(&d, "{\"source\":");
	emit_endpoint(&d, n->coll, n->key);
	buf_adds(&d, ",\"relation\":");
	json_emit_string(&d, n->kind, strlen(n->kind));
	buf_adds(&d, ",\"destination\":");
	emit_endpoint(&d, n->to_coll, n->to_key);
	buf_addc(&d, '}');
	http_error(c->resp, 404, "relation_not_found", NO_RELATION,
	    d.b_failed ? NULL : d.b_data);
	buf_free(&d);
}

/* Appends /v0/c/k/relation/kind/toC/toK, each name percent-encoded. */
static void
relation_path(struct buf *b, const struct rel_name *n)
{
	handler_item_path(b, n->coll, n->key);
	buf_adds(b, "/relation/");
	route_encode_segment(b, n->kind, strlen(n->kind));
	buf_addc(b, '/');
	route_encode_segment(b, n->to_coll, strlen(n->to_coll));
	buf_addc(b, '/');
	route_encode_segment(b, n->to_key, strlen(n->to_key));
}

enum store_rc
handle_relation_put(struct ctx *c)
{
	struct dom_cond im, inm;
	struct rel_record r;
	struct rel_name n;
	struct dom d;
	struct buf loc;
	const char *val = NULL;
	size_t vlen = 0;
	bool missing_dst;
	int ok;
	enum dom_rc rc;

	if (handler_cond(c, c->req->if_match, false, &im) == -1 ||
	    handler_cond(c, c->req->if_none_match, true, &inm) == -1)
		return STORE_OK;
	/* No body means no properties ({}); a body must be a JSON object. */
	if (c->req->body_len > 0 && (ok = handler_body(c, &val, &vlen)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	name_of(c, &n);
	handler_dom(c, &d);
	rc = relation_put(&d, &n, val, vlen, &im, &inm, &r, &missing_dst);
	if (rc == DOM_NOT_FOUND && missing_dst)
		return handler_fail(c, rc, n.to_coll, n.to_key, NULL);
	if (rc != DOM_OK)
		return handler_fail(c, rc, n.coll, n.key, NULL);
	c->resp->status = 201;
	http_header(c->resp, "ETag", "\"%s\"", r.ref);
	buf_init(&loc, 0);
	relation_path(&loc, &n);
	if (loc.b_failed)
		c->resp->headers.b_failed = true;
	else
		http_header(c->resp, "Location", "%s", loc.b_data);
	buf_free(&loc);
	return STORE_OK;
}

enum store_rc
handle_relation_get(struct ctx *c)
{
	struct fields_filter *f;
	struct rel_record r;
	struct rel_name n;
	enum rel_missing missing = REL_MISSING_NONE;
	struct dom d;
	int ok;
	enum dom_rc rc;

	if ((ok = handler_fields(c, &f)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	name_of(c, &n);
	handler_dom(c, &d);
	rc = relation_get(&d, &n, &r, &missing);
	if (rc == DOM_OK && handler_filter(c, f, r.value, r.vlen, &r.value, &r.vlen) == -1)
		rc = DOM_ERR;
	fields_free(f);
	if (rc == DOM_NOT_FOUND && missing == REL_MISSING_RELATION) {
		relation_not_found(c, &n);
		return STORE_OK;
	}
	if (rc == DOM_NOT_FOUND && missing == REL_MISSING_DEST)
		return handler_fail(c, rc, n.to_coll, n.to_key, NULL);
	if (rc != DOM_OK)
		return handler_fail(c, rc, n.coll, n.key, NULL);
	buf_add(&c->resp->body, r.value, r.vlen);
	http_header(c->resp, "ETag", "\"%s\"", r.ref);
	return STORE_OK;
}

enum store_rc
handle_relation_delete(struct ctx *c)
{
	struct dom_cond im;
	struct rel_name n;
	struct dom d;
	bool purge;
	enum dom_rc rc;

	/* Relations keep no history: a DELETE removes the relation with or
	 * without purge=true (which clients send); purge is only checked. */
	if (handler_bool(c, "purge", false, &purge) == -1 ||
	    handler_cond(c, c->req->if_match, false, &im) == -1)
		return STORE_OK;
	name_of(c, &n);
	handler_dom(c, &d);
	rc = relation_delete(&d, &n, &im);
	if (rc != DOM_OK)
		return handler_fail(c, rc, n.coll, n.key, NULL);
	c->resp->status = 204;
	return STORE_OK;
}

/* ---- traversal ------------------------------------------------------------- */

struct trav_emit {
	struct ctx *c;
	const struct fields_filter *f;
	int64_t count;
};

/* Appends one item: {"path":{...},"value":..,"reftime":..}. */
static enum dom_visit
emit_item(void *arg, const char *coll, size_t colllen, const char *key, size_t keylen,
    const struct item_version *v)
{
	struct trav_emit *e = arg;
	struct buf *b = &e->c->resp->body;
	const char *value;
	size_t vlen;

	if (handler_filter(e->c, e->f, v->value, v->vlen, &value, &vlen) == -1)
		return DOM_VISIT_FAIL;
	if (!handler_room(e->c, vlen + colllen + keylen + 256, e->count))
		return DOM_VISIT_STOP;
	if (e->count++ > 0)
		buf_addc(b, ',');
	buf_adds(b, "{\"path\":{\"collection\":");
	json_emit_string(b, coll, colllen);
	buf_adds(b, ",\"kind\":\"item\",\"key\":");
	json_emit_string(b, key, keylen);
	buf_printf(b, ",\"ref\":\"%s\",\"reftime\":%lld},\"value\":", v->ref,
	    (long long)v->reftime);
	buf_add(b, value, vlen);
	buf_printf(b, ",\"reftime\":%lld}", (long long)v->reftime);
	return b->b_failed ? DOM_VISIT_FAIL : DOM_VISIT_NEXT;
}

/* Reads limit, offset and after; answers 400 itself and returns -1. */
static int
trav_params(struct ctx *c, struct rel_page *pg, struct rel_pos *after, bool *nomem)
{
	const struct query *q = &c->req->query;
	size_t len;
	const char *tok = query_get(q, "after", &len);

	*nomem = false;
	memset(pg, 0, sizeof(*pg));
	pg->max_hops = c->req->cfg->max_hops;
	pg->max_traversal = c->req->cfg->max_traversal;
	if (query_int(q, "limit", 1, REL_MAX_LIMIT, 10, &pg->limit) == -1) {
		graph_invalid(c, "limit", "limit must be an integer from 1 to 100.");
		return -1;
	}
	if (query_int(q, "offset", 0, INT64_MAX / 2, 0, &pg->offset) == -1) {
		graph_invalid(c, "offset", "offset must be a non-negative integer.");
		return -1;
	}
	if (tok == NULL)
		return 0;
	if (relation_pos_decode(c->req->arena, tok, len, after, nomem) == -1) {
		if (!*nomem)
			graph_invalid(c, "after", "after must be the token of a next link "
			    "(hex digits).");
		return -1;
	}
	pg->after = after;
	return 0;
}

/* The path of this traversal, /v0/c/k/relations/k1/k2..., percent-encoded. */
static void
trav_path(struct ctx *c, struct buf *b)
{
	const struct path *p = &c->req->path;

	handler_item_path(b, p->seg[0].s, p->seg[1].s);
	buf_adds(b, "/relations");
	for (size_t i = 3; i < p->nseg; i++) {
		buf_addc(b, '/');
		route_encode_segment(b, p->seg[i].s, p->seg[i].len);
	}
}

/* One link: "next"/"prev" in the body and a Link header. */
static void
trav_link(struct ctx *c, const char *rel, int64_t offset, int64_t limit,
    const char *after)
{
	struct buf l;

	buf_init(&l, 0);
	trav_path(c, &l);
	buf_printf(&l, "?offset=%lld&limit=%lld", (long long)offset, (long long)limit);
	if (after != NULL)
		buf_printf(&l, "&after=%s", after);
	handler_fields_query(c, &l);
	if (l.b_failed) {
		c->resp->body.b_failed = true;
	} else {
		buf_printf(&c->resp->body, ",\"%s\":", rel);
		json_emit_string(&c->resp->body, l.b_data, l.b_len);
		http_header(c->resp, "Link", "<%s>; rel=\"%s\"", l.b_data, rel);
	}
	buf_free(&l);
}

/*
 * next (when more items remain; for one hop with the position of the last
 * item, so the next page starts with a seek) and prev (when offset > 0).
 */
static void
trav_links(struct ctx *c, const struct rel_page *pg, int64_t count, bool more,
    size_t nkinds, const struct rel_pos *last)
{
	if (more) {
		const char *after = NULL;

		if (nkinds == 1 && count > 0 &&
		    (after = relation_pos_encode(c->req->arena, last)) == NULL) {
			c->resp->body.b_failed = true;
			return;
		}
		trav_link(c, "next", pg->offset + count, pg->limit, after);
	}
	if (pg->offset > 0)
		trav_link(c, "prev", pg->offset > pg->limit ? pg->offset - pg->limit : 0,
		    pg->limit, NULL);
}

enum store_rc
handle_relation_traverse(struct ctx *c)
{
	const struct path *p = &c->req->path;
	const char *kinds[ROUTE_MAX_SEGS];
	size_t nkinds = 0;
	struct trav_emit e = { c, NULL, 0 };
	struct fields_filter *f;
	struct rel_page pg;
	struct rel_pos after, last;
	struct dom d;
	const char *why = NULL;
	bool more, nomem;
	int ok;
	enum dom_rc rc;

	if (trav_params(c, &pg, &after, &nomem) == -1)
		return nomem ? STORE_ERR : STORE_OK;
	for (size_t i = 3; i < p->nseg; i++)
		kinds[nkinds++] = p->seg[i].s;
	if ((ok = handler_fields(c, &f)) != 1)
		return ok == 0 ? STORE_OK : STORE_ERR;
	e.f = f;
	handler_dom(c, &d);
	buf_adds(&c->resp->body, "{\"results\":[");
	rc = relation_traverse(&d, p->seg[0].s, p->seg[1].s, kinds, nkinds, &pg, emit_item,
	    &e, &more, &last, &why);
	fields_free(f);
	if (rc == DOM_INVALID) {
		graph_invalid(c, NULL, why != NULL ? why : GRAPH_INVALID);
		return STORE_OK;
	}
	if (rc != DOM_OK)
		return handler_fail(c, rc, p->seg[0].s, p->seg[1].s, NULL);
	buf_printf(&c->resp->body, "],\"count\":%lld", (long long)e.count);
	trav_links(c, &pg, e.count, more, nkinds, &last);
	buf_addc(&c->resp->body, '}');
	return STORE_OK;
}
