/*
 * check_config: unit tests for src/config.h (defaults, typed settings with
 * bounds, the "key = value" file, cross-setting checks).
 *
 * Table-driven. The defaults and bounds we want come from the commented
 * sample conf/orchidd.conf ("Every value shown here is the built-in default");
 * config files are written to temporary files made with mkstemp.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define MB		((int64_t)1 << 20)

START_TEST(test_defaults)
{
	struct config c;
	long ncpu;
	int want_workers;

	memset(&c, 0xa5, sizeof(c));
	config_defaults(&c);
	ck_assert_msg(strcmp(c.datadir, "/var/lib/orchid") == 0,
	    "datadir: got \"%s\", want \"/var/lib/orchid\"", c.datadir);
	ck_assert_msg(strcmp(c.socket, "/run/orchid/orchidd.sock") == 0,
	    "socket: got \"%s\", want \"/run/orchid/orchidd.sock\"", c.socket);
	ck_assert_msg(c.socket_mode == 0660, "socket_mode: got %o, want 660",
	    c.socket_mode);
	ck_assert_msg(c.socket_group[0] == '\0' && c.user[0] == '\0' &&
	    c.path[0] == '\0', "socket_group/user/path: got \"%s\"/\"%s\"/\"%s\","
	    " want empty", c.socket_group, c.user, c.path);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	want_workers = ncpu >= 8 ? 64 : ncpu <= 1 ? 8 : (int)ncpu * 8;
	ck_assert_msg(c.workers == want_workers, "workers on %ld CPUs: got %d, want %d "
	    "(8 per CPU, 8 to 64)", ncpu, c.workers, want_workers);
	ck_assert_msg(c.max_requests == 0, "max_requests: got %ld, want 0",
	    c.max_requests);
	ck_assert_msg(c.durability == DURABILITY_SYNC,
	    "durability: got %d, want DURABILITY_SYNC", (int)c.durability);
	ck_assert_msg(c.cache_size == 256 * MB, "cache_size: got %" PRId64
	    ", want %" PRId64, c.cache_size, 256 * MB);
	ck_assert_msg(c.checkpoint_interval == 30,
	    "checkpoint_interval: got %d, want 30", c.checkpoint_interval);
	ck_assert_msg(c.export_batch == 1000, "export_batch: got %d, want 1000",
	    c.export_batch);
	ck_assert_msg(c.max_body == 2 * MB, "max_body: got %" PRId64 ", want %"
	    PRId64, c.max_body, 2 * MB);
	ck_assert_msg(c.max_json_depth == 64, "max_json_depth: got %d, want 64",
	    c.max_json_depth);
	ck_assert_msg(c.max_name_length == 1024,
	    "max_name_length: got %d, want 1024", c.max_name_length);
	ck_assert_msg(c.max_hops == 3 && c.max_traversal == 10000, "max_hops, "
	    "max_traversal: got %d, %d, want 3, 10000", c.max_hops, c.max_traversal);
	ck_assert_msg(c.search == 1 && c.indexer_batch == 1000 && c.indexer_yield == 1,
	    "search, indexer_batch, indexer_yield: got %d, %d, %d, want 1, 1000, 1",
	    c.search, c.indexer_batch, c.indexer_yield);
	ck_assert_msg(c.deadlock_retries == 20, "deadlock_retries: got %d, want 20",
	    c.deadlock_retries);
	ck_assert_msg(c.failchk_timeout == 2, "failchk_timeout: got %d, want 2",
	    c.failchk_timeout);
	ck_assert_msg(c.worker_start_timeout == 10,
	    "worker_start_timeout: got %d, want 10", c.worker_start_timeout);
	ck_assert_msg(c.shutdown_timeout == 30, "shutdown_timeout: got %d, want 30",
	    c.shutdown_timeout);
	ck_assert_msg(c.request_read_timeout == 10, "request_read_timeout: got %d, want 10",
	    c.request_read_timeout);
	ck_assert_msg(c.log_level == LOG_LEVEL_INFO,
	    "log_level: got %d, want LOG_LEVEL_INFO", (int)c.log_level);
}
END_TEST

/*
 * Reads a field as text so one table covers every kind of setting: strings
 * as themselves, integers in decimal, socket_mode in octal, durability and
 * log_level by name.
 */
static void
field_text(const struct config *c, const char *key, char *out, size_t size)
{
	static const char *levels[] = { "debug", "info", "warn", "error" };

	if (strcmp(key, "datadir") == 0)
		snprintf(out, size, "%s", c->datadir);
	else if (strcmp(key, "socket") == 0)
		snprintf(out, size, "%s", c->socket);
	else if (strcmp(key, "socket_group") == 0)
		snprintf(out, size, "%s", c->socket_group);
	else if (strcmp(key, "user") == 0)
		snprintf(out, size, "%s", c->user);
	else if (strcmp(key, "socket_mode") == 0)
		snprintf(out, size, "%o", c->socket_mode);
	else if (strcmp(key, "workers") == 0)
		snprintf(out, size, "%d", c->workers);
	else if (strcmp(key, "max_requests") == 0)
		snprintf(out, size, "%ld", c->max_requests);
	else if (strcmp(key, "durability") == 0)
		snprintf(out, size, "%s", config_durability_name(c->durability));
	else if (strcmp(key, "cache_size") == 0)
		snprintf(out, size, "%" PRId64, c->cache_size);
	else if (strcmp(key, "checkpoint_interval") == 0)
		snprintf(out, size, "%d", c->checkpoint_interval);
	else if (strcmp(key, "export_batch") == 0)
		snprintf(out, size, "%d", c->export_batch);
	else if (strcmp(key, "max_body") == 0)
		snprintf(out, size, "%" PRId64, c->max_body);
	else if (strcmp(key, "max_json_depth") == 0)
		snprintf(out, size, "%d", c->max_json_depth);
	else if (strcmp(key, "max_name_length") == 0)
		snprintf(out, size, "%d", c->max_name_length);
	else if (strcmp(key, "max_hops") == 0)
		snprintf(out, size, "%d", c->max_hops);
	else if (strcmp(key, "max_traversal") == 0)
		snprintf(out, size, "%d", c->max_traversal);
	else if (strcmp(key, "search") == 0)
		snprintf(out, size, "%d", c->search);
	else if (strcmp(key, "indexer_batch") == 0)
		snprintf(out, size, "%d", c->indexer_batch);
	else if (strcmp(key, "indexer_yield") == 0)
		snprintf(out, size, "%d", c->indexer_yield);
	else if (strcmp(key, "deadlock_retries") == 0)
		snprintf(out, size, "%d", c->deadlock_retries);
	else if (strcmp(key, "failchk_timeout") == 0)
		snprintf(out, size, "%d", c->failchk_timeout);
	else if (strcmp(key, "worker_start_timeout") == 0)
		snprintf(out, size, "%d", c->worker_start_timeout);
	else if (strcmp(key, "shutdown_timeout") == 0)
		snprintf(out, size, "%d", c->shutdown_timeout);
	else if (strcmp(key, "request_read_timeout") == 0)
		snprintf(out, size, "%d", c->request_read_timeout);
	else if (strcmp(key, "log_level") == 0)
		snprintf(out, size, "%s", (unsigned)c->log_level < 4 ?
		    levels[c->log_level] : "?");
	else
		snprintf(out, size, "(no such field)");
}

struct set_case {
	const char	*key;
	const char	*value;
	const char	*want;    /* field_text after the set; NULL: want -1 */
};

static const struct set_case set_core[] = {
	{ "datadir", "/srv/orchid", "/srv/orchid" },
	{ "socket", "/tmp/o.sock", "/tmp/o.sock" },
	{ "socket_group", "www-data", "www-data" },
	{ "user", "orchid", "orchid" },
	{ "socket_mode", "0600", "600" },
	{ "socket_mode", "660", "660" },
	{ "workers", "8", "8" },
	{ "workers", "016", "16" },
	{ "max_requests", "1000", "1000" },
	{ "durability", "sync", "sync" },
	{ "durability", "write", "write" },
	{ "durability", "none", "none" },
	{ "cache_size", "2M", "2097152" },
	{ "cache_size", "2m", "2097152" },
	{ "cache_size", "1G", "1073741824" },
	{ "cache_size", "1048576", "1048576" },
	{ "max_body", "64k", "65536" },
	{ "max_body", "64K", "65536" },
	{ "checkpoint_interval", "60", "60" },
	{ "export_batch", "250", "250" },
	{ "max_json_depth", "100", "100" },
	{ "max_name_length", "255", "255" },
	{ "max_hops", "5", "5" },
	{ "max_traversal", "500", "500" },
	{ "deadlock_retries", "5", "5" },
	{ "failchk_timeout", "10", "10" },
	{ "worker_start_timeout", "20", "20" },
	{ "shutdown_timeout", "60", "60" },
	{ "request_read_timeout", "30", "30" },
	{ "log_level", "debug", "debug" },
	{ "log_level", "info", "info" },
	{ "log_level", "warn", "warn" },
	{ "log_level", "error", "error" },
};

static const struct set_case set_limits[] = {
	{ "workers", "1", "1" },
	{ "workers", "256", "256" },
	{ "workers", "0", NULL },
	{ "workers", "257", NULL },
	{ "max_requests", "0", "0" },
	{ "max_requests", "2147483647", "2147483647" },
	{ "max_requests", "2147483648", NULL },
	{ "socket_mode", "0", "0" },
	{ "socket_mode", "777", "777" },
	{ "socket_mode", "1000", NULL },
	{ "socket_mode", "4777", NULL },
	{ "cache_size", "1M", "1048576" },
	{ "cache_size", "1024k", "1048576" },
	{ "cache_size", "64G", "68719476736" },
	{ "cache_size", "1023k", NULL },
	{ "cache_size", "65G", NULL },
	{ "cache_size", "9223372036854775807G", NULL },
	{ "max_body", "1024", "1024" },
	{ "max_body", "1k", "1024" },
	{ "max_body", "64M", "67108864" },
	{ "max_body", "1023", NULL },
	{ "max_body", "65M", NULL },
	{ "max_body", "1G", NULL },
	{ "checkpoint_interval", "1", "1" },
	{ "checkpoint_interval", "3600", "3600" },
	{ "checkpoint_interval", "0", NULL },
	{ "checkpoint_interval", "3601", NULL },
	{ "export_batch", "1", "1" },
	{ "export_batch", "100000", "100000" },
	{ "export_batch", "0", NULL },
	{ "export_batch", "100001", NULL },
	{ "max_json_depth", "2", "2" },
	{ "max_json_depth", "1000", "1000" },
	{ "max_json_depth", "1", NULL },
	{ "max_json_depth", "1001", NULL },
	{ "max_name_length", "1", "1" },
	{ "max_name_length", "4096", "4096" },
	{ "max_name_length", "0", NULL },
	{ "max_name_length", "4097", NULL },
	{ "max_hops", "1", "1" },
	{ "max_hops", "10", "10" },
	{ "max_hops", "0", NULL },
	{ "max_hops", "11", NULL },
	{ "search", "0", "0" },
	{ "search", "2", NULL },
	{ "indexer_batch", "1", "1" },
	{ "indexer_batch", "100000", "100000" },
	{ "indexer_batch", "0", NULL },
	{ "indexer_yield", "0", "0" },
	{ "indexer_yield", "1", "1" },
	{ "indexer_yield", "2", NULL },
	{ "indexer_yield", "-1", NULL },
	{ "max_traversal", "1", "1" },
	{ "max_traversal", "10000000", "10000000" },
	{ "max_traversal", "0", NULL },
	{ "max_traversal", "10000001", NULL },
	{ "max_traversal", "10k", NULL },
	{ "deadlock_retries", "0", "0" },
	{ "deadlock_retries", "1001", NULL },
	{ "failchk_timeout", "600", "600" },
	{ "failchk_timeout", "0", NULL },
	{ "shutdown_timeout", "3601", NULL },
	{ "request_read_timeout", "0", "0" },
	{ "request_read_timeout", "3600", "3600" },
	{ "request_read_timeout", "3601", NULL },
	{ "request_read_timeout", "-1", NULL },
	{ "request_read_timeout", "10s", NULL },
};

static const struct set_case set_errors[] = {
	/* Unknown keys, exact match only. */
	{ "worker", "4", NULL },
	{ "Workers", "4", NULL },
	{ "workers ", "4", NULL },
	{ "", "4", NULL },
	{ "cachesize", "1M", NULL },
	{ "path", "/etc/orchidd.conf", NULL },
	/* Integers: digits only. */
	{ "workers", "", NULL },
	{ "workers", "four", NULL },
	{ "workers", "4x", NULL },
	{ "workers", "-1", NULL },
	{ "workers", "+4", NULL },
	{ "workers", " 4", NULL },
	{ "workers", "4 ", NULL },
	{ "workers", "0x10", NULL },
	{ "workers", "99999999999999999999", NULL },
	/* Sizes. */
	{ "cache_size", "", NULL },
	{ "cache_size", "M", NULL },
	{ "cache_size", "2MB", NULL },
	{ "cache_size", "2 M", NULL },
	{ "cache_size", "-1M", NULL },
	{ "cache_size", "1.5G", NULL },
	{ "cache_size", "2T", NULL },
	{ "max_body", "k", NULL },
	{ "max_body", "64kk", NULL },
	/* Modes are octal. */
	{ "socket_mode", "", NULL },
	{ "socket_mode", "0680", NULL },
	{ "socket_mode", "8", NULL },
	{ "socket_mode", "0x1ff", NULL },
	{ "socket_mode", "rw", NULL },
	{ "socket_mode", "-1", NULL },
	/* Names. */
	{ "durability", "SYNC", NULL },
	{ "durability", "fsync", NULL },
	{ "durability", "", NULL },
	{ "durability", "sync ", NULL },
	{ "log_level", "INFO", NULL },
	{ "log_level", "warning", NULL },
	{ "log_level", "err", NULL },
	{ "log_level", "", NULL },
	/* Strings longer than their field. */
	{ "socket_group", "0123456789012345678901234567890123456789"
	    "012345678901234567890123", NULL },
	{ "user", "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890", NULL },
};

static void
check_set(const struct set_case *tc)
{
	struct config c, before;
	char err[256] = "", got[CONFIG_PATH_MAX + 16];
	int rc;

	config_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	rc = config_set(&c, tc->key, tc->value, err, sizeof(err));
	if (tc->want == NULL) {
		ck_assert_msg(rc == -1, "config_set(%s, \"%s\"): got %d, want -1",
		    tc->key, tc->value, rc);
		ck_assert_msg(err[0] != '\0', "config_set(%s, \"%s\"): got no "
		    "message, want one", tc->key, tc->value);
		ck_assert_msg(memcmp(&c, &before, sizeof(c)) == 0,
		    "config_set(%s, \"%s\") failed: got a changed config, want "
		    "it unchanged", tc->key, tc->value);
		return;
	}
	ck_assert_msg(rc == 0, "config_set(%s, \"%s\"): got %d (%s), want 0",
	    tc->key, tc->value, rc, err);
	field_text(&c, tc->key, got, sizeof(got));
	ck_assert_msg(strcmp(got, tc->want) == 0, "config_set(%s, \"%s\"): got "
	    "%s, want %s", tc->key, tc->value, got, tc->want);
}

START_TEST(test_set_core)
{
	check_set(&set_core[_i]);
}
END_TEST

START_TEST(test_set_limits)
{
	check_set(&set_limits[_i]);
}
END_TEST

START_TEST(test_set_errors)
{
	check_set(&set_errors[_i]);
}
END_TEST

/* Path fields hold CONFIG_PATH_MAX - 1 bytes and no more. */
START_TEST(test_set_path_length)
{
	static const char *keys[] = { "datadir", "socket" };
	char v[CONFIG_PATH_MAX + 2], err[256];
	struct config c;
	int rc;

	for (size_t k = 0; k < 2; k++) {
		config_defaults(&c);
		memset(v, 'a', sizeof(v));
		v[0] = '/';
		v[CONFIG_PATH_MAX - 1] = '\0';
		rc = config_set(&c, keys[k], v, err, sizeof(err));
		ck_assert_msg(rc == 0, "config_set(%s, %d bytes): got %d, want 0",
		    keys[k], CONFIG_PATH_MAX - 1, rc);
		v[CONFIG_PATH_MAX - 1] = 'a';
		v[CONFIG_PATH_MAX] = '\0';
		rc = config_set(&c, keys[k], v, err, sizeof(err));
		ck_assert_msg(rc == -1, "config_set(%s, %d bytes): got %d, want -1",
		    keys[k], CONFIG_PATH_MAX, rc);
	}
}
END_TEST

/* Writes text to a new temporary file; its path goes to path. */
static void
write_temp(const char *text, char *path, size_t size)
{
	const char *dir = getenv("TMPDIR");
	FILE *f;
	int fd;

	snprintf(path, size, "%s/check_config.XXXXXX",
	    dir != NULL && dir[0] == '/' ? dir : "/tmp");
	fd = mkstemp(path);
	ck_assert_msg(fd != -1, "mkstemp(%s): got -1, want a file", path);
	f = fdopen(fd, "w");
	ck_assert_msg(f != NULL, "fdopen: got NULL, want a stream");
	ck_assert_msg(fputs(text, f) >= 0 && fclose(f) == 0,
	    "writing %s: got an error, want none", path);
}

struct load_case {
	const char	*text;
	int		 line;       /* 0: want success; else the failing line */
	const char	*key;        /* on success: a field to check */
	const char	*want;
	const char	*key2;
	const char	*want2;
};

static const struct load_case load_core[] = {
	{ "", 0, "max_requests", "0", "durability", "sync" },
	{ "# only a comment\n\n   \n\t\n", 0, "max_requests", "0", NULL, NULL },
	{ "workers = 8\n", 0, "workers", "8", NULL, NULL },
	{ "workers=8\nmax_body=64k\n", 0, "workers", "8", "max_body", "65536" },
	{ "  workers   =   8  \n", 0, "workers", "8", NULL, NULL },
	{ "\tdurability\t=\twrite\t\n", 0, "durability", "write", NULL, NULL },
	{ "max_body = 64k # a trailing comment\n", 0, "max_body", "65536",
	    NULL, NULL },
	{ "# workers = 99\nworkers = 2\n", 0, "workers", "2", NULL, NULL },
	{ "workers = 3", 0, "workers", "3", NULL, NULL },
	{ "workers = 5\r\nlog_level = warn\r\n", 0, "workers", "5",
	    "log_level", "warn" },
	{ "datadir = /tmp/a=b\n", 0, "datadir", "/tmp/a=b", NULL, NULL },
	{ "workers = 2\nworkers = 6\n", 0, "workers", "6", NULL, NULL },
	{ "socket_mode = 0600\ncache_size = 16M\n", 0, "socket_mode", "600",
	    "cache_size", "16777216" },
};

static const struct load_case load_errors[] = {
	{ "bogus = 1\n", 1, NULL, NULL, NULL, NULL },
	{ "workers = 8\nbogus = 1\n", 2, NULL, NULL, NULL, NULL },
	{ "workers\n", 1, NULL, NULL, NULL, NULL },
	{ "workers 8\n", 1, NULL, NULL, NULL, NULL },
	{ "= 8\n", 1, NULL, NULL, NULL, NULL },
	{ "workers = 0\n", 1, NULL, NULL, NULL, NULL },
	{ "workers =\n", 1, NULL, NULL, NULL, NULL },
	{ "\n\n# c\nworkers = x\n", 4, NULL, NULL, NULL, NULL },
	{ "workers = 8 = 9\n", 1, NULL, NULL, NULL, NULL },
	{ "workers = 8\n\ndurability = maybe\n", 3, NULL, NULL, NULL, NULL },
	{ "log_level = info\nmax_body = 10\n", 2, NULL, NULL, NULL, NULL },
	{ "[orchidd]\nworkers = 8\n", 1, NULL, NULL, NULL, NULL },
	{ "workers: 8\n", 1, NULL, NULL, NULL, NULL },
	{ "WORKERS = 8\n", 1, NULL, NULL, NULL, NULL },
};

static void
check_load(const struct load_case *tc)
{
	char path[512], err[1024] = "", want[600], got[CONFIG_PATH_MAX + 16];
	struct config c;
	int rc;

	write_temp(tc->text, path, sizeof(path));
	config_defaults(&c);
	rc = config_load(&c, path, err, sizeof(err));
	(void)unlink(path);
	if (tc->line != 0) {
		ck_assert_msg(rc == -1, "config_load(\"%s\"): got %d, want -1",
		    tc->text, rc);
		snprintf(want, sizeof(want), "%s:%d: ", path, tc->line);
		ck_assert_msg(strncmp(err, want, strlen(want)) == 0,
		    "config_load(\"%s\") message: got \"%s\", want it to start "
		    "with \"%s\"", tc->text, err, want);
		ck_assert_msg(strlen(err) > strlen(want), "config_load(\"%s\") "
		    "message: got only \"%s\", want a reason too", tc->text, err);
		return;
	}
	ck_assert_msg(rc == 0, "config_load(\"%s\"): got %d (%s), want 0",
	    tc->text, rc, err);
	ck_assert_msg(strcmp(c.path, path) == 0, "path: got \"%s\", want \"%s\"",
	    c.path, path);
	field_text(&c, tc->key, got, sizeof(got));
	ck_assert_msg(strcmp(got, tc->want) == 0, "config_load(\"%s\") %s: got "
	    "%s, want %s", tc->text, tc->key, got, tc->want);
	if (tc->key2 != NULL) {
		field_text(&c, tc->key2, got, sizeof(got));
		ck_assert_msg(strcmp(got, tc->want2) == 0, "config_load(\"%s\") "
		    "%s: got %s, want %s", tc->text, tc->key2, got, tc->want2);
	}
}

START_TEST(test_load_core)
{
	check_load(&load_core[_i]);
}
END_TEST

START_TEST(test_load_errors)
{
	check_load(&load_errors[_i]);
}
END_TEST

START_TEST(test_load_missing)
{
	char err[512] = "";
	struct config c;
	int rc;

	config_defaults(&c);
	rc = config_load(&c, "/nonexistent/orchidd.conf", err, sizeof(err));
	ck_assert_msg(rc == -1, "config_load(missing file): got %d, want -1", rc);
	ck_assert_msg(strstr(err, "/nonexistent/orchidd.conf") != NULL,
	    "message: got \"%s\", want it to name the file", err);
	ck_assert_msg(c.path[0] == '\0', "path: got \"%s\", want \"\"", c.path);
}
END_TEST

/* A line longer than the reader's buffer is an error, not two lines. */
START_TEST(test_load_long_line)
{
	char path[512], err[1024] = "", want[600];
	size_t n = 5000;
	char *text = malloc(n + 32);
	struct config c;
	int rc;

	ck_assert_msg(text != NULL, "malloc: got NULL");
	memcpy(text, "workers = 8\n# ", 14);
	memset(text + 14, 'x', n);
	memcpy(text + 14 + n, "workers = 9\n", 13);
	write_temp(text, path, sizeof(path));
	free(text);
	config_defaults(&c);
	rc = config_load(&c, path, err, sizeof(err));
	(void)unlink(path);
	snprintf(want, sizeof(want), "%s:2: ", path);
	ck_assert_msg(rc == -1 && strncmp(err, want, strlen(want)) == 0,
	    "config_load(5000-byte comment line): got %d \"%s\", want -1 "
	    "\"%s...\"", rc, err, want);
}
END_TEST

/* The shipped sample shows every default: loading it changes nothing. */
START_TEST(test_load_sample)
{
	const char *srcdir = getenv("srcdir");
	char path[1024];
	char err[1024] = "";
	struct config c, d;
	int rc;

	snprintf(path, sizeof(path), "%s/../conf/orchidd.conf",
	    srcdir != NULL ? srcdir : ".");
	if (access(path, R_OK) != 0)
		snprintf(path, sizeof(path), "conf/orchidd.conf");
	if (access(path, R_OK) != 0)
		snprintf(path, sizeof(path), "../conf/orchidd.conf");
	ck_assert_msg(access(path, R_OK) == 0, "conf/orchidd.conf: got not "
	    "found (srcdir %s), want the sample", srcdir ? srcdir : "unset");
	config_defaults(&c);
	config_defaults(&d);
	rc = config_load(&c, path, err, sizeof(err));
	ck_assert_msg(rc == 0, "config_load(%s): got %d (%s), want 0", path, rc,
	    err);
	memset(c.path, 0, sizeof(c.path));
	ck_assert_msg(memcmp(&c, &d, sizeof(c)) == 0,
	    "config_load(%s): got settings that differ from config_defaults, "
	    "want the same", path);
}
END_TEST

struct check_case {
	const char	*datadir;
	const char	*socket;    /* NULL: n bytes of "/s..." */
	size_t		 socket_len;
	int		 rc;
};

static const struct check_case check_cases[] = {
	{ "/var/lib/orchid", "/run/orchid/orchidd.sock", 0, 0 },
	{ "/", "/s", 0, 0 },
	{ "/var/lib/orchid", NULL, 107, 0 },
	{ "/var/lib/orchid", NULL, 108, -1 },
	{ "/var/lib/orchid", NULL, 500, -1 },
	{ "var/lib/orchid", "/run/o.sock", 0, -1 },
	{ "./data", "/run/o.sock", 0, -1 },
	{ "../data", "/run/o.sock", 0, -1 },
	{ "", "/run/o.sock", 0, -1 },
	{ "~/data", "/run/o.sock", 0, -1 },
	{ "/var/lib/orchid", "orchidd.sock", 0, -1 },
	{ "/var/lib/orchid", "./orchidd.sock", 0, -1 },
	{ "/var/lib/orchid", "", 0, -1 },
};

START_TEST(test_check)
{
	const struct check_case *tc = &check_cases[_i];
	char err[256] = "";
	struct config c;
	int rc;

	config_defaults(&c);
	snprintf(c.datadir, sizeof(c.datadir), "%s", tc->datadir);
	if (tc->socket != NULL) {
		snprintf(c.socket, sizeof(c.socket), "%s", tc->socket);
	} else {
		memset(c.socket, 's', tc->socket_len);
		c.socket[0] = '/';
		c.socket[tc->socket_len] = '\0';
	}
	rc = config_check(&c, err, sizeof(err));
	ck_assert_msg(rc == tc->rc, "config_check(datadir \"%s\", socket of %zu "
	    "bytes): got %d (%s), want %d", c.datadir, strlen(c.socket), rc, err,
	    tc->rc);
	if (rc == -1)
		ck_assert_msg(err[0] != '\0', "config_check: got no message, want "
		    "one");
}
END_TEST

START_TEST(test_durability_name)
{
	static const struct {
		enum durability d;
		const char *name;
	} cases[] = {
		{ DURABILITY_SYNC, "sync" },
		{ DURABILITY_WRITE, "write" },
		{ DURABILITY_NONE, "none" },
	};

	for (int i = 0; i < NCASES(cases); i++)
		ck_assert_msg(strcmp(config_durability_name(cases[i].d),
		    cases[i].name) == 0, "config_durability_name(%d): got %s, "
		    "want %s", (int)cases[i].d,
		    config_durability_name(cases[i].d), cases[i].name);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_test(core, test_defaults);
	tcase_add_loop_test(core, test_set_core, 0, NCASES(set_core));
	tcase_add_loop_test(core, test_load_core, 0, NCASES(load_core));
	tcase_add_test(core, test_load_sample);
	tcase_add_test(core, test_durability_name);
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_set_limits, 0, NCASES(set_limits));
	tcase_add_test(limits, test_set_path_length);
	tcase_add_loop_test(limits, test_check, 0, NCASES(check_cases));
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_set_errors, 0, NCASES(set_errors));
	tcase_add_loop_test(errors, test_load_errors, 0, NCASES(load_errors));
	tcase_add_test(errors, test_load_missing);
	tcase_add_test(errors, test_load_long_line);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
