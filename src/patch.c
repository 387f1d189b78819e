/*
 * patch: Orchestrate's PATCH dialect and RFC 7386 merge patches over json-c.
 *
 * patch_apply works in two passes. compile_list() checks the whole operation
 * list, nested patches included, and turns it into struct op with parsed
 * paths, so that a malformed request is a 400 whatever the document holds.
 * exec_list() then runs the operations on a deep copy of the document, which
 * replaces the caller's only when every operation succeeded; a conditional
 * nested patch likewise runs on a copy of its sub-document. Pure code: no I/O,
 * no globals; calls only json-c and libc.
 *
 * Semantic choices (the reference leaves them open):
 * - Paths: a leading '/' is an RFC 6901 pointer, anything else is split on
 *   '.'; "" is the root for every op, "/" is the root only for merge and
 *   patch (elsewhere it is the member "" as RFC 6901 says). An empty name in
 *   a dotted path ("a..b") is a bad request.
 * - Array indices: in both syntaxes a segment in canonical decimal (no sign,
 *   no leading zero) indexes an array parent, and "-" is the end of the array
 *   (add, and the ops that add: move, copy, init, inc); on an object parent
 *   the same segment is an ordinary member name.
 * - add, init, inc, and the destinations of move and copy create missing
 *   intermediate objects for a dotted path only; a pointer path needs its
 *   parent to exist (RFC 6902).
 * - inc on a missing path creates it with the increment (Orchestrate's
 *   behaviour). Integers stay integers and must stay strictly between -2^63
 *   and 2^64-1, the range json.c stores exactly; a double on either side
 *   gives a double, which must stay finite.
 * - append needs an existing array: a missing or non-array target is a
 *   conflict.
 * - merge needs an existing object at path and an object value.
 * - patch needs an existing object or array at path; only a failed test (at
 *   any depth) is skipped by conditional:true.
 * - The root can be replaced only by an object and never removed; inside a
 *   nested patch on a member, "" is that member and may become any value.
 * - Limits (patch.h, struct patch_limits), so that a patch never makes what
 *   a PUT could not store and a small request cannot exhaust the worker:
 *   . Size: the budget tracks the exact canonical size of the document
 *     (b_size, as json-c's compact printer would print it: measure()).
 *     Every step that adds bytes (a value put, an intermediate object
 *     created, a merge, an append) is accounted, and refused with
 *     PATCH_TOO_LARGE, before it is made, when the document would exceed
 *     max_bytes; steps that only remove bytes are always allowed, and the
 *     result is checked once more at the end (a stored document may already
 *     be larger than a lowered max_bytes). A move counts only the bytes
 *     around the value (its member name, a comma), since the value itself
 *     leaves one place for another. Bytes pending in a nested patch count as
 *     if already placed; a skipped conditional patch gives them back.
 *   . Depth: no operation nests a value deeper than max_depth (at most
 *     PATCH_MAX_DEPTH) (409); when the document given is already deeper,
 *     the result is measured at the end. No path has more than
 *     PATCH_MAX_DEPTH segments (400).
 *   . Work: PATCH_WORK_FACTOR * (max_bytes + the patch's canonical size)
 *     bytes (409). Every walk of a value (to size it, to copy it, to compare
 *     it with test) costs its canonical size; walking and copying one value
 *     costs it once. Values that come from the patch cost their size once
 *     more when copied in. Shifting an array element (add or remove inside
 *     an array) costs a unit, and a value of the walk budget below.
 *   . The budgets that count values stay, as a second bound on the number
 *     of json-c objects: copy ops may copy at most COPY_BUDGET_BASE values
 *     plus twice the document's count (409), since copying "" to "/a" and
 *     to "/b" in turn grows the document exponentially; the copies made by
 *     conditional patches, the walks of values moved deeper and the array
 *     elements shifted may total WALK_BUDGET_BASE values plus eight times
 *     the document's count (409). Each bounds the work where the other is
 *     loose: a few long strings are many bytes, many small numbers many
 *     values.
 *   . Copies held at once: nested conditional patches each hold a copy of
 *     their target until they end; together at most max_bytes (409, as
 *     work).
 *   Memory therefore stays within a small multiple of max_bytes (in json-c
 *   objects) whatever the patch: the working copy (at most max_bytes),
 *   at most one value copied before its step is refused, the copies of
 *   running conditional patches (at most max_bytes), and one copy of the
 *   value a failed test found.
 */
/* strdup is POSIX; the build may not define _GNU_SOURCE. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "patch.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define INFO_SIZE	256	/* sizeof(((struct patch_error *)0)->info) */
#define LABEL_SIZE	128

/* The largest max_json_depth the configuration accepts: json-c's own
 * recursion (copy, free, print) stays far from the stack's end. A larger
 * limits->max_depth counts as this. */
#define PATCH_MAX_DEPTH		1000
/* Values that copy ops may add beyond twice the document's count: the
 * memory a patch may add. */
#define COPY_BUDGET_BASE	((size_t)1 << 16)
/* Values that conditional patches may copy (and free) and moves walk,
 * beyond eight times the document's count: the work a patch may cause. */
#define WALK_BUDGET_BASE	((size_t)1 << 20)

enum op_kind {
	OP_ADD, OP_REMOVE, OP_REPLACE, OP_MOVE, OP_COPY, OP_TEST,
	OP_INC, OP_INIT, OP_APPEND, OP_MERGE, OP_PATCH
};

/* What each op requires of its members. */
#define F_VALUE		0x01	/* "value" is required */
#define F_FROM		0x02	/* "from" is required */
#define F_NUMBER	0x04	/* "value", if present, is a number */
#define F_OBJECT	0x08	/* "value" is an object */
#define F_ARRAY		0x10	/* "value" is an array of operations */
#define F_SLASH_ROOT	0x20	/* the path "/" is the root */

static const struct op_spec {
	const char	*s_name;
	enum op_kind	 s_kind;
	unsigned	 s_flags;
} op_specs[] = {
	{ "add",	OP_ADD,		F_VALUE },
	{ "remove",	OP_REMOVE,	0 },
	{ "replace",	OP_REPLACE,	F_VALUE },
	{ "move",	OP_MOVE,	F_FROM },
	{ "copy",	OP_COPY,	F_FROM },
	{ "test",	OP_TEST,	0 },
	{ "inc",	OP_INC,		F_NUMBER },
	{ "init",	OP_INIT,	F_VALUE },
	{ "append",	OP_APPEND,	F_VALUE },
	{ "merge",	OP_MERGE,	F_VALUE | F_OBJECT | F_SLASH_ROOT },
	{ "patch",	OP_PATCH,	F_VALUE | F_ARRAY | F_SLASH_ROOT },
};

/* A parsed path: p_n decoded segments, NUL-terminated, inside p_buf. */
struct path {
	const char	 *p_text;	/* as sent; borrowed from the op */
	char		 *p_buf;
	char		**p_seg;
	size_t		  p_n;		/* 0: the root */
	bool		  p_dotted;	/* creates intermediate objects */
};

/* A checked operation; the json values are borrowed from the op list. */
struct op {
	enum op_kind		 o_kind;
	struct json_object	*o_src;		/* the op object as sent */
	struct json_object	*o_value;	/* may be NULL for JSON null */
	bool			 o_has_value;
	int			 o_vdepth;	/* nesting depth of o_value */
	size_t			 o_vsize;	/* canonical size of o_value */
	bool			 o_negate;
	bool			 o_conditional;
	struct path		 o_path;
	struct path		 o_from;
	struct op		*o_sub;		/* nested patch */
	size_t			 o_nsub;
};

/*
 * What a patch may still do, and the document's size (see the header):
 * b_copy values that copy ops may copy; b_walk values that conditional
 * patches and moves may copy or walk and array shifts may touch; b_work
 * bytes of work; b_size, the canonical size of the whole document, the
 * results of pending nested patches included; b_held, the bytes in the
 * copies of the conditional patches running (nested ones hold theirs at the
 * same time); b_max and b_depth, the caller's limits (the depth at most
 * PATCH_MAX_DEPTH).
 */
struct budget {
	size_t	b_copy;
	size_t	b_walk;
	size_t	b_work;
	size_t	b_size;
	size_t	b_held;
	size_t	b_max;
	int	b_depth;
};

/* The values in a JSON value and its canonical size, or limits on them. */
struct tally {
	size_t	t_nodes;
	size_t	t_bytes;
};

/* The document being patched; d_root is an owned reference. */
struct doc {
	struct json_object	*d_root;
	bool			 d_top;		/* root must stay an object */
	int			 d_depth;	/* of d_root in the whole */
	struct budget		*d_budget;	/* shared with nested docs */
};

/* Why an operation failed (PATCH_CONFLICT). */
struct failure {
	const struct op		*f_op;		/* innermost failing op */
	bool			 f_test;	/* a failed test */
	char			 f_info[INFO_SIZE];
	struct json_object	*f_expected;	/* borrowed */
	bool			 f_has_expected;
	struct json_object	*f_actual;	/* owned copy */
	bool			 f_has_actual;
};

/* An integer in sign-magnitude form, wide enough for int64 and uint64. */
struct wide {
	bool		w_neg;
	uint64_t	w_mag;
};

static enum patch_rc compile_list(struct json_object *arr, struct op **out,
    size_t *nout, const char *parent, struct patch_error *err);
static enum patch_rc exec_list(struct doc *d, const struct op *ops, size_t n,
    struct failure *f, size_t *failed_at);

/* Formats a 400 message into err->info; a long message is cut short. */
__attribute__((format(printf, 2, 3)))
static enum patch_rc
bad(struct patch_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* Truncation only shortens the message, which is acceptable. */
	(void)vsnprintf(err->info, sizeof(err->info), fmt, ap);
	va_end(ap);
	return PATCH_BAD_REQUEST;
}

/* Formats a 409 message into f->f_info; a long message is cut short. */
__attribute__((format(printf, 2, 3)))
static enum patch_rc
conflict(struct failure *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(f->f_info, sizeof(f->f_info), fmt, ap);
	va_end(ap);
	return PATCH_CONFLICT;
}

/* A new reference to a deep copy of v; JSON null (NULL) copies to NULL. */
static enum patch_rc
copy_value(struct json_object *v, struct json_object **out)
{
	*out = NULL;
	if (v == NULL)
		return PATCH_OK;
	if (json_object_deep_copy(v, out, NULL) != 0)
		return PATCH_NOMEM;
	return PATCH_OK;
}

static bool
is_object(struct json_object *v)
{
	return json_object_is_type(v, json_type_object);
}

static bool
is_array(struct json_object *v)
{
	return json_object_is_type(v, json_type_array);
}

/*
 * Sizes of canonical JSON, as json-c 0.16 prints it with json_canonical()'s
 * flags (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE): no
 * spaces, "/" unescaped, the other escapes of json_escape_str().
 */

/* The bytes that the n bytes at s take inside a string literal. */
static size_t
escaped_size(const char *s, size_t n)
{
	size_t size = n;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\' || c == '\b' || c == '\f' ||
		    c == '\n' || c == '\r' || c == '\t')
			size += 1;
		else if (c < 0x20)
			size += 5;	/* \u00XX */
	}
	return size;
}

/* The bytes of a member name: "name": */
static size_t
name_size(const char *name)
{
	return escaped_size(name, strlen(name)) + 3;
}

static struct wide wide_from(struct json_object *v);

/* The bytes of a number, printed as json-c prints it. */
static size_t
number_size(struct json_object *v)
{
	const char *text = json_object_get_userdata(v);
	struct wide w;
	char buf[128];
	double d;
	int n;

	if (json_object_is_type(v, json_type_int)) {
		w = wide_from(v);
		n = w.w_neg ? 2 : 1;
		for (; w.w_mag >= 10; w.w_mag /= 10)
			n++;
		return (size_t)n;
	}
	/* A parsed double prints as the text it was parsed from, which
	 * json_object_new_double_s() keeps as userdata (and deep copies copy);
	 * one made by inc has none and prints with "%.17g", plus ".0" when
	 * that looks like an integer. Nothing here sets other userdata. */
	if (text != NULL)
		return strlen(text);
	d = json_object_get_double(v);
	if (isnan(d))
		return 3;
	if (isinf(d))
		return d > 0 ? 8 : 9;
	n = snprintf(buf, sizeof(buf), "%.17g", d);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return sizeof(buf) - 1;
	if (strpbrk(buf, ".,e") == NULL)
		n += 2;
	return (size_t)n;
}

/* The bytes of a scalar (JSON null is NULL). */
static size_t
scalar_size(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return json_object_get_boolean(v) ? 4 : 5;
	case json_type_int:
	case json_type_double:
		return number_size(v);
	case json_type_string:
		return escaped_size(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v)) + 2;
	default:
		return 4;	/* null */
	}
}

/*
 * Adds the values in v (v included) and its canonical size to *t, stopping
 * once either passes its limit in *max, and returns v's nesting depth: 0 for
 * a scalar, 1 for an empty object or array. The recursion is bounded by the
 * parser's depth limit or by PATCH_MAX_DEPTH.
 */
static int
measure(struct json_object *v, const struct tally *max, struct tally *t)
{
	size_t i = 0, n;
	int d, depth = 0;

	t->t_nodes++;
	if (is_object(v)) {
		t->t_bytes += 2;
		json_object_object_foreach(v, key, child) {
			if (t->t_nodes > max->t_nodes ||
			    t->t_bytes > max->t_bytes)
				break;
			t->t_bytes += name_size(key) + (i++ > 0);
			d = measure(child, max, t);
			depth = d > depth ? d : depth;
		}
		return depth + 1;
	}
	if (!is_array(v)) {
		t->t_bytes += scalar_size(v);
		return 0;
	}
	t->t_bytes += 2;
	n = json_object_array_length(v);
	for (; i < n && t->t_nodes <= max->t_nodes &&
	    t->t_bytes <= max->t_bytes; i++) {
		t->t_bytes += i > 0;
		d = measure(json_object_array_get_idx(v, i), max, t);
		depth = d > depth ? d : depth;
	}
	return depth + 1;
}

/* No limit for measure(). */
static const struct tally unlimited = { SIZE_MAX, SIZE_MAX };

/* ---- Paths ---- */

static void
path_free(struct path *p)
{
	free(p->p_buf);
	free(p->p_seg);
	p->p_buf = NULL;
	p->p_seg = NULL;
}

/* Splits p->p_buf (a copy of the text) at sep, in place. */
static enum patch_rc
split(struct path *p, char *s, char sep)
{
	size_t n = 1;

	for (char *c = s; *c != '\0'; c++)
		n += *c == sep;
	p->p_seg = calloc(n, sizeof(*p->p_seg));
	if (p->p_seg == NULL)
		return PATCH_NOMEM;
	p->p_seg[p->p_n++] = s;
	for (char *c = s; *c != '\0'; c++) {
		if (*c == sep) {
			*c = '\0';
			p->p_seg[p->p_n++] = c + 1;
		}
	}
	return PATCH_OK;
}

/* Replaces ~0 and ~1 in every segment; false on any other use of '~'. */
static bool
unescape_pointer(struct path *p)
{
	for (size_t i = 0; i < p->p_n; i++) {
		char *r = p->p_seg[i], *w = r;

		for (; *r != '\0'; r++) {
			if (*r != '~') {
				*w++ = *r;
				continue;
			}
			if (r[1] != '0' && r[1] != '1')
				return false;
			*w++ = r[1] == '0' ? '~' : '/';
			r++;
		}
		*w = '\0';
	}
	return true;
}

/* Checks the segments just split; the error names the member (path/from). */
static enum patch_rc
check_segments(struct path *p, const char *label, const char *member,
    struct patch_error *err)
{
	if (!p->p_dotted && !unescape_pointer(p))
		return bad(err, "%s: the %s \"%s\" is not a valid JSON pointer "
		    "('~' must be followed by 0 or 1).", label, member,
		    p->p_text);
	for (size_t i = 0; p->p_dotted && i < p->p_n; i++) {
		if (p->p_seg[i][0] == '\0')
			return bad(err, "%s: the %s \"%s\" has an empty name.",
			    label, member, p->p_text);
	}
	return PATCH_OK;
}

/* Parses the string member of op called member into p. */
static enum patch_rc
compile_path(struct json_object *op, const char *member, bool slash_root,
    struct path *p, const char *label, struct patch_error *err)
{
	struct json_object *s;
	size_t len;

	if (!json_object_object_get_ex(op, member, &s))
		return bad(err, "%s has no \"%s\".", label, member);
	if (!json_object_is_type(s, json_type_string))
		return bad(err, "%s: \"%s\" must be a string.", label, member);
	p->p_text = json_object_get_string(s);
	len = (size_t)json_object_get_string_len(s);
	if (memchr(p->p_text, '\0', len) != NULL)
		return bad(err, "%s: the %s contains a NUL character.", label,
		    member);
	p->p_dotted = p->p_text[0] != '/';
	if (len == 0 || (slash_root && len == 1 && !p->p_dotted))
		return PATCH_OK;
	p->p_buf = strdup(p->p_dotted ? p->p_text : p->p_text + 1);
	if (p->p_buf == NULL)
		return PATCH_NOMEM;
	if (split(p, p->p_buf, p->p_dotted ? '.' : '/') != PATCH_OK)
		return PATCH_NOMEM;
	if (p->p_n > PATCH_MAX_DEPTH)
		return bad(err, "%s: the %s has more than %d segments.", label,
		    member, PATCH_MAX_DEPTH);
	return check_segments(p, label, member, err);
}

/* true if a is a proper prefix of b (b lies inside a). */
static bool
path_inside(const struct path *a, const struct path *b)
{
	if (a->p_n >= b->p_n)
		return false;
	for (size_t i = 0; i < a->p_n; i++) {
		if (strcmp(a->p_seg[i], b->p_seg[i]) != 0)
			return false;
	}
	return true;
}

/* ---- Compiling the operation list ---- */

static void
free_list(struct op *ops, size_t n)
{
	for (size_t i = 0; ops != NULL && i < n; i++) {
		path_free(&ops[i].o_path);
		path_free(&ops[i].o_from);
		free_list(ops[i].o_sub, ops[i].o_nsub);
	}
	free(ops);
}

/* Finds the spec named by the op's "op" member. */
static enum patch_rc
find_spec(struct json_object *src, const struct op_spec **spec,
    const char *label, struct patch_error *err)
{
	struct json_object *name;
	const char *s;
	size_t len;

	if (!json_object_object_get_ex(src, "op", &name))
		return bad(err, "%s has no \"op\".", label);
	if (!json_object_is_type(name, json_type_string))
		return bad(err, "%s: \"op\" must be a string.", label);
	s = json_object_get_string(name);
	len = (size_t)json_object_get_string_len(name);
	for (size_t i = 0; i < sizeof(op_specs) / sizeof(op_specs[0]); i++) {
		/* Compare lengths too, so that "add\u0000x" is not "add". */
		if (strlen(op_specs[i].s_name) == len &&
		    memcmp(op_specs[i].s_name, s, len) == 0) {
			*spec = &op_specs[i];
			return PATCH_OK;
		}
	}
	return bad(err, "%s: unknown operation \"%s\".", label, s);
}

/* Reads the optional boolean member name into *out. */
static enum patch_rc
compile_flag(struct json_object *src, const char *name, bool *out,
    const char *label, struct patch_error *err)
{
	struct json_object *v;

	*out = false;
	if (!json_object_object_get_ex(src, name, &v))
		return PATCH_OK;
	if (!json_object_is_type(v, json_type_boolean))
		return bad(err, "%s: \"%s\" must be true or false.", label,
		    name);
	*out = json_object_get_boolean(v) != 0;
	return PATCH_OK;
}

/* Checks "value" against the spec's flags. */
static enum patch_rc
compile_value(struct op *op, unsigned flags, const char *label,
    struct patch_error *err)
{
	struct json_object *v;
	struct tally t = { 0, 0 };

	op->o_has_value = json_object_object_get_ex(op->o_src, "value", &v);
	op->o_value = v;
	/* A nested patch's operations are measured one by one: measuring the
	 * whole list at every level too would cost its size times its depth. */
	if (!(flags & F_ARRAY))
		op->o_vdepth = measure(v, &unlimited, &t);
	op->o_vsize = t.t_bytes;
	if (!op->o_has_value)
		return (flags & F_VALUE) ?
		    bad(err, "%s has no \"value\".", label) : PATCH_OK;
	if ((flags & F_NUMBER) && !json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return bad(err, "%s: \"value\" must be a number.", label);
	if ((flags & F_OBJECT) && !is_object(v))
		return bad(err, "%s: \"value\" must be an object.", label);
	if ((flags & F_ARRAY) && !is_array(v))
		return bad(err, "%s: \"value\" must be an array of operations.",
		    label);
	return PATCH_OK;
}

/* Checks one operation object src into op (zeroed by the caller). */
static enum patch_rc
compile_op(struct json_object *src, struct op *op, const char *label,
    struct patch_error *err)
{
	const struct op_spec *spec = NULL;
	enum patch_rc rc;

	if (!is_object(src))
		return bad(err, "%s is not a JSON object.", label);
	op->o_src = src;
	if ((rc = find_spec(src, &spec, label, err)) != PATCH_OK)
		return rc;
	op->o_kind = spec->s_kind;
	rc = compile_path(src, "path", spec->s_flags & F_SLASH_ROOT,
	    &op->o_path, label, err);
	if (rc == PATCH_OK && (spec->s_flags & F_FROM))
		rc = compile_path(src, "from", false, &op->o_from, label, err);
	if (rc == PATCH_OK)
		rc = compile_value(op, spec->s_flags, label, err);
	if (rc == PATCH_OK && op->o_kind == OP_TEST)
		rc = compile_flag(src, "negate", &op->o_negate, label, err);
	if (rc == PATCH_OK && op->o_kind == OP_PATCH)
		rc = compile_flag(src, "conditional", &op->o_conditional, label,
		    err);
	if (rc == PATCH_OK && op->o_kind == OP_PATCH)
		rc = compile_list(op->o_value, &op->o_sub, &op->o_nsub, label,
		    err);
	return rc;
}

/*
 * Checks every element of the array arr; *out gets a list to release with
 * free_list(*out, *nout), also on failure. parent labels a nested list; at
 * the top level (parent NULL) a bad operation's index goes to err->op_index.
 */
static enum patch_rc
compile_list(struct json_object *arr, struct op **out, size_t *nout,
    const char *parent, struct patch_error *err)
{
	char label[LABEL_SIZE];
	size_t n = json_object_array_length(arr);
	enum patch_rc rc;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return PATCH_OK;
	if ((*out = calloc(n, sizeof(**out))) == NULL)
		return PATCH_NOMEM;
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		/* A cut label still tells the client where to look. */
		if (parent == NULL)
			(void)snprintf(label, sizeof(label), "Operation %zu",
			    i);
		else
			(void)snprintf(label, sizeof(label),
			    "%s, nested operation %zu", parent, i);
		rc = compile_op(json_object_array_get_idx(arr, i), &(*out)[i],
		    label, err);
		if (rc != PATCH_OK) {
			if (parent == NULL)
				err->op_index = (int)i;
			return rc;
		}
	}
	return PATCH_OK;
}

/* ---- Limits ---- */

/* Takes n units of work from d's budget. */
static enum patch_rc
work(struct doc *d, size_t n, struct failure *f)
{
	if (n > d->d_budget->b_work)
		return conflict(f, "The patch does more work than allowed.");
	d->d_budget->b_work -= n;
	return PATCH_OK;
}

/*
 * Takes n elements shifted in an array from d's budget: a unit of work and,
 * since each shift touches a json-c object as a walk does, a value of the
 * walk budget.
 */
static enum patch_rc
shift(struct doc *d, size_t n, struct failure *f)
{
	struct budget *b = d->d_budget;

	if (n > b->b_work || n > b->b_walk)
		return conflict(f, "The patch does more work than allowed.");
	b->b_work -= n;
	b->b_walk -= n;
	return PATCH_OK;
}

/* A refusal for a document over max_bytes. */
static enum patch_rc
too_large(struct failure *f, size_t max)
{
	(void)snprintf(f->f_info, sizeof(f->f_info), "The patched document "
	    "would be larger than %zu bytes.", max);
	return PATCH_TOO_LARGE;
}

/*
 * Accounts for a step that adds add bytes to the document and removes sub
 * bytes from it. A step that grows the document beyond max_bytes is refused
 * before it is made; one that shrinks it is always allowed.
 */
static enum patch_rc
resize(struct doc *d, size_t add, size_t sub, struct failure *f)
{
	struct budget *b = d->d_budget;
	size_t size = b->b_size > SIZE_MAX - add ? SIZE_MAX : b->b_size + add;

	/* The bytes removed are in the document: sub <= size. */
	size = sub < size ? size - sub : 0;
	if (add > sub && size > b->b_max)
		return too_large(f, b->b_max);
	b->b_size = size;
	return PATCH_OK;
}

/* Checks that a value of nesting depth vdepth may go at p. */
static enum patch_rc
fits(const struct doc *d, const struct path *p, int vdepth, struct failure *f)
{
	int max = d->d_budget->b_depth;

	/* p_n <= PATCH_MAX_DEPTH and d_depth is a sum of checked p_n: no
	 * overflow. */
	if (d->d_depth + (int)p->p_n + vdepth <= max)
		return PATCH_OK;
	return conflict(f, "The result would be nested more than %d levels "
	    "deep.", max);
}

/*
 * Walks v, about to be copied or walked: charges its values to *nodes (a
 * member of d's budget; NULL charges none) and its canonical size to the
 * work budget. *vsize gets that size, *vdepth (if not NULL) its depth.
 */
static enum patch_rc
charge(struct doc *d, size_t *nodes, struct json_object *v, size_t *vsize,
    int *vdepth, struct failure *f)
{
	struct budget *b = d->d_budget;
	struct tally max = { nodes != NULL ? *nodes : SIZE_MAX, b->b_work };
	struct tally t = { 0, 0 };
	int depth;

	depth = measure(v, &max, &t);
	if (t.t_nodes > max.t_nodes)
		return conflict(f, "The patch copies more data than allowed.");
	if (t.t_bytes > max.t_bytes)
		return conflict(f, "The patch does more work than allowed.");
	if (nodes != NULL)
		*nodes -= t.t_nodes;
	b->b_work -= t.t_bytes;
	*vsize = t.t_bytes;
	if (vdepth != NULL)
		*vdepth = depth;
	return PATCH_OK;
}

/*
 * The bytes besides its value that a child seg of parent takes: its member
 * name in an object, and a comma unless it is the only child. existing: the
 * child is already in parent.
 */
static size_t
slot_size(struct json_object *parent, const char *seg, bool existing)
{
	size_t n;

	if (is_object(parent))
		n = (size_t)json_object_object_length(parent);
	else
		n = json_object_array_length(parent);
	if (existing)
		n--;
	return (n > 0) + (is_object(parent) ? name_size(seg) : 0);
}

/* ---- Finding and changing values ---- */

/* Parses a canonical array index (no sign, no leading zero). */
static bool
parse_index(const char *s, size_t *out)
{
	size_t v = 0;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (SIZE_MAX - (size_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (size_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* The member or element seg of parent; false when there is none. */
static bool
child_get(struct json_object *parent, const char *seg, struct json_object **out)
{
	size_t idx;

	*out = NULL;
	if (is_object(parent))
		return json_object_object_get_ex(parent, seg, out);
	if (!is_array(parent) || !parse_index(seg, &idx) ||
	    idx >= json_object_array_length(parent))
		return false;
	*out = json_object_array_get_idx(parent, idx);
	return true;
}

/* The value at p (borrowed, NULL for JSON null); false when missing. */
static bool
lookup(const struct doc *d, const struct path *p, struct json_object **out)
{
	struct json_object *cur = d->d_root;

	*out = NULL;
	for (size_t i = 0; i < p->p_n; i++) {
		if (!child_get(cur, p->p_seg[i], &cur))
			return false;
	}
	*out = cur;
	return true;
}

/*
 * The container that holds the last segment of p (p_n > 0). With create,
 * missing members of objects on the way become empty objects, each
 * accounted before it is made.
 */
static enum patch_rc
find_parent(struct doc *d, const struct path *p, bool create,
    struct json_object **out, struct failure *f)
{
	struct json_object *cur = d->d_root, *next;
	enum patch_rc rc;

	for (size_t i = 0; i + 1 < p->p_n; i++) {
		if (child_get(cur, p->p_seg[i], &next)) {
			cur = next;
			continue;
		}
		if (!create || !is_object(cur))
			return conflict(f, "The parent of \"%s\" does not "
			    "exist.", p->p_text);
		/* The member and its {}. */
		rc = resize(d, slot_size(cur, p->p_seg[i], false) + 2, 0, f);
		if (rc != PATCH_OK)
			return rc;
		if ((next = json_object_new_object()) == NULL)
			return PATCH_NOMEM;
		if (json_object_object_add(cur, p->p_seg[i], next) != 0) {
			json_object_put(next);
			return PATCH_NOMEM;
		}
		cur = next;
	}
	*out = cur;
	return PATCH_OK;
}

/*
 * Makes val (consumed) the root of d. With count, val's vsize bytes replace
 * the root's in the document's size; without, the caller counted them.
 */
static enum patch_rc
set_root(struct doc *d, struct json_object *val, size_t vsize, bool count,
    struct failure *f)
{
	enum patch_rc rc = PATCH_OK;
	size_t osize;

	if (d->d_top && !is_object(val)) {
		json_object_put(val);
		return conflict(f, "The document can only be replaced by an "
		    "object.");
	}
	/* Walk the root rather than trust b_size: a move may have taken out
	 * a value that is counted but not in the tree. */
	if (count && (rc = charge(d, NULL, d->d_root, &osize, NULL, f)) ==
	    PATCH_OK)
		rc = resize(d, vsize, osize, f);
	if (rc != PATCH_OK) {
		json_object_put(val);
		return rc;
	}
	json_object_put(d->d_root);
	d->d_root = val;
	return PATCH_OK;
}

/* Inserts val (consumed) at idx <= length, shifting the tail right. */
static enum patch_rc
array_insert(struct json_object *arr, size_t idx, struct json_object *val)
{
	size_t n = json_object_array_length(arr);

	/* json-c 0.16 has no insert. Grow first, then move each element up
	 * one slot, holding a reference while it sits in two slots. */
	if (json_object_array_add(arr, NULL) != 0)
		goto fail;
	for (size_t i = n; i > idx; i--) {
		struct json_object *e = json_object_get(
		    json_object_array_get_idx(arr, i - 1));

		if (json_object_array_put_idx(arr, i, e) != 0) {
			json_object_put(e);
			goto fail;
		}
	}
	if (json_object_array_put_idx(arr, idx, val) != 0)
		goto fail;
	return PATCH_OK;
fail:
	json_object_put(val);
	return PATCH_NOMEM;
}

/* Adds val (consumed) as the member seg of the object parent: a new member,
 * or in place of the old value. */
static enum patch_rc
put_member(struct doc *d, struct json_object *parent, const char *seg,
    struct json_object *val, size_t vsize, struct failure *f)
{
	struct json_object *old;
	enum patch_rc rc;
	size_t osize;

	if (!json_object_object_get_ex(parent, seg, &old))
		rc = resize(d, slot_size(parent, seg, false) + vsize, 0, f);
	else if ((rc = charge(d, NULL, old, &osize, NULL, f)) == PATCH_OK)
		rc = resize(d, vsize, osize, f);
	if (rc == PATCH_OK && json_object_object_add(parent, seg, val) == 0)
		return PATCH_OK;
	json_object_put(val);
	return rc == PATCH_OK ? PATCH_NOMEM : rc;
}

/* Adds val (consumed; vsize bytes not yet counted) as the child seg of
 * parent, RFC 6902 add style. */
static enum patch_rc
put_child(struct doc *d, struct json_object *parent, const struct path *p,
    struct json_object *val, size_t vsize, struct failure *f)
{
	const char *seg = p->p_seg[p->p_n - 1];
	enum patch_rc rc;
	size_t idx, len;

	if (is_object(parent))
		return put_member(d, parent, seg, val, vsize, f);
	if (!is_array(parent)) {
		json_object_put(val);
		return conflict(f, "The parent of \"%s\" is not an object or "
		    "an array.", p->p_text);
	}
	len = json_object_array_length(parent);
	if (strcmp(seg, "-") == 0)
		idx = len;
	else if (!parse_index(seg, &idx) || idx > len) {
		json_object_put(val);
		return conflict(f, "The array index in \"%s\" is out of range.",
		    p->p_text);
	}
	/* Each element after idx moves up one slot. */
	if ((rc = shift(d, len - idx, f)) == PATCH_OK)
		rc = resize(d, slot_size(parent, NULL, false) + vsize, 0, f);
	if (rc != PATCH_OK) {
		json_object_put(val);
		return rc;
	}
	return array_insert(parent, idx, val);
}

/* Adds val (consumed; vsize bytes not yet counted) at p: the add op, also
 * used by move, copy, inc, init. */
static enum patch_rc
put_at(struct doc *d, const struct path *p, struct json_object *val,
    size_t vsize, struct failure *f)
{
	struct json_object *parent = NULL;
	enum patch_rc rc;

	if (p->p_n == 0)
		return set_root(d, val, vsize, true, f);
	rc = find_parent(d, p, p->p_dotted, &parent, f);
	if (rc != PATCH_OK) {
		json_object_put(val);
		return rc;
	}
	return put_child(d, parent, p, val, vsize, f);
}

/*
 * Replaces the existing value at p with val (consumed). With count, val's
 * vsize bytes replace the old value's in the document's size; without, the
 * caller counted them (the result of a nested patch).
 */
static enum patch_rc
replace_at(struct doc *d, const struct path *p, struct json_object *val,
    size_t vsize, bool count, struct failure *f)
{
	struct json_object *parent = NULL, *old;
	const char *seg;
	enum patch_rc rc;
	size_t idx, osize;

	if (p->p_n == 0)
		return set_root(d, val, vsize, count, f);
	seg = p->p_seg[p->p_n - 1];
	rc = find_parent(d, p, false, &parent, f);
	if (rc == PATCH_OK && !child_get(parent, seg, &old))
		rc = conflict(f, "The path \"%s\" does not exist.", p->p_text);
	if (rc == PATCH_OK && count &&
	    (rc = charge(d, NULL, old, &osize, NULL, f)) == PATCH_OK)
		rc = resize(d, vsize, osize, f);
	if (rc == PATCH_OK) {
		/* child_get succeeded: parent is an object, or an array and
		 * seg a valid index. */
		if (is_object(parent))
			rc = json_object_object_add(parent, seg, val) == 0 ?
			    PATCH_OK : PATCH_NOMEM;
		else
			rc = parse_index(seg, &idx) &&
			    json_object_array_put_idx(parent, idx, val) == 0 ?
			    PATCH_OK : PATCH_NOMEM;
		if (rc == PATCH_OK)
			return PATCH_OK;
	}
	json_object_put(val);
	return rc;
}

/*
 * Removes the value at p; *out (if not NULL) gets a reference to it. With
 * count, its bytes leave the document's size; without (a move), only those
 * around it do, and the caller puts it back without counting it.
 */
static enum patch_rc
remove_at(struct doc *d, const struct path *p, struct json_object **out,
    bool count, struct failure *f)
{
	struct json_object *parent = NULL, *v;
	const char *seg;
	enum patch_rc rc;
	size_t idx, vsize = 0;

	if (p->p_n == 0)
		return conflict(f, "The document root cannot be removed.");
	if ((rc = find_parent(d, p, false, &parent, f)) != PATCH_OK)
		return rc;
	seg = p->p_seg[p->p_n - 1];
	if (!child_get(parent, seg, &v))
		return conflict(f, "The path \"%s\" does not exist.",
		    p->p_text);
	if (count && (rc = charge(d, NULL, v, &vsize, NULL, f)) != PATCH_OK)
		return rc;
	/* child_get found it: in an array, seg is a valid index. Each
	 * element after it moves down one slot. */
	if (is_array(parent) && (!parse_index(seg, &idx) ||
	    (rc = shift(d, json_object_array_length(parent) - idx - 1, f)) !=
	    PATCH_OK))
		return rc == PATCH_OK ? PATCH_NOMEM : rc;
	/* Removing only shrinks the document: this cannot refuse. */
	(void)resize(d, 0, slot_size(parent, seg, true) + vsize, f);
	if (out != NULL)
		*out = json_object_get(v);
	if (is_object(parent)) {
		json_object_object_del(parent, seg);
		return PATCH_OK;
	}
	if (json_object_array_del_idx(parent, idx, 1) == 0)
		return PATCH_OK;
	if (out != NULL)
		json_object_put(*out);
	return PATCH_NOMEM;
}

/* ---- Numbers for inc ---- */

static struct wide
wide_from(struct json_object *v)
{
	int64_t i = json_object_get_int64(v);
	struct wide w;

	/* json-c keeps integers above INT64_MAX as uint64 and clamps
	 * get_int64 to INT64_MAX for them. */
	if (i == INT64_MAX) {
		w.w_neg = false;
		w.w_mag = json_object_get_uint64(v);
	} else {
		w.w_neg = i < 0;
		w.w_mag = i < 0 ? (uint64_t)(-(i + 1)) + 1 : (uint64_t)i;
	}
	return w;
}

/* a + b; false when the magnitude overflows 64 bits. */
static bool
wide_add(struct wide a, struct wide b, struct wide *sum)
{
	if (a.w_neg == b.w_neg) {
		sum->w_neg = a.w_neg;
		if (a.w_mag > UINT64_MAX - b.w_mag)
			return false;
		sum->w_mag = a.w_mag + b.w_mag;
	} else if (a.w_mag >= b.w_mag) {
		sum->w_neg = a.w_neg;
		sum->w_mag = a.w_mag - b.w_mag;
	} else {
		sum->w_neg = b.w_neg;
		sum->w_mag = b.w_mag - a.w_mag;
	}
	if (sum->w_mag == 0)
		sum->w_neg = false;
	return true;
}

/* *out = a new integer holding w; PATCH_CONFLICT when out of range. */
static enum patch_rc
wide_to_json(struct wide w, struct json_object **out)
{
	/* -2^63 and 2^64-1 are json-c's clamp values; json.c refuses them. */
	if (w.w_neg && w.w_mag < (UINT64_C(1) << 63))
		*out = json_object_new_int64(-(int64_t)w.w_mag);
	else if (!w.w_neg && w.w_mag <= INT64_MAX)
		*out = json_object_new_int64((int64_t)w.w_mag);
	else if (!w.w_neg && w.w_mag < UINT64_MAX)
		*out = json_object_new_uint64(w.w_mag);
	else
		return PATCH_CONFLICT;
	return *out == NULL ? PATCH_NOMEM : PATCH_OK;
}

/* *out = a new number holding cur + by. */
static enum patch_rc
number_add(struct json_object *cur, struct json_object *by,
    struct json_object **out, struct failure *f)
{
	struct wide sum;
	double d;
	enum patch_rc rc;

	*out = NULL;
	if (json_object_is_type(cur, json_type_int) &&
	    json_object_is_type(by, json_type_int)) {
		rc = wide_add(wide_from(cur), wide_from(by), &sum) ?
		    wide_to_json(sum, out) : PATCH_CONFLICT;
		if (rc == PATCH_CONFLICT)
			return conflict(f, "The increment overflows the "
			    "integer.");
		return rc;
	}
	d = json_object_get_double(cur) + json_object_get_double(by);
	if (!isfinite(d))
		return conflict(f, "The increment overflows the number.");
	*out = json_object_new_double(d);
	return *out == NULL ? PATCH_NOMEM : PATCH_OK;
}

/* ---- The operations ---- */

/* A new copy of the op's value, whose copying is charged as work. */
static enum patch_rc
copy_op_value(struct doc *d, const struct op *op, struct json_object **out,
    struct failure *f)
{
	enum patch_rc rc;

	*out = NULL;
	if ((rc = work(d, op->o_vsize, f)) != PATCH_OK)
		return rc;
	return copy_value(op->o_value, out);
}

static enum patch_rc
op_add(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *v;
	enum patch_rc rc;

	if ((rc = fits(d, &op->o_path, op->o_vdepth, f)) != PATCH_OK ||
	    (rc = copy_op_value(d, op, &v, f)) != PATCH_OK)
		return rc;
	return put_at(d, &op->o_path, v, op->o_vsize, f);
}

static enum patch_rc
op_remove(struct doc *d, const struct op *op, struct failure *f)
{
	return remove_at(d, &op->o_path, NULL, true, f);
}

static enum patch_rc
op_replace(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *v;
	enum patch_rc rc;

	if (!lookup(d, &op->o_path, &v))
		return conflict(f, "The path \"%s\" does not exist.",
		    op->o_path.p_text);
	if ((rc = fits(d, &op->o_path, op->o_vdepth, f)) != PATCH_OK ||
	    (rc = copy_op_value(d, op, &v, f)) != PATCH_OK)
		return rc;
	return replace_at(d, &op->o_path, v, op->o_vsize, true, f);
}

static enum patch_rc
op_move(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *v;
	enum patch_rc rc;
	size_t vsize;
	int vdepth;

	if (path_inside(&op->o_from, &op->o_path))
		return conflict(f, "Cannot move \"%s\" into itself.",
		    op->o_from.p_text);
	/* Only a move to a deeper place can nest the document deeper. */
	if (op->o_path.p_n > op->o_from.p_n && lookup(d, &op->o_from, &v) &&
	    ((rc = charge(d, &d->d_budget->b_walk, v, &vsize, &vdepth, f)) !=
	    PATCH_OK || (rc = fits(d, &op->o_path, vdepth, f)) != PATCH_OK))
		return rc;
	/* The value's own bytes leave one place for the other: count only
	 * those around it. */
	if ((rc = remove_at(d, &op->o_from, &v, false, f)) != PATCH_OK)
		return rc;
	return put_at(d, &op->o_path, v, 0, f);
}

static enum patch_rc
op_copy(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *v, *old;
	enum patch_rc rc;
	size_t vsize, size;
	int vdepth;

	if (!lookup(d, &op->o_from, &v))
		return conflict(f, "The path \"%s\" does not exist.",
		    op->o_from.p_text);
	rc = charge(d, &d->d_budget->b_copy, v, &vsize, &vdepth, f);
	if (rc != PATCH_OK ||
	    (rc = fits(d, &op->o_path, vdepth, f)) != PATCH_OK)
		return rc;
	/* Refuse before copying when the copy can only add: put_at counts
	 * exactly, but only once the copy exists. */
	size = d->d_budget->b_size;
	if (!lookup(d, &op->o_path, &old) &&
	    (vsize > SIZE_MAX - size || size + vsize > d->d_budget->b_max))
		return too_large(f, d->d_budget->b_max);
	if (copy_value(v, &v) != PATCH_OK)
		return PATCH_NOMEM;
	return put_at(d, &op->o_path, v, vsize, f);
}

/* Records a failed test; actual is the value found, if any. */
static enum patch_rc
test_failed(struct doc *d, struct failure *f, const struct op *op,
    bool found, struct json_object *actual)
{
	enum patch_rc rc;
	size_t size;

	/* The copy for details.actual is work too: conditional patches may
	 * fail tests again and again. */
	if (found && (rc = charge(d, NULL, actual, &size, NULL, f)) !=
	    PATCH_OK)
		return rc;
	if (found && copy_value(actual, &f->f_actual) != PATCH_OK)
		return PATCH_NOMEM;
	f->f_test = true;
	f->f_expected = op->o_value;
	f->f_has_expected = op->o_has_value;
	f->f_has_actual = found;
	if (!op->o_has_value)
		return conflict(f, op->o_negate ? "The path \"%s\" exists." :
		    "The path \"%s\" does not exist.", op->o_path.p_text);
	return conflict(f, op->o_negate ? "The value at \"%s\" is the one the "
	    "test excludes." : "The value at \"%s\" is not the one expected.",
	    op->o_path.p_text);
}

static enum patch_rc
op_test(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *v;
	enum patch_rc rc;
	bool found, ok;

	found = lookup(d, &op->o_path, &v);
	ok = found;
	/* json_object_equal walks its first argument and, where that
	 * matches, only looks up the second's members: the expected value
	 * first bounds the work by its size. */
	if (found && op->o_has_value) {
		if ((rc = work(d, op->o_vsize, f)) != PATCH_OK)
			return rc;
		ok = json_object_equal(op->o_value, v) != 0;
	}
	if (ok != op->o_negate)
		return PATCH_OK;
	return test_failed(d, f, op, found, v);
}

static enum patch_rc
op_inc(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *cur, *by, *sum;
	enum patch_rc rc;

	by = op->o_has_value ? op->o_value : json_object_new_int(1);
	if (by == NULL)
		return PATCH_NOMEM;
	if (!lookup(d, &op->o_path, &cur)) {
		if ((rc = fits(d, &op->o_path, 0, f)) == PATCH_OK)
			rc = copy_value(by, &sum) == PATCH_OK ?
			    put_at(d, &op->o_path, sum, scalar_size(by), f) :
			    PATCH_NOMEM;
	} else if (!json_object_is_type(cur, json_type_int) &&
	    !json_object_is_type(cur, json_type_double))
		rc = conflict(f, "The value at \"%s\" is not a number.",
		    op->o_path.p_text);
	else if ((rc = number_add(cur, by, &sum, f)) == PATCH_OK)
		rc = replace_at(d, &op->o_path, sum, scalar_size(sum), true,
		    f);
	if (!op->o_has_value)
		json_object_put(by);
	return rc;
}

static enum patch_rc
op_init(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *v;

	if (lookup(d, &op->o_path, &v))
		return PATCH_OK;
	return op_add(d, op, f);
}

/* Appends a copy of v to arr. */
static enum patch_rc
append_copy(struct json_object *arr, struct json_object *v)
{
	struct json_object *c;

	if (copy_value(v, &c) != PATCH_OK)
		return PATCH_NOMEM;
	if (json_object_array_add(arr, c) != 0) {
		json_object_put(c);
		return PATCH_NOMEM;
	}
	return PATCH_OK;
}

/* The bytes that appending v (o_vsize bytes) to arr adds. */
static size_t
append_size(struct json_object *arr, const struct op *op)
{
	struct json_object *v = op->o_value;
	size_t comma = json_object_array_length(arr) > 0;

	if (!is_array(v))
		return comma + op->o_vsize;
	if (json_object_array_length(v) == 0)
		return 0;
	/* v's elements and the commas between them, without v's brackets,
	 * and a comma before them unless arr was empty. */
	return op->o_vsize - 2 + comma;
}

static enum patch_rc
op_append(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *arr, *v = op->o_value;
	enum patch_rc rc;
	size_t n;

	if (!lookup(d, &op->o_path, &arr) || !is_array(arr))
		return conflict(f, "The value at \"%s\" is not an array.",
		    op->o_path.p_text);
	/* The elements go one level below the array. */
	rc = fits(d, &op->o_path, is_array(v) ? op->o_vdepth :
	    op->o_vdepth + 1, f);
	if (rc == PATCH_OK)
		rc = work(d, op->o_vsize, f);
	if (rc == PATCH_OK)
		rc = resize(d, append_size(arr, op), 0, f);
	if (rc != PATCH_OK)
		return rc;
	if (!is_array(v))
		return append_copy(arr, v);
	/* Fix the count first: v and arr are distinct (v is in the op list). */
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		if (append_copy(arr, json_object_array_get_idx(v, i)) !=
		    PATCH_OK)
			return PATCH_NOMEM;
	}
	return PATCH_OK;
}

/* The bytes of the commas between n members. */
static size_t
commas(size_t n)
{
	return n > 0 ? n - 1 : 0;
}

/*
 * Adds to *add and *sub the bytes that an RFC 7386 merge of the object patch
 * into target (an object, or NULL for a new one) would add and remove,
 * changing nothing. Walks patch and the values that would go, as work.
 */
static enum patch_rc
merge_size(struct doc *d, struct json_object *target,
    struct json_object *patch, size_t *add, size_t *sub, struct failure *f)
{
	size_t n0 = target ? (size_t)json_object_object_length(target) : 0;
	size_t n = n0, size;
	enum patch_rc rc = PATCH_OK;

	json_object_object_foreach(patch, key, val) {
		struct json_object *cur = NULL;
		bool found = target != NULL &&
		    json_object_object_get_ex(target, key, &cur);

		/* An object merges into an object; otherwise cur goes. */
		if (found && (!is_object(val) || !is_object(cur)) && (rc =
		    charge(d, NULL, cur, &size, NULL, f)) == PATCH_OK)
			*sub += size + (val == NULL ? name_size(key) : 0);
		if (rc != PATCH_OK)
			return rc;
		if (val == NULL) {
			n -= found;
			continue;
		}
		if (!found) {
			*add += name_size(key);
			n++;
		}
		if (!is_object(val)) {
			rc = charge(d, NULL, val, &size, NULL, f);
			*add += size;
		} else {
			/* A new object: its braces, then its members. */
			if (!found || !is_object(cur)) {
				*add += 2;
				cur = NULL;
			}
			rc = merge_size(d, cur, val, add, sub, f);
		}
		if (rc != PATCH_OK)
			return rc;
	}
	if (commas(n) > commas(n0))
		*add += commas(n) - commas(n0);
	else
		*sub += commas(n0) - commas(n);
	return PATCH_OK;
}

/* RFC 7386 merge of the object patch into the object target, in place. */
static enum patch_rc
merge_into(struct json_object *target, struct json_object *patch)
{
	json_object_object_foreach(patch, key, val) {
		struct json_object *cur;

		if (val == NULL) {
			json_object_object_del(target, key);
			continue;
		}
		if (!is_object(val)) {
			if (copy_value(val, &cur) != PATCH_OK)
				return PATCH_NOMEM;
		} else if (json_object_object_get_ex(target, key, &cur) &&
		    is_object(cur)) {
			if (merge_into(cur, val) != PATCH_OK)
				return PATCH_NOMEM;
			continue;
		} else if ((cur = json_object_new_object()) == NULL ||
		    merge_into(cur, val) != PATCH_OK) {
			json_object_put(cur);
			return PATCH_NOMEM;
		}
		if (json_object_object_add(target, key, cur) != 0) {
			json_object_put(cur);
			return PATCH_NOMEM;
		}
	}
	return PATCH_OK;
}

/* Merges patch into the object target of d, accounting for it first. */
static enum patch_rc
merge_at(struct doc *d, struct json_object *target,
    struct json_object *patch, struct failure *f)
{
	size_t add = 0, sub = 0;
	enum patch_rc rc;

	if ((rc = merge_size(d, target, patch, &add, &sub, f)) != PATCH_OK ||
	    (rc = resize(d, add, sub, f)) != PATCH_OK)
		return rc;
	return merge_into(target, patch);
}

static enum patch_rc
op_merge(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *target;
	enum patch_rc rc;

	if (!lookup(d, &op->o_path, &target) || !is_object(target))
		return conflict(f, "The value at \"%s\" is not an object.",
		    op->o_path.p_text);
	if ((rc = fits(d, &op->o_path, op->o_vdepth, f)) != PATCH_OK)
		return rc;
	return merge_at(d, target, op->o_value, f);
}

/*
 * Makes *out a copy of target for a conditional patch, charged as work and
 * held (*held gets its size) until the patch ends: nested conditional
 * patches hold at most max_bytes of copies at once.
 */
static enum patch_rc
snapshot(struct doc *d, struct json_object *target, struct json_object **out,
    size_t *held, struct failure *f)
{
	struct budget *b = d->d_budget;
	enum patch_rc rc;

	*out = NULL;
	if ((rc = charge(d, &b->b_walk, target, held, NULL, f)) != PATCH_OK)
		return rc;
	if (*held > b->b_max - b->b_held) {
		*held = 0;
		return conflict(f, "The patch does more work than allowed: "
		    "its conditional patches copy too much at once.");
	}
	if (copy_value(target, out) != PATCH_OK) {
		*held = 0;
		return PATCH_NOMEM;
	}
	b->b_held += *held;
	return PATCH_OK;
}

static enum patch_rc
op_patch(struct doc *d, const struct op *op, struct failure *f)
{
	struct json_object *target;
	struct doc sub;
	enum patch_rc rc;
	size_t at, held = 0, before = d->d_budget->b_size;

	if (!lookup(d, &op->o_path, &target) ||
	    (!is_object(target) && !is_array(target)))
		return conflict(f, "The value at \"%s\" is not an object or "
		    "an array.", op->o_path.p_text);
	sub.d_top = d->d_top && op->o_path.p_n == 0;
	sub.d_depth = d->d_depth + (int)op->o_path.p_n;
	sub.d_budget = d->d_budget;
	/* Unconditional: any failure discards the whole document anyway, so
	 * work in place (with our own reference, as the nested ops may replace
	 * their root); a conditional patch may be skipped, so on a copy. */
	if (!op->o_conditional)
		sub.d_root = json_object_get(target);
	else if ((rc = snapshot(d, target, &sub.d_root, &held, f)) !=
	    PATCH_OK)
		return rc;
	rc = exec_list(&sub, op->o_sub, op->o_nsub, f, &at);
	/* The copy is no longer a snapshot: it is dropped or placed. */
	d->d_budget->b_held -= held;
	if (rc == PATCH_OK && sub.d_root == target) {
		json_object_put(sub.d_root);
		return PATCH_OK;
	}
	/* The nested ops counted their bytes as they went. */
	if (rc == PATCH_OK)
		return replace_at(d, &op->o_path, sub.d_root, 0, false, f);
	json_object_put(sub.d_root);
	if (rc != PATCH_CONFLICT || !op->o_conditional || !f->f_test)
		return rc;
	/* A failed test skips this conditional patch: forget the failure and
	 * the bytes it would have added or removed. */
	d->d_budget->b_size = before;
	json_object_put(f->f_actual);
	memset(f, 0, sizeof(*f));
	return PATCH_OK;
}

static enum patch_rc
exec_op(struct doc *d, const struct op *op, struct failure *f)
{
	enum patch_rc rc = PATCH_BAD_REQUEST;

	switch (op->o_kind) {
	case OP_ADD:		rc = op_add(d, op, f); break;
	case OP_REMOVE:		rc = op_remove(d, op, f); break;
	case OP_REPLACE:	rc = op_replace(d, op, f); break;
	case OP_MOVE:		rc = op_move(d, op, f); break;
	case OP_COPY:		rc = op_copy(d, op, f); break;
	case OP_TEST:		rc = op_test(d, op, f); break;
	case OP_INC:		rc = op_inc(d, op, f); break;
	case OP_INIT:		rc = op_init(d, op, f); break;
	case OP_APPEND:		rc = op_append(d, op, f); break;
	case OP_MERGE:		rc = op_merge(d, op, f); break;
	case OP_PATCH:		rc = op_patch(d, op, f); break;
	}
	if ((rc == PATCH_CONFLICT || rc == PATCH_TOO_LARGE) && f->f_op == NULL)
		f->f_op = op;
	return rc;
}

/* Runs ops in order on d; *failed_at gets the index of a failing op. */
static enum patch_rc
exec_list(struct doc *d, const struct op *ops, size_t n, struct failure *f,
    size_t *failed_at)
{
	for (size_t i = 0; i < n; i++) {
		enum patch_rc rc = exec_op(d, &ops[i], f);

		if (rc != PATCH_OK) {
			*failed_at = i;
			return rc;
		}
	}
	return PATCH_OK;
}

/* ---- Public interface ---- */

static void
error_init(struct patch_error *err)
{
	err->op_index = -1;
	err->info[0] = '\0';
	err->details = NULL;
}

/* Adds v (consumed) as member key of o. */
static enum patch_rc
add_member(struct json_object *o, const char *key, struct json_object *v)
{
	if (json_object_object_add(o, key, v) == 0)
		return PATCH_OK;
	json_object_put(v);
	return PATCH_NOMEM;
}

/* Adds a copy of v (which may be JSON null) as member key of o. */
static enum patch_rc
add_copy(struct json_object *o, const char *key, struct json_object *v)
{
	struct json_object *c;

	if (copy_value(v, &c) != PATCH_OK)
		return PATCH_NOMEM;
	return add_member(o, key, c);
}

/*
 * Builds err->details from f: {"op", "opIndex", "info"} and, for a failed
 * test, "expected" and "actual" when there are such values. The op is the
 * innermost one that failed; opIndex is always the top-level index.
 */
static enum patch_rc
make_details(struct failure *f, struct patch_error *err)
{
	struct json_object *o, *v;
	enum patch_rc rc = PATCH_OK;

	if ((o = json_object_new_object()) == NULL)
		return PATCH_NOMEM;
	if (f->f_op != NULL)
		rc = add_copy(o, "op", f->f_op->o_src);
	if (rc == PATCH_OK)
		rc = (v = json_object_new_int(err->op_index)) == NULL ?
		    PATCH_NOMEM : add_member(o, "opIndex", v);
	if (rc == PATCH_OK)
		rc = (v = json_object_new_string(f->f_info)) == NULL ?
		    PATCH_NOMEM : add_member(o, "info", v);
	if (rc == PATCH_OK && f->f_has_expected)
		rc = add_copy(o, "expected", f->f_expected);
	if (rc == PATCH_OK && f->f_has_actual) {
		/* add_member takes the reference, also when it fails. */
		v = f->f_actual;
		f->f_actual = NULL;
		rc = add_member(o, "actual", v);
	}
	if (rc != PATCH_OK) {
		json_object_put(o);
		return PATCH_NOMEM;
	}
	err->details = o;
	return PATCH_OK;
}

/*
 * Fills err for rc (f is needed only for PATCH_CONFLICT and
 * PATCH_TOO_LARGE); returns rc, or PATCH_NOMEM if the details cannot be
 * built.
 */
static enum patch_rc
report(enum patch_rc rc, struct failure *f, struct patch_error *err)
{
	if (rc == PATCH_CONFLICT || rc == PATCH_TOO_LARGE)
		(void)snprintf(err->info, sizeof(err->info), "%s", f->f_info);
	if (rc == PATCH_CONFLICT && make_details(f, err) != PATCH_OK)
		rc = PATCH_NOMEM;
	if (rc == PATCH_NOMEM) {
		(void)snprintf(err->info, sizeof(err->info), "Out of memory.");
		patch_error_free(err);
	}
	return rc;
}

/*
 * Sets up the budget for a document measured as *t and depth deep, a patch
 * of patch_size bytes and the caller's limits.
 */
static void
budget_init(struct budget *b, const struct tally *t,
    const struct patch_limits *lim, size_t patch_size)
{
	size_t base = lim->max_bytes > SIZE_MAX - patch_size ? SIZE_MAX :
	    lim->max_bytes + patch_size;

	/* A document in memory has far fewer values than SIZE_MAX / 8. */
	b->b_copy = COPY_BUDGET_BASE + 2 * t->t_nodes;
	b->b_walk = WALK_BUDGET_BASE + 8 * t->t_nodes;
	b->b_work = base > SIZE_MAX / PATCH_WORK_FACTOR ? SIZE_MAX :
	    base * PATCH_WORK_FACTOR;
	b->b_size = t->t_bytes;
	b->b_held = 0;
	b->b_max = lim->max_bytes;
	b->b_depth = lim->max_depth < PATCH_MAX_DEPTH ? lim->max_depth :
	    PATCH_MAX_DEPTH;
}

/*
 * The checks of a result that the steps cannot make: a document given
 * larger than max_bytes that the patch did not shrink enough, or one given
 * deeper than max_depth (depth is the deeper of the document and the patch
 * values' depths) that still is.
 */
static enum patch_rc
check_result(const struct doc *d, int depth, struct failure *f)
{
	const struct budget *b = d->d_budget;
	struct tally t = { 0, 0 };

	if (b->b_size > b->b_max)
		return too_large(f, b->b_max);
	/* The result is at most max_bytes: measuring it is cheap. */
	if (depth > b->b_depth && measure(d->d_root, &unlimited, &t) >
	    b->b_depth)
		return conflict(f, "The patched document is nested more than "
		    "%d levels deep.", b->b_depth);
	return PATCH_OK;
}

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
/* Fuzzing (tests/fuzz/run.sh): the size tracked must be the size printed,
 * to the byte; a difference is a bug in the accounting. */
static void
check_size(const struct doc *d)
{
	size_t len = 0;

	if (json_object_to_json_string_length(d->d_root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len) !=
	    NULL && len != d->d_budget->b_size)
		abort();
}
#else
#define check_size(d)	((void)(d))
#endif

/* Runs the compiled list on a copy of *doc and swaps it in on success. */
static enum patch_rc
apply_compiled(struct json_object **doc, const struct op *list, size_t n,
    const struct patch_limits *lim, size_t patch_size,
    struct patch_error *err)
{
	struct failure f;
	struct budget budget;
	struct doc d = { NULL, true, 0, &budget };
	struct tally t = { 0, 0 };
	size_t at = 0;
	int depth;
	enum patch_rc rc;

	memset(&f, 0, sizeof(f));
	depth = measure(*doc, &unlimited, &t);
	budget_init(&budget, &t, lim, patch_size);
	if (copy_value(*doc, &d.d_root) != PATCH_OK)
		return report(PATCH_NOMEM, &f, err);
	rc = exec_list(&d, list, n, &f, &at);
	if (rc == PATCH_CONFLICT || rc == PATCH_TOO_LARGE)
		err->op_index = (int)at;
	if (rc == PATCH_OK && !is_object(d.d_root))
		rc = conflict(&f, "The patched document is not an object.");
	if (rc == PATCH_OK)
		rc = check_result(&d, depth, &f);
	if (rc == PATCH_OK) {
		check_size(&d);
		json_object_put(*doc);
		*doc = d.d_root;
		return PATCH_OK;
	}
	json_object_put(d.d_root);
	rc = report(rc, &f, err);
	json_object_put(f.f_actual);
	return rc;
}

enum patch_rc
patch_apply(struct json_object **doc, struct json_object *ops,
    const struct patch_limits *lim, struct patch_error *err)
{
	struct op *list;
	struct tally t = { 0, 0 };
	size_t n;
	enum patch_rc rc;

	error_init(err);
	if (!is_array(ops))
		return bad(err, "The patch must be an array of operations.");
	if (json_object_array_length(ops) > INT32_MAX)
		return bad(err, "The patch has too many operations.");
	rc = compile_list(ops, &list, &n, NULL, err);
	if (rc == PATCH_OK) {
		(void)measure(ops, &unlimited, &t);
		rc = apply_compiled(doc, list, n, lim, t.t_bytes, err);
	} else if (rc == PATCH_NOMEM)
		rc = report(rc, NULL, err);
	free_list(list, n);
	return rc;
}

/*
 * Checks and accounts for merging merge into the document d (whose root is
 * the caller's, not yet copied); *target gets the object to merge into: the
 * root, or NULL when it is not an object (RFC 7386 replaces it by {}).
 */
static enum patch_rc
merge_plan(struct doc *d, struct json_object *merge,
    struct json_object **target, struct failure *f)
{
	size_t add = 0, sub = 0;
	enum patch_rc rc;

	*target = is_object(d->d_root) ? d->d_root : NULL;
	if (*target == NULL) {
		/* Replace the root by {}. */
		sub = d->d_budget->b_size;
		add = 2;
	}
	if ((rc = merge_size(d, *target, merge, &add, &sub, f)) != PATCH_OK)
		return rc;
	return resize(d, add, sub, f);
}

enum patch_rc
patch_merge(struct json_object **doc, struct json_object *merge,
    const struct patch_limits *lim, struct patch_error *err)
{
	struct json_object *copy = NULL, *target;
	struct failure f;
	struct budget budget;
	struct doc d = { *doc, true, 0, &budget };
	struct tally t = { 0, 0 }, mt = { 0, 0 };
	int depth, mdepth;
	enum patch_rc rc;

	error_init(err);
	memset(&f, 0, sizeof(f));
	if (!is_object(merge))
		return bad(err, "A merge patch must be a JSON object.");
	depth = measure(*doc, &unlimited, &t);
	mdepth = measure(merge, &unlimited, &mt);
	budget_init(&budget, &t, lim, mt.t_bytes);
	/* Everything is counted before the document is copied. */
	if ((rc = merge_plan(&d, merge, &target, &f)) != PATCH_OK)
		goto fail;
	if (target != NULL ? copy_value(*doc, &copy) != PATCH_OK :
	    (copy = json_object_new_object()) == NULL) {
		rc = PATCH_NOMEM;
		goto fail;
	}
	d.d_root = copy;
	if (merge_into(copy, merge) != PATCH_OK)
		rc = PATCH_NOMEM;
	else
		rc = check_result(&d, depth > mdepth ? depth : mdepth, &f);
	if (rc != PATCH_OK)
		goto fail;
	check_size(&d);
	json_object_put(*doc);
	*doc = copy;
	return PATCH_OK;
fail:
	json_object_put(copy);
	return report(rc, &f, err);
}

void
patch_error_free(struct patch_error *err)
{
	if (err == NULL)
		return;
	json_object_put(err->details);
	err->details = NULL;
}
