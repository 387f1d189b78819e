/*
 * reqparse: turns the FastCGI parameters of one request into a struct
 * request: method, raw URI split into path segments and query parameters,
 * the headers handlers use, the request id, the body length. Pure: the
 * parameters come through a lookup function, so tests and fuzzers can feed
 * any table.
 */
#ifndef ORCHID_REQPARSE_H
#define ORCHID_REQPARSE_H

#include <stdint.h>

#include "dispatch.h"
#include "http.h"

/* Returns the value of a parameter, or NULL when absent. */
typedef const char *(*reqparse_param_fn)(void *ctx, const char *name);

/*
 * Fills req (whose arena and cfg are set) and pr from the parameters.
 * Never fails: what is malformed is recorded in pr for dispatch to answer
 * after authentication.
 */
void reqparse_fill(struct request *req, struct parse_result *pr,
    reqparse_param_fn get, void *ctx);

/*
 * Reads CONTENT_LENGTH strictly (absent or empty: 0). Returns 0 with *len,
 * 400 when it is not a plain decimal number, 413 when it is over max.
 */
int reqparse_content_length(const char *value, int64_t max, int64_t *len);

#endif
