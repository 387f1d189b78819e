/*
 * config: a table of typed settings with defaults and bounds. Unknown keys,
 * values out of range and malformed lines are errors: a typo in a production
 * config must stop the start, not be silently ignored.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

enum kind { K_STRING, K_INT, K_SIZE, K_MODE, K_DURABILITY, K_LOGLEVEL };

struct setting {
	const char *name;
	enum kind kind;
	size_t offset;
	size_t size;    /* for strings: the field size */
	int64_t min, max;
};

#define OFF(f) offsetof(struct config, f)
#define STR(f) K_STRING, OFF(f), sizeof(((struct config *)0)->f), 0, 0

static const struct setting settings[] = {
	{ "datadir", STR(datadir) },
	{ "socket", STR(socket) },
	{ "socket_mode", K_MODE, OFF(socket_mode), 0, 0, 0777 },
	{ "socket_group", STR(socket_group) },
	{ "user", STR(user) },
	{ "workers", K_INT, OFF(workers), 0, 1, 256 },
	{ "max_requests", K_INT, OFF(max_requests), 0, 0, INT32_MAX },
	{ "handoff_after", K_INT, OFF(handoff_after), 0, 0, 60000 },
	{ "durability", K_DURABILITY, OFF(durability), 0, 0, 0 },
	{ "cache_size", K_SIZE, OFF(cache_size), 0, (int64_t)1 << 20, (int64_t)64 << 30 },
	{ "min_free_space", K_SIZE, OFF(min_free_space), 0, 0, (int64_t)1 << 40 },
	{ "checkpoint_interval", K_INT, OFF(checkpoint_interval), 0, 1, 3600 },
	{ "reclaim_batch", K_INT, OFF(reclaim_batch), 0, 1, 100000 },
	{ "export_batch", K_INT, OFF(export_batch), 0, 1, 100000 },
	{ "max_body", K_SIZE, OFF(max_body), 0, 1024, (int64_t)64 << 20 },
	{ "max_response", K_SIZE, OFF(max_response), 0, (int64_t)64 << 10, (int64_t)1 << 30 },
	{ "max_json_depth", K_INT, OFF(max_json_depth), 0, 2, 1000 },
	{ "max_name_length", K_INT, OFF(max_name_length), 0, 1, 4096 },
	{ "max_bulk_ops", K_INT, OFF(max_bulk_ops), 0, 1, 100000 },
	{ "max_bulk_body", K_SIZE, OFF(max_bulk_body), 0, 1024, (int64_t)1 << 30 },
	{ "max_hops", K_INT, OFF(max_hops), 0, 1, 10 },
	{ "max_traversal", K_INT, OFF(max_traversal), 0, 1, 10000000 },
	{ "search", K_INT, OFF(search), 0, 0, 1 },
	{ "search_wait", K_INT, OFF(search_wait), 0, 0, 600000 },
	{ "search_max_expansion", K_INT, OFF(search_max_expansion), 0, 1, 100000 },
	{ "search_open_indexes", K_INT, OFF(search_open_indexes), 0, 1, 4096 },
	{ "indexer_batch", K_INT, OFF(indexer_batch), 0, 1, 100000 },
	{ "indexer_yield", K_INT, OFF(indexer_yield), 0, 0, 1 },
	{ "deadlock_retries", K_INT, OFF(deadlock_retries), 0, 0, 1000 },
	{ "rate_limit", K_INT, OFF(rate_limit), 0, 0, 1000000 },
	{ "rate_burst", K_INT, OFF(rate_burst), 0, 0, 10000000 },
	{ "tenant_max_inflight", K_INT, OFF(tenant_max_inflight), 0, 0, 256 },
	{ "list_scan_budget", K_INT, OFF(list_scan_budget), 0, 0, 100000000 },
	{ "metrics", K_INT, OFF(metrics), 0, 0, 1 },
	{ "failchk_timeout", K_INT, OFF(failchk_timeout), 0, 1, 600 },
	{ "worker_start_timeout", K_INT, OFF(worker_start_timeout), 0, 1, 600 },
	{ "shutdown_timeout", K_INT, OFF(shutdown_timeout), 0, 1, 3600 },
	{ "request_read_timeout", K_INT, OFF(request_read_timeout), 0, 0, 3600 },
	{ "log_level", K_LOGLEVEL, OFF(log_level), 0, 0, 0 },
	{ "replication_site", STR(replication_site) },
	{ "replication_peers", STR(replication_peers) },
	{ "replication_url", STR(replication_url) },
	{ "replication_creator", K_INT, OFF(replication_creator), 0, 0, 1 },
	{ "replication_priority", K_INT, OFF(replication_priority), 0, 0, 1000000 },
	{ "replication_ack_policy", STR(replication_ack_policy) },
	{ "replication_ack_timeout", K_INT, OFF(replication_ack_timeout), 0, 10, 600000 },
	{ "replication_heartbeat", K_INT, OFF(replication_heartbeat), 0, 100, 60000 },
	{ "replication_read_wait", K_INT, OFF(replication_read_wait), 0, 0, 600000 },
};

/*
 * The default number of workers: 8 per online CPU, at least 8 and at most
 * 64. A worker answers one request at a time and a durable write holds it
 * while the log is flushed, so the workers bound how many commits can share
 * one flush (Berkeley DB's group commit): with 4 workers a flush took 1.9
 * commits at 16 and 64 connections, with 16 workers 4.3-5.1, on a disk that
 * was far from its limit (docs/performance.md, 2026-12-06 fifth session).
 * CPU-bound work needs about one worker per CPU; the rest wait for the
 * disk. A worker costs under 1.5 MiB of private memory.
 */
int
config_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n >= 8 ? 64 : n <= 1 ? 8 : (int)n * 8;
}

/*
 * The requests one tenant may have in flight: the setting, or when it was
 * left unset three quarters of the workers, so that at least one worker in
 * four (and at least one) is left to the other tenants; 1 with 1 worker.
 */
int
config_tenant_max_inflight(const struct config *c)
{
	int reserve;

	if (c->tenant_max_inflight != CONFIG_DERIVED)
		return c->tenant_max_inflight;
	reserve = c->workers / 4 > 1 ? c->workers / 4 : 1;
	return c->workers - reserve > 1 ? c->workers - reserve : 1;
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->datadir, sizeof(c->datadir), "/var/lib/orchid");
	snprintf(c->socket, sizeof(c->socket), "/run/orchid/orchidd.sock");
	c->socket_mode = 0660;
	c->workers = config_default_workers();
	c->max_requests = 0;
	c->handoff_after = 10;
	c->durability = DURABILITY_SYNC;
	c->cache_size = (int64_t)256 << 20;
	c->min_free_space = (int64_t)256 << 20;
	c->checkpoint_interval = 30;
	c->reclaim_batch = 1000;
	c->export_batch = 1000;
	c->max_body = (int64_t)2 << 20;
	c->max_response = (int64_t)8 << 20;
	c->max_json_depth = 64;
	c->max_name_length = 1024;
	c->max_bulk_ops = 1000;
	c->max_bulk_body = (int64_t)16 << 20;
	c->max_hops = 3;
	c->max_traversal = 10000;
	c->search = 1;
	c->metrics = 1;
	c->search_wait = 5000;
	c->search_max_expansion = 1024;
	c->search_open_indexes = 64;
	c->indexer_batch = 1000;
	c->indexer_yield = 1;
	c->deadlock_retries = 20;
	c->tenant_max_inflight = (int)CONFIG_DERIVED;
	c->list_scan_budget = 10000;
	c->failchk_timeout = 2;
	c->worker_start_timeout = 10;
	c->shutdown_timeout = 30;
	c->request_read_timeout = 10;
	c->log_level = LOG_LEVEL_INFO;
	c->replication_priority = 100;
	snprintf(c->replication_ack_policy, sizeof(c->replication_ack_policy), "quorum");
	c->replication_ack_timeout = 2000;
	c->replication_heartbeat = 500;
	c->replication_read_wait = 2000;
}

bool
config_replicated(const struct config *c)
{
	return c->replication_site[0] != '\0';
}

/* "host:port" with a port of 1 to 65535 and a host of no spaces or commas. */
static bool
host_port_ok(const char *s, size_t len)
{
	const char *colon = NULL;
	int64_t port;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == ':')
			colon = s + i;
		else if (s[i] == ',' || isspace((unsigned char)s[i]))
			return false;
	}
	return colon != NULL && colon > s &&
	    util_parse_int64(colon + 1, len - (size_t)(colon + 1 - s), 1, 65535, &port) == 0;
}

static int
check_replication(const struct config *c, char *err, size_t errlen)
{
	const char *p = c->replication_peers;
	static const char *policies[] = { "quorum", "all", "one", "none" };
	bool known = false;

	if (!config_replicated(c))
		return 0;
	if (!host_port_ok(c->replication_site, strlen(c->replication_site))) {
		snprintf(err, errlen, "replication_site must be host:port");
		return -1;
	}
	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		while (n > 0 && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (!host_port_ok(p, n)) {
			snprintf(err, errlen, "replication_peers must be host:port[,host:port...]");
			return -1;
		}
		p = e != NULL ? e + 1 : p + strlen(p);
	}
	if (c->replication_peers[0] == '\0' && !c->replication_creator) {
		snprintf(err, errlen, "replication_peers is empty: a site that does not create "
		    "the group (replication_creator = 0) joins it through its peers");
		return -1;
	}
	if (strncmp(c->replication_url, "http://", 7) != 0 &&
	    strncmp(c->replication_url, "https://", 8) != 0) {
		snprintf(err, errlen, "replication_url must be this site's public base URL "
		    "(http://... or https://...): replicas redirect writes to the master's");
		return -1;
	}
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		known = known || strcmp(c->replication_ack_policy, policies[i]) == 0;
	if (!known) {
		snprintf(err, errlen, "replication_ack_policy must be quorum, all, one or none");
		return -1;
	}
	if (c->search) {
		snprintf(err, errlen, "replication needs search = 0: each site's search index "
		    "is its own and is not replicated (docs/replication.md)");
		return -1;
	}
	return 0;
}

const char *
config_durability_name(enum durability d)
{
	switch (d) {
	case DURABILITY_SYNC:
		return "sync";
	case DURABILITY_WRITE:
		return "write";
	default:
		return "none";
	}
}

/* Parses "123", "64k", "256M", "1G" (powers of 1024). */
static int
parse_size(const char *v, int64_t min, int64_t max, int64_t *out)
{
	char digits[32];
	size_t n = strlen(v);
	int64_t mult = 1, x;

	if (n == 0 || n >= sizeof(digits))
		return -1;
	switch (toupper((unsigned char)v[n - 1])) {
	case 'K': mult = (int64_t)1 << 10; n--; break;
	case 'M': mult = (int64_t)1 << 20; n--; break;
	case 'G': mult = (int64_t)1 << 30; n--; break;
	default: break;
	}
	memcpy(digits, v, n);
	digits[n] = '\0';
	if (util_parse_int64(digits, n, 0, INT64_MAX / mult, &x) == -1)
		return -1;
	x *= mult;
	if (x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

static int
set_one(struct config *c, const struct setting *s, const char *v)
{
	char *field = (char *)c + s->offset;
	int64_t x;
	enum log_level lv;

	switch (s->kind) {
	case K_STRING:
		if (strlen(v) >= s->size)
			return -1;
		memcpy(field, v, strlen(v) + 1);
		return 0;
	case K_INT:
		if (util_parse_int64(v, strlen(v), s->min, s->max, &x) == -1)
			return -1;
		if (s->offset == OFF(max_requests))
			*(long *)(void *)field = (long)x;
		else
			*(int *)(void *)field = (int)x;
		return 0;
	case K_SIZE:
		if (parse_size(v, s->min, s->max, &x) == -1)
			return -1;
		*(int64_t *)(void *)field = x;
		return 0;
	case K_MODE: {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(v, &end, 8);
		if (errno != 0 || *v == '\0' || *end != '\0' || m > (unsigned long)s->max)
			return -1;
		*(unsigned *)(void *)field = (unsigned)m;
		return 0;
	}
	case K_DURABILITY:
		if (strcmp(v, "sync") == 0)
			c->durability = DURABILITY_SYNC;
		else if (strcmp(v, "write") == 0)
			c->durability = DURABILITY_WRITE;
		else if (strcmp(v, "none") == 0)
			c->durability = DURABILITY_NONE;
		else
			return -1;
		return 0;
	case K_LOGLEVEL:
		if (log_level_parse(v, &lv) == -1)
			return -1;
		c->log_level = lv;
		return 0;
	}
	return -1;
}

int
config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		if (strcmp(settings[i].name, key) != 0)
			continue;
		if (set_one(c, &settings[i], value) == -1) {
			snprintf(err, errlen, "bad value for %s: \"%s\"", key, value);
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown setting \"%s\"", key);
	return -1;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Handles one line; 0 for blank lines and comments too. */
static int
load_line(struct config *c, char *line, char *err, size_t errlen)
{
	char *eq, *key, *value, *hash;

	hash = strchr(line, '#');
	if (hash != NULL)
		*hash = '\0';
	key = trim(line);
	if (*key == '\0')
		return 0;
	eq = strchr(key, '=');
	if (eq == NULL) {
		snprintf(err, errlen, "expected \"key = value\"");
		return -1;
	}
	*eq = '\0';
	value = trim(eq + 1);
	key = trim(key);
	return config_set(c, key, value, err, errlen);
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	char line[2048], why[256];
	FILE *f;
	int lineno = 0, rc = 0;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		if (load_line(c, line, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	(void)fclose(f);
	if (rc == 0)
		snprintf(c->path, sizeof(c->path), "%s", path);
	return rc;
}

int
config_check(const struct config *c, char *err, size_t errlen)
{
	if (c->datadir[0] != '/') {
		snprintf(err, errlen, "datadir must be an absolute path");
		return -1;
	}
	if (c->socket[0] != '/') {
		snprintf(err, errlen, "socket must be an absolute path");
		return -1;
	}
	if (strlen(c->socket) >= 108) {
		snprintf(err, errlen, "socket path longer than a Unix socket allows");
		return -1;
	}
	return check_replication(c, err, errlen);
}
