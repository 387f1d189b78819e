/*
 * routes: the table of the API's resources: path shape and method to
 * handler. 404 for a path no row has, 405 with the methods of the rows of
 * that shape for another method, and rows of features of a later release
 * answer 501 (they are not listed in Allow). A request with a query
 * parameter "query" on GET or HEAD of /v0 or /v0/{c} is a search.
 */
#ifndef ORCHID_ROUTES_H
#define ORCHID_ROUTES_H

#include <stdbool.h>

#include "handler.h"

/* The route a request took, for metrics: one per path shape (a search
 * has its own), RID_NONE for a path no row has. */
enum route_id {
	RID_NONE, RID_ROOT, RID_COLLECTION, RID_ITEM, RID_REFS, RID_REF, RID_EVENTS,
	RID_EVENTS_TS, RID_EVENT, RID_RELATION, RID_RELATIONS, RID_SEARCH_ROOT,
	RID_SEARCH_COLLECTION, RID_METRICS, RID_COUNT
};

struct route_match {
	handler_fn fn;       /* NULL: 404 or 405 */
	bool write;          /* runs in a write transaction */
	bool own;            /* runs its own transactions (c->store; c->txn is
	                      * NULL): bulk import and search, which must not
	                      * hold one transaction for the whole request */
	bool found;          /* some row has this path shape (else 404) */
	char allow[64];      /* for 405: "GET, HEAD, ..." */
	enum route_id id;    /* RID_NONE when !found */
};

/* Matches the request's method and path (segments after /v0). */
void routes_match(const struct request *req, struct route_match *m);

/* The route's label in metrics: its path template ("/v0/{collection}"). */
const char *routes_label(enum route_id id);

#endif
