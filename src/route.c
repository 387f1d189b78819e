/*
 * route: path splitting and the percent codec.
 */
#include "route.h"

#include <string.h>

#include "mem.h"
#include "util.h"

char *
route_decode(struct arena *a, const char *s, size_t len, int plus_is_space,
    size_t *outlen, int *bad)
{
	char *out;
	size_t n = 0;

	*bad = 0;
	out = mem_alloc(a, len + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len) {
				*bad = 1;
				return NULL;
			}
			hi = util_hexval(s[i + 1]);
			lo = util_hexval(s[i + 2]);
			if (hi < 0 || lo < 0) {
				*bad = 1;
				return NULL;
			}
			out[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			out[n++] = ' ';
		} else {
			out[n++] = s[i];
		}
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

static enum route_rc
add_segment(struct arena *a, const char *s, size_t len, size_t max_len,
    struct path *out, const char **why)
{
	char *d;
	size_t dlen;
	int bad;

	if (len == 0) {
		*why = "The path has an empty segment.";
		return ROUTE_BAD;
	}
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
		*why = "The path has a \".\" or \"..\" segment.";
		return ROUTE_BAD;
	}
	if (out->nseg == ROUTE_MAX_SEGS) {
		*why = "The path has too many segments.";
		return ROUTE_BAD;
	}
	d = route_decode(a, s, len, 0, &dlen, &bad);
	if (d == NULL) {
		*why = bad ? "The path has a malformed percent escape." : "Out of memory.";
		return ROUTE_BAD;
	}
	if (memchr(d, '\0', dlen) != NULL) {
		*why = "A name in the path contains a NUL byte.";
		return ROUTE_BAD;
	}
	if (!util_utf8_valid(d, dlen)) {
		*why = "A name in the path is not valid UTF-8.";
		return ROUTE_BAD;
	}
	if (dlen > max_len) {
		*why = "A name in the path is too long.";
		return ROUTE_BAD;
	}
	out->seg[out->nseg].s = d;
	out->seg[out->nseg].len = dlen;
	out->nseg++;
	return ROUTE_OK;
}

enum route_rc
route_split(struct arena *a, const char *raw, size_t len, size_t max_len,
    struct path *out, const char **why)
{
	const char *p = raw, *end = raw + len;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	/* The service tolerated "//v0/..."; accept exactly one extra slash. */
	if (len >= 2 && p[0] == '/' && p[1] == '/')
		p++;
	if (end - p < 3 || memcmp(p, "/v0", 3) != 0)
		return ROUTE_NOT_API;
	p += 3;
	if (p == end)
		return ROUTE_OK;
	if (*p != '/')
		return ROUTE_NOT_API;
	p++;
	/* One trailing slash is tolerated: "/v0/c/k/" is "/v0/c/k". */
	if (end - p > 1 && end[-1] == '/')
		end--;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *segend = slash ? slash : end;
		enum route_rc rc = add_segment(a, p, (size_t)(segend - p), max_len, out, why);

		if (rc != ROUTE_OK)
			return rc;
		if (slash == NULL)
			break;
		p = slash + 1;
		if (p == end) {
			*why = "The path has an empty segment.";
			return ROUTE_BAD;
		}
	}
	return ROUTE_OK;
}

static int
encode(struct buf *b, const char *s, size_t len, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~' || (c != 0 && strchr(keep, c) != NULL)) {
			buf_addc(b, (char)c);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

			buf_add(b, esc, 3);
		}
	}
	return b->b_failed ? -1 : 0;
}

int
route_encode_segment(struct buf *b, const char *s, size_t len)
{
	/* A name "." or ".." must not become a dot segment in a URL. */
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return buf_add(b, "%2E%2E", 3 * len);
	return encode(b, s, len, ":@");
}

int
route_encode_query(struct buf *b, const char *s, size_t len)
{
	return encode(b, s, len, ":@/");
}
