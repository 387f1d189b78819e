/*
 * ratelimit: token buckets in shared memory. Tokens are kept in thousandths
 * so integer arithmetic refills smoothly. The table is open-addressed by
 * tenant id; when it is full, the least recently used bucket is reused (a
 * tenant then starts with a full bucket, which only ever errs on allowing).
 * Times come from the caller and may be anything an int64_t holds: refill
 * never overflows, and a clock that goes back is handled (see refill).
 */
#include "ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define RL_SLOTS 4096
#define RL_PROBE 16
#define RL_SKEW_MS 1000    /* how far back a time may be and still be skew */
#define RL_WORKERS (RATELIMIT_MAX_SLOT + 1)

struct bucket {
	uint32_t tenant;
	bool used;         /* false: free (tenant 0 is a tenant like any other) */
	int64_t milli;     /* tokens * 1000, in [0, cap] after refill */
	int64_t last_ms;   /* the time milli was computed for */
};

/* The request a worker slot has in flight, for tenant_max_inflight; each
 * slot is written by its worker (and cleared by the master), read by all,
 * with atomics: no lock on the request path. */
struct inflight {
	uint32_t tenant;
	uint32_t busy;
};

struct ratelimit {
	pthread_mutex_t lock;
	struct bucket b[RL_SLOTS];
	struct inflight w[RL_WORKERS];
};

struct ratelimit *
ratelimit_new(void)
{
	pthread_mutexattr_t a;
	struct ratelimit *rl;

	rl = mmap(NULL, sizeof(*rl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rl == MAP_FAILED)
		return NULL;
	memset(rl, 0, sizeof(*rl));
	if (pthread_mutexattr_init(&a) != 0 ||
	    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) != 0 ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) != 0 ||
	    pthread_mutex_init(&rl->lock, &a) != 0) {
		(void)munmap(rl, sizeof(*rl));
		return NULL;
	}
	(void)pthread_mutexattr_destroy(&a);
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl != NULL)
		(void)munmap(rl, sizeof(*rl));
}

static int
lock(struct ratelimit *rl)
{
	int rc = pthread_mutex_lock(&rl->lock);

	/* The holder died mid-update: a bucket may be off by one request,
	 * which is harmless; mark the mutex usable again. */
	if (rc == EOWNERDEAD)
		rc = pthread_mutex_consistent(&rl->lock);
	return rc;
}

static struct bucket *
find(struct ratelimit *rl, uint32_t tenant, int64_t burst_milli, int64_t now_ms)
{
	struct bucket *oldest = NULL;
	uint32_t h = (tenant * 2654435761u) % RL_SLOTS;

	for (int i = 0; i < RL_PROBE; i++) {
		struct bucket *b = &rl->b[(h + (uint32_t)i) % RL_SLOTS];

		if (b->used && b->tenant == tenant)
			return b;
		if (!b->used || oldest == NULL || b->last_ms < oldest->last_ms) {
			oldest = b;
			if (!b->used)
				break;
		}
	}
	oldest->tenant = tenant;
	oldest->used = true;
	oldest->milli = burst_milli;
	oldest->last_ms = now_ms;
	return oldest;
}

/*
 * Brings b from last_ms to now_ms at rate thousandths per ms, capped. The gap
 * is taken in uint64_t (now_ms - last_ms may not fit an int64_t) and compared
 * with what is missing before it is multiplied, so nothing overflows.
 *
 * Workers read the clock before they queue for the lock, so times arrive a
 * little out of order: a time up to RL_SKEW_MS back is taken as the later one
 * (no refill; retry_ms adds the difference). A clock stepped back further
 * restarts refill from now_ms, rather than lock the tenant out until the old
 * time comes round again while retry_ms promises a token sooner.
 */
static void
refill(struct bucket *b, int64_t now_ms, int rate, int64_t cap)
{
	uint64_t gap, need;

	if (now_ms < b->last_ms) {
		if ((uint64_t)b->last_ms - (uint64_t)now_ms > RL_SKEW_MS)
			b->last_ms = now_ms;
	} else {
		gap = (uint64_t)now_ms - (uint64_t)b->last_ms;
		need = b->milli < cap ? ((uint64_t)(cap - b->milli) + (uint64_t)rate - 1) /
		    (uint64_t)rate : 0;
		b->milli = gap >= need ? cap : b->milli + (int64_t)gap * rate;
		b->last_ms = now_ms;
	}
	/* A lower burst (a reloaded config) applies at once. */
	if (b->milli > cap)
		b->milli = cap;
}

bool
ratelimit_take(struct ratelimit *rl, uint32_t tenant, int64_t now_ms, int rate,
    int burst, int64_t *retry_ms)
{
	int64_t cap = (int64_t)(burst > 0 ? burst : rate) * 1000;
	struct bucket *b;
	bool ok;

	*retry_ms = 0;
	if (rl == NULL || rate <= 0)
		return true;
	if (lock(rl) != 0)
		return true; /* never refuse service because of the limiter */
	b = find(rl, tenant, cap, now_ms);
	refill(b, now_ms, rate, cap);
	ok = b->milli >= 1000;
	if (ok)
		b->milli -= 1000;
	else	/* 1 to 1000 ms after last_ms, which is at most RL_SKEW_MS ahead */
		*retry_ms = (b->last_ms - now_ms) + (1000 - b->milli + rate - 1) / rate;
	(void)pthread_mutex_unlock(&rl->lock);
	return ok;
}

/*
 * In-flight requests are counted by worker slot, not by a counter per
 * tenant: each slot holds at most one request, so a worker that dies in the
 * middle of one leaves only its own entry behind, which the master clears
 * when it reaps it (and the next worker in the slot clears again before its
 * first request). Nothing can leak for ever.
 */
bool
ratelimit_enter(struct ratelimit *rl, int slot, uint32_t tenant, int max)
{
	int n = 0;

	if (rl == NULL || slot < 0 || slot >= RL_WORKERS)
		return true;
	/*
	 * The slot is marked first, then the others are counted (both
	 * sequentially consistent): two workers entering at once each see the
	 * other, so the limit is never passed; at worst both refuse, and the
	 * client's retry comes after Retry-After. max 0: off, but the slot is
	 * still recorded (a reload may set it).
	 */
	__atomic_store_n(&rl->w[slot].tenant, tenant, __ATOMIC_RELAXED);
	__atomic_store_n(&rl->w[slot].busy, 1, __ATOMIC_SEQ_CST);
	if (max <= 0)
		return true;
	for (int i = 0; i < RL_WORKERS; i++) {
		if (i != slot && __atomic_load_n(&rl->w[i].busy, __ATOMIC_SEQ_CST) &&
		    __atomic_load_n(&rl->w[i].tenant, __ATOMIC_RELAXED) == tenant)
			n++;
	}
	if (n < max)
		return true;
	__atomic_store_n(&rl->w[slot].busy, 0, __ATOMIC_RELEASE);
	return false;
}

void
ratelimit_leave(struct ratelimit *rl, int slot)
{
	if (rl == NULL || slot < 0 || slot >= RL_WORKERS)
		return;
	__atomic_store_n(&rl->w[slot].busy, 0, __ATOMIC_RELEASE);
}

int
ratelimit_inflight(struct ratelimit *rl, uint32_t tenant)
{
	int n = 0;

	if (rl == NULL)
		return 0;
	for (int i = 0; i < RL_WORKERS; i++) {
		if (__atomic_load_n(&rl->w[i].busy, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&rl->w[i].tenant, __ATOMIC_RELAXED) == tenant)
			n++;
	}
	return n;
}
