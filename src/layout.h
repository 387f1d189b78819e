/*
 * layout: the key layouts and record codecs of the collection, item, event
 * and relation databases (docs/storage.md, format 2), in one place for
 * every module that reads or writes them: collections, items, events,
 * relations, reclaim, the format upgrade and orchidctl verify. Pure: no
 * I/O. Keys are built in an arena or a caller's buffer with room for a
 * suffix.
 *
 *   collections: T(be32) | name                   -> collection record (cid)
 *   counts:      T | cid(be64) | shard(1)          -> live items (be64)
 *   reclaim:     T | cid                           -> name (a dropped collection)
 *   I (item key) = T | cid | key
 *   items:    I                                   -> item record (the head)
 *   versions: I | 0x00 | seq(be64)                -> item record
 *   refs:     I | 0x00 | ref(8)                   -> seq(be64)
 *   events:   I | 0x00 | type | 0x00 | ts(be64) | ordinal(be64) -> event record
 *   evseq:    I                                   -> last ordinal (be64)
 *   relations: I(src) | 0x00 | kind | 0x00 | dst cid(be64) | dst key -> relation record
 *   relrev:    I(dst) | 0x00 | kind | 0x00 | src cid(be64) | src key -> "" (the mirror)
 *
 * Every record of a collection starts with its fixed-width prefix T | cid,
 * so a dropped collection's records are found by prefix. cids are below
 * 2^56: byte 4 of a format-2 key is 0x00, while in format 1 (T | name |
 * 0x00 | ...) it is the first byte of a non-empty name, never 0x00.
 *
 * Item record:  format(1) flags(1) seq(8) reftime(8) ref(8) value(...)
 * Event record: format(1) flags(1) reftime(8) ref(8) value(...)
 * Collection record: format(1) cid(8) created ms(8)
 * Relation record: format(1) reftime(8) ref(8) dst name length(be16)
 *                  dst name(...) value(...)
 *
 * A relation is stored twice: by source in relations.db (with its record)
 * and by destination in relrev.db (empty), so that a purge or a reclaim can
 * find the relations pointing at an item. The two keys hold the same parts
 * with the two items swapped; layout_rel_mirror turns one into the other.
 */
#ifndef ORCHID_LAYOUT_H
#define ORCHID_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"

struct arena;

#define LAYOUT_ITEM_HDR 26
#define LAYOUT_EVENT_HDR 18
#define LAYOUT_PREFIX_LEN 12   /* T | cid */
#define LAYOUT_COUNT_KEY_LEN 13
#define LAYOUT_COLL_REC_LEN 17
#define LAYOUT_SHARDS 16       /* counter records per collection */
#define LAYOUT_CID_MAX ((UINT64_C(1) << 56) - 1)
#define LAYOUT_REL_HDR 19      /* format, reftime, ref, name length */

/* One version of an item as stored (head or history). value points into the
 * record it was decoded from; a tombstone has no value. */
struct item_version {
	uint64_t seq;
	int64_t reftime;
	bool tombstone;
	unsigned char refbin[IDS_REF_BYTES];
	char ref[IDS_REF_LEN + 1];
	const char *value;
	size_t vlen;
};

/* One event as stored; value points into the record. */
struct event_record {
	int64_t reftime;
	unsigned char refbin[IDS_REF_BYTES];
	char ref[IDS_REF_LEN + 1];
	const char *value;
	size_t vlen;
};

/* A relation as stored in relations.db. dst_coll (the destination's
 * collection name, so a traversal can name the items it reaches) and value
 * (canonical JSON properties, "{}" when there are none) point into the
 * record it was decoded from. */
struct rel_record {
	int64_t reftime;
	unsigned char refbin[IDS_REF_BYTES];
	char ref[IDS_REF_LEN + 1];
	const char *dst_coll;
	size_t dst_coll_len;
	const char *value;
	size_t vlen;
};

/* The parts of a relations.db key (key: the source; other: the
 * destination) or of a relrev.db key (key: the destination; other: the
 * source). The strings point into the key and are not NUL-terminated. */
struct rel_key {
	uint32_t tenant;
	uint64_t cid;
	const char *key;
	size_t keylen;
	const char *kind;
	size_t kindlen;
	uint64_t other_cid;
	const char *other_key;
	size_t other_keylen;
};

/* A collection as stored in collections.db. */
struct coll_record {
	uint64_t cid;
	int64_t created;       /* ms */
};

/*
 * T | cid | key (key may be NULL: the collection prefix T | cid), with
 * extra bytes of room after it; *len is the length without the room. NULL
 * when out of memory.
 */
unsigned char *layout_item_key(struct arena *a, uint32_t tenant, uint64_t cid,
    const char *key, size_t extra, size_t *len);

/* Writes the collection prefix T | cid (LAYOUT_PREFIX_LEN bytes) at p. */
void layout_prefix(unsigned char *p, uint32_t tenant, uint64_t cid);
/* Reads T and cid of a key of at least LAYOUT_PREFIX_LEN bytes. */
void layout_prefix_get(const unsigned char *p, uint32_t *tenant, uint64_t *cid);

/* T | name, the key of collections.db; NULL when out of memory. */
unsigned char *layout_coll_key(struct arena *a, uint32_t tenant, const char *name,
    size_t *len);
/* Encodes a collection record into b (LAYOUT_COLL_REC_LEN bytes). */
void layout_coll_encode(unsigned char *b, const struct coll_record *c);
/* Decodes one; -1 when it is not one. */
int layout_coll_decode(const void *p, size_t len, struct coll_record *c);

/* The counter shard of an item key (0 .. LAYOUT_SHARDS - 1). */
unsigned layout_count_shard(const char *key, size_t len);
/* Writes the key T | cid | shard of counts.db at k (LAYOUT_COUNT_KEY_LEN). */
void layout_count_key(unsigned char *k, uint32_t tenant, uint64_t cid, unsigned shard);

/*
 * Format 1 (for the upgrade): splits a key T | name | 0x00 | rest into its
 * parts (pointers into k). -1 when k is not a format-1 key.
 */
int layout_v1_split(const void *k, size_t kl, uint32_t *tenant, const char **name,
    size_t *namelen, const unsigned char **rest, size_t *restlen);

/* Writes I | 0x00 | seq at k (room for ilen + 9 bytes); returns the length. */
size_t layout_version_key(unsigned char *k, size_t ilen, uint64_t seq);
/* Writes I | 0x00 | ref at k (room for ilen + 9 bytes); returns the length. */
size_t layout_ref_key(unsigned char *k, size_t ilen, const unsigned char *refbin);

/*
 * The event key prefix I | 0x00 | type | 0x00 with 16 bytes of room for the
 * position; *plen is the prefix length. NULL when out of memory.
 */
unsigned char *layout_event_key(struct arena *a, uint32_t tenant, uint64_t cid,
    const char *key, const char *type, size_t *plen);
/* Writes the position after the prefix. */
void layout_event_pos(unsigned char *k, size_t plen, uint64_t ts, uint64_t ord);
/* Reads the position of a full event key of prefix length plen. */
void layout_event_pos_get(const unsigned char *k, size_t plen, uint64_t *ts,
    uint64_t *ord);

/* Decodes a record; -1 when it is not one. */
int layout_item_decode(const void *p, size_t len, struct item_version *v);
int layout_event_decode(const void *p, size_t len, struct event_record *r);

/* Encodes a record into the arena; NULL when out of memory. */
unsigned char *layout_item_encode(struct arena *a, const struct item_version *v,
    size_t *len);
unsigned char *layout_event_encode(struct arena *a, const struct event_record *r,
    size_t *len);

/*
 * A key of relations.db or relrev.db: T | cid | key | 0x00 | kind | 0x00 |
 * other_cid | other_key. kind NULL: the prefix I | 0x00 of every relation
 * of the item; other_key NULL: the prefix up to and including kind | 0x00
 * (other_cid unused). In the arena; NULL when out of memory.
 */
unsigned char *layout_rel_key(struct arena *a, uint32_t tenant, uint64_t cid,
    const char *key, const char *kind, uint64_t other_cid, const char *other_key,
    size_t *len);

/*
 * Splits a full key of relations.db or relrev.db into its parts (pointers
 * into k). -1 when it is not one: too short, a missing separator, an empty
 * name, a NUL in the last name, a cid out of range.
 */
int layout_rel_split(const void *k, size_t kl, struct rel_key *out);

/*
 * The key of the same relation in the other database (relations.db <->
 * relrev.db): the two items swapped. In the arena; NULL when k is not a
 * relation key or out of memory.
 */
unsigned char *layout_rel_mirror(struct arena *a, const void *k, size_t kl,
    size_t *len);

/* Decodes a relation record; -1 when it is not one. */
int layout_rel_decode(const void *p, size_t len, struct rel_record *r);
/* Encodes one into the arena (dst_coll at most 65535 bytes); NULL when out
 * of memory or the name is too long. */
unsigned char *layout_rel_encode(struct arena *a, const struct rel_record *r,
    size_t *len);

#endif
