/*
 * lucene: the search query parser (lucene.h). A hand-written recursive
 * descent over the query bytes that follows Lucene 4.x's QueryParser.jj
 * token for token (docs/api.md "Search" lists every construct), plus
 * Orchestrate's backtick exact values and geo NEAR/IN clauses.
 *
 * The lexer has no state of its own: the parser asks for the next token in
 * the context it is in (default, range, boost), as JavaCC's lexical states
 * do, and may ask again for the same token (peek), which costs a rescan of
 * one token. Recursion happens only at '(' and stops at LUCENE_MAX_DEPTH;
 * every node and string lives in the caller's arena.
 *
 * Choices where Lucene or Orchestrate leave it open (docs/api.md): default
 * operator OR; leading wildcards allowed; `*`, `*:*` match everything and
 * `*:` names the default field; `/regexp/` is refused; `[1 5]` without TO
 * is accepted; a backtick ends a term and starts an exact value, in which
 * '\' escapes any character; a NEAR radius without a unit is in km; a
 * phrase slop above MAX_SLOP counts as MAX_SLOP; nested boosts multiply.
 */
#include "lucene.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "mem.h"
#include "util.h"

#define MAX_SLOP 10000    /* phrase slop cap (Lucene: Integer.MAX_VALUE) */
#define SHOWN_TOKEN 24    /* bytes of a token quoted in a message */

enum tok_kind {
	T_EOF,
	T_AND,       /* AND, && */
	T_OR,        /* OR, || */
	T_NOT,       /* NOT, ! */
	T_PLUS,
	T_MINUS,
	T_BAREOPER,  /* + - ! followed by whitespace: a one-character term */
	T_LPAREN,
	T_RPAREN,
	T_COLON,
	T_CARAT,
	T_QUOTED,    /* "..." */
	T_EXACT,     /* `...` */
	T_TERM,
	T_STAR,      /* * alone */
	T_PREFIX,    /* a term with one unescaped trailing * */
	T_WILD,      /* any other term with unescaped * or ? */
	T_FUZZY,     /* ~ with an optional number */
	T_RANGE_IN,  /* [ */
	T_RANGE_EX,  /* { */
	T_STRAY      /* ] } : seen where no token may start with them */
};

struct tok {
	enum tok_kind kind;
	size_t start, end;  /* byte offsets in the query */
};

enum { CONJ_NONE, CONJ_AND, CONJ_OR };
enum { MOD_NONE, MOD_REQ, MOD_NOT };

struct parser {
	struct arena *a;
	const char *q;
	size_t len;
	size_t pos;         /* the next byte the lexer reads */
	size_t nleaves;
	char *err;
	size_t errlen;
	bool failed;
};

struct clause_list {
	struct lucene_clause *v;
	size_t n, cap;
};

/* ---- errors and positions ---------------------------------------------- */

/* The 1-based character (code point) position of byte offset off. */
static size_t
charpos(const struct parser *p, size_t off)
{
	size_t n = 1;

	for (size_t i = 0; i < off && i < p->len; i++)
		if (((unsigned char)p->q[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Records the first error only; always returns -1. */
static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = true;
	if (p->errlen == 0)
		return -1;
	va_start(ap, fmt);
	(void)vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	util_utf8_trim(p->err);
	return -1;
}

/* The length of the (valid) UTF-8 sequence at s, at most avail. */
static size_t
seq_len(const char *s, size_t avail)
{
	unsigned char c = (unsigned char)s[0];
	size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

	return n < avail ? n : avail;
}

/* Copies at most SHOWN_TOKEN bytes of a token, whole characters, for a message. */
static const char *
shown(const struct parser *p, const struct tok *t, char *out, size_t outlen)
{
	size_t i = t->start, o = 0;

	while (i < t->end) {
		size_t n = seq_len(p->q + i, t->end - i);

		if (o + n + 4 > outlen || o + n > SHOWN_TOKEN) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, p->q + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

static int
fail_unexpected(struct parser *p, const struct tok *t)
{
	char s[SHOWN_TOKEN + 8];

	if (t->kind == T_EOF)
		return fail(p, "unexpected end of the query at character %zu", charpos(p, t->start));
	return fail(p, "unexpected '%s' at character %zu", shown(p, t, s, sizeof(s)),
	    charpos(p, t->start));
}

/* ---- the lexer ----------------------------------------------------------- */

/* The width of the whitespace at byte i (space, tab, CR, LF, U+3000), or 0. */
static size_t
ws_at(const struct parser *p, size_t i)
{
	const unsigned char *u = (const unsigned char *)p->q;

	if (i >= p->len)
		return 0;
	if (u[i] == ' ' || u[i] == '\t' || u[i] == '\r' || u[i] == '\n')
		return 1;
	if (u[i] == 0xe3 && i + 2 < p->len && u[i + 1] == 0x80 && u[i + 2] == 0x80)
		return 3;
	return 0;
}

static size_t
skip_ws_from(const struct parser *p, size_t i)
{
	size_t w;

	while ((w = ws_at(p, i)) > 0)
		i += w;
	return i;
}

/* Characters that end a term (and cannot start one unescaped). */
static bool
term_stop(char c)
{
	return strchr("+-!():^[]\"{}~*?\\/`", c) != NULL;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Scans a "..." or `...` token from i (at the opening quote) to after its close. */
static int
lex_quoted(struct parser *p, size_t i, char quote, struct tok *t)
{
	size_t start = i++;

	while (i < p->len && p->q[i] != quote) {
		if (p->q[i] == '\\')
			i++;
		if (i < p->len)
			i += seq_len(p->q + i, p->len - i);
	}
	if (i >= p->len)
		return fail(p, quote == '"' ? "unterminated phrase starting at character %zu" :
		    "unterminated exact value (`) starting at character %zu", charpos(p, start));
	t->kind = quote == '"' ? T_QUOTED : T_EXACT;
	t->end = i + 1;
	return 0;
}

/* Scans a term from t->start; classifies it (operator, term, star, prefix, wild). */
static int
lex_term(struct parser *p, struct tok *t)
{
	size_t i = t->start, nwild = 0;
	bool last_star = false;

	while (i < p->len && ws_at(p, i) == 0) {
		char c = p->q[i];

		if (c != '*' && c != '?' && term_stop(c) && c != '\\' &&
		    !(i > t->start && (c == '+' || c == '-')))
			break;
		last_star = false;
		if (c == '\\') {
			if (i + 1 >= p->len)
				return fail(p, "a '\\' at character %zu escapes nothing (the query "
				    "ends)", charpos(p, i));
			i += 1 + seq_len(p->q + i + 1, p->len - i - 1);
			continue;
		}
		if (c == '*' || c == '?') {
			nwild++;
			last_star = c == '*';
			i++;
			continue;
		}
		i += seq_len(p->q + i, p->len - i);
	}
	t->end = i;
	if (i - t->start == 1 && p->q[t->start] == '*')
		t->kind = T_STAR;
	else if (nwild == 1 && last_star)
		t->kind = T_PREFIX;
	else if (nwild > 0)
		t->kind = T_WILD;
	else
		t->kind = T_TERM;
	if (t->kind == T_TERM) {
		const char *s = p->q + t->start;
		size_t n = i - t->start;

		if ((n == 3 && memcmp(s, "AND", 3) == 0) || (n == 2 && memcmp(s, "&&", 2) == 0))
			t->kind = T_AND;
		else if ((n == 2 && memcmp(s, "OR", 2) == 0) || (n == 2 && memcmp(s, "||", 2) == 0))
			t->kind = T_OR;
		else if (n == 3 && memcmp(s, "NOT", 3) == 0)
			t->kind = T_NOT;
	}
	return 0;
}

/* Reads the default-state token at p->pos (after whitespace) without consuming it. */
static int
peek(struct parser *p, struct tok *t)
{
	size_t i = skip_ws_from(p, p->pos);
	char c;

	t->start = i;
	t->end = i + 1;
	if (i >= p->len) {
		t->kind = T_EOF;
		t->end = i;
		return 0;
	}
	c = p->q[i];
	switch (c) {
	case '(': t->kind = T_LPAREN; return 0;
	case ')': t->kind = T_RPAREN; return 0;
	case ':': t->kind = T_COLON; return 0;
	case '^': t->kind = T_CARAT; return 0;
	case '[': t->kind = T_RANGE_IN; return 0;
	case '{': t->kind = T_RANGE_EX; return 0;
	case ']': case '}': t->kind = T_STRAY; return 0;
	case '"': case '`': return lex_quoted(p, i, c, t);
	case '/':
		return fail(p, "regular expressions are not supported ('/' at character %zu; "
		    "write \\/ for a slash)", charpos(p, i));
	case '~':
		i++;
		if (i < p->len && is_digit(p->q[i])) {
			while (i < p->len && is_digit(p->q[i]))
				i++;
			if (i + 1 < p->len && p->q[i] == '.' && is_digit(p->q[i + 1]))
				for (i++; i < p->len && is_digit(p->q[i]); i++)
					;
		}
		t->kind = T_FUZZY;
		t->end = i;
		return 0;
	case '+': case '-': case '!':
		if (ws_at(p, i + 1) > 0) {
			t->kind = T_BAREOPER;
			return 0;
		}
		t->kind = c == '+' ? T_PLUS : c == '-' ? T_MINUS : T_NOT;
		return 0;
	default:
		return lex_term(p, t);
	}
}

static void
consume(struct parser *p, const struct tok *t)
{
	p->pos = t->end;
}

/* ---- unescaping ----------------------------------------------------------- */

static int
hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int k = 0; k < 4; k++) {
		char c = s[k];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			return -1;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

static size_t
put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes a \u escape (\u and four hex digits, e.g. \u00e9) at s + i
 * (s[i] is the '\'), within [.., end); a high surrogate must be
 * followed by a \u low surrogate. Sets *cp and *used.
 */
static int
decode_u(struct parser *p, size_t i, size_t end, uint32_t *cp, size_t *used)
{
	uint32_t lo;

	if (end - i < 6)
		return fail(p, "truncated \\u escape at character %zu", charpos(p, i));
	if (hex4(p->q + i + 2, cp) < 0)
		return fail(p, "a \\u escape at character %zu has a non-hex digit",
		    charpos(p, i));
	*used = 6;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return fail(p, "a \\u escape at character %zu is a lone low surrogate",
		    charpos(p, i));
	if (*cp >= 0xd800 && *cp <= 0xdbff) {
		if (end - i < 12 || p->q[i + 6] != '\\' || p->q[i + 7] != 'u' ||
		    hex4(p->q + i + 8, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return fail(p, "a \\u escape at character %zu is a high surrogate "
			    "without its low half", charpos(p, i));
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
		*used = 12;
	}
	if (*cp == 0)
		return fail(p, "\\u0000 at character %zu: NUL is not allowed", charpos(p, i));
	return 0;
}

/*
 * Unescapes q[start, end) into a NUL-terminated arena string: "\c" is c,
 * "\u" with four hex digits a code point. With wild, the result is a
 * wildcard pattern: unescaped * and ? stay wildcards and a literal *, ? or \ gets a '\'.
 */
static int
unescape(struct parser *p, size_t start, size_t end, bool wild, char **out, size_t *outlen)
{
	char *o = mem_alloc(p->a, end - start + 1);
	size_t i = start, n = 0;

	if (o == NULL)
		return fail(p, "out of memory");
	while (i < end) {
		const char *s = p->q + i;
		size_t len;

		if (*s != '\\') {
			len = seq_len(s, end - i);
			memcpy(o + n, s, len);
			n += len;
			i += len;
			continue;
		}
		if (i + 1 >= end)
			return fail(p, "a '\\' at character %zu escapes nothing", charpos(p, i));
		if (s[1] == 'u') {
			uint32_t cp;

			if (decode_u(p, i, end, &cp, &len) < 0)
				return -1;
			i += len;
			if (wild && (cp == '*' || cp == '?' || cp == '\\'))
				o[n++] = '\\';
			n += put_utf8(o + n, cp);
			continue;
		}
		len = seq_len(s + 1, end - i - 1);
		if (wild && (s[1] == '*' || s[1] == '?' || s[1] == '\\'))
			o[n++] = '\\';
		memcpy(o + n, s + 1, len);
		n += len;
		i += 1 + len;
	}
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
}

/* ---- nodes ------------------------------------------------------------------ */

static struct lucene_node *
node_new(struct parser *p, enum lucene_kind kind, const char *field, size_t at)
{
	struct lucene_node *n;

	if (kind != LQ_BOOL && ++p->nleaves > LUCENE_MAX_CLAUSES) {
		fail(p, "more than %d clauses (the clause at character %zu is one too many)",
		    LUCENE_MAX_CLAUSES, charpos(p, at));
		return NULL;
	}
	n = mem_alloc(p->a, sizeof(*n));
	if (n == NULL) {
		fail(p, "out of memory");
		return NULL;
	}
	n->kind = kind;
	n->field = field;
	n->boost = 1.0;
	return n;
}

static int
list_add(struct parser *p, struct clause_list *cl, enum lucene_occur occur,
    struct lucene_node *node)
{
	if (cl->n == cl->cap) {
		size_t cap = cl->cap == 0 ? 4 : cl->cap * 2;
		struct lucene_clause *v = mem_alloc(p->a, cap * sizeof(*v));

		if (v == NULL)
			return fail(p, "out of memory");
		if (cl->n > 0)
			memcpy(v, cl->v, cl->n * sizeof(*v));
		cl->v = v;
		cl->cap = cap;
	}
	cl->v[cl->n].occur = occur;
	cl->v[cl->n].node = node;
	cl->n++;
	return 0;
}

/* Lucene 4's QueryParserBase.addClause with the default operator OR. */
static int
add_clause(struct parser *p, struct clause_list *cl, int conj, int mods,
    struct lucene_node *node)
{
	enum lucene_occur occur;

	if (cl->n > 0 && conj == CONJ_AND && cl->v[cl->n - 1].occur != LO_MUST_NOT)
		cl->v[cl->n - 1].occur = LO_MUST;
	if (mods == MOD_NOT)
		occur = LO_MUST_NOT;
	else if (mods == MOD_REQ || conj == CONJ_AND)
		occur = LO_MUST;
	else
		occur = LO_SHOULD;
	return list_add(p, cl, occur, node);
}

/* ---- numbers ------------------------------------------------------------------ */

/* strtod over q[start, end) (already checked to be a number). */
static double
number_at(struct parser *p, size_t start, size_t end, int *rc)
{
	char *s = mem_strndup(p->a, p->q + start, end - start);

	if (s == NULL) {
		*rc = fail(p, "out of memory");
		return 0;
	}
	*rc = 0;
	return strtod(s, NULL);
}

/* The length of a decimal number [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)? at s, or 0. */
static size_t
decimal_len(const char *s, size_t len)
{
	size_t i = 0, digits = 0;

	if (i < len && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < len && is_digit(s[i]))
		i++, digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && is_digit(s[i]); i++)
			digits++;
	if (digits == 0)
		return 0;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1, ed = 0;

		if (j < len && (s[j] == '+' || s[j] == '-'))
			j++;
		while (j < len && is_digit(s[j]))
			j++, ed++;
		if (ed > 0)
			i = j;
	}
	return i;
}

/* ^N after a term or group: N is \d+(\.\d+)? as Lucene's Boost state reads it. */
static int
parse_boost(struct parser *p, double *boost)
{
	struct tok t;
	size_t i, start, carat;
	int rc;

	if (peek(p, &t) < 0)
		return -1;
	if (t.kind != T_CARAT)
		return 0;
	carat = t.start;
	start = i = skip_ws_from(p, t.end);
	while (i < p->len && is_digit(p->q[i]))
		i++;
	if (i > start && i + 1 < p->len && p->q[i] == '.' && is_digit(p->q[i + 1]))
		for (i++; i < p->len && is_digit(p->q[i]); i++)
			;
	if (i == start)
		return fail(p, "'^' at character %zu needs a number (a boost such as ^2)",
		    charpos(p, carat));
	*boost = number_at(p, start, i, &rc);
	if (rc < 0)
		return -1;
	if (!isfinite(*boost))
		return fail(p, "the boost at character %zu is too large", charpos(p, carat));
	p->pos = i;
	return 0;
}

/* Multiplies a group's boost into the node the group stands for. */
static int
apply_boost(struct parser *p, struct lucene_node *n, double b, size_t at)
{
	double v = n->boost * b;

	if (!isfinite(v))
		return fail(p, "the boost at character %zu is too large", charpos(p, at));
	n->boost = v;
	return 0;
}

/* The code points of a UTF-8 string. */
static size_t
code_points(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Lucene 4's handleBareFuzzy and FuzzyQuery.floatToEdits (lucene.h). */
static int
fuzzy_edits(struct parser *p, const struct tok *f, size_t cps, int *edits)
{
	double d;
	float x;
	int rc;

	if (f->end - f->start == 1) {
		*edits = 2;
		return 0;
	}
	d = number_at(p, f->start + 1, f->end, &rc);
	if (rc < 0)
		return -1;
	/* Lucene reads a Java float; past float's range C's conversion is undefined */
	x = d > 1e30 ? 1e30f : (float)d;
	if (x >= 1.0f && x != floorf(x)) {
		char s[SHOWN_TOKEN + 8];

		return fail(p, "fractional edit distance '%s' at character %zu (use ~0, ~1, ~2 "
		    "or a similarity below 1)", shown(p, f, s, sizeof(s)), charpos(p, f->start));
	}
	if (x >= 1.0f)
		*edits = x >= 2.0f ? 2 : 1;
	else if (x == 0.0f)
		*edits = 0;
	else {
		double e = floor((1.0 - (double)x) * (double)cps);

		*edits = e >= 2.0 ? 2 : (int)e;
	}
	return 0;
}

/* ---- geo clauses ------------------------------------------------------------ */

enum geo_kind { GEO_NONE, GEO_NEAR, GEO_IN };

struct unit {
	const char *name;   /* as written, lowercase */
	const char *canon;  /* lucene_node.unit */
	double metres;
};

/* orchestrate-api.md §8.3, and Elasticsearch's long names (DistanceUnit). */
static const struct unit units[] = {
	{ "km", "km", 1000.0 }, { "kilometers", "km", 1000.0 },
	{ "m", "m", 1.0 }, { "meters", "m", 1.0 },
	{ "cm", "cm", 0.01 }, { "centimeters", "cm", 0.01 },
	{ "mm", "mm", 0.001 }, { "millimeters", "mm", 0.001 },
	{ "mi", "mi", 1609.344 }, { "miles", "mi", 1609.344 },
	{ "yd", "yd", 0.9144 }, { "yards", "yd", 0.9144 },
	{ "ft", "ft", 0.3048 }, { "feet", "ft", 0.3048 },
	{ "in", "in", 0.0254 }, { "inch", "in", 0.0254 },
	{ "nmi", "nmi", 1852.0 }, { "nm", "nmi", 1852.0 }, { "nauticalmiles", "nmi", 1852.0 },
};

static bool
word_is(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && strncasecmp(s, w, len) == 0;
}

/*
 * After "field:", looks for NEAR: or IN: and then '{' (whitespace allowed
 * between); on a match sets *brace to the offset of the '{'.
 */
static enum geo_kind
geo_ahead(const struct parser *p, size_t *brace)
{
	size_t i = skip_ws_from(p, p->pos), w = i;
	enum geo_kind k;

	while (w < p->len && ((p->q[w] >= 'a' && p->q[w] <= 'z') ||
	    (p->q[w] >= 'A' && p->q[w] <= 'Z')))
		w++;
	if (word_is(p->q + i, w - i, "near"))
		k = GEO_NEAR;
	else if (word_is(p->q + i, w - i, "in"))
		k = GEO_IN;
	else
		return GEO_NONE;
	i = skip_ws_from(p, w);
	if (i >= p->len || p->q[i] != ':')
		return GEO_NONE;
	i = skip_ws_from(p, i + 1);
	if (i >= p->len || p->q[i] != '{')
		return GEO_NONE;
	*brace = i;
	return k;
}

/* The slot of a NEAR (0 lat, 1 lon, 2 radius) or IN (0 n, 1 s, 2 e, 3 w) key, or -1. */
static int
geo_key(enum geo_kind k, const char *s, size_t len)
{
	static const char *const near_keys[][5] = {
		{ "lat", "latitude", NULL },
		{ "lon", "longitude", "long", "lng", NULL },
		{ "radius", "distance", "dist", "dst", "rad" },
	};
	static const char *const in_keys[][2] = {
		{ "north", "n" }, { "south", "s" }, { "east", "e" }, { "west", "w" },
	};

	if (k == GEO_NEAR) {
		for (int slot = 0; slot < 3; slot++)
			for (int j = 0; j < 5 && near_keys[slot][j] != NULL; j++)
				if (word_is(s, len, near_keys[slot][j]))
					return slot;
		return -1;
	}
	for (int slot = 0; slot < 4; slot++)
		for (int j = 0; j < 2; j++)
			if (word_is(s, len, in_keys[slot][j]))
				return slot;
	return -1;
}

/* A NEAR radius: a number and an optional unit (km when none). */
static int
geo_radius(struct parser *p, struct lucene_node *n, size_t vs, size_t ve, const char *what)
{
	size_t nl = decimal_len(p->q + vs, ve - vs);
	const struct unit *u = NULL;
	double r;
	int rc;

	if (nl == 0)
		return fail(p, "%s at character %zu: the radius is not a number",
		    what, charpos(p, vs));
	if (nl == ve - vs)
		u = &units[0];
	for (size_t j = 0; u == NULL && j < sizeof(units) / sizeof(units[0]); j++)
		if (word_is(p->q + vs + nl, ve - vs - nl, units[j].name))
			u = &units[j];
	if (u == NULL)
		return fail(p, "%s at character %zu: unknown distance unit (use km, m, cm, mm, "
		    "mi, yd, ft, in or nmi)", what, charpos(p, vs + nl));
	r = number_at(p, vs, vs + nl, &rc);
	if (rc < 0)
		return -1;
	n->radius_m = r * u->metres;
	n->unit = u->canon;
	if (!(r > 0) || !isfinite(n->radius_m))
		return fail(p, "%s at character %zu: the radius must be a positive number",
		    what, charpos(p, vs));
	return 0;
}

/* Checks the values of a complete NEAR or IN clause. */
static int
geo_check(struct parser *p, enum geo_kind k, struct lucene_node *n, size_t at)
{
	const char *what = k == GEO_NEAR ? "NEAR" : "IN";
	size_t c = charpos(p, at);

	if (k == GEO_NEAR) {
		if (n->lat < -90 || n->lat > 90)
			return fail(p, "NEAR at character %zu: latitude %g is outside -90..90", c,
			    n->lat);
		if (n->lon < -180 || n->lon > 180)
			return fail(p, "NEAR at character %zu: longitude %g is outside -180..180",
			    c, n->lon);
		return 0;
	}
	if (n->north < -90 || n->north > 90 || n->south < -90 || n->south > 90)
		return fail(p, "%s at character %zu: north and south must be within -90..90",
		    what, c);
	if (n->east < -180 || n->east > 180 || n->west < -180 || n->west > 180)
		return fail(p, "%s at character %zu: east and west must be within -180..180",
		    what, c);
	if (n->north < n->south)
		return fail(p, "%s at character %zu: north (%g) is south of south (%g)", what, c,
		    n->north, n->south);
	return 0;
}

/* One key:value of a geo body at p->pos; stores it in n (seen: keys so far). */
static int
geo_pair(struct parser *p, enum geo_kind k, struct lucene_node *n, unsigned *seen)
{
	const char *what = k == GEO_NEAR ? "NEAR" : "IN";
	size_t ks = p->pos, ke = ks, vs, ve;
	int slot, rc;
	double v;

	while (ke < p->len && ((p->q[ke] >= 'a' && p->q[ke] <= 'z') ||
	    (p->q[ke] >= 'A' && p->q[ke] <= 'Z')))
		ke++;
	if ((slot = geo_key(k, p->q + ks, ke - ks)) < 0) {
		struct tok t = { T_TERM, ks, ke > ks ? ke : ks + seq_len(p->q + ks, p->len - ks) };
		char s[SHOWN_TOKEN + 8];

		return fail(p, "%s at character %zu: unknown key '%s' (%s)", what, charpos(p, ks),
		    shown(p, &t, s, sizeof(s)), k == GEO_NEAR ?
		    "use lat, lon and dist or their aliases" : "use north, south, east and west");
	}
	if (*seen & 1u << slot)
		return fail(p, "%s at character %zu: the key '%.*s' repeats a coordinate", what,
		    charpos(p, ks), (int)(ke - ks), p->q + ks);
	*seen |= 1u << slot;
	vs = skip_ws_from(p, ke);
	if (vs >= p->len || p->q[vs] != ':')
		return fail(p, "%s at character %zu: '%.*s' needs ':' and a value", what,
		    charpos(p, ks), (int)(ke - ks), p->q + ks);
	vs = skip_ws_from(p, vs + 1);
	for (ve = vs; ve < p->len && ws_at(p, ve) == 0 && !strchr(",{}", p->q[ve]); ve++)
		;
	p->pos = ve;
	if (k == GEO_NEAR && slot == 2)
		return geo_radius(p, n, vs, ve, what);
	if (ve == vs || decimal_len(p->q + vs, ve - vs) != ve - vs)
		return fail(p, "%s at character %zu: the value of '%.*s' is not a number", what,
		    charpos(p, vs), (int)(ke - ks), p->q + ks);
	v = number_at(p, vs, ve, &rc);
	if (rc < 0)
		return -1;
	if (k == GEO_NEAR)
		*(slot == 0 ? &n->lat : &n->lon) = v;
	else
		*(slot == 0 ? &n->north : slot == 1 ? &n->south : slot == 2 ? &n->east :
		    &n->west) = v;
	return 0;
}

/* field:NEAR:{...} or field:IN:{...}, p->pos before NEAR/IN, '{' at brace. */
static int
parse_geo(struct parser *p, const char *field, enum geo_kind k, size_t brace,
    size_t field_at, struct lucene_node **out)
{
	const char *what = k == GEO_NEAR ? "NEAR" : "IN";
	size_t at = skip_ws_from(p, p->pos);
	unsigned seen = 0, all = k == GEO_NEAR ? 07 : 017;
	struct lucene_node *n;
	double boost = 1.0;

	if (field == NULL)
		return fail(p, "%s at character %zu needs a field (value.location:%s:{...})",
		    what, charpos(p, at), what);
	if ((n = node_new(p, k == GEO_NEAR ? LQ_NEAR : LQ_IN, field, field_at)) == NULL)
		return -1;
	p->pos = brace + 1;
	for (;;) {
		size_t i = p->pos;

		while (i < p->len && (ws_at(p, i) > 0 || p->q[i] == ','))
			i += p->q[i] == ',' ? 1 : ws_at(p, i);
		p->pos = i;
		if (i >= p->len)
			return fail(p, "unterminated %s clause starting at character %zu", what,
			    charpos(p, at));
		if (p->q[i] == '}')
			break;
		if (geo_pair(p, k, n, &seen) < 0)
			return -1;
	}
	p->pos++;
	if (seen != all)
		return fail(p, "%s at character %zu: %s", what, charpos(p, at), k == GEO_NEAR ?
		    "lat, lon and dist are all required" :
		    "north, south, east and west are all required");
	if (geo_check(p, k, n, at) < 0 || parse_boost(p, &boost) < 0)
		return -1;
	n->boost = boost;
	*out = n;
	return 0;
}

/* ---- ranges ---------------------------------------------------------------- */

/*
 * One range endpoint (Range state) at p->pos: "quoted", or goop up to
 * whitespace, ] or }; * alone is an open end (*out NULL), TO the keyword.
 */
static int
range_value(struct parser *p, size_t open, const char **out, bool *is_to)
{
	size_t i = skip_ws_from(p, p->pos), start = i, n;
	char *s;

	*is_to = false;
	*out = NULL;
	if (i >= p->len)
		return fail(p, "unterminated range starting at character %zu", charpos(p, open));
	if (p->q[i] == ']' || p->q[i] == '}')
		return fail(p, "the range at character %zu needs two ends ([a TO b], * for an "
		    "open end)", charpos(p, open));
	if (p->q[i] == '"') {
		struct tok t;

		if (lex_quoted(p, i, '"', &t) < 0 ||
		    unescape(p, i + 1, t.end - 1, false, &s, &n) < 0)
			return -1;
		p->pos = t.end;
		*out = s;
		return 0;
	}
	while (i < p->len && ws_at(p, i) == 0 && p->q[i] != ']' && p->q[i] != '}') {
		if (p->q[i] == '\\' && i + 1 < p->len)
			i++;
		i += seq_len(p->q + i, p->len - i);
	}
	p->pos = i;
	if (i - start == 2 && memcmp(p->q + start, "TO", 2) == 0)
		*is_to = true;
	else if (!(i - start == 1 && p->q[start] == '*')) {
		if (unescape(p, start, i, false, &s, &n) < 0)
			return -1;
		*out = s;
	}
	return 0;
}

/* [lo TO hi], {lo TO hi} or mixed; TO may be left out (Lucene 4.x). */
static int
parse_range(struct parser *p, const char *field, struct lucene_node **out)
{
	size_t open = skip_ws_from(p, p->pos), i;
	struct lucene_node *n;
	bool is_to;

	if ((n = node_new(p, LQ_RANGE, field, open)) == NULL)
		return -1;
	n->lo_incl = p->q[open] == '[';
	p->pos = open + 1;
	if (range_value(p, open, &n->lo, &is_to) < 0)
		return -1;
	if (is_to)
		return fail(p, "the range at character %zu has no lower end before TO (use * "
		    "for an open end)", charpos(p, open));
	if (range_value(p, open, &n->hi, &is_to) < 0)
		return -1;
	if (is_to) {
		i = skip_ws_from(p, p->pos);
		if (i < p->len && (p->q[i] == ']' || p->q[i] == '}'))
			return fail(p, "the range at character %zu has no upper end after TO "
			    "(use * for an open end)", charpos(p, open));
		if (range_value(p, open, &n->hi, &is_to) < 0)
			return -1;
		if (is_to)
			return fail(p, "TO repeats in the range at character %zu",
			    charpos(p, open));
	}
	i = skip_ws_from(p, p->pos);
	if (i >= p->len)
		return fail(p, "unterminated range starting at character %zu", charpos(p, open));
	if (p->q[i] != ']' && p->q[i] != '}')
		return fail(p, "the range at character %zu has more than two ends (at character "
		    "%zu; a value with spaces needs quotes)", charpos(p, open), charpos(p, i));
	n->hi_incl = p->q[i] == ']';
	p->pos = i + 1;
	if (parse_boost(p, &n->boost) < 0)
		return -1;
	*out = n;
	return 0;
}

/* ---- terms, clauses, queries ------------------------------------------------ */

static bool
starts_clause(enum tok_kind k)
{
	switch (k) {
	case T_TERM: case T_STAR: case T_PREFIX: case T_WILD: case T_BAREOPER:
	case T_QUOTED: case T_EXACT: case T_RANGE_IN: case T_RANGE_EX: case T_LPAREN:
		return true;
	default:
		return false;
	}
}

/* An optional ~N after a term or phrase; *has says whether there was one. */
static int
opt_fuzzy(struct parser *p, struct tok *f, bool *has)
{
	struct tok t;

	if (peek(p, &t) < 0)
		return -1;
	if (t.kind == T_FUZZY) {
		*f = t;
		*has = true;
		consume(p, &t);
	}
	return 0;
}

/* A word (term, *, prefix, wildcard, bare operator) with its ~ and ^. */
static int
parse_word(struct parser *p, const char *field, const struct tok *t, struct lucene_node **out)
{
	struct tok f = { T_FUZZY, 0, 0 };
	bool fuzzy = false;
	struct lucene_node *n;
	enum lucene_kind kind;
	double boost = 1.0;
	char *text = NULL;
	size_t len = 0;

	consume(p, t);
	if (opt_fuzzy(p, &f, &fuzzy) < 0 || parse_boost(p, &boost) < 0 ||
	    opt_fuzzy(p, &f, &fuzzy) < 0)
		return -1;
	switch (t->kind) {
	case T_STAR:
		kind = LQ_ALL;
		break;
	case T_PREFIX:
		kind = LQ_PREFIX;
		if (unescape(p, t->start, t->end - 1, false, &text, &len) < 0)
			return -1;
		break;
	case T_WILD:
		kind = LQ_WILDCARD;
		if (unescape(p, t->start, t->end, true, &text, &len) < 0)
			return -1;
		break;
	default:  /* T_TERM, T_BAREOPER */
		kind = fuzzy ? LQ_FUZZY : LQ_TERM;
		if (unescape(p, t->start, t->kind == T_BAREOPER ? t->start + 1 : t->end, false,
		    &text, &len) < 0)
			return -1;
		break;
	}
	if ((n = node_new(p, kind, field, t->start)) == NULL)
		return -1;
	n->text = text;
	n->len = len;
	n->boost = boost;
	if (kind == LQ_FUZZY && fuzzy_edits(p, &f, code_points(text, len), &n->edits) < 0)
		return -1;
	*out = n;
	return 0;
}

/* "phrase"~N^B or `exact`^B. */
static int
parse_quoted(struct parser *p, const char *field, const struct tok *t, struct lucene_node **out)
{
	struct tok f = { T_FUZZY, 0, 0 };
	bool slop = false;
	struct lucene_node *n;
	int rc;

	consume(p, t);
	if ((n = node_new(p, t->kind == T_QUOTED ? LQ_PHRASE : LQ_EXACT, field, t->start)) ==
	    NULL)
		return -1;
	if (unescape(p, t->start + 1, t->end - 1, false, (char **)&n->text, &n->len) < 0)
		return -1;
	if (t->kind == T_QUOTED && opt_fuzzy(p, &f, &slop) < 0)
		return -1;
	if (slop && f.end - f.start > 1) {
		double s = number_at(p, f.start + 1, f.end, &rc);

		if (rc < 0)
			return -1;
		n->slop = s >= MAX_SLOP ? MAX_SLOP : (int)s;
	}
	if (parse_boost(p, &n->boost) < 0)
		return -1;
	*out = n;
	return 0;
}

static int parse_query(struct parser *p, const char *field, int depth,
    struct lucene_node **out);

/* ( Query ) ^B, the '(' at t. */
static int
parse_group(struct parser *p, const char *field, int depth, const struct tok *t,
    struct lucene_node **out)
{
	struct tok c;
	double boost = 1.0;

	if (depth >= LUCENE_MAX_DEPTH)
		return fail(p, "groups nested deeper than %d at character %zu", LUCENE_MAX_DEPTH,
		    charpos(p, t->start));
	consume(p, t);
	if (peek(p, &c) < 0)
		return -1;
	if (c.kind == T_RPAREN)
		return fail(p, "empty group '()' at character %zu", charpos(p, t->start));
	if (parse_query(p, field, depth + 1, out) < 0 || peek(p, &c) < 0)
		return -1;
	if (c.kind == T_EOF)
		return fail(p, "unclosed '(' at character %zu", charpos(p, t->start));
	if (c.kind != T_RPAREN)
		return fail_unexpected(p, &c);
	consume(p, &c);
	if (parse_boost(p, &boost) < 0)
		return -1;
	return apply_boost(p, *out, boost, c.end);
}

/* [field :] (term | group | geo). */
static int
parse_clause(struct parser *p, const char *field, int depth, struct lucene_node **out)
{
	struct tok t, c;
	enum geo_kind geo;
	size_t brace, field_at;

	if (peek(p, &t) < 0)
		return -1;
	field_at = t.start;
	if (t.kind == T_TERM && (geo = geo_ahead(p, &brace)) != GEO_NONE)
		return parse_geo(p, NULL, geo, brace, field_at, out);
	if ((t.kind == T_TERM || t.kind == T_STAR) && skip_ws_from(p, t.end) < p->len &&
	    p->q[skip_ws_from(p, t.end)] == ':') {
		char *f = NULL;
		size_t flen;

		if (t.kind == T_TERM && unescape(p, t.start, t.end, false, &f, &flen) < 0)
			return -1;
		field = f;
		p->pos = skip_ws_from(p, t.end) + 1;
		if ((geo = geo_ahead(p, &brace)) != GEO_NONE)
			return parse_geo(p, field, geo, brace, field_at, out);
		if (peek(p, &c) < 0)
			return -1;
		if (!starts_clause(c.kind)) {
			char s[SHOWN_TOKEN + 8];

			if (c.kind == T_EOF || c.kind == T_RPAREN)
				return fail(p, "the field '%s' at character %zu has no clause after it",
				    shown(p, &t, s, sizeof(s)), charpos(p, t.start));
			return fail_unexpected(p, &c);
		}
		t = c;
	}
	switch (t.kind) {
	case T_LPAREN:
		return parse_group(p, field, depth, &t, out);
	case T_QUOTED: case T_EXACT:
		return parse_quoted(p, field, &t, out);
	case T_RANGE_IN: case T_RANGE_EX:
		return parse_range(p, field, out);
	default:
		return parse_word(p, field, &t, out);
	}
}

/* The message for an operator that a clause should follow. */
static int
fail_dangling(struct parser *p, const struct tok *op, const char *where)
{
	char s[SHOWN_TOKEN + 8];

	return fail(p, "'%s' at character %zu has no clause %s it", shown(p, op, s, sizeof(s)),
	    charpos(p, op->start), where);
}

/* Query := Modifiers Clause (Conjunction Modifiers Clause)*. */
static int
parse_query(struct parser *p, const char *field, int depth, struct lucene_node **out)
{
	struct clause_list cl = { NULL, 0, 0 };
	struct lucene_node *q, *n;
	bool first_plain = false;

	for (;;) {
		struct tok t, conj_t = { T_EOF, 0, 0 }, mod_t = { T_EOF, 0, 0 };
		int conj = CONJ_NONE, mods = MOD_NONE;

		if (peek(p, &t) < 0)
			return -1;
		if (cl.n > 0 && (t.kind == T_EOF || t.kind == T_RPAREN))
			break;
		if (t.kind == T_AND || t.kind == T_OR) {
			if (cl.n == 0)
				return fail_dangling(p, &t, "before");
			conj = t.kind == T_AND ? CONJ_AND : CONJ_OR;
			conj_t = t;
			consume(p, &t);
			if (peek(p, &t) < 0)
				return -1;
		}
		if (t.kind == T_PLUS || t.kind == T_MINUS || t.kind == T_NOT) {
			mods = t.kind == T_PLUS ? MOD_REQ : MOD_NOT;
			mod_t = t;
			consume(p, &t);
			if (peek(p, &t) < 0)
				return -1;
		}
		if (!starts_clause(t.kind)) {
			bool end = t.kind == T_EOF || t.kind == T_RPAREN || t.kind == T_AND ||
			    t.kind == T_OR;

			if (mods != MOD_NONE && end)
				return fail_dangling(p, &mod_t, "after");
			if (conj != CONJ_NONE && end)
				return fail_dangling(p, &conj_t, "after");
			return fail_unexpected(p, &t);
		}
		if (parse_clause(p, field, depth, &q) < 0)
			return -1;
		if (cl.n == 0)
			first_plain = mods == MOD_NONE;
		if (add_clause(p, &cl, conj, mods, q) < 0)
			return -1;
	}
	if (cl.n == 1 && first_plain) {
		*out = cl.v[0].node;
		return 0;
	}
	if ((n = node_new(p, LQ_BOOL, NULL, 0)) == NULL)
		return -1;
	n->clauses = cl.v;
	n->nclauses = cl.n;
	*out = n;
	return 0;
}

/* The offset of the first byte that is not valid UTF-8 or is NUL, or len. */
static size_t
first_bad_byte(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n = s[i] == '\0' ? 0 : util_utf8_char(s + i, len - i);

		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

int
lucene_parse(struct arena *a, const char *query, size_t len, struct lucene_node **out,
    char *err, size_t errlen)
{
	struct parser p = { a, query, len, 0, 0, err, errlen, false };
	struct tok t;
	size_t bad;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (len > LUCENE_MAX_QUERY)
		return fail(&p, "the query is longer than %d bytes", LUCENE_MAX_QUERY);
	if ((bad = first_bad_byte(query, len)) < len) {
		p.len = bad;  /* charpos counts only the valid part */
		return fail(&p, query[bad] == '\0' ? "a NUL character at character %zu" :
		    "invalid UTF-8 at character %zu", charpos(&p, bad));
	}
	if (skip_ws_from(&p, 0) == len)
		return fail(&p, "the query is empty");
	if (parse_query(&p, NULL, 0, out) < 0 || peek(&p, &t) < 0) {
		*out = NULL;
		return -1;
	}
	if (t.kind != T_EOF) {
		*out = NULL;
		return fail_unexpected(&p, &t);
	}
	return 0;
}

/* ---- the dump ------------------------------------------------------------------ */

/*
 * Appends v >= 0 as a plain decimal (no exponent: the boost grammar has
 * none) with the fewest digits that read back as exactly v.
 */
static int
dump_plain(struct buf *b, double v)
{
	char e[40], digits[24];
	int prec, exp, nd = 0;

	for (prec = 0; prec < 17; prec++) {
		if (snprintf(e, sizeof(e), "%.*e", prec, v) < 0)
			return -1;
		if (strtod(e, NULL) == v)
			break;
	}
	for (const char *s = e; *s != 'e'; s++)
		if (is_digit(*s))
			digits[nd++] = *s;
	exp = atoi(strchr(e, 'e') + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	/* digits d0 d1 ... with the point after d0, times 10^exp */
	if (exp < 0) {
		if (buf_adds(b, "0.") < 0)
			return -1;
		for (int k = 0; k < -exp - 1; k++)
			if (buf_addc(b, '0') < 0)
				return -1;
		return buf_add(b, digits, (size_t)nd);
	}
	for (int k = 0; k <= exp; k++)
		if (buf_addc(b, k < nd ? digits[k] : '0') < 0)
			return -1;
	if (nd > exp + 1 && (buf_addc(b, '.') < 0 ||
	    buf_add(b, digits + exp + 1, (size_t)(nd - exp - 1)) < 0))
		return -1;
	return 0;
}

/*
 * The shortest %g text of v that reads back as v, without an exponent when
 * some precision gives one (10, not 1e+01), into s (40 bytes).
 */
static void
format_g(double v, char *s)
{
	char t[40];
	int prec;

	for (prec = 1; prec < 17; prec++) {
		(void)snprintf(s, 40, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	if (prec == 17)
		(void)snprintf(s, 40, "%.17g", v);
	for (int k = prec + 1; strchr(s, 'e') != NULL && k <= 17; k++) {
		(void)snprintf(t, sizeof(t), "%.*g", k, v);
		if (strchr(t, 'e') == NULL && strtod(t, NULL) == v) {
			memcpy(s, t, sizeof(t));
			break;
		}
	}
}

static int
dump_g(struct buf *b, double v)
{
	char s[40];

	format_g(v, s);
	return buf_adds(b, s);
}

/* Text as a term would spell it: every special character escaped. */
static int
dump_escaped(struct buf *b, const char *s, size_t len)
{
	if ((len == 3 && (memcmp(s, "AND", 3) == 0 || memcmp(s, "NOT", 3) == 0)) ||
	    (len == 2 && memcmp(s, "OR", 2) == 0))
		if (buf_addc(b, '\\') < 0)
			return -1;
	for (size_t i = 0; i < len;) {
		size_t n = seq_len(s + i, len - i);
		bool esc = n == 1 ? strchr(" \t\r\n+-!():^[]\"{}~*?\\/`&|", s[i]) != NULL :
		    n == 3 && memcmp(s + i, "\xe3\x80\x80", 3) == 0;

		if ((esc && buf_addc(b, '\\') < 0) || buf_add(b, s + i, n) < 0)
			return -1;
		i += n;
	}
	return 0;
}

/* A wildcard pattern: * ? and \x stay, every other special is escaped. */
static int
dump_pattern(struct buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = seq_len(s + i, len - i);

		if (s[i] == '\\' && i + 1 < len) {
			n = 1 + seq_len(s + i + 1, len - i - 1);
			if (buf_add(b, s + i, n) < 0)
				return -1;
		} else if (s[i] == '*' || s[i] == '?') {
			if (buf_addc(b, s[i]) < 0)
				return -1;
		} else if (dump_escaped(b, s + i, n) < 0) {
			return -1;
		}
		i += n;
	}
	return 0;
}

/* q text q with q and \ escaped ("phrase", `exact`, range ends). */
static int
dump_quoted(struct buf *b, char q, const char *s, size_t len)
{
	if (buf_addc(b, q) < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (((s[i] == q || s[i] == '\\') && buf_addc(b, '\\') < 0) ||
		    buf_addc(b, s[i]) < 0)
			return -1;
	return buf_addc(b, q);
}

/*
 * The radius in its unit, as a number that parses back to the same metres:
 * the parser computed radius_m = r * metres rounded once, so r is within a
 * few ulps of radius_m / metres. Of those that multiply back exactly, the
 * one with the shortest text is printed (3in, not 2.9999999999999996in);
 * the choice depends on radius_m alone, so the dump of its parse is the same.
 */
static int
dump_radius(struct buf *b, const struct lucene_node *n)
{
	double f = 1000.0, c, up, down;
	char best[40], s[40];

	for (size_t j = 0; j < sizeof(units) / sizeof(units[0]); j++)
		if (n->unit != NULL && strcmp(units[j].canon, n->unit) == 0) {
			f = units[j].metres;
			break;
		}
	c = up = down = n->radius_m / f;
	format_g(c, best);
	for (int k = 0; k < 8; k++) {
		double v = k % 2 == 0 ? (up = nextafter(up, INFINITY)) :
		    (down = nextafter(down, 0.0));

		if (v * f != n->radius_m)
			continue;
		format_g(v, s);
		if (strlen(s) < strlen(best) || c * f != n->radius_m) {
			memcpy(best, s, sizeof(s));
			c = v;
		}
	}
	if (buf_adds(b, best) < 0)
		return -1;
	return buf_adds(b, n->unit != NULL ? n->unit : "km");
}

static int dump_node(const struct lucene_node *n, struct buf *b, int depth);

static int
dump_bool(const struct lucene_node *n, struct buf *b, int depth)
{
	bool parens = depth > 0 || n->boost != 1.0;

	if (parens && buf_addc(b, '(') < 0)
		return -1;
	for (size_t i = 0; i < n->nclauses; i++) {
		const struct lucene_clause *c = &n->clauses[i];

		if ((i > 0 && buf_addc(b, ' ') < 0) ||
		    (c->occur == LO_MUST && buf_addc(b, '+') < 0) ||
		    (c->occur == LO_MUST_NOT && buf_addc(b, '-') < 0) ||
		    dump_node(c->node, b, depth + 1) < 0)
			return -1;
	}
	if (parens && buf_addc(b, ')') < 0)
		return -1;
	return 0;
}

static int
dump_geo(const struct lucene_node *n, struct buf *b)
{
	if (n->kind == LQ_NEAR)
		return buf_adds(b, "NEAR:{lat:") < 0 || dump_g(b, n->lat) < 0 ||
		    buf_adds(b, " lon:") < 0 || dump_g(b, n->lon) < 0 ||
		    buf_adds(b, " dist:") < 0 || dump_radius(b, n) < 0 ||
		    buf_addc(b, '}') < 0 ? -1 : 0;
	return buf_adds(b, "IN:{north:") < 0 || dump_g(b, n->north) < 0 ||
	    buf_adds(b, " south:") < 0 || dump_g(b, n->south) < 0 ||
	    buf_adds(b, " east:") < 0 || dump_g(b, n->east) < 0 ||
	    buf_adds(b, " west:") < 0 || dump_g(b, n->west) < 0 ||
	    buf_addc(b, '}') < 0 ? -1 : 0;
}

static int
dump_leaf(const struct lucene_node *n, struct buf *b)
{
	const char *t = n->text != NULL ? n->text : "";

	switch (n->kind) {
	case LQ_ALL:
		return buf_addc(b, '*');
	case LQ_TERM:
		return dump_escaped(b, t, n->len);
	case LQ_PHRASE:
		if (dump_quoted(b, '"', t, n->len) < 0)
			return -1;
		return n->slop != 0 ? buf_printf(b, "~%d", n->slop) : 0;
	case LQ_EXACT:
		return dump_quoted(b, '`', t, n->len);
	case LQ_WILDCARD:
		return dump_pattern(b, t, n->len);
	case LQ_PREFIX:
		return dump_escaped(b, t, n->len) < 0 ? -1 : buf_addc(b, '*');
	case LQ_FUZZY:
		return dump_escaped(b, t, n->len) < 0 ? -1 : buf_printf(b, "~%d", n->edits);
	case LQ_RANGE:
		return buf_addc(b, n->lo_incl ? '[' : '{') < 0 ||
		    (n->lo == NULL ? buf_addc(b, '*') : dump_quoted(b, '"', n->lo,
		    strlen(n->lo))) < 0 || buf_adds(b, " TO ") < 0 ||
		    (n->hi == NULL ? buf_addc(b, '*') : dump_quoted(b, '"', n->hi,
		    strlen(n->hi))) < 0 || buf_addc(b, n->hi_incl ? ']' : '}') < 0 ? -1 : 0;
	case LQ_NEAR: case LQ_IN:
		return dump_geo(n, b);
	default:
		return -1;
	}
}

static int
dump_node(const struct lucene_node *n, struct buf *b, int depth)
{
	if (n == NULL || depth > 2 * LUCENE_MAX_DEPTH + 2)
		return -1;
	if (n->kind == LQ_BOOL) {
		if (dump_bool(n, b, depth) < 0)
			return -1;
	} else {
		/* a field NEAR or IN before '{' would read as a geo clause: escape it */
		if (n->field != NULL && ((strcasecmp(n->field, "near") == 0 ||
		    strcasecmp(n->field, "in") == 0) && buf_addc(b, '\\') < 0))
			return -1;
		if (n->field != NULL && (dump_escaped(b, n->field, strlen(n->field)) < 0 ||
		    buf_addc(b, ':') < 0))
			return -1;
		if (dump_leaf(n, b) < 0)
			return -1;
	}
	if (n->boost != 1.0 && (buf_addc(b, '^') < 0 || dump_plain(b, n->boost) < 0))
		return -1;
	return 0;
}

int
lucene_dump(const struct lucene_node *n, struct buf *out)
{
	return dump_node(n, out, 0);
}
