/*
 * broker/server: process-wide state of the core thread.
 *
 * One `server` instance owns the libuv loop, the listeners, the list of
 * connected clients, the keyspace and the statistics INFO reports. Only the
 * core thread touches it. Files inside server/ share internals through this
 * header; command handlers never include it (they see cmd_host).
 */
#ifndef BROKER_SERVER_SERVER_H
#define BROKER_SERVER_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "broker/commands/cmd.h"
#include "broker/keyspace/db.h"
#include "broker/pubsub/pubsub.h"
#include "broker/reply/reply.h"
#include "protocols/resp/resp.h"

#define RUNNEL_VERSION "0.1.0"
/* The Redis version whose behaviour Runnel answers for (INFO, HELLO). */
#define RUNNEL_REDIS_COMPAT "7.0.15"

typedef struct client client;

/* One TCP client. Owned by the server's client list. */
struct client {
    uv_tcp_t tcp;                   /* the socket; tcp.data points here */
    cmd_session sess;               /* caller state handlers see */
    char *qbuf;                     /* query buffer, owned */
    size_t qlen;                    /* bytes in qbuf */
    size_t qcap;                    /* bytes allocated for qbuf */
    size_t qpos;                    /* first unconsumed byte in qbuf */
    resp_parser parser;             /* progress of the current command */
    reply out;                      /* replies not yet handed to the socket, after segs */
    pubsub_buf **segs;              /* output queue sent before out: ring of owned refs */
    uint32_t seg_cap;               /* slots in segs, a power of two (0: none) */
    uint32_t seg_head;              /* slot of the oldest segment */
    uint32_t seg_count;             /* segments queued */
    size_t seg_off;                 /* bytes of the oldest segment already written */
    size_t seg_bytes;               /* bytes queued in segs and not yet written */
    size_t inflight;                /* bytes of segs in the uv_write in flight */
    uv_write_t wreq;                /* the in-flight write, when writing */
    int writing;                    /* 1 while wreq is in flight */
    int closing;                    /* 1 once uv_close was called */
    int close_asap;                 /* over an output buffer limit: closed at next flush */
    int64_t obuf_soft_since;        /* unix s the soft limit was first seen reached, 0 none */
    int paused;                     /* 1 while CLIENT PAUSE holds its command */
    int pending;                    /* 1 while in the server's flush list */
    int64_t ctime_ms;               /* connection time */
    int64_t last_ms;                /* last interaction */
    char addr[64];                  /* peer "ip:port" */
    char laddr[64];                 /* local "ip:port" */
    int fd;                         /* socket fd, for CLIENT LIST */
    const cmd_def *last_cmd;        /* for CLIENT LIST cmd= */
    unsigned long long tot_net_in;  /* bytes read */
    unsigned long long tot_net_out; /* bytes written */
    unsigned long long tot_cmds;    /* commands run */
    struct blocked_state *blocked;  /* non-NULL while in a blocking command, owned */
    client *prev, *next;            /* server client list */
    client *pnext;                  /* flush list link */
};

/* One gateway session on the core side (bridge.c): a caller like a RESP
 * client, whose requests come through the bridge inbox and whose replies
 * and pushes go back to its gateway. Owned by the bridge. */
typedef struct bridge_sess bridge_sess;
struct bridge_sess {
    cmd_session sess;                  /* caller state handlers see (sess.gateway = 1) */
    reply out;                         /* reply of the command running or blocked */
    int gw;                            /* gateway id (bridge_register) */
    uint64_t local;                    /* the gateway's own id for the session */
    uint64_t tag;                      /* tag of the request running or blocked */
    struct bridge_item *qhead, *qtail; /* requests waiting their turn, owned */
    struct bridge_acct *acct;          /* bytes delivered, not yet freed by the gateway */
    struct blocked_state *blocked;     /* non-NULL while in a blocking command, owned */
    int close_asap;                    /* killed or over a limit: closed at the next drain */
    const char *close_reason;          /* BRIDGE_CLOSE text for close_asap (static) */
    int woken;                         /* 1 while in the bridge's wake list */
    int64_t obuf_soft_since;           /* unix s the soft limit was first reached, 0 none */
    int64_t ctime_ms;                  /* open time */
    int64_t last_ms;                   /* last command */
    const cmd_def *last_cmd;           /* for CLIENT LIST cmd= */
    unsigned long long tot_cmds;       /* commands run */
    char addr[64];                     /* peer, as the gateway described it */
    bridge_sess *prev, *next;          /* the bridge's session list */
    bridge_sess *wnext;                /* wake list link */
};

/* A SLOWLOG entry. */
typedef struct slowlog_entry {
    long long id;       /* increasing id */
    long long time;     /* unix seconds */
    long long duration; /* microseconds */
    int argc;           /* arguments kept (at most 32) */
    char **argv;        /* copies, each at most 128 bytes + note */
    size_t *argl;       /* lengths */
    char *peer;         /* client address */
    char *name;         /* client name or "" */
} slowlog_entry;

typedef struct server {
    uv_loop_t *loop;         /* the core loop */
    uv_tcp_t **listeners;    /* one per bind address, each owned */
    int nlisteners;          /* entries in listeners */
    uv_timer_t cron;         /* runs hz times a second */
    uv_prepare_t flush;      /* writes replies before the loop sleeps */
    uv_signal_t sigterm;     /* graceful shutdown */
    uv_signal_t sigint;      /* graceful shutdown */
    uv_timer_t unpause;      /* ends CLIENT PAUSE */
    ks_space ks;             /* the databases */
    cmd_host host;           /* services handed to handlers */
    client *clients;         /* all connected clients */
    client *flush_list;      /* clients with replies to write */
    unsigned long nclients;  /* connected clients */
    uint64_t next_client_id; /* CLIENT ID source */
    int shutting_down;       /* 1 once shutdown started */
    int exit_code;           /* process exit status */
    int64_t start_ms;        /* start time */
    int64_t pause_end_ms;    /* CLIENT PAUSE deadline, 0 when not paused */
    int pause_all;           /* 1 = ALL, 0 = WRITE */
    int64_t lastsave;        /* unix seconds of last save (start) */
    long long dirty;         /* keyspace changes since start (persistence) */
    cmd_session *loader;     /* the replaying session while loading, else NULL */
    /* Statistics (INFO stats), reset by CONFIG RESETSTAT. */
    unsigned long long stat_conns;    /* total_connections_received */
    unsigned long long stat_cmds;     /* total_commands_processed */
    unsigned long long stat_rejected; /* rejected_connections */
    unsigned long long stat_net_in;   /* total_net_input_bytes */
    unsigned long long stat_net_out;  /* total_net_output_bytes */
    unsigned long long stat_errors;   /* total_error_replies */
    ks_dict *errorstats;              /* error code -> count (s64) */
    /* SLOWLOG. */
    slowlog_entry *slowlog;    /* ring of entries, newest last */
    size_t slowlog_len;        /* entries used */
    long long slowlog_next_id; /* id of the next entry */
    /* MONITOR. */
    unsigned long nmonitors; /* clients in monitor mode */
    /* Blocking. */
    ks_dict *clients_by_id; /* 8-byte id -> client *, borrowed */
    unsigned long nblocked; /* clients in a blocking command */
    int serving_blocked;    /* 1 while ready keys are being served */
    /* Pub/sub. */
    pubsub *pubsub; /* channel and pattern indexes, owned */
} server;

extern server srv;

/* Time. */
int64_t server_now_ms(void);
long long server_ustime(void);

/* Logging at a loglevel (CONFIG_LL_*), Redis format. */
void server_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* client.c */
void client__accept(uv_stream_t *listener, int status);
void client__free_async(client *c);
void client__queue_flush(client *c);
void client__flush_all(void);
void client__process(client *c);
void client__info_line(client *c, char *buf, size_t cap);
void client__cmd(cmd_ctx *ctx);
void client__resume_paused(void);
void client__close_idle(int64_t now_ms);
void client__monitor_feed(const cmd_session *from, const char *addr, int argc,
                          const resp_arg *argv);
void client__monitor(cmd_ctx *ctx);
void client__reset(cmd_ctx *ctx);
void client__close_all(void);
void client__deliver(void *priv, uint64_t id, void *data, pubsub_msg *m);
void client__cron(int64_t now_ms);
size_t client__recent_max_obuf(int64_t now_ms);

/* dispatch.c */
void dispatch__call(client *cl, cmd_session *sess, reply *r, int argc, const resp_arg *argv);
void dispatch__slowlog_cmd(cmd_ctx *c);
void dispatch__exec(cmd_ctx *c);
void dispatch__reset_stats(void);
void dispatch__slowlog_free(void);

/* blocked.c */
int blocked__block(cmd_ctx *c, int argc, const resp_arg *argv, const int *keys, int nkeys,
                   int64_t deadline_ms, int null_bulk);
void blocked__serve_ready(void);
void blocked__unblock(client *cl, int how);
/* Unblocks caller id (a RESP client or a gateway session); returns 1 when
 * it was blocked, else 0. */
int blocked__unblock_id(uint64_t id, int how);
/* The waiting state of a gateway session going away (no reply). */
void blocked__unblock_sess(bridge_sess *s, int how);
client *blocked__client_by_id(uint64_t id);
#define BLOCKED_SERVED  0 /* the command ran again and replied */
#define BLOCKED_TIMEOUT 1 /* the deadline passed: null reply */
#define BLOCKED_ERROR   2 /* CLIENT UNBLOCK ... ERROR */
#define BLOCKED_GONE    3 /* the client disconnected: no reply */

/* bridge.c: the core side of protocols/bridge.h. */
struct bridge *bridge__init(void); /* on the loop, before gateways start */
void bridge__flush(void);          /* hands queued messages to gateways (before sleep) */
void bridge__shutdown(void);       /* closes every session (1001 "shutdown"), refuses more */
void bridge__fini(void);           /* after the loop closed: frees what is left */
bridge_sess *bridge__sess_by_id(uint64_t id);
bridge_sess *bridge__first(void); /* session list, newest first, for CLIENT LIST */
unsigned long bridge__count(void);
void bridge__info_line(bridge_sess *s, char *buf, size_t cap);
/* A blocked command of s finished (reply in s->out): deliver and go on. */
void bridge__unblocked(bridge_sess *s);
/* CLIENT KILL: s is closed (BRIDGE_CLOSE 1008 "killed") after the command
 * running now, if any. */
void bridge__kill(bridge_sess *s);
const char *bridge__gw_name(const bridge_sess *s); /* its CLIENT LIST laddr */
void bridge__deliver(cmd_session *sess, pubsub_msg *m);
void bridge__published(int sharded, const void *channel, size_t clen, const void *msg, size_t mlen);
void bridge__entry_added(cmd_ctx *c, const void *key, size_t klen, uint64_t ms, uint64_t seq,
                         int nfields, const resp_arg *fields);
/* Gateway INFO sections: all of them (name NULL), or the one named. */
size_t bridge__info(const char *name, size_t len, char *buf, size_t cap);
int bridge__has_section(const char *name, size_t len);
/* Sets which stream keys reach gateway gw's on_entry: a glob, "" none,
 * NULL all (the default). */
void bridge__entry_filter(int gw, const char *glob);

/* scriptrun.c: the cmd_host side of scripts (broker/script). */
void scriptrun__call(cmd_session *s, reply *r, int argc, const resp_arg *argv);
void scriptrun__begin(cmd_ctx *c);
void scriptrun__end(cmd_ctx *c);
int scriptrun__yield(cmd_ctx *c, int is_eval);
void scriptrun__log(int level, const char *msg);
void scriptrun__monitor(cmd_ctx *c);
/* 1 while a script past busy-reply-threshold lets others be served: the
 * dispatcher then answers BUSY to all but CMD_ALLOW_BUSY commands. */
int scriptrun__busy(void);

/* info.c */
void info__cmd(cmd_ctx *c, int argc, const resp_arg *sections);

/* loop.c */
int loop__listen(void);
void loop__close_listeners(void);
void loop__shutdown(void);
int loop__config_apply(const char *name, const char **err);
int loop_run(void);

#endif /* BROKER_SERVER_SERVER_H */
