/*
 * handle: what the HTTP handlers share (handler.h): the domain context,
 * conditions, bodies, the mapping of domain results to responses, paging
 * parameters and the response cap of lists.
 */
#include "handler.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "config.h"
#include "fields.h"
#include "json.h"
#include "mem.h"
#include "patch.h"

#define MAX_LIMIT 100

void
handler_dom(struct ctx *c, struct dom *d)
{
	memset(d, 0, sizeof(*d));
	d->txn = c->txn;
	d->arena = c->req->arena;
	d->tenant = c->req->tenant;
	d->now_ms = c->req->now_ms;
	d->max_bytes = (size_t)c->req->cfg->max_body;
	d->max_depth = c->req->cfg->max_json_depth;
}

int
handler_cond(struct ctx *c, const char *header, bool weak, struct dom_cond *out)
{
	struct etag_list l;
	struct buf d;

	memset(out, 0, sizeof(*out));
	if (header == NULL)
		return 0;
	if (http_parse_etags(header, &l) == 0) {
		out->present = true;
		out->any = l.any;
		/* Only tags of a ref's length can match (lower case). */
		for (size_t i = 0; i < l.n && out->n < DOM_COND_MAX; i++)
			if ((weak || !l.t[i].weak) && strlen(l.t[i].tag) == IDS_REF_LEN)
				memcpy(out->refs[out->n++], l.t[i].tag, IDS_REF_LEN + 1);
		return 0;
	}
	buf_init(&d, 0);
	buf_adds(&d, "{\"ref\":");
	json_emit_string(&d, header, strnlen(header, 200));
	buf_addc(&d, '}');
	http_error(c->resp, 400, "item_ref_malformed", "The provided Item Ref is malformed.",
	    d.b_failed ? NULL : d.b_data);
	buf_free(&d);
	return -1;
}

int
handler_body(struct ctx *c, const char **val, size_t *vlen)
{
	struct json_object *obj = NULL;
	const char *why = NULL, *canon;
	char *copy;
	enum json_rc rc;

	if (c->req->body_len == 0) {
		http_error_bad_request(c->resp, "The request body is empty; send a JSON object.");
		return 0;
	}
	rc = json_parse_object(c->req->body, c->req->body_len,
	    c->req->cfg->max_json_depth, &obj, &why);
	if (rc == JSON_NOMEM)
		return -1;
	if (rc != JSON_OK) {
		http_error_bad_request(c->resp, why);
		return 0;
	}
	canon = json_canonical(obj, vlen);
	copy = canon ? mem_alloc(c->req->arena, *vlen + 1) : NULL;
	if (copy != NULL) {
		memcpy(copy, canon, *vlen);
		copy[*vlen] = '\0';
	}
	json_release(obj);
	*val = copy;
	return copy != NULL ? 1 : -1;
}

int
handler_patch_body(struct ctx *c, struct json_object **patch, bool *merge)
{
	const char *ct = c->req->content_type ? c->req->content_type : "";
	const char *why = NULL;
	enum json_rc jrc;

	*patch = NULL;
	if (c->req->body_len == 0) {
		/* (and the body pointer may be NULL then) */
		http_error_bad_request(c->resp, "The request body is empty.");
		return 0;
	}
	jrc = json_parse_patch(c->req->body, c->req->body_len, c->req->cfg->max_json_depth,
	    patch, &why);
	if (jrc == JSON_NOMEM)
		return -1;
	if (jrc != JSON_OK) {
		http_error_bad_request(c->resp, why);
		return 0;
	}
	/* Clients send application/json for both kinds: decide by shape then. */
	*merge = strncmp(ct, "application/merge-patch+json", 28) == 0 ||
	    (strncmp(ct, "application/json-patch+json", 27) != 0 &&
	    json_object_is_type(*patch, json_type_object));
	if (*merge != json_object_is_type(*patch, json_type_object)) {
		http_error_bad_request(c->resp, *merge
		    ? "A merge patch must be a JSON object."
		    : "A JSON patch must be an array of operations.");
		json_release(*patch);
		*patch = NULL;
		return 0;
	}
	return 1;
}

enum store_rc
handler_fail(struct ctx *c, enum dom_rc rc, const char *coll, const char *key,
    struct patch_error *err)
{
	switch (rc) {
	case DOM_OK:
		return STORE_OK;
	case DOM_NOT_FOUND:
		http_error_not_found(c->resp, coll, key);
		return STORE_OK;
	case DOM_MISMATCH:
		http_error(c->resp, 412, "item_version_mismatch",
		    "The version of the item does not match.", NULL);
		return STORE_OK;
	case DOM_PRESENT:
		http_error(c->resp, 412, "item_already_present",
		    "The item is already present.", NULL);
		return STORE_OK;
	case DOM_INVALID:
		http_error_bad_request(c->resp, err && err->info[0] ? err->info
		    : HTTP_MSG_BAD_REQUEST);
		return STORE_OK;
	case DOM_CONFLICT:
		http_error(c->resp, 409, "patch_conflict",
		    "The patch could not be applied due to a potentially inconsistent state.",
		    err && err->details ? json_object_to_json_string_ext(err->details,
		    JSON_C_TO_STRING_PLAIN) : NULL);
		return STORE_OK;
	case DOM_TOO_LARGE:
		http_error(c->resp, 413, "request_too_large",
		    "The result would be larger than the largest value the server stores "
		    "(max_body).", NULL);
		return STORE_OK;
	case DOM_TOO_DEEP:
		http_error_bad_request(c->resp, "The result would be nested too deeply.");
		return STORE_OK;
	default:
		return dom_to_store(rc);
	}
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

int
handler_bool(struct ctx *c, const char *name, bool def, bool *out)
{
	char why[128];

	if (query_bool(&c->req->query, name, def, out) == 0)
		return 0;
	snprintf(why, sizeof(why), "%s must be true or false.", name);
	http_error_bad_request(c->resp, why);
	return -1;
}

void
handler_item_path(struct buf *b, const char *collection, const char *key)
{
	buf_adds(b, "/v0/");
	route_encode_segment(b, collection, strlen(collection));
	buf_addc(b, '/');
	route_encode_segment(b, key, strlen(key));
}

bool
handler_room(struct ctx *c, size_t len, int64_t taken)
{
	return taken == 0 ||
	    c->resp->body.b_len + len <= (size_t)c->req->cfg->max_response;
}

int
handler_fields(struct ctx *c, struct fields_filter **f)
{
	size_t wl = 0, wol = 0;
	const char *w = query_get(&c->req->query, "with_fields", &wl);
	const char *wo = query_get(&c->req->query, "without_fields", &wol);
	char err[FIELDS_ERR_LEN];

	*f = NULL;
	if (w == NULL && wo == NULL)
		return 1;
	switch (fields_compile(w, wl, wo, wol, f, err, sizeof(err))) {
	case FIELDS_OK:
		return 1;
	case FIELDS_BAD:
		http_error_bad_request(c->resp, err);
		return 0;
	default:
		return -1;
	}
}

int
handler_filter(struct ctx *c, const struct fields_filter *f, const char *value,
    size_t vlen, const char **out, size_t *outlen)
{
	struct json_object *in = NULL, *res = NULL;
	const char *why, *canon;
	char *copy = NULL;
	size_t len;

	if (fields_is_empty(f)) {
		*out = value;
		*outlen = vlen;
		return 0;
	}
	if (json_parse_object(value, vlen, DOM_STORED_MAX_DEPTH, &in, &why) != JSON_OK)
		return -1;
	if (fields_apply(f, in, &res) == FIELDS_OK && (canon = json_canonical(res, &len)) != NULL &&
	    (copy = mem_alloc(c->req->arena, len + 1)) != NULL) {
		memcpy(copy, canon, len);
		copy[len] = '\0';
		*out = copy;
		*outlen = len;
	}
	json_release(res);
	json_release(in);
	return copy != NULL ? 0 : -1;
}

void
handler_fields_query(struct ctx *c, struct buf *b)
{
	static const char *const names[] = { "with_fields", "without_fields" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t len;
		const char *v = query_get(&c->req->query, names[i], &len);

		if (v != NULL) {
			buf_printf(b, "&%s=", names[i]);
			route_encode_query(b, v, len);
		}
	}
}
