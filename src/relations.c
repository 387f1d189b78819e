/*
 * relations: graph relations (relations.h) over relations.db and relrev.db
 * (layout.h). Heads of items are read through a cursor on items.db, which
 * looks at a value in place instead of copying it into the arena: a
 * traversal looks at up to max_traversal items.
 */
#include "relations.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collections.h"
#include "log.h"
#include "index.h"
#include "mem.h"
#include "timefmt.h"
#include "util.h"

#define NO_PROPS "{}"

/* ---- items ----------------------------------------------------------------- */

/*
 * The head at item key ik through cursor cur: DOM_OK when it is live, *v
 * pointing into the cursor's memory (valid until its next move);
 * DOM_NOT_FOUND when there is none or it is a tombstone.
 */
static enum dom_rc
head_at(struct store_cursor *cur, const unsigned char *ik, size_t il,
    struct item_version *v)
{
	const void *k, *val;
	size_t kl, vl;
	enum store_rc rc = store_cursor_get(cur, STORE_SEEK_GE, ik, il, &k, &kl, &val, &vl);

	if (rc != STORE_OK)
		return dom_from_store(rc);
	if (kl != il || memcmp(k, ik, il) != 0)
		return DOM_NOT_FOUND;
	if (layout_item_decode(val, vl, v) == -1) {
		log_err("items.db: a malformed head of %zu bytes", vl);
		return DOM_ERR;
	}
	return v->tombstone ? DOM_NOT_FOUND : DOM_OK;
}

/* The cid of coll when coll/key is a live item; DOM_NOT_FOUND when not. */
static enum dom_rc
endpoint(struct dom *d, const char *coll, const char *key, uint64_t *cid)
{
	struct store_cursor *cur;
	struct item_version v;
	unsigned char *ik;
	size_t il;
	enum store_rc src;
	enum dom_rc rc = coll_lookup(d, coll, cid);

	if (rc != DOM_OK)
		return rc;
	if ((ik = layout_item_key(d->arena, d->tenant, *cid, key, 0, &il)) == NULL)
		return DOM_ERR;
	if ((src = store_cursor_open(d->txn, STORE_DB_ITEMS, &cur)) != STORE_OK)
		return dom_from_store(src);
	rc = head_at(cur, ik, il, &v);
	store_cursor_close(cur);
	return rc;
}

/* ---- one relation ---------------------------------------------------------- */

/* A relation's keys in relations.db (fwd) and relrev.db (rev). */
struct rel_keys {
	unsigned char *fwd, *rev;
	size_t fwdlen, revlen;
};

static enum dom_rc
build_keys(struct dom *d, const struct rel_name *n, uint64_t src, uint64_t dst,
    struct rel_keys *k)
{
	k->fwd = layout_rel_key(d->arena, d->tenant, src, n->key, n->kind, dst, n->to_key,
	    &k->fwdlen);
	k->rev = layout_rel_key(d->arena, d->tenant, dst, n->to_key, n->kind, src, n->key,
	    &k->revlen);
	return k->fwd != NULL && k->rev != NULL ? DOM_OK : DOM_ERR;
}

/* Both endpoints live: their keys; else DOM_NOT_FOUND and *which. */
static enum dom_rc
locate(struct dom *d, const struct rel_name *n, struct rel_keys *k,
    enum rel_missing *which)
{
	uint64_t src, dst;
	enum dom_rc rc;

	*which = REL_MISSING_SOURCE;
	if ((rc = endpoint(d, n->coll, n->key, &src)) != DOM_OK)
		return rc;
	*which = REL_MISSING_DEST;
	if ((rc = endpoint(d, n->to_coll, n->to_key, &dst)) != DOM_OK)
		return rc;
	*which = REL_MISSING_NONE;
	return build_keys(d, n, src, dst, k);
}

/* Reads the relation record (rmw: write-locked); DOM_NOT_FOUND when absent. */
static enum dom_rc
read_rel(struct dom *d, const struct rel_keys *k, bool rmw, struct rel_record *r)
{
	void *p;
	size_t pl;
	enum store_rc rc = store_get(d->txn, STORE_DB_RELATIONS, k->fwd, k->fwdlen, rmw,
	    d->arena, &p, &pl);

	if (rc != STORE_OK)
		return dom_from_store(rc);
	if (layout_rel_decode(p, pl, r) == -1) {
		log_err("relations.db: a malformed record of tenant %u", d->tenant);
		return DOM_ERR;
	}
	return DOM_OK;
}

enum dom_rc
relation_put(struct dom *d, const struct rel_name *n, const char *value, size_t vlen,
    const struct dom_cond *if_match, const struct dom_cond *if_none_match,
    struct rel_record *out, bool *missing_dst)
{
	struct rel_record old;
	struct rel_keys k;
	enum rel_missing which;
	unsigned char *rec;
	size_t rl;
	bool exists;
	enum dom_rc rc = locate(d, n, &k, &which);

	*missing_dst = which == REL_MISSING_DEST;
	if (rc != DOM_OK)
		return rc;
	rc = read_rel(d, &k, true, &old);
	if (rc != DOM_OK && rc != DOM_NOT_FOUND)
		return rc;
	exists = rc == DOM_OK;
	if (if_match->present && !dom_cond_holds(if_match, exists ? old.ref : NULL))
		return DOM_MISMATCH;
	if (if_none_match->present && exists && dom_cond_holds(if_none_match, old.ref))
		return DOM_PRESENT;
	if (value == NULL || vlen == 0) {
		value = NO_PROPS;
		vlen = strlen(NO_PROPS);
	}
	memset(out, 0, sizeof(*out));
	/* An import keeps the reftime it brings. */
	out->reftime = d->reftime != 0 ? d->reftime : timefmt_now_ms();
	ids_ref(value, vlen, out->ref, out->refbin);
	out->dst_coll = n->to_coll;
	out->dst_coll_len = strlen(n->to_coll);
	out->value = value;
	out->vlen = vlen;
	if ((rec = layout_rel_encode(d->arena, out, &rl)) == NULL)
		return DOM_ERR;
	rc = dom_from_store(store_put(d->txn, STORE_DB_RELATIONS, k.fwd, k.fwdlen, rec, rl));
	if (rc == DOM_OK)
		rc = index_note(d, INDEX_RELATION, n->coll, k.fwd, k.fwdlen);
	if (rc != DOM_OK)
		return rc;
	return dom_from_store(store_put(d->txn, STORE_DB_RELREV, k.rev, k.revlen, "", 0));
}

enum dom_rc
relation_get(struct dom *d, const struct rel_name *n, struct rel_record *out,
    enum rel_missing *missing)
{
	struct rel_keys k;
	enum dom_rc rc = locate(d, n, &k, missing);

	if (rc != DOM_OK)
		return rc;
	rc = read_rel(d, &k, false, out);
	if (rc == DOM_NOT_FOUND)
		*missing = REL_MISSING_RELATION;
	return rc;
}

enum dom_rc
relation_delete(struct dom *d, const struct rel_name *n, const struct dom_cond *if_match)
{
	struct rel_record old;
	struct rel_keys k;
	uint64_t src, dst;
	enum dom_rc rc = endpoint(d, n->coll, n->key, &src);

	if (rc != DOM_OK)
		return rc;
	/* The destination need not be live: a relation to a deleted item can
	 * still be deleted. Without its collection there is no relation (a
	 * dropped collection's relations go with its reclaim). */
	rc = coll_lookup(d, n->to_coll, &dst);
	if (rc == DOM_OK && (rc = build_keys(d, n, src, dst, &k)) == DOM_OK)
		rc = read_rel(d, &k, true, &old);
	if (rc == DOM_NOT_FOUND)
		return if_match->present ? DOM_MISMATCH : DOM_OK;
	if (rc != DOM_OK)
		return rc;
	if (if_match->present && !dom_cond_holds(if_match, old.ref))
		return DOM_MISMATCH;
	rc = dom_from_store(store_del(d->txn, STORE_DB_RELATIONS, k.fwd, k.fwdlen));
	if (rc == DOM_OK)
		rc = index_note(d, INDEX_RELATION, n->coll, k.fwd, k.fwdlen);
	if (rc != DOM_OK)
		return rc;
	return dom_from_store(store_del(d->txn, STORE_DB_RELREV, k.rev, k.revlen));
}

/* ---- removal with mirrors -------------------------------------------------- */

/* Deletes the mirror of relation key k (kl bytes) through cursor m on the
 * other database, counting it in *n and *bytes when it was there. */
static enum store_rc
del_mirror(struct store_cursor *m, struct arena *a, const void *k, size_t kl,
    uint64_t *n, uint64_t *bytes)
{
	const void *mk, *mv;
	size_t ml, mkl, mvl;
	unsigned char *mirror = layout_rel_mirror(a, k, kl, &ml);
	enum store_rc rc;

	if (mirror == NULL)
		return STORE_ERR;
	rc = store_cursor_get(m, STORE_SEEK_GE, mirror, ml, &mk, &mkl, &mv, &mvl);
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && (mkl != ml ||
	    memcmp(mk, mirror, ml) != 0)))
		return STORE_OK; /* no mirror (orchidctl verify reports such) */
	if (rc == STORE_OK)
		rc = store_cursor_del(m);
	if (rc == STORE_OK) {
		(*n)++;
		*bytes += mkl + mvl;
	}
	return rc;
}

enum store_rc
relation_delete_prefix_max(struct store_txn *t, struct arena *a, enum store_db db,
    const void *prefix, size_t plen, uint64_t max, uint64_t max_bytes, uint64_t *n,
    uint64_t *bytes)
{
	enum store_db other = db == STORE_DB_RELATIONS ? STORE_DB_RELREV : STORE_DB_RELATIONS;
	struct store_cursor *c, *m;
	struct rel_key rk;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc;

	if (*n >= max || *bytes >= max_bytes)
		return STORE_OK;
	if ((rc = store_cursor_open(t, db, &c)) != STORE_OK)
		return rc;
	if ((rc = store_cursor_open(t, other, &m)) != STORE_OK) {
		store_cursor_close(c);
		return rc;
	}
	rc = store_cursor_get(c, STORE_SEEK_GE, prefix, plen, &k, &kl, &v, &vl);
	while (rc == STORE_OK && kl >= plen && memcmp(k, prefix, plen) == 0) {
		*bytes += kl + vl;
		(*n)++;
		/* A key that is not a relation's has no mirror to find; it
		 * goes all the same (verify counts such keys as malformed). */
		if (layout_rel_split(k, kl, &rk) == 0)
			rc = del_mirror(m, a, k, kl, n, bytes);
		if (rc == STORE_OK)
			rc = store_cursor_del(c);
		if (rc != STORE_OK || *n >= max || *bytes >= max_bytes)
			break;
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	}
	store_cursor_close(m);
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

enum dom_rc
relation_purge_item(struct dom *d, const unsigned char *ik, size_t il)
{
	unsigned char *p = mem_alloc(d->arena, il + 1);
	uint64_t n = 0, bytes = 0;
	enum store_rc rc;

	if (p == NULL)
		return DOM_ERR;
	memcpy(p, ik, il);
	p[il] = 0;
	/* Out of the item (their mirrors are under the destinations), then
	 * into it (their records are under the sources). */
	rc = relation_delete_prefix_max(d->txn, d->arena, STORE_DB_RELATIONS, p, il + 1,
	    UINT64_MAX, UINT64_MAX, &n, &bytes);
	if (rc == STORE_OK)
		rc = relation_delete_prefix_max(d->txn, d->arena, STORE_DB_RELREV, p, il + 1,
		    UINT64_MAX, UINT64_MAX, &n, &bytes);
	return dom_from_store(rc);
}

/* ---- traversal ------------------------------------------------------------- */

/* Collection names met in relation records, with the cid each has now. */
#define NAME_CACHE 8

struct name_ent {
	const char *name;      /* NUL-terminated, in the arena */
	size_t len;
	uint64_t cid;          /* 0: no such collection */
};

/* An item reached. */
struct node {
	uint64_t cid;
	const char *key;       /* not NUL-terminated unless kept (keep_node) */
	size_t keylen;
	const char *coll;      /* its collection's name, in the arena */
	size_t colllen;
};

struct nodes {
	struct node *v;
	size_t n, cap;
};

struct trav {
	struct dom *d;
	struct store_cursor *rels;   /* relations.db */
	struct store_cursor *items;  /* items.db */
	struct name_ent names[NAME_CACHE];
	size_t nnames, evict;
	unsigned char *ik;           /* the item key looked at */
	size_t ikcap;
	int64_t followed, max;
	const char **why;
};

/* A message in the arena (for *why); a fixed one when out of memory. */
__attribute__((format(printf, 2, 3)))
static const char *
say(struct arena *a, const char *fmt, ...)
{
	char buf[512];
	const char *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    (s = mem_strndup(a, buf, (size_t)n)) == NULL)
		return "The traversal is past a limit of the server.";
	return s;
}

/* The cache entry of a collection name (len bytes), looked up when new. */
static enum dom_rc
name_cid(struct trav *t, const char *name, size_t len, const struct name_ent **out)
{
	struct name_ent *e;
	char *copy;
	uint64_t cid = 0;
	enum dom_rc rc;

	for (size_t i = 0; i < t->nnames; i++) {
		if (t->names[i].len == len && memcmp(t->names[i].name, name, len) == 0) {
			*out = &t->names[i];
			return DOM_OK;
		}
	}
	if ((copy = mem_strndup(t->d->arena, name, len)) == NULL)
		return DOM_ERR;
	rc = coll_lookup(t->d, copy, &cid);
	if (rc != DOM_OK && rc != DOM_NOT_FOUND)
		return rc;
	e = &t->names[t->nnames < NAME_CACHE ? t->nnames++ : t->evict++ % NAME_CACHE];
	e->name = copy;
	e->len = len;
	e->cid = rc == DOM_OK ? cid : 0;
	*out = e;
	return DOM_OK;
}

/* The live head of item (cid, key) through the items cursor (see head_at). */
static enum dom_rc
live_head(struct trav *t, uint64_t cid, const char *key, size_t keylen,
    struct item_version *v)
{
	size_t il = LAYOUT_PREFIX_LEN + keylen;

	if (il > t->ikcap) {
		size_t cap = il > 2 * t->ikcap ? il : 2 * t->ikcap;

		if ((t->ik = mem_alloc(t->d->arena, cap)) == NULL)
			return DOM_ERR;
		t->ikcap = cap;
	}
	layout_prefix(t->ik, t->d->tenant, cid);
	memcpy(t->ik + LAYOUT_PREFIX_LEN, key, keylen);
	return head_at(t->items, t->ik, il, v);
}

/* Takes one item reached; the node's key lives until the next step. */
typedef enum dom_visit (*reach_fn)(struct trav *t, void *arg, const struct node *n,
    const struct item_version *v);

/* Counts one relation followed; DOM_INVALID past max_traversal. */
static enum dom_rc
follow(struct trav *t)
{
	if (++t->followed <= t->max)
		return DOM_OK;
	*t->why = say(t->d->arena, "The traversal would follow more than max_traversal "
	    "(%lld) relations: ask for fewer hops or a smaller offset (the after= of a "
	    "next link and the before= of a prev link page one hop without skipping).",
	    (long long)t->max);
	return DOM_INVALID;
}

/* Judges one relation found under a hop's prefix: its destination goes to
 * fn when it is a live item of the collection the record names. */
static enum dom_rc
reach(struct trav *t, const void *k, size_t kl, const void *v, size_t vl, reach_fn fn,
    void *arg, bool *stop)
{
	const struct name_ent *ne;
	struct rel_record rec;
	struct item_version iv;
	struct rel_key rk;
	struct node nd;
	enum dom_rc rc;

	if ((rc = follow(t)) != DOM_OK)
		return rc;
	if (layout_rel_split(k, kl, &rk) == -1 || layout_rel_decode(v, vl, &rec) == -1) {
		log_err("relations.db: a malformed relation of tenant %u", t->d->tenant);
		return DOM_ERR;
	}
	if ((rc = name_cid(t, rec.dst_coll, rec.dst_coll_len, &ne)) != DOM_OK)
		return rc;
	if (ne->cid != rk.other_cid)
		return DOM_OK; /* the collection was dropped (reclaim pending) */
	rc = live_head(t, rk.other_cid, rk.other_key, rk.other_keylen, &iv);
	if (rc != DOM_OK)
		return rc == DOM_NOT_FOUND ? DOM_OK : rc;
	nd.cid = rk.other_cid;
	nd.key = rk.other_key;
	nd.keylen = rk.other_keylen;
	nd.coll = ne->name;
	nd.colllen = ne->len;
	switch (fn(t, arg, &nd, &iv)) {
	case DOM_VISIT_NEXT:
		return DOM_OK;
	case DOM_VISIT_STOP:
		*stop = true;
		return DOM_OK;
	default:
		return DOM_ERR;
	}
}

/* The keys a hop walks by: the prefix of the relations of one kind out of
 * one item, and the key of a position under it (the prefix when none). */
struct walk_keys {
	unsigned char *p, *seek;
	size_t pl, sl;
};

static enum dom_rc
walk_keys(struct trav *t, uint64_t cid, const char *key, const char *kind,
    const struct rel_pos *pos, struct walk_keys *wk)
{
	struct arena *a = t->d->arena;

	wk->p = layout_rel_key(a, t->d->tenant, cid, key, kind, 0, NULL, &wk->pl);
	wk->seek = wk->p;
	wk->sl = wk->pl;
	if (wk->p != NULL && pos != NULL)
		wk->seek = layout_rel_key(a, t->d->tenant, cid, key, kind, pos->cid,
		    pos->key, &wk->sl);
	return wk->p != NULL && wk->seek != NULL ? DOM_OK : DOM_ERR;
}

/*
 * Walks the relations of kind out of item (cid, key), handing each live
 * destination to fn: forwards, from the first or from right after the
 * position from when it is given; or backwards (back) from right before
 * from, which back requires. from itself is never handed over.
 */
static enum dom_rc
hop(struct trav *t, uint64_t cid, const char *key, const char *kind,
    const struct rel_pos *from, bool back, reach_fn fn, void *arg)
{
	struct walk_keys wk;
	const void *k, *v;
	size_t kl, vl;
	bool stop = false;
	enum store_seek step = back ? STORE_PREV : STORE_NEXT;
	enum store_rc rc;
	enum dom_rc out;

	if ((out = walk_keys(t, cid, key, kind, from, &wk)) != DOM_OK)
		return out;
	rc = store_cursor_get(t->rels, back ? STORE_SEEK_LE : STORE_SEEK_GE, wk.seek,
	    wk.sl, &k, &kl, &v, &vl);
	for (; rc == STORE_OK;
	    rc = store_cursor_get(t->rels, step, NULL, 0, &k, &kl, &v, &vl)) {
		if (kl < wk.pl || memcmp(k, wk.p, wk.pl) != 0)
			break;
		if (from != NULL && kl == wk.sl && memcmp(k, wk.seek, wk.sl) == 0)
			continue; /* from is exclusive */
		/* A stop ends the walk here: no further move of the cursor. */
		if ((out = reach(t, k, kl, v, vl, fn, arg, &stop)) != DOM_OK || stop)
			break;
	}
	if (out == DOM_OK && rc != STORE_OK && rc != STORE_NOTFOUND)
		out = dom_from_store(rc);
	return out;
}

/* *any: some relation of kind out of item (cid, key) lies at or after pos;
 * one step of the cursor, the item it leads to not looked at. */
static enum dom_rc
any_from(struct trav *t, uint64_t cid, const char *key, const char *kind,
    const struct rel_pos *pos, bool *any)
{
	struct walk_keys wk;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc;
	enum dom_rc out;

	*any = false;
	if ((out = walk_keys(t, cid, key, kind, pos, &wk)) != DOM_OK)
		return out;
	rc = store_cursor_get(t->rels, STORE_SEEK_GE, wk.seek, wk.sl, &k, &kl, &v, &vl);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return dom_from_store(rc);
	*any = rc == STORE_OK && kl >= wk.pl && memcmp(k, wk.p, wk.pl) == 0;
	return DOM_OK;
}

/* Notes an item visited: the page's last so far, and its first if it is. */
static void
mark(struct rel_span *s, uint64_t cid, const char *key, size_t keylen)
{
	s->last.cid = cid;
	s->last.key = key;
	s->last.keylen = keylen;
	if (s->first.key == NULL)
		s->first = s->last;
}

/* One hop: the page, straight from the walk. */
struct one {
	const struct rel_page *pg;
	rel_visit_fn fn;
	void *arg;
	int64_t skipped, count;
	struct rel_span *span;
};

static enum dom_visit
take_one(struct trav *t, void *arg, const struct node *n, const struct item_version *v)
{
	struct one *o = arg;
	const char *key;
	enum dom_visit vis;

	if (o->pg->after == NULL && o->skipped < o->pg->offset) {
		o->skipped++;
		return DOM_VISIT_NEXT;
	}
	if (o->count == o->pg->limit) {
		o->span->more = true;
		return DOM_VISIT_STOP;
	}
	vis = o->fn(o->arg, n->coll, n->colllen, n->key, n->keylen, v);
	if (vis == DOM_VISIT_STOP)
		o->span->more = true;
	if (vis != DOM_VISIT_NEXT)
		return vis;
	o->count++;
	/* The key is in the cursor's memory until its next move. */
	if ((key = mem_strndup(t->d->arena, n->key, n->keylen)) == NULL)
		return DOM_VISIT_FAIL;
	mark(o->span, n->cid, key, n->keylen);
	return DOM_VISIT_NEXT;
}

/* Several hops: each hop's items, kept (keys copied) for the next. */
static enum dom_visit
keep_node(struct trav *t, void *arg, const struct node *n, const struct item_version *v)
{
	struct nodes *ns = arg;
	struct node *e;

	(void)v;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 64;
		struct node *nv = mem_alloc(t->d->arena, cap * sizeof(*nv));

		if (nv == NULL)
			return DOM_VISIT_FAIL;
		if (ns->n > 0)
			memcpy(nv, ns->v, ns->n * sizeof(*nv));
		ns->v = nv;
		ns->cap = cap;
	}
	e = &ns->v[ns->n];
	*e = *n;
	if ((e->key = mem_strndup(t->d->arena, n->key, n->keylen)) == NULL)
		return DOM_VISIT_FAIL;
	ns->n++;
	return DOM_VISIT_NEXT;
}

/* One hop backwards: the page's items, last first, kept (keys copied). */
struct back {
	int64_t limit;
	struct nodes got;
	bool earlier;
};

static enum dom_visit
take_back(struct trav *t, void *arg, const struct node *n, const struct item_version *v)
{
	struct back *b = arg;

	/* One live item more tells that the page has a prev. */
	if ((int64_t)b->got.n == b->limit) {
		b->earlier = true;
		return DOM_VISIT_STOP;
	}
	return keep_node(t, &b->got, n, v);
}

static void
reverse(struct nodes *ns)
{
	for (size_t i = 0; i < ns->n / 2; i++) {
		struct node x = ns->v[i];

		ns->v[i] = ns->v[ns->n - 1 - i];
		ns->v[ns->n - 1 - i] = x;
	}
}

static int
node_cmp(const void *a, const void *b)
{
	const struct node *x = a, *y = b;
	size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
	int c;

	if (x->cid != y->cid)
		return x->cid < y->cid ? -1 : 1;
	if ((c = memcmp(x->key, y->key, n)) != 0)
		return c;
	return x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

/* Sorts the items in (cid, key) order and drops repeats. */
static void
distinct(struct nodes *ns)
{
	size_t j = 0;

	if (ns->n == 0)
		return;
	qsort(ns->v, ns->n, sizeof(*ns->v), node_cmp);
	for (size_t i = 1; i < ns->n; i++)
		if (node_cmp(&ns->v[j], &ns->v[i]) != 0)
			ns->v[++j] = ns->v[i];
	ns->n = j + 1;
}

/* Follows every kind from the start; *out: the distinct items of the last hop. */
static enum dom_rc
hops(struct trav *t, struct node *start, const char *const *kinds, size_t nkinds,
    struct nodes *out)
{
	struct nodes cur = { start, 1, 1 };
	enum dom_rc rc = DOM_OK;

	for (size_t h = 0; h < nkinds && cur.n > 0; h++) {
		struct nodes next = { NULL, 0, 0 };

		for (size_t i = 0; rc == DOM_OK && i < cur.n; i++)
			rc = hop(t, cur.v[i].cid, cur.v[i].key, kinds[h], NULL, false,
			    keep_node, &next);
		if (rc != DOM_OK)
			return rc;
		distinct(&next);
		cur = next;
	}
	*out = cur;
	return DOM_OK;
}

/* Visits the page of items ns from offset, up to limit of them. */
static enum dom_rc
page_of(struct trav *t, const struct nodes *ns, int64_t offset, int64_t limit,
    rel_visit_fn fn, void *arg, struct rel_span *span)
{
	int64_t count = 0;

	if (offset >= (int64_t)ns->n)
		return DOM_OK;
	for (size_t i = (size_t)offset; i < ns->n; i++) {
		const struct node *n = &ns->v[i];
		struct item_version v;
		enum dom_rc rc;

		if (count == limit) {
			span->more = true;
			break;
		}
		/* Live when reached; a read-committed reader may see it go since. */
		rc = live_head(t, n->cid, n->key, n->keylen, &v);
		if (rc == DOM_NOT_FOUND)
			continue;
		if (rc != DOM_OK)
			return rc;
		switch (fn(arg, n->coll, n->colllen, n->key, n->keylen, &v)) {
		case DOM_VISIT_NEXT:
			break;
		case DOM_VISIT_STOP:
			span->more = true;
			return DOM_OK;
		default:
			return DOM_ERR;
		}
		count++;
		mark(span, n->cid, n->key, n->keylen);
	}
	return DOM_OK;
}

/*
 * One hop backwards from pg->before: the limit live items right before
 * it, found walking back (judged and counted as the walk forwards does)
 * and visited in order. Then, unless the visitor stopped, one step of the
 * cursor tells whether the page has a next: any relation at or after
 * before. Its item is not judged: that could take a walk past any number
 * of deleted items, while the next page, reached with after, judges its
 * own (it is empty when every item from before on went since the token
 * was handed out).
 */
static enum dom_rc
back_page(struct trav *t, const struct node *start, const char *kind,
    const struct rel_page *pg, rel_visit_fn fn, void *arg, struct rel_span *span)
{
	struct back b = { pg->limit, { NULL, 0, 0 }, false };
	enum dom_rc rc = hop(t, start->cid, start->key, kind, pg->before, true, take_back,
	    &b);

	if (rc != DOM_OK)
		return rc;
	span->earlier = b.earlier;
	reverse(&b.got);
	if ((rc = page_of(t, &b.got, 0, pg->limit, fn, arg, span)) != DOM_OK || span->more)
		return rc;
	return any_from(t, start->cid, start->key, kind, pg->before, &span->more);
}

/* The start item as a node; DOM_NOT_FOUND when it is not live. */
static enum dom_rc
start_node(struct trav *t, const char *coll, const char *key, struct node *n)
{
	struct item_version v;
	enum dom_rc rc = coll_lookup(t->d, coll, &n->cid);

	if (rc != DOM_OK)
		return rc;
	n->key = key;
	n->keylen = strlen(key);
	n->coll = coll;
	n->colllen = strlen(coll);
	return live_head(t, n->cid, n->key, n->keylen, &v);
}

/* The limits a traversal is judged by before it starts. */
static enum dom_rc
check_request(struct dom *d, size_t nkinds, const struct rel_page *pg, const char **why)
{
	if (nkinds == 0) {
		*why = "A traversal names at least one relation kind: "
		    "/v0/{collection}/{key}/relations/{kind}[/{kind}...].";
		return DOM_INVALID;
	}
	if (nkinds > (size_t)pg->max_hops) {
		*why = say(d->arena, "A traversal may follow at most max_hops (%d) relation "
		    "kinds; this one names %zu.", pg->max_hops, nkinds);
		return DOM_INVALID;
	}
	if (pg->after != NULL && pg->before != NULL) {
		*why = "after= and before= do not go together: after= pages forwards "
		    "(next links), before= backwards (prev links).";
		return DOM_INVALID;
	}
	if ((pg->after != NULL || pg->before != NULL) && nkinds > 1) {
		*why = "after= and before= page a one-hop traversal only; page several "
		    "hops with offset.";
		return DOM_INVALID;
	}
	return DOM_OK;
}

enum dom_rc
relation_traverse(struct dom *d, const char *coll, const char *key,
    const char *const *kinds, size_t nkinds, const struct rel_page *page,
    rel_visit_fn fn, void *arg, struct rel_span *span, const char **why)
{
	struct trav t;
	struct node start;
	struct nodes found;
	enum store_rc src;
	enum dom_rc rc;

	memset(span, 0, sizeof(*span));
	*why = NULL;
	if ((rc = check_request(d, nkinds, page, why)) != DOM_OK)
		return rc;
	memset(&t, 0, sizeof(t));
	t.d = d;
	t.max = page->max_traversal;
	t.why = why;
	if ((src = store_cursor_open(d->txn, STORE_DB_RELATIONS, &t.rels)) != STORE_OK)
		return dom_from_store(src);
	if ((src = store_cursor_open(d->txn, STORE_DB_ITEMS, &t.items)) != STORE_OK) {
		store_cursor_close(t.rels);
		return dom_from_store(src);
	}
	rc = start_node(&t, coll, key, &start);
	if (rc == DOM_OK && nkinds == 1 && page->before != NULL) {
		rc = back_page(&t, &start, kinds[0], page, fn, arg, span);
	} else if (rc == DOM_OK && nkinds == 1) {
		/* Relations of one item and kind are stored in (cid, key) order of
		 * their destinations, once each: the page comes straight from the
		 * walk, from a seek when after is given. */
		struct one o = { page, fn, arg, 0, 0, span };

		rc = hop(&t, start.cid, start.key, kinds[0], page->after, false, take_one,
		    &o);
	} else if (rc == DOM_OK) {
		rc = hops(&t, &start, kinds, nkinds, &found);
		if (rc == DOM_OK)
			rc = page_of(&t, &found, page->offset, page->limit, fn, arg, span);
	}
	store_cursor_close(t.items);
	store_cursor_close(t.rels);
	return rc;
}

/* ---- the after and before token -------------------------------------------- */

char *
relation_pos_encode(struct arena *a, const struct rel_pos *p)
{
	size_t n = 8 + p->keylen;
	unsigned char *b = mem_alloc(a, n);
	char *out = mem_alloc(a, 2 * n + 1);

	if (b == NULL || out == NULL)
		return NULL;
	util_put_be64(b, p->cid);
	memcpy(b + 8, p->key, p->keylen);
	util_hex(b, n, out);
	return out;
}

int
relation_pos_decode(struct arena *a, const char *s, size_t len, struct rel_pos *p,
    bool *nomem)
{
	unsigned char *b;
	size_t n = len / 2;

	*nomem = false;
	/* The cid and at least one byte of key. */
	if (len % 2 != 0 || n < 9 || !util_is_hex(s, len))
		return -1;
	if ((b = mem_alloc(a, n + 1)) == NULL) {
		*nomem = true;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(util_hexval(s[2 * i]) << 4 | util_hexval(s[2 * i + 1]));
	b[n] = 0;
	p->cid = util_get_be64(b);
	p->key = (const char *)b + 8;
	p->keylen = n - 8;
	if (p->cid == 0 || p->cid > LAYOUT_CID_MAX || memchr(p->key, 0, p->keylen) != NULL)
		return -1;
	return 0;
}
