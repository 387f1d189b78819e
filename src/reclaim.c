/*
 * reclaim: bounded removal of dropped collections and of the events,
 * versions and refs of purged items (reclaim.h).
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
		r->versions = r->item && e->k[kl - 1] == 'v';
		if ((r->name = r->item ? mem_strndup(a, (const char *)e->k + LAYOUT_PREFIX_LEN,
		    kl - LAYOUT_PREFIX_LEN - 1 - r->versions) : mem_strndup(a, v, vl)) == NULL)
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
/* Records in entry e where its next step resumes: the key k (kl bytes)
 * after e's 8-byte marker. */
static enum store_rc
save_resume(struct store_txn *t, struct arena *a, const struct entry *e, const void *k,
    size_t kl)
{
	unsigned char *nv = mem_alloc(a, 8 + kl);

	if (nv == NULL)
		return STORE_ERR;
	memcpy(nv, e->v, 8);
	memcpy(nv + 8, k, kl);
	return store_put(t, STORE_DB_RECLAIM, e->k, e->kl, nv, 8 + kl);
}

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
		rc = save_resume(t, a, e, k, kl);
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

/*
 * Deletes, through c (on versions.db or refs.db), the records of the prefix
 * e->k (I | 0x00, e->kl - 1 bytes) from key from (fl bytes) whose seq (the
 * key's last 8 bytes for a version, the value for a ref) is at most floor,
 * looking at no more than max - *seen of them. refs: skips the floor's own
 * record. *stop is set, and *k (*kl) is where, when the budget ran out.
 */
static enum store_rc
floor_scan(struct store_cursor *c, const struct entry *e, const void *from, size_t fl,
    bool refs, uint64_t floor, uint64_t max, uint64_t *seen, struct reclaim_result *r,
    const void **k, size_t *kl, bool *stop)
{
	const void *v;
	size_t pl = e->kl - 1, vl;
	enum store_rc rc;

	*stop = false;
	rc = store_cursor_get(c, STORE_SEEK_GE, from, fl, k, kl, &v, &vl);
	for (; rc == STORE_OK; rc = store_cursor_get(c, STORE_NEXT, NULL, 0, k, kl, &v, &vl)) {
		if (*kl < pl || memcmp(*k, e->k, pl) != 0)
			break;
		if (*kl == pl && refs)
			continue; /* the floor itself */
		if (*seen >= max || r->bytes >= RECLAIM_MAX_BYTES) {
			*stop = true;
			break;
		}
		(*seen)++;
		if (*kl != pl + 8 || (refs && vl != 8))
			return STORE_ERR;
		if (util_get_be64(refs ? v : (const unsigned char *)*k + pl) > floor) {
			if (refs)
				continue; /* a version written after the purge */
			break; /* versions come in seq order: the rest are newer */
		}
		r->bytes += *kl + vl;
		if ((rc = store_cursor_del(c)) != STORE_OK)
			return rc;
		r->deleted++;
	}
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/*
 * The step of a purged item's versions and refs (items.c, purge_versions):
 * deletes its versions with a seq up to the entry's floor, then its refs
 * pointing at one (from where the last step stopped, noted in the entry
 * after the floor), looking at no more than max records. At the end the
 * entry goes, and so does the item's floor record when the item has not
 * been written since (no head): a new write then starts again at seq 1.
 */
static enum store_rc
versions_step(struct store_txn *t, struct arena *a, const struct entry *e, uint64_t max,
    struct reclaim_result *r)
{
	struct store_cursor *c;
	const void *k;
	size_t kl;
	void *hv;
	uint64_t floor = util_get_be64(e->v), seen = 0;
	bool stop;
	enum store_rc rc = store_cursor_open(t, STORE_DB_VERSIONS, &c);

	if (rc != STORE_OK)
		return rc;
	rc = floor_scan(c, e, e->k, e->kl - 1, false, floor, max, &seen, r, &k, &kl, &stop);
	store_cursor_close(c);
	if (rc != STORE_OK || stop)
		return rc;
	if ((rc = store_cursor_open(t, STORE_DB_REFS, &c)) != STORE_OK)
		return rc;
	rc = floor_scan(c, e, e->vl > 8 ? e->v + 8 : e->k, e->vl > 8 ? e->vl - 8 : e->kl - 1,
	    true, floor, max, &seen, r, &k, &kl, &stop);
	if (rc == STORE_OK && stop)
		rc = save_resume(t, a, e, k, kl);
	store_cursor_close(c);
	if (rc != STORE_OK || stop)
		return rc;
	rc = store_get(t, STORE_DB_ITEMS, e->k, e->kl - 2, true, a, &hv, &kl);
	if (rc == STORE_NOTFOUND)
		rc = store_del(t, STORE_DB_REFS, e->k, e->kl - 1);
	if (rc == STORE_OK)
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
	if (rc == STORE_OK && r->versions)
		return versions_step(t, a, &e, max, r);
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
reclaim_pending(struct store_txn *t, uint64_t *collections, uint64_t *items)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc = store_cursor_open(t, STORE_DB_RECLAIM, &c);

	*collections = 0;
	*items = 0;
	if (rc != STORE_OK)
		return rc;
	/* A collection's entry is its prefix alone; a purged item's entries
	 * (events, versions) are longer (reclaim.h). */
	for (rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	    rc == STORE_OK; rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl))
		(*(kl > LAYOUT_PREFIX_LEN ? items : collections))++;
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}
