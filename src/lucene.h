/*
 * lucene: the parser of the search query language (docs/api.md "Search
 * query language"): Lucene classic syntax as Lucene 4.x's QueryParser
 * reads it, plus Orchestrate's additions (backtick exact values, geo NEAR
 * and IN clauses, `value.` and `@path.` field names). It turns a query
 * string into a tree of typed nodes allocated in an arena and knows nothing
 * of the index: search_xapian.cc turns the tree into a Xapian query.
 *
 * Every byte of the query is hostile: the parser is bounded (LUCENE_MAX_*),
 * never recurses deeper than LUCENE_MAX_DEPTH, and answers a malformed
 * query with -1 and a message that names the 1-based character position.
 */
#ifndef ORCHID_LUCENE_H
#define ORCHID_LUCENE_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

#define LUCENE_MAX_QUERY 8192   /* bytes of query text */
#define LUCENE_MAX_DEPTH 32     /* nesting of ( ) groups */
#define LUCENE_MAX_CLAUSES 1024 /* leaf clauses in one query */

enum lucene_kind {
	LQ_ALL,       /* "*", "*:*" or "@path.kind:*"-style match of everything
	               * (field NULL), or "field:*": the field exists */
	LQ_TERM,      /* an unquoted word: analysed (tokenised, stemmed) */
	LQ_PHRASE,    /* "quoted words" with slop (0 = exact phrase) */
	LQ_EXACT,     /* `backtick value`: exact, untokenised match */
	LQ_WILDCARD,  /* a term with ? or * (not only a trailing *) */
	LQ_PREFIX,    /* a term with one trailing *: text is the prefix */
	LQ_FUZZY,     /* term~N: text within edits (0..2) edits */
	LQ_RANGE,     /* [lo TO hi], {lo TO hi}, mixed; NULL end: open (*) */
	LQ_NEAR,      /* field:NEAR:{lat: lon: dist:} */
	LQ_IN,        /* field:IN:{north: south: east: west:} */
	LQ_BOOL       /* clauses combined by their occur flags */
};

enum lucene_occur {
	LO_SHOULD = 0, /* no operator, OR */
	LO_MUST,       /* +, AND */
	LO_MUST_NOT    /* -, !, NOT */
};

struct lucene_node;

struct lucene_clause {
	enum lucene_occur occur;
	struct lucene_node *node;
};

struct lucene_node {
	enum lucene_kind kind;
	/*
	 * The field as written, NUL-terminated, after unescaping (e.g.
	 * "value.name", "name", "@path.kind"); NULL for the default field (every
	 * text field of the value). A field name binds to the single clause
	 * after it; a field before a group applies to every leaf of the group
	 * (the parser copies it into each leaf, so LQ_BOOL has field NULL).
	 */
	const char *field;
	/*
	 * LQ_TERM, LQ_PHRASE, LQ_EXACT, LQ_FUZZY: the text after unescaping
	 * (\u escapes of four hex digits decoded to UTF-8), NUL-terminated, not lowercased.
	 * LQ_PREFIX: the text before the '*'. LQ_WILDCARD: the pattern, with
	 * unescaped '*' and '?' as wildcards and every literal '*', '?' or '\'
	 * written as '\' followed by it.
	 */
	const char *text;
	size_t len;
	double boost;   /* ^N; 1.0 when none */
	int slop;       /* LQ_PHRASE: ~N, 0 when none */
	int edits;      /* LQ_FUZZY: 0, 1 or 2, by Lucene 4's rules: ~ alone 2,
	                 * ~N (integer) min(N, 2), ~x (0 < x < 1) min(floor((1 - x)
	                 * * code points of text), 2) with x a float; ~1.5 and a
	                 * negative N are malformed */
	/* LQ_RANGE. NULL: an open end (an unquoted *). */
	const char *lo, *hi;
	bool lo_incl, hi_incl;
	/* LQ_NEAR: the centre in degrees and the radius in metres; unit is the
	 * unit the radius was written in ("km", "m", "mi", ...: the canonical
	 * short name), which results' "distance" is reported in. */
	double lat, lon, radius_m;
	const char *unit;
	/* LQ_IN: the box in degrees. west > east crosses the antimeridian. */
	double north, south, east, west;
	/* LQ_BOOL */
	struct lucene_clause *clauses;
	size_t nclauses;
};

/*
 * Parses query (len bytes, need not be NUL-terminated) into *out, every
 * node in arena a. Returns 0, or -1 with a message in err such as
 * "unexpected ')' at character 7" or "unterminated phrase starting at
 * character 3" (the handler answers 400 search_query_malformed with it).
 * An empty or all-whitespace query is malformed.
 *
 * Combination follows Lucene 4's QueryParserBase.addClause with default
 * operator OR: `a AND b OR c` is +a +b c, `a OR b AND c` is a +b +c. A
 * query of only prohibited clauses (-a, NOT a) matches every document but
 * those (Elasticsearch's rule), so it parses to LQ_BOOL with only
 * LO_MUST_NOT clauses and the index adds the match-all. A group or query
 * of one clause without a modifier is returned as that clause itself
 * (boost multiplied in).
 */
int lucene_parse(struct arena *a, const char *query, size_t len, struct lucene_node **out,
    char *err, size_t errlen);

/* Writes a canonical, fully bracketed text of the tree (tests, logs). */
struct buf;
int lucene_dump(const struct lucene_node *n, struct buf *out);

#endif
