/*
 * fcgi: the only module that includes <fcgiapp.h>. Accepts requests on the
 * listening socket the master created, reads parameters and bodies within
 * limits, and writes responses.
 */
#ifndef ORCHID_FCGI_H
#define ORCHID_FCGI_H

#include <stddef.h>

struct fcgi_req;

/* Initialises libfcgi and a request object on listen_fd; NULL on failure.
 * accept() is interrupted by signals (FCGI_FAIL_ACCEPT_ON_INTR). */
struct fcgi_req *fcgi_req_new(int listen_fd);
void fcgi_req_free(struct fcgi_req *r);

/* Waits for the next request; 0, or -1 when interrupted or failed. */
int fcgi_accept(struct fcgi_req *r);

/* A FastCGI parameter of the current request, or NULL. */
const char *fcgi_param(struct fcgi_req *r, const char *name);

/* Reads up to len body bytes into buf; returns how many were read. */
size_t fcgi_read(struct fcgi_req *r, char *buf, size_t len);

/* Writes len bytes of response; 0 or -1 (the client is gone). */
int fcgi_write(struct fcgi_req *r, const void *p, size_t len);

/* Ends the current request (flushes and closes or keeps the connection). */
void fcgi_finish(struct fcgi_req *r);

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
