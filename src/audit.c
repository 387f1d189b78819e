/*
 * audit: orphans, counters and leftovers of a format-2 environment
 * (audit.h). Loads every named and queued collection (T, cid) in key order,
 * then walks each database once, looking each record's prefix up; a
 * relation's other end is looked up too, and its mirror in the other
 * relation database.
 */
#include "audit.h"

#include <stdlib.h>
#include <string.h>

#include "collections.h"
#include "layout.h"
#include "mem.h"
#include "util.h"

#define SHOW_MAX 5   /* problems shown per kind; the rest are counted */

struct coll {
	uint32_t tenant;
	uint64_t cid;
	char *name;        /* NULL for a queued collection */
	int64_t live;      /* live items found in items.db */
};

struct colls {
	struct coll *v;
	size_t n, cap;
};

static int
coll_cmp(const void *a, const void *b)
{
	const struct coll *x = a, *y = b;

	if (x->tenant != y->tenant)
		return x->tenant < y->tenant ? -1 : 1;
	return x->cid < y->cid ? -1 : x->cid > y->cid;
}

static struct coll *
coll_find(const struct colls *c, uint32_t tenant, uint64_t cid)
{
	struct coll key = { tenant, cid, NULL, 0 };

	return c->n ? bsearch(&key, c->v, c->n, sizeof(*c->v), coll_cmp) : NULL;
}

static int
coll_add(struct colls *c, struct arena *a, uint32_t tenant, uint64_t cid,
    const void *name, size_t len)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct coll *v = realloc(c->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].tenant = tenant;
	c->v[c->n].cid = cid;
	c->v[c->n].live = 0;
	c->v[c->n].name = NULL;
	if (name != NULL && (c->v[c->n].name = mem_strndup(a, name, len)) == NULL)
		return -1;
	c->n++;
	return 0;
}

/* Loads collections.db (named) and reclaim.db (queued), sorted. */
static enum store_rc
load(struct store_txn *t, struct arena *a, struct colls *named, struct colls *queued,
    struct buf *out, struct audit_report *r)
{
	struct store_cursor *c;
	struct coll_record cr;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc;

	for (int pass = 0; pass < 2; pass++) {
		enum store_db db = pass == 0 ? STORE_DB_COLLECTIONS : STORE_DB_RECLAIM;

		if ((rc = store_cursor_open(t, db, &c)) != STORE_OK)
			return rc;
		for (rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
		    rc == STORE_OK; rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl)) {
			uint32_t tenant;
			uint64_t cid;

			if (pass == 0 && (kl < 5 || layout_coll_decode(v, vl, &cr) == -1)) {
				r->malformed++;
				continue;
			}
			if (pass == 1 && kl < LAYOUT_PREFIX_LEN) {
				r->malformed++;
				continue;
			}
			if (pass == 1 && kl > LAYOUT_PREFIX_LEN)
				continue; /* a purged item's events (reclaim.h) */
			if (pass == 0) {
				tenant = util_get_be32(k);
				cid = cr.cid;
			} else {
				layout_prefix_get(k, &tenant, &cid);
			}
			if (coll_add(pass == 0 ? named : queued, a, tenant, cid,
			    pass == 0 ? (const char *)k + 4 : NULL, kl - 4) == -1) {
				rc = STORE_ERR;
				break;
			}
		}
		store_cursor_close(c);
		if (rc != STORE_NOTFOUND)
			return rc;
	}
	/* qsort's pointer may not be NULL, even for no elements. */
	if (named->n > 0)
		qsort(named->v, named->n, sizeof(*named->v), coll_cmp);
	if (queued->n > 0)
		qsort(queued->v, queued->n, sizeof(*queued->v), coll_cmp);
	for (size_t i = 1; i < named->n; i++) {
		if (coll_cmp(&named->v[i - 1], &named->v[i]) == 0) {
			buf_printf(out, "collections.db: \"%s\" and \"%s\" of tenant %u share cid "
			    "%llu\n", named->v[i - 1].name, named->v[i].name, named->v[i].tenant,
			    (unsigned long long)named->v[i].cid);
			r->malformed++;
		}
	}
	r->collections = named->n;
	r->queued = queued->n;
	return STORE_OK;
}

/* Judges one record of db; counts live heads of named collections. True
 * when the record belongs to a named or queued collection. */
static bool
judge(enum store_db db, const unsigned char *k, size_t kl, const void *v, size_t vl,
    const struct colls *named, const struct colls *queued, struct buf *out,
    struct audit_report *r)
{
	static const char *names[STORE_DB_COUNT] = {
		[STORE_DB_ITEMS] = "items.db", [STORE_DB_VERSIONS] = "versions.db",
		[STORE_DB_REFS] = "refs.db", [STORE_DB_EVENTS] = "events.db",
		[STORE_DB_EVSEQ] = "evseq.db", [STORE_DB_RELATIONS] = "relations.db",
		[STORE_DB_RELREV] = "relrev.db", [STORE_DB_COUNTS] = "counts.db",
	};
	struct item_version iv;
	struct coll *c;
	uint32_t tenant;
	uint64_t cid;

	r->records++;
	if (kl > 4 && k[4] != 0) {
		if (r->old_keys++ < SHOW_MAX)
			buf_printf(out, "%s: a key of data format 1 (tenant %u)\n", names[db],
			    util_get_be32(k));
		return false;
	}
	if (kl < LAYOUT_PREFIX_LEN + (db == STORE_DB_COUNTS)) {
		if (r->malformed++ < SHOW_MAX)
			buf_printf(out, "%s: a key of %zu bytes\n", names[db], kl);
		return false;
	}
	layout_prefix_get(k, &tenant, &cid);
	if ((c = coll_find(named, tenant, cid)) != NULL) {
		if (db == STORE_DB_ITEMS) {
			if (layout_item_decode(v, vl, &iv) == -1)
				r->malformed++;
			else if (!iv.tombstone)
				c->live++;
		}
		return true;
	}
	if (coll_find(queued, tenant, cid) != NULL) {
		r->pending++;
		return true;
	}
	if (r->orphans++ < SHOW_MAX)
		buf_printf(out, "%s: an orphan record of tenant %u, cid %llu (no collection "
		    "has that id and none waits for reclaim)\n", names[db], tenant,
		    (unsigned long long)cid);
	return false;
}

/*
 * Judges a relation's parts beyond its prefix: the key and record decode,
 * the other end's cid belongs to a collection (and, when named, has the
 * name the record gives it), and the mirror is in the other database (read
 * through cursor m; its key is built in scratch).
 */
static enum store_rc
judge_relation(enum store_db db, const unsigned char *k, size_t kl, const void *v,
    size_t vl, struct store_cursor *m, struct arena *scratch, const struct colls *named,
    const struct colls *queued, struct buf *out, struct audit_report *r)
{
	const char *dbname = db == STORE_DB_RELATIONS ? "relations.db" : "relrev.db";
	const char *other = db == STORE_DB_RELATIONS ? "relrev.db" : "relations.db";
	const struct coll *c;
	struct rel_record rec;
	struct rel_key rk;
	const void *mk;
	unsigned char *mirror;
	size_t ml, mkl;
	enum store_rc rc;

	if (layout_rel_split(k, kl, &rk) == -1 || (db == STORE_DB_RELATIONS ?
	    layout_rel_decode(v, vl, &rec) == -1 : vl != 0)) {
		if (r->malformed++ < SHOW_MAX)
			buf_printf(out, "%s: a malformed relation of tenant %u\n", dbname,
			    util_get_be32(k));
		return STORE_OK;
	}
	c = coll_find(named, rk.tenant, rk.other_cid);
	if (c == NULL && coll_find(queued, rk.tenant, rk.other_cid) == NULL &&
	    r->orphans++ < SHOW_MAX)
		buf_printf(out, "%s: a relation of tenant %u to or from cid %llu (no "
		    "collection has that id and none waits for reclaim)\n", dbname, rk.tenant,
		    (unsigned long long)rk.other_cid);
	if (db == STORE_DB_RELATIONS && c != NULL && (strlen(c->name) != rec.dst_coll_len ||
	    memcmp(c->name, rec.dst_coll, rec.dst_coll_len) != 0) && r->malformed++ < SHOW_MAX)
		buf_printf(out, "relations.db: a relation of tenant %u names collection "
		    "\"%.*s\" for cid %llu, which is \"%s\"\n", rk.tenant, (int)rec.dst_coll_len,
		    rec.dst_coll, (unsigned long long)rk.other_cid, c->name);
	mem_reset(scratch);
	if ((mirror = layout_rel_mirror(scratch, k, kl, &ml)) == NULL)
		return STORE_ERR;
	rc = store_cursor_get(m, STORE_SEEK_GE, mirror, ml, &mk, &mkl, NULL, NULL);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	if ((rc == STORE_NOTFOUND || mkl != ml || memcmp(mk, mirror, ml) != 0) &&
	    r->unmirrored++ < SHOW_MAX)
		buf_printf(out, "%s: a relation of tenant %u (kind \"%.*s\", cids %llu and "
		    "%llu) has no mirror in %s\n", dbname, rk.tenant, (int)rk.kindlen, rk.kind,
		    (unsigned long long)rk.cid, (unsigned long long)rk.other_cid, other);
	return STORE_OK;
}

static enum store_rc
walk(struct store_txn *t, enum store_db db, const struct colls *named,
    const struct colls *queued, struct buf *out, struct audit_report *r)
{
	struct store_cursor *c, *m = NULL;
	struct arena *scratch = NULL;
	const void *k, *v;
	size_t kl, vl;
	bool rel = db == STORE_DB_RELATIONS || db == STORE_DB_RELREV;
	enum store_rc rc = store_cursor_open(t, db, &c);

	if (rc != STORE_OK)
		return rc;
	if (rel && (scratch = mem_new()) == NULL)
		rc = STORE_ERR;
	if (rc == STORE_OK && rel)
		rc = store_cursor_open(t, db == STORE_DB_RELATIONS ? STORE_DB_RELREV :
		    STORE_DB_RELATIONS, &m);
	if (rc == STORE_OK)
		rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	for (; rc == STORE_OK;
	    rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl)) {
		if (judge(db, k, kl, v, vl, named, queued, out, r) && rel &&
		    (rc = judge_relation(db, k, kl, v, vl, m, scratch, named, queued, out, r))
		    != STORE_OK)
			break;
	}
	if (m != NULL)
		store_cursor_close(m);
	store_cursor_close(c);
	mem_free(scratch);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* Compares each named collection's counters with the live items found. */
static enum store_rc
compare_counts(struct store_txn *t, struct arena *a, const struct colls *named,
    struct buf *out, struct audit_report *r)
{
	struct dom d;

	memset(&d, 0, sizeof(d));
	d.txn = t;
	d.arena = a;
	for (size_t i = 0; i < named->n; i++) {
		const struct coll *c = &named->v[i];
		int64_t counted;
		enum dom_rc rc;

		d.tenant = c->tenant;
		if ((rc = coll_count(&d, c->cid, &counted)) != DOM_OK)
			return dom_to_store(rc) == STORE_OK ? STORE_ERR : dom_to_store(rc);
		if (counted != c->live && r->bad_counts++ < SHOW_MAX)
			buf_printf(out, "counts.db: collection \"%s\" of tenant %u counts %lld live "
			    "items; items.db holds %lld\n", c->name, c->tenant, (long long)counted,
			    (long long)c->live);
	}
	return STORE_OK;
}

static const enum store_db keyed[] = {
	STORE_DB_ITEMS, STORE_DB_VERSIONS, STORE_DB_REFS, STORE_DB_EVENTS, STORE_DB_EVSEQ,
	STORE_DB_RELATIONS, STORE_DB_RELREV, STORE_DB_COUNTS,
};

enum store_rc
audit_run(struct store *s, struct buf *out, struct audit_report *r)
{
	struct colls named = { NULL, 0, 0 }, queued = { NULL, 0, 0 };
	struct arena *a = mem_new();
	struct store_txn *t = NULL;
	enum store_rc rc = a == NULL ? STORE_ERR : store_begin(s, false, &t);

	memset(r, 0, sizeof(*r));
	if (rc == STORE_OK)
		rc = load(t, a, &named, &queued, out, r);
	for (size_t i = 0; rc == STORE_OK && i < sizeof(keyed) / sizeof(keyed[0]); i++)
		rc = walk(t, keyed[i], &named, &queued, out, r);
	if (rc == STORE_OK)
		rc = compare_counts(t, a, &named, out, r);
	if (rc == STORE_OK)
		buf_printf(out, "collections: %llu named, %llu waiting for reclaim; %llu records "
		    "(%llu of dropped collections), %llu orphans, %llu of format 1, "
		    "%llu malformed, %llu wrong counts, %llu relations without their mirror\n",
		    (unsigned long long)r->collections,
		    (unsigned long long)r->queued, (unsigned long long)r->records,
		    (unsigned long long)r->pending, (unsigned long long)r->orphans,
		    (unsigned long long)r->old_keys, (unsigned long long)r->malformed,
		    (unsigned long long)r->bad_counts, (unsigned long long)r->unmirrored);
	store_abort(t);
	free(named.v);
	free(queued.v);
	mem_free(a);
	return rc;
}
