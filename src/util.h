/*
 * util: small pure helpers shared by every module: strict number parsing
 * (the strtonum of STYLE.md), hex, and byte-order for keys.
 */
#ifndef ORCHID_UTIL_H
#define ORCHID_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses len bytes of ASCII decimal digits (an optional leading '-' only when
 * min < 0) into *out, within [min, max]. No spaces, no '+', no empty input.
 * Returns 0 or -1.
 */
int util_parse_int64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out);

/* Same for unsigned 64-bit decimal values. */
int util_parse_uint64(const char *s, size_t len, uint64_t *out);

/* The value of a hex digit (either case), or -1. */
int util_hexval(char c);

/* True when s[0..len) is non-empty and only hex digits (either case). */
bool util_is_hex(const char *s, size_t len);

/* Writes len bytes as 2*len lowercase hex digits plus NUL into out. */
void util_hex(const unsigned char *in, size_t len, char *out);

/* Big-endian integer encoding, so that byte order is numeric order. */
void util_put_be64(unsigned char *p, uint64_t v);
uint64_t util_get_be64(const unsigned char *p);
void util_put_be32(unsigned char *p, uint32_t v);
uint32_t util_get_be32(const unsigned char *p);



/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool util_utf8_valid(const char *s, size_t len);
/* The length (1..4) of the well-formed UTF-8 character at s, of the avail
 * bytes there; 0 when they do not start with one. */
size_t util_utf8_char(const char *s, size_t avail);

/* Cuts a NUL-terminated string that snprintf truncated inside a UTF-8
 * sequence back to its last whole character (messages go into JSON). */
void util_utf8_trim(char *s);
#endif
