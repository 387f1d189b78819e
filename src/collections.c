/*
 * collections: names to collection ids, drop, and live-item counters
 * (collections.h) over the layout of layout.h.
 */
#include "collections.h"

#include <string.h>

#include "layout.h"
#include "log.h"
#include "index.h"
#include "mem.h"
#include "util.h"

#define CID_COUNTER "cid"

/* Reads the collection record of name (rmw: write-locked). */
static enum dom_rc
read_coll(struct dom *d, const unsigned char *k, size_t kl, bool rmw,
    struct coll_record *c)
{
	void *v;
	size_t vl;
	enum store_rc rc = store_get(d->txn, STORE_DB_COLLECTIONS, k, kl, rmw, d->arena,
	    &v, &vl);

	if (rc != STORE_OK)
		return dom_from_store(rc);
	if (layout_coll_decode(v, vl, c) == -1) {
		log_err("collections.db: a record of tenant %u is malformed", d->tenant);
		return DOM_ERR;
	}
	return DOM_OK;
}

enum dom_rc
coll_lookup(struct dom *d, const char *name, uint64_t *cid)
{
	struct coll_record c;
	size_t kl;
	unsigned char *k = layout_coll_key(d->arena, d->tenant, name, &kl);
	enum dom_rc rc;

	if (k == NULL)
		return DOM_ERR;
	if ((rc = read_coll(d, k, kl, false, &c)) == DOM_OK)
		*cid = c.cid;
	return rc;
}

enum dom_rc
coll_new_cid(struct dom *d, uint64_t *cid)
{
	unsigned char b[8];
	void *v;
	size_t vl;
	uint64_t next = 1;
	enum store_rc rc;

	rc = store_get(d->txn, STORE_DB_META, CID_COUNTER, strlen(CID_COUNTER), true,
	    d->arena, &v, &vl);
	if (rc == STORE_OK && vl == 8)
		next = util_get_be64(v) + 1;
	else if (rc != STORE_NOTFOUND)
		return rc == STORE_OK ? DOM_ERR : dom_from_store(rc);
	/* Format 1 and 2 keys are told apart by the cid's top byte. */
	if (next > LAYOUT_CID_MAX) {
		log_err("no collection id left");
		return DOM_ERR;
	}
	util_put_be64(b, next);
	*cid = next;
	return dom_from_store(store_put(d->txn, STORE_DB_META, CID_COUNTER,
	    strlen(CID_COUNTER), b, 8));
}

enum dom_rc
coll_ensure(struct dom *d, const char *name, uint64_t *cid)
{
	struct coll_record c;
	unsigned char rec[LAYOUT_COLL_REC_LEN];
	size_t kl;
	unsigned char *k = layout_coll_key(d->arena, d->tenant, name, &kl);
	enum dom_rc rc;

	if (k == NULL)
		return DOM_ERR;
	/* A plain read first: writers of an existing collection share the
	 * read lock; only a creation takes the write lock (and may meet
	 * another creator in a deadlock, which the runner retries). */
	rc = read_coll(d, k, kl, false, &c);
	if (rc == DOM_NOT_FOUND)
		rc = read_coll(d, k, kl, true, &c);
	if (rc != DOM_NOT_FOUND) {
		if (rc == DOM_OK)
			*cid = c.cid;
		return rc;
	}
	if ((rc = coll_new_cid(d, &c.cid)) != DOM_OK)
		return rc;
	c.created = d->now_ms;
	layout_coll_encode(rec, &c);
	*cid = c.cid;
	return dom_from_store(store_put(d->txn, STORE_DB_COLLECTIONS, k, kl, rec,
	    sizeof(rec)));
}

enum dom_rc
coll_drop(struct dom *d, const char *name, bool *existed)
{
	struct coll_record c;
	unsigned char p[LAYOUT_PREFIX_LEN];
	size_t kl;
	unsigned char *k = layout_coll_key(d->arena, d->tenant, name, &kl);
	enum dom_rc rc;

	*existed = false;
	if (k == NULL)
		return DOM_ERR;
	rc = read_coll(d, k, kl, true, &c);
	if (rc != DOM_OK)
		return rc == DOM_NOT_FOUND ? DOM_OK : rc;
	*existed = true;
	rc = dom_from_store(store_del(d->txn, STORE_DB_COLLECTIONS, k, kl));
	if (rc != DOM_OK)
		return rc;
	/* The queue entry keeps the name for the maintainer's log. */
	layout_prefix(p, d->tenant, c.cid);
	if ((rc = index_note(d, INDEX_DROP, name, p, sizeof(p))) != DOM_OK)
		return rc;
	return dom_from_store(store_put(d->txn, STORE_DB_RECLAIM, p, sizeof(p), name,
	    strlen(name)));
}

enum dom_rc
coll_count_add(struct dom *d, uint64_t cid, const char *key, size_t keylen, int delta)
{
	unsigned char k[LAYOUT_COUNT_KEY_LEN], b[8];
	void *v;
	size_t vl;
	int64_t n = 0;
	enum store_rc rc;

	if (delta == 0)
		return DOM_OK;
	layout_count_key(k, d->tenant, cid, layout_count_shard(key, keylen));
	rc = store_get(d->txn, STORE_DB_COUNTS, k, sizeof(k), true, d->arena, &v, &vl);
	if (rc == STORE_OK && vl == 8)
		n = (int64_t)util_get_be64(v);
	else if (rc != STORE_NOTFOUND)
		return rc == STORE_OK ? DOM_ERR : dom_from_store(rc);
	util_put_be64(b, (uint64_t)(n + delta));
	return dom_from_store(store_put(d->txn, STORE_DB_COUNTS, k, sizeof(k), b, 8));
}

enum dom_rc
coll_count(struct dom *d, uint64_t cid, int64_t *items)
{
	unsigned char k[LAYOUT_COUNT_KEY_LEN];

	*items = 0;
	for (unsigned s = 0; s < LAYOUT_SHARDS; s++) {
		void *v;
		size_t vl;
		enum store_rc rc;

		layout_count_key(k, d->tenant, cid, s);
		rc = store_get(d->txn, STORE_DB_COUNTS, k, sizeof(k), false, d->arena, &v, &vl);
		if (rc == STORE_NOTFOUND)
			continue;
		if (rc != STORE_OK || vl != 8)
			return rc == STORE_OK ? DOM_ERR : dom_from_store(rc);
		*items += (int64_t)util_get_be64(v);
	}
	return DOM_OK;
}

enum dom_rc
collections_list(struct dom *d, coll_visit_fn fn, void *arg)
{
	struct store_cursor *cur;
	struct coll_record c;
	unsigned char t[4];
	const void *k, *val;
	size_t kl, vl;
	int64_t items;
	enum store_rc rc;
	enum dom_rc out = DOM_OK;

	util_put_be32(t, d->tenant);
	rc = store_cursor_open(d->txn, STORE_DB_COLLECTIONS, &cur);
	if (rc != STORE_OK)
		return dom_from_store(rc);
	rc = store_cursor_get(cur, STORE_SEEK_GE, t, 4, &k, &kl, &val, &vl);
	for (; rc == STORE_OK; rc = store_cursor_get(cur, STORE_NEXT, NULL, 0, &k, &kl, &val, &vl)) {
		if (kl < 5 || memcmp(k, t, 4) != 0)
			break;
		if (layout_coll_decode(val, vl, &c) == -1) {
			out = DOM_ERR;
			break;
		}
		/* The cursor's key stays valid: the counts are other handles. */
		if ((out = coll_count(d, c.cid, &items)) != DOM_OK)
			break;
		if (items > 0) {
			enum dom_visit vis = fn(arg, (const char *)k + 4, kl - 4, items);

			if (vis == DOM_VISIT_STOP)
				break; /* the caller ends the list here */
			if (vis != DOM_VISIT_NEXT) {
				out = DOM_ERR;
				break;
			}
		}
	}
	store_cursor_close(cur);
	if (out == DOM_OK && rc != STORE_OK && rc != STORE_NOTFOUND)
		out = dom_from_store(rc);
	return out;
}

enum dom_rc
coll_next(struct dom *d, const char *after, size_t after_len, const char **name,
    size_t *len, uint64_t *cid)
{
	struct store_cursor *cur;
	struct coll_record c;
	unsigned char *seek;
	const void *k, *val;
	size_t kl, vl, sl = 4 + (after != NULL ? after_len : 0);
	enum store_rc rc;
	enum dom_rc out = DOM_NOT_FOUND;

	if ((seek = mem_alloc(d->arena, sl)) == NULL)
		return DOM_ERR;
	util_put_be32(seek, d->tenant);
	if (after != NULL)
		memcpy(seek + 4, after, after_len);
	if ((rc = store_cursor_open(d->txn, STORE_DB_COLLECTIONS, &cur)) != STORE_OK)
		return dom_from_store(rc);
	rc = store_cursor_get(cur, STORE_SEEK_GE, seek, sl, &k, &kl, &val, &vl);
	if (rc == STORE_OK && after != NULL && kl == sl && memcmp(k, seek, sl) == 0)
		rc = store_cursor_get(cur, STORE_NEXT, NULL, 0, &k, &kl, &val, &vl);
	if (rc == STORE_OK && kl > 4 && memcmp(k, seek, 4) == 0) {
		if (layout_coll_decode(val, vl, &c) == -1) {
			log_err("collections.db: a record of tenant %u is malformed", d->tenant);
			out = DOM_ERR;
		} else if ((*name = mem_strndup(d->arena, (const char *)k + 4, kl - 4)) == NULL) {
			out = DOM_ERR;
		} else {
			*len = kl - 4;
			*cid = c.cid;
			out = DOM_OK;
		}
	} else if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		out = dom_from_store(rc);
	}
	store_cursor_close(cur);
	return out;
}
