/*
 * handle_export: GET /v0/{c}?export=true and GET /v0?export=true, the
 * export stream (export.h) of one collection or of all the tenant's, as a
 * streamed response (http.h). The handler checks the parameters and the
 * collection inside the request's transaction and sets the stream; the
 * worker runs it after that transaction ended, batch by batch, each batch
 * in a read transaction of its own that is over before its lines are
 * written to the client.
 */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collections.h"
#include "config.h"
#include "export.h"

/* The parameters of a collection listing: an export of the collection
 * takes none of them, and a known parameter is never ignored (docs/api.md). */
static const char *const list_params[] = {
	"limit", "offset", "startKey", "afterKey", "endKey", "beforeKey", "values",
	"with_fields", "without_fields", "query",
};

/* What the stream needs after the request's transaction; malloc'd, and
 * freed by export_release when the response lets go of the stream. */
struct export_stream {
	struct export *x;
	struct store *store;
	int retries;
};

int
handler_export_wanted(struct ctx *c)
{
	bool export, history;

	if (handler_bool(c, "export", false, &export) == -1 ||
	    handler_bool(c, "history", false, &history) == -1)
		return -1;
	if (history && !export) {
		http_error_bad_request(c->resp,
		    "history=true is a parameter of an export: send export=true too.");
		return -1;
	}
	return export ? 1 : 0;
}

static enum http_stream_rc
export_run(void *arg, struct http_sink *sink, const char **why)
{
	struct export_stream *es = arg;
	bool done = false;

	while (!done) {
		const char *data;
		size_t len;
		enum store_rc rc = export_next(es->x, es->store, es->retries, &data, &len,
		    &done);

		if (rc != STORE_OK) {
			*why = rc == STORE_PANIC ? "the environment needs recovery" :
			    rc == STORE_RETRY ? "a batch gave up after deadlocks" : "store error";
			return HTTP_STREAM_FAILED;
		}
		/* Also with no lines (a batch that only passed over deleted
		 * items): each batch is a chance to see a stop request. */
		switch (sink->write(sink, data, len)) {
		case HTTP_SINK_OK:
			break;
		case HTTP_SINK_GONE:
			return HTTP_STREAM_GONE;
		default:
			*why = "orchidd is stopping";
			return HTTP_STREAM_FAILED;
		}
	}
	return HTTP_STREAM_DONE;
}

static void
export_release(void *arg)
{
	struct export_stream *es = arg;

	if (es == NULL)
		return;
	export_free(es->x);
	free(es);
}

/* 400 when a listing parameter came with export=true. */
static int
no_list_params(struct ctx *c)
{
	char why[160];

	for (size_t i = 0; i < sizeof(list_params) / sizeof(list_params[0]); i++) {
		if (query_get(&c->req->query, list_params[i], NULL) == NULL)
			continue;
		snprintf(why, sizeof(why), "An export takes only history=true; %s is a "
		    "parameter of a listing.", list_params[i]);
		http_error_bad_request(c->resp, why);
		return -1;
	}
	return 0;
}

enum store_rc
handle_export(struct ctx *c, const char *coll)
{
	struct export_spec spec;
	struct export_stream *es;
	struct http_stream s;
	struct dom d;
	uint64_t cid;
	bool history;
	enum dom_rc rc;

	/* GET /v0 has no listing parameters: there they are unknown, and
	 * ignored as every unknown parameter is. */
	if (handler_bool(c, "history", false, &history) == -1 ||
	    (coll != NULL && no_list_params(c) == -1))
		return STORE_OK;
	handler_dom(c, &d);
	if (coll != NULL && (rc = coll_lookup(&d, coll, &cid)) != DOM_OK)
		return handler_fail(c, rc, coll, NULL, NULL);
	memset(&spec, 0, sizeof(spec));
	spec.tenant = c->req->tenant;
	spec.coll = coll;
	spec.history = history;
	spec.batch_records = c->req->cfg->export_batch;
	spec.batch_bytes = EXPORT_BATCH_BYTES;
	if ((es = calloc(1, sizeof(*es))) == NULL)
		return STORE_ERR;
	es->store = c->store;
	es->retries = c->req->cfg->deadlock_retries;
	if ((es->x = export_new(&spec)) == NULL) {
		export_release(es);
		return STORE_ERR;
	}
	s.run = export_run;
	s.release = export_release;
	s.arg = es;
	http_response_stream(c->resp, EXPORT_CONTENT_TYPE, &s);
	return STORE_OK;
}
