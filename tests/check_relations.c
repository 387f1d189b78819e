/*
 * check_relations: unit tests for src/relations.h (relation put, get and
 * delete with their conditions, purge of an item's relations in both
 * directions, traversals of one and several hops with their order, paging
 * and limits, reclaim of a dropped collection's relations with their
 * mirrors) and the relation codecs of layout.h, over a real Berkeley DB
 * environment (the checked fixture of testdom.h).
 *
 * Every refused call must leave relations.db and relrev.db as they were:
 * their records are counted before and after.
 */
#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "collections.h"
#include "domain.h"
#include "items.h"
#include "layout.h"
#include "reclaim.h"
#include "relations.h"
#include "testdom.h"
#include "timefmt.h"

#define T1	1
#define T2	2
#define KIND	"friend"

/* ---- helpers ------------------------------------------------------------- */

static void
put_item(uint32_t t, const char *coll, const char *key)
{
	struct dom_cond none;
	struct item_version v;
	struct dom d;
	enum dom_rc rc;

	td_cond(&none, NULL);
	td_begin(&d, t);
	rc = item_put(&d, coll, key, V1, strlen(V1), &none, &none, &v);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "item_put(%s/%s): got %s, want DOM_OK", coll, key,
	    dom_rc_name(rc));
}

static void
del_item(uint32_t t, const char *coll, const char *key, bool purge)
{
	struct dom_cond none;
	struct dom d;
	enum dom_rc rc;

	td_cond(&none, NULL);
	td_begin(&d, t);
	rc = item_delete(&d, coll, key, &none, purge);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "item_delete(%s/%s, purge %d): got %s, want DOM_OK",
	    coll, key, purge, dom_rc_name(rc));
}

static void
drop(uint32_t t, const char *coll)
{
	struct dom d;
	bool existed;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = coll_drop(&d, coll, &existed);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK && existed, "coll_drop(%s): got %s (existed %d), want "
	    "DOM_OK", coll, dom_rc_name(rc), existed);
}

/* "c/k" into a name's coll and key (in the arena). */
static void
split_path(const char *path, const char **coll, const char **key)
{
	const char *slash = strchr(path, '/');

	ck_assert_msg(slash != NULL, "test path \"%s\": got no '/', want c/k", path);
	*coll = mem_strndup(td_ar, path, (size_t)(slash - path));
	*key = slash + 1;
	ck_assert_ptr_nonnull(*coll);
}

static void
name_of(struct rel_name *n, const char *from, const char *kind, const char *to)
{
	split_path(from, &n->coll, &n->key);
	n->kind = kind;
	split_path(to, &n->to_coll, &n->to_key);
}

static enum dom_rc
do_put(uint32_t t, const char *from, const char *kind, const char *to,
    const char *value, const char *im, const char *inm, struct rel_record *out,
    bool *missing_dst)
{
	struct dom_cond c_im, c_inm;
	struct rel_name n;
	struct dom d;
	enum dom_rc rc;

	name_of(&n, from, kind, to);
	td_cond(&c_im, im);
	td_cond(&c_inm, inm);
	td_begin(&d, t);
	rc = relation_put(&d, &n, value, value ? strlen(value) : 0, &c_im, &c_inm, out,
	    missing_dst);
	td_end(&d, rc);
	return rc;
}

static void
link1(uint32_t t, const char *from, const char *kind, const char *to)
{
	struct rel_record r;
	bool missing;
	enum dom_rc rc = do_put(t, from, kind, to, NULL, NULL, NULL, &r, &missing);

	ck_assert_msg(rc == DOM_OK, "relation_put(%s -%s-> %s): got %s, want DOM_OK",
	    from, kind, to, dom_rc_name(rc));
}

static enum dom_rc
do_get(uint32_t t, const char *from, const char *kind, const char *to,
    struct rel_record *out, enum rel_missing *missing)
{
	struct rel_name n;
	struct dom d;
	enum dom_rc rc;

	name_of(&n, from, kind, to);
	td_begin(&d, t);
	rc = relation_get(&d, &n, out, missing);
	td_end(&d, rc);
	return rc;
}

static enum dom_rc
do_delete(uint32_t t, const char *from, const char *kind, const char *to, const char *im)
{
	struct dom_cond c_im;
	struct rel_name n;
	struct dom d;
	enum dom_rc rc;

	name_of(&n, from, kind, to);
	td_cond(&c_im, im);
	td_begin(&d, t);
	rc = relation_delete(&d, &n, &c_im);
	td_end(&d, rc);
	return rc;
}

/* The number of records in db (every tenant). */
static int64_t
count_db(enum store_db db)
{
	struct store_txn *t;
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	int64_t n = 0;
	enum store_rc rc = store_begin(td_st, false, &t);

	ck_assert_msg(rc == STORE_OK, "store_begin: got %d, want STORE_OK", (int)rc);
	ck_assert(store_cursor_open(t, db, &c) == STORE_OK);
	for (rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	    rc == STORE_OK; rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl))
		n++;
	ck_assert_msg(rc == STORE_NOTFOUND, "walking db %d: got %d, want its end", (int)db,
	    (int)rc);
	store_cursor_close(c);
	store_abort(t);
	return n;
}

/* Both databases hold n records each (a relation and its mirror). */
static void
check_counts(const char *what, int64_t n)
{
	int64_t fwd = count_db(STORE_DB_RELATIONS), rev = count_db(STORE_DB_RELREV);

	ck_assert_msg(fwd == n && rev == n, "%s: relations.db %" PRId64 ", relrev.db %"
	    PRId64 " records, want %" PRId64 " each", what, fwd, rev, n);
}

/* ---- traversal helper ---------------------------------------------------- */

#define FAN 250 /* relations of the hub of fan_data */

struct trav_out {
	struct td_rec rec;
	bool more;
	struct rel_pos last;
	const char *why;
	int64_t n;              /* items visited */
	int *hits;              /* when set: visits of t/kNNN counted by NNN */
	char lastkey[64];       /* the key of the last item visited */
};

static enum dom_visit
visit(void *arg, const char *coll, size_t colllen, const char *key, size_t keylen,
    const struct item_version *v)
{
	struct trav_out *o = arg;
	enum dom_visit vis = td_rec_call(&o->rec);

	ck_assert_msg(!v->tombstone && v->vlen == strlen(V1) &&
	    memcmp(v->value, V1, v->vlen) == 0, "visiting %.*s/%.*s: got a head of %zu "
	    "bytes, want the live value %s", (int)colllen, coll, (int)keylen, key, v->vlen, V1);
	if (vis != DOM_VISIT_NEXT)
		return vis;
	o->n++;
	if (o->hits != NULL) {
		/* t/kNNN; the key is not NUL-terminated. */
		int i = keylen == 4 ? (key[1] - '0') * 100 + (key[2] - '0') * 10 + key[3] - '0' : -1;

		ck_assert_msg(i >= 0 && i < FAN, "visited %.*s: want t/kNNN", (int)keylen, key);
		o->hits[i]++;
	}
	snprintf(o->lastkey, sizeof(o->lastkey), "%.*s", (int)keylen, key);
	if (o->rec.len + colllen + keylen + 8 < sizeof(o->rec.got))
		td_rec_add(&o->rec, "%.*s/%.*s", (int)colllen, coll, (int)keylen, key);
	return DOM_VISIT_NEXT;
}

/* Traverses kinds ("a/b/c") from "c/k". */
static enum dom_rc
do_trav(uint32_t t, const char *from, const char *kinds, int64_t offset, int64_t limit,
    const struct rel_pos *after, int max_hops, int64_t max_trav, struct trav_out *o)
{
	const char *kv[16], *coll, *key;
	struct rel_page pg = { offset, limit, after, max_hops, max_trav };
	char buf[256];
	size_t nk = 0;
	struct dom d;
	enum dom_rc rc;

	snprintf(buf, sizeof(buf), "%s", kinds);
	for (char *p = buf; *p != '\0' && nk < 16;) {
		size_t len = strcspn(p, "/");

		kv[nk++] = mem_strndup(td_ar, p, len);
		p += len + (p[len] == '/');
	}
	split_path(from, &coll, &key);
	td_begin(&d, t);
	rc = relation_traverse(&d, coll, key, kv, nk, &pg, visit, o, &o->more, &o->last,
	    &o->why);
	td_end(&d, rc);
	return rc;
}

/* ---- put, get and conditions --------------------------------------------- */

/* Steps before the call, on the endpoints u/a (source) and u/b
 * (destination): "rel" puts the relation with V1, "rel2" with V2; "-a",
 * "-b" delete an endpoint (a tombstone), "!a" purges it, "nob" means u/b
 * was never written, "nocoll" that the destination's collection is x. */
struct put_case {
	const char	*name;
	const char	*pre;
	const char	*to;       /* the destination ("u/b" unless set) */
	const char	*im;
	const char	*inm;
	const char	*value;
	enum dom_rc	 rc;
	bool		 missing_dst;
	const char	*stored;   /* the value stored after the call (NULL: none) */
	const char	*ref;
};

static const struct put_case put_cases[] = {
	{ "no properties", "", NULL, NULL, NULL, NULL, DOM_OK, false, VE, REFE },
	{ "empty properties", "", NULL, NULL, NULL, VE, DOM_OK, false, VE, REFE },
	{ "properties", "", NULL, NULL, NULL, V1, DOM_OK, false, V1, REF1 },
	{ "replace", "rel", NULL, NULL, NULL, V2, DOM_OK, false, V2, REF2 },
	{ "replace with none", "rel", NULL, NULL, NULL, NULL, DOM_OK, false, VE, REFE },
	{ "to itself", "", "u/a", NULL, NULL, V1, DOM_OK, false, V1, REF1 },
	{ "If-Match the ref", "rel", NULL, REF1, NULL, V2, DOM_OK, false, V2, REF2 },
	{ "If-Match in a list", "rel", NULL, REF2 "," REF1, NULL, VB, DOM_OK, false, VB, REFB },
	{ "If-Match *", "rel", NULL, "*", NULL, V2, DOM_OK, false, V2, REF2 },
	{ "If-None-Match * on none", "", NULL, NULL, "*", V1, DOM_OK, false, V1, REF1 },
	{ "If-None-Match other ref", "rel", NULL, NULL, REF2, VB, DOM_OK, false, VB, REFB },
	{ "after the source came back", "rel -a a", NULL, NULL, NULL, V2, DOM_OK, false,
	    V2, REF2 },

	{ "If-Match other ref", "rel", NULL, REF2, NULL, VB, DOM_MISMATCH, false, V1, REF1 },
	{ "If-Match weak only", "rel", NULL, "", NULL, VB, DOM_MISMATCH, false, V1, REF1 },
	{ "If-Match on none", "", NULL, REF1, NULL, V1, DOM_MISMATCH, false, NULL, NULL },
	{ "If-Match * on none", "", NULL, "*", NULL, V1, DOM_MISMATCH, false, NULL, NULL },
	{ "If-None-Match *", "rel", NULL, NULL, "*", V2, DOM_PRESENT, false, V1, REF1 },
	{ "If-None-Match the ref", "rel2", NULL, NULL, REF1 "," REF2, VB, DOM_PRESENT, false,
	    V2, REF2 },
	{ "source deleted", "-a", NULL, NULL, NULL, V1, DOM_NOT_FOUND, false, NULL, NULL },
	{ "source purged", "!a", NULL, NULL, NULL, V1, DOM_NOT_FOUND, false, NULL, NULL },
	{ "source never written", "", NULL, NULL, NULL, V1, DOM_NOT_FOUND, false, NULL,
	    NULL },
	{ "destination deleted", "-b", NULL, NULL, NULL, V1, DOM_NOT_FOUND, true, NULL,
	    NULL },
	{ "destination never written", "nob", NULL, NULL, NULL, V1, DOM_NOT_FOUND, true,
	    NULL, NULL },
	{ "destination's collection missing", "", "x/b", NULL, NULL, V1, DOM_NOT_FOUND,
	    true, NULL, NULL },
	{ "both missing: the source", "-a -b", NULL, NULL, NULL, V1, DOM_NOT_FOUND, false,
	    NULL, NULL },
	{ "destination deleted, relation kept", "rel -b", NULL, NULL, NULL, V2,
	    DOM_NOT_FOUND, true, NULL, NULL },
};

/* Runs the steps of a put case. */
static void
put_steps(const struct put_case *tc, const char *to)
{
	char buf[64], *p = buf;
	bool nob = strstr(tc->pre, "nob") != NULL;

	if (strcmp(tc->name, "source never written") != 0)
		put_item(T1, "u", "a");
	if (!nob)
		put_item(T1, "u", "b");
	snprintf(buf, sizeof(buf), "%s", tc->pre);
	while (*p != '\0') {
		struct rel_record r;
		char *s = p;
		bool missing;

		p += strcspn(p, " ");
		if (*p == ' ')
			*p++ = '\0';
		if (strcmp(s, "rel") == 0 || strcmp(s, "rel2") == 0)
			ck_assert(do_put(T1, "u/a", KIND, to, s[3] ? V2 : V1, NULL, NULL, &r,
			    &missing) == DOM_OK);
		else if (s[0] == '-' || s[0] == '!')
			del_item(T1, "u", s[1] == 'a' ? "a" : "b", s[0] == '!');
		else if (strcmp(s, "a") == 0)
			put_item(T1, "u", "a");
	}
}

START_TEST(test_put)
{
	const struct put_case *tc = &put_cases[_i];
	const char *to = tc->to ? tc->to : "u/b";
	struct rel_record r, g;
	enum rel_missing miss;
	int64_t before, t0, t1;
	bool missing = !tc->missing_dst;
	enum dom_rc rc;

	put_steps(tc, to);
	before = count_db(STORE_DB_RELATIONS);
	t0 = timefmt_now_ms();
	rc = do_put(T1, "u/a", KIND, to, tc->value, tc->im, tc->inm, &r, &missing);
	t1 = timefmt_now_ms();
	ck_assert_msg(rc == tc->rc, "%s: relation_put: got %s, want %s", tc->name,
	    dom_rc_name(rc), dom_rc_name(tc->rc));
	if (rc == DOM_NOT_FOUND)
		ck_assert_msg(missing == tc->missing_dst, "%s: missing_dst: got %d, want %d",
		    tc->name, missing, tc->missing_dst);
	if (rc == DOM_OK) {
		ck_assert_msg(strcmp(r.ref, tc->ref) == 0 && r.reftime >= t0 && r.reftime <= t1,
		    "%s: got ref %s reftime %" PRId64 ", want %s in %" PRId64 "..%" PRId64,
		    tc->name, r.ref, r.reftime, tc->ref, t0, t1);
		check_counts(tc->name, before + (strcmp(tc->pre, "") == 0));
	} else {
		check_counts(tc->name, before);
	}
	if (tc->rc == DOM_NOT_FOUND)
		return; /* an endpoint is missing: the relation cannot be read */
	rc = do_get(T1, "u/a", KIND, to, &g, &miss);
	if (tc->stored == NULL) {
		ck_assert_msg(rc == DOM_NOT_FOUND && miss == REL_MISSING_RELATION,
		    "%s: relation_get after: got %s (%d), want none", tc->name,
		    dom_rc_name(rc), (int)miss);
		return;
	}
	ck_assert_msg(rc == DOM_OK && g.vlen == strlen(tc->stored) &&
	    memcmp(g.value, tc->stored, g.vlen) == 0 && strcmp(g.ref, tc->ref) == 0,
	    "%s: relation_get after: got %s \"%.*s\" %s, want %s %s", tc->name,
	    dom_rc_name(rc), rc == DOM_OK ? (int)g.vlen : 0, rc == DOM_OK ? g.value : "",
	    rc == DOM_OK ? g.ref : "", tc->stored, tc->ref);
	ck_assert_msg(g.dst_coll_len == 1 && g.dst_coll[0] == 'u', "%s: the record names "
	    "\"%.*s\", want \"u\"", tc->name, (int)g.dst_coll_len, g.dst_coll);
}
END_TEST

/* An import's reftime is kept. */
START_TEST(test_put_reftime)
{
	struct dom_cond none;
	struct rel_record r, g;
	struct rel_name n;
	enum rel_missing miss;
	struct dom d;
	bool missing;
	enum dom_rc rc;

	put_item(T1, "u", "a");
	put_item(T1, "u", "b");
	name_of(&n, "u/a", KIND, "u/b");
	td_cond(&none, NULL);
	td_begin(&d, T1);
	d.reftime = INT64_C(1403206042894);
	rc = relation_put(&d, &n, V1, strlen(V1), &none, &none, &r, &missing);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK && r.reftime == INT64_C(1403206042894), "relation_put "
	    "with reftime: got %s %" PRId64 ", want DOM_OK 1403206042894", dom_rc_name(rc),
	    r.reftime);
	rc = do_get(T1, "u/a", KIND, "u/b", &g, &miss);
	ck_assert_msg(rc == DOM_OK && g.reftime == r.reftime, "relation_get: got %s %"
	    PRId64 ", want the imported reftime", dom_rc_name(rc), g.reftime);
}
END_TEST

struct get_case {
	const char	*name;
	uint32_t	 tenant;
	const char	*from, *kind, *to;
	enum dom_rc	 rc;
	enum rel_missing missing;
};

/* u/a -friend-> u/b (V1), u/a -friend-> v/c (V2), u/d deleted after
 * u/d -friend-> u/a, u/a -friend-> u/e, then u/e deleted. */
static const struct get_case get_cases[] = {
	{ "one", T1, "u/a", KIND, "u/b", DOM_OK, REL_MISSING_NONE },
	{ "another collection", T1, "u/a", KIND, "v/c", DOM_OK, REL_MISSING_NONE },
	{ "kind is exact", T1, "u/a", "Friend", "u/b", DOM_NOT_FOUND, REL_MISSING_RELATION },
	{ "kind prefix", T1, "u/a", "frien", "u/b", DOM_NOT_FOUND, REL_MISSING_RELATION },
	{ "reversed", T1, "u/b", KIND, "u/a", DOM_NOT_FOUND, REL_MISSING_RELATION },
	{ "other tenant", T2, "u/a", KIND, "u/b", DOM_NOT_FOUND, REL_MISSING_SOURCE },
	{ "source deleted", T1, "u/d", KIND, "u/a", DOM_NOT_FOUND, REL_MISSING_SOURCE },
	{ "source missing", T1, "u/zz", KIND, "u/b", DOM_NOT_FOUND, REL_MISSING_SOURCE },
	{ "source collection missing", T1, "w/a", KIND, "u/b", DOM_NOT_FOUND,
	    REL_MISSING_SOURCE },
	{ "destination deleted", T1, "u/a", KIND, "u/e", DOM_NOT_FOUND, REL_MISSING_DEST },
	{ "destination missing", T1, "u/a", KIND, "v/zz", DOM_NOT_FOUND, REL_MISSING_DEST },
	{ "destination collection missing", T1, "u/a", KIND, "w/b", DOM_NOT_FOUND,
	    REL_MISSING_DEST },
};

static void
get_data(void)
{
	struct rel_record r;
	bool missing;

	put_item(T1, "u", "a");
	put_item(T1, "u", "b");
	put_item(T1, "v", "c");
	put_item(T1, "u", "d");
	put_item(T1, "u", "e");
	ck_assert(do_put(T1, "u/a", KIND, "u/b", V1, NULL, NULL, &r, &missing) == DOM_OK);
	ck_assert(do_put(T1, "u/a", KIND, "v/c", V2, NULL, NULL, &r, &missing) == DOM_OK);
	link1(T1, "u/d", KIND, "u/a");
	link1(T1, "u/a", KIND, "u/e");
	del_item(T1, "u", "d", false);
	del_item(T1, "u", "e", false);
}

START_TEST(test_get)
{
	const struct get_case *tc = &get_cases[_i];
	struct rel_record r;
	enum rel_missing miss = REL_MISSING_NONE;
	enum dom_rc rc;

	get_data();
	rc = do_get(tc->tenant, tc->from, tc->kind, tc->to, &r, &miss);
	ck_assert_msg(rc == tc->rc && (rc != DOM_NOT_FOUND || miss == tc->missing),
	    "%s: relation_get: got %s missing %d, want %s missing %d", tc->name,
	    dom_rc_name(rc), (int)miss, dom_rc_name(tc->rc), (int)tc->missing);
	if (rc == DOM_OK)
		ck_assert_msg(strcmp(r.ref, tc->to[0] == 'v' ? REF2 : REF1) == 0,
		    "%s: got ref %s", tc->name, r.ref);
}
END_TEST

/* ---- delete and purge ---------------------------------------------------- */

struct del_case {
	const char	*name;
	const char	*from, *kind, *to, *im;
	enum dom_rc	 rc;
	int64_t		 left;     /* relations left (of 4) */
};

/* The data of get_data: 4 relations. */
static const struct del_case del_cases[] = {
	{ "one", "u/a", KIND, "u/b", NULL, DOM_OK, 3 },
	{ "If-Match the ref", "u/a", KIND, "v/c", REF2, DOM_OK, 3 },
	{ "If-Match *", "u/a", KIND, "v/c", "*", DOM_OK, 3 },
	{ "to a deleted item", "u/a", KIND, "u/e", NULL, DOM_OK, 3 },
	{ "absent", "u/a", KIND, "u/zz", NULL, DOM_OK, 4 },
	{ "absent kind", "u/a", "enemy", "u/b", NULL, DOM_OK, 4 },
	{ "destination collection missing", "u/a", KIND, "w/b", NULL, DOM_OK, 4 },

	{ "If-Match other ref", "u/a", KIND, "u/b", REF2, DOM_MISMATCH, 4 },
	{ "If-Match on absent", "u/a", KIND, "u/zz", REF1, DOM_MISMATCH, 4 },
	{ "If-Match * on absent", "u/b", KIND, "u/a", "*", DOM_MISMATCH, 4 },
	{ "source deleted", "u/d", KIND, "u/a", NULL, DOM_NOT_FOUND, 4 },
	{ "source missing", "u/zz", KIND, "u/b", NULL, DOM_NOT_FOUND, 4 },
	{ "source collection missing", "w/a", KIND, "u/b", NULL, DOM_NOT_FOUND, 4 },
};

START_TEST(test_delete)
{
	const struct del_case *tc = &del_cases[_i];
	struct rel_record r;
	enum rel_missing miss;
	enum dom_rc rc;

	get_data();
	check_counts(tc->name, 4);
	rc = do_delete(T1, tc->from, tc->kind, tc->to, tc->im);
	ck_assert_msg(rc == tc->rc, "%s: relation_delete: got %s, want %s", tc->name,
	    dom_rc_name(rc), dom_rc_name(tc->rc));
	check_counts(tc->name, tc->left);
	if (tc->left == 3 && strcmp(tc->to, "u/e") != 0) {
		rc = do_get(T1, tc->from, tc->kind, tc->to, &r, &miss);
		ck_assert_msg(rc == DOM_NOT_FOUND && miss == REL_MISSING_RELATION,
		    "%s: relation_get after: got %s, want none", tc->name, dom_rc_name(rc));
	}
}
END_TEST

/* Purge removes an item's relations both ways; a delete keeps them. */
START_TEST(test_purge)
{
	struct trav_out o;
	enum dom_rc rc;

	put_item(T1, "u", "a");
	put_item(T1, "u", "b");
	put_item(T1, "v", "c");
	link1(T1, "u/a", KIND, "u/b");
	link1(T1, "u/b", KIND, "u/a");
	link1(T1, "u/b", "likes", "v/c");
	link1(T1, "v/c", KIND, "u/b");
	link1(T1, "u/b", "self", "u/b");
	link1(T1, "v/c", KIND, "u/a");
	check_counts("before", 6);

	del_item(T1, "u", "b", false);
	check_counts("after a delete", 6);
	memset(&o, 0, sizeof(o));
	rc = do_trav(T1, "u/a", KIND, 0, 10, NULL, 3, 100, &o);
	ck_assert_msg(rc == DOM_OK && strcmp(o.rec.got, "") == 0, "traversal to a "
	    "deleted item: got %s \"%s\", want DOM_OK and nothing", dom_rc_name(rc),
	    o.rec.got);
	put_item(T1, "u", "b");
	memset(&o, 0, sizeof(o));
	rc = do_trav(T1, "u/a", KIND, 0, 10, NULL, 3, 100, &o);
	ck_assert_msg(rc == DOM_OK && strcmp(o.rec.got, "u/b") == 0, "traversal after "
	    "the item came back: got %s \"%s\", want u/b", dom_rc_name(rc), o.rec.got);

	del_item(T1, "u", "b", true);
	check_counts("after the purge", 1);
	memset(&o, 0, sizeof(o));
	rc = do_trav(T1, "v/c", KIND, 0, 10, NULL, 3, 100, &o);
	ck_assert_msg(rc == DOM_OK && strcmp(o.rec.got, "u/a") == 0, "traversal after "
	    "the purge: got %s \"%s\", want u/a", dom_rc_name(rc), o.rec.got);
	/* A new u/b has none of the old relations. */
	put_item(T1, "u", "b");
	memset(&o, 0, sizeof(o));
	rc = do_trav(T1, "u/a", KIND, 0, 10, NULL, 3, 100, &o);
	ck_assert_msg(rc == DOM_OK && strcmp(o.rec.got, "") == 0, "traversal to the new "
	    "u/b: got %s \"%s\", want nothing", dom_rc_name(rc), o.rec.got);
	del_item(T1, "v", "c", true);
	check_counts("after the second purge", 0);
}
END_TEST

/* ---- traversal ----------------------------------------------------------- */

/*
 * Collections in the order they are created: u (cid 1), p (2), f (3).
 * u/alice -friend-> u/bob, u/carol, u/dave (deleted)
 * u/alice -posted-> f/p2, f/p1, p/x
 * u/bob -friend-> u/carol, u/alice; u/carol -friend-> u/bob
 * u/bob -posted-> f/p1; u/carol -posted-> f/p1, f/p2; u/dave -posted-> p/x
 * Tenant 2 has u/alice -friend-> u/bob too.
 */
static void
graph_data(void)
{
	static const char *const items[] = { "u/alice", "u/bob", "u/carol", "u/dave",
		"p/x", "f/p1", "f/p2" };
	static const char *const rels[][3] = {
		{ "u/alice", "friend", "u/bob" }, { "u/alice", "friend", "u/carol" },
		{ "u/alice", "friend", "u/dave" }, { "u/alice", "posted", "f/p2" },
		{ "u/alice", "posted", "f/p1" }, { "u/alice", "posted", "p/x" },
		{ "u/bob", "friend", "u/carol" }, { "u/bob", "friend", "u/alice" },
		{ "u/carol", "friend", "u/bob" }, { "u/bob", "posted", "f/p1" },
		{ "u/carol", "posted", "f/p1" }, { "u/carol", "posted", "f/p2" },
		{ "u/dave", "posted", "p/x" },
	};

	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		const char *coll, *key;

		split_path(items[i], &coll, &key);
		put_item(T1, coll, key);
	}
	for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++)
		link1(T1, rels[i][0], rels[i][1], rels[i][2]);
	del_item(T1, "u", "dave", false);
	put_item(T2, "u", "alice");
	put_item(T2, "u", "bob");
	link1(T2, "u/alice", "friend", "u/bob");
}

struct trav_case {
	const char	*name;
	uint32_t	 tenant;
	const char	*from;
	const char	*kinds;
	int64_t		 offset, limit;
	enum dom_rc	 rc;
	const char	*got;
	bool		 more;
};

static const struct trav_case trav_cases[] = {
	{ "one hop, deleted left out", T1, "u/alice", "friend", 0, 10, DOM_OK,
	    "u/bob,u/carol", false },
	{ "one hop, collections by cid", T1, "u/alice", "posted", 0, 10, DOM_OK,
	    "p/x,f/p1,f/p2", false },
	{ "one hop, limit", T1, "u/alice", "posted", 0, 2, DOM_OK, "p/x,f/p1", true },
	{ "one hop, exact limit", T1, "u/alice", "posted", 0, 3, DOM_OK,
	    "p/x,f/p1,f/p2", false },
	{ "one hop, offset", T1, "u/alice", "posted", 1, 1, DOM_OK, "f/p1", true },
	{ "one hop, offset to the end", T1, "u/alice", "posted", 2, 5, DOM_OK, "f/p2",
	    false },
	{ "one hop, offset past the end", T1, "u/alice", "posted", 3, 5, DOM_OK, "",
	    false },
	{ "one hop, other tenant", T2, "u/alice", "friend", 0, 10, DOM_OK, "u/bob", false },
	{ "one hop, other kind", T1, "u/alice", "enemy", 0, 10, DOM_OK, "", false },
	{ "one hop, no relations", T1, "f/p1", "friend", 0, 10, DOM_OK, "", false },
	{ "two hops, distinct", T1, "u/alice", "friend/posted", 0, 10, DOM_OK,
	    "f/p1,f/p2", false },
	{ "two hops, back to the start", T1, "u/alice", "friend/friend", 0, 10, DOM_OK,
	    "u/alice,u/bob,u/carol", false },
	{ "two hops, offset", T1, "u/alice", "friend/friend", 1, 1, DOM_OK, "u/bob",
	    true },
	{ "two hops, offset to the end", T1, "u/alice", "friend/friend", 2, 1, DOM_OK,
	    "u/carol", false },
	{ "two hops, past the end", T1, "u/alice", "friend/friend", 3, 1, DOM_OK, "",
	    false },
	{ "three hops", T1, "u/alice", "friend/friend/posted", 0, 10, DOM_OK,
	    "p/x,f/p1,f/p2", false },
	{ "two hops, nothing after the first", T1, "u/alice", "posted/friend", 0, 10,
	    DOM_OK, "", false },
	{ "two hops, first finds nothing", T1, "u/alice", "enemy/friend", 0, 10, DOM_OK,
	    "", false },

	{ "deleted start", T1, "u/dave", "posted", 0, 10, DOM_NOT_FOUND, "", false },
	{ "missing start", T1, "u/zed", "friend", 0, 10, DOM_NOT_FOUND, "", false },
	{ "missing collection", T1, "w/alice", "friend", 0, 10, DOM_NOT_FOUND, "", false },
	{ "other tenant's start", T2, "u/carol", "friend", 0, 10, DOM_NOT_FOUND, "", false },
	{ "no kind", T1, "u/alice", "", 0, 10, DOM_INVALID, "", false },
	{ "four hops", T1, "u/alice", "friend/friend/friend/posted", 0, 10, DOM_INVALID,
	    "", false },
};

START_TEST(test_traverse)
{
	const struct trav_case *tc = &trav_cases[_i];
	struct trav_out o;
	enum dom_rc rc;

	graph_data();
	memset(&o, 0, sizeof(o));
	rc = do_trav(tc->tenant, tc->from, tc->kinds, tc->offset, tc->limit, NULL, 3, 1000,
	    &o);
	ck_assert_msg(rc == tc->rc, "%s: relation_traverse: got %s, want %s", tc->name,
	    dom_rc_name(rc), dom_rc_name(tc->rc));
	ck_assert_msg(strcmp(o.rec.got, tc->got) == 0 && o.more == tc->more,
	    "%s: got \"%s\" more %d, want \"%s\" more %d", tc->name, o.rec.got, o.more,
	    tc->got, tc->more);
	if (rc == DOM_INVALID)
		ck_assert_msg(o.why != NULL && (strstr(o.why, "max_hops") != NULL ||
		    strstr(o.why, "at least one") != NULL), "%s: why: got \"%s\", want the "
		    "limit named", tc->name, o.why ? o.why : "(null)");
}
END_TEST

/* A dropped collection's relations are skipped, also by a new collection
 * of the same name, and its reclaim removes them with their mirrors. */
START_TEST(test_dropped)
{
	struct reclaim_result res;
	struct arena *a = mem_new();
	struct trav_out o;
	enum store_rc src;
	enum dom_rc rc;

	ck_assert_ptr_nonnull(a);
	put_item(T1, "u", "a");
	put_item(T1, "gone", "g");
	put_item(T1, "gone", "h");
	put_item(T1, "v", "z");
	link1(T1, "u/a", "likes", "gone/g");      /* into it */
	link1(T1, "u/a", "likes", "v/z");
	link1(T1, "gone/h", "likes", "u/a");      /* out of it */
	link1(T1, "gone/g", "likes", "gone/h");   /* within it */
	check_counts("before", 4);
	drop(T1, "gone");
	memset(&o, 0, sizeof(o));
	rc = do_trav(T1, "u/a", "likes", 0, 10, NULL, 3, 100, &o);
	ck_assert_msg(rc == DOM_OK && strcmp(o.rec.got, "v/z") == 0, "after the drop: got "
	    "%s \"%s\", want v/z", dom_rc_name(rc), o.rec.got);
	put_item(T1, "gone", "g");
	memset(&o, 0, sizeof(o));
	rc = do_trav(T1, "u/a", "likes", 0, 10, NULL, 3, 100, &o);
	ck_assert_msg(rc == DOM_OK && strcmp(o.rec.got, "v/z") == 0, "after gone/g is "
	    "written again: got %s \"%s\", want v/z", dom_rc_name(rc), o.rec.got);
	/* Two records per step: every step deletes a relation or a mirror. */
	src = reclaim_run(td_st, a, 2, 100, 3, &res);
	ck_assert_msg(src == STORE_OK && res.idle, "reclaim_run: got %d idle %d, want "
	    "STORE_OK and an empty queue", (int)src, res.idle);
	check_counts("after the reclaim", 1);
	memset(&o, 0, sizeof(o));
	rc = do_trav(T1, "u/a", "likes", 0, 10, NULL, 3, 100, &o);
	ck_assert_msg(rc == DOM_OK && strcmp(o.rec.got, "v/z") == 0, "after the reclaim: "
	    "got %s \"%s\", want v/z", dom_rc_name(rc), o.rec.got);
	mem_free(a);
}
END_TEST

/* ---- the audit of orchidctl verify ----------------------------------------- */

static struct audit_report
audit_of(const char *when)
{
	struct audit_report r;
	struct buf out;
	enum store_rc rc;

	buf_init(&out, 0);
	rc = audit_run(td_st, &out, &r);
	ck_assert_msg(rc == STORE_OK && !out.b_failed, "%s: audit_run: got %d, want "
	    "STORE_OK", when, (int)rc);
	buf_free(&out);
	return r;
}

static void
check_sound(const char *when)
{
	struct audit_report r = audit_of(when);

	ck_assert_msg(r.orphans == 0 && r.old_keys == 0 && r.malformed == 0 &&
	    r.bad_counts == 0 && r.unmirrored == 0, "%s: audit: got %llu orphans, %llu "
	    "malformed, %llu without mirror, want none", when, (unsigned long long)r.orphans,
	    (unsigned long long)r.malformed, (unsigned long long)r.unmirrored);
}

/* Sound after each step of a reclaim that deletes a relation with its
 * mirror; each kind of damage is found. */
START_TEST(test_audit)
{
	struct reclaim_result res;
	struct audit_report r;
	struct arena *a = mem_new();
	struct store_txn *t;
	struct rel_record rec;
	unsigned char *k, *rv;
	size_t kl, rl;
	uint64_t cid_u;
	struct dom d;

	ck_assert_ptr_nonnull(a);
	put_item(T1, "u", "a");
	put_item(T1, "gone", "g");
	link1(T1, "u/a", "likes", "gone/g");
	link1(T1, "gone/g", "likes", "u/a");
	link1(T1, "gone/g", "self", "gone/g");
	check_sound("before the drop");
	drop(T1, "gone");
	for (int i = 0; i < 20; i++) {
		char when[32];

		ck_assert(reclaim_run(td_st, a, 1, 1, 3, &res) == STORE_OK);
		snprintf(when, sizeof(when), "reclaim step %d", i);
		check_sound(when);
		if (res.idle)
			break;
	}
	ck_assert_msg(res.idle, "the reclaim did not end in 20 steps");
	check_counts("after the reclaim", 0);

	/* Damage, written around the domain. */
	td_begin(&d, T1);
	ck_assert(coll_lookup(&d, "u", &cid_u) == DOM_OK);
	memset(&rec, 0, sizeof(rec));
	rec.dst_coll = "u";
	rec.dst_coll_len = 1;
	rec.value = VE;
	rec.vlen = 2;
	rv = layout_rel_encode(td_ar, &rec, &rl);
	t = d.txn;
	/* A relation without its mirror. */
	k = layout_rel_key(td_ar, T1, cid_u, "a", "x", cid_u, "a", &kl);
	ck_assert(store_put(t, STORE_DB_RELATIONS, k, kl, rv, rl) == STORE_OK);
	/* A relation to a cid of no collection (its mirror is an orphan too). */
	k = layout_rel_key(td_ar, T1, cid_u, "a", "y", 999, "z", &kl);
	ck_assert(store_put(t, STORE_DB_RELATIONS, k, kl, rv, rl) == STORE_OK);
	k = layout_rel_key(td_ar, T1, 999, "z", "y", cid_u, "a", &kl);
	ck_assert(store_put(t, STORE_DB_RELREV, k, kl, "", 0) == STORE_OK);
	/* A mirror holding a value, and a record naming another collection. */
	k = layout_rel_key(td_ar, T1, cid_u, "b", "w", cid_u, "a", &kl);
	ck_assert(store_put(t, STORE_DB_RELREV, k, kl, "x", 1) == STORE_OK);
	rec.dst_coll = "v";
	rv = layout_rel_encode(td_ar, &rec, &rl);
	k = layout_rel_key(td_ar, T1, cid_u, "a", "v", cid_u, "a", &kl);
	ck_assert(store_put(t, STORE_DB_RELATIONS, k, kl, rv, rl) == STORE_OK);
	k = layout_rel_key(td_ar, T1, cid_u, "a", "v", cid_u, "a", &kl);
	ck_assert(store_put(t, STORE_DB_RELREV, k, kl, "", 0) == STORE_OK);
	td_end(&d, DOM_OK);
	r = audit_of("damaged");
	ck_assert_msg(r.unmirrored == 1 && r.orphans == 2 && r.malformed == 2,
	    "damaged: got %llu without mirror, %llu orphans, %llu malformed; want 1, 2, 2",
	    (unsigned long long)r.unmirrored, (unsigned long long)r.orphans,
	    (unsigned long long)r.malformed);
	mem_free(a);
}
END_TEST

/* ---- limits -------------------------------------------------------------- */

/* u/hub relates to t/k000 .. t/k249 (every 10th deleted). */
static void
fan_data(void)
{
	char key[16];

	put_item(T1, "u", "hub");
	for (int i = 0; i < FAN; i++) {
		char to[24];

		snprintf(key, sizeof(key), "k%03d", i);
		snprintf(to, sizeof(to), "t/%s", key);
		put_item(T1, "t", key);
		link1(T1, "u/hub", "has", to);
	}
	for (int i = 5; i < FAN; i += 10) {
		snprintf(key, sizeof(key), "k%03d", i);
		del_item(T1, "t", key, false);
	}
}

/* Paging one hop by position costs the page, not the offset: with
 * max_traversal 9, pages of 7 go through all 225 live items. */
START_TEST(test_after_pages)
{
	struct rel_pos after;
	bool have = false;
	int64_t seen = 0, pages = 0;
	int hits[FAN];

	memset(hits, 0, sizeof(hits));
	fan_data();
	for (;;) {
		struct trav_out o;
		enum dom_rc rc;

		memset(&o, 0, sizeof(o));
		o.hits = hits;
		rc = do_trav(T1, "u/hub", "has", seen, 7, have ? &after : NULL, 3, 9, &o);
		ck_assert_msg(rc == DOM_OK, "page %" PRId64 ": got %s (%s), want DOM_OK", pages,
		    dom_rc_name(rc), o.why ? o.why : "");
		ck_assert_msg(o.n == 7 || !o.more, "page %" PRId64 ": got %" PRId64 " items "
		    "and more, want 7", pages, o.n);
		seen += o.n;
		pages++;
		if (o.n > 0) {
			after.cid = o.last.cid;
			after.key = o.last.key;
			after.keylen = o.last.keylen;
			ck_assert_msg(o.last.keylen == strlen(o.lastkey) &&
			    memcmp(o.last.key, o.lastkey, o.last.keylen) == 0, "last: got %.*s, "
			    "want %s", (int)o.last.keylen, o.last.key, o.lastkey);
			have = true;
		}
		if (!o.more)
			break;
		ck_assert_msg(pages < 100, "more than 100 pages: want 33");
	}
	ck_assert_msg(seen == FAN - FAN / 10 && pages == 33, "got %" PRId64 " items in %"
	    PRId64 " pages, want %d in 33", seen, pages, FAN - FAN / 10);
	for (int i = 0; i < FAN; i++)
		ck_assert_msg(hits[i] == (i % 10 == 5 ? 0 : 1), "t/k%03d: visited %d times, "
		    "want %d", i, hits[i], i % 10 == 5 ? 0 : 1);
}
END_TEST

struct limit_case {
	const char	*name;
	const char	*kinds;
	int64_t		 offset, limit;
	int		 max_hops;
	int64_t		 max_trav;
	enum dom_rc	 rc;
	int64_t		 n;
	const char	*why;       /* a word of the message */
};

static const struct limit_case limit_cases[] = {
	{ "all at max_traversal", "has", 0, 100, 3, FAN, DOM_OK, 100, NULL },
	{ "offset within", "has", 200, 100, 3, FAN, DOM_OK, 25, NULL },
	{ "one hop, max_hops 1", "has", 0, 5, 1, 10, DOM_OK, 5, NULL },
	{ "a page just within", "has", 0, 7, 3, 9, DOM_OK, 7, NULL },
	{ "two hops within", "has/none", 0, 10, 2, FAN, DOM_OK, 0, NULL },
	{ "ten hops", "has/a/b/c/d/e/f/g/h/i", 0, 10, 10, FAN, DOM_OK, 0, NULL },

	{ "an offset past max_traversal", "has", 100, 5, 3, 99, DOM_INVALID, 0,
	    "max_traversal" },
	{ "a page past max_traversal", "has", 0, 100, 3, 50, DOM_INVALID, 0,
	    "max_traversal" },
	{ "a page one past", "has", 0, 8, 3, 9, DOM_INVALID, 0, "max_traversal" },
	{ "two hops past max_traversal", "has/none", 0, 10, 3, FAN - 1, DOM_INVALID, 0,
	    "max_traversal" },
	{ "two kinds, max_hops 1", "has/none", 0, 10, 1, FAN, DOM_INVALID, 0, "max_hops" },
	{ "eleven hops", "has/a/b/c/d/e/f/g/h/i/j", 0, 10, 10, FAN, DOM_INVALID, 0,
	    "max_hops" },
};

START_TEST(test_limits)
{
	const struct limit_case *tc = &limit_cases[_i];
	struct trav_out o;
	enum dom_rc rc;

	fan_data();
	memset(&o, 0, sizeof(o));
	rc = do_trav(T1, "u/hub", tc->kinds, tc->offset, tc->limit, NULL, tc->max_hops,
	    tc->max_trav, &o);
	ck_assert_msg(rc == tc->rc && (rc != DOM_OK || o.n == tc->n), "%s: got %s with %"
	    PRId64 " items, want %s with %" PRId64, tc->name, dom_rc_name(rc), o.n,
	    dom_rc_name(tc->rc), tc->n);
	if (tc->why != NULL)
		ck_assert_msg(o.why != NULL && strstr(o.why, tc->why) != NULL, "%s: why: got "
		    "\"%s\", want it to name %s", tc->name, o.why ? o.why : "(null)", tc->why);
}
END_TEST

/* The visitor ends a page early (STOP: more) or fails (DOM_ERR). */
START_TEST(test_visitor_stops)
{
	static const char *const kinds[] = { "posted", "friend/friend" };

	graph_data();
	for (int k = 0; k < 2; k++) {
		struct trav_out o;
		enum dom_rc rc;

		memset(&o, 0, sizeof(o));
		td_rec_init(&o.rec, 2, 0);
		rc = do_trav(T1, "u/alice", kinds[k], 0, 10, NULL, 3, 100, &o);
		ck_assert_msg(rc == DOM_OK && o.n == 1 && o.more, "%s, stop at 2: got %s, %"
		    PRId64 " items, more %d, want DOM_OK, 1, more", kinds[k], dom_rc_name(rc),
		    o.n, o.more);
		memset(&o, 0, sizeof(o));
		td_rec_init(&o.rec, 0, 2);
		rc = do_trav(T1, "u/alice", kinds[k], 0, 10, NULL, 3, 100, &o);
		ck_assert_msg(rc == DOM_ERR, "%s, fail at 2: got %s, want DOM_ERR", kinds[k],
		    dom_rc_name(rc));
	}
}
END_TEST

/* ---- the after token and the codecs --------------------------------------- */

struct tok_case {
	const char	*tok;
	int		 ok;
	uint64_t	 cid;
	const char	*key;
};

static const struct tok_case tok_cases[] = {
	{ "00000000000000016b", 0, 1, "k" },
	{ "00000000000000FF6b303031", 0, 255, "k001" },
	{ "00ffffffffffffffe282ac", 0, UINT64_C(0xffffffffffffff), "\xe2\x82\xac" },

	{ "", -1, 0, NULL },
	{ "0000000000000001", -1, 0, NULL },          /* no key */
	{ "000000000000000100", -1, 0, NULL },        /* a NUL key */
	{ "00000000000000016b006b", -1, 0, NULL },    /* a NUL in the key */
	{ "00000000000000006b", -1, 0, NULL },        /* cid 0 */
	{ "01000000000000006b", -1, 0, NULL },        /* cid past 2^56 */
	{ "00000000000000016", -1, 0, NULL },         /* odd */
	{ "0000000000000001zz", -1, 0, NULL },
	{ "0000000000000001 6b", -1, 0, NULL },
	{ "0x000000000000016b", -1, 0, NULL },
};

START_TEST(test_token)
{
	const struct tok_case *tc = &tok_cases[_i];
	struct rel_pos p;
	bool nomem;
	int r = relation_pos_decode(td_ar, tc->tok, strlen(tc->tok), &p, &nomem);
	char *back;

	ck_assert_msg(r == tc->ok && !nomem, "relation_pos_decode(\"%s\"): got %d, want %d",
	    tc->tok, r, tc->ok);
	if (r != 0)
		return;
	ck_assert_msg(p.cid == tc->cid && p.keylen == strlen(tc->key) &&
	    memcmp(p.key, tc->key, p.keylen) == 0, "relation_pos_decode(\"%s\"): got %"
	    PRIu64 "/%.*s, want %" PRIu64 "/%s", tc->tok, p.cid, (int)p.keylen, p.key,
	    tc->cid, tc->key);
	back = relation_pos_encode(td_ar, &p);
	ck_assert_msg(back != NULL && strlen(back) == strlen(tc->tok), "relation_pos_encode:"
	    " got %s, want %s (in lower case)", back ? back : "NULL", tc->tok);
	for (size_t i = 0; back[i] != '\0'; i++)
		ck_assert_msg(back[i] == (tc->tok[i] >= 'A' && tc->tok[i] <= 'F' ?
		    tc->tok[i] - 'A' + 'a' : tc->tok[i]), "relation_pos_encode: got %s, want %s "
		    "(in lower case)", back, tc->tok);
}
END_TEST

/* Keys of relations.db: a made one splits into its parts and mirrors back. */
START_TEST(test_rel_key)
{
	struct rel_key rk;
	unsigned char *k, *m, *mm, *pre;
	size_t kl, ml, mml, pl;

	k = layout_rel_key(td_ar, 7, 3, "src", "kind", 9, "dst key", &kl);
	ck_assert_ptr_nonnull(k);
	ck_assert_msg(kl == 12 + 3 + 1 + 4 + 1 + 8 + 7, "key length: got %zu, want 36", kl);
	ck_assert_msg(layout_rel_split(k, kl, &rk) == 0 && rk.tenant == 7 && rk.cid == 3 &&
	    rk.keylen == 3 && memcmp(rk.key, "src", 3) == 0 && rk.kindlen == 4 &&
	    memcmp(rk.kind, "kind", 4) == 0 && rk.other_cid == 9 && rk.other_keylen == 7 &&
	    memcmp(rk.other_key, "dst key", 7) == 0, "layout_rel_split: got other parts");
	m = layout_rel_mirror(td_ar, k, kl, &ml);
	ck_assert_msg(m != NULL && layout_rel_split(m, ml, &rk) == 0 && rk.cid == 9 &&
	    rk.other_cid == 3 && rk.keylen == 7 && memcmp(rk.key, "dst key", 7) == 0,
	    "layout_rel_mirror: got another key");
	mm = layout_rel_mirror(td_ar, m, ml, &mml);
	ck_assert_msg(mm != NULL && mml == kl && memcmp(mm, k, kl) == 0,
	    "the mirror's mirror: got another key, want the first");
	pre = layout_rel_key(td_ar, 7, 3, "src", "kind", 0, NULL, &pl);
	ck_assert_msg(pre != NULL && pl == 21 && memcmp(pre, k, pl) == 0,
	    "kind prefix: got %zu bytes, want the first 21 of the key", pl);
	pre = layout_rel_key(td_ar, 7, 3, "src", NULL, 0, NULL, &pl);
	ck_assert_msg(pre != NULL && pl == 16 && memcmp(pre, k, pl) == 0,
	    "item prefix: got %zu bytes, want the first 16 of the key", pl);
}
END_TEST

struct split_case {
	const char	*name;
	const char	*bytes;
	size_t		 len;
};

#define SPLIT(n, b)	{ (n), (b), sizeof(b) - 1 }
#define PFX	"\0\0\0\1\0\0\0\0\0\0\0\3"

static const struct split_case split_cases[] = {
	SPLIT("too short", PFX "a\0b\0"),
	SPLIT("no separator", PFX "abcdefghijklmnopqrstu"),
	SPLIT("no kind separator", PFX "a\0bcdefghijklmnopqrs"),
	SPLIT("empty key", PFX "\0b\0\0\0\0\0\0\0\0\3c"),
	SPLIT("empty kind", PFX "a\0\0\0\0\0\0\0\0\0\3c"),
	SPLIT("no other key", PFX "a\0b\0\0\0\0\0\0\0\0\3"),
	SPLIT("NUL in the other key", PFX "a\0b\0\0\0\0\0\0\0\0\3c\0d"),
	SPLIT("other cid 0", PFX "a\0b\0\0\0\0\0\0\0\0\0c"),
	SPLIT("other cid too large", PFX "a\0b\0\1\0\0\0\0\0\0\0c"),
	SPLIT("cid 0", "\0\0\0\1\0\0\0\0\0\0\0\0a\0b\0\0\0\0\0\0\0\0\3c"),
	SPLIT("a format-1 key", "\0\0\0\1users\0a\0b\0\0\0\0\0\0\0\0\3c"),
};

START_TEST(test_split_errors)
{
	const struct split_case *tc = &split_cases[_i];
	struct rel_key rk;
	size_t ml;

	ck_assert_msg(layout_rel_split(tc->bytes, tc->len, &rk) == -1,
	    "%s: layout_rel_split: got 0, want -1", tc->name);
	ck_assert_msg(layout_rel_mirror(td_ar, tc->bytes, tc->len, &ml) == NULL,
	    "%s: layout_rel_mirror: got a key, want NULL", tc->name);
}
END_TEST

struct rec_case {
	const char	*name;
	const char	*bytes;
	size_t		 len;
	int		 ok;
};

#define REC(n, b, ok)	{ (n), (b), sizeof(b) - 1, (ok) }
#define HDR	"\1\0\0\1\x46\xb5\x99\x05\x0e\1\2\3\4\5\6\7\x08"

static const struct rec_case rec_cases[] = {
	REC("one", HDR "\0\1u{}", 0),
	REC("empty value", HDR "\0\1u", 0),
	REC("long name", HDR "\0\3abc{\"a\":1}", 0),

	REC("empty", "", -1),
	REC("header only", HDR, -1),
	REC("no name", HDR "\0\0{}", -1),
	REC("name past the end", HDR "\0\5ab", -1),
	REC("format 2", "\2\0\0\1\x46\xb5\x99\x05\x0e\1\2\3\4\5\6\7\x08\0\1u{}", -1),
	REC("short header", "\1\0\0\1\x46\xb5\x99\x05\x0e\1\2\3\4\5\6\7", -1),
};

START_TEST(test_record)
{
	const struct rec_case *tc = &rec_cases[_i];
	struct rel_record r, back;
	unsigned char *enc;
	size_t el;
	int got = layout_rel_decode(tc->bytes, tc->len, &r);

	ck_assert_msg(got == tc->ok, "%s: layout_rel_decode: got %d, want %d", tc->name,
	    got, tc->ok);
	if (got != 0)
		return;
	ck_assert_msg(r.reftime == INT64_C(1403206042894) &&
	    strcmp(r.ref, "0102030405060708") == 0, "%s: got reftime %" PRId64 " ref %s",
	    tc->name, r.reftime, r.ref);
	enc = layout_rel_encode(td_ar, &r, &el);
	ck_assert_msg(enc != NULL && el == tc->len && memcmp(enc, tc->bytes, el) == 0,
	    "%s: layout_rel_encode of the decoded record: got other bytes", tc->name);
	ck_assert(layout_rel_decode(enc, el, &back) == 0 && back.vlen == r.vlen &&
	    back.dst_coll_len == r.dst_coll_len);
}
END_TEST

static Suite *
relations_suite(void)
{
	Suite *s = suite_create("relations");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
	    *errors = tcase_create("errors");

	tcase_add_checked_fixture(core, td_setup, td_teardown);
	tcase_add_loop_test(core, test_put, 0, NCASES(put_cases));
	tcase_add_test(core, test_put_reftime);
	tcase_add_loop_test(core, test_get, 0, NCASES(get_cases));
	tcase_add_loop_test(core, test_delete, 0, NCASES(del_cases));
	tcase_add_test(core, test_purge);
	tcase_add_loop_test(core, test_traverse, 0, NCASES(trav_cases));
	tcase_add_test(core, test_dropped);
	tcase_add_test(core, test_rel_key);
	tcase_add_test(core, test_audit);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, td_setup, td_teardown);
	tcase_set_timeout(limits, 60);
	tcase_add_test(limits, test_after_pages);
	tcase_add_loop_test(limits, test_limits, 0, NCASES(limit_cases));
	tcase_add_test(limits, test_visitor_stops);
	suite_add_tcase(s, limits);

	tcase_add_checked_fixture(errors, td_setup, td_teardown);
	tcase_add_loop_test(errors, test_token, 0, NCASES(tok_cases));
	tcase_add_loop_test(errors, test_split_errors, 0, NCASES(split_cases));
	tcase_add_loop_test(errors, test_record, 0, NCASES(rec_cases));
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(relations_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
