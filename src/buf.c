/*
 * buf: growable buffer; doubles its storage up to b_max.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_DEFAULT_MAX ((size_t)64 << 20)

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->b_max = max ? max : BUF_DEFAULT_MAX;
}

void
buf_free(struct buf *b)
{
	size_t max = b->b_max;

	free(b->b_data);
	buf_init(b, max);
}

void
buf_reset(struct buf *b)
{
	b->b_len = 0;
	b->b_failed = false;
	if (b->b_data != NULL)
		b->b_data[0] = '\0';
}

static int
reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->b_failed)
		return -1;
	if (extra > b->b_max || b->b_len > b->b_max - extra) {
		b->b_failed = true;
		return -1;
	}
	need = b->b_len + extra + 1;
	if (need <= b->b_cap)
		return 0;
	cap = b->b_cap ? b->b_cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->b_data, cap);
	if (p == NULL) {
		b->b_failed = true;
		return -1;
	}
	b->b_data = p;
	b->b_cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t len)
{
	if (reserve(b, len) == -1)
		return -1;
	if (len > 0)
		memcpy(b->b_data + b->b_len, p, len);
	b->b_len += len;
	b->b_data[b->b_len] = '\0';
	return 0;
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	if (b->b_failed)
		return -1;
	va_copy(again, ap);
	/* Most pieces fit the room the buffer has: one vsnprintf, not one to
	 * measure and one to write (printf was a fifth of a GET's instructions). */
	if (b->b_cap > b->b_len) {
		size_t room = b->b_cap - b->b_len;

		n = vsnprintf(b->b_data + b->b_len, room, fmt, ap);
		if (n >= 0 && (size_t)n < room) {
			va_end(again);
			if ((size_t)n > b->b_max - b->b_len) {
				/* Over the cap, as reserve() would have refused. */
				b->b_data[b->b_len] = '\0';
				b->b_failed = true;
				return -1;
			}
			b->b_len += (size_t)n;
			return 0;
		}
		/* It did not fit: what it wrote of it goes (below). */
		b->b_data[b->b_len] = '\0';
	} else {
		n = vsnprintf(NULL, 0, fmt, ap);
	}
	if (n < 0 || reserve(b, (size_t)n) == -1) {
		va_end(again);
		b->b_failed = true;
		return -1;
	}
	n = vsnprintf(b->b_data + b->b_len, (size_t)n + 1, fmt, again);
	va_end(again);
	if (n < 0) {
		b->b_failed = true;
		return -1;
	}
	b->b_len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}
