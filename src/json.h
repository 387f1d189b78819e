/*
 * json: the only module (with the patch code to come) that knows json-c.
 * Parses request bodies within limits, refusing anything that would not
 * round-trip exactly, serialises values canonically (compact), and writes
 * JSON string literals for hand-built responses.
 */
#ifndef ORCHID_JSON_H
#define ORCHID_JSON_H

#include <stddef.h>

#include "buf.h"

struct json_object;

enum json_rc {
	JSON_OK,
	JSON_SYNTAX,     /* not valid JSON (or invalid UTF-8) */
	JSON_DEPTH,      /* nested deeper than the limit */
	JSON_NUMBER,     /* a number that cannot be stored exactly */
	JSON_NOT_OBJECT, /* valid, but the top level is not an object */
	JSON_NOMEM
};

/*
 * Parses len bytes at s as exactly one JSON object nested at most max_depth
 * levels. On JSON_OK *out holds a new reference the caller releases with
 * json_release(); otherwise *why says what is wrong (a static string).
 */
enum json_rc json_parse_object(const char *s, size_t len, int max_depth,
    struct json_object **out, const char **why);

/* As json_parse_object, but the top level may also be an array (a list of
 * patch operations). */
enum json_rc json_parse_patch(const char *s, size_t len, int max_depth,
    struct json_object **out, const char **why);

/*
 * For len bytes at s that json-c's tokener (JSON_TOKENER_STRICT, with
 * room for max_depth + 1 levels or more) parsed whole into o: the checks
 * json_parse_object(s, len, max_depth) makes besides json-c's, with its
 * codes and messages. JSON_OK exactly when json_parse_object would accept
 * s, and then its value equals o; o is borrowed. Otherwise *why says what
 * is wrong (a static string).
 */
enum json_rc json_check_object(const char *s, size_t len, int max_depth,
    struct json_object *o, const char **why);

/* The nesting depth of JSON text (brackets outside strings). */
int json_depth(const char *s, size_t len);

/* Drops a reference from json_parse_object(); NULL is fine. */
void json_release(struct json_object *o);

/*
 * The canonical (compact) serialisation of o; the string belongs to o and
 * lives until o is released or changed. *len gets its length. NULL when out of
 * memory.
 */
const char *json_canonical(struct json_object *o, size_t *len);

/* Appends s (len bytes, UTF-8) to b as a JSON string literal with quotes.
 * A byte that does not belong to a well-formed UTF-8 character (an echo of
 * a client's bytes, a text cut mid-character) becomes U+FFFD, so the output
 * is always valid UTF-8 JSON. */
int json_emit_string(struct buf *b, const char *s, size_t len);

#endif
