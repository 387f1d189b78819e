/*
 * fcgi: the only module that includes <fcgiapp.h>. Accepts requests on the
 * listening socket the master created, reads parameters and bodies within
 * limits, and writes responses.
 */
#ifndef ORCHID_FCGI_H
#define ORCHID_FCGI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct fcgi_req;

/*
 * Initialises libfcgi and a request object that accepts on listen_fd; NULL
 * on failure. read_timeout (seconds; 0: none) is the time each connection
 * has to deliver its whole request: BEGIN_REQUEST, PARAMS and FCGI_STDIN
 * to its end. It is counted while the worker waits for the peer, from
 * accept to fcgi_read_end and again in fcgi_finish (which looks for the end
 * of the input and may wait for the peer to close), not while the answer is
 * made or written. With a read_timeout, SIGALRM is this module's (a handler
 * without SA_RESTART, an interval timer).
 */
struct fcgi_req *fcgi_req_new(int listen_fd, int read_timeout);

/*
 * Kept connections (nginx's fastcgi_keep_conn on). A connection whose
 * request asked to be kept (FCGI_KEEP_CONN) stays open after its answer,
 * and the worker waits for the next request on all its kept connections
 * and the listening socket at once (epoll): a worker is not pinned to a
 * connection. While it answers one request, nginx may send another on one
 * of its idle kept connections; that request waits for the worker. So a
 * worker hands its idle kept connections on, through a socket pair all
 * workers share (recv_fd, send_fd: SCM_RIGHTS), when the request in hand
 * has taken after_ms (0: at the start of every request, which costs
 * system calls whenever a worker holds more than one), and all of them
 * when it exits
 * (fcgi_req_free): an idle worker takes them, and whatever nginx sent on
 * them meanwhile waits in the socket, lost to nobody. The timer is a POSIX
 * timer on SIGRTMIN + 1 (a handler with SA_RESTART), armed only while a
 * request is answered with idle kept connections held. -1 on failure.
 */
int fcgi_set_handoff(struct fcgi_req *r, int recv_fd, int send_fd, int after_ms);

/* The signal mask while fcgi_accept waits for a request (epoll_pwait): a
 * worker keeps its stop signals blocked except there. */
void fcgi_set_wait_mask(struct fcgi_req *r, const sigset_t *mask);

/* Frees the request; its idle kept connections are handed on (or closed,
 * when there is nowhere to hand them). */
void fcgi_req_free(struct fcgi_req *r);

/*
 * Waits for the next request, on a new connection or a kept one (the wait
 * is interrupted by signals), and reads its parameters. Returns 0, or -1
 * with errno: EINTR (a signal), ETIMEDOUT (the parameters did not arrive
 * within read_timeout; the connection was closed), EPROTO (a new
 * connection's peer closed or sent something other than a request;
 * closed), or accept's error. A kept connection that nginx closes is
 * closed here without a word.
 */
int fcgi_accept(struct fcgi_req *r);

/* A FastCGI parameter of the current request, or NULL. */
const char *fcgi_param(struct fcgi_req *r, const char *name);

/* Reads up to len body bytes into buf; returns how many were read. Fewer
 * than len: the body ended early, or its time ran out (fcgi_read_expired). */
size_t fcgi_read(struct fcgi_req *r, char *buf, size_t len);

/* After a short fcgi_read: true when read_timeout ran out. The request is
 * then to be dropped (fcgi_drop), not answered. */
bool fcgi_read_expired(const struct fcgi_req *r);

/* The worker reads no more of the request (for now): stops its clock.
 * Call it before the answer is made (the store); fcgi_write does too. */
void fcgi_read_end(struct fcgi_req *r);

/* Writes len bytes of response; 0 or -1 (the client is gone). */
int fcgi_write(struct fcgi_req *r, const void *p, size_t len);

/* Ends the current request: flushes the answer, then keeps the connection
 * for nginx's next request when nginx asked for that (input the request
 * left unread is read and dropped first), or closes it. */
void fcgi_finish(struct fcgi_req *r);

/* Ends the current request unanswered: closes the connection at once,
 * nothing written, nothing more read. fcgi_finish afterwards does nothing. */
void fcgi_drop(struct fcgi_req *r);

/*
 * Ends the current request as failed, for a body that cannot be completed
 * (a streamed response whose source failed half-way): what libfcgi still
 * buffers is dropped, the connection gets a record that is not FastCGI and
 * is closed without FCGI_END_REQUEST. nginx then logs "upstream sent
 * unsupported FastCGI protocol version" and closes the client's connection
 * without the last chunk, so the client sees a broken transfer, never a
 * complete response. fcgi_finish afterwards does nothing.
 */
void fcgi_abort(struct fcgi_req *r);

#endif
