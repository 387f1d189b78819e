/*
 * orchidctl: administration. Joins the same environment as orchidd (it is
 * just another process of it): tenants, keys, statistics, backups and
 * imports. When no orchidd runs it takes the lock file itself and recovers
 * first. Every command but init and restore first checks, without creating
 * or changing anything (store_probe), that the data directory holds an
 * Orchid environment of a format it reads: a mistyped -d must not become a
 * new, empty environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "collections.h"
#include "config.h"
#include "export.h"
#include "import.h"
#include "index.h"
#include "indexer.h"
#include "log.h"
#include "master.h"
#include "mem.h"
#include "store.h"
#include "reclaim.h"
#include "tenants.h"
#include "timefmt.h"
#include "upgrade.h"
#include "util.h"

/*
 * The exit statuses: sysexits.h's where one fits (EX_DATAERR 65 for an
 * unknown data format, EX_NOINPUT 66 for no environment, EX_CANTCREAT 73
 * for an init or restore target that is not new or empty, EX_IOERR 74,
 * EX_TEMPFAIL 75, EX_NOPERM 77, EX_CONFIG 78), and these two; all listed by
 * usage and in orchidctl(8).
 */
#define CTL_FAIL 1        /* the command failed */
#define CTL_USAGE 2       /* a usage error (2, as for most commands) */

static const char usage_text[] =
    "usage: orchidctl [-c FILE] [-d DATADIR] COMMAND [ARGS]\n"
    "       orchidctl -h | --help\n"
    "commands:\n"
    "  init                make a new environment in DATADIR (a new or empty\n"
    "                      directory); orchidd also makes one at its first start\n"
    "  key create TENANT   make a new API key (printed once) for TENANT\n"
    "  key list            list keys: id, tenant id, created\n"
    "  key revoke KEY|ID   revoke a key at once\n"
    "  tenant list         list tenants: id, name\n"
    "  stats               environment statistics\n"
    "  group               the replication group: sites, their parts, this\n"
    "                      site's lag (orchidd running)\n"
    "  group remove HOST:PORT\n"
    "                      remove a dead site from the replication group\n"
    "  backup DIR          hot backup into the new directory DIR\n"
    "  restore DIR [LOGDIR]\n"
    "                      restore the backup DIR into DATADIR (a new or empty\n"
    "                      directory); orchidd stopped; with LOGDIR (the data\n"
    "                      directory DIR was made of, stopped), also replay the\n"
    "                      writes logged there since the backup\n"
    "  verify              check every database file, then that every record belongs\n"
    "                      to a collection and the item counts are right; orchidd\n"
    "                      stopped (or on a backup copy)\n"
    "  import TENANT FILE  apply an export stream (FILE, or - for standard input)\n"
    "                      to the tenant, as POST /v0 would; prints a summary,\n"
    "                      exits 1 when an operation failed or the export's end\n"
    "                      line is wrong (warns when it has none)\n"
    "  export [-d DATADIR] [--history] [-o FILE] TENANT [COLLECTION]\n"
    "                      write a tenant's data (one collection, or all) as an\n"
    "                      export stream to stdout or FILE, ended by its end line\n"
    "  reindex [TENANT]    rebuild the search index of TENANT (name or id), or of\n"
    "                      every tenant, from the data, printing progress; with\n"
    "                      orchidd running its indexer does it (searches answer\n"
    "                      503 until it is ready), else orchidctl does it itself\n"
    "Every command but init and restore needs an Orchid environment in DATADIR.\n"
    "exit status:\n"
    "  0   done\n"
    "  1   the command failed\n"
    "  2   usage error\n"
    "  65  DATADIR holds a data format this orchidctl does not know (a newer one)\n"
    "  66  DATADIR (or restore's DIR) is missing, not a directory, or holds no\n"
    "      Orchid environment\n"
    "  73  init or restore: DATADIR is not a new or empty directory\n"
    "  74  DATADIR could not be read\n"
    "  75  the environment did not answer in time (try again)\n"
    "  77  run as another user than the owner of DATADIR\n"
    "  78  bad configuration\n"
    "environment:\n"
    "  ORCHIDCTL_PROGRESS=1 (or 0) shows (or hides) the progress line of backup,\n"
    "  restore, verify and export; by default it shows when stderr is a terminal\n";

/* Prints the usage to f and exits with status. */
static void __attribute__((noreturn))
usage_exit(FILE *f, int status)
{
	fputs(usage_text, f);
	exit(status);
}

static void __attribute__((noreturn))
usage(void)
{
	usage_exit(stderr, CTL_USAGE);
}

static void
on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "orchidctl: the environment did not answer; "
	    "is orchidd recovering? try again\n";
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(EX_TEMPFAIL);
}

/*
 * Checks that the data directory holds an Orchid environment of a format
 * this build reads (or upgrades), before anything is opened, locked or
 * created there. Returns 0, or the exit status after one line on stderr.
 */
static int
require_env(const struct config *cfg)
{
	char format[32], err[1024] = "";
	const char *dir = cfg->datadir;

	switch (store_probe(dir, format, sizeof(format), err, sizeof(err))) {
	case STORE_PROBE_ENV:
		return 0;
	case STORE_PROBE_MISSING:
		fprintf(stderr, "orchidctl: %s does not exist: expected an Orchid data "
		    "directory (check -d or datadir; orchidctl init makes a new one)\n", dir);
		return EX_NOINPUT;
	case STORE_PROBE_NOTDIR:
		fprintf(stderr, "orchidctl: %s is not a directory: expected an Orchid data "
		    "directory\n", dir);
		return EX_NOINPUT;
	case STORE_PROBE_EMPTY:
		fprintf(stderr, "orchidctl: %s is empty: expected an Orchid environment "
		    "(orchidd makes one at its first start, or orchidctl init)\n", dir);
		return EX_NOINPUT;
	case STORE_PROBE_FOREIGN:
		fprintf(stderr, "orchidctl: %s holds no Orchid environment (no meta.db of "
		    "Orchid's): expected an Orchid data directory; nothing was changed\n",
		    dir);
		return EX_NOINPUT;
	case STORE_PROBE_FORMAT:
		fprintf(stderr, "orchidctl: %s holds data format %s; this orchidctl reads "
		    "format %s and upgrades format %s: use the release that wrote it\n",
		    dir, format, STORE_FORMAT_VERSION, STORE_FORMAT_OLD);
		return EX_DATAERR;
	case STORE_PROBE_ERR:
		break;
	}
	fprintf(stderr, "orchidctl: cannot tell what %s holds: %s\n", dir, err);
	return EX_IOERR;
}

/*
 * Checks that dir may receive a new environment (init, restore): missing
 * or empty. Returns 0, or the exit status after one line on stderr naming
 * what (the command) refused it.
 */
static int
require_new(const char *dir, const char *what)
{
	char format[32], err[1024] = "";

	switch (store_probe(dir, format, sizeof(format), err, sizeof(err))) {
	case STORE_PROBE_MISSING:
	case STORE_PROBE_EMPTY:
		return 0;
	case STORE_PROBE_ENV:
	case STORE_PROBE_FORMAT:
		fprintf(stderr, "orchidctl: %s already holds an Orchid environment (data "
		    "format %s): %s needs a new or empty directory\n", dir,
		    format[0] ? format : "unset", what);
		return EX_CANTCREAT;
	case STORE_PROBE_NOTDIR:
		fprintf(stderr, "orchidctl: %s is not a directory: %s needs a new or empty "
		    "directory\n", dir, what);
		return EX_CANTCREAT;
	case STORE_PROBE_FOREIGN:
		fprintf(stderr, "orchidctl: %s is not empty: %s needs a new or empty "
		    "directory; nothing was changed\n", dir, what);
		return EX_CANTCREAT;
	case STORE_PROBE_ERR:
		break;
	}
	fprintf(stderr, "orchidctl: cannot tell what %s holds: %s\n", dir, err);
	return EX_IOERR;
}

/* Opens the store, recovering first when no orchidd holds the lock; exits
 * on failure. The caller checked the directory (require_env). */
static struct store *
open_store(const struct config *cfg)
{
	struct store *s;
	char err[1024];
	int lock = master_lock(cfg->datadir, 0);

	/* A replicated site's environment is joined only while its orchidd
	 * runs: the first process to join it becomes the site's replication
	 * process, which must be orchidd's maintainer. */
	if (lock != -1 && config_replicated(cfg)) {
		fprintf(stderr, "orchidctl: %s is a replicated site (replication_site): start "
		    "orchidd first\n", cfg->datadir);
		exit(CTL_FAIL);
	}
	if (lock != -1 && (store_recover(cfg, err, sizeof(err)) == -1 ||
	    upgrade_run(cfg, err, sizeof(err)) == -1)) {
		fprintf(stderr, "orchidctl: %s\n", err);
		exit(CTL_FAIL);
	}
	/* Joining an environment after a crash can hang on a dead process's
	 * mutex; never wait forever. */
	signal(SIGALRM, on_alarm);
	alarm(15);
	if (store_open(cfg, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		exit(CTL_FAIL);
	}
	alarm(0);
	return s;
}

static double
mono_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Whether to show a progress line: ORCHIDCTL_PROGRESS=1 always (tests see
 * the lines without a terminal), =0 never, else when standard error is a
 * terminal.
 */
static bool
progress_wanted(void)
{
	const char *v = getenv("ORCHIDCTL_PROGRESS");

	if (v != NULL && strcmp(v, "1") == 0)
		return true;
	if (v != NULL && strcmp(v, "0") == 0)
		return false;
	return isatty(STDERR_FILENO) == 1;
}

/* The progress line of backup, restore and verify (store_progress_fn). */
struct meter {
	const char *what;        /* "backup", "restore", "verify" */
	bool on;                 /* progress_wanted */
	bool tty;                /* redraw one line; else a line each time */
	bool drawn;              /* a line is shown and not yet ended */
	double start, shown;
	struct store_progress last;  /* its file pointer is not kept */
};

static void
meter_start(struct meter *m, const char *what)
{
	memset(m, 0, sizeof(m[0]));
	m->what = what;
	m->on = progress_wanted();
	m->tty = isatty(STDERR_FILENO) == 1;
	m->start = m->shown = mono_s();
}

/* One line: bytes (of the total), files, rate, and the time left while the
 * total still holds (a file may grow while it is copied). */
static void
meter_line(struct meter *m, const struct store_progress *p, double now)
{
	double secs = now - m->start, mb = (double)p->bytes_done / 1e6;
	double rate = secs > 0 ? (double)p->bytes_done / secs : 0;

	fprintf(stderr, "%s%s: %.1f", m->tty ? "\r" : "", m->what, mb);
	if (p->bytes > 0 && p->bytes_done <= p->bytes)
		fprintf(stderr, " of %.1f MB (%d%%)", (double)p->bytes / 1e6,
		    (int)(100 * p->bytes_done / p->bytes));
	else
		fputs(" MB", stderr);
	fprintf(stderr, ", %u of %u files, %.1f MB/s", p->files_done, p->files, rate / 1e6);
	if (p->file == NULL && strcmp(m->what, "restore") == 0) {
		fputs(", recovering", stderr);
	} else if (p->bytes > p->bytes_done && rate > 0) {
		long left = (long)((double)(p->bytes - p->bytes_done) / rate);

		fprintf(stderr, ", ETA %ld:%02ld", left / 60, left % 60);
	}
	fputs(m->tty ? "   " : "\n", stderr);
	m->drawn = m->tty;
}

static void
meter_tell(void *arg, const struct store_progress *p)
{
	struct meter *m = arg;
	double now;

	m->last = *p;
	m->last.file = NULL;
	if (!m->on)
		return;
	/* Twice a second; restore's at once after the last file, since its
	 * recovery then runs without a word. */
	now = mono_s();
	if (now - m->shown < 0.5 && (p->file != NULL || strcmp(m->what, "restore") != 0))
		return;
	m->shown = now;
	meter_line(m, p, now);
}

/* Ends the line: the totals and time when ok, else just the line. */
static void
meter_end(struct meter *m, bool ok)
{
	double secs = mono_s() - m->start, mb = (double)m->last.bytes_done / 1e6;

	if (!m->on)
		return;
	if (ok)
		fprintf(stderr, "%s%s: %.1f MB, %u files in %.1f s (%.1f MB/s)%s\n",
		    m->tty ? "\r" : "", m->what, mb, m->last.files_done, secs,
		    secs > 0 ? mb / secs : 0.0, m->drawn ? "              " : "");
	else if (m->drawn)
		fputc('\n', stderr);
}

/* orchidctl's writes go through store_run, as orchidd's do: a deadlock
 * with a running server is retried, not reported. */
#define CTL_RETRIES 20

struct key_create_args {
	struct arena *a;
	const char *tenant;
	const char *key;
	uint32_t id;
	int created;
};

static enum store_rc
key_create_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct key_create_args *k = arg;
	enum store_rc rc = tenants_ensure(t, k->a, k->tenant, &k->id, &k->created);

	if (rc == STORE_OK)
		rc = tenants_add_key(t, k->id, k->key, timefmt_now_ms());
	*commit = rc == STORE_OK;
	return rc;
}

static int
key_create(struct store *s, const char *tenant)
{
	struct arena *a = mem_new();
	char key[37];
	struct key_create_args k = { a, tenant, key, 0, 0 };
	enum store_rc rc;

	if (!tenants_name_ok(tenant)) {
		fprintf(stderr, "orchidctl: a tenant name is 1 to %d of A-Z a-z 0-9 . _ -\n",
		    TENANT_MAX_NAME);
		mem_free(a);
		return 2;
	}
	if (a == NULL || auth_new_key(key) == -1) {
		mem_free(a);
		return 1;
	}
	rc = store_run(s, true, CTL_RETRIES, key_create_txn, &k);
	mem_free(a);
	if (rc != STORE_OK) {
		fprintf(stderr, "orchidctl: could not store the key\n");
		return 1;
	}
	if (k.created)
		fprintf(stderr, "orchidctl: created tenant %s (id %u)\n", tenant, k.id);
	printf("%s\n", key);
	return 0;
}

static int
run_list(struct store *s, int which)
{
	struct store_txn *t;
	struct arena *a = mem_new();
	struct buf out;
	enum store_rc rc;

	buf_init(&out, 0);
	if (a == NULL || store_begin(s, false, &t) != STORE_OK)
		return 1;
	if (which == 0) {
		buf_adds(&out, "ID\tTENANT\tCREATED\n");
		rc = tenants_list_keys(t, a, &out);
	} else if (which == 1) {
		buf_adds(&out, "ID\tNAME\n");
		rc = tenants_list(t, &out);
	} else {
		uint64_t colls, items;

		rc = store_stats(s, &out) == 0 ? STORE_OK : STORE_ERR;
		if (rc == STORE_OK)
			rc = reclaim_pending(t, &colls, &items);
		if (rc == STORE_OK)
			buf_printf(&out, "reclaim: %llu dropped collections queued, "
			    "%llu purged items' entries queued\n",
			    (unsigned long long)colls, (unsigned long long)items);
	}
	store_abort(t);
	mem_free(a);
	if (rc != STORE_OK || out.b_failed)
		return 1;
	fputs(out.b_data ? out.b_data : "", stdout);
	buf_free(&out);
	return 0;
}

struct revoke_args {
	const char *key;
	int found;
};

static enum store_rc
key_revoke_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct revoke_args *r = arg;
	enum store_rc rc = tenants_revoke(t, r->key, &r->found);

	*commit = rc == STORE_OK;
	return rc;
}

static int
key_revoke(struct store *s, const char *key)
{
	struct revoke_args r = { key, 0 };

	if (store_run(s, true, CTL_RETRIES, key_revoke_txn, &r) != STORE_OK)
		return 1;
	if (!r.found) {
		fprintf(stderr, "orchidctl: no such key\n");
		return 1;
	}
	printf("revoked\n");
	return 0;
}

/* Commands that need the environment to themselves: the lock file, or stop. */
static int
lock_alone(const struct config *cfg, const char *what)
{
	int fd = master_lock(cfg->datadir, 0);

	if (fd == -1)
		fprintf(stderr, "orchidctl: %s needs orchidd stopped (%s/orchidd.lock is held); "
		    "for a live server, back up and %s the copy\n", what, cfg->datadir, what);
	return fd;
}

/* Checks that dir holds a backup restore can read. Returns 0, or the exit
 * status after one line on stderr. */
static int
require_backup(const char *dir)
{
	char format[32], err[1024] = "";

	switch (store_probe(dir, format, sizeof(format), err, sizeof(err))) {
	case STORE_PROBE_ENV:
		return 0;
	case STORE_PROBE_MISSING:
		fprintf(stderr, "orchidctl: %s does not exist: expected a backup made by "
		    "orchidctl backup\n", dir);
		return EX_NOINPUT;
	case STORE_PROBE_NOTDIR:
		fprintf(stderr, "orchidctl: %s is not a directory: expected a backup made by "
		    "orchidctl backup\n", dir);
		return EX_NOINPUT;
	case STORE_PROBE_EMPTY:
	case STORE_PROBE_FOREIGN:
		fprintf(stderr, "orchidctl: %s holds no Orchid backup (no meta.db of "
		    "Orchid's): expected a backup made by orchidctl backup\n", dir);
		return EX_NOINPUT;
	case STORE_PROBE_FORMAT:
		fprintf(stderr, "orchidctl: %s holds data format %s; this orchidctl reads "
		    "format %s and upgrades format %s: use the release that wrote it\n",
		    dir, format, STORE_FORMAT_VERSION, STORE_FORMAT_OLD);
		return EX_DATAERR;
	case STORE_PROBE_ERR:
		break;
	}
	fprintf(stderr, "orchidctl: cannot tell what %s holds: %s\n", dir, err);
	return EX_IOERR;
}

/*
 * The LOGDIR of restore: an existing directory (never made here) that no
 * orchidd uses; its lock is taken and kept until orchidctl exits. Returns
 * 0, or the exit status after one line on stderr.
 */
static int
require_logdir(const char *dir)
{
	struct stat sb;

	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "orchidctl: %s is not a directory: expected the data "
		    "directory the backup was made of\n", dir);
		return EX_NOINPUT;
	}
	if (master_lock(dir, 0) == -1) {
		fprintf(stderr, "orchidctl: restore needs no orchidd running in %s (%s/"
		    "orchidd.lock is held)\n", dir, dir);
		return CTL_FAIL;
	}
	return 0;
}

/* restore DIR [LOGDIR]: the backup DIR into the new or empty data
 * directory, with the logs LOGDIR (the old data directory) wrote since. */
static int
restore(const struct config *cfg, const char *dir, const char *logdir)
{
	struct meter m;
	char err[1024];
	int rc;

	if ((rc = require_new(cfg->datadir, "restore")) != 0 ||
	    (rc = require_backup(dir)) != 0 ||
	    (logdir != NULL && (rc = require_logdir(logdir)) != 0))
		return rc;
	if (lock_alone(cfg, "restore") == -1)
		return CTL_FAIL;
	meter_start(&m, "restore");
	rc = store_restore(cfg, dir, logdir, meter_tell, &m, err, sizeof(err));
	meter_end(&m, rc == 0);
	if (rc == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		return CTL_FAIL;
	}
	if (logdir != NULL)
		printf("restored %s into %s, with the logs of %s\n", dir, cfg->datadir,
		    logdir);
	else
		printf("restored %s into %s\n", dir, cfg->datadir);
	return 0;
}

/*
 * init: a new environment in the new or empty data directory, as orchidd
 * makes at its first start. Refuses any other directory, so it never
 * touches data.
 */
static int
init(const struct config *cfg)
{
	char err[1024];
	int rc;

	if ((rc = require_new(cfg->datadir, "init")) != 0)
		return rc;
	if (master_lock(cfg->datadir, 0) == -1) {
		if (errno == EWOULDBLOCK)
			fprintf(stderr, "orchidctl: %s/orchidd.lock is held: an orchidd is "
			    "starting there\n", cfg->datadir);
		else
			fprintf(stderr, "orchidctl: cannot create %s: %s\n", cfg->datadir,
			    strerror(errno));
		return errno == EWOULDBLOCK ? CTL_FAIL : EX_CANTCREAT;
	}
	/* Again under the lock: another init may have been quicker. */
	if ((rc = require_new(cfg->datadir, "init")) != 0)
		return rc;
	if (store_recover(cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		return CTL_FAIL;
	}
	printf("created an Orchid environment (data format %s) in %s\n",
	    STORE_FORMAT_VERSION, cfg->datadir);
	return 0;
}

/* backup DIR: a hot backup into the new directory DIR. */
static int
backup(struct store *s, const char *dir)
{
	struct meter m;
	char err[1024];
	int rc;

	meter_start(&m, "backup");
	rc = store_backup(s, dir, meter_tell, &m, err, sizeof(err));
	meter_end(&m, rc == 0);
	if (rc == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		return CTL_FAIL;
	}
	return 0;
}

/* The logical check (audit.h) after the files' check; 0 when sound. */
static int
audit(const struct config *cfg, struct buf *out)
{
	struct audit_report r;
	struct store_txn *t;
	struct store *s;
	char err[1024], have[16] = "";
	enum store_rc rc;

	if (store_open(cfg, &s, err, sizeof(err)) == -1) {
		buf_printf(out, "audit: %s\n", err);
		return -1;
	}
	rc = store_begin(s, false, &t);
	if (rc == STORE_OK) {
		rc = upgrade_format(t, have, sizeof(have));
		store_abort(t);
	}
	if (rc == STORE_OK && strcmp(have, STORE_FORMAT_VERSION) != 0) {
		buf_printf(out, "audit: skipped: data format %s (orchidd upgrades it to %s "
		    "when it starts)\n", have, STORE_FORMAT_VERSION);
		store_close(s);
		return 0;
	}
	if (rc == STORE_OK)
		rc = audit_run(s, out, &r);
	store_close(s);
	if (rc != STORE_OK) {
		buf_printf(out, "audit: the environment could not be read\n");
		return -1;
	}
	return r.orphans || r.old_keys || r.malformed || r.bad_counts || r.unmirrored ?
	    -1 : 0;
}

static int
verify(const struct config *cfg)
{
	struct meter m;
	struct buf out;
	char err[1024];
	bool recovered = true;
	int rc;

	if (lock_alone(cfg, "verify") == -1)
		return CTL_FAIL;
	/* A copy from a hot backup is consistent only after recovery. One that
	 * met a corrupt page (logged, with its file) cannot finish: the files
	 * are checked all the same, to say which are damaged. */
	if (store_recover(cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		if (!store_corrupt(NULL, 0, NULL))
			return CTL_FAIL;
		recovered = false;
	}
	buf_init(&out, 0);
	meter_start(&m, "verify");
	rc = store_verify(cfg, &out, meter_tell, &m);
	meter_end(&m, true);
	if (rc == 0 && recovered)
		rc = audit(cfg, &out);
	if (!recovered)
		rc = -1;
	fputs(out.b_data ? out.b_data : "", stdout);
	buf_free(&out);
	return rc == 0 ? 0 : 1;
}

/* ---- reindex --------------------------------------------------------------- */

struct reindex_args {
	struct arena *a;
	const char *name;        /* NULL: every tenant */
	uint32_t ids[4096];
	size_t n;
	int missing;
};

static enum store_rc
reindex_request_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct reindex_args *r = arg;
	enum store_rc rc;

	r->n = 0;
	r->missing = 0;
	if (r->name != NULL) {
		rc = tenants_resolve(t, r->a, r->name, &r->ids[0]);
		if (rc == STORE_NOTFOUND) {
			r->missing = 1;
			return STORE_OK;
		}
		if (rc != STORE_OK)
			return rc;
		r->n = 1;
	} else {
		struct store_cursor *c;
		const void *k, *v;
		size_t kl, vl;

		if ((rc = store_cursor_open(t, STORE_DB_TENANTS, &c)) != STORE_OK)
			return rc;
		rc = store_cursor_get(c, STORE_SEEK_FIRST, NULL, 0, &k, &kl, &v, &vl);
		while (rc == STORE_OK && r->n < sizeof(r->ids) / sizeof(r->ids[0])) {
			if (kl == 4)
				r->ids[r->n++] = util_get_be32(k);
			rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
		}
		store_cursor_close(c);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
	}
	for (size_t i = 0; i < r->n; i++) {
		struct index_info info;
		enum dom_rc drc = index_info_get(t, r->ids[i], &info);

		if (drc != DOM_OK)
			return dom_to_store(drc);
		info.state = IX_REQUESTED;
		if ((drc = index_info_put(t, r->ids[i], &info)) != DOM_OK)
			return dom_to_store(drc);
	}
	*commit = true;
	return STORE_OK;
}

static void
reindex_progress(void *arg, uint32_t tenant, uint64_t done, bool finished)
{
	(void)arg;
	printf("tenant %u: %llu documents indexed%s\n", (unsigned)tenant,
	    (unsigned long long)done, finished ? ", ready" : "");
	fflush(stdout);
}

struct reindex_poll {
	const uint32_t *ids;
	size_t n;
	struct index_info info[4096];
};

static enum store_rc
reindex_poll_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct reindex_poll *p = arg;

	(void)commit;
	for (size_t i = 0; i < p->n; i++) {
		enum dom_rc drc = index_info_get(t, p->ids[i], &p->info[i]);

		if (drc != DOM_OK)
			return dom_to_store(drc);
	}
	return STORE_OK;
}

static int
reindex(const struct config *cfg, const char *tenant)
{
	struct reindex_args *r = calloc(1, sizeof(*r));
	struct reindex_poll *p = calloc(1, sizeof(*p));
	struct store *s;
	char err[1024];
	int lock = master_lock(cfg->datadir, 0), rc = 0;

	if (config_replicated(cfg)) {
		fprintf(stderr, "orchidctl: a replicated site has no search index (search = 0)\n");
		if (lock != -1)
			(void)close(lock);
		free(r);
		free(p);
		return 1;
	}
	if (r == NULL || p == NULL || (r->a = mem_new()) == NULL) {
		fprintf(stderr, "orchidctl: out of memory\n");
		return 1;
	}
	if (lock != -1 && (store_recover(cfg, err, sizeof(err)) == -1 ||
	    upgrade_run(cfg, err, sizeof(err)) == -1)) {
		fprintf(stderr, "orchidctl: %s\n", err);
		return 1;
	}
	if (store_open(cfg, &s, err, sizeof(err)) == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		return 1;
	}
	r->name = tenant;
	if (store_run(s, true, CTL_RETRIES, reindex_request_txn, r) != STORE_OK) {
		fprintf(stderr, "orchidctl: cannot request the rebuild\n");
		rc = 1;
	} else if (r->missing) {
		fprintf(stderr, "orchidctl: no tenant %s\n", tenant);
		rc = 1;
	} else if (lock != -1) {
		/* No orchidd: this process is the indexer until it is done. */
		printf("orchidd is not running: rebuilding here\n");
		if (indexer_drain(s, cfg, reindex_progress, NULL) == -1) {
			fprintf(stderr, "orchidctl: the rebuild failed (see the log above)\n");
			rc = 1;
		}
	} else {
		/* orchidd's indexer builds; follow its progress. */
		uint64_t last[4096];
		size_t ready = 0;

		memset(last, 0xff, sizeof(last));
		p->ids = r->ids;
		p->n = r->n;
		while (ready < r->n) {
			struct timespec ts = { 0, 500000000L };

			if (store_run(s, false, CTL_RETRIES, reindex_poll_txn, p) != STORE_OK) {
				fprintf(stderr, "orchidctl: cannot read the index state\n");
				rc = 1;
				break;
			}
			ready = 0;
			for (size_t i = 0; i < r->n; i++) {
				bool done = p->info[i].state == IX_READY;

				ready += done;
				if (p->info[i].done != last[i] || done != (last[i] == UINT64_MAX - 1)) {
					reindex_progress(NULL, r->ids[i], p->info[i].done, done);
					last[i] = done ? UINT64_MAX - 1 : p->info[i].done;
				}
			}
			if (ready < r->n)
				(void)nanosleep(&ts, NULL);
		}
	}
	store_close(s);
	mem_free(r->a);
	free(r);
	free(p);
	return rc;
}

/* ---- export ---------------------------------------------------------------- */

static volatile sig_atomic_t export_stop;

static void
on_export_stop(int sig)
{
	(void)sig;
	export_stop = 1;
}

/* What `orchidctl export` was asked for. */
struct export_args {
	bool history;
	const char *out;         /* NULL: stdout */
	const char *tenant;      /* name or id */
	const char *coll;        /* NULL: every collection */
};

/* The export's start: the tenant, that the collection exists, and the
 * number of live items for the progress estimate. */
struct export_start {
	struct arena *a;
	const struct export_args *args;
	uint32_t tenant;
	bool tenant_found, coll_found;
	int64_t items;
};

static enum store_rc
export_start_txn(struct store_txn *t, void *arg, bool *commit)
{
	struct export_start *st = arg;
	struct dom d;
	enum store_rc rc;
	enum dom_rc drc;

	*commit = false;
	rc = tenants_resolve(t, st->a, st->args->tenant, &st->tenant);
	st->tenant_found = rc == STORE_OK;
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	memset(&d, 0, sizeof(d));
	d.txn = t;
	d.arena = st->a;
	d.tenant = st->tenant;
	drc = export_count_items(&d, st->args->coll, &st->items);
	st->coll_found = drc == DOM_OK;
	return drc == DOM_NOT_FOUND ? STORE_OK : dom_to_store(drc);
}

/* The progress line (progress_wanted): records, bytes, rates, and
 * without history an estimate of the time left from the item count. */
static void
export_progress(const struct export_totals *t, int64_t items, bool history,
    double secs, bool last)
{
	double mb = (double)t->bytes / 1e6, rate = secs > 0 ? (double)t->items / secs : 0;
	int64_t records = t->items + t->events + t->relations;
	/* Not a terminal (ORCHIDCTL_PROGRESS=1): a line each time. */
	bool tty = isatty(STDERR_FILENO) == 1;

	fprintf(stderr, "%sexport: %lld records, %.1f MB, %.0f records/s, %.1f MB/s",
	    tty ? "\r" : "", (long long)records, mb,
	    secs > 0 ? (double)records / secs : 0.0, secs > 0 ? mb / secs : 0.0);
	if (!history && !last && rate > 0 && items > t->items) {
		long left = (long)((double)(items - t->items) / rate);

		fprintf(stderr, ", ETA %ld:%02ld", left / 60, left % 60);
	}
	if (last)
		fprintf(stderr, " in %.1f s\n", secs);
	else
		fputs(tty ? "   " : "\n", stderr);
}

/* Writes the export; 0, or -1 after saying why on stderr. */
static int
export_write(struct store *s, const struct config *cfg, const struct export_start *st,
    FILE *out)
{
	struct export_spec spec = { st->tenant, st->args->coll, st->args->history,
		cfg->export_batch, EXPORT_BATCH_BYTES };
	struct export *x = export_new(&spec);
	struct export_totals tot;
	bool show = progress_wanted(), done = false;
	double start = mono_s(), shown = start;
	int rc = 0;

	if (x == NULL) {
		fprintf(stderr, "orchidctl: out of memory\n");
		return -1;
	}
	while (!done && rc == 0) {
		const char *data;
		size_t len;

		if (export_stop) {
			fprintf(stderr, "orchidctl: export interrupted\n");
			rc = -1;
		} else if (export_next(x, s, CTL_RETRIES, &data, &len, &done) != STORE_OK) {
			fprintf(stderr, "orchidctl: export failed: the database could not be read\n");
			rc = -1;
		} else if (len > 0 && fwrite(data, 1, len, out) != len) {
			fprintf(stderr, "orchidctl: export failed: cannot write the output\n");
			rc = -1;
		} else if (show && mono_s() - shown >= 0.5) {
			shown = mono_s();
			export_totals(x, &tot);
			export_progress(&tot, st->items, st->args->history, shown - start, false);
		}
	}
	export_totals(x, &tot);
	if (show && rc == 0)
		export_progress(&tot, st->items, st->args->history, mono_s() - start, true);
	else if (show && isatty(STDERR_FILENO) == 1)
		fputc('\n', stderr);
	export_free(x);
	return rc;
}

/* Reads the export command's own options and arguments; -1: usage. */
static int
export_parse(struct config *cfg, int argc, char **argv, struct export_args *ea)
{
	char err[1024];
	int i = 1;

	memset(ea, 0, sizeof(*ea));
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--history") == 0) {
			ea->history = true;
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			ea->out = argv[++i];
		} else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
			if (config_set(cfg, "datadir", argv[++i], err, sizeof(err)) == -1) {
				fprintf(stderr, "orchidctl: %s\n", err);
				return -1;
			}
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			return -1;
		}
	}
	if (argc - i < 1 || argc - i > 2)
		return -1;
	ea->tenant = argv[i];
	ea->coll = argc - i == 2 ? argv[i + 1] : NULL;
	return 0;
}

/*
 * orchidctl runs as the user who owns the data directory (orchidd's user).
 * Run as another, root above all (the easy mistake), the log files, region
 * files and databases it creates would be that user's, and orchidd, running
 * as its own user, could not open them: the service would stop. A missing
 * directory is the command's to report. Returns 0, or 77 (EX_NOPERM) after
 * saying which user to run as.
 */
static int
check_owner(const struct config *cfg)
{
	struct stat st;
	struct passwd *pw;
	const char *name;
	uid_t me = geteuid();

	if (stat(cfg->datadir, &st) == -1 || st.st_uid == me)
		return 0;
	pw = getpwuid(st.st_uid);
	name = pw != NULL ? pw->pw_name : NULL;
	if (name != NULL)
		fprintf(stderr, "orchidctl: %s belongs to user %s, and this is uid %u: run "
		    "orchidctl as %s (sudo -u %s orchidctl ...), or the files it creates "
		    "there could not be opened by orchidd\n", cfg->datadir, name,
		    (unsigned)me, name, name);
	else
		fprintf(stderr, "orchidctl: %s belongs to uid %u, and this is uid %u: run "
		    "orchidctl as uid %u, or the files it creates there could not be "
		    "opened by orchidd\n", cfg->datadir, (unsigned)st.st_uid, (unsigned)me,
		    (unsigned)st.st_uid);
	return EX_NOPERM;
}

/*
 * export [-d DATADIR] [--history] [-o FILE] TENANT [COLLECTION]: the export
 * stream of GET /v0?export=true (or /v0/COLLECTION?export=true) of a tenant
 * given by name or id, to stdout or FILE, with or without orchidd running.
 * A failure removes FILE, so a partial export never looks whole.
 */
static int
export_cmd(struct config *cfg, int argc, char **argv)
{
	struct export_args ea;
	struct export_start st;
	struct sigaction sa;
	struct store *s;
	FILE *out = stdout;
	char err[1024];
	int fd, rc;

	if (export_parse(cfg, argc, argv, &ea) == -1)
		usage();
	if (config_check(cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		return EX_CONFIG;
	}
	/* Its own -d may name another directory than main checked. */
	if ((rc = check_owner(cfg)) != 0 || (rc = require_env(cfg)) != 0)
		return rc;
	memset(&st, 0, sizeof(st));
	st.args = &ea;
	if ((st.a = mem_new()) == NULL)
		return 1;
	s = open_store(cfg);
	if (store_run(s, false, CTL_RETRIES, export_start_txn, &st) != STORE_OK) {
		fprintf(stderr, "orchidctl: the database could not be read\n");
		rc = 1;
	} else if (!st.tenant_found || !st.coll_found) {
		if (st.tenant_found)
			fprintf(stderr, "orchidctl: tenant %s has no collection %s\n", ea.tenant,
			    ea.coll);
		else
			fprintf(stderr, "orchidctl: no tenant %s\n", ea.tenant);
		rc = 1;
	} else if (ea.out != NULL &&
	    (fd = open(ea.out, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		fprintf(stderr, "orchidctl: cannot write %s: %s\n", ea.out, strerror(errno));
		rc = 1;
	} else if (ea.out != NULL && (out = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "orchidctl: cannot write %s: %s\n", ea.out, strerror(errno));
		(void)close(fd);
		(void)unlink(ea.out);
		rc = 1;
	} else {
		/* Stop between batches, never inside a transaction. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_export_stop;
		sigemptyset(&sa.sa_mask);
		(void)sigaction(SIGINT, &sa, NULL);
		(void)sigaction(SIGTERM, &sa, NULL);
		(void)sigaction(SIGHUP, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
		rc = export_write(s, cfg, &st, out) == 0 ? 0 : 1;
		/* The first error wins; a file is closed whatever happened. */
		if (fflush(out) != 0 && rc == 0) {
			fprintf(stderr, "orchidctl: export failed: cannot write the output\n");
			rc = 1;
		}
		if (out != stdout && fclose(out) != 0 && rc == 0) {
			fprintf(stderr, "orchidctl: export failed: cannot write %s\n", ea.out);
			rc = 1;
		}
		if (rc != 0 && ea.out != NULL)
			(void)unlink(ea.out);
	}
	store_close(s);
	mem_free(st.a);
	return rc;
}

/* ---- the command table ---------------------------------------------------- */

/* What a command needs before it runs. */
enum need {
	NEED_ITSELF,  /* checks its directories itself (init, restore) */
	NEED_ENV,     /* an environment in the data directory */
	NEED_STORE    /* that, and the store opened (open_store) */
};

struct command {
	const char *name;
	const char *sub;         /* a second word ("key create"), or NULL */
	int min, max;            /* the operands after the words */
	enum need need;
	/* s: the open store (NEED_STORE), else NULL; a: the operands. */
	int (*run)(struct config *cfg, struct store *s, char **a);
};

static int
cmd_init(struct config *cfg, struct store *s, char **a)
{
	return init(cfg);
}

static int
cmd_key_create(struct config *cfg, struct store *s, char **a)
{
	return key_create(s, a[0]);
}

static int
cmd_key_list(struct config *cfg, struct store *s, char **a)
{
	return run_list(s, 0);
}

static int
cmd_key_revoke(struct config *cfg, struct store *s, char **a)
{
	return key_revoke(s, a[0]);
}

static int
cmd_tenant_list(struct config *cfg, struct store *s, char **a)
{
	return run_list(s, 1);
}

static int
cmd_stats(struct config *cfg, struct store *s, char **a)
{
	return run_list(s, 2);
}

static int
cmd_backup(struct config *cfg, struct store *s, char **a)
{
	return backup(s, a[0]);
}

static int
cmd_restore(struct config *cfg, struct store *s, char **a)
{
	return restore(cfg, a[0], a[1]);
}

static int
cmd_verify(struct config *cfg, struct store *s, char **a)
{
	return verify(cfg);
}

static int
cmd_reindex(struct config *cfg, struct store *s, char **a)
{
	return reindex(cfg, a[0]);
}

static int
cmd_import(struct config *cfg, struct store *s, char **a)
{
	char err[1024];

	/* Its outbox slot before any transaction: taken lazily inside a
	 * write, the slot's own short transaction could wait on the
	 * indexer while the indexer waits on the write (a cycle the
	 * deadlock detector cannot see: both are this thread's). */
	if (index_init(s, INDEX_SLOT_CTL, err, sizeof(err)) == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		return CTL_FAIL;
	}
	return import_run(s, cfg, a[0], a[1]);
}

/* The replication group as this site sees it (docs/replication.md). */
static int
cmd_group(struct config *cfg, struct store *s, char **a)
{
	struct store_rep_info ri;

	(void)a;
	if (!config_replicated(cfg)) {
		fprintf(stderr, "orchidctl: replication is not configured (replication_site)\n");
		return CTL_FAIL;
	}
	if (store_rep_info(s, &ri) == -1) {
		fprintf(stderr, "orchidctl: cannot read the replication state\n");
		return CTL_FAIL;
	}
	printf("SITE\tROLE\tCONNECTED\n");
	for (int i = 0; i < ri.nsites; i++) {
		const struct store_rep_site *x = &ri.sites[i];
		const char *role = x->master ? "master" :
		    x->self ? (ri.role == STORE_ROLE_REPLICA ? "replica" : "unknown") :
		    x->connected ? "replica" : "unreachable";

		printf("%s\t%s\t%s\n", x->addr, role, x->self ? "self" : x->connected ? "yes" : "no");
	}
	if (ri.role == STORE_ROLE_MASTER)
		printf("this site: master; lag 0 s\n");
	else if (ri.beat_ms != 0)
		printf("this site: %s; lag %.3f s (the last heartbeat of master %s)\n",
		    ri.role == STORE_ROLE_REPLICA ? "replica" : "no master known",
		    (double)(timefmt_now_ms() - ri.beat_ms) / 1000.0, ri.beat_site);
	else
		printf("this site: %s; lag unknown (no heartbeat yet)\n",
		    ri.role == STORE_ROLE_REPLICA ? "replica" : "no master known");
	printf("generation %u, elections %llu (won %llu), master changes %llu, "
	    "unacknowledged commits %llu\n", (unsigned)ri.gen,
	    (unsigned long long)ri.elections, (unsigned long long)ri.elections_won,
	    (unsigned long long)ri.master_changes, (unsigned long long)ri.perm_failed);
	return 0;
}

static int
cmd_group_remove(struct config *cfg, struct store *s, char **a)
{
	char err[512];

	if (!config_replicated(cfg)) {
		fprintf(stderr, "orchidctl: replication is not configured (replication_site)\n");
		return CTL_FAIL;
	}
	if (strcmp(a[0], cfg->replication_site) == 0) {
		fprintf(stderr, "orchidctl: %s is this site: remove it from another site\n", a[0]);
		return CTL_FAIL;
	}
	if (store_rep_remove(s, a[0], err, sizeof(err)) == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		return CTL_FAIL;
	}
	printf("removed %s from the replication group\n", a[0]);
	return 0;
}

/* Every command but export (which reads options of its own); the usage
 * text and orchidctl(8) list the same ones (tests/docs/check_docs.py). */
static const struct command commands[] = {
	{ "init", NULL, 0, 0, NEED_ITSELF, cmd_init },
	{ "key", "create", 1, 1, NEED_STORE, cmd_key_create },
	{ "key", "list", 0, 0, NEED_STORE, cmd_key_list },
	{ "key", "revoke", 1, 1, NEED_STORE, cmd_key_revoke },
	{ "tenant", "list", 0, 0, NEED_STORE, cmd_tenant_list },
	{ "stats", NULL, 0, 0, NEED_STORE, cmd_stats },
	{ "group", "remove", 1, 1, NEED_STORE, cmd_group_remove },
	{ "group", NULL, 0, 0, NEED_STORE, cmd_group },
	{ "backup", NULL, 1, 1, NEED_STORE, cmd_backup },
	{ "restore", NULL, 1, 2, NEED_ITSELF, cmd_restore },
	{ "verify", NULL, 0, 0, NEED_ENV, cmd_verify },
	{ "import", NULL, 2, 2, NEED_STORE, cmd_import },
	{ "reindex", NULL, 0, 1, NEED_ENV, cmd_reindex },
};

/* The command argv names, with its operands at argv[*words]; NULL when
 * none has these words and this many operands. */
static const struct command *
find_command(int argc, char **argv, int *words)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		int w = c->sub != NULL ? 2 : 1;

		if (strcmp(argv[0], c->name) != 0 || argc < w ||
		    (c->sub != NULL && strcmp(argv[1], c->sub) != 0))
			continue;
		if (argc - w < c->min || argc - w > c->max)
			return NULL;
		*words = w;
		return c;
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct command *cmd;
	struct config cfg;
	struct store *s = NULL;
	char err[1024];
	int ch, rc, words;

	config_defaults(&cfg);
	log_init("orchidctl", LOG_LEVEL_WARN);
	while ((ch = getopt_long(argc, argv, "+c:d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			if (config_load(&cfg, optarg, err, sizeof(err)) == -1) {
				fprintf(stderr, "orchidctl: %s\n", err);
				return EX_CONFIG;
			}
			break;
		case 'd':
			if (config_set(&cfg, "datadir", optarg, err, sizeof(err)) == -1) {
				fprintf(stderr, "orchidctl: %s\n", err);
				return EX_CONFIG;
			}
			break;
		case 'h':
			usage_exit(stdout, 0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "export") == 0)
		return export_cmd(&cfg, argc, argv);
	if ((cmd = find_command(argc, argv, &words)) == NULL) {
		fprintf(stderr, "orchidctl: unknown command, or wrong operands: %s\n", argv[0]);
		usage();
	}
	if (config_check(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "orchidctl: %s\n", err);
		return EX_CONFIG;
	}
	if ((rc = check_owner(&cfg)) != 0)
		return rc;
	if (cmd->need != NEED_ITSELF && (rc = require_env(&cfg)) != 0)
		return rc;
	if (cmd->need == NEED_STORE)
		s = open_store(&cfg);
	/* Without operands a[0] is argv's closing NULL (reindex of all). */
	rc = cmd->run(&cfg, s, argv + words);
	store_close(s);
	if (rc == CTL_USAGE)
		usage();
	return rc;
}
