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

unsigned char *
layout_item_key(struct arena *a, uint32_t tenant, const char *collection,
    const char *key, size_t extra, size_t *len)
{
	size_t cl = strlen(collection), kl = key ? strlen(key) : 0;
	size_t n = 4 + cl + 1 + kl;
	unsigned char *b = mem_alloc(a, n + extra);

	if (b == NULL)
		return NULL;
	util_put_be32(b, tenant);
	memcpy(b + 4, collection, cl);
	b[4 + cl] = 0;
	if (kl > 0)
		memcpy(b + 5 + cl, key, kl);
	*len = n;
	return b;
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
layout_event_key(struct arena *a, uint32_t tenant, const char *collection,
    const char *key, const char *type, size_t *plen)
{
	size_t tl = strlen(type), il;
	unsigned char *b = layout_item_key(a, tenant, collection, key, 1 + tl + 1 + 16, &il);

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
