/*
 * ratelimit: per-tenant request-rate limits shared by every worker. A token
 * bucket per tenant in one shared memory table that the master maps before
 * forking; a process-shared robust mutex guards it, so a worker killed while
 * holding it cannot wedge the others.
 */
#ifndef ORCHID_RATELIMIT_H
#define ORCHID_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit;

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

#endif
