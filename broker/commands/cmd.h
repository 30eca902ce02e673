/*
 * broker/commands/cmd: the command context, the command table entry, and
 * the host interface through which handlers reach server-level state.
 *
 * A handler sees a cmd_ctx: its arguments, the caller's session, the
 * selected database, the clock and a reply sink. It parses every argument
 * first, replies with an error and returns if one is bad, then mutates the
 * keyspace and writes its reply. It never sees a socket: what only the
 * server knows (other clients, listeners, shutdown) goes through cmd_host.
 *
 * Hot path: cmd_lookup() on every command (one hash lookup on a lowercase
 * copy of the name).
 */
#ifndef BROKER_COMMANDS_CMD_H
#define BROKER_COMMANDS_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "broker/keyspace/db.h"
#include "broker/reply/reply.h"
#include "protocols/resp/resp.h"

/* Command flags, in the order COMMAND INFO prints them. */
#define CMD_WRITE             (1u << 0)
#define CMD_READONLY          (1u << 1)
#define CMD_DENYOOM           (1u << 2)
#define CMD_MODULE            (1u << 3)
#define CMD_ADMIN             (1u << 4)
#define CMD_PUBSUB            (1u << 5)
#define CMD_NOSCRIPT          (1u << 6)
#define CMD_BLOCKING          (1u << 7)
#define CMD_LOADING           (1u << 8)
#define CMD_STALE             (1u << 9)
#define CMD_SKIP_MONITOR      (1u << 10)
#define CMD_SKIP_SLOWLOG      (1u << 11)
#define CMD_ASKING            (1u << 12)
#define CMD_FAST              (1u << 13)
#define CMD_NO_AUTH           (1u << 14)
#define CMD_MAY_REPLICATE     (1u << 15)
#define CMD_SENTINEL          (1u << 16)
#define CMD_ONLY_SENTINEL     (1u << 17)
#define CMD_NO_MANDATORY_KEYS (1u << 18)
#define CMD_PROTECTED         (1u << 19)
#define CMD_NO_ASYNC_LOADING  (1u << 20)
#define CMD_NO_MULTI          (1u << 21)
#define CMD_MOVABLE_KEYS      (1u << 22)
#define CMD_ALLOW_BUSY        (1u << 23)
#define CMD_NFLAGS            24

/* ACL categories (COMMAND INFO prints them as "@name"). */
#define ACL_KEYSPACE    (1ull << 0)
#define ACL_READ        (1ull << 1)
#define ACL_WRITE       (1ull << 2)
#define ACL_SET         (1ull << 3)
#define ACL_SORTEDSET   (1ull << 4)
#define ACL_LIST        (1ull << 5)
#define ACL_HASH        (1ull << 6)
#define ACL_STRING      (1ull << 7)
#define ACL_BITMAP      (1ull << 8)
#define ACL_HYPERLOGLOG (1ull << 9)
#define ACL_GEO         (1ull << 10)
#define ACL_STREAM      (1ull << 11)
#define ACL_PUBSUB      (1ull << 12)
#define ACL_ADMIN       (1ull << 13)
#define ACL_FAST        (1ull << 14)
#define ACL_SLOW        (1ull << 15)
#define ACL_BLOCKING    (1ull << 16)
#define ACL_DANGEROUS   (1ull << 17)
#define ACL_CONNECTION  (1ull << 18)
#define ACL_TRANSACTION (1ull << 19)
#define ACL_SCRIPTING   (1ull << 20)
#define ACL_NCATS       21

/* Session flags. */
#define SESS_CLOSE_AFTER_REPLY (1u << 0)  /* QUIT, protocol error */
#define SESS_MONITOR           (1u << 1)  /* receives MONITOR feed */
#define SESS_REPLY_OFF         (1u << 2)  /* CLIENT REPLY OFF */
#define SESS_REPLY_SKIP_NEXT   (1u << 3)  /* CLIENT REPLY SKIP: skip next */
#define SESS_REPLY_SKIP        (1u << 4)  /* skip the reply of this command */
#define SESS_NO_EVICT          (1u << 5)  /* CLIENT NO-EVICT on */
#define SESS_PUBSUB            (1u << 6)  /* has subscriptions (RESP2 limits) */
#define SESS_MULTI             (1u << 7)  /* inside MULTI: commands are queued */
#define SESS_MULTI_ERR         (1u << 8)  /* a command was refused while queued: EXEC aborts */
#define SESS_DIRTY_CAS         (1u << 9)  /* a WATCHed key changed: EXEC fails */
#define SESS_IN_EXEC           (1u << 10) /* running EXEC's queue: nothing blocks */
#define SESS_SCRIPT            (1u << 11) /* the session of a running Lua script */
/* CLIENT ID of the session that replays the append-only log at load
 * (broker/server/loop.c): handlers accept from it what only the log writes
 * (Redis's mustObeyClient), e.g. XADD MAXLEN = n LIMIT m. */
#define CMD_SESS_LOADER_ID UINT64_MAX

/* Keyspace notification classes (notify-keyspace-events letters), with
 * Redis's values: cmd_notify() takes one class per event. */
#define NOTIFY_KEYSPACE (1 << 0)  /* K: publish on __keyspace@<db>__:<key> */
#define NOTIFY_KEYEVENT (1 << 1)  /* E: publish on __keyevent@<db>__:<event> */
#define NOTIFY_GENERIC  (1 << 2)  /* g: del, expire, rename, ... */
#define NOTIFY_STRING   (1 << 3)  /* $ */
#define NOTIFY_LIST     (1 << 4)  /* l */
#define NOTIFY_SET      (1 << 5)  /* s */
#define NOTIFY_HASH     (1 << 6)  /* h */
#define NOTIFY_ZSET     (1 << 7)  /* z */
#define NOTIFY_EXPIRED  (1 << 8)  /* x */
#define NOTIFY_EVICTED  (1 << 9)  /* e */
#define NOTIFY_STREAM   (1 << 10) /* t */
#define NOTIFY_KEY_MISS (1 << 11) /* m: read of a missing key (not in A) */
#define NOTIFY_MODULE   (1 << 13) /* d */
#define NOTIFY_NEW      (1 << 14) /* n: key created (not in A) */
#define NOTIFY_KEYMISS  NOTIFY_KEY_MISS
#define NOTIFY_ALL                                                                                 \
    (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET |       \
     NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE) /* A */

/* Per-caller state, owned by the transport (a RESP client, a gateway
 * session); handlers read and change it. */
typedef struct cmd_session {
    uint64_t id;       /* CLIENT ID, unique for the process lifetime */
    int db;            /* selected database */
    int resp;          /* protocol: 2 or 3 */
    int authed;        /* 1 once AUTH succeeded or no password is set */
    char *name;        /* CLIENT SETNAME, owned, NULL when unset */
    char lib_name[64]; /* reserved for CLIENT SETINFO */
    uint32_t flags;    /* SESS_* */
    struct cmd_tx *tx; /* MULTI queue and WATCHed keys (multi.c), NULL when none */
    int gateway;       /* 1 for a gateway session (server/bridge.c), 0 for a RESP client */
} cmd_session;

typedef struct cmd_tx cmd_tx;
struct cmd_def;
struct cmd_host;
struct pubsub;

/* One key specification, as COMMAND INFO reports it (Redis 7 key specs):
 * begin_search by index or keyword, find_keys by range. */
typedef struct cmd_keyspec {
    const char *flags;   /* space-separated, e.g. "RW ACCESS UPDATE"; NULL ends */
    int begin;           /* begin_search index */
    int lastkey;         /* find_keys lastkey: 0 one key, -1 to the last arg */
    int keystep;         /* find_keys keystep */
    int limit;           /* find_keys limit */
    const char *notes;   /* COMMAND INFO "notes", or NULL */
    const char *keyword; /* begin_search by keyword (XREAD "STREAMS"), or NULL */
    int startfrom;       /* keyword search starts here (negative: from the end) */
} cmd_keyspec;

typedef struct cmd_ctx {
    int argc;                    /* argument count, argv[0] is the name */
    const resp_arg *argv;        /* arguments, borrowed for the call */
    ks_space *ks;                /* all databases */
    ks_db *db;                   /* the session's selected database */
    reply *r;                    /* where the reply goes */
    cmd_session *sess;           /* the caller */
    int64_t now_ms;              /* command time, ms since epoch (cached) */
    const struct cmd_def *cmd;   /* the command being run (subcommand) */
    const struct cmd_host *host; /* server services */
    long long dirty;             /* changes made, added to by handlers */
    int propagated;              /* 1 once the handler called cmd_propagate */
} cmd_ctx;

typedef void (*cmd_fn)(cmd_ctx *c);

typedef struct cmd_def {
    const char *name;           /* lowercase; "get", or "get" under "config" */
    cmd_fn fn;                  /* NULL for a container of subcommands */
    int arity;                  /* >0 exact, <0 at least -arity */
    uint32_t flags;             /* CMD_* */
    uint64_t acl;               /* ACL_* beyond those implied by flags */
    int first_key;              /* 0 when no keys */
    int last_key;               /* -1 for the last argument */
    int key_step;               /* distance between keys */
    const char *summary;        /* COMMAND DOCS */
    const char *since;          /* first Redis version with it */
    const char *group;          /* COMMAND DOCS group */
    const char *complexity;     /* COMMAND DOCS complexity */
    const struct cmd_def *subs; /* subcommands, NULL-name terminated */
    /* COMMAND INFO key specs; when keyspecs[0].flags is NULL one spec is
     * derived from first_key/last_key/key_step and the flags. */
    cmd_keyspec keyspecs[3];
    const char *tips;             /* space-separated command tips, or NULL */
    const struct cmd_def *parent; /* set at start for subcommands */
    /* Statistics (commandstats), kept by the dispatcher. */
    unsigned long long calls;    /* times run */
    unsigned long long usec;     /* total run time */
    unsigned long long rejected; /* rejected before running */
    unsigned long long failed;   /* ran and replied an error */
} cmd_def;

/* Server services a handler may use (filled by broker/server). */
typedef struct cmd_host {
    /* CONFIG/INFO/CLIENT and friends that need the server's view. */
    void (*info)(cmd_ctx *c, int argc, const resp_arg *sections);
    void (*client)(cmd_ctx *c); /* the CLIENT command */
    void (*shutdown)(cmd_ctx *c, int save, int nosave, int now, int force, int abort);
    void (*monitor)(cmd_ctx *c); /* turn the caller into a monitor */
    void (*reset)(cmd_ctx *c);   /* RESET the caller's connection */
    void (*stats_reset)(void);
    void (*slowlog)(cmd_ctx *c);
    /* Blocks the caller on the keys at argv[keys[i]] until one of them
     * changes, then runs argv (owned copy made here; pass the command with
     * "$"-like arguments already resolved) again for it; deadline_ms is
     * absolute, 0 for none. On timeout the caller gets a null array
     * (null_bulk 0) or a null bulk (1). Returns 0 when blocked (the handler
     * writes no reply), or -1 when the caller cannot block (a script, a
     * transaction): the handler then replies as on timeout. Called again
     * while the command re-runs for a still-blocked caller, it keeps it
     * blocked with its original deadline. */
    int (*block)(cmd_ctx *c, int argc, const resp_arg *argv, const int *keys, int nkeys,
                 int64_t deadline_ms, int null_bulk);
    long long (*lastsave)(void);
    /* EXEC: runs the caller's queued commands through the dispatcher. */
    void (*exec)(cmd_ctx *c);
    /* Records one write, as a command to replay, in database dbid (the
     * append-only log; later replication). NULL when nothing records. */
    void (*propagate)(int dbid, int argc, const resp_arg *argv);
    /* Scripts (broker/script, served by broker/server/scriptrun.c).
     * script_call runs one command of a script as session s (a copy of the
     * caller's, so it never blocks) through the dispatcher, its reply into
     * r. script_begin/script_end bracket a run: the writes in between are
     * recorded at the end as MULTI ... EXEC (not inside EXEC). script_yield is
     * called while a script runs past busy-reply-threshold: it serves
     * other clients (BUSY to all but CMD_ALLOW_BUSY commands); returns 0,
     * 1 when the script must stop at once (SHUTDOWN NOSAVE), or 2 when it
     * should stop unless it wrote (a shutdown signal, served after it). */
    void (*script_call)(cmd_session *s, reply *r, int argc, const resp_arg *argv);
    void (*script_begin)(cmd_ctx *c);
    void (*script_end)(cmd_ctx *c);
    int (*script_yield)(cmd_ctx *c, int is_eval);
    /* Feeds c's command to MONITOR clients now: EVAL and FCALL are shown
     * before they run (and before their own commands), as in Redis. */
    void (*script_monitor)(cmd_ctx *c);
    /* Writes msg to the server log at a loglevel (CONFIG_LL_*): redis.log. */
    void (*log)(int level, const char *msg);
    struct pubsub *pubsub; /* channel indexes (broker/pubsub), owned by the server */
    /* Taps for the gateways (server/bridge.c); NULL when none. PUBLISH
     * (sharded 0) and SPUBLISH (1) call published after their subscribers
     * were served; XADD calls entry_added after a successful append with
     * the new ID and the nfields field/value arguments. */
    void (*published)(int sharded, const void *channel, size_t clen, const void *msg, size_t mlen);
    void (*entry_added)(cmd_ctx *c, const void *key, size_t klen, uint64_t ms, uint64_t seq,
                        int nfields, const resp_arg *fields);
} cmd_host;

/* The command table. cmd_table_init() builds the lookup index once. */
void cmd_table_init(void);
void cmd_table_fini(void);
/* Finds a top-level command by name, any case. Borrowed or NULL. O(len). */
cmd_def *cmd_lookup(const char *name, size_t len);
/* Finds a subcommand of parent, any case. */
cmd_def *cmd_lookup_sub(const cmd_def *parent, const char *name, size_t len);
/* Iterates top-level commands: returns the i-th or NULL past the end. */
cmd_def *cmd_at(size_t i);
size_t cmd_count(void);
/* "config|get" style full name into buf, returns buf. */
const char *cmd_fullname(const cmd_def *d, char *buf, size_t cap);

/* Handler helpers shared by all families. */
/* Replies the standard errors; return -1 so handlers can `return`. */
int cmd_reply_syntax(cmd_ctx *c); /* ERR syntax error */
int cmd_reply_wrongtype(cmd_ctx *c);
/* Parses argv[i] as a strict integer; on failure replies "ERR value is not
 * an integer or out of range" and returns -1. */
int cmd_get_ll_or_reply(cmd_ctx *c, int i, long long *out, const char *msg);
/* Parses a blocking timeout in seconds (a float) at argv[i] into *ms, 0 for
 * forever, with Redis's three errors ("not a float or out of range",
 * "is negative", "is out of range"). Returns 0, or -1 after replying. */
int cmd_get_timeout_or_reply(cmd_ctx *c, int i, long long *ms);
/* 1 when argv[i], up to a NUL byte, equals s ignoring case (Redis's
 * strcasecmp on option names). */
int cmd_arg_is(const cmd_ctx *c, int i, const char *s);
/* 1 when a is a valid CLIENT SETNAME / HELLO SETNAME name. */
int cmd_client_name_ok(const resp_arg *a);
/* Lookup helpers on the caller's database. */
ks_obj *cmd_lookup_read(cmd_ctx *c, int i);
ks_obj *cmd_lookup_write(cmd_ctx *c, int i);
/* Marks a key as changed (WATCH, notifications, persistence hook). */
void cmd_key_changed(cmd_ctx *c, const void *key, size_t len);

/*
 * Propagation: what a write is recorded as for replay (append-only log,
 * later replication). When a handler returns with c->dirty > 0 and never
 * called cmd_propagate, the dispatcher records its argv unchanged. A
 * handler whose argv would not replay to the same state (XADD *, SET EX,
 * SPOP, blocking pops, XREADGROUP, ...) calls cmd_propagate once per
 * command to record instead, in order (argv is copied; nothing is recorded
 * beyond those). cmd_propagate with argc 0 records nothing but still
 * suppresses the default. Commands run in c->db.
 */
void cmd_propagate(cmd_ctx *c, int argc, const resp_arg *argv);

/* Propagation helpers (prop.c). cmd_prop_args builds one command on the
 * stack: literals and client arguments are borrowed, numbers and stream IDs
 * ("ms-seq") are formatted into it. cmd_prop_batch collects commands (copied)
 * and cmd_prop_batch_flush records them all, wrapped in MULTI/EXEC when
 * there are several and the caller is not already inside EXEC (Redis 7.0);
 * flushing an empty batch records nothing and suppresses the default. */
#define CMD_PROP_MAXARGS 16
typedef struct cmd_prop_args {
    int argc;                        /* arguments so far */
    resp_arg argv[CMD_PROP_MAXARGS]; /* borrowed or pointing into num */
    char num[CMD_PROP_MAXARGS][48];  /* formatted numbers, by position */
} cmd_prop_args;
typedef struct cmd_prop_batch {
    char *buf;  /* owned: per command argc then (len, bytes) per argument */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    long count; /* commands collected */
} cmd_prop_batch;
void cmd_prop_args_init(cmd_prop_args *a);
void cmd_prop_lit(cmd_prop_args *a, const char *s);
void cmd_prop_arg(cmd_prop_args *a, const resp_arg *arg);
void cmd_prop_ll(cmd_prop_args *a, long long v);
void cmd_prop_id(cmd_prop_args *a, uint64_t ms, uint64_t seq);
/* cmd_propagate(c, a->argc, a->argv). */
void cmd_prop_emit(cmd_ctx *c, const cmd_prop_args *a);
void cmd_prop_batch_init(cmd_prop_batch *b);
void cmd_prop_batch_add(cmd_prop_batch *b, const cmd_prop_args *a); /* O(bytes) */
void cmd_prop_batch_flush(cmd_ctx *c, cmd_prop_batch *b);           /* records, then empties */
void cmd_prop_batch_fini(cmd_prop_batch *b);                        /* drops without recording */

/* Transactions (multi.c). The dispatcher queues a command of a session in
 * MULTI with cmd_tx_queue (copied) and EXEC reads them back in order. */
void cmd_tx_queue(cmd_session *s, int argc, const resp_arg *argv);
int cmd_tx_count(const cmd_session *s);
const resp_arg *cmd_tx_at(const cmd_session *s, int i, int *argc);
/* Leaves MULTI: drops the queue and every WATCHed key. */
void cmd_tx_discard(cmd_session *s);
/* Frees all transaction state of a session that goes away. */
void cmd_tx_free(cmd_session *s);
/* A key changed: every session WATCHing (db, key) fails its EXEC. O(1). */
void cmd_watch_touch(int db, const void *key, size_t len);
/* Before FLUSHDB/FLUSHALL (other NULL) or SWAPDB of db with other: touches
 * the WATCHed keys of db that exist in db or other. O(watched keys). */
void cmd_watch_touch_db(ks_db *db, ks_db *other, int64_t now_ms);
/* 1 when a key s WATCHes expired since it was watched. O(watched keys). */
int cmd_watch_expired(const cmd_session *s, ks_space *ks, int64_t now_ms);

/* Keyspace notifications (notify.c). cmd_notify() publishes event for key
 * in the caller's database, as Redis's notifyKeyspaceEvent: nothing unless
 * notify-keyspace-events selects type (one NOTIFY_* class) and K or E.
 * Call it after the change, in Redis's order of events. O(subscribers +
 * patterns) when enabled, one test otherwise. */
void cmd_notify(cmd_ctx *c, int type, const char *event, const void *key, size_t len);
/* The same without a command context (expiry, key creation hooks): on hub
 * ps, for database dbid. */
void cmd_notify_db(struct pubsub *ps, int dbid, int type, const char *event, const void *key,
                   size_t len);

#endif /* BROKER_COMMANDS_CMD_H */
