/*
 * master: the watcher of the Berkeley DB manual. Takes the lock file, makes
 * the socket, recovers the environment, then forks the maintainer and the
 * workers and only watches them: reaps, has failchk run after a crash,
 * recovers everything when failchk fails or hangs, respawns with a throttle,
 * stops gracefully on SIGTERM and reloads on SIGHUP. It holds no database
 * handle while children run.
 */
#ifndef ORCHID_MASTER_H
#define ORCHID_MASTER_H

struct config;

/*
 * The exit status when recovery met a page that failed its checksum (a
 * corrupt or torn page recovery must read): no restart can repair that, so
 * orchidd stops and systemd must not start it again (the unit's
 * RestartPreventExitStatus). EX_DATAERR of sysexits.h.
 */
#define MASTER_EXIT_CORRUPT 65

/* Runs orchidd until it is stopped; returns the process exit status. */
int master_run(struct config *cfg);

/*
 * Takes the exclusive lock file in the data directory (creating the
 * directory). wait_secs > 0 retries that long. Returns the fd (kept open,
 * inherited by children) or -1 when another orchidd holds it.
 */
int master_lock(const char *datadir, int wait_secs);

#endif
