/*
 * import: orchidctl import (import.h). The input goes through the bulk
 * splitter 64 KiB at a time; each operation is read, applied in its own
 * transaction and forgotten (the arena is reset after each), so memory
 * stays at one chunk, one operation and the failures shown.
 */
#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bulk.h"
#include "config.h"
#include "mem.h"
#include "store.h"
#include "tenants.h"
#include "timefmt.h"

#define IMPORT_CHUNK	(64 * 1024)
/* Operations committed between two log flushes. */
#define IMPORT_BATCH	1000
/* Failures printed in full. */
#define IMPORT_SHOWN	5

static volatile sig_atomic_t import_stop;

static void
on_stop(int sig)
{
	(void)sig;
	import_stop = 1;
}

struct import {
	struct store *s;
	const struct config *cfg;
	struct bulk_limits lim;
	struct arena *a;
	uint32_t tenant;
	uint64_t ops, ok, failed, unflushed;
	enum store_rc fault;    /* STORE_OK until the store fails */
	bool nomem;
	/* The end line: whether it came, what it says, and how many
	 * operations came before it; then whether anything followed it
	 * (where: the operation was not applied, and reading stopped). */
	bool end_seen;
	int64_t end_lines;
	size_t end_index;
	bool trailing;
	uint64_t trailing_offset;
	struct buf shown;       /* the first IMPORT_SHOWN failures, one a line */
	/* progress */
	bool tty;
	uint64_t size;          /* of the input, 0 when unknown */
	const struct bulk_split *sp;
	double t0, last;
};

static double
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The progress line on standard error (a terminal), at most twice a second. */
static void
progress(struct import *im, bool last)
{
	double t = now_s(), rate;
	uint64_t bytes = bulk_split_offset(im->sp);

	if (!im->tty || (!last && t - im->last < 0.5))
		return;
	im->last = t;
	rate = t > im->t0 ? (double)im->ops / (t - im->t0) : 0;
	fprintf(stderr, "\rimport: %" PRIu64 " operations, %.1f MiB, %.0f/s", im->ops,
	    (double)bytes / (1 << 20), rate);
	if (im->size > 0 && bytes > 0 && bytes <= im->size && t > im->t0)
		fprintf(stderr, ", %d%%, ETA %.0f s   ", (int)(100 * bytes / im->size),
		    (double)(im->size - bytes) * (t - im->t0) / (double)bytes);
	if (last)
		fputc('\n', stderr);
}

/* Counts a failure; the first few are kept as their result entries. */
static void
failed(struct import *im, size_t index, uint64_t offset, const struct bulk_fail *f)
{
	im->failed++;
	if (im->failed > IMPORT_SHOWN)
		return;
	buf_printf(&im->shown, "  byte %" PRIu64 ": ", offset);
	bulk_emit_failure(&im->shown, index, f);
	buf_addc(&im->shown, '\n');
}

struct attempt {
	struct import *im;
	const struct bulk_op *op;
	struct bulk_done done;
	struct bulk_fail fail;
	enum dom_rc rc;
};

static enum store_rc
apply_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct attempt *at = arg;
	struct import *im = at->im;
	struct dom d;

	memset(&d, 0, sizeof(d));
	d.txn = t;
	d.arena = im->a;
	d.tenant = im->tenant;
	d.now_ms = timefmt_now_ms();
	d.max_bytes = (size_t)im->cfg->max_body;
	d.max_depth = im->cfg->max_json_depth;
	at->rc = bulk_apply(&d, at->op, &at->done, &at->fail);
	*commit = at->rc == DOM_OK;
	return dom_fault(at->rc) ? dom_to_store(at->rc) : STORE_OK;
}

/* Applies one operation; false when the store failed (stop). */
static bool
apply(struct import *im, const struct bulk_unit *u, const struct bulk_op *op)
{
	struct attempt at;
	enum store_rc rc;

	memset(&at, 0, sizeof(at));
	at.im = im;
	at.op = op;
	rc = store_run_ex(im->s, true, true, im->cfg->deadlock_retries, apply_txn, &at);
	if (rc == STORE_RETRY) {
		bulk_fail_busy(&at.fail);
		failed(im, u->index, u->offset, &at.fail);
	} else if (rc != STORE_OK) {
		im->fault = rc;
		return false;
	} else if (at.rc == DOM_OK) {
		im->ok++;
		im->unflushed++;
	} else {
		failed(im, u->index, u->offset, &at.fail);
	}
	return true;
}

static bool
flush(struct import *im)
{
	enum store_rc rc;

	if (im->unflushed == 0)
		return true;
	if ((rc = store_log_flush(im->s)) != STORE_OK) {
		im->fault = rc;
		return false;
	}
	im->unflushed = 0;
	return true;
}

/* The end line: a success that writes nothing; the count of operations
 * before it (u->index: every one, failed ones too) is checked at the end. */
static void
end_line(struct import *im, const struct bulk_unit *u, const struct bulk_op *op)
{
	im->ok++;
	im->end_seen = true;
	im->end_lines = op->lines;
	im->end_index = u->index;
}

/* The splitter's callback: one operation, read, applied and forgotten. */
static int
take(void *arg, const struct bulk_unit *u)
{
	struct import *im = arg;
	struct bulk_op op;
	struct bulk_fail f;
	bool go = true;

	if (import_stop)
		return -1;
	if (im->end_seen) {
		/* An export ends with its end line: what follows belongs to no
		 * export (two streams joined, or damage), and is not applied. */
		im->trailing = true;
		im->trailing_offset = u->offset;
		return -1;
	}
	im->ops++;
	if (!u->ok) {
		failed(im, u->index, u->offset, &u->fail);
	} else {
		switch (bulk_read_unit(&im->lim, im->a, u, &op, &f)) {
		case BULK_OK:
			if (op.kind == BULK_END)
				end_line(im, u, &op);
			else
				go = apply(im, u, &op);
			break;
		case BULK_REFUSED:
			failed(im, u->index, u->offset, &f);
			break;
		default:
			im->nomem = true;
			go = false;
		}
	}
	mem_reset(im->a);
	if (go && im->unflushed >= IMPORT_BATCH)
		go = flush(im);
	progress(im, false);
	return go ? 0 : -1;
}

/* Feeds the input to the splitter; 0, or -1 after a message. */
static int
feed(struct import *im, struct bulk_split *sp, int fd, const char *path)
{
	char chunk[IMPORT_CHUNK];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR && !import_stop)
			continue;
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "orchidctl: reading %s: %s\n", path, strerror(errno));
			return -1;
		}
		if (n <= 0 || import_stop)
			break;
		if (bulk_split_feed(sp, chunk, (size_t)n, take, im) == -1)
			goto stopped;
	}
	if (!import_stop && bulk_split_end(sp, take, im) == 0)
		return 0;
stopped:
	/* take stopped it (and says why), or the splitter ran out of memory. */
	if (!import_stop && im->fault == STORE_OK && !im->trailing)
		im->nomem = true;
	return -1;
}

/* The tenant, by name or (when no tenant has that name) by id, as
 * orchidctl export takes it. 0, or -1 after a message. */
static int
find_tenant(struct store *s, const char *name, uint32_t *id)
{
	struct store_txn *t;
	struct arena *a = mem_new();
	enum store_rc rc = a != NULL ? store_begin(s, false, &t) : STORE_ERR;

	if (rc == STORE_OK) {
		rc = tenants_resolve(t, a, name, id);
		store_abort(t);
	}
	mem_free(a);
	if (rc == STORE_NOTFOUND)
		fprintf(stderr, "orchidctl: no tenant %s (orchidctl key create %s makes "
		    "one)\n", name, name);
	else if (rc != STORE_OK)
		fprintf(stderr, "orchidctl: cannot read the tenants\n");
	return rc == STORE_OK ? 0 : -1;
}

/* Opens the input: the file, or standard input for "-". -1 after a message. */
static int
open_input(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);

	*size = 0;
	if (fd == -1) {
		fprintf(stderr, "orchidctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		*size = (uint64_t)st.st_size;
	return fd;
}

/* True when the end line came, last, after as many operations as it says. */
static bool
end_right(const struct import *im)
{
	return im->end_seen && !im->trailing &&
	    (uint64_t)im->end_lines == (uint64_t)im->end_index;
}

/*
 * Checks the end line of a stream read to its end (whole: not stopped by
 * a signal or a fault): it must come after as many operations as it says,
 * and last; a stream without one may be truncated, which only a warning
 * says, since streams made by hand have none. 0, or -1 after a message.
 */
static int
check_end(const struct import *im, bool whole)
{
	if (im->trailing) {
		fprintf(stderr, "orchidctl: data follows the end line (at byte %" PRIu64 "): "
		    "an export ends with its end line; nothing after it was applied\n",
		    im->trailing_offset);
		return -1;
	}
	if (!whole)
		return 0;
	if (!im->end_seen) {
		fprintf(stderr, "orchidctl: no end line: the stream may be truncated; an "
		    "Orchid export always ends with one\n");
		return 0;
	}
	if (!end_right(im)) {
		fprintf(stderr, "orchidctl: the export's end line says %" PRId64 " lines, %zu "
		    "were read\n", im->end_lines, im->end_index);
		return -1;
	}
	return 0;
}

/* Prints the outcome; the exit status. */
static int
report(struct import *im, int rc, double secs)
{
	printf("import: %" PRIu64 " operations, %" PRIu64 " succeeded, %" PRIu64 " failed "
	    "(%.1f MiB in %.1f s)\n", im->ops, im->ok, im->failed,
	    (double)bulk_split_offset(im->sp) / (1 << 20), secs);
	if (end_right(im))
		printf("the stream is whole: its end line counts %" PRId64 " lines, as read\n",
		    im->end_lines);
	if (im->failed > 0) {
		printf("%s failures:\n", im->failed > IMPORT_SHOWN ? "the first" : "the");
		fputs(im->shown.b_data ? im->shown.b_data : "", stdout);
	}
	if (import_stop)
		fprintf(stderr, "orchidctl: import stopped by a signal after %" PRIu64
		    " operations; those that succeeded are stored\n", im->ops);
	else if (im->nomem)
		fprintf(stderr, "orchidctl: out of memory at operation %" PRIu64 "\n", im->ops);
	else if (im->fault != STORE_OK)
		fprintf(stderr, "orchidctl: the store failed at operation %" PRIu64 "%s\n",
		    im->ops, im->fault == STORE_PANIC ? "; it needs recovery (restart "
		    "orchidd, or run orchidctl again with it stopped)" : "");
	if (check_end(im, rc == 0) == -1)
		rc = -1;
	return rc == 0 && im->failed == 0 && im->fault == STORE_OK ? 0 : 1;
}

int
import_run(struct store *s, const struct config *cfg, const char *tenant,
    const char *path)
{
	struct import im;
	struct sigaction sa;
	struct bulk_split *sp;
	int fd, rc;

	memset(&im, 0, sizeof(im));
	im.s = s;
	im.cfg = cfg;
	im.lim.max_value = (size_t)cfg->max_body;
	im.lim.max_depth = cfg->max_json_depth;
	im.lim.max_name = (size_t)cfg->max_name_length;
	if (find_tenant(s, tenant, &im.tenant) == -1 || (fd = open_input(path, &im.size)) == -1)
		return 1;
	im.a = mem_new();
	sp = bulk_split_new(&im.lim);
	if (im.a == NULL || sp == NULL) {
		fprintf(stderr, "orchidctl: out of memory\n");
		mem_free(im.a);
		bulk_split_free(sp);
		return 1;
	}
	buf_init(&im.shown, 0);
	im.sp = sp;
	im.tty = isatty(STDERR_FILENO) == 1;
	im.t0 = im.last = now_s();
	/* A signal stops the import between operations, never inside a
	 * transaction: a process killed there would leave its locks to the
	 * running server until failchk. No SA_RESTART: a blocked read returns. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	rc = feed(&im, sp, fd, path);
	/* What was applied is made durable even when the import stops. */
	if (im.fault != STORE_PANIC && !flush(&im))
		rc = -1;
	progress(&im, true);
	rc = report(&im, rc, now_s() - im.t0);
	if (fd != STDIN_FILENO)
		(void)close(fd);
	bulk_split_free(sp);
	buf_free(&im.shown);
	mem_free(im.a);
	return rc;
}
