/*
 * tenants: tenant ids are allocated densely from 1; keys map
 * sha256(key) -> tenant id (be32) + creation time (be64).
 */
#include "tenants.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "mem.h"
#include "timefmt.h"
#include "util.h"

int
tenants_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > TENANT_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

enum store_rc
tenants_auth(struct store_txn *t, struct arena *a, const char *key, uint32_t *tenant)
{
	unsigned char d[AUTH_DIGEST_LEN];
	void *v;
	size_t vl;
	enum store_rc rc;

	auth_digest(key, strlen(key), d);
	/* Every request's transaction reads its key here, writes included: a
	 * lock held until the commit would keep "key revoke" (a write on the
	 * same page) waiting for the slowest write in progress. */
	rc = store_get_committed(t, STORE_DB_APIKEYS, d, sizeof(d), a, &v, &vl);
	if (rc != STORE_OK)
		return rc;
	if (vl < 4)
		return STORE_ERR;
	*tenant = util_get_be32(v);
	return STORE_OK;
}

enum store_rc
tenants_find(struct store_txn *t, const char *name, uint32_t *tenant)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl, n = strlen(name);
	enum store_rc rc;

	rc = store_cursor_open(t, STORE_DB_TENANTS, &c);
	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	while (rc == STORE_OK) {
		if (kl == 4 && vl == n && memcmp(v, name, n) == 0) {
			*tenant = util_get_be32(k);
			break;
		}
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	}
	store_cursor_close(c);
	return rc;
}

enum store_rc
tenants_resolve(struct store_txn *t, struct arena *a, const char *name_or_id,
    uint32_t *tenant)
{
	unsigned char idb[4];
	int64_t id;
	void *v;
	size_t vl;
	enum store_rc rc = tenants_find(t, name_or_id, tenant);

	if (rc != STORE_NOTFOUND ||
	    util_parse_int64(name_or_id, strlen(name_or_id), 1, UINT32_MAX, &id) == -1)
		return rc;
	util_put_be32(idb, (uint32_t)id);
	rc = store_get(t, STORE_DB_TENANTS, idb, sizeof(idb), false, a, &v, &vl);
	if (rc == STORE_OK)
		*tenant = (uint32_t)id;
	return rc;
}

enum store_rc
tenants_ensure(struct store_txn *t, struct arena *a, const char *name,
    uint32_t *tenant, int *created)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	unsigned char idb[4];
	uint32_t id = 1;
	enum store_rc rc;

	(void)a;
	*created = 0;
	rc = tenants_find(t, name, tenant);
	if (rc != STORE_NOTFOUND)
		return rc;
	rc = store_cursor_open(t, STORE_DB_TENANTS, &c);
	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_LAST, NULL, 0, &k, &kl, &v, &vl);
	if (rc == STORE_OK && kl == 4)
		id = util_get_be32(k) + 1;
	store_cursor_close(c);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	util_put_be32(idb, id);
	rc = store_put(t, STORE_DB_TENANTS, idb, 4, name, strlen(name));
	if (rc == STORE_OK) {
		*tenant = id;
		*created = 1;
	}
	return rc;
}

enum store_rc
tenants_name(struct store_txn *t, struct arena *a, uint32_t id, const char **name)
{
	unsigned char idb[4];
	void *v;
	size_t vl;
	char *n;
	enum store_rc rc;

	util_put_be32(idb, id);
	rc = store_get(t, STORE_DB_TENANTS, idb, 4, false, a, &v, &vl);
	if (rc != STORE_OK)
		return rc;
	if ((n = mem_alloc(a, vl + 1)) == NULL)
		return STORE_ERR;
	memcpy(n, v, vl);
	n[vl] = '\0';
	*name = n;
	return STORE_OK;
}

enum store_rc
tenants_add_key(struct store_txn *t, uint32_t tenant, const char *key, int64_t now_ms)
{
	unsigned char d[AUTH_DIGEST_LEN], v[12];

	auth_digest(key, strlen(key), d);
	util_put_be32(v, tenant);
	util_put_be64(v + 4, (uint64_t)now_ms);
	return store_put(t, STORE_DB_APIKEYS, d, sizeof(d), v, sizeof(v));
}

enum store_rc
tenants_revoke(struct store_txn *t, const char *key_or_id, int *found)
{
	unsigned char d[AUTH_DIGEST_LEN];
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc;
	char id[17];

	*found = 0;
	auth_digest(key_or_id, strlen(key_or_id), d);
	rc = store_cursor_open(t, STORE_DB_APIKEYS, &c);
	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	while (rc == STORE_OK) {
		util_hex(k, 8, id);
		if ((kl == sizeof(d) && memcmp(k, d, sizeof(d)) == 0) ||
		    strcmp(id, key_or_id) == 0) {
			rc = store_cursor_del(c);
			*found = rc == STORE_OK;
			break;
		}
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	}
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

enum store_rc
tenants_list(struct store_txn *t, struct buf *out)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc;

	rc = store_cursor_open(t, STORE_DB_TENANTS, &c);
	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	while (rc == STORE_OK) {
		buf_printf(out, "%u\t%.*s\n", kl == 4 ? util_get_be32(k) : 0, (int)vl,
		    (const char *)v);
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	}
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

enum store_rc
tenants_list_keys(struct store_txn *t, struct arena *a, struct buf *out)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	enum store_rc rc;
	char id[17], when[TIMEFMT_ISO_SIZE + 1];

	(void)a;
	rc = store_cursor_open(t, STORE_DB_APIKEYS, &c);
	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
	while (rc == STORE_OK) {
		if (kl >= 8 && vl >= 12) {
			util_hex(k, 8, id);
			if (timefmt_iso8601((int64_t)util_get_be64((const unsigned char *)v + 4),
			    when, sizeof(when)) == -1)
				snprintf(when, sizeof(when), "-");
			buf_printf(out, "%s\t%u\t%s\n", id, util_get_be32(v), when);
		}
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	}
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}
