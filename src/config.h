/*
 * config: orchidd's settings, read from a "key = value" file and the command
 * line, checked against bounds, then read-only. Built in the master before any
 * fork, so every process sees the same values.
 */
#ifndef ORCHID_CONFIG_H
#define ORCHID_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

enum durability {
	DURABILITY_SYNC,  /* commit flushes the log: survives power loss */
	DURABILITY_WRITE, /* commit writes the log to the OS: survives a crash of orchidd */
	DURABILITY_NONE   /* commit leaves the log in memory: may lose recent writes */
};

#define CONFIG_PATH_MAX 1024

struct config {
	char datadir[CONFIG_PATH_MAX];
	char socket[CONFIG_PATH_MAX];
	unsigned socket_mode;
	char socket_group[64];
	char user[64];
	int workers;
	long max_requests;          /* per worker before it is replaced; 0: never */
	int handoff_after;          /* ms into a request before its worker hands its idle
	                             * kept connections on (fcgi.h); 0: at its start */
	enum durability durability;
	int64_t cache_size;         /* bytes, written to DB_CONFIG on creation */
	int64_t min_free_space;     /* bytes the data directory's file system keeps
	                             * free: writes get 507 below it; 0: off */
	int checkpoint_interval;    /* seconds */
	int reclaim_batch;          /* records per transaction of a collection's reclaim */
	int export_batch;           /* lines per read transaction of an export */
	int64_t max_body;           /* bytes */
	int64_t max_response;       /* bytes a list page may fill (one entry always fits) */
	int max_json_depth;
	int max_name_length;        /* bytes of a collection, key or type name */
	int max_bulk_ops;           /* operations of one bulk request (POST /v0) */
	int64_t max_bulk_body;      /* bytes of a bulk request's body */
	int max_hops;               /* relation kinds a traversal may follow */
	int max_traversal;          /* relations a traversal may follow in all */
	int search;                 /* 1: writes feed the search index (and the
	                             * indexer runs); 0: no search at all */
	int search_wait;            /* ms a search waits for the index to catch up */
	int search_max_expansion;   /* terms one wildcard/prefix/fuzzy clause expands to */
	int search_open_indexes;    /* tenant indexes a worker keeps open (LRU) */
	int indexer_batch;          /* outbox entries per index commit */
	int indexer_yield;          /* 1: a write flood no search waits for is
	                             * indexed after it (docs/storage.md) */
	int deadlock_retries;
	int rate_limit;              /* requests per second per tenant; 0: off */
	int rate_burst;              /* bucket size; 0: rate_limit */
	int tenant_max_inflight;     /* requests of one tenant in flight at once;
	                             * 0: no limit; CONFIG_DERIVED: from workers
	                             * (config_tenant_max_inflight) */
	int list_scan_budget;        /* records one list page may examine; 0: no limit */
	int metrics;                /* 1: count requests and answer GET /metrics */
	int failchk_timeout;        /* seconds */
	int worker_start_timeout;   /* seconds */
	int shutdown_timeout;       /* seconds before stragglers get SIGKILL */
	int request_read_timeout;   /* seconds a FastCGI connection has to deliver
	                             * its whole request; 0: no limit */
	enum log_level log_level;
	/* Replication (docs/replication.md); off while replication_site is "". */
	char replication_site[256];   /* this site's host:port for Berkeley DB's
	                               * replication manager */
	char replication_peers[1024]; /* other sites' host:port, comma-separated */
	char replication_url[512];    /* this site's public base URL, for the
	                               * redirect of writes sent to a replica */
	int replication_creator;      /* 1: this site may create the group */
	int replication_priority;     /* election priority; 0: never the master */
	char replication_ack_policy[16]; /* quorum, all, one or none */
	int replication_ack_timeout;  /* ms a commit waits for its acknowledgements */
	int replication_heartbeat;    /* ms between the master's heartbeats */
	int replication_read_wait;    /* ms a read with Orchid-Read-After may wait */
	char path[CONFIG_PATH_MAX]; /* the file it came from, or "" */
};

/* A setting left unset whose value is derived from others when used. */
#define CONFIG_DERIVED (-1)

/* tenant_max_inflight as it applies: the setting, or derived from workers. */
int config_tenant_max_inflight(const struct config *c);

/* Fills c with the built-in defaults. */
void config_defaults(struct config *c);

/*
 * Reads the file at path into c (on top of what c holds). Returns 0, or -1
 * with a message "FILE:LINE: what is wrong" in err (size errlen).
 */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

/* Sets one setting from text, as a config line would; 0 or -1 with err. */
int config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errlen);

/* Checks cross-setting rules after loading (paths set, and so on). */
int config_check(const struct config *c, char *err, size_t errlen);

/* True when replication is configured (replication_site is set). */
bool config_replicated(const struct config *c);

/* The durability name ("sync", "write", "none"). */
const char *config_durability_name(enum durability d);
/* 8 workers per online CPU, 8 to 64: the default of "workers". */
int config_default_workers(void);

#endif
