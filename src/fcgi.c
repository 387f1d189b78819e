/*
 * fcgi: libfcgi's request API (FCGX_*), one request at a time per process.
 *
 * Connections nginx keeps (FCGI_KEEP_CONN) stay open after their answer,
 * and the worker waits on all of them and on the listening socket at once
 * (epoll: the listening socket and the hand-off socket with
 * EPOLLEXCLUSIVE, so that one event wakes one idle worker). A worker is
 * thus never pinned to a connection; what it must not do is sit on idle
 * connections while it is busy, or leave with them: see fcgi_set_handoff
 * in fcgi.h and handoff_idle below. Kept connections are libfcgi's own
 * mechanism (FCGX_Finish_r leaves ipcFd open when keepConnection is set);
 * only the waiting is ours.
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
 * The timer runs only while the worker waits for the peer: from accept (or,
 * on a kept connection, from the moment its next request starts to arrive)
 * to fcgi_read_end, and again in fcgi_finish while it looks for the end of
 * the input; never while the answer is written or the store is used. An
 * idle kept connection has no deadline: nginx closes it
 * (keepalive_timeout).
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
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

/* After the deadline the timer fires again at this interval until it is
 * stopped: a signal that lands between two reads, where it interrupts
 * nothing, is followed by one that interrupts the next read. */
#define DEADLINE_REPEAT_MS 100

/* Idle kept connections one worker watches at most; past it a kept
 * connection is closed after its answer (nginx then opens another). */
#define MAX_KEPT 128

/* The signal of the hand-off timer (fcgi_set_handoff). */
#define HANDOFF_SIGNAL (SIGRTMIN + 1)

struct fcgi_req {
	FCGX_Request req;
	int listen_fd;
	int accepted;
	int epfd;               /* listen_fd, handoff_recv and the kept connections */
	int handoff_recv;       /* the hand-off socket's ends (fcgi_set_handoff); -1: none */
	int handoff_send;
	bool handoff_polled;    /* handoff_recv is in epfd */
	int handoff_ms;         /* hand the kept connections on after this; 0: at once */
	bool handoff_timer;     /* handoff_tid exists */
	timer_t handoff_tid;
	sigset_t wait_mask;     /* the signal mask while waiting for a request */
	bool has_wait_mask;
	bool registered;        /* the current connection is in epfd */
	int kept[MAX_KEPT];     /* idle connections kept for nginx's next request */
	volatile sig_atomic_t nkept;
	volatile sig_atomic_t busy; /* in a request: the timer may hand off */
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

/* The request whose kept connections the hand-off timer moves (one per
 * process: a worker has one). */
static struct fcgi_req *handoff_owner;

/*
 * Hands fd to whichever worker reads the hand-off socket next: one byte
 * that carries the descriptor (SCM_RIGHTS). Only system calls:
 * async-signal-safe.
 */
static int
send_conn(int sock, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte = 'C';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg;
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/* A connection another worker handed on, or -1 (none waiting, or its
 * descriptor could not be received: then it is gone). */
static int
recv_conn(int sock)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg;
	struct cmsghdr *c;
	int fd = -1;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof(u.buf);
	if (recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * The idle kept connections go to the other workers. Moving a descriptor
 * loses nothing: a request nginx is writing on it at this moment waits in
 * the socket for the worker that takes it. A connection that cannot be
 * sent (the hand-off socket's buffer is full) stays with this worker, or,
 * when it must go (the worker exits), is closed: a request nginx sends on
 * it at that very moment then gets 502, unread. Only system calls:
 * async-signal-safe (the hand-off timer calls it).
 */
static void
handoff_idle(struct fcgi_req *r, bool must_go)
{
	int n = r->nkept;
	int stay = 0;

	for (int i = 0; i < n; i++) {
		int fd = r->kept[i];

		(void)epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
		if (r->handoff_send >= 0 && send_conn(r->handoff_send, fd) == 0) {
			(void)close(fd);
		} else if (must_go) {
			(void)close(fd);
		} else {
			struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

			if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
				r->kept[stay++] = fd;
			else
				(void)close(fd);
		}
	}
	r->nkept = stay;
}

static void
on_handoff(int sig)
{
	struct fcgi_req *r = handoff_owner;
	int saved = errno;

	(void)sig;
	if (r != NULL && r->busy)
		handoff_idle(r, false);
	errno = saved;
}

/* The request is being answered: with idle kept connections, the timer
 * hands them on if the answer takes longer than handoff_ms. */
static void
handoff_arm(struct fcgi_req *r)
{
	struct itimerspec it;

	if (!r->handoff_timer || r->busy || r->nkept == 0)
		return;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = r->handoff_ms / 1000;
	it.it_value.tv_nsec = (long)(r->handoff_ms % 1000) * 1000000L;
	r->busy = 1;
	(void)timer_settime(r->handoff_tid, 0, &it, NULL);
}

static void
handoff_disarm(struct fcgi_req *r)
{
	struct itimerspec it;

	if (!r->busy)
		return;
	/* First: a signal still pending finds nothing to do. */
	r->busy = 0;
	memset(&it, 0, sizeof(it));
	(void)timer_settime(r->handoff_tid, 0, &it, NULL);
}

/* Watches fd for nginx's next request; false (fd closed) when it cannot. */
static bool
keep_conn(struct fcgi_req *r, int fd, bool registered)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (r->nkept >= MAX_KEPT ||
	    (!registered && epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)) {
		(void)close(fd);
		return false;
	}
	r->kept[r->nkept] = fd;
	r->nkept = r->nkept + 1;
	return true;
}

/* The hand-off socket is watched only while there is room for what it
 * brings. */
static void
poll_handoff(struct fcgi_req *r)
{
	bool want = r->handoff_recv >= 0 && r->nkept < MAX_KEPT;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = r->handoff_recv };

	if (want == r->handoff_polled)
		return;
	if (want && epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->handoff_recv, &ev) == 0)
		r->handoff_polled = true;
	else if (!want && epoll_ctl(r->epfd, EPOLL_CTL_DEL, r->handoff_recv, NULL) == 0)
		r->handoff_polled = false;
}

struct fcgi_req *
fcgi_req_new(int listen_fd, int read_timeout)
{
	struct fcgi_req *r;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = listen_fd };
	int flags;

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
	/* The workers all wait on the socket; the one woken may find the
	 * connection taken by another, and must not block then. */
	flags = fcntl(listen_fd, F_GETFL);
	if (flags == -1 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->handoff_recv = r->handoff_send = -1;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	/* EPOLLEXCLUSIVE: a new connection wakes one idle worker, not all. */
	if (r->epfd == -1 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, listen_fd, &ev) == -1) {
		if (r->epfd != -1)
			(void)close(r->epfd);
		free(r);
		return NULL;
	}
	/* listen_sock -1: libfcgi never accepts (see the top of this file). */
	if (FCGX_InitRequest(&r->req, -1, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		(void)close(r->epfd);
		free(r);
		return NULL;
	}
	r->listen_fd = listen_fd;
	r->timeout_ms = read_timeout > 0 ? (int64_t)read_timeout * 1000 : 0;
	return r;
}

int
fcgi_set_handoff(struct fcgi_req *r, int recv_fd, int send_fd, int after_ms)
{
	r->handoff_recv = recv_fd;
	r->handoff_send = send_fd;
	poll_handoff(r);
	if (recv_fd >= 0 && !r->handoff_polled)
		return -1;
	if (after_ms > 0 && send_fd >= 0 && !r->handoff_timer) {
		struct sigaction sa;
		struct sigevent sev;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_handoff;
		/* The request's system calls go on after it. */
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		memset(&sev, 0, sizeof(sev));
		sev.sigev_notify = SIGEV_SIGNAL;
		sev.sigev_signo = HANDOFF_SIGNAL;
		if (sigaction(HANDOFF_SIGNAL, &sa, NULL) == -1 ||
		    timer_create(CLOCK_MONOTONIC, &sev, &r->handoff_tid) == -1)
			return -1;
		r->handoff_timer = true;
		handoff_owner = r;
	}
	r->handoff_ms = after_ms;
	return 0;
}

void
fcgi_set_wait_mask(struct fcgi_req *r, const sigset_t *mask)
{
	r->has_wait_mask = mask != NULL;
	if (mask != NULL)
		r->wait_mask = *mask;
}

void
fcgi_req_free(struct fcgi_req *r)
{
	if (r == NULL)
		return;
	handoff_disarm(r);
	if (r->accepted)
		fcgi_finish(r);
	deadline_stop(r);
	handoff_idle(r, true);
	if (r->handoff_timer) {
		(void)timer_delete(r->handoff_tid);
		if (handoff_owner == r)
			handoff_owner = NULL;
	}
	FCGX_Free(&r->req, 0);
	(void)close(r->epfd);
	free(r);
}

/* How next_conn found a connection. */
enum conn_from {
	CONN_NEW,       /* accepted just now */
	CONN_KEPT,      /* one of ours, in epfd */
	CONN_HANDED,    /* from another worker, not in epfd */
};

/* Reads BEGIN_REQUEST and PARAMS from fd, a connection with something to
 * read. 0, or -1 with errno ETIMEDOUT or EPROTO, fd closed. */
static int
begin(struct fcgi_req *r, int fd, enum conn_from from)
{
	r->left_ms = r->timeout_ms;
	deadline_start(r);
	r->req.ipcFd = fd;
	r->req.keepConnection = 1;
	r->registered = from == CONN_KEPT;
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

static bool
retry_accept(int err)
{
	/* Another worker took it, or a peer gave up before we took its
	 * connection. */
	return err == EAGAIN || err == EWOULDBLOCK || err == ECONNABORTED ||
	    err == EPROTO || err == ECONNRESET || err == EINTR;
}

/* The next connection with a request to read (from: where it came from).
 * -1 with errno: EINTR (a signal) or accept's error. */
static int
next_conn(struct fcgi_req *r, enum conn_from *from)
{
	for (;;) {
		struct epoll_event ev[16];
		bool listen_ready = false;
		int ready = -1, n;

		poll_handoff(r);
		n = epoll_pwait(r->epfd, ev, 16, -1, r->has_wait_mask ? &r->wait_mask : NULL);
		if (n == -1)
			return -1;
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == r->listen_fd) {
				listen_ready = true;
			} else if (fd == r->handoff_recv) {
				int got = recv_conn(fd);
				char c;

				/* A connection handed on with a request waiting on it
				 * has waited longest: it is served first, before
				 * anything else this wake-up brought. Were it kept
				 * for later, this worker could hand it on again
				 * before serving it, and again. */
				if (got >= 0 && recv(got, &c, 1, MSG_PEEK | MSG_DONTWAIT) != -1) {
					*from = CONN_HANDED;
					return got;
				}
				if (got >= 0)
					(void)keep_conn(r, got, false);
			} else if (ready == -1) {
				ready = fd;
			}
		}
		/* A new connection first: this worker was the one woken for it. */
		if (listen_ready) {
			int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0) {
				*from = CONN_NEW;
				return fd;
			}
			if (!retry_accept(errno))
				return -1;
		}
		if (ready != -1) {
			for (int i = 0; i < r->nkept; i++) {
				if (r->kept[i] == ready) {
					r->kept[i] = r->kept[r->nkept - 1];
					r->nkept = r->nkept - 1;
					*from = CONN_KEPT;
					return ready;
				}
			}
			/* Not one of ours (cannot happen): never reported again. */
			(void)epoll_ctl(r->epfd, EPOLL_CTL_DEL, ready, NULL);
		}
	}
}

int
fcgi_accept(struct fcgi_req *r)
{
	if (r->accepted)
		fcgi_finish(r);
	for (;;) {
		enum conn_from from = CONN_NEW;
		int fd = next_conn(r, &from);

		if (fd == -1)
			return -1;
		if (begin(r, fd, from) == 0)
			return 0;
		/* nginx closed a kept connection: nothing was asked. */
		if (from == CONN_NEW || errno != EPROTO)
			return -1;
	}
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
	if (r->handoff_ms == 0 && r->nkept > 0 && r->handoff_send >= 0)
		handoff_idle(r, false);
	else
		handoff_arm(r);
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
 * its deadline is closed at once.
 *
 * A connection nginx asked to keep (FCGI_KEEP_CONN) is kept once its input
 * is read to the end: what the request left unread is read and dropped
 * first (nginx sends a body whole, so that is quick), within the same
 * deadline. Closing it instead would race nginx, which may already be
 * sending the next request on it.
 */
void
fcgi_finish(struct fcgi_req *r)
{
	bool at_end, keep;

	if (!r->accepted)
		return;
	handoff_disarm(r);
	r->accepted = 0;
	/* nginx asked to keep the connection (FCGI_KEEP_CONN). */
	keep = r->req.keepConnection && r->nkept < MAX_KEPT;
	r->req.keepConnection = 0;
	deadline_start(r);
	if (keep) {
		/* Input left unread (an answer given before the body) is read
		 * and dropped: the connection must be at the next request. */
		char trash[4096];

		while (FCGX_GetStr(trash, (int)sizeof(trash), r->req.in) > 0)
			;
	}
	at_end = FCGX_GetChar(r->req.in) == EOF && FCGX_GetError(r->req.in) == 0;
	deadline_stop(r);
	if (at_end && keep) {
		/* The answer out (FCGI_END_REQUEST), the connection kept unless
		 * that failed; then libfcgi closed it. */
		(void)FCGX_Detach(&r->req);
		r->req.keepConnection = 1;
		FCGX_Finish_r(&r->req);
		if (r->req.ipcFd >= 0) {
			(void)keep_conn(r, r->req.ipcFd, r->registered);
			r->req.ipcFd = -1;
		}
		r->req.keepConnection = 0;
		return;
	}
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
	handoff_disarm(r);
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
	handoff_disarm(r);
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
