/*
 * dispatch: one request from authentication to the handler's answer. Maps
 * method and path to a handler (404 for unknown paths, 405 with Allow for
 * known paths and other methods), runs it in one transaction, retries
 * deadlocks a bounded number of times, and commits only a successful answer.
 */
#ifndef ORCHID_DISPATCH_H
#define ORCHID_DISPATCH_H

#include "http.h"
#include "route.h"

struct store;

/* What the worker learned about the path and query before dispatching. */
struct parse_result {
	enum route_rc path_rc;
	const char *path_why;
	int query_bad;
	const char *query_why;
};

/*
 * Answers req into resp. Returns 0, or -1 when the store panicked: the
 * answer (a 503) must still be sent, then the worker must exit.
 */
int dispatch_request(struct store *s, struct request *req,
    const struct parse_result *pr, struct response *resp);

#endif
