/*
 * check_events: unit tests for src/events.h (create with ordinals, get,
 * replace, patch, delete, newest-first lists with ranges) over a real
 * Berkeley DB environment.
 *
 * Every test gets a fresh environment through the checked fixture of
 * testdom.h and one data set; each row of a table is one case. Ordinals are
 * checked against the formula of docs/api.md, ((now - 2014-01-01) << 24) | n,
 * computed here by TID: the first event of an item in a millisecond gets
 * TID(now), every later one max(TID(now), last + 1). A refused call must
 * leave the event as it was.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "domain.h"
#include "events.h"
#include "evpos.h"
#include "ids.h"
/* JSONC_CFLAGS puts json-c's own json.h first on the include path. */
#include "../src/json.h"
#include "patch.h"
#include "testdom.h"
#include "timefmt.h"

#define T1	1
#define T2	2
#define COLL	"users"
#define KEY	"alice"
#define TYPE	"login"
#define MAX	UINT64_MAX

/* The ordinal of the first event of an item at now (after the id epoch). */
#define TID(now)	((uint64_t)((now) - IDS_EPOCH_MS) << 24)
#define O		TID(NOW)

/* ---- helpers ------------------------------------------------------------- */

static enum dom_rc
ev_create(uint32_t t, const char *coll, const char *key, const char *type,
    int64_t now, uint64_t ts, const char *value, struct evpos *pos,
    struct event_record *out)
{
	struct event_name n = { coll, key, type };
	struct dom d;
	enum dom_rc rc;

	td_begin(&d, t);
	d.now_ms = now;
	rc = event_create(&d, &n, (int64_t)ts, value, strlen(value), pos, out);
	td_end(&d, rc);
	return rc;
}

/* Creates an event at NOW; it must succeed and get ordinal want. */
static void
ev_add(uint32_t t, const char *coll, const char *key, const char *type, uint64_t ts,
    const char *value, uint64_t want)
{
	struct event_record r;
	struct evpos p;
	enum dom_rc rc = ev_create(t, coll, key, type, NOW, ts, value, &p, &r);

	ck_assert_msg(rc == DOM_OK, "event_create(%s/%s/%s) to set up: got %s, want "
	    "DOM_OK", coll, key, type, dom_rc_name(rc));
	ck_assert_msg(p.ts == ts && p.ord == want, "event_create(%s/%s/%s) to set up: "
	    "got %" PRIu64 "/%" PRIu64 ", want %" PRIu64 "/%" PRIu64, coll, key, type,
	    p.ts, p.ord, ts, want);
}

static enum dom_rc
ev_get(uint32_t t, const char *coll, const char *key, const char *type, uint64_t ts,
    uint64_t ord, struct event_record *out)
{
	struct event_name n = { coll, key, type };
	struct evpos p = { ts, ord };
	struct dom d;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = event_get(&d, &n, &p, out);
	td_end(&d, rc);
	return rc;
}

/* The event is there with value (NULL: it is not there). */
static void
check_event(const char *what, uint32_t t, const char *coll, const char *key,
    const char *type, uint64_t ts, uint64_t ord, const char *value)
{
	struct event_record r;
	char ref[IDS_REF_LEN + 1];
	enum dom_rc rc = ev_get(t, coll, key, type, ts, ord, &r);

	if (value == NULL) {
		ck_assert_msg(rc == DOM_NOT_FOUND, "%s: event_get(%s/%s/%s/%" PRIu64 "/O+%"
		    PRId64 "): got %s, want DOM_NOT_FOUND", what, coll, key, type, ts,
		    (int64_t)(ord - O), dom_rc_name(rc));
		return;
	}
	ck_assert_msg(rc == DOM_OK, "%s: event_get(%s/%s/%s/%" PRIu64 "/O+%" PRId64 "): "
	    "got %s, want DOM_OK", what, coll, key, type, ts, (int64_t)(ord - O),
	    dom_rc_name(rc));
	ids_ref(value, strlen(value), ref, NULL);
	ck_assert_msg(r.vlen == strlen(value) && memcmp(r.value, value, r.vlen) == 0 &&
	    strcmp(r.ref, ref) == 0, "%s: event_get(%s/%s/%s/%" PRIu64 "): got \"%.*s\" "
	    "ref %s, want \"%s\" ref %s", what, coll, key, type, ts, (int)r.vlen,
	    r.value, r.ref, value, ref);
}

/* ---- create -------------------------------------------------------------- */

struct create_step {
	uint32_t	 tenant;
	const char	*coll;
	const char	*key;
	const char	*type;
	int64_t		 now;
	uint64_t	 ts;
	uint64_t	 want;     /* the ordinal */
};

struct create_case {
	const char	*name;
	struct create_step s[4];
};

#define A(now, ts, want)	{ T1, COLL, KEY, TYPE, (now), (ts), (want) }

static const struct create_case create_cases[] = {
	{ "one millisecond", { A(NOW, 1000, O), A(NOW, 1000, O + 1),
	    A(NOW, 1000, O + 2), A(NOW, 999, O + 3) } },
	{ "time moves on", { A(NOW, 1000, O), A(NOW + 1, 1000, TID(NOW + 1)),
	    A(NOW + 5, 1000, TID(NOW + 5)) } },
	{ "time goes back", { A(NOW + 5, 1000, TID(NOW + 5)),
	    A(NOW, 1000, TID(NOW + 5) + 1) } },
	{ "time goes far back", { A(NOW + 1000, 1, TID(NOW + 1000)),
	    A(NOW, 2, TID(NOW + 1000) + 1), A(NOW - 1000, 3, TID(NOW + 1000) + 2) } },
	{ "back, then past it", { A(NOW + 1, 1, TID(NOW + 1)),
	    A(NOW, 1, TID(NOW + 1) + 1), A(NOW + 2, 1, TID(NOW + 2)) } },
	{ "across types", { A(NOW, 1, O), { T1, COLL, KEY, "logout", NOW, 1, O + 1 },
	    { T1, COLL, KEY, "x", NOW, 7, O + 2 }, A(NOW, 1, O + 3) } },
	{ "items are independent", { A(NOW, 1, O),
	    { T1, COLL, "bob", TYPE, NOW, 1, O }, A(NOW, 1, O + 1),
	    { T1, COLL, "bob", TYPE, NOW, 1, O + 1 } } },
	{ "tenants are independent", { A(NOW, 1, O),
	    { T2, COLL, KEY, TYPE, NOW, 1, O }, { 256, COLL, KEY, TYPE, NOW, 1, O } } },
	{ "collections are independent", { A(NOW, 1, O),
	    { T1, "users2", KEY, TYPE, NOW, 1, O }, { T1, "user", "salice", TYPE, NOW,
	    1, O } } },
	{ "key prefixes are independent", { A(NOW, 1, O),
	    { T1, COLL, "alice2", TYPE, NOW, 1, O }, { T1, COLL, "alic", TYPE, NOW, 1,
	    O } } },
	{ "any timestamp", { A(NOW, 0, O), A(NOW, UINT64_C(1) << 40, O + 1),
	    A(NOW, 5, O + 2), A(NOW, 0, O + 3) } },
	{ "before the id epoch", { A(0, 1, 0), A(0, 1, 1), A(IDS_EPOCH_MS - 1, 1, 2),
	    A(IDS_EPOCH_MS + 1, 1, TID(IDS_EPOCH_MS + 1)) } },
};

START_TEST(test_create)
{
	const struct create_case *tc = &create_cases[_i];
	struct evpos pos[NCASES(tc->s)];
	int n;

	for (n = 0; n < NCASES(tc->s) && tc->s[n].coll != NULL; n++) {
		const struct create_step *s = &tc->s[n];
		struct event_record r;
		int64_t t0 = timefmt_now_ms(), t1;
		enum dom_rc rc = ev_create(s->tenant, s->coll, s->key, s->type, s->now,
		    s->ts, V1, &pos[n], &r);

		t1 = timefmt_now_ms();
		ck_assert_msg(rc == DOM_OK, "%s, step %d: event_create: got %s, want "
		    "DOM_OK", tc->name, n, dom_rc_name(rc));
		ck_assert_msg(pos[n].ts == s->ts && pos[n].ord == s->want, "%s, step %d: "
		    "event_create: got %" PRIu64 "/%#" PRIx64 ", want %" PRIu64 "/%#" PRIx64,
		    tc->name, n, pos[n].ts, pos[n].ord, s->ts, s->want);
		ck_assert_msg(strcmp(r.ref, REF1) == 0 && r.vlen == strlen(V1) &&
		    r.reftime >= t0 && r.reftime <= t1, "%s, step %d: event_create: got "
		    "ref %s reftime %" PRId64 ", want ref " REF1 " and a reftime in %" PRId64
		    "..%" PRId64, tc->name, n, r.ref, r.reftime, t0, t1);
	}
	/* Each is still there at its own position. */
	for (int i = 0; i < n; i++) {
		const struct create_step *s = &tc->s[i];

		check_event(tc->name, s->tenant, s->coll, s->key, s->type, pos[i].ts,
		    pos[i].ord, V1);
	}
}
END_TEST

/* ---- get ----------------------------------------------------------------- */

/* The events every single-event test runs over. */
static void
get_data(void)
{
	ev_add(T1, COLL, KEY, TYPE, 1000, V1, O);
	ev_add(T1, COLL, KEY, TYPE, 1000, V2, O + 1);
	ev_add(T1, COLL, KEY, "logout", 2000, VB, O + 2);
	ev_add(T2, COLL, KEY, TYPE, 1000, VB, O);
	ev_add(T1, COLL, "bob", TYPE, 3000, V1, O);
}

struct get_case {
	uint32_t	 tenant;
	const char	*coll;
	const char	*key;
	const char	*type;
	uint64_t	 ts;
	uint64_t	 ord;
	const char	*value;    /* NULL: DOM_NOT_FOUND */
};

static const struct get_case get_cases[] = {
	{ T1, COLL, KEY, TYPE, 1000, O, V1 },
	{ T1, COLL, KEY, TYPE, 1000, O + 1, V2 },
	{ T1, COLL, KEY, "logout", 2000, O + 2, VB },
	{ T2, COLL, KEY, TYPE, 1000, O, VB },
	{ T1, COLL, "bob", TYPE, 3000, O, V1 },

	{ T1, COLL, KEY, TYPE, 1000, O + 2, NULL },
	{ T1, COLL, KEY, TYPE, 1000, O - 1, NULL },
	{ T1, COLL, KEY, TYPE, 1001, O, NULL },
	{ T1, COLL, KEY, TYPE, 999, O + 1, NULL },
	{ T1, COLL, KEY, TYPE, 2000, O + 2, NULL },
	{ T1, COLL, KEY, "logout", 1000, O, NULL },
	{ T1, COLL, KEY, "logi", 1000, O, NULL },
	{ T1, COLL, KEY, "login2", 1000, O, NULL },
	{ T1, COLL, KEY, "Login", 1000, O, NULL },
	{ T1, COLL, "alic", TYPE, 1000, O, NULL },
	{ T1, COLL, "alice2", TYPE, 1000, O, NULL },
	{ T1, "users2", KEY, TYPE, 1000, O, NULL },
	{ T1, "user", "salice", TYPE, 1000, O, NULL },
	{ T1, COLL, "bob", TYPE, 1000, O, NULL },
	{ T2, COLL, KEY, TYPE, 1000, O + 1, NULL },
	{ 3, COLL, KEY, TYPE, 1000, O, NULL },
	{ 0, COLL, KEY, TYPE, 1000, O, NULL },
	{ T1, COLL, KEY, TYPE, 0, 0, NULL },
	{ T1, COLL, KEY, TYPE, MAX, MAX, NULL },
};

START_TEST(test_get)
{
	const struct get_case *tc = &get_cases[_i];

	get_data();
	check_event("get", tc->tenant, tc->coll, tc->key, tc->type, tc->ts, tc->ord,
	    tc->value);
}
END_TEST

/* ---- replace ------------------------------------------------------------- */

/* A target in the data of get_data: the first event of alice, unless
 * changed. */
struct target {
	uint32_t	 tenant;
	const char	*type;
	uint64_t	 ts;
	uint64_t	 ord;
};

#define E0		{ T1, TYPE, 1000, O }
#define E1		{ T1, TYPE, 1000, O + 1 }
#define MISSING		{ T1, TYPE, 1000, O + 7 }
#define IN_T2		{ T2, TYPE, 1000, O + 1 }
#define OTHER_TYPE	{ T1, "logout", 1000, O }
#define OTHER_TS	{ T1, TYPE, 1001, O }

/* The value of the target before the change (NULL: none). */
static const char *
before_value(const struct target *t)
{
	if (t->tenant == T1 && strcmp(t->type, TYPE) == 0 && t->ts == 1000)
		return t->ord == O ? V1 : t->ord == O + 1 ? V2 : NULL;
	return NULL;
}

/* Every event of get_data but the target is as it was. */
static void
check_others(const char *what, const struct target *t)
{
	static const struct target all[] = { E0, E1, { T1, "logout", 2000, O + 2 },
		{ T2, TYPE, 1000, O } };
	static const char *const values[] = { V1, V2, VB, VB };

	for (int i = 0; i < NCASES(all); i++)
		if (all[i].tenant != t->tenant || strcmp(all[i].type, t->type) != 0 ||
		    all[i].ts != t->ts || all[i].ord != t->ord)
			check_event(what, all[i].tenant, COLL, KEY, all[i].type, all[i].ts,
			    all[i].ord, values[i]);
	check_event(what, T1, COLL, "bob", TYPE, 3000, O, V1);
}

struct replace_case {
	const char	*name;
	struct target	 t;
	const char	*im;
	const char	*value;
	enum dom_rc	 rc;
};

static const struct replace_case replace_cases[] = {
	{ "no condition", E0, NULL, V2, DOM_OK },
	{ "If-Match the ref", E0, REF1, VB, DOM_OK },
	{ "If-Match *", E0, "*", VB, DOM_OK },
	{ "If-Match in a list", E0, REFB "," REF1, VE, DOM_OK },
	{ "the same value", E0, NULL, V1, DOM_OK },
	{ "the second of a millisecond", E1, REF2, V1, DOM_OK },

	{ "missing", MISSING, NULL, V2, DOM_NOT_FOUND },
	{ "missing, If-Match *", MISSING, "*", V2, DOM_MISMATCH },
	{ "missing, If-Match ref", MISSING, REF1, V2, DOM_MISMATCH },
	{ "If-Match other ref", E0, REF2, VB, DOM_MISMATCH },
	{ "If-Match weak only", E0, "", VB, DOM_MISMATCH },
	{ "If-Match list without it", E0, REF2 "," REFB "," REFNULL, VB, DOM_MISMATCH },
	{ "other tenant", IN_T2, NULL, V1, DOM_NOT_FOUND },
	{ "other tenant, If-Match its ref", IN_T2, REF2, V1, DOM_MISMATCH },
	{ "other type", OTHER_TYPE, NULL, V2, DOM_NOT_FOUND },
	{ "other timestamp", OTHER_TS, NULL, V2, DOM_NOT_FOUND },
};

START_TEST(test_replace)
{
	const struct replace_case *tc = &replace_cases[_i];
	struct event_name n = { COLL, KEY, tc->t.type };
	struct evpos p = { tc->t.ts, tc->t.ord };
	struct event_record r;
	struct dom_cond im;
	struct dom d;
	char ref[IDS_REF_LEN + 1];
	int64_t t0, t1;
	enum dom_rc rc;

	get_data();
	td_cond(&im, tc->im);
	t0 = timefmt_now_ms();
	td_begin(&d, tc->t.tenant);
	rc = event_replace(&d, &n, &p, tc->value, strlen(tc->value), &im, &r);
	td_end(&d, rc);
	t1 = timefmt_now_ms();
	ck_assert_msg(rc == tc->rc, "%s: event_replace: got %s, want %s", tc->name,
	    dom_rc_name(rc), dom_rc_name(tc->rc));
	check_others(tc->name, &tc->t);
	if (rc != DOM_OK) {
		check_event(tc->name, tc->t.tenant, COLL, KEY, tc->t.type, tc->t.ts,
		    tc->t.ord, before_value(&tc->t));
		return;
	}
	ids_ref(tc->value, strlen(tc->value), ref, NULL);
	ck_assert_msg(strcmp(r.ref, ref) == 0 && r.reftime >= t0 && r.reftime <= t1,
	    "%s: event_replace: got ref %s reftime %" PRId64 ", want ref %s, reftime "
	    "%" PRId64 "..%" PRId64, tc->name, r.ref, r.reftime, ref, t0, t1);
	check_event(tc->name, tc->t.tenant, COLL, KEY, tc->t.type, tc->t.ts, tc->t.ord,
	    tc->value);
}
END_TEST

/* ---- patch --------------------------------------------------------------- */

#define NOIDX	(-2)	/* op_index not checked */
#define ADD_B	"[{\"op\":\"add\",\"path\":\"b\",\"value\":2}]"
#define AB	"{\"a\":1,\"b\":2}"

struct patch_case {
	const char	*name;
	struct target	 t;
	const char	*patch;
	bool		 merge;
	const char	*im;
	size_t		 max_bytes;   /* 0: DEF_BYTES */
	int		 max_depth;   /* 0: DEF_DEPTH */
	enum dom_rc	 rc;
	const char	*want;
	int		 op_index;
};

static const struct patch_case patch_cases[] = {
	{ "add", E0, ADD_B, false, NULL, 0, 0, DOM_OK, AB, NOIDX },
	{ "inc", E0, "[{\"op\":\"inc\",\"path\":\"a\",\"value\":1}]", false, NULL, 0, 0,
	    DOM_OK, V2, NOIDX },
	{ "remove", E1, "[{\"op\":\"remove\",\"path\":\"a\"}]", false, NULL, 0, 0,
	    DOM_OK, VE, NOIDX },
	{ "no operations", E0, "[]", false, NULL, 0, 0, DOM_OK, V1, NOIDX },
	{ "merge", E0, "{\"b\":2}", true, NULL, 0, 0, DOM_OK, AB, NOIDX },
	{ "merge removes", E0, "{\"a\":null}", true, NULL, 0, 0, DOM_OK, VE, NOIDX },
	{ "If-Match the ref", E0, ADD_B, false, REF1, 0, 0, DOM_OK, AB, NOIDX },
	{ "If-Match *", E1, "{\"a\":1}", true, "*", 0, 0, DOM_OK, V1, NOIDX },
	{ "exactly max_bytes", E0, ADD_B, false, NULL, 13, 0, DOM_OK, AB, NOIDX },
	{ "exactly max_depth", E0, "{\"b\":{\"c\":1}}", true, NULL, 0, 2, DOM_OK,
	    "{\"a\":1,\"b\":{\"c\":1}}", NOIDX },

	{ "missing", MISSING, ADD_B, false, NULL, 0, 0, DOM_NOT_FOUND, NULL, NOIDX },
	{ "missing, merge", MISSING, V1, true, NULL, 0, 0, DOM_NOT_FOUND, NULL, NOIDX },
	{ "missing, malformed", MISSING, "[{\"op\":\"frob\"}]", false, NULL, 0, 0,
	    DOM_NOT_FOUND, NULL, NOIDX },
	{ "other tenant", IN_T2, ADD_B, false, NULL, 0, 0, DOM_NOT_FOUND, NULL, NOIDX },
	{ "missing, If-Match *", MISSING, ADD_B, false, "*", 0, 0, DOM_MISMATCH, NULL,
	    NOIDX },
	{ "missing, If-Match ref", MISSING, ADD_B, false, REF1, 0, 0, DOM_MISMATCH, NULL,
	    NOIDX },
	{ "If-Match other ref", E0, ADD_B, false, REF2, 0, 0, DOM_MISMATCH, NULL, NOIDX },
	{ "If-Match weak only", E0, ADD_B, false, "", 0, 0, DOM_MISMATCH, NULL, NOIDX },
	{ "unknown op", E0, "[{\"op\":\"frob\",\"path\":\"a\"}]", false, NULL, 0, 0,
	    DOM_INVALID, NULL, 0 },
	{ "not an array", E0, "{\"op\":\"add\",\"path\":\"b\",\"value\":2}", false, NULL,
	    0, 0, DOM_INVALID, NULL, -1 },
	{ "merge of an array", E0, "[1]", true, NULL, 0, 0, DOM_INVALID, NULL, -1 },
	{ "remove missing", E0, "[{\"op\":\"remove\",\"path\":\"x\"}]", false, NULL, 0,
	    0, DOM_CONFLICT, NULL, 0 },
	{ "failed test: none applies", E0, "[{\"op\":\"add\",\"path\":\"b\",\"value\":2},"
	    "{\"op\":\"test\",\"path\":\"a\",\"value\":2}]", false, NULL, 0, 0,
	    DOM_CONFLICT, NULL, 1 },
	{ "root replaced by an array", E0, "[{\"op\":\"replace\",\"path\":\"\","
	    "\"value\":[1]}]", false, NULL, 0, 0, DOM_CONFLICT, NULL, 0 },
	{ "over max_bytes", E0, ADD_B, false, NULL, 12, 0, DOM_TOO_LARGE, NULL, NOIDX },
	/* Too deep is a conflict (patch.h); DOM_TOO_DEEP is only the backstop. */
	{ "over max_depth", E0, "{\"b\":{\"c\":1}}", true, NULL, 0, 1, DOM_CONFLICT,
	    NULL, NOIDX },
	{ "ops over max_depth", E0, "[{\"op\":\"add\",\"path\":\"b\",\"value\":"
	    "{\"c\":1}}]", false, NULL, 0, 1, DOM_CONFLICT, NULL, 0 },
};

START_TEST(test_patch)
{
	const struct patch_case *tc = &patch_cases[_i];
	struct event_name n = { COLL, KEY, tc->t.type };
	struct evpos p = { tc->t.ts, tc->t.ord };
	struct json_object *patch = NULL;
	struct patch_error err;
	struct event_record r;
	struct dom_cond im;
	struct dom d;
	const char *why = "";
	enum dom_rc rc;

	get_data();
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
	td_begin(&d, tc->t.tenant);
	rc = event_patch(&d, &n, &p, patch, tc->merge, &im, &r, &err);
	td_end(&d, rc);
	json_release(patch);
	td_max_bytes = DEF_BYTES;
	td_max_depth = DEF_DEPTH;
	ck_assert_msg(rc == tc->rc, "%s: event_patch: got %s (%s), want %s", tc->name,
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
	check_others(tc->name, &tc->t);
	if (rc != DOM_OK) {
		check_event(tc->name, tc->t.tenant, COLL, KEY, tc->t.type, tc->t.ts,
		    tc->t.ord, before_value(&tc->t));
		return;
	}
	ck_assert_msg(r.vlen == strlen(tc->want) && memcmp(r.value, tc->want, r.vlen) == 0,
	    "%s: event_patch: got \"%.*s\", want \"%s\"", tc->name, (int)r.vlen, r.value,
	    tc->want);
	check_event(tc->name, tc->t.tenant, COLL, KEY, tc->t.type, tc->t.ts, tc->t.ord,
	    tc->want);
}
END_TEST

/* ---- delete -------------------------------------------------------------- */

struct delete_case {
	const char	*name;
	struct target	 t;
	const char	*im;
	enum dom_rc	 rc;
};

static const struct delete_case delete_cases[] = {
	{ "no condition", E0, NULL, DOM_OK },
	{ "If-Match the ref", E0, REF1, DOM_OK },
	{ "If-Match *", E0, "*", DOM_OK },
	{ "If-Match in a list", E1, REF1 "," REF2, DOM_OK },
	{ "missing", MISSING, NULL, DOM_OK },
	{ "other tenant", IN_T2, NULL, DOM_OK },
	{ "other type", OTHER_TYPE, NULL, DOM_OK },

	{ "missing, If-Match *", MISSING, "*", DOM_MISMATCH },
	{ "missing, If-Match ref", MISSING, REF1, DOM_MISMATCH },
	{ "If-Match other ref", E0, REF2, DOM_MISMATCH },
	{ "If-Match weak only", E0, "", DOM_MISMATCH },
	{ "If-Match tombstone ref", E0, REFNULL, DOM_MISMATCH },
	{ "other tenant, If-Match *", IN_T2, "*", DOM_MISMATCH },
	{ "other type, If-Match ref", OTHER_TYPE, REF1, DOM_MISMATCH },
	{ "other timestamp, If-Match ref", OTHER_TS, REF1, DOM_MISMATCH },
};

START_TEST(test_delete)
{
	const struct delete_case *tc = &delete_cases[_i];
	struct event_name n = { COLL, KEY, tc->t.type };
	struct evpos p = { tc->t.ts, tc->t.ord };
	struct dom_cond im;
	struct dom d;
	enum dom_rc rc;

	get_data();
	td_cond(&im, tc->im);
	td_begin(&d, tc->t.tenant);
	rc = event_delete(&d, &n, &p, &im);
	td_end(&d, rc);
	ck_assert_msg(rc == tc->rc, "%s: event_delete: got %s, want %s", tc->name,
	    dom_rc_name(rc), dom_rc_name(tc->rc));
	check_others(tc->name, &tc->t);
	check_event(tc->name, tc->t.tenant, COLL, KEY, tc->t.type, tc->t.ts, tc->t.ord,
	    rc == DOM_OK ? NULL : before_value(&tc->t));
}
END_TEST

/* ---- lists --------------------------------------------------------------- */

/*
 * alice/login: ts 100 (O), 200 (O+1), 200 (O+2), 300 (O+3), 400 (O+4); and
 * neighbours at 250 that must never show in its lists.
 */
static void
list_data(void)
{
	static const uint64_t ts[] = { 100, 200, 200, 300, 400 };

	for (int i = 0; i < NCASES(ts); i++) {
		char v[32];

		snprintf(v, sizeof(v), "{\"e\":%d}", i);
		ev_add(T1, COLL, KEY, TYPE, ts[i], v, O + (uint64_t)i);
	}
	ev_add(T1, COLL, KEY, "logout", 250, V1, O + 5);
	ev_add(T1, COLL, "bob", TYPE, 250, V1, O);
	ev_add(T2, COLL, KEY, TYPE, 250, V1, O);
	ev_add(T1, "users2", KEY, TYPE, 250, V1, O);
	ev_add(T1, COLL, "alic", TYPE, 250, V1, O);
	ev_add(T1, COLL, "alice2", TYPE, 250, V1, O);
	ev_add(T1, "user", "salice", TYPE, 250, V1, O);
}

static enum dom_visit
record_event(void *arg, const struct evpos *p, const struct event_record *r)
{
	struct td_rec *rec = arg;
	enum dom_visit vis = td_rec_call(rec);
	char ref[IDS_REF_LEN + 1];

	ids_ref(r->value, r->vlen, ref, NULL);
	ck_assert_msg(strcmp(ref, r->ref) == 0, "event_list visitor: got ref %s for "
	    "\"%.*s\", want %s", r->ref, (int)r->vlen, r->value, ref);
	if (vis == DOM_VISIT_NEXT)
		td_rec_add(rec, "%" PRIu64 "/%" PRId64, p->ts, (int64_t)(p->ord - O));
	return vis;
}

struct list_case {
	uint32_t	 tenant;
	const char	*key;
	const char	*type;
	struct evrange	 r;
	int64_t		 limit;
	int		 stop_at;
	int		 fail_at;
	enum dom_rc	 rc;
	const char	*want;     /* ts/ordinal-O, newest first */
	bool		 more;
};

#define P(ts, ord)	{ (ts), (ord) }
#define ALL		{ P(0, 0), P(MAX, MAX), false, false }
#define ALL5		"400/4,300/3,200/2,200/1,100/0"

static const struct list_case list_cases[] = {
	{ T1, KEY, TYPE, ALL, 100, 0, 0, DOM_OK, ALL5, false },
	{ T1, KEY, TYPE, ALL, 5, 0, 0, DOM_OK, ALL5, false },
	{ T1, KEY, TYPE, ALL, 2, 0, 0, DOM_OK, "400/4,300/3", true },
	{ T1, KEY, TYPE, ALL, 1, 0, 0, DOM_OK, "400/4", true },
	{ T1, KEY, TYPE, { P(0, 0), P(300, MAX), false, false }, 100, 0, 0, DOM_OK,
	    "300/3,200/2,200/1,100/0", false },
	{ T1, KEY, TYPE, { P(0, 0), P(300, O + 3), false, false }, 100, 0, 0, DOM_OK,
	    "300/3,200/2,200/1,100/0", false },
	{ T1, KEY, TYPE, { P(0, 0), P(300, O + 3), false, true }, 100, 0, 0, DOM_OK,
	    "200/2,200/1,100/0", false },
	{ T1, KEY, TYPE, { P(0, 0), P(300, 0), false, true }, 100, 0, 0, DOM_OK,
	    "200/2,200/1,100/0", false },
	{ T1, KEY, TYPE, { P(200, 0), P(MAX, MAX), false, false }, 100, 0, 0, DOM_OK,
	    "400/4,300/3,200/2,200/1", false },
	{ T1, KEY, TYPE, { P(200, O + 1), P(MAX, MAX), true, false }, 100, 0, 0, DOM_OK,
	    "400/4,300/3,200/2", false },
	{ T1, KEY, TYPE, { P(200, MAX), P(MAX, MAX), true, false }, 100, 0, 0, DOM_OK,
	    "400/4,300/3", false },
	{ T1, KEY, TYPE, { P(200, 0), P(200, MAX), false, false }, 100, 0, 0, DOM_OK,
	    "200/2,200/1", false },
	{ T1, KEY, TYPE, { P(0, 0), P(200, O + 1), false, false }, 100, 0, 0, DOM_OK,
	    "200/1,100/0", false },
	{ T1, KEY, TYPE, { P(0, 0), P(200, O + 2), false, true }, 100, 0, 0, DOM_OK,
	    "200/1,100/0", false },
	{ T1, KEY, TYPE, { P(100, O), P(400, O + 4), false, false }, 100, 0, 0, DOM_OK,
	    ALL5, false },
	{ T1, KEY, TYPE, { P(100, O), P(400, O + 4), true, true }, 2, 0, 0, DOM_OK,
	    "300/3,200/2", true },
	{ T1, KEY, TYPE, ALL, 100, 3, 0, DOM_OK, "400/4,300/3", true },
	{ T1, KEY, "logout", ALL, 100, 0, 0, DOM_OK, "250/5", false },
	{ T1, "bob", TYPE, ALL, 100, 0, 0, DOM_OK, "250/0", false },
	{ T2, KEY, TYPE, ALL, 100, 0, 0, DOM_OK, "250/0", false },

	{ T1, KEY, TYPE, ALL, 0, 0, 0, DOM_OK, "", true },
	{ T1, KEY, TYPE, { P(500, 0), P(MAX, MAX), false, false }, 100, 0, 0, DOM_OK,
	    "", false },
	{ T1, KEY, TYPE, { P(0, 0), P(50, MAX), false, false }, 100, 0, 0, DOM_OK,
	    "", false },
	{ T1, KEY, TYPE, { P(300, 0), P(200, MAX), false, false }, 100, 0, 0, DOM_OK,
	    "", false },
	{ T1, KEY, TYPE, { P(400, O + 4), P(MAX, MAX), true, false }, 100, 0, 0, DOM_OK,
	    "", false },
	{ T1, KEY, TYPE, { P(0, 0), P(100, O), false, true }, 100, 0, 0, DOM_OK,
	    "", false },
	{ T1, KEY, TYPE, { P(250, 0), P(250, MAX), false, false }, 100, 0, 0, DOM_OK,
	    "", false },
	{ T1, KEY, TYPE, { P(200, O + 1), P(200, O + 2), true, true }, 100, 0, 0,
	    DOM_OK, "", false },
	{ T1, KEY, TYPE, ALL, 100, 1, 0, DOM_OK, "", true },
	{ T1, KEY, TYPE, ALL, 100, 0, 1, DOM_ERR, NULL, false },
	{ T1, KEY, TYPE, ALL, 100, 0, 5, DOM_ERR, NULL, false },
	{ T1, KEY, "logi", ALL, 100, 0, 0, DOM_OK, "", false },
	{ T1, KEY, "login2", ALL, 100, 0, 0, DOM_OK, "", false },
	{ T1, KEY, "Login", ALL, 100, 0, 0, DOM_OK, "", false },
	{ T1, "ali", TYPE, ALL, 100, 0, 0, DOM_OK, "", false },
	{ T1, "carol", TYPE, ALL, 100, 0, 0, DOM_OK, "", false },
	{ 3, KEY, TYPE, ALL, 100, 0, 0, DOM_OK, "", false },
	{ 256, KEY, TYPE, ALL, 100, 0, 0, DOM_OK, "", false },
};

START_TEST(test_list)
{
	const struct list_case *tc = &list_cases[_i];
	struct event_name n = { COLL, tc->key, tc->type };
	struct evpos last = { 12345, 67890 };
	struct td_rec rec;
	struct dom d;
	bool more = !tc->more;
	const char *lastw;
	char want_last[64];
	enum dom_rc rc;

	list_data();
	td_rec_init(&rec, tc->stop_at, tc->fail_at);
	td_begin(&d, tc->tenant);
	rc = event_list(&d, &n, &tc->r, tc->limit, record_event, &rec, &more, &last);
	td_end(&d, rc);
	ck_assert_msg(rc == tc->rc, "event_list(%s/%s, row %d): got %s, want %s",
	    tc->key, tc->type, _i, dom_rc_name(rc), dom_rc_name(tc->rc));
	if (rc != DOM_OK)
		return;
	ck_assert_msg(strcmp(rec.got, tc->want) == 0 && more == tc->more,
	    "event_list(%" PRIu32 " %s/%s, %" PRIu64 "/%#" PRIx64 "%s .. %" PRIu64 "/%#"
	    PRIx64 "%s, limit %" PRId64 ", stop at %d): got \"%s\"%s, want \"%s\"%s",
	    tc->tenant, tc->key, tc->type, tc->r.lo.ts, tc->r.lo.ord,
	    tc->r.lo_excl ? " excl" : "", tc->r.hi.ts, tc->r.hi.ord,
	    tc->r.hi_excl ? " excl" : "", tc->limit, tc->stop_at, rec.got,
	    more ? " and more" : "", tc->want, tc->more ? " and more" : "");
	/* *last is the last event taken, untouched when none was. */
	lastw = strrchr(tc->want, ',');
	lastw = lastw != NULL ? lastw + 1 : tc->want;
	if (lastw[0] == '\0')
		snprintf(want_last, sizeof(want_last), "12345/%" PRId64,
		    (int64_t)(UINT64_C(67890) - O));
	else
		snprintf(want_last, sizeof(want_last), "%s", lastw);
	td_rec_init(&rec, 0, 0);
	td_rec_add(&rec, "%" PRIu64 "/%" PRId64, last.ts, (int64_t)(last.ord - O));
	ck_assert_msg(strcmp(rec.got, want_last) == 0, "event_list(row %d): got last "
	    "%s, want %s", _i, rec.got, want_last);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static Suite *
events_suite(void)
{
	Suite *s = suite_create("events");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_checked_fixture(core, td_setup, td_teardown);
	tcase_add_loop_test(core, test_create, 0, NCASES(create_cases));
	tcase_add_loop_test(core, test_get, 0, NCASES(get_cases));
	tcase_add_loop_test(core, test_replace, 0, NCASES(replace_cases));
	tcase_add_loop_test(core, test_delete, 0, NCASES(delete_cases));
	tcase_set_timeout(core, 60);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, td_setup, td_teardown);
	tcase_add_loop_test(limits, test_list, 0, NCASES(list_cases));
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
	SRunner *sr = srunner_create(events_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
