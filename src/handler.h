/*
 * handler: the HTTP handlers (handle_items.c, handle_events.c,
 * handle_relations.c) and what they share (handle.c). A handler maps one
 * request to domain calls (items.h, events.h, relations.h) inside the
 * transaction the dispatcher runs, and the domain's result to a response.
 * It returns STORE_OK when the response is complete (2xx or 4xx), or the
 * fault (STORE_RETRY: the dispatcher aborts and runs it again;
 * STORE_ERR/STORE_PANIC). It never touches FastCGI or Berkeley DB.
 */
#ifndef ORCHID_HANDLER_H
#define ORCHID_HANDLER_H

#include <stdbool.h>

#include "domain.h"
#include "http.h"
#include "store.h"

struct fields_filter;
struct json_object;
struct patch_error;

struct ctx {
	struct request *req;
	struct response *resp;
	struct store_txn *txn;   /* NULL for a route that runs its own (routes.h) */
	struct store *store;     /* the process's store: for those routes, and for
	                          * a response stream, which runs after txn ended */
};

typedef enum store_rc (*handler_fn)(struct ctx *c);

/* GET /metrics (handle_metrics.c): c->txn is NULL; no tenant. */
enum store_rc handle_metrics(struct ctx *c);

/* Items, refs and collections (handle_items.c). */
enum store_rc handle_item_get(struct ctx *c);
enum store_rc handle_item_put(struct ctx *c);
enum store_rc handle_item_post(struct ctx *c);
enum store_rc handle_item_delete(struct ctx *c);
enum store_rc handle_item_patch(struct ctx *c);
enum store_rc handle_item_refs(struct ctx *c);
enum store_rc handle_item_ref(struct ctx *c);
enum store_rc handle_collection_list(struct ctx *c);
/* DELETE /v0/{c}?force=true: 204 (also when there is no such collection);
 * without force=true 400. The records go in the background (reclaim.h). */
enum store_rc handle_collection_delete(struct ctx *c);
enum store_rc handle_collections(struct ctx *c);
enum store_rc handle_ping(struct ctx *c);

/* Search (handle_search.c). */

/*
 * GET (HEAD) /v0/{c}?query=... and /v0?query=... (every collection): a
 * route of its own transactions (c->txn is NULL; index_search reads and
 * waits on c->store). 200 {"results","count","total_count","next"?,
 * "prev"?,"aggregates"?} with Link headers; each result the hit's entry
 * with "score" (and "distance" for a NEAR query), its value filtered by
 * with_fields/without_fields or left out with values=false. 400
 * search_param_invalid for limit (0..100), offset, offset + limit past the
 * deepest page, sort, aggregate or an empty query; 400
 * search_query_malformed for a query that does not parse or cannot run;
 * 400 api_bad_request for values, fields or export=true; 503
 * search_index_unavailable with Retry-After while the index is built or
 * behind past search_wait.
 */
enum store_rc handle_search(struct ctx *c);

/* Export (handle_export.c). */

/*
 * Reads export and history (booleans) of a listing request: 1 when
 * export=true, 0 when no export was asked for, -1 after answering 400
 * (a malformed boolean, or history=true without export=true).
 */
int handler_export_wanted(struct ctx *c);

/*
 * GET /v0/{c}?export=true[&history=true] (coll) and GET /v0?export=true
 * (coll NULL): 200 with the export stream (export.h) as a streamed body of
 * type application/orchestrate-export-stream+json, or 404 items_not_found
 * for a collection that does not exist (every collection: an empty stream
 * when the tenant has none); 400 for a malformed history, or for a
 * parameter of a listing sent to a collection with export=true.
 */
enum store_rc handle_export(struct ctx *c, const char *coll);

/* Events (handle_events.c). */
enum store_rc handle_event_create(struct ctx *c);
enum store_rc handle_event_list(struct ctx *c);
enum store_rc handle_event_get(struct ctx *c);
enum store_rc handle_event_replace(struct ctx *c);
enum store_rc handle_event_patch(struct ctx *c);
enum store_rc handle_event_delete(struct ctx *c);

/* Relations (handle_relations.c). */
/*
 * PUT /v0/{c}/{k}/relation/{kind}/{toC}/{toK}: creates or replaces the
 * relation; the body is empty (no properties) or a JSON object. 201 with
 * ETag and Location (the relation's path), empty body; 400 for a body that
 * is not an object; 404 items_not_found naming the endpoint that is not a
 * live item; 412 for If-Match / If-None-Match.
 */
enum store_rc handle_relation_put(struct ctx *c);
/*
 * GET (HEAD) of one relation: 200 with its properties as the body and
 * ETag; 404 items_not_found for an endpoint that is not live, 404
 * relation_not_found when there is no such relation.
 */
enum store_rc handle_relation_get(struct ctx *c);
/*
 * DELETE of one relation: 204 whether it existed or not, with or without
 * purge=true (relations keep no history); 404 when the source is not a
 * live item; 412 for If-Match.
 */
enum store_rc handle_relation_delete(struct ctx *c);
/*
 * GET (HEAD) /v0/{c}/{k}/relations/{kind}[/{kind}...]: the live items of
 * the last hop, {"results":[...],"count":N,"next"?,"prev"?} with Link
 * headers; limit, offset, after or before (one hop),
 * with_fields/without_fields. 400 graph_param_invalid for bad parameters
 * and past max_hops or max_traversal; 404 items_not_found when the start
 * item is not live.
 */
enum store_rc handle_relation_traverse(struct ctx *c);

/* POST /v0 (handle_bulk.c): the bulk import, a route that runs its own
 * transactions (one per operation, one log flush before the answer).
 * Always 200 with {"status","success_count","results"} once the body is
 * read, except: 415 for another Content-Type, 413 over max_bulk_ops or
 * when the results could not fit the response (nothing applied then).
 * A fault is returned (5xx), never a 200 with partial results. */
enum store_rc handle_bulk(struct ctx *c);

/* ---- shared (handle.c) ---- */

/* The domain context of this request. */
void handler_dom(struct ctx *c, struct dom *d);

/*
 * Parses an If-Match or If-None-Match header value (NULL: absent) into a
 * condition. weak: weak tags (W/"...") count as their ref, the weak
 * comparison RFC 9110 prescribes for If-None-Match; otherwise (If-Match's
 * strong comparison) they never match. 0, or -1 after answering 400
 * item_ref_malformed.
 */
int handler_cond(struct ctx *c, const char *header, bool weak, struct dom_cond *out);

/*
 * The body as a canonical JSON object within the limits: 1 and *val, *vlen
 * (in the request's arena), 0 after answering 400, -1 when out of memory.
 */
int handler_body(struct ctx *c, const char **val, size_t *vlen);

/*
 * The body of a PATCH: an array of operations (application/json-patch+json,
 * or application/json with an array) or a merge document
 * (application/merge-patch+json, or application/json with an object). 1 and
 * *patch (release with json_release) and *merge; 0 after answering 400; -1
 * when out of memory.
 */
int handler_patch_body(struct ctx *c, struct json_object **patch, bool *merge);

/*
 * Answers a domain result other than DOM_OK: 404 (naming coll and key),
 * 412, 400, 409 (with err's details; err may be NULL), 413. Returns
 * STORE_OK, or the fault as a store result for DOM_RETRY/ERR/PANIC.
 */
enum store_rc handler_fail(struct ctx *c, enum dom_rc rc, const char *coll,
    const char *key, struct patch_error *err);

/* Reads "limit" (1..100, default 10) and "offset" (>= 0; NULL: not read);
 * answers 400 search_param_invalid itself and returns -1. */
int handler_limit_offset(struct ctx *c, int64_t *limit, int64_t *offset);

/* Reads a boolean parameter; answers 400 and returns -1 when malformed. */
int handler_bool(struct ctx *c, const char *name, bool def, bool *out);

/* Appends the URL path "/v0/<c>/<k>" percent-encoded. */
void handler_item_path(struct buf *b, const char *collection, const char *key);

/*
 * The with_fields / without_fields of the request: 1 and *f (NULL when
 * neither was sent; free with fields_free), 0 after answering 400, -1 when
 * out of memory.
 */
int handler_fields(struct ctx *c, struct fields_filter **f);

/* Appends "&with_fields=...&without_fields=..." as the request sent them,
 * for next and prev links. */
void handler_fields_query(struct ctx *c, struct buf *b);

/*
 * value filtered by f (NULL: value itself): *out and *outlen, in the
 * request's arena. 0, or -1 when out of memory (or the stored value is
 * unreadable).
 */
int handler_filter(struct ctx *c, const struct fields_filter *f, const char *value,
    size_t vlen, const char **out, size_t *outlen);

/*
 * For lists: true when an entry of about len more bytes may still go into
 * this response (the first entry always may: a single value is always sent
 * whole). The cap is the config's max_response.
 */
bool handler_room(struct ctx *c, size_t len, int64_t taken);

#endif
