/*
 * reclaim: bounded removal of dropped collections (reclaim.h).
 */
#include "reclaim.h"

#include <string.h>

#include "layout.h"
#include "mem.h"
#include "relations.h"

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

/* Reads the first queue entry into r and p; STORE_NOTFOUND when empty. */
static enum store_rc
first_entry(struct store_txn *t, struct arena *a, unsigned char *p,
    struct reclaim_result *r)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc = store_cursor_open(t, STORE_DB_RECLAIM, &c);

	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	if (rc == STORE_OK && kl != LAYOUT_PREFIX_LEN)
		rc = STORE_ERR;
	if (rc == STORE_OK) {
		memcpy(p, k, LAYOUT_PREFIX_LEN);
		layout_prefix_get(p, &r->tenant, &r->cid);
		if ((r->name = mem_strndup(a, v, vl)) == NULL)
			rc = STORE_ERR;
	}
	store_cursor_close(c);
	return rc;
}

enum store_rc
reclaim_step(struct store_txn *t, struct arena *a, uint64_t max, struct reclaim_result *r)
{
	unsigned char p[LAYOUT_PREFIX_LEN], ck[LAYOUT_COUNT_KEY_LEN];
	enum store_rc rc;

	memset(r, 0, sizeof(*r));
	rc = first_entry(t, a, p, r);
	if (rc == STORE_NOTFOUND) {
		r->idle = true;
		return STORE_OK;
	}
	for (size_t i = 0; rc == STORE_OK && i < sizeof(prefixed) / sizeof(prefixed[0]); i++) {
		if (prefixed[i] == STORE_DB_RELATIONS || prefixed[i] == STORE_DB_RELREV)
			rc = relation_delete_prefix_max(t, a, prefixed[i], p, sizeof(p), max,
			    RECLAIM_MAX_BYTES, &r->deleted, &r->bytes);
		else
			rc = store_delete_prefix_max(t, prefixed[i], p, sizeof(p), max,
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
		rc = store_del(t, STORE_DB_RECLAIM, p, sizeof(p));
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
