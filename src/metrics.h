/*
 * metrics: the counters behind GET /metrics (docs/operations.md), in one
 * shared memory table that the master maps before forking, so they survive
 * worker restarts. Each worker writes only its own slot (its worker number),
 * with relaxed atomic adds: no lock and no cache line shared between workers
 * on the request path. Tenants share one open-addressed table of atomic
 * counters. A scrape sums the slots; it may see one request's counters half
 * added, never a torn number.
 *
 * This module knows no HTTP and no Berkeley DB: the caller classifies a
 * request (route id, method, status) and the /metrics handler adds the
 * store's figures (handle_metrics.c).
 */
#ifndef ORCHID_METRICS_H
#define ORCHID_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

/* Slots: one per worker (worker numbers 0 .. METRICS_SLOTS - 1). */
#define METRICS_SLOTS 256
/* Routes and methods are small integers below these (routes.h, http.h). */
#define METRICS_ROUTES 16
#define METRICS_METHODS 8
/* Tenants counted apart; the rest are summed under tenant="_other". */
#define METRICS_TENANTS 4096

struct metrics;

/* What the master counts. */
enum metrics_event {
	MEV_WORKER_START,    /* a worker (or the indexer) was forked */
	MEV_WORKER_FAILURE,  /* one exited abnormally (crash, signal, panic) */
	MEV_RECOVERY,        /* a full recovery, the one at start included */
	MEV_CHECKSUM_ERROR,  /* a page failed its checksum (metrics_checksum_error) */
	MEV_IO_ERROR,        /* a flush or write of a database file failed (not a full disk) */
	MEV_COUNT
};

/* Maps a zeroed table (before fork); NULL when it cannot. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* The master's counters. */
void metrics_event(struct metrics *m, enum metrics_event e);

/*
 * A page that failed its checksum, in any process: counts it
 * (MEV_CHECKSUM_ERROR) and returns true when the caller should log it: the
 * first, then at most one every METRICS_CHECKSUM_LOG_MS across all
 * processes, with *left_out the number not logged since the last line.
 * NULL m: true, *left_out 0.
 */
#define METRICS_CHECKSUM_LOG_MS 60000
bool metrics_checksum_error(struct metrics *m, uint64_t *left_out);

/*
 * One answered request of worker slot: route (< METRICS_ROUTES), method
 * (< METRICS_METHODS), the status sent, and the time from accept to the
 * answer written, in microseconds. tenant 0: not authenticated (not
 * counted per tenant); stored: the body bytes a successful write stored.
 */
void metrics_request(struct metrics *m, int slot, int route, int method, int status,
    uint64_t micros, uint32_t tenant, uint64_t stored);

/* Deadlock retries (Berkeley DB chose this worker's transaction as the
 * victim and it ran again), added by worker slot. */
void metrics_retries(struct metrics *m, int slot, uint64_t n);

/*
 * Appends the exposition (Prometheus text format 0.0.4) of these counters:
 * requests by route, method and status; latency histograms by route and
 * method; rate-limited requests; deadlock retries; worker starts and
 * failures; recoveries; per-tenant requests and stored bytes. route_label
 * names route ids; tenant_name names tenant ids (NULL: unknown, shown as
 * the id). Returns 0 or -1 (out.b_failed).
 */
int metrics_render(const struct metrics *m, struct buf *out,
    const char *(*route_label)(int route),
    const char *(*tenant_name)(void *ctx, uint32_t tenant), void *ctx);

/* The tenant ids with counters, for the caller to look names up before
 * rendering: up to max into ids; returns how many. */
int metrics_tenants(const struct metrics *m, uint32_t *ids, int max);

#endif
