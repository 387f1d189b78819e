/*
 * tenants: tenants and their API keys over the store. A key is stored only
 * as its SHA-256 digest; its first 8 digest bytes in hex are the key's public
 * id, which `orchidctl key list` shows and `key revoke` accepts.
 */
#ifndef ORCHID_TENANTS_H
#define ORCHID_TENANTS_H

#include <stdint.h>

#include "buf.h"
#include "store.h"

struct arena;

#define TENANT_MAX_NAME 64

/* Looks up the tenant of an API key: STORE_OK with *tenant, or STORE_NOTFOUND.
 * The read holds no lock after it (store_get_committed), even in a write. */
enum store_rc tenants_auth(struct store_txn *t, struct arena *a, const char *key,
    uint32_t *tenant);

/* Finds or creates the tenant called name; *created tells which. */
enum store_rc tenants_ensure(struct store_txn *t, struct arena *a, const char *name,
    uint32_t *tenant, int *created);

/* Finds the tenant called name: STORE_OK or STORE_NOTFOUND. */
enum store_rc tenants_find(struct store_txn *t, const char *name, uint32_t *tenant);

/*
 * Finds a tenant given by name, or, when no tenant has that name and it is
 * a decimal number, by its id (what `tenant list` shows): STORE_OK with
 * *tenant, or STORE_NOTFOUND.
 */
enum store_rc tenants_resolve(struct store_txn *t, struct arena *a,
    const char *name_or_id, uint32_t *tenant);

/* Stores the digest of key for tenant. */
enum store_rc tenants_add_key(struct store_txn *t, uint32_t tenant, const char *key,
    int64_t now_ms);

/* Deletes a key given as the key itself or its 16-hex-digit id; *found. */
enum store_rc tenants_revoke(struct store_txn *t, const char *key_or_id, int *found);

/* Appends one line per tenant / per key (id, tenant, created) to out. */
enum store_rc tenants_list(struct store_txn *t, struct buf *out);
/* The name of tenant id, NUL-terminated in the arena: STORE_OK with *name,
 * or STORE_NOTFOUND. */
enum store_rc tenants_name(struct store_txn *t, struct arena *a, uint32_t id,
    const char **name);
enum store_rc tenants_list_keys(struct store_txn *t, struct arena *a, struct buf *out);

/* True when name is an acceptable tenant name (1..64 of [A-Za-z0-9._-]). */
int tenants_name_ok(const char *name);

#endif
