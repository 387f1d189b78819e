/*
 * http: responses, errors and entity tags.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "util.h"

enum http_method
http_method_parse(const char *name)
{
	static const struct {
		const char *name;
		enum http_method m;
	} methods[] = {
		{ "GET", M_GET }, { "HEAD", M_HEAD }, { "PUT", M_PUT },
		{ "POST", M_POST }, { "PATCH", M_PATCH }, { "DELETE", M_DELETE },
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (name != NULL && strcmp(name, methods[i].name) == 0)
			return methods[i].m;
	}
	return M_OTHER;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 501: return "Not Implemented";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

void
http_response_init(struct response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->headers, 64 * 1024);
	buf_init(&r->body, 0);
	r->status = 200;
}

static void
release_stream(struct response *r)
{
	if (r->stream.release != NULL)
		r->stream.release(r->stream.arg);
	memset(&r->stream, 0, sizeof(r->stream));
}

void
http_response_free(struct response *r)
{
	release_stream(r);
	buf_free(&r->headers);
	buf_free(&r->body);
}

void
http_response_reset(struct response *r)
{
	release_stream(r);
	buf_reset(&r->headers);
	buf_reset(&r->body);
	r->status = 200;
	r->content_type = NULL;
}

void
http_response_stream(struct response *r, const char *content_type,
    const struct http_stream *s)
{
	release_stream(r);
	r->status = 200;
	r->content_type = content_type;
	r->stream = *s;
}

void
http_header(struct response *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	/* Any length: a header that does not fit the buffer's cap marks the
	 * response failed (500), it is never dropped. */
	buf_adds(&r->headers, name);
	buf_adds(&r->headers, ": ");
	va_start(ap, fmt);
	buf_vprintf(&r->headers, fmt, ap);
	va_end(ap);
	buf_adds(&r->headers, "\r\n");
}

void
http_error(struct response *r, int status, const char *code,
    const char *message, const char *details_json)
{
	http_response_reset(r);
	r->status = status;
	buf_adds(&r->body, "{\"message\":");
	json_emit_string(&r->body, message, strlen(message));
	buf_adds(&r->body, ",\"code\":");
	json_emit_string(&r->body, code, strlen(code));
	if (details_json != NULL) {
		buf_adds(&r->body, ",\"details\":");
		buf_adds(&r->body, details_json);
	}
	buf_addc(&r->body, '}');
}

void
http_error_not_found(struct response *r, const char *collection, const char *key)
{
	struct buf d;

	buf_init(&d, 0);
	buf_adds(&d, "{\"items\":[{\"collection\":");
	json_emit_string(&d, collection, strlen(collection));
	if (key != NULL) {
		buf_adds(&d, ",\"key\":");
		json_emit_string(&d, key, strlen(key));
	}
	buf_adds(&d, "}]}");
	http_error(r, 404, "items_not_found", "The requested items could not be found.",
	    d.b_failed ? NULL : d.b_data);
	buf_free(&d);
}

void
http_error_bad_request(struct response *r, const char *why)
{
	struct buf d;

	buf_init(&d, 0);
	buf_adds(&d, "{\"info\":");
	json_emit_string(&d, why, strlen(why));
	buf_addc(&d, '}');
	http_error(r, 400, "api_bad_request", HTTP_MSG_BAD_REQUEST,
	    d.b_failed ? NULL : d.b_data);
	buf_free(&d);
}

void
http_error_internal(struct response *r)
{
	http_error(r, 500, "internal_error", "Internal Error.", NULL);
}

void
http_error_unavailable(struct response *r, const char *why)
{
	http_error(r, 503, "service_unavailable", why, NULL);
	http_header(r, "Retry-After", "1");
}

/* Parses one tag at *p (after spaces); advances *p past it. */
static int
parse_one_tag(const char **pp, struct etag_list *out)
{
	const char *p = *pp, *start;
	bool weak = false, quoted = false;
	size_t len;

	if (*p == '*' || (p[0] == '"' && p[1] == '*' && p[2] == '"')) {
		out->any = true;
		*pp = p + (*p == '*' ? 1 : 3);
		return 0;
	}
	if (p[0] == 'W' && p[1] == '/') {
		weak = true;
		p += 2;
	}
	if (*p == '"') {
		quoted = true;
		p++;
	}
	start = p;
	while (*p != '\0' && *p != '"' && *p != ',' && *p != ' ' && *p != '\t')
		p++;
	len = (size_t)(p - start);
	if (quoted) {
		if (*p != '"')
			return -1;
		p++;
	} else if (weak) {
		return -1;
	}
	if (len == 0 || len > 64 || !util_is_hex(start, len) || out->n == HTTP_MAX_TAGS)
		return -1;
	for (size_t i = 0; i < len; i++)
		out->t[out->n].tag[i] = (char)(start[i] >= 'A' && start[i] <= 'F'
		    ? start[i] - 'A' + 'a' : start[i]);
	out->t[out->n].tag[len] = '\0';
	out->t[out->n].weak = weak;
	out->n++;
	*pp = p;
	return 0;
}

int
http_parse_etags(const char *header, struct etag_list *out)
{
	const char *p = header;

	memset(out, 0, sizeof(*out));
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (parse_one_tag(&p, out) == -1)
			return -1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		if (*p != ',')
			return -1;
		p++;
	}
}

bool
http_etags_match(const struct etag_list *l, const char *ref)
{
	if (l->any)
		return true;
	for (size_t i = 0; i < l->n; i++) {
		if (!l->t[i].weak && strcmp(l->t[i].tag, ref) == 0)
			return true;
	}
	return false;
}
