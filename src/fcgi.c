/*
 * fcgi: libfcgi's request API (FCGX_*), one request at a time per process.
 */
#include "fcgi.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fcgiapp.h>

struct fcgi_req {
	FCGX_Request req;
	int accepted;
};

struct fcgi_req *
fcgi_req_new(int listen_fd)
{
	struct fcgi_req *r;

	if (FCGX_Init() != 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	if (FCGX_InitRequest(&r->req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		free(r);
		return NULL;
	}
	return r;
}

void
fcgi_req_free(struct fcgi_req *r)
{
	if (r == NULL)
		return;
	if (r->accepted)
		FCGX_Finish_r(&r->req);
	FCGX_Free(&r->req, 0);
	free(r);
}

int
fcgi_accept(struct fcgi_req *r)
{
	if (FCGX_Accept_r(&r->req) < 0) {
		r->accepted = 0;
		return -1;
	}
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

int
fcgi_write(struct fcgi_req *r, const void *p, size_t len)
{
	const char *s = p;

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
 */
void
fcgi_finish(struct fcgi_req *r)
{
	if (r->accepted) {
		if (FCGX_GetChar(r->req.in) == EOF && FCGX_GetError(r->req.in) == 0)
			(void)FCGX_Detach(&r->req);
		FCGX_Finish_r(&r->req);
	}
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
 * with close set, shuts the socket down and closes it.
 */
void
fcgi_abort(struct fcgi_req *r)
{
	static const unsigned char not_fastcgi[8] = { 0 };

	if (!r->accepted)
		return;
	/* libfcgi writes whole records, so the socket is at a record
	 * boundary here; a failed write means nginx is gone already. */
	(void)!write(r->req.ipcFd, not_fastcgi, sizeof(not_fastcgi));
	FCGX_Free(&r->req, 1);
	r->accepted = 0;
}
