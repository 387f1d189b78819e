/*
 * check_fcgi: unit tests for src/fcgi.h over a real Unix socket: a test
 * plays nginx (connects, sends a FastCGI request, reads the records back)
 * against fcgi_accept / fcgi_write and then fcgi_finish or fcgi_abort.
 *
 * What nginx relies on (fcgi.c): a finished request ends with an empty
 * FCGI_STDOUT record and FCGI_END_REQUEST; an aborted one never carries
 * FCGI_END_REQUEST nor the empty FCGI_STDOUT, and ends with a record
 * header that is not FastCGI (version 0) before the connection closes.
 * The records are parsed here independently of libfcgi.
 *
 * How fcgi_finish closes: at once when the request's input was read to its
 * end (the empty FCGI_STDIN record), the careful way (shutdown, then read
 * until the peer closes) when input is left unread. Told apart without
 * timing: after the client has read the answer to its end, a write of its
 * own fails (EPIPE) only if the server's socket is closed.
 */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

#define T_END_REQUEST	3
#define T_PARAMS	4
#define T_STDIN		5
#define T_STDOUT	6

/* A listening socket in a temp directory and a client connected to it. */
struct pair {
	char dir[256];
	char path[300];
	int listen_fd;
	int client;
};

static void
pair_open(struct pair *p)
{
	struct sockaddr_un sa;
	const char *t = getenv("TMPDIR");
	int n;

	n = snprintf(p->dir, sizeof(p->dir), "%s/check_fcgi.XXXXXX",
	    t != NULL && t[0] == '/' && strlen(t) < 60 ? t : "/tmp");
	ck_assert_msg(n > 0 && (size_t)n < sizeof(p->dir), "temp dir name too long");
	ck_assert_msg(mkdtemp(p->dir) != NULL, "mkdtemp: got NULL, want a directory");
	snprintf(p->path, sizeof(p->path), "%s/s", p->dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	ck_assert_msg(strlen(p->path) < sizeof(sa.sun_path), "socket path too long");
	memcpy(sa.sun_path, p->path, strlen(p->path) + 1);
	p->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_msg(p->listen_fd >= 0, "socket: got -1 (%s)", strerror(errno));
	ck_assert_msg(bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    listen(p->listen_fd, 4) == 0, "bind/listen: %s", strerror(errno));
	p->client = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_msg(p->client >= 0 &&
	    connect(p->client, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	    "connect: %s", strerror(errno));
}

static void
pair_close(struct pair *p)
{
	(void)close(p->client);
	(void)close(p->listen_fd);
	(void)unlink(p->path);
	(void)rmdir(p->dir);
}

static void
put_record(unsigned char *b, size_t *n, int type, const void *body, size_t len)
{
	unsigned char *h = b + *n;

	h[0] = 1;
	h[1] = (unsigned char)type;
	h[2] = 0;
	h[3] = 1;                 /* request id 1, as nginx sends */
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = 0;
	h[7] = 0;
	if (len > 0)
		memcpy(h + 8, body, len);
	*n += 8 + len;
}

/* Sends what nginx sends for "GET /": BEGIN_REQUEST, PARAMS, empty STDIN. */
static void
send_request(int fd)
{
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 }; /* responder */
	static const unsigned char params[] = {
		14, 3, 'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H', 'O', 'D',
		'G', 'E', 'T',
	};
	unsigned char b[256];
	size_t n = 0;

	put_record(b, &n, 1, begin, sizeof(begin));
	put_record(b, &n, T_PARAMS, params, sizeof(params));
	put_record(b, &n, T_PARAMS, NULL, 0);
	put_record(b, &n, T_STDIN, NULL, 0);
	ck_assert_msg(write(fd, b, n) == (ssize_t)n, "sending the request: %s",
	    strerror(errno));
	/* Nothing more comes (as from nginx), and libfcgi's close, which waits
	 * for the peer's end, sees it at once. */
	ck_assert_msg(shutdown(fd, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
}

/* Everything the client reads until the server closes. */
static unsigned char *
read_all(int fd, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	unsigned char *b = malloc(cap);

	ck_assert_msg(b != NULL, "malloc: got NULL");
	for (;;) {
		ssize_t r;

		if (n == cap) {
			cap *= 2;
			b = realloc(b, cap);
			ck_assert_msg(b != NULL, "realloc: got NULL");
		}
		r = read(fd, b + n, cap - n);
		ck_assert_msg(r >= 0, "read: got -1 (%s), want data or EOF", strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return b;
}

/* What the response records say. */
struct parsed {
	size_t stdout_bytes;      /* content of FCGI_STDOUT records */
	int empty_stdout;         /* empty FCGI_STDOUT records (end of stdout) */
	int end_requests;
	bool bad_tail;            /* ends with 8 bytes whose version is not 1 */
	bool malformed;           /* anything else that does not parse */
	bool prefix_ok;           /* the content is a prefix of what was written */
};

static void
parse(const unsigned char *b, size_t len, const char *written, struct parsed *p)
{
	size_t i = 0;

	memset(p, 0, sizeof(*p));
	p->prefix_ok = true;
	while (i < len) {
		size_t clen, plen;

		if (len - i == 8 && b[i] != 1) {
			p->bad_tail = true;
			return;
		}
		if (len - i < 8 || b[i] != 1 || b[i + 2] != 0 || b[i + 3] != 1) {
			p->malformed = true;
			return;
		}
		clen = (size_t)b[i + 4] << 8 | b[i + 5];
		plen = b[i + 6];
		if (len - i - 8 < clen + plen) {
			p->malformed = true;
			return;
		}
		if (b[i + 1] == T_STDOUT && clen == 0)
			p->empty_stdout++;
		else if (b[i + 1] == T_STDOUT) {
			if (memcmp(b + i + 8, written + p->stdout_bytes, clen) != 0)
				p->prefix_ok = false;
			p->stdout_bytes += clen;
		} else if (b[i + 1] == T_END_REQUEST)
			p->end_requests++;
		else
			p->malformed = true;
		i += 8 + clen + plen;
	}
}

struct end_case {
	size_t written;     /* bytes of response the handler writes */
	bool abort;         /* fcgi_abort, else fcgi_finish */
};

/* Written sizes around libfcgi's 8 KiB output buffer (all of it fits in the
 * socket's buffer: the test reads only after the server ended). */
static const struct end_case end_core[] = {
	{ 0, false }, { 100, false }, { 20000, false },
};
static const struct end_case end_limits[] = {
	{ 8191, false }, { 8192, false }, { 8193, false }, { 65535, false }, { 65536, false },
	{ 8191, true }, { 8192, true }, { 8193, true }, { 65535, true }, { 65536, true },
};
/* What nginx sends for a request with a body of len bytes (none: len 0):
 * BEGIN_REQUEST, PARAMS, STDIN with the body, the empty STDIN; the
 * connection stays open, as nginx leaves it until the answer is in. */
static void
send_post(int fd, const char *body, size_t len, bool keep)
{
	/* Role responder; flags: FCGI_KEEP_CONN when the connection is kept. */
	const unsigned char begin[8] = { 0, 1, keep ? 1 : 0, 0, 0, 0, 0, 0 };
	static const unsigned char params[] = {
		14, 4, 'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H', 'O', 'D',
		'P', 'O', 'S', 'T',
	};
	unsigned char b[512];
	size_t n = 0;

	put_record(b, &n, 1, begin, sizeof(begin));
	put_record(b, &n, T_PARAMS, params, sizeof(params));
	put_record(b, &n, T_PARAMS, NULL, 0);
	if (len > 0)
		put_record(b, &n, T_STDIN, body, len);
	put_record(b, &n, T_STDIN, NULL, 0);
	ck_assert_msg(write(fd, b, n) == (ssize_t)n, "sending the request: %s",
	    strerror(errno));
}

static void
send_body_request(int fd, const char *body, size_t len)
{
	send_post(fd, body, len, false);
}

struct close_case {
	const char *body;   /* request body ("" for none) */
	size_t read;        /* bytes of it the handler reads */
	bool closed;        /* want: the server closed at once */
};

static const struct close_case close_cases[] = {
	{ "", 0, true },            /* GET: nothing but the end of input */
	{ "{\"a\":1}", 7, true },   /* the whole body read */
	{ "{\"a\":1}", 0, false },  /* answered before reading the body */
	{ "{\"a\":1}", 3, false },  /* part of the body read */
};

/* The close cases without a read deadline, then with one. */
static const int close_timeouts[] = { 0, 10 };

START_TEST(test_close)
{
	const struct close_case *tc = &close_cases[_i % NCASES(close_cases)];
	int timeout = close_timeouts[_i / NCASES(close_cases)];
	struct pair p;
	unsigned char *resp;
	size_t len;
	ssize_t w;
	int status, err;
	pid_t pid;

	pair_open(&p);
	send_body_request(p.client, tc->body, strlen(tc->body));
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct fcgi_req *r = fcgi_req_new(p.listen_fd, timeout);
		char buf[16];

		/* Only the peer holds its end (the careful close waits for it). */
		(void)close(p.client);
		if (r == NULL || fcgi_accept(r) != 0 ||
		    fcgi_read(r, buf, tc->read) != tc->read || fcgi_write(r, "ok", 2) != 0)
			_exit(2);
		fcgi_finish(r);
		_exit(0);
	}
	(void)signal(SIGPIPE, SIG_IGN);
	resp = read_all(p.client, &len);
	w = write(p.client, "more", 4);
	err = errno;
	(void)close(p.client);
	p.client = -1;
	ck_assert_msg(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "body \"%s\", %zu read: the server side failed "
	    "(status %d)", tc->body, tc->read, status);
	ck_assert_msg(len > 0, "body \"%s\", %zu read: got no answer", tc->body, tc->read);
	if (tc->closed)
		ck_assert_msg(w == -1 && (err == EPIPE || err == ECONNRESET), "body \"%s\", "
		    "%zu read: a write after the answer got %zd (errno %d), want EPIPE: the "
		    "server should have closed at once", tc->body, tc->read, w, err);
	else
		ck_assert_msg(w == 4, "body \"%s\", %zu read: a write after the answer got "
		    "%zd (errno %d), want 4: the server should drain unread input before "
		    "it closes", tc->body, tc->read, w, err);
	free(resp);
	pair_close(&p);
}
END_TEST

static const struct end_case end_errors[] = {
	{ 0, true }, { 100, true }, { 20000, true }, { 70000, true },
};

static void
run_end_case(const struct end_case *tc)
{
	struct pair p;
	struct fcgi_req *r;
	struct parsed got;
	unsigned char *resp;
	char *data = malloc(tc->written + 1);
	size_t len;

	ck_assert_msg(data != NULL, "malloc: got NULL");
	for (size_t i = 0; i < tc->written; i++)
		data[i] = (char)('a' + i % 26);
	pair_open(&p);
	send_request(p.client);
	r = fcgi_req_new(p.listen_fd, 0);
	ck_assert_msg(r != NULL, "fcgi_req_new: got NULL, want a request");
	ck_assert_msg(fcgi_accept(r) == 0, "fcgi_accept: got -1, want 0");
	ck_assert_msg(strcmp(fcgi_param(r, "REQUEST_METHOD"), "GET") == 0,
	    "REQUEST_METHOD: got %s, want GET", fcgi_param(r, "REQUEST_METHOD"));
	ck_assert_msg(fcgi_write(r, data, tc->written) == 0, "fcgi_write(%zu): got -1, "
	    "want 0", tc->written);
	if (tc->abort)
		fcgi_abort(r);
	else
		fcgi_finish(r);
	/* Both leave nothing to end: a second end writes nothing more. */
	fcgi_finish(r);
	fcgi_abort(r);
	resp = read_all(p.client, &len);
	parse(resp, len, data, &got);
	ck_assert_msg(!got.malformed, "%zu bytes, abort %d: got a malformed record",
	    tc->written, tc->abort);
	ck_assert_msg(got.prefix_ok, "%zu bytes, abort %d: the content is not what was "
	    "written", tc->written, tc->abort);
	if (tc->abort) {
		ck_assert_msg(got.bad_tail && got.end_requests == 0 && got.empty_stdout == 0,
		    "abort after %zu bytes: got bad tail %d, %d END_REQUEST, %d empty STDOUT; "
		    "want a bad tail and neither", tc->written, got.bad_tail, got.end_requests,
		    got.empty_stdout);
		ck_assert_msg(got.stdout_bytes <= tc->written, "abort after %zu bytes: got "
		    "%zu bytes of content, want at most that", tc->written, got.stdout_bytes);
	} else {
		ck_assert_msg(!got.bad_tail && got.end_requests == 1 && got.empty_stdout == 1 &&
		    got.stdout_bytes == tc->written, "finish after %zu bytes: got bad tail %d, "
		    "%d END_REQUEST, %d empty STDOUT, %zu bytes; want 0, 1, 1, %zu",
		    tc->written, got.bad_tail, got.end_requests, got.empty_stdout,
		    got.stdout_bytes, tc->written);
	}
	free(resp);
	free(data);
	fcgi_req_free(r);
	pair_close(&p);
}

START_TEST(test_end_core)
{
	run_end_case(&end_core[_i]);
}
END_TEST

START_TEST(test_end_limits)
{
	run_end_case(&end_limits[_i]);
}
END_TEST

START_TEST(test_end_errors)
{
	run_end_case(&end_errors[_i]);
}
END_TEST

/* ---- the read deadline ------------------------------------------------ */

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A second client on the same socket. */
static int
connect_to(const struct pair *p)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, p->path, strlen(p->path) + 1);
	ck_assert_msg(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
	    "connect: %s", strerror(errno));
	return fd;
}

/* True when the server has closed fd: a read sees the end or a reset. */
static bool
closed_by_server(int fd)
{
	char c;
	ssize_t n;
	struct timeval tv = { 10, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = read(fd, &c, 1)) == 1)
		;
	return n == 0 || (n == -1 && errno == ECONNRESET);
}

/* What a peer sends before it stops, each a prefix of a whole request
 * (BEGIN_REQUEST, a PARAMS record, the empty PARAMS, the empty STDIN). */
struct stop_case {
	const char *what;
	size_t bytes;       /* of the whole request; 0: nothing at all */
};

static const struct stop_case stop_core[] = {
	{ "one byte", 1 },
	{ "the BEGIN_REQUEST record", 16 },
	{ "BEGIN_REQUEST and PARAMS without their end", 16 + 8 + 19 },
};
static const struct stop_case stop_limits[] = {
	{ "nothing", 0 },
	{ "7 bytes of a record header", 7 },
	{ "BEGIN_REQUEST and 1 byte of PARAMS", 17 },
	{ "all but the last byte of the PARAMS end", 16 + 8 + 19 + 7 },
};

/* Writes the first n bytes of what send_request sends, without the shutdown. */
static void
send_prefix(int fd, size_t n)
{
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	static const unsigned char params[] = {
		14, 3, 'R', 'E', 'Q', 'U', 'E', 'S', 'T', '_', 'M', 'E', 'T', 'H', 'O', 'D',
		'G', 'E', 'T',
	};
	unsigned char b[256];
	size_t len = 0;

	put_record(b, &len, 1, begin, sizeof(begin));
	put_record(b, &len, T_PARAMS, params, sizeof(params));
	put_record(b, &len, T_PARAMS, NULL, 0);
	put_record(b, &len, T_STDIN, NULL, 0);
	ck_assert_msg(n <= len, "prefix of %zu bytes: the request has %zu", n, len);
	ck_assert_msg(n == 0 || write(fd, b, n) == (ssize_t)n, "write: %s", strerror(errno));
}

/* A peer that stops part-way is dropped after the deadline (1 s), and the
 * next connection, queued behind it, is served. */
static void
run_stop_case(const struct stop_case *tc)
{
	struct pair p;
	struct fcgi_req *r;
	double t0, took;
	int rc, err, next;

	pair_open(&p);
	send_prefix(p.client, tc->bytes);
	next = connect_to(&p);
	send_request(next);
	r = fcgi_req_new(p.listen_fd, 1);
	ck_assert_msg(r != NULL, "fcgi_req_new: got NULL, want a request");
	t0 = now_s();
	rc = fcgi_accept(r);
	err = errno;
	took = now_s() - t0;
	ck_assert_msg(rc == -1 && err == ETIMEDOUT, "%s: fcgi_accept got %d (%s), want -1 "
	    "(ETIMEDOUT)", tc->what, rc, strerror(err));
	ck_assert_msg(took >= 0.9 && took < 10, "%s: dropped after %.2f s, want 1 s "
	    "(before 10)", tc->what, took);
	ck_assert_msg(closed_by_server(p.client), "%s: got the connection still open, "
	    "want it closed by the server", tc->what);
	ck_assert_msg(fcgi_accept(r) == 0, "%s: the next connection: fcgi_accept got -1 "
	    "(%s), want 0", tc->what, strerror(errno));
	ck_assert_msg(fcgi_write(r, "ok", 2) == 0, "%s: fcgi_write: got -1", tc->what);
	fcgi_finish(r);
	fcgi_req_free(r);
	(void)close(next);
	pair_close(&p);
}

START_TEST(test_stop_core)
{
	run_stop_case(&stop_core[_i]);
}
END_TEST

START_TEST(test_stop_limits)
{
	run_stop_case(&stop_limits[_i]);
}
END_TEST

/* A peer that closes part-way is no timeout: EPROTO, at once. */
START_TEST(test_stop_closed)
{
	const struct stop_case *tc = &stop_core[_i];
	struct pair p;
	struct fcgi_req *r;
	double t0;
	int rc, err;

	pair_open(&p);
	send_prefix(p.client, tc->bytes);
	ck_assert_msg(shutdown(p.client, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
	r = fcgi_req_new(p.listen_fd, 5);
	t0 = now_s();
	rc = fcgi_accept(r);
	err = errno;
	ck_assert_msg(rc == -1 && err == EPROTO, "%s, then closed: fcgi_accept got %d (%s), "
	    "want -1 (EPROTO)", tc->what, rc, strerror(err));
	ck_assert_msg(now_s() - t0 < 4, "%s, then closed: took %.2f s, want no wait for "
	    "the deadline (5 s)", tc->what, now_s() - t0);
	fcgi_req_free(r);
	pair_close(&p);
}
END_TEST

/* Parameters whole, then a body cut short: fcgi_read returns what came and
 * fcgi_read_expired says why; fcgi_drop closes without an answer. A body
 * cut short by the peer's close is no timeout. */
struct body_case {
	size_t sent;        /* body bytes sent */
	bool closes;        /* then the peer closes its end */
};

static const struct body_case body_cases[] = {
	{ 0, false }, { 10, false }, { 0, true }, { 10, true },
};

START_TEST(test_body_deadline)
{
	const struct body_case *tc = &body_cases[_i];
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	unsigned char b[256];
	char body[100];
	size_t n = 0, got;
	struct pair p;
	struct fcgi_req *r;
	bool expired;

	memset(body, 'x', sizeof(body));
	put_record(b, &n, 1, begin, sizeof(begin));
	put_record(b, &n, T_PARAMS, NULL, 0);
	if (tc->sent > 0)
		put_record(b, &n, T_STDIN, body, tc->sent);
	pair_open(&p);
	ck_assert_msg(write(p.client, b, n) == (ssize_t)n, "write: %s", strerror(errno));
	if (tc->closes)
		ck_assert_msg(shutdown(p.client, SHUT_WR) == 0, "shutdown: %s", strerror(errno));
	r = fcgi_req_new(p.listen_fd, 1);
	ck_assert_msg(fcgi_accept(r) == 0, "fcgi_accept: got -1 (%s), want 0",
	    strerror(errno));
	got = fcgi_read(r, body, sizeof(body));
	expired = fcgi_read_expired(r);
	ck_assert_msg(got == tc->sent, "%zu body bytes sent: fcgi_read got %zu", tc->sent, got);
	ck_assert_msg(expired == !tc->closes, "%zu body bytes sent, closed %d: "
	    "fcgi_read_expired got %d, want %d", tc->sent, tc->closes, expired, !tc->closes);
	fcgi_drop(r);
	fcgi_finish(r);
	if (!tc->closes) {
		unsigned char *resp;
		size_t len;

		resp = read_all(p.client, &len);
		ck_assert_msg(len == 0, "dropped: got %zu bytes of answer, want none", len);
		free(resp);
	}
	fcgi_req_free(r);
	pair_close(&p);
}
END_TEST

/*
 * fcgi_finish within the peer's time (2 s) when the peer holds on after
 * the answer: parameters whole and then nothing (the end of the input
 * never comes), or a body the answer did not read and a byte every 200 ms
 * after it (libfcgi's own close waits 2 s for each). The server runs in a
 * child; the parent plays the peer and times the child's exit.
 */
struct hold_case {
	const char *what;
	bool body;          /* send a body (unread), then trickle */
};

static const struct hold_case hold_cases[] = {
	{ "parameters, then silence", false },
	{ "an unread body, then a byte every 200 ms", true },
};

START_TEST(test_finish_bounded)
{
	const struct hold_case *tc = &hold_cases[_i];
	static const unsigned char begin[8] = { 0, 1, 0, 0, 0, 0, 0, 0 };
	unsigned char b[256];
	size_t n = 0;
	struct pair p;
	double t0;
	int status = 0;
	pid_t pid, done = 0;

	put_record(b, &n, 1, begin, sizeof(begin));
	put_record(b, &n, T_PARAMS, NULL, 0);
	if (tc->body)
		put_record(b, &n, T_STDIN, "{\"a\":1}", 7);
	pair_open(&p);
	ck_assert_msg(write(p.client, b, n) == (ssize_t)n, "write: %s", strerror(errno));
	t0 = now_s();
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct fcgi_req *r = fcgi_req_new(p.listen_fd, 2);

		(void)close(p.client);
		if (r == NULL || fcgi_accept(r) != 0 || fcgi_write(r, "ok", 2) != 0)
			_exit(2);
		fcgi_read_end(r);
		fcgi_finish(r);
		_exit(0);
	}
	(void)signal(SIGPIPE, SIG_IGN);
	while (done == 0 && now_s() - t0 < 15) {
		if (tc->body)
			(void)!write(p.client, " ", 1);
		(void)usleep(200000);
		done = waitpid(pid, &status, WNOHANG);
	}
	if (done == 0) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &status, 0);
	}
	ck_assert_msg(done == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: the server got no further than fcgi_finish in 15 s (status %d), want "
	    "it done after about 2 s", tc->what, status);
	ck_assert_msg(now_s() - t0 < 10, "%s: fcgi_finish returned after %.2f s, want "
	    "about 2 (before 10)", tc->what, now_s() - t0);
	pair_close(&p);
}
END_TEST

/* Kept connections (fastcgi_keep_conn on): what nginx sends with
 * FCGI_KEEP_CONN. Nothing is shut down: the connection is for the next
 * request too. */
static void
send_keep_request(int fd, const char *body, size_t len)
{
	send_post(fd, body, len, true);
}

/* Reads exactly len bytes, waiting at most 10 s; false at EOF or timeout. */
static bool
read_full(int fd, unsigned char *b, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN, .revents = 0 };
		ssize_t r;

		if (poll(&pfd, 1, 10000) != 1)
			return false;
		r = read(fd, b + got, len - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/* The answer's FCGI_STDOUT content up to FCGI_END_REQUEST, NUL-terminated
 * into out; false if the records end (EOF) or stall before it. */
static bool
read_answer(int fd, char *out, size_t cap)
{
	size_t n = 0;

	for (;;) {
		unsigned char h[8], body[65536 + 256];
		size_t clen, plen;

		if (!read_full(fd, h, 8))
			return false;
		clen = (size_t)h[4] << 8 | h[5];
		plen = h[6];
		if (h[0] != 1 || !read_full(fd, body, clen + plen))
			return false;
		if (h[1] == T_END_REQUEST) {
			out[n] = '\0';
			return true;
		}
		if (h[1] == T_STDOUT && clen > 0) {
			if (n + clen >= cap)
				return false;
			memcpy(out + n, body, clen);
			n += clen;
		}
	}
}

/* One request on r: accepts, reads `read` bytes of body, answers `say`. */
static void
serve_one(struct fcgi_req *r, size_t read, const char *say)
{
	char buf[64];

	ck_assert_msg(fcgi_accept(r) == 0, "fcgi_accept: got -1 (%s), want 0",
	    strerror(errno));
	ck_assert_msg(fcgi_read(r, buf, read) == read, "fcgi_read: short");
	fcgi_read_end(r);
	ck_assert_msg(fcgi_write(r, say, strlen(say)) == 0, "fcgi_write: got -1");
	fcgi_finish(r);
}

struct keep_case {
	const char *body;
	size_t read;        /* bytes of it the handler reads */
};

static const struct keep_case keep_cases[] = {
	{ "", 0 },
	{ "{\"a\":1}", 7 },
	{ "{\"a\":1}", 0 },   /* answered before the body: it is read and dropped */
	{ "{\"a\":1}", 3 },
};

/* A kept connection carries the next request; one that nginx closes is
 * dropped quietly and the next new connection is served. The keep tests
 * use no read deadline: its timer is alarm()'s, which guards them against
 * a hang (SIGALRM's default action ends the process). */
START_TEST(test_keep_next)
{
	const struct keep_case *tc = &keep_cases[_i];
	struct pair p;
	struct fcgi_req *r;
	char got[256];
	int c2;

	pair_open(&p);
	r = fcgi_req_new(p.listen_fd, 0);
	ck_assert_msg(r != NULL, "fcgi_req_new: got NULL");
	(void)alarm(20);   /* a request that never comes kills the test */
	send_keep_request(p.client, tc->body, strlen(tc->body));
	serve_one(r, tc->read, "one");
	ck_assert_msg(read_answer(p.client, got, sizeof(got)) && strcmp(got, "one") == 0,
	    "body \"%s\", %zu read: the first answer did not come whole", tc->body, tc->read);
	send_keep_request(p.client, "", 0);
	serve_one(r, 0, "two");
	ck_assert_msg(read_answer(p.client, got, sizeof(got)) && strcmp(got, "two") == 0,
	    "body \"%s\", %zu read: no answer to the second request on the kept "
	    "connection", tc->body, tc->read);
	(void)close(p.client);
	c2 = connect_to(&p);
	p.client = c2;
	send_request(c2);
	serve_one(r, 0, "three");
	ck_assert_msg(read_answer(c2, got, sizeof(got)) && strcmp(got, "three") == 0,
	    "a new connection after the kept one closed: no answer");
	(void)alarm(0);
	fcgi_req_free(r);
	pair_close(&p);
}
END_TEST

/* Sleeps ms, whatever signals come (the hand-off timer's among them). */
static void
sleep_ms(long ms)
{
	struct timespec t = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L };

	while (nanosleep(&t, &t) == -1 && errno == EINTR)
		;
}

/* The hand-off tests: the pair, the hand-off socket pair hp, an alarm
 * against a hang, and a first request with FCGI_KEEP_CONN waiting. */
static void
keep_setup(struct pair *p, int hp[2])
{
	pair_open(p);
	ck_assert_msg(socketpair(AF_UNIX, SOCK_STREAM, 0, hp) == 0, "socketpair: %s",
	    strerror(errno));
	(void)alarm(20);
	send_keep_request(p->client, "", 0);
}

/* A worker's request object on the pair, handing on through hp. */
static struct fcgi_req *
handoff_req(const struct pair *p, const int hp[2], int after_ms)
{
	struct fcgi_req *r = fcgi_req_new(p->listen_fd, 0);

	if (r != NULL && fcgi_set_handoff(r, hp[0], hp[1], after_ms) != 0) {
		fcgi_req_free(r);
		return NULL;
	}
	return r;
}

/* A worker that exits hands its idle kept connection on: the next request
 * on it is answered by another worker, on the same connection. */
START_TEST(test_keep_handoff_exit)
{
	struct pair p;
	struct fcgi_req *r;
	char got[256];
	int hp[2], status;
	pid_t pid;

	keep_setup(&p, hp);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		r = handoff_req(&p, hp, 0);
		if (r == NULL)
			_exit(2);
		serve_one(r, 0, "A");
		fcgi_req_free(r);
		_exit(0);
	}
	ck_assert_msg(read_answer(p.client, got, sizeof(got)) && strcmp(got, "A") == 0,
	    "no answer from the first worker");
	ck_assert_msg(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "the first worker failed (status %d)", status);
	send_keep_request(p.client, "", 0);
	r = handoff_req(&p, hp, 0);
	ck_assert_msg(r != NULL, "the second worker's request: setup failed");
	serve_one(r, 0, "B");
	ck_assert_msg(read_answer(p.client, got, sizeof(got)) && strcmp(got, "B") == 0,
	    "the connection the first worker handed on got no answer from the second");
	/* The second worker keeps it in turn, for the request after. */
	send_keep_request(p.client, "", 0);
	serve_one(r, 0, "B2");
	ck_assert_msg(read_answer(p.client, got, sizeof(got)) && strcmp(got, "B2") == 0,
	    "the handed-on connection got no answer to its next request");
	(void)alarm(0);
	fcgi_req_free(r);
	pair_close(&p);
}
END_TEST

/* handoff_after: 50 ms, and 0 (at the start of the request). */
static const int busy_after[] = { 50, 0 };

/* A worker busy past handoff_after hands its idle kept connection on: a
 * request sent on it meanwhile is answered by another worker before the
 * busy one is done. Without the hand-off it would wait (and the alarm
 * would end the test). */
START_TEST(test_keep_handoff_busy)
{
	int after = busy_after[_i];
	struct pair p;
	struct fcgi_req *r;
	char got[256];
	int hp[2], c2, status;
	pid_t pid;

	keep_setup(&p, hp);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		r = handoff_req(&p, hp, after);
		if (r == NULL)
			_exit(2);
		serve_one(r, 0, "A1");
		/* The second request, on a second connection, takes 3 s. */
		if (fcgi_accept(r) != 0)
			_exit(3);
		fcgi_read_end(r);
		sleep_ms(3000);
		if (fcgi_write(r, "A2", 2) != 0)
			_exit(4);
		fcgi_finish(r);
		_exit(0);
	}
	ck_assert_msg(read_answer(p.client, got, sizeof(got)) && strcmp(got, "A1") == 0,
	    "no answer to the first request");
	c2 = connect_to(&p);
	send_keep_request(c2, "", 0);
	sleep_ms(300);
	send_keep_request(p.client, "", 0);
	r = handoff_req(&p, hp, 0);
	ck_assert_msg(r != NULL, "the second worker's request: setup failed");
	serve_one(r, 0, "B");
	ck_assert_msg(read_answer(p.client, got, sizeof(got)) && strcmp(got, "B") == 0,
	    "handoff_after %d: the busy worker's idle connection got no answer from "
	    "the other worker", after);
	ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "the busy worker ended "
	    "before the other answered: the hand-off was not what let it answer");
	ck_assert_msg(read_answer(c2, got, sizeof(got)) && strcmp(got, "A2") == 0,
	    "no answer to the busy worker's own request");
	ck_assert_msg(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "the busy worker failed (status %d)", status);
	(void)alarm(0);
	(void)close(c2);
	fcgi_req_free(r);
	pair_close(&p);
}
END_TEST

static Suite *
fcgi_suite(void)
{
	Suite *s = suite_create("fcgi");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");
	TCase *closing = tcase_create("close");
	TCase *deadline = tcase_create("deadline");
	TCase *keep = tcase_create("keep");

	tcase_add_loop_test(core, test_end_core, 0, NCASES(end_core));
	suite_add_tcase(s, core);
	tcase_add_loop_test(limits, test_end_limits, 0, NCASES(end_limits));
	suite_add_tcase(s, limits);
	tcase_add_loop_test(errors, test_end_errors, 0, NCASES(end_errors));
	suite_add_tcase(s, errors);
	tcase_add_loop_test(closing, test_close, 0,
	    NCASES(close_cases) * NCASES(close_timeouts));
	suite_add_tcase(s, closing);
	tcase_add_loop_test(deadline, test_stop_core, 0, NCASES(stop_core));
	tcase_add_loop_test(deadline, test_stop_limits, 0, NCASES(stop_limits));
	tcase_add_loop_test(deadline, test_stop_closed, 0, NCASES(stop_core));
	tcase_add_loop_test(deadline, test_body_deadline, 0, NCASES(body_cases));
	tcase_add_loop_test(deadline, test_finish_bounded, 0, NCASES(hold_cases));
	/* Each case waits for a deadline of 1-2 s; on a busy machine, more. */
	tcase_set_timeout(deadline, 30);
	suite_add_tcase(s, deadline);
	tcase_add_loop_test(keep, test_keep_next, 0, NCASES(keep_cases));
	tcase_add_test(keep, test_keep_handoff_exit);
	tcase_add_loop_test(keep, test_keep_handoff_busy, 0, NCASES(busy_after));
	tcase_set_timeout(keep, 30);
	suite_add_tcase(s, keep);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fcgi_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
