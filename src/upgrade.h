/*
 * upgrade: converts an environment of data format 1 (STORE_FORMAT_OLD) to
 * the current format in place (docs/storage.md, "Upgrade from format 1").
 * Format 1 keyed every record of a collection by its name (T | name | 0x00
 * | ...); format 2 by a collection id (T | cid | ...) with the name in
 * collections.db and live-item counters in counts.db. The upgrade runs in
 * the master after recovery and before any worker starts, in bounded
 * transactions; a kill at any point is harmless, because a record's key
 * tells its format (byte 4 is 0x00 only in format 2) and each record is
 * converted, and counted, in the transaction that deletes its old key.
 * meta.db's "format" becomes "2" in the last transaction.
 */
#ifndef ORCHID_UPGRADE_H
#define ORCHID_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct arena;
struct config;

/*
 * Upgrades the environment of cfg when it is at format 1; does nothing at
 * the current format. Only with the lock file held, after store_recover and
 * before any other process joins. Logs what it does. Returns 0, or -1 with
 * err.
 */
int upgrade_run(const struct config *cfg, char *err, size_t errlen);

/*
 * One bounded step in transaction t: converts at most max format-1 records,
 * and stops after 8 MiB of them (now_ms: the creation time of the
 * collections it creates). *done when
 * nothing is left and the format is now 2 (also when it already was);
 * *converted counts this step's records.
 */
enum store_rc upgrade_step(struct store_txn *t, struct arena *a, int64_t now_ms,
    uint64_t max, bool *done, uint64_t *converted);

/* Reads the format version ("1", "2") into buf; STORE_NOTFOUND when unset. */
enum store_rc upgrade_format(struct store_txn *t, char *buf, size_t len);

#endif
