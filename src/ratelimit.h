/*
 * ratelimit: per-tenant request-rate limits shared by every worker. A token
 * bucket per tenant in one shared memory table that the master maps before
 * forking; a process-shared robust mutex guards it, so a worker killed while
 * holding it cannot wedge the others. The same table records the tenant
 * whose request each worker slot has in flight (tenant_max_inflight).
 */
#ifndef ORCHID_RATELIMIT_H
#define ORCHID_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

/* The highest worker slot number (master.c's workers and indexer). */
#define RATELIMIT_MAX_SLOT 256

/* Maps a shared table (before fork); NULL when it cannot. */
struct ratelimit *ratelimit_new(void);

/* Unmaps it; NULL is fine. */
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes one token for tenant at now_ms from a bucket refilled at rate per
 * second up to burst. Returns true when allowed; otherwise false and the
 * milliseconds until a token is available in *retry_ms. rate 0 allows all.
 */
bool ratelimit_take(struct ratelimit *rl, uint32_t tenant, int64_t now_ms,
    int rate, int burst, int64_t *retry_ms);

/*
 * Records that worker slot is answering a request of tenant, unless the
 * other slots already hold max requests of that tenant (max <= 0: no
 * limit). Returns false when refused (the slot is then recorded idle).
 * Calling it again for the same slot (a retried transaction) replaces the
 * slot's entry. Out-of-range slots and a NULL table allow all.
 */
bool ratelimit_enter(struct ratelimit *rl, int slot, uint32_t tenant, int max);

/* Records that worker slot has no request in flight: when its request was
 * answered, when a worker starts, and when the master reaps one. */
void ratelimit_leave(struct ratelimit *rl, int slot);

/* The requests of tenant in flight now (tests, metrics). */
int ratelimit_inflight(struct ratelimit *rl, uint32_t tenant);

#endif
