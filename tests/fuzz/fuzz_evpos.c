/*
 * fuzz_evpos: libFuzzer target for the event positions and range bounds of
 * src/evpos.h: evpos_parse_ordinal, evpos_parse, evpos_parse_bound,
 * evrange_where and evrange_narrow_ms.
 *
 * The input is one query value or path tail ("TS", "TS/ORDINAL"). Whatever
 * happens, nothing may crash. An accepted position has its timestamp within
 * timefmt's range and prints back (decimal, and TS/16 hex digits) to the
 * same position; the four bound kinds accept it too, and a bare timestamp's
 * bounds cover (inclusive) or exclude (exclusive) exactly its millisecond;
 * narrowing any range built from it to a millisecond never admits a
 * position the range or the millisecond did not. Build (see run.sh):
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_evpos.c src/evpos.c src/timefmt.c src/ids.c \
 *     src/util.c $(pkg-config --cflags --libs libcrypto)
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "evpos.h"
#include "fuzz.h"
#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_reprint(const struct evpos *p, bool given)
{
	char text[64];
	struct evpos again;
	bool g;
	int n;

	if (given)
		n = snprintf(text, sizeof(text), "%" PRIu64 "/%" PRIu64, p->ts, p->ord);
	else
		n = snprintf(text, sizeof(text), "%" PRIu64, p->ts);
	require(n > 0 && (size_t)n < sizeof(text));
	require(evpos_parse(text, (size_t)n, &again, &g) == 0);
	require(g == given && again.ts == p->ts);
	/* An ordinal of 16 decimal digits reads back as hex (see evpos.h). */
	require(again.ord == p->ord || (given && strlen(strchr(text, '/') + 1) == 16));
	if (!given)
		return;
	n = snprintf(text, sizeof(text), "%" PRIu64 "/%016" PRIx64, p->ts, p->ord);
	require(evpos_parse(text, (size_t)n, &again, &g) == 0);
	require(g && again.ts == p->ts && again.ord == p->ord);
}

/* Positions around p worth asking a range about. */
static size_t
probes(const struct evpos *p, struct evpos out[8])
{
	size_t n = 0;

	out[n++] = *p;
	out[n++] = (struct evpos){ p->ts, 0 };
	out[n++] = (struct evpos){ p->ts, UINT64_MAX };
	if (p->ord > 0)
		out[n++] = (struct evpos){ p->ts, p->ord - 1 };
	if (p->ord < UINT64_MAX)
		out[n++] = (struct evpos){ p->ts, p->ord + 1 };
	if (p->ts > 0)
		out[n++] = (struct evpos){ p->ts - 1, UINT64_MAX };
	out[n++] = (struct evpos){ p->ts + 1, 0 };
	return n;
}

static void
check_ranges(const char *s, size_t len, const struct evpos *p, bool given)
{
	struct evpos pr[8];
	size_t np = probes(p, pr);

	for (int k = 0; k < 16; k++) {
		bool has_lo = k & 1, has_hi = k & 2, lo_excl = k & 4, hi_excl = k & 8;
		struct evrange r, n;

		evrange_all(&r);
		if (has_lo) {
			require(evpos_parse_bound(s, len, false, lo_excl, &r.lo) == 0);
			require(r.lo.ts == p->ts);
			require(r.lo.ord == (given ? p->ord : lo_excl ? UINT64_MAX : 0));
			r.lo_excl = lo_excl;
		}
		if (has_hi) {
			require(evpos_parse_bound(s, len, true, hi_excl, &r.hi) == 0);
			require(r.hi.ts == p->ts);
			require(r.hi.ord == (given ? p->ord : hi_excl ? 0 : UINT64_MAX));
			r.hi_excl = hi_excl;
		}
		n = r;
		evrange_narrow_ms(&n, p->ts);
		for (size_t i = 0; i < np; i++) {
			int w = evrange_where(&r, &pr[i]);

			require(w >= -1 && w <= 1);
			/* An inclusive bound holds its own position. */
			if (has_lo && !lo_excl && evpos_cmp(&pr[i], &r.lo) == 0 &&
			    (evpos_cmp(&pr[i], &r.hi) < 0 ||
			    (evpos_cmp(&pr[i], &r.hi) == 0 && !r.hi_excl)))
				require(w == 0);
			/* An exclusive bound never does. */
			if ((has_lo && lo_excl && evpos_cmp(&pr[i], &r.lo) == 0) ||
			    (has_hi && hi_excl && evpos_cmp(&pr[i], &r.hi) == 0))
				require(w != 0);
			/* A bare timestamp: the whole millisecond in or out. */
			if (!given && pr[i].ts == p->ts) {
				if (has_lo && lo_excl)
					require(w == -1);
				else if (has_hi && hi_excl)
					require(w == 1);
				else
					require(w == 0);
			}
			/* Narrowing only ever takes positions away. */
			if (evrange_where(&n, &pr[i]) == 0)
				require(w == 0 && pr[i].ts == p->ts);
			else if (w == 0 && pr[i].ts == p->ts)
				require(0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct evpos p;
	uint64_t ord;
	bool given;

	if (evpos_parse_ordinal(s, size, &ord) == 0) {
		char text[32];
		uint64_t again;
		int n = snprintf(text, sizeof(text), "%" PRIu64, ord);

		/* Decimal of 16 digits would be read as hex; 19-20 digits are not. */
		if (n != 16) {
			require(evpos_parse_ordinal(text, (size_t)n, &again) == 0 && again == ord);
		}
		n = snprintf(text, sizeof(text), "%016" PRIx64, ord);
		require(evpos_parse_ordinal(text, (size_t)n, &again) == 0 && again == ord);
	}
	if (evpos_parse(s, size, &p, &given) != 0) {
		/* Every bound kind refuses what evpos_parse refuses. */
		struct evpos b;

		for (int k = 0; k < 4; k++)
			require(evpos_parse_bound(s, size, k & 1, k & 2, &b) == -1);
		return 0;
	}
	require(p.ts <= (uint64_t)TIMEFMT_MAX_MS);
	require(given || p.ord == 0);
	check_reprint(&p, given);
	check_ranges(s, size, &p, given);
	return 0;
}
