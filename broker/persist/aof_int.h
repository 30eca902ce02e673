/*
 * broker/persist/aof_int: state shared by aof.c (the log, manifest and
 * loading) and aofbg.c (forked jobs, cron, INFO). Not for use outside
 * broker/persist.
 */
#ifndef BROKER_PERSIST_AOF_INT_H
#define BROKER_PERSIST_AOF_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "broker/persist/aof.h"

#define AOF_PATH_MAX 4096

/* The log's state, as Redis's aof_state. */
#define AOF__OFF          0 /* not logging */
#define AOF__ON           1 /* logging; the manifest on disk is current */
#define AOF__WAIT_REWRITE 2 /* turned on at runtime: logging once a base exists */

/* Which child is running. */
#define AOF__CHILD_NONE 0
#define AOF__CHILD_RDB  1 /* BGSAVE */
#define AOF__CHILD_AOF  2 /* BGREWRITEAOF */

/* One file named by the manifest. */
typedef struct aof__file {
    char *name;    /* file name inside the log directory, owned */
    long long seq; /* sequence number */
    char type;     /* 'b' base, 'i' incr */
} aof__file;

/* The manifest in memory. */
typedef struct aof__manifest {
    aof__file base;     /* base.name NULL when there is none */
    aof__file *incr;    /* incr files, oldest first, owned */
    int nincr;          /* entries in incr */
    long long base_seq; /* highest base seq used */
    long long incr_seq; /* highest incr seq used */
} aof__manifest;

typedef struct aof__state {
    aof_host host;                    /* the server's services */
    int have_host;                    /* 1 once aof_start ran */
    int state;                        /* AOF__* */
    int loading;                      /* 1 while loading */
    long long load_start;             /* unix s the load began */
    uint64_t load_total;              /* bytes of every file to load */
    uint64_t load_done;               /* bytes of the files loaded so far */
    uint64_t load_cur;                /* bytes of the file being loaded */
    aof__manifest man;                /* current manifest */
    int fd;                           /* current incr file, -1 none */
    char *buf;                        /* records not yet written, owned */
    size_t len;                       /* bytes in buf */
    size_t cap;                       /* bytes allocated for buf */
    int seldb;                        /* database of the last record in the file, -1 none */
    int unsynced;                     /* 1 when written data awaits fdatasync */
    uint64_t cur_size;                /* base + incr bytes (aof_current_size) */
    uint64_t base_size;               /* base bytes (aof_base_size) */
    uint64_t rewrite_base;            /* cur_size after the last rewrite (auto rewrite) */
    int write_ok;                     /* aof_last_write_status */
    int write_errno;                  /* errno of the last failed write */
    int fsync_busy;                   /* 1 while a background fsync runs */
    int64_t last_fsync_ms;            /* when the last fsync was started */
    unsigned long long delayed_fsync; /* fsyncs skipped because one was running */
    /* Children. */
    pid_t child;                   /* running child, 0 none */
    int child_type;                /* AOF__CHILD_* */
    int64_t child_start_ms;        /* when it was forked */
    long long child_dirty;         /* *dirty at fork (BGSAVE) */
    char child_base[AOF_PATH_MAX]; /* new base the rewrite child writes */
    int rewrite_scheduled;         /* aof_rewrite_scheduled */
    int bgsave_scheduled;          /* BGSAVE SCHEDULE pending */
    /* Snapshot statistics. */
    long long dirty_at_save;    /* *dirty at the last successful save */
    long long lastsave;         /* unix s of the last successful save */
    int64_t last_bgsave_try_ms; /* last BGSAVE start attempt (retry delay) */
    int bgsave_ok;              /* rdb_last_bgsave_status */
    long long bgsave_time;      /* rdb_last_bgsave_time_sec, -1 none */
    long long saves;            /* rdb_saves */
    uint64_t load_keys;         /* rdb_last_load_keys_loaded */
    uint64_t load_expired;      /* rdb_last_load_keys_expired */
    /* Rewrite statistics. */
    int rewrite_ok;          /* aof_last_bgrewrite_status */
    long long rewrite_time;  /* aof_last_rewrite_time_sec, -1 none */
    long long rewrites;      /* aof_rewrites */
    long long rewrite_fails; /* aof_rewrites_consecutive_failures */
} aof__state;

extern aof__state aof__st;

/* aof.c */
/* A line for the server log (host.log, or stderr before aof_start). */
void aof__logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<appenddirname>/<name>" into out (AOF_PATH_MAX bytes). */
void aof__path(char *out, const char *name);
/* Reads the manifest into m (zeroed first). 0, -ENOENT, -EIO, or -EINVAL
 * when malformed (logged). */
int aof__manifest_read(aof__manifest *m);
/* Replaces the manifest on disk atomically. 0 or -1 (logged). */
int aof__manifest_write(const aof__manifest *m);
void aof__manifest_free(aof__manifest *m);
/* Creates the next incr file, makes it the one written and lists it in
 * the in-memory manifest (the caller flushed first and persists). 0/-1. */
int aof__open_new_incr(void);
/* Writes the buffer; fsyncs now when force_sync, else as appendfsync says. */
void aof__flush(int force_sync);
void aof__close_fd(void);
/* Loads the data set as the configuration says (see aof_start); at_start
 * also removes leftovers. 0, 1 abandoned, -1 fatal (logged). */
int aof__load_all(int at_start);
/* Size of a file of the log directory, 0 when missing. */
uint64_t aof__file_size(const char *name);
/* Unlinks the files old lists and keep does not. */
void aof__delete_files(const aof__manifest *old, const aof__manifest *keep);
/* Removes temporaries and unlisted log files (no child may run). */
void aof__cleanup(void);

/* aofbg.c */
/* Kills the running child, waits for it and removes what it wrote. */
void aof__kill_child(void);
/* Moves the log to a new incr file and forks the rewrite child. 0/-1. */
int aof__rewrite_start(void);

#endif /* BROKER_PERSIST_AOF_INT_H */
