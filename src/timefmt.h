/*
 * timefmt: the timestamp formats of the API, always in UTC.
 *
 * Parses integer milliseconds since the epoch, ISO 8601 (date, or date and
 * time with optional fraction, "Z" or an offset), RFC 1123, RFC 1036 (two-digit
 * years are 20xx) and asctime() dates; formats HTTP dates. Pure: no I/O, no
 * globals, no allocation.
 */
#ifndef ORCHID_TIMEFMT_H
#define ORCHID_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* The accepted range: 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z. */
#define TIMEFMT_MIN_MS INT64_C(0)
#define TIMEFMT_MAX_MS INT64_C(253402300799999)

/*
 * Parses the len bytes at s (not NUL-terminated) as a timestamp in any accepted
 * format and stores milliseconds since the epoch in *ms. Returns 0, or -1 when
 * the text is not exactly one accepted timestamp (trailing bytes included) or
 * lies outside [TIMEFMT_MIN_MS, TIMEFMT_MAX_MS].
 */
int timefmt_parse(const char *s, size_t len, int64_t *ms);

/*
 * Writes the RFC 1123 date of ms ("Sun, 06 Nov 1994 08:49:37 GMT", seconds
 * truncated) into buf of size bytes (at least TIMEFMT_HTTP_DATE_SIZE).
 * Returns 0, or -1 when buf is too small or ms is out of range.
 */
#define TIMEFMT_HTTP_DATE_SIZE 30
int timefmt_http_date(int64_t ms, char *buf, size_t size);

/* Writes ms as ISO 8601 with milliseconds ("1994-11-06T08:49:37.000Z"). */
#define TIMEFMT_ISO_SIZE 25
int timefmt_iso8601(int64_t ms, char *buf, size_t size);

/* The current time in milliseconds since the epoch (CLOCK_REALTIME). */
int64_t timefmt_now_ms(void);

#endif
