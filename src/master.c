/*
 * master: process supervision. Policy (see docs/reliability.md):
 * - A worker that exits 0 was told to stop or reached max_requests: respawn.
 * - A worker that exits otherwise may have died inside Berkeley DB: reap it,
 *   ask the maintainer (whose handle predates the crash) to run failchk, and
 *   only then fork a replacement (pid reuse could fool failchk otherwise).
 * - failchk failing or not answering in time, the maintainer dying, or a new
 *   worker not becoming ready in time: kill every child, run recovery, start
 *   again. Joining an environment after a crash can hang; recovery does not.
 * - Respawns of workers that die young are throttled.
 */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "index.h"
#include "indexer.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "ratelimit.h"
#include "reclaim.h"
#include "store.h"
#include "timefmt.h"
#include "upgrade.h"
#include "worker.h"

#define MAX_WORKERS 256
/* The indexer lives in the slot after the last possible worker. */
#define IX_SLOT MAX_WORKERS

struct slot {
	pid_t pid;
	int ready_fd;       /* read end until the worker reports ready */
	time_t started;
	time_t next_start;  /* throttle: not before this time */
	int quick_deaths;   /* consecutive deaths soon after start */
	bool disabled;      /* exited with EX_CONFIG */
};

struct master {
	struct config *cfg;
	int listen_fd;
	int handoff[2];         /* workers hand kept connections on (fcgi.h) */
	int wake[2];        /* workers -> indexer: "the outbox has news" */
	int urgent[2];      /* workers -> indexer: "a search waits" */
	int lock_fd;
	int sig_pipe[2];
	pid_t maint_pid;
	int maint_cmd;      /* write end: commands to the maintainer */
	int maint_resp;     /* read end: answers */
	struct slot slots[MAX_WORKERS + 1];
	int nslots;
	bool need_failchk;
	bool need_recovery;
	struct ratelimit *limiter;
	struct metrics *metrics;
};

static volatile sig_atomic_t got_term, got_hup, got_chld, got_usr1;
static void drain_sig_pipe(struct master *m);
static int sig_pipe_w = -1;

static void
on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGUSR1)
		got_usr1 = 1;
	if (sig_pipe_w != -1)
		(void)!write(sig_pipe_w, "", 1);
	errno = saved;
}

static time_t
now_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int
master_lock(const char *datadir, int wait_secs)
{
	char path[CONFIG_PATH_MAX + 16];
	int fd;

	if (mkdir(datadir, 0700) == -1 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/orchidd.lock", datadir);
	fd = open(path, O_RDWR | O_CREAT, 0640);
	if (fd == -1)
		return -1;
	/* Children inherit the open file description: while any old process
	 * lives, a new master cannot take the lock and run recovery. */
	for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) == -1; i++) {
		if (errno != EWOULDBLOCK || i >= wait_secs * 10) {
			(void)close(fd);
			return -1;
		}
		(void)usleep(100000);
	}
	return fd;
}

static int
make_socket(const struct config *cfg)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(cfg->socket) >= sizeof(sun.sun_path))
		fatal("socket path %s is too long", cfg->socket);
	memcpy(sun.sun_path, cfg->socket, strlen(cfg->socket) + 1);
	/* We hold the lock, so a socket file left here is stale. */
	if (unlink(cfg->socket) == -1 && errno != ENOENT)
		fatal("cannot remove stale socket %s: %s", cfg->socket, strerror(errno));
	/* Non-blocking: the workers wait for it with epoll, and the one woken
	 * may find the connection already taken by another. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd == -1)
		fatal("socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("bind %s: %s", cfg->socket, strerror(errno));
	if (chmod(cfg->socket, cfg->socket_mode) == -1)
		fatal("chmod %s: %s", cfg->socket, strerror(errno));
	if (cfg->socket_group[0] != '\0') {
		struct group *g = getgrnam(cfg->socket_group);

		if (g == NULL)
			fatal("unknown socket_group %s", cfg->socket_group);
		if (chown(cfg->socket, (uid_t)-1, g->gr_gid) == -1)
			fatal("chown %s: %s", cfg->socket, strerror(errno));
	}
	if (listen(fd, 1024) == -1)
		fatal("listen: %s", strerror(errno));
	return fd;
}

/* When started as root with user set: chown the data, then drop to it. */
static void
drop_privileges(struct master *m)
{
	struct passwd *pw;

	if (geteuid() != 0 || m->cfg->user[0] == '\0')
		return;
	pw = getpwnam(m->cfg->user);
	if (pw == NULL)
		fatal("unknown user %s", m->cfg->user);
	if (chown(m->cfg->datadir, pw->pw_uid, pw->pw_gid) == -1 ||
	    fchown(m->lock_fd, pw->pw_uid, pw->pw_gid) == -1)
		fatal("chown %s: %s", m->cfg->datadir, strerror(errno));
	if (setgroups(0, NULL) == -1 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("dropping privileges to %s: %s", m->cfg->user, strerror(errno));
	log_info("running as %s", m->cfg->user);
}

/* --- the maintainer ---------------------------------------------------- */

static volatile sig_atomic_t maint_stop;

static void
maint_on_term(int sig)
{
	(void)sig;
	maint_stop = 1;
}

/* Between two reclaim steps the maintainer leaves the locks and the log to
 * the workers for a moment; when idle it looks at the queue every second. */
#define RECLAIM_PAUSE_MS 10
#define RECLAIM_LOOK_MS 1000
#define RECLAIM_BACKOFF_S 5

/* The maintainer's reclaim of dropped collections and purged items' events
 * (reclaim.h). */
struct maint_reclaim {
	struct arena *a;
	bool busy;          /* the last step found work: take the next soon */
	time_t next_look;   /* when idle or after a failure: the next look */
	uint32_t tenant;    /* the collection being reclaimed, for the log */
	uint64_t cid;
	uint64_t removed;   /* its records removed by this maintainer */
};

/* One bounded step of reclaim, logging when a collection starts and ends. */
static void
maint_reclaim_step(struct store *s, const struct config *cfg, struct maint_reclaim *mr)
{
	struct reclaim_result r;
	enum store_rc rc;

	mem_reset(mr->a);
	rc = reclaim_run(s, mr->a, (uint64_t)cfg->reclaim_batch, 1, cfg->deadlock_retries, &r);
	if (rc != STORE_OK) {
		log_warn("reclaim: a step failed; trying again in %d s", RECLAIM_BACKOFF_S);
		mr->busy = false;
		mr->next_look = now_s() + RECLAIM_BACKOFF_S;
		return;
	}
	mr->busy = !r.idle;
	mr->next_look = now_s() + RECLAIM_LOOK_MS / 1000;
	if (r.idle)
		return;
	if (r.item) {
		/* A purged item's events, or its versions and refs: one line
		 * when they are all gone. */
		if (r.finished)
			log_info("reclaim: the %s of purged item \"%s\" of tenant %u "
			    "(cid %llu) are gone", r.versions ? "versions and refs" : "events",
			    r.name, r.tenant, (unsigned long long)r.cid);
		return;
	}
	if (r.tenant != mr->tenant || r.cid != mr->cid) {
		log_info("reclaim: removing the records of dropped collection \"%s\" of "
		    "tenant %u (cid %llu)", r.name, r.tenant, (unsigned long long)r.cid);
		mr->tenant = r.tenant;
		mr->cid = r.cid;
		mr->removed = 0;
	}
	mr->removed += r.deleted;
	if (r.finished) {
		log_info("reclaim: dropped collection \"%s\" of tenant %u (cid %llu) is "
		    "gone (%llu records removed by this maintainer)", r.name, r.tenant,
		    (unsigned long long)r.cid, (unsigned long long)mr->removed);
		mr->tenant = 0;
		mr->cid = 0;
	}
}

/*
 * A replicated site's maintainer is its replication process (store.h): it
 * joins the group first, and reports ready once the site is the master or
 * a replica that has caught up. Until then no worker starts: a new site
 * has no databases before the master's arrive.
 */
static void
maint_rep_wait(struct store *s)
{
	char err[512];
	time_t start = now_s(), told = start;

	for (;;) {
		int rc = store_rep_ready(s, err, sizeof(err));

		if (rc == 1)
			return;
		if (rc == -1) {
			log_err("replication: %s", err);
			_exit(1);
		}
		if (maint_stop)
			_exit(0);
		store_rep_poll();
		if (now_s() - told >= 10) {
			told = now_s();
			log_info("replication: waiting for a master (for %lld s)",
			    (long long)(told - start));
		}
		(void)usleep(50000);
	}
}

/* From a replication thread: the master replaces the workers (recycle_workers). */
static void
maint_group_changed(void)
{
	(void)kill(getppid(), SIGUSR1);
}

/* The master's heartbeat, when this site is the master (store.h). */
static void
maint_heartbeat(struct store *s, int64_t *next_ms, int interval)
{
	int64_t t = timefmt_now_ms();

	if (t < *next_ms)
		return;
	*next_ms = t + interval;
	/* A commit the replicas do not acknowledge (a partition) holds the
	 * maintainer for replication_ack_timeout, and failchk waits for it:
	 * after one, the next heartbeat waits 10 intervals. */
	if (store_role(s, NULL, 0) == STORE_ROLE_MASTER &&
	    store_rep_heartbeat(s, t) != STORE_OK && !store_not_master()) {
		log_debug("replication: the heartbeat was not acknowledged");
		*next_ms = t + 10 * (int64_t)interval;
	}
}

/* Milliseconds until the maintainer's next timer. */
static int
maint_timeout(const struct maint_reclaim *mr, time_t next_ckpt)
{
	time_t t = now_s(), next = mr->next_look < next_ckpt ? mr->next_look : next_ckpt;

	if (mr->busy)
		return RECLAIM_PAUSE_MS;
	return next <= t ? 0 : (int)(next - t) * 1000;
}

static void __attribute__((noreturn))
maintainer_main(const struct config *cfg, int cmd_fd, int resp_fd, pid_t parent)
{
	struct maint_reclaim mr;
	struct store *s;
	struct sigaction sa;
	time_t next_ckpt;
	int64_t next_beat = 0;
	bool rep = config_replicated(cfg);
	char err[512], c;

	log_init("maint", cfg->log_level);
	(void)prctl(PR_SET_NAME, "orchidd-maint", 0, 0, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = maint_on_term;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGCHLD, &sa, NULL);
	memset(&mr, 0, sizeof(mr));
	if ((mr.a = mem_new()) == NULL) {
		log_err("out of memory");
		_exit(1);
	}
	if (rep)
		store_set_rep_change_hook(maint_group_changed);
	if (store_open_ex(cfg, &s, rep ? STORE_OPEN_REP_LISTENER : 0, err, sizeof(err)) == -1) {
		log_err("%s", err);
		_exit(1);
	}
	if (rep)
		maint_rep_wait(s);
	if (write(resp_fd, "R", 1) != 1)
		_exit(1);
	next_ckpt = now_s() + cfg->checkpoint_interval;
	mr.busy = true; /* a queue left by an earlier run resumes at once */
	while (!maint_stop && !store_panicked(s)) {
		struct pollfd p = { cmd_fd, POLLIN, 0 };
		int wait = maint_timeout(&mr, next_ckpt);
		int n;

		if (rep && wait > cfg->replication_heartbeat)
			wait = cfg->replication_heartbeat;
		n = poll(&p, 1, wait);

		if (n > 0) {
			if (read(cmd_fd, &c, 1) != 1 || c == 'Q')
				break;
			if (c == 'F') {
				/* A hung failchk is ended by SIGALRM's default action;
				 * the master then recovers. */
				alarm((unsigned)cfg->failchk_timeout);
				c = store_failchk(s) == 0 ? '0' : '1';
				alarm(0);
				if (write(resp_fd, &c, 1) != 1)
					break;
			}
			continue;
		}
		if (now_s() >= next_ckpt) {
			(void)store_checkpoint(s, false);
			next_ckpt = now_s() + cfg->checkpoint_interval;
		}
		if (rep) {
			store_rep_poll();
			maint_heartbeat(s, &next_beat, cfg->replication_heartbeat);
		}
		/* Reclaim writes: the master's; a replica receives its result. */
		if ((mr.busy || now_s() >= mr.next_look) &&
		    (!rep || store_role(s, NULL, 0) == STORE_ROLE_MASTER))
			maint_reclaim_step(s, cfg, &mr);
	}
	if (store_panicked(s))
		_exit(1);
	(void)store_checkpoint(s, true);
	store_close(s);
	mem_free(mr.a);
	_exit(0);
}

/* The slots in use: workers 0 .. nslots - 1, then the indexer. */
static int
next_slot(const struct master *m, int i)
{
	if (i + 1 < m->nslots)
		return i + 1;
	return i < IX_SLOT && m->cfg->search ? IX_SLOT : -1;
}
#define FOR_SLOTS(m, i) for (int i = (m)->nslots > 0 ? 0 : next_slot((m), IX_SLOT - 1); \
	i != -1; i = next_slot((m), i))

static void
close_child_fds(struct master *m)
{
	(void)close(m->sig_pipe[0]);
	(void)close(m->sig_pipe[1]);
	FOR_SLOTS(m, i) {
		if (m->slots[i].ready_fd != -1)
			(void)close(m->slots[i].ready_fd);
	}
}

/* Restores default signal handling in a new child before it sets its own. */
static void
child_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static int
start_maintainer(struct master *m)
{
	int cmd[2], resp[2];
	pid_t parent = getpid(), pid;
	char c;
	struct pollfd p;

	if (pipe(cmd) == -1 || pipe(resp) == -1)
		return -1;
	pid = fork();
	if (pid == -1)
		return -1;
	if (pid == 0) {
		child_signals();
		close_child_fds(m);
		(void)close(m->handoff[0]);
		(void)close(m->handoff[1]);
		(void)close(cmd[1]);
		(void)close(resp[0]);
		maintainer_main(m->cfg, cmd[0], resp[1], parent);
	}
	(void)close(cmd[0]);
	(void)close(resp[1]);
	m->maint_pid = pid;
	m->maint_cmd = cmd[1];
	m->maint_resp = resp[0];
	p.fd = resp[0];
	p.events = POLLIN;
	/* A replicated site waits for its group as long as it takes (the
	 * maintainer logs why), unless told to stop. */
	for (time_t until = now_s() + m->cfg->worker_start_timeout;;) {
		int n = poll(&p, 1, 500);

		if (n == 1)
			break;
		drain_sig_pipe(m);
		if (got_term) {
			(void)kill(pid, SIGTERM);
			return -2;
		}
		if (!config_replicated(m->cfg) && now_s() >= until)
			break;
	}
	if (read(resp[0], &c, 1) != 1 || c != 'R') {
		log_err("the maintainer did not start");
		return -1;
	}
	return 0;
}

static int
start_worker(struct master *m, int i)
{
	struct slot *s = &m->slots[i];
	pid_t parent = getpid(), pid;
	int ready[2];

	if (pipe(ready) == -1)
		return -1;
	pid = fork();
	if (pid == -1) {
		(void)close(ready[0]);
		(void)close(ready[1]);
		return -1;
	}
	if (pid == 0) {
		child_signals();
		(void)close(ready[0]);
		close_child_fds(m);
		(void)close(m->maint_cmd);
		(void)close(m->maint_resp);
		if (i == IX_SLOT) {
			(void)close(m->listen_fd);
			(void)close(m->handoff[0]);
			(void)close(m->handoff[1]);
			(void)close(m->wake[1]);
			(void)close(m->urgent[1]);
			indexer_main(m->cfg, ready[1], parent, m->wake[0], m->urgent[0]);
		}
		(void)close(m->wake[0]);
		(void)close(m->urgent[0]);
		index_set_wake_fd(m->wake[1]);
		index_set_urgent_fd(m->urgent[1]);
		worker_main(m->cfg, m->limiter, m->metrics, m->listen_fd, m->handoff, ready[1], parent, i);
	}
	(void)close(ready[1]);
	metrics_event(m->metrics, MEV_WORKER_START);
	s->pid = pid;
	s->ready_fd = ready[0];
	s->started = now_s();
	return 0;
}

static void
kill_all(struct master *m, int sig)
{
	FOR_SLOTS(m, i) {
		if (m->slots[i].pid > 0)
			(void)kill(m->slots[i].pid, sig);
	}
	if (m->maint_pid > 0)
		(void)kill(m->maint_pid, sig);
}

static void
forget_slot(struct slot *s)
{
	s->pid = 0;
	if (s->ready_fd != -1)
		(void)close(s->ready_fd);
	s->ready_fd = -1;
}

static void
forget_maintainer(struct master *m)
{
	m->maint_pid = 0;
	if (m->maint_cmd != -1)
		(void)close(m->maint_cmd);
	if (m->maint_resp != -1)
		(void)close(m->maint_resp);
	m->maint_cmd = m->maint_resp = -1;
}

/* Waits for every child to exit; SIGKILL after timeout seconds. */
static void
wait_all(struct master *m, int timeout)
{
	time_t deadline = now_s() + timeout;
	bool killed = false;

	for (;;) {
		int alive = m->maint_pid > 0;
		pid_t pid;

		FOR_SLOTS(m, i)
			alive += m->slots[i].pid > 0;
		if (alive == 0)
			return;
		pid = waitpid(-1, NULL, WNOHANG);
		if (pid > 0) {
			if (pid == m->maint_pid)
				forget_maintainer(m);
			FOR_SLOTS(m, i) {
				if (m->slots[i].pid == pid)
					forget_slot(&m->slots[i]);
			}
			continue;
		}
		if (pid == -1 && errno == ECHILD)
			return;
		if (!killed && now_s() >= deadline) {
			log_warn("children still running after %d s: killing them", timeout);
			kill_all(m, SIGKILL);
			killed = true;
		}
		(void)usleep(20000);
	}
}

static void
drain_sig_pipe(struct master *m)
{
	char b[64];

	while (read(m->sig_pipe[0], b, sizeof(b)) > 0)
		;
}

/* Recovery, then the upgrade of a format-1 environment (before any worker
 * or the maintainer joins; after a kill it resumes at the next start).
 * 0, or -1 with err. */
static int
recover(struct master *m, char *err, size_t errlen)
{
	if (store_recover(m->cfg, err, errlen) == -1)
		return -1;
	metrics_event(m->metrics, MEV_RECOVERY);
	/* A replicated group is of the current format (docs/replication.md). */
	if (config_replicated(m->cfg))
		return 0;
	return upgrade_run(m->cfg, err, errlen);
}

/*
 * A recovery that failed because it met a page that failed its checksum
 * (store.c has logged the file and page): trying again cannot help, since
 * recovery must read that page, so orchidd stops with
 * MASTER_EXIT_CORRUPT and says how to repair. Returns when that was not
 * the reason.
 */
static void
stop_if_corrupt(struct master *m)
{
	char file[64];
	unsigned long page;

	if (!store_corrupt(file, sizeof(file), &page))
		return;
	log_err("recovery cannot finish: it must read %s page %lu, which is corrupt "
	    "(checksum error); orchidd stops (exit %d) until the data is repaired: "
	    "restore the last backup with orchidctl restore, adding this data "
	    "directory's logs to keep the writes since the backup (docs/reliability.md, "
	    "\"Repairing a corrupt database\")", file, page, MASTER_EXIT_CORRUPT);
	(void)unlink(m->cfg->socket);
	exit(MASTER_EXIT_CORRUPT);
}

/* The recovery at start: its failure (a newer data format, a directory
 * that cannot be used, a corrupt page) stops orchidd with the reason. */
static void
recover_or_die(struct master *m)
{
	char err[512];

	if (recover(m, err, sizeof(err)) == -1) {
		stop_if_corrupt(m);
		fatal("recovery failed: %s", err);
	}
}

/*
 * Closes every connection waiting on the socket, unread: while no worker
 * runs (a recovery that failed waits to be tried again), nginx then answers
 * 502 at once instead of holding each request for fastcgi_read_timeout.
 * Nothing of such a request was read, so nothing of it was done.
 */
static void
refuse_waiting(struct master *m)
{
	int fd;

	while ((fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		(void)close(fd);
}

/* Waits secs seconds, or less when a stop is asked for; true then. While
 * it waits, connections to the socket are refused (refuse_waiting). */
static bool
pause_unless_stopped(struct master *m, int secs)
{
	time_t until = now_s() + secs;

	/* The socket is non-blocking (make_socket). */
	while (!got_term && now_s() < until) {
		struct pollfd p[2] = { { m->sig_pipe[0], POLLIN, 0 }, { m->listen_fd, POLLIN, 0 } };

		(void)poll(p, 2, 500);
		drain_sig_pipe(m);
		if (p[1].revents & POLLIN)
			refuse_waiting(m);
	}
	return got_term != 0;
}

static void
start_children(struct master *m)
{
	int rc = start_maintainer(m);

	if (rc == -2)
		return;   /* told to stop while it waited for its group */
	if (rc == -1)
		fatal("cannot start the maintainer");
	FOR_SLOTS(m, i) {
		m->slots[i].quick_deaths = 0;
		m->slots[i].next_start = 0;
		if (!m->slots[i].disabled && start_worker(m, i) == -1)
			log_err("fork: %s", strerror(errno));
	}
}

/*
 * Kill everything, recover, start again. A recovery that fails while the
 * server runs (the disk full, an I/O error) is tried again, 1, 2, 4 ... 30 s
 * apart, until it works or orchidd is told to stop: exiting would leave the
 * service to systemd's restart limit, and an operator who frees space
 * expects the server back by itself. Nothing is served meanwhile (the
 * environment is unusable until recovery completes): connections are
 * refused as they come (pause_unless_stopped). The exception is a
 * recovery that met a corrupt page (stop_if_corrupt): no retry can pass it.
 */
static void
full_recovery(struct master *m, const char *why)
{
	char err[512];
	int wait_s = 1;

	log_warn("%s: stopping all processes and running recovery", why);
	kill_all(m, SIGKILL);
	wait_all(m, 5);
	while (recover(m, err, sizeof(err)) == -1) {
		stop_if_corrupt(m);
		log_err("recovery failed: %s; trying again in %d s", err, wait_s);
		if (pause_unless_stopped(m, wait_s))
			return;
		wait_s = wait_s * 2 > 30 ? 30 : wait_s * 2;
	}
	log_info("recovery complete");
	m->need_failchk = false;
	m->need_recovery = false;
	start_children(m);
}

/* Asks the maintainer for failchk; true when the environment is usable. */
static bool
run_failchk(struct master *m)
{
	struct pollfd p = { m->maint_resp, POLLIN, 0 };
	char c = 'F';

	if (m->maint_pid <= 0 || write(m->maint_cmd, &c, 1) != 1)
		return false;
	/* A replicated site's maintainer may be in a heartbeat's commit,
	 * waiting up to replication_ack_timeout for acknowledgements, before it
	 * reads the request. */
	int wait_ms = (m->cfg->failchk_timeout + 1) * 1000 +
	    (config_replicated(m->cfg) ? m->cfg->replication_ack_timeout : 0);

	for (;;) {
		int n = poll(&p, 1, wait_ms);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1 || read(m->maint_resp, &c, 1) != 1)
			return false;
		return c == '0';
	}
}

static void
note_worker_exit(struct master *m, struct slot *s, int status)
{
	bool young = now_s() - s->started < 2;

	forget_slot(s);
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_OK) {
		s->quick_deaths = 0;
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_CONFIG) {
		log_err("a worker exited with a configuration error; not restarting it");
		s->disabled = true;
		return;
	}
	metrics_event(m->metrics, MEV_WORKER_FAILURE);
	if (WIFSIGNALED(status))
		log_warn("worker died from signal %d", WTERMSIG(status));
	else
		log_warn("worker exited with status %d", WEXITSTATUS(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_PANIC)
		m->need_recovery = true;
	m->need_failchk = true;
	/* Throttle: a worker that keeps dying young waits 1, 2, 4 ... 30 s. */
	s->quick_deaths = young ? s->quick_deaths + 1 : 0;
	if (s->quick_deaths > 1) {
		int d = 1 << (s->quick_deaths - 2 < 5 ? s->quick_deaths - 2 : 5);

		s->next_start = now_s() + (d > 30 ? 30 : d);
	}
}

static void
reap(struct master *m)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == m->maint_pid) {
			forget_maintainer(m);
			if (!got_term) {
				log_warn("the maintainer died");
				m->need_recovery = true;
			}
			continue;
		}
		FOR_SLOTS(m, i) {
			if (m->slots[i].pid != pid)
				continue;
			/* A worker killed in a request leaves its tenant's
			 * in-flight entry behind: clear it. */
			ratelimit_leave(m->limiter, i);
			note_worker_exit(m, &m->slots[i], status);
		}
	}
}

/* Reads ready bytes and enforces the start-up watchdog. */
static void
check_ready(struct master *m)
{
	time_t t = now_s();

	FOR_SLOTS(m, i) {
		struct slot *s = &m->slots[i];
		struct pollfd p = { s->ready_fd, POLLIN, 0 };
		char c;

		if (s->pid <= 0 || s->ready_fd == -1)
			continue;
		if (poll(&p, 1, 0) == 1 && read(s->ready_fd, &c, 1) == 1) {
			(void)close(s->ready_fd);
			s->ready_fd = -1;
		} else if (t - s->started > m->cfg->worker_start_timeout) {
			m->need_recovery = true;
			log_warn("worker %ld did not become ready", (long)s->pid);
		}
	}
}

static void
respawn(struct master *m)
{
	time_t t = now_s();

	FOR_SLOTS(m, i) {
		struct slot *s = &m->slots[i];

		if (s->pid == 0 && !s->disabled && t >= s->next_start &&
		    start_worker(m, i) == -1)
			log_err("fork: %s", strerror(errno));
	}
}

static void
reload(struct master *m)
{
	struct config next;
	char err[512];

	if (m->cfg->path[0] == '\0') {
		log_info("SIGHUP: no config file to reload");
		return;
	}
	config_defaults(&next);
	if (config_load(&next, m->cfg->path, err, sizeof(err)) == -1 ||
	    config_check(&next, err, sizeof(err)) == -1) {
		log_err("SIGHUP: keeping the old config: %s", err);
		return;
	}
	/* The data directory, socket, user and search cannot change under a
	 * running server; everything else takes effect in new workers. */
	memcpy(next.datadir, m->cfg->datadir, sizeof(next.datadir));
	memcpy(next.socket, m->cfg->socket, sizeof(next.socket));
	memcpy(next.user, m->cfg->user, sizeof(next.user));
	if (next.search != m->cfg->search)
		log_warn("SIGHUP: \"search\" changes only with a restart; kept at %d",
		    m->cfg->search);
	next.search = m->cfg->search;
	/* Nor does a site's place in its replication group. */
	memcpy(next.replication_site, m->cfg->replication_site, sizeof(next.replication_site));
	memcpy(next.replication_peers, m->cfg->replication_peers, sizeof(next.replication_peers));
	memcpy(next.replication_url, m->cfg->replication_url, sizeof(next.replication_url));
	next.replication_creator = m->cfg->replication_creator;
	*m->cfg = next;
	for (int i = m->nslots; i < m->cfg->workers; i++) {
		memset(&m->slots[i], 0, sizeof(m->slots[i]));
		m->slots[i].ready_fd = -1;
	}
	for (int i = m->cfg->workers; i < m->nslots; i++) {
		if (m->slots[i].pid > 0)
			(void)kill(m->slots[i].pid, SIGTERM);
		m->slots[i].disabled = true;
	}
	if (m->cfg->workers > m->nslots)
		m->nslots = m->cfg->workers;
	for (int i = 0; i < m->cfg->workers; i++) {
		m->slots[i].disabled = false;
		if (m->slots[i].pid > 0)
			(void)kill(m->slots[i].pid, SIGTERM);
	}
	log_info("reloaded %s: workers restart with the new settings", m->cfg->path);
}

static void
install_signals(struct master *m)
{
	struct sigaction sa;

	if (pipe(m->sig_pipe) == -1)
		fatal("pipe: %s", strerror(errno));
	(void)fcntl(m->sig_pipe[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(m->sig_pipe[1], F_SETFL, O_NONBLOCK);
	sig_pipe_w = m->sig_pipe[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGCHLD, &sa, NULL);
	(void)sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
}

/*
 * The maintainer's SIGUSR1: the replication group changed (a site joined
 * or left, this site became the master). A worker's replication manager
 * connects to the sites it knew when it started, so the workers are
 * replaced: each finishes its request and exits, and its successor
 * connects to the group as it is now.
 */
static void
recycle_workers(struct master *m)
{
	int n = 0;

	for (int i = 0; i < m->nslots; i++) {
		if (m->slots[i].pid > 0 && m->slots[i].ready_fd == -1) {
			(void)kill(m->slots[i].pid, SIGTERM);
			n++;
		}
	}
	log_info("replication: the group changed; %d workers are replaced", n);
}


static void
shutdown_all(struct master *m)
{
	char c = 'Q';

	log_info("stopping: waiting for workers to finish their requests");
	FOR_SLOTS(m, i) {
		if (m->slots[i].pid > 0)
			(void)kill(m->slots[i].pid, SIGTERM);
	}
	{
		pid_t mp = m->maint_pid;

		m->maint_pid = 0; /* wait for workers first */
		wait_all(m, m->cfg->shutdown_timeout);
		m->maint_pid = mp;
	}
	if (m->maint_pid > 0 && write(m->maint_cmd, &c, 1) != 1)
		(void)kill(m->maint_pid, SIGTERM);
	wait_all(m, m->cfg->shutdown_timeout);
	(void)unlink(m->cfg->socket);
	log_info("stopped");
}

/* store_set_corrupt_hook's function: the metrics table counts and limits. */
static bool
checksum_hook(void *arg, uint64_t *left_out)
{
	return metrics_checksum_error(arg, left_out);
}

/* store_set_io_error_hook's function: a failed flush or write, counted. */
static void
io_error_hook(void *arg)
{
	metrics_event(arg, MEV_IO_ERROR);
}

int
master_run(struct config *cfg)
{
	struct master m;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.maint_cmd = m.maint_resp = -1;
	m.nslots = cfg->workers;
	for (int i = 0; i <= MAX_WORKERS; i++)
		m.slots[i].ready_fd = -1;
	log_init("master", cfg->log_level);
	m.lock_fd = master_lock(cfg->datadir, 10);
	if (m.lock_fd == -1)
		fatal("cannot lock %s/orchidd.lock: another orchidd (or one of its "
		      "processes) is still running", cfg->datadir);
	m.listen_fd = make_socket(cfg);
	/* Two pipes for the life of the master: a worker that notes a change
	 * writes a byte to the first (never blocking), which wakes the indexer
	 * at once; a search that waits for the index, to the second. */
	if (pipe2(m.wake, O_CLOEXEC) == -1 ||
	    fcntl(m.wake[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(m.wake[1], F_SETFL, O_NONBLOCK) == -1 ||
	    pipe2(m.urgent, O_CLOEXEC) == -1 ||
	    fcntl(m.urgent[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(m.urgent[1], F_SETFL, O_NONBLOCK) == -1)
		fatal("pipe: %s", strerror(errno));
	/* A worker with idle kept connections that is busy with a long
	 * request, or that exits, writes them here, and an idle worker takes
	 * them (fcgi.h). A stream socket: each descriptor rides on a byte of
	 * its own; a datagram socket's queue would hold 10
	 * (net.unix.max_dgram_qlen). The master holds both ends, so that what
	 * waits here outlives a generation of workers (a reload). */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, m.handoff) == -1)
		fatal("socketpair: %s", strerror(errno));
	drop_privileges(&m);
	install_signals(&m);
	/* Shared by every worker generation; survives worker restarts. */
	m.limiter = ratelimit_new();
	if (m.limiter == NULL)
		fatal("cannot map the rate-limit table");
	m.metrics = metrics_new();
	if (m.metrics == NULL)
		fatal("cannot map the metrics table");
	/* Pages that fail their checksum, in any process, are counted and
	 * their log lines rate-limited in the shared table. */
	store_set_corrupt_hook(checksum_hook, m.metrics);
	store_set_io_error_hook(io_error_hook, m.metrics);
	recover_or_die(&m);
	start_children(&m);
	log_info("ready: %d workers on %s, durability %s", cfg->workers, cfg->socket,
	    config_durability_name(cfg->durability));
	while (!got_term) {
		struct pollfd p = { m.sig_pipe[0], POLLIN, 0 };

		(void)poll(&p, 1, 500);
		drain_sig_pipe(&m);
		if (got_term)
			break;
		if (got_chld) {
			got_chld = 0;
			reap(&m);
		}
		if (got_hup) {
			got_hup = 0;
			reload(&m);
		}
		if (got_usr1) {
			got_usr1 = 0;
			recycle_workers(&m);
		}
		check_ready(&m);
		if (m.need_failchk && !m.need_recovery) {
			if (run_failchk(&m))
				log_info("failchk: the environment is usable");
			else
				m.need_recovery = true;
			m.need_failchk = false;
		}
		if (m.need_recovery)
			full_recovery(&m, "the environment may be damaged");
		respawn(&m);
	}
	shutdown_all(&m);
	return 0;
}
