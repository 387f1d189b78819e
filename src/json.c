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

static enum json_rc
parse(const char *s, size_t len, int max_depth, bool arrays,
    struct json_object **out, const char **why)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error e;
	enum json_rc rc;

	*out = NULL;
	if (len > INT32_MAX) {
		*why = "The request body is too large.";
		return JSON_SYNTAX;
	}
	tok = json_tokener_new_ex(max_depth);
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
			} else {
				buf_addc(b, (char)c);
			}
		}
	}
	return buf_addc(b, '"');
}
