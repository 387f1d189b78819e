/*
 * buf: a growable byte buffer with a hard size cap. Used to build response
 * bodies and headers; every append fails cleanly instead of growing past the
 * cap or overflowing.
 */
#ifndef ORCHID_BUF_H
#define ORCHID_BUF_H

#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *b_data;   /* NUL-terminated after every successful append */
	size_t b_len;
	size_t b_cap;   /* allocated size */
	size_t b_max;   /* the cap; 0 means the default of 64 MiB */
	bool b_failed;  /* an append failed (out of memory or over the cap) */
};

/* Initialises an empty buffer with the given cap (0: default). */
void buf_init(struct buf *b, size_t max);
/* Frees the storage; the buffer may be initialised again. */
void buf_free(struct buf *b);
/* Empties the buffer and clears the failed flag, keeping the storage. */
void buf_reset(struct buf *b);

/* Appends; each returns 0 or -1 (and sets b_failed). */
int buf_add(struct buf *b, const void *p, size_t len);
int buf_adds(struct buf *b, const char *s);
int buf_addc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
