/*
 * log: one line per event on stderr ("orchidd[pid] name: level: message"),
 * which systemd's journal or script/server collects. The process name and the
 * minimum level are the only logger state; both are set once per process.
 */
#ifndef ORCHID_LOG_H
#define ORCHID_LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERR };

/* Sets the name shown in every line (e.g. "master", "worker") and the level. */
void log_init(const char *name, enum log_level min);

/* Parses "debug", "info", "warn" or "error"; returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs at error level and exits with status 1 (start-up failures only). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
