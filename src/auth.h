/*
 * auth: API keys. Parses the HTTP Basic header (the key is the user name),
 * makes new keys, and digests keys with SHA-256, the only form in which a key
 * is ever stored. Pure apart from libcrypto.
 */
#ifndef ORCHID_AUTH_H
#define ORCHID_AUTH_H

#include <stddef.h>

#define AUTH_DIGEST_LEN 32
#define AUTH_MAX_KEY 128
#define AUTH_MAX_HEADER 1024

/*
 * Extracts the user name of "Basic <base64(user:password)>" into key (size
 * AUTH_MAX_KEY + 1, NUL-terminated). The scheme is case-insensitive; the
 * base64 must be canonical; the user name must be 1..AUTH_MAX_KEY bytes with
 * no NUL or control characters. Returns 0 or -1.
 */
int auth_parse_basic(const char *header, char key[AUTH_MAX_KEY + 1]);

/* SHA-256 of the key's bytes. */
void auth_digest(const char *key, size_t len, unsigned char out[AUTH_DIGEST_LEN]);

/* A new random key in UUID form (122 random bits); 0 or -1. */
int auth_new_key(char out[37]);

#endif
