/*
 * check_store: unit tests for src/store.h and src/tenants.h over a real
 * Berkeley DB environment.
 *
 * Every test gets a fresh environment in a mkdtemp directory through a
 * checked fixture (store_recover, then store_open; store_close and a
 * recursive removal after), so tests never see each other's data. Keys are
 * opaque bytes here; the tables give them with explicit lengths so NUL bytes
 * and prefixes can be exercised.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "mem.h"
#include "store.h"
#include "tenants.h"
#include "testenv.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

static char tmpdir[512];
static struct config cfg;
static struct store *st;
static struct arena *ar;

static const char *
rc_name(enum store_rc rc)
{
	switch (rc) {
	case STORE_OK: return "STORE_OK";
	case STORE_NOTFOUND: return "STORE_NOTFOUND";
	case STORE_RETRY: return "STORE_RETRY";
	case STORE_ERR: return "STORE_ERR";
	case STORE_PANIC: return "STORE_PANIC";
	}
	return "?";
}

static void
setup(void)
{
	char err[512] = "";

	testenv_make("check_store", tmpdir, sizeof(tmpdir), &cfg);
	st = NULL;
	ck_assert_msg(store_open(&cfg, &st, err, sizeof(err)) == 0 && st != NULL,
	    "store_open(%s): got -1 (%s), want 0", tmpdir, err);
	ar = mem_new();
	ck_assert_msg(ar != NULL, "mem_new: got NULL, want an arena");
}

static void
teardown(void)
{
	store_close(st);
	st = NULL;
	mem_free(ar);
	ar = NULL;
	testenv_remove(tmpdir);
}

/* Closes the handle and joins again, with or without recovery in between. */
static void
reopen(int recoveries)
{
	char err[512] = "";

	store_close(st);
	st = NULL;
	for (int i = 0; i < recoveries; i++)
		ck_assert_msg(store_recover(&cfg, err, sizeof(err)) == 0,
		    "store_recover #%d: got -1 (%s), want 0", i + 1, err);
	ck_assert_msg(store_open(&cfg, &st, err, sizeof(err)) == 0,
	    "store_open: got -1 (%s), want 0", err);
}

static struct store_txn *
begin(bool write)
{
	struct store_txn *t = NULL;
	enum store_rc rc = store_begin(st, write, &t);

	ck_assert_msg(rc == STORE_OK && t != NULL, "store_begin(%s): got %s, "
	    "want STORE_OK", write ? "write" : "read", rc_name(rc));
	return t;
}

static void
commit(struct store_txn *t)
{
	enum store_rc rc = store_commit(t);

	ck_assert_msg(rc == STORE_OK, "store_commit: got %s, want STORE_OK",
	    rc_name(rc));
}

/* Puts one record in its own committed transaction. */
static void
put1(enum store_db db, const void *k, size_t kl, const void *v, size_t vl)
{
	struct store_txn *t = begin(true);
	enum store_rc rc = store_put(t, db, k, kl, v, vl);

	ck_assert_msg(rc == STORE_OK, "store_put: got %s, want STORE_OK",
	    rc_name(rc));
	commit(t);
}

/* Reads one record in its own read transaction; the value is in ar. */
static enum store_rc
get1(enum store_db db, const void *k, size_t kl, void **v, size_t *vl)
{
	struct store_txn *t = begin(false);
	enum store_rc rc = store_get(t, db, k, kl, false, ar, v, vl);

	commit(t);
	return rc;
}

struct kv_case {
	enum store_db	 db;
	const char	*key;
	size_t		 klen;
	const char	*val;
	size_t		 vlen;
};

#define KV(db, k, v)	{ (db), (k), sizeof(k) - 1, (v), sizeof(v) - 1 }

static const struct kv_case kv_cases[] = {
	KV(STORE_DB_ITEMS, "k", "v"),
	KV(STORE_DB_ITEMS, "\0\0\0\1users\0alice", "{\"name\":\"Alice\"}"),
	KV(STORE_DB_ITEMS, "key", ""),
	KV(STORE_DB_ITEMS, "\xff\xfe\x00\x01", "\x00\x01\x02"),
	KV(STORE_DB_META, "format-x", "2"),
	KV(STORE_DB_VERSIONS, "a\0b", "c\0d"),
	KV(STORE_DB_REFS, "\x01\x02\x03\x04\x05\x06\x07\x08", "seq"),
	KV(STORE_DB_EVENTS, "e", "{}"),
	KV(STORE_DB_RELREV, "r", "x"),
};

START_TEST(test_put_get_del)
{
	const struct kv_case *tc = &kv_cases[_i];
	struct store_txn *t;
	void *v = NULL;
	size_t vl = 99;
	enum store_rc rc;

	put1(tc->db, tc->key, tc->klen, tc->val, tc->vlen);
	rc = get1(tc->db, tc->key, tc->klen, &v, &vl);
	ck_assert_msg(rc == STORE_OK, "store_get after put: got %s, want "
	    "STORE_OK", rc_name(rc));
	ck_assert_msg(vl == tc->vlen && (vl == 0 || memcmp(v, tc->val, vl) == 0),
	    "store_get: got %zu bytes, want %zu (\"%.*s\")", vl, tc->vlen,
	    (int)tc->vlen, tc->val);

	/* Overwrite, then read in the same write transaction (with rmw). */
	t = begin(true);
	rc = store_put(t, tc->db, tc->key, tc->klen, "new", 3);
	ck_assert_msg(rc == STORE_OK, "store_put over: got %s", rc_name(rc));
	rc = store_get(t, tc->db, tc->key, tc->klen, true, ar, &v, &vl);
	ck_assert_msg(rc == STORE_OK && vl == 3 && memcmp(v, "new", 3) == 0,
	    "store_get(rmw) in the writing txn: got %s (%zu bytes), want "
	    "\"new\"", rc_name(rc), vl);
	commit(t);

	t = begin(true);
	rc = store_del(t, tc->db, tc->key, tc->klen);
	ck_assert_msg(rc == STORE_OK, "store_del: got %s, want STORE_OK",
	    rc_name(rc));
	commit(t);
	rc = get1(tc->db, tc->key, tc->klen, &v, &vl);
	ck_assert_msg(rc == STORE_NOTFOUND, "store_get after del: got %s, want "
	    "STORE_NOTFOUND", rc_name(rc));
}
END_TEST

/* A big value and many records go through unchanged. */
START_TEST(test_put_big)
{
	size_t n = 1 << 20;
	char *big = malloc(n);
	void *v = NULL;
	size_t vl = 0;
	struct store_txn *t;
	enum store_rc rc;

	ck_assert_msg(big != NULL, "malloc: got NULL");
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 131 + 7);
	put1(STORE_DB_VERSIONS, "big", 3, big, n);
	rc = get1(STORE_DB_VERSIONS, "big", 3, &v, &vl);
	ck_assert_msg(rc == STORE_OK && vl == n && memcmp(v, big, n) == 0,
	    "store_get(1 MiB value): got %s and %zu bytes, want the same %zu",
	    rc_name(rc), vl, n);
	free(big);

	t = begin(true);
	for (unsigned i = 0; i < 2000; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%05u", i);
		if ((rc = store_put(t, STORE_DB_ITEMS, k, strlen(k), &i,
		    sizeof(i))) != STORE_OK)
			ck_abort_msg("store_put(%s): got %s", k, rc_name(rc));
	}
	commit(t);
	rc = get1(STORE_DB_ITEMS, "k01999", 6, &v, &vl);
	ck_assert_msg(rc == STORE_OK && vl == sizeof(unsigned) &&
	    *(unsigned *)v == 1999, "store_get(k01999): got %s, want 1999",
	    rc_name(rc));
}
END_TEST

START_TEST(test_abort)
{
	struct store_txn *t;
	void *v = NULL;
	size_t vl = 0;
	enum store_rc rc;

	put1(STORE_DB_ITEMS, "kept", 4, "old", 3);
	t = begin(true);
	ck_assert_msg(store_put(t, STORE_DB_ITEMS, "new", 3, "x", 1) == STORE_OK &&
	    store_put(t, STORE_DB_ITEMS, "kept", 4, "changed", 7) == STORE_OK &&
	    store_del(t, STORE_DB_ITEMS, "kept", 4) == STORE_OK,
	    "writes in the txn to abort: got an error, want STORE_OK");
	store_abort(t);
	rc = get1(STORE_DB_ITEMS, "new", 3, &v, &vl);
	ck_assert_msg(rc == STORE_NOTFOUND, "aborted put: got %s, want "
	    "STORE_NOTFOUND", rc_name(rc));
	rc = get1(STORE_DB_ITEMS, "kept", 4, &v, &vl);
	ck_assert_msg(rc == STORE_OK && vl == 3 && memcmp(v, "old", 3) == 0,
	    "after aborted overwrite and delete: got %s \"%.*s\", want \"old\"",
	    rc_name(rc), rc == STORE_OK ? (int)vl : 0, rc == STORE_OK ?
	    (const char *)v : "");
	/* NULL is fine; an abort with an open cursor closes it. */
	store_abort(NULL);
	t = begin(false);
	{
		struct store_cursor *c = NULL;

		ck_assert_msg(store_cursor_open(t, STORE_DB_ITEMS, &c) == STORE_OK,
		    "store_cursor_open: got an error");
	}
	store_abort(t);
}
END_TEST

struct missing_case {
	enum store_db	 db;
	const char	*key;
	size_t		 klen;
};

#define MISS(db, k)	{ (db), (k), sizeof(k) - 1 }

/* The fixture stores "k" = "v" and "k\0x" in ITEMS first. */
static const struct missing_case missing_cases[] = {
	MISS(STORE_DB_ITEMS, "nope"),
	MISS(STORE_DB_ITEMS, ""),
	MISS(STORE_DB_ITEMS, "K"),
	MISS(STORE_DB_ITEMS, "k "),
	MISS(STORE_DB_ITEMS, "k\0"),
	MISS(STORE_DB_ITEMS, "\0k"),
	MISS(STORE_DB_ITEMS, "kk"),
	MISS(STORE_DB_ITEMS, "k\0xy"),
	MISS(STORE_DB_VERSIONS, "k"),
	MISS(STORE_DB_TENANTS, "\0\0\0\1"),
	MISS(STORE_DB_APIKEYS, "k"),
	MISS(STORE_DB_EVSEQ, "k"),
	MISS(STORE_DB_RELATIONS, "k"),
	MISS(STORE_DB_ITEMS, "\xff"),
	MISS(STORE_DB_ITEMS, "k\xff"),
	MISS(STORE_DB_ITEMS, "j"),
	MISS(STORE_DB_ITEMS, "l"),
	MISS(STORE_DB_REFS, "\0\0\0\0\0\0\0\0"),
	MISS(STORE_DB_META, "formats"),
	MISS(STORE_DB_META, "forma"),
};

START_TEST(test_notfound)
{
	const struct missing_case *tc = &missing_cases[_i];
	struct store_txn *t;
	void *v = (void *)&v;
	size_t vl = 0;
	enum store_rc rc;

	put1(STORE_DB_ITEMS, "k", 1, "v", 1);
	put1(STORE_DB_ITEMS, "k\0x", 3, "v", 1);
	rc = get1(tc->db, tc->key, tc->klen, &v, &vl);
	ck_assert_msg(rc == STORE_NOTFOUND, "store_get(db %d, \"%.*s\"): got %s, "
	    "want STORE_NOTFOUND", (int)tc->db, (int)tc->klen, tc->key,
	    rc_name(rc));
	/* Deleting what is not there is fine, and rmw reads see nothing too. */
	t = begin(true);
	rc = store_del(t, tc->db, tc->key, tc->klen);
	ck_assert_msg(rc == STORE_OK, "store_del(missing): got %s, want STORE_OK",
	    rc_name(rc));
	rc = store_get(t, tc->db, tc->key, tc->klen, true, ar, &v, &vl);
	ck_assert_msg(rc == STORE_NOTFOUND, "store_get(rmw, missing): got %s, "
	    "want STORE_NOTFOUND", rc_name(rc));
	commit(t);
	rc = get1(STORE_DB_ITEMS, "k", 1, &v, &vl);
	ck_assert_msg(rc == STORE_OK, "the neighbour \"k\": got %s, want STORE_OK",
	    rc_name(rc));
}
END_TEST

/* The keys the cursor tests run over, in byte order. */
static const struct {
	const char	*k;
	size_t		 len;
} cursor_keys[] = {
	{ "b", 1 }, { "d", 1 }, { "d\0", 2 }, { "dd", 2 }, { "f", 1 },
};

static void
put_cursor_keys(void)
{
	struct store_txn *t = begin(true);

	for (int i = 0; i < NCASES(cursor_keys); i++) {
		char v[16];

		snprintf(v, sizeof(v), "v%d", i);
		ck_assert_msg(store_put(t, STORE_DB_EVENTS, cursor_keys[i].k,
		    cursor_keys[i].len, v, strlen(v)) == STORE_OK,
		    "store_put(cursor key %d): got an error", i);
	}
	commit(t);
}

struct seek_case {
	enum store_seek	 how;
	const char	*key;
	size_t		 klen;
	int		 want;     /* index in cursor_keys; -1: STORE_NOTFOUND */
};

#define SEEK(how, k, w)	{ (how), (k), sizeof(k) - 1, (w) }

static const struct seek_case seek_cases[] = {
	/* Exact. */
	SEEK(STORE_SEEK_GE, "b", 0),
	SEEK(STORE_SEEK_GE, "d", 1),
	SEEK(STORE_SEEK_GE, "f", 4),
	SEEK(STORE_SEEK_LE, "b", 0),
	SEEK(STORE_SEEK_LE, "d", 1),
	SEEK(STORE_SEEK_LE, "d\0", 2),
	SEEK(STORE_SEEK_LE, "f", 4),
	/* Between keys. */
	SEEK(STORE_SEEK_GE, "c", 1),
	SEEK(STORE_SEEK_GE, "d\0\0", 3),
	SEEK(STORE_SEEK_GE, "e", 4),
	SEEK(STORE_SEEK_LE, "c", 0),
	SEEK(STORE_SEEK_LE, "d\0\0", 2),
	SEEK(STORE_SEEK_LE, "da", 2),
	SEEK(STORE_SEEK_LE, "e", 3),
	SEEK(STORE_SEEK_LE, "ddd", 3),
	/* Before the first and after the last. */
	SEEK(STORE_SEEK_GE, "", 0),
	SEEK(STORE_SEEK_GE, "a", 0),
	SEEK(STORE_SEEK_LE, "z", 4),
	SEEK(STORE_SEEK_LE, "\xff\xff", 4),
	SEEK(STORE_SEEK_LE, "a", -1),
	SEEK(STORE_SEEK_LE, "", -1),
	SEEK(STORE_SEEK_LE, "a\xff", -1),
	SEEK(STORE_SEEK_GE, "g", -1),
	SEEK(STORE_SEEK_GE, "f\0", -1),
	SEEK(STORE_SEEK_GE, "\xff", -1),
};

START_TEST(test_cursor_seek)
{
	const struct seek_case *tc = &seek_cases[_i];
	struct store_txn *t;
	struct store_cursor *c = NULL;
	const void *k = NULL, *v = NULL;
	size_t kl = 0, vl = 0;
	enum store_rc rc;

	put_cursor_keys();
	t = begin(false);
	ck_assert_msg(store_cursor_open(t, STORE_DB_EVENTS, &c) == STORE_OK,
	    "store_cursor_open: got an error, want STORE_OK");
	rc = store_cursor_get(c, tc->how, tc->key, tc->klen, &k, &kl, &v, &vl);
	if (tc->want < 0) {
		ck_assert_msg(rc == STORE_NOTFOUND, "%s \"%.*s\": got %s (\"%.*s\"), "
		    "want STORE_NOTFOUND", tc->how == STORE_SEEK_GE ? "SEEK_GE" :
		    "SEEK_LE", (int)tc->klen, tc->key, rc_name(rc),
		    rc == STORE_OK ? (int)kl : 0, rc == STORE_OK ? (const char *)k : "");
	} else {
		char want_v[16];

		snprintf(want_v, sizeof(want_v), "v%d", tc->want);
		ck_assert_msg(rc == STORE_OK && kl == cursor_keys[tc->want].len &&
		    memcmp(k, cursor_keys[tc->want].k, kl) == 0,
		    "%s \"%.*s\": got %s \"%.*s\" (%zu bytes), want key #%d",
		    tc->how == STORE_SEEK_GE ? "SEEK_GE" : "SEEK_LE",
		    (int)tc->klen, tc->key, rc_name(rc), rc == STORE_OK ?
		    (int)kl : 0, rc == STORE_OK ? (const char *)k : "", kl,
		    tc->want);
		ck_assert_msg(vl == strlen(want_v) && memcmp(v, want_v, vl) == 0,
		    "value: got \"%.*s\", want \"%s\"", (int)vl, (const char *)v,
		    want_v);
	}
	store_cursor_close(c);
	commit(t);
}
END_TEST

/* FIRST, NEXT to the end and past it; LAST, PREV to the start and past it. */
START_TEST(test_cursor_walk)
{
	struct store_txn *t;
	struct store_cursor *c = NULL;
	const void *k = NULL, *v = NULL;
	size_t kl = 0, vl = 0;
	enum store_rc rc;
	int n = NCASES(cursor_keys);

	put_cursor_keys();
	t = begin(false);
	ck_assert_msg(store_cursor_open(t, STORE_DB_EVENTS, &c) == STORE_OK,
	    "store_cursor_open: got an error");
	for (int i = 0; i < n; i++) {
		rc = store_cursor_get(c, i == 0 ? STORE_SEEK_FIRST : STORE_NEXT,
		    NULL, 0, &k, &kl, &v, &vl);
		ck_assert_msg(rc == STORE_OK && kl == cursor_keys[i].len &&
		    memcmp(k, cursor_keys[i].k, kl) == 0, "forward step %d: got %s, "
		    "want key #%d", i, rc_name(rc), i);
	}
	rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	ck_assert_msg(rc == STORE_NOTFOUND, "NEXT after the last: got %s, want "
	    "STORE_NOTFOUND", rc_name(rc));
	for (int i = n - 1; i >= 0; i--) {
		rc = store_cursor_get(c, i == n - 1 ? STORE_SEEK_LAST : STORE_PREV,
		    NULL, 0, &k, &kl, &v, &vl);
		ck_assert_msg(rc == STORE_OK && kl == cursor_keys[i].len &&
		    memcmp(k, cursor_keys[i].k, kl) == 0, "backward step %d: got "
		    "%s, want key #%d", i, rc_name(rc), i);
	}
	rc = store_cursor_get(c, STORE_PREV, NULL, 0, &k, &kl, &v, &vl);
	ck_assert_msg(rc == STORE_NOTFOUND, "PREV before the first: got %s, want "
	    "STORE_NOTFOUND", rc_name(rc));
	/* SEEK_LE then NEXT continues in order. */
	rc = store_cursor_get(c, STORE_SEEK_LE, "c", 1, &k, &kl, &v, &vl);
	ck_assert_msg(rc == STORE_OK && kl == 1 && memcmp(k, "b", 1) == 0,
	    "SEEK_LE c: got %s, want b", rc_name(rc));
	rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	ck_assert_msg(rc == STORE_OK && kl == 1 && memcmp(k, "d", 1) == 0,
	    "NEXT after SEEK_LE c: got %s, want d", rc_name(rc));
	/* Commit closes a cursor left open. */
	commit(t);
}
END_TEST

/* Every move on an empty database finds nothing. */
START_TEST(test_cursor_empty)
{
	static const enum store_seek moves[] = {
		STORE_SEEK_GE, STORE_SEEK_LE, STORE_SEEK_FIRST, STORE_SEEK_LAST,
	};
	struct store_txn *t = begin(false);
	struct store_cursor *c = NULL;
	const void *k, *v;
	size_t kl, vl;

	ck_assert_msg(store_cursor_open(t, STORE_DB_RELATIONS, &c) == STORE_OK,
	    "store_cursor_open: got an error");
	for (int i = 0; i < NCASES(moves); i++) {
		enum store_rc rc = store_cursor_get(c, moves[i], "m", 1, &k, &kl,
		    &v, &vl);

		ck_assert_msg(rc == STORE_NOTFOUND, "move %d on an empty db: got "
		    "%s, want STORE_NOTFOUND", (int)moves[i], rc_name(rc));
	}
	store_cursor_close(c);
	store_cursor_close(NULL);
	commit(t);
}
END_TEST

START_TEST(test_cursor_del)
{
	struct store_txn *t;
	struct store_cursor *c = NULL;
	const void *k, *v;
	size_t kl, vl;
	void *gv;
	size_t gvl;
	enum store_rc rc;

	put_cursor_keys();
	t = begin(true);
	ck_assert_msg(store_cursor_open(t, STORE_DB_EVENTS, &c) == STORE_OK,
	    "store_cursor_open: got an error");
	rc = store_cursor_get(c, STORE_SEEK_GE, "d", 1, &k, &kl, &v, &vl);
	ck_assert_msg(rc == STORE_OK, "SEEK_GE d: got %s", rc_name(rc));
	rc = store_cursor_del(c);
	ck_assert_msg(rc == STORE_OK, "store_cursor_del: got %s, want STORE_OK",
	    rc_name(rc));
	rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	ck_assert_msg(rc == STORE_OK && kl == 2 && memcmp(k, "d\0", 2) == 0,
	    "NEXT after the delete: got %s, want \"d\\0\"", rc_name(rc));
	store_cursor_close(c);
	commit(t);
	rc = get1(STORE_DB_EVENTS, "d", 1, &gv, &gvl);
	ck_assert_msg(rc == STORE_NOTFOUND, "get(d) after cursor delete: got %s, "
	    "want STORE_NOTFOUND", rc_name(rc));
	rc = get1(STORE_DB_EVENTS, "d\0", 2, &gv, &gvl);
	ck_assert_msg(rc == STORE_OK, "get(d\\0), the neighbour: got %s, want "
	    "STORE_OK", rc_name(rc));
}
END_TEST

/* The records delete_prefix runs over. */
static const struct {
	const char	*k;
	size_t		 len;
} prefix_keys[] = {
	{ "aa", 2 }, { "ab", 2 }, { "ab\0", 3 }, { "ab\0x", 4 }, { "ab\0yy", 5 },
	{ "ab\x01", 3 }, { "abc", 3 }, { "b", 1 },
};

struct prefix_case {
	const char	*prefix;
	size_t		 plen;
	uint64_t	 n;
	const char	*gone;     /* one char per prefix_keys row: 'x' deleted */
};

#define PFX(p, n, gone)	{ (p), sizeof(p) - 1, (n), (gone) }

static const struct prefix_case prefix_cases[] = {
	PFX("ab\0", 3, "..xxx..."),
	PFX("ab\0x", 1, "...x...."),
	PFX("ab\0y", 1, "....x..."),
	PFX("ab", 6, ".xxxxxx."),
	PFX("abc", 1, "......x."),
	PFX("a", 7, "xxxxxxx."),
	PFX("", 8, "xxxxxxxx"),
	PFX("b", 1, ".......x"),
	PFX("abcd", 0, "........"),
	PFX("ab\0xy", 0, "........"),
	PFX("ab\x02", 0, "........"),
	PFX("zz", 0, "........"),
	PFX("A", 0, "........"),
	PFX("\0", 0, "........"),
};

START_TEST(test_delete_prefix)
{
	const struct prefix_case *tc = &prefix_cases[_i];
	struct store_txn *t = begin(true);
	uint64_t n = 999;
	enum store_rc rc;

	for (int i = 0; i < NCASES(prefix_keys); i++)
		ck_assert_msg(store_put(t, STORE_DB_REFS, prefix_keys[i].k,
		    prefix_keys[i].len, "v", 1) == STORE_OK, "store_put: got an "
		    "error");
	/* The same keys in another database must not be touched. */
	for (int i = 0; i < NCASES(prefix_keys); i++)
		ck_assert_msg(store_put(t, STORE_DB_VERSIONS, prefix_keys[i].k,
		    prefix_keys[i].len, "v", 1) == STORE_OK, "store_put: got an "
		    "error");
	commit(t);

	t = begin(true);
	rc = store_delete_prefix(t, STORE_DB_REFS, tc->prefix, tc->plen, &n);
	ck_assert_msg(rc == STORE_OK, "store_delete_prefix(\"%.*s\", %zu): got %s, "
	    "want STORE_OK", (int)tc->plen, tc->prefix, tc->plen, rc_name(rc));
	ck_assert_msg(n == tc->n, "store_delete_prefix(\"%.*s\", %zu): got %" PRIu64
	    " deleted, want %" PRIu64, (int)tc->plen, tc->prefix, tc->plen, n,
	    tc->n);
	commit(t);
	for (int i = 0; i < NCASES(prefix_keys); i++) {
		void *v;
		size_t vl;
		bool gone = tc->gone[i] == 'x';

		rc = get1(STORE_DB_REFS, prefix_keys[i].k, prefix_keys[i].len, &v,
		    &vl);
		ck_assert_msg(rc == (gone ? STORE_NOTFOUND : STORE_OK),
		    "after delete_prefix(\"%.*s\", %zu), key #%d (\"%.*s\", %zu "
		    "bytes): got %s, want %s", (int)tc->plen, tc->prefix, tc->plen,
		    i, (int)prefix_keys[i].len, prefix_keys[i].k,
		    prefix_keys[i].len, rc_name(rc), gone ? "deleted" : "kept");
		rc = get1(STORE_DB_VERSIONS, prefix_keys[i].k, prefix_keys[i].len,
		    &v, &vl);
		ck_assert_msg(rc == STORE_OK, "other database, key #%d: got %s, "
		    "want STORE_OK", i, rc_name(rc));
	}
}
END_TEST

/* Committed data survives a clean close, recovery and reopen. */
START_TEST(test_restart)
{
	void *v = NULL;
	size_t vl = 0;
	enum store_rc rc;

	put1(STORE_DB_ITEMS, "durable", 7, "yes", 3);
	put1(STORE_DB_ITEMS, "deleted", 7, "no", 2);
	{
		struct store_txn *t = begin(true);

		ck_assert_msg(store_del(t, STORE_DB_ITEMS, "deleted", 7) == STORE_OK,
		    "store_del: got an error");
		commit(t);
	}
	/* Left open across the restart: an aborted txn's writes never appear. */
	{
		struct store_txn *t = begin(true);

		ck_assert_msg(store_put(t, STORE_DB_ITEMS, "aborted", 7, "x", 1) ==
		    STORE_OK, "store_put: got an error");
		store_abort(t);
	}
	reopen(1);
	rc = get1(STORE_DB_ITEMS, "durable", 7, &v, &vl);
	ck_assert_msg(rc == STORE_OK && vl == 3 && memcmp(v, "yes", 3) == 0,
	    "after restart: got %s, want \"yes\"", rc_name(rc));
	rc = get1(STORE_DB_ITEMS, "deleted", 7, &v, &vl);
	ck_assert_msg(rc == STORE_NOTFOUND, "deleted key after restart: got %s, "
	    "want STORE_NOTFOUND", rc_name(rc));
	rc = get1(STORE_DB_ITEMS, "aborted", 7, &v, &vl);
	ck_assert_msg(rc == STORE_NOTFOUND, "aborted key after restart: got %s, "
	    "want STORE_NOTFOUND", rc_name(rc));
	/* A reopen without recovery sees the same. */
	reopen(0);
	rc = get1(STORE_DB_ITEMS, "durable", 7, &v, &vl);
	ck_assert_msg(rc == STORE_OK, "after reopen: got %s, want STORE_OK",
	    rc_name(rc));
}
END_TEST

START_TEST(test_recover_twice)
{
	void *v = NULL;
	size_t vl = 0;
	enum store_rc rc;

	put1(STORE_DB_META, "x", 1, "1", 1);
	reopen(2);
	rc = get1(STORE_DB_META, "x", 1, &v, &vl);
	ck_assert_msg(rc == STORE_OK && vl == 1 && memcmp(v, "1", 1) == 0,
	    "after two recoveries: got %s, want \"1\"", rc_name(rc));
	/* The format version is written once and kept. */
	rc = get1(STORE_DB_META, "format", 6, &v, &vl);
	ck_assert_msg(rc == STORE_OK && vl == strlen(STORE_FORMAT_VERSION) &&
	    memcmp(v, STORE_FORMAT_VERSION, vl) == 0,
	    "meta \"format\": got %s, want \"%s\"", rc_name(rc),
	    STORE_FORMAT_VERSION);
	ck_assert_msg(store_failchk(st) == 0, "store_failchk after recoveries: "
	    "got -1, want 0");
}
END_TEST

START_TEST(test_maintenance)
{
	struct buf b;
	void *v;
	size_t vl;

	ck_assert_msg(!store_panicked(st), "store_panicked: got true, want false");
	ck_assert_msg(store_failchk(st) == 0, "store_failchk: got -1, want 0");
	for (int i = 0; i < 200; i++) {
		char k[16];

		snprintf(k, sizeof(k), "c%03d", i);
		put1(STORE_DB_ITEMS, k, strlen(k), k, strlen(k));
	}
	ck_assert_msg(store_checkpoint(st, true) == 0, "store_checkpoint(force): "
	    "got -1, want 0");
	ck_assert_msg(store_checkpoint(st, false) == 0, "store_checkpoint: got -1, "
	    "want 0");
	ck_assert_msg(get1(STORE_DB_ITEMS, "c199", 4, &v, &vl) == STORE_OK,
	    "get after checkpoint: got an error, want STORE_OK");
	ck_assert_msg(store_failchk(st) == 0, "store_failchk after writes: got "
	    "-1, want 0");

	buf_init(&b, 0);
	ck_assert_msg(store_stats(st, &b) == 0, "store_stats: got -1, want 0");
	ck_assert_msg(b.b_len > 0 && b.b_data != NULL, "store_stats: got no text, "
	    "want some");
	ck_assert_msg(strstr(b.b_data, "lock") != NULL &&
	    strstr(b.b_data, "log") != NULL && strstr(b.b_data, "cache") != NULL &&
	    strstr(b.b_data, "transaction") != NULL, "store_stats: got \"%s\", "
	    "want locks, log, cache and transactions", b.b_data);
	buf_free(&b);
}
END_TEST

/* Reads key in a store opened by this process; an exit status for the child. */
static int
child_main(void)
{
	struct store *s = NULL;
	struct store_txn *t = NULL;
	struct arena *a = mem_new();
	char err[256];
	void *v = NULL;
	size_t vl = 0;
	int status = 0;

	if (a == NULL || store_open(&cfg, &s, err, sizeof(err)) != 0)
		return 10;
	if (store_begin(s, true, &t) != STORE_OK)
		status = 11;
	else if (store_get(t, STORE_DB_ITEMS, "parent", 6, false, a, &v, &vl) !=
	    STORE_OK)
		status = 12;
	else if (vl != 5 || memcmp(v, "hello", 5) != 0)
		status = 13;
	else if (store_put(t, STORE_DB_ITEMS, "child", 5, "hi", 2) != STORE_OK)
		status = 14;
	if (t != NULL && status == 0 && store_commit(t) != STORE_OK)
		status = 15;
	else if (t != NULL && status != 0)
		store_abort(t);
	store_close(s);
	mem_free(a);
	return status;
}

/*
 * A handle never crosses fork: the parent closes, the child opens its own,
 * sees the parent's committed data and commits its own, which the parent
 * sees after opening again.
 */
START_TEST(test_fork)
{
	int status = -1;
	pid_t pid;
	void *v = NULL;
	size_t vl = 0;
	enum store_rc rc;

	put1(STORE_DB_ITEMS, "parent", 6, "hello", 5);
	store_close(st);
	st = NULL;
	pid = fork();
	ck_assert_msg(pid != -1, "fork: got -1, want a child");
	if (pid == 0)
		_exit(child_main());
	ck_assert_msg(waitpid(pid, &status, 0) == pid, "waitpid: got an error");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child: got exit status %d (10 open, 11 begin, 12 get, 13 value, "
	    "14 put, 15 commit), want 0", WIFEXITED(status) ?
	    WEXITSTATUS(status) : -1);
	reopen(0);
	rc = get1(STORE_DB_ITEMS, "child", 5, &v, &vl);
	ck_assert_msg(rc == STORE_OK && vl == 2 && memcmp(v, "hi", 2) == 0,
	    "the child's write: got %s, want \"hi\"", rc_name(rc));
	ck_assert_msg(store_failchk(st) == 0, "store_failchk after the child "
	    "exited: got -1, want 0");
}
END_TEST

/* Opening where there is no environment, or none can be made, fails. */
START_TEST(test_open_errors)
{
	struct config bad;
	struct store *s = NULL;
	char err[512] = "", path[600];
	int rc;

	/* An empty directory that was never recovered has no databases. */
	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	ck_assert_msg(mkdir(path, 0700) == 0, "mkdir(%s): got an error", path);
	memcpy(&bad, &cfg, sizeof(bad));
	snprintf(bad.datadir, sizeof(bad.datadir), "%s", path);
	rc = store_open(&bad, &s, err, sizeof(err));
	ck_assert_msg(rc == -1 && err[0] != '\0', "store_open(empty dir): got %d "
	    "(%s), want -1 and a message", rc, err);
	/* A data directory that cannot exist. */
	err[0] = '\0';
	snprintf(bad.datadir, sizeof(bad.datadir), "/dev/null/orchid");
	rc = store_open(&bad, &s, err, sizeof(err));
	ck_assert_msg(rc == -1 && err[0] != '\0', "store_open(/dev/null/orchid): "
	    "got %d, want -1 and a message", rc);
	err[0] = '\0';
	rc = store_recover(&bad, err, sizeof(err));
	ck_assert_msg(rc == -1 && err[0] != '\0', "store_recover(/dev/null/orchid): "
	    "got %d, want -1 and a message", rc);
	store_close(NULL);
}
END_TEST

START_TEST(test_backup)
{
	char dir[600], err[512] = "", file[700];

	put1(STORE_DB_ITEMS, "k", 1, "v", 1);
	snprintf(dir, sizeof(dir), "%s/backup", tmpdir);
	ck_assert_msg(store_backup(st, dir, NULL, NULL, err, sizeof(err)) == 0,
	    "store_backup(%s): got -1 (%s), want 0", dir, err);
	snprintf(file, sizeof(file), "%s/items.db", dir);
	ck_assert_msg(access(file, R_OK) == 0, "backup: got no %s, want it", file);
	/* A second backup into the same, now non-empty, directory is refused. */
	err[0] = '\0';
	ck_assert_msg(store_backup(st, dir, NULL, NULL, err, sizeof(err)) == -1 &&
	    err[0] != '\0', "store_backup(non-empty %s): got 0, want -1", dir);
}
END_TEST

/* A backup's progress: the bytes and files it was told of. */
struct seen_progress {
	int calls, ended;
	struct store_progress last;
};

static void
note_progress(void *arg, const struct store_progress *p)
{
	struct seen_progress *sp = arg;

	sp->calls++;
	sp->ended += p->file == NULL;
	sp->last = *p;
	sp->last.file = NULL;
}

/* backup, restore and verify tell their progress: every file, bytes that
 * add up, and an end. */
START_TEST(test_progress)
{
	char dir[600], err[512] = "";
	struct config rcfg;
	struct seen_progress b = { 0 }, r = { 0 }, v = { 0 };
	struct buf out;

	put1(STORE_DB_ITEMS, "k", 1, "v", 1);
	snprintf(dir, sizeof(dir), "%s/backup", tmpdir);
	ck_assert_msg(store_backup(st, dir, note_progress, &b, err, sizeof(err)) == 0,
	    "store_backup(%s): got -1 (%s), want 0", dir, err);
	ck_assert_msg(b.calls > 0 && b.ended == 1 && b.last.files > 0 &&
	    b.last.files_done >= b.last.files && b.last.bytes_done >= b.last.bytes &&
	    b.last.bytes > 0, "backup progress: got %d calls, %d ends, %u of %u files, "
	    "%" PRIu64 " of %" PRIu64 " bytes; want every file and byte, one end", b.calls,
	    b.ended, b.last.files_done, b.last.files, b.last.bytes_done, b.last.bytes);
	memcpy(&rcfg, &cfg, sizeof(rcfg));
	snprintf(rcfg.datadir, sizeof(rcfg.datadir), "%s/restored", tmpdir);
	ck_assert_msg(mkdir(rcfg.datadir, 0700) == 0, "mkdir %s: got -1, want 0",
	    rcfg.datadir);
	ck_assert_msg(store_restore(&rcfg, dir, NULL, note_progress, &r, err, sizeof(err)) == 0,
	    "store_restore(%s): got -1 (%s), want 0", dir, err);
	ck_assert_msg(r.ended == 1 && r.last.files > 0 && r.last.files_done == r.last.files &&
	    r.last.bytes_done == r.last.bytes, "restore progress: got %d ends, %u of %u "
	    "files, %" PRIu64 " of %" PRIu64 " bytes; want all, one end", r.ended,
	    r.last.files_done, r.last.files, r.last.bytes_done, r.last.bytes);
	buf_init(&out, 0);
	ck_assert_msg(store_verify(&rcfg, &out, note_progress, &v) == 0,
	    "store_verify(%s): got -1 (%s), want 0", rcfg.datadir, out.b_data);
	buf_free(&out);
	ck_assert_msg(v.ended == 1 && v.last.files == STORE_DB_COUNT + 1 &&
	    v.last.files_done == v.last.files && v.last.bytes_done == v.last.bytes,
	    "verify progress: got %d ends, %u of %u files, %" PRIu64 " of %" PRIu64
	    " bytes; want %d files, all, one end", v.ended, v.last.files_done,
	    v.last.files, v.last.bytes_done, v.last.bytes, STORE_DB_COUNT + 1);
}
END_TEST

/* What a directory looks like: its entries with size and time, in order.
 * Not "..": the parent's time changes with whatever else happens in it
 * (CI run 22 saw it change during a probe). */
static void
dir_snapshot(const char *dir, char *out, size_t len)
{
	struct dirent **names;
	char path[1200];
	struct stat sb;
	size_t used = 0;
	int n = scandir(dir, &names, NULL, alphasort);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (strcmp(names[i]->d_name, "..") != 0 && stat(path, &sb) == 0 && used < len)
			used += (size_t)snprintf(out + used, len - used, "%s:%lld:%lld.%09ld;",
			    names[i]->d_name, (long long)sb.st_size,
			    (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

/* How a probe case prepares its path (under tmpdir, or tmpdir itself). */
enum probe_setup {
	PS_MISSING, PS_FILE, PS_EMPTY, PS_LOCK_ONLY, PS_FOREIGN, PS_JUNK_META,
	PS_ENV, PS_FORMAT, PS_NO_FORMAT
};

static const struct probe_case {
	const char *name;
	enum probe_setup setup;
	const char *write;        /* the format written into the environment */
	enum store_probe want;
	const char *format;       /* wanted back */
} probe_cases[] = {
	{ "missing", PS_MISSING, NULL, STORE_PROBE_MISSING, "" },
	{ "a file", PS_FILE, NULL, STORE_PROBE_NOTDIR, "" },
	{ "empty", PS_EMPTY, NULL, STORE_PROBE_EMPTY, "" },
	{ "a lock file only", PS_LOCK_ONLY, NULL, STORE_PROBE_EMPTY, "" },
	{ "other files", PS_FOREIGN, NULL, STORE_PROBE_FOREIGN, "" },
	{ "meta.db not a database", PS_JUNK_META, NULL, STORE_PROBE_FOREIGN, "" },
	{ "environment (open)", PS_ENV, NULL, STORE_PROBE_ENV, STORE_FORMAT_VERSION },
	{ "format 1", PS_FORMAT, STORE_FORMAT_OLD, STORE_PROBE_ENV, STORE_FORMAT_OLD },
	{ "format 9", PS_FORMAT, "9", STORE_PROBE_FORMAT, "9" },
	{ "a format with a control byte", PS_FORMAT, "10.2-beta\x01x", STORE_PROBE_FORMAT,
	  "10.2-beta?x" },
	{ "format unset", PS_NO_FORMAT, NULL, STORE_PROBE_ENV, "" },
};

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL && fwrite(data, 1, len, f) == len && fclose(f) == 0,
	    "writing %s: got an error, want none", path);
}

/* Sets meta.db's format (NULL: deletes it) and checkpoints, so that the
 * file on disk has it, as orchidd's maintainer would. */
static void
set_format(const char *format)
{
	struct store_txn *t = begin(true);
	enum store_rc rc = format != NULL ?
	    store_put(t, STORE_DB_META, "format", 6, format, strlen(format)) :
	    store_del(t, STORE_DB_META, "format", 6);

	ck_assert_msg(rc == STORE_OK, "setting the format: got %s, want STORE_OK",
	    rc_name(rc));
	commit(t);
	ck_assert_msg(store_checkpoint(st, true) == 0, "store_checkpoint: got -1, want 0");
}

/* Makes the path of a probe case; returns it in path. */
static void
probe_prepare(const struct probe_case *tc, char *path, size_t len)
{
	char f[1200];

	snprintf(path, len, "%s/probed", tmpdir);
	switch (tc->setup) {
	case PS_MISSING:
		break;
	case PS_FILE:
		write_file(path, "x", 1);
		break;
	case PS_EMPTY:
	case PS_LOCK_ONLY:
	case PS_FOREIGN:
	case PS_JUNK_META:
		ck_assert_msg(mkdir(path, 0700) == 0, "mkdir %s: got -1, want 0", path);
		snprintf(f, sizeof(f), "%s/%s", path, tc->setup == PS_LOCK_ONLY ?
		    "orchidd.lock" : tc->setup == PS_FOREIGN ? "notes.txt" : "meta.db");
		if (tc->setup == PS_JUNK_META) {
			static const char junk[] = "this is not a Berkeley DB file, and it "
			    "is long enough to be read as a meta page by the open ..........";

			write_file(f, junk, sizeof(junk) - 1);
		}
		else if (tc->setup != PS_EMPTY)
			write_file(f, "", 0);
		break;
	case PS_ENV:
	case PS_FORMAT:
	case PS_NO_FORMAT:
		/* The fixture's environment, open as under a running orchidd. */
		snprintf(path, len, "%s", tmpdir);
		if (tc->setup != PS_ENV)
			set_format(tc->write);
		break;
	}
}

/* store_probe tells each kind of directory apart, and creates or changes
 * nothing there. */
START_TEST(test_probe)
{
	const struct probe_case *tc = &probe_cases[_i];
	char path[1100], before[8192], after[8192], format[32] = "x", err[512] = "";
	enum store_probe got;

	probe_prepare(tc, path, sizeof(path));
	dir_snapshot(path, before, sizeof(before));
	got = store_probe(path, format, sizeof(format), err, sizeof(err));
	dir_snapshot(path, after, sizeof(after));
	ck_assert_msg(got == tc->want, "store_probe(%s): got %d (%s), want %d", tc->name,
	    (int)got, err, (int)tc->want);
	ck_assert_msg(strcmp(format, tc->format) == 0, "store_probe(%s): got format \"%s\", want \"%s\"",
	    tc->name, format, tc->format);
	ck_assert_msg(strcmp(before, after) == 0, "store_probe(%s) changed the "
	    "directory: got %s, want %s", tc->name, after, before);
	if (tc->setup == PS_MISSING)
		ck_assert_msg(access(path, F_OK) == -1, "store_probe(missing): got %s "
		    "created, want nothing", path);
}
END_TEST

/* A format longer than the caller's buffer is cut, still unknown. */
START_TEST(test_probe_small_buffer)
{
	char format[3] = "", err[512] = "";
	enum store_probe got;

	set_format("12345");
	got = store_probe(tmpdir, format, sizeof(format), err, sizeof(err));
	ck_assert_msg(got == STORE_PROBE_FORMAT && strcmp(format, "12") == 0,
	    "store_probe(format 12345, 3 bytes): got %d \"%s\", want %d \"12\"",
	    (int)got, format, (int)STORE_PROBE_FORMAT);
}
END_TEST

/* Tenants: ids from 1, found again by name, in the same and later txns. */
START_TEST(test_tenants_ensure)
{
	static const struct {
		const char *name;
		uint32_t id;
		int created;
	} steps[] = {
		{ "acme", 1, 1 }, { "beta", 2, 1 }, { "acme", 1, 0 },
		{ "beta", 2, 0 }, { "gamma", 3, 1 }, { "Acme", 4, 1 },
	};
	struct store_txn *t;
	uint32_t id = 0;
	int created = -1;
	enum store_rc rc;

	for (int i = 0; i < NCASES(steps); i++) {
		t = begin(true);
		rc = tenants_ensure(t, ar, steps[i].name, &id, &created);
		ck_assert_msg(rc == STORE_OK && id == steps[i].id &&
		    created == steps[i].created, "tenants_ensure(%s): got %s id %"
		    PRIu32 " created %d, want id %" PRIu32 " created %d",
		    steps[i].name, rc_name(rc), id, created, steps[i].id,
		    steps[i].created);
		/* Twice in one transaction: found the second time. */
		rc = tenants_ensure(t, ar, steps[i].name, &id, &created);
		ck_assert_msg(rc == STORE_OK && id == steps[i].id && created == 0,
		    "tenants_ensure(%s) again: got %s id %" PRIu32 " created %d",
		    steps[i].name, rc_name(rc), id, created);
		commit(t);
	}
	t = begin(false);
	rc = tenants_find(t, "gamma", &id);
	ck_assert_msg(rc == STORE_OK && id == 3, "tenants_find(gamma): got %s %"
	    PRIu32 ", want 3", rc_name(rc), id);
	rc = tenants_find(t, "nobody", &id);
	ck_assert_msg(rc == STORE_NOTFOUND, "tenants_find(nobody): got %s, want "
	    "STORE_NOTFOUND", rc_name(rc));
	rc = tenants_find(t, "acm", &id);
	ck_assert_msg(rc == STORE_NOTFOUND, "tenants_find(acm): got %s, want "
	    "STORE_NOTFOUND", rc_name(rc));
	rc = tenants_find(t, "acmee", &id);
	ck_assert_msg(rc == STORE_NOTFOUND, "tenants_find(acmee): got %s, want "
	    "STORE_NOTFOUND", rc_name(rc));
	commit(t);
	/* A tenant created in an aborted txn does not take its id. */
	t = begin(true);
	rc = tenants_ensure(t, ar, "ghost", &id, &created);
	ck_assert_msg(rc == STORE_OK && id == 5, "tenants_ensure(ghost): got %s %"
	    PRIu32 ", want 5", rc_name(rc), id);
	store_abort(t);
	t = begin(true);
	rc = tenants_ensure(t, ar, "delta", &id, &created);
	ck_assert_msg(rc == STORE_OK && id == 5 && created == 1,
	    "tenants_ensure(delta) after abort: got %s %" PRIu32 ", want 5",
	    rc_name(rc), id);
	commit(t);
}
END_TEST

#define KEY1	"f0f2fd80-5d6b-443f-b259-caacb471c6ad"
#define KEY1_ID	"d2b4fec2dff30a2c"   /* sha256sum of KEY1, first 8 bytes */
#define KEY2	"0a1b2c3d-0000-4000-8000-000000000001"
#define KEY2_ID	"1fcf3b1435bd318e"

struct auth_case {
	const char	*key;
	enum store_rc	 rc;
	uint32_t	 tenant;
};

/* After KEY1 -> tenant 1 and KEY2 -> tenant 2. */
static const struct auth_case auth_cases[] = {
	{ KEY1, STORE_OK, 1 },
	{ KEY2, STORE_OK, 2 },
	{ "", STORE_NOTFOUND, 0 },
	{ "wrong", STORE_NOTFOUND, 0 },
	{ "F0F2FD80-5D6B-443F-B259-CAACB471C6AD", STORE_NOTFOUND, 0 },
	{ "f0f2fd80-5d6b-443f-b259-caacb471c6a", STORE_NOTFOUND, 0 },
	{ KEY1 " ", STORE_NOTFOUND, 0 },
	{ KEY1_ID, STORE_NOTFOUND, 0 },
};

static void
add_two_keys(void)
{
	struct store_txn *t = begin(true);
	uint32_t id;
	int created;

	ck_assert_msg(tenants_ensure(t, ar, "acme", &id, &created) == STORE_OK &&
	    id == 1, "tenants_ensure(acme): got an error or id != 1");
	ck_assert_msg(tenants_ensure(t, ar, "beta", &id, &created) == STORE_OK &&
	    id == 2, "tenants_ensure(beta): got an error or id != 2");
	ck_assert_msg(tenants_add_key(t, 1, KEY1, INT64_C(1411421154480)) ==
	    STORE_OK, "tenants_add_key(KEY1): got an error");
	ck_assert_msg(tenants_add_key(t, 2, KEY2, INT64_C(1411421154480)) ==
	    STORE_OK, "tenants_add_key(KEY2): got an error");
	commit(t);
}

START_TEST(test_tenants_auth)
{
	const struct auth_case *tc = &auth_cases[_i];
	struct store_txn *t;
	uint32_t tenant = 999;
	enum store_rc rc;

	add_two_keys();
	t = begin(false);
	rc = tenants_auth(t, ar, tc->key, &tenant);
	ck_assert_msg(rc == tc->rc, "tenants_auth(\"%s\"): got %s, want %s",
	    tc->key, rc_name(rc), rc_name(tc->rc));
	if (rc == STORE_OK)
		ck_assert_msg(tenant == tc->tenant, "tenants_auth(\"%s\"): got "
		    "tenant %" PRIu32 ", want %" PRIu32, tc->key, tenant,
		    tc->tenant);
	commit(t);
}
END_TEST

struct revoke_case {
	const char	*what;     /* the key or its id */
	int		 found;
	int		 key1_ok;  /* does KEY1 still authenticate afterwards */
	int		 key2_ok;
};

static const struct revoke_case revoke_cases[] = {
	{ KEY1, 1, 0, 1 },
	{ KEY1_ID, 1, 0, 1 },
	{ KEY2, 1, 1, 0 },
	{ KEY2_ID, 1, 1, 0 },
	{ "unknown-key", 0, 1, 1 },
	{ "0000000000000000", 0, 1, 1 },
	{ "d2b4fec2dff30a2", 0, 1, 1 },
	{ "d2b4fec2dff30a2c0", 0, 1, 1 },
	{ "", 0, 1, 1 },
};

START_TEST(test_tenants_revoke)
{
	const struct revoke_case *tc = &revoke_cases[_i];
	struct store_txn *t;
	uint32_t tenant;
	int found = -1;
	enum store_rc rc;

	add_two_keys();
	t = begin(true);
	rc = tenants_revoke(t, tc->what, &found);
	ck_assert_msg(rc == STORE_OK && found == tc->found, "tenants_revoke(%s): "
	    "got %s found %d, want STORE_OK found %d", tc->what, rc_name(rc),
	    found, tc->found);
	commit(t);
	t = begin(false);
	rc = tenants_auth(t, ar, KEY1, &tenant);
	ck_assert_msg((rc == STORE_OK) == tc->key1_ok, "KEY1 after revoke(%s): "
	    "got %s, want %s", tc->what, rc_name(rc), tc->key1_ok ? "STORE_OK" :
	    "STORE_NOTFOUND");
	rc = tenants_auth(t, ar, KEY2, &tenant);
	ck_assert_msg((rc == STORE_OK) == tc->key2_ok, "KEY2 after revoke(%s): "
	    "got %s, want %s", tc->what, rc_name(rc), tc->key2_ok ? "STORE_OK" :
	    "STORE_NOTFOUND");
	commit(t);
	/* A second revoke of the same finds nothing. */
	t = begin(true);
	rc = tenants_revoke(t, tc->what, &found);
	ck_assert_msg(rc == STORE_OK && found == 0, "tenants_revoke(%s) again: "
	    "got %s found %d, want found 0", tc->what, rc_name(rc), found);
	commit(t);
}
END_TEST

START_TEST(test_tenants_list)
{
	struct store_txn *t;
	struct buf b;

	add_two_keys();
	t = begin(false);
	buf_init(&b, 0);
	ck_assert_msg(tenants_list(t, &b) == STORE_OK, "tenants_list: got an error");
	ck_assert_msg(b.b_data != NULL && strcmp(b.b_data, "1\tacme\n2\tbeta\n") == 0,
	    "tenants_list: got \"%s\", want \"1\\tacme\\n2\\tbeta\\n\"",
	    b.b_data ? b.b_data : "");
	buf_reset(&b);
	ck_assert_msg(tenants_list_keys(t, ar, &b) == STORE_OK,
	    "tenants_list_keys: got an error");
	ck_assert_msg(b.b_data != NULL &&
	    strstr(b.b_data, KEY1_ID "\t1\t") != NULL &&
	    strstr(b.b_data, KEY2_ID "\t2\t") != NULL &&
	    strstr(b.b_data, KEY1) == NULL,
	    "tenants_list_keys: got \"%s\", want ids and tenants, never the keys",
	    b.b_data ? b.b_data : "");
	buf_free(&b);
	commit(t);
}
END_TEST

struct name_case {
	const char	*name;
	int		 ok;
};

static const struct name_case name_cases[] = {
	{ "a", 1 },
	{ "acme", 1 },
	{ "A-b_c.d", 1 },
	{ "0", 1 },
	{ "tenant-2014.prod_EU", 1 },
	{ "0123456789012345678901234567890123456789012345678901234567890123", 1 },
	{ "", 0 },
	{ "01234567890123456789012345678901234567890123456789012345678901234",
	    0 },
	{ "a b", 0 },
	{ "a/b", 0 },
	{ "a\\b", 0 },
	{ "a:b", 0 },
	{ "a@b", 0 },
	{ "a+b", 0 },
	{ "a\tb", 0 },
	{ "a\nb", 0 },
	{ "caf\xc3\xa9", 0 },
	{ "a%20b", 0 },
	{ "a*", 0 },
	{ "a,b", 0 },
	{ "a;b", 0 },
	{ "a\"b", 0 },
	{ "a'b", 0 },
	{ "a#b", 0 },
	{ "a?b", 0 },
	{ "-\x7f", 0 },
};

START_TEST(test_tenants_name_ok)
{
	const struct name_case *tc = &name_cases[_i];
	int got = tenants_name_ok(tc->name);

	ck_assert_msg((got != 0) == tc->ok, "tenants_name_ok(\"%s\"): got %d, "
	    "want %d", tc->name, got, tc->ok);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_loop_test(core, test_put_get_del, 0, NCASES(kv_cases));
	tcase_add_loop_test(core, test_cursor_seek, 0, NCASES(seek_cases));
	tcase_add_test(core, test_cursor_walk);
	tcase_add_test(core, test_cursor_del);
	tcase_add_loop_test(core, test_delete_prefix, 0, NCASES(prefix_cases));
	tcase_add_test(core, test_restart);
	tcase_add_test(core, test_recover_twice);
	tcase_add_test(core, test_maintenance);
	tcase_add_test(core, test_fork);
	tcase_add_test(core, test_backup);
	tcase_add_test(core, test_progress);
	tcase_add_loop_test(core, test_probe, 0, NCASES(probe_cases));
	tcase_add_test(core, test_tenants_ensure);
	tcase_add_loop_test(core, test_tenants_auth, 0, NCASES(auth_cases));
	tcase_add_loop_test(core, test_tenants_revoke, 0, NCASES(revoke_cases));
	tcase_add_test(core, test_tenants_list);
	tcase_add_loop_test(core, test_tenants_name_ok, 0, NCASES(name_cases));
	tcase_set_timeout(core, 60);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_put_big);
	tcase_add_test(limits, test_cursor_empty);
	tcase_add_test(limits, test_probe_small_buffer);
	tcase_set_timeout(limits, 60);
	suite_add_tcase(s, limits);

	tcase_add_checked_fixture(errors, setup, teardown);
	tcase_add_loop_test(errors, test_notfound, 0, NCASES(missing_cases));
	tcase_add_test(errors, test_abort);
	tcase_add_test(errors, test_open_errors);
	tcase_set_timeout(errors, 60);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
