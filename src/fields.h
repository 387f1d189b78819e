/*
 * fields: Orchestrate's field filtering (the with_fields and without_fields
 * query parameters) over json-c values. A list is compiled once per request
 * into a struct fields_filter; applying it builds a new value and leaves the
 * input alone. Pure: no I/O, no HTTP, no store; calls json-c, libc and util.
 * The rules are in the header of fields.c and in docs/api.md.
 */
#ifndef ORCHID_FIELDS_H
#define ORCHID_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct fields_filter;

/* Limits on one list (with_fields or without_fields); beyond them: FIELDS_BAD. */
#define FIELDS_MAX_PATHS	100	/* comma-separated paths in one list */
#define FIELDS_MAX_DEPTH	64	/* names in one path, not counting "value." */
#define FIELDS_MAX_PATH_LEN	1024	/* bytes in one path, "value." included */

/* Room for any message fields_compile writes (it truncates to errlen). */
#define FIELDS_ERR_LEN		256

enum fields_rc {
	FIELDS_OK,
	FIELDS_BAD,   /* a list is empty or malformed: 400 api_bad_request */
	FIELDS_NOMEM  /* out of memory: 503 */
};

/*
 * Compiles the values of with_fields and without_fields into a new filter in
 * *out, to be released with fields_free(). Each list is len bytes at s (a
 * decoded query value, need not be NUL-terminated); a NULL s means the
 * parameter was absent. A present but empty list is FIELDS_BAD. On FIELDS_BAD
 * err (errlen bytes, FIELDS_ERR_LEN is enough) gets a sentence naming the
 * parameter and what is wrong; on FIELDS_NOMEM it says so. Either way *out is
 * NULL. The lists are copied: nothing is borrowed after the call.
 */
enum fields_rc fields_compile(const char *with, size_t with_len,
    const char *without, size_t without_len, struct fields_filter **out,
    char *err, size_t errlen);

/*
 * True when f filters nothing (neither parameter was given, or f is NULL):
 * the caller can send the stored value as it is, without parsing it.
 */
bool fields_is_empty(const struct fields_filter *f);

/*
 * Applies f to the JSON value in (with_fields first, then without_fields)
 * and stores a new reference to the result in *out, which shares nothing
 * with in; release it with json_object_put(). in is not changed. When
 * with_fields keeps nothing, the result is {} ([] for an array, null for a
 * scalar). Takes time and memory linear in the size of in, whatever the
 * lists. Returns FIELDS_OK, or FIELDS_NOMEM with *out NULL.
 */
enum fields_rc fields_apply(const struct fields_filter *f, struct json_object *in,
    struct json_object **out);

/* Releases f; NULL does nothing. */
void fields_free(struct fields_filter *f);

#endif
