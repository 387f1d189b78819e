/*
 * ratelimit: token buckets in shared memory. Tokens are kept in thousandths
 * so integer arithmetic refills smoothly. The table is open-addressed by
 * tenant id; when it is full, the least recently used bucket is reused (a
 * tenant then starts with a full bucket, which only ever errs on allowing).
 */
#include "ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define RL_SLOTS 4096
#define RL_PROBE 16

struct bucket {
	uint32_t tenant;   /* 0: free */
	int64_t milli;     /* tokens * 1000 */
	int64_t last_ms;
};

struct ratelimit {
	pthread_mutex_t lock;
	struct bucket b[RL_SLOTS];
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

		if (b->tenant == tenant)
			return b;
		if (b->tenant == 0 || oldest == NULL || b->last_ms < oldest->last_ms) {
			oldest = b;
			if (b->tenant == 0)
				break;
		}
	}
	oldest->tenant = tenant;
	oldest->milli = burst_milli;
	oldest->last_ms = now_ms;
	return oldest;
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
	if (now_ms > b->last_ms) {
		b->milli += (now_ms - b->last_ms) * rate;
		if (b->milli > cap)
			b->milli = cap;
		b->last_ms = now_ms;
	}
	ok = b->milli >= 1000;
	if (ok)
		b->milli -= 1000;
	else
		*retry_ms = (1000 - b->milli + rate - 1) / rate;
	(void)pthread_mutex_unlock(&rl->lock);
	return ok;
}
