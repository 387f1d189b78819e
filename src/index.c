/*
 * index: the outbox every write fills (index_note), the state of each
 * tenant's index, and the search entry point with its consistency wait
 * (index.h). The indexer (indexer.c) empties the outbox into the indexes.
 *
 * Outbox (docs/storage.md "Search index"): the subdatabase "s<slot>" of
 * outbox.db holds T(be32) | seq(be64) -> op(1) | collection name length
 * (be16) | collection name | record key. seq = epoch << 40 | n: each
 * process takes a new epoch for its slot when it starts writing (stored in
 * the slot's own outbox under EPOCH_KEY), and n counts its writes, so seq
 * grows in commit order within a slot: a slot has one process at a time
 * (workers by number, other writers by a lock file), which commits its
 * transactions one after the other.
 */
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "timefmt.h"
#include "util.h"

#define OUTBOX_KEY_LEN 12
#define EPOCH_SHIFT 40
static const unsigned char EPOCH_KEY[] = { 0xff, 0xff, 0xff, 0xff, 'e', 'p', 'o', 'c', 'h' };
static const char IXINIT_KEY[] = "ixinit";
/* The registry (INDEX_REGISTRY_SLOT) as a bitmap in memory. */
#define SLOTS_BYTES ((STORE_OUTBOX_SLOTS + 7) / 8)
#define REGISTRY_DB ((enum store_db)(STORE_DB_OUTBOX + INDEX_REGISTRY_SLOT))
static enum store_rc forget_ixinit(struct store_txn *t, void *arg, bool *commit);

/* This process's outbox slot. */
static struct {
	bool ready;
	bool off;          /* search = 0: nothing is noted */
	int slot;
	uint64_t next;     /* the next seq */
	int lock_fd;       /* a control slot's lock */
	int wake_fd;       /* to the indexer, or -1 */
	int urgent_fd;     /* to the indexer: a search waits; or -1 */
	uint64_t store;    /* store_serial of the store it was taken in */
} me = { false, false, -1, 0, -1, -1, -1, 0 };

void
index_set_wake_fd(int fd)
{
	me.wake_fd = fd;
}

void
index_set_urgent_fd(int fd)
{
	me.urgent_fd = fd;
}

void
index_dir(const char *datadir, uint32_t tenant, uint64_t gen, char *buf, size_t size)
{
	snprintf(buf, size, "%s/index/%u/%llu", datadir, (unsigned)tenant,
	    (unsigned long long)gen);
}

/* Takes the next epoch of slot in its own transaction. */
struct epoch_arg {
	int slot;
	uint64_t epoch;
	struct arena *a;
};

static enum store_rc
take_epoch(struct store_txn *t, void *arg, bool *commit)
{
	struct epoch_arg *e = arg;
	enum store_db db = (enum store_db)(STORE_DB_OUTBOX + e->slot);
	unsigned char b[8];
	void *v;
	size_t vl;
	enum store_rc rc = store_get(t, db, EPOCH_KEY, sizeof(EPOCH_KEY), true, e->a, &v, &vl);

	if (rc == STORE_NOTFOUND)
		e->epoch = 1;
	else if (rc != STORE_OK)
		return rc;
	else if (vl != 8)
		return STORE_ERR;
	else
		e->epoch = util_get_be64(v) + 1;
	if (e->epoch >= (UINT64_C(1) << (64 - EPOCH_SHIFT)))
		return STORE_ERR;
	util_put_be64(b, e->epoch);
	rc = store_put(t, db, EPOCH_KEY, sizeof(EPOCH_KEY), b, 8);
	if (rc != STORE_OK)
		return rc;
	{
		unsigned char k[2] = { (unsigned char)(e->slot >> 8), (unsigned char)e->slot };

		rc = store_put(t, REGISTRY_DB, k, 2, "", 0);
	}
	*commit = rc == STORE_OK;
	return rc;
}

static enum store_rc
forget_ixinit(struct store_txn *t, void *arg, bool *commit)
{
	*commit = true;
	return store_del(t, STORE_DB_META, arg, strlen(arg));
}

/* Takes the first free control slot: its lock file stays locked (and
 * open) for the life of the process. */
static int
claim_ctl_slot(const struct config *cfg, char *err, size_t errlen)
{
	char path[CONFIG_PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/index", cfg->datadir);
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < INDEX_CTL_SLOTS; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/index/ctl-%d.lock", cfg->datadir, i);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			me.lock_fd = fd;
			return INDEX_CTL_FIRST + i;
		}
		(void)close(fd);
	}
	snprintf(err, errlen, "all %d control slots of the search outbox are taken "
	    "(that many orchidctl processes write at once)", INDEX_CTL_SLOTS);
	return -1;
}

int
index_init(struct store *s, int slot, char *err, size_t errlen)
{
	struct epoch_arg e;
	enum store_rc rc;

	if (me.ready && me.store == store_serial(s))
		return 0;
	/* A new store (a process that closed one and opened another: tests,
	 * orchidctl) takes its slot and epoch again. */
	me.ready = false;
	me.off = false;
	if (me.lock_fd != -1) {
		(void)close(me.lock_fd);
		me.lock_fd = -1;
	}
	me.store = store_serial(s);
	if (!store_config(s)->search) {
		/* Search is off: nothing is noted, and the next start with it on
		 * rebuilds every index (the indexer's first start does). */
		size_t kl;
		const char *k = index_ixinit_key(&kl);

		/* A replica cannot write: its master's processes did it. */
		if (store_run(s, true, 20, forget_ixinit, (void *)k) != STORE_OK &&
		    !store_not_master()) {
			snprintf(err, errlen, "cannot mark the search indexes out of date");
			return -1;
		}
		me.off = true;
		me.ready = true;
		return 0;
	}
	if (slot == INDEX_SLOT_CTL && (slot = claim_ctl_slot(store_config(s), err,
	    errlen)) == -1)
		return -1;
	if (slot < 0 || slot >= STORE_OUTBOX_SLOTS) {
		snprintf(err, errlen, "outbox slot %d out of range", slot);
		return -1;
	}
	if (store_outbox_open(s, slot, true) != STORE_OK ||
	    store_outbox_open(s, INDEX_REGISTRY_SLOT, true) != STORE_OK) {
		snprintf(err, errlen, "cannot open the search outbox of slot %d", slot);
		return -1;
	}
	e.slot = slot;
	e.a = mem_new();
	if (e.a == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = store_run(s, true, 20, take_epoch, &e);
	mem_free(e.a);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "cannot take an epoch for outbox slot %d", slot);
		return -1;
	}
	me.slot = slot;
	me.next = e.epoch << EPOCH_SHIFT;
	me.ready = true;
	return 0;
}

enum dom_rc
index_note(struct dom *d, enum index_op op, const char *coll, const unsigned char *key,
    size_t klen)
{
	unsigned char k[OUTBOX_KEY_LEN], *v;
	size_t cl = coll != NULL ? strlen(coll) : 0, vl = 3 + cl + klen;

	if (!me.ready || me.store != store_serial(store_txn_store(d->txn))) {
		char err[256];

		if (index_init(store_txn_store(d->txn), INDEX_SLOT_CTL, err, sizeof(err)) == -1) {
			log_err("search outbox: %s", err);
			return DOM_ERR;
		}
	}
	if (me.off)
		return DOM_OK;
	if (cl > 0xffff || (v = mem_alloc(d->arena, vl)) == NULL)
		return DOM_ERR;
	util_put_be32(k, d->tenant);
	util_put_be64(k + 4, me.next++);
	v[0] = (unsigned char)op;
	v[1] = (unsigned char)(cl >> 8);
	v[2] = (unsigned char)cl;
	if (cl > 0)
		memcpy(v + 3, coll, cl);
	memcpy(v + 3 + cl, key, klen);
	if (me.wake_fd != -1)
		(void)!write(me.wake_fd, "w", 1);
	return dom_from_store(store_put(d->txn, (enum store_db)(STORE_DB_OUTBOX + me.slot),
	    k, sizeof(k), v, vl));
}

/* ---- the state of a tenant's index ---- */

static void
ix_key(unsigned char k[6], uint32_t tenant)
{
	k[0] = 'i';
	k[1] = 'x';
	util_put_be32(k + 2, tenant);
}

enum dom_rc
index_info_get(struct store_txn *t, uint32_t tenant, struct index_info *out)
{
	unsigned char k[6];
	struct arena *a = mem_new();
	void *v;
	size_t vl;
	enum store_rc rc;

	if (a == NULL)
		return DOM_ERR;
	memset(out, 0, sizeof(*out));
	ix_key(k, tenant);
	rc = store_get(t, STORE_DB_META, k, sizeof(k), false, a, &v, &vl);
	if (rc == STORE_OK && vl == 18) {
		const unsigned char *p = v;

		out->gen = util_get_be64(p);
		out->state = p[8] <= IX_REQUESTED ? (enum index_state)p[8] : IX_REQUESTED;
		out->created = p[9] != 0;
		out->done = util_get_be64(p + 10);
	} else if (rc == STORE_NOTFOUND) {
		rc = store_get(t, STORE_DB_META, IXINIT_KEY, sizeof(IXINIT_KEY) - 1, false,
		    a, &v, &vl);
		if (rc == STORE_NOTFOUND) {
			out->state = IX_REQUESTED;
			rc = STORE_OK;
		}
	} else if (rc == STORE_OK) {
		rc = STORE_ERR;
		log_err("meta.db: a malformed index state record for tenant %u",
		    (unsigned)tenant);
	}
	mem_free(a);
	return dom_from_store(rc);
}

enum dom_rc
index_info_put(struct store_txn *t, uint32_t tenant, const struct index_info *in)
{
	unsigned char k[6], v[18];

	ix_key(k, tenant);
	util_put_be64(v, in->gen);
	v[8] = (unsigned char)in->state;
	v[9] = in->created ? 1 : 0;
	util_put_be64(v + 10, in->done);
	return dom_from_store(store_put(t, STORE_DB_META, k, sizeof(k), v, sizeof(v)));
}

enum dom_rc
index_request_rebuild(struct store_txn *t, uint32_t tenant)
{
	struct index_info info;
	enum dom_rc rc = index_info_get(t, tenant, &info);

	if (rc != DOM_OK)
		return rc;
	if (info.state != IX_READY)
		return DOM_OK; /* a build is already coming */
	info.state = IX_REQUESTED;
	return index_info_put(t, tenant, &info);
}

/* ---- search ---- */

/* The readers this worker keeps open, least recently used first out. */
struct open_ix {
	uint32_t tenant;
	uint64_t gen;
	struct search_reader *r;
	uint64_t used;
};

static struct {
	struct open_ix *ix;
	int n, max;
	uint64_t clock;
	int slots[STORE_OUTBOX_SLOTS];
	int nslots;
	int64_t slots_at;   /* ms of the last rescan */
	uint64_t store;     /* store_serial the slots were opened in */
} rd;

static struct search_reader *
reader_get(const struct config *cfg, uint32_t tenant, uint64_t gen, enum search_rc *src,
    char *err, size_t errlen)
{
	char dir[CONFIG_PATH_MAX + 64];
	struct open_ix *slot = NULL;

	*src = SEARCH_OK;
	for (int i = 0; i < rd.n; i++) {
		if (rd.ix[i].tenant == tenant) {
			if (rd.ix[i].gen == gen) {
				rd.ix[i].used = ++rd.clock;
				return rd.ix[i].r;
			}
			/* A new generation: the old one is gone or going. */
			search_reader_close(rd.ix[i].r);
			slot = &rd.ix[i];
			break;
		}
	}
	if (slot == NULL) {
		if (rd.ix == NULL) {
			rd.max = cfg->search_open_indexes;
			rd.ix = calloc((size_t)rd.max, sizeof(*rd.ix));
			if (rd.ix == NULL) {
				*src = SEARCH_ERR;
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
		}
		if (rd.n < rd.max) {
			slot = &rd.ix[rd.n++];
		} else {
			slot = &rd.ix[0];
			for (int i = 1; i < rd.n; i++) {
				if (rd.ix[i].used < slot->used)
					slot = &rd.ix[i];
			}
			search_reader_close(slot->r);
		}
	}
	memset(slot, 0, sizeof(*slot));
	index_dir(cfg->datadir, tenant, gen, dir, sizeof(dir));
	*src = search_reader_open(dir, &slot->r, err, errlen);
	if (*src != SEARCH_OK) {
		/* Leave the entry empty (tenant 0 never matches a real one's
		 * generation with a NULL reader: drop it). */
		*slot = rd.ix[--rd.n];
		return NULL;
	}
	slot->tenant = tenant;
	slot->gen = gen;
	slot->used = ++rd.clock;
	return slot->r;
}

static void
reader_drop(uint32_t tenant)
{
	for (int i = 0; i < rd.n; i++) {
		if (rd.ix[i].tenant == tenant) {
			search_reader_close(rd.ix[i].r);
			rd.ix[i] = rd.ix[--rd.n];
			return;
		}
	}
}

/* What a search waits for: for each outbox slot holding entries of the
 * tenant when the search began, the last of them. */
struct probe {
	uint32_t tenant;
	struct index_info info;
	unsigned char map[SLOTS_BYTES];   /* the slots ever used */
	int n;
	int slot[STORE_OUTBOX_SLOTS];
	uint64_t seq[STORE_OUTBOX_SLOTS];
	bool pending;
};

static enum store_rc
probe_targets(struct store_txn *t, void *arg, bool *commit)
{
	struct probe *p = arg;
	unsigned char k[OUTBOX_KEY_LEN];
	enum dom_rc drc;

	(void)commit;
	p->n = 0;
	if ((drc = index_info_get(t, p->tenant, &p->info)) != DOM_OK)
		return dom_to_store(drc);
	{
		struct store_cursor *c;
		const void *ck, *cv;
		size_t ckl, cvl;
		enum store_rc rc = store_cursor_open(t, REGISTRY_DB, &c);

		if (rc != STORE_OK)
			return rc;
		memset(p->map, 0, sizeof(p->map));
		rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &ck, &ckl, &cv, &cvl);
		while (rc == STORE_OK) {
			if (ckl == 2) {
				const unsigned char *b = ck;
				int slot = b[0] << 8 | b[1];

				if (slot < STORE_OUTBOX_SLOTS)
					p->map[slot / 8] |= (unsigned char)(1u << (slot % 8));
			}
			rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
		}
		store_cursor_close(c);
		if (rc != STORE_NOTFOUND)
			return rc;
	}
	util_put_be32(k, p->tenant);
	memset(k + 4, 0xff, 8);
	for (int i = 0; i < rd.nslots; i++) {
		struct store_cursor *c;
		const void *ck, *cv;
		size_t ckl, cvl;
		enum store_rc rc;

		if (rd.slots[i] == INDEX_REGISTRY_SLOT)
			continue;
		rc = store_cursor_open(t, (enum store_db)(STORE_DB_OUTBOX + rd.slots[i]), &c);
		if (rc != STORE_OK)
			return rc;
		rc = store_cursor_get(c, STORE_SEEK_LE, k, sizeof(k), &ck, &ckl, &cv, &cvl);
		if (rc == STORE_OK && ckl == OUTBOX_KEY_LEN && memcmp(ck, k, 4) == 0) {
			p->slot[p->n] = rd.slots[i];
			p->seq[p->n++] = util_get_be64((const unsigned char *)ck + 4);
		} else if (rc != STORE_OK && rc != STORE_NOTFOUND) {
			store_cursor_close(c);
			return rc;
		}
		store_cursor_close(c);
	}
	return STORE_OK;
}

/* Whether any of the targets is still in the outbox. */
static enum store_rc
probe_pending(struct store_txn *t, void *arg, bool *commit)
{
	struct probe *p = arg;
	unsigned char k[OUTBOX_KEY_LEN];

	(void)commit;
	p->pending = false;
	util_put_be32(k, p->tenant);
	memset(k + 4, 0, 8);
	for (int i = 0; i < p->n && !p->pending; i++) {
		struct store_cursor *c;
		const void *ck, *cv;
		size_t ckl, cvl;
		enum store_rc rc = store_cursor_open(t,
		    (enum store_db)(STORE_DB_OUTBOX + p->slot[i]), &c);

		if (rc != STORE_OK)
			return rc;
		rc = store_cursor_get(c, STORE_SEEK_GE, k, sizeof(k), &ck, &ckl, &cv, &cvl);
		if (rc == STORE_OK && ckl == OUTBOX_KEY_LEN && memcmp(ck, k, 4) == 0 &&
		    util_get_be64((const unsigned char *)ck + 4) <= p->seq[i])
			p->pending = true;
		else if (rc != STORE_OK && rc != STORE_NOTFOUND) {
			store_cursor_close(c);
			return rc;
		}
		store_cursor_close(c);
	}
	return STORE_OK;
}

/* Whether every slot of the registry is among the open ones. */
static bool
slots_known(const unsigned char *map)
{
	unsigned char mine[SLOTS_BYTES];

	memset(mine, 0, sizeof(mine));
	for (int i = 0; i < rd.nslots; i++)
		mine[rd.slots[i] / 8] |= (unsigned char)(1u << (rd.slots[i] % 8));
	for (int i = 0; i < SLOTS_BYTES; i++) {
		if ((map[i] & ~mine[i]) != 0)
			return false;
	}
	return true;
}

/* Whether the reader's revision holds every target: each slot's mark (the
 * last seq its commits applied) at or past the target's seq. */
static bool
marks_cover(struct search_reader *r, const struct probe *p, struct arena *a)
{
	for (int i = 0; i < p->n; i++) {
		char k[32], *v, err[128];
		size_t vl;
		uint64_t mark;

		snprintf(k, sizeof(k), "slot:%d", p->slot[i]);
		if (search_reader_get_meta(r, k, a, &v, &vl, err, sizeof(err)) != SEARCH_OK ||
		    vl == 0 || util_parse_uint64(v, vl, &mark) == -1 || mark < p->seq[i])
			return false;
	}
	return true;
}

static enum store_rc
request_rebuild_txn(struct store_txn *t, void *arg, bool *commit)
{
	enum dom_rc rc = index_request_rebuild(t, *(uint32_t *)arg);

	*commit = rc == DOM_OK;
	return dom_to_store(rc);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

enum dom_rc
index_search(struct store *s, const struct config *cfg, uint32_t tenant,
    const struct search_query *q, struct arena *a, struct search_result *out,
    int *retry_after, char *err, size_t errlen)
{
	int64_t start = timefmt_now_ms(), deadline = start + cfg->search_wait;
	struct probe *p = mem_alloc(a, sizeof(*p));
	struct search_reader *r;
	enum search_rc src;
	enum store_rc rc;
	int pause = 1;

	memset(out, 0, sizeof(*out));
	*retry_after = 1;
	if (p == NULL)
		return DOM_ERR;
	if (rd.store != store_serial(s)) {
		/* Another store than the last search's: its outboxes (and maybe
		 * its indexes) are not the ones listed. */
		while (rd.n > 0)
			search_reader_close(rd.ix[--rd.n].r);
		rd.slots_at = 0;
		rd.store = store_serial(s);
	}
	if (rd.slots_at == 0 || start - rd.slots_at >= 1000) {
		int n = store_outbox_slots(s, rd.slots, STORE_OUTBOX_SLOTS);

		if (n < 0)
			return DOM_ERR;
		rd.nslots = n;
		rd.slots_at = start;
	}
	p->tenant = tenant;
	if ((rc = store_run(s, false, cfg->deadlock_retries, probe_targets, p)) != STORE_OK)
		return dom_from_store(rc == STORE_NOTFOUND ? STORE_ERR : rc);
	if (!slots_known(p->map)) {
		/* An outbox this process has not opened yet (a new process):
		 * open it and probe again, or its entries would be missed. */
		int n = store_outbox_slots(s, rd.slots, STORE_OUTBOX_SLOTS);

		if (n < 0)
			return DOM_ERR;
		rd.nslots = n;
		rd.slots_at = timefmt_now_ms();
		if ((rc = store_run(s, false, cfg->deadlock_retries, probe_targets, p)) !=
		    STORE_OK)
			return dom_from_store(rc == STORE_NOTFOUND ? STORE_ERR : rc);
		if (!slots_known(p->map)) {
			log_err("search: an outbox in the slot registry cannot be opened");
			return DOM_ERR;
		}
	}
	if (p->info.state != IX_READY) {
		*retry_after = 5;
		snprintf(err, errlen, "The search index of this account is being built; "
		    "retry later.");
		return DOM_UNAVAILABLE;
	}
	for (;;) {
		bool covered = p->n == 0;

		/* The index covers an entry once its commit is in: the slot's
		 * mark in the revision the reader is at, or (after the sync)
		 * the entry gone from the outbox. */
		r = reader_get(cfg, tenant, p->info.gen, &src, err, errlen);
		if (r != NULL)
			src = search_reader_refresh(r, err, errlen);
		if (!covered && r != NULL && src == SEARCH_OK)
			covered = marks_cover(r, p, a);
		if (!covered) {
			if ((rc = store_run(s, false, cfg->deadlock_retries, probe_pending, p)) !=
			    STORE_OK)
				return dom_from_store(rc == STORE_NOTFOUND ? STORE_ERR : rc);
			covered = !p->pending;
			if (covered && r != NULL && src == SEARCH_OK)
				src = search_reader_refresh(r, err, errlen);
		}
		if (covered)
			break;
		/* While it waits: an indexer yielding to a write flood
		 * (indexer_yield) indexes at full speed. */
		if (me.urgent_fd != -1)
			(void)!write(me.urgent_fd, "s", 1);
		if (timefmt_now_ms() >= deadline) {
			snprintf(err, errlen, "The search index is behind the latest writes "
			    "(more than %d ms); retry later.", cfg->search_wait);
			log_warn("search: tenant %u: the index did not catch up within %d ms",
			    (unsigned)tenant, cfg->search_wait);
			return DOM_UNAVAILABLE;
		}
		sleep_ms(pause);
		if (pause < 16)
			pause *= 2;
	}
	if (r == NULL && p->n > 0) {
		/* Covered by the outbox: the directory exists by now. */
		r = reader_get(cfg, tenant, p->info.gen, &src, err, errlen);
		if (r != NULL)
			src = search_reader_refresh(r, err, errlen);
	}
	if (r == NULL && src == SEARCH_MISSING && !p->info.created && p->n == 0) {
		/* Nothing was ever indexed for this tenant: an empty answer
		 * (with its aggregates, over nothing). */
		src = search_run_empty(q, a, out, err, errlen);
		if (src == SEARCH_OK)
			return DOM_OK;
		return src == SEARCH_BAD ? DOM_INVALID : DOM_ERR;
	}
	if (src == SEARCH_OK)
		src = search_run(r, q, a, out, err, errlen);
	switch (src) {
	case SEARCH_OK:
		return DOM_OK;
	case SEARCH_BAD:
		return DOM_INVALID;
	case SEARCH_MISSING:
	case SEARCH_CORRUPT:
		log_err("search: tenant %u: the index generation %llu is %s (%s): "
		    "asking the indexer to rebuild it", (unsigned)tenant,
		    (unsigned long long)p->info.gen,
		    src == SEARCH_MISSING ? "missing" : "corrupt", err);
		reader_drop(tenant);
		(void)store_run(s, true, cfg->deadlock_retries, request_rebuild_txn, &tenant);
		*retry_after = 5;
		snprintf(err, errlen, "The search index of this account is being rebuilt; "
		    "retry later.");
		return DOM_UNAVAILABLE;
	default:
		log_err("search: tenant %u: %s", (unsigned)tenant, err);
		reader_drop(tenant);
		return DOM_ERR;
	}
}

const char *
index_ixinit_key(size_t *len)
{
	*len = sizeof(IXINIT_KEY) - 1;
	return IXINIT_KEY;
}
