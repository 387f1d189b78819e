/*
 * http: the request and response as handlers see them, independent of
 * FastCGI. Error bodies with the API's codes, response headers, and the
 * conditional headers (If-Match, If-None-Match).
 */
#ifndef ORCHID_HTTP_H
#define ORCHID_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "query.h"
#include "route.h"

struct arena;
struct config;
struct metrics;

enum http_method { M_GET, M_HEAD, M_PUT, M_POST, M_PATCH, M_DELETE, M_OTHER };

struct request {
	struct arena *arena;
	const struct config *cfg;
	enum http_method method;
	const char *method_name;
	const char *uri;            /* raw REQUEST_URI */
	const char *path_raw;       /* the part before '?', in the arena */
	size_t path_raw_len;
	const char *query_raw;      /* the part after '?', or "" */
	size_t query_raw_len;
	struct path path;
	struct query query;
	const char *authorization;  /* header values, or NULL when absent */
	const char *if_match;
	const char *if_none_match;
	const char *content_type;
	const char *read_after;     /* Orchid-Read-After: a commit token */
	const char *body;           /* body bytes (not NUL-terminated) */
	size_t body_len;
	char req_id[40];
	uint32_t tenant;            /* set by auth */
	int64_t now_ms;             /* fixed at the start of the request */
	struct ratelimit *limiter;  /* shared per-tenant buckets, or NULL */
	int slot;                   /* the worker's slot (its in-flight entry) */
	struct metrics *metrics;    /* shared counters; NULL: metrics = 0 */
	int route;                  /* enum route_id, set by dispatch; 0: none */
};

/*
 * A streamed body, for a response too large to build in memory (an
 * export). The handler checks the request and sets the stream inside the
 * request's transaction; the worker runs it after that transaction ended:
 * it writes the headers (no Content-Length), then calls run, which writes
 * the body piece by piece through the sink.
 */
enum http_sink_rc {
	HTTP_SINK_OK,
	HTTP_SINK_GONE,    /* the client went away: stop */
	HTTP_SINK_STOP     /* the process must stop: end the body as failed */
};

struct http_sink {
	enum http_sink_rc (*write)(struct http_sink *sink, const void *p, size_t len);
	void *ctx;
};

enum http_stream_rc {
	HTTP_STREAM_DONE,    /* the whole body was written */
	HTTP_STREAM_GONE,    /* the client went away */
	HTTP_STREAM_FAILED   /* the body is incomplete: it must not look whole */
};

struct http_stream {
	/* Writes the body; on HTTP_STREAM_FAILED *why says why (static). */
	enum http_stream_rc (*run)(void *arg, struct http_sink *sink, const char **why);
	/* Frees arg, whether run was called or not. */
	void (*release)(void *arg);
	void *arg;
};

struct response {
	int status;
	const char *content_type;   /* static; NULL: application/json */
	struct buf headers;         /* "Name: value\r\n" lines */
	struct buf body;
	struct http_stream stream;  /* run != NULL: the body is streamed */
};

/* Maps a method name to the enum (M_OTHER when unknown). */
enum http_method http_method_parse(const char *name);

/* The reason phrase of a status code ("Created"). */
const char *http_reason(int status);

/* Initialises and frees a response's buffers; reset empties it for a retry
 * (and releases a stream it holds). */
void http_response_init(struct response *r);
void http_response_free(struct response *r);
void http_response_reset(struct response *r);

/*
 * Makes the response a 200 whose body is the stream s (copied; the response
 * releases it when reset or freed, or the worker after running it), with
 * content_type (a static string).
 */
void http_response_stream(struct response *r, const char *content_type,
    const struct http_stream *s);

/* Adds a header line; the value is formatted. */
void http_header(struct response *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Replaces the response with an error: status, JSON body
 * {"message","code"[,"details"]}; details_json is raw JSON or NULL.
 */
void http_error(struct response *r, int status, const char *code,
    const char *message, const char *details_json);

/* 404 items_not_found naming collection and key in details.items. */
void http_error_not_found(struct response *r, const char *collection, const char *key);

/* The common errors. */
#define HTTP_MSG_BAD_REQUEST "The API request is malformed."
void http_error_bad_request(struct response *r, const char *why);
void http_error_internal(struct response *r);
void http_error_unavailable(struct response *r, const char *why);

/* A parsed If-Match or If-None-Match header. */
#define HTTP_MAX_TAGS 16
struct etag_list {
	bool any;    /* "*" */
	size_t n;
	struct {
		char tag[65];
		bool weak;
	} t[HTTP_MAX_TAGS];
};

/*
 * Parses a comma-separated list of entity tags: each "*", "tag", W/"tag" or a
 * bare tag; a tag must be 1..64 hex digits. Returns 0, or -1 when malformed
 * (the API's item_ref_malformed).
 */
int http_parse_etags(const char *header, struct etag_list *out);

/* True when the list holds "*" or a strong tag equal to ref (hex, any case). */
bool http_etags_match(const struct etag_list *l, const char *ref);

#endif
