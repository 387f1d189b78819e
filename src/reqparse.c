/*
 * reqparse: FastCGI parameters to struct request.
 */
#include "reqparse.h"

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ids.h"
#include "util.h"

/* The request id nginx made ($request_id as a UUID), or a new one. */
static void
set_req_id(struct request *req, const char *given)
{
	size_t n = given ? strlen(given) : 0;
	bool ok = n > 0 && n < sizeof(req->req_id);

	for (size_t i = 0; ok && i < n; i++)
		ok = util_is_hex(&given[i], 1) || given[i] == '-';
	if (ok)
		memcpy(req->req_id, given, n + 1);
	else if (ids_uuid(req->req_id) == -1)
		snprintf(req->req_id, sizeof(req->req_id), "unknown");
}

void
reqparse_fill(struct request *req, struct parse_result *pr, reqparse_param_fn get,
    void *ctx)
{
	const char *uri = get(ctx, "REQUEST_URI");
	const char *q;

	memset(pr, 0, sizeof(*pr));
	set_req_id(req, get(ctx, "REQUEST_ID"));
	req->method_name = get(ctx, "REQUEST_METHOD");
	if (req->method_name == NULL)
		req->method_name = "";
	req->method = http_method_parse(req->method_name);
	req->authorization = get(ctx, "HTTP_AUTHORIZATION");
	req->if_match = get(ctx, "HTTP_IF_MATCH");
	req->if_none_match = get(ctx, "HTTP_IF_NONE_MATCH");
	req->content_type = get(ctx, "CONTENT_TYPE");
	req->read_after = get(ctx, "HTTP_ORCHID_READ_AFTER");
	req->uri = uri ? uri : "";
	q = strchr(req->uri, '?');
	req->path_raw = req->uri;
	req->path_raw_len = q ? (size_t)(q - req->uri) : strlen(req->uri);
	req->query_raw = q ? q + 1 : "";
	req->query_raw_len = strlen(req->query_raw);
	pr->path_rc = route_split(req->arena, req->path_raw, req->path_raw_len,
	    (size_t)req->cfg->max_name_length, &req->path, &pr->path_why);
	pr->query_bad = query_parse(req->arena, req->query_raw, req->query_raw_len,
	    &req->query, &pr->query_why) == -1;
}

/*
 * Content-Length is 1*DIGIT (RFC 9110 8.6): nginx passes leading zeros on
 * as the client sent them, so they are skipped here rather than counted
 * against util_parse_int64's 20 digits. Digits that overflow an int64_t are
 * a number over any max: 413 with *len saturated at INT64_MAX.
 */
int
reqparse_content_length(const char *value, int64_t max, int64_t *len)
{
	size_t n, z = 0;

	*len = 0;
	if (value == NULL || *value == '\0')
		return 0;
	n = strlen(value);
	if (strspn(value, "0123456789") != n)
		return 400;
	while (z + 1 < n && value[z] == '0')
		z++;
	if (util_parse_int64(value + z, n - z, 0, INT64_MAX, len) == -1) {
		*len = INT64_MAX;
		return 413;
	}
	return *len > max ? 413 : 0;
}
