/*
 * check_lucene: unit tests for src/lucene.c (the search query parser) and
 * src/search_spec.c (the sort= and aggregate= parsers).
 *
 * Table-driven. A good query is checked by its dump (lucene_dump: +MUST,
 * -MUST_NOT, bare SHOULD, every leaf with its field, nested groups in
 * parentheses), and the dump must parse again to the same dump. A bad query
 * is checked by a fragment of its message, which names the 1-based
 * character. The rows follow shared/reference/search-xapian-lucene.md: the
 * addClause table of §7.2 and the edge cases of §7.5 (numbered as there),
 * then the geo aliases and units of orchestrate-api.md §8.3. Node fields the
 * dump does not show directly (metres, unit names, edits of ~0.8) have
 * their own tables.
 */
/* strdup is POSIX; the build may not define _GNU_SOURCE. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lucene.h"
#include "mem.h"
#include "search.h"

#define NROWS(a)	((int)(sizeof(a) / sizeof((a)[0])))

struct row {
	const char	*q;
	size_t		 len;
	const char	*want;	/* the dump, or for a bad query a fragment of err */
};

#define Q(s, want)	{ (s), sizeof(s) - 1, (want) }

/*
 * Parses q; on success writes its dump into *dump (malloc'ed) and checks
 * that the dump parses to the same dump. Returns the parse's rc; err holds
 * the message.
 */
static int
parse_dump(const char *q, size_t len, char **dump, char *err, size_t errlen)
{
	struct arena *a = mem_new();
	struct lucene_node *n = NULL, *n2 = NULL;
	struct buf b, b2;
	char err2[256];
	int rc;

	ck_assert(a != NULL);
	buf_init(&b, 0);
	buf_init(&b2, 0);
	*dump = NULL;
	rc = lucene_parse(a, q, len, &n, err, errlen);
	if (rc == 0) {
		ck_assert_msg(n != NULL, "\"%s\": rc 0 and no tree", q);
		ck_assert_msg(lucene_dump(n, &b) == 0 && !b.b_failed, "\"%s\": dump failed", q);
		ck_assert_msg(lucene_parse(a, b.b_data, b.b_len, &n2, err2, sizeof(err2)) == 0,
		    "\"%s\": its dump \"%s\" does not parse: %s", q, b.b_data, err2);
		ck_assert(lucene_dump(n2, &b2) == 0);
		ck_assert_msg(strcmp(b.b_data, b2.b_data) == 0,
		    "\"%s\": dump \"%s\", its parse dumps \"%s\"", q, b.b_data, b2.b_data);
		*dump = strdup(b.b_data);
		ck_assert(*dump != NULL);
	} else {
		ck_assert_msg(n == NULL, "\"%s\": rc %d with a tree", q, rc);
	}
	buf_free(&b2);
	buf_free(&b);
	mem_free(a);
	return rc;
}

static void
check_good(const struct row *r)
{
	char err[256] = "", *dump;

	ck_assert_msg(parse_dump(r->q, r->len, &dump, err, sizeof(err)) == 0,
	    "\"%s\": got error \"%s\", want \"%s\"", r->q, err, r->want);
	ck_assert_msg(strcmp(dump, r->want) == 0, "\"%s\": got \"%s\", want \"%s\"", r->q,
	    dump, r->want);
	free(dump);
}

static void
check_bad(const struct row *r)
{
	char err[256] = "", *dump = NULL;
	int rc = parse_dump(r->q, r->len, &dump, err, sizeof(err));

	ck_assert_msg(rc == -1, "\"%s\": got \"%s\", want an error with \"%s\"", r->q,
	    dump != NULL ? dump : "?", r->want);
	ck_assert_msg(strstr(err, r->want) != NULL, "\"%s\": got error \"%s\", want \"%s\"",
	    r->q, err, r->want);
}

/* ---- §7.2: how AND, OR, NOT, + and - combine (Lucene 4 addClause, OR default) */

static const struct row combine_rows[] = {
	Q("a b", "a b"),
	Q("a AND b OR c", "+a +b c"),
	Q("a OR b AND c", "a +b +c"),
	Q("a OR NOT b", "a -b"),
	Q("NOT a AND b", "-a +b"),
	Q("+a b", "+a b"),
	Q("-a", "-a"),
	Q("NOT a", "-a"),
	Q("-a -b", "-a -b"),
	Q("title:Do it right", "title:Do it right"),
	Q("title:(+return +\"pink panther\")", "+title:return +title:\"pink panther\""),
	/* AND never makes a prohibited clause required, nor a NOT clause */
	Q("-a AND b", "-a +b"),
	Q("a AND -b", "+a -b"),
	Q("a AND NOT b", "+a -b"),
	Q("a AND b AND c", "+a +b +c"),
	Q("a OR b OR c", "a b c"),
	Q("a AND b c", "+a +b c"),
	Q("a b AND c", "a +b +c"),
	Q("+a OR b", "+a b"),
	Q("a -b AND c", "a -b +c"),
	/* one clause without a modifier is the clause itself */
	Q("a", "a"),
	Q("+a", "+a"),
	Q("(a)", "a"),
	Q("(+a)", "+a"),
	Q("x (+a)", "x (+a)"),
	Q("a (b c) -(d e)", "a (b c) -(d e)"),
};

START_TEST(test_combine)
{
	check_good(&combine_rows[_i]);
}
END_TEST

/* ---- §7.5: the conformance list, good queries ---------------------------- */

static const struct row good_rows[] = {
	/* 1. operators */
	Q("a b", "a b"),
	Q("a AND b", "+a +b"),
	Q("a && b", "+a +b"),
	Q("a OR b", "a b"),
	Q("a || b", "a b"),
	Q("a NOT b", "a -b"),
	Q("a !b", "a -b"),
	Q("a -b", "a -b"),
	Q("+a b", "+a b"),
	Q("+a -b c", "+a -b c"),
	/* 2. no precedence; groups */
	Q("a OR b AND c", "a +b +c"),
	Q("a AND b OR c", "+a +b c"),
	Q("a OR NOT b", "a -b"),
	Q("NOT a AND b", "-a +b"),
	Q("(a OR b) AND c", "+(a b) +c"),
	Q("((a))", "a"),
	Q("((a b))", "a b"),
	Q("a ((b c))", "a (b c)"),
	/* 3. pure negatives: a BOOL of MUST_NOT only (the index adds match-all) */
	Q("-a", "-a"),
	Q("NOT a", "-a"),
	Q("!a", "-a"),
	Q("-a -b", "-a -b"),
	/* 4. lower-case operators are terms; && and || only alone */
	Q("a and b", "a and b"),
	Q("a or b", "a or b"),
	Q("not a", "not a"),
	Q("ANDY ORB NOTE", "ANDY ORB NOTE"),
	Q("a&&b", "a\\&\\&b"),
	Q("a &&b", "a \\&\\&b"),
	Q("a TO b", "a TO b"),
	/* a bare + - ! followed by space is a one-character term */
	Q("a + b", "a \\+ b"),
	Q("a - b", "a \\- b"),
	Q("a ! b", "a \\! b"),
	/* 5. fields */
	Q("value.name:steve", "value.name:steve"),
	Q("name:steve", "name:steve"),
	Q("value.name: steve", "value.name:steve"),
	Q("value.name : steve", "value.name:steve"),
	Q("title:Do it right", "title:Do it right"),
	Q("f:(a b)", "f:a f:b"),
	Q("f:(+a -b)", "+f:a -f:b"),
	Q("f:\"a b\"", "f:\"a b\""),
	Q("no.such.field:x", "no.such.field:x"),
	Q("@path.kind:(item event)", "@path.kind:item @path.kind:event"),
	Q("@path.kind:*", "@path.kind:*"),
	Q("f:(a g:b (c))", "f:a g:b f:c"),
	Q("*:foo", "foo"),
	Q("a-b", "a\\-b"),
	Q("a+b", "a\\+b"),
	/* 6. phrases */
	Q("\"a b\"", "\"a b\""),
	Q("\"a b\"~0", "\"a b\""),
	Q("\"a b\"~1", "\"a b\"~1"),
	Q("\"a b\"~2", "\"a b\"~2"),
	Q("\"a b c\"~4", "\"a b c\"~4"),
	Q("\"a b\"~1.7", "\"a b\"~1"),
	Q("\"a b\"~", "\"a b\""),
	Q("\"a b\"~99999", "\"a b\"~10000"),
	Q("\"a \\\"b\\\"\"", "\"a \\\"b\\\"\""),
	Q("\"\"", "\"\""),
	Q("\"a (b) c:d\"", "\"a (b) c:d\""),
	/* 7. boosts */
	Q("a^2 b", "a^2 b"),
	Q("a^0.5", "a^0.5"),
	Q("a^0", "a^0"),
	Q("a^1", "a"),
	Q("a^ 2", "a^2"),
	Q("\"a b\"^3", "\"a b\"^3"),
	Q("\"a b\"~2^3", "\"a b\"~2^3"),
	Q("(a b)^2", "(a b)^2"),
	Q("(a)^2", "a^2"),
	Q("(a^3)^2", "a^6"),
	Q("((a b)^2)^0.5", "a b"),
	Q("a~^2", "a~2^2"),
	Q("a^2~", "a~2^2"),
	Q("a^2~1", "a~1^2"),
	Q("[1 TO 2]^4", "[\"1\" TO \"2\"]^4"),
	Q("f:`x`^2", "f:`x`^2"),
	Q("*^3", "*^3"),
	Q("a^2.5.3", "a^2.5 .3"),
	Q("a^123456789012345678901234567890", "a^123456789012345680000000000000"),
	Q("a^0.000001", "a^0.000001"),
	/* 8. fuzzy */
	Q("roam~", "roam~2"),
	Q("roam~0", "roam~0"),
	Q("roam~1", "roam~1"),
	Q("roam~2", "roam~2"),
	Q("roam~3", "roam~2"),
	Q("roam~2.0", "roam~2"),
	Q("roam~0.8", "roam~0"),
	Q("roamin~0.8", "roamin~1"),
	Q("roamingroamin~0.8", "roamingroamin~2"),
	Q("roam~0.5", "roam~2"),
	Q("héllo~0.8", "héllo~0"),
	Q("héllos~0.8", "héllos~1"),
	Q("roam~-1", "roam~2 -1"),
	Q("roam~1.", "roam~1 ."),
	Q("f:roam~1", "f:roam~1"),
	Q("te*t~2", "te*t"),
	Q("test*~", "test*"),
	/* 9. wildcards */
	Q("te?t", "te?t"),
	Q("te*t", "te*t"),
	Q("test*", "test*"),
	Q("*test", "*test"),
	Q("?est", "?est"),
	Q("*", "*"),
	Q("*:*", "*"),
	Q("f:*", "f:*"),
	Q("**", "**"),
	Q("test**", "test**"),
	Q("a*b*", "a*b*"),
	Q("te\\*t", "te\\*t"),
	Q("te\\*", "te\\*"),
	Q("te\\**", "te\\**"),
	Q("te\\?t*", "te\\?t*"),
	Q("t\\u002At?", "t\\*t?"),
	Q("\"te*t\"", "\"te*t\""),
	Q("a*-b", "a*\\-b"),
	/* a trailing * stays a prefix before a character that ends the term (fuzz) */
	Q("AND*!a", "\\AND* -a"),
	Q("te*(x)", "te* x"),
	Q("te*\"x\"", "te* \"x\""),
	Q("te?^2", "te?^2"),
	/* 10. ranges (TO optional in 4.x; * unquoted is open; ends unanalysed) */
	Q("[1 TO 5]", "[\"1\" TO \"5\"]"),
	Q("{1 TO 5}", "{\"1\" TO \"5\"}"),
	Q("[1 TO 5}", "[\"1\" TO \"5\"}"),
	Q("{1 TO 5]", "{\"1\" TO \"5\"]"),
	Q("[* TO 5]", "[* TO \"5\"]"),
	Q("[5 TO *]", "[\"5\" TO *]"),
	Q("[* TO *]", "[* TO *]"),
	Q("[\"*\" TO 5]", "[\"*\" TO \"5\"]"),
	Q("[\"a b\" TO c]", "[\"a b\" TO \"c\"]"),
	Q("[1 5]", "[\"1\" TO \"5\"]"),
	Q("f:[9 TO 10]", "f:[\"9\" TO \"10\"]"),
	Q("employees: [101 TO *]", "employees:[\"101\" TO *]"),
	Q("[ 1   TO   5 ]", "[\"1\" TO \"5\"]"),
	Q("[a\\]b TO c]", "[\"a]b\" TO \"c\"]"),
	Q("[2014-01-01 TO 2014-12-31T23:59:59Z]",
	    "[\"2014-01-01\" TO \"2014-12-31T23:59:59Z\"]"),
	Q("[\"\" TO a]", "[\"\" TO \"a\"]"),
	Q("[to TO TOO]", "[\"to\" TO \"TOO\"]"),
	/* 11. escapes */
	Q("\\(1\\+1\\)\\:2", "\\(1\\+1\\)\\:2"),
	Q("a\\:b", "a\\:b"),
	Q("\\\\", "\\\\"),
	Q("\\u0041", "A"),
	Q("\\u00e9t\\u00E9", "\xc3\xa9t\xc3\xa9"),
	Q("\\uD83D\\uDE00", "\xf0\x9f\x98\x80"),
	Q("a\\ b", "a\\ b"),
	Q("\\AND", "\\AND"),
	Q("\\-a", "\\-a"),
	Q("\\/", "\\/"),
	Q("a\\`b", "a\\`b"),
	Q("f\\:g:x", "f\\:g:x"),
	Q("\\u3000", "\\\xe3\x80\x80"),
	/* whitespace: space, tab, CR, LF, U+3000 */
	Q("a\tb\r\nc\xe3\x80\x80" "d", "a b c d"),
	Q("  a  ", "a"),
	/* 13. backticks and geo (more in geo_rows) */
	Q("state:`NY`", "state:`NY`"),
	Q("state: `New York`", "state:`New York`"),
	Q("`a b` c", "`a b` c"),
	Q("`a\\`b\\\\`", "`a\\`b\\\\`"),
	Q("``", "``"),
	Q("ab`c d`", "ab `c d`"),
	Q("@path.collection:(`a` `b c`)", "@path.collection:`a` @path.collection:`b c`"),
	Q("value.loc:NEAR:{lat:1 lon:2 dist:5km}", "value.loc:NEAR:{lat:1 lon:2 dist:5km}"),
	Q("value.loc:IN:{north:10 south:-10 east:-170 west:170}",
	    "value.loc:IN:{north:10 south:-10 east:-170 west:170}"),
	/* 14. kinds (the parser only keeps the field) */
	Q("@path.kind:event AND steve", "+@path.kind:event +steve"),
	Q("@path.type:activities AND steve", "+@path.type:activities +steve"),
	Q("@path.kind:(item event) AND (New York)",
	    "+(@path.kind:item @path.kind:event) +(New York)"),
	/* text kept as written: case, UTF-8 */
	Q("Straße ÉTÉ 東京", "Straße ÉTÉ 東京"),
};

START_TEST(test_good)
{
	check_good(&good_rows[_i]);
}
END_TEST

/* ---- §7.5 and ours: malformed queries --------------------------------------- */

static const struct row bad_rows[] = {
	/* 4. operators where no clause is */
	Q("AND a", "'AND' at character 1 has no clause before it"),
	Q("OR a", "'OR' at character 1 has no clause before it"),
	Q("a AND", "'AND' at character 3 has no clause after it"),
	Q("a OR", "'OR' at character 3 has no clause after it"),
	Q("a NOT", "'NOT' at character 3 has no clause after it"),
	Q("a +", "'+' at character 3 has no clause after it"),
	Q("a AND OR b", "'AND' at character 3 has no clause after it"),
	Q("(a AND)", "'AND' at character 4 has no clause after it"),
	Q("(AND a)", "'AND' at character 2 has no clause before it"),
	Q("&& a", "'&&' at character 1 has no clause before it"),
	Q("NOT NOT a", "unexpected 'NOT' at character 5"),
	Q("+-a", "unexpected '-' at character 2"),
	Q("a !", "'!' at character 3 has no clause after it"),
	/* 7. boost */
	Q("a^", "'^' at character 2 needs a number"),
	Q("a^x", "'^' at character 2 needs a number"),
	Q("a^-1", "'^' at character 2 needs a number"),
	Q("a^.5", "'^' at character 2 needs a number"),
	Q("\"a b\"^3~2", "unexpected '~2' at character 8"),
	/* 8. fuzzy */
	Q("roam~1.5", "fractional edit distance '~1.5' at character 5"),
	Q("roam~2.5", "fractional edit distance '~2.5' at character 5"),
	Q("~2", "unexpected '~2' at character 1"),
	/* 9./ours: regular expressions */
	Q("/a.*b/", "regular expressions are not supported ('/' at character 1"),
	Q("a /b/", "regular expressions are not supported ('/' at character 3"),
	Q("a/b", "regular expressions are not supported ('/' at character 2"),
	/* 10. ranges */
	Q("[a TO]", "the range at character 1 has no upper end after TO"),
	Q("[TO b]", "the range at character 1 has no lower end before TO"),
	Q("[a]", "the range at character 1 needs two ends"),
	Q("[]", "the range at character 1 needs two ends"),
	Q("[a TO b c]", "the range at character 1 has more than two ends (at character 9"),
	Q("[a TO TO]", "TO repeats in the range at character 1"),
	Q("[1 TO 5", "unterminated range starting at character 1"),
	Q("x [1 TO", "unterminated range starting at character 3"),
	Q("[\"a TO b]", "unterminated phrase starting at character 2"),
	/* 11. escapes */
	Q("a\\", "a '\\' at character 2 escapes nothing"),
	Q("\\", "a '\\' at character 1 escapes nothing"),
	Q("\\u00", "truncated \\u escape at character 1"),
	Q("a \\u004", "truncated \\u escape at character 3"),
	Q("\\u00G1", "a \\u escape at character 1 has a non-hex digit"),
	Q("\\uDE00", "a \\u escape at character 1 is a lone low surrogate"),
	Q("\\uD83Dx", "a \\u escape at character 1 is a high surrogate without its low half"),
	Q("\\u0000", "\\u0000 at character 1: NUL is not allowed"),
	Q("\"a\\u00\"", "truncated \\u escape at character 3"),
	Q("`\\u00`", "truncated \\u escape at character 2"),
	Q("[\\u00 TO b]", "truncated \\u escape at character 2"),
	/* 12. malformed */
	Q("(a", "unclosed '(' at character 1"),
	Q("((a)", "unclosed '(' at character 1"),
	Q("a)", "unexpected ')' at character 2"),
	Q("a ]", "unexpected ']' at character 3"),
	Q("a }", "unexpected '}' at character 3"),
	Q(")", "unexpected ')' at character 1"),
	Q("\"a", "unterminated phrase starting at character 1"),
	Q("x \"a\\\"", "unterminated phrase starting at character 3"),
	Q("a:", "the field 'a' at character 1 has no clause after it"),
	Q("(a:)", "the field 'a' at character 2 has no clause after it"),
	Q(":a", "unexpected ':' at character 1"),
	Q("a:b:c", "unexpected ':' at character 4"),
	Q("a*:b", "unexpected ':' at character 3"),
	Q("a:+b", "unexpected '+' at character 3"),
	Q("^2", "unexpected '^' at character 1"),
	Q("()", "empty group '()' at character 1"),
	Q("a ( )", "empty group '()' at character 3"),
	Q("", "the query is empty"),
	Q("   ", "the query is empty"),
	Q("\t\r\n\xe3\x80\x80", "the query is empty"),
	/* 13. backticks */
	Q("`a", "unterminated exact value (`) starting at character 1"),
	Q("`a\\`", "unterminated exact value (`) starting at character 1"),
	Q("state:`NY`~2", "unexpected '~2' at character 11"),
	/* ours: bytes that are not text; positions count characters */
	Q("ab\xc3(", "invalid UTF-8 at character 3"),
	Q("\xe9t\xe9", "invalid UTF-8 at character 1"),
	Q("\xc3\xa9\xc3\xa9 \xff", "invalid UTF-8 at character 4"),
	Q("\xed\xa0\x80", "invalid UTF-8 at character 1"),   /* a surrogate */
	Q("\xc0\xaf", "invalid UTF-8 at character 1"),       /* overlong */
	Q("a\0b", "a NUL character at character 2"),
	Q("\xc3\xa9\xc3\xa9 )", "unexpected ')' at character 4"),
	Q("東京 AND", "'AND' at character 4 has no clause after it"),
};

START_TEST(test_bad)
{
	check_bad(&bad_rows[_i]);
}
END_TEST

/* ---- geo: every alias and unit, and the checks ------------------------------ */

static const struct row geo_rows[] = {
	Q("v:NEAR:{lat:12.3 lon:56.7 dist:100km}", "v:NEAR:{lat:12.3 lon:56.7 dist:100km}"),
	Q("v:NEAR:{latitude:12.3 longitude:56.7 radius:100km}",
	    "v:NEAR:{lat:12.3 lon:56.7 dist:100km}"),
	Q("v:NEAR:{lat:1 long:2 distance:3m}", "v:NEAR:{lat:1 lon:2 dist:3m}"),
	Q("v:NEAR:{lat:1 lng:2 dst:3cm}", "v:NEAR:{lat:1 lon:2 dist:3cm}"),
	Q("v:NEAR:{lat:1 lon:2 rad:3mm}", "v:NEAR:{lat:1 lon:2 dist:3mm}"),
	Q("v:NEAR:{dist:3mi lon:2 lat:1}", "v:NEAR:{lat:1 lon:2 dist:3mi}"),
	Q("v:NEAR:{lat:1 lon:2 dist:3yd}", "v:NEAR:{lat:1 lon:2 dist:3yd}"),
	Q("v:NEAR:{lat:1 lon:2 dist:3ft}", "v:NEAR:{lat:1 lon:2 dist:3ft}"),
	Q("v:NEAR:{lat:1 lon:2 dist:3in}", "v:NEAR:{lat:1 lon:2 dist:3in}"),
	Q("v:NEAR:{lat:1 lon:2 dist:3nmi}", "v:NEAR:{lat:1 lon:2 dist:3nmi}"),
	Q("v:NEAR:{lat:1 lon:2 dist:3}", "v:NEAR:{lat:1 lon:2 dist:3km}"),
	Q("v:NEAR:{lat:1 lon:2 dist:3KM}", "v:NEAR:{lat:1 lon:2 dist:3km}"),
	Q("v:NEAR:{lat:1 lon:2 dist:3miles}", "v:NEAR:{lat:1 lon:2 dist:3mi}"),
	Q("v:NEAR:{lat:1 lon:2 dist:3NM}", "v:NEAR:{lat:1 lon:2 dist:3nmi}"),
	Q("v:NEAR:{lat:1 lon:2 dist:0.7mi}", "v:NEAR:{lat:1 lon:2 dist:0.7mi}"),
	Q("v:NEAR:{lat:1 lon:2 dist:0.1km}", "v:NEAR:{lat:1 lon:2 dist:0.1km}"),
	Q("v:NEAR:{lat:1 lon:2 dist:1e-3in}", "v:NEAR:{lat:1 lon:2 dist:0.001in}"),
	Q("v:NEAR:{LAT:-90 Lon:180 DIST:.5km}", "v:NEAR:{lat:-90 lon:180 dist:0.5km}"),
	Q("v:near:{lat:1,lon:2,dist:3}", "v:NEAR:{lat:1 lon:2 dist:3km}"),
	Q("v : NEAR : { lat : 1  lon:2 dist: 3km }^2 AND x",
	    "+v:NEAR:{lat:1 lon:2 dist:3km}^2 +x"),
	Q("v:NEAR:{lat:1e-5 lon:-0 dist:1e3m}", "v:NEAR:{lat:1e-05 lon:-0 dist:1000m}"),
	Q("v:IN:{north:12.5 east:57 south:12 west:56}",
	    "v:IN:{north:12.5 south:12 east:57 west:56}"),
	Q("v:IN:{n:12.5 e:57 s:12 w:56}", "v:IN:{north:12.5 south:12 east:57 west:56}"),
	Q("v:in:{N:1 S:1 E:1 W:1}", "v:IN:{north:1 south:1 east:1 west:1}"),
	/* west > east crosses the antimeridian */
	Q("v:IN:{n:10 s:-10 e:-170 w:170}", "v:IN:{north:10 south:-10 east:-170 west:170}"),
	Q("-v:NEAR:{lat:1 lon:2 dist:3km} a", "-v:NEAR:{lat:1 lon:2 dist:3km} a"),
	/* NEAR not followed by :{ is a term */
	Q("v:NEAR", "v:NEAR"),
	Q("v:NEAR x:{a TO b}", "v:NEAR x:{\"a\" TO \"b\"}"),
	Q("v:IN {a TO b}", "v:IN {\"a\" TO \"b\"}"),
};

START_TEST(test_geo)
{
	check_good(&geo_rows[_i]);
}
END_TEST

static const struct row geo_bad_rows[] = {
	Q("v:NEAR:{lat:91 lon:2 dist:5km}", "NEAR at character 3: latitude 91 is outside -90..90"),
	Q("v:NEAR:{lat:-90.5 lon:2 dist:5km}", "latitude -90.5 is outside -90..90"),
	Q("v:NEAR:{lat:1 lon:180.1 dist:5km}", "longitude 180.1 is outside -180..180"),
	Q("v:NEAR:{lat:1 lon:2 dist:0km}", "NEAR at character 26: the radius must be a positive"),
	Q("v:NEAR:{lat:1 lon:2 dist:-1km}", "the radius must be a positive number"),
	Q("v:NEAR:{lat:1 lon:2 dist:1e400km}", "the radius must be a positive number"),
	Q("v:NEAR:{lat:1 lon:2 dist:5parsec}", "NEAR at character 27: unknown distance unit"),
	Q("v:NEAR:{lat:1 lon:2 dist:km}", "NEAR at character 26: the radius is not a number"),
	Q("v:NEAR:{lat:1 lon:2 dist:5 km}", "NEAR at character 28: unknown key 'km'"),
	Q("v:NEAR:{lat:1 lon:2}", "NEAR at character 3: lat, lon and dist are all required"),
	Q("v:NEAR:{}", "lat, lon and dist are all required"),
	Q("v:NEAR:{lat:1 lon:2 dist:5km", "unterminated NEAR clause starting at character 3"),
	Q("v:NEAR:{lat:1 latitude:2 dist:5km}", "NEAR at character 15: the key 'latitude' "
	    "repeats a coordinate"),
	Q("v:NEAR:{foo:1 lon:2 dist:5km}", "NEAR at character 9: unknown key 'foo'"),
	Q("v:NEAR:{north:1 lon:2 dist:5km}", "unknown key 'north'"),
	Q("v:NEAR:{lat:x lon:2 dist:5km}", "NEAR at character 13: the value of 'lat' is not"),
	Q("v:NEAR:{lat: lon:2 dist:5km}", "the value of 'lat' is not a number"),
	Q("v:NEAR:{lat:1:2 lon:2 dist:5km}", "the value of 'lat' is not a number"),
	Q("v:NEAR:{lat 1 lon:2 dist:5km}", "'lat' needs ':' and a value"),
	Q("v:NEAR:{lat:0x10 lon:2 dist:5km}", "the value of 'lat' is not a number"),
	Q("v:NEAR:{lat:nan lon:2 dist:5km}", "the value of 'lat' is not a number"),
	Q("v:NEAR:{lat:1 lon:2 dist:inf}", "the radius is not a number"),
	Q("v:NEAR:{lat:1 lon:2 dist:5km}^", "'^' at character 30 needs a number"),
	Q("v:IN:{n:1 s:2 e:1 w:1}", "IN at character 3: north (1) is south of south (2)"),
	Q("v:IN:{n:91 s:2 e:1 w:1}", "north and south must be within -90..90"),
	Q("v:IN:{n:1 s:0 e:181 w:1}", "east and west must be within -180..180"),
	Q("v:IN:{n:1 s:0 e:1}", "IN at character 3: north, south, east and west are all"),
	Q("v:IN:{n:1 s:0 e:1 w:1 lat:1}", "unknown key 'lat'"),
	Q("NEAR:{lat:1 lon:2 dist:3km}", "NEAR at character 1 needs a field"),
	Q("*:NEAR:{lat:1 lon:2 dist:3km}", "NEAR at character 3 needs a field"),
	Q("in:{n:1 s:0 e:1 w:1}", "IN at character 1 needs a field"),
};

START_TEST(test_geo_bad)
{
	check_bad(&geo_bad_rows[_i]);
}
END_TEST

/* The values a dump rounds or names: metres and the unit's canonical name. */
struct geo_value {
	const char	*q;
	double		 lat, lon, radius_m;
	const char	*unit;
};

static const struct geo_value geo_values[] = {
	{ "v:NEAR:{lat:1 lon:2 dist:2km}", 1, 2, 2000, "km" },
	{ "v:NEAR:{lat:1 lon:2 dist:2kilometers}", 1, 2, 2000, "km" },
	{ "v:NEAR:{lat:1 lon:2 dist:2}", 1, 2, 2000, "km" },
	{ "v:NEAR:{lat:1 lon:2 dist:2m}", 1, 2, 2, "m" },
	{ "v:NEAR:{lat:1 lon:2 dist:2meters}", 1, 2, 2, "m" },
	{ "v:NEAR:{lat:1 lon:2 dist:2cm}", 1, 2, 0.02, "cm" },
	{ "v:NEAR:{lat:1 lon:2 dist:2mm}", 1, 2, 0.002, "mm" },
	{ "v:NEAR:{lat:1 lon:2 dist:2mi}", 1, 2, 3218.688, "mi" },
	{ "v:NEAR:{lat:1 lon:2 dist:2yd}", 1, 2, 1.8288, "yd" },
	{ "v:NEAR:{lat:1 lon:2 dist:2ft}", 1, 2, 0.6096, "ft" },
	{ "v:NEAR:{lat:1 lon:2 dist:2feet}", 1, 2, 0.6096, "ft" },
	{ "v:NEAR:{lat:1 lon:2 dist:2in}", 1, 2, 0.0508, "in" },
	{ "v:NEAR:{lat:1 lon:2 dist:2inch}", 1, 2, 0.0508, "in" },
	{ "v:NEAR:{lat:1 lon:2 dist:2nmi}", 1, 2, 3704, "nmi" },
	{ "v:NEAR:{lat:1 lon:2 dist:2nauticalmiles}", 1, 2, 3704, "nmi" },
	{ "v:NEAR:{latitude:-33.86 longitude:151.21 radius:1.5km}", -33.86, 151.21, 1500,
	    "km" },
};

START_TEST(test_geo_values)
{
	const struct geo_value *g = &geo_values[_i];
	struct arena *a = mem_new();
	struct lucene_node *n;
	char err[256];

	ck_assert_msg(lucene_parse(a, g->q, strlen(g->q), &n, err, sizeof(err)) == 0,
	    "\"%s\": %s", g->q, err);
	ck_assert_int_eq(n->kind, LQ_NEAR);
	ck_assert_str_eq(n->field, "v");
	ck_assert_msg(n->lat == g->lat && n->lon == g->lon, "\"%s\": got %g %g", g->q,
	    n->lat, n->lon);
	ck_assert_msg(fabs(n->radius_m - g->radius_m) < 1e-9 * g->radius_m,
	    "\"%s\": got %.17g m, want %.17g", g->q, n->radius_m, g->radius_m);
	ck_assert_msg(strcmp(n->unit, g->unit) == 0, "\"%s\": got unit %s, want %s", g->q,
	    n->unit, g->unit);
	mem_free(a);
}
END_TEST

START_TEST(test_geo_box)
{
	struct arena *a = mem_new();
	struct lucene_node *n;
	char err[256];
	const char *q = "loc:IN:{north:12.5 east:57 south:-12 west:56.25}^2";

	ck_assert_msg(lucene_parse(a, q, strlen(q), &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(n->kind, LQ_IN);
	ck_assert_str_eq(n->field, "loc");
	ck_assert(n->north == 12.5 && n->south == -12 && n->east == 57 && n->west == 56.25);
	ck_assert(n->boost == 2.0);
	mem_free(a);
}
END_TEST

/* ---- node fields the dump shows only indirectly -------------------------------- */

struct shape {
	const char	*q;
	enum lucene_kind kind;
	const char	*field;   /* NULL: the default field */
	const char	*text;    /* NULL: none */
	size_t		 len;
	double		 boost;
	int		 slop, edits;
};

static const struct shape shapes[] = {
	{ "a", LQ_TERM, NULL, "a", 1, 1, 0, 0 },
	{ "F:Ab", LQ_TERM, "F", "Ab", 2, 1, 0, 0 },
	{ "value.name:\"New York\"~3^2", LQ_PHRASE, "value.name", "New York", 8, 2, 3, 0 },
	{ "state:`New York`", LQ_EXACT, "state", "New York", 8, 1, 0, 0 },
	{ "test*", LQ_PREFIX, NULL, "test", 4, 1, 0, 0 },
	{ "te\\**", LQ_PREFIX, NULL, "te*", 3, 1, 0, 0 },
	{ "te?t", LQ_WILDCARD, NULL, "te?t", 4, 1, 0, 0 },
	{ "t\\?e\\\\*\\*?", LQ_WILDCARD, NULL, "t\\?e\\\\*\\*?", 10, 1, 0, 0 },
	{ "roam~", LQ_FUZZY, NULL, "roam", 4, 1, 0, 2 },
	{ "roaming~0.8", LQ_FUZZY, NULL, "roaming", 7, 1, 0, 1 },
	{ "*", LQ_ALL, NULL, NULL, 0, 1, 0, 0 },
	{ "*:*", LQ_ALL, NULL, NULL, 0, 1, 0, 0 },
	{ "@path.kind:*", LQ_ALL, "@path.kind", NULL, 0, 1, 0, 0 },
	{ "a\\ b", LQ_TERM, NULL, "a b", 3, 1, 0, 0 },
	{ "\\u00e9", LQ_TERM, NULL, "\xc3\xa9", 2, 1, 0, 0 },
	{ "a + b", LQ_BOOL, NULL, NULL, 0, 1, 0, 0 },
	{ "((a^2)^3)^0.5", LQ_TERM, NULL, "a", 1, 3, 0, 0 },
};

START_TEST(test_shape)
{
	const struct shape *s = &shapes[_i];
	struct arena *a = mem_new();
	struct lucene_node *n;
	char err[256];

	ck_assert_msg(lucene_parse(a, s->q, strlen(s->q), &n, err, sizeof(err)) == 0,
	    "\"%s\": %s", s->q, err);
	ck_assert_msg(n->kind == s->kind, "\"%s\": kind %d, want %d", s->q, n->kind, s->kind);
	if (s->field == NULL)
		ck_assert_msg(n->field == NULL, "\"%s\": field %s, want none", s->q, n->field);
	else
		ck_assert_msg(n->field != NULL && strcmp(n->field, s->field) == 0,
		    "\"%s\": field %s, want %s", s->q, n->field ? n->field : "none", s->field);
	if (s->text != NULL)
		ck_assert_msg(n->text != NULL && n->len == s->len &&
		    memcmp(n->text, s->text, s->len) == 0 && n->text[n->len] == '\0',
		    "\"%s\": text \"%s\" (%zu), want \"%s\"", s->q, n->text ? n->text : "",
		    n->len, s->text);
	ck_assert_msg(n->boost == s->boost, "\"%s\": boost %g, want %g", s->q, n->boost,
	    s->boost);
	ck_assert_msg(n->slop == s->slop && n->edits == s->edits,
	    "\"%s\": slop %d edits %d, want %d %d", s->q, n->slop, n->edits, s->slop, s->edits);
	if (n->kind == LQ_BOOL)
		for (size_t i = 0; i < n->nclauses; i++)
			ck_assert(n->clauses[i].occur == LO_SHOULD);
	mem_free(a);
}
END_TEST

/* A range's ends and brackets. */
START_TEST(test_range_fields)
{
	struct arena *a = mem_new();
	struct lucene_node *n;
	char err[256];

	ck_assert(lucene_parse(a, "f:{* TO \"*\"]", 12, &n, err, sizeof(err)) == 0);
	ck_assert_int_eq(n->kind, LQ_RANGE);
	ck_assert(n->lo == NULL && !n->lo_incl);
	ck_assert(n->hi != NULL && strcmp(n->hi, "*") == 0 && n->hi_incl);
	ck_assert(lucene_parse(a, "[a\\ b TO \\u0041]", 16, &n, err, sizeof(err)) == 0);
	ck_assert(n->field == NULL && strcmp(n->lo, "a b") == 0 && strcmp(n->hi, "A") == 0);
	ck_assert(n->lo_incl && n->hi_incl);
	mem_free(a);
}
END_TEST

/* The query need not be NUL-terminated: only len bytes are read. */
START_TEST(test_counted)
{
	struct arena *a = mem_new();
	struct lucene_node *n;
	char err[256];
	char q[] = { 'a', 'b', ')', '(' };

	ck_assert(lucene_parse(a, q, 2, &n, err, sizeof(err)) == 0);
	ck_assert(n->kind == LQ_TERM && strcmp(n->text, "ab") == 0);
	ck_assert(lucene_parse(a, q, 3, &n, err, sizeof(err)) == -1);
	ck_assert(lucene_parse(a, "\"ab\"", 3, &n, err, sizeof(err)) == -1);
	ck_assert_msg(strstr(err, "unterminated phrase") != NULL, "%s", err);
	/* a tiny err buffer is filled, NUL-terminated, and the rc stays -1 */
	ck_assert(lucene_parse(a, ")", 1, &n, err, 5) == -1);
	ck_assert_str_eq(err, "unex");
	ck_assert(lucene_parse(a, ")", 1, &n, NULL, 0) == -1);
	mem_free(a);
}
END_TEST

/* ---- limits ------------------------------------------------------------------------ */

/* A malloc'ed string: n copies of s joined by sep, between pre and post. */
static char *
repeat(const char *pre, const char *s, const char *sep, int n, const char *post)
{
	struct buf b;

	buf_init(&b, 0);
	ck_assert(buf_adds(&b, pre) == 0);
	for (int i = 0; i < n; i++)
		ck_assert(buf_adds(&b, i > 0 ? sep : "") == 0 && buf_adds(&b, s) == 0);
	ck_assert(buf_adds(&b, post) == 0);
	return b.b_data;
}

struct limit_row {
	const char	*pre, *s, *sep;
	int		 n;
	const char	*post, *close;  /* close: repeated n times after post */
	const char	*want;          /* NULL: parses; else a fragment of the error */
};

static const struct limit_row limit_rows[] = {
	/* depth: 32 nested groups, not 33; fields go down with them */
	{ "", "(", "", LUCENE_MAX_DEPTH, "a b", ")", NULL },
	{ "", "(", "", LUCENE_MAX_DEPTH + 1, "a b", ")", "groups nested deeper than 32 at "
	    "character 33" },
	{ "x ", "f:(", "", LUCENE_MAX_DEPTH, "a", ")", NULL },
	{ "x ", "f:(", "", LUCENE_MAX_DEPTH + 1, "a", ")", "groups nested deeper than 32 at "
	    "character 101" },
	{ "", "(a ", "", 1000, "", "", "groups nested deeper than 32 at character 97" },
	{ "", "(", "", 4000, "", "", "groups nested deeper than 32 at character 33" },
	/* clauses: 1024 leaves, not 1025, however they are grouped */
	{ "", "a", " ", LUCENE_MAX_CLAUSES, "", "", NULL },
	{ "", "a", " ", LUCENE_MAX_CLAUSES + 1, "", "", "more than 1024 clauses (the clause at "
	    "character 2049" },
	{ "", "(a -b)", " ", LUCENE_MAX_CLAUSES / 2, "", "", NULL },
	{ "", "(a -b)", " ", LUCENE_MAX_CLAUSES / 2, " c", "", "more than 1024 clauses (the "
	    "clause at character 3585" },
	{ "", "f:[1 TO 2]", " ", LUCENE_MAX_CLAUSES / 2, "", "", NULL },
	{ "", "v:NEAR:{lat:1 lon:2 dist:3}", " ", LUCENE_MAX_CLAUSES / 4, "", "", NULL },
	{ "", "v:NEAR:{lat:1 lon:2 dist:3}", "", LUCENE_MAX_CLAUSES / 4, "", "", NULL },
	/* length: LUCENE_MAX_QUERY bytes, not one more */
	{ "", "a", "", LUCENE_MAX_QUERY, "", "", NULL },
	{ "", "a", "", LUCENE_MAX_QUERY + 1, "", "", "the query is longer than 8192 bytes" },
	{ "a", " ", "", LUCENE_MAX_QUERY - 1, "", "", NULL },
	{ "\"", "a", "", LUCENE_MAX_QUERY - 2, "\"", "", NULL },
	{ "\"", "a", "", LUCENE_MAX_QUERY - 1, "\"", "", "the query is longer than 8192 bytes" },
	{ "", "\\u00e9", "", LUCENE_MAX_QUERY / 6, "", "", NULL },
	{ "", "\xc3\xa9", "", LUCENE_MAX_QUERY / 2, "", "", NULL },
	{ "", "\xc3\xa9", "", LUCENE_MAX_QUERY / 2, "x", "", "the query is longer than 8192" },
	/* a nested boost product must stay finite */
	{ "((a^1", "0", "", 150, ")^1", "0", NULL },
	{ "((a^1", "0", "", 200, ")^1", "0", "the boost at character 207 is too large" },
	{ "a^1", "0", "", 308, "", "", NULL },
	{ "a^1", "0", "", 309, "", "", "the boost at character 2 is too large" },
};

/*
 * Rows whose close is "0" are boost rows: "((a^1" 0{n} ")^1" 0{n} ")": the
 * second zeros are followed by one ')' (see test_limits).
 */
START_TEST(test_limits)
{
	const struct limit_row *r = &limit_rows[_i];
	char *q, *tail, *t, err[256] = "", *dump = NULL;
	int rc;

	tail = repeat("", r->close, "", r->n, strcmp(r->close, "0") == 0 ? ")" : "");
	q = repeat(r->pre, r->s, r->sep, r->n, r->post);
	t = malloc(strlen(q) + strlen(tail) + 1);
	ck_assert(t != NULL);
	strcpy(t, q);
	strcat(t, tail);
	rc = parse_dump(t, strlen(t), &dump, err, sizeof(err));
	if (r->want == NULL)
		ck_assert_msg(rc == 0, "row %d: got \"%s\", want a parse", _i, err);
	else
		ck_assert_msg(rc == -1 && strstr(err, r->want) != NULL,
		    "row %d: got \"%s\", want \"%s\"", _i, rc == 0 ? "a parse" : err, r->want);
	free(dump);
	free(t);
	free(tail);
	free(q);
}
END_TEST

/* ---- sort= --------------------------------------------------------------------------- */

struct sort_want {
	enum search_sort_kind kind;
	const char	*field;
	bool		 desc, seeded;
	uint64_t	 seed;
};

struct sort_row {
	const char	*in;
	size_t		 n;
	struct sort_want want[3];
	const char	*err;   /* a bad row: a fragment of the message */
};

#define FNV_SEED	UINT64_C(0x2cfad118d3ecc02c)  /* FNV-1a 64 of "seed" */

static const struct sort_row sort_rows[] = {
	{ "value.price:desc,@path.key:asc,_random:42", 3, {
	    { SORT_FIELD, "value.price", true, false, 0 },
	    { SORT_PATH, "@path.key", false, false, 0 },
	    { SORT_RANDOM, NULL, false, true, 42 } }, NULL },
	/* the npm client's sortBy and sortRandom */
	{ "value.foo", 1, { { SORT_FIELD, "value.foo", false, false, 0 } }, NULL },
	{ "value.foo,value.bar:asc", 2, { { SORT_FIELD, "value.foo", false, false, 0 },
	    { SORT_FIELD, "value.bar", false, false, 0 } }, NULL },
	{ "@path.key,_random", 2, { { SORT_PATH, "@path.key", false, false, 0 },
	    { SORT_RANDOM, NULL, false, false, 0 } }, NULL },
	{ "_random:seed", 1, { { SORT_RANDOM, NULL, false, true, FNV_SEED } }, NULL },
	{ "_random:18446744073709551615", 1, { { SORT_RANDOM, NULL, false, true, UINT64_MAX } },
	    NULL },
	{ "_random:18446744073709551616", 1, { { SORT_RANDOM, NULL, false, true,
	    UINT64_C(0xedf2aa6b38fc416d) } }, NULL },
	{ "_random:a:b", 1, { { SORT_RANDOM, NULL, false, true, UINT64_C(0xe661911904a01160) } },
	    NULL },
	{ "name:desc", 1, { { SORT_FIELD, "name", true, false, 0 } }, NULL },
	{ "name:DESC", 1, { { SORT_FIELD, "name", true, false, 0 } }, NULL },
	{ "name:dsc", 1, { { SORT_FIELD, "name", true, false, 0 } }, NULL },
	{ "@path.reftime:desc", 1, { { SORT_PATH, "@path.reftime", true, false, 0 } }, NULL },
	{ "@path.kind", 1, { { SORT_PATH, "@path.kind", false, false, 0 } }, NULL },
	{ "value.loc:distance:asc", 1, { { SORT_DISTANCE, "value.loc", false, false, 0 } }, NULL },
	{ "value.loc:distance:desc", 1, { { SORT_DISTANCE, "value.loc", true, false, 0 } }, NULL },
	{ "value.loc:distance:dsc", 1, { { SORT_DISTANCE, "value.loc", true, false, 0 } }, NULL },
	{ "value.loc:distance", 1, { { SORT_DISTANCE, "value.loc", false, false, 0 } }, NULL },
	{ "value.distance:desc", 1, { { SORT_FIELD, "value.distance", true, false, 0 } }, NULL },
	{ "_score", 1, { { SORT_SCORE, NULL, true, false, 0 } }, NULL },
	{ "_score:asc", 1, { { SORT_SCORE, NULL, false, false, 0 } }, NULL },
	{ "value._random:desc", 1, { { SORT_FIELD, "value._random", true, false, 0 } }, NULL },
	{ " a:desc , b ", 2, { { SORT_FIELD, "a", true, false, 0 },
	    { SORT_FIELD, "b", false, false, 0 } }, NULL },
	/* bad */
	{ "", 0, { { 0 } }, "sort is empty" },
	{ "a,,b", 0, { { 0 } }, "sort clause 2 is empty" },
	{ "a,", 0, { { 0 } }, "sort clause 2 is empty" },
	{ "a,a,a,a,a,a,a,a,a", 0, { { 0 } }, "sort has more than 8 sort clauses" },
	{ "value.x:up", 0, { { 0 } }, "sort clause 1 (\"value.x:up\"): unknown direction \"up\"" },
	{ "a:asc,b:c:d", 0, { { 0 } }, "sort clause 2 (\"b:c:d\"): too many ':'" },
	{ "a:distance:up", 0, { { 0 } }, "unknown direction \"up\"" },
	{ "a:distance:asc:x", 0, { { 0 } }, "too many ':'" },
	{ "@path.key:distance", 0, { { 0 } }, "a distance sort needs a value field" },
	{ "@foo", 0, { { 0 } }, "a metadata field is @path.<name>" },
	{ "@path.", 0, { { 0 } }, "a metadata field is @path.<name>" },
	{ "value.", 0, { { 0 } }, "has an empty name" },
	{ "a..b:asc", 0, { { 0 } }, "the field \"a..b\" has an empty name" },
	{ ".a", 0, { { 0 } }, "has an empty name" },
	{ ":asc", 0, { { 0 } }, "the field name is empty" },
	{ "_random:", 0, { { 0 } }, "the seed after _random: is empty" },
	{ "_score:up", 0, { { 0 } }, "_score takes asc or desc" },
	{ "_score:asc:x", 0, { { 0 } }, "_score takes asc or desc" },
	{ "a\x01", 0, { { 0 } }, "sort has a control character at byte 2" },
	{ "a\xff", 0, { { 0 } }, "sort is not valid UTF-8" },
	{ "value.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm:x", 0,
	    { { 0 } }, "(\"value.abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzab...\")" },
};

START_TEST(test_sort)
{
	const struct sort_row *r = &sort_rows[_i];
	struct arena *a = mem_new();
	struct search_sort *v = NULL;
	size_t n = 99;
	char err[256] = "";
	int rc = search_parse_sort(a, r->in, &v, &n, err, sizeof(err));

	if (r->err != NULL) {
		ck_assert_msg(rc == -1, "\"%s\": parsed, want \"%s\"", r->in, r->err);
		ck_assert_msg(strstr(err, r->err) != NULL, "\"%s\": got \"%s\", want \"%s\"",
		    r->in, err, r->err);
		ck_assert(v == NULL && n == 0);
		mem_free(a);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\": %s", r->in, err);
	ck_assert_msg(n == r->n, "\"%s\": %zu clauses, want %zu", r->in, n, r->n);
	for (size_t i = 0; i < n; i++) {
		const struct sort_want *w = &r->want[i];

		ck_assert_msg(v[i].kind == w->kind, "\"%s\" %zu: kind %d, want %d", r->in, i,
		    v[i].kind, w->kind);
		ck_assert_msg(w->field == NULL ? v[i].field == NULL :
		    v[i].field != NULL && strcmp(v[i].field, w->field) == 0,
		    "\"%s\" %zu: field %s, want %s", r->in, i, v[i].field ? v[i].field : "none",
		    w->field ? w->field : "none");
		ck_assert_msg(v[i].desc == w->desc && v[i].seeded == w->seeded,
		    "\"%s\" %zu: desc %d seeded %d", r->in, i, v[i].desc, v[i].seeded);
		ck_assert_msg(v[i].seed == w->seed, "\"%s\" %zu: seed %#llx, want %#llx", r->in, i,
		    (unsigned long long)v[i].seed, (unsigned long long)w->seed);
	}
	mem_free(a);
}
END_TEST

/* ---- aggregate= -------------------------------------------------------------------- */

struct agg_row {
	const char	*in;
	size_t		 n;             /* specs */
	enum search_agg_kind kind;    /* of the first */
	const char	*field;
	const char	*detail;        /* the first spec in short (agg_text) */
	const char	*err;
};

/* The first spec's parameters as text: buckets, offset/limit, interval/zone. */
static void
agg_text(const struct search_agg *g, struct buf *b)
{
	static const char *const iv[] = { "year", "quarter", "month", "week", "day", "hour" };

	for (size_t i = 0; i < g->nbuckets; i++) {
		const struct search_bucket *k = &g->buckets[i];

		ck_assert(k->has_min == (k->min_text != NULL) && k->has_max == (k->max_text != NULL));
		(void)buf_printf(b, "%s%s~%s", i > 0 ? "|" : "", k->has_min ? k->min_text : "*",
		    k->has_max ? k->max_text : "*");
		if (k->has_min)
			(void)buf_printf(b, "(%g)", k->min);
		if (k->has_max)
			(void)buf_printf(b, "(%g)", k->max);
	}
	if (g->kind == AGG_TOP_VALUES)
		(void)buf_printf(b, "%u/%u", g->offset, g->limit);
	if (g->kind == AGG_TIME_SERIES) {
		(void)buf_adds(b, iv[g->interval]);
		if (g->has_tz)
			(void)buf_printf(b, " %s=%d", g->tz_text, g->tz_minutes);
	}
}

static const struct agg_row agg_rows[] = {
	{ "value.age:stats,value.age:range:*~10:10~*", 2, AGG_STATS, "value.age", "", NULL },
	{ "value.age:range:*~10:10~*", 1, AGG_RANGE, "value.age", "*~10(10)|10~*(10)", NULL },
	{ "value.x:range:*~1:1~2:2~*", 1, AGG_RANGE, "value.x", "*~1(1)|1~2(1)(2)|2~*(2)", NULL },
	{ "value.x:range:-1.5~.5:1e3~2E3:*~*", 1, AGG_RANGE, "value.x",
	    "-1.5~.5(-1.5)(0.5)|1e3~2E3(1000)(2000)|*~*", NULL },
	{ "value.loc:distance:*~1:1~2:2~*", 1, AGG_DISTANCE, "value.loc",
	    "*~1(1)|1~2(1)(2)|2~*(2)", NULL },
	{ "value.tags:top_values", 1, AGG_TOP_VALUES, "value.tags", "0/10", NULL },
	{ "value.f:top_values:offset:5:limit:20", 1, AGG_TOP_VALUES, "value.f", "5/20", NULL },
	{ "value.f:top_values:limit:20:offset:5", 1, AGG_TOP_VALUES, "value.f", "5/20", NULL },
	{ "value.f:top_values:limit:100", 1, AGG_TOP_VALUES, "value.f", "0/100", NULL },
	{ "value.f:top_values:offset:7", 1, AGG_TOP_VALUES, "value.f", "7/10", NULL },
	/* what the npm client 0.8 sends for top_values(path, 20, 10) */
	{ "value.categories:top_values:offset", 1, AGG_TOP_VALUES, "value.categories", "0/10",
	    NULL },
	{ "value.f:top_values:offset:3:limit", 1, AGG_TOP_VALUES, "value.f", "3/10", NULL },
	{ "value.d:time_series:year", 1, AGG_TIME_SERIES, "value.d", "year", NULL },
	{ "value.d:time_series:quarter", 1, AGG_TIME_SERIES, "value.d", "quarter", NULL },
	{ "value.d:time_series:month", 1, AGG_TIME_SERIES, "value.d", "month", NULL },
	{ "value.d:time_series:week", 1, AGG_TIME_SERIES, "value.d", "week", NULL },
	{ "path:time_series:day", 1, AGG_TIME_SERIES, "path", "day", NULL },
	{ "path:time_series:hour:+0900", 1, AGG_TIME_SERIES, "path", "hour +0900=540", NULL },
	{ "value.d:time_series:hour:-0530", 1, AGG_TIME_SERIES, "value.d", "hour -0530=-330",
	    NULL },
	{ "value.d:time_series:day:+09:00", 1, AGG_TIME_SERIES, "value.d", "day +09:00=540",
	    NULL },
	{ "value.d:time_series:day:-03", 1, AGG_TIME_SERIES, "value.d", "day -03=-180", NULL },
	{ "value.d:time_series:day: 0900", 1, AGG_TIME_SERIES, "value.d", "day +0900=540", NULL },
	{ "@path.reftime:time_series:DAY", 1, AGG_TIME_SERIES, "@path.reftime", "day", NULL },
	{ "a:stats,b:stats,c:stats,d:stats,e:stats,f:stats,g:stats,h:stats", 8, AGG_STATS, "a",
	    "", NULL },
	/* the npm client's aggregate test, whole */
	{ "value.name:stats,value.tags:top_values,value.categories:top_values:offset,"
	    "value.username:stats,value.coolness:range:*~1:1~2:2~*,"
	    "value.radness:range:*~1:1~2:2~*,value.location:distance:*~1:1~2:2~*,"
	    "value.hometown:distance:*~1:1~2:2~*", 8, AGG_STATS, "value.name", "", NULL },
	/* bad */
	{ "", 0, 0, NULL, NULL, "aggregate is empty" },
	{ "a:stats,", 0, 0, NULL, NULL, "aggregate 2 is empty" },
	{ "a:stats,b:stats,c:stats,d:stats,e:stats,f:stats,g:stats,h:stats,i:stats", 0, 0, NULL,
	    NULL, "aggregate has more than 8 aggregates" },
	{ "value.x", 0, 0, NULL, NULL, "aggregate 1 (\"value.x\"): want field:kind" },
	{ "value.x:foo", 0, 0, NULL, NULL, "unknown aggregate \"foo\"" },
	{ "value.x:stats:1", 0, 0, NULL, NULL, "stats takes no arguments" },
	{ "value.x:range", 0, 0, NULL, NULL, "range needs buckets" },
	{ "value.x:distance", 0, 0, NULL, NULL, "distance needs buckets" },
	{ "value.x:range:5", 0, 0, NULL, NULL, "bucket 1 (\"5\") is not min~max" },
	{ "value.x:range:1~2:", 0, 0, NULL, NULL, "bucket 2 (\"\") is not min~max" },
	{ "value.x:range:2~1", 0, 0, NULL, NULL, "bucket 1 (\"2~1\"): min must be below max" },
	{ "value.x:range:1~1", 0, 0, NULL, NULL, "min must be below max" },
	{ "value.x:range:a~1", 0, 0, NULL, NULL, "the bucket end \"a\" is not a number or *" },
	{ "value.x:range:1~", 0, 0, NULL, NULL, "the bucket end \"\" is not a number or *" },
	{ "value.x:range:1~2~3", 0, 0, NULL, NULL, "the bucket end \"2~3\" is not a number" },
	{ "value.x:range:0x10~*", 0, 0, NULL, NULL, "is not a number or *" },
	{ "value.x:range:1e999~*", 0, 0, NULL, NULL, "is not a number or *" },
	{ "value.x:range:inf~*", 0, 0, NULL, NULL, "is not a number or *" },
	{ "value.loc:distance:-1~2", 0, 0, NULL, NULL, "a distance is not negative" },
	{ "@path.key:distance:*~1", 0, 0, NULL, NULL, "a distance aggregate needs a value field" },
	{ "value.f:top_values:limit:0", 0, 0, NULL, NULL, "top_values limit must be an integer "
	    "in 1..100" },
	{ "value.f:top_values:limit:101", 0, 0, NULL, NULL, "in 1..100" },
	{ "value.f:top_values:offset:-1", 0, 0, NULL, NULL, "top_values offset must be an "
	    "integer in 0..2147483647" },
	{ "value.f:top_values:offset:2147483648", 0, 0, NULL, NULL, "0..2147483647" },
	{ "value.f:top_values:offset:x", 0, 0, NULL, NULL, "top_values offset must be" },
	{ "value.f:top_values:offset:1:offset:2", 0, 0, NULL, NULL, "top_values has offset twice" },
	{ "value.f:top_values:count:2", 0, 0, NULL, NULL, "takes offset:N and limit:M, not "
	    "\"count\"" },
	{ "value.d:time_series", 0, 0, NULL, NULL, "time_series needs an interval" },
	{ "value.d:time_series:fortnight", 0, 0, NULL, NULL, "unknown interval \"fortnight\"" },
	{ "value.d:time_series:day:0900", 0, 0, NULL, NULL, "the time zone \"0900\" is not" },
	{ "value.d:time_series:day:+2400", 0, 0, NULL, NULL, "the time zone \"+2400\"" },
	{ "value.d:time_series:day:+0960", 0, 0, NULL, NULL, "the time zone \"+0960\"" },
	{ "value.d:time_series:day:+09:00:00", 0, 0, NULL, NULL, "the time zone \"+09:00:00\"" },
	{ "value.d:time_series:day:Z", 0, 0, NULL, NULL, "the time zone \"Z\"" },
	{ ":stats", 0, 0, NULL, NULL, "the field name is empty" },
	{ "@x:stats", 0, 0, NULL, NULL, "a metadata field is @path.<name>" },
	{ "a.:stats", 0, 0, NULL, NULL, "has an empty name" },
	{ "a:stats\n", 0, 0, NULL, NULL, "aggregate has a control character at byte 8" },
};

START_TEST(test_agg)
{
	const struct agg_row *r = &agg_rows[_i];
	struct arena *a = mem_new();
	struct search_agg *v = NULL;
	size_t n = 99;
	char err[256] = "";
	int rc = search_parse_aggregates(a, r->in, &v, &n, err, sizeof(err));
	struct buf b;

	if (r->err != NULL) {
		ck_assert_msg(rc == -1, "\"%s\": parsed, want \"%s\"", r->in, r->err);
		ck_assert_msg(strstr(err, r->err) != NULL, "\"%s\": got \"%s\", want \"%s\"",
		    r->in, err, r->err);
		ck_assert(v == NULL && n == 0);
		mem_free(a);
		return;
	}
	ck_assert_msg(rc == 0, "\"%s\": %s", r->in, err);
	ck_assert_msg(n == r->n, "\"%s\": %zu specs, want %zu", r->in, n, r->n);
	ck_assert_msg(v[0].kind == r->kind, "\"%s\": kind %d, want %d", r->in, v[0].kind,
	    r->kind);
	ck_assert_str_eq(v[0].field, r->field);
	buf_init(&b, 0);
	agg_text(&v[0], &b);
	ck_assert_msg(strcmp(b.b_len > 0 ? b.b_data : "", r->detail) == 0,
	    "\"%s\": got \"%s\", want \"%s\"", r->in, b.b_len > 0 ? b.b_data : "", r->detail);
	buf_free(&b);
	mem_free(a);
}
END_TEST

/* SEARCH_MAX_BUCKETS buckets, not one more. */
START_TEST(test_agg_buckets)
{
	struct arena *a = mem_new();
	struct search_agg *v;
	size_t n;
	char err[256];
	char *ok = repeat("value.x:range:", "*~*", ":", SEARCH_MAX_BUCKETS, "");
	char *bad = repeat("value.x:range:", "*~*", ":", SEARCH_MAX_BUCKETS + 1, "");
	char *worse = repeat("value.x:range:", "*~*", ":", 1000, "");

	ck_assert_msg(search_parse_aggregates(a, ok, &v, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert(n == 1 && v[0].nbuckets == SEARCH_MAX_BUCKETS);
	ck_assert(search_parse_aggregates(a, bad, &v, &n, err, sizeof(err)) == -1);
	ck_assert_msg(strstr(err, "more than 64 buckets") != NULL, "%s", err);
	ck_assert(search_parse_aggregates(a, worse, &v, &n, err, sizeof(err)) == -1);
	ck_assert_msg(strstr(err, "more than 64 buckets") != NULL, "%s", err);
	free(worse);
	free(bad);
	free(ok);
	mem_free(a);
}
END_TEST

static Suite *
lucene_suite(void)
{
	Suite *s = suite_create("lucene");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");
	TCase *spec = tcase_create("spec");

	tcase_add_loop_test(core, test_combine, 0, NROWS(combine_rows));
	tcase_add_loop_test(core, test_good, 0, NROWS(good_rows));
	tcase_add_loop_test(core, test_geo, 0, NROWS(geo_rows));
	tcase_add_loop_test(core, test_geo_values, 0, NROWS(geo_values));
	tcase_add_test(core, test_geo_box);
	tcase_add_loop_test(core, test_shape, 0, NROWS(shapes));
	tcase_add_test(core, test_range_fields);
	tcase_add_test(core, test_counted);
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_limits, 0, NROWS(limit_rows));
	tcase_add_test(limits, test_agg_buckets);
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_bad, 0, NROWS(bad_rows));
	tcase_add_loop_test(errors, test_geo_bad, 0, NROWS(geo_bad_rows));
	suite_add_tcase(s, errors);

	tcase_add_loop_test(spec, test_sort, 0, NROWS(sort_rows));
	tcase_add_loop_test(spec, test_agg, 0, NROWS(agg_rows));
	suite_add_tcase(s, spec);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lucene_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
