/*
 * upgrade: format 1 to format 2 in place (upgrade.h).
 */
#include "upgrade.h"

#include <stdio.h>
#include <string.h>

#include "collections.h"
#include "config.h"
#include "layout.h"
#include "log.h"
#include "mem.h"
#include "timefmt.h"
#include "util.h"

#define UPGRADE_BATCH 1000
/* A transaction also stops after this many bytes of records (values may be
 * large: the log holds both the deleted and the written copy). */
#define UPGRADE_MAX_BYTES ((uint64_t)8 << 20)
#define UPGRADE_RETRIES 20
#define PROGRESS_KEY "upgrade"   /* meta.db: records converted so far (be64) */

/* The databases keyed by item key (I | ...), in the order they are done. */
static const enum store_db keyed[] = {
	STORE_DB_ITEMS, STORE_DB_VERSIONS, STORE_DB_REFS, STORE_DB_EVENTS,
	STORE_DB_EVSEQ, STORE_DB_RELATIONS, STORE_DB_RELREV,
};

enum store_rc
upgrade_format(struct store_txn *t, char *buf, size_t len)
{
	struct arena *a = mem_new();
	void *v;
	size_t vl;
	enum store_rc rc;

	if (a == NULL)
		return STORE_ERR;
	rc = store_get(t, STORE_DB_META, "format", 6, false, a, &v, &vl);
	if (rc == STORE_OK) {
		if (vl >= len)
			rc = STORE_ERR;
		else {
			memcpy(buf, v, vl);
			buf[vl] = '\0';
		}
	}
	mem_free(a);
	return rc;
}

/*
 * Converts one format-1 record (k, v copied out of the cursor): the new key
 * T | cid | rest, the collection created when new, and a live head counted.
 */
static enum store_rc
convert(struct dom *d, enum store_db db, const unsigned char *k, size_t kl,
    const void *v, size_t vl)
{
	struct item_version iv;
	const unsigned char *rest;
	const char *name;
	unsigned char *nk;
	size_t namelen, restlen;
	uint64_t cid;
	enum dom_rc rc;

	if (layout_v1_split(k, kl, &d->tenant, &name, &namelen, &rest, &restlen) == -1)
		return STORE_ERR;
	if ((name = mem_strndup(d->arena, name, namelen)) == NULL ||
	    (nk = mem_alloc(d->arena, LAYOUT_PREFIX_LEN + restlen)) == NULL)
		return STORE_ERR;
	if ((rc = coll_ensure(d, name, &cid)) != DOM_OK)
		return dom_to_store(rc) == STORE_OK ? STORE_ERR : dom_to_store(rc);
	layout_prefix(nk, d->tenant, cid);
	memcpy(nk + LAYOUT_PREFIX_LEN, rest, restlen);
	if (db == STORE_DB_ITEMS) {
		if (layout_item_decode(v, vl, &iv) == -1)
			return STORE_ERR;
		/* In items.db the rest is the item's key itself. */
		rc = coll_count_add(d, cid, (const char *)rest, restlen, iv.tombstone ? 0 : 1);
		if (rc != DOM_OK)
			return dom_to_store(rc) == STORE_OK ? STORE_ERR : dom_to_store(rc);
	}
	return store_put(d->txn, db, nk, LAYOUT_PREFIX_LEN + restlen, v, vl);
}

/*
 * Converts format-1 records of db until *n reaches max records or *bytes
 * UPGRADE_MAX_BYTES. Format-2 keys of a tenant (byte 4 = 0x00) sort before
 * its format-1 keys: the walk jumps over them with one seek to T | 0x01.
 */
static enum store_rc
convert_db(struct dom *d, enum store_db db, uint64_t max, uint64_t *n, uint64_t *bytes)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl, poslen = 0;
	unsigned char *pos = NULL;
	enum store_rc rc = store_cursor_open(d->txn, db, &c);

	while (rc == STORE_OK && *n < max && *bytes < UPGRADE_MAX_BYTES) {
		unsigned char *kc;
		void *vc;

		rc = poslen == 0 ? store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl)
		    : store_cursor_get(c, STORE_SEEK_GE, pos, poslen, &k, &kl, &v, &vl);
		if (rc != STORE_OK)
			break;
		if (kl < 5) {
			rc = STORE_ERR;
			break;
		}
		if (((const unsigned char *)k)[4] == 0) {
			if ((pos = mem_alloc(d->arena, 5)) == NULL) {
				rc = STORE_ERR;
				break;
			}
			memcpy(pos, k, 4);
			pos[4] = 1;
			poslen = 5;
			continue;
		}
		/* The cursor's memory changes with the next move: copy. */
		kc = mem_alloc(d->arena, kl);
		vc = mem_alloc(d->arena, vl ? vl : 1);
		if (kc == NULL || vc == NULL) {
			rc = STORE_ERR;
			break;
		}
		memcpy(kc, k, kl);
		memcpy(vc, v, vl);
		rc = store_cursor_del(c);
		if (rc == STORE_OK)
			rc = convert(d, db, kc, kl, vc, vl);
		if (rc == STORE_OK) {
			(*n)++;
			*bytes += kl + vl;
		}
		pos = kc; /* deleted: the next seek lands on the record after it */
		poslen = kl;
	}
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* Adds n to the progress record (for the log of a resumed upgrade). */
static enum store_rc
add_progress(struct store_txn *t, struct arena *a, uint64_t n, uint64_t *total)
{
	unsigned char b[8];
	void *v;
	size_t vl;
	enum store_rc rc = store_get(t, STORE_DB_META, PROGRESS_KEY, strlen(PROGRESS_KEY),
	    true, a, &v, &vl);

	*total = rc == STORE_OK && vl == 8 ? util_get_be64(v) : 0;
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	*total += n;
	util_put_be64(b, *total);
	return store_put(t, STORE_DB_META, PROGRESS_KEY, strlen(PROGRESS_KEY), b, 8);
}

enum store_rc
upgrade_step(struct store_txn *t, struct arena *a, int64_t now_ms, uint64_t max,
    bool *done, uint64_t *converted)
{
	struct dom d;
	char have[16];
	uint64_t total, bytes = 0;
	enum store_rc rc = upgrade_format(t, have, sizeof(have));

	*done = false;
	*converted = 0;
	if (rc != STORE_OK || strcmp(have, STORE_FORMAT_OLD) != 0) {
		*done = rc == STORE_OK && strcmp(have, STORE_FORMAT_VERSION) == 0;
		return rc == STORE_OK && !*done ? STORE_ERR : rc;
	}
	memset(&d, 0, sizeof(d));
	d.txn = t;
	d.arena = a;
	d.now_ms = now_ms;
	for (size_t i = 0; rc == STORE_OK && i < sizeof(keyed) / sizeof(keyed[0]); i++)
		rc = convert_db(&d, keyed[i], max, converted, &bytes);
	if (rc != STORE_OK)
		return rc;
	if (*converted > 0)
		return add_progress(t, a, *converted, &total);
	/* Nothing of format 1 is left. */
	rc = store_del(t, STORE_DB_META, PROGRESS_KEY, strlen(PROGRESS_KEY));
	if (rc == STORE_OK)
		rc = store_put(t, STORE_DB_META, "format", 6, STORE_FORMAT_VERSION,
		    strlen(STORE_FORMAT_VERSION));
	*done = rc == STORE_OK;
	return rc;
}

struct run_args {
	struct arena *a;
	bool done;
	uint64_t converted;
};

static enum store_rc
step_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct run_args *r = arg;
	enum store_rc rc;

	mem_reset(r->a);
	rc = upgrade_step(t, r->a, timefmt_now_ms(), UPGRADE_BATCH, &r->done, &r->converted);
	*commit = rc == STORE_OK;
	return rc;
}

/* Reads the format and the progress of an earlier, interrupted run. */
static enum store_rc
read_state(struct store *s, struct arena *a, char *have, size_t len, uint64_t *before)
{
	struct store_txn *t;
	void *v;
	size_t vl;
	enum store_rc rc = store_begin(s, false, &t);

	if (rc != STORE_OK)
		return rc;
	rc = upgrade_format(t, have, len);
	*before = 0;
	if (rc == STORE_OK && store_get(t, STORE_DB_META, PROGRESS_KEY, strlen(PROGRESS_KEY),
	    false, a, &v, &vl) == STORE_OK && vl == 8)
		*before = util_get_be64(v);
	store_abort(t);
	return rc;
}

int
upgrade_run(const struct config *cfg, char *err, size_t errlen)
{
	struct store *s;
	struct run_args r = { NULL, false, 0 };
	char have[16];
	uint64_t before, total = 0, logged = 0;
	enum store_rc rc;

	if (store_open(cfg, &s, err, errlen) == -1)
		return -1;
	if ((r.a = mem_new()) == NULL) {
		store_close(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = read_state(s, r.a, have, sizeof(have), &before);
	if (rc == STORE_OK && strcmp(have, STORE_FORMAT_OLD) == 0) {
		log_info("upgrade: converting %s from data format %s to %s in transactions of "
		    "%d records%s", cfg->datadir, have, STORE_FORMAT_VERSION, UPGRADE_BATCH,
		    before ? " (resuming an interrupted upgrade)" : "");
		if (before)
			log_info("upgrade: %llu records were converted before",
			    (unsigned long long)before);
		while (rc == STORE_OK && !r.done) {
			rc = store_run(s, true, UPGRADE_RETRIES, step_txn, &r);
			total += r.converted;
			if (total - logged >= 100000) {
				log_info("upgrade: %llu records converted", (unsigned long long)total);
				logged = total;
			}
		}
		if (rc == STORE_OK) {
			log_info("upgrade: done: %llu records converted in this run; data format "
			    "is now %s", (unsigned long long)total, STORE_FORMAT_VERSION);
			(void)store_checkpoint(s, true);
		}
	}
	mem_free(r.a);
	store_close(s);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "upgrading the data format of %s failed; it resumes at "
		    "the next start", cfg->datadir);
		return -1;
	}
	return 0;
}
