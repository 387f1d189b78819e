/*
 * fsyncshim.c: an LD_PRELOAD library for tests/e2e/test_durability.py.
 *
 * It wraps fdatasync(2) and fsync(2) (Berkeley DB 5.3 flushes its log with
 * fdatasync) and, after each call has returned 0, appends one line
 *
 *     <pid> <basename of the file> <CLOCK_MONOTONIC ns>
 *
 * to the file named by $ORCHID_FSYNC_LOG with a single O_APPEND write, so
 * lines from many processes never interleave. The test counts the lines for
 * Berkeley DB log files ("log.NNNNNNNNNN") written while one request was in
 * flight: under durability = sync every acknowledged write must have been
 * covered by at least one completed flush of the log before its 2xx.
 *
 * Built by the test itself (cc -shared -fPIC); not part of orchidd.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

static void
record(int fd)
{
	const char *out = getenv("ORCHID_FSYNC_LOG");
	char proc[64], path[4096], line[4300];
	const char *base;
	struct timespec ts;
	ssize_t n;
	int len, o, saved = errno;

	if (out == NULL || *out == '\0')
		return;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, path, sizeof(path) - 1);
	if (n < 0)
		n = 0;
	path[n] = '\0';
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	len = snprintf(line, sizeof(line), "%ld %s %lld\n", (long)getpid(),
	    *base != '\0' ? base : "?",
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	o = open(out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (o >= 0) {
		if (len > 0 && (size_t)len < sizeof(line))
			(void)!write(o, line, (size_t)len);
		close(o);
	}
	errno = saved;
}

static int
call(const char *name, int fd)
{
	sync_fn real = (sync_fn)dlsym(RTLD_NEXT, name);
	int rc;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	rc = real(fd);
	if (rc == 0)
		record(fd);
	return rc;
}

int
fdatasync(int fd)
{
	return call("fdatasync", fd);
}

int
fsync(int fd)
{
	return call("fsync", fd);
}
