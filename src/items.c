/*
 * items: Key/Value items, their refs and version history.
 *
 * Layout (docs/storage.md): the item key is T|c|0|k (T = tenant, be32).
 *   items:    T|c|0|k           -> record (the current version, value included)
 *   versions: T|c|0|k|0|seq     -> record, seq = 1, 2, ... one per write
 *   refs:     T|c|0|k|0|ref(8)  -> seq of the newest version with that ref
 * A record is: format(1) flags(1) seq(8) reftime(8) ref(8) value(...).
 * Every version keeps its own seq, so the history lists every write, even
 * several in one millisecond.
 */
#include "handler.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ids.h"
#include "json.h"
#include "mem.h"
#include "timefmt.h"
#include "util.h"

#define REC_FORMAT 1
#define REC_HDR 26
#define REC_TOMBSTONE 0x01
#define MAX_LIMIT 100

struct item_rec {
	uint64_t seq;
	int64_t reftime;
	bool tombstone;
	unsigned char refbin[IDS_REF_BYTES];
	char ref[IDS_REF_LEN + 1];
	const char *value;
	size_t vlen;
};

static int
rec_decode(const void *p, size_t len, struct item_rec *r)
{
	const unsigned char *b = p;

	if (len < REC_HDR || b[0] != REC_FORMAT)
		return -1;
	r->tombstone = (b[1] & REC_TOMBSTONE) != 0;
	r->seq = util_get_be64(b + 2);
	r->reftime = (int64_t)util_get_be64(b + 10);
	memcpy(r->refbin, b + 18, IDS_REF_BYTES);
	util_hex(r->refbin, IDS_REF_BYTES, r->ref);
	r->value = (const char *)b + REC_HDR;
	r->vlen = len - REC_HDR;
	return 0;
}

static unsigned char *
rec_encode(struct arena *a, const struct item_rec *r, size_t *len)
{
	unsigned char *b = mem_alloc(a, REC_HDR + r->vlen);

	if (b == NULL)
		return NULL;
	b[0] = REC_FORMAT;
	b[1] = r->tombstone ? REC_TOMBSTONE : 0;
	util_put_be64(b + 2, r->seq);
	util_put_be64(b + 10, (uint64_t)r->reftime);
	memcpy(b + 18, r->refbin, IDS_REF_BYTES);
	if (r->vlen > 0)
		memcpy(b + REC_HDR, r->value, r->vlen);
	*len = REC_HDR + r->vlen;
	return b;
}

unsigned char *
items_key(struct ctx *c, const char *collection, const char *key, size_t extra,
    size_t *len)
{
	size_t cl = strlen(collection), kl = key ? strlen(key) : 0;
	size_t n = 4 + cl + 1 + kl;
	unsigned char *b = mem_alloc(c->req->arena, n + extra);

	if (b == NULL)
		return NULL;
	util_put_be32(b, c->req->tenant);
	memcpy(b + 4, collection, cl);
	b[4 + cl] = 0;
	if (kl > 0)
		memcpy(b + 5 + cl, key, kl);
	*len = n;
	return b;
}

void
handler_item_path(struct buf *b, const char *collection, const char *key)
{
	buf_adds(b, "/v0/");
	route_encode_segment(b, collection, strlen(collection));
	buf_addc(b, '/');
	route_encode_segment(b, key, strlen(key));
}

int
handler_limit_offset(struct ctx *c, int64_t *limit, int64_t *offset)
{
	if (query_int(&c->req->query, "limit", 1, MAX_LIMIT, 10, limit) == -1) {
		http_error(c->resp, 400, "search_param_invalid",
		    "A provided search query param is invalid.",
		    "{\"limit\":\"limit must be an integer from 1 to 100.\"}");
		return -1;
	}
	if (offset != NULL &&
	    query_int(&c->req->query, "offset", 0, INT64_MAX / 2, 0, offset) == -1) {
		http_error(c->resp, 400, "search_param_invalid",
		    "A provided search query param is invalid.",
		    "{\"offset\":\"offset must be a non-negative integer.\"}");
		return -1;
	}
	return 0;
}

enum store_rc
items_parse_body(struct ctx *c, struct json_object **out, int *ok)
{
	const char *why = NULL;
	enum json_rc rc;

	*ok = 0;
	if (c->req->body_len == 0) {
		http_error_bad_request(c->resp, "The request body is empty; send a JSON object.");
		return STORE_OK;
	}
	rc = json_parse_object(c->req->body, c->req->body_len,
	    c->req->cfg->max_json_depth, out, &why);
	if (rc == JSON_NOMEM)
		return STORE_ERR;
	if (rc != JSON_OK) {
		http_error_bad_request(c->resp, why);
		return STORE_OK;
	}
	*ok = 1;
	return STORE_OK;
}

int
handler_parse_cond(struct ctx *c, const char *header, struct etag_list *l)
{
	struct buf d;

	if (header == NULL)
		return 0;
	if (http_parse_etags(header, l) == 0)
		return 1;
	buf_init(&d, 0);
	buf_adds(&d, "{\"ref\":");
	json_emit_string(&d, header, strnlen(header, 200));
	buf_addc(&d, '}');
	http_error(c->resp, 400, "item_ref_malformed", "The provided Item Ref is malformed.",
	    d.b_failed ? NULL : d.b_data);
	buf_free(&d);
	return -1;
}

void
handler_version_mismatch(struct ctx *c)
{
	http_error(c->resp, 412, "item_version_mismatch",
	    "The version of the item does not match.", NULL);
}

/* Reads the head of an item; STORE_NOTFOUND when it never existed or was purged. */
static enum store_rc
read_head(struct ctx *c, const unsigned char *hk, size_t hkl, bool rmw,
    struct item_rec *r)
{
	void *v;
	size_t vl;
	enum store_rc rc = store_get(c->txn, STORE_DB_ITEMS, hk, hkl, rmw,
	    c->req->arena, &v, &vl);

	if (rc != STORE_OK)
		return rc;
	if (rec_decode(v, vl, r) == -1)
		return STORE_ERR;
	return STORE_OK;
}

/* Stores a new version (value or tombstone) as head, history and ref index. */
static enum store_rc
write_version(struct ctx *c, const unsigned char *hk, size_t hkl,
    const struct item_rec *prev, const char *value, size_t vlen, struct item_rec *r)
{
	unsigned char *rec, *vk;
	size_t rl;
	enum store_rc rc;

	memset(r, 0, sizeof(*r));
	r->seq = prev ? prev->seq + 1 : 1;
	/* The time of the write, taken with the item locked (not when the
	 * request arrived: a deadlock retry or a slow body would make history
	 * go back in time), and never before the previous version's. */
	r->reftime = timefmt_now_ms();
	if (prev != NULL && r->reftime < prev->reftime)
		r->reftime = prev->reftime;
	r->tombstone = value == NULL;
	if (value == NULL)
		ids_ref("null", 4, r->ref, r->refbin);
	else
		ids_ref(value, vlen, r->ref, r->refbin);
	r->value = value;
	r->vlen = value ? vlen : 0;
	rec = rec_encode(c->req->arena, r, &rl);
	vk = mem_alloc(c->req->arena, hkl + 1 + 8);
	if (rec == NULL || vk == NULL)
		return STORE_ERR;
	rc = store_put(c->txn, STORE_DB_ITEMS, hk, hkl, rec, rl);
	if (rc != STORE_OK)
		return rc;
	memcpy(vk, hk, hkl);
	vk[hkl] = 0;
	util_put_be64(vk + hkl + 1, r->seq);
	rc = store_put(c->txn, STORE_DB_VERSIONS, vk, hkl + 9, rec, rl);
	if (rc != STORE_OK || r->tombstone)
		return rc;
	memcpy(vk + hkl + 1, r->refbin, IDS_REF_BYTES);
	util_put_be64(rec, r->seq); /* reuse: the value of the index is the seq */
	return store_put(c->txn, STORE_DB_REFS, vk, hkl + 9, rec, 8);
}

static void
answer_written(struct ctx *c, const char *collection, const char *key,
    const struct item_rec *r)
{
	struct buf loc;

	buf_init(&loc, 0);
	handler_item_path(&loc, collection, key);
	buf_printf(&loc, "/refs/%s", r->ref);
	c->resp->status = 201;
	c->resp->allow_commit = true;
	http_header(c->resp, "ETag", "\"%s\"", r->ref);
	http_header(c->resp, "Location", "%s", loc.b_data ? loc.b_data : "");
	buf_free(&loc);
}

enum store_rc
items_get(struct ctx *c)
{
	const char *coll = c->req->path.seg[0].s, *key = c->req->path.seg[1].s;
	char date[TIMEFMT_HTTP_DATE_SIZE];
	struct item_rec r;
	struct buf loc;
	unsigned char *hk;
	size_t hkl;
	enum store_rc rc;

	hk = items_key(c, coll, key, 0, &hkl);
	if (hk == NULL)
		return STORE_ERR;
	rc = read_head(c, hk, hkl, false, &r);
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && r.tombstone)) {
		http_error_not_found(c->resp, coll, key);
		return STORE_OK;
	}
	if (rc != STORE_OK)
		return rc;
	buf_add(&c->resp->body, r.value, r.vlen);
	http_header(c->resp, "ETag", "\"%s\"", r.ref);
	buf_init(&loc, 0);
	handler_item_path(&loc, coll, key);
	buf_printf(&loc, "/refs/%s", r.ref);
	http_header(c->resp, "Content-Location", "%s", loc.b_data ? loc.b_data : "");
	buf_free(&loc);
	if (timefmt_http_date(r.reftime, date, sizeof(date)) == 0)
		http_header(c->resp, "Last-Modified", "%s", date);
	return STORE_OK;
}

/* The body of PUT and POST: parsed, canonical, within limits. */
static enum store_rc
canonical_body(struct ctx *c, struct json_object **obj, const char **val,
    size_t *vlen, int *ok)
{
	enum store_rc rc = items_parse_body(c, obj, ok);

	if (rc != STORE_OK || !*ok)
		return rc;
	*val = json_canonical(*obj, vlen);
	if (*val == NULL) {
		json_release(*obj);
		*obj = NULL;
		*ok = 0;
		return STORE_ERR;
	}
	return STORE_OK;
}

enum store_rc
items_put(struct ctx *c)
{
	const char *coll = c->req->path.seg[0].s, *key = c->req->path.seg[1].s;
	struct etag_list im, inm;
	struct json_object *obj = NULL;
	struct item_rec head, r;
	const char *val = NULL;
	unsigned char *hk;
	size_t hkl, vlen = 0;
	int has_im, has_inm, ok;
	bool live;
	enum store_rc rc;

	if ((has_im = handler_parse_cond(c, c->req->if_match, &im)) == -1 ||
	    (has_inm = handler_parse_cond(c, c->req->if_none_match, &inm)) == -1)
		return STORE_OK;
	rc = canonical_body(c, &obj, &val, &vlen, &ok);
	if (rc != STORE_OK || !ok)
		return rc;
	hk = items_key(c, coll, key, 0, &hkl);
	rc = hk ? read_head(c, hk, hkl, true, &head) : STORE_ERR;
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		goto out;
	if (rc == STORE_NOTFOUND)
		head.seq = 0;
	live = rc == STORE_OK && !head.tombstone;
	rc = STORE_OK;
	if (has_im && (!live || !http_etags_match(&im, head.ref))) {
		handler_version_mismatch(c);
		goto out;
	}
	if (has_inm && live && http_etags_match(&inm, head.ref)) {
		http_error(c->resp, 412, "item_already_present",
		    "The item is already present.", NULL);
		goto out;
	}
	rc = write_version(c, hk, hkl, head.seq ? &head : NULL, val, vlen, &r);
	if (rc == STORE_OK)
		answer_written(c, coll, key, &r);
out:
	json_release(obj);
	return rc;
}

enum store_rc
items_post(struct ctx *c)
{
	const char *coll = c->req->path.seg[0].s;
	struct json_object *obj = NULL;
	struct item_rec head, r;
	const char *val = NULL;
	unsigned char *hk = NULL;
	size_t hkl = 0, vlen = 0;
	char key[17];
	int ok;
	enum store_rc rc;

	rc = canonical_body(c, &obj, &val, &vlen, &ok);
	if (rc != STORE_OK || !ok)
		return rc;
	/* A random low part makes a collision within one millisecond
	 * unlikely; the existence check makes it impossible. */
	for (int attempt = 0; attempt < 8; attempt++) {
		uint32_t rnd;

		if (ids_random(&rnd, sizeof(rnd)) == -1) {
			rc = STORE_ERR;
			goto out;
		}
		ids_hex64(ids_time_id(c->req->now_ms, rnd), key);
		hk = items_key(c, coll, key, 0, &hkl);
		rc = hk ? read_head(c, hk, hkl, true, &head) : STORE_ERR;
		if (rc != STORE_OK)
			break;
	}
	if (rc != STORE_NOTFOUND) {
		if (rc == STORE_OK)
			rc = STORE_ERR;
		goto out;
	}
	rc = write_version(c, hk, hkl, NULL, val, vlen, &r);
	if (rc == STORE_OK)
		answer_written(c, coll, key, &r);
out:
	json_release(obj);
	return rc;
}

/* Removes an item, its history, its ref index and its events. */
static enum store_rc
purge_item(struct ctx *c, const unsigned char *hk, size_t hkl)
{
	static const enum store_db dbs[] = { STORE_DB_VERSIONS, STORE_DB_REFS,
		STORE_DB_EVENTS, STORE_DB_RELATIONS };
	unsigned char *prefix = mem_alloc(c->req->arena, hkl + 1);
	uint64_t n;
	enum store_rc rc;

	if (prefix == NULL)
		return STORE_ERR;
	memcpy(prefix, hk, hkl);
	prefix[hkl] = 0;
	rc = store_del(c->txn, STORE_DB_ITEMS, hk, hkl);
	if (rc == STORE_OK)
		rc = store_del(c->txn, STORE_DB_EVSEQ, hk, hkl);
	for (size_t i = 0; rc == STORE_OK && i < sizeof(dbs) / sizeof(dbs[0]); i++)
		rc = store_delete_prefix(c->txn, dbs[i], prefix, hkl + 1, &n);
	return rc;
}

enum store_rc
items_delete(struct ctx *c)
{
	const char *coll = c->req->path.seg[0].s, *key = c->req->path.seg[1].s;
	struct etag_list im;
	struct item_rec head, r;
	unsigned char *hk;
	size_t hkl;
	int has_im;
	bool purge, live;
	enum store_rc rc;

	if (query_bool(&c->req->query, "purge", false, &purge) == -1) {
		http_error_bad_request(c->resp, "purge must be true or false.");
		return STORE_OK;
	}
	if ((has_im = handler_parse_cond(c, c->req->if_match, &im)) == -1)
		return STORE_OK;
	hk = items_key(c, coll, key, 0, &hkl);
	if (hk == NULL)
		return STORE_ERR;
	rc = read_head(c, hk, hkl, true, &head);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	live = rc == STORE_OK && !head.tombstone;
	if (has_im && (!live || !http_etags_match(&im, head.ref))) {
		handler_version_mismatch(c);
		return STORE_OK;
	}
	c->resp->status = 204;
	c->resp->allow_commit = true;
	if (purge)
		return purge_item(c, hk, hkl);
	if (!live)
		return STORE_OK; /* nothing to delete: nothing is written */
	return write_version(c, hk, hkl, &head, NULL, 0, &r);
}

/* Appends one history or listing entry: {"path":{...},"reftime":..,"value":..}. */
static void
emit_entry(struct buf *b, const char *coll, const char *key, size_t keylen,
    const struct item_rec *r, bool values)
{
	buf_adds(b, "{\"path\":{\"collection\":");
	json_emit_string(b, coll, strlen(coll));
	buf_adds(b, ",\"kind\":\"item\",\"key\":");
	json_emit_string(b, key, keylen);
	buf_printf(b, ",\"ref\":\"%s\",\"reftime\":%lld%s},\"reftime\":%lld", r->ref,
	    (long long)r->reftime, r->tombstone ? ",\"tombstone\":true" : "",
	    (long long)r->reftime);
	if (values && !r->tombstone) {
		buf_adds(b, ",\"value\":");
		buf_add(b, r->value, r->vlen);
	}
	buf_addc(b, '}');
}

/* Adds "next"/"prev" to the body and Link headers for an offset-paged list. */
static void
page_links(struct ctx *c, const char *base, int64_t offset, int64_t limit,
    bool more, const char *extra)
{
	char link[8192];

	if (more) {
		snprintf(link, sizeof(link), "%s?offset=%lld&limit=%lld%s", base,
		    (long long)(offset + limit), (long long)limit, extra);
		buf_adds(&c->resp->body, ",\"next\":");
		json_emit_string(&c->resp->body, link, strlen(link));
		http_header(c->resp, "Link", "<%s>; rel=\"next\"", link);
	}
	if (offset > 0) {
		snprintf(link, sizeof(link), "%s?offset=%lld&limit=%lld%s", base,
		    (long long)(offset > limit ? offset - limit : 0), (long long)limit, extra);
		buf_adds(&c->resp->body, ",\"prev\":");
		json_emit_string(&c->resp->body, link, strlen(link));
		http_header(c->resp, "Link", "<%s>; rel=\"prev\"", link);
	}
}

enum store_rc
items_list_refs(struct ctx *c)
{
	const char *coll = c->req->path.seg[0].s, *key = c->req->path.seg[1].s;
	struct item_rec head, r;
	struct buf base;
	unsigned char *hk, *vk;
	size_t hkl;
	int64_t limit, offset, count = 0;
	bool values;
	enum store_rc rc;
	struct buf *b = &c->resp->body;

	if (handler_limit_offset(c, &limit, &offset) == -1)
		return STORE_OK;
	if (query_bool(&c->req->query, "values", false, &values) == -1) {
		http_error_bad_request(c->resp, "values must be true or false.");
		return STORE_OK;
	}
	hk = items_key(c, coll, key, 9, &hkl);
	if (hk == NULL)
		return STORE_ERR;
	rc = read_head(c, hk, hkl, false, &head);
	if (rc == STORE_NOTFOUND) {
		http_error_not_found(c->resp, coll, key);
		return STORE_OK;
	}
	if (rc != STORE_OK)
		return rc;
	vk = hk;
	vk[hkl] = 0;
	buf_adds(b, "{\"results\":[");
	/* Versions are numbered 1..head.seq without gaps: page by seq. */
	for (int64_t i = 0; i < limit && (uint64_t)(offset + i) < head.seq; i++) {
		void *v;
		size_t vl;

		util_put_be64(vk + hkl + 1, head.seq - (uint64_t)(offset + i));
		rc = store_get(c->txn, STORE_DB_VERSIONS, vk, hkl + 9, false,
		    c->req->arena, &v, &vl);
		if (rc != STORE_OK)
			return rc == STORE_NOTFOUND ? STORE_ERR : rc;
		if (rec_decode(v, vl, &r) == -1)
			return STORE_ERR;
		if (count++ > 0)
			buf_addc(b, ',');
		emit_entry(b, coll, key, strlen(key), &r, values);
	}
	buf_printf(b, "],\"count\":%lld", (long long)count);
	buf_init(&base, 0);
	handler_item_path(&base, coll, key);
	buf_adds(&base, "/refs");
	page_links(c, base.b_data ? base.b_data : "", offset, limit,
	    (uint64_t)(offset + count) < head.seq, values ? "&values=true" : "");
	buf_free(&base);
	buf_addc(b, '}');
	return STORE_OK;
}

enum store_rc
items_get_ref(struct ctx *c)
{
	const char *coll = c->req->path.seg[0].s, *key = c->req->path.seg[1].s;
	const struct seg *ref = &c->req->path.seg[3];
	struct item_rec r;
	struct buf loc;
	unsigned char *k;
	void *v;
	size_t kl, vl;
	enum store_rc rc;

	if (!util_is_hex(ref->s, ref->len)) {
		http_error(c->resp, 400, "item_ref_malformed",
		    "The provided Item Ref is malformed.", NULL);
		return STORE_OK;
	}
	k = items_key(c, coll, key, 9, &kl);
	if (k == NULL)
		return STORE_ERR;
	k[kl] = 0;
	if (ids_ref_parse(ref->s, ref->len, k + kl + 1) == -1) {
		http_error_not_found(c->resp, coll, key); /* hex, but no ref is that long */
		return STORE_OK;
	}
	rc = store_get(c->txn, STORE_DB_REFS, k, kl + 9, false, c->req->arena, &v, &vl);
	if (rc == STORE_OK && vl == 8) {
		memcpy(k + kl + 1, v, 8);
		rc = store_get(c->txn, STORE_DB_VERSIONS, k, kl + 9, false, c->req->arena,
		    &v, &vl);
	}
	if (rc == STORE_NOTFOUND) {
		http_error_not_found(c->resp, coll, key);
		return STORE_OK;
	}
	if (rc != STORE_OK)
		return rc;
	if (rec_decode(v, vl, &r) == -1)
		return STORE_ERR;
	buf_add(&c->resp->body, r.value, r.vlen);
	http_header(c->resp, "ETag", "\"%s\"", r.ref);
	buf_init(&loc, 0);
	handler_item_path(&loc, coll, key);
	buf_printf(&loc, "/refs/%s", r.ref);
	http_header(c->resp, "Content-Location", "%s", loc.b_data ? loc.b_data : "");
	buf_free(&loc);
	return STORE_OK;
}

/* Reads the key bounds of a collection listing; answers 400 itself. */
static int
list_bounds(struct ctx *c, const char **start, bool *start_incl, const char **end,
    bool *end_incl)
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
	*start = sk ? sk : ak;
	*start_incl = sk != NULL;
	*end = ek ? ek : bk;
	*end_incl = ek != NULL;
	return 0;
}

static bool
past_end(const char *k, size_t kl, const char *end, bool incl)
{
	size_t el;
	int cmp;

	if (end == NULL)
		return false;
	el = strlen(end);
	cmp = memcmp(k, end, kl < el ? kl : el);
	if (cmp == 0)
		cmp = kl < el ? -1 : kl > el;
	return incl ? cmp > 0 : cmp >= 0;
}

static void
list_next_link(struct ctx *c, const char *coll, const char *last, size_t lastlen,
    int64_t limit, const char *end, bool end_incl, bool values)
{
	struct buf l;

	buf_init(&l, 0);
	buf_adds(&l, "/v0/");
	route_encode_segment(&l, coll, strlen(coll));
	buf_printf(&l, "?limit=%lld&afterKey=", (long long)limit);
	route_encode_query(&l, last, lastlen);
	if (end != NULL) {
		buf_adds(&l, end_incl ? "&endKey=" : "&beforeKey=");
		route_encode_query(&l, end, strlen(end));
	}
	if (!values)
		buf_adds(&l, "&values=false");
	if (!l.b_failed) {
		buf_adds(&c->resp->body, ",\"next\":");
		json_emit_string(&c->resp->body, l.b_data, l.b_len);
		http_header(c->resp, "Link", "<%s>; rel=\"next\"", l.b_data);
	}
	buf_free(&l);
}

enum store_rc
items_list_collection(struct ctx *c)
{
	const char *coll = c->req->path.seg[0].s, *start, *end;
	struct store_cursor *cur;
	struct buf *b = &c->resp->body;
	struct item_rec r;
	unsigned char *p, *seek;
	const void *k, *v;
	size_t pl, kl, vl, sl;
	int64_t limit, count = 0;
	bool start_incl, end_incl, values, more = false;
	char *last = NULL;
	size_t lastlen = 0;
	enum store_rc rc;

	if (query_get(&c->req->query, "query", NULL) != NULL) {
		http_error(c->resp, 501, "api_unsupported",
		    "Search is not available in this version of Orchid.", NULL);
		return STORE_OK;
	}
	if (handler_limit_offset(c, &limit, NULL) == -1 ||
	    list_bounds(c, &start, &start_incl, &end, &end_incl) == -1)
		return STORE_OK;
	if (query_bool(&c->req->query, "values", true, &values) == -1) {
		http_error_bad_request(c->resp, "values must be true or false.");
		return STORE_OK;
	}
	sl = start ? strlen(start) : 0;
	p = items_key(c, coll, NULL, sl, &pl);
	if (p == NULL)
		return STORE_ERR;
	seek = p;
	if (sl > 0)
		memcpy(seek + pl, start, sl);
	rc = store_cursor_open(c->txn, STORE_DB_ITEMS, &cur);
	if (rc != STORE_OK)
		return rc;
	buf_adds(b, "{\"results\":[");
	rc = store_cursor_get(cur, STORE_SEEK_GE, seek, pl + sl, &k, &kl, &v, &vl);
	for (; rc == STORE_OK; rc = store_cursor_get(cur, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl)) {
		const char *key = (const char *)k + pl;
		size_t keylen = kl - pl;

		if (kl < pl || memcmp(k, p, pl) != 0 || past_end(key, keylen, end, end_incl))
			break;
		if (start != NULL && !start_incl && keylen == sl && memcmp(key, start, sl) == 0)
			continue;
		if (rec_decode(v, vl, &r) == -1) {
			rc = STORE_ERR;
			break;
		}
		if (r.tombstone)
			continue;
		if (count == limit) {
			more = true;
			break;
		}
		if (count++ > 0)
			buf_addc(b, ',');
		emit_entry(b, coll, key, keylen, &r, values);
		last = mem_strndup(c->req->arena, key, keylen);
		lastlen = keylen;
		if (last == NULL) {
			rc = STORE_ERR;
			break;
		}
	}
	store_cursor_close(cur);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	buf_printf(b, "],\"count\":%lld", (long long)count);
	if (more)
		list_next_link(c, coll, last, lastlen, limit, end, end_incl, values);
	buf_addc(b, '}');
	return STORE_OK;
}

enum store_rc
items_list_collections(struct ctx *c)
{
	struct store_cursor *cur;
	struct buf *b = &c->resp->body;
	struct item_rec r;
	unsigned char t[4];
	const void *k, *v;
	size_t kl, vl;
	char *name = NULL;
	size_t namelen = 0;
	int64_t items = 0, n = 0;
	enum store_rc rc;

	util_put_be32(t, c->req->tenant);
	rc = store_cursor_open(c->txn, STORE_DB_ITEMS, &cur);
	if (rc != STORE_OK)
		return rc;
	buf_adds(b, "{\"results\":[");
	rc = store_cursor_get(cur, STORE_SEEK_GE, t, 4, &k, &kl, &v, &vl);
	for (;; rc = store_cursor_get(cur, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl)) {
		const char *coll = (const char *)k + 4;
		size_t cl = 0;
		bool same;

		if (rc == STORE_OK && (kl < 5 || memcmp(k, t, 4) != 0))
			rc = STORE_NOTFOUND;
		if (rc == STORE_OK)
			cl = strnlen(coll, kl - 4);
		same = rc == STORE_OK && name != NULL && cl == namelen &&
		    memcmp(coll, name, cl) == 0;
		if (name != NULL && !same && items > 0) {
			buf_adds(b, n++ > 0 ? ",{\"collection\":" : "{\"collection\":");
			json_emit_string(b, name, namelen);
			buf_printf(b, ",\"items\":%lld}", (long long)items);
		}
		if (rc != STORE_OK)
			break;
		if (!same) {
			name = mem_strndup(c->req->arena, coll, cl);
			namelen = cl;
			items = 0;
			if (name == NULL) {
				rc = STORE_ERR;
				break;
			}
		}
		if (rec_decode(v, vl, &r) == 0 && !r.tombstone)
			items++;
	}
	store_cursor_close(cur);
	if (rc != STORE_NOTFOUND)
		return rc;
	buf_printf(b, "],\"count\":%lld}", (long long)n);
	return STORE_OK;
}

enum store_rc
items_ping(struct ctx *c)
{
	/* HEAD /v0 is the clients' ping: authenticated, empty. */
	(void)c;
	return STORE_OK;
}
