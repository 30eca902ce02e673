/*
 * broker/persist/aof: the append-only log, its manifest, loading at start,
 * and the background jobs (log rewrite, snapshot save) run in forked
 * children.
 *
 * Files, under <dir>/<appenddirname> (Redis 7 multi-part layout):
 *
 *   appendonly.aof.manifest        one line per file, oldest first:
 *     file appendonly.aof.3.base.rdb seq 3 type b     (a snapshot)
 *     file appendonly.aof.5.incr.aof seq 5 type i     (RESP commands)
 *
 * The base is a snapshot (persist/snapshot); each incr file holds the
 * writes made after it was opened, as RESP multibulk commands with a
 * SELECT whenever the database changes. Loading is: base, then every incr
 * in order. A rewrite forks: the child writes a new base while the parent
 * appends to a new incr; when the child succeeds the manifest names only
 * the new pair and the older files are deleted.
 *
 * Hot path: aof_feed() for every write and aof_before_sleep() once per
 * loop iteration. Only the core thread calls in here; the everysec fsync
 * runs on the libuv thread pool.
 */
#ifndef BROKER_PERSIST_AOF_H
#define BROKER_PERSIST_AOF_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "broker/keyspace/db.h"
#include "protocols/resp/resp.h"

/* What the server lends the persistence layer. */
typedef struct aof_host {
    uv_loop_t *loop; /* for the fsync work queue */
    ks_space *ks;    /* the databases */
    /* Runs one logged command while loading (database changes come as
     * SELECT commands); returns 0, or -1 when it replied an error. */
    int (*replay)(void *priv, int argc, const resp_arg *argv);
    /* Called every few thousand commands or keys while loading at start;
     * the server may serve clients (-LOADING) from here. Returns non-zero
     * to abandon the load (shutdown requested). */
    int (*progress)(void *priv);
    void (*log)(int level, const char *msg); /* a CONFIG_LL_* line for the server log */
    long long *dirty;                        /* changes since start, the server's counter */
    void *priv;                              /* for replay and progress */
} aof_host;

/* How a file scan ended (aof_scan.status). */
#define AOF_SCAN_OK   0 /* every byte is part of a whole command */
#define AOF_SCAN_TORN 1 /* the file ends inside a command */
#define AOF_SCAN_BAD  2 /* bytes that are not a valid command */

/* Outcome of aof_scan_file(). */
typedef struct aof_scan {
    int status;        /* AOF_SCAN_* */
    uint64_t good;     /* offset just past the last whole command */
    uint64_t size;     /* bytes in the file */
    uint64_t commands; /* whole commands seen */
    int in_multi;      /* 1 when the file ended inside MULTI ... EXEC (status TORN) */
    char why[128];     /* reason when status is not OK */
} aof_scan;

/* Called per whole command (the scan's good offset is already past it);
 * a non-zero return stops the scan and is returned by aof_scan_file(). */
typedef int (*aof_cmd_fn)(void *priv, int argc, const resp_arg *argv);

/* ---- Scanning (shared with runnel-check-aof) ----------------------------- */

/*
 * Reads the RESP commands of path in order, calling fn (may be NULL) on
 * each, until the end or the first invalid or incomplete one; out says
 * which. A file that ends inside MULTI ... EXEC is torn at the MULTI (the
 * transaction was never whole). Returns 0, a negative errno on I/O failure, or fn's non-zero
 * return. O(file size), memory O(largest command).
 */
int aof_scan_file(const char *path, aof_cmd_fn fn, void *priv, aof_scan *out);

/* ---- Lifecycle ----------------------------------------------------------- */

/*
 * Loads the data at start (manifest -> base + incr files; else dbfilename)
 * and, with appendonly yes, opens the log for appending (creating the
 * first base and incr when there is none). Returns 0; 1 when the load was
 * abandoned by host->progress; -1 on a fatal problem, already logged
 * (the server exits with status 1).
 */
int aof_start(const aof_host *host);
/* Writes and fsyncs what is buffered, kills a running child and closes the
 * log. Safe to call more than once. */
void aof_stop(void);

/* ---- Hot path ------------------------------------------------------------ */

/* Appends one write in database dbid to the log buffer (nothing while
 * loading or with the log off). */
void aof_feed(int dbid, int argc, const resp_arg *argv);
/* Writes the buffer to the incr file and applies appendfsync. Call before
 * any reply of this loop iteration reaches a socket. */
void aof_before_sleep(void);
/* 1 while a command's log record is still unwritten or, with appendfsync
 * always, unsynced (a reply must wait for aof_before_sleep()). */
int aof_pending(void);

/* ---- Cron and commands --------------------------------------------------- */

/* Reaps children, runs scheduled jobs, save points and automatic rewrites,
 * and the everysec fsync. Call from the server cron. */
void aof_cron(int64_t now_ms);

/* Results of the command entry points below. */
#define AOF_OK         0  /* started / done */
#define AOF_SCHEDULED  1  /* will start when the running child ends */
#define AOF_BUSY_SAME  -1 /* the same kind of job is running */
#define AOF_BUSY_OTHER -2 /* another child is running (not scheduled) */
#define AOF_FAIL       -3 /* could not start or failed (logged) */

/* BGREWRITEAOF. */
int aof_bgrewrite(void);
/* BGSAVE [SCHEDULE]. */
int aof_bgsave(int schedule);
/* SAVE: foreground snapshot of dbfilename. */
int aof_save(void);
/* SHUTDOWN: flushes the log; saves when save is 1, or when save is 0 and
 * nosave is 0 and save points are set. Returns AOF_OK or AOF_FAIL. */
int aof_shutdown(int save, int nosave);
/* DEBUG RELOAD: save, empty, load dbfilename in place. */
int aof_debug_reload(void);
/* DEBUG LOADAOF: flush the log, empty, load from the log in place. */
int aof_debug_loadaof(void);
/* CONFIG SET appendonly / save took effect; returns 0 or -1 (with *err). */
int aof_config_changed(const char *name, const char **err);
/* Unix seconds of the last successful save (LASTSAVE). */
long long aof_lastsave(void);
/* 1 while loading (the server answers -LOADING). */
int aof_loading(void);
/* NULL, or the -MISCONF error (without "-") write commands get: the last
 * background save failed (stop-writes-on-bgsave-error) or the log cannot
 * be written. */
const char *aof_writes_refused(void);
/* Appends the INFO persistence section fields ("name:value\r\n") to buf;
 * returns the length written (truncated to cap). */
size_t aof_info(char *buf, size_t cap);

#endif /* BROKER_PERSIST_AOF_H */
