/*
 * store: Berkeley DB 5.3 behind a small interface.
 *
 * One transactional, multi-process environment (DB_INIT_TXN | DB_INIT_LOCK |
 * DB_INIT_LOG | DB_INIT_MPOOL; never DB_PRIVATE, never DB_REGISTER), failure
 * checking with set_isalive/set_thread_count, tuning in a generated DB_CONFIG
 * so every process and the db5.3_* utilities agree. See
 * shared/reference/berkeleydb-fastcgi-reliability.md for why each step is here.
 */
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <db.h>

#include "config.h"
#include "log.h"
#include "mem.h"
#include "util.h"

struct store {
	DB_ENV *env;
	DB *db[STORE_DB_COUNT];
	DB *outbox[STORE_OUTBOX_SLOTS];  /* NULL until opened */
	const struct config *cfg;
	uint64_t serial;
};

#define OUTBOX_FILE "outbox.db"

static void retry_pause(int attempt);

/* Deadlock retries of this process (store_retry_count). */
static uint64_t store_retries;


/* The handle of db: one of the fixed databases or an open outbox; NULL for
 * an outbox this process has not opened (a programming error, logged). */
static DB *
dbh(const struct store *s, enum store_db db)
{
	int i = (int)db;

	if (i >= 0 && i < STORE_DB_COUNT)
		return s->db[i];
	if (i >= STORE_DB_OUTBOX && i < STORE_DB_OUTBOX + STORE_OUTBOX_SLOTS &&
	    s->outbox[i - STORE_DB_OUTBOX] != NULL)
		return s->outbox[i - STORE_DB_OUTBOX];
	log_err("store: database %d is not open in this process", i);
	return NULL;
}

struct store_txn {
	struct store *s;
	DB_TXN *txn;
	bool nosync;                  /* commit without flushing the log */
	bool write;
	struct store_cursor *cursors; /* still open; closed before commit/abort */
};

struct store_cursor {
	struct store_txn *t;
	DBC *dbc;
	DBT key, val;                 /* DB_DBT_REALLOC buffers owned by the cursor */
	struct store_cursor *next;
};

static const char *db_files[STORE_DB_COUNT] = {
	"meta.db", "tenants.db", "apikeys.db", "items.db", "versions.db",
	"refs.db", "events.db", "evseq.db", "relations.db", "relrev.db",
	"collections.db", "counts.db", "reclaim.db",
};

/* A call since the last store_begin failed for lack of space (store_full). */
static bool store_nospace;

/* The last commit since the last store_begin failed (store_outcome_unknown). */
static bool store_commit_failed;

/* Set by the panic callback; a process has one environment at a time. */
static volatile sig_atomic_t store_panic_seen;

/* Replication (store.h, docs/replication.md). DB_EVENT_REP_PERM_FAILED
 * comes from Berkeley DB's threads as well as the committing one: a
 * counter, compared around each commit. */
static unsigned long rep_perm_failed;
static bool store_unacked_seen;     /* the last commit missed its acks */
static bool store_readonly_seen;    /* a write met a replica (EACCES) */
static bool rep_on;                 /* this process's environment replicates */
static DB_TXN_TOKEN last_token;
static bool last_token_set;
#define HEARTBEAT_KEY "replication.heartbeat"

/* Set while store_recover opens the environment (the master, single-threaded). */
static bool store_recovering;

/* A write of Berkeley DB's failed for lack of space: set by errcall, read
 * by event_notify for the DB_EVENT_WRITE_FAILED that follows it. */
static bool store_write_nospace;

/* The messages of a full disk, logged once every NOSPACE_LOG_MS. */
#define NOSPACE_LOG_MS 10000
static int64_t nospace_seen_ms, nospace_logged_ms;
static unsigned long nospace_left_out;

/*
 * A page that failed its checksum when read (Berkeley DB's BDB0684, then
 * BDB3016 naming the file): Berkeley DB panics the environment; this
 * process remembers which page it was (store_corrupt) and logs one line
 * saying so, if corrupt_hook (shared by every process, see
 * store_set_corrupt_hook) lets it.
 */
static struct {
	bool pending;            /* BDB0684 seen: the page, waiting for its file */
	unsigned long page;
	bool seen;               /* file and page are known */
	char file[64];
} corrupt;
static bool (*corrupt_hook)(void *arg, uint64_t *left_out);
static void *corrupt_hook_arg;
static void (*io_error_hook)(void *arg);
static void *io_error_hook_arg;

static void
note_io_error(void)
{
	if (io_error_hook != NULL)
		io_error_hook(io_error_hook_arg);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
says_nospace(const char *msg)
{
	return strstr(msg, strerror(ENOSPC)) != NULL || strstr(msg, strerror(EDQUOT)) != NULL;
}

/* "X: write failed for page N", "X: unable to flush page: N": what a page
 * write that failed says after the write's own message. */
static bool
says_page_write(const char *msg)
{
	return strncmp(msg, "BDB3015 ", 8) == 0 || strncmp(msg, "BDB3027 ", 8) == 0;
}

/*
 * Reads Berkeley DB's words about a page that failed its checksum: BDB0684
 * "checksum error: page N: catastrophic recovery required", then BDB3016
 * "PATH: pgin failed for page N" (db_conv.c __db_pgin, mp_bh.c __memp_pg,
 * 5.3.28). Returns -1 when msg is neither, 0 for the first, 1 when the
 * second completes the report (corrupt.file, corrupt.page; the first such
 * report of the process is kept).
 */
static int
note_corrupt(const char *msg)
{
	const char *p, *name;
	unsigned long page;

	if (sscanf(msg, "BDB0684 checksum error: page %lu", &page) == 1) {
		corrupt.pending = true;
		corrupt.page = page;
		return 0;
	}
	if (!corrupt.pending || strncmp(msg, "BDB3016 ", 8) != 0 ||
	    (p = strstr(msg, ": pgin failed for page ")) == NULL ||
	    sscanf(p, ": pgin failed for page %lu", &page) != 1 || page != corrupt.page)
		return -1;
	corrupt.pending = false;
	if (corrupt.seen)
		return 1;
	/* Just the file's name: every database is in the data directory. */
	for (name = msg + 8; strchr(name, '/') != NULL && strchr(name, '/') < p;)
		name = strchr(name, '/') + 1;
	snprintf(corrupt.file, sizeof(corrupt.file), "%.*s", (int)(p - name), name);
	corrupt.seen = true;
	return 1;
}

/* The line a page that failed its checksum gets, when corrupt_hook (if
 * any) lets it: one a minute at most across every orchidd process. */
static void
log_corrupt(void)
{
	uint64_t left_out = 0;

	char more[80] = "";

	if (corrupt_hook != NULL && !corrupt_hook(corrupt_hook_arg, &left_out))
		return;
	if (left_out > 0)
		snprintf(more, sizeof(more), " (and %llu more checksum errors since the last "
		    "such line)", (unsigned long long)left_out);
	log_err("%s page %lu is corrupt (checksum error): the data needs repair, see "
	    "\"Repairing a corrupt database\" in docs/reliability.md%s", corrupt.file,
	    corrupt.page, more);
}

/* The panic Berkeley DB declares between a checksum error's two messages. */
static bool
panic_of_checksum(const char *msg)
{
	return corrupt.pending && strncmp(msg, "BDB0061 ", 8) == 0;
}

static void
errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	int64_t now;

	(void)env;
	(void)pfx;
	if (panic_of_checksum(msg)) {
		log_debug("bdb: %s", msg);
		return;
	}
	switch (note_corrupt(msg)) {
	case 0:
		log_debug("bdb: %s", msg);
		return;
	case 1:
		log_debug("bdb: %s", msg);
		log_corrupt();
		return;
	default:
		break;
	}
	/* After a corrupt page, the panic's echoes in every call say nothing
	 * more (the request's own line says what failed). */
	if (corrupt.seen && !store_recovering) {
		log_debug("bdb: %s", msg);
		return;
	}
	/*
	 * DB_RECOVER first tries to join the old environment to remove it;
	 * when a process was killed while creating it (a kill during an
	 * earlier recovery), that fails with BDB1546 and Berkeley DB removes
	 * the region files by hand and goes on. Not an error: the open's own
	 * return code says whether recovery worked.
	 */
	/*
	 * A replica's refusal of a write (BDB0111, "attempt to modify a
	 * read-only database") is answered by the caller (store_not_master);
	 * and the internal init of a new replica reads every file of the data
	 * directory, the lock file too (BDB0004 on orchidd.lock), and skips
	 * what is not a database.
	 */
	if (rep_on && (strncmp(msg, "BDB0111 ", 8) == 0 ||
	    (strncmp(msg, "BDB0004 ", 8) == 0 && strstr(msg, "orchidd.lock") != NULL))) {
		log_debug("bdb: %s", msg);
		return;
	}
	if (store_recovering && strncmp(msg, "BDB1546 ", 8) == 0) {
		log_info("bdb: %s (regions left by a killed process; recovery removes them)",
		    msg);
		return;
	}
	/*
	 * A full disk makes every page write of a checkpoint, and every log
	 * write, fail and say so, thousands of lines a second: one line every
	 * NOSPACE_LOG_MS says it, with how many were left out.
	 */
	now = mono_ms();
	/* BDB0137 is the failed write() itself (os_rw.c), said just before
	 * its DB_EVENT_WRITE_FAILED. */
	if (strncmp(msg, "BDB0137 ", 8) == 0)
		store_write_nospace = says_nospace(msg);
	if (says_nospace(msg)) {
		store_nospace = true;
		nospace_seen_ms = now;
	}
	if (says_nospace(msg) || (says_page_write(msg) && nospace_seen_ms != 0 &&
	    now - nospace_seen_ms < 60000)) {
		if (nospace_logged_ms != 0 && now - nospace_logged_ms < NOSPACE_LOG_MS) {
			nospace_left_out++;
			return;
		}
		log_err("bdb: %s (the disk is full: writes are refused until there is space; "
		    "%lu such messages left out since the last)", msg, nospace_left_out);
		nospace_logged_ms = now;
		nospace_left_out = 0;
		return;
	}
	log_err("bdb: %s", msg);
}

/*
 * A panic needs recovery: every process of the environment exits and the
 * master recovers. So does a failed write (DB_EVENT_WRITE_FAILED), with one
 * exception: a write refused for lack of space (ENOSPC, EDQUOT) wrote
 * nothing that matters. A page stays dirty in the cache and is written
 * again at the next checkpoint; a log write fails the commit that needed it
 * (the client gets 507 and the transaction is aborted). Recovering then
 * would need the space that is missing (recovery writes pages and a
 * checkpoint), so the service would stop for reads too; instead it goes on
 * and writes work again once there is space (docs/reliability.md, "A full
 * disk"). Any other write failure, an I/O error above all, still panics:
 * after it nothing says what reached the disk.
 */
/* The replication events: logged (most arrive in the maintainer, the
 * replication process); a missed acknowledgement is counted. */
static void (*rep_change_hook)(void);

void
store_set_rep_change_hook(void (*fn)(void))
{
	rep_change_hook = fn;
}

static void
rep_event(u_int32_t event, void *info)
{
	if ((event == DB_EVENT_REP_MASTER || event == DB_EVENT_REP_SITE_ADDED ||
	    event == DB_EVENT_REP_SITE_REMOVED || event == DB_EVENT_REP_CLIENT) &&
	    rep_change_hook != NULL)
		rep_change_hook();
	switch (event) {
	case DB_EVENT_REP_PERM_FAILED:
		__atomic_add_fetch(&rep_perm_failed, 1, __ATOMIC_SEQ_CST);
		break;
	case DB_EVENT_REP_MASTER:
		log_info("replication: this site is the master now");
		break;
	case DB_EVENT_REP_CLIENT:
		log_info("replication: this site is a replica now");
		break;
	case DB_EVENT_REP_NEWMASTER:
		log_info("replication: site %d is the master", info != NULL ? *(int *)info : -1);
		break;
	case DB_EVENT_REP_STARTUPDONE:
		log_info("replication: this replica has caught up with the master");
		break;
	case DB_EVENT_REP_ELECTED:
		log_info("replication: this site won an election");
		break;
	case DB_EVENT_REP_DUPMASTER:
		log_warn("replication: two masters met; this one steps down");
		break;
	case DB_EVENT_REP_ELECTION_FAILED:
		log_warn("replication: an election failed (too few sites voted); it is held again");
		break;
	case DB_EVENT_REP_JOIN_FAILURE:
		log_err("replication: this site cannot join the group (its log cannot be "
		    "synchronized without rolling back its own commits)");
		break;
	case DB_EVENT_REP_LOCAL_SITE_REMOVED:
		log_warn("replication: this site was removed from the group");
		break;
	case DB_EVENT_REP_INIT_DONE:
		log_info("replication: copied the master's databases (internal init)");
		break;
	case DB_EVENT_REP_SITE_ADDED:
	case DB_EVENT_REP_SITE_REMOVED:
		log_info("replication: site %d %s the group", info != NULL ? *(int *)info : -1,
		    event == DB_EVENT_REP_SITE_ADDED ? "joined" : "left");
		break;
	case DB_EVENT_REP_MASTER_FAILURE:
		log_warn("replication: the master is gone; an election follows");
		break;
	default:
		break;
	}
}

static void
event_notify(DB_ENV *env, u_int32_t event, void *info)
{
	(void)env;
	(void)info;
	if (event == DB_EVENT_WRITE_FAILED && store_write_nospace) {
		store_write_nospace = false;
		return;
	}
	if (event == DB_EVENT_WRITE_FAILED)
		note_io_error();
	if (event == DB_EVENT_PANIC || event == DB_EVENT_WRITE_FAILED)
		store_panic_seen = 1;
	rep_event(event, info);
}

/*
 * Every flush Berkeley DB makes (the log at a commit, the database files at
 * a checkpoint) comes here (db_env_set_func_fsync). A flush that fails is
 * never tried again into a success: after a failed fsync Linux may have
 * marked the pages it could not write clean, so a second fsync can return 0
 * with the data still not on the disk (the "fsyncgate" lesson; Berkeley DB
 * 5.3 itself does not panic when a log flush fails, so a later commit's
 * flush would succeed past the hole). So the first failure panics the
 * environment: every process stops at its next call (no later commit is
 * acknowledged), and the master recovers, after dropping the OS's cached
 * pages of every file so that recovery reads what is on the disk
 * (drop_cached_pages). From then on every flush of this handle fails too.
 */
static DB_ENV *flush_env;          /* this process's environment, for the panic */
static volatile sig_atomic_t flush_failed;

static int
flush_file(int fd)
{
	char proc[64], path[512];
	ssize_t n;
	int e;

	if (flush_failed)
		return EIO;
	/* Berkeley DB does not retry what this returns: an interrupted flush
	 * (a signal; none is expected here) is simply made again. */
	do {
		if (fdatasync(fd) == 0)
			return 0;
		e = errno;
	} while (e == EINTR);
	flush_failed = 1;
	note_io_error();
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	log_err("flushing %s failed: %s; the environment is stopped and recovered (a failed "
	    "flush is never retried)", n > 0 ? path : "a database file", strerror(e));
	if (flush_env != NULL)
		(void)flush_env->set_flags(flush_env, DB_PANIC_ENVIRONMENT, 1);
	store_panic_seen = 1;
	errno = e;
	return e;
}

/*
 * failchk asks whether the process that owned a lock or transaction is still
 * alive. The master reaps a dead child before failchk runs, so a pid that
 * kill() cannot find is gone for good (a zombie would still answer).
 */
static int
is_alive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)env;
	(void)tid;
	(void)flags;
	return kill(pid, 0) == 0 || errno == EPERM;
}

static enum store_rc
map_rc(int rc, const char *what)
{
	if (rc == ENOSPC || rc == EDQUOT)
		store_nospace = true;
	switch (rc) {
	case 0:
		return STORE_OK;
	case DB_NOTFOUND:
	case DB_KEYEMPTY:
		return STORE_NOTFOUND;
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
		return STORE_RETRY;
	case DB_REP_LOCKOUT:
		/* A replica synchronizing with the master: a moment later. */
		return STORE_RETRY;
	case EACCES:
		if (rep_on) {
			store_readonly_seen = true;
			log_debug("%s: this site is a replica", what);
			return STORE_ERR;
		}
		log_err("%s: %s", what, db_strerror(rc));
		return STORE_ERR;
	case DB_REP_HANDLE_DEAD:
		/* A commit this replica had was rolled back (it rejoined after a
		 * failover): its database handles are stale. The process stops and
		 * its replacement opens new ones. */
		log_warn("%s: the database handles died with a rolled-back commit; "
		    "this process is replaced", what);
		store_panic_seen = 1;
		return STORE_PANIC;
	case DB_RUNRECOVERY:
		store_panic_seen = 1;
		if (corrupt.seen)
			log_debug("%s: %s", what, db_strerror(rc));
		else
			log_err("%s: %s", what, db_strerror(rc));
		return STORE_PANIC;
	default:
		log_err("%s: %s", what, db_strerror(rc));
		return STORE_ERR;
	}
}

/* True when the file at path holds exactly len bytes equal to text. */
static bool
same_file(const char *path, const char *text, size_t len)
{
	char b[8192];
	size_t n;
	FILE *f = fopen(path, "r");
	bool same;

	if (f == NULL)
		return false;
	n = fread(b, 1, sizeof(b), f);
	same = n == len && len < sizeof(b) && memcmp(b, text, len) == 0;
	(void)fclose(f);
	return same;
}

/*
 * DB_CONFIG is generated from orchidd.conf at every recovery, so the
 * settings that size the regions always follow the config. It is written
 * only when it changes: a recovery on a full disk (after a worker died of
 * it) must not fail for want of the space to rewrite a file it already has.
 */
static int
write_db_config(const struct config *cfg, char *err, size_t errlen)
{
	char path[CONFIG_PATH_MAX + 32], tmp[CONFIG_PATH_MAX + 40], text[4096];
	FILE *f;
	int n;
	const char *dflag = cfg->durability == DURABILITY_WRITE ? "set_flags DB_TXN_WRITE_NOSYNC\n"
	    : cfg->durability == DURABILITY_NONE ? "set_flags DB_TXN_NOSYNC\n" : "";

	snprintf(path, sizeof(path), "%s/DB_CONFIG", cfg->datadir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(text, sizeof(text),
	    "# Generated by orchidd from %s at every start: edit that file instead.\n"
	    "# Read by every orchidd process, orchidctl and the db5.3_* utilities.\n"
	    "set_cachesize %lld %lld 1\n"
	    "set_lk_detect DB_LOCK_DEFAULT\n"
	    "set_lg_bsize 1048576\n"
	    "set_lg_max 67108864\n"
	    "set_lk_max_locks 200000\n"
	    "set_lk_max_objects 200000\n"
	    "set_lk_max_lockers 20000\n"
	    "set_tx_max 1000\n"
	    "set_thread_count %d\n"
	    "# durability = %s\n%s",
	    cfg->path[0] ? cfg->path : "the built-in defaults",
	    (long long)(cfg->cache_size >> 30), (long long)(cfg->cache_size & ((1 << 30) - 1)),
	    cfg->workers * 4 + 64, config_durability_name(cfg->durability), dflag);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		snprintf(err, errlen, "%s: the generated text is too long", path);
		return -1;
	}
	if (same_file(path, text, (size_t)n))
		return 0;
	f = fopen(tmp, "w");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fwrite(text, 1, (size_t)n, f) != (size_t)n || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0 || ferror(f)) {
		snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
		(void)fclose(f);
		(void)unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* Splits "host:port" (checked by config_check) into host and port. */
static void
split_site(const char *text, size_t len, char *host, size_t hostlen, u_int *port)
{
	const char *colon = memrchr(text, ':', len);
	size_t hl = colon != NULL ? (size_t)(colon - text) : 0;

	if (hl >= hostlen)
		hl = hostlen - 1;
	memcpy(host, text, hl);
	host[hl] = '\0';
	*port = colon != NULL ? (u_int)strtoul(colon + 1, NULL, 10) : 0;
}

static int
add_site(DB_ENV *env, const char *text, size_t len, bool local, bool creator,
    char *err, size_t errlen)
{
	char host[256];
	u_int port;
	DB_SITE *site;
	int rc;

	split_site(text, len, host, sizeof(host), &port);
	rc = env->repmgr_site(env, host, port, &site, 0);
	if (rc == 0) {
		if (local) {
			rc = site->set_config(site, DB_LOCAL_SITE, 1);
			if (rc == 0 && creator)
				rc = site->set_config(site, DB_GROUP_CREATOR, 1);
		} else {
			rc = site->set_config(site, DB_BOOTSTRAP_HELPER, 1);
		}
		(void)site->close(site);
	}
	if (rc != 0) {
		snprintf(err, errlen, "replication site %s:%u: %s", host, port, db_strerror(rc));
		return -1;
	}
	return 0;
}

static u_int32_t
ack_policy(const char *name)
{
	if (strcmp(name, "all") == 0)
		return DB_REPMGR_ACKS_ALL;
	if (strcmp(name, "one") == 0)
		return DB_REPMGR_ACKS_ONE;
	if (strcmp(name, "none") == 0)
		return DB_REPMGR_ACKS_NONE;
	return DB_REPMGR_ACKS_QUORUM;
}

/*
 * The replication manager's settings (docs/replication.md): this site and
 * its helpers, the acknowledgement policy and the timeouts. Every process
 * sets them (the local site must match what the environment has); only
 * the replication process acts on most of them.
 */
static int
rep_configure(DB_ENV *env, const struct config *cfg, char *err, size_t errlen)
{
	const char *p = cfg->replication_peers;
	db_timeout_t hb = (db_timeout_t)cfg->replication_heartbeat * 1000;
	int rc;

	if (add_site(env, cfg->replication_site, strlen(cfg->replication_site), true,
	    cfg->replication_creator != 0, err, errlen) == -1)
		return -1;
	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0 && add_site(env, p, n, false, false, err, errlen) == -1)
			return -1;
		p = e != NULL ? e + 1 : p + strlen(p);
	}
	rc = env->repmgr_set_ack_policy(env, ack_policy(cfg->replication_ack_policy));
	if (rc == 0)
		rc = env->rep_set_priority(env, (u_int32_t)cfg->replication_priority);
	if (rc == 0)
		rc = env->rep_set_timeout(env, DB_REP_ACK_TIMEOUT,
		    (db_timeout_t)cfg->replication_ack_timeout * 1000);
	/* The master sends a heartbeat every replication_heartbeat ms; a
	 * replica that hears nothing for 4 of them calls an election. */
	if (rc == 0)
		rc = env->rep_set_timeout(env, DB_REP_HEARTBEAT_SEND, hb);
	if (rc == 0)
		rc = env->rep_set_timeout(env, DB_REP_HEARTBEAT_MONITOR, hb * 4);
	if (rc == 0)
		rc = env->rep_set_timeout(env, DB_REP_ELECTION_TIMEOUT, hb * 4);
	if (rc == 0)
		rc = env->rep_set_timeout(env, DB_REP_ELECTION_RETRY, hb * 2);
	if (rc == 0)
		rc = env->rep_set_timeout(env, DB_REP_CONNECTION_RETRY, hb * 2);
	/* By default a master's checkpoint sleeps 30 s before it logs its
	 * record, to give the replicas time to write their own pages first;
	 * the maintainer (heartbeats, failchk) cannot sleep that long. A
	 * replica then flushes its cache when the record arrives instead. */
	if (rc == 0)
		rc = env->rep_set_timeout(env, DB_REP_CHECKPOINT_DELAY, 0);

	if (rc != 0) {
		snprintf(err, errlen, "replication settings: %s", db_strerror(rc));
		return -1;
	}
	return 0;
}

static int
env_open(const struct config *cfg, DB_ENV **out, u_int32_t extra, char *err,
    size_t errlen)
{
	DB_ENV *env;
	int rc;
	/* Transactions, locking, logging and a shared cache: the multi-process
	 * transactional environment. DB_CREATE only creates missing regions. */
	u_int32_t flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | extra;
	/* The replication manager runs threads of its own in every process
	 * that joins: DB_THREAD is required (every DBT that receives data is
	 * DB_DBT_MALLOC, REALLOC or USERMEM here). */
	bool rep = config_replicated(cfg);

	if (rep)
		flags |= DB_INIT_REP | DB_THREAD;
	rep_on = rep;

	rc = db_env_create(&env, 0);
	if (rc != 0) {
		snprintf(err, errlen, "db_env_create: %s", db_strerror(rc));
		return -1;
	}
	/* A new handle: its flushes are trusted again (flush_file). */
	(void)db_env_set_func_fsync(flush_file);
	flush_failed = 0;
	flush_env = env;
	store_panic_seen = 0;
	env->set_errcall(env, errcall);
	(void)env->set_event_notify(env, event_notify);
	/* Both are needed before open for failchk to track processes. */
	(void)env->set_thread_count(env, (u_int32_t)(cfg->workers * (rep ? 12 : 4) + 64));
	(void)env->set_isalive(env, is_alive);
	rc = env->open(env, cfg->datadir, flags, 0600);
	if (rc != 0) {
		snprintf(err, errlen, "opening the environment in %s: %s", cfg->datadir,
		    db_strerror(rc));
		(void)env->close(env, 0);
		flush_env = NULL;
		return -1;
	}
	if (rep && rep_configure(env, cfg, err, errlen) == -1) {
		(void)env->close(env, 0);
		flush_env = NULL;
		return -1;
	}
	*out = env;
	return 0;
}

/*
 * The counters are the one hash database. Berkeley DB locks pages, not
 * records: in a B-tree the 16 counter records of a collection share a leaf
 * page, so every writer of the collection would wait for the one before it
 * to commit. A hash table with a fill factor of 1 keeps about one key per
 * bucket page (of 512 bytes), so writers of different shards lock different
 * pages. Only point lookups are made in it.
 */
static int
hash_settings(DB *db)
{
	int rc = db->set_pagesize(db, 512);

	if (rc == 0)
		rc = db->set_h_ffactor(db, 1);
	return rc;
}

static int
open_dbs(struct store *s, bool create, char *err, size_t errlen)
{
	for (int i = 0; i < STORE_DB_COUNT; i++) {
		DB *db = NULL;
		DBTYPE type = i == STORE_DB_COUNTS ? DB_HASH : DB_BTREE;
		int rc;

		/* Opening takes a handle lock in a transaction of its own; with
		 * replication a writer holds its locks until the replicas have
		 * acknowledged its commit, and the deadlock detector may pick the
		 * open: it is tried again, on a new handle (a handle whose open
		 * failed can only be closed). */
		for (int attempt = 0;; attempt++) {
			rc = db_create(&db, s->env, 0);
			if (rc == 0 && create) {
				/* Page checksums catch torn pages; they only take
				 * effect when the file is created. */
				rc = db->set_flags(db, DB_CHKSUM);
			}
			if (rc == 0 && create && type == DB_HASH)
				rc = hash_settings(db);
			if (rc == 0) {
				rc = db->open(db, NULL, db_files[i], NULL, type,
				    DB_AUTO_COMMIT | (create ? DB_CREATE : 0), 0600);
			}
			if (rc == 0)
				break;
			if (db != NULL)
				(void)db->close(db, 0);
			db = NULL;
			if ((rc != DB_LOCK_DEADLOCK && rc != DB_LOCK_NOTGRANTED &&
			    rc != DB_REP_LOCKOUT) || attempt >= 20)
				break;
			retry_pause(attempt);
		}
		if (rc != 0) {
			snprintf(err, errlen, "opening %s: %s", db_files[i], db_strerror(rc));
			return -1;
		}
		s->db[i] = db;
	}
	return 0;
}

static int
check_format(struct store *s, char *err, size_t errlen)
{
	DBT k, v;
	char have[16];
	int rc;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = "format";
	k.size = 6;
	v.data = have;
	v.ulen = sizeof(have) - 1;
	v.flags = DB_DBT_USERMEM;
	rc = s->db[STORE_DB_META]->get(s->db[STORE_DB_META], NULL, &k, &v, 0);
	if (rc == DB_NOTFOUND) {
		v.data = STORE_FORMAT_VERSION;
		v.size = (u_int32_t)strlen(STORE_FORMAT_VERSION);
		v.flags = 0;
		rc = s->db[STORE_DB_META]->put(s->db[STORE_DB_META], NULL, &k, &v,
		    DB_AUTO_COMMIT);
		if (rc == 0)
			return 0;
	}
	if (rc != 0) {
		snprintf(err, errlen, "reading the format version: %s", db_strerror(rc));
		return -1;
	}
	have[v.size] = '\0';
	if (strcmp(have, STORE_FORMAT_OLD) == 0) {
		log_info("%s holds data format %s: it is upgraded to format %s before "
		    "orchidd serves requests", s->cfg->datadir, have, STORE_FORMAT_VERSION);
		return 0;
	}
	if (strcmp(have, STORE_FORMAT_VERSION) != 0) {
		snprintf(err, errlen, "%s holds data format %s; this orchidd reads format %s "
		    "and upgrades format %s: use the release that wrote it", s->cfg->datadir,
		    have, STORE_FORMAT_VERSION, STORE_FORMAT_OLD);
		return -1;
	}
	return 0;
}

/* Berkeley DB's words about a meta.db the probe could not read: the
 * probe's result says what matters. */
static void
probe_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	log_debug("probe: bdb: %s", msg);
}

/*
 * Reads the "format" of the meta.db at path into format (len bytes; bytes
 * that are not printable ASCII become '?'), once, through a read-only handle
 * outside any environment: no region, lock, log or page is written. Returns
 * 0, DB_NOTFOUND, or a Berkeley DB or system error.
 */
static int
probe_read(const char *path, char *format, size_t len)
{
	DB *db;
	DBT k, v;
	int rc = db_create(&db, NULL, 0), crc;

	if (rc != 0)
		return rc;
	db->set_errcall(db, probe_errcall);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = "format";
	k.size = 6;
	v.flags = DB_DBT_MALLOC;
	rc = db->open(db, NULL, path, NULL, DB_BTREE, DB_RDONLY, 0);
	if (rc == 0)
		rc = db->get(db, NULL, &k, &v, 0);
	if (rc == 0) {
		size_t n = v.size < len ? v.size : len - 1;

		for (size_t i = 0; i < n; i++) {
			char c = ((const char *)v.data)[i];

			format[i] = c > ' ' && c < 127 ? c : '?';
		}
		format[n] = '\0';
	}
	free(v.data);
	/* DB_NOSYNC: a read-only handle has nothing to write back. */
	crc = db->close(db, DB_NOSYNC);
	return rc != 0 ? rc : crc;
}

/* Whether dir holds anything but a lock file (orchidd and orchidctl take it
 * first, so a start cut short leaves it alone). 0 or -1 (errno). */
static int
probe_entries(const char *dir, bool *any)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL)
		return -1;
	*any = false;
	while (!*any && (e = readdir(d)) != NULL) {
		*any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, "orchidd.lock") != 0;
	}
	(void)closedir(d);
	return 0;
}

enum store_probe
store_probe(const char *dir, char *format, size_t len, char *err, size_t errlen)
{
	char path[CONFIG_PATH_MAX + 32];
	struct stat sb;
	bool any;
	int rc;

	format[0] = '\0';
	if (stat(dir, &sb) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			return STORE_PROBE_MISSING;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return STORE_PROBE_ERR;
	}
	if (!S_ISDIR(sb.st_mode))
		return STORE_PROBE_NOTDIR;
	if ((size_t)snprintf(path, sizeof(path), "%s/meta.db", dir) >= sizeof(path)) {
		snprintf(err, errlen, "%s: the path is too long", dir);
		return STORE_PROBE_ERR;
	}
	if (stat(path, &sb) == -1) {
		if (errno == ENOENT && probe_entries(dir, &any) == 0)
			return any ? STORE_PROBE_FOREIGN : STORE_PROBE_EMPTY;
		snprintf(err, errlen, "%s: %s", errno == ENOENT ? dir : path,
		    strerror(errno));
		return STORE_PROBE_ERR;
	}
	if (!S_ISREG(sb.st_mode))
		return STORE_PROBE_FOREIGN;
	/* orchidd may be writing a page of meta.db back from its cache as we
	 * read it (a torn page fails its checksum): read again a few times.
	 * What is on disk may be older than orchidd's cache, but the format
	 * changes only in an upgrade, from one format this build reads to the
	 * other. */
	for (int i = 0;; i++) {
		rc = probe_read(path, format, len);
		if (rc == 0 || rc == DB_NOTFOUND || rc == EINVAL || rc == ENOENT ||
		    rc == EACCES || i == 4)
			break;
		struct timespec ts = { 0, 50000000L };
		(void)nanosleep(&ts, NULL);
	}
	if (rc == 0)
		return strcmp(format, STORE_FORMAT_VERSION) == 0 ||
		    strcmp(format, STORE_FORMAT_OLD) == 0 ? STORE_PROBE_ENV :
		    STORE_PROBE_FORMAT;
	if (rc == DB_NOTFOUND) {
		/* Created, but cut short before check_format wrote the format:
		 * the next recovery writes it. */
		format[0] = '\0';
		return STORE_PROBE_ENV;
	}
	format[0] = '\0';
	if (rc == EINVAL)
		return STORE_PROBE_FOREIGN;     /* not a Berkeley DB B-tree */
	snprintf(err, errlen, "reading %s: %s", path, db_strerror(rc));
	return STORE_PROBE_ERR;
}

/*
 * Before recovery, the OS's cached pages of the log and database files are
 * dropped (POSIX_FADV_DONTNEED; dirty pages are written and kept, so this
 * loses nothing), so that recovery reads what is on the disk. After a write
 * or flush that failed, Linux can keep the pages it could not write as
 * clean cached pages: recovery would read them, take a log the disk does
 * not hold for complete, and write after it, while a power cut would leave
 * a hole (flush_file). Reading the disk, recovery ends the log where the
 * disk's ends and redoes the pages from it. The cost is a cold cache after
 * a recovery.
 */
static void
drop_cached_pages(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[CONFIG_PATH_MAX + 256];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		int fd;

		if (strncmp(e->d_name, "log.", 4) != 0 &&
		    (n < 3 || strcmp(e->d_name + n - 3, ".db") != 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		(void)close(fd);
	}
	(void)closedir(d);
}

/*
 * The region files (the cache, locks, log buffer: __db.001 ...) live in the
 * data directory and are mapped into every process. Berkeley DB creates
 * them sparse, so a page first touched when the file system is full cannot
 * be backed, and the process touching it dies of SIGBUS inside Berkeley DB
 * (found filling a tmpfs: failchk then failed and the master recovered).
 * Allocating their blocks right after recovery made them finds a full disk
 * at recovery, as an error, never later as a signal. (DB_REGION_INIT would
 * do it by writing every region whole at each recovery and faulting it in
 * in every process that joins: hundreds of MB per start.)
 */
static int
allocate_regions(const char *dir, char *err, size_t errlen)
{
	char path[CONFIG_PATH_MAX + 300];
	struct dirent *e;
	struct stat sb;
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		int fd, frc;

		if (strncmp(e->d_name, "__db.", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
			continue;
		frc = fstat(fd, &sb) == 0 && sb.st_size > 0 ?
		    posix_fallocate(fd, 0, sb.st_size) : 0;
		/* A file system without fallocate: nothing to reserve with. */
		if (frc != 0 && frc != EOPNOTSUPP && frc != EINVAL) {
			snprintf(err, errlen, "reserving the space of %s: %s", path, strerror(frc));
			rc = -1;
		}
		(void)close(fd);
	}
	(void)closedir(d);
	return rc;
}

int
store_recover(const struct config *cfg, char *err, size_t errlen)
{
	struct store s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	if (mkdir(cfg->datadir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", cfg->datadir, strerror(errno));
		return -1;
	}
	if (write_db_config(cfg, err, errlen) == -1)
		return -1;
	drop_cached_pages(cfg->datadir);
	store_recovering = true;
	rc = env_open(cfg, &s.env, DB_RECOVER, err, errlen);
	store_recovering = false;
	if (rc == -1)
		return -1;
	rc = allocate_regions(cfg->datadir, err, errlen);
	/* A replicated site's databases are the group's: the master creates
	 * them (store_rep_ready) and the replicas receive them. */
	if (config_replicated(cfg))
		goto checkpoint;
	if (rc == 0)
		rc = open_dbs(&s, true, err, errlen);
	if (rc == 0)
		rc = check_format(&s, err, errlen);
	/* The workers' search outboxes (and the last one, the registry of
	 * slots) exist before any process starts, so the indexer sees them
	 * from its first look (index.h). */
	for (int i = 0; rc == 0 && i < cfg->workers + 1 && i < STORE_OUTBOX_SLOTS; i++) {
		int slot = i < cfg->workers ? i : STORE_OUTBOX_SLOTS - 1;

		if (store_outbox_open(&s, slot, true) != STORE_OK) {
			snprintf(err, errlen, "cannot create the search outbox of worker %d", i);
			rc = -1;
		}
	}
	for (int i = 0; i < STORE_OUTBOX_SLOTS; i++) {
		if (s.outbox[i] != NULL)
			(void)s.outbox[i]->close(s.outbox[i], 0);
	}
checkpoint:
	if (rc == 0 && s.env->txn_checkpoint(s.env, 0, 0, DB_FORCE) != 0) {
		/* Lack of space only delays it; a failed flush means the disk
		 * cannot be trusted yet: recovery is tried again. */
		if (flush_failed) {
			snprintf(err, errlen, "the checkpoint after recovery could not flush "
			    "(an I/O error)");
			rc = -1;
		} else {
			log_warn("checkpoint after recovery failed");
		}
	}
	for (int i = 0; i < STORE_DB_COUNT; i++) {
		if (s.db[i] != NULL)
			(void)s.db[i]->close(s.db[i], 0);
	}
	(void)s.env->close(s.env, 0);
	flush_env = NULL;
	return rc;
}

/*
 * Berkeley DB 5.3's replication manager leaves Nagle's algorithm on for its
 * connections. A commit goes out as several small messages and the
 * acknowledgement comes back as one: each small write that follows an
 * unacknowledged one waits for the peer's delayed ACK (40 ms on Linux), so
 * every replicated commit took about 40 ms (measured: 220 PUT/s at c16 and
 * c64 with a quorum; 1,574 with TCP_NODELAY, bench/replication.py). The
 * only TCP sockets of an orchidd process are the replication manager's, so
 * every one of them gets TCP_NODELAY: right after repmgr_start, then at
 * most every 50 ms for a process's first 3 s (its connections are made in
 * the background) and every second after (reconnections, and the
 * connections other sites' processes open to this one's listener).
 */
static void
rep_nodelay(bool force)
{
	static int64_t started_ms, last_ms;
	int64_t now = mono_ms();
	DIR *d;
	struct dirent *e;

	if (started_ms == 0)
		started_ms = now;
	if (!force && now - last_ms < (now - started_ms < 3000 ? 50 : 1000))
		return;
	last_ms = now;
	d = opendir("/proc/self/fd");
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name), type = 0, one = 1;
		socklen_t len = sizeof(type);
		struct sockaddr_storage a;
		socklen_t alen = sizeof(a);

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d))
			continue;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
		    type != SOCK_STREAM ||
		    getsockname(fd, (struct sockaddr *)&a, &alen) != 0 ||
		    (a.ss_family != AF_INET && a.ss_family != AF_INET6))
			continue;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	(void)closedir(d);
}

void
store_rep_poll(void)
{
	if (rep_on)
		rep_nodelay(false);
}

/*
 * Starts the replication manager in this process. The first process of the
 * environment to call it (the maintainer, started before any worker)
 * becomes the replication process: it listens, holds elections and applies
 * what the master sends. The others send their own commits to the replicas
 * and wait for the acknowledgements. Its threads start with every signal
 * blocked, so that the process's signals reach its own thread.
 */
static int
rep_start(struct store *s, bool listener, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int attempt = 0;; attempt++) {
		rc = s->env->repmgr_start(s->env, listener ? 3 : 1, DB_REP_ELECTION);
		/* Joining needs the master: a new site waits for it. */
		if (rc != DB_REP_UNAVAIL || attempt >= 600)
			break;
		if (attempt % 10 == 0)
			log_warn("replication: cannot join the group yet (no master "
			    "answers); trying again");
		(void)usleep(500000);
	}
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	rep_nodelay(true);
	if (rc == DB_REP_IGNORE && !listener)
		return 0;
	if (rc == 0 && !listener)
		log_warn("replication: this process became the replication process");
	if (rc == DB_REP_IGNORE) {
		snprintf(err, errlen, "replication: another process already runs the "
		    "replication manager for %s", s->cfg->datadir);
		return -1;
	}
	if (rc != 0) {
		snprintf(err, errlen, "replication: repmgr_start: %s", db_strerror(rc));
		return -1;
	}
	return 0;
}

int
store_open(const struct config *cfg, struct store **out, char *err, size_t errlen)
{
	return store_open_ex(cfg, out, 0, err, errlen);
}

int
store_open_ex(const struct config *cfg, struct store **out, unsigned flags, char *err,
    size_t errlen)
{
	struct store *s;
	u_int32_t dflag = 0;
	bool listener = (flags & STORE_OPEN_REP_LISTENER) != 0;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	static uint64_t opened;

	s->cfg = cfg;
	s->serial = ++opened;
	if (env_open(cfg, &s->env, 0, err, errlen) == -1) {
		free(s);
		return -1;
	}
	/* The durability flags are per handle; DB_CONFIG sets them too, this
	 * makes a handle follow the config even if DB_CONFIG was edited. */
	if (cfg->durability == DURABILITY_WRITE)
		dflag = DB_TXN_WRITE_NOSYNC;
	else if (cfg->durability == DURABILITY_NONE)
		dflag = DB_TXN_NOSYNC;
	if (dflag != 0)
		(void)s->env->set_flags(s->env, dflag, 1);
	if (config_replicated(cfg) && rep_start(s, listener, err, errlen) == -1) {
		store_close(s);
		return -1;
	}
	/* The replication process opens the databases once the site knows
	 * its part (store_rep_ready). */
	if (!listener && open_dbs(s, false, err, errlen) == -1) {
		store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < STORE_DB_COUNT; i++) {
		if (s->db[i] != NULL)
			(void)s->db[i]->close(s->db[i], 0);
	}
	for (int i = 0; i < STORE_OUTBOX_SLOTS; i++) {
		if (s->outbox[i] != NULL)
			(void)s->outbox[i]->close(s->outbox[i], 0);
	}
	if (s->env != NULL)
		(void)s->env->close(s->env, 0);
	flush_env = NULL;
	free(s);
}

bool
store_panicked(const struct store *s)
{
	(void)s;
	return store_panic_seen != 0;
}

bool
store_corrupt(char *file, size_t len, unsigned long *page)
{
	if (!corrupt.seen)
		return false;
	if (file != NULL && len > 0)
		snprintf(file, len, "%s", corrupt.file);
	if (page != NULL)
		*page = corrupt.page;
	return true;
}

void
store_set_corrupt_hook(bool (*fn)(void *arg, uint64_t *left_out), void *arg)
{
	corrupt_hook = fn;
	corrupt_hook_arg = arg;
}

void
store_set_io_error_hook(void (*fn)(void *arg), void *arg)
{
	io_error_hook = fn;
	io_error_hook_arg = arg;
}

int
store_failchk(struct store *s)
{
	int rc = s->env->failchk(s->env, 0);

	if (rc != 0) {
		log_warn("failchk: %s", db_strerror(rc));
		return -1;
	}
	return 0;
}

int
store_checkpoint(struct store *s, bool force)
{
	char **list = NULL;
	int rc;

	store_nospace = false;
	rc = s->env->txn_checkpoint(s->env, 0, 0, force ? DB_FORCE : 0);
	if (rc != 0) {
		map_rc(rc, "txn_checkpoint");
		/*
		 * A page write or a file's flush failed for another reason than
		 * a full disk (which only delays the checkpoint: the pages stay
		 * dirty and are written at the next one). After an I/O error
		 * nothing says what reached the disk; Linux may even have marked
		 * the pages of a failed fsync clean, so that the next checkpoint
		 * would succeed without writing them and let their log go. So
		 * the process reports a panic: it exits and the master recovers
		 * the environment from the log.
		 */
		if (rc != ENOSPC && rc != EDQUOT && !store_nospace && !store_panic_seen) {
			log_err("checkpoint failed (%s): the environment is to be recovered",
			    db_strerror(rc));
			store_panic_seen = 1;
		}
		return -1;
	}
	/* Log files older than the checkpoint are no longer needed for normal
	 * recovery; hot backups copy the logs they need themselves. */
	rc = s->env->log_archive(s->env, &list, DB_ARCH_REMOVE);
	if (rc != 0) {
		map_rc(rc, "log_archive");
		return -1;
	}
	free(list);
	return 0;
}

/* A caller's progress function and what it is told. */
struct progress {
	store_progress_fn fn;    /* NULL: nobody listens */
	void *arg;
	struct store_progress p;
	char file[256];          /* p.file points here */
};

static void
progress_tell(struct progress *pr)
{
	if (pr->fn != NULL)
		pr->fn(pr->arg, &pr->p);
}

static void
progress_file(struct progress *pr, const char *name)
{
	if (name == NULL) {
		pr->p.file = NULL;
	} else {
		snprintf(pr->file, sizeof(pr->file), "%s", name);
		pr->p.file = pr->file;
	}
	progress_tell(pr);
}

/* Adds the files of dir that keep(name) accepts to the totals of pr. */
static void
progress_count(struct progress *pr, const char *dir, bool (*keep)(const char *))
{
	char path[CONFIG_PATH_MAX + 300];
	struct dirent *e;
	struct stat sb;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (!keep(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			pr->p.files++;
			pr->p.bytes += (uint64_t)sb.st_size;
		}
	}
	(void)closedir(d);
}

/* The files DB_ENV->backup copies from the home: all but the regions and
 * DB_CONFIG (skipped with DB_BACKUP_SINGLE_DIR). */
static bool
backup_copies(const char *name)
{
	return name[0] != '.' && strncmp(name, "__db", 4) != 0 &&
	    strcmp(name, "DB_CONFIG") != 0;
}

/*
 * A backup in progress, reached from Berkeley DB's backup callbacks through
 * the environment handle's app_private (the callbacks get no argument of
 * their own). The callbacks write the files themselves, so they can count
 * the bytes. The first failure is kept here: Berkeley DB 5.3 loses some of
 * the callbacks' errors (a failed open of a log file, whose copy then goes
 * on to the write callback; any failed close but the first).
 */
struct backup_run {
	struct progress pr;
	int error;
	char failed[256];        /* the file of the first failure */
};

#define BACKUP_GIGABYTE 1073741824

/* A backup target file's descriptor as the callbacks' handle: fd + 1, so
 * that NULL is no file. */
static void *
fd_handle(int fd)
{
	return (void *)(intptr_t)(fd + 1);
}

static int
handle_fd(void *h)
{
	return (int)(intptr_t)h - 1;
}

static int
backup_fail(struct backup_run *b, const char *name, int error)
{
	if (b->error == 0) {
		b->error = error;
		snprintf(b->failed, sizeof(b->failed), "%s", name);
	}
	return b->error;
}

static int
backup_open(DB_ENV *env, const char *name, const char *target, void **handle)
{
	struct backup_run *b = env->app_private;
	char path[CONFIG_PATH_MAX + 300];
	int fd;

	*handle = NULL;
	if (b->error != 0)
		return b->error;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", target, name) >= sizeof(path))
		return backup_fail(b, name, ENAMETOOLONG);
	/* O_EXCL: the directory must not hold the file (DB_EXCL's promise). */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return backup_fail(b, name, errno);
	*handle = fd_handle(fd);
	progress_file(&b->pr, name);
	return 0;
}

static int
backup_write(DB_ENV *env, u_int32_t gigs, u_int32_t off, u_int32_t size, u_int8_t *buf,
    void *handle)
{
	struct backup_run *b = env->app_private;
	off_t at = (off_t)gigs * BACKUP_GIGABYTE + off;
	size_t done = 0;

	if (b->error != 0)
		return b->error;
	if (handle == NULL)
		return backup_fail(b, b->pr.file, EBADF);
	while (done < size) {
		ssize_t n = pwrite(handle_fd(handle), buf + done, size - done,
		    at + (off_t)done);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return backup_fail(b, b->pr.file, n == -1 ? errno : EIO);
		done += (size_t)n;
	}
	b->pr.p.bytes_done += size;
	progress_tell(&b->pr);
	return 0;
}

static int
backup_close(DB_ENV *env, const char *name, void *handle)
{
	struct backup_run *b = env->app_private;
	int fd = handle_fd(handle), rc = 0;

	if (handle == NULL)
		return b->error;
	/* The copy is on disk before the backup says it is done. */
	if (fsync(fd) != 0)
		rc = backup_fail(b, name, errno);
	if (close(fd) != 0 && rc == 0)
		rc = backup_fail(b, name, errno);
	b->pr.p.files_done++;
	progress_tell(&b->pr);
	return rc != 0 ? rc : b->error;
}

/* Makes the new entries of dir durable. */
static int
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	if (close(fd) != 0)
		rc = -1;
	return rc;
}

int
store_backup(struct store *s, const char *dir, store_progress_fn fn, void *arg,
    char *err, size_t errlen)
{
	struct backup_run b;
	int rc;

	memset(&b, 0, sizeof(b));
	b.pr.fn = fn;
	b.pr.arg = arg;
	progress_count(&b.pr, s->cfg->datadir, backup_copies);
	s->env->app_private = &b;
	rc = s->env->set_backup_callbacks(s->env, backup_open, backup_write, backup_close);
	/* DB_CREATE makes the directory; DB_EXCL (our open callback's
	 * O_EXCL) refuses files already there; DB_BACKUP_SINGLE_DIR keeps logs
	 * beside the databases; DB_BACKUP_FILES copies the other files of the
	 * home. */
	if (rc == 0)
		rc = s->env->backup(s->env, dir,
		    DB_CREATE | DB_EXCL | DB_BACKUP_SINGLE_DIR | DB_BACKUP_FILES);
	(void)s->env->set_backup_callbacks(s->env, NULL, NULL, NULL);
	s->env->app_private = NULL;
	if (b.error != 0) {
		snprintf(err, errlen, "backup to %s: %s: %s", dir, b.failed,
		    strerror(b.error));
		return -1;
	}
	if (rc != 0) {
		snprintf(err, errlen, "backup to %s: %s", dir, db_strerror(rc));
		return -1;
	}
	if (sync_dir(dir) != 0) {
		snprintf(err, errlen, "backup to %s: %s", dir, strerror(errno));
		return -1;
	}
	progress_file(&b.pr, NULL);
	return 0;
}

/* Copies one regular file, fsyncing the copy; counts its bytes in pr. */
static int
copy_file(const char *from, const char *to, struct progress *pr)
{
	char b[65536];
	ssize_t n = 0;
	int in, out, rc = 0;

	in = open(from, O_RDONLY);
	if (in == -1)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (out == -1) {
		(void)close(in);
		return -1;
	}
	while (rc == 0 && (n = read(in, b, sizeof(b))) > 0) {
		if (write(out, b, (size_t)n) != n)
			rc = -1;
		pr->p.bytes_done += (uint64_t)n;
		progress_tell(pr);
	}
	if (n < 0 || fsync(out) != 0)
		rc = -1;
	if (close(out) != 0)
		rc = -1;
	(void)close(in);
	pr->p.files_done++;
	return rc;
}

/* The files of an environment: databases and logs. */
static bool
env_file(const char *name)
{
	size_t n = strlen(name);

	return (n > 3 && strcmp(name + n - 3, ".db") == 0) || strncmp(name, "log.", 4) == 0;
}

/* True when dir holds any database or log file. */
static bool
has_environment(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL)
		found = env_file(e->d_name);
	(void)closedir(d);
	return found;
}

/* The number of a log file's name ("log.0000000012": 12); 0 for any
 * other name (Berkeley DB numbers its logs from 1). */
static unsigned long
log_number(const char *name)
{
	unsigned long n = 0;

	if (strncmp(name, "log.", 4) != 0 || strlen(name) != 14)
		return 0;
	for (const char *p = name + 4; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	return n;
}

/* The lowest and highest numbers of the log files in dir (0 and 0: none,
 * or dir cannot be read). */
static void
log_range(const char *dir, unsigned long *lo, unsigned long *hi)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	*lo = *hi = 0;
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		unsigned long n = log_number(e->d_name);

		if (n != 0 && (*lo == 0 || n < *lo))
			*lo = n;
		if (n > *hi)
			*hi = n;
	}
	(void)closedir(d);
}

/*
 * Adds the logs written since the backup: copies from log_dir (the data
 * directory the backup was made of, orchidd stopped) every log file from
 * the backup's last one on, over the backup's copy of it (which ends where
 * the backup stopped copying). The backup's last log and every one after it
 * must be there, or the writes since the backup cannot all be replayed:
 * then nothing is copied. 0, or -1 with err.
 */
static int
add_logs(const struct config *cfg, const char *log_dir, struct progress *pr,
    char *err, size_t errlen)
{
	char from[CONFIG_PATH_MAX + 300], to[CONFIG_PATH_MAX + 300];
	unsigned long blo, bhi, lo, hi;
	struct stat sb;

	log_range(cfg->datadir, &blo, &bhi);
	log_range(log_dir, &lo, &hi);
	if (bhi == 0) {
		snprintf(err, errlen, "the backup holds no log file");
		return -1;
	}
	for (unsigned long n = bhi; n <= hi; n++) {
		snprintf(from, sizeof(from), "%s/log.%010lu", log_dir, n);
		if (lo == 0 || lo > bhi || stat(from, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			snprintf(err, errlen, "%s lacks log.%010lu (it holds %s%lu to %lu), so "
			    "the writes since the backup cannot all be replayed; restore "
			    "without it for the backup's own state", log_dir, n,
			    lo == 0 ? "no log: " : "", lo, hi);
			return -1;
		}
		pr->p.files++;
		pr->p.bytes += (uint64_t)sb.st_size;
	}
	for (unsigned long n = bhi; n <= hi; n++) {
		snprintf(from, sizeof(from), "%s/log.%010lu", log_dir, n);
		snprintf(to, sizeof(to), "%s/log.%010lu", cfg->datadir, n);
		progress_file(pr, to + strlen(cfg->datadir) + 1);
		if ((unlink(to) != 0 && errno != ENOENT) || copy_file(from, to, pr) == -1) {
			snprintf(err, errlen, "copying %s: %s", from, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int
store_restore(const struct config *cfg, const char *backup_dir, const char *log_dir,
    store_progress_fn fn, void *arg, char *err, size_t errlen)
{
	char from[CONFIG_PATH_MAX + 300], to[CONFIG_PATH_MAX + 300];
	struct progress pr;
	struct dirent *e;
	DB_ENV *env;
	DIR *d;
	int rc = 0;

	memset(&pr, 0, sizeof(pr));
	pr.fn = fn;
	pr.arg = arg;
	if (has_environment(cfg->datadir)) {
		snprintf(err, errlen, "%s already holds an environment: restore into a new "
		    "data directory", cfg->datadir);
		return -1;
	}
	progress_count(&pr, backup_dir, env_file);
	d = opendir(backup_dir);
	if (d == NULL) {
		snprintf(err, errlen, "%s: %s", backup_dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		/* The databases and logs; DB_CONFIG is written anew, regions and
		 * the lock file belong to the old home. */
		if (!env_file(e->d_name))
			continue;
		snprintf(from, sizeof(from), "%s/%s", backup_dir, e->d_name);
		snprintf(to, sizeof(to), "%s/%s", cfg->datadir, e->d_name);
		progress_file(&pr, e->d_name);
		if (copy_file(from, to, &pr) == -1) {
			snprintf(err, errlen, "copying %s: %s", from, strerror(errno));
			rc = -1;
		}
	}
	(void)closedir(d);
	if (rc == 0 && log_dir != NULL)
		rc = add_logs(cfg, log_dir, &pr, err, errlen);
	if (rc == -1 || write_db_config(cfg, err, errlen) == -1)
		return -1;
	/* Every file copied: recovery, which says nothing until it is done. */
	progress_file(&pr, NULL);
	/* A hot backup needs catastrophic recovery: replay every log it has
	 * (with log_dir's, up to the last write made there; a page that failed
	 * its checksum there left a record in the log that only catastrophic
	 * recovery passes). */
	if (env_open(cfg, &env, DB_RECOVER_FATAL, err, errlen) == -1)
		return -1;
	(void)env->close(env, 0);
	flush_env = NULL;
	return store_recover(cfg, err, errlen);
}

/* The database files verify checks: every fixed one, and the outboxes. */
static bool
verified(const char *name)
{
	for (int i = 0; i < STORE_DB_COUNT; i++) {
		if (strcmp(name, db_files[i]) == 0)
			return true;
	}
	return strcmp(name, OUTBOX_FILE) == 0;
}

/* The file DB->verify is checking, its report, and how much it said:
 * Berkeley DB's error callback takes no argument of its own. */
static struct {
	const char *name;
	struct buf *out;
	int lines;
	bool checksum;           /* a page failed its checksum */
} verifying;

#define VERIFY_LINES 20

/* Berkeley DB's words during a verify go into its report, under the file's
 * name; a page that failed its checksum in one line that says so. */
static void
verify_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	if (panic_of_checksum(msg))
		return;
	switch (note_corrupt(msg)) {
	case 0:
		return;
	case 1:
		buf_printf(verifying.out, "%s: page %lu is corrupt (checksum error)\n",
		    verifying.name, corrupt.page);
		verifying.checksum = true;
		return;
	default:
		break;
	}
	/* The panic a checksum error causes says nothing more. */
	if (verifying.checksum || verifying.lines++ >= VERIFY_LINES)
		return;
	buf_printf(verifying.out, "%s: %s\n", verifying.name, msg);
}

/* Verifies one file (name in the data directory) into out; 0 when sound. */
static int
verify_file(const struct config *cfg, const char *name, struct progress *pr,
    struct buf *out)
{
	char path[CONFIG_PATH_MAX + 32];
	struct stat sb;
	DB *db;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", cfg->datadir, name);
	progress_file(pr, name);
	verifying.name = name;
	verifying.out = out;
	verifying.lines = 0;
	verifying.checksum = false;
	rc = db_create(&db, NULL, 0);
	if (rc == 0) {
		db->set_errcall(db, verify_errcall);
		rc = db->verify(db, path, NULL, NULL, 0); /* frees db */
	}
	if (rc == 0)
		buf_printf(out, "%s: ok\n", name);
	else if (verifying.checksum)
		buf_printf(out, "%s: damaged: see \"Repairing a corrupt database\" in "
		    "docs/reliability.md\n", name);
	else
		buf_printf(out, "%s: %s\n", name, db_strerror(rc));
	pr->p.files_done++;
	if (stat(path, &sb) == 0)
		pr->p.bytes_done += (uint64_t)sb.st_size;
	progress_tell(pr);
	return rc == 0 ? 0 : -1;
}

int
store_verify(const struct config *cfg, struct buf *out, store_progress_fn fn,
    void *arg)
{
	char path[CONFIG_PATH_MAX + 32];
	struct progress pr;
	int bad = 0;

	memset(&pr, 0, sizeof(pr));
	pr.fn = fn;
	pr.arg = arg;
	progress_count(&pr, cfg->datadir, verified);
	for (int i = 0; i < STORE_DB_COUNT; i++)
		bad += verify_file(cfg, db_files[i], &pr, out) != 0;
	snprintf(path, sizeof(path), "%s/%s", cfg->datadir, OUTBOX_FILE);
	if (access(path, F_OK) == 0)
		bad += verify_file(cfg, OUTBOX_FILE, &pr, out) != 0;
	progress_file(&pr, NULL);
	return bad ? -1 : 0;
}

int
store_stats(struct store *s, struct buf *out)
{
	struct store_metrics m;

	/* The same figures as GET /metrics (script/bench and bench/soak read
	 * these lines: keep their words). */
	(void)store_metrics(s, &m);
	buf_printf(out, "locks: %lu in use (max %lu), lockers %lu, deadlocks %lu\n",
	    (unsigned long)m.locks, (unsigned long)m.locks_max, (unsigned long)m.lockers,
	    (unsigned long)m.deadlocks);
	buf_printf(out, "log: file %lu offset %lu, %lu MB written, %lu syncs\n",
	    (unsigned long)m.log_file, (unsigned long)m.log_offset,
	    (unsigned long)(m.log_bytes >> 20), (unsigned long)m.log_flushes);
	buf_printf(out, "transactions: %lu active, %lu begun, %lu committed, %lu aborted\n",
	    (unsigned long)m.active, (unsigned long)m.begins, (unsigned long)m.commits,
	    (unsigned long)m.aborts);
	buf_printf(out, "cache: %lu MB, hits %lu, misses %lu, dirty evictions %lu\n",
	    (unsigned long)(m.cache_bytes >> 20), (unsigned long)m.cache_hits,
	    (unsigned long)m.cache_misses, (unsigned long)m.cache_evictions);
	buf_printf(out, "disk: %lu MB free of %lu MB, min_free_space %lu MB: writes %s\n",
	    (unsigned long)(m.disk_free >> 20), (unsigned long)(m.disk_size >> 20),
	    (unsigned long)(s->cfg->min_free_space >> 20),
	    s->cfg->min_free_space > 0 && m.disk_free < (uint64_t)s->cfg->min_free_space ?
	    "refused (507 storage_full)" : "accepted");
	for (int i = 0; i < STORE_DB_COUNT; i++) {
		DB_BTREE_STAT *bs = NULL;
		DB_HASH_STAT *hs = NULL;

		if (i == STORE_DB_COUNTS) {
			if (s->db[i]->stat(s->db[i], NULL, &hs, DB_READ_COMMITTED) == 0) {
				buf_printf(out, "%s: %lu records, %lu buckets\n", db_files[i],
				    (unsigned long)hs->hash_ndata,
				    (unsigned long)hs->hash_buckets);
				free(hs);
			}
			continue;
		}
		/* A full walk (DB_FAST_STAT does not count records); at degree 2
		 * so it never holds up writers for long. */
		if (s->db[i]->stat(s->db[i], NULL, &bs, DB_READ_COMMITTED) == 0) {
			buf_printf(out, "%s: %lu records, %lu pages\n", db_files[i],
			    (unsigned long)bs->bt_ndata,
			    (unsigned long)(bs->bt_leaf_pg + bs->bt_int_pg + bs->bt_over_pg));
			free(bs);
		}
	}
	return out->b_failed ? -1 : 0;
}

/* Adds the size of dir/name to *bytes when it is a regular file. */
static void
add_size(const char *dir, const char *name, uint64_t *bytes)
{
	char path[CONFIG_PATH_MAX + 300];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		*bytes += (uint64_t)st.st_size;
}

int
store_metrics(struct store *s, struct store_metrics *m)
{
	DB_LOCK_STAT *ls = NULL;
	DB_LOG_STAT *lg = NULL;
	DB_TXN_STAT *ts = NULL;
	DB_MPOOL_STAT *ms = NULL;
	const char *dir = s->cfg->datadir;
	struct dirent *e;
	DIR *d;
	int rc = 0, n = 0;

	memset(m, 0, sizeof(*m));
	if (s->env->txn_stat(s->env, &ts, 0) == 0) {
		m->begins = ts->st_nbegins;
		m->commits = ts->st_ncommits;
		m->aborts = ts->st_naborts;
		m->active = ts->st_nactive;
		m->checkpoint_time = (int64_t)ts->st_time_ckp;
		free(ts);
	} else {
		rc = -1;
	}
	if (s->env->log_stat(s->env, &lg, 0) == 0) {
		m->log_flushes = lg->st_scount;
		m->log_file = lg->st_cur_file;
		m->log_offset = lg->st_cur_offset;
		m->log_bytes = (uint64_t)lg->st_w_mbytes * 1048576u + lg->st_w_bytes;
		free(lg);
	} else {
		rc = -1;
	}
	if (s->env->memp_stat(s->env, &ms, NULL, 0) == 0) {
		m->cache_hits = ms->st_cache_hit;
		m->cache_misses = ms->st_cache_miss;
		m->cache_bytes = (uint64_t)ms->st_gbytes * 1073741824u + ms->st_bytes;
		m->cache_dirty_pages = ms->st_page_dirty;
		m->cache_evictions = (uint64_t)ms->st_ro_evict + ms->st_rw_evict;
		free(ms);
	} else {
		rc = -1;
	}
	if (s->env->lock_stat(s->env, &ls, 0) == 0) {
		m->lock_requests = ls->st_nrequests;
		m->lock_waits = ls->st_lock_wait;
		m->deadlocks = ls->st_ndeadlocks;
		m->locks = ls->st_nlocks;
		m->locks_max = ls->st_maxnlocks;
		m->lockers = ls->st_nlockers;
		free(ls);
	} else {
		rc = -1;
	}
	for (int i = 0; i < STORE_DB_COUNT; i++) {
		m->files[n].name = db_files[i];
		add_size(dir, db_files[i], &m->files[n++].bytes);
	}
	m->files[n].name = OUTBOX_FILE;
	add_size(dir, OUTBOX_FILE, &m->files[n++].bytes);
	m->files[n].name = "log";
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, "log.", 4) == 0)
				add_size(dir, e->d_name, &m->files[n].bytes);
		}
		(void)closedir(d);
	}
	m->nfiles = n + 1;
	{
		struct statvfs vfs;

		if (statvfs(dir, &vfs) == 0) {
			m->disk_free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
			m->disk_size = (uint64_t)vfs.f_blocks * vfs.f_frsize;
		}
	}
	if (rc == -1)
		log_warn("metrics: a Berkeley DB statistics call failed");
	return rc;
}

uint64_t
store_retry_count(void)
{
	return store_retries;
}

bool
store_space_low(struct store *s)
{
	struct statvfs vfs;

	/* One statvfs per write (about a microsecond): looked at less often, a
	 * fast disk fills past the reserve in between (a tmpfs took 45 MB/s
	 * from four writers in the full-disk test). */
	if (s->cfg->min_free_space <= 0 || statvfs(s->cfg->datadir, &vfs) != 0)
		return false;
	return (uint64_t)vfs.f_bavail * vfs.f_frsize < (uint64_t)s->cfg->min_free_space;
}

bool
store_full(void)
{
	return store_nospace;
}

bool
store_outcome_unknown(void)
{
	return store_commit_failed;
}

enum store_rc
store_begin(struct store *s, bool write, struct store_txn **out)
{
	struct store_txn *t;
	int rc;

	store_unacked_seen = false;
	store_readonly_seen = false;
	last_token_set = false;
	if (store_panic_seen)
		return STORE_PANIC;
	store_nospace = false;
	store_commit_failed = false;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return STORE_ERR;
	t->s = s;
	t->write = write;
	/* Reads run at degree 2 (read committed): a listing never blocks a
	 * writer for longer than one page read. */
	rc = s->env->txn_begin(s->env, NULL, &t->txn, write ? 0 : DB_READ_COMMITTED);
	if (rc != 0) {
		free(t);
		return map_rc(rc, "txn_begin");
	}
	*out = t;
	return STORE_OK;
}

static void
close_cursors(struct store_txn *t)
{
	while (t->cursors != NULL)
		store_cursor_close(t->cursors);
}

enum store_rc
store_commit(struct store_txn *t)
{
	int rc;

	unsigned long failed = 0;

	close_cursors(t);
	if (rep_on && t->write) {
		rep_nodelay(false);
		/* The token names this commit in the group's log (Orchid-Commit-Token);
		 * a missed acknowledgement counts while the commit waits. */
		if (t->txn->set_commit_token(t->txn, &last_token) != 0)
			last_token_set = false;
		else
			last_token_set = true;
		failed = __atomic_load_n(&rep_perm_failed, __ATOMIC_SEQ_CST);
	}
	bool write = t->write;

	rc = t->txn->commit(t->txn, t->nosync ? DB_TXN_NOSYNC : 0);
	free(t);
	store_commit_failed = rc != 0;
	if (rc == 0 && rep_on && write &&
	    __atomic_load_n(&rep_perm_failed, __ATOMIC_SEQ_CST) != failed) {
		/* Durable here, but not acknowledged as the policy asks: it may be
		 * rolled back after a failover, so it must not be answered 2xx. */
		store_unacked_seen = true;
		last_token_set = false;
		return STORE_ERR;
	}
	if (rc != 0)
		last_token_set = false;
	return map_rc(rc, "txn_commit");
}

void
store_abort(struct store_txn *t)
{
	int rc;

	if (t == NULL)
		return;
	close_cursors(t);
	rc = t->txn->abort(t->txn);
	if (rc != 0)
		map_rc(rc, "txn_abort");
	free(t);
}

/*
 * The pause before retry n (from 0) of a transaction that lost a deadlock:
 * 0.2 ms doubling up to 25 ms, times a random factor in [0.5, 1.5). The
 * winner holds its locks until its commit is flushed, so the loser must wait
 * about a flush; and losers that retry in step meet again in the same
 * deadlock, which the random factor breaks up. Before, the pause grew by
 * 0.2 ms a retry, in step: 16 writers inserting new keys into one
 * collection saw requests give up after 21 deadlocks (503).
 */
static void
retry_pause(int attempt)
{
	static unsigned int seed;
	static pid_t seeded_by;
	long us = 200L << (attempt < 7 ? attempt : 7);

	/* Per process: a worker forked after its parent drew would otherwise
	 * draw the same pauses as its siblings. */
	if (seeded_by != getpid()) {
		seeded_by = getpid();
		seed = (unsigned int)seeded_by ^ (unsigned int)time(NULL);
	}
	if (us > 25000)
		us = 25000;
	us = us / 2 + (long)(rand_r(&seed) % (unsigned int)us);
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };
	(void)nanosleep(&ts, NULL);
}

enum store_rc
store_run_ex(struct store *s, bool write, bool nosync, int retries, store_txn_fn fn,
    void *arg)
{
	struct store_txn *t;
	enum store_rc rc;
	bool commit;

	for (int attempt = 0;; attempt++) {
		rc = store_begin(s, write, &t);
		if (rc == STORE_OK) {
			t->nosync = nosync;
			commit = false;
			rc = fn(t, arg, &commit);
			if (rc == STORE_OK && commit)
				rc = store_commit(t);
			else
				store_abort(t);
		}
		if (rc != STORE_RETRY || attempt >= retries)
			return rc;
		store_retries++;
		retry_pause(attempt);
	}
}

enum store_rc
store_run(struct store *s, bool write, int retries, store_txn_fn fn, void *arg)
{
	return store_run_ex(s, write, false, retries, fn, arg);
}

enum store_rc
store_log_flush(struct store *s)
{
	if (store_panic_seen)
		return STORE_PANIC;
	return map_rc(s->env->log_flush(s->env, NULL), "log_flush");
}

static void
dbt_in(DBT *d, const void *p, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->data = (void *)(uintptr_t)p;
	d->size = (u_int32_t)len;
}

/* DB->get with flags, the value adopted by the arena a. */
static enum store_rc
get_flags(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    u_int32_t flags, struct arena *a, void **val, size_t *vlen)
{
	DBT k, v;
	int rc;

	dbt_in(&k, key, klen);
	memset(&v, 0, sizeof(v));
	v.flags = DB_DBT_MALLOC;
	DB *h = dbh(t->s, db);

	if (h == NULL)
		return STORE_ERR;
	rc = h->get(h, t->txn, &k, &v, flags);
	if (rc != 0)
		return map_rc(rc, "get");
	if (mem_adopt(a, v.data) == NULL && v.size > 0)
		return STORE_ERR;
	*val = v.data;
	*vlen = v.size;
	return STORE_OK;
}

enum store_rc
store_get(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    bool rmw, struct arena *a, void **val, size_t *vlen)
{
	return get_flags(t, db, key, klen, rmw ? DB_RMW : 0, a, val, vlen);
}

enum store_rc
store_get_committed(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    struct arena *a, void **val, size_t *vlen)
{
	/* Degree 2 for this read only: its read lock is released when the
	 * get returns, not at the commit of the (write) transaction. */
	return get_flags(t, db, key, klen, DB_READ_COMMITTED, a, val, vlen);
}

enum store_rc
store_put(struct store_txn *t, enum store_db db, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	DBT k, v;

	DB *h = dbh(t->s, db);

	if (h == NULL)
		return STORE_ERR;
	dbt_in(&k, key, klen);
	dbt_in(&v, val, vlen);
	return map_rc(h->put(h, t->txn, &k, &v, 0), "put");
}

enum store_rc
store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen)
{
	DBT k;
	int rc;

	DB *h = dbh(t->s, db);

	if (h == NULL)
		return STORE_ERR;
	dbt_in(&k, key, klen);
	rc = h->del(h, t->txn, &k, 0);
	return rc == DB_NOTFOUND ? STORE_OK : map_rc(rc, "del");
}

enum store_rc
store_cursor_open(struct store_txn *t, enum store_db db, struct store_cursor **out)
{
	struct store_cursor *c;
	int rc;

	DB *h = dbh(t->s, db);

	if (h == NULL)
		return STORE_ERR;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return STORE_ERR;
	rc = h->cursor(h, t->txn, &c->dbc, 0);
	if (rc != 0) {
		free(c);
		return map_rc(rc, "cursor");
	}
	c->key.flags = DB_DBT_REALLOC;
	c->val.flags = DB_DBT_REALLOC;
	c->t = t;
	c->next = t->cursors;
	t->cursors = c;
	*out = c;
	return STORE_OK;
}

void
store_cursor_close(struct store_cursor *c)
{
	struct store_cursor **pp;

	if (c == NULL)
		return;
	for (pp = &c->t->cursors; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	(void)c->dbc->close(c->dbc);
	free(c->key.data);
	free(c->val.data);
	free(c);
}

/* Puts a copy of key into the cursor's key DBT, for the SET_RANGE moves. */
static int
load_key(struct store_cursor *c, const void *key, size_t klen)
{
	void *p = realloc(c->key.data, klen ? klen : 1);

	if (p == NULL)
		return -1;
	memcpy(p, key, klen);
	c->key.data = p;
	c->key.size = (u_int32_t)klen;
	c->key.ulen = (u_int32_t)(klen ? klen : 1);
	return 0;
}

static int
keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	if (r != 0)
		return r;
	return alen < blen ? -1 : alen > blen;
}

static int
cursor_move(struct store_cursor *c, enum store_seek how, const void *key, size_t klen)
{
	int rc;

	switch (how) {
	case STORE_SEEK_GE:
		if (load_key(c, key, klen) == -1)
			return ENOMEM;
		return c->dbc->get(c->dbc, &c->key, &c->val, DB_SET_RANGE);
	case STORE_SEEK_LE:
		if (load_key(c, key, klen) == -1)
			return ENOMEM;
		rc = c->dbc->get(c->dbc, &c->key, &c->val, DB_SET_RANGE);
		if (rc == DB_NOTFOUND)
			return c->dbc->get(c->dbc, &c->key, &c->val, DB_LAST);
		if (rc != 0 || keycmp(c->key.data, c->key.size, key, klen) == 0)
			return rc;
		return c->dbc->get(c->dbc, &c->key, &c->val, DB_PREV);
	case STORE_SEEK_FIRST:
		return c->dbc->get(c->dbc, &c->key, &c->val, DB_FIRST);
	case STORE_SEEK_LAST:
		return c->dbc->get(c->dbc, &c->key, &c->val, DB_LAST);
	case STORE_NEXT:
		return c->dbc->get(c->dbc, &c->key, &c->val, DB_NEXT);
	case STORE_PREV:
		return c->dbc->get(c->dbc, &c->key, &c->val, DB_PREV);
	}
	return EINVAL;
}

enum store_rc
store_cursor_get(struct store_cursor *c, enum store_seek how, const void *key,
    size_t klen, const void **k, size_t *kl, const void **v, size_t *vl)
{
	int rc = cursor_move(c, how, key, klen);

	if (rc != 0)
		return map_rc(rc, "cursor get");
	*k = c->key.data;
	*kl = c->key.size;
	if (v != NULL) {
		*v = c->val.data;
		*vl = c->val.size;
	}
	return STORE_OK;
}

enum store_rc
store_cursor_del(struct store_cursor *c)
{
	return map_rc(c->dbc->del(c->dbc, 0), "cursor del");
}

enum store_rc
store_delete_prefix(struct store_txn *t, enum store_db db, const void *prefix,
    size_t plen, uint64_t *n)
{
	uint64_t bytes = 0;

	*n = 0;
	return store_delete_prefix_max(t, db, prefix, plen, UINT64_MAX, UINT64_MAX, n, &bytes);
}

enum store_rc
store_delete_prefix_max(struct store_txn *t, enum store_db db, const void *prefix,
    size_t plen, uint64_t max, uint64_t max_bytes, uint64_t *n, uint64_t *bytes)
{
	struct store_cursor *c;
	const void *k = NULL, *v = NULL;
	size_t kl = 0, vl = 0;
	enum store_rc rc;

	if (*n >= max || *bytes >= max_bytes)
		return STORE_OK;
	rc = store_cursor_open(t, db, &c);
	if (rc != STORE_OK)
		return rc;
	rc = store_cursor_get(c, STORE_SEEK_GE, prefix, plen, &k, &kl, &v, &vl);
	while (rc == STORE_OK && kl >= plen && memcmp(k, prefix, plen) == 0) {
		rc = store_cursor_del(c);
		if (rc != STORE_OK)
			break;
		(*n)++;
		*bytes += kl + vl;
		if (*n >= max || *bytes >= max_bytes)
			break;
		rc = store_cursor_get(c, STORE_NEXT, NULL, 0, &k, &kl, &v, &vl);
	}
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

enum store_rc
store_outbox_open(struct store *s, int slot, bool create)
{
	char name[16];
	DB *db;
	int rc;

	if (slot < 0 || slot >= STORE_OUTBOX_SLOTS)
		return STORE_ERR;
	if (s->outbox[slot] != NULL)
		return STORE_OK;
	snprintf(name, sizeof(name), "s%d", slot);
	rc = db_create(&db, s->env, 0);
	if (rc == 0 && create)
		rc = db->set_flags(db, DB_CHKSUM);
	if (rc == 0) {
		rc = db->open(db, NULL, OUTBOX_FILE, name, DB_BTREE,
		    DB_AUTO_COMMIT | (create ? DB_CREATE : 0), 0600);
	}
	if (rc != 0) {
		if (db != NULL)
			(void)db->close(db, 0);
		if (rc == ENOENT)
			return STORE_NOTFOUND;
		return map_rc(rc, "opening an outbox");
	}
	s->outbox[slot] = db;
	return STORE_OK;
}

int
store_outbox_slots(struct store *s, int *out, int max)
{
	DB *master;
	DBC *c = NULL;
	DBT k, v;
	int rc, n = 0;

	rc = db_create(&master, s->env, 0);
	if (rc == 0)
		rc = master->open(master, NULL, OUTBOX_FILE, NULL, DB_BTREE,
		    DB_RDONLY, 0);
	if (rc == ENOENT) {
		(void)master->close(master, 0);
		goto list;
	}
	if (rc == 0)
		rc = master->cursor(master, NULL, &c, DB_READ_COMMITTED);
	if (rc != 0) {
		map_rc(rc, "listing the outboxes");
		(void)master->close(master, 0);
		return -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while ((rc = c->get(c, &k, &v, DB_NEXT)) == 0) {
		char name[16];
		char *end;
		long slot;

		if (k.size < 2 || k.size >= sizeof(name) || ((char *)k.data)[0] != 's')
			continue;
		memcpy(name, k.data, k.size);
		name[k.size] = '\0';
		slot = strtol(name + 1, &end, 10);
		if (*end != '\0' || slot < 0 || slot >= STORE_OUTBOX_SLOTS)
			continue;
		if (store_outbox_open(s, (int)slot, false) == STORE_ERR)
			log_warn("cannot open the outbox of slot %ld", slot);
	}
	(void)c->close(c);
	(void)master->close(master, 0);
	if (rc != DB_NOTFOUND) {
		map_rc(rc, "listing the outboxes");
		return -1;
	}
list:
	for (int i = 0; i < STORE_OUTBOX_SLOTS && n < max; i++) {
		if (s->outbox[i] != NULL)
			out[n++] = i;
	}
	return n;
}

struct store *
store_txn_store(struct store_txn *t)
{
	return t->s;
}

const struct config *
store_config(const struct store *s)
{
	return s->cfg;
}

uint64_t
store_serial(const struct store *s)
{
	return s->serial;
}

/* --- replication ---------------------------------------------------------- */

bool
store_unacked(void)
{
	return store_unacked_seen;
}

bool
store_not_master(void)
{
	return store_readonly_seen;
}

bool
store_commit_token(char *hex, size_t len)
{
	if (!rep_on || !last_token_set || len < 2 * DB_TXN_TOKEN_SIZE + 1)
		return false;
	util_hex(last_token.buf, DB_TXN_TOKEN_SIZE, hex);
	return true;
}

enum store_applied
store_wait_applied(struct store *s, const char *hex, int wait_ms)
{
	DB_TXN_TOKEN tok;
	int rc;

	if (strlen(hex) != 2 * DB_TXN_TOKEN_SIZE)
		return STORE_APPLIED_BAD;
	for (int i = 0; i < DB_TXN_TOKEN_SIZE; i++) {
		int hi = util_hexval(hex[2 * i]), lo = util_hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return STORE_APPLIED_BAD;
		tok.buf[i] = (u_int8_t)(hi << 4 | lo);
	}
	if (!rep_on)
		return STORE_APPLIED_YES;
	rc = s->env->txn_applied(s->env, &tok, (db_timeout_t)wait_ms * 1000, 0);
	switch (rc) {
	case 0:
	case DB_KEYEMPTY:   /* a transaction that changed nothing */
		return STORE_APPLIED_YES;
	case DB_TIMEOUT:
		return STORE_APPLIED_LATER;
	case DB_NOTFOUND:
		return STORE_APPLIED_NEVER;
	case EINVAL:
		return STORE_APPLIED_BAD;
	default:
		log_warn("txn_applied: %s", db_strerror(rc));
		return STORE_APPLIED_LATER;
	}
}

/* The host:port of site eid, from the replication manager's list. */
static bool
site_name(DB_ENV *env, int eid, int self, const struct config *cfg, char *out, size_t len)
{
	DB_REPMGR_SITE *list = NULL;
	u_int n = 0;
	bool found = false;

	if (eid == self) {
		snprintf(out, len, "%s", cfg->replication_site);
		return true;
	}
	if (env->repmgr_site_list(env, &n, &list) != 0)
		return false;
	for (u_int i = 0; i < n; i++) {
		if (list[i].eid == eid) {
			snprintf(out, len, "%s:%u", list[i].host, list[i].port);
			found = true;
		}
	}
	free(list);
	return found;
}

enum store_role
store_role(struct store *s, char *master, size_t len)
{
	DB_REP_STAT *st = NULL;
	enum store_role role;
	int eid, self;

	if (master != NULL && len > 0)
		master[0] = '\0';
	if (!rep_on)
		return STORE_ROLE_SINGLE;
	if (s->env->rep_stat(s->env, &st, 0) != 0)
		return STORE_ROLE_UNKNOWN;
	role = st->st_status == DB_REP_MASTER ? STORE_ROLE_MASTER :
	    st->st_status == DB_REP_CLIENT ? STORE_ROLE_REPLICA : STORE_ROLE_UNKNOWN;
	eid = (int)st->st_master;
	self = (int)st->st_env_id;
	free(st);
	if (master != NULL && len > 0 && eid != DB_EID_INVALID)
		(void)site_name(s->env, eid, self, s->cfg, master, len);
	return role;
}

int
store_rep_ready(struct store *s, char *err, size_t errlen)
{
	DB_REP_STAT *st = NULL;
	u_int32_t status, done;
	int rc;

	rc = s->env->rep_stat(s->env, &st, 0);
	if (rc != 0) {
		snprintf(err, errlen, "rep_stat: %s", db_strerror(rc));
		return -1;
	}
	status = st->st_status;
	done = st->st_startup_complete;
	free(st);
	if (status == DB_REP_MASTER) {
		/* The first master creates the databases; the group replicates
		 * their creation. */
		if (open_dbs(s, true, err, errlen) == -1 || check_format(s, err, errlen) == -1)
			return -1;
		return 1;
	}
	if (status == DB_REP_CLIENT && done) {
		if (open_dbs(s, false, err, errlen) == -1)
			return -1;
		return 1;
	}
	return 0;
}

enum store_rc
store_rep_heartbeat(struct store *s, int64_t now_ms)
{
	struct store_txn *t;
	char v[1024];
	int n;
	enum store_rc rc;

	n = snprintf(v, sizeof(v), "%lld %s %s", (long long)now_ms, s->cfg->replication_site,
	    s->cfg->replication_url);
	if (n < 0 || (size_t)n >= sizeof(v))
		return STORE_ERR;
	rc = store_begin(s, true, &t);
	if (rc != STORE_OK)
		return rc;
	t->nosync = true;   /* a heartbeat lost in a crash is replaced by the next */
	rc = store_put(t, STORE_DB_META, HEARTBEAT_KEY, strlen(HEARTBEAT_KEY), v, (size_t)n);
	if (rc != STORE_OK) {
		store_abort(t);
		return rc;
	}
	return store_commit(t);
}

static void
read_heartbeat(struct store *s, struct store_rep_info *ri)
{
	DBT k, v;
	char buf[1100];
	long long ms = 0;
	int off = 0;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = HEARTBEAT_KEY;
	k.size = (u_int32_t)strlen(HEARTBEAT_KEY);
	v.data = buf;
	v.ulen = sizeof(buf) - 1;
	v.flags = DB_DBT_USERMEM;
	if (s->db[STORE_DB_META] == NULL ||
	    s->db[STORE_DB_META]->get(s->db[STORE_DB_META], NULL, &k, &v, DB_READ_COMMITTED) != 0)
		return;
	buf[v.size] = '\0';
	if (sscanf(buf, "%lld %255s %n", &ms, ri->beat_site, &off) < 2 || off == 0) {
		ri->beat_site[0] = '\0';
		return;
	}
	ri->beat_ms = ms;
	snprintf(ri->beat_url, sizeof(ri->beat_url), "%s", buf + off);
}

int
store_rep_info(struct store *s, struct store_rep_info *ri)
{
	DB_REP_STAT *st = NULL;
	DB_REPMGR_STAT *mst = NULL;
	DB_REPMGR_SITE *list = NULL;
	u_int n = 0;
	int rc;

	memset(ri, 0, sizeof(*ri));
	if (!rep_on) {
		ri->role = STORE_ROLE_SINGLE;
		return 0;
	}
	rc = s->env->rep_stat(s->env, &st, 0);
	if (rc != 0) {
		log_err("rep_stat: %s", db_strerror(rc));
		return -1;
	}
	ri->role = st->st_status == DB_REP_MASTER ? STORE_ROLE_MASTER :
	    st->st_status == DB_REP_CLIENT ? STORE_ROLE_REPLICA : STORE_ROLE_UNKNOWN;
	ri->self_eid = (int)st->st_env_id;
	ri->master_eid = (int)st->st_master;
	ri->gen = st->st_gen;
	ri->startup_complete = st->st_startup_complete != 0;
	ri->next_lsn_file = st->st_next_lsn.file;
	ri->next_lsn_offset = st->st_next_lsn.offset;
	ri->elections = (uint64_t)st->st_elections;
	ri->elections_won = (uint64_t)st->st_elections_won;
	ri->master_changes = (uint64_t)st->st_master_changes;
	free(st);
	if (s->env->repmgr_stat(s->env, &mst, 0) == 0) {
		ri->perm_failed = (uint64_t)mst->st_perm_failed;
		free(mst);
	}
	snprintf(ri->sites[0].addr, sizeof(ri->sites[0].addr), "%s", s->cfg->replication_site);
	ri->sites[0].eid = ri->self_eid;
	ri->sites[0].self = true;
	ri->sites[0].connected = true;
	ri->sites[0].master = ri->self_eid == ri->master_eid;
	ri->nsites = 1;
	if (s->env->repmgr_site_list(s->env, &n, &list) == 0) {
		for (u_int i = 0; i < n && ri->nsites < STORE_REP_MAX_SITES; i++) {
			struct store_rep_site *x = &ri->sites[ri->nsites++];

			snprintf(x->addr, sizeof(x->addr), "%s:%u", list[i].host, list[i].port);
			x->eid = list[i].eid;
			x->connected = list[i].status == DB_REPMGR_CONNECTED;
			x->master = list[i].eid == ri->master_eid;
		}
		free(list);
	}
	read_heartbeat(s, ri);
	return 0;
}

int
store_rep_remove(struct store *s, const char *addr, char *err, size_t errlen)
{
	char host[256];
	u_int port;
	DB_SITE *site;
	int rc;

	if (!rep_on) {
		snprintf(err, errlen, "replication is not configured");
		return -1;
	}
	split_site(addr, strlen(addr), host, sizeof(host), &port);
	rc = s->env->repmgr_site(s->env, host, port, &site, 0);
	if (rc == 0)
		rc = site->remove(site);   /* closes the handle too */
	if (rc != 0) {
		snprintf(err, errlen, "removing %s: %s", addr, db_strerror(rc));
		return -1;
	}
	return 0;
}
