/*
 * broker/persist/snapshot: the binary snapshot of every database, written
 * and loaded whole.
 *
 * File layout (all integers little-endian):
 *
 *   "RUNNELSNAP" u16 version | aux fields (name/value: creation time, ...)
 *   per database with keys: DB tag, db number, key count
 *     per key: [EXPIRE tag, i64 unix ms] type tag, key bytes, value
 *   END tag | u64 CRC-64 of every byte before it
 *
 * Values are written per type from the type's own iterators (strings,
 * hashes, lists, sets, sorted sets, streams with every entry, deleted
 * counters, groups, PELs and consumers), so a load rebuilds each value in
 * the encoding the current thresholds choose. Writing goes to a temporary
 * file in the same directory, fsync, rename over the target, fsync of the
 * directory: a crash leaves either the old or the new file, never half.
 *
 * Not here: when to save (persist/aof, the server cron), forking.
 */
#ifndef BROKER_PERSIST_SNAPSHOT_H
#define BROKER_PERSIST_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "broker/keyspace/db.h"

/* What a load found, for logs and INFO. */
typedef struct snap_info {
    uint64_t keys;    /* keys loaded */
    uint64_t expired; /* keys skipped because their expiry had passed */
    int64_t ctime_ms; /* when the snapshot was written (aux field) */
    uint64_t bytes;   /* file size */
} snap_info;

/* Called every few thousand keys while loading (so the server can answer
 * -LOADING to clients meanwhile); may be NULL. */
typedef void (*snap_progress_fn)(void *priv, uint64_t bytes_done);

/*
 * Writes every database of ks to path atomically (see above). Safe to call
 * in a forked child (no locks, no loop). err (may be NULL) gets a one-line
 * reason on failure. Returns 0, or a negative errno (-ENOSPC, -EIO, ...).
 * O(total size).
 */
int snap_write(const ks_space *ks, const char *path, char *err, size_t errcap);

/*
 * Loads path into ks, which must be empty. Keys whose expiry is at or
 * before now_ms are skipped (counted in info->expired). Returns 0; -ENOENT
 * when there is no such file; -EINVAL when the file is not a snapshot, is
 * cut short or fails its checksum (err names the file and the byte offset
 * of the problem; ks then holds a partial load the caller discards).
 * O(total size).
 */
int snap_load(ks_space *ks, const char *path, int64_t now_ms, snap_info *info,
              snap_progress_fn progress, void *priv, char *err, size_t errcap);

/*
 * CRC-64/Jones (reflected, init 0, no final xor: "123456789" gives
 * 0xe9c6d914c4b8d9ca), the snapshot's trailer checksum. Pass 0 first, then
 * the previous result to continue over more bytes. O(n).
 */
uint64_t snap_crc64(uint64_t crc, const void *p, size_t n);

/*
 * State saved beside the keys: the Lua function libraries. dump returns an
 * owned payload (util_free) or NULL when there is nothing to save; restore
 * replaces the libraries with a payload's (0, or a negative errno: the load
 * then fails). Set once at start, before any save or load; without hooks
 * nothing is saved and a saved payload is skipped.
 */
void snap_set_functions_hooks(char *(*dump)(size_t *len),
                              int (*restore)(const char *p, size_t len));

#endif /* BROKER_PERSIST_SNAPSHOT_H */
