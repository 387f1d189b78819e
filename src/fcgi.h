/*
 * fcgi: the only module that includes <fcgiapp.h>. Accepts requests on the
 * listening socket the master created, reads parameters and bodies within
 * limits, and writes responses.
 */
#ifndef ORCHID_FCGI_H
#define ORCHID_FCGI_H

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
void fcgi_req_free(struct fcgi_req *r);

/*
 * Waits for the next connection (accept() is interrupted by signals) and
 * reads its request's parameters. Returns 0, or -1 with errno: EINTR (a
 * signal), ETIMEDOUT (the parameters did not arrive within read_timeout;
 * the connection was closed), EPROTO (the peer closed or sent something
 * other than a request; closed), or accept's error.
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

/* Ends the current request: flushes the answer and closes the connection
 * (never kept for another request). */
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
