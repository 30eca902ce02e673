/*
 * broker/server/loop: libuv glue for the core thread: listeners, the cron
 * timer, signals, the before-sleep flush, and graceful shutdown.
 *
 * The prepare handle runs once per loop iteration just before libuv blocks
 * for I/O: that is where replies are written (Redis's beforeSleep). The
 * cron timer runs hz times a second for active expiry, idle-client
 * timeouts and incremental rehashing.
 */
#include "broker/server/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/config/config.h"
#include "broker/persist/aof.h"
#include "broker/util/mem.h"
#include "protocols/bridge.h"
#ifdef RUNNEL_WITH_NNG
#include "protocols/nng/nng_gw.h"
#endif
#ifdef RUNNEL_WITH_WS
#include "protocols/ws/ws_gw.h"
#endif

#include <stdarg.h>
#include <sys/time.h>
#include <time.h>

server srv;

int64_t
server_now_ms(void)
{
    return server_ustime() / 1000;
}

long long
server_ustime(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

void
server_log(int level, const char *fmt, ...)
{
    static const char marks[] = ".-*#";
    char msg[1024], when[64];
    struct timeval tv;
    struct tm tm;
    FILE *f;
    va_list ap;
    if (level < config.loglevel)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(when, sizeof(when), "%d %b %Y %H:%M:%S", &tm);
    f = config.logfile && config.logfile[0] ? fopen(config.logfile, "a") : stdout;
    if (f == NULL)
        return;
    fprintf(f, "%d:M %s.%03d %c %s\n", (int)getpid(), when, (int)(tv.tv_usec / 1000), marks[level],
            msg);
    if (f != stdout)
        fclose(f);
    else
        fflush(f);
}

static void
loop_listener_closed(uv_handle_t *h)
{
    util_free(h);
}

void
loop__close_listeners(void)
{
    for (int i = 0; i < srv.nlisteners; i++)
        uv_close((uv_handle_t *)srv.listeners[i], loop_listener_closed);
    util_free(srv.listeners);
    srv.listeners = NULL;
    srv.nlisteners = 0;
}

/* Replaces the listeners with one per address in config.bind on
 * config.port. Returns 0, or -1 after logging why (CONFIG SET then rolls
 * back and calls it again). Each handle is freed in its close callback,
 * so this is safe from inside a loop callback. */
int
loop__listen(void)
{
    char **addrs;
    int n = config_split_args(config.bind, &addrs);
    uv_tcp_t **ls;
    int opened = 0;
    if (n < 0)
        return -1;
    if (config.port == 0 || n == 0) {
        config_free_args(addrs, n);
        loop__close_listeners();
        return 0;
    }
    /* Close first, as Redis does: the new set may reuse an address. A
     * failure leaves nothing listening and the caller restores the old
     * configuration, which listens again. */
    loop__close_listeners();
    ls = util_calloc((size_t)n, sizeof(*ls));
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage sa;
        const char *a = addrs[i];
        int optional = a[0] == '-', rc, v6;
        uv_tcp_t *t;
        if (optional)
            a++;
        if (strcmp(a, "*") == 0)
            a = "0.0.0.0";
        v6 = strchr(a, ':') != NULL;
        if (v6)
            rc = uv_ip6_addr(strcmp(a, "::*") == 0 ? "::" : a, (int)config.port,
                             (struct sockaddr_in6 *)&sa);
        else
            rc = uv_ip4_addr(a, (int)config.port, (struct sockaddr_in *)&sa);
        t = util_calloc(1, sizeof(*t));
        uv_tcp_init(srv.loop, t);
        if (rc == 0)
            rc = uv_tcp_bind(t, (struct sockaddr *)&sa, v6 ? UV_TCP_IPV6ONLY : 0);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)t, (int)config.tcp_backlog, client__accept);
        if (rc != 0) {
            uv_close((uv_handle_t *)t, loop_listener_closed);
            if (optional)
                continue;
            server_log(CONFIG_LL_WARNING,
                       "Warning: Could not create server TCP listening socket %s:%lld: %s", a,
                       config.port, uv_strerror(rc));
            for (int k = 0; k < opened; k++)
                uv_close((uv_handle_t *)ls[k], loop_listener_closed);
            config_free_args(addrs, n);
            util_free(ls);
            return -1;
        }
        ls[opened++] = t;
    }
    config_free_args(addrs, n);
    srv.listeners = ls;
    srv.nlisteners = opened;
    return 0;
}

static void
loop_cron(uv_timer_t *t)
{
    int64_t now = server_now_ms();
    long long hz = config.hz < 1 ? 1 : config.hz > 500 ? 500 : config.hz;
    (void)t;
    if (aof_loading())
        return;
    ks_clock_sec = (uint32_t)(now / 1000);
    /* Active expiry gets a quarter of each tick, as Redis's slow cycle. */
    ks_active_expire(&srv.ks, now, 1000000 / hz / 4);
    /* Keys that expired may release blocked commands. */
    if (srv.ks.blocking.nready)
        blocked__serve_ready();
    ks_cron(&srv.ks, 1);
    client__close_idle(now);
    client__cron(now);
    if (srv.pause_end_ms && now >= srv.pause_end_ms) {
        srv.pause_end_ms = 0;
        client__resume_paused();
    }
    aof_cron(now);
    if ((uint64_t)(1000 / hz) != uv_timer_get_repeat(&srv.cron))
        uv_timer_set_repeat(&srv.cron, (uint64_t)(1000 / hz));
}

static void
loop_flush(uv_prepare_t *p)
{
    (void)p;
    /* The log is written (and with appendfsync always, synced) before any
     * reply of this iteration leaves. */
    aof_before_sleep();
    client__flush_all();
    bridge__flush();
}

#ifdef RUNNEL_WITH_NNG
static nngt *loop_nng; /* the nng gateway, NULL when every endpoint is off */

/* Warnings of the nng gateway (already rate-limited, any thread). */
static void
loop_nng_log(const char *msg)
{
    server_log(CONFIG_LL_WARNING, "%s", msg);
}
#endif

#ifdef RUNNEL_WITH_WS
static ws_gw *loop_ws; /* the WebSocket gateway, NULL when ws-port is 0 */

/* Warnings of the WebSocket gateway (its thread). */
static void
loop_ws_log(const char *msg)
{
    server_log(CONFIG_LL_WARNING, "%s", msg);
}
#endif

/* Starts the gateways on their own threads (after the listeners, before
 * loading: they get -LOADING meanwhile, as clients do). Returns 0, or -1
 * after logging why. */
static int
loop_gateways_start(void)
{
    bridge *b = bridge__init();
    (void)b;
#ifdef RUNNEL_WITH_NNG
    if (config.nng_rep_url[0] || config.nng_pub_url[0] || config.nng_pull_url[0]) {
        nngt_options o = {.rep_url = config.nng_rep_url,
                          .pub_url = config.nng_pub_url,
                          .pull_url = config.nng_pull_url,
                          .contexts = (int)config.nng_rep_contexts,
                          .log = loop_nng_log};
        char err[256];
        loop_nng = nngt_start(b, &o, err, sizeof(err));
        if (loop_nng == NULL) {
            /* The RESP port serves on; the gateway is an add-on. */
            server_log(CONFIG_LL_WARNING, "Warning: the nng gateway is off: %s", err);
            return 0;
        }
        bridge__entry_filter(nngt_bridge_id(loop_nng), config.nng_pub_streams);
        server_log(CONFIG_LL_NOTICE, "nng gateway: rep %s, pub %s, pull %s",
                   config.nng_rep_url[0] ? config.nng_rep_url : "off",
                   config.nng_pub_url[0] ? config.nng_pub_url : "off",
                   config.nng_pull_url[0] ? config.nng_pull_url : "off");
    }
#endif
#ifdef RUNNEL_WITH_WS
    if (config.ws_port > 0) {
        ws_options o = {.bind = config.ws_bind,
                        .port = (int)config.ws_port,
                        .allowed_origins = config.ws_allowed_origins,
                        .max_message = (uint64_t)config.ws_max_message_size,
                        .log = loop_ws_log};
        char err[256];
        loop_ws = ws_start(b, &o, err, sizeof(err));
        if (loop_ws == NULL) {
            server_log(CONFIG_LL_WARNING, "Could not start the WebSocket gateway: %s", err);
            return -1;
        }
        server_log(CONFIG_LL_NOTICE, "WebSocket gateway on %s:%lld", config.ws_bind,
                   config.ws_port);
    }
#endif
    return 0;
}

/* Closes every gateway session, then stops the gateway threads (every
 * nng aio stopped before its socket closes); the bridge's wake-up handle
 * is closed only after, with the rest of the loop's handles. */
static void
loop_gateways_stop(void)
{
    bridge__shutdown();
#ifdef RUNNEL_WITH_NNG
    if (loop_nng) {
        nngt_stop(loop_nng);
        loop_nng = NULL;
    }
#endif
#ifdef RUNNEL_WITH_WS
    /* After nng (ARCHITECTURE.md: nng stops before the lws context goes). */
    if (loop_ws) {
        ws_stop(loop_ws);
        loop_ws = NULL;
    }
#endif
}

static void
loop_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void
loop__shutdown(void)
{
    if (srv.shutting_down)
        return;
    srv.shutting_down = 1;
    server_log(CONFIG_LL_WARNING, "User requested shutdown...");
    if (config.pidfile[0])
        unlink(config.pidfile);
    client__close_all();
    loop_gateways_stop();
    aof_stop();
    loop__close_listeners();
    uv_timer_stop(&srv.cron);
    uv_timer_stop(&srv.unpause);
    uv_prepare_stop(&srv.flush);
    uv_signal_stop(&srv.sigterm);
    uv_signal_stop(&srv.sigint);
    server_log(CONFIG_LL_WARNING, "Runnel is now ready to exit, bye bye...");
    uv_walk(srv.loop, loop_walk_close, NULL);
}

static void
loop_signal(uv_signal_t *s, int signum)
{
    (void)s;
    server_log(CONFIG_LL_WARNING, "Received %s scheduling shutdown...",
               signum == SIGINT ? "SIGINT" : "SIGTERM");
    /* As Redis: save when save points are set; a failed save still exits
     * (no client is waiting for an answer). */
    aof_shutdown(0, 0);
    loop__shutdown();
}

int
loop__config_apply(const char *name, const char **err)
{
    if (strcmp(name, "port") == 0 || strcmp(name, "bind") == 0) {
        if (loop__listen() != 0) {
            *err = strcmp(name, "port") == 0 ? "Unable to listen on this port"
                                             : "Failed to bind to specified addresses.";
            return -1;
        }
    } else if (strcmp(name, "dir") == 0) {
        if (chdir(config.dir) != 0) {
            *err = strerror(errno);
            return -1;
        }
    } else if (strcmp(name, "hz") == 0) {
        /* Redis clamps the stored value itself to 1..500. */
        config.hz = config.hz < 1 ? 1 : config.hz > 500 ? 500 : config.hz;
        uv_timer_set_repeat(&srv.cron, (uint64_t)(1000 / config.hz));
    } else if (strcmp(name, "appendonly") == 0 || strcmp(name, "save") == 0 ||
               strcmp(name, "dbfilename") == 0) {
        return aof_config_changed(name, err);
    }
    return 0;
}

/* Keyspace hooks: the "expired", "new" and "keymiss" notifications. They
 * only publish (no keyspace change), so they are safe wherever the
 * keyspace calls them. */
static void
loop_on_expired(void *priv, ks_db *db, const char *key, size_t len)
{
    resp_arg del[2] = {{"DEL", 3}, {key, len}};
    /* The log records the deletion, so a replay never depends on the
     * clock. */
    aof_feed(db->id, 2, del);
    srv.dirty++;
    cmd_notify_db(priv, db->id, NOTIFY_EXPIRED, "expired", key, len);
    cmd_watch_touch(db->id, key, len);
}

static void
loop_on_new(void *priv, ks_db *db, const char *key, size_t len)
{
    cmd_notify_db(priv, db->id, NOTIFY_NEW, "new", key, len);
}

static void
loop_on_miss(void *priv, ks_db *db, const char *key, size_t len)
{
    cmd_notify_db(priv, db->id, NOTIFY_KEY_MISS, "keymiss", key, len);
}

/* Every client is gone by now, and with them their subscriptions. */
static void
loop_pubsub_fini(void)
{
    srv.ks.on_expired = NULL;
    srv.ks.on_new = NULL;
    srv.ks.on_miss = NULL;
    srv.ks.priv = NULL;
    srv.host.pubsub = NULL;
    pubsub_free(srv.pubsub);
    srv.pubsub = NULL;
}

/* Runs one logged command while loading, with no reply kept. */
static int
loop_replay(void *priv, int argc, const resp_arg *argv)
{
    reply *r = priv;
    unsigned before = r->errors;
    r->len = 0;
    dispatch__call(NULL, srv.loader, r, argc, argv);
    return r->errors != before ? -1 : 0;
}

static cmd_session loop_load_sess = {.id = UINT64_MAX, .resp = 2, .authed = 1}; /* replays */
static reply loop_load_reply; /* replies of replayed commands, dropped */
static int loop_at_start;     /* 1 while loading at start (events may be served) */

/* Serves clients (-LOADING) now and then while loading at start (never
 * from a load a command started: DEBUG LOADAOF). The loading flag keeps
 * the cron and new writes away meanwhile. */
static int
loop_load_progress(void *priv)
{
    static int64_t last;
    int64_t now = server_now_ms();
    (void)priv;
    if (loop_at_start && now - last >= 20) {
        last = now;
        uv_run(srv.loop, UV_RUN_NOWAIT);
    }
    return srv.shutting_down;
}

static void
loop_log(int level, const char *msg)
{
    server_log(level, "%s", msg);
}

/* Loads the data set (listening already) and opens the log. Returns 0, or
 * 1 when the server must exit with status 1. */
static int
loop_load(void)
{
    aof_host h = {.loop = srv.loop,
                  .ks = &srv.ks,
                  .replay = loop_replay,
                  .progress = loop_load_progress,
                  .log = loop_log,
                  .dirty = &srv.dirty,
                  .priv = &loop_load_reply};
    int rc;
    reply_init(&loop_load_reply, 2);
    srv.loader = &loop_load_sess;
    loop_at_start = 1;
    rc = aof_start(&h);
    loop_at_start = 0;
    return rc < 0 ? 1 : 0;
}

int
loop_run(void)
{
    long long hz = config.hz < 1 ? 1 : config.hz > 500 ? 500 : config.hz;
    srv.loop = uv_default_loop();
    srv.pubsub = pubsub_new(client__deliver, NULL);
    srv.host.pubsub = srv.pubsub;
    srv.ks.priv = srv.pubsub;
    srv.ks.on_expired = loop_on_expired;
    srv.ks.on_new = loop_on_new;
    srv.ks.on_miss = loop_on_miss;
    if (loop__listen() != 0) {
        loop_pubsub_fini();
        return 1;
    }
    if (loop_gateways_start() != 0) {
        loop_gateways_stop();
        loop__close_listeners();
        uv_walk(srv.loop, loop_walk_close, NULL);
        uv_run(srv.loop, UV_RUN_DEFAULT);
        uv_loop_close(srv.loop);
        bridge__fini();
        loop_pubsub_fini();
        return 1;
    }
    uv_timer_init(srv.loop, &srv.cron);
    uv_timer_start(&srv.cron, loop_cron, (uint64_t)(1000 / hz), (uint64_t)(1000 / hz));
    uv_timer_init(srv.loop, &srv.unpause);
    uv_prepare_init(srv.loop, &srv.flush);
    uv_prepare_start(&srv.flush, loop_flush);
    uv_signal_init(srv.loop, &srv.sigterm);
    uv_signal_start(&srv.sigterm, loop_signal, SIGTERM);
    uv_signal_init(srv.loop, &srv.sigint);
    uv_signal_start(&srv.sigint, loop_signal, SIGINT);
    if (loop_load() != 0) {
        srv.exit_code = 1;
        loop__shutdown();
    } else if (!srv.shutting_down) {
        server_log(CONFIG_LL_NOTICE, "Ready to accept connections tcp");
    }
    uv_run(srv.loop, UV_RUN_DEFAULT);
    uv_loop_close(srv.loop);
    bridge__fini();
    reply_fini(&loop_load_reply);
    loop_pubsub_fini();
    return srv.exit_code;
}
