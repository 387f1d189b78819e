/*
 * GET /metrics: the Prometheus text exposition (format 0.0.4) of the
 * counters of metrics.h and the environment's figures (store_metrics). No
 * API key: nginx lets only the addresses the operator allows reach it
 * (conf/nginx/orchid-locations.conf; loopback by default), and it shows
 * no tenant data beyond per-tenant counters. docs/operations.md lists the
 * metrics.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "handler.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "routes.h"
#include "tenants.h"

/* Tenant names looked up once per scrape, in one read transaction. */
#define NAMES_MAX 4096

struct names {
	uint32_t ids[NAMES_MAX];
	const char *name[NAMES_MAX];
	int n;
};

static const char *
route_label(int route)
{
	return routes_label((enum route_id)route);
}

static const char *
tenant_name(void *ctx, uint32_t tenant)
{
	const struct names *nm = ctx;

	for (int i = 0; i < nm->n; i++) {
		if (nm->ids[i] == tenant)
			return nm->name[i];
	}
	return NULL;
}

static enum store_rc
lookup_names(struct store *s, struct arena *a, struct names *nm)
{
	struct store_txn *t;
	enum store_rc rc = store_begin(s, false, &t);

	if (rc != STORE_OK)
		return rc;
	for (int i = 0; i < nm->n && rc == STORE_OK; i++) {
		nm->name[i] = NULL;
		rc = tenants_name(t, a, nm->ids[i], &nm->name[i]);
		if (rc == STORE_NOTFOUND)
			rc = STORE_OK;
	}
	store_abort(t);
	return rc;
}

static void
db_counter(struct buf *out, const char *name, const char *help, uint64_t v)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help,
	    name, name, v);
}

static void
db_gauge(struct buf *out, const char *name, const char *help, double v)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name,
	    v);
}

static void
render_store(const struct store_metrics *sm, struct buf *out)
{
	db_counter(out, "orchid_db_transactions_begun_total", "Berkeley DB transactions "
	    "begun since the last recovery.", sm->begins);
	db_counter(out, "orchid_db_commits_total", "Transactions committed since the last "
	    "recovery.", sm->commits);
	db_counter(out, "orchid_db_aborts_total", "Transactions aborted since the last "
	    "recovery (reads end by aborting; deadlock victims too).", sm->aborts);
	db_gauge(out, "orchid_db_active_transactions", "Transactions open now.",
	    (double)sm->active);
	db_counter(out, "orchid_db_log_flushes_total", "Flushes (fdatasync) of the "
	    "transaction log since the last recovery.", sm->log_flushes);
	db_counter(out, "orchid_db_log_written_bytes_total", "Bytes written to the "
	    "transaction log since the last recovery.", sm->log_bytes);
	if (sm->checkpoint_time > 0)
		db_gauge(out, "orchid_db_checkpoint_age_seconds", "Seconds since the last "
		    "checkpoint.", (double)((int64_t)time(NULL) - sm->checkpoint_time));
	db_counter(out, "orchid_db_cache_hits_total", "Page requests the cache answered.",
	    sm->cache_hits);
	db_counter(out, "orchid_db_cache_misses_total", "Page requests read from disk.",
	    sm->cache_misses);
	db_gauge(out, "orchid_db_cache_bytes", "Size of the cache (cache_size).",
	    (double)sm->cache_bytes);
	db_gauge(out, "orchid_db_cache_dirty_pages", "Pages in the cache not yet written "
	    "back.", (double)sm->cache_dirty_pages);
	db_counter(out, "orchid_db_lock_requests_total", "Lock requests.",
	    sm->lock_requests);
	db_counter(out, "orchid_db_lock_waits_total", "Lock requests that had to wait for "
	    "another transaction.", sm->lock_waits);
	db_counter(out, "orchid_db_deadlocks_total", "Deadlocks Berkeley DB broke by "
	    "aborting a victim.", sm->deadlocks);
	db_gauge(out, "orchid_db_locks", "Locks held now.", (double)sm->locks);
	db_gauge(out, "orchid_disk_free_bytes", "Bytes free (for orchidd's user) on the data "
	    "directory's file system; writes get 507 below min_free_space.",
	    (double)sm->disk_free);
	db_gauge(out, "orchid_disk_size_bytes", "Size of the data directory's file system.",
	    (double)sm->disk_size);
	buf_adds(out, "# HELP orchid_db_file_bytes Size of each database file, and of "
	    "the transaction log files together (file=\"log\").\n"
	    "# TYPE orchid_db_file_bytes gauge\n");
	for (int i = 0; i < sm->nfiles; i++)
		buf_printf(out, "orchid_db_file_bytes{file=\"%s\"} %" PRIu64 "\n",
		    sm->files[i].name, sm->files[i].bytes);
}

/* A replicated site's part, lag and group (docs/replication.md). */
static int
render_replication(struct store *s, struct arena *a, int64_t now_ms, struct buf *out)
{
	struct store_rep_info *ri = mem_alloc(a, sizeof(*ri));
	static const char *roles[] = { "single", "master", "replica", "unknown" };
	int connected = 0;

	if (ri == NULL || store_rep_info(s, ri) == -1)
		return -1;
	if (ri->role == STORE_ROLE_SINGLE)
		return 0;
	buf_adds(out, "# HELP orchid_replication_role This site's part in its replication "
	    "group: 1 for the part it has now.\n# TYPE orchid_replication_role gauge\n");
	for (int i = 1; i < 4; i++)
		buf_printf(out, "orchid_replication_role{role=\"%s\"} %d\n", roles[i],
		    (int)ri->role == i);
	for (int i = 0; i < ri->nsites; i++)
		connected += ri->sites[i].connected;
	db_gauge(out, "orchid_replication_sites", "Sites of the replication group this site "
	    "knows, itself included.", (double)ri->nsites);
	db_gauge(out, "orchid_replication_connected_sites", "Sites this site is connected "
	    "to, itself included.", (double)connected);
	/* None before the first heartbeat has arrived. */
	if (ri->role == STORE_ROLE_MASTER || ri->beat_ms != 0)
		db_gauge(out, "orchid_replication_lag_seconds", "Age of the master's last "
		    "heartbeat this site has applied (0 on the master).",
		    ri->role == STORE_ROLE_MASTER ? 0 : (double)(now_ms - ri->beat_ms) / 1000.0);
	db_gauge(out, "orchid_replication_generation", "Replication generation (one more "
	    "per elected master).", (double)ri->gen);
	db_counter(out, "orchid_replication_elections_total", "Elections this site took "
	    "part in since its last recovery.", ri->elections);
	db_counter(out, "orchid_replication_master_changes_total", "Times this site saw a "
	    "new master since its last recovery.", ri->master_changes);
	db_counter(out, "orchid_replication_unacknowledged_total", "Commits of this site "
	    "that the group did not acknowledge in time (answered 503).", ri->perm_failed);
	return 0;
}

enum store_rc
handle_metrics(struct ctx *c)
{
	struct response *resp = c->resp;
	const struct metrics *m = c->req->metrics;
	struct store_metrics sm;
	struct names *nm;
	enum store_rc rc;

	if (m == NULL) {
		http_error(resp, 404, "api_bad_request",
		    "The requested resource does not exist.", NULL);
		return STORE_OK;
	}
	nm = mem_alloc(c->req->arena, sizeof(*nm));
	if (nm == NULL)
		return STORE_ERR;
	nm->n = metrics_tenants(m, nm->ids, NAMES_MAX);
	rc = lookup_names(c->store, c->req->arena, nm);
	if (rc != STORE_OK)
		return rc;
	if (store_metrics(c->store, &sm) == -1)
		return STORE_ERR;
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (metrics_render(m, &resp->body, route_label, tenant_name, nm) == -1)
		return STORE_ERR;
	db_gauge(&resp->body, "orchid_workers", "Workers configured (workers).",
	    (double)c->req->cfg->workers);
	render_store(&sm, &resp->body);
	if (config_replicated(c->req->cfg) &&
	    render_replication(c->store, c->req->arena, c->req->now_ms, &resp->body) == -1)
		return STORE_ERR;
	return resp->body.b_failed ? STORE_ERR : STORE_OK;
}
