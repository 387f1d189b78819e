/*
 * domain: what every business rule of the domain layer (items.h, events.h)
 * receives and returns. A domain call works on one store transaction for
 * one tenant, takes typed inputs (names, canonical JSON values, conditions)
 * and returns a typed outcome; it knows nothing of HTTP or FastCGI. The
 * HTTP handlers (handle_*.c), orchidctl and later bulk import call it.
 */
#ifndef ORCHID_DOMAIN_H
#define ORCHID_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "store.h"

struct arena;

/* The context of a domain call. */
struct dom {
	struct store_txn *txn;
	struct arena *arena;   /* for everything returned; freed by the caller */
	uint32_t tenant;
	int64_t now_ms;        /* the time of the request (generated keys, event time) */
	size_t max_bytes;      /* the largest value a write may store (max_body) */
	int max_depth;         /* the deepest value a write may store */
	int64_t reftime;       /* 0: writes take the clock's time; else the
	                        * reftime they keep (an import of an export) */
};

enum dom_rc {
	DOM_OK = 0,
	DOM_NOT_FOUND,     /* no such item, version, ref or event */
	DOM_MISMATCH,      /* If-Match failed (or the target is missing) */
	DOM_PRESENT,       /* If-None-Match failed: the item exists */
	DOM_INVALID,       /* the input is refused (patch: malformed operations) */
	DOM_CONFLICT,      /* a patch operation could not apply */
	DOM_TOO_LARGE,     /* the result would be larger than max_bytes */
	DOM_TOO_DEEP,      /* the result would nest deeper than max_depth */
	DOM_UNAVAILABLE,   /* not now: the search index is being built or behind */
	/* Faults: the transaction must be aborted. */
	DOM_RETRY,         /* deadlock: run the whole transaction again */
	DOM_ERR,           /* store or memory failure (logged) */
	DOM_PANIC          /* the environment needs recovery */
};

/* The depth limit for reading back a stored value: it was within the
 * limits of its write, which may have been larger than today's, but never
 * above the largest max_json_depth config.c accepts. (json-c allocates a
 * parse stack of this many levels for every parse: keep it that small.) */
#define DOM_STORED_MAX_DEPTH 1000

/* A store result as a domain result (STORE_NOTFOUND: DOM_NOT_FOUND). */
enum dom_rc dom_from_store(enum store_rc rc);
/* A fault as the store result the transaction runner expects. */
enum store_rc dom_to_store(enum dom_rc rc);
/* True for DOM_RETRY, DOM_ERR and DOM_PANIC. */
bool dom_fault(enum dom_rc rc);

/*
 * A condition on the current ref (If-Match, If-None-Match). Absent: no
 * condition. any: "*". Otherwise it holds when the current ref is one of
 * refs (lower-case hex; entries that are not refs never match).
 */
#define DOM_COND_MAX 16
struct dom_cond {
	bool present;
	bool any;
	size_t n;
	char refs[DOM_COND_MAX][IDS_REF_LEN + 1];
};

/* True when the condition holds for ref (NULL: there is no current version). */
bool dom_cond_holds(const struct dom_cond *c, const char *ref);

/*
 * The patch rule shared by items and events: applies patch (an array of
 * operations, or with merge an RFC 7386 document) to the stored value (NULL:
 * to {}), and checks the result against the dom's limits. On DOM_OK
 * *value and *vlen are the canonical result, in the dom's arena. DOM_INVALID and
 * DOM_CONFLICT fill err (release it with patch_error_free); a result deeper
 * than max_depth, or more work than the budget, is DOM_CONFLICT naming the
 * operation (patch.h); larger than max_bytes is DOM_TOO_LARGE. DOM_TOO_DEEP
 * only as a backstop, should the engine ever let such a result through.
 */
struct json_object;
struct patch_error;
enum dom_rc dom_patch_value(struct dom *d, const char *stored, size_t slen,
    struct json_object *patch, bool merge, struct patch_error *err,
    const char **value, size_t *vlen);

/*
 * Lists hand each entry to a visitor of the caller (items.h, events.h),
 * which returns one of these.
 */
enum dom_visit {
	DOM_VISIT_NEXT,  /* taken; go on */
	DOM_VISIT_STOP,  /* not taken (e.g. the response is full): end the list
	                  * here and report that there is more */
	DOM_VISIT_FAIL   /* out of memory: the list fails with DOM_ERR */
};

#endif
