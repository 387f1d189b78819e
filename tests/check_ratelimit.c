/*
 * check_ratelimit: unit tests for src/ratelimit.h (per-tenant token buckets
 * in a shared table).
 *
 * Table-driven: each row is a script of calls on a fresh limiter, every call
 * with its time (the limiter takes now_ms as input, so nothing here sleeps)
 * and the answer and retry_ms we want. Tokens refill at rate per second, so
 * one token takes 1000 / rate ms and retry_ms is that rounded up. Tenants
 * 1 + 4096k all hash to the same slot (the table has 4096 slots and probes
 * 16), which is how the eviction rows fill a probe sequence.
 */
#include <check.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ratelimit.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define MAX_STEPS	16
#define SLOTS		4096	/* RL_SLOTS in ratelimit.c */

/*
 * One line of a script: count tenants (tenant, tenant + stride, ...) each
 * call n times in a row at now, and every call must answer ok with retry.
 */
struct step {
	uint32_t	 tenant;
	uint32_t	 count;
	uint32_t	 stride;
	int64_t		 now;
	int		 rate, burst;
	int		 n;
	bool		 ok;
	int64_t		 retry;
};

struct rl_case {
	const char	*name;
	struct step	 s[MAX_STEPS]; /* up to the first with n == 0 */
};

/* n calls allowed; one call refused with retry_ms r; the same for many tenants. */
#define TAKE(t, now, rate, burst, n)	{ (t), 1, 0, (now), (rate), (burst), (n), true, 0 }
#define DENY(t, now, rate, burst, r)	{ (t), 1, 0, (now), (rate), (burst), 1, false, (r) }
#define TAKE_MANY(t, c, st, now, rate, burst, n) \
	{ (t), (c), (st), (now), (rate), (burst), (n), true, 0 }
#define DENY_MANY(t, c, st, now, rate, burst, r) \
	{ (t), (c), (st), (now), (rate), (burst), 1, false, (r) }

#define I64MAX	INT64_MAX
#define I64MIN	INT64_MIN

static const struct rl_case core_cases[] = {
	{ "one per second", {
		TAKE(1, 0, 1, 1, 1),
		DENY(1, 0, 1, 1, 1000),
		DENY(1, 1, 1, 1, 999),
		DENY(1, 999, 1, 1, 1),
		TAKE(1, 1000, 1, 1, 1),
		DENY(1, 1000, 1, 1, 1000),
	} },
	{ "a new tenant starts with a full bucket", {
		TAKE(7, 5000, 10, 5, 5),
		DENY(7, 5000, 10, 5, 100),
	} },
	{ "burst then refill, one token per 100 ms", {
		TAKE(1, 0, 10, 5, 5),
		DENY(1, 0, 10, 5, 100),
		DENY(1, 50, 10, 5, 50),
		DENY(1, 99, 10, 5, 1),
		TAKE(1, 100, 10, 5, 1),
		DENY(1, 100, 10, 5, 100),
		TAKE(1, 300, 10, 5, 2),
		DENY(1, 300, 10, 5, 100),
	} },
	{ "partial refill keeps the remainder", {
		TAKE(1, 0, 2, 4, 4),
		DENY(1, 0, 2, 4, 500),
		TAKE(1, 1750, 2, 4, 3),	/* 3.5 tokens */
		DENY(1, 1750, 2, 4, 250),
		TAKE(1, 2000, 2, 4, 1),
		DENY(1, 2000, 2, 4, 500),
	} },
	{ "retry rounds up (rate 3: 333.3 ms a token)", {
		TAKE(1, 0, 3, 1, 1),
		DENY(1, 0, 3, 1, 334),
		DENY(1, 333, 3, 1, 1),	/* 999 of 1000 */
		TAKE(1, 334, 3, 1, 1),	/* 1002, capped at 1000 */
		DENY(1, 334, 3, 1, 334),
		DENY(1, 667, 3, 1, 1),
		TAKE(1, 668, 3, 1, 1),
	} },
	{ "what is left of a token counts (rate 3, burst 2)", {
		TAKE(1, 0, 3, 2, 2),
		DENY(1, 333, 3, 2, 1),	/* 999 */
		TAKE(1, 334, 3, 2, 1),	/* 1002: 2 left over */
		DENY(1, 334, 3, 2, 333),	/* 998 to go */
		DENY(1, 666, 3, 2, 1),	/* 998 */
		TAKE(1, 667, 3, 2, 1),	/* 1001 */
		DENY(1, 667, 3, 2, 333),
	} },
	{ "burst 0 means a burst of rate", {
		TAKE(1, 0, 3, 0, 3),
		DENY(1, 0, 3, 0, 334),
		TAKE(1, 100000, 3, 0, 3),
		DENY(1, 100000, 3, 0, 334),
	} },
	{ "a burst below the rate caps the bucket", {
		TAKE(1, 0, 100, 2, 2),
		DENY(1, 0, 100, 2, 10),
		TAKE(1, 1000, 100, 2, 2),	/* 100 tokens earned, 2 kept */
		DENY(1, 1000, 100, 2, 10),
	} },
	{ "a burst above the rate", {
		TAKE(1, 0, 1, 60, 60),
		DENY(1, 0, 1, 60, 1000),
		TAKE(1, 30000, 1, 60, 30),
		DENY(1, 30000, 1, 60, 1000),
	} },
	{ "tenants have their own buckets", {
		TAKE(1, 0, 1, 2, 2),
		DENY(1, 0, 1, 2, 1000),
		TAKE(2, 0, 1, 2, 2),
		DENY(2, 0, 1, 2, 1000),
		TAKE(1, 1000, 1, 2, 1),
		DENY(2, 500, 1, 2, 500),
		DENY(1, 1000, 1, 2, 1000),
	} },
	{ "a refused call costs nothing", {
		TAKE(1, 0, 1, 1, 1),
		DENY(1, 500, 1, 1, 500),
		DENY(1, 500, 1, 1, 500),
		DENY(1, 500, 1, 1, 500),
		TAKE(1, 1000, 1, 1, 1),
	} },
	{ "rate 1000: one token a millisecond", {
		TAKE(1, 0, 1000, 1, 1),
		DENY(1, 0, 1000, 1, 1),
		TAKE(1, 1, 1000, 1, 1),
		TAKE(1, 2, 1000, 1, 1),
		DENY(1, 2, 1000, 1, 1),
	} },
	{ "the time is only ever a difference (wall-clock ms)", {
		TAKE(1, INT64_C(1764990000000), 2, 1, 1),
		DENY(1, INT64_C(1764990000000), 2, 1, 500),
		TAKE(1, INT64_C(1764990000500), 2, 1, 1),
	} },
};

static const struct rl_case limit_cases[] = {
	{ "a long idle time refills to the burst only", {
		TAKE(1, 0, 1, 3, 3),
		DENY(1, 0, 1, 3, 1000),
		TAKE(1, INT64_C(1000000000), 1, 3, 3),
		DENY(1, INT64_C(1000000000), 1, 3, 1000),
	} },
	{ "the config maximum (rate 1000000, burst 10000000)", {
		TAKE(1, 0, 1000000, 10000000, 1000),
		TAKE(1, 1, 1000000, 10000000, 1000),
	} },
	{ "the largest rate: retry is 1 ms, not 0", {
		TAKE(1, 0, INT_MAX, 1, 1),
		DENY(1, 0, INT_MAX, 1, 1),
		TAKE(1, 1, INT_MAX, 1, 1),
		DENY(1, 1, INT_MAX, 1, 1),
	} },
	{ "the largest rate and burst (burst * 1000 fits int64)", {
		TAKE(1, 0, INT_MAX, INT_MAX, 1000),
		TAKE(1, I64MAX, INT_MAX, INT_MAX, 1000),
	} },
	{ "a huge gap times a huge rate does not overflow", {
		TAKE(1, 0, INT_MAX, 1, 1),
		DENY(1, 0, INT_MAX, 1, 1),
		TAKE(1, I64MAX, INT_MAX, 1, 1),
		DENY(1, I64MAX, INT_MAX, 1, 1),
	} },
	{ "a huge gap at the slowest rate", {
		TAKE(1, 0, 1, 2, 2),
		DENY(1, 0, 1, 2, 1000),
		TAKE(1, I64MAX, 1, 2, 2),
		DENY(1, I64MAX, 1, 2, 1000),
	} },
	{ "from INT64_MIN to INT64_MAX (the gap overflows int64)", {
		TAKE(1, I64MIN, 1000000, 3, 3),
		DENY(1, I64MIN, 1000000, 3, 1),
		TAKE(1, I64MAX, 1000000, 3, 3),
		DENY(1, I64MAX, 1000000, 3, 1),
	} },
	{ "from -1 to INT64_MAX", {
		TAKE(1, -1, 1, 1, 1),
		DENY(1, -1, 1, 1, 1000),
		TAKE(1, I64MAX, 1, 1, 1),
		DENY(1, I64MAX, 1, 1, 1000),
	} },
	{ "negative times refill like any others", {
		TAKE(1, I64MIN, 1, 1, 1),
		DENY(1, I64MIN, 1, 1, 1000),
		DENY(1, I64MIN + 999, 1, 1, 1),
		TAKE(1, I64MIN + 1000, 1, 1, 1),
		TAKE(1, -1000, 1, 1, 1),
		DENY(1, -1000, 1, 1, 1000),
		DENY(1, -1, 1, 1, 1),
		TAKE(1, 0, 1, 1, 1),
	} },
	{ "the largest tenant id", {
		TAKE(UINT32_MAX, 0, 1, 1, 1),
		DENY(UINT32_MAX, 0, 1, 1, 1000),
		TAKE(UINT32_MAX - 1, 0, 1, 1, 1),
		DENY(UINT32_MAX - 1, 0, 1, 1, 1000),
	} },
	{ "every slot of the table in use: nobody is forgotten", {
		TAKE_MANY(1, SLOTS, 1, 0, 1, 1, 1),
		DENY_MANY(1, SLOTS, 1, 0, 1, 1, 1000),
		DENY_MANY(1, SLOTS, 1, 500, 1, 1, 500),
		TAKE_MANY(1, SLOTS, 1, 1000, 1, 1, 1),
	} },
	{ "16 tenants on one slot share its probe sequence", {
		TAKE_MANY(1, 16, SLOTS, 0, 1, 1, 1),
		DENY_MANY(1, 16, SLOTS, 0, 1, 1, 1000),
	} },
	{ "the probe sequence wraps at the end of the table", {
		/* Tenant 1050 hashes to slot 4090. */
		TAKE_MANY(1050, 16, SLOTS, 0, 1, 1, 1),
		DENY_MANY(1050, 16, SLOTS, 0, 1, 1, 1000),
		/* Tenant 175 hashes to slot 4095 and probes on to slot 10. */
		TAKE_MANY(1, 200, 1, 0, 1, 1, 1),
		DENY_MANY(1050, 16, SLOTS, 0, 1, 1, 1000),
		DENY_MANY(1, 200, 1, 0, 1, 1, 1000),
	} },
	{ "a 17th tenant evicts the least recently used, which starts full", {
		TAKE(1, 1000, 1, 1, 1),
		TAKE_MANY(1 + SLOTS, 15, SLOTS, 1001, 1, 1, 1),
		/* Tenant 1 touched again after the others: no longer oldest. */
		DENY(1, 1002, 1, 1, 998),
		TAKE(1 + 16 * SLOTS, 1100, 1, 1, 1),	/* evicts 1 + SLOTS */
		DENY(1 + 16 * SLOTS, 1100, 1, 1, 1000),
		DENY(1, 1100, 1, 1, 900),		/* kept */
		DENY(1 + 2 * SLOTS, 1100, 1, 1, 901),	/* kept */
		TAKE(1 + SLOTS, 1100, 1, 1, 1),		/* evicted: full again */
	} },
};

static const struct rl_case error_cases[] = {
	{ "rate 0 allows everything", {
		TAKE(1, 0, 0, 0, 1000),
		TAKE(1, 0, 0, 1, 1000),
		TAKE(1, I64MIN, 0, 5, 10),
		TAKE(1, I64MAX, 0, 5, 10),
	} },
	{ "a negative rate allows everything", {
		TAKE(1, 0, -1, 1, 100),
		TAKE(1, 0, INT_MIN, INT_MIN, 100),
	} },
	{ "rate 0 does not touch the bucket", {
		TAKE(1, 0, 1, 1, 1),
		DENY(1, 0, 1, 1, 1000),
		TAKE(1, 0, 0, 1, 5),
		DENY(1, 0, 1, 1, 1000),
	} },
	{ "a negative burst means a burst of rate", {
		TAKE(1, 0, 2, -1, 2),
		DENY(1, 0, 2, -1, 500),
		DENY(1, 0, 2, INT_MIN, 500),
		TAKE(1, 5000, 2, INT_MIN, 2),
		DENY(1, 5000, 2, INT_MIN, 500),
	} },
	{ "time going back a little (workers interleaving) counts from the later time", {
		TAKE(1, 1000, 1, 2, 1),
		TAKE(1, 999, 1, 2, 1),
		DENY(1, 999, 1, 2, 1001),
		DENY(1, 1000, 1, 2, 1000),
		DENY(1, 1999, 1, 2, 1),
		TAKE(1, 2000, 1, 2, 1),
	} },
	{ "up to 1 s back is skew, more is a clock step", {
		TAKE(1, 5000, 1, 1, 1),
		DENY(1, 4000, 1, 1, 2000),
		DENY(1, 3999, 1, 1, 1000),
		TAKE(1, 4999, 1, 1, 1),
	} },
	{ "time going back a long way does not lock the tenant out", {
		TAKE(1, 10000000, 1, 1, 1),
		DENY(1, 10000000, 1, 1, 1000),
		/* The clock is stepped back an hour: refill restarts from now. */
		DENY(1, 6400000, 1, 1, 1000),
		DENY(1, 6400500, 1, 1, 500),
		TAKE(1, 6401000, 1, 1, 1),
		DENY(1, 6401000, 1, 1, 1000),
	} },
	{ "time going back from INT64_MAX to INT64_MIN", {
		TAKE(1, I64MAX, 1, 1, 1),
		DENY(1, I64MIN, 1, 1, 1000),
		TAKE(1, I64MIN + 1000, 1, 1, 1),
		DENY(1, I64MIN + 1000, 1, 1, 1000),
	} },
	{ "time going back never refills", {
		TAKE(1, 5000, 1, 3, 3),
		DENY(1, 4000, 1, 3, 2000),
		DENY(1, 3000, 1, 3, 1000),
		DENY(1, 2000, 1, 3, 2000),
		DENY(1, 3999, 1, 3, 1),
		TAKE(1, 4000, 1, 3, 1),
	} },
	{ "a lower burst applies at once", {
		TAKE(1, 0, 1, 10, 1),
		TAKE(1, 0, 1, 2, 2),
		DENY(1, 0, 1, 2, 1000),
	} },
	{ "a lower rate applies at once", {
		TAKE(1, 0, 10, 1, 1),
		DENY(1, 0, 10, 1, 100),
		DENY(1, 0, 1, 1, 1000),
		DENY(1, 50, 1, 1, 950),
		TAKE(1, 1000, 1, 1, 1),
	} },
	{ "tenant 0 is a tenant like any other", {
		TAKE(0, 0, 1, 1, 1),
		DENY(0, 0, 1, 1, 1000),
		DENY(0, -500, 1, 1, 1500),
		TAKE(0, 1000, 1, 1, 1),
		DENY(0, 1000, 1, 1, 1000),
	} },
	{ "tenant 0 keeps its bucket when its slot's others arrive", {
		TAKE(0, 5000, 1, 1, 1),
		TAKE(SLOTS, 5000, 1, 1, 1),	/* same home slot as 0 */
		DENY(0, 5000, 1, 1, 1000),
		DENY(SLOTS, 5000, 1, 1, 1000),
		TAKE(2 * SLOTS, 5000, 1, 1, 1),
		DENY(0, 5000, 1, 1, 1000),
	} },
};

static void
run_case(const struct rl_case *tc)
{
	struct ratelimit *rl = ratelimit_new();

	ck_assert_msg(rl != NULL, "ratelimit_new: got NULL, want a table");
	for (int i = 0; i < MAX_STEPS && tc->s[i].n != 0; i++) {
		const struct step *st = &tc->s[i];
		uint32_t count = st->count > 0 ? st->count : 1;

		for (uint32_t k = 0; k < count; k++) {
			uint32_t tenant = st->tenant + k * st->stride;

			for (int j = 0; j < st->n; j++) {
				int64_t retry = -12345;
				bool ok = ratelimit_take(rl, tenant, st->now, st->rate,
				    st->burst, &retry);

				ck_assert_msg(ok == st->ok && retry == st->retry,
				    "%s, step %d (tenant %" PRIu32 " at %" PRId64
				    ", rate %d, burst %d, call %d): got %s retry %"
				    PRId64 ", want %s retry %" PRId64, tc->name, i,
				    tenant, st->now, st->rate, st->burst, j + 1,
				    ok ? "allowed" : "refused", retry,
				    st->ok ? "allowed" : "refused", st->retry);
			}
		}
	}
	ratelimit_free(rl);
}

START_TEST(test_core)
{
	run_case(&core_cases[_i]);
}
END_TEST

START_TEST(test_limits)
{
	run_case(&limit_cases[_i]);
}
END_TEST

START_TEST(test_errors)
{
	run_case(&error_cases[_i]);
}
END_TEST

/* Without a table (ratelimit_new failed) everything is allowed. */
START_TEST(test_null)
{
	int64_t retry = -1;

	for (int i = 0; i < 10; i++) {
		ck_assert_msg(ratelimit_take(NULL, 1, 0, 1, 1, &retry),
		    "ratelimit_take(NULL), call %d: got refused, want allowed", i + 1);
		ck_assert_msg(retry == 0, "ratelimit_take(NULL): got retry %" PRId64
		    ", want 0", retry);
	}
	ratelimit_free(NULL);
}
END_TEST

/*
 * The table is shared: what one process takes, a forked one cannot take
 * again. And a process that dies holding the lock does not wedge or disable
 * the limiter (the mutex is robust). The test takes the lock directly: it is
 * the first member of struct ratelimit in ratelimit.c, so a pointer to the
 * table is a pointer to it.
 */
START_TEST(test_shared)
{
	struct ratelimit *rl = ratelimit_new();
	int64_t retry;
	pid_t pid;
	int status;

	ck_assert_msg(rl != NULL, "ratelimit_new: got NULL, want a table");
	pid = fork();
	ck_assert_msg(pid != -1, "fork failed");
	if (pid == 0)
		_exit(ratelimit_take(rl, 1, 0, 1, 2, &retry) ? 0 : 1);
	ck_assert_msg(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "child's take: got status %d, want 0", status);
	ck_assert_msg(ratelimit_take(rl, 1, 0, 1, 2, &retry),
	    "second of a burst of 2: got refused, want allowed");
	ck_assert_msg(!ratelimit_take(rl, 1, 0, 1, 2, &retry) && retry == 1000,
	    "third of a burst of 2: got allowed or retry %" PRId64 ", want refused "
	    "retry 1000", retry);

	pid = fork();
	ck_assert_msg(pid != -1, "fork failed");
	if (pid == 0)
		_exit(pthread_mutex_lock((pthread_mutex_t *)(void *)rl) == 0 ? 0 : 1);
	ck_assert_msg(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "child's lock: got status %d, want 0", status);
	/* The owner died: the next take recovers the lock and still counts. */
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(!ratelimit_take(rl, 1, 0, 1, 2, &retry) && retry == 1000,
		    "after a dead lock holder, call %d: got allowed or retry %" PRId64
		    ", want refused retry 1000", i + 1, retry);
	}
	ck_assert_msg(ratelimit_take(rl, 1, 1000, 1, 2, &retry),
	    "after a dead lock holder, 1 s later: got refused, want allowed");
	ratelimit_free(rl);
}
END_TEST

/*
 * In-flight requests by worker slot (tenant_max_inflight): a tenant gets at
 * most max slots, other tenants are not affected, entering again from the
 * same slot (a retried transaction) does not count twice, a refused entry
 * holds nothing, max 0 is no limit, and leaving frees the slot, also when
 * the slot's process died in between (the master's reap).
 */
START_TEST(test_inflight)
{
	struct ratelimit *rl = ratelimit_new();
	pid_t pid;
	int status;

	ck_assert_msg(rl != NULL, "ratelimit_new: got NULL, want a table");
	ck_assert_msg(ratelimit_enter(rl, 0, 7, 2) && ratelimit_enter(rl, 1, 7, 2),
	    "tenant 7, slots 0 and 1 of max 2: got refused, want allowed");
	ck_assert_msg(ratelimit_enter(rl, 1, 7, 2), "slot 1 again: got refused, want allowed");
	ck_assert_msg(!ratelimit_enter(rl, 2, 7, 2), "slot 2, a third: got allowed, want refused");
	ck_assert_msg(ratelimit_inflight(rl, 7) == 2, "in flight: got %d, want 2",
	    ratelimit_inflight(rl, 7));
	ck_assert_msg(ratelimit_enter(rl, 2, 8, 2), "tenant 8, slot 2: got refused, want allowed");
	ck_assert_msg(ratelimit_enter(rl, 3, 7, 0), "max 0: got refused, want allowed");
	ck_assert_msg(ratelimit_inflight(rl, 7) == 3, "in flight with max 0: got %d, want 3",
	    ratelimit_inflight(rl, 7));
	ratelimit_leave(rl, 3);
	ratelimit_leave(rl, 0);
	ck_assert_msg(ratelimit_enter(rl, 4, 7, 2), "after a leave: got refused, want allowed");
	pid = fork();
	ck_assert_msg(pid != -1, "fork failed");
	if (pid == 0)
		_exit(ratelimit_enter(rl, 5, 9, 1) ? 0 : 1);
	ck_assert_msg(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "child's enter: got status %d, want 0", status);
	ck_assert_msg(!ratelimit_enter(rl, 6, 9, 1), "the dead child's slot: got allowed, "
	    "want refused until it is cleared");
	ratelimit_leave(rl, 5);
	ck_assert_msg(ratelimit_enter(rl, 6, 9, 1) && ratelimit_inflight(rl, 9) == 1,
	    "after clearing the dead child's slot: got refused, want allowed");
	ck_assert_msg(ratelimit_enter(rl, -1, 9, 1) && ratelimit_enter(rl, 100000, 9, 1) &&
	    ratelimit_enter(NULL, 0, 9, 1), "out-of-range slot or no table: want allowed");
	ratelimit_free(rl);
}
END_TEST

static Suite *
ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_core, 0, NCASES(core_cases));
	tcase_add_test(core, test_shared);
	tcase_add_test(core, test_inflight);
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_limits, 0, NCASES(limit_cases));
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_errors, 0, NCASES(error_cases));
	tcase_add_test(errors, test_null);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ratelimit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
