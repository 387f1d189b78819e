/*
 * fuzz_route: libFuzzer target for route_split and route_encode_segment.
 *
 * The input is a raw request path (the REQUEST_URI before '?'), split with a
 * name limit of 1024 bytes. Whatever happens, nothing may crash or leak;
 * ROUTE_BAD must come with a reason; every accepted segment must be non-empty,
 * NUL-free, valid UTF-8 and survive route_encode_segment plus a second split
 * unchanged (fuzz_check_path). Build (see tests/fuzz/run.sh):
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_route.c src/route.c src/mem.c src/buf.c src/util.c
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz.h"
#include "mem.h"
#include "route.h"

#define MAX_NAME 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks one input; always returns 0, as libFuzzer wants. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = mem_new();
	struct path p;
	const char *why = NULL;
	enum route_rc rc;

	require(a != NULL);
	rc = route_split(a, (const char *)data, size, MAX_NAME, &p, &why);
	require(rc == ROUTE_OK || rc == ROUTE_NOT_API || rc == ROUTE_BAD);
	require((rc == ROUTE_BAD) == (why != NULL));
	if (rc == ROUTE_OK)
		fuzz_check_path(a, &p, MAX_NAME);
	mem_free(a);
	return 0;
}
