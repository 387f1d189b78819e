/*
 * worker: accept, parse, dispatch, answer. Only the request in hand is ever
 * lost when a worker dies, and its transaction was not committed, because the
 * answer is written only after the commit returned.
 */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "config.h"
#include "dispatch.h"
#include "fcgi.h"
#include "log.h"
#include "mem.h"
#include "reqparse.h"
#include "store.h"
#include "timefmt.h"

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

/* Reads the body; returns 0, or an HTTP status (400, 411, 413) with resp set. */
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

static void
write_response(struct fcgi_req *fr, const struct request *req, struct response *resp)
{
	struct buf h;

	buf_init(&h, 0);
	buf_printf(&h, "Status: %d %s\r\nContent-Type: application/json\r\n"
	    "X-ORCHESTRATE-REQ-ID: %s\r\nContent-Length: %zu\r\n",
	    resp->status, http_reason(resp->status), req->req_id, resp->body.b_len);
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

/* Handles one accepted request; returns -1 when the worker must exit. */
static int
handle(struct fcgi_req *fr, struct store *s, const struct config *cfg,
    struct ratelimit *rl, struct arena *a, struct response *resp)
{
	struct request req;
	struct parse_result pr;
	int rc = 0;

	memset(&req, 0, sizeof(req));
	memset(&pr, 0, sizeof(pr));
	req.arena = a;
	req.cfg = cfg;
	req.limiter = rl;
	req.now_ms = timefmt_now_ms();
	http_response_reset(resp);
	reqparse_fill(&req, &pr, get_param, fr);
	if (pr.path_rc == ROUTE_NOT_API) {
		http_error(resp, 404, "api_bad_request",
		    "The requested resource does not exist.", NULL);
	} else if (read_body(fr, &req, &pr, resp) == 0) {
		rc = dispatch_request(s, &req, &pr, resp);
	}
	write_response(fr, &req, resp);
	mem_reset(a);
	return rc;
}

static void
serve(const struct config *cfg, struct store *s, struct ratelimit *rl, int listen_fd)
{
	struct fcgi_req *fr = fcgi_req_new(listen_fd);
	struct arena *a = mem_new();
	struct response resp;
	sigset_t term, old;
	long served = 0;

	if (fr == NULL || a == NULL) {
		log_err("cannot initialise the FastCGI request");
		exit(WORKER_EXIT_PANIC);
	}
	http_response_init(&resp);
	/* A list page stops at max_response, but its first entry (a single
	 * value, at most max_body) always goes in whole, with room for the
	 * wrapper: a body past this cap is a fault (500), never cut short. */
	resp.body.b_max = (size_t)cfg->max_response + (size_t)cfg->max_body + ((size_t)1 << 20);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	while (!worker_stop) {
		if (fcgi_accept(fr) == -1) {
			if (worker_stop || errno == EINTR)
				continue;
			log_err("accept failed: %s", strerror(errno));
			break;
		}
		/* A stop request waits until the answer is out. */
		(void)sigprocmask(SIG_BLOCK, &term, &old);
		if (handle(fr, s, cfg, rl, a, &resp) == -1) {
			fcgi_finish(fr);
			log_err("store panic: exiting for recovery");
			exit(WORKER_EXIT_PANIC);
		}
		fcgi_finish(fr);
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		if (cfg->max_requests > 0 && ++served >= cfg->max_requests)
			break;
	}
	http_response_free(&resp);
	mem_free(a);
	fcgi_req_free(fr);
}

void
worker_main(const struct config *cfg, struct ratelimit *rl, int listen_fd,
    int ready_fd, int parent)
{
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
	if (write(ready_fd, "R", 1) != 1)
		log_warn("cannot report ready: %s", strerror(errno));
	(void)close(ready_fd);
	serve(cfg, s, rl, listen_fd);
	bool panicked = store_panicked(s);

	store_close(s);
	exit(panicked ? WORKER_EXIT_PANIC : WORKER_EXIT_OK);
}
