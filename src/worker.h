/*
 * worker: one worker process's life. Opens its own store handles after fork,
 * tells the master it is ready, then accepts and answers requests one at a
 * time until told to stop, max_requests is reached, or the store panics.
 */
#ifndef ORCHID_WORKER_H
#define ORCHID_WORKER_H

struct config;

/* Exit statuses the master understands. */
#define WORKER_EXIT_OK 0        /* asked to stop, or max_requests reached */
#define WORKER_EXIT_PANIC 75    /* the environment needs recovery */
#define WORKER_EXIT_CONFIG 78   /* a restart cannot help (EX_CONFIG) */

/* Runs the worker; never returns. handoff is the socket pair the workers
 * hand kept connections on (fcgi_set_handoff: read end, write end). ready_fd
 * gets one byte once the store is open; parent is the master's pid (to
 * notice an early death); slot is its number (its search outbox slot,
 * index.h). */
struct metrics;
struct ratelimit;
void worker_main(const struct config *cfg, struct ratelimit *rl, struct metrics *metrics,
    int listen_fd, const int handoff[2], int ready_fd, int parent, int slot)
    __attribute__((noreturn));

#endif
