/*
 * worker: accept, parse, dispatch, answer. Only the request in hand is ever
 * lost when a worker dies, and its transaction was not committed, because the
 * answer is written only after the commit returned.
 */
#include "worker.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "index.h"
#include "dispatch.h"
#include "fcgi.h"
#include "log.h"
#include "ratelimit.h"
#include "mem.h"
#include "metrics.h"
#include "reqparse.h"
#include "routes.h"
#include "store.h"
#include "timefmt.h"

/* A request or response past this size has its memory given back to the
 * system once it is answered (see handle). */
#define RELEASE_BYTES ((size_t)1 << 20)

static volatile sig_atomic_t worker_stop;

static void
on_term(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term; /* no SA_RESTART: accept() must return */
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGCHLD, &sa, NULL);
}

/* The largest body of this request: max_bulk_body for a bulk import
 * (POST /v0), max_body otherwise. nginx has the same two limits. */
static int64_t
body_limit(const struct request *req, const struct parse_result *pr)
{
	if (req->method == M_POST && pr->path_rc == ROUTE_OK && req->path.nseg == 0)
		return req->cfg->max_bulk_body;
	return req->cfg->max_body;
}

/* Reads the body; returns 0, an HTTP status (400, 411, 413) with resp set,
 * or -1 when it did not arrive within request_read_timeout (answer nothing). */
static int
read_body(struct fcgi_req *fr, struct request *req, const struct parse_result *pr,
    struct response *resp)
{
	int64_t len = 0;
	char *body;
	int st = reqparse_content_length(fcgi_param(fr, "CONTENT_LENGTH"),
	    body_limit(req, pr), &len);

	if (st == 400) {
		http_error_bad_request(resp, "The Content-Length is not a number.");
		return 400;
	}
	if (st == 413) {
		http_error(resp, 413, "request_too_large",
		    "The request body is larger than the server accepts.", NULL);
		return 413;
	}
	if (len == 0)
		return 0;
	body = mem_alloc(req->arena, (size_t)len);
	if (body == NULL) {
		http_error_unavailable(resp, "Out of memory.");
		return 503;
	}
	if (fcgi_read(fr, body, (size_t)len) != (size_t)len) {
		if (fcgi_read_expired(fr))
			return -1;
		http_error_bad_request(resp, "The request body is shorter than its Content-Length.");
		return 400;
	}
	req->body = body;
	req->body_len = (size_t)len;
	return 0;
}

static const char *
get_param(void *ctx, const char *name)
{
	return fcgi_param(ctx, name);
}

/* The status line and the headers every response has, into h. */
static void
head_lines(struct buf *h, const struct request *req, const struct response *resp)
{
	char status[4];

	/* No printf: these lines go out with every answer. */
	status[0] = (char)('0' + resp->status / 100 % 10);
	status[1] = (char)('0' + resp->status / 10 % 10);
	status[2] = (char)('0' + resp->status % 10);
	status[3] = '\0';
	buf_adds(h, "Status: ");
	if (resp->status >= 100 && resp->status <= 999)
		buf_adds(h, status);
	else
		buf_printf(h, "%d", resp->status);
	buf_addc(h, ' ');
	buf_adds(h, http_reason(resp->status));
	buf_adds(h, "\r\nContent-Type: ");
	buf_adds(h, resp->content_type != NULL ? resp->content_type : "application/json");
	buf_adds(h, "\r\nX-ORCHESTRATE-REQ-ID: ");
	buf_adds(h, req->req_id);
	buf_adds(h, "\r\n");
}

static void
write_response(struct fcgi_req *fr, const struct request *req, struct response *resp)
{
	struct buf h;

	buf_init(&h, 0);
	head_lines(&h, req, resp);
	buf_printf(&h, "Content-Length: %zu\r\n", resp->body.b_len);
	if (resp->headers.b_len > 0)
		buf_add(&h, resp->headers.b_data, resp->headers.b_len);
	buf_adds(&h, "\r\n");
	if (h.b_failed || fcgi_write(fr, h.b_data, h.b_len) == -1 ||
	    (req->method != M_HEAD && resp->body.b_len > 0 &&
	    fcgi_write(fr, resp->body.b_data, resp->body.b_len) == -1))
		log_info("%s %s: the client went away before the answer", req->method_name,
		    req->uri);
	buf_free(&h);
}

/* The worker's end of a streamed body: the FastCGI request, what went out,
 * and when a stop request was first seen. */
struct sink_state {
	struct fcgi_req *fr;
	const struct config *cfg;
	uint64_t bytes;
	int64_t stop_seen_ms;    /* 0: none yet */
};

/*
 * A stop (SIGTERM, SIGINT) waits, blocked, until the request in hand is
 * answered; a stream can take far longer than the master waits before it
 * kills a worker (shutdown_timeout), and a worker killed mid-stream would
 * end the body as if it were whole (fcgi.c; only an export's missing end
 * line would tell). So a stream may go on for half
 * of shutdown_timeout after a stop arrived, then it is ended as failed.
 */
static bool
must_stop(struct sink_state *st)
{
	sigset_t pending;
	int64_t now;

	if (sigpending(&pending) == -1 ||
	    (!sigismember(&pending, SIGTERM) && !sigismember(&pending, SIGINT)))
		return false;
	now = timefmt_now_ms();
	if (st->stop_seen_ms == 0)
		st->stop_seen_ms = now;
	return now - st->stop_seen_ms >= (int64_t)st->cfg->shutdown_timeout * 500;
}

/* A stream is written in pieces of this size, so that a client that reads
 * slowly delays the next look at a stop request by one piece, not by a
 * whole batch. */
#define SINK_PIECE ((size_t)16 << 10)

static enum http_sink_rc
sink_write(struct http_sink *sink, const void *p, size_t len)
{
	struct sink_state *st = sink->ctx;
	const char *c = p;

	do {
		size_t n = len < SINK_PIECE ? len : SINK_PIECE;

		if (must_stop(st))
			return HTTP_SINK_STOP;
		if (fcgi_write(st->fr, c, n) == -1)
			return HTTP_SINK_GONE;
		st->bytes += n;
		c += n;
		len -= n;
	} while (len > 0);
	return HTTP_SINK_OK;
}

/*
 * Sends a streamed response: the headers without Content-Length, and
 * X-Accel-Buffering: no, so nginx passes the body on as it comes instead
 * of spooling it to a temp file; then the body. A body that fails half-way
 * ends with fcgi_abort, so the client sees a broken transfer.
 */
static void
write_stream(struct fcgi_req *fr, const struct config *cfg, const struct request *req,
    struct response *resp)
{
	struct sink_state st = { fr, cfg, 0, 0 };
	struct http_sink sink = { sink_write, &st };
	const char *why = "";
	struct buf h;
	enum http_stream_rc rc = HTTP_STREAM_DONE;

	buf_init(&h, 0);
	head_lines(&h, req, resp);
	buf_adds(&h, "X-Accel-Buffering: no\r\n");
	if (resp->headers.b_len > 0)
		buf_add(&h, resp->headers.b_data, resp->headers.b_len);
	buf_adds(&h, "\r\n");
	if (h.b_failed) {
		rc = HTTP_STREAM_FAILED;
		why = "out of memory";
	} else if (fcgi_write(fr, h.b_data, h.b_len) == -1) {
		rc = HTTP_STREAM_GONE;
	} else if (req->method != M_HEAD) {
		rc = resp->stream.run(resp->stream.arg, &sink, &why);
	}
	buf_free(&h);
	if (rc == HTTP_STREAM_GONE)
		log_info("%s %s: the client went away after %llu bytes of the stream",
		    req->method_name, req->uri, (unsigned long long)st.bytes);
	if (rc == HTTP_STREAM_FAILED) {
		log_err("%s %s: the stream failed after %llu bytes (%s): connection aborted",
		    req->method_name, req->uri, (unsigned long long)st.bytes, why);
		fcgi_abort(fr);
	}
}

_Static_assert(RID_COUNT <= METRICS_ROUTES, "metrics.h: METRICS_ROUTES too small");
_Static_assert(M_OTHER < METRICS_METHODS, "metrics.h: METRICS_METHODS too small");

/* What one worker needs for every request. */
struct worker_ctx {
	struct store *s;
	const struct config *cfg;
	struct ratelimit *rl;
	struct metrics *metrics;   /* NULL: metrics = 0 */
	int slot;                  /* the worker's number */
	uint64_t retries_seen;     /* store_retry_count() at the last count */
	uint64_t dropped;          /* late connections not logged yet */
	int64_t dropped_logged_ms; /* when the last were logged; 0: never */
};

static uint64_t
mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Connections dropped for their deadline are logged at most this often
 * per worker (a flood of them must not flood the journal). */
#define DROP_LOG_MS 10000

/* Logs the connections dropped since the last line: always when force,
 * else when DROP_LOG_MS have passed since it. */
static void
log_dropped(struct worker_ctx *w, bool force)
{
	int64_t now = (int64_t)(mono_us() / 1000);

	if (w->dropped == 0 || (!force && w->dropped_logged_ms != 0 &&
	    now - w->dropped_logged_ms < DROP_LOG_MS))
		return;
	log_warn("dropped %llu FastCGI connection%s that did not send a whole request "
	    "within request_read_timeout (%d s); nginx sends its requests whole: is "
	    "something else connecting to the socket?", (unsigned long long)w->dropped,
	    w->dropped == 1 ? "" : "s", w->cfg->request_read_timeout);
	w->dropped = 0;
	w->dropped_logged_ms = now;
}

/* GET or HEAD /metrics (handle_metrics.c); 404 when metrics are off. */
static bool
is_metrics(const struct request *req)
{
	return req->metrics != NULL && req->path_raw != NULL && req->path_raw_len == 8 &&
	    memcmp(req->path_raw, "/metrics", 8) == 0;
}

static int
answer_metrics(struct store *s, struct request *req, struct response *resp)
{
	struct ctx c = { req, resp, NULL, s };
	enum store_rc rc;

	req->route = RID_METRICS;
	if (req->method != M_GET && req->method != M_HEAD) {
		http_error(resp, 405, "api_bad_request",
		    "The method is not allowed for the requested resource.", NULL);
		http_header(resp, "Allow", "GET, HEAD");
		return 0;
	}
	rc = handle_metrics(&c);
	if (rc == STORE_OK)
		return 0;
	log_err("GET /metrics: the environment's statistics could not be read");
	http_response_reset(resp);
	http_error_internal(resp);
	return rc == STORE_PANIC ? -1 : 0;
}

/* Counts the answered request (metrics.h). */
static void
count(struct worker_ctx *w, const struct request *req, const struct response *resp,
    uint64_t start_us)
{
	uint64_t stored = 0, retries = store_retry_count();

	if ((req->method == M_PUT || req->method == M_POST || req->method == M_PATCH) &&
	    resp->status >= 200 && resp->status < 300)
		stored = req->body_len;
	metrics_request(w->metrics, w->slot, req->route, (int)req->method, resp->status,
	    mono_us() - start_us, req->tenant, stored);
	metrics_retries(w->metrics, w->slot, retries - w->retries_seen);
	w->retries_seen = retries;
}

/* Handles one accepted request; returns -1 when the worker must exit. The
 * response is released (a stream it holds too) before the arena. */
static int
handle(struct fcgi_req *fr, struct worker_ctx *w, struct arena *a, struct response *resp)
{
	struct store *s = w->s;
	const struct config *cfg = w->cfg;
	struct request req;
	struct parse_result pr;
	uint64_t start_us = w->metrics != NULL ? mono_us() : 0;
	bool big;
	int rc = 0, body_rc = 0;

	memset(&req, 0, sizeof(req));
	memset(&pr, 0, sizeof(pr));
	req.arena = a;
	req.cfg = cfg;
	req.limiter = w->rl;
	req.slot = w->slot;
	req.metrics = w->metrics;
	req.now_ms = timefmt_now_ms();
	http_response_reset(resp);
	reqparse_fill(&req, &pr, get_param, fr);
	if (pr.path_rc != ROUTE_NOT_API)
		body_rc = read_body(fr, &req, &pr, resp);
	fcgi_read_end(fr);
	if (body_rc == -1) {
		fcgi_drop(fr);
		w->dropped++;
		log_dropped(w, false);
		mem_reset(a);
		return 0;
	}
	if (pr.path_rc == ROUTE_NOT_API && is_metrics(&req)) {
		rc = answer_metrics(s, &req, resp);
	} else if (pr.path_rc == ROUTE_NOT_API) {
		http_error(resp, 404, "api_bad_request",
		    "The requested resource does not exist.", NULL);
	} else if (body_rc == 0) {
		rc = dispatch_request(s, &req, &pr, resp);
	}
	if (resp->stream.run != NULL)
		write_stream(fr, cfg, &req, resp);
	else
		write_response(fr, &req, resp);
	/* The request no longer counts against its tenant's share. */
	ratelimit_leave(w->rl, w->slot);
	/* Berkeley DB panicked, or a write of its failed (an I/O error), in
	 * this request: this answer was complete (a commit that succeeded was
	 * flushed), but the environment is to be recovered, so the worker
	 * exits after it. */
	if (store_panicked(s))
		rc = -1;
	if (w->metrics != NULL)
		count(w, &req, resp, start_us);
	big = resp->body.b_cap > RELEASE_BYTES || resp->headers.b_cap > RELEASE_BYTES ||
	    req.body_len > RELEASE_BYTES;
	http_response_reset(resp);
	mem_reset(a);
	if (big) {
		/* A large answer's (or request's) memory goes back to the system
		 * instead of staying with this worker for the rest of its life:
		 * the response buffers, and the heap pages glibc would keep. */
		buf_free(&resp->body);
		buf_free(&resp->headers);
		(void)malloc_trim(0);
	}
	return rc;
}

static void
serve(struct worker_ctx *w, int listen_fd, int handoff_recv, int handoff_send)
{
	struct fcgi_req *fr = fcgi_req_new(listen_fd, w->cfg->request_read_timeout);
	struct arena *a = mem_new();
	struct response resp;
	sigset_t term, old;
	long served = 0;

	if (fr == NULL || a == NULL ||
	    fcgi_set_handoff(fr, handoff_recv, handoff_send, w->cfg->handoff_after) == -1) {
		log_err("cannot initialise the FastCGI request: %s", strerror(errno));
		exit(WORKER_EXIT_PANIC);
	}
	http_response_init(&resp);
	/* A list page stops at max_response, but its first entry (a single
	 * value, at most max_body) always goes in whole, with room for the
	 * wrapper: a body past this cap is a fault (500), never cut short. */
	resp.body.b_max = (size_t)w->cfg->max_response + (size_t)w->cfg->max_body + ((size_t)1 << 20);
	/* A stop request is taken only while the worker waits for a request
	 * (fcgi_accept unblocks it there, atomically): a request in hand is
	 * answered first. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &term, &old);
	fcgi_set_wait_mask(fr, &old);
	while (!worker_stop) {
		if (fcgi_accept(fr) == -1) {
			if (worker_stop || errno == EINTR)
				continue;
			if (errno == ETIMEDOUT) {
				w->dropped++;
				log_dropped(w, false);
				continue;
			}
			if (errno == EPROTO) {
				log_debug("a FastCGI connection closed without a whole request");
				continue;
			}
			log_err("accept failed: %s", strerror(errno));
			break;
		}
		if (handle(fr, w, a, &resp) == -1) {
			fcgi_finish(fr);
			log_err("store panic: exiting for recovery");
			exit(WORKER_EXIT_PANIC);
		}
		fcgi_finish(fr);
		if (w->cfg->max_requests > 0 && ++served >= w->cfg->max_requests)
			break;
	}
	log_dropped(w, true);
	http_response_free(&resp);
	mem_free(a);
	/* The kept connections go to the other workers. */
	fcgi_req_free(fr);
}

void
worker_main(const struct config *cfg, struct ratelimit *rl, struct metrics *metrics,
    int listen_fd, const int handoff[2], int ready_fd, int parent, int slot)
{
	struct worker_ctx w;
	struct store *s = NULL;
	char err[512];

	log_init("worker", cfg->log_level);
	(void)prctl(PR_SET_NAME, "orchidd-worker", 0, 0, 0);
	/* Die with the master: no worker may outlive it and meet a new
	 * master's recovery. The check catches a master that died first. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(WORKER_EXIT_OK);
	setup_signals();
	if (store_open(cfg, &s, err, sizeof(err)) == -1) {
		log_err("%s", err);
		_exit(WORKER_EXIT_PANIC);
	}
	/* Worker n writes to search outbox slot n (index.h). */
	if (index_init(s, slot, err, sizeof(err)) == -1) {
		log_err("%s", err);
		store_close(s);
		_exit(WORKER_EXIT_PANIC);
	}
	if (write(ready_fd, "R", 1) != 1)
		log_warn("cannot report ready: %s", strerror(errno));
	(void)close(ready_fd);
	memset(&w, 0, sizeof(w));
	w.s = s;
	w.cfg = cfg;
	w.rl = rl;
	/* The slot's last worker may have died in a request. */
	ratelimit_leave(rl, slot);
	w.metrics = cfg->metrics ? metrics : NULL;
	w.slot = slot;
	w.retries_seen = store_retry_count();
	serve(&w, listen_fd, handoff[0], handoff[1]);
	bool panicked = store_panicked(s);

	store_close(s);
	exit(panicked ? WORKER_EXIT_PANIC : WORKER_EXIT_OK);
}
