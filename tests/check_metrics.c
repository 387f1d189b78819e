/*
 * check_metrics: unit tests for src/metrics.h (shared request counters and
 * their Prometheus exposition). The exposition is checked line by line
 * here; tests/e2e/test_metrics.py reads a real scrape with the Prometheus
 * client's parser.
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "metrics.h"

static const char *
label(int route)
{
	static const char *const names[] = { "other", "/v0", "/v0/{collection}" };

	return route >= 0 && route < 3 ? names[route] : "other";
}

static const char *
tenant_name(void *ctx, uint32_t tenant)
{
	(void)ctx;
	return tenant == 7 ? "acme" : NULL;
}

/* The exposition of m, NUL-terminated; free() it. */
static char *
render(const struct metrics *m)
{
	struct buf b;
	char *s;

	buf_init(&b, 0);
	ck_assert_int_eq(metrics_render(m, &b, label, tenant_name, NULL), 0);
	s = strdup(b.b_data != NULL ? b.b_data : "");
	buf_free(&b);
	return s;
}

/* True when text has line as one whole line. */
static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	}
	return false;
}

#define HAS(text, line) ck_assert_msg(has_line((text), (line)), "missing: %s\n%s", (line), (text))
#define HASNT(text, line) ck_assert_msg(!has_line((text), (line)), "present: %s", (line))

/* Slots are summed; statuses outside the list are "other". */
START_TEST(requests_by_route_method_status)
{
	struct metrics *m = metrics_new();
	char *t;

	ck_assert_ptr_nonnull(m);
	metrics_request(m, 0, 1, 0, 200, 100, 0, 0);
	metrics_request(m, 5, 1, 0, 200, 100, 0, 0);
	metrics_request(m, 5, 2, 3, 201, 100, 0, 0);
	metrics_request(m, 1, 2, 3, 299, 100, 0, 0);
	t = render(m);
	HAS(t, "# TYPE orchid_http_requests_total counter");
	HAS(t, "orchid_http_requests_total{route=\"/v0\",method=\"GET\",status=\"200\"} 2");
	HAS(t, "orchid_http_requests_total{route=\"/v0/{collection}\",method=\"POST\","
	    "status=\"201\"} 1");
	HAS(t, "orchid_http_requests_total{route=\"/v0/{collection}\",method=\"POST\","
	    "status=\"other\"} 1");
	/* Nothing for combinations never seen. */
	ck_assert_ptr_null(strstr(t, "method=\"PUT\""));
	free(t);
	metrics_free(m);
}
END_TEST

/* Buckets are cumulative, le in seconds, the sum exact. */
START_TEST(latency_histogram)
{
	struct metrics *m = metrics_new();
	char *t;

	metrics_request(m, 0, 1, 0, 200, 400, 0, 0);       /* <= 0.0005 */
	metrics_request(m, 0, 1, 0, 200, 500, 0, 0);       /* <= 0.0005 (inclusive) */
	metrics_request(m, 0, 1, 0, 200, 3000, 0, 0);      /* <= 0.005 */
	metrics_request(m, 0, 1, 0, 200, 60000000, 0, 0);  /* +Inf only */
	t = render(m);
	HAS(t, "# TYPE orchid_http_request_duration_seconds histogram");
	HAS(t, "orchid_http_request_duration_seconds_bucket{route=\"/v0\",method=\"GET\","
	    "le=\"0.000500\"} 2");
	HAS(t, "orchid_http_request_duration_seconds_bucket{route=\"/v0\",method=\"GET\","
	    "le=\"0.002500\"} 2");
	HAS(t, "orchid_http_request_duration_seconds_bucket{route=\"/v0\",method=\"GET\","
	    "le=\"0.005000\"} 3");
	HAS(t, "orchid_http_request_duration_seconds_bucket{route=\"/v0\",method=\"GET\","
	    "le=\"10.000000\"} 3");
	HAS(t, "orchid_http_request_duration_seconds_bucket{route=\"/v0\",method=\"GET\","
	    "le=\"+Inf\"} 4");
	HAS(t, "orchid_http_request_duration_seconds_sum{route=\"/v0\",method=\"GET\"} "
	    "60.003900");
	HAS(t, "orchid_http_request_duration_seconds_count{route=\"/v0\",method=\"GET\"} 4");
	free(t);
	metrics_free(m);
}
END_TEST

/* 429s, retries, the master's events. */
START_TEST(counters)
{
	struct metrics *m = metrics_new();
	char *t;

	metrics_request(m, 2, 1, 0, 429, 10, 7, 0);
	metrics_retries(m, 3, 4);
	metrics_retries(m, 0, 1);
	metrics_event(m, MEV_WORKER_START);
	metrics_event(m, MEV_WORKER_START);
	metrics_event(m, MEV_WORKER_FAILURE);
	metrics_event(m, MEV_RECOVERY);
	t = render(m);
	HAS(t, "orchid_rate_limited_requests_total 1");
	HAS(t, "orchid_deadlock_retries_total 5");
	HAS(t, "orchid_worker_starts_total 2");
	HAS(t, "orchid_worker_failures_total 1");
	HAS(t, "orchid_recoveries_total 1");
	free(t);
	metrics_free(m);
}
END_TEST

/* Named tenants by name, unknown ones by id, unauthenticated not at all;
 * past the table's probe sequence they go to "_other". */
START_TEST(tenants)
{
	struct metrics *m = metrics_new();
	uint32_t ids[8192];
	int n;
	char *t;

	metrics_request(m, 0, 1, 2, 201, 10, 7, 100);
	metrics_request(m, 1, 1, 2, 201, 10, 7, 50);
	metrics_request(m, 0, 1, 0, 200, 10, 9, 0);
	metrics_request(m, 0, 1, 0, 401, 10, 0, 0);
	t = render(m);
	HAS(t, "orchid_tenant_requests_total{tenant=\"acme\"} 2");
	HAS(t, "orchid_tenant_stored_bytes_total{tenant=\"acme\"} 150");
	HAS(t, "orchid_tenant_requests_total{tenant=\"9\"} 1");
	HAS(t, "orchid_tenant_stored_bytes_total{tenant=\"9\"} 0");
	ck_assert_ptr_null(strstr(t, "tenant=\"0\""));
	ck_assert_ptr_null(strstr(t, "_other"));
	free(t);
	ck_assert_int_eq(metrics_tenants(m, ids, 8192), 2);
	/* Tenants 1 + 4096k share a home slot: 32 probes, then "_other". */
	for (uint32_t k = 0; k < 40; k++)
		metrics_request(m, 0, 1, 0, 200, 10, 1000 + 4096 * k, 0);
	n = metrics_tenants(m, ids, 8192);
	ck_assert_int_le(n, 2 + 32);
	t = render(m);
	HAS(t, "orchid_tenant_requests_total{tenant=\"_other\"} " "8");
	free(t);
	metrics_free(m);
}
END_TEST

/* Out-of-range slots, routes and methods never write outside the table. */
START_TEST(bounds)
{
	struct metrics *m = metrics_new();
	char *t;

	metrics_request(m, -1, 1, 0, 200, 10, 0, 0);
	metrics_request(m, METRICS_SLOTS, 1, 0, 200, 10, 0, 0);
	metrics_request(m, 0, 99, 99, 200, 10, 0, 0);
	metrics_retries(m, METRICS_SLOTS, 3);
	metrics_event(m, MEV_COUNT);
	t = render(m);
	HAS(t, "orchid_http_requests_total{route=\"other\",method=\"other\",status=\"200\"} 1");
	HASNT(t, "orchid_http_requests_total{route=\"/v0\",method=\"GET\",status=\"200\"} 1");
	HAS(t, "orchid_deadlock_retries_total 0");
	free(t);
	metrics_request(NULL, 0, 1, 0, 200, 10, 0, 0);
	metrics_event(NULL, MEV_RECOVERY);
	metrics_free(m);
}
END_TEST

/* The table is shared: a child's counts are seen by the parent. */
START_TEST(shared_across_fork)
{
	struct metrics *m = metrics_new();
	pid_t pid = fork();
	int status;
	char *t;

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		for (int i = 0; i < 1000; i++)
			metrics_request(m, 3, 1, 0, 200, 10, 7, 1);
		_exit(0);
	}
	for (int i = 0; i < 1000; i++)
		metrics_request(m, 4, 1, 0, 200, 10, 7, 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	t = render(m);
	HAS(t, "orchid_http_requests_total{route=\"/v0\",method=\"GET\",status=\"200\"} 2000");
	HAS(t, "orchid_tenant_stored_bytes_total{tenant=\"acme\"} 2000");
	free(t);
	metrics_free(m);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, requests_by_route_method_status);
	tcase_add_test(tc, latency_histogram);
	tcase_add_test(tc, counters);
	tcase_add_test(tc, tenants);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, shared_across_fork);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
