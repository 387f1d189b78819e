/*
 * bulk: the splitter, the reader and the result entries of bulk imports
 * (bulk.h). Pure: json-c and our JSON checks, no store, no HTTP.
 *
 * The splitter runs two scanners over the same bytes: a bracket counter
 * of its own (depth, strings, escapes), which finds where an operation
 * ends, enforces the limits before json-c sees a byte and can skip an
 * operation without keeping it; and json-c's tokener, fed the same ranges
 * incrementally, which finds a syntax error at the byte it happens, so
 * that reading can resume at the next line. json-c does not keep all the
 * state of a number between two calls (a '-' that begins the second part
 * is taken), so a number or literal at the end of a chunk is held back
 * until the next one: the outcome never depends on the chunking. An
 * operation whose brackets close is handed on with the tree json-c built;
 * the reader then checks its text as json_parse_object (json.h) checks a
 * request body (json_check_object: json-c alone accepts "1." or single
 * quotes), without parsing it a second time.
 */
#include "bulk.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "json.h"
#include "mem.h"
#include "timefmt.h"
#include "util.h"

#define MSG_MALFORMED	"The API request is malformed."
#define MSG_TOO_LARGE	"The operation is larger than the server accepts."
#define INFO_MALFORMED	"Can't read bulk operation from malformed JSON"

/* The fixed part of a result entry, beyond its names: enough for the
 * longest (an event's success, or a failure with a full info), checked by
 * check_bulk. */
#define ENTRY_FIXED	700

size_t
bulk_op_max(const struct bulk_limits *l)
{
	/* Six names at most (a relation's), each escaped at worst as \u00XX
	 * per byte, and the rest of the wrapper. */
	return l->max_value + 4096 + 36 * l->max_name;
}

/* ---- the splitter --------------------------------------------------------- */

enum sp_state {
	SP_SEEK,    /* between operations */
	SP_OP,      /* inside one, keeping its bytes */
	SP_SKIP,    /* inside one too large or too deep: counting brackets only */
	SP_RESYNC   /* after a syntax error: looking for a line that begins with '{' */
};

struct bulk_split {
	struct json_tokener *tok;
	struct json_object *obj;  /* the tree of the operation just closed */
	bool parse_open;     /* the tokener is inside an operation */
	bool tok_dirty;      /* it gave up inside one once: trees are not handed on */
	size_t op_max;
	uint64_t max_nest;   /* brackets an operation may nest: max_depth + 1 */
	enum sp_state st;
	char *buf;           /* the current operation's bytes */
	size_t len, cap;
	size_t fed;          /* how many of them the tokener has seen */
	uint64_t depth;      /* brackets open, outside strings */
	bool in_str, esc;
	bool line_start;     /* SP_RESYNC: the next byte begins a line */
	bool last_nl;        /* the last byte fed was a LF, or none was fed */
	uint64_t base;       /* the stream offset of the chunk being fed */
	uint64_t pos;        /* bytes consumed */
	uint64_t op_start;   /* the stream offset of the current operation */
	size_t index;        /* the next operation_index */
};

struct bulk_split *
bulk_split_new(const struct bulk_limits *l)
{
	struct bulk_split *sp = calloc(1, sizeof(*sp));

	if (sp == NULL)
		return NULL;
	sp->op_max = bulk_op_max(l);
	sp->max_nest = (uint64_t)l->max_depth + 1;
	/* json-c counts the innermost scalar as a level too; our own count
	 * stops deeper operations before json-c sees their brackets. */
	sp->tok = json_tokener_new_ex(l->max_depth + 3);
	if (sp->tok == NULL) {
		free(sp);
		return NULL;
	}
	json_tokener_set_flags(sp->tok, JSON_TOKENER_STRICT);
	sp->last_nl = true;
	return sp;
}

void
bulk_split_free(struct bulk_split *sp)
{
	if (sp == NULL)
		return;
	json_tokener_free(sp->tok);
	json_object_put(sp->obj);
	free(sp->buf);
	free(sp);
}

uint64_t
bulk_split_offset(const struct bulk_split *sp)
{
	return sp->pos;
}

enum track { TRK_GO, TRK_END, TRK_CTRL, TRK_DEEP, TRK_LINE };

/* One byte through the bracket counter. TRK_CTRL and TRK_DEEP leave the
 * state as it was (the byte is not taken); limit: refuse to nest deeper
 * than max_nest. */
static enum track
track(struct bulk_split *sp, unsigned char c, bool limit)
{
	if (sp->in_str) {
		if (sp->esc)
			sp->esc = false;
		else if (c == '\\')
			sp->esc = true;
		else if (c == '"')
			sp->in_str = false;
		else if (c < 0x20)
			return TRK_CTRL;
		return TRK_GO;
	}
	switch (c) {
	case '"':
		sp->in_str = true;
		return TRK_GO;
	case '{':
	case '[':
		if (limit && sp->depth == sp->max_nest)
			return TRK_DEEP;
		sp->depth++;
		return TRK_GO;
	case '}':
	case ']':
		/* depth >= 1 here: every operation starts with its '{'. */
		return --sp->depth == 0 ? TRK_END : TRK_GO;
	case ' ':
	case '\t':
	case '\n':
	case '\r':
		return TRK_GO;
	default:
		return c < 0x20 ? TRK_CTRL : TRK_GO;
	}
}

/* True when byte i of the chunk p begins a line. */
static bool
begins_line(const struct bulk_split *sp, const char *p, size_t i)
{
	return i > 0 ? p[i - 1] == '\n' : sp->last_nl;
}

/* True when byte i of the chunk is a '{' that begins a line inside an
 * operation (not in a string): it starts the next operation instead. */
static bool
line_cuts(const struct bulk_split *sp, const char *p, size_t i)
{
	return p[i] == '{' && !sp->in_str && sp->depth > 0 && begins_line(sp, p, i);
}

/* Hands on a failed operation that starts at op_start; the info is
 * formatted. */
__attribute__((format(printf, 6, 7)))
static int
emit_bad(struct bulk_split *sp, bulk_unit_fn fn, void *arg, const char *code,
    const char *message, const char *fmt, ...)
{
	struct bulk_unit u;
	va_list ap;

	memset(&u, 0, sizeof(u));
	u.index = sp->index++;
	u.offset = sp->op_start;
	u.fail.code = code;
	u.fail.message = message;
	va_start(ap, fmt);
	(void)vsnprintf(u.fail.info, sizeof(u.fail.info), fmt, ap);
	va_end(ap);
	return fn(arg, &u);
}

/* A syntax error at byte at of the chunk (stream offset where): one
 * failure, then resume at the next line that begins with '{' (at or after
 * it). */
static int
syntax_error(struct bulk_split *sp, const char *p, size_t at, uint64_t where, size_t *i,
    const char *what, bulk_unit_fn fn, void *arg)
{
	*i = at;
	sp->st = SP_RESYNC;
	sp->line_start = begins_line(sp, p, at);
	return emit_bad(sp, fn, arg, "api_bad_request", MSG_MALFORMED,
	    "%s: %s at byte %" PRIu64, INFO_MALFORMED, what, where);
}

static void
start_op(struct bulk_split *sp)
{
	sp->st = SP_OP;
	sp->len = 0;
	sp->fed = 0;
	sp->depth = 0;
	sp->in_str = false;
	sp->esc = false;
	/* json_tokener_reset leaves some state of an abandoned parse (a high
	 * surrogate waiting for its pair, in json-c 0.16), which then changes
	 * the strings of the next tree. The tokener stays as it was (so the
	 * splitter decides as it always did), but from then on its trees are
	 * not handed on: the reader parses those operations itself. */
	if (sp->parse_open)
		sp->tok_dirty = true;
	sp->parse_open = true;
	json_tokener_reset(sp->tok);
}

/* SP_SEEK: skips whitespace; an operation starts at the next byte. */
static int
seek(struct bulk_split *sp, const char *p, size_t len, size_t *i, bulk_unit_fn fn,
    void *arg)
{
	while (*i < len && (p[*i] == ' ' || p[*i] == '\t' || p[*i] == '\n' || p[*i] == '\r'))
		(*i)++;
	if (*i == len)
		return 0;
	sp->op_start = sp->base + *i;
	if (p[*i] == '{') {
		start_op(sp);
		return 0;
	}
	/* Not consumed: resync takes this byte (not a '{') first. */
	sp->st = SP_RESYNC;
	sp->line_start = begins_line(sp, p, *i);
	return emit_bad(sp, fn, arg, "api_bad_request", MSG_MALFORMED,
	    "%s: an operation must be a JSON object (byte %" PRIu64 ")", INFO_MALFORMED,
	    sp->op_start);
}

/* Keeps n more bytes of the operation (within op_max, checked by the
 * caller). 0 or -1 when out of memory. */
static int
keep(struct bulk_split *sp, const char *p, size_t n)
{
	if (sp->len + n > sp->cap) {
		size_t cap = sp->cap ? sp->cap : 4096;
		char *b;

		while (cap < sp->len + n)
			cap *= 2;
		if (cap > sp->op_max)
			cap = sp->op_max;
		if ((b = realloc(sp->buf, cap)) == NULL)
			return -1;
		sp->buf = b;
		sp->cap = cap;
	}
	memcpy(sp->buf + sp->len, p, n);
	sp->len += n;
	return 0;
}

/* The bytes at the end of the kept ones that may be part of a number or a
 * literal not finished yet (outside strings): held back from the tokener. */
static size_t
unfinished(const struct bulk_split *sp)
{
	size_t n = 0;

	if (sp->in_str)
		return 0;
	while (n < sp->len - sp->fed) {
		unsigned char c = (unsigned char)sp->buf[sp->len - 1 - n];

		if (!((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		    c == '.' || c == '+' || c == '-'))
			break;
		n++;
	}
	return n;
}

/*
 * Feeds the kept bytes the tokener has not seen, up to upto. 0: no error,
 * and *done tells whether json-c saw a whole object end exactly at upto
 * (then sp->obj holds it); 1: a syntax error at byte *bi of the kept ones
 * (*what says which).
 */
static int
tokenize(struct bulk_split *sp, size_t upto, bool *done, size_t *bi, const char **what)
{
	struct json_object *o;
	enum json_tokener_error e;
	size_t end, from = sp->fed, n = upto - from;
	bool got;

	*done = false;
	if (n == 0)
		return 0;
	o = json_tokener_parse_ex(sp->tok, sp->buf + from, (int)n);
	e = json_tokener_get_error(sp->tok);
	end = json_tokener_get_parse_end(sp->tok);
	got = o != NULL;
	sp->fed = upto;
	*done = got && e == json_tokener_success && end == n;
	if (*done)
		sp->obj = o;
	else
		json_object_put(o);
	if (e == json_tokener_success || e == json_tokener_continue) {
		if (got && !*done) {
			*bi = from + end;
			*what = "the object ends before its last byte";
			return 1;
		}
		return 0;
	}
	*bi = from + (end < n ? end : n);
	*what = json_tokener_error_desc(e);
	return 1;
}

/* SP_OP: takes bytes of the operation until it ends, fails or the chunk
 * ends. */
static int
in_op(struct bulk_split *sp, const char *p, size_t len, size_t *i, bulk_unit_fn fn,
    void *arg)
{
	size_t start = *i, j = *i, room = sp->op_max - sp->len, bi, upto, first;
	enum track ev = TRK_GO;
	const char *what;
	bool done = false;

	while (j < len && j - start < room) {
		if (line_cuts(sp, p, j)) {
			ev = TRK_LINE;
			break;
		}
		ev = track(sp, (unsigned char)p[j], true);
		if (ev == TRK_CTRL || ev == TRK_DEEP)
			break;
		j++;
		if (ev == TRK_END)
			break;
	}
	if (j > start && keep(sp, p + start, j - start) == -1)
		return -1;
	/* The chunk ends inside the operation: hold back what may continue. */
	upto = sp->len - (ev == TRK_GO && j == len ? unfinished(sp) : 0);
	if (tokenize(sp, upto, &done, &bi, &what) == 1) {
		/* bi in the kept bytes; those before this chunk's are held-back
		 * number characters, which resync would skip anyway. */
		first = sp->len - (j - start);
		return syntax_error(sp, p, bi >= first ? start + (bi - first) : start,
		    sp->op_start + bi, i, what, fn, arg);
	}
	*i = j;
	if (ev == TRK_END) {
		struct bulk_unit u;
		int rc;

		if (!done)
			return syntax_error(sp, p, j - 1, sp->base + j - 1, i,
			    "the object does not end where its brackets close", fn, arg);
		memset(&u, 0, sizeof(u));
		u.index = sp->index++;
		u.offset = sp->op_start;
		u.ok = true;
		u.text = sp->buf;
		u.len = sp->len;
		u.obj = sp->tok_dirty ? NULL : sp->obj;
		sp->parse_open = false;
		sp->st = SP_SEEK;
		rc = fn(arg, &u);
		json_object_put(sp->obj);
		sp->obj = NULL;
		return rc;
	}
	/* json-c and the brackets agree on where an object ends; were json-c
	 * done first, its tree is dropped here and the next bytes decide. */
	json_object_put(sp->obj);
	sp->obj = NULL;
	if (ev == TRK_CTRL)
		return syntax_error(sp, p, j, sp->base + j, i, "a raw control character", fn,
		    arg);
	if (ev == TRK_LINE)
		return syntax_error(sp, p, j, sp->base + j, i,
		    "cut short by a line that begins with '{'", fn, arg);
	if (ev == TRK_DEEP) {
		sp->st = SP_SKIP;
		return emit_bad(sp, fn, arg, "api_bad_request", MSG_MALFORMED,
		    "The operation at byte %" PRIu64 " is nested deeper than max_json_depth "
		    "allows.", sp->op_start);
	}
	if (j < len) {
		/* No room left: the operation is too long to keep. */
		sp->st = SP_SKIP;
		return emit_bad(sp, fn, arg, "request_too_large", MSG_TOO_LARGE,
		    "The operation at byte %" PRIu64 " is longer than %zu bytes (max_body "
		    "and room for its path).", sp->op_start, sp->op_max);
	}
	return 0;
}

/* SP_SKIP: counts brackets to the end of an operation already reported,
 * or to a line that begins with '{' (the next operation). */
static void
skip(struct bulk_split *sp, const char *p, size_t len, size_t *i)
{
	while (*i < len) {
		enum track ev;

		if (line_cuts(sp, p, *i)) {
			sp->st = SP_SEEK;
			return;
		}
		ev = track(sp, (unsigned char)p[*i], false);
		if (ev == TRK_CTRL) {
			sp->st = SP_RESYNC;
			sp->line_start = begins_line(sp, p, *i);
			return;
		}
		(*i)++;
		if (ev == TRK_END) {
			sp->st = SP_SEEK;
			return;
		}
	}
}

/* SP_RESYNC: skips to the first '{' that begins a line. */
static void
resync(struct bulk_split *sp, const char *p, size_t len, size_t *i)
{
	while (*i < len) {
		if (sp->line_start && p[*i] == '{') {
			sp->st = SP_SEEK;
			return;
		}
		sp->line_start = p[*i] == '\n';
		(*i)++;
	}
}

int
bulk_split_feed(struct bulk_split *sp, const char *p, size_t len, bulk_unit_fn fn,
    void *arg)
{
	size_t i = 0;
	int rc = 0;

	sp->base = sp->pos;
	while (i < len && rc == 0) {
		switch (sp->st) {
		case SP_SEEK:
			rc = seek(sp, p, len, &i, fn, arg);
			break;
		case SP_OP:
			rc = in_op(sp, p, len, &i, fn, arg);
			break;
		case SP_SKIP:
			skip(sp, p, len, &i);
			break;
		case SP_RESYNC:
			resync(sp, p, len, &i);
			break;
		}
	}
	sp->pos = sp->base + i;
	if (i > 0)
		sp->last_nl = p[i - 1] == '\n';
	return rc;
}

int
bulk_split_end(struct bulk_split *sp, bulk_unit_fn fn, void *arg)
{
	if (sp->st != SP_OP)
		return 0;
	sp->st = SP_SEEK;
	return emit_bad(sp, fn, arg, "api_bad_request", MSG_MALFORMED,
	    "%s: the stream ends inside the operation at byte %" PRIu64, INFO_MALFORMED,
	    sp->op_start);
}

/* ---- the reader ----------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static enum bulk_rc
refuse(struct bulk_fail *f, const char *fmt, ...)
{
	va_list ap;

	f->code = "api_bad_request";
	f->message = MSG_MALFORMED;
	va_start(ap, fmt);
	(void)vsnprintf(f->info, sizeof(f->info), fmt, ap);
	va_end(ap);
	return BULK_REFUSED;
}

/* The member name of o; NULL when absent or null (or o is not an object). */
static struct json_object *
member(struct json_object *o, const char *name)
{
	struct json_object *v = NULL;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, name, &v))
		return NULL;
	return v;
}

/* True when v is the string s exactly (json-c strings may hold NULs). */
static bool
string_is(struct json_object *v, const char *s)
{
	return json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) == strlen(s) &&
	    memcmp(json_object_get_string(v), s, strlen(s)) == 0;
}

/* A name as the router takes a path segment: a non-empty string of valid
 * UTF-8 without NUL, at most max_name bytes. */
static enum bulk_rc
name_of(const struct bulk_limits *l, struct arena *a, struct json_object *parent,
    const char *field, const char *what, const char **out, struct bulk_fail *f)
{
	struct json_object *v = member(parent, field);
	const char *s;
	size_t n;

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return refuse(f, "%s must be a string", what);
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0)
		return refuse(f, "%s is empty", what);
	if (memchr(s, '\0', n) != NULL)
		return refuse(f, "%s contains a NUL character", what);
	if (!util_utf8_valid(s, n))
		return refuse(f, "%s is not valid UTF-8", what);
	if (n > l->max_name)
		return refuse(f, "%s is longer than max_name_length (%zu bytes)", what,
		    l->max_name);
	*out = mem_strndup(a, s, n);
	return *out != NULL ? BULK_OK : BULK_NOMEM;
}

/* The "value" member: a JSON object within max_value as stored. Absent:
 * NULL, or refused when required. */
static enum bulk_rc
value_of(const struct bulk_limits *l, struct arena *a, struct json_object *o,
    bool required, struct bulk_op *op, struct bulk_fail *f)
{
	struct json_object *v = NULL;
	const char *canon;
	size_t n;

	/* (A member that is null reads as absent elsewhere; not here.) */
	if (!json_object_object_get_ex(o, "value", &v))
		return required ? refuse(f, "value is missing") : BULK_OK;
	if (v == NULL || !json_object_is_type(v, json_type_object))
		return refuse(f, "value must be a JSON object");
	if ((canon = json_canonical(v, &n)) == NULL)
		return BULK_NOMEM;
	if (n > l->max_value) {
		f->code = "request_too_large";
		f->message = "The value is larger than the largest value the server stores "
		    "(max_body).";
		(void)snprintf(f->info, sizeof(f->info), "value is longer than max_body (%zu "
		    "bytes) as stored", l->max_value);
		return BULK_REFUSED;
	}
	op->value = mem_strndup(a, canon, n);
	op->vlen = n;
	return op->value != NULL ? BULK_OK : BULK_NOMEM;
}

/* Milliseconds since the epoch as a JSON integer, 1 .. TIMEFMT_MAX_MS;
 * absent: 0. */
static enum bulk_rc
reftime_one(struct json_object *v, const char *what, int64_t *out, struct bulk_fail *f)
{
	int64_t x;

	*out = 0;
	if (v == NULL)
		return BULK_OK;
	if (!json_object_is_type(v, json_type_int))
		return refuse(f, "%s must be an integer (milliseconds since the epoch)", what);
	x = json_object_get_int64(v);
	if (x < 1 || x > TIMEFMT_MAX_MS)
		return refuse(f, "%s is out of range", what);
	*out = x;
	return BULK_OK;
}

/* The reftime to keep: "reftime" or "path.reftime" (equal when both). */
static enum bulk_rc
reftime_of(struct json_object *o, struct json_object *path, int64_t *out,
    struct bulk_fail *f)
{
	int64_t top, inpath;
	enum bulk_rc rc = reftime_one(member(o, "reftime"), "reftime", &top, f);

	if (rc == BULK_OK)
		rc = reftime_one(member(path, "reftime"), "path.reftime", &inpath, f);
	if (rc != BULK_OK)
		return rc;
	if (top != 0 && inpath != 0 && top != inpath)
		return refuse(f, "reftime and path.reftime differ");
	*out = top != 0 ? top : inpath;
	return BULK_OK;
}

/* The kind: "kind" at the top or in path (equal when both); without
 * either, a relationship when it has relation, source or destination, else
 * an event when its path has a type, else an item. "end" (an export's end
 * line) is a kind only at the top. */
static enum bulk_rc
kind_of(struct json_object *o, struct json_object *path, enum bulk_kind *k,
    struct bulk_fail *f)
{
	static const struct { const char *name; enum bulk_kind kind; } kinds[] = {
		{ "item", BULK_ITEM }, { "event", BULK_EVENT },
		{ "relationship", BULK_RELATION }, { "end", BULK_END },
	};
	struct json_object *top = member(o, "kind"), *inpath = member(path, "kind");
	struct json_object *v = top ? top : inpath;

	if (top != NULL && inpath != NULL && !json_object_equal(top, inpath))
		return refuse(f, "kind and path.kind differ");
	if (v == NULL) {
		if (member(o, "relation") || member(o, "source") || member(o, "destination"))
			*k = BULK_RELATION;
		else if (path != NULL)
			*k = member(path, "type") ? BULK_EVENT : BULK_ITEM;
		else
			return refuse(f, "%s", INFO_MALFORMED);
		return BULK_OK;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (string_is(v, kinds[i].name) && (kinds[i].kind != BULK_END || top != NULL)) {
			*k = kinds[i].kind;
			return BULK_OK;
		}
	}
	return refuse(f, "kind must be \"item\", \"event\" or \"relationship\" (or "
	    "\"end\" at the top level)");
}

/* {"kind":"end","lines":N}: N a JSON integer, 0 .. INT64_MAX. Its other
 * members are ignored, as an item's are. */
static enum bulk_rc
read_end(struct json_object *o, struct bulk_op *op, struct bulk_fail *f)
{
	struct json_object *v = member(o, "lines");
	int64_t n;

	/* json-c keeps an integer above INT64_MAX as a uint64, which
	 * json_object_get_int64 clamps: the two getters differ then. */
	if (v == NULL || !json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < 0 || json_object_get_uint64(v) != (uint64_t)n)
		return refuse(f, "lines (of an end line) must be a non-negative integer");
	op->lines = n;
	return BULK_OK;
}

/* path.tombstone: absent or a boolean. */
static enum bulk_rc
tombstone_of(struct json_object *path, bool *out, struct bulk_fail *f)
{
	struct json_object *v = member(path, "tombstone");

	*out = false;
	if (v == NULL)
		return BULK_OK;
	if (!json_object_is_type(v, json_type_boolean))
		return refuse(f, "path.tombstone must be true or false");
	*out = json_object_get_boolean(v);
	return BULK_OK;
}

static enum bulk_rc
read_item(const struct bulk_limits *l, struct arena *a, struct json_object *o,
    struct json_object *path, struct bulk_op *op, struct bulk_fail *f)
{
	enum bulk_rc rc = tombstone_of(path, &op->tombstone, f);

	if (rc != BULK_OK)
		return rc;
	if (op->tombstone)
		return member(o, "value") == NULL ? BULK_OK
		    : refuse(f, "a tombstone (path.tombstone) has no value");
	return value_of(l, a, o, true, op, f);
}

/* path.timestamp: milliseconds, or a string in any format of timefmt. */
static enum bulk_rc
timestamp_of(struct json_object *path, struct bulk_op *op, struct bulk_fail *f)
{
	struct json_object *v = member(path, "timestamp");

	if (v == NULL)
		return BULK_OK;
	op->has_ts = true;
	if (json_object_is_type(v, json_type_int)) {
		op->ts = json_object_get_int64(v);
		if (op->ts < TIMEFMT_MIN_MS || op->ts > TIMEFMT_MAX_MS)
			return refuse(f, "path.timestamp is out of range");
		return BULK_OK;
	}
	if (json_object_is_type(v, json_type_string) &&
	    timefmt_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v),
	    &op->ts) == 0)
		return BULK_OK;
	return refuse(f, "path.timestamp must be milliseconds since the epoch or a "
	    "timestamp in a supported format");
}

/* path.ordinal_str (exactly 16 hex digits) or else path.ordinal (a
 * non-negative integer, or a string as in a URL). ordinal_str wins: it is
 * exact, where a number may have passed through a double on its way. */
static enum bulk_rc
ordinal_of(struct json_object *path, struct bulk_op *op, struct bulk_fail *f)
{
	struct json_object *s = member(path, "ordinal_str"), *n = member(path, "ordinal");

	if (s != NULL) {
		if (!json_object_is_type(s, json_type_string) ||
		    json_object_get_string_len(s) != 16 ||
		    !util_is_hex(json_object_get_string(s), 16) ||
		    evpos_parse_ordinal(json_object_get_string(s), 16, &op->ord) == -1)
			return refuse(f, "path.ordinal_str must be 16 hex digits");
		op->has_ord = true;
		return BULK_OK;
	}
	if (n == NULL)
		return BULK_OK;
	op->has_ord = true;
	if (json_object_is_type(n, json_type_int) && json_object_get_int64(n) >= 0) {
		op->ord = json_object_get_uint64(n);
		return BULK_OK;
	}
	if (json_object_is_type(n, json_type_string) &&
	    evpos_parse_ordinal(json_object_get_string(n),
	    (size_t)json_object_get_string_len(n), &op->ord) == 0)
		return BULK_OK;
	return refuse(f, "path.ordinal must be a non-negative integer");
}

static enum bulk_rc
read_event(const struct bulk_limits *l, struct arena *a, struct json_object *o,
    struct json_object *path, struct bulk_op *op, struct bulk_fail *f)
{
	bool tomb;
	enum bulk_rc rc = name_of(l, a, path, "type", "path.type", &op->type, f);

	if (rc == BULK_OK)
		rc = tombstone_of(path, &tomb, f);
	if (rc == BULK_OK && tomb)
		rc = refuse(f, "events have no tombstones");
	if (rc == BULK_OK)
		rc = timestamp_of(path, op, f);
	if (rc == BULK_OK)
		rc = ordinal_of(path, op, f);
	if (rc == BULK_OK && op->has_ord && !op->has_ts)
		rc = refuse(f, "an event with an ordinal needs its path.timestamp");
	if (rc != BULK_OK)
		return rc;
	return value_of(l, a, o, true, op, f);
}

static enum bulk_rc
read_relation(const struct bulk_limits *l, struct arena *a, struct json_object *o,
    struct bulk_op *op, struct bulk_fail *f)
{
	struct json_object *src = member(o, "source"), *dst = member(o, "destination");
	enum bulk_rc rc;

	if (src == NULL || !json_object_is_type(src, json_type_object) ||
	    dst == NULL || !json_object_is_type(dst, json_type_object))
		return refuse(f, "a relationship needs source and destination objects");
	rc = name_of(l, a, src, "collection", "source.collection", &op->coll, f);
	if (rc == BULK_OK)
		rc = name_of(l, a, src, "key", "source.key", &op->key, f);
	if (rc == BULK_OK)
		rc = name_of(l, a, dst, "collection", "destination.collection", &op->to_coll, f);
	if (rc == BULK_OK)
		rc = name_of(l, a, dst, "key", "destination.key", &op->to_key, f);
	if (rc == BULK_OK)
		rc = name_of(l, a, o, "relation", "relation", &op->relation, f);
	if (rc != BULK_OK)
		return rc;
	return value_of(l, a, o, false, op, f);
}

static enum bulk_rc
read_op(const struct bulk_limits *l, struct arena *a, struct json_object *o,
    struct bulk_op *op, struct bulk_fail *f)
{
	struct json_object *path = member(o, "path");
	enum bulk_rc rc;

	if (path != NULL && !json_object_is_type(path, json_type_object))
		return refuse(f, "path must be an object");
	if ((rc = kind_of(o, path, &op->kind, f)) != BULK_OK)
		return rc;
	if (op->kind == BULK_END)
		return read_end(o, op, f);
	if (op->kind == BULK_RELATION)
		rc = read_relation(l, a, o, op, f);
	else if (path == NULL)
		rc = refuse(f, "an %s needs a path", op->kind == BULK_ITEM ? "item" : "event");
	else if ((rc = name_of(l, a, path, "collection", "path.collection", &op->coll,
	    f)) == BULK_OK &&
	    (rc = name_of(l, a, path, "key", "path.key", &op->key, f)) == BULK_OK)
		rc = op->kind == BULK_ITEM ? read_item(l, a, o, path, op, f)
		    : read_event(l, a, o, path, op, f);
	if (rc != BULK_OK)
		return rc;
	return reftime_of(o, op->kind == BULK_RELATION ? NULL : path, &op->reftime, f);
}

enum bulk_rc
bulk_read_unit(const struct bulk_limits *l, struct arena *a, const struct bulk_unit *u,
    struct bulk_op *op, struct bulk_fail *fail)
{
	const char *why = NULL;
	enum json_rc jrc;

	if (u->obj == NULL)
		return bulk_read(l, a, u->text, u->len, op, fail);
	memset(op, 0, sizeof(*op));
	memset(fail, 0, sizeof(*fail));
	/* As bulk_read: the checks and messages of json_parse_object. */
	jrc = json_check_object(u->text, u->len, l->max_depth + 1, u->obj, &why);
	if (jrc == JSON_NOMEM)
		return BULK_NOMEM;
	if (jrc != JSON_OK)
		return refuse(fail, "%s: %s", INFO_MALFORMED, why);
	return read_op(l, a, u->obj, op, fail);
}

enum bulk_rc
bulk_read(const struct bulk_limits *l, struct arena *a, const char *text, size_t len,
    struct bulk_op *op, struct bulk_fail *fail)
{
	struct json_object *o = NULL;
	const char *why = NULL;
	enum json_rc jrc;
	enum bulk_rc rc;

	memset(op, 0, sizeof(*op));
	memset(fail, 0, sizeof(*fail));
	/* The operation wraps its value: one level more than a value may have. */
	jrc = json_parse_object(text, len, l->max_depth + 1, &o, &why);
	if (jrc == JSON_NOMEM)
		return BULK_NOMEM;
	if (jrc != JSON_OK)
		return refuse(fail, "%s: %s", INFO_MALFORMED, why);
	rc = read_op(l, a, o, op, fail);
	json_release(o);
	return rc;
}

/* ---- result entries ------------------------------------------------------- */

void
bulk_fail_busy(struct bulk_fail *fail)
{
	memset(fail, 0, sizeof(*fail));
	fail->code = "service_unavailable";
	fail->message = "The database is busy; the operation was not applied.";
}

/* The bytes json_emit_string writes for s (quotes included). */
static size_t
escaped_len(const char *s)
{
	size_t n = 2;

	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t')
			n += 2;
		else if (c < 0x20 || c == 0x7f)
			n += 6;
		else
			n++;
	}
	return n;
}

size_t
bulk_entry_bound(const struct bulk_op *op)
{
	size_t n = ENTRY_FIXED;

	if (op == NULL)
		return n;
	n += escaped_len(op->coll) + escaped_len(op->key) + escaped_len(op->type) +
	    escaped_len(op->relation) + escaped_len(op->to_coll) + escaped_len(op->to_key);
	return n;
}

static void
emit_name(struct buf *b, const char *field, const char *s)
{
	buf_printf(b, ",\"%s\":", field);
	json_emit_string(b, s, strlen(s));
}

/* {"collection":C,"key":K */
static void
emit_coll_key(struct buf *b, const char *coll, const char *key)
{
	buf_adds(b, "{\"collection\":");
	json_emit_string(b, coll, strlen(coll));
	emit_name(b, "key", key);
}

void
bulk_emit_success(struct buf *b, size_t index, const struct bulk_op *op,
    const struct bulk_done *done)
{
	buf_printf(b, "{\"operation_index\":%zu,\"status\":\"success\",", index);
	if (op->kind == BULK_END) {
		buf_printf(b, "\"end\":{\"lines\":%" PRId64 "}}", op->lines);
		return;
	}
	if (op->kind == BULK_RELATION) {
		/* No "item": clients parse item.path.kind as item or event. */
		buf_adds(b, "\"relationship\":{\"source\":");
		emit_coll_key(b, op->coll, op->key);
		buf_adds(b, "},\"destination\":");
		emit_coll_key(b, op->to_coll, op->to_key);
		buf_addc(b, '}');
		emit_name(b, "relation", op->relation);
		buf_printf(b, ",\"ref\":\"%s\",\"reftime\":%" PRId64 "}}", done->ref,
		    done->reftime);
		return;
	}
	buf_adds(b, "\"item\":{\"path\":");
	emit_coll_key(b, op->coll, op->key);
	if (op->kind == BULK_ITEM && op->tombstone) {
		/* Outside path, which clients map onto a fixed set of fields. */
		buf_adds(b, ",\"kind\":\"item\"},\"tombstone\":true}}");
		return;
	}
	if (op->kind == BULK_EVENT) {
		char hex[17];

		ids_hex64(done->pos.ord, hex);
		buf_adds(b, ",\"kind\":\"event\"");
		emit_name(b, "type", op->type);
		buf_printf(b, ",\"timestamp\":%" PRIu64 ",\"ordinal\":%" PRIu64
		    ",\"ordinal_str\":\"%s\"", done->pos.ts, done->pos.ord, hex);
	} else {
		buf_adds(b, ",\"kind\":\"item\"");
	}
	buf_printf(b, ",\"ref\":\"%s\",\"reftime\":%" PRId64 "}}}", done->ref, done->reftime);
}

void
bulk_emit_failure(struct buf *b, size_t index, const struct bulk_fail *fail)
{
	buf_printf(b, "{\"operation_index\":%zu,\"status\":\"failure\",\"error\":{"
	    "\"message\":", index);
	json_emit_string(b, fail->message, strlen(fail->message));
	emit_name(b, "code", fail->code);
	if (fail->nf_coll != NULL && fail->nf_key != NULL) {
		buf_adds(b, ",\"details\":{\"items\":[");
		emit_coll_key(b, fail->nf_coll, fail->nf_key);
		buf_adds(b, "}]}");
	} else if (fail->info[0] != '\0') {
		buf_adds(b, ",\"details\":{\"info\":");
		json_emit_string(b, fail->info, strlen(fail->info));
		buf_addc(b, '}');
	}
	buf_adds(b, "}}");
}
