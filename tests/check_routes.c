/*
 * check_routes: the route table (src/routes.c), table-driven: method and
 * path to handler and transaction kind, 404 for unknown shapes, 405 with the
 * exact Allow list, rows of later releases (501) that Allow never lists, and
 * the rows a query parameter selects (search).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "query.h"
#include "route.h"
#include "routes.h"

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct route_case {
	enum http_method m;
	const char *path;       /* raw path, "/v0..." */
	handler_fn fn;          /* NULL: 404 or 405 */
	bool write;
	bool found;
	const char *allow;      /* for 405 */
};

static const struct route_case cases[] = {
	/* handlers */
	{ M_GET, "/v0", handle_collections, false, true, NULL },
	{ M_HEAD, "/v0", handle_ping, false, true, NULL },
	{ M_POST, "/v0", handle_bulk, true, true, NULL },
	{ M_GET, "/v0/c", handle_collection_list, false, true, NULL },
	{ M_HEAD, "/v0/c", handle_collection_list, false, true, NULL },
	{ M_POST, "/v0/c", handle_item_post, true, true, NULL },
	{ M_DELETE, "/v0/c", handle_collection_delete, true, true, NULL },
	{ M_GET, "/v0/c/k", handle_item_get, false, true, NULL },
	{ M_HEAD, "/v0/c/k", handle_item_get, false, true, NULL },
	{ M_PUT, "/v0/c/k", handle_item_put, true, true, NULL },
	{ M_PATCH, "/v0/c/k", handle_item_patch, true, true, NULL },
	{ M_DELETE, "/v0/c/k", handle_item_delete, true, true, NULL },
	{ M_GET, "/v0/c/k/refs", handle_item_refs, false, true, NULL },
	{ M_GET, "/v0/c/k/refs/0123456789abcdef", handle_item_ref, false, true, NULL },
	{ M_GET, "/v0/c/k/events/t", handle_event_list, false, true, NULL },
	{ M_POST, "/v0/c/k/events/t", handle_event_create, true, true, NULL },
	{ M_PUT, "/v0/c/k/events/t", handle_event_create, true, true, NULL },
	{ M_GET, "/v0/c/k/events/t/1", handle_event_list, false, true, NULL },
	{ M_POST, "/v0/c/k/events/t/1", handle_event_create, true, true, NULL },
	{ M_GET, "/v0/c/k/events/t/1/2", handle_event_get, false, true, NULL },
	{ M_PUT, "/v0/c/k/events/t/1/2", handle_event_replace, true, true, NULL },
	{ M_PATCH, "/v0/c/k/events/t/1/2", handle_event_patch, true, true, NULL },
	{ M_DELETE, "/v0/c/k/events/t/1/2", handle_event_delete, true, true, NULL },
	/* names that look like literals are names where a name is expected */
	{ M_GET, "/v0/refs/events", handle_item_get, false, true, NULL },
	{ M_GET, "/v0/events", handle_collection_list, false, true, NULL },
	{ M_PUT, "/v0/c/k/relation/kind/c2/k2", handle_relation_put, true, true, NULL },
	{ M_GET, "/v0/c/k/relation/kind/c2/k2", handle_relation_get, false, true, NULL },
	{ M_HEAD, "/v0/c/k/relation/kind/c2/k2", handle_relation_get, false, true, NULL },
	{ M_DELETE, "/v0/c/k/relation/kind/c2/k2", handle_relation_delete, true, true,
	    NULL },
	{ M_GET, "/v0/c/k/relations/a", handle_relation_traverse, false, true, NULL },
	{ M_HEAD, "/v0/c/k/relations/a", handle_relation_traverse, false, true, NULL },
	{ M_GET, "/v0/c/k/relations/a/b/c/d", handle_relation_traverse, false, true, NULL },
	{ M_GET, "/v0/c/k/relations", handle_relation_traverse, false, true, NULL },
	{ M_GET, "/v0/relation/relations/relation/a/b/c", handle_relation_get, false,
	    true, NULL },
	/* 405 with the exact Allow */
	{ M_PUT, "/v0", NULL, false, true, "GET, HEAD, POST" },
	{ M_DELETE, "/v0", NULL, false, true, "GET, HEAD, POST" },
	{ M_PUT, "/v0/c", NULL, false, true, "GET, HEAD, POST, DELETE" },
	{ M_PATCH, "/v0/c", NULL, false, true, "GET, HEAD, POST, DELETE" },
	{ M_POST, "/v0/c/k", NULL, false, true, "GET, HEAD, PUT, PATCH, DELETE" },
	{ M_OTHER, "/v0/c/k", NULL, false, true, "GET, HEAD, PUT, PATCH, DELETE" },
	{ M_PUT, "/v0/c/k/refs", NULL, false, true, "GET, HEAD" },
	{ M_DELETE, "/v0/c/k/refs/0123456789abcdef", NULL, false, true, "GET, HEAD" },
	{ M_DELETE, "/v0/c/k/events/t", NULL, false, true, "GET, HEAD, POST, PUT" },
	{ M_PUT, "/v0/c/k/events/t/1", NULL, false, true, "GET, HEAD, POST" },
	{ M_POST, "/v0/c/k/events/t/1/2", NULL, false, true,
	    "GET, HEAD, PUT, PATCH, DELETE" },
	{ M_POST, "/v0/c/k/relation/kind/c2/k2", NULL, false, true,
	    "GET, HEAD, PUT, DELETE" },
	{ M_PATCH, "/v0/c/k/relation/kind/c2/k2", NULL, false, true,
	    "GET, HEAD, PUT, DELETE" },
	{ M_PUT, "/v0/c/k/relations/a", NULL, false, true, "GET, HEAD" },
	{ M_OTHER, "/v0/c/k/relations/a/b", NULL, false, true, "GET, HEAD" },
	/* 404: no row has this shape */
	{ M_GET, "/v0/c/k/nope", NULL, false, false, NULL },
	{ M_GET, "/v0/c/k/refs/r/x", NULL, false, false, NULL },
	{ M_GET, "/v0/c/k/events", NULL, false, false, NULL },
	{ M_GET, "/v0/c/k/events/t/1/2/3", NULL, false, false, NULL },
	{ M_GET, "/v0/c/k/ref", NULL, false, false, NULL },
	{ M_GET, "/v0/c/k/Refs", NULL, false, false, NULL },
	{ M_DELETE, "/v0/c/k/eventsx/t", NULL, false, false, NULL },
	{ M_GET, "/v0/c/k/relationsx/a", NULL, false, false, NULL },
	{ M_GET, "/v0/c/k/relation", NULL, false, false, NULL },
	{ M_PUT, "/v0/c/k/relation/kind", NULL, false, false, NULL },
	{ M_PUT, "/v0/c/k/relation/kind/c2", NULL, false, false, NULL },
	{ M_GET, "/v0/c/k/relation/kind/c2/k2/x", NULL, false, false, NULL },
};

START_TEST(test_routes)
{
	const struct route_case *tc = &cases[_i];
	struct arena *a = mem_new();
	struct request req;
	struct route_match m;
	const char *why = NULL;

	ck_assert_ptr_nonnull(a);
	memset(&req, 0, sizeof(req));
	req.method = tc->m;
	ck_assert_msg(route_split(a, tc->path, strlen(tc->path), 1024, &req.path, &why) ==
	    ROUTE_OK, "route_split(%s): %s", tc->path, why ? why : "?");
	routes_match(&req, &m);
	ck_assert_msg(m.found == tc->found, "%d %s: found %d, want %d", tc->m, tc->path,
	    m.found, tc->found);
	ck_assert_msg(m.fn == tc->fn, "%d %s: another handler (or none)", tc->m, tc->path);
	ck_assert_msg(m.write == tc->write, "%d %s: write %d, want %d", tc->m, tc->path,
	    m.write, tc->write);
	if (tc->allow != NULL)
		ck_assert_msg(strcmp(m.allow, tc->allow) == 0, "%d %s: Allow \"%s\", want \"%s\"",
		    tc->m, tc->path, m.allow, tc->allow);
	mem_free(a);
}
END_TEST

/* Rows chosen by a query parameter (a search shares its path with a list). */
struct param_case {
	enum http_method m;
	const char *path;
	const char *query;      /* raw query string */
	handler_fn fn;
	bool own;
};

static const struct param_case param_cases[] = {
	{ M_GET, "/v0", "query=a", handle_search, true },
	{ M_HEAD, "/v0", "query=a", handle_search, true },
	{ M_GET, "/v0/c", "query=a", handle_search, true },
	{ M_HEAD, "/v0/c", "limit=1&query=", handle_search, true },
	{ M_GET, "/v0/c/", "query=*&offset=3", handle_search, true },
	/* without it, or on another method or path: the table's row */
	{ M_GET, "/v0", "export=true", handle_collections, false },
	{ M_HEAD, "/v0", "", handle_ping, false },
	{ M_GET, "/v0/c", "limit=5&queryx=a", handle_collection_list, false },
	{ M_GET, "/v0/c", "Query=a", handle_collection_list, false },
	{ M_POST, "/v0", "query=a", handle_bulk, true },
	{ M_POST, "/v0/c", "query=a", handle_item_post, false },
	{ M_DELETE, "/v0/c", "query=a", handle_collection_delete, false },
	{ M_GET, "/v0/c/k", "query=a", handle_item_get, false },
	{ M_GET, "/v0/c/k/relations/x", "query=a", handle_relation_traverse, false },
};

START_TEST(test_param_routes)
{
	const struct param_case *tc = &param_cases[_i];
	struct arena *a = mem_new();
	struct request req;
	struct route_match m;
	const char *why = NULL;

	ck_assert_ptr_nonnull(a);
	memset(&req, 0, sizeof(req));
	req.method = tc->m;
	ck_assert_msg(route_split(a, tc->path, strlen(tc->path), 1024, &req.path, &why) ==
	    ROUTE_OK, "route_split(%s): %s", tc->path, why ? why : "?");
	ck_assert_msg(query_parse(a, tc->query, strlen(tc->query), &req.query, &why) == 0,
	    "query_parse(%s): %s", tc->query, why ? why : "?");
	routes_match(&req, &m);
	ck_assert_msg(m.found && m.fn == tc->fn, "%d %s?%s: another handler (or none)",
	    tc->m, tc->path, tc->query);
	ck_assert_msg(m.own == tc->own, "%d %s?%s: own %d, want %d", tc->m, tc->path,
	    tc->query, m.own, tc->own);
	ck_assert_msg(!m.write || tc->fn != handle_search, "%d %s?%s: a search writes",
	    tc->m, tc->path, tc->query);
	mem_free(a);
}
END_TEST

/* The route id (metrics' route label): by path shape, whatever the method
 * (a 405 too), a search apart, none for an unknown shape. */
struct id_case {
	enum http_method m;
	const char *path;
	const char *query;
	enum route_id id;
	const char *label;
};

static const struct id_case id_cases[] = {
	{ M_GET, "/v0", "", RID_ROOT, "/v0" },
	{ M_POST, "/v0", "", RID_ROOT, "/v0" },
	{ M_GET, "/v0", "query=a", RID_SEARCH_ROOT, "/v0?query" },
	{ M_GET, "/v0/c", "query=a", RID_SEARCH_COLLECTION, "/v0/{collection}?query" },
	{ M_GET, "/v0/c", "", RID_COLLECTION, "/v0/{collection}" },
	{ M_PUT, "/v0/c", "", RID_COLLECTION, "/v0/{collection}" },   /* 405 */
	{ M_PUT, "/v0/c/k", "", RID_ITEM, "/v0/{collection}/{key}" },
	{ M_GET, "/v0/c/k/refs", "", RID_REFS, "/v0/{collection}/{key}/refs" },
	{ M_GET, "/v0/c/k/refs/r", "", RID_REF, "/v0/{collection}/{key}/refs/{ref}" },
	{ M_POST, "/v0/c/k/events/t", "", RID_EVENTS, "/v0/{collection}/{key}/events/{type}" },
	{ M_GET, "/v0/c/k/events/t/1", "", RID_EVENTS_TS,
	    "/v0/{collection}/{key}/events/{type}/{timestamp}" },
	{ M_DELETE, "/v0/c/k/events/t/1/2", "", RID_EVENT,
	    "/v0/{collection}/{key}/events/{type}/{timestamp}/{ordinal}" },
	{ M_PUT, "/v0/c/k/relation/a/c2/k2", "", RID_RELATION,
	    "/v0/{collection}/{key}/relation/{kind}/{collection2}/{key2}" },
	{ M_GET, "/v0/c/k/relations/a/b", "", RID_RELATIONS,
	    "/v0/{collection}/{key}/relations/{kind}..." },
	{ M_GET, "/v0/c/k/relation/kind", "", RID_NONE, "other" },
};

START_TEST(test_route_ids)
{
	const struct id_case *tc = &id_cases[_i];
	struct arena *a = mem_new();
	struct request req;
	struct route_match m;
	const char *why = NULL;

	ck_assert_ptr_nonnull(a);
	memset(&req, 0, sizeof(req));
	req.method = tc->m;
	ck_assert(route_split(a, tc->path, strlen(tc->path), 1024, &req.path, &why) ==
	    ROUTE_OK);
	ck_assert(query_parse(a, tc->query, strlen(tc->query), &req.query, &why) == 0);
	routes_match(&req, &m);
	ck_assert_msg(m.id == tc->id, "%d %s?%s: id %d, want %d", tc->m, tc->path, tc->query,
	    m.id, tc->id);
	ck_assert_str_eq(routes_label(m.id), tc->label);
	mem_free(a);
}
END_TEST

/* Every id has a distinct label; out of range is "other". */
START_TEST(test_route_labels)
{
	for (int i = 0; i < RID_COUNT; i++) {
		ck_assert_ptr_nonnull(routes_label((enum route_id)i));
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(routes_label((enum route_id)i),
			    routes_label((enum route_id)j));
	}
	ck_assert_str_eq(routes_label(RID_COUNT), "other");
	ck_assert_str_eq(routes_label((enum route_id)-1), "other");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("table");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_routes, 0, NCASES(cases));
	tcase_add_loop_test(tc, test_param_routes, 0, NCASES(param_cases));
	tcase_add_loop_test(tc, test_route_ids, 0, NCASES(id_cases));
	tcase_add_test(tc, test_route_labels);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
