/*
 * testdom: the fixture of the domain tests (check_items, check_events). Each
 * test gets a fresh environment in a temp directory (testenv.h), joined with
 * store_open, and one arena for everything the test reads back. Every domain
 * call runs in its own write transaction, committed whatever the result
 * unless it is a fault, so a test sees exactly what a call wrote (a refused
 * call must have written nothing). Also: conditions from a short spec, the
 * names of results, and a visitor that records what it takes.
 * Header-only (static), included by one source file per program.
 */
#ifndef ORCHID_TESTDOM_H
#define ORCHID_TESTDOM_H

#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "domain.h"
#include "mem.h"
#include "store.h"
#include "testenv.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* The time of every request of the tests: 2014-09-22T21:25:54.480Z. */
#define NOW		INT64_C(1411421154480)
/* The limits of a write unless a test sets others. */
#define DEF_BYTES	4096
#define DEF_DEPTH	8

/* The refs (first 8 bytes of SHA-256, computed with `printf %s VALUE |
 * openssl dgst -sha256`) of the values the tests store. */
#define V1		"{\"a\":1}"
#define REF1		"015abd7f5cc57a2d"
#define V2		"{\"a\":2}"
#define REF2		"7e8059f495589fcd"
#define VB		"{\"b\":1}"
#define REFB		"eb8ed3ccb5023093"
#define VE		"{}"
#define REFE		"44136fa355b3678a"
#define REFNULL		"74234e98afe7498f"	/* of "null": a tombstone's */
#define REFNONE		"0123456789abcdef"	/* of nothing stored */

static char td_dir[512];
static struct config td_cfg;
static struct store *td_st;
static struct arena *td_ar;
static size_t td_max_bytes;
static int td_max_depth;

static inline void
td_setup(void)
{
	char err[512] = "";

	testenv_make("check_dom", td_dir, sizeof(td_dir), &td_cfg);
	td_st = NULL;
	ck_assert_msg(store_open(&td_cfg, &td_st, err, sizeof(err)) == 0,
	    "store_open(%s): got -1 (%s), want 0", td_dir, err);
	td_ar = mem_new();
	ck_assert_msg(td_ar != NULL, "mem_new: got NULL, want an arena");
	td_max_bytes = DEF_BYTES;
	td_max_depth = DEF_DEPTH;
}

static inline void
td_teardown(void)
{
	store_close(td_st);
	td_st = NULL;
	mem_free(td_ar);
	td_ar = NULL;
	testenv_remove(td_dir);
}

static inline const char *
dom_rc_name(enum dom_rc rc)
{
	switch (rc) {
	case DOM_OK: return "DOM_OK";
	case DOM_NOT_FOUND: return "DOM_NOT_FOUND";
	case DOM_MISMATCH: return "DOM_MISMATCH";
	case DOM_PRESENT: return "DOM_PRESENT";
	case DOM_INVALID: return "DOM_INVALID";
	case DOM_CONFLICT: return "DOM_CONFLICT";
	case DOM_TOO_LARGE: return "DOM_TOO_LARGE";
	case DOM_TOO_DEEP: return "DOM_TOO_DEEP";
	case DOM_UNAVAILABLE: return "DOM_UNAVAILABLE";
	case DOM_RETRY: return "DOM_RETRY";
	case DOM_ERR: return "DOM_ERR";
	case DOM_PANIC: return "DOM_PANIC";
	}
	return "?";
}

/* A domain context over a new write transaction of tenant. */
static inline void
td_begin(struct dom *d, uint32_t tenant)
{
	enum store_rc rc;

	memset(d, 0, sizeof(*d));
	rc = store_begin(td_st, true, &d->txn);
	ck_assert_msg(rc == STORE_OK, "store_begin: got %d, want STORE_OK", (int)rc);
	d->arena = td_ar;
	d->tenant = tenant;
	d->now_ms = NOW;
	d->max_bytes = td_max_bytes;
	d->max_depth = td_max_depth;
}

/* Ends the transaction of d as the runner does: commit unless rc is a fault. */
static inline void
td_end(struct dom *d, enum dom_rc rc)
{
	if (dom_fault(rc)) {
		store_abort(d->txn);
	} else {
		enum store_rc src = store_commit(d->txn);

		ck_assert_msg(src == STORE_OK, "store_commit: got %d, want STORE_OK",
		    (int)src);
	}
	d->txn = NULL;
}

/*
 * A condition from spec: NULL, none; "*", any; "", present with no refs
 * (what a list of weak tags becomes: it never matches); else refs separated
 * by commas.
 */
static inline void
td_cond(struct dom_cond *c, const char *spec)
{
	memset(c, 0, sizeof(*c));
	if (spec == NULL)
		return;
	c->present = true;
	if (strcmp(spec, "*") == 0) {
		c->any = true;
		return;
	}
	for (const char *p = spec; *p != '\0' && c->n < DOM_COND_MAX;) {
		size_t len = strcspn(p, ",");

		ck_assert_msg(len <= IDS_REF_LEN, "condition \"%s\": got an entry of "
		    "%zu bytes, want at most %d", spec, len, IDS_REF_LEN);
		memcpy(c->refs[c->n], p, len);
		c->refs[c->n++][len] = '\0';
		p += len + (p[len] == ',');
	}
}

/*
 * What a visitor of a list took, as a comma-separated string. The call
 * numbered stop_at (from 1) returns DOM_VISIT_STOP, fail_at DOM_VISIT_FAIL;
 * neither takes its entry.
 */
struct td_rec {
	char got[1024];
	size_t len;
	int calls;
	int stop_at;
	int fail_at;
};

static inline void
td_rec_init(struct td_rec *r, int stop_at, int fail_at)
{
	memset(r, 0, sizeof(*r));
	r->stop_at = stop_at;
	r->fail_at = fail_at;
}

/* Counts a call; DOM_VISIT_NEXT when the entry is to be taken. */
static inline enum dom_visit
td_rec_call(struct td_rec *r)
{
	r->calls++;
	if (r->calls == r->stop_at)
		return DOM_VISIT_STOP;
	if (r->calls == r->fail_at)
		return DOM_VISIT_FAIL;
	return DOM_VISIT_NEXT;
}

__attribute__((format(printf, 2, 3)))
static inline void
td_rec_add(struct td_rec *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->len > 0 && r->len + 1 < sizeof(r->got))
		r->got[r->len++] = ',';
	va_start(ap, fmt);
	n = vsnprintf(r->got + r->len, sizeof(r->got) - r->len, fmt, ap);
	va_end(ap);
	ck_assert_msg(n >= 0 && (size_t)n < sizeof(r->got) - r->len,
	    "recording a visit: got more than %zu bytes, want fewer", sizeof(r->got));
	r->len += (size_t)n;
}

#endif
