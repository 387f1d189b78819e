/*
 * json: json-c behind a narrow interface. json-c silently clamps integers
 * that do not fit 64 bits and accepts NaN/Infinity; a database must not
 * change a client's numbers, so a walk after parsing refuses those.
 */
#include "json.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util.h"

#include <json-c/json.h>

static enum json_rc
check_numbers(struct json_object *o, const char **why)
{
	enum json_rc rc;

	switch (json_object_get_type(o)) {
	case json_type_int:
		/* json-c clamps out-of-range integers to these bounds. */
		if (json_object_get_int64(o) == INT64_MIN ||
		    json_object_get_uint64(o) == UINT64_MAX) {
			*why = "A number is out of the range that can be stored exactly "
			       "(integers must lie between -2^63 and 2^64-1, exclusive).";
			return JSON_NUMBER;
		}
		return JSON_OK;
	case json_type_double: {
		double d = json_object_get_double(o);

		if (isnan(d) || isinf(d)) {
			*why = "A number is not finite or is out of range.";
			return JSON_NUMBER;
		}
		return JSON_OK;
	}
	case json_type_array: {
		size_t n = json_object_array_length(o);

		for (size_t i = 0; i < n; i++) {
			rc = check_numbers(json_object_array_get_idx(o, i), why);
			if (rc != JSON_OK)
				return rc;
		}
		return JSON_OK;
	}
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			rc = check_numbers(v, why);
			if (rc != JSON_OK)
				return rc;
		}
		return JSON_OK;
	}
	default:
		return JSON_OK;
	}
}

/*
 * A strict RFC 8259 syntax check of the raw text, run before json-c. json-c
 * 0.16 accepts "1.", "-.5", "00", single-quoted keys and raw control
 * characters even in strict mode, and turns lone surrogate escapes into
 * U+FFFD; a database must neither store invalid JSON nor change a string.
 * Nesting depth is json-c's job; this scanner recurses only through
 * json-c-bounded input (it runs after a depth pre-check below).
 */
struct scan {
	const unsigned char *p, *end;
};

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
	    *s->p == '\r'))
		s->p++;
}

static int
hex4(struct scan *s, unsigned *out)
{
	unsigned v = 0;

	if (s->end - s->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		unsigned char c = *s->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * A name (object key) may not hold U+0000: json-c keeps names as C strings
 * and would cut the name at the NUL, silently changing the document.
 */
static int
scan_string(struct scan *s, bool name)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p++;
		unsigned u, lo;

		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c != '\\')
			continue;
		if (s->p == s->end)
			return -1;
		c = *s->p++;
		if (strchr("\"\\/bfnrt", c) != NULL && c != '\0')
			continue;
		if (c != 'u' || hex4(s, &u) == -1)
			return -1;
		if (u == 0 && name)
			return -1;
		if (u >= 0xdc00 && u <= 0xdfff)
			return -1; /* a low surrogate alone */
		if (u >= 0xd800 && u <= 0xdbff) {
			if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u')
				return -1;
			s->p += 2;
			if (hex4(s, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
				return -1;
		}
	}
	return -1;
}

static int
digits(struct scan *s)
{
	const unsigned char *start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start ? 0 : -1;
}

static int
scan_number(struct scan *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (digits(s) == -1)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (digits(s) == -1)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (digits(s) == -1)
			return -1;
	}
	return 0;
}

static int scan_value(struct scan *s, int depth);

static int
scan_container(struct scan *s, int depth, bool object)
{
	char close = object ? '}' : ']';

	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		skip_ws(s);
		if (object) {
			if (s->p == s->end || *s->p != '"' || scan_string(s, true) == -1)
				return -1;
			skip_ws(s);
			if (s->p == s->end || *s->p++ != ':')
				return -1;
		}
		if (scan_value(s, depth + 1) == -1)
			return -1;
		skip_ws(s);
		if (s->p == s->end)
			return -1;
		if (*s->p == close) {
			s->p++;
			return 0;
		}
		if (*s->p++ != ',')
			return -1;
	}
}

static int
literal(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int
scan_value(struct scan *s, int depth)
{
	skip_ws(s);
	if (s->p == s->end || depth > 10000)
		return -1;
	switch (*s->p) {
	case '{': return scan_container(s, depth, true);
	case '[': return scan_container(s, depth, false);
	case '"': return scan_string(s, false);
	case 't': return literal(s, "true");
	case 'f': return literal(s, "false");
	case 'n': return literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return -1;
	}
}

/* Nesting depth of the raw text, counted outside strings. */
static int
raw_depth(const char *s, size_t len)
{
	int d = 0, max = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			if (++d > max)
				max = d;
		} else if (c == '}' || c == ']') {
			d--;
		}
	}
	return max;
}

int
json_depth(const char *s, size_t len)
{
	return raw_depth(s, len);
}

static bool
strict_syntax(const char *text, size_t len)
{
	struct scan s = { (const unsigned char *)text, (const unsigned char *)text + len };

	if (scan_value(&s, 0) == -1)
		return false;
	skip_ws(&s);
	return s.p == s.end;
}

static enum json_rc parse(const char *s, size_t len, int max_depth, bool arrays,
    struct json_object **out, const char **why);

enum json_rc
json_parse_object(const char *s, size_t len, int max_depth,
    struct json_object **out, const char **why)
{
	return parse(s, len, max_depth, false, out, why);
}

enum json_rc
json_parse_patch(const char *s, size_t len, int max_depth,
    struct json_object **out, const char **why)
{
	return parse(s, len, max_depth, true, out, why);
}

/*
 * The checks parse() makes on the raw text before json-c sees it, in its
 * order and with its messages: size, nesting, UTF-8, strict syntax, and a
 * top level that is an object (or, with arrays, an array).
 */
static enum json_rc
check_text(const char *s, size_t len, int max_depth, bool arrays, const char **why)
{
	struct scan first = { (const unsigned char *)s, (const unsigned char *)s + len };

	if (len > INT32_MAX) {
		*why = "The request body is too large.";
		return JSON_SYNTAX;
	}
	if (raw_depth(s, len) > max_depth) {
		*why = "The JSON document is nested too deeply.";
		return JSON_DEPTH;
	}
	if (!util_utf8_valid(s, len)) {
		*why = "The request body is not valid UTF-8.";
		return JSON_SYNTAX;
	}
	if (!strict_syntax(s, len)) {
		*why = "The request body is not valid JSON.";
		return JSON_SYNTAX;
	}
	skip_ws(&first);
	if (*first.p != '{' && !(arrays && *first.p == '[')) {
		*why = arrays ? "The patch must be a JSON array of operations or a JSON object."
			      : "The value must be a JSON object.";
		return JSON_NOT_OBJECT;
	}
	return JSON_OK;
}

/*
 * Why json_check_object may skip json-c's second parse: once check_text
 * passes, the text is RFC 8259 JSON with no NUL and no raw control
 * character, valid UTF-8 by util_utf8_valid (stricter than json-c's
 * JSON_TOKENER_VALIDATE_UTF8, which checks lead and continuation bytes
 * only), nested at most max_depth containers (json-c needs max_depth + 1
 * levels for that, the tokener parse() builds). So parse()'s tokener fails
 * only where any JSON_TOKENER_STRICT tokener with room for the depth fails
 * too, and builds the same tree: what is left of parse() is the type and
 * the numbers.
 */
enum json_rc
json_check_object(const char *s, size_t len, int max_depth, struct json_object *o,
    const char **why)
{
	enum json_rc rc = check_text(s, len, max_depth, false, why);

	if (rc != JSON_OK)
		return rc;
	if (!json_object_is_type(o, json_type_object)) {
		*why = "The value must be a JSON object.";
		return JSON_NOT_OBJECT;
	}
	return check_numbers(o, why);
}

static enum json_rc
parse(const char *s, size_t len, int max_depth, bool arrays,
    struct json_object **out, const char **why)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error e;
	enum json_rc rc;

	*out = NULL;
	if ((rc = check_text(s, len, max_depth, arrays, why)) != JSON_OK)
		return rc;
	/* json-c counts the innermost scalar as a level; our limit counts
	 * containers (raw_depth above), so give json-c one more. */
	tok = json_tokener_new_ex(max_depth + 1);
	if (tok == NULL) {
		*why = "Out of memory.";
		return JSON_NOMEM;
	}
	/* STRICT: no trailing garbage, no single quotes; UTF-8 validated. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)len);
	e = json_tokener_get_error(tok);
	if (o != NULL && e == json_tokener_success &&
	    json_tokener_get_parse_end(tok) != len) {
		/* A NUL byte inside the body ends json-c's parse early. */
		json_object_put(o);
		o = NULL;
		e = json_tokener_error_parse_unexpected;
	}
	json_tokener_free(tok);
	if (e == json_tokener_error_depth) {
		json_object_put(o);
		*why = "The JSON document is nested too deeply.";
		return JSON_DEPTH;
	}
	if (o == NULL && e == json_tokener_success) {
		*why = "The value must be a JSON object."; /* a top-level null */
		return JSON_NOT_OBJECT;
	}
	if (o == NULL || e != json_tokener_success) {
		json_object_put(o);
		*why = e == json_tokener_continue ? "The JSON document is incomplete."
						  : "The request body is not valid JSON.";
		return JSON_SYNTAX;
	}
	if (!json_object_is_type(o, json_type_object) &&
	    !(arrays && json_object_is_type(o, json_type_array))) {
		json_object_put(o);
		*why = arrays ? "The patch must be a JSON array of operations or a JSON object."
			      : "The value must be a JSON object.";
		return JSON_NOT_OBJECT;
	}
	rc = check_numbers(o, why);
	if (rc != JSON_OK) {
		json_object_put(o);
		return rc;
	}
	*out = o;
	return JSON_OK;
}

void
json_release(struct json_object *o)
{
	if (o != NULL)
		json_object_put(o);
}

const char *
json_canonical(struct json_object *o, size_t *len)
{
	return json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

int
json_emit_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	buf_addc(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"': buf_add(b, "\\\"", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

				buf_add(b, esc, sizeof(esc));
			} else if (c < 0x80) {
				buf_addc(b, (char)c);
			} else {
				size_t n = util_utf8_char(s + i, len - i);

				if (n == 0) {
					buf_add(b, "\\ufffd", 6);
				} else {
					buf_add(b, s + i, n);
					i += n - 1;
				}
			}
		}
	}
	return buf_addc(b, '"');
}
