/*
 * check_search: unit tests for src/search.h (search_xapian.cc) over real
 * Xapian databases in a mkdtemp directory.
 *
 * Each test gets a fresh directory through a checked fixture; the writer
 * is opened there and the reader opened (and refreshed) by the search
 * helper. Query trees are built by hand (node helpers below), as
 * lucene_parse would build them. A document's entry is a short label
 * ("a", "ev:a:t", "rel:a>b"), so a result reads as "a,b,c".
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lucene.h"
#include "mem.h"
#include "search.h"
#include "testenv.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

static char tmpdir[512];
static char idx[600];
static struct search_writer *w;
static struct search_reader *r;
static struct arena *ar;
static char err[512];

static const char *
rc_name(enum search_rc rc)
{
	switch (rc) {
	case SEARCH_OK: return "SEARCH_OK";
	case SEARCH_BAD: return "SEARCH_BAD";
	case SEARCH_MISSING: return "SEARCH_MISSING";
	case SEARCH_CORRUPT: return "SEARCH_CORRUPT";
	case SEARCH_ERR: return "SEARCH_ERR";
	}
	return "?";
}

static void
make_tmp(char *dir, size_t len)
{
	const char *t = getenv("TMPDIR");
	int n = snprintf(dir, len, "%s/check_search.XXXXXX",
	    t != NULL && t[0] == '/' ? t : "/tmp");

	ck_assert_msg(n > 0 && (size_t)n < len, "temp dir name: got %d bytes", n);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp(%s): got NULL, want a directory", dir);
}

static void
setup(void)
{
	enum search_rc rc;

	make_tmp(tmpdir, sizeof(tmpdir));
	snprintf(idx, sizeof(idx), "%s/idx", tmpdir);
	rc = search_writer_open(idx, &w, err, sizeof(err));
	ck_assert_msg(rc == SEARCH_OK, "search_writer_open: got %s (%s), want SEARCH_OK",
	    rc_name(rc), err);
	r = NULL;
	ar = mem_new();
	ck_assert_msg(ar != NULL, "mem_new: got NULL");
}

static void
teardown(void)
{
	search_reader_close(r);
	r = NULL;
	search_writer_close(w);
	w = NULL;
	mem_free(ar);
	ar = NULL;
	testenv_remove(tmpdir);
}

/* ---- writing ---- */

static void
begin(void)
{
	enum search_rc rc = search_writer_begin(w, err, sizeof(err));

	ck_assert_msg(rc == SEARCH_OK, "begin: got %s (%s)", rc_name(rc), err);
}

static void
commit(void)
{
	enum search_rc rc = search_writer_commit(w, err, sizeof(err));

	ck_assert_msg(rc == SEARCH_OK, "commit: got %s (%s)", rc_name(rc), err);
}

static void
put(const struct search_doc *d)
{
	enum search_rc rc = search_writer_put(w, d, err, sizeof(err));

	ck_assert_msg(rc == SEARCH_OK, "put %s: got %s (%s), want SEARCH_OK", d->entry,
	    rc_name(rc), err);
}

static struct search_doc
item_doc(uint64_t cid, const char *coll, const char *key, const char *value)
{
	struct search_doc d;

	memset(&d, 0, sizeof(d));
	d.kind = SEARCH_ITEM;
	d.cid = cid;
	d.collection = coll;
	d.key = key;
	d.ref = "0123456789abcdef";
	d.reftime = 1000;
	d.entry = key;
	d.entry_len = strlen(key);
	d.value = value;
	d.vlen = value != NULL ? strlen(value) : 0;
	return d;
}

/* An item of collection "users" (cid 1), its entry the key. */
static void
item(const char *key, const char *value)
{
	struct search_doc d = item_doc(1, "users", key, value);

	put(&d);
}

static void
item_in(uint64_t cid, const char *coll, const char *key, const char *value)
{
	struct search_doc d = item_doc(cid, coll, key, value);

	put(&d);
}

static struct search_doc
event_doc(uint64_t cid, const char *coll, const char *key, const char *type, int64_t ts,
    uint64_t ord, const char *entry, const char *value)
{
	struct search_doc d = item_doc(cid, coll, key, value);

	d.kind = SEARCH_EVENT;
	d.type = type;
	d.timestamp = ts;
	d.ordinal = ord;
	d.entry = entry;
	d.entry_len = strlen(entry);
	return d;
}

static struct search_doc
rel_doc(uint64_t cid, const char *coll, const char *key, const char *rel, uint64_t dcid,
    const char *dcoll, const char *dkey, const char *entry, const char *value)
{
	struct search_doc d = item_doc(cid, coll, key, value);

	d.kind = SEARCH_RELATION;
	d.relation = rel;
	d.dst_cid = dcid;
	d.dst_collection = dcoll;
	d.dst_key = dkey;
	d.entry = entry;
	d.entry_len = strlen(entry);
	return d;
}

/* ---- query trees ---- */

static struct lucene_node *
nd(enum lucene_kind kind, const char *field, const char *text)
{
	struct lucene_node *n = mem_alloc(ar, sizeof(*n));

	ck_assert_msg(n != NULL, "mem_alloc: got NULL");
	n->kind = kind;
	n->field = field;
	n->text = text;
	n->len = text != NULL ? strlen(text) : 0;
	n->boost = 1.0;
	return n;
}

static struct lucene_node *
term(const char *field, const char *text)
{
	return nd(LQ_TERM, field, text);
}

static struct lucene_node *
phrase(const char *field, const char *text, int slop)
{
	struct lucene_node *n = nd(LQ_PHRASE, field, text);

	n->slop = slop;
	return n;
}

static struct lucene_node *
fuzzy(const char *field, const char *text, int edits)
{
	struct lucene_node *n = nd(LQ_FUZZY, field, text);

	n->edits = edits;
	return n;
}

static struct lucene_node *
range(const char *field, const char *lo, const char *hi, bool lo_incl, bool hi_incl)
{
	struct lucene_node *n = nd(LQ_RANGE, field, NULL);

	n->lo = lo;
	n->hi = hi;
	n->lo_incl = lo_incl;
	n->hi_incl = hi_incl;
	return n;
}

static struct lucene_node *
near(const char *field, double lat, double lon, double radius_m, const char *unit)
{
	struct lucene_node *n = nd(LQ_NEAR, field, NULL);

	n->lat = lat;
	n->lon = lon;
	n->radius_m = radius_m;
	n->unit = unit;
	return n;
}

static struct lucene_node *
box(const char *field, double north, double south, double east, double west)
{
	struct lucene_node *n = nd(LQ_IN, field, NULL);

	n->north = north;
	n->south = south;
	n->east = east;
	n->west = west;
	return n;
}

static struct lucene_node *
boosted(struct lucene_node *n, double boost)
{
	n->boost = boost;
	return n;
}

/* bq(n, occur1, node1, occur2, node2, ...) */
static struct lucene_node *
bq(size_t count, ...)
{
	struct lucene_node *n = nd(LQ_BOOL, NULL, NULL);
	va_list ap;

	n->clauses = mem_alloc(ar, count * sizeof(*n->clauses));
	ck_assert_msg(n->clauses != NULL, "mem_alloc: got NULL");
	n->nclauses = count;
	va_start(ap, count);
	for (size_t i = 0; i < count; i++) {
		n->clauses[i].occur = (enum lucene_occur)va_arg(ap, int);
		n->clauses[i].node = va_arg(ap, struct lucene_node *);
	}
	va_end(ap);
	return n;
}

/* ---- searching ---- */

static struct search_query
query(struct lucene_node *n)
{
	struct search_query q;

	memset(&q, 0, sizeof(q));
	q.query = n;
	q.limit = 100;
	q.max_expansion = 1000;
	return q;
}

static void
reader(void)
{
	enum search_rc rc;

	if (r == NULL) {
		rc = search_reader_open(idx, &r, err, sizeof(err));
		ck_assert_msg(rc == SEARCH_OK, "search_reader_open: got %s (%s)", rc_name(rc), err);
	} else {
		rc = search_reader_refresh(r, err, sizeof(err));
		ck_assert_msg(rc == SEARCH_OK, "refresh: got %s (%s)", rc_name(rc), err);
	}
}

static enum search_rc
try_search(const struct search_query *q, struct search_result *res)
{
	reader();
	memset(res, 0, sizeof(*res));
	err[0] = '\0';
	return search_run(r, q, ar, res, err, sizeof(err));
}

static struct search_result
search(const struct search_query *q)
{
	struct search_result res;
	enum search_rc rc = try_search(q, &res);

	ck_assert_msg(rc == SEARCH_OK, "search_run: got %s (%s), want SEARCH_OK", rc_name(rc), err);
	return res;
}

/* The entries of res, comma-separated, in order. */
static const char *
labels(const struct search_result *res)
{
	static char out[8192];
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < res->nhits; i++) {
		int k = snprintf(out + n, sizeof(out) - n, "%s%.*s", i > 0 ? "," : "",
		    (int)res->hits[i].entry_len, res->hits[i].entry);
		ck_assert_msg(k > 0 && (size_t)k < sizeof(out) - n, "labels: too long");
		n += (size_t)k;
	}
	return out;
}

/* The entries of res sorted by name: for queries whose order is not the
 * point. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *
labels_sorted(const struct search_result *res)
{
	static char out[8192];
	char *names[256];
	size_t n = 0;

	ck_assert_msg(res->nhits <= 256, "too many hits");
	for (size_t i = 0; i < res->nhits; i++)
		names[i] = mem_strndup(ar, res->hits[i].entry, res->hits[i].entry_len);
	qsort(names, res->nhits, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < res->nhits; i++) {
		int k = snprintf(out + n, sizeof(out) - n, "%s%s", i > 0 ? "," : "", names[i]);
		ck_assert_msg(k > 0 && (size_t)k < sizeof(out) - n, "labels: too long");
		n += (size_t)k;
	}
	return out;
}

/* Runs n and checks the sorted labels and that total == nhits. */
#define EXPECT(n, want) expect_at(__LINE__, (n), (want))

static void
expect_at(int line, struct lucene_node *n, const char *want)
{
	struct search_query q = query(n);
	struct search_result res = search(&q);
	const char *got = labels_sorted(&res);

	ck_assert_msg(strcmp(got, want) == 0, "line %d: got [%s], want [%s]", line, got, want);
	ck_assert_msg(res.total == res.nhits, "line %d: total %" PRIu64 ", want %zu", line,
	    res.total, res.nhits);
}

/* ---- core: writing, deleting, transactions, readers ---- */

START_TEST(test_put_replace_delete)
{
	struct search_doc a = item_doc(1, "users", "a", "{\"name\":\"steve\"}");

	begin();
	put(&a);
	item("b", "{\"name\":\"anne\"}");
	commit();
	EXPECT(nd(LQ_ALL, NULL, NULL), "a,b");
	EXPECT(term(NULL, "steve"), "a");

	/* The same identity replaces the document. */
	begin();
	a.value = "{\"name\":\"mark\"}";
	a.vlen = strlen(a.value);
	put(&a);
	commit();
	ck_assert_msg(search_writer_doccount(w) == 2, "doccount: got %" PRIu64 ", want 2",
	    search_writer_doccount(w));
	EXPECT(term(NULL, "steve"), "");
	EXPECT(term(NULL, "mark"), "a");

	begin();
	/* Deleting needs only the identity fields. */
	a.collection = NULL;
	a.entry = NULL;
	a.value = NULL;
	ck_assert_msg(search_writer_delete(w, &a, err, sizeof(err)) == SEARCH_OK, "delete: %s", err);
	/* Deleting an absent document is fine. */
	ck_assert_msg(search_writer_delete(w, &a, err, sizeof(err)) == SEARCH_OK, "delete: %s", err);
	commit();
	EXPECT(nd(LQ_ALL, NULL, NULL), "b");
}
END_TEST

static void
graph(void)
{
	struct search_doc d;

	begin();
	item_in(1, "users", "a", "{\"t\":\"x\"}");
	item_in(1, "users", "a2", "{\"t\":\"x\"}");
	item_in(1, "users", "x", "{\"t\":\"x\"}");
	item_in(2, "pets", "b", "{\"t\":\"x\"}");
	d = event_doc(1, "users", "a", "login", 5000, 7, "ev:a", "{\"t\":\"x\"}");
	put(&d);
	d = event_doc(2, "pets", "b", "feed", 5000, 8, "ev:b", "{\"t\":\"x\"}");
	put(&d);
	d = rel_doc(1, "users", "a", "owns", 2, "pets", "b", "rel:a>b", NULL);
	put(&d);
	d = rel_doc(1, "users", "a", "knows", 1, "users", "a2", "rel:a>a2", NULL);
	put(&d);
	d = rel_doc(1, "users", "x", "knows", 1, "users", "a", "rel:x>a", NULL);
	put(&d);
	d = rel_doc(1, "users", "x", "knows", 1, "users", "a2", "rel:x>a2", NULL);
	put(&d);
	commit();
}

static struct lucene_node *
everything(void)
{
	return nd(LQ_ALL, "@path.kind", NULL);
}

START_TEST(test_delete_item_all_and_collection)
{
	graph();
	EXPECT(everything(), "a,a2,b,ev:a,ev:b,rel:a>a2,rel:a>b,rel:x>a,rel:x>a2,x");

	/* A purge: the item, its events, relations from and to it. */
	begin();
	ck_assert_msg(search_writer_delete_item_all(w, 1, "a", err, sizeof(err)) == SEARCH_OK,
	    "delete_item_all: %s", err);
	commit();
	EXPECT(everything(), "a2,b,ev:b,rel:x>a2,x");

	/* A dropped collection: its items, events, relations from or to it. */
	graph();
	begin();
	ck_assert_msg(search_writer_delete_collection(w, 2, err, sizeof(err)) == SEARCH_OK,
	    "delete_collection: %s", err);
	commit();
	EXPECT(everything(), "a,a2,ev:a,rel:a>a2,rel:x>a,rel:x>a2,x");
	begin();
	ck_assert_msg(search_writer_delete_collection(w, 1, err, sizeof(err)) == SEARCH_OK,
	    "delete_collection: %s", err);
	commit();
	EXPECT(everything(), "");
}
END_TEST

static const char *
reader_meta(const char *key)
{
	char *v = NULL;
	size_t vlen = 99;
	enum search_rc rc = search_reader_get_meta(r, key, ar, &v, &vlen, err, sizeof(err));

	ck_assert_msg(rc == SEARCH_OK, "get_meta: got %s (%s)", rc_name(rc), err);
	ck_assert_msg(v != NULL && strlen(v) == vlen, "get_meta: bad length");
	return v;
}

static const char *
writer_meta(const char *key)
{
	char *v = NULL;
	size_t vlen = 99;
	enum search_rc rc = search_writer_get_meta(w, key, ar, &v, &vlen, err, sizeof(err));

	ck_assert_msg(rc == SEARCH_OK, "writer get_meta: got %s (%s)", rc_name(rc), err);
	ck_assert_msg(v != NULL && strlen(v) == vlen, "writer get_meta: bad length");
	return v;
}

START_TEST(test_meta_atomic)
{
	begin();
	item("a", "{}");
	ck_assert(search_writer_set_meta(w, "applied_seq", "5", 1, err, sizeof(err)) == SEARCH_OK);
	ck_assert_msg(strcmp(writer_meta("applied_seq"), "5") == 0, "writer sees its own meta");
	commit();
	EXPECT(nd(LQ_ALL, NULL, NULL), "a");
	ck_assert_msg(strcmp(reader_meta("applied_seq"), "5") == 0, "got %s, want 5",
	    reader_meta("applied_seq"));
	ck_assert_msg(strcmp(reader_meta("absent"), "") == 0, "absent: want \"\"");

	/* A cancelled transaction leaves neither the document nor the meta. */
	begin();
	item("b", "{}");
	ck_assert(search_writer_set_meta(w, "applied_seq", "6", 1, err, sizeof(err)) == SEARCH_OK);
	search_writer_cancel(w);
	ck_assert_msg(strcmp(writer_meta("applied_seq"), "5") == 0, "after cancel: got %s, want 5",
	    writer_meta("applied_seq"));
	EXPECT(nd(LQ_ALL, NULL, NULL), "a");
	ck_assert_msg(strcmp(reader_meta("applied_seq"), "5") == 0, "reader after cancel");

	/* Closing with a transaction open cancels it too. */
	begin();
	item("c", "{}");
	ck_assert(search_writer_set_meta(w, "applied_seq", "7", 1, err, sizeof(err)) == SEARCH_OK);
	search_writer_close(w);
	w = NULL;
	ck_assert(search_writer_open(idx, &w, err, sizeof(err)) == SEARCH_OK);
	EXPECT(nd(LQ_ALL, NULL, NULL), "a");
	ck_assert_msg(strcmp(reader_meta("applied_seq"), "5") == 0, "after close");

	/* "" deletes a key. */
	begin();
	ck_assert(search_writer_set_meta(w, "applied_seq", "", 0, err, sizeof(err)) == SEARCH_OK);
	commit();
	reader();
	ck_assert_msg(strcmp(reader_meta("applied_seq"), "") == 0, "deleted meta");
}
END_TEST

START_TEST(test_refresh)
{
	struct search_query q = query(nd(LQ_ALL, NULL, NULL));
	struct search_result res;

	begin();
	item("a", "{}");
	commit();
	ck_assert(search_reader_open(idx, &r, err, sizeof(err)) == SEARCH_OK);
	begin();
	item("b", "{}");
	commit();
	/* Without a refresh the reader stays at its revision. */
	memset(&res, 0, sizeof(res));
	ck_assert(search_run(r, &q, ar, &res, err, sizeof(err)) == SEARCH_OK);
	ck_assert_msg(strcmp(labels(&res), "a") == 0, "before refresh: got %s, want a",
	    labels(&res));
	res = search(&q);   /* refreshes */
	ck_assert_msg(strcmp(labels_sorted(&res), "a,b") == 0, "after refresh: got %s",
	    labels_sorted(&res));
}
END_TEST

/* ---- core: clauses ---- */

START_TEST(test_terms)
{
	begin();
	item("a", "{\"title\":\"Running dogs\",\"age\":30,\"ok\":true,\"n\":{\"deep\":\"Fox\"}}");
	item("b", "{\"title\":\"a cat sleeps\",\"age\":31,\"ok\":false,\"other\":\"dogs\"}");
	commit();
	/* Stemming: run, runs, running all reach "run". */
	EXPECT(term("value.title", "run"), "a");
	EXPECT(term("title", "runs"), "a");
	EXPECT(term("value.title", "RUNNING"), "a");
	EXPECT(term("value.title", "dog"), "a");
	/* Unfielded: every string of the value, not numbers. */
	EXPECT(term(NULL, "dog"), "a,b");
	EXPECT(term(NULL, "fox"), "a");
	EXPECT(term(NULL, "30"), "");
	EXPECT(term("value", "sleeping"), "b");
	/* Nested paths; numbers and booleans as terms. */
	EXPECT(term("value.n.deep", "fox"), "a");
	EXPECT(term("n.deep", "Fox"), "a");
	EXPECT(term("value.age", "30"), "a");
	EXPECT(term("value.ok", "false"), "b");
	/* Several tokens of one term: OR. */
	EXPECT(term("title", "cat-dogs"), "a,b");
	/* A term that analyses to nothing is left out. */
	EXPECT(bq(2, LO_MUST, term(NULL, "+"), LO_MUST, term(NULL, "cat")), "b");
	EXPECT(term(NULL, "&"), "");
	/* Unknown fields match nothing. */
	EXPECT(term("value.nothing", "dogs"), "");
	EXPECT(term("@nonsense", "dogs"), "");
	EXPECT(term("@path.nonsense", "dogs"), "");
}
END_TEST

START_TEST(test_phrases)
{
	begin();
	item("ab", "{\"t\":\"alpha beta\"}");
	item("axb", "{\"t\":\"alpha xx beta\"}");
	item("axyb", "{\"t\":\"alpha xx yy beta\"}");
	item("ba", "{\"t\":\"beta alpha\"}");
	item("bxa", "{\"t\":\"beta xx alpha\"}");
	item("abc", "{\"t\":\"alpha beta gamma\"}");
	item("acb", "{\"t\":\"alpha gamma beta\"}");
	item("arr", "{\"t\":[\"alpha\",\"beta\"]}");
	commit();
	/* Two words: Lucene's slop exactly (a swap costs 2). */
	EXPECT(phrase("t", "alpha beta", 0), "ab,abc");
	EXPECT(phrase("t", "alpha beta", 1), "ab,abc,acb,axb");
	EXPECT(phrase("t", "alpha beta", 2), "ab,abc,acb,axb,axyb,ba");
	EXPECT(phrase("t", "alpha beta", 3), "ab,abc,acb,axb,axyb,ba,bxa");
	/* Unstemmed: "alphas" is not "alpha". */
	EXPECT(phrase("t", "alphas beta", 0), "");
	/* Three words: exact at slop 0; a NEAR window of n + slop beyond. */
	EXPECT(phrase("t", "alpha beta gamma", 0), "abc");
	EXPECT(phrase("t", "alpha beta gamma", 1), "abc,acb");
	/* One word is a term; the all-text field has phrases too. */
	EXPECT(phrase("t", "gamma", 0), "abc,acb");
	EXPECT(phrase(NULL, "beta alpha", 0), "ba");
	/* No phrase across two strings of an array. */
	EXPECT(phrase("t", "alpha beta", 0), "ab,abc");
	EXPECT(phrase(NULL, "alpha beta", 5), "ab,abc,acb,axb,axyb,ba,bxa");
}
END_TEST

START_TEST(test_exact)
{
	char longv[600], longq[600], doc[700];

	memset(longv, 'x', 400);
	longv[400] = '\0';
	memcpy(longq, longv, 401);
	longq[399] = 'y';
	snprintf(doc, sizeof(doc), "{\"state\":\"New York\",\"code\":\"NY\",\"long\":\"%s\"}", longv);
	begin();
	item("a", doc);
	item("b", "{\"state\":\"new york city\",\"n\":7}");
	commit();
	EXPECT(nd(LQ_EXACT, "value.state", "New York"), "a");
	EXPECT(nd(LQ_EXACT, "state", "new york"), "");
	EXPECT(nd(LQ_EXACT, "state", "New"), "");
	EXPECT(nd(LQ_EXACT, NULL, "NY"), "a");
	EXPECT(nd(LQ_EXACT, "value.n", "7"), "b");
	/* A value longer than a term: hashed, still exact. */
	EXPECT(nd(LQ_EXACT, "long", longv), "a");
	EXPECT(nd(LQ_EXACT, "long", longq), "");
	/* Words still match. */
	EXPECT(term("state", "york"), "a,b");
	/* A NUL inside a value: the node's length counts, not strlen. */
	begin();
	item("z", "{\"z\":\"a\\u0000b\"}");
	commit();
	struct lucene_node *nul = nd(LQ_EXACT, "z", "a\0b");
	nul->len = 3;
	EXPECT(nul, "z");
	nul = nd(LQ_EXACT, "z", "a");
	EXPECT(nul, "");
}
END_TEST

START_TEST(test_wildcards)
{
	begin();
	item("test", "{\"w\":\"test\"}");
	item("text", "{\"w\":\"text\"}");
	item("toast", "{\"w\":\"toast\"}");
	item("tester", "{\"w\":\"tester\"}");
	item("star", "{\"w\":\"te*t\"}");
	item("Key9", "{\"w\":\"zzz\"}");
	commit();
	/* "te*t" in star's value is the words te and t. */
	EXPECT(nd(LQ_WILDCARD, "w", "te?t"), "test,text");
	EXPECT(nd(LQ_WILDCARD, "w", "te*t"), "test,text");
	EXPECT(nd(LQ_WILDCARD, "w", "t*t"), "test,text,toast");
	EXPECT(nd(LQ_WILDCARD, "w", "*st"), "test,toast");
	EXPECT(nd(LQ_WILDCARD, "w", "?e*"), "star,test,tester,text");
	EXPECT(nd(LQ_WILDCARD, "value.w", "TE?T"), "test,text");
	/* Escaped: a literal '*' ("te*t" is tokenised to te, t). */
	EXPECT(nd(LQ_WILDCARD, "w", "te\\*t"), "");
	/* Unfielded: over every string's words, leading wildcard too. */
	EXPECT(nd(LQ_WILDCARD, NULL, "*oast"), "toast");
	EXPECT(nd(LQ_WILDCARD, NULL, "*z*"), "Key9");
	/* Prefix. */
	EXPECT(nd(LQ_PREFIX, "w", "tes"), "test,tester");
	EXPECT(nd(LQ_PREFIX, NULL, "Tes"), "test,tester");
	EXPECT(nd(LQ_PREFIX, "w", "q"), "");
	/* Metadata values: not lowercased. */
	EXPECT(nd(LQ_PREFIX, "@path.key", "te"), "test,tester,text");
	EXPECT(nd(LQ_WILDCARD, "@path.key", "K?y*"), "Key9");
	EXPECT(nd(LQ_WILDCARD, "@path.key", "k?y*"), "");
}
END_TEST

START_TEST(test_fuzzy)
{
	begin();
	item("roam", "{\"w\":\"roam\"}");
	item("foam", "{\"w\":\"foam\"}");
	item("roams", "{\"w\":\"roams\"}");
	item("oram", "{\"w\":\"oram\"}");
	item("foams", "{\"w\":\"foams\"}");
	item("ab", "{\"w\":\"ab\"}");
	item("x", "{\"w\":\"x\"}");
	commit();
	EXPECT(fuzzy("w", "roam", 0), "roam");
	EXPECT(fuzzy("w", "roam", 1), "foam,oram,roam,roams");   /* oram: one transposition */
	EXPECT(fuzzy("w", "ROAM", 2), "foam,foams,oram,roam,roams");
	EXPECT(fuzzy(NULL, "roam", 1), "foam,oram,roam,roams");
	/* Fewer edits than the shorter word's length: "ab"~2 is not "x". */
	EXPECT(fuzzy("w", "ab", 2), "ab");
	EXPECT(fuzzy("w", "y", 1), "");
}
END_TEST

START_TEST(test_ranges)
{
	begin();
	item("a", "{\"n\":5,\"d\":\"2014-01-01\",\"s\":\"Apple\"}");
	item("b", "{\"n\":10,\"d\":\"2014-06-01T12:00:00Z\",\"s\":\"banana\"}");
	item("c", "{\"n\":15.5,\"d\":\"2015-01-01T00:00:00+01:00\",\"s\":\"Cherry\"}");
	item("d", "{\"n\":20,\"d\":1420070400000,\"s\":\"date\"}");
	item("e", "{\"other\":1}");
	item("f", "{\"n\":\"x\",\"s\":10}");
	commit();
	/* Numbers. */
	EXPECT(range("n", "10", "20", true, true), "b,c,d");
	EXPECT(range("n", "10", "20", false, false), "c");
	EXPECT(range("value.n", "10", "20", true, false), "b,c");
	EXPECT(range("n", NULL, "10", true, true), "a,b");
	EXPECT(range("n", "15.5", NULL, false, true), "d");
	EXPECT(range("n", "20", "10", true, true), "");
	EXPECT(range("n", NULL, NULL, true, true), "a,b,c,d,f");
	/* Dates (numbers in the field are epoch ms). 2014-12-31T23:00Z is c;
	 * 2015-01-01T00:00Z is d. */
	EXPECT(range("d", "2014-01-01", "2014-12-31", true, true), "a,b");
	EXPECT(range("d", "2014-01-01", "2014-12-31T23:00:00Z", false, true), "b,c");
	EXPECT(range("d", "2014-12-31T23:00Z", NULL, true, true), "c,d");
	EXPECT(range("d", NULL, "2015-01-01", true, false), "a,b,c");
	/* Strings: lowercased; exclusive ends. */
	EXPECT(range("s", "apple", "cherry", true, true), "a,b,c");
	EXPECT(range("s", "APPLE", "Cherry", false, false), "b");
	EXPECT(range("s", "b", NULL, true, true), "b,c,d");
	EXPECT(range("s", NULL, "banana", true, false), "a");   /* f's s is a number */
	/* Metadata: numbers or dates in ms, strings as they are. */
	EXPECT(range("@path.reftime", "1000", "1000", true, true), "a,b,c,d,e,f");
	EXPECT(range("@path.reftime", "1001", NULL, true, true), "");
	EXPECT(range("@path.key", "b", "d", false, true), "c,d");
	/* Unfielded: the words in the range. */
	EXPECT(range(NULL, "banana", "cherry", true, true), "b,c");
}
END_TEST

START_TEST(test_exists)
{
	begin();
	item("a", "{\"x\":1,\"loc\":{\"lat\":1,\"lon\":2}}");
	item("b", "{\"x\":\"s\",\"y\":null,\"z\":[]}");
	item("c", "{\"x\":[false],\"y\":{\"q\":1}}");
	commit();
	EXPECT(nd(LQ_ALL, "x", NULL), "a,b,c");
	EXPECT(nd(LQ_ALL, "value.y", NULL), "c");   /* null is not there */
	EXPECT(nd(LQ_ALL, "z", NULL), "");           /* nor is an empty array */
	EXPECT(nd(LQ_ALL, "y.q", NULL), "c");
	EXPECT(nd(LQ_ALL, "loc", NULL), "a");
	EXPECT(nd(LQ_ALL, "loc.lat", NULL), "a");
	EXPECT(nd(LQ_ALL, NULL, NULL), "a,b,c");
	EXPECT(nd(LQ_ALL, "@path.type", NULL), "");
}
END_TEST

START_TEST(test_geo)
{
	struct search_query q;
	struct search_result res;

	begin();
	/* On the equator: 0.01 degree of longitude is 1112.25 m. */
	item("p1", "{\"loc\":{\"lat\":0,\"lon\":0.01}}");
	item("p5", "{\"loc\":{\"latitude\":0,\"longitude\":0.05}}");
	item("p10", "{\"loc\":{\"lat\":0,\"lng\":0.1}}");
	item("east", "{\"loc\":{\"lat\":1,\"long\":179.5}}");
	item("west", "{\"loc\":{\"lat\":-1,\"lon\":-179.5}}");
	item("none", "{\"loc\":{\"lat\":100,\"lon\":0}}");
	item("arr", "{\"loc\":[{\"lat\":50,\"lon\":8},{\"lat\":0,\"lon\":0}]}");
	commit();
	EXPECT(near("loc", 0, 0, 2000, "m"), "p1");
	EXPECT(near("value.loc", 0, 0, 6000, "m"), "p1,p5");
	EXPECT(near("loc", 0, 0, 12 * 1609.344, "mi"), "p1,p10,p5");
	EXPECT(near("loc", 50, 8, 1000, "km"), "arr");   /* arrays: the first point */
	EXPECT(near("loc", 0, 180, 200000, "km"), "east,west");
	EXPECT(near("nothing", 0, 0, 2000, "m"), "");
	/* Distances in the clause's unit. */
	q = query(near("loc", 0, 0, 6000, "km"));
	q.sort = &(struct search_sort){ SORT_DISTANCE, "value.loc", false, false, 0 };
	q.nsort = 1;
	res = search(&q);
	ck_assert_msg(strcmp(labels(&res), "p1,p5") == 0, "got %s", labels(&res));
	ck_assert_msg(res.hits[0].has_distance && fabs(res.hits[0].distance - 1.11225) < 0.003,
	    "distance: got %g km, want 1.112", res.hits[0].distance);
	ck_assert_msg(fabs(res.hits[1].distance - 5.5612) < 0.003, "distance: got %g km",
	    res.hits[1].distance);
	/* IN: boxes, across the antimeridian when west > east. */
	EXPECT(box("loc", 1, -1, 0.06, 0), "p1,p5");
	EXPECT(box("loc", 2, -2, -179, 179), "east,west");
	EXPECT(box("loc", 2, 0, -179, 179), "east");
	EXPECT(box("loc", 2, -2, 180, -180), "east,p1,p10,p5,west");
	/* A bad centre is refused. */
	q = query(near("loc", 91, 0, 10, "m"));
	ck_assert_msg(try_search(&q, &res) == SEARCH_BAD, "latitude 91: want SEARCH_BAD");
}
END_TEST

START_TEST(test_path_fields)
{
	struct search_query q;
	struct search_result res;

	graph();
	/* The kind rule: items only unless the query names @path.kind. */
	EXPECT(term(NULL, "x"), "a,a2,b,x");
	EXPECT(term("@path.kind", "event"), "ev:a,ev:b");
	EXPECT(term("@path.kind", "relation"), "rel:a>a2,rel:a>b,rel:x>a,rel:x>a2");
	EXPECT(bq(2, LO_MUST, term("@path.kind", "item"), LO_MUST, term("@path.key", "a")), "a");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.key", "a")), "a,ev:a,rel:a>a2,rel:a>b");
	EXPECT(bq(1, LO_MUST_NOT, term("@path.kind", "item")),
	    "ev:a,ev:b,rel:a>a2,rel:a>b,rel:x>a,rel:x>a2");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.type", "login")), "ev:a");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, nd(LQ_EXACT, "@path.type", "feed")), "ev:b");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.relation", "knows")),
	    "rel:a>a2,rel:x>a,rel:x>a2");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.source.key", "x")),
	    "rel:x>a,rel:x>a2");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.destination.collection", "pets")),
	    "rel:a>b");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.destination.key", "a2")),
	    "rel:a>a2,rel:x>a2");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.source.collection", "pets")), "");
	EXPECT(term("@path.collection", "pets"), "b");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.collection", "pets")), "b,ev:b");
	EXPECT(term("@path.ref", "0123456789abcdef"), "a,a2,b,x");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.timestamp", "5000")), "ev:a,ev:b");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, term("@path.ordinal", "8")), "ev:b");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, range("@path.ordinal", "1", "7", true, true)),
	    "ev:a");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST,
	    range("@path.timestamp", "1970-01-01", "1970-01-01T00:00:05Z", true, true)), "ev:a,ev:b");
	EXPECT(bq(2, LO_MUST, everything(), LO_MUST, nd(LQ_ALL, "@path.relation", NULL)),
	    "rel:a>a2,rel:a>b,rel:x>a,rel:x>a2");
	/* The collection filter of /v0/{collection}?query=. */
	q = query(everything());
	q.collection = "pets";
	res = search(&q);
	ck_assert_msg(strcmp(labels_sorted(&res), "b,ev:b") == 0, "collection: got %s",
	    labels_sorted(&res));
}
END_TEST

/* The position of the hit labelled name, or the number of hits. */
static size_t
pos_of(const struct search_result *res, const char *name)
{
	for (size_t i = 0; i < res->nhits; i++)
		if (res->hits[i].entry_len == strlen(name) &&
		    memcmp(res->hits[i].entry, name, res->hits[i].entry_len) == 0)
			return i;
	return res->nhits;
}

START_TEST(test_booleans_and_boosts)
{
	struct search_query q;
	struct search_result res;
	struct search_doc d;

	begin();
	item("a", "{\"t\":\"apple\"}");
	item("b", "{\"t\":\"cherry\"}");
	item("c", "{\"t\":\"apple cherry\"}");
	item("d", "{\"t\":\"date\"}");
	d = event_doc(1, "users", "a", "t", 1, 1, "ev", "{\"t\":\"banana\"}");
	put(&d);
	commit();
	EXPECT(bq(2, LO_SHOULD, term("t", "apple"), LO_SHOULD, term("t", "cherry")), "a,b,c");
	EXPECT(bq(2, LO_MUST, term("t", "apple"), LO_MUST, term("t", "cherry")), "c");
	/* +a b: b only scores. */
	EXPECT(bq(2, LO_MUST, term("t", "apple"), LO_SHOULD, term("t", "cherry")), "a,c");
	EXPECT(bq(2, LO_SHOULD, term("t", "apple"), LO_MUST_NOT, term("t", "cherry")), "a");
	/* Only prohibited clauses: everything (items) but them. */
	EXPECT(bq(1, LO_MUST_NOT, term("t", "apple")), "b,d");
	EXPECT(bq(2, LO_MUST_NOT, term("t", "apple"), LO_MUST_NOT, term("t", "date")), "b");
	/* Nested groups. */
	EXPECT(bq(2, LO_MUST, bq(2, LO_SHOULD, term("t", "apple"), LO_SHOULD, term("t", "date")),
	    LO_MUST_NOT, term("t", "cherry")), "a,d");
	/* Boosts reorder equal scores: a and b are alike (ties: docid). */
	q = query(bq(2, LO_SHOULD, term("t", "apple"), LO_SHOULD, term("t", "cherry")));
	res = search(&q);
	ck_assert_msg(pos_of(&res, "a") < pos_of(&res, "b") &&
	    res.hits[pos_of(&res, "a")].score == res.hits[pos_of(&res, "b")].score,
	    "no boost: got %s", labels(&res));
	q = query(bq(2, LO_SHOULD, term("t", "apple"), LO_SHOULD, boosted(term("t", "cherry"), 5)));
	res = search(&q);
	ck_assert_msg(pos_of(&res, "b") < pos_of(&res, "a"), "cherry^5: got %s", labels(&res));
	q = query(bq(2, LO_SHOULD, boosted(term("t", "apple"), 0.1), LO_SHOULD, term("t", "cherry")));
	res = search(&q);
	ck_assert_msg(pos_of(&res, "b") < pos_of(&res, "a"), "apple^0.1: got %s", labels(&res));
	q = query(bq(2, LO_SHOULD, boosted(term("t", "apple"), 5), LO_SHOULD, term("t", "cherry")));
	res = search(&q);
	ck_assert_msg(strcmp(labels(&res), "c,a,b") == 0, "apple^5: got %s", labels(&res));
	ck_assert_msg(res.hits[0].score > res.hits[1].score && res.hits[1].score > res.hits[2].score,
	    "scores decrease");
}
END_TEST

/* ---- sorting ---- */

static const char *
sorted_by(struct lucene_node *n, struct search_sort *s, size_t ns)
{
	struct search_query q = query(n);
	struct search_result res;

	q.sort = s;
	q.nsort = ns;
	res = search(&q);
	return labels(&res);
}

#define SORTS(n, want, ...) do { \
	struct search_sort s_[] = { __VA_ARGS__ }; \
	const char *got_ = sorted_by((n), s_, sizeof(s_) / sizeof(s_[0])); \
	ck_assert_msg(strcmp(got_, (want)) == 0, "line %d: got %s, want %s", __LINE__, got_, \
	    (want)); \
} while (0)

START_TEST(test_sort)
{
	struct lucene_node *all = nd(LQ_ALL, NULL, NULL);

	begin();
	item("k3", "{\"price\":5,\"name\":\"bob\",\"g\":\"x\"}");
	item("k1", "{\"price\":1,\"name\":\"Alice\",\"g\":\"y\"}");
	item("k4", "{\"name\":\"carol\",\"g\":\"x\"}");
	item("k2", "{\"price\":3,\"g\":\"x\"}");
	item("k5", "{\"price\":[2,9],\"g\":\"y\"}");
	commit();
	SORTS(all, "k1,k5,k2,k3,k4", { SORT_FIELD, "value.price", false, false, 0 });
	SORTS(all, "k3,k2,k5,k1,k4", { SORT_FIELD, "price", true, false, 0 });
	SORTS(all, "k1,k3,k4,k2,k5", { SORT_FIELD, "value.name", false, false, 0 });
	SORTS(all, "k4,k3,k1,k2,k5", { SORT_FIELD, "value.name", true, false, 0 });
	SORTS(all, "k3,k2,k4,k5,k1", { SORT_FIELD, "g", false, false, 0 },
	    { SORT_FIELD, "price", true, false, 0 });
	SORTS(all, "k1,k2,k3,k4,k5", { SORT_PATH, "@path.key", false, false, 0 });
	SORTS(all, "k5,k4,k3,k2,k1", { SORT_PATH, "@path.key", true, false, 0 });
	SORTS(all, "k3,k1,k4,k2,k5", { SORT_PATH, "@path.reftime", false, false, 0 });
}
END_TEST

/* Ties of the key go by relevance, then by docid; a leading _score sorts
 * by relevance, ties by the next clause; relevance alone, ties by
 * identity. t1 (docid 3) matches both words; t3 (docid 1) and t2 (docid
 * 2) score alike. */
START_TEST(test_sort_ties)
{
	struct lucene_node *n;

	begin();
	item("t3", "{\"g\":\"x\",\"w\":\"bar\"}");
	item("t2", "{\"g\":\"x\",\"w\":\"baz\"}");
	item("t1", "{\"g\":\"x\",\"w\":\"foo\"}");
	commit();
	n = bq(2, LO_SHOULD, term("w", "foo"), LO_SHOULD, term("g", "x"));
	SORTS(n, "t1,t3,t2", { SORT_FIELD, "g", false, false, 0 });
	SORTS(n, "t1,t2,t3", { SORT_SCORE, NULL, true, false, 0 },
	    { SORT_PATH, "@path.key", false, false, 0 });
	/* Relevance alone: ties by identity (collection, key, ...), not by
	 * docid, so a rebuilt index gives the same order. */
	SORTS(n, "t1,t2,t3", { SORT_SCORE, NULL, true, false, 0 });
	ck_assert_msg(strcmp(sorted_by(n, NULL, 0), "t1,t2,t3") == 0, "no sort: got %s",
	    sorted_by(n, NULL, 0));
	ck_assert_msg(strcmp(sorted_by(nd(LQ_ALL, NULL, NULL), NULL, 0), "t1,t2,t3") == 0,
	    "match all: got %s", sorted_by(nd(LQ_ALL, NULL, NULL), NULL, 0));
	SORTS(n, "t3,t2,t1", { SORT_FIELD, "w", false, false, 0 }, { SORT_SCORE, NULL, true, false, 0 });
}
END_TEST

START_TEST(test_sort_random)
{
	char key[16], first[8192], again[8192], other[8192];
	struct lucene_node *all = nd(LQ_ALL, NULL, NULL);
	struct search_sort s = { SORT_RANDOM, NULL, false, true, 42 };

	begin();
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		item(key, "{}");
	}
	commit();
	snprintf(first, sizeof(first), "%s", sorted_by(all, &s, 1));
	snprintf(again, sizeof(again), "%s", sorted_by(all, &s, 1));
	s.seed = 43;
	snprintf(other, sizeof(other), "%s", sorted_by(all, &s, 1));
	ck_assert_msg(strcmp(first, again) == 0, "seed 42 twice: got %s and %s", first, again);
	ck_assert_msg(strcmp(first, other) != 0, "seeds 42 and 43 gave the same order");
	ck_assert_msg(strncmp(first, "k00,k01,k02", 11) != 0, "not shuffled: %s", first);
	/* The order of a seed survives a rewrite of the documents (it
	 * hashes identities, not docids). */
	begin();
	for (int i = 29; i >= 0; i--) {
		snprintf(key, sizeof(key), "k%02d", i);
		ck_assert(search_writer_delete_item_all(w, 1, key, err, sizeof(err)) == SEARCH_OK);
	}
	commit();
	begin();
	for (int i = 29; i >= 0; i--) {
		snprintf(key, sizeof(key), "k%02d", i);
		item(key, "{}");
	}
	commit();
	s.seed = 42;
	ck_assert_msg(strcmp(first, sorted_by(all, &s, 1)) == 0, "seed 42 after rewrite");
	/* Unseeded: some order of all of them. */
	s.seeded = false;
	ck_assert_msg(strlen(sorted_by(all, &s, 1)) == strlen(first), "unseeded");
}
END_TEST

START_TEST(test_sort_distance)
{
	struct search_query q;
	struct search_result res;
	struct search_sort s = { SORT_DISTANCE, "value.loc", false, false, 0 };

	begin();
	item("p5", "{\"loc\":{\"lat\":0,\"lon\":0.05}}");
	item("p1", "{\"loc\":{\"lat\":0,\"lon\":0.01}}");
	item("p10", "{\"loc\":{\"lat\":0,\"lon\":0.1}}");
	item("none", "{\"t\":\"x\"}");
	commit();
	SORTS(near("loc", 0, 0, 20000, "km"), "p1,p5,p10", s);
	s.desc = true;
	SORTS(near("loc", 0, 0, 20000, "km"), "p10,p5,p1", s);
	/* A NEAR clause that need not match: missing points last. */
	SORTS(bq(2, LO_SHOULD, near("loc", 0, 0, 20000, "km"), LO_SHOULD, nd(LQ_ALL, NULL, NULL)),
	    "p10,p5,p1,none", s);
	/* No NEAR clause on the field: refused. */
	q = query(nd(LQ_ALL, NULL, NULL));
	q.sort = &s;
	q.nsort = 1;
	ck_assert_msg(try_search(&q, &res) == SEARCH_BAD, "distance without NEAR: want SEARCH_BAD");
	ck_assert_msg(strstr(err, "NEAR") != NULL, "err: %s", err);
	/* A NEAR clause on another field only: loc's points are measured from
	 * its centre (the npm client's own tests ask for that). */
	s.desc = false;
	SORTS(bq(2, LO_SHOULD, near("other", 0, 0.1, 1, "m"), LO_SHOULD, nd(LQ_ALL, NULL, NULL)),
	    "p10,p5,p1,none", s);
}
END_TEST

/* ---- aggregates ---- */

static const char *
aggs_of(struct lucene_node *n, struct search_agg *aggs, size_t na)
{
	struct search_query q = query(n);
	struct search_result res;

	q.aggs = aggs;
	q.naggs = na;
	q.limit = 0;
	res = search(&q);
	ck_assert_msg(res.nhits == 0 && res.aggregates != NULL &&
	    strlen(res.aggregates) == res.aggregates_len, "aggregates missing");
	return res.aggregates;
}

#define AGG(n, want, ...) do { \
	struct search_agg a_[] = { __VA_ARGS__ }; \
	const char *got_ = aggs_of((n), a_, sizeof(a_) / sizeof(a_[0])); \
	ck_assert_msg(strcmp(got_, (want)) == 0, "line %d:\n got %s\nwant %s", __LINE__, got_, \
	    (want)); \
} while (0)

START_TEST(test_aggregates)
{
	struct lucene_node *all = nd(LQ_ALL, NULL, NULL);
	struct search_bucket rb[] = {
		{ false, true, 0, 15, NULL, "15" },
		{ true, true, 15, 30, "15", "30" },
		{ true, false, 30, 0, "30.0", NULL },
	};
	struct search_doc d;

	begin();
	item("a", "{\"age\":10,\"tags\":[\"x\",\"y\"],\"d\":\"2014-03-01T13:30:00Z\"}");
	item("b", "{\"age\":20,\"tags\":\"y\",\"d\":\"2014-03-02T01:00:00Z\"}");
	item("c", "{\"age\":30,\"tags\":[\"y\",\"z\",\"y\"],\"d\":\"2014-12-31T23:30:00Z\"}");
	item("e", "{\"age\":40,\"tags\":[\"x\"],\"d\":1420071000000}");
	item("f", "{\"age\":\"old\",\"tags\":[3,\"x\"]}");
	d = event_doc(1, "users", "a", "t", 1, 1, "ev", "{\"age\":1000}");
	put(&d);
	commit();
	AGG(all, "[{\"aggregate_kind\":\"stats\",\"field_name\":\"value.age\",\"value_count\":4,"
	    "\"statistics\":{\"min\":10,\"max\":40,\"mean\":25,\"sum\":100,\"sum_of_squares\":3000,"
	    "\"variance\":125,\"std_dev\":11.180339887498949}}]",
	    { .kind = AGG_STATS, .field = "value.age" });
	AGG(term("tags", "nothing"), "[{\"aggregate_kind\":\"stats\",\"field_name\":\"age\","
	    "\"value_count\":0,\"statistics\":{\"min\":null,\"max\":null,\"mean\":null,\"sum\":0,"
	    "\"sum_of_squares\":0,\"variance\":null,\"std_dev\":null}}]",
	    { .kind = AGG_STATS, .field = "age" });
	AGG(all, "[{\"aggregate_kind\":\"range\",\"field_name\":\"value.age\",\"value_count\":4,"
	    "\"buckets\":[{\"max\":15,\"count\":1},{\"min\":15,\"max\":30,\"count\":1},"
	    "{\"min\":30.0,\"count\":2}]}]",
	    { .kind = AGG_RANGE, .field = "value.age", .buckets = rb, .nbuckets = 3 });
	AGG(all, "[{\"aggregate_kind\":\"top_values\",\"field_name\":\"value.tags\","
	    "\"value_count\":5,\"offset\":0,\"limit\":10,\"entries\":[{\"value\":\"x\",\"count\":3},"
	    "{\"value\":\"y\",\"count\":3},{\"value\":3,\"count\":1},{\"value\":\"z\",\"count\":1}]}]",
	    { .kind = AGG_TOP_VALUES, .field = "value.tags", .limit = 10 });
	AGG(all, "[{\"aggregate_kind\":\"top_values\",\"field_name\":\"value.tags\","
	    "\"value_count\":5,\"offset\":1,\"limit\":2,\"entries\":[{\"value\":\"y\",\"count\":3},"
	    "{\"value\":3,\"count\":1}]}]",
	    { .kind = AGG_TOP_VALUES, .field = "value.tags", .offset = 1, .limit = 2 });
	/* Over the matches only; metadata fields too; events when asked. */
	AGG(term("tags", "z"), "[{\"aggregate_kind\":\"top_values\",\"field_name\":\"tags\","
	    "\"value_count\":1,\"offset\":0,\"limit\":10,\"entries\":[{\"value\":\"y\",\"count\":1},"
	    "{\"value\":\"z\",\"count\":1}]}]",
	    { .kind = AGG_TOP_VALUES, .field = "tags", .limit = 10 });
	AGG(nd(LQ_ALL, "@path.kind", NULL), "[{\"aggregate_kind\":\"top_values\","
	    "\"field_name\":\"@path.kind\",\"value_count\":6,\"offset\":0,\"limit\":10,"
	    "\"entries\":[{\"value\":\"item\",\"count\":5},{\"value\":\"event\",\"count\":1}]}]",
	    { .kind = AGG_TOP_VALUES, .field = "@path.kind", .limit = 10 });
	/* time_series: each interval; the zone shifts the buckets. */
	AGG(all, "[{\"aggregate_kind\":\"time_series\",\"field_name\":\"value.d\",\"value_count\":4,"
	    "\"interval\":\"year\",\"buckets\":[{\"bucket\":\"2014\",\"count\":3},"
	    "{\"bucket\":\"2015\",\"count\":1}]}]",
	    { .kind = AGG_TIME_SERIES, .field = "value.d", .interval = IV_YEAR });
	AGG(all, "[{\"aggregate_kind\":\"time_series\",\"field_name\":\"value.d\",\"value_count\":4,"
	    "\"interval\":\"quarter\",\"buckets\":[{\"bucket\":\"2014-Q1\",\"count\":2},"
	    "{\"bucket\":\"2014-Q4\",\"count\":1},{\"bucket\":\"2015-Q1\",\"count\":1}]}]",
	    { .kind = AGG_TIME_SERIES, .field = "value.d", .interval = IV_QUARTER });
	AGG(all, "[{\"aggregate_kind\":\"time_series\",\"field_name\":\"value.d\",\"value_count\":4,"
	    "\"interval\":\"month\",\"buckets\":[{\"bucket\":\"2014-03\",\"count\":2},"
	    "{\"bucket\":\"2014-12\",\"count\":1},{\"bucket\":\"2015-01\",\"count\":1}]}]",
	    { .kind = AGG_TIME_SERIES, .field = "value.d", .interval = IV_MONTH });
	AGG(all, "[{\"aggregate_kind\":\"time_series\",\"field_name\":\"value.d\",\"value_count\":4,"
	    "\"interval\":\"week\",\"buckets\":[{\"bucket\":\"2014-W09\",\"count\":2},"
	    "{\"bucket\":\"2015-W01\",\"count\":2}]}]",
	    { .kind = AGG_TIME_SERIES, .field = "value.d", .interval = IV_WEEK });
	AGG(all, "[{\"aggregate_kind\":\"time_series\",\"field_name\":\"value.d\",\"value_count\":4,"
	    "\"interval\":\"day\",\"buckets\":[{\"bucket\":\"2014-03-01\",\"count\":1},"
	    "{\"bucket\":\"2014-03-02\",\"count\":1},{\"bucket\":\"2014-12-31\",\"count\":1},"
	    "{\"bucket\":\"2015-01-01\",\"count\":1}]}]",
	    { .kind = AGG_TIME_SERIES, .field = "value.d", .interval = IV_DAY });
	AGG(all, "[{\"aggregate_kind\":\"time_series\",\"field_name\":\"value.d\",\"value_count\":4,"
	    "\"interval\":\"day\",\"time_zone\":\"+0100\",\"buckets\":[{\"bucket\":\"2014-03-01\","
	    "\"count\":1},{\"bucket\":\"2014-03-02\",\"count\":1},{\"bucket\":\"2015-01-01\","
	    "\"count\":2}]}]",
	    { .kind = AGG_TIME_SERIES, .field = "value.d", .interval = IV_DAY, .has_tz = true,
	      .tz_minutes = 60, .tz_text = "+0100" });
	AGG(all, "[{\"aggregate_kind\":\"time_series\",\"field_name\":\"value.d\",\"value_count\":4,"
	    "\"interval\":\"hour\",\"time_zone\":\"-0530\",\"buckets\":[{\"bucket\":\"2014-03-01T08\","
	    "\"count\":1},{\"bucket\":\"2014-03-01T19\",\"count\":1},{\"bucket\":\"2014-12-31T18\","
	    "\"count\":2}]}]",
	    { .kind = AGG_TIME_SERIES, .field = "value.d", .interval = IV_HOUR, .has_tz = true,
	      .tz_minutes = -330, .tz_text = "-0530" });
}
END_TEST

START_TEST(test_aggregate_distance)
{
	struct search_bucket db[] = {
		{ false, true, 0, 2, NULL, "2" },
		{ true, true, 2, 10, "2", "10" },
		{ true, false, 10, 0, "10", NULL },
	};
	struct search_query q;
	struct search_result res;
	struct search_agg a = { .kind = AGG_DISTANCE, .field = "value.loc", .buckets = db,
		.nbuckets = 3 };

	begin();
	item("p1", "{\"loc\":{\"lat\":0,\"lon\":0.01}}");
	item("p5", "{\"loc\":{\"lat\":0,\"lon\":0.05}}");
	item("p10", "{\"loc\":{\"lat\":0,\"lon\":0.1}}");
	commit();
	AGG(near("loc", 0, 0, 20000, "km"), "[{\"aggregate_kind\":\"distance\","
	    "\"field_name\":\"value.loc\",\"value_count\":3,\"buckets\":[{\"max\":2,\"count\":1},"
	    "{\"min\":2,\"max\":10,\"count\":1},{\"min\":10,\"count\":1}]}]", a);
	/* In miles: 0.69, 3.46, 6.91. */
	AGG(near("loc", 0, 0, 20000, "mi"), "[{\"aggregate_kind\":\"distance\","
	    "\"field_name\":\"value.loc\",\"value_count\":3,\"buckets\":[{\"max\":2,\"count\":1},"
	    "{\"min\":2,\"max\":10,\"count\":2},{\"min\":10,\"count\":0}]}]", a);
	q = query(nd(LQ_ALL, NULL, NULL));
	q.aggs = &a;
	q.naggs = 1;
	ck_assert_msg(try_search(&q, &res) == SEARCH_BAD, "distance aggregate without NEAR");
}
END_TEST

/* ---- through the real parsers (lucene_parse, search_parse_*) ---- */

struct parsed_case {
	const char *query;
	const char *want;   /* sorted labels */
};

static const struct parsed_case parsed_cases[] = {
	{ "*", "a,b,c,d" },
	{ "*:*", "a,b,c,d" },
	{ "@path.kind:*", "a,b,c,d,ev,rel" },
	{ "@path.kind:(item event)", "a,b,c,d,ev" },
	{ "@path.kind:relationship", "rel" },
	{ "steve", "a,c" },
	{ "name:steve", "a" },
	{ "value.name:Steve", "a" },
	{ "value.name: steve", "a" },
	{ "a.b:deep", "b" },
	{ "steve AND mark", "c" },
	{ "steve && mark", "c" },
	{ "steve OR anne", "a,b,c" },
	{ "anne OR steve AND mark", "c" },      /* anne +steve +mark */
	{ "steve AND mark OR anne", "c" },      /* +steve +mark anne */
	{ "steve -mark", "a" },
	{ "steve !mark", "a" },
	{ "steve NOT mark", "a" },
	{ "-steve", "b,d" },
	{ "NOT steve", "b,d" },
	{ "-steve -anne", "d" },
	{ "(steve OR anne) AND -mark", "a,b" },
	{ "name:(steve anne)", "a,b" },
	{ "title:\"quick fox\"", "" },
	{ "title:\"quick brown fox\"", "a" },
	{ "title:\"quick fox\"~1", "a" },
	{ "title:\"fox quick\"~2", "" },
	{ "title:\"fox brown\"~2", "a" },
	{ "title:jumping", "a,b" },   /* jumped, jumps: stem jump */
	{ "title:jump*", "a,b" },
	{ "title:j?mped", "a" },
	{ "title:*umps", "b" },
	{ "title:jumpd~1", "a,b" },
	{ "title:foks~", "a" },
	{ "state:`New York`", "a" },
	{ "state:`new york`", "" },
	{ "`NY`", "b" },
	{ "age:[10 TO 20]", "a,b" },
	{ "age:{10 TO 20]", "b" },
	{ "age:[10 TO 20}", "a" },
	{ "age:[21 TO *]", "c" },
	{ "value.age:30", "c" },
	{ "born:[2014-01-01 TO 2014-12-31T23:59:59Z]", "a" },
	{ "born:[* TO 2014-01-01}", "b" },
	{ "name:[anne TO mark]", "b,c" },
	{ "name:*", "a,b,c" },
	{ "loc:*", "a,b" },
	{ "value.loc:NEAR:{lat:0 lon:0 dist:2km}", "a" },
	{ "value.loc:NEAR:{latitude:0 longitude:0 radius:20000km}", "a,b" },
	{ "loc:IN:{north:1 south:-1 east:0.06 west:0}", "a" },
	{ "loc:IN:{n:1 s:-1 e:-179 w:179}", "b" },
	{ "@path.key:a", "a" },
	{ "@path.collection:`users`", "a,b,c,d" },
	{ "@path.type:login AND @path.kind:event", "ev" },
	{ "@path.relation:likes AND @path.kind:*", "rel" },
	{ "@path.source.key:a AND @path.destination.key:b AND @path.kind:*", "rel" },
	{ "nothing:steve", "" },
	{ "steve^2 anne", "a,b,c" },
	{ "mark + anne", "b,c" },   /* the bare + analyses to nothing: dropped */
};

START_TEST(test_parsed_queries)
{
	struct search_doc d;

	begin();
	item("a", "{\"name\":\"Steve\",\"title\":\"The quick brown fox jumped\",\"state\":\"New York\","
	    "\"age\":10,\"born\":\"2014-03-01\",\"loc\":{\"lat\":0,\"lon\":0.01}}");
	item("b", "{\"name\":\"anne\",\"title\":\"a cow jumps\",\"code\":\"NY\",\"age\":20,"
	    "\"born\":\"2013-01-01\",\"a\":{\"b\":\"deep\"},\"loc\":{\"lat\":0,\"lon\":179.5}}");
	item("c", "{\"name\":\"mark\",\"also\":\"steve\",\"age\":30}");
	item("d", "{\"other\":true}");
	d = event_doc(1, "users", "a", "login", 1000, 1, "ev", "{\"name\":\"steve\"}");
	put(&d);
	d = rel_doc(1, "users", "a", "likes", 1, "users", "b", "rel", "{\"since\":2014}");
	put(&d);
	commit();
	for (int i = 0; i < NCASES(parsed_cases); i++) {
		const struct parsed_case *c = &parsed_cases[i];
		struct lucene_node *n = NULL;
		struct search_query q;
		struct search_result res;
		const char *got;

		ck_assert_msg(lucene_parse(ar, c->query, strlen(c->query), &n, err, sizeof(err)) == 0,
		    "lucene_parse(%s): %s", c->query, err);
		q = query(n);
		res = search(&q);
		got = labels_sorted(&res);
		ck_assert_msg(strcmp(got, c->want) == 0, "%s: got [%s], want [%s]", c->query, got,
		    c->want);
	}
}
END_TEST

/* sort= and aggregate= as the handler passes them. */
START_TEST(test_parsed_sort_aggs)
{
	static const struct {
		const char *query, *sort, *want;
	} sorts[] = {
		{ "*", "value.price:desc", "k3,k2,k1,k4" },
		{ "*", "value.price", "k1,k2,k3,k4" },
		{ "*", "value.g:asc,value.price:desc", "k3,k2,k1,k4" },
		{ "*", "@path.key:desc", "k4,k3,k2,k1" },
		{ "value.loc:NEAR:{lat:0 lon:0 dist:100km}", "value.loc:distance:asc", "k1,k2,k3" },
		{ "value.loc:NEAR:{lat:0 lon:0 dist:100km}", "value.loc:distance:dsc", "k3,k2,k1" },
		{ "*", "_random:7", NULL },
	};
	char first[256];

	begin();
	item("k2", "{\"price\":2,\"g\":\"b\",\"loc\":{\"lat\":0,\"lon\":0.2}}");
	item("k1", "{\"price\":1,\"g\":\"b\",\"loc\":{\"lat\":0,\"lon\":0.1}}");
	item("k3", "{\"price\":3,\"g\":\"a\",\"loc\":{\"lat\":0,\"lon\":0.3}}");
	item("k4", "{\"g\":\"c\"}");
	commit();
	for (int i = 0; i < NCASES(sorts); i++) {
		struct lucene_node *n = NULL;
		struct search_sort *s = NULL;
		size_t ns = 0;
		const char *got;

		ck_assert(lucene_parse(ar, sorts[i].query, strlen(sorts[i].query), &n, err,
		    sizeof(err)) == 0);
		ck_assert_msg(search_parse_sort(ar, sorts[i].sort, &s, &ns, err, sizeof(err)) == 0,
		    "search_parse_sort(%s): %s", sorts[i].sort, err);
		got = sorted_by(n, s, ns);
		if (sorts[i].want != NULL) {
			ck_assert_msg(strcmp(got, sorts[i].want) == 0, "sort=%s: got %s, want %s",
			    sorts[i].sort, got, sorts[i].want);
		} else {
			snprintf(first, sizeof(first), "%s", got);
			ck_assert_msg(strcmp(sorted_by(n, s, ns), first) == 0, "sort=%s unstable",
			    sorts[i].sort);
		}
	}

	struct lucene_node *n = NULL;
	struct search_agg *ag = NULL;
	size_t na = 0;
	const char *spec = "value.price:stats,value.price:range:*~2:2~*,value.g:top_values:limit:2,"
	    "value.loc:distance:*~20:20~*";
	ck_assert(lucene_parse(ar, "value.loc:NEAR:{lat:0 lon:0 dist:100km}", 39, &n, err,
	    sizeof(err)) == 0);
	ck_assert_msg(search_parse_aggregates(ar, spec, &ag, &na, err, sizeof(err)) == 0,
	    "search_parse_aggregates: %s", err);
	const char *got = aggs_of(n, ag, na);
	const char *want = "[{\"aggregate_kind\":\"stats\",\"field_name\":\"value.price\","
	    "\"value_count\":3,\"statistics\":{\"min\":1,\"max\":3,\"mean\":2,\"sum\":6,"
	    "\"sum_of_squares\":14,\"variance\":0.6666666666666666,"
	    "\"std_dev\":0.816496580927726}},"
	    "{\"aggregate_kind\":\"range\",\"field_name\":\"value.price\",\"value_count\":3,"
	    "\"buckets\":[{\"max\":2,\"count\":1},{\"min\":2,\"count\":2}]},"
	    "{\"aggregate_kind\":\"top_values\",\"field_name\":\"value.g\",\"value_count\":3,"
	    "\"offset\":0,\"limit\":2,\"entries\":[{\"value\":\"b\",\"count\":2},"
	    "{\"value\":\"a\",\"count\":1}]},"
	    "{\"aggregate_kind\":\"distance\",\"field_name\":\"value.loc\",\"value_count\":3,"
	    "\"buckets\":[{\"max\":20,\"count\":1},{\"min\":20,\"count\":2}]}]";
	ck_assert_msg(strcmp(got, want) == 0, "aggregates:\n got %s\nwant %s", got, want);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_total_and_paging)
{
	char key[16];
	struct search_query q = query(term("t", "common"));
	struct search_result res;

	begin();
	for (int i = 0; i < 250; i++) {
		snprintf(key, sizeof(key), "k%03d", i);
		item(key, i % 5 == 0 ? "{\"t\":\"common rare\"}" : "{\"t\":\"common\"}");
	}
	commit();
	q.limit = 0;
	res = search(&q);
	ck_assert_msg(res.total == 250 && res.nhits == 0, "limit 0: total %" PRIu64 ", hits %zu",
	    res.total, res.nhits);
	q = query(bq(2, LO_MUST, term("t", "common"), LO_MUST, term("t", "rare")));
	q.limit = 0;
	res = search(&q);
	ck_assert_msg(res.total == 50, "AND: total %" PRIu64 ", want 50", res.total);
	q.limit = 10;
	q.offset = 45;
	res = search(&q);
	ck_assert_msg(res.total == 50 && res.nhits == 5, "offset 45: total %" PRIu64 ", hits %zu",
	    res.total, res.nhits);
	q.offset = 500;
	res = search(&q);
	ck_assert_msg(res.total == 50 && res.nhits == 0, "offset 500");
}
END_TEST

START_TEST(test_expansion_cap)
{
	struct search_query q;
	struct search_result res;

	begin();
	item("a", "{\"w\":\"test text tent\"}");
	commit();
	q = query(nd(LQ_WILDCARD, "w", "te?t"));
	q.max_expansion = 3;
	res = search(&q);
	ck_assert_msg(res.nhits == 1, "3 terms within a cap of 3");
	q.max_expansion = 2;
	ck_assert_msg(try_search(&q, &res) == SEARCH_BAD, "over the cap: want SEARCH_BAD");
	ck_assert_msg(strstr(err, "expands to more than 2 terms") != NULL, "err: %s", err);
	q = query(nd(LQ_PREFIX, NULL, "te"));
	q.max_expansion = 2;
	ck_assert_msg(try_search(&q, &res) == SEARCH_BAD, "prefix over the cap");
	q = query(fuzzy("w", "tent", 1));
	q.max_expansion = 2;
	ck_assert_msg(try_search(&q, &res) == SEARCH_BAD, "fuzzy over the cap");
	q = query(range(NULL, "a", "z", true, true));
	q.max_expansion = 2;
	ck_assert_msg(try_search(&q, &res) == SEARCH_BAD, "term range over the cap");
}
END_TEST

/* Two tenants: the same document scores the same in its own index
 * whatever the other holds. */
START_TEST(test_tenant_scores)
{
	char other[700], key[16];
	struct search_writer *w2 = NULL;
	struct search_reader *r2 = NULL;
	struct search_query q = query(term("t", "apple"));
	struct search_result res, res2;
	double before;

	snprintf(other, sizeof(other), "%s/other", tmpdir);
	ck_assert(search_writer_open(other, &w2, err, sizeof(err)) == SEARCH_OK);
	begin();
	item("a", "{\"t\":\"apple pie\"}");
	item("b", "{\"t\":\"cherry pie\"}");
	commit();
	ck_assert(search_writer_begin(w2, err, sizeof(err)) == SEARCH_OK);
	struct search_doc d = item_doc(1, "users", "a", "{\"t\":\"apple pie\"}");
	ck_assert(search_writer_put(w2, &d, err, sizeof(err)) == SEARCH_OK);
	d = item_doc(1, "users", "b", "{\"t\":\"cherry pie\"}");
	ck_assert(search_writer_put(w2, &d, err, sizeof(err)) == SEARCH_OK);
	ck_assert(search_writer_commit(w2, err, sizeof(err)) == SEARCH_OK);
	ck_assert(search_reader_open(other, &r2, err, sizeof(err)) == SEARCH_OK);

	res = search(&q);
	before = res.hits[0].score;
	memset(&res2, 0, sizeof(res2));
	ck_assert(search_run(r2, &q, ar, &res2, err, sizeof(err)) == SEARCH_OK);
	ck_assert_msg(res2.nhits == 1 && res2.hits[0].score == before,
	    "same content, same score: %g and %g", before, res2.hits[0].score);

	/* The other tenant fills up with apples: our score stays, theirs moves. */
	ck_assert(search_writer_begin(w2, err, sizeof(err)) == SEARCH_OK);
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "x%d", i);
		d = item_doc(1, "users", key, "{\"t\":\"apple apple apple\"}");
		ck_assert(search_writer_put(w2, &d, err, sizeof(err)) == SEARCH_OK);
	}
	ck_assert(search_writer_commit(w2, err, sizeof(err)) == SEARCH_OK);
	ck_assert(search_reader_refresh(r2, err, sizeof(err)) == SEARCH_OK);
	res = search(&q);
	ck_assert_msg(res.nhits == 1 && res.hits[0].score == before, "ours: got %g, want %g",
	    res.hits[0].score, before);
	ck_assert(search_run(r2, &q, ar, &res2, err, sizeof(err)) == SEARCH_OK);
	ck_assert_msg(res2.total == 51, "theirs: total %" PRIu64, res2.total);
	for (size_t i = 0; i < res2.nhits; i++)
		if (res2.hits[i].entry_len == 1 && res2.hits[i].entry[0] == 'a')
			ck_assert_msg(res2.hits[i].score != before, "their a should score differently");
	search_reader_close(r2);
	search_writer_close(w2);
}
END_TEST

/* A reader two commits behind: its revision's blocks are reused, and the
 * search reopens and runs again. */
START_TEST(test_modified_retry)
{
	char key[16], val[64];
	struct search_query q = query(term("t", "gen2"));
	struct search_result res;

	for (int gen = 0; gen < 3; gen++) {
		begin();
		for (int i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			snprintf(val, sizeof(val), "{\"t\":\"common gen%d\",\"n\":%d}", gen, i);
			item(key, val);
		}
		commit();
		if (gen == 0)
			reader();
	}
	/* search_run never refreshes by itself: finding no gen0 shows it
	 * met DatabaseModifiedError, reopened and ran again. */
	q = query(term("t", "gen0"));
	memset(&res, 0, sizeof(res));
	ck_assert_msg(search_run(r, &q, ar, &res, err, sizeof(err)) == SEARCH_OK,
	    "stale reader: %s", err);
	ck_assert_msg(res.total == 0, "gen0: total %" PRIu64 ", want 0 (the reader should have "
	    "been reopened)", res.total);
	q = query(term("t", "gen2"));
	memset(&res, 0, sizeof(res));
	ck_assert(search_run(r, &q, ar, &res, err, sizeof(err)) == SEARCH_OK);
	ck_assert_msg(res.total == 1000, "total %" PRIu64 ", want 1000", res.total);
}
END_TEST

START_TEST(test_long_names)
{
	char key[400], coll[300], val[700], want[800];

	memset(key, 'K', 350);
	key[350] = '\0';
	memset(coll, 'c', 260);
	coll[260] = '\0';
	snprintf(val, sizeof(val), "{\"t\":\"%s\"}", key);
	begin();
	item_in(9, coll, key, val);
	item_in(9, coll, "short", "{}");
	commit();
	EXPECT(term("@path.key", key), key);
	snprintf(want, sizeof(want), "%s,short", key);
	EXPECT(term("@path.collection", coll), want);
	EXPECT(nd(LQ_EXACT, "t", key), key);
	EXPECT(nd(LQ_PREFIX, "@path.key", "KKKK"), key);
	begin();
	ck_assert(search_writer_delete_item_all(w, 9, key, err, sizeof(err)) == SEARCH_OK);
	commit();
	EXPECT(term("@path.collection", coll), "short");
}
END_TEST

/* ---- errors ---- */

START_TEST(test_missing)
{
	char path[700];
	struct search_reader *rr = (struct search_reader *)1;
	enum search_rc rc;

	snprintf(path, sizeof(path), "%s/nope", tmpdir);
	rc = search_reader_open(path, &rr, err, sizeof(err));
	ck_assert_msg(rc == SEARCH_MISSING && rr == NULL, "missing dir: got %s (%s)",
	    rc_name(rc), err);
	ck_assert(mkdir(path, 0700) == 0);
	rc = search_reader_open(path, &rr, err, sizeof(err));
	ck_assert_msg(rc == SEARCH_MISSING, "empty dir: got %s (%s)", rc_name(rc), err);
	ck_assert(rmdir(path) == 0);
}
END_TEST

START_TEST(test_second_writer)
{
	struct search_writer *w2 = (struct search_writer *)1;
	enum search_rc rc = search_writer_open(idx, &w2, err, sizeof(err));

	ck_assert_msg(rc == SEARCH_ERR && w2 == NULL, "second writer: got %s", rc_name(rc));
	ck_assert_msg(strstr(err, "lock") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_bad_input)
{
	struct search_doc d = item_doc(1, "users", "a", "{\"t\":");
	char longkey[300];
	enum search_rc rc;

	begin();
	rc = search_writer_put(w, &d, err, sizeof(err));
	ck_assert_msg(rc == SEARCH_BAD, "bad JSON: got %s", rc_name(rc));
	d = item_doc(1, "users", "a", "{}");
	d.key = NULL;
	rc = search_writer_put(w, &d, err, sizeof(err));
	ck_assert_msg(rc == SEARCH_BAD, "no key: got %s", rc_name(rc));
	d = item_doc(1, "users", "a", "{}");
	d.kind = SEARCH_EVENT;
	rc = search_writer_put(w, &d, err, sizeof(err));
	ck_assert_msg(rc == SEARCH_BAD, "event without type: got %s", rc_name(rc));
	memset(longkey, 'k', 250);
	longkey[250] = '\0';
	rc = search_writer_set_meta(w, longkey, "v", 1, err, sizeof(err));
	ck_assert_msg(rc == SEARCH_BAD, "long meta key: got %s", rc_name(rc));
	rc = search_writer_set_meta(w, "", "v", 1, err, sizeof(err));
	ck_assert_msg(rc == SEARCH_BAD, "empty meta key: got %s", rc_name(rc));
	/* A value that is not an object is still indexed. */
	d = item_doc(1, "users", "s", "\"just text\"");
	put(&d);
	commit();
	EXPECT(term(NULL, "text"), "s");
	/* A commit without a transaction is an error, not a crash. */
	rc = search_writer_commit(w, err, sizeof(err));
	ck_assert_msg(rc == SEARCH_ERR, "commit without begin: got %s", rc_name(rc));
}
END_TEST

static Suite *
search_suite(void)
{
	Suite *s = suite_create("search");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_put_replace_delete);
	tcase_add_test(core, test_delete_item_all_and_collection);
	tcase_add_test(core, test_meta_atomic);
	tcase_add_test(core, test_refresh);
	tcase_add_test(core, test_terms);
	tcase_add_test(core, test_phrases);
	tcase_add_test(core, test_exact);
	tcase_add_test(core, test_wildcards);
	tcase_add_test(core, test_fuzzy);
	tcase_add_test(core, test_ranges);
	tcase_add_test(core, test_exists);
	tcase_add_test(core, test_geo);
	tcase_add_test(core, test_path_fields);
	tcase_add_test(core, test_booleans_and_boosts);
	tcase_add_test(core, test_sort);
	tcase_add_test(core, test_sort_ties);
	tcase_add_test(core, test_sort_random);
	tcase_add_test(core, test_sort_distance);
	tcase_add_test(core, test_aggregates);
	tcase_add_test(core, test_aggregate_distance);
	tcase_add_test(core, test_parsed_queries);
	tcase_add_test(core, test_parsed_sort_aggs);
	tcase_set_timeout(core, 120);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_total_and_paging);
	tcase_add_test(limits, test_expansion_cap);
	tcase_add_test(limits, test_tenant_scores);
	tcase_add_test(limits, test_modified_retry);
	tcase_add_test(limits, test_long_names);
	tcase_set_timeout(limits, 300);
	suite_add_tcase(s, limits);

	tcase_add_checked_fixture(errors, setup, teardown);
	tcase_add_test(errors, test_missing);
	tcase_add_test(errors, test_second_writer);
	tcase_add_test(errors, test_bad_input);
	tcase_set_timeout(errors, 60);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(search_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
