/*
 * domain: results and conditions shared by the domain modules (domain.h).
 */
#include "domain.h"

#include <string.h>

#include <json-c/json.h>

#include "json.h"
#include "mem.h"
#include "patch.h"

enum dom_rc
dom_from_store(enum store_rc rc)
{
	switch (rc) {
	case STORE_OK:
		return DOM_OK;
	case STORE_NOTFOUND:
		return DOM_NOT_FOUND;
	case STORE_RETRY:
		return DOM_RETRY;
	case STORE_PANIC:
		return DOM_PANIC;
	default:
		return DOM_ERR;
	}
}

enum store_rc
dom_to_store(enum dom_rc rc)
{
	switch (rc) {
	case DOM_RETRY:
		return STORE_RETRY;
	case DOM_PANIC:
		return STORE_PANIC;
	case DOM_ERR:
		return STORE_ERR;
	default:
		return STORE_OK;
	}
}

bool
dom_fault(enum dom_rc rc)
{
	return rc == DOM_RETRY || rc == DOM_ERR || rc == DOM_PANIC;
}

bool
dom_cond_holds(const struct dom_cond *c, const char *ref)
{
	if (!c->present)
		return true;
	if (ref == NULL)
		return false;
	if (c->any)
		return true;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->refs[i], ref) == 0)
			return true;
	return false;
}

enum dom_rc
dom_patch_value(struct dom *d, const char *stored, size_t slen,
    struct json_object *patch, bool merge, struct patch_error *err,
    const char **value, size_t *vlen)
{
	struct patch_limits lim;
	struct json_object *doc = NULL;
	const char *why, *canon;
	char *copy;
	size_t len;
	enum dom_rc rc = DOM_ERR;

	memset(err, 0, sizeof(*err));
	err->op_index = -1;
	if (stored != NULL) {
		/* Stored values were parsed within limits once: only a fault can
		 * make them unreadable now. */
		if (json_parse_object(stored, slen, DOM_STORED_MAX_DEPTH, &doc, &why) != JSON_OK)
			return DOM_ERR;
	} else if ((doc = json_object_new_object()) == NULL) {
		return DOM_ERR;
	}
	lim.max_bytes = d->max_bytes;
	lim.max_depth = d->max_depth;
	switch (merge ? patch_merge(&doc, patch, &lim, err) : patch_apply(&doc, patch, &lim, err)) {
	case PATCH_OK:
		break;
	case PATCH_BAD_REQUEST:
		rc = DOM_INVALID;
		goto out;
	case PATCH_CONFLICT:
		rc = DOM_CONFLICT;
		goto out;
	case PATCH_TOO_LARGE:
		rc = DOM_TOO_LARGE;
		goto out;
	default:
		goto out;
	}
	if ((canon = json_canonical(doc, &len)) == NULL)
		goto out;
	/* The engine keeps within the limits as it goes; these checks of the
	 * result are the backstop. */
	if (len > d->max_bytes) {
		rc = DOM_TOO_LARGE;
	} else if (json_depth(canon, len) > d->max_depth) {
		rc = DOM_TOO_DEEP;
	} else if ((copy = mem_alloc(d->arena, len + 1)) != NULL) {
		/* The arena keeps the value past the release of doc. */
		memcpy(copy, canon, len);
		copy[len] = '\0';
		*value = copy;
		*vlen = len;
		rc = DOM_OK;
	}
out:
	json_release(doc);
	return rc;
}
