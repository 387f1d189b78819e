/*
 * layout: key layouts and record codecs (see layout.h, docs/storage.md).
 */
#include "layout.h"

#include <string.h>

#include "mem.h"
#include "util.h"

#define ITEM_FORMAT 1
#define ITEM_TOMBSTONE 0x01
#define EVENT_FORMAT 1

#define COLL_FORMAT 1
#define REL_FORMAT 1

static void
put_be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static uint16_t
get_be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void
layout_prefix(unsigned char *p, uint32_t tenant, uint64_t cid)
{
	util_put_be32(p, tenant);
	util_put_be64(p + 4, cid);
}

void
layout_prefix_get(const unsigned char *p, uint32_t *tenant, uint64_t *cid)
{
	*tenant = util_get_be32(p);
	*cid = util_get_be64(p + 4);
}

unsigned char *
layout_item_key(struct arena *a, uint32_t tenant, uint64_t cid, const char *key,
    size_t extra, size_t *len)
{
	size_t kl = key ? strlen(key) : 0;
	size_t n = LAYOUT_PREFIX_LEN + kl;
	unsigned char *b = mem_alloc(a, n + extra);

	if (b == NULL)
		return NULL;
	layout_prefix(b, tenant, cid);
	if (kl > 0)
		memcpy(b + LAYOUT_PREFIX_LEN, key, kl);
	*len = n;
	return b;
}

unsigned char *
layout_coll_key(struct arena *a, uint32_t tenant, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	unsigned char *b = mem_alloc(a, 4 + nl);

	if (b == NULL)
		return NULL;
	util_put_be32(b, tenant);
	memcpy(b + 4, name, nl);
	*len = 4 + nl;
	return b;
}

void
layout_coll_encode(unsigned char *b, const struct coll_record *c)
{
	b[0] = COLL_FORMAT;
	util_put_be64(b + 1, c->cid);
	util_put_be64(b + 9, (uint64_t)c->created);
}

int
layout_coll_decode(const void *p, size_t len, struct coll_record *c)
{
	const unsigned char *b = p;

	if (len < LAYOUT_COLL_REC_LEN || b[0] != COLL_FORMAT)
		return -1;
	c->cid = util_get_be64(b + 1);
	c->created = (int64_t)util_get_be64(b + 9);
	return c->cid == 0 || c->cid > LAYOUT_CID_MAX ? -1 : 0;
}

unsigned
layout_count_shard(const char *key, size_t len)
{
	/* FNV-1a: cheap, and spreads similar keys (k1, k2, ...) over shards. */
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return h % LAYOUT_SHARDS;
}

void
layout_count_key(unsigned char *k, uint32_t tenant, uint64_t cid, unsigned shard)
{
	layout_prefix(k, tenant, cid);
	k[LAYOUT_PREFIX_LEN] = (unsigned char)shard;
}

int
layout_v1_split(const void *k, size_t kl, uint32_t *tenant, const char **name,
    size_t *namelen, const unsigned char **rest, size_t *restlen)
{
	const unsigned char *b = k, *nul;

	if (kl < 6 || b[4] == 0)
		return -1;
	nul = memchr(b + 4, 0, kl - 4);
	if (nul == NULL || nul + 1 == b + kl)
		return -1;
	*tenant = util_get_be32(b);
	*name = (const char *)b + 4;
	*namelen = (size_t)(nul - (b + 4));
	*rest = nul + 1;
	*restlen = kl - (size_t)(nul + 1 - b);
	return 0;
}

size_t
layout_version_key(unsigned char *k, size_t ilen, uint64_t seq)
{
	k[ilen] = 0;
	util_put_be64(k + ilen + 1, seq);
	return ilen + 9;
}

size_t
layout_ref_key(unsigned char *k, size_t ilen, const unsigned char *refbin)
{
	k[ilen] = 0;
	memcpy(k + ilen + 1, refbin, IDS_REF_BYTES);
	return ilen + 1 + IDS_REF_BYTES;
}

unsigned char *
layout_event_key(struct arena *a, uint32_t tenant, uint64_t cid, const char *key,
    const char *type, size_t *plen)
{
	size_t tl = strlen(type), il;
	unsigned char *b = layout_item_key(a, tenant, cid, key, 1 + tl + 1 + 16, &il);

	if (b == NULL)
		return NULL;
	b[il] = 0;
	memcpy(b + il + 1, type, tl);
	b[il + 1 + tl] = 0;
	*plen = il + 1 + tl + 1;
	return b;
}

void
layout_event_pos(unsigned char *k, size_t plen, uint64_t ts, uint64_t ord)
{
	util_put_be64(k + plen, ts);
	util_put_be64(k + plen + 8, ord);
}

void
layout_event_pos_get(const unsigned char *k, size_t plen, uint64_t *ts, uint64_t *ord)
{
	*ts = util_get_be64(k + plen);
	*ord = util_get_be64(k + plen + 8);
}

int
layout_item_decode(const void *p, size_t len, struct item_version *v)
{
	const unsigned char *b = p;

	if (len < LAYOUT_ITEM_HDR || b[0] != ITEM_FORMAT)
		return -1;
	v->tombstone = (b[1] & ITEM_TOMBSTONE) != 0;
	v->seq = util_get_be64(b + 2);
	v->reftime = (int64_t)util_get_be64(b + 10);
	memcpy(v->refbin, b + 18, IDS_REF_BYTES);
	util_hex(v->refbin, IDS_REF_BYTES, v->ref);
	v->value = v->tombstone ? NULL : (const char *)b + LAYOUT_ITEM_HDR;
	v->vlen = v->tombstone ? 0 : len - LAYOUT_ITEM_HDR;
	return 0;
}

unsigned char *
layout_item_encode(struct arena *a, const struct item_version *v, size_t *len)
{
	size_t vl = v->tombstone ? 0 : v->vlen;
	unsigned char *b = mem_alloc(a, LAYOUT_ITEM_HDR + vl);

	if (b == NULL)
		return NULL;
	b[0] = ITEM_FORMAT;
	b[1] = v->tombstone ? ITEM_TOMBSTONE : 0;
	util_put_be64(b + 2, v->seq);
	util_put_be64(b + 10, (uint64_t)v->reftime);
	memcpy(b + 18, v->refbin, IDS_REF_BYTES);
	if (vl > 0)
		memcpy(b + LAYOUT_ITEM_HDR, v->value, vl);
	*len = LAYOUT_ITEM_HDR + vl;
	return b;
}

int
layout_event_decode(const void *p, size_t len, struct event_record *r)
{
	const unsigned char *b = p;

	if (len < LAYOUT_EVENT_HDR || b[0] != EVENT_FORMAT)
		return -1;
	r->reftime = (int64_t)util_get_be64(b + 2);
	memcpy(r->refbin, b + 10, IDS_REF_BYTES);
	util_hex(r->refbin, IDS_REF_BYTES, r->ref);
	r->value = (const char *)b + LAYOUT_EVENT_HDR;
	r->vlen = len - LAYOUT_EVENT_HDR;
	return 0;
}

unsigned char *
layout_event_encode(struct arena *a, const struct event_record *r, size_t *len)
{
	unsigned char *b = mem_alloc(a, LAYOUT_EVENT_HDR + r->vlen);

	if (b == NULL)
		return NULL;
	b[0] = EVENT_FORMAT;
	b[1] = 0;
	util_put_be64(b + 2, (uint64_t)r->reftime);
	memcpy(b + 10, r->refbin, IDS_REF_BYTES);
	if (r->vlen > 0)
		memcpy(b + LAYOUT_EVENT_HDR, r->value, r->vlen);
	*len = LAYOUT_EVENT_HDR + r->vlen;
	return b;
}

unsigned char *
layout_rel_key(struct arena *a, uint32_t tenant, uint64_t cid, const char *key,
    const char *kind, uint64_t other_cid, const char *other_key, size_t *len)
{
	size_t kl = strlen(key), tl = kind ? strlen(kind) : 0;
	size_t ol = kind && other_key ? strlen(other_key) : 0;
	size_t n = LAYOUT_PREFIX_LEN + kl + 1;
	unsigned char *b;

	if (kind != NULL)
		n += tl + 1 + (other_key != NULL ? 8 + ol : 0);
	if ((b = mem_alloc(a, n)) == NULL)
		return NULL;
	layout_prefix(b, tenant, cid);
	memcpy(b + LAYOUT_PREFIX_LEN, key, kl);
	b[LAYOUT_PREFIX_LEN + kl] = 0;
	if (kind != NULL) {
		unsigned char *p = b + LAYOUT_PREFIX_LEN + kl + 1;

		memcpy(p, kind, tl);
		p[tl] = 0;
		if (other_key != NULL) {
			util_put_be64(p + tl + 1, other_cid);
			memcpy(p + tl + 9, other_key, ol);
		}
	}
	*len = n;
	return b;
}

int
layout_rel_split(const void *k, size_t kl, struct rel_key *out)
{
	const unsigned char *b = k, *end = b + kl, *p, *nul;

	/* The shortest: a one-byte key and kind, the other cid, a one-byte key. */
	if (kl < LAYOUT_PREFIX_LEN + 2 + 2 + 8 + 1)
		return -1;
	layout_prefix_get(b, &out->tenant, &out->cid);
	p = b + LAYOUT_PREFIX_LEN;
	if ((nul = memchr(p, 0, (size_t)(end - p))) == NULL || nul == p)
		return -1;
	out->key = (const char *)p;
	out->keylen = (size_t)(nul - p);
	p = nul + 1;
	if ((nul = memchr(p, 0, (size_t)(end - p))) == NULL || nul == p)
		return -1;
	out->kind = (const char *)p;
	out->kindlen = (size_t)(nul - p);
	p = nul + 1;
	if (end - p < 9 || memchr(p + 8, 0, (size_t)(end - p - 8)) != NULL)
		return -1;
	out->other_cid = util_get_be64(p);
	out->other_key = (const char *)p + 8;
	out->other_keylen = (size_t)(end - p - 8);
	if (out->cid == 0 || out->cid > LAYOUT_CID_MAX || out->other_cid == 0 ||
	    out->other_cid > LAYOUT_CID_MAX)
		return -1;
	return 0;
}

unsigned char *
layout_rel_mirror(struct arena *a, const void *k, size_t kl, size_t *len)
{
	struct rel_key rk;
	unsigned char *b, *p;

	if (layout_rel_split(k, kl, &rk) == -1 || (b = mem_alloc(a, kl)) == NULL)
		return NULL;
	layout_prefix(b, rk.tenant, rk.other_cid);
	p = b + LAYOUT_PREFIX_LEN;
	memcpy(p, rk.other_key, rk.other_keylen);
	p += rk.other_keylen;
	*p++ = 0;
	memcpy(p, rk.kind, rk.kindlen);
	p += rk.kindlen;
	*p++ = 0;
	util_put_be64(p, rk.cid);
	memcpy(p + 8, rk.key, rk.keylen);
	*len = kl;
	return b;
}

int
layout_rel_decode(const void *p, size_t len, struct rel_record *r)
{
	const unsigned char *b = p;
	size_t nl;

	if (len < LAYOUT_REL_HDR || b[0] != REL_FORMAT)
		return -1;
	nl = get_be16(b + 17);
	if (nl == 0 || len - LAYOUT_REL_HDR < nl)
		return -1;
	r->reftime = (int64_t)util_get_be64(b + 1);
	memcpy(r->refbin, b + 9, IDS_REF_BYTES);
	util_hex(r->refbin, IDS_REF_BYTES, r->ref);
	r->dst_coll = (const char *)b + LAYOUT_REL_HDR;
	r->dst_coll_len = nl;
	r->value = r->dst_coll + nl;
	r->vlen = len - LAYOUT_REL_HDR - nl;
	return 0;
}

unsigned char *
layout_rel_encode(struct arena *a, const struct rel_record *r, size_t *len)
{
	size_t n = LAYOUT_REL_HDR + r->dst_coll_len + r->vlen;
	unsigned char *b;

	if (r->dst_coll_len == 0 || r->dst_coll_len > UINT16_MAX ||
	    (b = mem_alloc(a, n)) == NULL)
		return NULL;
	b[0] = REL_FORMAT;
	util_put_be64(b + 1, (uint64_t)r->reftime);
	memcpy(b + 9, r->refbin, IDS_REF_BYTES);
	put_be16(b + 17, (uint16_t)r->dst_coll_len);
	memcpy(b + LAYOUT_REL_HDR, r->dst_coll, r->dst_coll_len);
	if (r->vlen > 0)
		memcpy(b + LAYOUT_REL_HDR + r->dst_coll_len, r->value, r->vlen);
	*len = n;
	return b;
}
