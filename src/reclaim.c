/*
 * reclaim: bounded removal of dropped collections and of the events of
 * purged items (reclaim.h).
 */
#include "reclaim.h"

#include <string.h>

#include "layout.h"
#include "mem.h"
#include "relations.h"
#include "util.h"

/*
 * Every database whose keys start with T | cid. relations.db (by source)
 * and relrev.db (by destination) follow the rule too, and each of their
 * records has a mirror in the other under the other item's cid: a record
 * goes with its mirror (relation_delete_prefix_max), so that relations of
 * other collections pointing into the dropped one go as well, and so do
 * the reverse entries of relations out of it. Until then a traversal skips
 * them: their collection name no longer maps to their cid.
 */
/* Large values make large transactions (the log holds what is deleted): a
 * step also stops after this many bytes of keys and values. */
#define RECLAIM_MAX_BYTES ((uint64_t)8 << 20)

static const enum store_db prefixed[] = {
	STORE_DB_ITEMS, STORE_DB_VERSIONS, STORE_DB_REFS, STORE_DB_EVENTS,
	STORE_DB_EVSEQ, STORE_DB_RELATIONS, STORE_DB_RELREV,
};

/* An entry's key and value, copied into the arena. */
struct entry {
	unsigned char *k;
	size_t kl;
	unsigned char *v;
	size_t vl;
};

/* Reads the first queue entry into e and r; STORE_NOTFOUND when empty. */
static enum store_rc
first_entry(struct store_txn *t, struct arena *a, struct entry *e, struct reclaim_result *r)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc = store_cursor_open(t, STORE_DB_RECLAIM, &c);

	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	/* A collection's key is its prefix; a purged item's is longer. */
	if (rc == STORE_OK && (kl < LAYOUT_PREFIX_LEN || (kl > LAYOUT_PREFIX_LEN && vl < 8)))
		rc = STORE_ERR;
	if (rc == STORE_OK) {
		e->kl = kl;
		e->vl = vl;
		if ((e->k = mem_alloc(a, kl + 1)) == NULL || (e->v = mem_alloc(a, vl + 1)) == NULL)
			rc = STORE_ERR;
	}
	if (rc == STORE_OK) {
		memcpy(e->k, k, kl);
		memcpy(e->v, v, vl);
		layout_prefix_get(e->k, &r->tenant, &r->cid);
		r->item = kl > LAYOUT_PREFIX_LEN;
		/* A collection's value is its name; an item's, the last
		 * ordinal of its purged events (and where a step stopped). */
		if ((r->name = r->item ? mem_strndup(a, (const char *)e->k + LAYOUT_PREFIX_LEN,
		    kl - LAYOUT_PREFIX_LEN - 1) : mem_strndup(a, v, vl)) == NULL)
			rc = STORE_ERR;
	}
	store_cursor_close(c);
	return rc;
}

/*
 * The step of a purged item's events (items.c, purge_events): deletes those
 * with an ordinal up to the one in the entry, from where the last step
 * stopped, skipping the later ones (the key reused), and stops after max
 * records looked at or RECLAIM_MAX_BYTES deleted, noting where in the entry.
 * At the end the entry goes, and the item's last ordinal too when no event
 * was written since the purge.
 */
static enum store_rc
item_step(struct store_txn *t, struct arena *a, const struct entry *e, uint64_t max,
    struct reclaim_result *r)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	void *sv;
	uint64_t floor = util_get_be64(e->v), seen = 0;
	bool resume = e->vl > 8, stopped = false;
	enum store_rc rc = store_cursor_open(t, STORE_DB_EVENTS, &c);

	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_GE, resume ? e->v + 8 : e->k,
	    resume ? e->vl - 8 : e->kl, &k, &kl, &v, &vl);
	for (; rc == STORE_OK; rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl)) {
		if (kl < e->kl + 16 || memcmp(k, e->k, e->kl) != 0)
			break;
		if (seen >= max || r->bytes >= RECLAIM_MAX_BYTES) {
			stopped = true; /* the budget is spent: more next time, from k */
			break;
		}
		seen++;
		if (util_get_be64((const unsigned char *)k + kl - 8) > floor)
			continue; /* written after the purge */
		r->bytes += kl + vl;
		if ((rc = store_cursor_del(c)) != STORE_OK)
			break;
		r->deleted++;
	}
	if (rc == STORE_OK && stopped) {
		unsigned char *nv = mem_alloc(a, 8 + kl);

		if (nv == NULL) {
			rc = STORE_ERR;
		} else {
			memcpy(nv, e->v, 8);
			memcpy(nv + 8, k, kl);
			rc = store_put(t, STORE_DB_RECLAIM, e->k, e->kl, nv, 8 + kl);
		}
		store_cursor_close(c);
		return rc;
	}
	store_cursor_close(c);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	rc = store_get(t, STORE_DB_EVSEQ, e->k, e->kl - 1, true, a, &sv, &vl);
	if (rc == STORE_OK && vl == 8 && util_get_be64(sv) <= floor)
		rc = store_del(t, STORE_DB_EVSEQ, e->k, e->kl - 1);
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_del(t, STORE_DB_RECLAIM, e->k, e->kl);
	r->finished = rc == STORE_OK;
	return rc;
}

enum store_rc
reclaim_step(struct store_txn *t, struct arena *a, uint64_t max, struct reclaim_result *r)
{
	unsigned char ck[LAYOUT_COUNT_KEY_LEN];
	struct entry e;
	const unsigned char *p;
	enum store_rc rc;

	memset(r, 0, sizeof(*r));
	rc = first_entry(t, a, &e, r);
	if (rc == STORE_NOTFOUND) {
		r->idle = true;
		return STORE_OK;
	}
	if (rc == STORE_OK && r->item)
		return item_step(t, a, &e, max, r);
	p = e.k;
	for (size_t i = 0; rc == STORE_OK && i < sizeof(prefixed) / sizeof(prefixed[0]); i++) {
		if (prefixed[i] == STORE_DB_RELATIONS || prefixed[i] == STORE_DB_RELREV)
			rc = relation_delete_prefix_max(t, a, prefixed[i], p, LAYOUT_PREFIX_LEN, max,
			    RECLAIM_MAX_BYTES, &r->deleted, &r->bytes);
		else
			rc = store_delete_prefix_max(t, prefixed[i], p, LAYOUT_PREFIX_LEN, max,
			    RECLAIM_MAX_BYTES, &r->deleted, &r->bytes);
		if (rc == STORE_OK && (r->deleted >= max || r->bytes >= RECLAIM_MAX_BYTES))
			return STORE_OK; /* the budget is spent: more next time */
	}
	/* Nothing of the collection is left but its counters (a hash
	 * database: point deletes) and the queue entry. */
	for (unsigned s = 0; rc == STORE_OK && s < LAYOUT_SHARDS; s++) {
		layout_count_key(ck, r->tenant, r->cid, s);
		rc = store_del(t, STORE_DB_COUNTS, ck, sizeof(ck));
	}
	if (rc == STORE_OK)
		rc = store_del(t, STORE_DB_RECLAIM, p, LAYOUT_PREFIX_LEN);
	r->finished = rc == STORE_OK;
	return rc;
}

struct step_args {
	struct arena *a;
	uint64_t max;
	struct reclaim_result *r;
};

static enum store_rc
step_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct step_args *s = arg;
	enum store_rc rc;

	mem_reset(s->a);
	rc = reclaim_step(t, s->a, s->max, s->r);
	*commit = rc == STORE_OK && !s->r->idle;
	return rc;
}

enum store_rc
reclaim_run(struct store *s, struct arena *a, uint64_t max, int steps, int retries,
    struct reclaim_result *last)
{
	struct step_args sa = { a, max, last };
	enum store_rc rc = STORE_OK;

	memset(last, 0, sizeof(*last));
	for (int i = 0; rc == STORE_OK && i < steps; i++) {
		rc = store_run(s, true, retries, step_txn, &sa);
		if (rc == STORE_OK && last->idle)
			break;
	}
	return rc;
}

enum store_rc
reclaim_pending(struct store_txn *t, uint64_t *n)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc = store_cursor_open(t, STORE_DB_RECLAIM, &c);

	*n = 0;
	if (rc != STORE_OK)
		return rc;
	for (rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	    rc == STORE_OK; rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl))
		(*n)++;
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}
