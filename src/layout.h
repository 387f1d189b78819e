/*
 * layout: the key layouts and record codecs of the item and event databases
 * (docs/storage.md), in one place for every module that reads or writes
 * them: the items and events domains, collection delete, orchidctl verify.
 * Pure: no I/O. Keys are built in an arena with room for a suffix.
 *
 *   I (item key)   = T(be32) | collection | 0x00 | key
 *   items:    I                                   -> item record (the head)
 *   versions: I | 0x00 | seq(be64)                -> item record
 *   refs:     I | 0x00 | ref(8)                   -> seq(be64)
 *   events:   I | 0x00 | type | 0x00 | ts(be64) | ordinal(be64) -> event record
 *   evseq:    I                                   -> last ordinal (be64)
 *
 * Item record:  format(1) flags(1) seq(8) reftime(8) ref(8) value(...)
 * Event record: format(1) flags(1) reftime(8) ref(8) value(...)
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

/*
 * T | collection | 0x00 | key (key may be NULL: the collection prefix
 * T | collection | 0x00), with extra bytes of room after it; *len is the
 * length without the room. NULL when out of memory.
 */
unsigned char *layout_item_key(struct arena *a, uint32_t tenant,
    const char *collection, const char *key, size_t extra, size_t *len);

/* Writes I | 0x00 | seq at k (room for ilen + 9 bytes); returns the length. */
size_t layout_version_key(unsigned char *k, size_t ilen, uint64_t seq);
/* Writes I | 0x00 | ref at k (room for ilen + 9 bytes); returns the length. */
size_t layout_ref_key(unsigned char *k, size_t ilen, const unsigned char *refbin);

/*
 * The event key prefix I | 0x00 | type | 0x00 with 16 bytes of room for the
 * position; *plen is the prefix length. NULL when out of memory.
 */
unsigned char *layout_event_key(struct arena *a, uint32_t tenant,
    const char *collection, const char *key, const char *type, size_t *plen);
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

#endif
