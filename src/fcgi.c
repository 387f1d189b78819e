/*
 * fcgi: libfcgi's request API (FCGX_*), one request at a time per process.
 *
 * The connection is accepted here, not by libfcgi, so that every connection
 * gets a read deadline (request_read_timeout) from its first moment: a peer
 * that connects and sends one byte (any local process that can open the
 * socket) would otherwise hold the worker in FCGX_Accept_r's read for ever.
 * FCGX_Accept_r then reads BEGIN_REQUEST and PARAMS from the connection we
 * hand it, the way it reads the next request of a kept connection: ipcFd is
 * set and keepConnection too, so that the FCGX_Finish_r it starts with does
 * not close it. The request's listen_sock is -1: when the request cannot be
 * read, libfcgi closes the connection and its own accept fails at once
 * (EBADF), so the call returns to us instead of waiting for the next
 * connection. This uses FCGX_Request members below "Don't use anything below
 * here" (ipcFd, keepConnection), unchanged from 2.4.0 to 2.4.7.
 *
 * The deadline is an interval timer (SIGALRM, no SA_RESTART): a read that is
 * still waiting when it fires fails with EINTR, and libfcgi takes that for a
 * broken connection. A per-read timeout (SO_RCVTIMEO) would not do: a peer
 * that sends a byte now and then restarts it with every byte, and an accepted
 * Unix socket does not inherit it from the listening socket in any case.
 * The timer runs only while the worker waits for the peer: from accept to
 * fcgi_read_end, and again in fcgi_finish while it looks for the end of the
 * input; never while the answer is written or the store is used.
 */
#include "fcgi.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

/* After the deadline the timer fires again at this interval until it is
 * stopped: a signal that lands between two reads, where it interrupts
 * nothing, is followed by one that interrupts the next read. */
#define DEADLINE_REPEAT_MS 100

struct fcgi_req {
	FCGX_Request req;
	int listen_fd;
	int accepted;
	int64_t timeout_ms;     /* request_read_timeout; 0: no deadline */
	int64_t left_ms;        /* of timeout_ms, what the peer has not used yet */
	int64_t armed_at_ms;    /* when the timer was started; 0: not running */
};

static volatile sig_atomic_t deadline_passed;

static void
on_alarm(int sig)
{
	(void)sig;
	deadline_passed = 1;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_timer(int64_t ms, int64_t repeat_ms)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)(ms / 1000);
	it.it_value.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	it.it_interval.tv_sec = (time_t)(repeat_ms / 1000);
	it.it_interval.tv_usec = (suseconds_t)(repeat_ms % 1000 * 1000);
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

/* Starts the clock on what is left of the peer's time (at least 1 ms). */
static void
deadline_start(struct fcgi_req *r)
{
	if (r->timeout_ms == 0 || r->armed_at_ms != 0)
		return;
	deadline_passed = 0;
	r->armed_at_ms = mono_ms();
	set_timer(r->left_ms > 0 ? r->left_ms : 1, DEADLINE_REPEAT_MS);
}

/* Stops the clock; the time used is taken from what is left. */
static void
deadline_stop(struct fcgi_req *r)
{
	if (r->armed_at_ms == 0)
		return;
	set_timer(0, 0);
	r->left_ms -= mono_ms() - r->armed_at_ms;
	r->armed_at_ms = 0;
}

struct fcgi_req *
fcgi_req_new(int listen_fd, int read_timeout)
{
	struct fcgi_req *r;

	if (FCGX_Init() != 0)
		return NULL;
	if (read_timeout > 0) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm; /* no SA_RESTART: a waiting read must fail */
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGALRM, &sa, NULL) == -1)
			return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	/* listen_sock -1: libfcgi never accepts (see the top of this file). */
	if (FCGX_InitRequest(&r->req, -1, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		free(r);
		return NULL;
	}
	r->listen_fd = listen_fd;
	r->timeout_ms = read_timeout > 0 ? (int64_t)read_timeout * 1000 : 0;
	return r;
}

void
fcgi_req_free(struct fcgi_req *r)
{
	if (r == NULL)
		return;
	if (r->accepted)
		fcgi_finish(r);
	deadline_stop(r);
	FCGX_Free(&r->req, 0);
	free(r);
}

/* A connection from the queue; -1 when interrupted (EINTR) or on an error
 * a retry cannot fix. A peer that gave up before we took its connection
 * costs nothing but a retry. */
static int
accept_conn(int listen_fd)
{
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);

		if (fd >= 0)
			return fd;
		if (errno != ECONNABORTED && errno != EPROTO && errno != ECONNRESET)
			return -1;
	}
}

int
fcgi_accept(struct fcgi_req *r)
{
	int fd;

	if (r->accepted)
		fcgi_finish(r);
	fd = accept_conn(r->listen_fd);
	if (fd == -1)
		return -1;
	r->left_ms = r->timeout_ms;
	deadline_start(r);
	r->req.ipcFd = fd;
	r->req.keepConnection = 1;
	/* A request that does not arrive is closed at once: libfcgi's careful
	 * close would wait for the peer again (OS_Close's drain). */
	(void)FCGX_Detach(&r->req);
	/* A read that fails within a parameter's name length is taken for
	 * the end of the parameters (ReadParams): the request is returned
	 * with the error on its input stream. Elsewhere libfcgi closed the
	 * connection itself (FCGX_Free) and returns < 0. */
	if (FCGX_Accept_r(&r->req) < 0 || FCGX_GetError(r->req.in) != 0) {
		bool late = deadline_passed;

		deadline_stop(r);
		if (r->req.ipcFd >= 0)
			FCGX_Free(&r->req, 1);
		errno = late ? ETIMEDOUT : EPROTO;
		return -1;
	}
	(void)FCGX_Attach(&r->req);
	r->accepted = 1;
	return 0;
}

const char *
fcgi_param(struct fcgi_req *r, const char *name)
{
	return FCGX_GetParam(name, r->req.envp);
}

size_t
fcgi_read(struct fcgi_req *r, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		size_t want = len - got;
		int n = FCGX_GetStr(buf + got, want > INT_MAX ? INT_MAX : (int)want, r->req.in);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

bool
fcgi_read_expired(const struct fcgi_req *r)
{
	return r->timeout_ms > 0 && deadline_passed;
}

void
fcgi_read_end(struct fcgi_req *r)
{
	deadline_stop(r);
}

int
fcgi_write(struct fcgi_req *r, const void *p, size_t len)
{
	const char *s = p;

	/* A write interrupted by the timer would fail half-way. */
	deadline_stop(r);
	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;

		if (FCGX_PutStr(s, chunk, r->req.out) != chunk)
			return -1;
		s += chunk;
		len -= (size_t)chunk;
	}
	return 0;
}

/*
 * libfcgi's careful close (OS_Close), bounded: our side is shut down, and
 * what the peer still sends is read and dropped until it closes its end or
 * its time is up. libfcgi waits up to 2 s for each piece instead, so a peer
 * that sends a byte a second would hold the worker for ever.
 */
static void
drain_until_peer_closes(struct fcgi_req *r)
{
	int fd = r->req.ipcFd;
	int64_t until = mono_ms() + (r->left_ms > 0 ? r->left_ms : 0);
	char trash[4096];

	if (shutdown(fd, SHUT_WR) == -1)
		return;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN, .revents = 0 };
		int64_t wait = until - mono_ms();

		if (wait <= 0 || poll(&pfd, 1, (int)wait) <= 0 ||
		    read(fd, trash, sizeof(trash)) <= 0)
			return;
	}
}

/*
 * libfcgi closes a connection the careful way: shutdown(SHUT_WR), then it
 * reads and drops whatever nginx still sends until nginx closes its end
 * (or 2 s pass). That keeps a close with unread input from resetting the
 * connection before nginx has read the answer (a 413 answered before the
 * body was read), but it holds the worker until nginx gets round to the
 * close (a turn of nginx's event loop, longer when the CPUs are busy), and
 * costs three system calls. nginx sends a
 * request whole and ends its input with an empty FCGI_STDIN record
 * (fastcgi_request_buffering on), then sends nothing more: once that
 * record is read, nothing can be left unread, and the worker closes at
 * once (FCGX_Detach: no shutdown, no draining). When the body was not
 * read to its end, the next character is body, not the end, and the
 * careful close stays.
 *
 * With a read deadline, looking for that record and the careful close's
 * wait both use what is left of the peer's time (fcgi.h): a peer that
 * never sends the end of its input is cut off there, and one that missed
 * its deadline is closed at once. A kept connection (FCGI_KEEP_CONN) is
 * closed all the same: its next request would be read outside any
 * deadline, and nginx keeps none (fastcgi_keep_conn off).
 */
void
fcgi_finish(struct fcgi_req *r)
{
	bool at_end;

	if (!r->accepted)
		return;
	r->accepted = 0;
	r->req.keepConnection = 0;
	deadline_start(r);
	at_end = FCGX_GetChar(r->req.in) == EOF && FCGX_GetError(r->req.in) == 0;
	deadline_stop(r);
	if (at_end || (r->timeout_ms > 0 && deadline_passed)) {
		(void)FCGX_Detach(&r->req);
	} else if (r->timeout_ms > 0) {
		/* The answer out first (as FCGX_Finish_r would: stderr, then
		 * stdout, whose close writes FCGI_END_REQUEST), then the wait. */
		if (FCGX_FClose(r->req.err) == 0 && FCGX_FClose(r->req.out) == 0)
			drain_until_peer_closes(r);
		(void)FCGX_Detach(&r->req);
	}
	FCGX_Finish_r(&r->req);
}

void
fcgi_drop(struct fcgi_req *r)
{
	if (!r->accepted)
		return;
	deadline_stop(r);
	(void)FCGX_Detach(&r->req);
	FCGX_Free(&r->req, 1);
	r->accepted = 0;
}

/*
 * Why a bad record and not just a close: nginx (1.22, fastcgi_keep_conn
 * off, and with fastcgi_buffering off in any case) takes an upstream that
 * closes without FCGI_END_REQUEST for the end of a response of unknown
 * length, and would end the chunked body normally. A record header that
 * is not FastCGI (version 0) is a protocol error there, which fails the
 * request after its headers were sent: nginx closes the client's
 * connection without the terminating chunk. FCGX_Free frees the streams
 * without flushing them (FCGX_Finish_r would write the end records) and,
 * with close set, shuts the socket down and closes it (with a read
 * deadline, our bounded wait for the peer replaces libfcgi's).
 */
void
fcgi_abort(struct fcgi_req *r)
{
	static const unsigned char not_fastcgi[8] = { 0 };

	if (!r->accepted)
		return;
	deadline_stop(r);
	/* libfcgi writes whole records, so the socket is at a record
	 * boundary here; a failed write means nginx is gone already. */
	(void)!write(r->req.ipcFd, not_fastcgi, sizeof(not_fastcgi));
	if (r->timeout_ms > 0) {
		drain_until_peer_closes(r);
		(void)FCGX_Detach(&r->req);
	}
	FCGX_Free(&r->req, 1);
	r->accepted = 0;
}
