/*
 * indexer: applies the search outboxes to the tenants' indexes and builds
 * indexes (indexer.h). Single-threaded; the only Xapian writer.
 */
#include "indexer.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "domain.h"
#include "events.h"
#include "ids.h"
#include "index.h"
#include "json.h"
#include "layout.h"
#include "log.h"
#include "mem.h"
#include "search.h"
#include "store.h"
#include "timefmt.h"
#include "util.h"

#define MAX_WRITERS 32
#define BUILD_CHUNK 1000        /* records per read transaction of a build */
#define IDLE_MAX_MS 50          /* longest wait when idle (a worker's note
                                 * wakes it at once; orchidctl's do not) */
#define RESCAN_MS 1000          /* new outboxes and rebuild requests */
#define ERROR_PAUSE_MS 1000
/* Yielding to a write flood (indexer_yield): after reading FLOOD_BATCH
 * entries or more (or a full batch, if smaller) while writes went on, it
 * stops indexing and looks every FLOOD_CHECK_MS whether they still do (a
 * byte on the wake pipe) or a search waits. */
#define FLOOD_BATCH 200
#define FLOOD_CHECK_MS 200
#define URGENT_MS 250           /* full speed after a search's byte (a
                                 * waiting search writes one every <= 16 ms) */

static volatile sig_atomic_t ix_stop;

struct writer {
	uint32_t tenant;
	uint64_t gen;
	struct search_writer *w;
	uint64_t used;
};

/* One outbox entry read into memory. */
struct entry {
	uint32_t tenant;
	int slot;
	uint64_t seq;
	enum index_op op;
	char *coll;                /* NUL-terminated */
	unsigned char *key;
	size_t klen;
};

/* A build in progress: which database it scans, and where it resumes. */
enum build_phase { PH_ITEMS, PH_EVENTS, PH_RELATIONS, PH_DONE };
struct build {
	bool active;
	uint32_t tenant;
	uint64_t gen;
	enum build_phase phase;
	unsigned char *resume;     /* malloc'd key to continue after */
	size_t resume_len;
	uint64_t done;
};

struct ixr {
	struct store *s;
	const struct config *cfg;
	struct arena *a;           /* reset per batch */
	struct writer w[MAX_WRITERS];
	int nw;
	uint64_t clock;
	int slots[STORE_OUTBOX_SLOTS];
	int nslots;
	int64_t rescan_at;
	bool look_for_builds;      /* set by each rescan */
	/*
	 * Applied but not yet durable: per (slot, tenant), the last seq a
	 * commit (without fsync) covered, and the index generation it went to.
	 * sync_pending makes those indexes durable, then deletes the entries
	 * up to these seqs from the outboxes; until then read_batch skips them.
	 */
	struct pend { int slot; uint32_t tenant; uint64_t gen, seq; } *pend;
	size_t npend, cappend;
	int64_t synced_at;
	struct build b;
	indexer_progress_fn progress;
	void *progress_arg;
};

static struct pend *pend_find(struct ixr *x, int slot, uint32_t tenant);
static int sync_pending(struct ixr *x);

/* How often applied entries are made durable and leave the outbox: the
 * fsyncs of the index go in batches, not with every commit. */
#define SYNC_MS 200

/* ---- writers ---- */

static void
writer_close(struct ixr *x, int i)
{
	search_writer_close(x->w[i].w);
	x->w[i] = x->w[--x->nw];
}

static void
writer_close_tenant(struct ixr *x, uint32_t tenant)
{
	for (int i = 0; i < x->nw; i++) {
		if (x->w[i].tenant == tenant) {
			writer_close(x, i);
			return;
		}
	}
}

static int
mkdir_p(const char *path)
{
	char tmp[CONFIG_PATH_MAX + 64];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) == -1 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	return mkdir(tmp, 0700) == -1 && errno != EEXIST ? -1 : 0;
}

/*
 * The writer of (tenant, gen), opened (and the directory created) when not
 * open yet. must_exist: the index of gen was created before, so a missing
 * directory means it was deleted: *missing is set and nothing is created
 * (the caller asks for a rebuild rather than start an empty index).
 */
static struct search_writer *
writer_get(struct ixr *x, uint32_t tenant, uint64_t gen, bool must_exist, bool *missing)
{
	char dir[CONFIG_PATH_MAX + 64], err[512];
	struct writer *slot = NULL;

	for (int i = 0; i < x->nw; i++) {
		if (x->w[i].tenant == tenant) {
			if (x->w[i].gen == gen) {
				x->w[i].used = ++x->clock;
				return x->w[i].w;
			}
			writer_close(x, i);
			break;
		}
	}
	if (x->nw == MAX_WRITERS) {
		int old = 0;

		for (int i = 1; i < x->nw; i++) {
			if (x->w[i].used < x->w[old].used)
				old = i;
		}
		writer_close(x, old);
	}
	index_dir(x->cfg->datadir, tenant, gen, dir, sizeof(dir));
	if (must_exist) {
		struct stat st;

		if (stat(dir, &st) == -1 && errno == ENOENT) {
			*missing = true;
			return NULL;
		}
	}
	if (mkdir_p(dir) == -1) {
		log_err("indexer: %s: %s", dir, strerror(errno));
		return NULL;
	}
	slot = &x->w[x->nw];
	memset(slot, 0, sizeof(*slot));
	if (search_writer_open(dir, &slot->w, err, sizeof(err)) != SEARCH_OK) {
		log_err("indexer: opening %s: %s", dir, err);
		return NULL;
	}
	slot->tenant = tenant;
	slot->gen = gen;
	slot->used = ++x->clock;
	x->nw++;
	return slot->w;
}

/* ---- documents from records ---- */

/* cid -> name of a tenant's live collections (scanned per batch). */
struct names {
	uint32_t tenant;
	size_t n;
	uint64_t *cid;
	char **name;
};

static enum store_rc
names_load(struct store_txn *t, struct arena *a, uint32_t tenant, struct names *nm)
{
	struct store_cursor *c;
	unsigned char k[4];
	const void *ck, *cv;
	size_t ckl, cvl, cap = 0;
	enum store_rc rc;

	memset(nm, 0, sizeof(*nm));
	nm->tenant = tenant;
	util_put_be32(k, tenant);
	if ((rc = store_cursor_open(t, STORE_DB_COLLECTIONS, &c)) != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_GE, k, 4, &ck, &ckl, &cv, &cvl);
	while (rc == STORE_OK && ckl > 4 && memcmp(ck, k, 4) == 0) {
		struct coll_record cr;

		if (layout_coll_decode(cv, cvl, &cr) == 0) {
			if (nm->n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				uint64_t *ci = mem_alloc(a, nc * sizeof(*ci));
				char **nn = mem_alloc(a, nc * sizeof(*nn));

				if (ci == NULL || nn == NULL) {
					rc = STORE_ERR;
					break;
				}
				if (nm->n) {
					memcpy(ci, nm->cid, nm->n * sizeof(*ci));
					memcpy(nn, nm->name, nm->n * sizeof(*nn));
				}
				nm->cid = ci;
				nm->name = nn;
				cap = nc;
			}
			nm->cid[nm->n] = cr.cid;
			nm->name[nm->n] = mem_strndup(a, (const char *)ck + 4, ckl - 4);
			if (nm->name[nm->n] == NULL) {
				rc = STORE_ERR;
				break;
			}
			nm->n++;
		}
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
	}
	store_cursor_close(c);
	return rc == STORE_NOTFOUND || rc == STORE_OK ? STORE_OK : rc;
}

static const char *
names_find(const struct names *nm, uint64_t cid)
{
	for (size_t i = 0; i < nm->n; i++) {
		if (nm->cid[i] == cid)
			return nm->name[i];
	}
	return NULL;
}

static char *
dupn(struct arena *a, const void *p, size_t n)
{
	return mem_strndup(a, p, n);
}

/* Finishes d->entry from the text built in b (copied into the arena). */
static int
entry_done(struct arena *a, struct buf *b, struct search_doc *d)
{
	if (b->b_failed)
		return -1;
	d->entry = dupn(a, b->b_data, b->b_len);
	d->entry_len = b->b_len;
	return d->entry == NULL ? -1 : 0;
}

/* An item doc from its head record. */
static int
item_doc(struct arena *a, const char *coll, uint64_t cid, const char *key, size_t keylen,
    const struct item_version *v, struct search_doc *d)
{
	struct buf b;
	int rc;

	memset(d, 0, sizeof(*d));
	d->kind = SEARCH_ITEM;
	d->cid = cid;
	d->collection = coll;
	if ((d->key = dupn(a, key, keylen)) == NULL || (d->ref = dupn(a, v->ref,
	    strlen(v->ref))) == NULL)
		return -1;
	d->reftime = v->reftime;
	d->value = v->value;
	d->vlen = v->vlen;
	buf_init(&b, 0);
	buf_adds(&b, "{\"path\":{\"collection\":");
	json_emit_string(&b, coll, strlen(coll));
	buf_adds(&b, ",\"kind\":\"item\",\"key\":");
	json_emit_string(&b, key, keylen);
	buf_printf(&b, ",\"ref\":\"%s\",\"reftime\":%lld},\"value\":", v->ref,
	    (long long)v->reftime);
	buf_add(&b, v->value, v->vlen);
	buf_printf(&b, ",\"reftime\":%lld}", (long long)v->reftime);
	rc = entry_done(a, &b, d);
	buf_free(&b);
	return rc;
}

/* Splits an events.db key: I | 0x00 | type | 0x00 | ts | ord. */
static int
event_key_split(const unsigned char *k, size_t kl, uint64_t *cid, const char **key,
    size_t *keylen, const char **type, size_t *typelen, uint64_t *ts, uint64_t *ord)
{
	const unsigned char *p = k + LAYOUT_PREFIX_LEN, *end, *z;
	uint32_t t;

	if (kl < LAYOUT_PREFIX_LEN + 4 + 16)
		return -1;
	layout_prefix_get(k, &t, cid);
	end = k + kl - 16;
	if ((z = memchr(p, 0, (size_t)(end - p))) == NULL || z == p)
		return -1;
	*key = (const char *)p;
	*keylen = (size_t)(z - p);
	p = z + 1;
	if (p >= end || (z = memchr(p, 0, (size_t)(end - p))) == NULL || z == p ||
	    z + 1 != end)
		return -1;
	*type = (const char *)p;
	*typelen = (size_t)(z - p);
	layout_event_pos_get(k, (size_t)(end - k), ts, ord);
	return 0;
}

static int
event_doc(struct arena *a, const char *coll, const unsigned char *k, size_t kl,
    const struct event_record *r, struct search_doc *d)
{
	const char *key, *type;
	size_t keylen, typelen;
	uint64_t ts, ord;
	char ordhex[17];
	struct buf b;
	int rc;

	memset(d, 0, sizeof(*d));
	if (event_key_split(k, kl, &d->cid, &key, &keylen, &type, &typelen, &ts, &ord) == -1)
		return -1;
	d->kind = SEARCH_EVENT;
	d->collection = coll;
	if ((d->key = dupn(a, key, keylen)) == NULL || (d->type = dupn(a, type,
	    typelen)) == NULL || (d->ref = dupn(a, r->ref, strlen(r->ref))) == NULL)
		return -1;
	d->timestamp = (int64_t)ts;
	d->ordinal = ord;
	d->reftime = r->reftime;
	d->value = r->value;
	d->vlen = r->vlen;
	ids_hex64(ord, ordhex);
	buf_init(&b, 0);
	buf_adds(&b, "{\"path\":{\"collection\":");
	json_emit_string(&b, coll, strlen(coll));
	buf_adds(&b, ",\"key\":");
	json_emit_string(&b, key, keylen);
	buf_adds(&b, ",\"kind\":\"event\",\"type\":");
	json_emit_string(&b, type, typelen);
	buf_printf(&b, ",\"timestamp\":%llu,\"ordinal\":%llu,\"ordinal_str\":\"%s\","
	    "\"ref\":\"%s\",\"reftime\":%lld},\"value\":", (unsigned long long)ts,
	    (unsigned long long)ord, ordhex, r->ref, (long long)r->reftime);
	buf_add(&b, r->value, r->vlen);
	buf_printf(&b, ",\"reftime\":%lld}", (long long)r->reftime);
	rc = entry_done(a, &b, d);
	buf_free(&b);
	return rc;
}

/* A relation doc; r NULL: only the identity (for a delete). */
static int
relation_doc(struct arena *a, const char *coll, const struct rel_key *rk,
    const struct rel_record *r, struct search_doc *d)
{
	struct buf b;
	int rc;

	memset(d, 0, sizeof(*d));
	d->kind = SEARCH_RELATION;
	d->cid = rk->cid;
	d->collection = coll;
	d->dst_cid = rk->other_cid;
	if ((d->key = dupn(a, rk->key, rk->keylen)) == NULL ||
	    (d->relation = dupn(a, rk->kind, rk->kindlen)) == NULL ||
	    (d->dst_key = dupn(a, rk->other_key, rk->other_keylen)) == NULL)
		return -1;
	if (r == NULL)
		return 0;
	if ((d->dst_collection = dupn(a, r->dst_coll, r->dst_coll_len)) == NULL ||
	    (d->ref = dupn(a, r->ref, strlen(r->ref))) == NULL)
		return -1;
	d->reftime = r->reftime;
	d->value = r->value;
	d->vlen = r->vlen;
	buf_init(&b, 0);
	buf_adds(&b, "{\"path\":{\"kind\":\"relationship\",\"source\":{\"collection\":");
	json_emit_string(&b, coll, strlen(coll));
	buf_adds(&b, ",\"key\":");
	json_emit_string(&b, rk->key, rk->keylen);
	buf_adds(&b, ",\"kind\":\"item\"},\"relation\":");
	json_emit_string(&b, rk->kind, rk->kindlen);
	buf_adds(&b, ",\"destination\":{\"collection\":");
	json_emit_string(&b, r->dst_coll, r->dst_coll_len);
	buf_adds(&b, ",\"key\":");
	json_emit_string(&b, rk->other_key, rk->other_keylen);
	buf_printf(&b, ",\"kind\":\"item\"},\"ref\":\"%s\",\"reftime\":%lld},\"value\":",
	    r->ref, (long long)r->reftime);
	buf_add(&b, r->value, r->vlen);
	buf_printf(&b, ",\"reftime\":%lld}", (long long)r->reftime);
	rc = entry_done(a, &b, d);
	buf_free(&b);
	return rc;
}

/* ---- applying records ---- */

/*
 * Whether collection cid is still the live collection named name: a
 * dropped collection's records stay until the maintainer reclaims them,
 * and an entry applied after the drop's (from another slot) must not put
 * them back. -1 on a store error.
 */
static int
coll_live(struct store_txn *t, struct arena *a, uint32_t tenant, const char *name,
    size_t namelen, uint64_t cid)
{
	struct coll_record cr;
	char *n = dupn(a, name, namelen);
	size_t kl;
	unsigned char *k = n ? layout_coll_key(a, tenant, n, &kl) : NULL;
	void *v;
	size_t vl;
	enum store_rc rc;

	if (k == NULL)
		return -1;
	rc = store_get(t, STORE_DB_COLLECTIONS, k, kl, false, a, &v, &vl);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK)
		return -1;
	return layout_coll_decode(v, vl, &cr) == 0 && cr.cid == cid;
}

enum apply_rc { AP_OK, AP_STORE, AP_SEARCH };

struct apply {
	struct ixr *x;
	struct search_writer *w;
	char err[512];
	enum search_rc src;
	uint64_t docs;
};

static enum apply_rc
put_doc(struct apply *ap, const struct search_doc *d)
{
	ap->src = search_writer_put(ap->w, d, ap->err, sizeof(ap->err));
	if (ap->src == SEARCH_BAD) {
		/* A document Xapian refuses (it should not happen): logged and
		 * left out rather than blocking every later change. */
		log_err("indexer: a %s of collection \"%s\" key \"%s\" cannot be indexed: %s",
		    d->kind == SEARCH_ITEM ? "item" : d->kind == SEARCH_EVENT ? "event" :
		    "relation", d->collection, d->key, ap->err);
		ap->src = SEARCH_OK;
	}
	ap->docs++;
	return ap->src == SEARCH_OK ? AP_OK : AP_SEARCH;
}

static enum apply_rc
del_doc(struct apply *ap, const struct search_doc *d)
{
	ap->src = search_writer_delete(ap->w, d, ap->err, sizeof(ap->err));
	return ap->src == SEARCH_OK ? AP_OK : AP_SEARCH;
}

/* Reads record k of db (whose key starts T | cid) when its collection is
 * still the live one named coll: STORE_NOTFOUND when either is gone. */
static enum store_rc
live_get(struct store_txn *t, struct arena *a, enum store_db db, const char *coll,
    const unsigned char *k, size_t kl, uint64_t *cid, void **p, size_t *pl)
{
	uint32_t tenant;
	int live;

	layout_prefix_get(k, &tenant, cid);
	if ((live = coll_live(t, a, tenant, coll, strlen(coll), *cid)) == -1)
		return STORE_ERR;
	return live ? store_get(t, db, k, kl, false, a, p, pl) : STORE_NOTFOUND;
}

static enum apply_rc
apply_item(struct apply *ap, struct store_txn *t, struct arena *a, const char *coll,
    const unsigned char *k, size_t kl)
{
	struct search_doc d;
	struct item_version v;
	uint64_t cid;
	void *p;
	size_t pl;
	enum store_rc rc;

	if (kl <= LAYOUT_PREFIX_LEN)
		return AP_OK;
	rc = live_get(t, a, STORE_DB_ITEMS, coll, k, kl, &cid, &p, &pl);
	if (rc == STORE_OK && layout_item_decode(p, pl, &v) == 0 && !v.tombstone) {
		if (item_doc(a, coll, cid, (const char *)k + LAYOUT_PREFIX_LEN,
		    kl - LAYOUT_PREFIX_LEN, &v, &d) == -1)
			return AP_STORE;
		return put_doc(ap, &d);
	}
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return AP_STORE;
	memset(&d, 0, sizeof(d));
	d.kind = SEARCH_ITEM;
	d.cid = cid;
	d.collection = coll;
	if ((d.key = dupn(a, k + LAYOUT_PREFIX_LEN, kl - LAYOUT_PREFIX_LEN)) == NULL)
		return AP_STORE;
	return del_doc(ap, &d);
}

static enum apply_rc
apply_event(struct apply *ap, struct store_txn *t, struct arena *a, const char *coll,
    const unsigned char *k, size_t kl)
{
	struct search_doc d;
	struct event_record r;
	void *p;
	size_t pl;
	uint64_t cid;
	enum store_rc rc;

	if (kl <= LAYOUT_PREFIX_LEN)
		return AP_OK;
	rc = live_get(t, a, STORE_DB_EVENTS, coll, k, kl, &cid, &p, &pl);
	if (rc == STORE_OK) {
		/* An event of a purged item that waits for the maintainer is
		 * still stored but gone for reads (events.h, event_purged): it
		 * must not be indexed again (the purge's own entry, or a
		 * rebuild, comes across it). */
		const char *key, *type;
		size_t keylen, typelen;
		uint64_t ts, ord, c;
		bool old = false;
		struct dom dm = { .txn = t, .arena = a };

		if (event_key_split(k, kl, &c, &key, &keylen, &type, &typelen, &ts, &ord) == 0 &&
		    event_purged(&dm, k, LAYOUT_PREFIX_LEN + keylen, ord, &old) != DOM_OK)
			return AP_STORE;
		if (old)
			rc = STORE_NOTFOUND;
	}

	if (rc == STORE_OK && layout_event_decode(p, pl, &r) == 0) {
		if (event_doc(a, coll, k, kl, &r, &d) == -1)
			return AP_OK; /* not an event key: nothing to index */
		return put_doc(ap, &d);
	}
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return AP_STORE;
	{
		const char *key, *type;
		size_t keylen, typelen;
		uint64_t ts, ord;

		memset(&d, 0, sizeof(d));
		if (event_key_split(k, kl, &d.cid, &key, &keylen, &type, &typelen, &ts,
		    &ord) == -1)
			return AP_OK;
		d.kind = SEARCH_EVENT;
		d.collection = coll;
		d.key = dupn(a, key, keylen);
		d.type = dupn(a, type, typelen);
		d.timestamp = (int64_t)ts;
		d.ordinal = ord;
		if (d.key == NULL || d.type == NULL)
			return AP_STORE;
	}
	return del_doc(ap, &d);
}

static enum apply_rc
apply_relation(struct apply *ap, struct store_txn *t, struct arena *a, const char *coll,
    const unsigned char *k, size_t kl)
{
	struct search_doc d;
	struct rel_key rk;
	struct rel_record r;
	void *p;
	size_t pl;
	enum store_rc rc;

	int live;

	if (layout_rel_split(k, kl, &rk) == -1)
		return AP_OK;
	if ((live = coll_live(t, a, rk.tenant, coll, strlen(coll), rk.cid)) == -1)
		return AP_STORE;
	rc = live ? store_get(t, STORE_DB_RELATIONS, k, kl, false, a, &p, &pl) : STORE_NOTFOUND;
	/* A relation into a dropped collection goes too. */
	if (rc == STORE_OK && layout_rel_decode(p, pl, &r) == 0 &&
	    (live = coll_live(t, a, rk.tenant, r.dst_coll, r.dst_coll_len, rk.other_cid)) != 1) {
		if (live == -1)
			return AP_STORE;
		rc = STORE_NOTFOUND;
	}
	if (rc == STORE_OK && layout_rel_decode(p, pl, &r) == 0) {
		if (relation_doc(a, coll, &rk, &r, &d) == -1)
			return AP_STORE;
		return put_doc(ap, &d);
	}
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return AP_STORE;
	if (relation_doc(a, coll, &rk, NULL, &d) == -1)
		return AP_STORE;
	return del_doc(ap, &d);
}

/* Calls fn for every record of db whose key starts with prefix. */
typedef enum apply_rc (*each_fn)(struct apply *ap, struct store_txn *t, struct arena *a,
    const char *coll, const unsigned char *k, size_t kl);

static enum apply_rc
each_prefix(struct apply *ap, struct store_txn *t, struct arena *a, enum store_db db,
    const unsigned char *prefix, size_t plen, const char *coll, each_fn fn)
{
	struct store_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	enum store_rc rc;
	enum apply_rc arc = AP_OK;

	if (store_cursor_open(t, db, &c) != STORE_OK)
		return AP_STORE;
	rc = store_cursor_get(c, STORE_SEEK_GE, prefix, plen, &ck, &ckl, &cv, &cvl);
	while (rc == STORE_OK && ckl >= plen && memcmp(ck, prefix, plen) == 0) {
		unsigned char *kc = mem_alloc(a, ckl);

		if (kc == NULL) {
			arc = AP_STORE;
			break;
		}
		memcpy(kc, ck, ckl);
		if ((arc = fn(ap, t, a, coll, kc, ckl)) != AP_OK)
			break;
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
	}
	store_cursor_close(c);
	if (arc == AP_OK && rc != STORE_OK && rc != STORE_NOTFOUND)
		arc = AP_STORE;
	return arc;
}

/* A relation to the purged item, found in relrev.db: re-put its forward
 * record (the source collection's name comes from the tenant's names). */
static const struct names *purge_names;

static enum apply_rc
apply_relrev(struct apply *ap, struct store_txn *t, struct arena *a, const char *coll,
    const unsigned char *k, size_t kl)
{
	size_t fl;
	unsigned char *fwd = layout_rel_mirror(a, k, kl, &fl);
	struct rel_key rk;
	const char *src;

	(void)coll;
	if (fwd == NULL || layout_rel_split(fwd, fl, &rk) == -1)
		return AP_OK;
	if ((src = names_find(purge_names, rk.cid)) == NULL)
		return AP_OK;
	return apply_relation(ap, t, a, src, fwd, fl);
}

/*
 * A purge: every document of the item goes; then whatever exists now under
 * its key (written after the purge, maybe applied before this entry from
 * another slot) is put back, so the order of slots does not matter.
 */
static enum apply_rc
apply_purge(struct apply *ap, struct store_txn *t, struct arena *a, const char *coll,
    const unsigned char *k, size_t kl)
{
	struct names nm;
	uint32_t tenant;
	uint64_t cid;
	unsigned char *pk;
	char *key;
	enum apply_rc arc;

	if (kl <= LAYOUT_PREFIX_LEN)
		return AP_OK;
	layout_prefix_get(k, &tenant, &cid);
	if ((key = dupn(a, k + LAYOUT_PREFIX_LEN, kl - LAYOUT_PREFIX_LEN)) == NULL)
		return AP_STORE;
	ap->src = search_writer_delete_item_all(ap->w, cid, key, ap->err, sizeof(ap->err));
	if (ap->src != SEARCH_OK)
		return AP_SEARCH;
	if ((arc = apply_item(ap, t, a, coll, k, kl)) != AP_OK)
		return arc;
	if ((pk = mem_alloc(a, kl + 1)) == NULL)
		return AP_STORE;
	memcpy(pk, k, kl);
	pk[kl] = 0;
	if ((arc = each_prefix(ap, t, a, STORE_DB_EVENTS, pk, kl + 1, coll, apply_event)) !=
	    AP_OK)
		return arc;
	if ((arc = each_prefix(ap, t, a, STORE_DB_RELATIONS, pk, kl + 1, coll,
	    apply_relation)) != AP_OK)
		return arc;
	if (names_load(t, a, tenant, &nm) != STORE_OK)
		return AP_STORE;
	purge_names = &nm;
	arc = each_prefix(ap, t, a, STORE_DB_RELREV, pk, kl + 1, coll, apply_relrev);
	purge_names = NULL;
	return arc;
}

static enum apply_rc
apply_entry(struct apply *ap, struct store_txn *t, struct arena *a, const struct entry *e)
{
	uint32_t tenant;
	uint64_t cid;

	switch (e->op) {
	case INDEX_ITEM:
		return apply_item(ap, t, a, e->coll, e->key, e->klen);
	case INDEX_EVENT:
		return apply_event(ap, t, a, e->coll, e->key, e->klen);
	case INDEX_RELATION:
		return apply_relation(ap, t, a, e->coll, e->key, e->klen);
	case INDEX_PURGE:
		return apply_purge(ap, t, a, e->coll, e->key, e->klen);
	case INDEX_DROP:
		if (e->klen < LAYOUT_PREFIX_LEN)
			return AP_OK;
		layout_prefix_get(e->key, &tenant, &cid);
		ap->src = search_writer_delete_collection(ap->w, cid, ap->err, sizeof(ap->err));
		return ap->src == SEARCH_OK ? AP_OK : AP_SEARCH;
	}
	log_warn("indexer: an outbox entry of unknown kind %d: skipped", (int)e->op);
	return AP_OK;
}

/* ---- reading and deleting outbox entries ---- */

struct batch {
	struct ixr *x;
	struct arena *a;
	struct entry *e;
	size_t n, max;
};

static enum store_rc
read_batch(struct store_txn *t, void *arg, bool *commit)
{
	struct batch *b = arg;

	(void)commit;
	b->n = 0;
	for (int i = 0; i < b->x->nslots && b->n < b->max; i++) {
		int slot = b->x->slots[i];
		struct store_cursor *c;
		const void *ck, *cv;
		size_t ckl, cvl;
		enum store_rc rc;

		if (slot == INDEX_REGISTRY_SLOT)
			continue;
		rc = store_cursor_open(t, (enum store_db)(STORE_DB_OUTBOX + slot), &c);
		if (rc != STORE_OK)
			return rc;
		rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &ck, &ckl, &cv, &cvl);
		while (rc == STORE_OK && b->n < b->max) {
			const unsigned char *k = ck, *v = cv;
			struct entry *e = &b->e[b->n];
			const struct pend *p;
			size_t cl;

			if (ckl != INDEX_OUTBOX_KEY_LEN)
				break; /* the epoch record sorts last */
			p = pend_find(b->x, slot, util_get_be32(k));
			if (p != NULL && util_get_be64(k + 4) <= p->seq) {
				/* Applied, waiting for its sync: past it. */
				unsigned char next[INDEX_OUTBOX_KEY_LEN];

				memcpy(next, k, 4);
				util_put_be64(next + 4, p->seq + 1);
				if (p->seq == UINT64_MAX)
					break;
				rc = store_cursor_get(c, STORE_SEEK_GE, next, sizeof(next), &ck, &ckl,
				    &cv, &cvl);
				continue;
			}
			if (cvl < 3 || (cl = (size_t)v[1] << 8 | v[2]) > cvl - 3) {
				log_err("indexer: a malformed outbox entry in slot %d: skipped", slot);
				rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
				continue;
			}
			e->tenant = util_get_be32(k);
			e->seq = util_get_be64(k + 4);
			e->slot = slot;
			e->op = (enum index_op)v[0];
			e->coll = dupn(b->a, v + 3, cl);
			e->klen = cvl - 3 - cl;
			e->key = mem_alloc(b->a, e->klen + 1);
			if (e->coll == NULL || e->key == NULL) {
				store_cursor_close(c);
				return STORE_ERR;
			}
			memcpy(e->key, v + 3 + cl, e->klen);
			b->n++;
			rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
		}
		store_cursor_close(c);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
	}
	return STORE_OK;
}

static int
entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;

	if (a->tenant != b->tenant)
		return a->tenant < b->tenant ? -1 : 1;
	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The pending mark of (slot, tenant), or NULL. */
static struct pend *
pend_find(struct ixr *x, int slot, uint32_t tenant)
{
	for (size_t i = 0; i < x->npend; i++) {
		if (x->pend[i].slot == slot && x->pend[i].tenant == tenant)
			return &x->pend[i];
	}
	return NULL;
}

static int
pend_set(struct ixr *x, int slot, uint32_t tenant, uint64_t gen, uint64_t seq)
{
	struct pend *p = pend_find(x, slot, tenant);

	if (p == NULL) {
		if (x->npend == x->cappend) {
			size_t nc = x->cappend ? x->cappend * 2 : 64;
			struct pend *np = realloc(x->pend, nc * sizeof(*np));

			if (np == NULL)
				return -1;
			x->pend = np;
			x->cappend = nc;
		}
		p = &x->pend[x->npend++];
		p->slot = slot;
		p->tenant = tenant;
		p->seq = 0;
	}
	p->gen = gen;
	if (seq > p->seq)
		p->seq = seq;
	return 0;
}

/* Deletes every pending range from the outboxes (after the sync), and
 * records that the indexes they went to exist. */
static enum store_rc
delete_pending(struct store_txn *t, void *arg, bool *commit)
{
	struct ixr *x = arg;

	for (size_t i = 0; i < x->npend; i++) {
		const struct pend *p = &x->pend[i];
		unsigned char k[INDEX_OUTBOX_KEY_LEN];
		struct store_cursor *c;
		const void *ck, *cv;
		size_t ckl, cvl;
		struct index_info info;
		enum store_rc rc;
		enum dom_rc drc;

		util_put_be32(k, p->tenant);
		memset(k + 4, 0, 8);
		if ((rc = store_cursor_open(t, (enum store_db)(STORE_DB_OUTBOX + p->slot), &c)) !=
		    STORE_OK)
			return rc;
		rc = store_cursor_get(c, STORE_SEEK_GE, k, sizeof(k), &ck, &ckl, &cv, &cvl);
		while (rc == STORE_OK && ckl == INDEX_OUTBOX_KEY_LEN &&
		    memcmp(ck, k, 4) == 0 && util_get_be64((const unsigned char *)ck + 4) <= p->seq) {
			if ((rc = store_cursor_del(c)) != STORE_OK)
				break;
			rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
		}
		store_cursor_close(c);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
		if ((drc = index_info_get(t, p->tenant, &info)) != DOM_OK)
			return dom_to_store(drc);
		if (info.gen == p->gen && !info.created && info.state == IX_READY) {
			info.created = true;
			if ((drc = index_info_put(t, p->tenant, &info)) != DOM_OK)
				return dom_to_store(drc);
		}
	}
	*commit = true;
	return STORE_OK;
}

/*
 * Makes the commits of the pending entries durable (each index directory
 * they went to, once), then deletes them from the outboxes. 0 or -1 (they
 * stay pending and are tried again).
 */
static int
sync_pending(struct ixr *x)
{
	char dir[CONFIG_PATH_MAX + 64], err[512];

	x->synced_at = timefmt_now_ms();
	if (x->npend == 0)
		return 0;
	for (size_t i = 0; i < x->npend; i++) {
		bool seen = false;
		enum search_rc src;

		for (size_t j = 0; j < i && !seen; j++)
			seen = x->pend[j].tenant == x->pend[i].tenant &&
			    x->pend[j].gen == x->pend[i].gen;
		if (seen)
			continue;
		index_dir(x->cfg->datadir, x->pend[i].tenant, x->pend[i].gen, dir, sizeof(dir));
		src = search_sync(dir, err, sizeof(err));
		/* A generation a finished build removed: the new one holds the
		 * same state (its scan came after these commits). */
		if (src != SEARCH_OK && src != SEARCH_MISSING) {
			log_err("indexer: %s", err);
			return -1;
		}
	}
	if (store_run_ex(x->s, true, true, x->cfg->deadlock_retries, delete_pending, x) !=
	    STORE_OK) {
		log_err("indexer: deleting applied outbox entries failed; trying again");
		return -1;
	}
	x->npend = 0;
	return 0;
}

struct info_arg {
	uint32_t tenant;
	struct index_info info;
};

static enum store_rc
read_info(struct store_txn *t, void *arg, bool *commit)
{
	struct info_arg *i = arg;

	(void)commit;
	return dom_to_store(index_info_get(t, i->tenant, &i->info));
}

/* The apply of one tenant's entries, inside one read transaction. */
struct tenant_apply {
	struct apply *ap;
	struct arena *a;
	const struct entry *e;
	size_t n;
	bool *skip;        /* entries at or below their slot's mark */
	enum apply_rc arc;
};

static enum store_rc
apply_tenant_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct tenant_apply *ta = arg;

	(void)commit;
	ta->arc = AP_OK;
	for (size_t i = 0; i < ta->n; i++) {
		if (ta->skip[i])
			continue;
		ta->arc = apply_entry(ta->ap, t, ta->a, &ta->e[i]);
		if (ta->arc == AP_STORE)
			return STORE_ERR;
		if (ta->arc != AP_OK)
			return STORE_OK;
	}
	return STORE_OK;
}

static void
slot_meta_key(char *k, size_t size, int slot)
{
	snprintf(k, size, "slot:%d", slot);
}

static enum store_rc
request_rebuild_txn(struct store_txn *t, void *arg, bool *commit)
{
	enum dom_rc rc = index_request_rebuild(t, *(uint32_t *)arg);

	*commit = rc == DOM_OK;
	return dom_to_store(rc);
}

/* Applies one tenant's entries (sorted by slot and seq) in one Xapian
 * transaction, then deletes them from the outbox. 0 or -1. */
static int
apply_tenant(struct ixr *x, const struct entry *e, size_t n)
{
	struct info_arg ia = { e[0].tenant, { 0, 0, false, 0 } };
	struct apply ap;
	struct tenant_apply ta;
	enum store_rc rc;
	bool *skip, missing = false;
	uint64_t *marks;

	memset(&ap, 0, sizeof(ap));
	ap.x = x;
	if (store_run(x->s, false, x->cfg->deadlock_retries, read_info, &ia) != STORE_OK)
		return -1;
	/* A tenant whose build is requested gets its entries in the current
	 * generation meanwhile (the build replaces it); one being built, in
	 * the new one. */
	if ((ap.w = writer_get(x, ia.tenant, ia.info.gen, ia.info.created &&
	    ia.info.state == IX_READY, &missing)) == NULL) {
		if (!missing)
			return -1;
		log_err("indexer: tenant %u: the index directory of generation %llu is "
		    "gone: rebuilding it", (unsigned)ia.tenant,
		    (unsigned long long)ia.info.gen);
		(void)store_run(x->s, true, x->cfg->deadlock_retries, request_rebuild_txn,
		    &ia.tenant);
		x->look_for_builds = true;
		return 0;
	}
	if ((skip = mem_alloc(x->a, n * sizeof(*skip))) == NULL ||
	    (marks = mem_alloc(x->a, n * sizeof(*marks))) == NULL)
		return -1;
	if (search_writer_begin(ap.w, ap.err, sizeof(ap.err)) != SEARCH_OK)
		goto search_failed;
	/* The marks: entries at or below them were applied by a commit whose
	 * outbox delete did not happen (a kill between the two). */
	for (size_t i = 0; i < n;) {
		char mk[32], *mv;
		size_t ml, j;
		uint64_t mark = 0;

		slot_meta_key(mk, sizeof(mk), e[i].slot);
		if (search_writer_get_meta(ap.w, mk, x->a, &mv, &ml, ap.err, sizeof(ap.err)) !=
		    SEARCH_OK)
			goto search_failed;
		if (ml > 0 && util_parse_uint64(mv, ml, &mark) == -1)
			mark = 0;
		for (j = i; j < n && e[j].slot == e[i].slot; j++) {
			skip[j] = e[j].seq <= mark;
			marks[j] = mark;
		}
		i = j;
	}
	ta.ap = &ap;
	ta.a = x->a;
	ta.e = e;
	ta.n = n;
	ta.skip = skip;
	rc = store_run(x->s, false, x->cfg->deadlock_retries, apply_tenant_txn, &ta);
	if (rc != STORE_OK) {
		search_writer_cancel(ap.w);
		log_err("indexer: tenant %u: reading the records of a batch failed",
		    (unsigned)ia.tenant);
		return -1;
	}
	if (ta.arc != AP_OK)
		goto search_failed;
	for (size_t i = 0; i < n;) {
		char mk[32], mv[32];
		size_t j;

		for (j = i; j + 1 < n && e[j + 1].slot == e[i].slot; j++)
			;
		slot_meta_key(mk, sizeof(mk), e[i].slot);
		/* A mark never goes down (entries below it may be read again
		 * after a restart, before their outbox delete). */
		snprintf(mv, sizeof(mv), "%llu", (unsigned long long)(e[j].seq > marks[j] ?
		    e[j].seq : marks[j]));
		if (search_writer_set_meta(ap.w, mk, mv, strlen(mv), ap.err, sizeof(ap.err)) !=
		    SEARCH_OK)
			goto search_failed;
		i = j + 1;
	}
	if (search_writer_commit(ap.w, ap.err, sizeof(ap.err)) != SEARCH_OK)
		goto search_failed;
	/* Visible to searches now (the marks); deleted from the outbox once
	 * sync_pending has made the commit durable. */
	for (size_t i = 0; i < n; i++) {
		if (pend_set(x, e[i].slot, ia.tenant, ia.info.gen, e[i].seq) == -1)
			return -1;
	}
	return 0;
search_failed:
	log_err("indexer: tenant %u: index generation %llu: %s", (unsigned)ia.tenant,
	    (unsigned long long)ia.info.gen, ap.err);
	writer_close_tenant(x, ia.tenant);
	if (ap.src == SEARCH_CORRUPT) {
		uint32_t tn = ia.tenant;

		log_err("indexer: tenant %u: the index is corrupt: rebuilding it", (unsigned)tn);
		(void)store_run(x->s, true, x->cfg->deadlock_retries, request_rebuild_txn, &tn);
	}
	return -1;
}

/* Reads what is in a non-blocking pipe; returns the bytes read. */
static size_t
drain(int fd)
{
	char buf[4096];
	size_t total = 0;
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)r;
	return total;
}

/* One round over the outboxes. Returns the entries handled, or -1; or
 * ROUND_FLOOD, with nothing applied, when flood_fd is not -1 and
 * FLOOD_BATCH entries (or a full batch) were read while writes went on (a
 * byte on flood_fd, the wake pipe: see "Yielding to a write flood"). */
#define ROUND_FLOOD (-2)
static long
outbox_round(struct ixr *x, int flood_fd)
{
	struct batch b;
	enum store_rc rc;
	int failed = 0;

	mem_reset(x->a);
	b.x = x;
	b.a = x->a;
	b.max = (size_t)x->cfg->indexer_batch;
	b.e = mem_alloc(x->a, b.max * sizeof(*b.e));
	if (b.e == NULL)
		return -1;
	rc = store_run(x->s, false, x->cfg->deadlock_retries, read_batch, &b);
	if (rc != STORE_OK)
		return -1;
	if (b.n == 0)
		return 0;
	if (flood_fd != -1 && (b.n >= FLOOD_BATCH || b.n == b.max) && drain(flood_fd) > 0)
		return ROUND_FLOOD;
	qsort(b.e, b.n, sizeof(*b.e), entry_cmp);
	for (size_t i = 0; i < b.n;) {
		size_t j = i;

		while (j < b.n && b.e[j].tenant == b.e[i].tenant)
			j++;
		if (apply_tenant(x, b.e + i, j - i) == -1)
			failed = 1;
		i = j;
	}
	return failed ? -1 : (long)b.n;
}

/* ---- builds ---- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path) == -1 && errno != ENOENT ? -1 : 0;
}

/* Removes the generations of tenant other than keep. */
static void
remove_old_gens(struct ixr *x, uint32_t tenant, uint64_t keep)
{
	char dir[CONFIG_PATH_MAX + 64], path[CONFIG_PATH_MAX + 64 + 260];
	char keepname[32];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/index/%u", x->cfg->datadir, (unsigned)tenant);
	snprintf(keepname, sizeof(keepname), "%llu", (unsigned long long)keep);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, keepname) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == -1)
			log_warn("indexer: removing %s: %s", path, strerror(errno));
	}
	(void)closedir(d);
}

/* Finds a tenant whose state is requested (or, at start, building: a build
 * a kill interrupted starts again) and starts its build at gen + 1. */
struct find_arg {
	bool restart;           /* building counts too */
	bool found;
	uint32_t tenant;
	struct index_info info;
};

static enum store_rc
start_build_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct find_arg *f = arg;
	struct store_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	enum store_rc rc;

	f->found = false;
	if ((rc = store_cursor_open(t, STORE_DB_META, &c)) != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_GE, "ix", 2, &ck, &ckl, &cv, &cvl);
	while (rc == STORE_OK && ckl >= 2 && memcmp(ck, "ix", 2) == 0) {
		const unsigned char *v = cv;

		if (ckl == 6 && cvl == 18 && (v[8] == IX_REQUESTED ||
		    (f->restart && v[8] == IX_BUILDING))) {
			f->found = true;
			f->tenant = util_get_be32((const unsigned char *)ck + 2);
			break;
		}
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
	}
	store_cursor_close(c);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	if (!f->found)
		return STORE_OK;
	if ((rc = dom_to_store(index_info_get(t, f->tenant, &f->info))) != STORE_OK)
		return rc;
	f->info.gen++;
	f->info.state = IX_BUILDING;
	f->info.created = false;
	f->info.done = 0;
	*commit = true;
	return dom_to_store(index_info_put(t, f->tenant, &f->info));
}

/* Marks every tenant's index requested (kept generation), once per
 * environment, and again after a run with search = 0: how an environment
 * written before search, or while it was off, gets its indexes. */
static enum store_rc
init_states_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct arena *a = arg;
	size_t kl;
	const char *ik = index_ixinit_key(&kl);
	struct store_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	void *v;
	size_t vl;
	enum store_rc rc = store_get(t, STORE_DB_META, ik, kl, false, a, &v, &vl);

	if (rc == STORE_OK || rc != STORE_NOTFOUND)
		return rc;
	if ((rc = store_cursor_open(t, STORE_DB_TENANTS, &c)) != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &ck, &ckl, &cv, &cvl);
	while (rc == STORE_OK) {
		if (ckl == 4) {
			struct index_info info;
			enum dom_rc drc = index_info_get(t, util_get_be32(ck), &info);

			if (drc == DOM_OK) {
				info.state = IX_REQUESTED;
				drc = index_info_put(t, util_get_be32(ck), &info);
			}
			if (drc != DOM_OK) {
				store_cursor_close(c);
				return dom_to_store(drc);
			}
		}
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
	}
	store_cursor_close(c);
	if (rc != STORE_NOTFOUND)
		return rc;
	*commit = true;
	return store_put(t, STORE_DB_META, ik, kl, "1", 1);
}

/* One chunk of the build: up to BUILD_CHUNK records of the current
 * database, in one read transaction. */
struct chunk {
	struct ixr *x;
	struct apply *ap;
	struct names nm;
	size_t records;
	bool phase_done;
	unsigned char *last;
	size_t lastlen;
};

static enum store_rc
build_chunk_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct chunk *ch = arg;
	struct build *b = &ch->x->b;
	struct arena *a = ch->x->a;
	static const enum store_db dbs[] = { STORE_DB_ITEMS, STORE_DB_EVENTS,
		STORE_DB_RELATIONS };
	unsigned char pfx[4];
	struct store_cursor *c;
	const void *ck, *cv;
	size_t ckl, cvl;
	enum store_rc rc;

	(void)commit;
	ch->records = 0;
	ch->phase_done = false;
	ch->last = NULL;
	if ((rc = names_load(t, a, b->tenant, &ch->nm)) != STORE_OK)
		return rc;
	util_put_be32(pfx, b->tenant);
	if ((rc = store_cursor_open(t, dbs[b->phase], &c)) != STORE_OK)
		return rc;
	if (b->resume != NULL) {
		rc = store_cursor_get(c, STORE_SEEK_GE, b->resume, b->resume_len, &ck, &ckl,
		    &cv, &cvl);
		if (rc == STORE_OK && ckl == b->resume_len &&
		    memcmp(ck, b->resume, ckl) == 0)
			rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
	} else {
		rc = store_cursor_get(c, STORE_SEEK_GE, pfx, 4, &ck, &ckl, &cv, &cvl);
	}
	while (rc == STORE_OK && ckl >= LAYOUT_PREFIX_LEN && memcmp(ck, pfx, 4) == 0 &&
	    ch->records < BUILD_CHUNK) {
		uint32_t tn;
		uint64_t cid;
		const char *coll;
		enum apply_rc arc = AP_OK;
		unsigned char *kc;

		layout_prefix_get(ck, &tn, &cid);
		if ((kc = mem_alloc(a, ckl)) == NULL) {
			rc = STORE_ERR;
			break;
		}
		memcpy(kc, ck, ckl);
		ch->last = kc;
		ch->lastlen = ckl;
		ch->records++;
		if ((coll = names_find(&ch->nm, cid)) != NULL) {
			/* A collection being reclaimed has no name: skipped. */
			if (b->phase == PH_ITEMS)
				arc = apply_item(ch->ap, t, a, coll, kc, ckl);
			else if (b->phase == PH_EVENTS)
				arc = apply_event(ch->ap, t, a, coll, kc, ckl);
			else
				arc = apply_relation(ch->ap, t, a, coll, kc, ckl);
		}
		if (arc == AP_STORE) {
			rc = STORE_ERR;
			break;
		}
		if (arc != AP_OK) {
			store_cursor_close(c);
			return STORE_OK; /* ch->ap->src says what failed */
		}
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &ck, &ckl, &cv, &cvl);
	}
	/* Before the close: ck points into the cursor. */
	if (rc == STORE_NOTFOUND || (rc == STORE_OK && (ckl < 4 || memcmp(ck, pfx, 4) != 0)))
		ch->phase_done = true;
	store_cursor_close(c);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	return STORE_OK;
}

struct finish_arg {
	uint32_t tenant;
	uint64_t gen;
	uint64_t done;
	bool finished;
	bool stale;    /* the state changed under the build (a new request) */
};

static enum store_rc
build_progress_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct finish_arg *f = arg;
	struct index_info info;
	enum dom_rc drc = index_info_get(t, f->tenant, &info);

	if (drc != DOM_OK)
		return dom_to_store(drc);
	if (info.gen != f->gen || info.state != IX_BUILDING) {
		f->stale = true;
		return STORE_OK;
	}
	info.done = f->done;
	if (f->finished) {
		info.state = IX_READY;
		info.created = true;
	}
	*commit = true;
	return dom_to_store(index_info_put(t, f->tenant, &info));
}

static void
build_reset(struct build *b)
{
	free(b->resume);
	memset(b, 0, sizeof(*b));
}

/* One step of the active build (or starts one). Returns 1 when it did
 * work, 0 when there is no build, -1 on error. */
static int
build_step(struct ixr *x, bool restart)
{
	struct build *b = &x->b;
	struct apply ap;
	struct chunk ch;
	struct finish_arg fa;
	enum store_rc rc;

	if (!b->active) {
		struct find_arg f;

		memset(&f, 0, sizeof(f));
		f.restart = restart;
		if (store_run(x->s, true, x->cfg->deadlock_retries, start_build_txn, &f) !=
		    STORE_OK)
			return -1;
		if (!f.found)
			return 0;
		build_reset(b);
		b->active = true;
		b->tenant = f.tenant;
		b->gen = f.info.gen;
		b->phase = PH_ITEMS;
		log_info("indexer: building the search index of tenant %u (generation %llu)",
		    (unsigned)b->tenant, (unsigned long long)b->gen);
		{
			char dir[CONFIG_PATH_MAX + 64];

			/* A directory left by an interrupted build of this
			 * generation starts over empty. */
			writer_close_tenant(x, b->tenant);
			index_dir(x->cfg->datadir, b->tenant, b->gen, dir, sizeof(dir));
			(void)nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		}
	}
	mem_reset(x->a);
	memset(&ap, 0, sizeof(ap));
	ap.x = x;
	if ((ap.w = writer_get(x, b->tenant, b->gen, false, NULL)) == NULL)
		return -1;
	if (search_writer_begin(ap.w, ap.err, sizeof(ap.err)) != SEARCH_OK)
		goto search_failed;
	memset(&ch, 0, sizeof(ch));
	ch.x = x;
	ch.ap = &ap;
	rc = store_run(x->s, false, x->cfg->deadlock_retries, build_chunk_txn, &ch);
	if (rc != STORE_OK) {
		search_writer_cancel(ap.w);
		return -1;
	}
	if (ap.src != SEARCH_OK)
		goto search_failed;
	if (search_writer_commit(ap.w, ap.err, sizeof(ap.err)) != SEARCH_OK)
		goto search_failed;
	b->done += ap.docs;
	if (ch.last != NULL) {
		unsigned char *r = realloc(b->resume, ch.lastlen);

		if (r == NULL)
			return -1;
		memcpy(r, ch.last, ch.lastlen);
		b->resume = r;
		b->resume_len = ch.lastlen;
	}
	if (ch.phase_done) {
		b->phase++;
		free(b->resume);
		b->resume = NULL;
		b->resume_len = 0;
	}
	if (b->phase == PH_DONE) {
		char dir[CONFIG_PATH_MAX + 64];

		/* Durable before it is declared ready. */
		index_dir(x->cfg->datadir, b->tenant, b->gen, dir, sizeof(dir));
		if (search_sync(dir, ap.err, sizeof(ap.err)) != SEARCH_OK)
			goto search_failed;
	}
	memset(&fa, 0, sizeof(fa));
	fa.tenant = b->tenant;
	fa.gen = b->gen;
	fa.done = b->done;
	fa.finished = b->phase == PH_DONE;
	if (store_run(x->s, true, x->cfg->deadlock_retries, build_progress_txn, &fa) !=
	    STORE_OK)
		return -1;
	if (x->progress != NULL)
		x->progress(x->progress_arg, b->tenant, b->done, fa.finished);
	if (fa.stale) {
		log_info("indexer: tenant %u: a new build was requested; starting over",
		    (unsigned)b->tenant);
		build_reset(b);
		return 1;
	}
	if (fa.finished) {
		log_info("indexer: the search index of tenant %u is ready (generation %llu, "
		    "%llu documents)", (unsigned)b->tenant, (unsigned long long)b->gen,
		    (unsigned long long)b->done);
		remove_old_gens(x, b->tenant, b->gen);
		build_reset(b);
	}
	return 1;
search_failed:
	log_err("indexer: building tenant %u generation %llu: %s", (unsigned)b->tenant,
	    (unsigned long long)b->gen, ap.err);
	writer_close_tenant(x, b->tenant);
	return -1;
}

/* ---- the loop ---- */

static int
ixr_init(struct ixr *x, struct store *s, const struct config *cfg)
{
	memset(x, 0, sizeof(*x));
	x->s = s;
	x->cfg = cfg;
	if ((x->a = mem_new()) == NULL)
		return -1;
	if (store_run(s, true, cfg->deadlock_retries, init_states_txn, x->a) != STORE_OK) {
		log_err("indexer: cannot initialise the index states");
		mem_free(x->a);
		return -1;
	}
	return 0;
}

static void
ixr_free(struct ixr *x)
{
	(void)sync_pending(x);
	free(x->pend);
	while (x->nw > 0)
		writer_close(x, 0);
	build_reset(&x->b);
	mem_free(x->a);
}

static void
rescan(struct ixr *x)
{
	int n = store_outbox_slots(x->s, x->slots, STORE_OUTBOX_SLOTS);

	if (n >= 0)
		x->nslots = n;
	x->rescan_at = timefmt_now_ms();
	x->look_for_builds = true;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

int
indexer_drain(struct store *s, const struct config *cfg, indexer_progress_fn progress,
    void *arg)
{
	struct ixr x;
	bool first = true;
	int rc = 0;

	if (ixr_init(&x, s, cfg) == -1)
		return -1;
	x.progress = progress;
	x.progress_arg = arg;
	rescan(&x);
	for (;;) {
		long n = outbox_round(&x, -1);
		int b = build_step(&x, first);

		first = false;
		if (n < 0 || b < 0) {
			rc = -1;
			break;
		}
		if (n == 0 && b == 0)
			break;
	}
	if (sync_pending(&x) == -1)
		rc = -1;
	ixr_free(&x);
	return rc;
}

static void
on_term(int sig)
{
	(void)sig;
	ix_stop = 1;
}

/*
 * Yielding to a write flood. Indexing a change costs more CPU than the
 * write that made it (docs/performance.md), so an indexer that tries to
 * keep pace with writes coming faster than it can index takes the CPU the
 * writes need, and falls behind all the same. With indexer_yield, after a
 * round that read FLOOD_BATCH entries while writes went on (bytes on the
 * wake pipe), and with no search waiting, it stops indexing until the writes
 * stop (no byte on the wake pipe for FLOOD_CHECK_MS) or a search waits (a
 * byte on the urgent pipe, which a waiting search writes every few ms):
 * then it indexes at full speed, so the search is answered as soon as the
 * index has caught up, within search_wait, or gets its 503 as before. No
 * search sees less than every write acknowledged before it began.
 */
struct flood {
	int64_t urgent_until;   /* a search waits: no yielding until then */
	int64_t since;          /* yielding since, or 0 */
};

/* Whether the next round may yield to a flood. */
static bool
may_yield(const struct flood *f, const struct config *cfg, int64_t now)
{
	return cfg->indexer_yield && now >= f->urgent_until;
}

/* One log line a minute while the disk keeps the indexer waiting. */
static void
space_wait_log(void)
{
	static int64_t logged;
	int64_t now = timefmt_now_ms();

	if (logged != 0 && now - logged < 60000 && now >= logged)
		return;
	logged = now;
	log_warn("indexer: the data directory's file system has less than min_free_space "
	    "free: indexing waits until there is more");
}

void
indexer_main(const struct config *cfg, int ready_fd, int parent, int wake_fd, int urgent_fd)
{
	struct flood fl = { 0, 0 };
	struct store *s = NULL;
	struct sigaction sa;
	struct ixr x;
	char err[512];
	int idle = 1;
	bool first = true;

	log_init("indexer", cfg->log_level);
	(void)prctl(PR_SET_NAME, "orchidd-index", 0, 0, 0);
	/* Writes come first: when the CPUs are all busy, indexing gives way
	 * and catches up after (searches wait for it, bounded). */
	if (setpriority(PRIO_PROCESS, 0, 10) == -1)
		log_warn("indexer: setpriority: %s", strerror(errno));
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGPIPE, &sa, NULL);
	if (store_open(cfg, &s, err, sizeof(err)) == -1) {
		log_err("%s", err);
		_exit(75);
	}
	if (ixr_init(&x, s, cfg) == -1) {
		store_close(s);
		_exit(75);
	}
	rescan(&x);
	if (write(ready_fd, "R", 1) != 1)
		log_warn("cannot report ready: %s", strerror(errno));
	(void)close(ready_fd);
	while (!ix_stop && !store_panicked(s)) {
		long n;
		int b = 0;

		/* The index lives on the data directory's file system too, and
		 * each round also writes to the log: below min_free_space the
		 * indexer waits, as the writes do (searches that need what it
		 * has not indexed answer 503 after search_wait meanwhile). */
		if (store_space_low(s)) {
			space_wait_log();
			sleep_ms(1000);
			continue;
		}
		if (timefmt_now_ms() - x.rescan_at >= RESCAN_MS)
			rescan(&x);
		if (drain(urgent_fd) > 0)
			fl.urgent_until = timefmt_now_ms() + URGENT_MS;
		if (fl.since != 0) {
			struct pollfd p = { urgent_fd, POLLIN, 0 };
			int64_t now;

			if (x.npend > 0 && sync_pending(&x) == -1) {
				sleep_ms(ERROR_PAUSE_MS);
				continue;
			}
			/* A build (orchidctl reindex, a missing index) is not
			 * put off: it was asked for. */
			if (x.look_for_builds) {
				x.look_for_builds = false;
				(void)build_step(&x, false);
			}
			if (!x.b.active)
				(void)poll(&p, 1, FLOOD_CHECK_MS);
			now = timefmt_now_ms();
			if (drain(urgent_fd) > 0)
				fl.urgent_until = now + URGENT_MS;
			if (now < fl.urgent_until || x.b.active || drain(wake_fd) == 0) {
				log_debug("indexer: indexing again after %lld ms (%s)",
				    (long long)(now - fl.since), now < fl.urgent_until ?
				    "a search waits" : x.b.active ? "an index build" :
				    "the writes stopped");
				fl.since = 0;
			}
			continue;
		}
		(void)drain(wake_fd);
		n = outbox_round(&x, may_yield(&fl, cfg, timefmt_now_ms()) ? wake_fd : -1);
		if (n == ROUND_FLOOD) {
			fl.since = timefmt_now_ms();
			log_debug("indexer: writes come faster than they can be indexed: "
			    "indexing waits until they stop or a search waits (indexer_yield)");
			continue;
		}
		/* A build goes one chunk at a time between outbox rounds, so
		 * other tenants' searches never wait for a whole build. */
		if (x.b.active || x.look_for_builds)
			b = build_step(&x, first);
		x.look_for_builds = false;
		first = false;
		/* Durable in batches, every SYNC_MS (searches see a commit at
		 * once through the marks; the outbox waits for the sync). */
		if (x.npend > 0 && (x.npend >= 4096 ||
		    timefmt_now_ms() - x.synced_at >= SYNC_MS) && sync_pending(&x) == -1) {
			sleep_ms(ERROR_PAUSE_MS);
			continue;
		}
		if (n < 0 || b < 0) {
			sleep_ms(ERROR_PAUSE_MS);
			continue;
		}
		if (n > 0 || b > 0) {
			idle = 1;
			continue;
		}
		{
			struct pollfd p = { wake_fd, POLLIN, 0 };
			int wait = idle;

			if (x.npend > 0) {
				int64_t left = x.synced_at + SYNC_MS - timefmt_now_ms();

				if (left < wait)
					wait = left > 0 ? (int)left : 0;
			}
			if (poll(&p, 1, wait) > 0)
				(void)drain(wake_fd);
		}
		if (idle < IDLE_MAX_MS)
			idle *= 2;
	}
	ixr_free(&x);
	{
		bool panicked = store_panicked(s);

		store_close(s);
		_exit(panicked ? 75 : 0);
	}
}
