/*
 * metrics: shared counters and their exposition (metrics.h).
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* The statuses Orchid and nginx's pages answer; any other is "other". */
static const int statuses[] = {
	200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 406, 409, 411, 412, 413,
	414, 415, 422, 429, 431, 500, 501, 502, 503, 504, 507,
};
#define NSTATUS ((int)(sizeof(statuses) / sizeof(statuses[0])) + 1)

/* Upper bounds of the latency buckets, in microseconds (+Inf after). */
static const uint64_t bounds_us[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
#define NBOUND ((int)(sizeof(bounds_us) / sizeof(bounds_us[0])))

static const char *const method_names[METRICS_METHODS] = {
	"GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "other", "other",
};

struct mslot {
	uint64_t requests[METRICS_ROUTES][METRICS_METHODS][NSTATUS];
	uint64_t buckets[METRICS_ROUTES][METRICS_METHODS][NBOUND + 1];
	uint64_t sum_us[METRICS_ROUTES][METRICS_METHODS];
	uint64_t rate_limited;
	uint64_t retries;
};

struct mtenant {
	uint32_t key;        /* tenant id + 1; 0: free */
	uint64_t requests;
	uint64_t stored;
};

#define TENANT_PROBE 32

struct metrics {
	uint64_t events[MEV_COUNT];
	int64_t started;     /* Unix time of the master's start */
	int64_t checksum_logged_ms;    /* CLOCK_MONOTONIC of the last line; 0: none */
	uint64_t checksum_logged_at;   /* the MEV_CHECKSUM_ERROR count then */
	uint32_t slots_used; /* highest slot number used + 1 */
	struct mtenant tenants[METRICS_TENANTS];
	struct mtenant other;
	struct mslot slot[METRICS_SLOTS];
};

#define ADD(p, n) ((void)__atomic_fetch_add((p), (n), __ATOMIC_RELAXED))
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

struct metrics *
metrics_new(void)
{
	/* Anonymous shared memory reads as zeros; pages of slots no worker
	 * uses are never touched (a scrape reads only slots_used of them). */
	struct metrics *m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	m->started = (int64_t)time(NULL);
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m != NULL)
		(void)munmap(m, sizeof(*m));
}

void
metrics_event(struct metrics *m, enum metrics_event e)
{
	if (m != NULL && (unsigned)e < MEV_COUNT)
		ADD(&m->events[e], 1);
}

bool
metrics_checksum_error(struct metrics *m, uint64_t *left_out)
{
	struct timespec ts;
	int64_t now, last;
	uint64_t n;

	*left_out = 0;
	if (m == NULL)
		return true;
	n = __atomic_add_fetch(&m->events[MEV_CHECKSUM_ERROR], 1, __ATOMIC_RELAXED);
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	last = LOAD(&m->checksum_logged_ms);
	if (last != 0 && now - last < METRICS_CHECKSUM_LOG_MS)
		return false;
	/* Of processes racing here, the one that moves the time on logs. */
	if (!__atomic_compare_exchange_n(&m->checksum_logged_ms, &last, now, false,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return false;
	*left_out = n - 1 - __atomic_exchange_n(&m->checksum_logged_at, n, __ATOMIC_RELAXED);
	return true;
}

static int
status_index(int status)
{
	/* Binary search: statuses is sorted. */
	int lo = 0, hi = NSTATUS - 2;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (statuses[mid] == status)
			return mid;
		if (statuses[mid] < status)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NSTATUS - 1;
}

static struct mtenant *
tenant_entry(struct metrics *m, uint32_t tenant)
{
	uint32_t key = tenant + 1, h;

	if (key == 0)
		return &m->other;
	h = (tenant * 2654435761u) % METRICS_TENANTS;
	for (int i = 0; i < TENANT_PROBE; i++) {
		struct mtenant *t = &m->tenants[(h + (uint32_t)i) % METRICS_TENANTS];
		uint32_t have = LOAD(&t->key);

		if (have == key)
			return t;
		if (have == 0) {
			uint32_t expect = 0;

			if (__atomic_compare_exchange_n(&t->key, &expect, key, false,
			    __ATOMIC_RELAXED, __ATOMIC_RELAXED) || expect == key)
				return t;
		}
	}
	return &m->other;
}

/* Raises slots_used to cover slot (a load and a compare once it does). */
static void
note_slot(struct metrics *m, int slot)
{
	uint32_t used = LOAD(&m->slots_used), want = (uint32_t)slot + 1;

	while (used < want && !__atomic_compare_exchange_n(&m->slots_used, &used, want, true,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void
metrics_request(struct metrics *m, int slot, int route, int method, int status,
    uint64_t micros, uint32_t tenant, uint64_t stored)
{
	struct mslot *s;
	int b = 0;

	if (m == NULL || slot < 0 || slot >= METRICS_SLOTS)
		return;
	if ((unsigned)route >= METRICS_ROUTES)
		route = 0;
	if ((unsigned)method >= METRICS_METHODS)
		method = METRICS_METHODS - 1;
	note_slot(m, slot);
	s = &m->slot[slot];
	ADD(&s->requests[route][method][status_index(status)], 1);
	while (b < NBOUND && micros > bounds_us[b])
		b++;
	ADD(&s->buckets[route][method][b], 1);
	ADD(&s->sum_us[route][method], micros);
	if (status == 429)
		ADD(&s->rate_limited, 1);
	if (tenant != 0) {
		struct mtenant *t = tenant_entry(m, tenant);

		ADD(&t->requests, 1);
		if (stored > 0)
			ADD(&t->stored, stored);
	}
}

void
metrics_retries(struct metrics *m, int slot, uint64_t n)
{
	if (m == NULL || slot < 0 || slot >= METRICS_SLOTS || n == 0)
		return;
	note_slot(m, slot);
	ADD(&m->slot[slot].retries, n);
}

int
metrics_tenants(const struct metrics *m, uint32_t *ids, int max)
{
	int n = 0;

	for (int i = 0; i < METRICS_TENANTS && n < max; i++) {
		uint32_t key = LOAD(&m->tenants[i].key);

		if (key != 0)
			ids[n++] = key - 1;
	}
	return n;
}

/* Microseconds as seconds, exactly (Prometheus floats). */
static void
add_seconds(struct buf *out, uint64_t us)
{
	buf_printf(out, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
}

static void
render_requests(const struct metrics *m, uint32_t used, struct buf *out,
    const char *(*route_label)(int route))
{
	buf_adds(out, "# HELP orchid_http_requests_total Requests answered by orchidd, by route "
	    "(path template), method and status.\n"
	    "# TYPE orchid_http_requests_total counter\n");
	for (int r = 0; r < METRICS_ROUTES; r++) {
		for (int me = 0; me < METRICS_METHODS; me++) {
			for (int st = 0; st < NSTATUS; st++) {
				uint64_t n = 0;

				for (uint32_t i = 0; i < used; i++)
					n += LOAD(&m->slot[i].requests[r][me][st]);
				if (n == 0)
					continue;
				buf_printf(out, "orchid_http_requests_total{route=\"%s\","
				    "method=\"%s\",status=\"", route_label(r), method_names[me]);
				if (st < NSTATUS - 1)
					buf_printf(out, "%d", statuses[st]);
				else
					buf_adds(out, "other");
				buf_printf(out, "\"} %" PRIu64 "\n", n);
			}
		}
	}
}

static void
render_latency(const struct metrics *m, uint32_t used, struct buf *out,
    const char *(*route_label)(int route))
{
	buf_adds(out, "# HELP orchid_http_request_duration_seconds Time from accepting a "
	    "request to its answer written to nginx, by route and method.\n"
	    "# TYPE orchid_http_request_duration_seconds histogram\n");
	for (int r = 0; r < METRICS_ROUTES; r++) {
		for (int me = 0; me < METRICS_METHODS; me++) {
			uint64_t b[NBOUND + 1], sum = 0, total = 0, cum = 0;
			const char *rl = route_label(r);

			memset(b, 0, sizeof(b));
			for (uint32_t i = 0; i < used; i++) {
				for (int k = 0; k <= NBOUND; k++)
					b[k] += LOAD(&m->slot[i].buckets[r][me][k]);
				sum += LOAD(&m->slot[i].sum_us[r][me]);
			}
			for (int k = 0; k <= NBOUND; k++)
				total += b[k];
			if (total == 0)
				continue;
			for (int k = 0; k <= NBOUND; k++) {
				cum += b[k];
				buf_printf(out, "orchid_http_request_duration_seconds_bucket{"
				    "route=\"%s\",method=\"%s\",le=\"", rl, method_names[me]);
				if (k < NBOUND)
					add_seconds(out, bounds_us[k]);
				else
					buf_adds(out, "+Inf");
				buf_printf(out, "\"} %" PRIu64 "\n", cum);
			}
			buf_printf(out, "orchid_http_request_duration_seconds_sum{route=\"%s\","
			    "method=\"%s\"} ", rl, method_names[me]);
			add_seconds(out, sum);
			buf_printf(out, "\norchid_http_request_duration_seconds_count{route=\"%s\","
			    "method=\"%s\"} %" PRIu64 "\n", rl, method_names[me], total);
		}
	}
}

static void
counter(struct buf *out, const char *name, const char *help, uint64_t v)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help,
	    name, name, v);
}

static void
render_tenants(const struct metrics *m, struct buf *out,
    const char *(*tenant_name)(void *ctx, uint32_t tenant), void *ctx)
{
	static const char *const names[2] = {
		"orchid_tenant_requests_total", "orchid_tenant_stored_bytes_total"
	};
	static const char *const helps[2] = {
		"Authenticated requests answered, by tenant.",
		"Bytes of request bodies stored by successful writes, by tenant (a counter: "
		    "deletes do not lower it)."
	};

	for (int w = 0; w < 2; w++) {
		buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", names[w], helps[w],
		    names[w]);
		for (int i = 0; i <= METRICS_TENANTS; i++) {
			const struct mtenant *t = i < METRICS_TENANTS ? &m->tenants[i] : &m->other;
			uint32_t key = LOAD(&t->key);
			uint64_t v = w == 0 ? LOAD(&t->requests) : LOAD(&t->stored);
			const char *name;

			if (i < METRICS_TENANTS && key == 0)
				continue;
			if (i == METRICS_TENANTS && LOAD(&t->requests) == 0)
				continue;
			name = i == METRICS_TENANTS ? "_other" : tenant_name(ctx, key - 1);
			if (name != NULL)
				buf_printf(out, "%s{tenant=\"%s\"} %" PRIu64 "\n", names[w], name, v);
			else
				buf_printf(out, "%s{tenant=\"%u\"} %" PRIu64 "\n", names[w],
				    (unsigned)(key - 1), v);
		}
	}
}

int
metrics_render(const struct metrics *m, struct buf *out,
    const char *(*route_label)(int route),
    const char *(*tenant_name)(void *ctx, uint32_t tenant), void *ctx)
{
	uint32_t used = LOAD(&m->slots_used);
	uint64_t limited = 0, retries = 0;

	if (used > METRICS_SLOTS)
		used = METRICS_SLOTS;
	render_requests(m, used, out, route_label);
	render_latency(m, used, out, route_label);
	for (uint32_t i = 0; i < used; i++) {
		limited += LOAD(&m->slot[i].rate_limited);
		retries += LOAD(&m->slot[i].retries);
	}
	counter(out, "orchid_rate_limited_requests_total", "Requests refused with 429 by "
	    "orchidd's per-tenant limits (rate_limit, rate_burst, tenant_max_inflight).", limited);
	counter(out, "orchid_deadlock_retries_total", "Transactions run again after "
	    "Berkeley DB chose them as a deadlock's victim.", retries);
	counter(out, "orchid_worker_starts_total", "Workers (and indexers) started by the "
	    "master.", LOAD(&m->events[MEV_WORKER_START]));
	counter(out, "orchid_worker_failures_total", "Workers (and indexers) that exited "
	    "abnormally: killed, crashed, or stopped for recovery.",
	    LOAD(&m->events[MEV_WORKER_FAILURE]));
	counter(out, "orchid_recoveries_total", "Berkeley DB recoveries run by the master, "
	    "the one at start included.", LOAD(&m->events[MEV_RECOVERY]));
	counter(out, "orchid_checksum_errors_total", "Database pages that failed their "
	    "checksum when read (a corrupt or torn page: the data needs repair).",
	    LOAD(&m->events[MEV_CHECKSUM_ERROR]));
	counter(out, "orchid_io_errors_total", "Flushes of the database and log files that "
	    "failed, and writes that failed for another reason than a full disk: each stopped "
	    "the environment for recovery.", LOAD(&m->events[MEV_IO_ERROR]));
	buf_printf(out, "# HELP orchid_start_time_seconds When the master started (Unix "
	    "time).\n# TYPE orchid_start_time_seconds gauge\norchid_start_time_seconds "
	    "%lld\n", (long long)m->started);
	render_tenants(m, out, tenant_name, ctx);
	return out->b_failed ? -1 : 0;
}
