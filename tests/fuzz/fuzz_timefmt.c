/*
 * fuzz_timefmt: libFuzzer target for timefmt_parse.
 *
 * Any accepted input must lie in [TIMEFMT_MIN_MS, TIMEFMT_MAX_MS]; formatting
 * it with timefmt_iso8601 and parsing that again must give the same ms, and
 * the HTTP date must give the same ms truncated to the second.  Build:
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc src/timefmt.c \
 *     tests/fuzz/fuzz_timefmt.c -o fuzz_timefmt
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(), so that NDEBUG cannot turn the checks off. */
static void
require(int cond)
{
	if (!cond)
		abort();
}

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[TIMEFMT_HTTP_DATE_SIZE];
	int64_t ms, again;

	if (timefmt_parse((const char *)data, size, &ms) != 0)
		return 0;
	require(ms >= TIMEFMT_MIN_MS && ms <= TIMEFMT_MAX_MS);
	require(timefmt_iso8601(ms, buf, TIMEFMT_ISO_SIZE) == 0);
	require(strlen(buf) == TIMEFMT_ISO_SIZE - 1);
	require(timefmt_parse(buf, strlen(buf), &again) == 0 && again == ms);
	require(timefmt_http_date(ms, buf, sizeof(buf)) == 0);
	require(strlen(buf) == TIMEFMT_HTTP_DATE_SIZE - 1);
	require(timefmt_parse(buf, strlen(buf), &again) == 0 &&
	    again == ms - ms % 1000);
	return 0;
}
