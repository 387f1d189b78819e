/*
 * store: the only module that includes <db.h>. Owns the Berkeley DB
 * environment of one process, its database handles, transactions, cursors,
 * and the maintenance calls (recovery, failchk, checkpoints, log removal,
 * backup). Keys and values are opaque bytes here; items.c and events.c
 * define their layout (docs/storage.md).
 */
#ifndef ORCHID_STORE_H
#define ORCHID_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct arena;
struct config;
struct store;
struct store_txn;
struct store_cursor;

enum store_rc {
	STORE_OK = 0,
	STORE_NOTFOUND,
	STORE_RETRY,   /* deadlock victim: abort and run the transaction again */
	STORE_ERR,     /* anything else; logged by store */
	STORE_PANIC    /* the environment needs recovery; the process must exit */
};

enum store_db {
	STORE_DB_META,      /* "format" -> version; counters */
	STORE_DB_TENANTS,   /* tenant id (be32) -> name */
	STORE_DB_APIKEYS,   /* sha256(key) -> tenant id (be32), created (be64) */
	STORE_DB_ITEMS,     /* item head */
	STORE_DB_VERSIONS,  /* item history, one record per write */
	STORE_DB_REFS,      /* (item, ref) -> seq, for GET by ref */
	STORE_DB_EVENTS,    /* events by (item, type, timestamp, ordinal) */
	STORE_DB_EVSEQ,     /* last event ordinal per item */
	STORE_DB_RELATIONS, /* relations by source */
	STORE_DB_RELREV,    /* relations by destination, for purge */
	STORE_DB_COLLECTIONS, /* (tenant, name) -> collection id */
	STORE_DB_COUNTS,    /* live-item counters, sharded; a hash database */
	STORE_DB_RECLAIM,   /* dropped collections whose records remain */
	STORE_DB_COUNT
};

/*
 * The outboxes of the search index (index.h): one B-tree per writer slot,
 * the subdatabases "s<slot>" of outbox.db, so that writers of different
 * slots never share a page (Berkeley DB locks pages). Every call above that
 * takes an enum store_db also takes STORE_DB_OUTBOX + slot, once that
 * outbox is open (store_outbox_open); slots: 0 <= slot < STORE_OUTBOX_SLOTS.
 */
#define STORE_OUTBOX_SLOTS 272
#define STORE_DB_OUTBOX 1000

/* Opens the outbox of slot in this process, creating it (in its own
 * transaction) when create is set. STORE_NOTFOUND: absent and not created. */
enum store_rc store_outbox_open(struct store *s, int slot, bool create);
/* Opens every outbox present in outbox.db (new ones since the last call
 * too) and lists the open slots in out (at most max). Returns how many,
 * or -1. */
int store_outbox_slots(struct store *s, int *out, int max);

/* The data format this build writes; format 1 is upgraded in place
 * (upgrade.h) before any worker starts. */
#define STORE_FORMAT_VERSION "2"
#define STORE_FORMAT_OLD "1"

/*
 * Creates the data directory and environment if needed, writes DB_CONFIG from
 * the config, runs normal recovery (DB_RECOVER), creates every database and
 * checks the format version (STORE_FORMAT_VERSION, or STORE_FORMAT_OLD,
 * which upgrade_run then converts; anything else is an error), then closes
 * everything. Only a process that
 * knows no other process uses the environment may call it (the master, or
 * orchidctl holding the lock file). Returns 0, or -1 with err.
 */
int store_recover(const struct config *cfg, char *err, size_t errlen);

/*
 * Joins the existing environment and opens every database: a new handle for
 * this process, never inherited across fork. Returns 0 and *out, or -1 with
 * err.
 */
int store_open(const struct config *cfg, struct store **out, char *err, size_t errlen);

/* Closes the handles; NULL is fine. */
void store_close(struct store *s);

/* True once a panic was seen: the process must stop using the store. */
bool store_panicked(const struct store *s);

/*
 * True when this process read a page that failed its checksum (a corrupt
 * or torn page; Berkeley DB panicked the environment then): the file's
 * name (in the data directory) into file (len bytes, NULL: not wanted) and
 * the page number into *page (NULL: not wanted). The first such page of the
 * process is the one reported.
 */
bool store_corrupt(char *file, size_t len, unsigned long *page);

/*
 * fn is called once for each page that fails its checksum in this process
 * (and in the processes it forks afterwards), before its log line: it
 * counts it and returns whether the line is written now, with *left_out the
 * number of lines not written since the last one (orchidd passes the
 * metrics table's counter, which rate-limits across processes). Without
 * one, every such page is logged.
 */
void store_set_corrupt_hook(bool (*fn)(void *arg, uint64_t *left_out), void *arg);

/*
 * fn is called once for each flush or write of a database or log file that
 * failed for another reason than a full disk (an I/O error), in this
 * process and the processes it forks afterwards (orchidd counts them in
 * its metrics). NULL: none.
 */
void store_set_io_error_hook(void (*fn)(void *arg), void *arg);

/* Runs DB_ENV->failchk; 0 when the environment is usable, -1 when it needs recovery. */
int store_failchk(struct store *s);

/* Checkpoints (force: even when nothing changed) and removes log files no
 * longer needed. Returns 0 or -1. */
int store_checkpoint(struct store *s, bool force);

/*
 * What a directory holds, as store_probe finds it without creating or
 * changing anything.
 */
enum store_probe {
	STORE_PROBE_ENV,      /* an environment of a format this build reads */
	STORE_PROBE_MISSING,  /* nothing at that path */
	STORE_PROBE_NOTDIR,   /* something that is not a directory */
	STORE_PROBE_EMPTY,    /* an empty directory (but for a lock file) */
	STORE_PROBE_FOREIGN,  /* a directory of other files: no meta.db, or
	                       * a meta.db that is not a Berkeley DB B-tree */
	STORE_PROBE_FORMAT,   /* an environment of a data format this build
	                       * neither reads nor upgrades (a newer release's) */
	STORE_PROBE_ERR       /* it could not be read; err says why */
};

/*
 * Tells what dir holds. For STORE_PROBE_ENV and STORE_PROBE_FORMAT, format
 * (len > 0 bytes; cut to fit, bytes that are not printable ASCII as '?')
 * receives meta.db's "format" ("" when a new environment's
 * creation was cut short before it was written: recovery completes it).
 * Reads meta.db through a read-only handle outside any environment, so it
 * joins nothing, takes no lock and writes no file: safe while orchidd runs
 * (a page caught while orchidd writes it is read again).
 */
enum store_probe store_probe(const char *dir, char *format, size_t len, char *err,
    size_t errlen);

/*
 * The progress of a long copy or check (backup, restore, verify), passed to
 * a store_progress_fn as it goes (often: the caller limits what it shows).
 * Borrowed for the call.
 */
struct store_progress {
	const char *file;        /* the file in hand; NULL after the last one
	                          * (restore: recovery runs then) */
	unsigned files_done;     /* files finished */
	unsigned files;          /* files in all, counted at the start */
	uint64_t bytes_done;     /* bytes copied or checked */
	uint64_t bytes;          /* their sum at the start; files that grow
	                          * meanwhile can take bytes_done past it */
};
typedef void (*store_progress_fn)(void *arg, const struct store_progress *p);

/*
 * Hot backup of the environment into dir (created; must be empty). fn
 * (NULL: none) follows the bytes written. 0 or -1 with err.
 */
int store_backup(struct store *s, const char *dir, store_progress_fn fn, void *arg,
    char *err, size_t errlen);

/*
 * Restores a hot backup: copies the files of backup_dir into the (new or
 * empty) data directory of cfg and runs catastrophic recovery there. With
 * log_dir (NULL: none), the data directory the backup was made of (stopped;
 * say one with a corrupt page), its log files from the backup's last one on
 * are copied too, so that recovery replays the writes made since the
 * backup; it fails, copying none, when one of them is missing. Only with
 * the lock file held. fn (NULL: none) follows the bytes copied. Returns 0,
 * or -1 with err.
 */
int store_restore(const struct config *cfg, const char *backup_dir, const char *log_dir,
    store_progress_fn fn, void *arg, char *err, size_t errlen);

/*
 * Verifies every database file of a quiescent environment (nobody else may
 * use it). Appends one line per file to out; fn (NULL: none) is told of
 * each file before and after its check. Returns 0 when all are sound.
 */
int store_verify(const struct config *cfg, struct buf *out, store_progress_fn fn,
    void *arg);

/*
 * Replication (docs/replication.md), when replication_site is set. The
 * maintainer opens with STORE_OPEN_REP_LISTENER, before any other process:
 * it becomes the replication process (store_open_ex), and opens the
 * databases once store_rep_ready says the site knows its part. Every other
 * process joins with store_open.
 */
#define STORE_OPEN_REP_LISTENER 1u
int store_open_ex(const struct config *cfg, struct store **out, unsigned flags, char *err,
    size_t errlen);

/* fn runs (in a replication thread of the replication process) when the
 * group changes: a site joins or leaves, this site changes its part. */
void store_set_rep_change_hook(void (*fn)(void));

/* 1: this site is the master (the databases were created if missing) or a
 * replica that has caught up, and the databases are open; 0: not yet; -1:
 * failed (err). */
int store_rep_ready(struct store *s, char *err, size_t errlen);

enum store_role {
	STORE_ROLE_SINGLE,   /* not replicated */
	STORE_ROLE_MASTER,
	STORE_ROLE_REPLICA,
	STORE_ROLE_UNKNOWN   /* starting, or no master known */
};

/* This site's part; master (if not NULL) gets the master's host:port, or
 * "" when none is known. */
enum store_role store_role(struct store *s, char *master, size_t len);

/* True when the last commit (since this process's last store_begin) was
 * made here but not acknowledged as replication_ack_policy asks within
 * replication_ack_timeout: it returned STORE_ERR. */
bool store_unacked(void);
/* True when a write since the last store_begin was refused because this
 * site is a replica (it returned STORE_ERR). */
bool store_not_master(void);

/* The last successful commit's token, as 40 hex digits (len >= 41); false
 * when there is none (not replicated, or the commit failed). */
bool store_commit_token(char *hex, size_t len);

enum store_applied {
	STORE_APPLIED_YES,    /* this site has the commit (or it changed nothing) */
	STORE_APPLIED_LATER,  /* not within wait_ms */
	STORE_APPLIED_NEVER,  /* this site will not have it (rolled back, or not
	                       * of this group) */
	STORE_APPLIED_BAD     /* not a token */
};
/* Waits up to wait_ms for the commit a token names to be applied here. */
enum store_applied store_wait_applied(struct store *s, const char *hex, int wait_ms);

/* The master's heartbeat: its time, replication_site and replication_url in
 * the meta database, so that replicas know how far behind they are and
 * where to send writes. */
enum store_rc store_rep_heartbeat(struct store *s, int64_t now_ms);

#define STORE_REP_MAX_SITES 16
struct store_rep_site {
	char addr[280];      /* host:port */
	int eid;
	bool self, connected, master;
};
struct store_rep_info {
	enum store_role role;
	int self_eid, master_eid;
	uint32_t gen;
	bool startup_complete;
	uint32_t next_lsn_file, next_lsn_offset;
	uint64_t elections, elections_won, master_changes, perm_failed;
	int nsites;
	struct store_rep_site sites[STORE_REP_MAX_SITES];  /* this site first */
	int64_t beat_ms;         /* the last heartbeat this site has; 0: none */
	char beat_site[256];     /* the master that wrote it */
	char beat_url[520];
};
/* Fills ri (role STORE_ROLE_SINGLE when not replicated); -1 on failure. */
int store_rep_info(struct store *s, struct store_rep_info *ri);

/* The replication process's periodic care of its connections (TCP_NODELAY
 * on new ones); call it every few hundred ms. */
void store_rep_poll(void);

/* Removes the site at host:port from the group (DB_SITE->remove). */
int store_rep_remove(struct store *s, const char *addr, char *err, size_t errlen);

/* Appends human-readable statistics (locks, log, transactions, cache, the
 * disk's free space against min_free_space, each database's records). */
int store_stats(struct store *s, struct buf *out);

/* The environment's figures for GET /metrics. Counters run from the last
 * recovery (Berkeley DB keeps them in its regions, which recovery makes
 * anew); sizes are of the files now. */
struct store_metrics {
	uint64_t begins, commits, aborts, active;  /* transactions */
	uint64_t log_flushes, log_bytes;           /* fsyncs of the log; written */
	uint64_t log_file, log_offset;             /* where the log ends now */
	int64_t checkpoint_time;                   /* Unix time of the last; 0: none */
	uint64_t cache_hits, cache_misses, cache_bytes, cache_dirty_pages;
	uint64_t cache_evictions;                  /* pages evicted (clean or dirty) */
	uint64_t lock_requests, lock_waits, deadlocks, locks;
	uint64_t locks_max, lockers;               /* most locks held at once; lockers now */
	uint64_t disk_free, disk_size;             /* the data directory's file system */
	int nfiles;
	struct {
		const char *name;                  /* "items.db", ..., "log" (every log file) */
		uint64_t bytes;
	} files[STORE_DB_COUNT + 2];
};

/* Fills m; returns 0, or -1 when a statistics call failed (logged). */
int store_metrics(struct store *s, struct store_metrics *m);

/* Deadlock retries made by store_run and store_run_ex in this process. */
uint64_t store_retry_count(void);

/*
 * True when the data directory's file system has less than min_free_space
 * bytes free for this user (statvfs, at every call): a
 * write refused then never meets a full disk inside Berkeley DB, where a
 * transaction that cannot log its commit cannot log its abort either, and
 * would hold its locks. False when min_free_space is 0 or statvfs fails.
 */
bool store_space_low(struct store *s);

/* True when a call since this process's last store_begin failed for lack
 * of space (ENOSPC, EDQUOT): the STORE_ERR it returned means "the disk is
 * full", which the caller may answer apart (507). */
bool store_full(void);

/* True when this process's last commit (since its last store_begin)
 * returned an error: Berkeley DB may or may not have made the transaction
 * durable (a failed log write or flush, a panic during the commit), so
 * whether the write was stored is unknown until recovery has run. */
bool store_outcome_unknown(void);

/* The store of a transaction, and the config a store was opened with. */
struct store *store_txn_store(struct store_txn *t);
const struct config *store_config(const struct store *s);
/* A number no other store_open of this process returned (state kept per
 * open store, such as index.c's slot, is redone for a new one). */
uint64_t store_serial(const struct store *s);

enum store_rc store_begin(struct store *s, bool write, struct store_txn **out);
/* Commits; the transaction is gone whatever the result. */
enum store_rc store_commit(struct store_txn *t);
/* Aborts; NULL is fine. */
void store_abort(struct store_txn *t);

/*
 * The transaction runner every writer uses: begins a transaction, calls fn,
 * commits when fn returns STORE_OK and set *commit (else aborts), and on
 * STORE_RETRY (a deadlock, in fn or at commit) runs it all again, at most
 * retries more times, with a short growing back-off. Returns the last
 * result. fn must not keep state across attempts it did not reset.
 */
typedef enum store_rc (*store_txn_fn)(struct store_txn *t, void *arg, bool *commit);
enum store_rc store_run(struct store *s, bool write, int retries, store_txn_fn fn,
    void *arg);

/*
 * The same; with nosync a commit does not wait for the log to reach the
 * disk (DB_TXN_NOSYNC), whatever the configured durability. A caller that
 * commits many small transactions this way (bulk import) makes them all
 * durable at once with store_log_flush before it reports them done.
 */
enum store_rc store_run_ex(struct store *s, bool write, bool nosync, int retries,
    store_txn_fn fn, void *arg);

/* Writes and flushes the whole log to disk (DB_ENV->log_flush): every
 * transaction committed so far is then durable. */
enum store_rc store_log_flush(struct store *s);

/*
 * Reads the value of key into memory owned by the arena a. rmw takes the
 * write lock at once (for read-modify-write). STORE_NOTFOUND when absent.
 */
enum store_rc store_get(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, bool rmw, struct arena *a, void **val, size_t *vlen);
/*
 * As store_get, but the read holds no lock once it returns (degree 2,
 * DB_READ_COMMITTED), also inside a write transaction: a writer that
 * changes the record meanwhile is not kept waiting for this transaction's
 * commit, and a later read may see its change.
 */
enum store_rc store_get_committed(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, struct arena *a, void **val, size_t *vlen);
enum store_rc store_put(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen);
/* Deletes key; STORE_OK also when it was absent. */
enum store_rc store_del(struct store_txn *t, enum store_db db, const void *key,
    size_t klen);

enum store_seek {
	STORE_SEEK_GE,   /* the first key >= the given key */
	STORE_SEEK_LE,   /* the last key <= the given key */
	STORE_SEEK_FIRST,
	STORE_SEEK_LAST,
	STORE_NEXT,
	STORE_PREV
};

/* Opens a cursor; it is closed by store_cursor_close or with its transaction. */
enum store_rc store_cursor_open(struct store_txn *t, enum store_db db,
    struct store_cursor **out);
void store_cursor_close(struct store_cursor *c);

/*
 * Moves the cursor and returns the key and value it lands on. The returned
 * pointers belong to the cursor and stay valid until its next move or close.
 * key/klen are only read by the SEEK_GE and SEEK_LE moves.
 */
enum store_rc store_cursor_get(struct store_cursor *c, enum store_seek how,
    const void *key, size_t klen, const void **k, size_t *kl, const void **v,
    size_t *vl);

/* Deletes the record under the cursor. */
enum store_rc store_cursor_del(struct store_cursor *c);

/* Deletes every record whose key starts with the prefix; counts them in *n. */
enum store_rc store_delete_prefix(struct store_txn *t, enum store_db db,
    const void *prefix, size_t plen, uint64_t *n);

/*
 * The same, but bounded, so that one transaction stays small whatever the
 * size of the range: it stops before a record once *n reached max records
 * or *bytes (keys and values deleted) reached max_bytes. *n and *bytes are
 * added to, not reset, so a caller can spend one budget over several
 * databases. Calling it again in a new transaction resumes where it
 * stopped: the deleted records are gone, so the first record of the prefix
 * is the next one.
 */
enum store_rc store_delete_prefix_max(struct store_txn *t, enum store_db db,
    const void *prefix, size_t plen, uint64_t max, uint64_t max_bytes, uint64_t *n,
    uint64_t *bytes);

#endif
