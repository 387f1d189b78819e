/*
 * testenv: a fresh Berkeley DB environment in a temp directory, for the Check
 * programs that run over a real store (check_store, check_items,
 * check_events). testenv_make creates the directory and recovers an
 * environment in it as the master does; the caller then joins it with
 * store_open. testenv_remove deletes the directory and all in it.
 * Header-only (static inline), included by one source file per program.
 */
#ifndef ORCHID_TESTENV_H
#define ORCHID_TESTENV_H

#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "config.h"
#include "store.h"

/*
 * Makes dir (dirlen bytes, "$TMPDIR/NAME.XXXXXX"), fills cfg with the
 * defaults and a small cache there, and runs store_recover. Fails the test
 * on any error.
 */
static inline void
testenv_make(const char *name, char *dir, size_t dirlen, struct config *cfg)
{
	const char *t = getenv("TMPDIR");
	char err[512] = "";
	int n;

	n = snprintf(dir, dirlen, "%s/%s.XXXXXX", t != NULL && t[0] == '/' ? t :
	    "/tmp", name);
	ck_assert_msg(n > 0 && (size_t)n < dirlen, "temp dir name: got %d bytes, "
	    "want fewer than %zu", n, dirlen);
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp(%s): got NULL, want a "
	    "directory", dir);
	config_defaults(cfg);
	ck_assert_msg(config_set(cfg, "datadir", dir, err, sizeof(err)) == 0 &&
	    config_set(cfg, "cache_size", "16M", err, sizeof(err)) == 0 &&
	    config_set(cfg, "workers", "2", err, sizeof(err)) == 0,
	    "config_set: got %s, want success", err);
	ck_assert_msg(store_recover(cfg, err, sizeof(err)) == 0,
	    "store_recover(%s): got -1 (%s), want 0", dir, err);
}

static inline int
testenv_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes dir and everything in it (nothing when dir is ""), then sets it
 * to "". Fails the test when something cannot be removed. */
static inline void
testenv_remove(char *dir)
{
	if (dir[0] != '\0')
		ck_assert_msg(nftw(dir, testenv_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0,
		    "removing %s: got an error, want none", dir);
	dir[0] = '\0';
}

#endif
