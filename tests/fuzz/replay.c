/*
 * replay: runs a libFuzzer target of tests/fuzz once over each input of its
 * seed corpus, without libFuzzer, so "make check" exercises every target and
 * its invariants with the normal compiler (and under valgrind or the
 * sanitizers when the build has them). Linked with one fuzz_<name>.c.
 *
 *   check_fuzz_NAME [DIR|FILE...]
 *
 * Without arguments it replays REPLAY_CORPUS, the directory the build
 * compiled in (tests/fuzz/corpus/NAME). Each directory's regular files are
 * replayed in name order; a missing or empty directory fails, so a corpus
 * that went astray cannot pass as an empty run. Each input is given in a
 * buffer of exactly its size, so that an overread shows under valgrind and
 * ASan as it would under libFuzzer. A target that crashes or whose invariant
 * check aborts kills the program; the last "replay:" line names the input.
 * Exit status 0 when every input ran, 1 otherwise.
 */
/* scandir and alphasort are POSIX; a hand build may not define _GNU_SOURCE. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * libFuzzer calls this once before the first input when the target defines
 * it. A weak reference is null when it does not (GCC and Clang on ELF, as
 * libFuzzer itself finds it). None of our targets defines it today.
 */
#if defined(__GNUC__)
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
#define HAVE_INITIALIZE 1
#endif

#ifndef REPLAY_CORPUS
#error "REPLAY_CORPUS (the default corpus directory) must be defined"
#endif

/* Reads the file at path into a malloc'ed buffer of exactly its size. */
static int
read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *bigger;
	size_t len = 0, cap = 0, n;
	int rc = -1;

	if (f == NULL)
		goto fail;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((bigger = realloc(buf, cap)) == NULL)
				goto fail;
			buf = bigger;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	/* Exactly len bytes (at least 1 allocated: malloc(0) may be NULL). */
	if ((bigger = realloc(buf, len > 0 ? len : 1)) == NULL)
		goto fail;
	*data = bigger;
	*size = len;
	buf = NULL;
	rc = 0;
fail:
	if (rc == -1)
		fprintf(stderr, "replay: %s: %s\n", path, errno ? strerror(errno) : "read error");
	free(buf);
	if (f != NULL && fclose(f) != 0 && rc == 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		free(*data);
		rc = -1;
	}
	return rc;
}

/* Runs the target on one file; 0, or -1 when it cannot be read. */
static int
replay_file(const char *path)
{
	uint8_t *data;
	size_t size;
	int rc;

	if (read_file(path, &data, &size) == -1)
		return -1;
	printf("replay: %s (%zu bytes)\n", path, size);
	/* Flushed first: if the target aborts, the log ends with this input. */
	(void)fflush(stdout);
	rc = LLVMFuzzerTestOneInput(data, size);
	free(data);
	/* libFuzzer reserves every other value (-1: do not add to the corpus). */
	if (rc != 0 && rc != -1) {
		fprintf(stderr, "replay: %s: the target returned %d, want 0 or -1\n", path, rc);
		return -1;
	}
	return 0;
}

static int
visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Replays every regular file of dir in name order; the count goes to *n. */
static int
replay_dir(const char *dir, size_t *n)
{
	struct dirent **list;
	int count, rc = 0;

	count = scandir(dir, &list, visible, alphasort);
	if (count == -1) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < count; i++) {
		char path[4096];
		struct stat st;
		int len = snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);

		if (len < 0 || (size_t)len >= sizeof(path)) {
			fprintf(stderr, "replay: %s/%s: path too long\n", dir, list[i]->d_name);
			rc = -1;
		} else if (stat(path, &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
			rc = -1;
		} else if (S_ISREG(st.st_mode)) {
			if (replay_file(path) == -1)
				rc = -1;
			else
				(*n)++;
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

int
main(int argc, char **argv)
{
	char *defaults[] = { argv[0], (char *)REPLAY_CORPUS, NULL };
	size_t total = 0;
	int failed = 0;

	if (argc < 2) {
		argv = defaults;
		argc = 2;
	}
#ifdef HAVE_INITIALIZE
	if (LLVMFuzzerInitialize != NULL)
		(void)LLVMFuzzerInitialize(&argc, &argv);
#endif
	for (int i = 1; i < argc; i++) {
		struct stat st;
		size_t n = 0;

		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
		} else if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) == -1)
				failed = 1;
			else
				total++;
		} else if (replay_dir(argv[i], &n) == -1) {
			failed = 1;
			total += n;
		} else if (n == 0) {
			fprintf(stderr, "replay: %s: no inputs (an empty corpus replays nothing)\n",
			    argv[i]);
			failed = 1;
		} else {
			total += n;
		}
	}
	printf("replay: %zu inputs, %s\n", total, failed ? "FAILED" : "all passed");
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
