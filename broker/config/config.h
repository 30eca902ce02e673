/*
 * broker/config: the server's parameters, in redis.conf syntax.
 *
 * One table describes every parameter (name, type, bounds, default, whether
 * CONFIG SET may change it) and points at its storage in the global
 * `config` struct, so reading a value is a plain field access on the hot
 * path. The same table serves the config file, command-line overrides,
 * CONFIG GET (glob patterns), CONFIG SET (several pairs, all or none) and
 * CONFIG REWRITE (in place, keeping comments and unknown lines).
 *
 * Not here: applying a change to live sockets; the server registers an
 * apply hook for the parameters it must act on (port, bind, dir, ...).
 */
#ifndef BROKER_CONFIG_CONFIG_H
#define BROKER_CONFIG_CONFIG_H

#include <stddef.h>

#include "broker/reply/reply.h"
#include "protocols/resp/resp.h"

/* Loglevels, in the order of Redis's enum. */
enum { CONFIG_LL_DEBUG = 0, CONFIG_LL_VERBOSE, CONFIG_LL_NOTICE, CONFIG_LL_WARNING };

/* client-output-buffer-limit classes, in the order CONFIG GET prints them. */
/* appendfsync values, in the order of Redis's enum. */
enum { CONFIG_FSYNC_EVERYSEC = 0, CONFIG_FSYNC_ALWAYS, CONFIG_FSYNC_NO };

enum { CONFIG_OBUF_NORMAL = 0, CONFIG_OBUF_REPLICA, CONFIG_OBUF_PUBSUB, CONFIG_OBUF_CLASSES };

typedef struct runnel_config {
    long long port;                      /* TCP port, 0 = no TCP listener */
    char *bind;                          /* space-separated addresses, owned */
    char *dir;                           /* working dir as configured, owned */
    long long databases;                 /* number of databases (immutable) */
    long long maxclients;                /* connected clients limit */
    long long timeout;                   /* idle seconds before close, 0 off */
    long long tcp_keepalive;             /* seconds, 0 off */
    long long tcp_backlog;               /* listen() backlog (immutable) */
    long long loglevel;                  /* CONFIG_LL_* */
    char *logfile;                       /* "" = stdout (immutable), owned */
    char *pidfile;                       /* "" = none (immutable), owned */
    long long daemonize;                 /* bool (immutable) */
    char *requirepass;                   /* "" = no password, owned */
    char *nng_rep_url;                   /* nng rep0 endpoint, "" off (immutable), owned */
    char *nng_pub_url;                   /* nng pub0 endpoint, "" off (immutable), owned */
    char *nng_pull_url;                  /* nng pull0 endpoint, "" off (immutable), owned */
    char *nng_pub_streams;               /* glob of streams sent to pub0, "" none, owned */
    long long nng_rep_contexts;          /* rep0 requests in flight (blocked ones count) */
    long long ws_port;                   /* WebSocket gateway port, 0 off (immutable) */
    char *ws_bind;                       /* its listen address (immutable), owned */
    char *ws_allowed_origins;            /* handshake origins, "" same host (immutable), owned */
    long long ws_max_message_size;       /* largest WebSocket message, bytes (immutable) */
    long long proto_max_bulk_len;        /* bytes */
    long long client_query_buffer_limit; /* bytes */
    long long hz;                        /* cron frequency as configured */
    long long slowlog_log_slower_than;   /* usec, <0 disables */
    long long slowlog_max_len;           /* entries kept */
    long long stream_node_max_bytes;     /* bytes per stream block, 0 = no limit */
    long long stream_node_max_entries;   /* entries per stream block, 0 = no limit */
    long long hash_max_listpack_entries; /* most pairs in a listpack hash */
    long long hash_max_listpack_value;   /* longest field/value in a listpack hash */
    long long set_max_intset_entries;    /* most members in an intset set */
    long long zset_max_listpack_entries; /* most members in a listpack sorted set */
    long long zset_max_listpack_value;   /* longest member in a listpack sorted set */
    long long list_max_listpack_size;    /* list node limit: <0 bytes class, >0 entries */
    /* client-output-buffer-limit, per CONFIG_OBUF_* class; 0 = no limit. */
    unsigned long long obuf_hard[CONFIG_OBUF_CLASSES]; /* bytes: close at once */
    unsigned long long obuf_soft[CONFIG_OBUF_CLASSES]; /* bytes: close after soft secs */
    long long obuf_soft_secs[CONFIG_OBUF_CLASSES];     /* seconds over soft before closing */
    long long notify_keyspace_events;                  /* NOTIFY_* classes (cmd.h), 0 off */
    /* Persistence. */
    long long appendonly;                    /* bool: append-only log on */
    long long appendfsync;                   /* CONFIG_FSYNC_* */
    char *appendfilename;                    /* log file name stem (immutable), owned */
    char *appenddirname;                     /* log directory under dir (immutable), owned */
    char *dbfilename;                        /* snapshot file name, owned */
    char *save;                              /* "secs changes ..." save points, "" none, owned */
    long long auto_aof_rewrite_percentage;   /* growth % that triggers a rewrite, 0 off */
    long long auto_aof_rewrite_min_size;     /* bytes below which no automatic rewrite */
    long long aof_load_truncated;            /* bool: cut a torn tail at load */
    long long aof_use_rdb_preamble;          /* bool (accepted; the base is a snapshot) */
    long long aof_rewrite_incremental_fsync; /* bool (accepted) */
    long long rdbcompression;                /* bool (accepted) */
    long long rdbchecksum;                   /* bool (accepted; always checked) */
    long long stop_writes_on_bgsave_error;   /* bool: refuse writes after a failed save */
    long long enable_debug_command;          /* 0 no, 1 yes, 2 local (DEBUG allowed) */
    long long enable_protected_configs;      /* 0 no, 1 yes, 2 local (dbfilename settable) */
    long long busy_reply_threshold;          /* ms a script runs before BUSY replies */
} runnel_config;

extern runnel_config config;

/* Sets every parameter to its default. Call once before loading. */
void config_init(void);
void config_fini(void);

/* Applies the text of a config file followed by extra lines (the
 * command-line overrides, one directive per line). On error returns -1 and
 * writes Redis's fatal message into err (caller prints it and exits). */
int config_load(const char *path, const char *extra, char *err, size_t errlen);
/* Absolute path of the loaded file, NULL without one. */
const char *config_file(void);

/* Hook run after CONFIG SET changed name; returns 0, or -1 with *err set
 * to a static message ("Unable to listen on this port"). The change is
 * rolled back on failure. */
typedef int (*config_apply_fn)(const char *name, const char **err);
void config_set_apply_hook(config_apply_fn fn);

/* CONFIG subcommands: parse the arguments (argv[0] is "config", argv[1]
 * the subcommand) and write the reply. */
void config_cmd_get(reply *r, int argc, const resp_arg *argv);
void config_cmd_set(reply *r, int argc, const resp_arg *argv);
void config_cmd_rewrite(reply *r);

/* Splits a line like Redis's sdssplitargs. Returns the count of args
 * (each a NUL-terminated copy in out[], caller frees with
 * config_free_args) or -1 on unbalanced quotes. */
int config_split_args(const char *line, char ***out);
void config_free_args(char **args, int n);

#endif /* BROKER_CONFIG_CONFIG_H */
