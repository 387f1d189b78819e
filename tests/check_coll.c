/*
 * check_coll: unit tests of the collection domain (collections.h), its
 * counters, collection drop and background reclaim (reclaim.h), and the
 * upgrade from data format 1 (upgrade.h), over a real Berkeley DB
 * environment.
 *
 * Every test gets a fresh environment in a temp directory (testenv.h)
 * through a checked fixture, as check_store does. Domain calls run in their own
 * transaction (txn_dom), committed only on DOM_OK, as the dispatcher does.
 */
#include "testenv.h"

#include <string.h>

#include <json-c/json.h>

#include "audit.h"
#include "collections.h"
#include "config.h"
#include "events.h"
#include "items.h"
#include "layout.h"
#include "mem.h"
#include "patch.h"
#include "reclaim.h"
#include "store.h"
#include "timefmt.h"
#include "upgrade.h"
#include "util.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

static char tmpdir[512];
static struct config cfg;
static struct store *st;
static struct arena *ar;

static const struct dom_cond no_cond;

static void
setup(void)
{
	char err[512] = "";

	testenv_make("check_coll", tmpdir, sizeof(tmpdir), &cfg);
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

/* Closes the handle, recovers (as after a kill) and joins again. */
static void
reopen(void)
{
	char err[512] = "";

	store_close(st);
	st = NULL;
	ck_assert_msg(store_recover(&cfg, err, sizeof(err)) == 0,
	    "store_recover: got -1 (%s), want 0", err);
	ck_assert_msg(store_open(&cfg, &st, err, sizeof(err)) == 0,
	    "store_open: got -1 (%s), want 0", err);
}

static const char *
dom_name(enum dom_rc rc)
{
	static const char *names[] = { "DOM_OK", "DOM_NOT_FOUND", "DOM_MISMATCH",
		"DOM_PRESENT", "DOM_INVALID", "DOM_CONFLICT", "DOM_TOO_LARGE",
		"DOM_TOO_DEEP", "DOM_RETRY", "DOM_ERR", "DOM_PANIC" };

	return (size_t)rc < sizeof(names) / sizeof(names[0]) ? names[rc] : "?";
}

/* ---- one domain call per transaction --------------------------------- */

enum op { OP_PUT, OP_DEL, OP_PURGE, OP_UPSERT, OP_PATCH, OP_CREATE, OP_DROP, OP_EVENT };

struct call {
	enum op op;
	uint32_t tenant;
	const char *coll;
	const char *key;
	const char *value;       /* OP_PUT, OP_EVENT; OP_UPSERT/OP_PATCH: a merge patch */
	const struct dom_cond *if_match;
	enum dom_rc rc;          /* the result */
	bool existed;            /* OP_DROP */
	char created[17];        /* OP_CREATE */
};

static void
dom_init(struct dom *d, struct store_txn *t, uint32_t tenant)
{
	memset(d, 0, sizeof(*d));
	d->txn = t;
	d->arena = ar;
	d->tenant = tenant;
	d->now_ms = timefmt_now_ms();
	d->max_bytes = 1 << 20;
	d->max_depth = 64;
}

static enum dom_rc
call_dom(struct dom *d, struct call *c)
{
	struct item_version v;
	struct patch_error perr = { .op_index = -1 };
	struct event_record er;
	struct evpos pos;
	struct json_object *patch;
	const struct dom_cond *im = c->if_match ? c->if_match : &no_cond;
	enum dom_rc rc;

	switch (c->op) {
	case OP_PUT:
		return item_put(d, c->coll, c->key, c->value, strlen(c->value), im, &no_cond, &v);
	case OP_DEL:
		return item_delete(d, c->coll, c->key, im, false);
	case OP_PURGE:
		return item_delete(d, c->coll, c->key, im, true);
	case OP_UPSERT:
	case OP_PATCH:
		patch = json_tokener_parse(c->value);
		ck_assert_msg(patch != NULL, "test patch %s: got NULL", c->value);
		rc = item_patch(d, c->coll, c->key, patch, true, c->op == OP_UPSERT, im, &v,
		    &perr);
		json_object_put(patch);
		patch_error_free(&perr);
		return rc;
	case OP_CREATE:
		return item_create(d, c->coll, c->value, strlen(c->value), c->created, &v);
	case OP_DROP:
		return coll_drop(d, c->coll, &c->existed);
	case OP_EVENT: {
		struct event_name n = { c->coll, c->key, "t" };

		return event_create(d, &n, 1000, c->value, strlen(c->value), &pos, &er);
	}
	}
	return DOM_ERR;
}

/* Runs c in a write transaction, committed when the result is DOM_OK. */
static enum dom_rc
run(struct call *c)
{
	struct store_txn *t = NULL;
	struct dom d;

	ck_assert_msg(store_begin(st, true, &t) == STORE_OK, "store_begin: got an error");
	dom_init(&d, t, c->tenant);
	c->rc = call_dom(&d, c);
	if (c->rc == DOM_OK)
		ck_assert_msg(store_commit(t) == STORE_OK, "store_commit: got an error");
	else
		store_abort(t);
	return c->rc;
}

static void
must(enum op op, uint32_t tenant, const char *coll, const char *key, const char *value)
{
	struct call c = { op, tenant, coll, key, value, NULL, DOM_OK, false, "" };
	enum dom_rc rc = run(&c);

	ck_assert_msg(rc == DOM_OK, "op %d on %u/%s/%s: got %s, want DOM_OK", (int)op,
	    tenant, coll, key ? key : "-", dom_name(rc));
}

/* A read transaction with a dom for tenant; end it with store_abort. */
static struct store_txn *
reader(struct dom *d, uint32_t tenant)
{
	struct store_txn *t = NULL;

	ck_assert_msg(store_begin(st, false, &t) == STORE_OK, "store_begin: got an error");
	dom_init(d, t, tenant);
	return t;
}

/* The live-item count of coll (-1: no such collection). */
static int64_t
count_of(uint32_t tenant, const char *coll)
{
	struct dom d;
	struct store_txn *t = reader(&d, tenant);
	uint64_t cid;
	int64_t n = -1;
	enum dom_rc rc = coll_lookup(&d, coll, &cid);

	if (rc == DOM_OK)
		ck_assert_msg(coll_count(&d, cid, &n) == DOM_OK, "coll_count: got an error");
	else
		ck_assert_msg(rc == DOM_NOT_FOUND, "coll_lookup(%s): got %s", coll, dom_name(rc));
	store_abort(t);
	return n;
}

static uint64_t
cid_of(uint32_t tenant, const char *coll)
{
	struct dom d;
	struct store_txn *t = reader(&d, tenant);
	uint64_t cid = 0;
	enum dom_rc rc = coll_lookup(&d, coll, &cid);

	store_abort(t);
	ck_assert_msg(rc == DOM_OK, "coll_lookup(%u/%s): got %s, want DOM_OK", tenant, coll,
	    dom_name(rc));
	return cid;
}

/* The number of records whose key starts with T | cid in db (the counts:
 * those of the 16 shards that exist). */
static uint64_t
records_of(enum store_db db, uint32_t tenant, uint64_t cid)
{
	unsigned char p[LAYOUT_PREFIX_LEN], ck[LAYOUT_COUNT_KEY_LEN];
	struct store_txn *t = NULL;
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	uint64_t n = 0;
	enum store_rc rc;

	layout_prefix(p, tenant, cid);
	ck_assert_msg(store_begin(st, false, &t) == STORE_OK, "store_begin: got an error");
	if (db == STORE_DB_COUNTS) {
		for (unsigned s = 0; s < LAYOUT_SHARDS; s++) {
			void *val;

			layout_count_key(ck, tenant, cid, s);
			n += store_get(t, db, ck, sizeof(ck), false, ar, &val, &vl) == STORE_OK;
		}
		store_abort(t);
		return n;
	}
	ck_assert_msg(store_cursor_open(t, db, &c) == STORE_OK, "cursor: got an error");
	for (rc = store_cursor_get(c, STORE_SEEK_GE, p, sizeof(p), &k, &kl, &v, &vl);
	    rc == STORE_OK && kl >= sizeof(p) && memcmp(k, p, sizeof(p)) == 0;
	    rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl))
		n++;
	store_abort(t);
	return n;
}

static const enum store_db all_dbs[] = { STORE_DB_ITEMS, STORE_DB_VERSIONS,
	STORE_DB_REFS, STORE_DB_EVENTS, STORE_DB_EVSEQ, STORE_DB_COUNTS };

static uint64_t
all_records_of(uint32_t tenant, uint64_t cid)
{
	uint64_t n = 0;

	for (int i = 0; i < NCASES(all_dbs); i++)
		n += records_of(all_dbs[i], tenant, cid);
	return n;
}

static uint64_t
queued(void)
{
	struct store_txn *t = NULL;
	uint64_t n = 0, items = 0;

	ck_assert_msg(store_begin(st, false, &t) == STORE_OK, "store_begin: got an error");
	ck_assert_msg(reclaim_pending(t, &n, &items) == STORE_OK, "reclaim_pending: got an error");
	store_abort(t);
	ck_assert_msg(items == 0, "reclaim_pending: %llu purged items' entries, want 0",
	    (unsigned long long)items);
	return n;
}

/* One reclaim step of at most max records in its own transaction. */
static struct reclaim_result
step(uint64_t max)
{
	struct reclaim_result r;
	enum store_rc rc = reclaim_run(st, ar, max, 1, 5, &r);

	ck_assert_msg(rc == STORE_OK, "reclaim_run: got %d, want STORE_OK", (int)rc);
	return r;
}

/* ---- core --------------------------------------------------------------- */

/* Each step: an operation and the count of collection "c" after it. */
struct count_case {
	enum op op;
	const char *key;
	const char *value;
	int64_t want;
};

static const struct count_case count_cases[] = {
	{ OP_PUT, "a", "{\"v\":1}", 1 },         /* new item */
	{ OP_PUT, "a", "{\"v\":2}", 1 },         /* overwrite: still one */
	{ OP_PUT, "b", "{\"v\":1}", 2 },
	{ OP_DEL, "a", NULL, 1 },                /* tombstone */
	{ OP_DEL, "a", NULL, 1 },                /* already deleted: nothing */
	{ OP_PUT, "a", "{\"v\":3}", 2 },         /* live again after a tombstone */
	{ OP_PURGE, "a", NULL, 1 },              /* purge of a live item */
	{ OP_PURGE, "a", NULL, 1 },              /* purge of nothing */
	{ OP_DEL, "b", NULL, 0 },
	{ OP_PURGE, "b", NULL, 0 },              /* purge of a tombstoned item */
	{ OP_UPSERT, "c", "{\"u\":1}", 1 },      /* upsert of an absent item */
	{ OP_UPSERT, "c", "{\"u\":2}", 1 },      /* upsert of a live item */
	{ OP_PATCH, "c", "{\"p\":1}", 1 },       /* patch of a live item */
	{ OP_DEL, "c", NULL, 0 },
	{ OP_UPSERT, "c", "{\"u\":3}", 1 },      /* upsert of a tombstoned item */
	{ OP_CREATE, NULL, "{\"g\":1}", 2 },     /* a generated key */
	{ OP_EVENT, "d", "{\"e\":1}", 2 },       /* events are not items */
};

START_TEST(test_counts_follow_liveness)
{
	for (int i = 0; i < NCASES(count_cases); i++) {
		const struct count_case *tc = &count_cases[i];
		int64_t got;

		must(tc->op, 1, "c", tc->key, tc->value);
		got = count_of(1, "c");
		ck_assert_msg(got == tc->want, "step %d (op %d on %s): count got %lld, want %lld",
		    i, (int)tc->op, tc->key ? tc->key : "(generated)", (long long)got,
		    (long long)tc->want);
	}
}
END_TEST

/* Many keys spread over every shard; the sum is exact. */
START_TEST(test_counts_many_keys)
{
	char key[32];
	uint64_t cid;

	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		must(OP_PUT, 1, "many", key, "{}");
	}
	for (int i = 0; i < 200; i += 3) {
		snprintf(key, sizeof(key), "k%d", i);
		must(i % 2 ? OP_DEL : OP_PURGE, 1, "many", key, NULL);
	}
	ck_assert_msg(count_of(1, "many") == 200 - 67, "count: got %lld, want 133",
	    (long long)count_of(1, "many"));
	cid = cid_of(1, "many");
	ck_assert_msg(records_of(STORE_DB_COUNTS, 1, cid) == LAYOUT_SHARDS,
	    "counter records: got %llu, want %d (200 keys reach every shard)",
	    (unsigned long long)records_of(STORE_DB_COUNTS, 1, cid), LAYOUT_SHARDS);
}
END_TEST

struct listed {
	char names[8][16];
	int64_t items[8];
	int n;
};

static enum dom_visit
collect(void *arg, const char *name, size_t len, int64_t items)
{
	struct listed *l = arg;

	ck_assert_msg(l->n < 8 && len < 16, "too many or too long collections listed");
	memcpy(l->names[l->n], name, len);
	l->names[l->n][len] = '\0';
	l->items[l->n++] = items;
	return DOM_VISIT_NEXT;
}

static void
list_of(uint32_t tenant, struct listed *l)
{
	struct dom d;
	struct store_txn *t = reader(&d, tenant);
	enum dom_rc rc;

	memset(l, 0, sizeof(*l));
	rc = collections_list(&d, collect, l);
	store_abort(t);
	ck_assert_msg(rc == DOM_OK, "collections_list: got %s, want DOM_OK", dom_name(rc));
}

START_TEST(test_collections_list)
{
	struct listed l;

	must(OP_PUT, 1, "b", "x", "{}");
	must(OP_PUT, 1, "b", "y", "{}");
	must(OP_PUT, 1, "a", "x", "{}");
	must(OP_PUT, 1, "empty", "x", "{}");
	must(OP_DEL, 1, "empty", "x", NULL);
	must(OP_EVENT, 1, "evonly", "k", "{}");
	must(OP_PUT, 2, "other", "x", "{}");
	list_of(1, &l);
	ck_assert_msg(l.n == 2, "collections of tenant 1: got %d, want 2 (a, b; not the "
	    "empty one, not tenant 2's)", l.n);
	ck_assert_msg(strcmp(l.names[0], "a") == 0 && l.items[0] == 1 &&
	    strcmp(l.names[1], "b") == 0 && l.items[1] == 2,
	    "listing: got %s=%lld %s=%lld, want a=1 b=2", l.names[0], (long long)l.items[0],
	    l.names[1], (long long)l.items[1]);
	list_of(2, &l);
	ck_assert_msg(l.n == 1 && strcmp(l.names[0], "other") == 0 && l.items[0] == 1,
	    "collections of tenant 2: got %d, want other=1", l.n);
}
END_TEST

static enum dom_visit
count_visit(void *arg, const char *key, size_t keylen, const struct item_version *v)
{
	(void)key;
	(void)keylen;
	(void)v;
	(*(int *)arg)++;
	return DOM_VISIT_NEXT;
}

START_TEST(test_drop_is_instant)
{
	struct item_version v;
	struct key_range all = { NULL, false, NULL, false };
	struct dom d;
	struct store_txn *t;
	struct listed l;
	uint64_t old, fresh;
	struct scan_stop stop;
	bool more;
	int n = 0;

	for (int i = 0; i < 20; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%02d", i);
		must(OP_PUT, 1, "gone", key, "{\"a\":1}");
		must(OP_PUT, 1, "gone", key, "{\"a\":2}");
		must(OP_EVENT, 1, "gone", key, "{}");
	}
	old = cid_of(1, "gone");
	must(OP_DROP, 1, "gone", NULL, NULL);
	ck_assert_msg(count_of(1, "gone") == -1, "count after drop: got %lld, want no "
	    "collection", (long long)count_of(1, "gone"));
	ck_assert_msg(queued() == 1, "queue: got %llu, want 1", (unsigned long long)queued());

	t = reader(&d, 1);
	ck_assert_msg(item_get(&d, "gone", "k01", &v) == DOM_NOT_FOUND,
	    "item_get after drop: want DOM_NOT_FOUND");
	ck_assert_msg(item_list(&d, "gone", &all, 100, 0, count_visit, &n, &more, &stop) == DOM_OK &&
	    n == 0 && !more, "item_list after drop: got %d items, want 0", n);
	ck_assert_msg(item_history(&d, "gone", "k01", 0, 10, count_visit, &n, &more) ==
	    DOM_NOT_FOUND, "item_history after drop: want DOM_NOT_FOUND");
	store_abort(t);
	list_of(1, &l);
	ck_assert_msg(l.n == 0, "collections after drop: got %d, want 0", l.n);

	/* A new write starts a fresh collection: new cid, history of one. */
	must(OP_PUT, 1, "gone", "k01", "{\"b\":1}");
	fresh = cid_of(1, "gone");
	ck_assert_msg(fresh != old, "cid after re-create: got the old %llu, want a new one",
	    (unsigned long long)old);
	t = reader(&d, 1);
	n = 0;
	ck_assert_msg(item_history(&d, "gone", "k01", 0, 10, count_visit, &n, &more) ==
	    DOM_OK && n == 1, "history of the re-created item: got %d versions, want 1", n);
	store_abort(t);
	ck_assert_msg(count_of(1, "gone") == 1, "count of the fresh collection: got %lld, "
	    "want 1", (long long)count_of(1, "gone"));
	/* The old records wait for reclaim. */
	ck_assert_msg(records_of(STORE_DB_VERSIONS, 1, old) == 40,
	    "old versions before reclaim: got %llu, want 40",
	    (unsigned long long)records_of(STORE_DB_VERSIONS, 1, old));
}
END_TEST

/* Reclaim in steps of at most 7 records: bounded, monotone, complete, and
 * nothing of any other collection or tenant is touched. */
START_TEST(test_reclaim_in_steps)
{
	uint64_t cid, keep, other, before, left, keep_before, other_before, counters;
	int steps = 0;

	for (int i = 0; i < 15; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%02d", i);
		must(OP_PUT, 1, "drop", key, "{\"a\":1}");
		must(OP_PUT, 1, "drop", key, "{\"a\":2}");
		must(OP_EVENT, 1, "drop", key, "{}");
		must(OP_PUT, 1, "keep", key, "{}");
		must(OP_PUT, 2, "drop", key, "{}");
	}
	cid = cid_of(1, "drop");
	keep = cid_of(1, "keep");
	other = cid_of(2, "drop");
	before = all_records_of(1, cid);
	keep_before = all_records_of(1, keep);
	other_before = all_records_of(2, other);
	counters = records_of(STORE_DB_COUNTS, 1, cid);
	/* 15 heads, 30 versions, 30 refs, 15 events, 15 evseq, the counters */
	ck_assert_msg(before == 105 + counters, "records of the collection: got %llu, want %llu",
	    (unsigned long long)before, (unsigned long long)(105 + counters));
	must(OP_DROP, 1, "drop", NULL, NULL);
	left = before;
	for (;;) {
		struct reclaim_result r = step(7);
		uint64_t now;

		if (r.idle)
			break;
		ck_assert_msg(++steps < 100, "reclaim did not end after 100 steps");
		ck_assert_msg(r.tenant == 1 && r.cid == cid, "step %d: worked on %u/%llu, want "
		    "1/%llu", steps, r.tenant, (unsigned long long)r.cid, (unsigned long long)cid);
		ck_assert_msg(r.deleted <= 7, "step %d: deleted %llu, want at most 7", steps,
		    (unsigned long long)r.deleted);
		now = all_records_of(1, cid);
		if (!r.finished)
			ck_assert_msg(now + r.deleted == left, "step %d: %llu left after deleting "
			    "%llu, want %llu", steps, (unsigned long long)now,
			    (unsigned long long)r.deleted, (unsigned long long)(left - r.deleted));
		ck_assert_msg(queued() == (r.finished ? 0u : 1u), "step %d: queue %llu", steps,
		    (unsigned long long)queued());
		left = now;
	}
	ck_assert_msg(all_records_of(1, cid) == 0, "records after reclaim: got %llu, want 0",
	    (unsigned long long)all_records_of(1, cid));
	/* The counters go in the last step, beyond the budget. */
	before -= counters;
	ck_assert_msg(steps >= (int)(before / 7), "steps: got %d, want at least %llu", steps,
	    (unsigned long long)(before / 7));
	ck_assert_msg(all_records_of(1, keep) == keep_before &&
	    all_records_of(2, other) == other_before,
	    "other collections: got %llu and %llu records, want %llu and %llu",
	    (unsigned long long)all_records_of(1, keep),
	    (unsigned long long)all_records_of(2, other), (unsigned long long)keep_before,
	    (unsigned long long)other_before);
	ck_assert_msg(count_of(1, "keep") == 15 && count_of(2, "drop") == 15,
	    "counts of the others: got %lld and %lld, want 15 and 15",
	    (long long)count_of(1, "keep"), (long long)count_of(2, "drop"));
}
END_TEST

/* A reclaim interrupted (the environment recovered in between, as after a
 * kill -9) goes on where it stopped; two queued collections go in turn. */
START_TEST(test_reclaim_resumes)
{
	uint64_t a, b;
	struct reclaim_result r;
	int steps = 0;

	for (int i = 0; i < 30; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%02d", i);
		must(OP_PUT, 3, "a", key, "{}");
		must(OP_PUT, 3, "b", key, "{}");
	}
	a = cid_of(3, "a");
	b = cid_of(3, "b");
	must(OP_DROP, 3, "a", NULL, NULL);
	must(OP_DROP, 3, "b", NULL, NULL);
	r = step(10);
	ck_assert_msg(!r.finished && r.deleted == 10, "first step: got %llu deleted, "
	    "finished %d, want 10 and not finished", (unsigned long long)r.deleted, r.finished);
	reopen();
	ck_assert_msg(queued() == 2, "queue after recovery: got %llu, want 2",
	    (unsigned long long)queued());
	do {
		r = step(10);
		ck_assert_msg(++steps < 100, "reclaim did not end");
	} while (!r.idle);
	ck_assert_msg(all_records_of(3, a) == 0 && all_records_of(3, b) == 0 && queued() == 0,
	    "after reclaim: got %llu and %llu records, queue %llu, want none",
	    (unsigned long long)all_records_of(3, a), (unsigned long long)all_records_of(3, b),
	    (unsigned long long)queued());
}
END_TEST

/* ---- limits ------------------------------------------------------------- */

START_TEST(test_reclaim_one_record_at_a_time)
{
	uint64_t cid, before;
	struct reclaim_result r;
	uint64_t steps = 0;

	must(OP_PUT, 1, "one", "a", "{}");
	must(OP_PUT, 1, "one", "b", "{}");
	cid = cid_of(1, "one");
	before = all_records_of(1, cid) - records_of(STORE_DB_COUNTS, 1, cid);
	must(OP_DROP, 1, "one", NULL, NULL);
	do {
		r = step(1);
		ck_assert_msg(r.deleted <= 1, "a step of 1 deleted %llu",
		    (unsigned long long)r.deleted);
		steps++;
	} while (!r.idle);
	/* one step per record, one that finds nothing and finishes, one idle */
	ck_assert_msg(steps == before + 2, "steps: got %llu, want %llu",
	    (unsigned long long)steps, (unsigned long long)(before + 2));
}
END_TEST

/* Large values: a step stops after 8 MiB, whatever the record budget. */
START_TEST(test_reclaim_bounded_by_bytes)
{
	size_t n = (size_t)1 << 20;
	char *big = malloc(n + 1);
	struct reclaim_result r;
	uint64_t cid;

	ck_assert_msg(big != NULL, "malloc: got NULL");
	memset(big, 'x', n);
	memcpy(big, "{\"v\":\"", 6);
	memcpy(big + n - 2, "\"}", 2);
	big[n] = '\0';
	for (int i = 0; i < 12; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%02d", i);
		must(OP_PUT, 1, "big", key, big);
	}
	free(big);
	cid = cid_of(1, "big");
	must(OP_DROP, 1, "big", NULL, NULL);
	r = step(1000);
	ck_assert_msg(!r.finished && r.deleted == 8 && r.bytes >= ((uint64_t)8 << 20),
	    "first step over 12 MiB of values: got %llu records, %llu bytes, finished %d; "
	    "want 8 records (8 MiB), not finished", (unsigned long long)r.deleted,
	    (unsigned long long)r.bytes, r.finished);
	while (!step(1000).idle)
		;
	ck_assert_msg(all_records_of(1, cid) == 0, "after the reclaim: %llu records left",
	    (unsigned long long)all_records_of(1, cid));
}
END_TEST

struct split_case {
	const char *key;
	size_t len;
	int want;            /* 0 or -1 */
	uint32_t tenant;
	const char *name;
	const char *rest;
	size_t restlen;
};

#define SPLIT(k, w, t, n, r) { (k), sizeof(k) - 1, (w), (t), (n), (r), sizeof(r) - 1 }

static const struct split_case split_cases[] = {
	SPLIT("\0\0\0\1users\0alice", 0, 1, "users", "alice"),
	SPLIT("\0\0\1\0c\0k\0\0\0\0\0\0\0\0\1", 0, 256, "c", "k\0\0\0\0\0\0\0\0\1"),
	SPLIT("\0\0\0\1\0\0\0\0\0\0\0\1alice", -1, 0, "", ""),   /* a format-2 key */
	SPLIT("\0\0\0\1users", -1, 0, "", ""),                   /* no separator */
	SPLIT("\0\0\0\1users\0", -1, 0, "", ""),                 /* nothing after it */
	SPLIT("\0\0\0", -1, 0, "", ""),                          /* too short */
};

START_TEST(test_v1_split)
{
	const struct split_case *tc = &split_cases[_i];
	const unsigned char *rest = NULL;
	const char *name = NULL;
	size_t nl = 0, rl = 0;
	uint32_t t = 0;
	int got = layout_v1_split(tc->key, tc->len, &t, &name, &nl, &rest, &rl);

	ck_assert_msg(got == tc->want, "case %d: got %d, want %d", _i, got, tc->want);
	if (got == 0)
		ck_assert_msg(t == tc->tenant && nl == strlen(tc->name) &&
		    memcmp(name, tc->name, nl) == 0 && rl == tc->restlen &&
		    memcmp(rest, tc->rest, rl) == 0,
		    "case %d: got tenant %u name %.*s and %zu bytes, want %u %s and %zu", _i, t,
		    (int)nl, name, rl, tc->tenant, tc->name, tc->restlen);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

START_TEST(test_missing_collection)
{
	struct dom_cond any = { true, true, 0, { "" } };
	struct call c;

	c = (struct call){ OP_DROP, 1, "none", NULL, NULL, NULL, DOM_OK, true, "" };
	ck_assert_msg(run(&c) == DOM_OK && !c.existed && queued() == 0,
	    "drop of a missing collection: got %s, existed %d, queue %llu; want DOM_OK, "
	    "nothing", dom_name(c.rc), c.existed, (unsigned long long)queued());
	c = (struct call){ OP_DEL, 1, "none", "k", NULL, NULL, DOM_OK, false, "" };
	ck_assert_msg(run(&c) == DOM_OK, "delete in a missing collection: got %s",
	    dom_name(c.rc));
	c = (struct call){ OP_PURGE, 1, "none", "k", NULL, NULL, DOM_OK, false, "" };
	ck_assert_msg(run(&c) == DOM_OK, "purge in a missing collection: got %s",
	    dom_name(c.rc));
	c = (struct call){ OP_DEL, 1, "none", "k", NULL, &any, DOM_OK, false, "" };
	ck_assert_msg(run(&c) == DOM_MISMATCH, "delete If-Match * in a missing collection: "
	    "got %s, want DOM_MISMATCH", dom_name(c.rc));
	c = (struct call){ OP_PATCH, 1, "none", "k", "{\"a\":1}", NULL, DOM_OK, false, "" };
	ck_assert_msg(run(&c) == DOM_NOT_FOUND, "patch in a missing collection: got %s, "
	    "want DOM_NOT_FOUND", dom_name(c.rc));
	c = (struct call){ OP_PUT, 1, "none", "k", "{}", &any, DOM_OK, false, "" };
	ck_assert_msg(run(&c) == DOM_MISMATCH, "put If-Match * in a missing collection: "
	    "got %s, want DOM_MISMATCH", dom_name(c.rc));
	c = (struct call){ OP_UPSERT, 1, "none", "k", "{\"a\":1}", &any, DOM_OK, false, "" };
	ck_assert_msg(run(&c) == DOM_MISMATCH, "upsert If-Match * in a missing collection: "
	    "got %s, want DOM_MISMATCH", dom_name(c.rc));
	ck_assert_msg(count_of(1, "none") == -1, "after refused writes: the collection "
	    "exists, want none");
}
END_TEST

START_TEST(test_drop_twice_and_other_tenant)
{
	struct call c;

	must(OP_PUT, 1, "same", "k", "{}");
	must(OP_PUT, 2, "same", "k", "{}");
	must(OP_DROP, 1, "same", NULL, NULL);
	c = (struct call){ OP_DROP, 1, "same", NULL, NULL, NULL, DOM_OK, true, "" };
	ck_assert_msg(run(&c) == DOM_OK && !c.existed && queued() == 1,
	    "second drop: got %s, existed %d, queue %llu; want DOM_OK, no, 1",
	    dom_name(c.rc), c.existed, (unsigned long long)queued());
	ck_assert_msg(count_of(2, "same") == 1, "tenant 2's collection of the same name: "
	    "got %lld, want 1", (long long)count_of(2, "same"));
}
END_TEST

/* An empty queue: a step does nothing and says so. */
START_TEST(test_reclaim_idle)
{
	struct reclaim_result r = step(1000);

	ck_assert_msg(r.idle && !r.finished && r.deleted == 0,
	    "step on an empty queue: got idle %d finished %d deleted %llu, want idle",
	    r.idle, r.finished, (unsigned long long)r.deleted);
}
END_TEST

/* ---- the upgrade from format 1 ---------------------------------------- */

/* The format-1 item key T | coll | 0x00 | key with room for a suffix. */
static size_t
v1_key(unsigned char *b, uint32_t tenant, const char *coll, const char *key)
{
	size_t cl = strlen(coll), kl = strlen(key);

	util_put_be32(b, tenant);
	memcpy(b + 4, coll, cl);
	b[4 + cl] = 0;
	memcpy(b + 5 + cl, key, kl);
	return 5 + cl + kl;
}

static void
put_raw(struct store_txn *t, enum store_db db, const void *k, size_t kl, const void *v,
    size_t vl)
{
	ck_assert_msg(store_put(t, db, k, kl, v, vl) == STORE_OK, "store_put: got an error");
}

/* Writes one format-1 item of versions values (NULL: a tombstone), with an
 * event, as the format-1 code did. */
static void
put_v1_item(struct store_txn *t, uint32_t tenant, const char *coll, const char *key,
    const char *const *values, int n)
{
	unsigned char k[256], seq[8], ev[256];
	struct item_version v;
	struct event_record er;
	unsigned char *rec;
	size_t il = v1_key(k, tenant, coll, key), rl;

	for (int i = 0; i < n; i++) {
		memset(&v, 0, sizeof(v));
		v.seq = (uint64_t)i + 1;
		v.reftime = 1400000000000 + i;
		v.tombstone = values[i] == NULL;
		ids_ref(values[i] ? values[i] : "null", values[i] ? strlen(values[i]) : 4,
		    v.ref, v.refbin);
		v.value = values[i];
		v.vlen = values[i] ? strlen(values[i]) : 0;
		rec = layout_item_encode(ar, &v, &rl);
		put_raw(t, STORE_DB_ITEMS, k, il, rec, rl);
		put_raw(t, STORE_DB_VERSIONS, k, layout_version_key(k, il, v.seq), rec, rl);
		if (!v.tombstone) {
			util_put_be64(seq, v.seq);
			put_raw(t, STORE_DB_REFS, k, layout_ref_key(k, il, v.refbin), seq, 8);
		}
	}
	/* One event of type "t" at ts 1000, ordinal 7. */
	memcpy(ev, k, il);
	ev[il] = 0;
	memcpy(ev + il + 1, "t", 2);
	layout_event_pos(ev, il + 3, 1000, 7);
	memset(&er, 0, sizeof(er));
	er.reftime = 1400000000000;
	ids_ref("{\"e\":1}", 7, er.ref, er.refbin);
	er.value = "{\"e\":1}";
	er.vlen = 7;
	rec = layout_event_encode(ar, &er, &rl);
	put_raw(t, STORE_DB_EVENTS, ev, il + 3 + 16, rec, rl);
	util_put_be64(seq, 7);
	put_raw(t, STORE_DB_EVSEQ, k, il, seq, 8);
}

static const char *const vals_live[] = { "{\"v\":1}", "{\"v\":2}" };
static const char *const vals_dead[] = { "{\"v\":1}", NULL };

/* A format-1 environment: tenants 1 and 2, collections with live and
 * tombstoned items, the format set to "1". */
static void
make_v1_env(void)
{
	struct store_txn *t = NULL;

	ck_assert_msg(store_begin(st, true, &t) == STORE_OK, "store_begin: got an error");
	for (int i = 0; i < 25; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%02d", i);
		put_v1_item(t, 1, "users", key, i % 5 ? vals_live : vals_dead, 2);
		put_v1_item(t, 2, "users", key, vals_live, 1);
	}
	put_v1_item(t, 1, "a", "only", vals_live, 2);
	put_raw(t, STORE_DB_META, "format", 6, "1", 1);
	ck_assert_msg(store_commit(t) == STORE_OK, "store_commit: got an error");
}

/* Runs upgrade steps of at most max records until done (or steps of them). */
static int
upgrade_steps(uint64_t max, int steps, bool *done)
{
	int n = 0;

	*done = false;
	while (!*done && n < steps) {
		struct store_txn *t = NULL;
		uint64_t conv = 0;
		enum store_rc rc;

		ck_assert_msg(store_begin(st, true, &t) == STORE_OK, "store_begin: got an error");
		mem_reset(ar);
		rc = upgrade_step(t, ar, 1, max, done, &conv);
		ck_assert_msg(rc == STORE_OK, "upgrade_step: got %d, want STORE_OK", (int)rc);
		ck_assert_msg(conv <= max, "upgrade_step: converted %llu, want at most %llu",
		    (unsigned long long)conv, (unsigned long long)max);
		ck_assert_msg(store_commit(t) == STORE_OK, "store_commit: got an error");
		n++;
	}
	return n;
}

static enum dom_visit
history_visit(void *arg, const char *key, size_t keylen, const struct item_version *v)
{
	char *out = arg;
	size_t used = strlen(out);

	(void)key;
	(void)keylen;
	if (v->tombstone)
		snprintf(out + used, 256 - used, "-");
	else
		snprintf(out + used, 256 - used, "%.*s", (int)v->vlen, v->value);
	return DOM_VISIT_NEXT;
}

static enum dom_visit
event_visit(void *arg, const struct evpos *pos, const struct event_record *r)
{
	char *out = arg;

	snprintf(out + strlen(out), 64, "%llu/%llu%.*s", (unsigned long long)pos->ts,
	    (unsigned long long)pos->ord, (int)r->vlen, r->value);
	return DOM_VISIT_NEXT;
}

/* Every item, version, ref, event and count of make_v1_env, read back. */
static void
check_upgraded(void)
{
	struct item_version v;
	struct evrange all;
	struct evpos last;
	struct dom d;
	struct store_txn *t;
	char hist[256], evs[256], key[16];
	bool more;

	ck_assert_msg(count_of(1, "users") == 20 && count_of(2, "users") == 25 &&
	    count_of(1, "a") == 1, "counts: got %lld %lld %lld, want 20 25 1",
	    (long long)count_of(1, "users"), (long long)count_of(2, "users"),
	    (long long)count_of(1, "a"));
	evrange_all(&all);
	for (uint32_t tenant = 1; tenant <= 2; tenant++) {
		for (int i = 0; i < 25; i++) {
			struct event_name en = { "users", key, "t" };
			bool dead = tenant == 1 && i % 5 == 0;
			const char *want = tenant == 2 ? "{\"v\":1}" : dead ? "-{\"v\":1}" :
			    "{\"v\":2}{\"v\":1}";
			enum dom_rc rc;

			snprintf(key, sizeof(key), "k%02d", i);
			t = reader(&d, tenant);
			rc = item_get(&d, "users", key, &v);
			ck_assert_msg(dead ? rc == DOM_NOT_FOUND : rc == DOM_OK,
			    "get %u/users/%s: got %s", tenant, key, dom_name(rc));
			hist[0] = '\0';
			rc = item_history(&d, "users", key, 0, 10, history_visit, hist, &more);
			ck_assert_msg(rc == DOM_OK && strcmp(hist, want) == 0,
			    "history %u/users/%s: got %s %s, want %s", tenant, key, dom_name(rc),
			    hist, want);
			if (!dead) {
				char ref[IDS_REF_LEN + 1];

				memcpy(ref, v.ref, sizeof(ref));
				rc = item_get_ref(&d, "users", key, ref, IDS_REF_LEN, &v);
				ck_assert_msg(rc == DOM_OK && strcmp(v.ref, ref) == 0,
				    "get by ref %u/users/%s: got %s", tenant, key, dom_name(rc));
			}
			evs[0] = '\0';
			rc = event_list(&d, &en, &all, 10, event_visit, evs, &more, &last);
			ck_assert_msg(rc == DOM_OK && strcmp(evs, "1000/7{\"e\":1}") == 0,
			    "events %u/users/%s: got %s %s", tenant, key, dom_name(rc), evs);
			store_abort(t);
		}
	}
}

START_TEST(test_upgrade)
{
	bool done;
	char have[8];
	struct store_txn *t = NULL;

	make_v1_env();
	upgrade_steps(1000, 100, &done);
	ck_assert_msg(done, "upgrade: not done after 100 steps");
	ck_assert_msg(store_begin(st, false, &t) == STORE_OK &&
	    upgrade_format(t, have, sizeof(have)) == STORE_OK && strcmp(have, "2") == 0,
	    "format after the upgrade: got %s, want 2", have);
	store_abort(t);
	check_upgraded();
	/* Writes go on in the upgraded collections. */
	must(OP_PUT, 1, "users", "k00", "{\"v\":3}");
	ck_assert_msg(count_of(1, "users") == 21, "count after a new write: got %lld, want 21",
	    (long long)count_of(1, "users"));
}
END_TEST

/* Steps of 7 records, with a recovery in the middle (a kill -9). */
START_TEST(test_upgrade_resumes)
{
	bool done;
	int n;

	make_v1_env();
	n = upgrade_steps(7, 10, &done);
	ck_assert_msg(n == 10 && !done, "first part: got %d steps, done %d; want 10, not done",
	    n, done);
	reopen();
	n = upgrade_steps(7, 1000, &done);
	ck_assert_msg(done, "upgrade: not done after 1000 more steps");
	/* 25*2 items of 2 versions... at least (records / 7) steps in all */
	ck_assert_msg(n > 20, "steps after the recovery: got %d, want more than 20", n);
	check_upgraded();
}
END_TEST

/* An environment already at format 2: one step, nothing converted. */
START_TEST(test_upgrade_current)
{
	bool done;
	int n = upgrade_steps(10, 5, &done);

	ck_assert_msg(done && n == 1, "upgrade of a format-2 environment: got %d steps, "
	    "done %d; want 1, done", n, done);
}
END_TEST

START_TEST(test_upgrade_unknown_format)
{
	struct store_txn *t = NULL;
	bool done = true;
	uint64_t conv;
	enum store_rc rc;

	ck_assert_msg(store_begin(st, true, &t) == STORE_OK, "store_begin: got an error");
	put_raw(t, STORE_DB_META, "format", 6, "9", 1);
	rc = upgrade_step(t, ar, 1, 10, &done, &conv);
	store_abort(t);
	ck_assert_msg(rc == STORE_ERR && !done, "upgrade of format 9: got %d, done %d; want "
	    "STORE_ERR", (int)rc, done);
}
END_TEST

/* ---- the audit behind orchidctl verify --------------------------------- */

static struct audit_report
audit_of(void)
{
	struct audit_report r;
	struct buf out;
	enum store_rc rc;

	buf_init(&out, 0);
	rc = audit_run(st, &out, &r);
	ck_assert_msg(rc == STORE_OK && !out.b_failed, "audit_run: got %d, want STORE_OK",
	    (int)rc);
	buf_free(&out);
	return r;
}

static bool
sound(const struct audit_report *r)
{
	return r->orphans == 0 && r->old_keys == 0 && r->malformed == 0 && r->bad_counts == 0 &&
	    r->unmirrored == 0;
}

/* Sound at every point of a drop and reclaim cut short. */
START_TEST(test_audit_through_a_reclaim)
{
	struct audit_report r;

	for (int i = 0; i < 20; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%02d", i);
		must(OP_PUT, 1, "x", key, "{}");
		must(OP_PUT, 1, "y", key, "{}");
		must(OP_EVENT, 1, "x", key, "{}");
	}
	must(OP_DEL, 1, "y", "k00", NULL);
	r = audit_of();
	ck_assert_msg(sound(&r) && r.collections == 2 && r.queued == 0 && r.pending == 0,
	    "before the drop: got %llu collections, %llu orphans, %llu bad counts",
	    (unsigned long long)r.collections, (unsigned long long)r.orphans,
	    (unsigned long long)r.bad_counts);
	must(OP_DROP, 1, "x", NULL, NULL);
	(void)step(13);
	reopen();
	r = audit_of();
	ck_assert_msg(sound(&r) && r.collections == 1 && r.queued == 1 && r.pending > 0,
	    "halfway through the reclaim: got %llu orphans, %llu queued, %llu pending",
	    (unsigned long long)r.orphans, (unsigned long long)r.queued,
	    (unsigned long long)r.pending);
	while (!step(13).idle)
		;
	r = audit_of();
	ck_assert_msg(sound(&r) && r.queued == 0 && r.pending == 0,
	    "after the reclaim: got %llu orphans, %llu pending",
	    (unsigned long long)r.orphans, (unsigned long long)r.pending);
}
END_TEST

/* Each kind of damage is found. */
START_TEST(test_audit_finds_damage)
{
	unsigned char k[LAYOUT_PREFIX_LEN + 8], ck[LAYOUT_COUNT_KEY_LEN], n[8];
	struct audit_report r;
	struct store_txn *t = NULL;
	uint64_t cid;

	must(OP_PUT, 1, "x", "a", "{}");
	cid = cid_of(1, "x");
	ck_assert_msg(store_begin(st, true, &t) == STORE_OK, "store_begin: got an error");
	layout_prefix(k, 1, 999);                        /* an orphan */
	memcpy(k + LAYOUT_PREFIX_LEN, "orphan!!", 8);
	put_raw(t, STORE_DB_VERSIONS, k, sizeof(k), "v", 1);
	put_raw(t, STORE_DB_EVSEQ, "\0\0\0\1x\0a", 7, "v", 1);   /* a format-1 key */
	layout_count_key(ck, 1, cid, 0);                 /* a wrong counter */
	util_put_be64(n, 5);
	put_raw(t, STORE_DB_COUNTS, ck, sizeof(ck), n, 8);
	ck_assert_msg(store_commit(t) == STORE_OK, "store_commit: got an error");
	r = audit_of();
	ck_assert_msg(r.orphans == 1 && r.old_keys == 1 && r.bad_counts == 1,
	    "damage: got %llu orphans, %llu old keys, %llu bad counts; want 1 each",
	    (unsigned long long)r.orphans, (unsigned long long)r.old_keys,
	    (unsigned long long)r.bad_counts);
}
END_TEST

static Suite *
coll_suite(void)
{
	Suite *s = suite_create("coll");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_checked_fixture(errors, setup, teardown);
	tcase_set_timeout(core, 120);
	tcase_set_timeout(limits, 60);
	tcase_add_test(core, test_counts_follow_liveness);
	tcase_add_test(core, test_counts_many_keys);
	tcase_add_test(core, test_collections_list);
	tcase_add_test(core, test_drop_is_instant);
	tcase_add_test(core, test_reclaim_in_steps);
	tcase_add_test(core, test_reclaim_resumes);
	tcase_add_test(core, test_upgrade);
	tcase_add_test(core, test_upgrade_resumes);
	tcase_add_test(limits, test_reclaim_one_record_at_a_time);
	tcase_add_test(limits, test_reclaim_bounded_by_bytes);
	tcase_add_loop_test(limits, test_v1_split, 0, NCASES(split_cases));
	tcase_add_test(limits, test_upgrade_current);
	tcase_add_test(errors, test_missing_collection);
	tcase_add_test(errors, test_drop_twice_and_other_tenant);
	tcase_add_test(errors, test_reclaim_idle);
	tcase_add_test(errors, test_upgrade_unknown_format);
	tcase_add_test(core, test_audit_through_a_reclaim);
	tcase_add_test(errors, test_audit_finds_damage);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(coll_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
