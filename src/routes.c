/*
 * routes: the route table (routes.h). A pattern is the segments after /v0
 * separated by '/': "*" matches any one segment, "**" (last) any number of
 * them, anything else itself; "" is /v0 itself.
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#define ANY_METHOD M_OTHER

struct route {
	const char *pattern;
	enum http_method method;   /* ANY_METHOD: every method */
	handler_fn fn;
	bool write;
	bool own;      /* the handler runs its own transactions (routes.h) */
	enum route_id id;
};

/* Rows of one pattern stay together, methods in the order Allow lists them. */
static const struct route routes[] = {
	{ "", M_GET, handle_collections, false, false, RID_ROOT },
	{ "", M_HEAD, handle_ping, false, false, RID_ROOT },
	{ "", M_POST, handle_bulk, true, true, RID_ROOT },
	{ "*", M_GET, handle_collection_list, false, false, RID_COLLECTION },
	{ "*", M_HEAD, handle_collection_list, false, false, RID_COLLECTION },
	{ "*", M_POST, handle_item_post, true, false, RID_COLLECTION },
	{ "*", M_DELETE, handle_collection_delete, true, false, RID_COLLECTION },
	{ "*/*", M_GET, handle_item_get, false, false, RID_ITEM },
	{ "*/*", M_HEAD, handle_item_get, false, false, RID_ITEM },
	{ "*/*", M_PUT, handle_item_put, true, false, RID_ITEM },
	{ "*/*", M_PATCH, handle_item_patch, true, false, RID_ITEM },
	{ "*/*", M_DELETE, handle_item_delete, true, false, RID_ITEM },
	{ "*/*/refs", M_GET, handle_item_refs, false, false, RID_REFS },
	{ "*/*/refs", M_HEAD, handle_item_refs, false, false, RID_REFS },
	{ "*/*/refs/*", M_GET, handle_item_ref, false, false, RID_REF },
	{ "*/*/refs/*", M_HEAD, handle_item_ref, false, false, RID_REF },
	{ "*/*/events/*", M_GET, handle_event_list, false, false, RID_EVENTS },
	{ "*/*/events/*", M_HEAD, handle_event_list, false, false, RID_EVENTS },
	{ "*/*/events/*", M_POST, handle_event_create, true, false, RID_EVENTS },
	{ "*/*/events/*", M_PUT, handle_event_create, true, false, RID_EVENTS },  /* legacy create */
	{ "*/*/events/*/*", M_GET, handle_event_list, false, false, RID_EVENTS_TS },
	{ "*/*/events/*/*", M_HEAD, handle_event_list, false, false, RID_EVENTS_TS },
	{ "*/*/events/*/*", M_POST, handle_event_create, true, false, RID_EVENTS_TS },
	{ "*/*/events/*/*/*", M_GET, handle_event_get, false, false, RID_EVENT },
	{ "*/*/events/*/*/*", M_HEAD, handle_event_get, false, false, RID_EVENT },
	{ "*/*/events/*/*/*", M_PUT, handle_event_replace, true, false, RID_EVENT },
	{ "*/*/events/*/*/*", M_PATCH, handle_event_patch, true, false, RID_EVENT },
	{ "*/*/events/*/*/*", M_DELETE, handle_event_delete, true, false, RID_EVENT },
	{ "*/*/relation/*/*/*", M_GET, handle_relation_get, false, false, RID_RELATION },
	{ "*/*/relation/*/*/*", M_HEAD, handle_relation_get, false, false, RID_RELATION },
	{ "*/*/relation/*/*/*", M_PUT, handle_relation_put, true, false, RID_RELATION },
	{ "*/*/relation/*/*/*", M_DELETE, handle_relation_delete, true, false, RID_RELATION },
	{ "*/*/relations/**", M_GET, handle_relation_traverse, false, false, RID_RELATIONS },
	{ "*/*/relations/**", M_HEAD, handle_relation_traverse, false, false, RID_RELATIONS },
};

/*
 * Rows chosen by a query parameter: a search has the path and method of a
 * listing (GET /v0/{c}, GET /v0) and is told apart by "query" alone
 * (reference §8.1). Searched before the table above, and never listed in
 * Allow on their own (they repeat a method of their path's rows). A search
 * runs without the dispatcher's transaction: it waits for the index
 * (index.h), and no read transaction may stay open meanwhile.
 */
struct param_route {
	const char *pattern;
	enum http_method method;
	const char *param;   /* the row applies when the request has it */
	handler_fn fn;
	bool write;
	bool own;
	enum route_id id;
};

static const struct param_route param_routes[] = {
	{ "", M_GET, "query", handle_search, false, true, RID_SEARCH_ROOT },
	{ "", M_HEAD, "query", handle_search, false, true, RID_SEARCH_ROOT },
	{ "*", M_GET, "query", handle_search, false, true, RID_SEARCH_COLLECTION },
	{ "*", M_HEAD, "query", handle_search, false, true, RID_SEARCH_COLLECTION },
};

static const char *
method_name(enum http_method m)
{
	switch (m) {
	case M_GET: return "GET";
	case M_HEAD: return "HEAD";
	case M_PUT: return "PUT";
	case M_POST: return "POST";
	case M_PATCH: return "PATCH";
	case M_DELETE: return "DELETE";
	default: return "";
	}
}

/* True when the path's segments have the shape of pattern. */
static bool
shape_matches(const char *pattern, const struct path *path)
{
	const char *p = pattern;
	size_t i = 0;

	if (*p == '\0')
		return path->nseg == 0;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '*' && p[1] == '*')
			return true;
		if (i == path->nseg)
			return false;
		if (!(n == 1 && p[0] == '*') &&
		    (path->seg[i].len != n || memcmp(path->seg[i].s, p, n) != 0))
			return false;
		i++;
		p += n;
		if (*p == '\0')
			return i == path->nseg;
		p++;
	}
}

/* True (and m filled) when a row of param_routes takes the request. */
static bool
match_param(const struct request *req, struct route_match *m)
{
	for (size_t i = 0; i < sizeof(param_routes) / sizeof(param_routes[0]); i++) {
		const struct param_route *r = &param_routes[i];

		if (r->method != req->method || !shape_matches(r->pattern, &req->path) ||
		    query_get(&req->query, r->param, NULL) == NULL)
			continue;
		m->found = true;
		m->fn = r->fn;
		m->write = r->write;
		m->own = r->own;
		m->id = r->id;
		return true;
	}
	return false;
}

void
routes_match(const struct request *req, struct route_match *m)
{
	const char *shape = NULL;
	size_t used = 0;
	int n;

	memset(m, 0, sizeof(*m));
	if (match_param(req, m))
		return;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];

		if (shape != NULL && strcmp(shape, r->pattern) != 0)
			continue; /* only the rows of the first shape that fits */
		if (shape == NULL && !shape_matches(r->pattern, &req->path))
			continue;
		shape = r->pattern;
		m->found = true;
		m->id = r->id;
		if (r->method == req->method || r->method == ANY_METHOD) {
			m->fn = r->fn;
			m->write = r->write;
			m->own = r->own;
			return;
		}
		n = snprintf(m->allow + used, sizeof(m->allow) - used, "%s%s",
		    used ? ", " : "", method_name(r->method));
		if (n > 0 && (size_t)n < sizeof(m->allow) - used)
			used += (size_t)n;
	}
}

const char *
routes_label(enum route_id id)
{
	static const char *const labels[RID_COUNT] = {
		[RID_NONE] = "other",
		[RID_ROOT] = "/v0",
		[RID_COLLECTION] = "/v0/{collection}",
		[RID_ITEM] = "/v0/{collection}/{key}",
		[RID_REFS] = "/v0/{collection}/{key}/refs",
		[RID_REF] = "/v0/{collection}/{key}/refs/{ref}",
		[RID_EVENTS] = "/v0/{collection}/{key}/events/{type}",
		[RID_EVENTS_TS] = "/v0/{collection}/{key}/events/{type}/{timestamp}",
		[RID_EVENT] = "/v0/{collection}/{key}/events/{type}/{timestamp}/{ordinal}",
		[RID_RELATION] = "/v0/{collection}/{key}/relation/{kind}/{collection2}/{key2}",
		[RID_RELATIONS] = "/v0/{collection}/{key}/relations/{kind}...",
		[RID_SEARCH_ROOT] = "/v0?query",
		[RID_SEARCH_COLLECTION] = "/v0/{collection}?query",
		[RID_METRICS] = "/metrics",
	};

	return (unsigned)id < RID_COUNT ? labels[id] : labels[RID_NONE];
}
