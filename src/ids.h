/*
 * ids: identifiers. Refs (content hashes of stored values), generated keys
 * and event ordinals (time-ordered 64-bit ids), UUIDs. Randomness and hashing
 * come from OpenSSL's libcrypto.
 */
#ifndef ORCHID_IDS_H
#define ORCHID_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDS_REF_LEN 16       /* hex digits of a ref */
#define IDS_REF_BYTES 8
#define IDS_EPOCH_MS INT64_C(1388534400000) /* 2014-01-01T00:00:00Z */

/*
 * Computes the ref of a stored value: the first 8 bytes of SHA-256 over the
 * len bytes at value, as 16 lowercase hex digits plus NUL in out. The binary
 * form goes to bin when bin is not NULL.
 */
void ids_ref(const char *value, size_t len, char out[IDS_REF_LEN + 1],
    unsigned char bin[IDS_REF_BYTES]);

/* Parses 16 hex digits into the 8 binary bytes of a ref; 0 or -1. */
int ids_ref_parse(const char *s, size_t len, unsigned char bin[IDS_REF_BYTES]);

/* Fills buf with n cryptographically random bytes; 0 or -1. */
int ids_random(void *buf, size_t n);

/*
 * A time-ordered id: ((now_ms - 2014-01-01) << 24) | low24. Generated keys use
 * a random low24; ordinals a counter. Times before the id epoch give 0 high bits.
 */
uint64_t ids_time_id(int64_t now_ms, uint32_t low24);

/* Writes id as 16 lowercase hex digits plus NUL. */
void ids_hex64(uint64_t id, char out[17]);

/* A random (version 4) UUID, 36 characters plus NUL; 0 or -1. */
int ids_uuid(char out[37]);

#endif
