/*
 * check_items: unit tests for src/items.h (items, versions, refs, conditions,
 * patch, history, lists, collections) over a real Berkeley DB environment.
 *
 * Every test gets a fresh environment through the checked fixture of
 * testdom.h; each row of a table is one case, set up by a short list of
 * steps on the item under test (a value is put, DEL deletes, PURGE purges)
 * or by a shared data set. A call that is refused must leave the item as it
 * was: its history length, head and ref are compared before and after.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "collections.h"
#include "domain.h"
#include "events.h"
#include "items.h"
#include "layout.h"
/* JSONC_CFLAGS puts json-c's own json.h first on the include path. */
#include "../src/json.h"
#include "audit.h"
#include "buf.h"
#include "patch.h"
#include "reclaim.h"
#include "testdom.h"
#include "timefmt.h"

#define T1	1
#define T2	2
#define COLL	"users"
#define KEY	"alice"

/* Steps that set up an item: a value is put; these delete or purge it. */
#define DEL	"-"
#define PURGE	"!"
#define MAXSTEPS 6

/* ---- helpers ------------------------------------------------------------- */

static enum dom_rc
do_put(uint32_t t, const char *coll, const char *key, const char *value,
    const char *im, const char *inm, struct item_version *out)
{
	struct dom d;
	struct dom_cond c_im, c_inm;
	enum dom_rc rc;

	td_cond(&c_im, im);
	td_cond(&c_inm, inm);
	td_begin(&d, t);
	rc = item_put(&d, coll, key, value, strlen(value), &c_im, &c_inm, out);
	td_end(&d, rc);
	return rc;
}

static enum dom_rc
do_delete(uint32_t t, const char *coll, const char *key, const char *im, bool purge)
{
	struct dom d;
	struct dom_cond c;
	enum dom_rc rc;

	td_cond(&c, im);
	td_begin(&d, t);
	rc = item_delete(&d, coll, key, &c, purge);
	td_end(&d, rc);
	return rc;
}

static enum dom_rc
do_get(uint32_t t, const char *coll, const char *key, struct item_version *out)
{
	struct dom d;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = item_get(&d, coll, key, out);
	td_end(&d, rc);
	return rc;
}

static enum dom_rc
do_get_ref(uint32_t t, const char *coll, const char *key, const char *ref,
    size_t reflen, struct item_version *out)
{
	struct dom d;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = item_get_ref(&d, coll, key, ref, reflen, out);
	td_end(&d, rc);
	return rc;
}

/* Runs the steps on one item; each must succeed. */
static void
steps(uint32_t t, const char *coll, const char *key, const char *const *s)
{
	for (int i = 0; i < MAXSTEPS && s[i] != NULL; i++) {
		struct item_version v;
		enum dom_rc rc;
		bool del = strcmp(s[i], DEL) == 0, purge = strcmp(s[i], PURGE) == 0;

		if (del || purge)
			rc = do_delete(t, coll, key, NULL, purge);
		else
			rc = do_put(t, coll, key, s[i], NULL, NULL, &v);
		ck_assert_msg(rc == DOM_OK, "setting up %s/%s (step %d, \"%s\"): got %s, "
		    "want DOM_OK", coll, key, i, s[i], dom_rc_name(rc));
	}
}

static void
put1(uint32_t t, const char *coll, const char *key, const char *value)
{
	const char *s[] = { value, NULL };

	steps(t, coll, key, s);
}

static enum dom_visit
count_version(void *arg, const char *key, size_t keylen, const struct item_version *v)
{
	(void)key;
	(void)keylen;
	(void)v;
	(*(int64_t *)arg)++;
	return DOM_VISIT_NEXT;
}

/* The number of versions of an item; -1 when it does not exist at all. */
static int64_t
history_len(uint32_t t, const char *coll, const char *key)
{
	struct dom d;
	int64_t n = 0;
	bool more = true;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = item_history(&d, coll, key, 0, 1000, count_version, &n, &more);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK || rc == DOM_NOT_FOUND, "item_history(%s/%s): "
	    "got %s, want DOM_OK or DOM_NOT_FOUND", coll, key, dom_rc_name(rc));
	ck_assert_msg(!more, "item_history(%s/%s, limit 1000): got more, want none",
	    coll, key);
	return rc == DOM_NOT_FOUND ? -1 : n;
}

/* What a refused call must not change. */
struct state {
	int64_t nversions;
	enum dom_rc get;
	uint64_t seq;
	char ref[IDS_REF_LEN + 1];
	char value[256];
};

static void
state_of(uint32_t t, const char *coll, const char *key, struct state *s)
{
	struct item_version v;

	memset(s, 0, sizeof(*s));
	s->nversions = history_len(t, coll, key);
	s->get = do_get(t, coll, key, &v);
	if (s->get == DOM_OK) {
		s->seq = v.seq;
		memcpy(s->ref, v.ref, sizeof(s->ref));
		snprintf(s->value, sizeof(s->value), "%.*s", (int)v.vlen, v.value);
	}
}

static void
same_state(const char *what, const struct state *a, const struct state *b)
{
	ck_assert_msg(a->nversions == b->nversions, "%s: versions after: got %" PRId64
	    ", want %" PRId64 " (nothing written)", what, b->nversions, a->nversions);
	ck_assert_msg(a->get == b->get && a->seq == b->seq &&
	    strcmp(a->ref, b->ref) == 0 && strcmp(a->value, b->value) == 0,
	    "%s: head after: got %s seq %" PRIu64 " ref %s %s, want %s seq %" PRIu64
	    " ref %s %s", what, dom_rc_name(b->get), b->seq, b->ref, b->value,
	    dom_rc_name(a->get), a->seq, a->ref, a->value);
}

/* The current value is value with seq and ref. */
static void
check_head(uint32_t t, const char *coll, const char *key, const char *value,
    uint64_t seq, const char *ref)
{
	struct item_version v;
	enum dom_rc rc = do_get(t, coll, key, &v);

	ck_assert_msg(rc == DOM_OK, "item_get(%s/%s): got %s, want DOM_OK", coll, key,
	    dom_rc_name(rc));
	ck_assert_msg(!v.tombstone && v.vlen == strlen(value) &&
	    memcmp(v.value, value, v.vlen) == 0, "item_get(%s/%s): got \"%.*s\", "
	    "want \"%s\"", coll, key, (int)v.vlen, v.value ? v.value : "", value);
	ck_assert_msg(v.seq == seq, "item_get(%s/%s): got seq %" PRIu64 ", want %"
	    PRIu64, coll, key, v.seq, seq);
	if (ref != NULL)
		ck_assert_msg(strcmp(v.ref, ref) == 0, "item_get(%s/%s): got ref %s, "
		    "want %s", coll, key, v.ref, ref);
}

/* ---- put and conditions -------------------------------------------------- */

struct put_case {
	const char	*name;
	const char	*pre[MAXSTEPS];
	const char	*im;       /* If-Match (td_cond) */
	const char	*inm;      /* If-None-Match */
	const char	*value;
	enum dom_rc	 rc;
	uint64_t	 seq;      /* of the new version */
	const char	*ref;
};

static const struct put_case put_cases[] = {
	{ "new item", { NULL }, NULL, NULL, V1, DOM_OK, 1, REF1 },
	{ "empty object", { NULL }, NULL, NULL, VE, DOM_OK, 1, REFE },
	{ "second version", { V1 }, NULL, NULL, V2, DOM_OK, 2, REF2 },
	{ "same value again", { V1 }, NULL, NULL, V1, DOM_OK, 2, REF1 },
	{ "fifth version", { V1, V2, V1, VB }, NULL, NULL, V2, DOM_OK, 5, REF2 },
	{ "after a tombstone", { V1, DEL }, NULL, NULL, V2, DOM_OK, 3, REF2 },
	{ "after a purge: seq 1", { V1, V2, PURGE }, NULL, NULL, VB, DOM_OK, 1, REFB },
	{ "If-Match the ref", { V1 }, REF1, NULL, V2, DOM_OK, 2, REF2 },
	{ "If-Match in a list", { V1, V2 }, REFB "," REF1 "," REF2, NULL, VB,
	    DOM_OK, 3, REFB },
	{ "If-Match *", { V1 }, "*", NULL, V2, DOM_OK, 2, REF2 },
	{ "If-None-Match * on missing", { NULL }, NULL, "*", V1, DOM_OK, 1, REF1 },
	{ "If-None-Match * on tombstone", { V1, DEL }, NULL, "*", V1, DOM_OK, 3, REF1 },
	{ "If-None-Match * on purged", { V1, PURGE }, NULL, "*", V1, DOM_OK, 1, REF1 },
	{ "If-None-Match other refs", { V1 }, NULL, REF2 "," REFB, V2, DOM_OK, 2, REF2 },
	{ "If-None-Match tombstone ref", { V1, DEL }, NULL, REFNULL, V2, DOM_OK, 3, REF2 },
	{ "If-None-Match weak only", { V1 }, NULL, "", V2, DOM_OK, 2, REF2 },
	{ "If-Match and If-None-Match hold", { V1 }, REF1, REF2, VB, DOM_OK, 2, REFB },

	{ "If-Match other ref", { V1 }, REF2, NULL, VB, DOM_MISMATCH, 0, NULL },
	{ "If-Match older ref", { V1, V2 }, REF1, NULL, VB, DOM_MISMATCH, 0, NULL },
	{ "If-Match list without it", { V1 }, REF2 "," REFB "," REFNONE, NULL, VB,
	    DOM_MISMATCH, 0, NULL },
	{ "If-Match weak only", { V1 }, "", NULL, VB, DOM_MISMATCH, 0, NULL },
	{ "If-Match not a ref", { V1 }, "015abd7f", NULL, VB, DOM_MISMATCH, 0, NULL },
	{ "If-Match upper case", { V1 }, "015ABD7F5CC57A2D", NULL, VB, DOM_MISMATCH,
	    0, NULL },
	{ "If-Match * on missing", { NULL }, "*", NULL, V1, DOM_MISMATCH, 0, NULL },
	{ "If-Match ref on missing", { NULL }, REF1, NULL, V1, DOM_MISMATCH, 0, NULL },
	{ "If-Match * on tombstone", { V1, DEL }, "*", NULL, V1, DOM_MISMATCH, 0, NULL },
	{ "If-Match last ref on tombstone", { V1, DEL }, REF1, NULL, V2, DOM_MISMATCH,
	    0, NULL },
	{ "If-Match tombstone ref", { V1, DEL }, REFNULL, NULL, V2, DOM_MISMATCH,
	    0, NULL },
	{ "If-Match * on purged", { V1, PURGE }, "*", NULL, V1, DOM_MISMATCH, 0, NULL },
	{ "If-None-Match * on live", { V1 }, NULL, "*", V2, DOM_PRESENT, 0, NULL },
	{ "If-None-Match the ref", { V1 }, NULL, REF1, V2, DOM_PRESENT, 0, NULL },
	{ "If-None-Match in a list", { V1, V2 }, NULL, REFB "," REF2, V1, DOM_PRESENT,
	    0, NULL },
	{ "If-None-Match the same value", { V1 }, NULL, REF1, V1, DOM_PRESENT, 0, NULL },
	{ "If-Match holds, If-None-Match not", { V1 }, REF1, "*", V2, DOM_PRESENT,
	    0, NULL },
	{ "both fail: mismatch first", { V1 }, REF2, "*", VB, DOM_MISMATCH, 0, NULL },
	{ "both fail, list: mismatch first", { V1 }, REFB, REF1, VB, DOM_MISMATCH,
	    0, NULL },
};

START_TEST(test_put)
{
	const struct put_case *tc = &put_cases[_i];
	struct state before, after;
	struct item_version v;
	int64_t t0, t1;
	enum dom_rc rc;

	steps(T1, COLL, KEY, tc->pre);
	state_of(T1, COLL, KEY, &before);
	t0 = timefmt_now_ms();
	rc = do_put(T1, COLL, KEY, tc->value, tc->im, tc->inm, &v);
	t1 = timefmt_now_ms();
	ck_assert_msg(rc == tc->rc, "%s: item_put: got %s, want %s", tc->name,
	    dom_rc_name(rc), dom_rc_name(tc->rc));
	if (rc != DOM_OK) {
		state_of(T1, COLL, KEY, &after);
		same_state(tc->name, &before, &after);
		return;
	}
	ck_assert_msg(v.seq == tc->seq && strcmp(v.ref, tc->ref) == 0 && !v.tombstone,
	    "%s: item_put: got seq %" PRIu64 " ref %s%s, want seq %" PRIu64 " ref %s",
	    tc->name, v.seq, v.ref, v.tombstone ? " (tombstone)" : "", tc->seq, tc->ref);
	ck_assert_msg(v.reftime >= t0 && v.reftime <= t1, "%s: reftime: got %" PRId64
	    ", want the time of the write (%" PRId64 "..%" PRId64 ")", tc->name,
	    v.reftime, t0, t1);
	check_head(T1, COLL, KEY, tc->value, tc->seq, tc->ref);
	ck_assert_msg(history_len(T1, COLL, KEY) == (int64_t)tc->seq, "%s: history: "
	    "got %" PRId64 " versions, want %" PRIu64, tc->name,
	    history_len(T1, COLL, KEY), tc->seq);
}
END_TEST

/* ---- get ----------------------------------------------------------------- */

/* The data every lookup runs over. */
static void
lookup_data(void)
{
	const char *alice[] = { V1, V2, NULL }, *bob[] = { V1, DEL, NULL },
	    *carol[] = { V1, VB, PURGE, NULL };

	steps(T1, COLL, KEY, alice);
	put1(T1, COLL, "alice2", VB);
	put1(T1, "users2", KEY, V1);
	put1(T1, "user", "salice", VB);
	put1(T1, "users\xc3\xa9", "\xe2\x82\xac 1", V2);
	put1(T2, COLL, KEY, VB);
	put1(256, COLL, "zed", V1);
	steps(T1, COLL, "bob", bob);
	steps(T1, COLL, "carol", carol);
}

struct get_case {
	uint32_t	 tenant;
	const char	*coll;
	const char	*key;
	enum dom_rc	 rc;
	const char	*value;
	uint64_t	 seq;
	const char	*ref;
};

static const struct get_case get_cases[] = {
	{ T1, COLL, KEY, DOM_OK, V2, 2, REF2 },
	{ T1, COLL, "alice2", DOM_OK, VB, 1, REFB },
	{ T1, "users2", KEY, DOM_OK, V1, 1, REF1 },
	{ T1, "user", "salice", DOM_OK, VB, 1, REFB },
	{ T1, "users\xc3\xa9", "\xe2\x82\xac 1", DOM_OK, V2, 1, REF2 },
	{ T2, COLL, KEY, DOM_OK, VB, 1, REFB },
	{ 256, COLL, "zed", DOM_OK, V1, 1, REF1 },

	{ T1, COLL, "bob", DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, COLL, "carol", DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, COLL, "alic", DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, COLL, "alice3", DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, COLL, "Alice", DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, COLL, "", DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, "Users", KEY, DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, "user", KEY, DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, "usersalice", "", DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, "users\xc3", "\xa9\xe2\x82\xac 1", DOM_NOT_FOUND, NULL, 0, NULL },
	{ T1, COLL, "zed", DOM_NOT_FOUND, NULL, 0, NULL },
	{ 0, COLL, KEY, DOM_NOT_FOUND, NULL, 0, NULL },
	{ 3, COLL, KEY, DOM_NOT_FOUND, NULL, 0, NULL },
	{ 257, COLL, KEY, DOM_NOT_FOUND, NULL, 0, NULL },
	{ UINT32_MAX, COLL, KEY, DOM_NOT_FOUND, NULL, 0, NULL },
};

START_TEST(test_get)
{
	const struct get_case *tc = &get_cases[_i];
	struct item_version v;
	enum dom_rc rc;

	lookup_data();
	rc = do_get(tc->tenant, tc->coll, tc->key, &v);
	ck_assert_msg(rc == tc->rc, "item_get(%" PRIu32 ", %s/%s): got %s, want %s",
	    tc->tenant, tc->coll, tc->key, dom_rc_name(rc), dom_rc_name(tc->rc));
	if (rc == DOM_OK)
		check_head(tc->tenant, tc->coll, tc->key, tc->value, tc->seq, tc->ref);
}
END_TEST

/* ---- get by ref ---------------------------------------------------------- */

struct ref_case {
	uint32_t	 tenant;
	const char	*coll;
	const char	*key;
	const char	*ref;
	size_t		 reflen;
	enum dom_rc	 rc;
	uint64_t	 seq;
	const char	*value;
};

#define REF(t, c, k, r, rc, seq, v)	{ (t), (c), (k), (r), sizeof(r) - 1, (rc), (seq), (v) }

/* alice: V1, V2, V1, deleted; bob: V2. */
static const struct ref_case ref_cases[] = {
	REF(T1, COLL, KEY, REF1, DOM_OK, 3, V1),
	REF(T1, COLL, KEY, REF2, DOM_OK, 2, V2),
	REF(T1, COLL, KEY, "015ABD7F5CC57A2D", DOM_OK, 3, V1),
	REF(T1, COLL, KEY, "7e8059F495589fcd", DOM_OK, 2, V2),
	REF(T1, COLL, "bob", REF2, DOM_OK, 1, V2),

	REF(T1, COLL, KEY, REFNULL, DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, KEY, REFB, DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, KEY, REFNONE, DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, "bob", REF1, DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, "carol", REF1, DOM_NOT_FOUND, 0, NULL),
	REF(T2, COLL, KEY, REF1, DOM_NOT_FOUND, 0, NULL),
	REF(T1, "users2", KEY, REF1, DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, KEY, "015abd7f5cc57a2", DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, KEY, "015abd7f5cc57a2d0", DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, KEY, "015abd7f", DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, KEY, "0", DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, KEY, "00000000000000000000000000000000", DOM_NOT_FOUND, 0, NULL),
	REF(T1, COLL, KEY, "", DOM_INVALID, 0, NULL),
	REF(T1, COLL, KEY, "015abd7f5cc57a2g", DOM_INVALID, 0, NULL),
	REF(T1, COLL, KEY, "015abd7f5cc57a2-", DOM_INVALID, 0, NULL),
	REF(T1, COLL, KEY, " 015abd7f5cc57a2d", DOM_INVALID, 0, NULL),
	REF(T1, COLL, KEY, "015abd7f5cc57a2d ", DOM_INVALID, 0, NULL),
	REF(T1, COLL, KEY, "0x15abd7f5cc57a2d", DOM_INVALID, 0, NULL),
	REF(T1, COLL, KEY, "015abd7f5cc57a2d\0", DOM_INVALID, 0, NULL),
	REF(T1, COLL, KEY, "\"015abd7f5cc57a2d\"", DOM_INVALID, 0, NULL),
	REF(T1, COLL, "nobody", "zz", DOM_INVALID, 0, NULL),
};

START_TEST(test_get_ref)
{
	const struct ref_case *tc = &ref_cases[_i];
	const char *alice[] = { V1, V2, V1, DEL, NULL },
	    *carol[] = { V1, PURGE, NULL };
	struct item_version v;
	enum dom_rc rc;

	steps(T1, COLL, KEY, alice);
	put1(T1, COLL, "bob", V2);
	steps(T1, COLL, "carol", carol);
	put1(T2, COLL, KEY, VB);
	put1(T1, "users2", KEY, VB);
	rc = do_get_ref(tc->tenant, tc->coll, tc->key, tc->ref, tc->reflen, &v);
	ck_assert_msg(rc == tc->rc, "item_get_ref(%s/%s, \"%.*s\"): got %s, want %s",
	    tc->coll, tc->key, (int)tc->reflen, tc->ref, dom_rc_name(rc),
	    dom_rc_name(tc->rc));
	if (rc != DOM_OK)
		return;
	ck_assert_msg(v.seq == tc->seq && !v.tombstone && v.vlen == strlen(tc->value) &&
	    memcmp(v.value, tc->value, v.vlen) == 0, "item_get_ref(%s/%s, %s): got "
	    "seq %" PRIu64 " \"%.*s\", want seq %" PRIu64 " \"%s\"", tc->coll, tc->key,
	    tc->ref, v.seq, (int)v.vlen, v.value ? v.value : "", tc->seq, tc->value);
}
END_TEST

/* ---- create -------------------------------------------------------------- */

struct create_case {
	int64_t		 now1;
	int64_t		 now2;
	int		 order;    /* of the second key against the first; 0: distinct */
};

#define DAY	INT64_C(86400000)

static const struct create_case create_cases[] = {
	{ NOW, NOW + 1, 1 },
	{ NOW, NOW + DAY, 1 },
	{ NOW, NOW + 1000 * DAY, 1 },
	{ NOW + 1, NOW, -1 },
	{ NOW, NOW - DAY, -1 },
	{ NOW, NOW, 0 },
	{ IDS_EPOCH_MS, IDS_EPOCH_MS, 0 },
	{ IDS_EPOCH_MS, IDS_EPOCH_MS + 1, 1 },
	{ 0, 0, 0 },
	{ 0, NOW, 1 },
};

/* The first 10 hex digits of a generated key: milliseconds since 2014. */
static void
time_part(int64_t now, char out[11])
{
	uint64_t ms = now > IDS_EPOCH_MS ? (uint64_t)(now - IDS_EPOCH_MS) : 0;

	/* The time takes the top 40 bits of the 64. */
	snprintf(out, 11, "%010" PRIx64, ms & UINT64_C(0xffffffffff));
}

static void
check_created(int64_t now, const char *key, const struct item_version *v,
    const char *value, const char *ref)
{
	char tp[11];

	ck_assert_msg(strlen(key) == 16 && strspn(key, "0123456789abcdef") == 16,
	    "item_create: got key \"%s\", want 16 lower-case hex digits", key);
	time_part(now, tp);
	ck_assert_msg(strncmp(key, tp, 10) == 0, "item_create at %" PRId64 ": got "
	    "key %s, want it to start with %s", now, key, tp);
	ck_assert_msg(v->seq == 1 && strcmp(v->ref, ref) == 0 && !v->tombstone,
	    "item_create: got seq %" PRIu64 " ref %s, want seq 1 ref %s", v->seq,
	    v->ref, ref);
	check_head(T1, COLL, key, value, 1, ref);
}

START_TEST(test_create)
{
	const struct create_case *tc = &create_cases[_i];
	struct item_version v1, v2;
	struct dom d;
	char k1[17], k2[17];
	enum dom_rc rc;

	td_begin(&d, T1);
	d.now_ms = tc->now1;
	rc = item_create(&d, COLL, V1, strlen(V1), k1, &v1);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "item_create: got %s, want DOM_OK", dom_rc_name(rc));
	td_begin(&d, T1);
	d.now_ms = tc->now2;
	rc = item_create(&d, COLL, V2, strlen(V2), k2, &v2);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "item_create: got %s, want DOM_OK", dom_rc_name(rc));
	check_created(tc->now1, k1, &v1, V1, REF1);
	check_created(tc->now2, k2, &v2, V2, REF2);
	ck_assert_msg(strcmp(k1, k2) != 0, "item_create twice: got %s both times, "
	    "want distinct keys", k1);
	if (tc->order != 0)
		ck_assert_msg((strcmp(k2, k1) > 0) == (tc->order > 0), "item_create at "
		    "%" PRId64 " then %" PRId64 ": got %s then %s, want them %s",
		    tc->now1, tc->now2, k1, k2, tc->order > 0 ? "ascending" : "descending");
}
END_TEST

/* Many keys of one millisecond in one transaction are distinct. */
START_TEST(test_create_many)
{
	char keys[200][17];
	struct item_version v;
	struct dom d;
	enum dom_rc rc = DOM_OK;

	td_begin(&d, T1);
	for (int i = 0; i < NCASES(keys) && rc == DOM_OK; i++)
		rc = item_create(&d, COLL, VE, strlen(VE), keys[i], &v);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "item_create: got %s, want DOM_OK", dom_rc_name(rc));
	for (int i = 0; i < NCASES(keys); i++)
		for (int j = i + 1; j < NCASES(keys); j++)
			ck_assert_msg(strcmp(keys[i], keys[j]) != 0, "item_create #%d and "
			    "#%d: got %s both times, want distinct keys", i, j, keys[i]);
}
END_TEST

/* The newest version of an item (a tombstone too), through item_history. */
static enum dom_visit
take_version(void *arg, const char *key, size_t keylen, const struct item_version *v)
{
	(void)key;
	(void)keylen;
	*(struct item_version *)arg = *v;
	return DOM_VISIT_NEXT;
}

static void
newest(uint32_t t, const char *coll, const char *key, struct item_version *out)
{
	struct dom d;
	bool more;
	enum dom_rc rc;

	memset(out, 0, sizeof(*out));
	td_begin(&d, t);
	rc = item_history(&d, coll, key, 0, 1, take_version, out, &more);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "item_history(%s/%s, limit 1): got %s, want DOM_OK",
	    coll, key, dom_rc_name(rc));
}

/* ---- delete and purge ---------------------------------------------------- */

struct delete_case {
	const char	*name;
	const char	*pre[MAXSTEPS];
	const char	*im;
	bool		 purge;
	enum dom_rc	 rc;
	int64_t		 nversions;   /* after; -1: the item does not exist */
	bool		 tombstone;   /* a tombstone was written */
};

static const struct delete_case delete_cases[] = {
	{ "live", { V1 }, NULL, false, DOM_OK, 2, true },
	{ "live, If-Match the ref", { V1 }, REF1, false, DOM_OK, 2, true },
	{ "live, If-Match *", { V1 }, "*", false, DOM_OK, 2, true },
	{ "live, If-Match in a list", { V1, V2 }, REF1 "," REF2, false, DOM_OK, 3, true },
	{ "after a put again", { V1, DEL, V2 }, NULL, false, DOM_OK, 4, true },
	{ "absent: nothing written", { NULL }, NULL, false, DOM_OK, -1, false },
	{ "tombstoned: nothing written", { V1, DEL }, NULL, false, DOM_OK, 2, false },
	{ "purged: nothing written", { V1, PURGE }, NULL, false, DOM_OK, -1, false },
	{ "purge live", { V1, V2 }, NULL, true, DOM_OK, -1, false },
	{ "purge live, If-Match", { V1 }, REF1, true, DOM_OK, -1, false },
	{ "purge absent", { NULL }, NULL, true, DOM_OK, -1, false },
	{ "purge tombstoned", { V1, DEL }, NULL, true, DOM_OK, -1, false },

	{ "If-Match other ref", { V1 }, REF2, false, DOM_MISMATCH, 1, false },
	{ "If-Match older ref", { V1, V2 }, REF1, false, DOM_MISMATCH, 2, false },
	{ "If-Match weak only", { V1 }, "", false, DOM_MISMATCH, 1, false },
	{ "absent, If-Match *", { NULL }, "*", false, DOM_MISMATCH, -1, false },
	{ "absent, If-Match ref", { NULL }, REF1, false, DOM_MISMATCH, -1, false },
	{ "purged, If-Match ref", { V1, PURGE }, REF1, false, DOM_MISMATCH, -1, false },
	{ "tombstoned, If-Match *", { V1, DEL }, "*", false, DOM_MISMATCH, 2, false },
	{ "tombstoned, If-Match last ref", { V1, DEL }, REF1, false, DOM_MISMATCH, 2,
	    false },
	{ "tombstoned, If-Match tombstone ref", { V1, DEL }, REFNULL, false,
	    DOM_MISMATCH, 2, false },
	{ "purge, If-Match other ref", { V1 }, REF2, true, DOM_MISMATCH, 1, false },
	{ "purge absent, If-Match *", { NULL }, "*", true, DOM_MISMATCH, -1, false },
	{ "purge tombstoned, If-Match *", { V1, DEL }, "*", true, DOM_MISMATCH, 2,
	    false },
};

START_TEST(test_delete)
{
	const struct delete_case *tc = &delete_cases[_i];
	struct state before, after;
	int64_t n;
	enum dom_rc rc;

	steps(T1, COLL, KEY, tc->pre);
	state_of(T1, COLL, KEY, &before);
	rc = do_delete(T1, COLL, KEY, tc->im, tc->purge);
	ck_assert_msg(rc == tc->rc, "%s: item_delete: got %s, want %s", tc->name,
	    dom_rc_name(rc), dom_rc_name(tc->rc));
	n = history_len(T1, COLL, KEY);
	ck_assert_msg(n == tc->nversions, "%s: versions after: got %" PRId64 ", want %"
	    PRId64, tc->name, n, tc->nversions);
	state_of(T1, COLL, KEY, &after);
	if (rc != DOM_OK || (!tc->tombstone && !tc->purge)) {
		same_state(tc->name, &before, &after);
		return;
	}
	ck_assert_msg(after.get == DOM_NOT_FOUND, "%s: item_get after: got %s, want "
	    "DOM_NOT_FOUND", tc->name, dom_rc_name(after.get));
	if (tc->tombstone) {
		struct item_version top;

		newest(T1, COLL, KEY, &top);
		ck_assert_msg(top.tombstone && top.seq == (uint64_t)tc->nversions &&
		    strcmp(top.ref, REFNULL) == 0 && top.vlen == 0, "%s: newest version: "
		    "got seq %" PRIu64 " ref %s%s, want the tombstone, seq %" PRId64
		    " ref " REFNULL, tc->name, top.seq, top.ref, top.tombstone ?
		    " (tombstone)" : "", tc->nversions);
	}
}
END_TEST

/* Purge erases the item's history, refs and events, and nothing else. */
/* Every row's item is set up (V1 and two events; V1, V2 and two events for
 * alice of both tenants; only events for "ghost"), then the purged ones are
 * purged, and the row's item is checked. */
struct purge_case {
	uint32_t	 tenant;
	const char	*coll;
	const char	*key;
	bool		 purged;
	int64_t		 nversions;   /* after the purge; -1: none */
	int64_t		 nevents;     /* of both types */
	enum dom_rc	 ref_rc;      /* item_get_ref of REF1 */
};

static const struct purge_case purge_cases[] = {
	{ T1, COLL, "alic", false, 1, 2, DOM_OK },
	{ T1, COLL, "alice2", false, 1, 2, DOM_OK },
	{ T1, COLL, "alice\x01", false, 1, 2, DOM_OK },
	{ T1, "users2", KEY, false, 1, 2, DOM_OK },
	{ T1, "user", "salice", false, 1, 2, DOM_OK },
	{ T2, COLL, KEY, false, 2, 2, DOM_OK },

	{ T1, COLL, KEY, true, -1, 0, DOM_NOT_FOUND },
	{ T1, COLL, "ghost", true, -1, 0, DOM_NOT_FOUND },
	{ T1, COLL, "ghost2", false, -1, 2, DOM_NOT_FOUND },
};

static enum dom_visit
count_event(void *arg, const struct evpos *p, const struct event_record *r)
{
	(void)p;
	(void)r;
	return td_rec_call(arg);
}

static int64_t
count_events(uint32_t t, const char *coll, const char *key, const char *type)
{
	struct event_name n = { coll, key, type };
	struct evrange r;
	struct evpos last;
	struct dom d;
	struct td_rec rec;
	bool more;
	enum dom_rc rc;

	evrange_all(&r);
	td_rec_init(&rec, 0, 0);
	td_begin(&d, t);
	rc = event_list(&d, &n, &r, 1000, count_event, &rec, &more, &last);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK && !more, "event_list(%s/%s/%s): got %s%s, want "
	    "DOM_OK and no more", coll, key, type, dom_rc_name(rc), more ? " more" : "");
	return rec.calls;
}

static void
add_event(uint32_t t, const char *coll, const char *key, const char *type)
{
	struct event_name n = { coll, key, type };
	struct event_record r;
	struct evpos p;
	struct dom d;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = event_create(&d, &n, NOW, V1, strlen(V1), &p, &r);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "event_create(%s/%s/%s): got %s, want DOM_OK",
	    coll, key, type, dom_rc_name(rc));
}

START_TEST(test_purge)
{
	const struct purge_case *tc = &purge_cases[_i];
	const char *two[] = { V1, V2, NULL };
	struct item_version v;
	int64_t n;
	enum dom_rc rc;

	for (int i = 0; i < NCASES(purge_cases); i++) {
		const struct purge_case *p = &purge_cases[i];

		if (strcmp(p->key, KEY) == 0 && strcmp(p->coll, COLL) == 0)
			steps(p->tenant, p->coll, p->key, two);
		else if (strncmp(p->key, "ghost", 5) != 0)
			put1(p->tenant, p->coll, p->key, V1);
		add_event(p->tenant, p->coll, p->key, "login");
		add_event(p->tenant, p->coll, p->key, "logout");
	}
	for (int i = 0; i < NCASES(purge_cases); i++) {
		const struct purge_case *p = &purge_cases[i];

		if (!p->purged)
			continue;
		rc = do_delete(p->tenant, p->coll, p->key, NULL, true);
		ck_assert_msg(rc == DOM_OK, "item_delete(%s/%s, purge): got %s, want "
		    "DOM_OK", p->coll, p->key, dom_rc_name(rc));
	}
	n = history_len(tc->tenant, tc->coll, tc->key);
	ck_assert_msg(n == tc->nversions, "after the purge, %" PRIu32 " %s/%s: got %"
	    PRId64 " versions, want %" PRId64, tc->tenant, tc->coll, tc->key, n,
	    tc->nversions);
	n = count_events(tc->tenant, tc->coll, tc->key, "login") +
	    count_events(tc->tenant, tc->coll, tc->key, "logout");
	ck_assert_msg(n == tc->nevents, "after the purge, %s/%s: got %" PRId64
	    " events, want %" PRId64, tc->coll, tc->key, n, tc->nevents);
	rc = do_get_ref(tc->tenant, tc->coll, tc->key, REF1, IDS_REF_LEN, &v);
	ck_assert_msg(rc == tc->ref_rc, "after the purge, item_get_ref(%s/%s, " REF1
	    "): got %s, want %s", tc->coll, tc->key, dom_rc_name(rc),
	    dom_rc_name(tc->ref_rc));
}
END_TEST

/*
 * A purge of an item with more versions than a purge removes at once
 * (PURGE_VERSIONS_MAX in items.c, 1000): LONG puts of distinct values, the
 * first V1. The purge removes at most 1000 of each (the rest wait for
 * reclaim, the test of boundedness), answers 404 at once, hides the old
 * versions and refs; the key reused starts above them; reclaim removes them
 * all, and keeps a ref the new incarnation reused; the audit accepts it all.
 */
#define LONG 3000
#define BOUND 1000

/* The records of a database (the fixture's environment is fresh). */
static uint64_t
count_records(enum store_db db)
{
	struct store_txn *t = NULL;
	struct store_cursor *c = NULL;
	const void *k, *v;
	size_t kl, vl;
	uint64_t n = 0;
	enum store_rc rc;

	ck_assert(store_begin(td_st, false, &t) == STORE_OK);
	ck_assert(store_cursor_open(t, db, &c) == STORE_OK);
	for (rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	    rc == STORE_OK; rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl))
		n++;
	ck_assert_msg(rc == STORE_NOTFOUND, "counting records: got %d", (int)rc);
	store_cursor_close(c);
	store_abort(t);
	return n;
}

static void
put_long(const char *key, int n)
{
	struct item_version v;

	for (int i = 0; i < n; i++) {
		char val[32];
		enum dom_rc rc;

		if (i == 0)
			rc = do_put(T1, COLL, key, V1, NULL, NULL, &v);
		else {
			ck_assert(snprintf(val, sizeof(val), "{\"n\":%d}", i) < (int)sizeof(val));
			rc = do_put(T1, COLL, key, val, NULL, NULL, &v);
		}
		ck_assert_msg(rc == DOM_OK && v.seq == (uint64_t)i + 1, "put %d: got %s seq %"
		    PRIu64, i, dom_rc_name(rc), v.seq);
	}
}

static void
reclaim_all(void)
{
	struct reclaim_result r;

	ck_assert(reclaim_run(td_st, td_ar, 300, 1000, 3, &r) == STORE_OK && r.idle);
}

static void
audit_clean(void)
{
	struct audit_report r;
	struct buf out;

	buf_init(&out, 1 << 16);
	ck_assert(audit_run(td_st, &out, &r) == STORE_OK);
	ck_assert_msg(r.orphans == 0 && r.old_keys == 0 && r.malformed == 0 &&
	    r.bad_counts == 0 && r.unmirrored == 0, "audit: %s", out.b_data ? out.b_data : "");
	buf_free(&out);
}

/* item_version_purged (an export's filter) of version seq of COLL/KEY. */
static bool
version_purged(uint64_t seq)
{
	struct dom d;
	unsigned char *k;
	size_t kl;
	uint64_t cid;
	bool old = false;
	enum dom_rc rc;

	td_begin(&d, T1);
	rc = coll_lookup(&d, COLL, &cid);
	k = rc == DOM_OK ? layout_item_key(d.arena, T1, cid, KEY, 9, &kl) : NULL;
	if (k != NULL)
		rc = item_version_purged(&d, k, kl, seq, &old);
	td_end(&d, rc);
	ck_assert_msg(k != NULL && rc == DOM_OK, "item_version_purged: got %s",
	    dom_rc_name(rc));
	return old;
}

START_TEST(test_purge_long)
{
	struct item_version v;
	uint64_t n;
	enum dom_rc rc;

	put_long(KEY, LONG);
	ck_assert(do_delete(T1, COLL, KEY, NULL, true) == DOM_OK);
	/* Bounded: the purge's transaction removed BOUND of each. */
	n = count_records(STORE_DB_VERSIONS);
	ck_assert_msg(n == LONG - BOUND, "after the purge: got %" PRIu64 " versions left, "
	    "want %d (the purge removes at most %d)", n, LONG - BOUND, BOUND);
	n = count_records(STORE_DB_REFS);
	ck_assert_msg(n == LONG - BOUND + 1, "after the purge: got %" PRIu64 " refs.db "
	    "records, want %d and the floor", n, LONG - BOUND);
	ck_assert(count_records(STORE_DB_RECLAIM) == 1);
	{
		/* orchidctl stats tells it from a dropped collection. */
		struct store_txn *t = NULL;
		uint64_t colls = 9, items = 9;

		ck_assert(store_begin(td_st, false, &t) == STORE_OK);
		ck_assert(reclaim_pending(t, &colls, &items) == STORE_OK);
		store_abort(t);
		ck_assert_msg(colls == 0 && items == 1, "reclaim_pending: %" PRIu64
		    " collections, %" PRIu64 " items; want 0 and 1", colls, items);
	}
	/* Gone for every reader at once. */
	ck_assert(do_get(T1, COLL, KEY, &v) == DOM_NOT_FOUND);
	ck_assert(history_len(T1, COLL, KEY) == -1);
	ck_assert(do_get_ref(T1, COLL, KEY, REF1, IDS_REF_LEN, &v) == DOM_NOT_FOUND);
	audit_clean();
	/* The key reused: above the floor, the old ref still hidden. */
	ck_assert(do_put(T1, COLL, KEY, V2, NULL, NULL, &v) == DOM_OK && v.seq == LONG + 1);
	ck_assert(do_get_ref(T1, COLL, KEY, REF1, IDS_REF_LEN, &v) == DOM_NOT_FOUND);
	ck_assert(history_len(T1, COLL, KEY) == 1);
	ck_assert(version_purged(1) && version_purged(LONG) && !version_purged(LONG + 1));
	/* A value equal to an old one: its ref now points to the new version. */
	ck_assert(do_put(T1, COLL, KEY, V1, NULL, NULL, &v) == DOM_OK && v.seq == LONG + 2);
	for (int pass = 0; pass < 2; pass++) {
		ck_assert(history_len(T1, COLL, KEY) == 2);
		rc = do_get_ref(T1, COLL, KEY, REF1, IDS_REF_LEN, &v);
		ck_assert_msg(rc == DOM_OK && v.seq == LONG + 2 && strcmp(v.ref, REF1) == 0,
		    "pass %d: get by " REF1 ": got %s seq %" PRIu64, pass, dom_rc_name(rc), v.seq);
		rc = do_get_ref(T1, COLL, KEY, REF2, IDS_REF_LEN, &v);
		ck_assert(rc == DOM_OK && v.seq == LONG + 1);
		if (pass == 0)
			reclaim_all();
	}
	/* Reclaim removed every old version and ref; the floor stays under
	 * the new incarnation. */
	ck_assert_msg(count_records(STORE_DB_VERSIONS) == 2, "versions after reclaim: %"
	    PRIu64, count_records(STORE_DB_VERSIONS));
	ck_assert_msg(count_records(STORE_DB_REFS) == 3, "refs.db after reclaim: %" PRIu64,
	    count_records(STORE_DB_REFS));
	ck_assert(count_records(STORE_DB_RECLAIM) == 0);
	audit_clean();
	/* A small purge: everything in its transaction, the floor too. */
	ck_assert(do_delete(T1, COLL, KEY, NULL, true) == DOM_OK);
	ck_assert(count_records(STORE_DB_VERSIONS) == 0 && count_records(STORE_DB_REFS) == 0 &&
	    count_records(STORE_DB_RECLAIM) == 0);
	ck_assert(do_put(T1, COLL, KEY, V2, NULL, NULL, &v) == DOM_OK && v.seq == 1);
	/* Purged and not written again: reclaim removes the floor at the end. */
	put_long("bob", BOUND + 200);
	ck_assert(do_delete(T1, COLL, "bob", NULL, true) == DOM_OK);
	ck_assert(count_records(STORE_DB_VERSIONS) == 1 + 200);
	reclaim_all();
	ck_assert(count_records(STORE_DB_VERSIONS) == 1 && count_records(STORE_DB_REFS) == 1 &&
	    count_records(STORE_DB_RECLAIM) == 0);
	ck_assert(do_put(T1, COLL, "bob", V2, NULL, NULL, &v) == DOM_OK && v.seq == 1);
	audit_clean();
}
END_TEST

/* ---- history ------------------------------------------------------------- */

/* alice: V1, V2, deleted, VB, V1 (seq 1..5). */
static const char *const hist_refs[] = { NULL, REF1, REF2, REFNULL, REFB, REF1 };
/* The key of the history being listed. */
static const char *hist_key;

static enum dom_visit
record_version(void *arg, const char *key, size_t keylen, const struct item_version *v)
{
	struct td_rec *r = arg;
	enum dom_visit vis = td_rec_call(r);

	ck_assert_msg(keylen == strlen(hist_key) && memcmp(key, hist_key, keylen) == 0,
	    "history visitor: got key \"%.*s\", want \"%s\"", (int)keylen, key,
	    hist_key);
	ck_assert_msg(v->seq >= 1 && v->seq <= 5 && strcmp(v->ref, hist_refs[v->seq]) == 0 &&
	    v->tombstone == (v->seq == 3), "history visitor: got seq %" PRIu64 " ref %s%s, "
	    "want ref %s", v->seq, v->ref, v->tombstone ? " (tombstone)" : "",
	    v->seq >= 1 && v->seq <= 5 ? hist_refs[v->seq] : "(none: no such seq)");
	if (vis == DOM_VISIT_NEXT)
		td_rec_add(r, "%" PRIu64, v->seq);
	return vis;
}

struct history_case {
	const char	*key;
	uint32_t	 tenant;
	int64_t		 offset;
	int64_t		 limit;
	int		 stop_at;
	int		 fail_at;
	enum dom_rc	 rc;
	const char	*want;     /* the seqs taken */
	bool		 more;
};

static const struct history_case history_cases[] = {
	{ KEY, T1, 0, 100, 0, 0, DOM_OK, "5,4,3,2,1", false },
	{ KEY, T1, 0, 5, 0, 0, DOM_OK, "5,4,3,2,1", false },
	{ KEY, T1, 0, 4, 0, 0, DOM_OK, "5,4,3,2", true },
	{ KEY, T1, 0, 2, 0, 0, DOM_OK, "5,4", true },
	{ KEY, T1, 0, 1, 0, 0, DOM_OK, "5", true },
	{ KEY, T1, 2, 2, 0, 0, DOM_OK, "3,2", true },
	{ KEY, T1, 1, 3, 0, 0, DOM_OK, "4,3,2", true },
	{ KEY, T1, 3, 2, 0, 0, DOM_OK, "2,1", false },
	{ KEY, T1, 4, 100, 0, 0, DOM_OK, "1", false },
	{ KEY, T1, 0, 100, 4, 0, DOM_OK, "5,4,3", true },
	{ "bob", T1, 0, 100, 0, 0, DOM_OK, "1", false },

	{ KEY, T1, 5, 100, 0, 0, DOM_OK, "", false },
	{ KEY, T1, 99, 1, 0, 0, DOM_OK, "", false },
	{ KEY, T1, 0, 0, 0, 0, DOM_OK, "", true },
	{ KEY, T1, 4, 0, 0, 0, DOM_OK, "", true },
	{ KEY, T1, 0, 100, 1, 0, DOM_OK, "", true },
	{ KEY, T1, 0, 100, 0, 1, DOM_ERR, NULL, false },
	{ KEY, T1, 2, 100, 0, 3, DOM_ERR, NULL, false },
	{ "nobody", T1, 0, 100, 0, 0, DOM_NOT_FOUND, NULL, false },
	{ "carol", T1, 0, 100, 0, 0, DOM_NOT_FOUND, NULL, false },
	{ "alic", T1, 0, 100, 0, 0, DOM_NOT_FOUND, NULL, false },
	{ KEY, T2, 0, 100, 0, 0, DOM_NOT_FOUND, NULL, false },
};

START_TEST(test_history)
{
	const struct history_case *tc = &history_cases[_i];
	const char *alice[] = { V1, V2, DEL, VB, V1, NULL },
	    *carol[] = { V1, V2, PURGE, NULL };
	struct td_rec r;
	struct dom d;
	bool more = !tc->more;
	enum dom_rc rc;

	steps(T1, COLL, KEY, alice);
	steps(T1, COLL, "carol", carol);
	put1(T1, COLL, "bob", V2);
	put1(T1, COLL, "bob", V1);
	do_delete(T1, COLL, "bob", NULL, true);
	put1(T1, COLL, "bob", V1);
	td_rec_init(&r, tc->stop_at, tc->fail_at);
	hist_key = tc->key;
	td_begin(&d, tc->tenant);
	rc = item_history(&d, COLL, tc->key, tc->offset, tc->limit, record_version, &r,
	    &more);
	td_end(&d, rc);
	ck_assert_msg(rc == tc->rc, "item_history(%s, offset %" PRId64 ", limit %"
	    PRId64 "): got %s, want %s", tc->key, tc->offset, tc->limit,
	    dom_rc_name(rc), dom_rc_name(tc->rc));
	if (rc != DOM_OK)
		return;
	if (strcmp(tc->key, "bob") == 0)
		ck_assert_msg(strcmp(r.got, "1") == 0, "item_history(bob, put after a "
		    "purge): got seqs \"%s\", want \"1\"", r.got);
	else
		ck_assert_msg(strcmp(r.got, tc->want) == 0 && more == tc->more,
		    "item_history(offset %" PRId64 ", limit %" PRId64 ", stop at %d): got "
		    "\"%s\"%s, want \"%s\"%s", tc->offset, tc->limit, tc->stop_at, r.got,
		    more ? " and more" : "", tc->want, tc->more ? " and more" : "");
	ck_assert_msg(more == tc->more, "item_history(%s): got more %d, want %d",
	    tc->key, more, tc->more);
}
END_TEST

/* ---- lists --------------------------------------------------------------- */

/* The collection "list" of T1: a, b (deleted), c, d, dd, e, f (deleted); and
 * neighbours that must never show. */
static void
list_data(void)
{
	const char *deleted[] = { V1, DEL, NULL };

	put1(T1, "list", "e", V1);
	put1(T1, "list", "a", V1);
	steps(T1, "list", "b", deleted);
	put1(T1, "list", "c", V2);
	put1(T1, "list", "dd", V1);
	put1(T1, "list", "d", V1);
	put1(T1, "list", "d", V2);
	steps(T1, "list", "f", deleted);
	put1(T1, "lis", "x", V1);
	put1(T1, "list2", "a", V1);
	put1(T1, "lisu", "a", V1);
	put1(T2, "list", "b", V1);
	put1(T2, "list", "z", V1);
	put1(0, "list", "a0", V1);
	put1(257, "list", "a1", V1);
	/* Keys order as unsigned bytes. */
	put1(T1, "u8", "\xe2\x82\xac", V1);
	put1(T1, "u8", "z", V1);
	put1(T1, "u8", "\xc3\xa9", V1);
}

static enum dom_visit
record_key(void *arg, const char *key, size_t keylen, const struct item_version *v)
{
	struct td_rec *r = arg;
	enum dom_visit vis = td_rec_call(r);

	ck_assert_msg(!v->tombstone && v->value != NULL, "item_list visitor: got the "
	    "tombstone of \"%.*s\", want live items only", (int)keylen, key);
	if (vis == DOM_VISIT_NEXT)
		td_rec_add(r, "%.*s", (int)keylen, key);
	return vis;
}

struct list_case {
	uint32_t	 tenant;
	const char	*coll;
	struct key_range range;
	int64_t		 limit;
	int		 stop_at;
	int		 fail_at;
	enum dom_rc	 rc;
	const char	*want;
	bool		 more;
};

#define ALL		{ NULL, false, NULL, false }
#define START(k, incl)	{ (k), (incl), NULL, false }
#define END(k, incl)	{ NULL, false, (k), (incl) }

static const struct list_case list_cases[] = {
	{ T1, "list", ALL, 100, 0, 0, DOM_OK, "a,c,d,dd,e", false },
	{ T1, "list", ALL, 5, 0, 0, DOM_OK, "a,c,d,dd,e", false },
	{ T1, "list", ALL, 4, 0, 0, DOM_OK, "a,c,d,dd", true },
	{ T1, "list", ALL, 2, 0, 0, DOM_OK, "a,c", true },
	{ T1, "list", ALL, 1, 0, 0, DOM_OK, "a", true },
	{ T1, "list", START("b", true), 100, 0, 0, DOM_OK, "c,d,dd,e", false },
	{ T1, "list", START("c", true), 100, 0, 0, DOM_OK, "c,d,dd,e", false },
	{ T1, "list", START("c", false), 100, 0, 0, DOM_OK, "d,dd,e", false },
	{ T1, "list", START("d", false), 100, 0, 0, DOM_OK, "dd,e", false },
	{ T1, "list", START("cz", true), 100, 0, 0, DOM_OK, "d,dd,e", false },
	{ T1, "list", START("", true), 100, 0, 0, DOM_OK, "a,c,d,dd,e", false },
	{ T1, "list", START("a", false), 1, 0, 0, DOM_OK, "c", true },
	{ T1, "list", END("d", true), 100, 0, 0, DOM_OK, "a,c,d", false },
	{ T1, "list", END("d", false), 100, 0, 0, DOM_OK, "a,c", false },
	{ T1, "list", END("dd", false), 100, 0, 0, DOM_OK, "a,c,d", false },
	{ T1, "list", END("db", true), 100, 0, 0, DOM_OK, "a,c,d", false },
	{ T1, "list", END("e", true), 4, 0, 0, DOM_OK, "a,c,d,dd", true },
	{ T1, "list", { "c", true, "d", true }, 100, 0, 0, DOM_OK, "c,d", false },
	{ T1, "list", { "b", false, "dd", false }, 100, 0, 0, DOM_OK, "c,d", false },
	{ T1, "list", ALL, 100, 3, 0, DOM_OK, "a,c", true },
	{ T1, "lis", ALL, 100, 0, 0, DOM_OK, "x", false },
	{ T1, "list2", ALL, 100, 0, 0, DOM_OK, "a", false },
	{ T2, "list", ALL, 100, 0, 0, DOM_OK, "b,z", false },
	{ T1, "u8", ALL, 100, 0, 0, DOM_OK, "z,\xc3\xa9,\xe2\x82\xac", false },
	{ T1, "u8", END("\xd0", false), 100, 0, 0, DOM_OK, "z,\xc3\xa9", false },
	{ T1, "u8", START("\xc3\xa9", false), 100, 0, 0, DOM_OK, "\xe2\x82\xac", false },

	{ T1, "list", { "c", false, "d", false }, 100, 0, 0, DOM_OK, "", false },
	{ T1, "list", { "d", true, "c", true }, 100, 0, 0, DOM_OK, "", false },
	{ T1, "list", START("e", false), 100, 0, 0, DOM_OK, "", false },
	{ T1, "list", START("f", true), 100, 0, 0, DOM_OK, "", false },
	{ T1, "list", START("g", true), 100, 0, 0, DOM_OK, "", false },
	{ T1, "list", END("a", false), 100, 0, 0, DOM_OK, "", false },
	{ T1, "list", END("", true), 100, 0, 0, DOM_OK, "", false },
	{ T1, "list", { "b", true, "b", true }, 100, 0, 0, DOM_OK, "", false },
	{ T1, "list", ALL, 0, 0, 0, DOM_OK, "", true },
	{ T1, "list", ALL, 100, 1, 0, DOM_OK, "", true },
	{ T1, "list", ALL, 100, 0, 1, DOM_ERR, NULL, false },
	{ T1, "list", ALL, 100, 0, 5, DOM_ERR, NULL, false },
	{ T1, "u8", END("\xc3", true), 100, 0, 0, DOM_OK, "z", false },
	{ T1, "u8", { "\xc3\xa9", false, "\xe2\x82\xac", false }, 100, 0, 0, DOM_OK,
	    "", false },
	{ T1, "li", ALL, 100, 0, 0, DOM_OK, "", false },
	{ T1, "List", ALL, 100, 0, 0, DOM_OK, "", false },
	{ T1, "nothing", ALL, 100, 0, 0, DOM_OK, "", false },
	{ 3, "list", ALL, 100, 0, 0, DOM_OK, "", false },
	{ 256, "list", ALL, 100, 0, 0, DOM_OK, "", false },
};

START_TEST(test_list)
{
	const struct list_case *tc = &list_cases[_i];
	struct scan_stop stop;
	struct td_rec r;
	struct dom d;
	bool more = !tc->more;
	enum dom_rc rc;

	list_data();
	td_rec_init(&r, tc->stop_at, tc->fail_at);
	td_begin(&d, tc->tenant);
	rc = item_list(&d, tc->coll, &tc->range, tc->limit, 0, record_key, &r, &more, &stop);
	td_end(&d, rc);
	ck_assert_msg(rc == tc->rc, "item_list(%s, [%s%s, %s%s], limit %" PRId64 "): "
	    "got %s, want %s", tc->coll, tc->range.start ? tc->range.start : "-",
	    tc->range.start_incl ? " incl" : "", tc->range.end ? tc->range.end : "-",
	    tc->range.end_incl ? " incl" : "", tc->limit, dom_rc_name(rc),
	    dom_rc_name(tc->rc));
	if (rc != DOM_OK)
		return;
	ck_assert_msg(strcmp(r.got, tc->want) == 0 && more == tc->more,
	    "item_list(%" PRIu32 " %s, [%s%s, %s%s], limit %" PRId64 ", stop at %d): "
	    "got \"%s\"%s, want \"%s\"%s", tc->tenant, tc->coll,
	    tc->range.start ? tc->range.start : "-", tc->range.start_incl ? " incl" : "",
	    tc->range.end ? tc->range.end : "-", tc->range.end_incl ? " incl" : "",
	    tc->limit, tc->stop_at, r.got, more ? " and more" : "", tc->want,
	    tc->more ? " and more" : "");
}
END_TEST

/* A scan budget ends a page after that many records, deleted ones too (T1
 * "list": a, b deleted, c, d, dd, e, f deleted), where the next page starts. */
struct budget_case {
	struct key_range range;
	int64_t limit, budget;
	const char *want;
	bool more;
	const char *stop;     /* the next page's start key, or NULL */
};

static const struct budget_case budget_cases[] = {
	{ ALL, 100, 2, "a", true, "c" },
	{ START("b", true), 100, 1, "", true, "c" },
	{ START("a", false), 100, 1, "", true, "c" },
	{ ALL, 100, 6, "a,c,d,dd,e", true, "f" },
	{ ALL, 100, 7, "a,c,d,dd,e", false, NULL },
	{ ALL, 100, 0, "a,c,d,dd,e", false, NULL },
	{ ALL, 2, 3, "a,c", true, "d" },
	{ ALL, 2, 4, "a,c", true, NULL },
	{ START("f", true), 100, 1, "", false, NULL },
};

START_TEST(test_list_budget)
{
	const struct budget_case *tc = &budget_cases[_i];
	struct scan_stop stop;
	struct td_rec r;
	struct dom d;
	bool more;
	enum dom_rc rc;

	list_data();
	td_rec_init(&r, 0, 0);
	td_begin(&d, T1);
	rc = item_list(&d, "list", &tc->range, tc->limit, tc->budget, record_key, &r, &more,
	    &stop);
	ck_assert_msg(rc == DOM_OK, "budget case %d: got %s", _i, dom_rc_name(rc));
	ck_assert_msg(strcmp(r.got, tc->want) == 0 && more == tc->more &&
	    (tc->stop == NULL ? stop.key == NULL : stop.key != NULL &&
	    stop.keylen == strlen(tc->stop) && memcmp(stop.key, tc->stop, stop.keylen) == 0),
	    "budget case %d: got \"%s\"%s, next from %.*s; want \"%s\"%s, next from %s", _i,
	    r.got, more ? " and more" : "", stop.key ? (int)stop.keylen : 1,
	    stop.key ? stop.key : "-", tc->want, tc->more ? " and more" : "",
	    tc->stop ? tc->stop : "-");
	td_end(&d, rc);
}
END_TEST

/* ---- collections --------------------------------------------------------- */

struct coll_step {
	uint32_t	 tenant;
	const char	*coll;
	const char	*key;
	const char	*what;     /* a value, DEL or PURGE */
};

struct coll_case {
	const char	*name;
	struct coll_step steps[6];
	int		 fail_at;
	enum dom_rc	 rc;
	const char	*want;     /* name:items of T1 */
};

static const struct coll_case coll_cases[] = {
	{ "one item", { { T1, "c", "x", V1 } }, 0, DOM_OK, "c:1" },
	{ "two collections", { { T1, "b", "x", V1 }, { T1, "a", "x", V1 },
	    { T1, "a", "y", V2 } }, 0, DOM_OK, "a:2,b:1" },
	{ "versions count once", { { T1, "a", "x", V1 }, { T1, "a", "x", V2 },
	    { T1, "a", "x", VB } }, 0, DOM_OK, "a:1" },
	{ "tombstones not counted", { { T1, "a", "x", V1 }, { T1, "a", "y", V1 },
	    { T1, "a", "y", DEL }, { T1, "a", "z", V1 } }, 0, DOM_OK, "a:2" },
	{ "tombstone last", { { T1, "a", "x", V1 }, { T1, "b", "y", V1 },
	    { T1, "b", "y", DEL }, { T1, "c", "x", V1 } }, 0, DOM_OK, "a:1,c:1" },
	{ "prefix names", { { T1, "cc", "x", V1 }, { T1, "c2", "x", V1 },
	    { T1, "c", "x", V1 }, { T1, "c", "y", V1 } }, 0, DOM_OK, "c:2,c2:1,cc:1" },
	{ "other tenants", { { T2, "a", "x", V1 }, { 0, "a", "y", V1 },
	    { 256, "a", "z", V1 }, { T1, "b", "x", V1 }, { 257, "c", "x", V1 } }, 0,
	    DOM_OK, "b:1" },
	{ "visitor fails at first", { { T1, "a", "x", V1 }, { T1, "b", "x", V1 } }, 1,
	    DOM_ERR, NULL },

	{ "nothing", { { 0, NULL, NULL, NULL } }, 0, DOM_OK, "" },
	{ "only tombstones", { { T1, "a", "x", V1 }, { T1, "a", "x", DEL } }, 0,
	    DOM_OK, "" },
	{ "purged", { { T1, "a", "x", V1 }, { T1, "a", "x", PURGE } }, 0, DOM_OK, "" },
	{ "only other tenants", { { T2, "a", "x", V1 }, { 0, "b", "x", V1 },
	    { 3, "c", "x", V1 }, { 256, "d", "x", V1 } }, 0, DOM_OK, "" },
	{ "deleted in a collection of one", { { T1, "a", "x", V1 },
	    { T1, "b", "x", V1 }, { T1, "a", "x", DEL }, { T1, "b", "x", PURGE } }, 0,
	    DOM_OK, "" },
	{ "visitor fails at second", { { T1, "a", "x", V1 }, { T1, "b", "x", V1 } }, 2,
	    DOM_ERR, NULL },
	{ "visitor fails at last", { { T1, "a", "x", V1 }, { T1, "b", "x", DEL },
	    { T1, "c", "x", V1 } }, 2, DOM_ERR, NULL },
};

static enum dom_visit
record_coll(void *arg, const char *name, size_t len, int64_t items)
{
	struct td_rec *r = arg;
	enum dom_visit vis = td_rec_call(r);

	if (vis == DOM_VISIT_NEXT)
		td_rec_add(r, "%.*s:%" PRId64, (int)len, name, items);
	return vis;
}

START_TEST(test_collections)
{
	const struct coll_case *tc = &coll_cases[_i];
	struct td_rec r;
	struct dom d;
	enum dom_rc rc;

	for (int i = 0; i < NCASES(tc->steps) && tc->steps[i].coll != NULL; i++) {
		const struct coll_step *s = &tc->steps[i];
		const char *one[] = { s->what, NULL };

		steps(s->tenant, s->coll, s->key, one);
	}
	td_rec_init(&r, 0, tc->fail_at);
	td_begin(&d, T1);
	rc = collections_list(&d, record_coll, &r);
	td_end(&d, rc);
	ck_assert_msg(rc == tc->rc, "%s: collections_list: got %s, want %s", tc->name,
	    dom_rc_name(rc), dom_rc_name(tc->rc));
	if (rc == DOM_OK)
		ck_assert_msg(strcmp(r.got, tc->want) == 0, "%s: collections_list: got "
		    "\"%s\", want \"%s\"", tc->name, r.got, tc->want);
}
END_TEST

/* ---- patch --------------------------------------------------------------- */

#define NOIDX	(-2)	/* op_index not checked */

struct patch_case {
	const char	*name;
	const char	*pre[MAXSTEPS];
	const char	*patch;
	bool		 merge;
	bool		 upsert;
	const char	*im;
	size_t		 max_bytes;   /* 0: DEF_BYTES */
	int		 max_depth;   /* 0: DEF_DEPTH */
	enum dom_rc	 rc;
	const char	*want;        /* the new value */
	uint64_t	 seq;
	int		 op_index;    /* DOM_INVALID, DOM_CONFLICT */
};

#define ADD_B	"[{\"op\":\"add\",\"path\":\"b\",\"value\":2}]"
#define AB	"{\"a\":1,\"b\":2}"

static const struct patch_case patch_cases[] = {
	{ "add", { V1 }, ADD_B, false, false, NULL, 0, 0, DOM_OK, AB, 2, NOIDX },
	{ "add with a pointer", { V1 }, "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2}]",
	    false, false, NULL, 0, 0, DOM_OK, AB, 2, NOIDX },
	{ "inc", { V1 }, "[{\"op\":\"inc\",\"path\":\"a\",\"value\":1}]", false, false,
	    NULL, 0, 0, DOM_OK, V2, 2, NOIDX },
	{ "remove", { V1, V2 }, "[{\"op\":\"remove\",\"path\":\"a\"}]", false, false,
	    NULL, 0, 0, DOM_OK, VE, 3, NOIDX },
	{ "replace", { V1 }, "[{\"op\":\"replace\",\"path\":\"a\",\"value\":\"x\"}]",
	    false, false, NULL, 0, 0, DOM_OK, "{\"a\":\"x\"}", 2, NOIDX },
	{ "test then add", { V1 }, "[{\"op\":\"test\",\"path\":\"a\",\"value\":1},"
	    "{\"op\":\"add\",\"path\":\"c\",\"value\":true}]", false, false, NULL, 0, 0,
	    DOM_OK, "{\"a\":1,\"c\":true}", 2, NOIDX },
	{ "no operations: a new version", { V1 }, "[]", false, false, NULL, 0, 0,
	    DOM_OK, V1, 2, NOIDX },
	{ "merge", { V1 }, "{\"b\":2}", true, false, NULL, 0, 0, DOM_OK, AB, 2, NOIDX },
	{ "merge removes", { V1 }, "{\"a\":null}", true, false, NULL, 0, 0, DOM_OK, VE,
	    2, NOIDX },
	{ "upsert on missing", { NULL }, ADD_B, false, true, NULL, 0, 0, DOM_OK,
	    "{\"b\":2}", 1, NOIDX },
	{ "upsert merge on missing", { NULL }, V1, true, true, NULL, 0, 0, DOM_OK, V1, 1,
	    NOIDX },
	{ "upsert on tombstone", { V1, DEL }, "[{\"op\":\"init\",\"path\":\"n\","
	    "\"value\":0}]", false, true, NULL, 0, 0, DOM_OK, "{\"n\":0}", 3, NOIDX },
	{ "upsert on live", { V1 }, ADD_B, false, true, NULL, 0, 0, DOM_OK, AB, 2, NOIDX },
	{ "If-Match the ref", { V1 }, ADD_B, false, false, REF1, 0, 0, DOM_OK, AB, 2,
	    NOIDX },
	{ "If-Match *", { V2, V1 }, "{\"b\":2}", true, false, "*", 0, 0, DOM_OK, AB, 3,
	    NOIDX },
	{ "exactly max_bytes", { V1 }, ADD_B, false, false, NULL, 13, 0, DOM_OK, AB, 2,
	    NOIDX },
	{ "exactly max_depth", { V1 }, "{\"b\":{\"c\":1}}", true, false, NULL, 0, 2,
	    DOM_OK, "{\"a\":1,\"b\":{\"c\":1}}", 2, NOIDX },

	{ "missing", { NULL }, ADD_B, false, false, NULL, 0, 0, DOM_NOT_FOUND, NULL, 0,
	    NOIDX },
	{ "missing, If-Match *", { NULL }, ADD_B, false, false, "*", 0, 0,
	    DOM_NOT_FOUND, NULL, 0, NOIDX },
	{ "missing, If-Match ref", { NULL }, "{}", true, false, REF1, 0, 0,
	    DOM_NOT_FOUND, NULL, 0, NOIDX },
	{ "tombstoned", { V1, DEL }, ADD_B, false, false, NULL, 0, 0, DOM_NOT_FOUND,
	    NULL, 0, NOIDX },
	{ "tombstoned, If-Match last ref", { V1, DEL }, ADD_B, false, false, REF1, 0, 0,
	    DOM_NOT_FOUND, NULL, 0, NOIDX },
	{ "purged", { V1, PURGE }, "{}", true, false, NULL, 0, 0, DOM_NOT_FOUND, NULL, 0,
	    NOIDX },
	{ "missing, malformed patch", { NULL }, "[{\"op\":\"frob\"}]", false, false,
	    NULL, 0, 0, DOM_NOT_FOUND, NULL, 0, NOIDX },
	{ "If-Match other ref", { V1 }, ADD_B, false, false, REF2, 0, 0, DOM_MISMATCH,
	    NULL, 0, NOIDX },
	{ "If-Match weak only", { V1 }, ADD_B, false, false, "", 0, 0, DOM_MISMATCH,
	    NULL, 0, NOIDX },
	{ "upsert on missing, If-Match *", { NULL }, ADD_B, false, true, "*", 0, 0,
	    DOM_MISMATCH, NULL, 0, NOIDX },
	{ "upsert on tombstone, If-Match", { V1, DEL }, ADD_B, false, true, REF1, 0, 0,
	    DOM_MISMATCH, NULL, 0, NOIDX },
	{ "unknown op", { V1 }, "[{\"op\":\"frob\",\"path\":\"a\"}]", false, false,
	    NULL, 0, 0, DOM_INVALID, NULL, 0, 0 },
	{ "bad second op", { V1 }, "[{\"op\":\"add\",\"path\":\"b\",\"value\":2},"
	    "{\"op\":\"add\",\"value\":1}]", false, false, NULL, 0, 0, DOM_INVALID, NULL,
	    0, 1 },
	{ "not an array", { V1 }, "{\"op\":\"add\",\"path\":\"b\",\"value\":2}", false,
	    false, NULL, 0, 0, DOM_INVALID, NULL, 0, -1 },
	{ "merge of an array", { V1 }, "[1]", true, false, NULL, 0, 0, DOM_INVALID, NULL,
	    0, -1 },
	{ "upsert, malformed", { NULL }, "[{\"op\":\"add\"}]", false, true, NULL, 0, 0,
	    DOM_INVALID, NULL, 0, 0 },
	{ "remove missing", { V1 }, "[{\"op\":\"remove\",\"path\":\"x\"}]", false, false,
	    NULL, 0, 0, DOM_CONFLICT, NULL, 0, 0 },
	{ "failed test: none applies", { V1 }, "[{\"op\":\"add\",\"path\":\"b\","
	    "\"value\":2},{\"op\":\"test\",\"path\":\"a\",\"value\":2}]", false, false,
	    NULL, 0, 0, DOM_CONFLICT, NULL, 0, 1 },
	{ "inc of a string", { V1 }, "[{\"op\":\"replace\",\"path\":\"a\",\"value\":\"x\"},"
	    "{\"op\":\"inc\",\"path\":\"a\",\"value\":1}]", false, false, NULL, 0, 0,
	    DOM_CONFLICT, NULL, 0, 1 },
	{ "root replaced by an array", { V1 }, "[{\"op\":\"replace\",\"path\":\"\","
	    "\"value\":[1]}]", false, false, NULL, 0, 0, DOM_CONFLICT, NULL, 0, 0 },
	{ "upsert, conflict", { NULL }, "[{\"op\":\"remove\",\"path\":\"a\"}]", false,
	    true, NULL, 0, 0, DOM_CONFLICT, NULL, 0, 0 },
	{ "over max_bytes", { V1 }, ADD_B, false, false, NULL, 12, 0, DOM_TOO_LARGE,
	    NULL, 0, NOIDX },
	{ "upsert over max_bytes", { NULL }, V1, true, true, NULL, 6, 0, DOM_TOO_LARGE,
	    NULL, 0, NOIDX },
	/* Too deep is a conflict (patch.h: it depends on the stored document as
	 * much as on the patch); DOM_TOO_DEEP is only the backstop. */
	{ "over max_depth", { V1 }, "{\"b\":{\"c\":1}}", true, false, NULL, 0, 1,
	    DOM_CONFLICT, NULL, 0, NOIDX },
	{ "ops over max_depth", { V1 }, "[{\"op\":\"add\",\"path\":\"b\",\"value\":"
	    "{\"c\":[[1]]}}]", false, false, NULL, 0, 3, DOM_CONFLICT, NULL, 0, 0 },
	{ "second op over max_depth", { V1 }, "[{\"op\":\"add\",\"path\":\"b\","
	    "\"value\":2},{\"op\":\"add\",\"path\":\"c\",\"value\":{\"d\":{\"e\":1}}}]",
	    false, false, NULL, 0, 2, DOM_CONFLICT, NULL, 0, 1 },
	{ "upsert over max_depth", { NULL }, "{\"b\":{\"c\":1}}", true, true, NULL, 0,
	    1, DOM_CONFLICT, NULL, 0, NOIDX },
};

START_TEST(test_patch)
{
	const struct patch_case *tc = &patch_cases[_i];
	struct state before, after;
	struct json_object *patch = NULL;
	struct patch_error err;
	struct item_version v;
	struct dom_cond im;
	struct dom d;
	const char *why = "";
	enum dom_rc rc;

	steps(T1, COLL, KEY, tc->pre);
	state_of(T1, COLL, KEY, &before);
	ck_assert_msg(json_parse_patch(tc->patch, strlen(tc->patch), 100, &patch,
	    &why) == JSON_OK, "%s: parsing the patch: got an error (%s), want none",
	    tc->name, why);
	td_cond(&im, tc->im);
	if (tc->max_bytes > 0)
		td_max_bytes = tc->max_bytes;
	if (tc->max_depth > 0)
		td_max_depth = tc->max_depth;
	memset(&err, 0, sizeof(err));
	err.op_index = 99;
	td_begin(&d, T1);
	rc = item_patch(&d, COLL, KEY, patch, tc->merge, tc->upsert, &im, &v, &err);
	td_end(&d, rc);
	json_release(patch);
	td_max_bytes = DEF_BYTES;
	td_max_depth = DEF_DEPTH;
	ck_assert_msg(rc == tc->rc, "%s: item_patch: got %s (%s), want %s", tc->name,
	    dom_rc_name(rc), err.info, dom_rc_name(tc->rc));
	if (rc == DOM_INVALID || rc == DOM_CONFLICT) {
		ck_assert_msg(err.info[0] != '\0', "%s: err.info: got \"\", want a "
		    "sentence", tc->name);
		ck_assert_msg(tc->op_index == NOIDX || err.op_index == tc->op_index,
		    "%s: err.op_index: got %d, want %d", tc->name, err.op_index,
		    tc->op_index);
		ck_assert_msg((err.details != NULL) == (rc == DOM_CONFLICT),
		    "%s: err.details: got %s, want %s", tc->name, err.details ?
		    "details" : "none", rc == DOM_CONFLICT ? "details" : "none");
	}
	patch_error_free(&err);
	if (rc != DOM_OK) {
		state_of(T1, COLL, KEY, &after);
		same_state(tc->name, &before, &after);
		return;
	}
	ck_assert_msg(v.seq == tc->seq && v.vlen == strlen(tc->want) &&
	    memcmp(v.value, tc->want, v.vlen) == 0, "%s: item_patch: got seq %" PRIu64
	    " \"%.*s\", want seq %" PRIu64 " \"%s\"", tc->name, v.seq, (int)v.vlen,
	    v.value, tc->seq, tc->want);
	check_head(T1, COLL, KEY, tc->want, tc->seq, v.ref);
	ck_assert_msg(history_len(T1, COLL, KEY) == (int64_t)tc->seq, "%s: history: "
	    "got %" PRId64 " versions, want %" PRIu64, tc->name,
	    history_len(T1, COLL, KEY), tc->seq);
}
END_TEST

/* ---- tenants ------------------------------------------------------------- */

enum iso_act { ISO_PUT, ISO_DELETE, ISO_PURGE, ISO_PATCH, ISO_GET, ISO_GET_REF,
	ISO_HISTORY };

struct iso_case {
	uint32_t	 actor;
	enum iso_act	 act;
	const char	*arg;      /* the value, merge patch or ref */
	const char	*im;
	const char	*inm;
	enum dom_rc	 rc;
};

static const struct iso_case iso_cases[] = {
	{ T1, ISO_PUT, V2, NULL, NULL, DOM_OK },
	{ T2, ISO_PUT, V2, NULL, NULL, DOM_OK },
	{ T1, ISO_PUT, V2, NULL, REFB, DOM_OK },
	{ T2, ISO_PUT, V2, NULL, REF1, DOM_OK },
	{ 3, ISO_PUT, V1, NULL, "*", DOM_OK },
	{ T1, ISO_DELETE, NULL, NULL, NULL, DOM_OK },
	{ T1, ISO_PURGE, NULL, NULL, NULL, DOM_OK },
	{ T2, ISO_PURGE, NULL, NULL, NULL, DOM_OK },
	{ T1, ISO_PATCH, "{\"c\":1}", NULL, NULL, DOM_OK },
	{ T2, ISO_GET_REF, REFB, NULL, NULL, DOM_OK },

	{ T1, ISO_PUT, V2, REFB, NULL, DOM_MISMATCH },
	{ T2, ISO_PUT, V2, REF1, NULL, DOM_MISMATCH },
	{ 3, ISO_PUT, V2, "*", NULL, DOM_MISMATCH },
	{ T1, ISO_DELETE, NULL, REFB, NULL, DOM_MISMATCH },
	{ 3, ISO_DELETE, NULL, "*", NULL, DOM_MISMATCH },
	{ T2, ISO_PATCH, "{\"c\":1}", REF1, NULL, DOM_MISMATCH },
	{ 3, ISO_PATCH, "{\"c\":1}", NULL, NULL, DOM_NOT_FOUND },
	{ T1, ISO_GET_REF, REFB, NULL, NULL, DOM_NOT_FOUND },
	{ T2, ISO_GET_REF, REF1, NULL, NULL, DOM_NOT_FOUND },
	{ 3, ISO_GET, NULL, NULL, NULL, DOM_NOT_FOUND },
	{ 0, ISO_GET, NULL, NULL, NULL, DOM_NOT_FOUND },
	{ 3, ISO_HISTORY, NULL, NULL, NULL, DOM_NOT_FOUND },
};

static enum dom_rc
iso_run(const struct iso_case *tc)
{
	struct json_object *patch = NULL;
	struct patch_error err;
	struct item_version v;
	struct dom_cond im;
	struct dom d;
	const char *why;
	int64_t n;
	enum dom_rc rc;

	switch (tc->act) {
	case ISO_PUT:
		return do_put(tc->actor, COLL, KEY, tc->arg, tc->im, tc->inm, &v);
	case ISO_DELETE:
	case ISO_PURGE:
		return do_delete(tc->actor, COLL, KEY, tc->im, tc->act == ISO_PURGE);
	case ISO_GET:
		return do_get(tc->actor, COLL, KEY, &v);
	case ISO_GET_REF:
		return do_get_ref(tc->actor, COLL, KEY, tc->arg, strlen(tc->arg), &v);
	case ISO_HISTORY:
		n = history_len(tc->actor, COLL, KEY);
		return n == -1 ? DOM_NOT_FOUND : DOM_OK;
	case ISO_PATCH:
		break;
	}
	ck_assert_msg(json_parse_patch(tc->arg, strlen(tc->arg), 100, &patch, &why) ==
	    JSON_OK, "parsing %s: got an error (%s), want none", tc->arg, why);
	td_cond(&im, tc->im);
	td_begin(&d, tc->actor);
	rc = item_patch(&d, COLL, KEY, patch, true, false, &im, &v, &err);
	td_end(&d, rc);
	json_release(patch);
	return rc;
}

START_TEST(test_tenants)
{
	const struct iso_case *tc = &iso_cases[_i];
	enum dom_rc rc;

	put1(T1, COLL, KEY, V1);
	put1(T2, COLL, KEY, VB);
	rc = iso_run(tc);
	ck_assert_msg(rc == tc->rc, "tenant %" PRIu32 ", action %d: got %s, want %s",
	    tc->actor, (int)tc->act, dom_rc_name(rc), dom_rc_name(tc->rc));
	if (tc->actor != T1)
		check_head(T1, COLL, KEY, V1, 1, REF1);
	if (tc->actor != T2)
		check_head(T2, COLL, KEY, VB, 1, REFB);
	if (tc->actor != 3)
		ck_assert_msg(history_len(3, COLL, KEY) == -1, "tenant 3 after the "
		    "action of %" PRIu32 ": got an item, want none", tc->actor);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *
items_suite(void)
{
	Suite *s = suite_create("items");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_checked_fixture(core, td_setup, td_teardown);
	tcase_add_loop_test(core, test_put, 0, NCASES(put_cases));
	tcase_add_loop_test(core, test_get, 0, NCASES(get_cases));
	tcase_add_loop_test(core, test_get_ref, 0, NCASES(ref_cases));
	tcase_add_loop_test(core, test_create, 0, NCASES(create_cases));
	tcase_add_loop_test(core, test_delete, 0, NCASES(delete_cases));
	tcase_add_loop_test(core, test_purge, 0, NCASES(purge_cases));
	tcase_add_loop_test(core, test_collections, 0, NCASES(coll_cases));
	tcase_add_loop_test(core, test_tenants, 0, NCASES(iso_cases));
	tcase_set_timeout(core, 60);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, td_setup, td_teardown);
	tcase_add_test(limits, test_create_many);
	tcase_add_test(limits, test_purge_long);
	tcase_add_loop_test(limits, test_history, 0, NCASES(history_cases));
	tcase_add_loop_test(limits, test_list, 0, NCASES(list_cases));
	tcase_add_loop_test(limits, test_list_budget, 0, NCASES(budget_cases));
	tcase_set_timeout(limits, 60);
	suite_add_tcase(s, limits);

	tcase_add_checked_fixture(errors, td_setup, td_teardown);
	tcase_add_loop_test(errors, test_patch, 0, NCASES(patch_cases));
	tcase_set_timeout(errors, 60);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(items_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
