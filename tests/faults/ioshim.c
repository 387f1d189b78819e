/*
 * ioshim.c: an LD_PRELOAD fault injector for tests/faults/iofault.py.
 *
 * It wraps fsync(2), fdatasync(2), write(2), pwrite(2) and pwrite64 and
 * makes chosen calls fail with a chosen errno, without doing them, as a
 * failing disk would. It is switched on and off at run time through a
 * small control file shared by every process (the master, its workers, the
 * maintainer), named by $ORCHID_IOSHIM_CTL and mapped MAP_SHARED; the test
 * writes it with Python's mmap. Its layout (little-endian, 72 bytes):
 *
 *     0  u32 magic    0x544c464f ("OFLT")
 *     4  u32 ops      calls to fail: 1 fsync/fdatasync, 2 write, 4 pwrite
 *     8  i32 err      the errno they fail with (EIO, ENOSPC)
 *    12  u32 every    fail one matching call in every N (1: each one)
 *    16  i64 budget   failures left; 0 or less: nothing fails
 *    24  u64 calls    matching calls seen while armed (the shim counts)
 *    32  u64 failed   failures injected (the shim counts)
 *    40  char[32]     match: the file's name must contain this (the
 *                     descriptor's /proc/self/fd link); empty: any file
 *
 * Every failure injected appends a line "<pid> <call> <file> <errno>
 * <CLOCK_MONOTONIC ns>" to $ORCHID_IOSHIM_LOG (one O_APPEND write).
 * Budget and counters change with atomic operations, so N failures armed
 * are N failures, whichever processes meet them.
 *
 * Built by the test (cc -shared -fPIC); not part of orchidd.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define CTL_MAGIC 0x544c464fU
#define OP_SYNC 1U
#define OP_WRITE 2U
#define OP_PWRITE 4U

struct ctl {
	uint32_t magic;
	uint32_t ops;
	int32_t err;
	uint32_t every;
	int64_t budget;
	uint64_t calls;
	uint64_t failed;
	char match[32];
};

typedef int (*sync_fn)(int);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static struct ctl *ctl;
static int ctl_tried;

static struct ctl *
control(void)
{
	const char *path;
	void *p;
	int fd;

	if (__atomic_load_n(&ctl_tried, __ATOMIC_ACQUIRE))
		return ctl;
	path = getenv("ORCHID_IOSHIM_CTL");
	if (path != NULL && *path != '\0' &&
	    (fd = open(path, O_RDWR | O_CLOEXEC)) >= 0) {
		p = mmap(NULL, sizeof(struct ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (p != MAP_FAILED)
			ctl = p;
	}
	__atomic_store_n(&ctl_tried, 1, __ATOMIC_RELEASE);
	return ctl;
}

static void
file_of(int fd, char *out, size_t len)
{
	char proc[64];
	const char *base;
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, out, len - 1);
	if (n < 0)
		n = 0;
	out[n] = '\0';
	base = strrchr(out, '/');
	if (base != NULL)
		memmove(out, base + 1, strlen(base + 1) + 1);
}

static void
note(const char *call, const char *file, int err)
{
	const char *path = getenv("ORCHID_IOSHIM_LOG");
	char line[512];
	struct timespec ts;
	int len, o;

	if (path == NULL || *path == '\0')
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	len = snprintf(line, sizeof(line), "%ld %s %s %d %lld\n", (long)getpid(), call,
	    *file != '\0' ? file : "?", err,
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	o = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (o >= 0) {
		if (len > 0 && (size_t)len < sizeof(line)) {
			/* The real write: this file is never a match. */
			write_fn real = (write_fn)dlsym(RTLD_NEXT, "write");
			if (real != NULL)
				(void)real(o, line, (size_t)len);
		}
		close(o);
	}
}

/* True when this call is to fail (errno is then set to the chosen one). */
static int
fail_now(unsigned op, int fd, const char *call)
{
	struct ctl *c = control();
	char file[4096];
	uint64_t n;
	int64_t b;
	int err, saved = errno;

	if (c == NULL || c->magic != CTL_MAGIC ||
	    __atomic_load_n(&c->budget, __ATOMIC_ACQUIRE) <= 0 ||
	    (__atomic_load_n(&c->ops, __ATOMIC_RELAXED) & op) == 0)
		return 0;
	file_of(fd, file, sizeof(file));
	if (c->match[0] != '\0' && strstr(file, c->match) == NULL) {
		errno = saved;
		return 0;
	}
	n = __atomic_add_fetch(&c->calls, 1, __ATOMIC_RELAXED);
	if (c->every > 1 && n % c->every != 0) {
		errno = saved;
		return 0;
	}
	b = __atomic_load_n(&c->budget, __ATOMIC_ACQUIRE);
	do {
		if (b <= 0) {
			errno = saved;
			return 0;
		}
	} while (!__atomic_compare_exchange_n(&c->budget, &b, b - 1, 0, __ATOMIC_ACQ_REL,
	    __ATOMIC_ACQUIRE));
	__atomic_add_fetch(&c->failed, 1, __ATOMIC_RELAXED);
	err = c->err != 0 ? c->err : EIO;
	note(call, file, err);
	errno = err;
	return 1;
}

#define REAL(name, type) \
	static type real_##name; \
	if (real_##name == NULL) \
		real_##name = (type)dlsym(RTLD_NEXT, #name)

int
fsync(int fd)
{
	REAL(fsync, sync_fn);
	if (fail_now(OP_SYNC, fd, "fsync"))
		return -1;
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	REAL(fdatasync, sync_fn);
	if (fail_now(OP_SYNC, fd, "fdatasync"))
		return -1;
	return real_fdatasync(fd);
}

ssize_t
write(int fd, const void *buf, size_t len)
{
	REAL(write, write_fn);
	if (fail_now(OP_WRITE, fd, "write"))
		return -1;
	return real_write(fd, buf, len);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
	REAL(pwrite, pwrite_fn);
	if (fail_now(OP_PWRITE, fd, "pwrite"))
		return -1;
	return real_pwrite(fd, buf, len, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	REAL(pwrite64, pwrite_fn);
	if (fail_now(OP_PWRITE, fd, "pwrite64"))
		return -1;
	return real_pwrite64(fd, buf, len, off);
}
