/*
 * fields: with_fields / without_fields over json-c values.
 *
 * fields_compile() checks both lists and merges each into a trie of member
 * names (struct fnode); fields_apply() then walks the value once, guided by
 * the two tries at the same time, and builds the result. Because the paths of
 * a list share one trie, each member of the value is looked at once however
 * many paths name it, so the cost is linear in the value (times a binary
 * search among a node's children), and 100 paths of 64 names over a large
 * array cost no more than one. Pure: no I/O, no globals; calls json-c, libc
 * and util_utf8_valid.
 *
 * The rules. Orchestrate's KB page on field filtering fixes fully qualified
 * names, with_fields before without_fields, and removal inside every element
 * of an array; the rest is our reading (also in docs/api.md):
 * - A list is paths separated by ','; a path is member names separated by
 *   '.'. There is no escaping and no trimming: names are compared byte for
 *   byte, so a member whose name holds '.' or ',' cannot be named, and a
 *   space is part of a name.
 * - Orchestrate wrote paths fully qualified ("value.name"). A leading
 *   "value." is that qualifier and is dropped, so "value.name" and "name" are
 *   the same path. A path of just "value" names the member "value" (as does
 *   "value.value"); nothing names the whole value.
 * - with_fields first: the result holds only the listed paths with the
 *   parents needed to reach them. A parent is kept only when something below
 *   it is: a path that does not exist (or runs into a scalar) adds nothing,
 *   not even an empty parent. Then without_fields removes each listed path;
 *   the parents stay, even when they become empty (one walk does both, and
 *   decides on a parent from with_fields alone, see walk_object).
 * - Arrays are transparent: a path continues into every element of an array
 *   it meets (arrays of arrays too). A name never indexes an array ("tags.0"
 *   is the member "0" of each element). Under with_fields an element of
 *   which nothing is kept (a scalar, or an object without the path) is left
 *   out, and an array left empty is absent like any other parent; a listed
 *   path that ends at an array keeps the whole array.
 * - A path that is a prefix of another in the same list wins ("a" with "a.b"
 *   is "a"). Repeating a path changes nothing.
 * - Malformed (FIELDS_BAD, never ignored): an empty list, an empty path
 *   (leading, trailing or doubled comma), an empty name (leading, trailing or
 *   doubled dot, or "value." alone), a NUL byte or invalid UTF-8, and the
 *   limits of fields.h.
 */
#include "fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util.h"

/*
 * One name of a trie. A leaf ends a path: everything below the member is
 * selected, so a leaf has no children (adding a path through a leaf adds
 * nothing; making a node a leaf frees its children).
 */
struct fnode {
	bool		  leaf;
	size_t		  nkids, cap;
	struct fnode	**kids;		/* sorted by name (bytes, then length) */
	size_t		  len;
	char		  name[];	/* len bytes, NUL-terminated */
};

struct fields_filter {
	struct fnode	*with;		/* NULL: with_fields absent */
	struct fnode	*without;	/* NULL: without_fields absent */
};

/* The qualifier Orchestrate's fully qualified names start with. */
#define QUALIFIER	"value"
#define QUALIFIER_LEN	(sizeof(QUALIFIER) - 1)

/* How much of a bad path an error message quotes. */
#define QUOTE_MAX	40

static struct fnode *
node_new(const char *name, size_t len)
{
	struct fnode *n = malloc(sizeof(*n) + len + 1);

	if (n == NULL)
		return NULL;
	n->leaf = false;
	n->nkids = n->cap = 0;
	n->kids = NULL;
	n->len = len;
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	return n;
}

static void
node_free(struct fnode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n);
}

/* Orders names as the trie does: bytes first, then the shorter first. */
static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/*
 * The index of the child of n called name, or where it would be inserted;
 * *found says which.
 */
static size_t
kid_search(const struct fnode *n, const char *name, size_t len, bool *found)
{
	size_t lo = 0, hi = n->nkids;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(n->kids[mid]->name, n->kids[mid]->len, name, len);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The child of n called key (a NUL-terminated json-c member name), or NULL. */
static const struct fnode *
kid_find(const struct fnode *n, const char *key)
{
	bool found;
	size_t i = kid_search(n, key, strlen(key), &found);

	return found ? n->kids[i] : NULL;
}

/* The child of n called name, created when missing; NULL when out of memory. */
static struct fnode *
kid_get(struct fnode *n, const char *name, size_t len)
{
	bool found;
	size_t i = kid_search(n, name, len, &found);
	struct fnode *k;

	if (found)
		return n->kids[i];
	if (n->nkids == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 4;
		struct fnode **kids = realloc(n->kids, cap * sizeof(*kids));

		if (kids == NULL)
			return NULL;
		n->kids = kids;
		n->cap = cap;
	}
	if ((k = node_new(name, len)) == NULL)
		return NULL;
	memmove(&n->kids[i + 1], &n->kids[i], (n->nkids - i) * sizeof(*n->kids));
	n->kids[i] = k;
	n->nkids++;
	return k;
}

/* Makes n a leaf: the whole member is selected, so its children go. */
static void
node_make_leaf(struct fnode *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	n->kids = NULL;
	n->nkids = n->cap = 0;
	n->leaf = true;
}

/* One checked path: its names, the qualifier already dropped. */
struct path {
	size_t		 n;
	const char	*name[FIELDS_MAX_DEPTH];
	size_t		 len[FIELDS_MAX_DEPTH];
};

/* Adds a checked path to the trie at root; -1 when out of memory. */
static int
trie_add(struct fnode *root, const struct path *p)
{
	struct fnode *n = root;

	for (size_t i = 0; i < p->n; i++) {
		if (n->leaf)
			return 0;	/* a shorter path already selects all of it */
		if ((n = kid_get(n, p->name[i], p->len[i])) == NULL)
			return -1;
	}
	node_make_leaf(n);
	return 0;
}

/*
 * Writes "param: field N (\"PATH\") WHAT" to err, quoting at most QUOTE_MAX
 * bytes of the (valid UTF-8) path and never cutting a character in two.
 */
static void
path_error(char *err, size_t errlen, const char *param, size_t idx,
    const char *s, size_t len, const char *what)
{
	size_t q = len;

	if (q > QUOTE_MAX) {
		q = QUOTE_MAX;
		while (q > 0 && ((unsigned char)s[q] & 0xc0) == 0x80)
			q--;
	}
	/* Truncation of the message is acceptable: it stays a sentence start. */
	(void)snprintf(err, errlen, "%s: field %zu (\"%.*s%s\") %s", param, idx,
	    (int)q, s, q < len ? "..." : "", what);
}

/*
 * Checks one path (len bytes at s, field number idx of param) and splits it
 * into p. Returns 0, or -1 with err filled.
 */
static int
path_parse(const char *param, size_t idx, const char *s, size_t len,
    struct path *p, char *err, size_t errlen)
{
	size_t start = 0;

	if (len == 0) {
		(void)snprintf(err, errlen, "%s: field %zu is empty (a leading, "
		    "trailing or doubled comma).", param, idx);
		return -1;
	}
	if (len > FIELDS_MAX_PATH_LEN) {
		(void)snprintf(err, errlen, "%s: field %zu is longer than %d bytes.",
		    param, idx, FIELDS_MAX_PATH_LEN);
		return -1;
	}
	if (memchr(s, '\0', len) != NULL || !util_utf8_valid(s, len)) {
		(void)snprintf(err, errlen, "%s: field %zu is not valid UTF-8 text "
		    "(or holds a NUL byte).", param, idx);
		return -1;
	}
	/* Drop the qualifier only when a name follows it ("value" alone stays). */
	if (len > QUALIFIER_LEN && memcmp(s, QUALIFIER, QUALIFIER_LEN) == 0 &&
	    s[QUALIFIER_LEN] == '.')
		start = QUALIFIER_LEN + 1;
	p->n = 0;
	for (size_t i = start; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (i == start) {
			path_error(err, errlen, param, idx, s, len, "has an empty name "
			    "(a leading, trailing or doubled dot).");
			return -1;
		}
		if (p->n == FIELDS_MAX_DEPTH) {
			char what[64];

			(void)snprintf(what, sizeof(what), "has more than %d names.",
			    FIELDS_MAX_DEPTH);
			path_error(err, errlen, param, idx, s, len, what);
			return -1;
		}
		p->name[p->n] = s + start;
		p->len[p->n] = i - start;
		p->n++;
		start = i + 1;
	}
	return 0;
}

/*
 * Compiles one list (len bytes at s, the value of param) into a new trie in
 * *root. Returns FIELDS_OK, or FIELDS_BAD / FIELDS_NOMEM with err filled.
 */
static enum fields_rc
list_compile(const char *param, const char *s, size_t len, struct fnode **root,
    char *err, size_t errlen)
{
	struct path p;
	size_t start = 0, idx = 0;

	*root = NULL;
	if (len == 0) {
		(void)snprintf(err, errlen, "%s is empty: it must name at least one "
		    "field.", param);
		return FIELDS_BAD;
	}
	if ((*root = node_new("", 0)) == NULL)
		goto nomem;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != ',')
			continue;
		if (++idx > FIELDS_MAX_PATHS) {
			(void)snprintf(err, errlen, "%s names more than %d fields.",
			    param, FIELDS_MAX_PATHS);
			goto bad;
		}
		if (path_parse(param, idx, s + start, i - start, &p, err, errlen) == -1)
			goto bad;
		if (trie_add(*root, &p) == -1)
			goto nomem;
		start = i + 1;
	}
	return FIELDS_OK;
nomem:
	(void)snprintf(err, errlen, "Out of memory while reading %s.", param);
	node_free(*root);
	*root = NULL;
	return FIELDS_NOMEM;
bad:
	node_free(*root);
	*root = NULL;
	return FIELDS_BAD;
}

enum fields_rc
fields_compile(const char *with, size_t with_len, const char *without,
    size_t without_len, struct fields_filter **out, char *err, size_t errlen)
{
	struct fields_filter *f;
	enum fields_rc rc = FIELDS_OK;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		(void)snprintf(err, errlen, "Out of memory while reading the field lists.");
		return FIELDS_NOMEM;
	}
	if (with != NULL)
		rc = list_compile("with_fields", with, with_len, &f->with, err, errlen);
	if (rc == FIELDS_OK && without != NULL)
		rc = list_compile("without_fields", without, without_len, &f->without,
		    err, errlen);
	if (rc != FIELDS_OK) {
		fields_free(f);
		return rc;
	}
	*out = f;
	return FIELDS_OK;
}

bool
fields_is_empty(const struct fields_filter *f)
{
	return f == NULL || (f->with == NULL && f->without == NULL);
}

void
fields_free(struct fields_filter *f)
{
	if (f == NULL)
		return;
	node_free(f->with);
	node_free(f->without);
	free(f);
}

/* ---- applying ------------------------------------------------------------ */

/*
 * Results of walk(): KEPT with a new reference in *out (NULL is JSON null),
 * ABSENT when with_fields keeps nothing of the value (whatever
 * without_fields would then remove), or NOMEM.
 */
enum walk_rc {
	WALK_KEPT,
	WALK_ABSENT,
	WALK_NOMEM
};

static enum walk_rc walk(struct json_object *v, const struct fnode *w,
    const struct fnode *x, struct json_object **out);

/*
 * True when with_fields at node w (not a leaf) keeps something of v: what
 * decides whether a parent is kept when without_fields then removes the
 * member whole. Stops at the first member kept.
 */
static bool
selects(struct json_object *v, const struct fnode *w)
{
	switch (json_object_get_type(v)) {
	case json_type_object: {
		json_object_object_foreach(v, key, member) {
			const struct fnode *wk = kid_find(w, key);

			if (wk != NULL && (wk->leaf || selects(member, wk)))
				return true;
		}
		return false;
	}
	case json_type_array: {
		size_t n = json_object_array_length(v);

		for (size_t i = 0; i < n; i++)
			if (selects(json_object_array_get_idx(v, i), w))
				return true;
		return false;
	}
	default:
		return false;
	}
}

/* A deep copy of v (which may be JSON null) in *out. */
static enum walk_rc
copy(struct json_object *v, struct json_object **out)
{
	*out = NULL;
	if (v == NULL)
		return WALK_KEPT;
	if (json_object_deep_copy(v, out, NULL) != 0) {
		json_object_put(*out);
		*out = NULL;
		return WALK_NOMEM;
	}
	return WALK_KEPT;
}

/*
 * walk() for an object: each member with the children of w and x it meets.
 * Whether the object is kept depends on with_fields alone ("kept"), so that
 * a member without_fields removes still keeps its parent, as it would if the
 * two lists were applied one after the other.
 */
static enum walk_rc
walk_object(struct json_object *v, const struct fnode *w, const struct fnode *x,
    struct json_object **out)
{
	struct json_object *o = json_object_new_object(), *r;
	bool kept = false;

	if (o == NULL)
		return WALK_NOMEM;
	json_object_object_foreach(v, key, member) {
		const struct fnode *wk = NULL, *xk = NULL;

		if (w != NULL) {
			if ((wk = kid_find(w, key)) == NULL)
				continue;	/* not selected */
			if (wk->leaf)
				wk = NULL;	/* selected whole */
		}
		if (x != NULL && (xk = kid_find(x, key)) != NULL && xk->leaf) {
			/* Removed whole, after with_fields perhaps kept it. */
			if (wk == NULL || selects(member, wk))
				kept = true;
			continue;
		}
		switch (walk(member, wk, xk, &r)) {
		case WALK_ABSENT:
			continue;
		case WALK_NOMEM:
			goto nomem;
		case WALK_KEPT:
			break;
		}
		kept = true;
		if (json_object_object_add(o, key, r) != 0) {
			json_object_put(r);
			goto nomem;
		}
	}
	if (w != NULL && !kept) {
		json_object_put(o);
		return WALK_ABSENT;
	}
	*out = o;
	return WALK_KEPT;
nomem:
	json_object_put(o);
	return WALK_NOMEM;
}

/* walk() for an array: the same w and x apply to every element. */
static enum walk_rc
walk_array(struct json_object *v, const struct fnode *w, const struct fnode *x,
    struct json_object **out)
{
	size_t n = json_object_array_length(v);
	struct json_object *a = json_object_new_array(), *r;

	if (a == NULL)
		return WALK_NOMEM;
	for (size_t i = 0; i < n; i++) {
		switch (walk(json_object_array_get_idx(v, i), w, x, &r)) {
		case WALK_ABSENT:
			continue;
		case WALK_NOMEM:
			goto nomem;
		case WALK_KEPT:
			break;
		}
		if (json_object_array_add(a, r) != 0) {
			json_object_put(r);
			goto nomem;
		}
	}
	if (w != NULL && json_object_array_length(a) == 0) {
		json_object_put(a);
		return WALK_ABSENT;
	}
	*out = a;
	return WALK_KEPT;
nomem:
	json_object_put(a);
	return WALK_NOMEM;
}

/*
 * Filters v. w is the with_fields node v sits at (NULL: v is selected
 * whole), x the without_fields node (NULL: nothing below v is removed);
 * neither is a leaf. Recursion follows v, so its depth is v's nesting depth,
 * which the JSON parser bounded.
 */
static enum walk_rc
walk(struct json_object *v, const struct fnode *w, const struct fnode *x,
    struct json_object **out)
{
	*out = NULL;
	if (w == NULL && x == NULL)
		return copy(v, out);
	switch (json_object_get_type(v)) {
	case json_type_object:
		return walk_object(v, w, x, out);
	case json_type_array:
		return walk_array(v, w, x, out);
	default:
		/* A scalar has no members: a path into it selects nothing. */
		return w != NULL ? WALK_ABSENT : copy(v, out);
	}
}

enum fields_rc
fields_apply(const struct fields_filter *f, struct json_object *in,
    struct json_object **out)
{
	const struct fnode *w = f != NULL ? f->with : NULL;
	const struct fnode *x = f != NULL ? f->without : NULL;

	switch (walk(in, w, x, out)) {
	case WALK_KEPT:
		return FIELDS_OK;
	case WALK_NOMEM:
		return FIELDS_NOMEM;
	case WALK_ABSENT:
		break;
	}
	/* with_fields kept nothing: an empty value of the input's kind. */
	switch (json_object_get_type(in)) {
	case json_type_object:
		*out = json_object_new_object();
		break;
	case json_type_array:
		*out = json_object_new_array();
		break;
	default:
		*out = NULL;
		return FIELDS_OK;
	}
	return *out != NULL ? FIELDS_OK : FIELDS_NOMEM;
}
