/*
 * protocols/ws/ws_int: what the gateway's files share inside protocols/ws.
 *
 *   ws_gw.c       lws callbacks, sessions, tails, consumers, HTTP routes
 *   ws_metrics.c  the /metrics state machine: RESP replies in, commands
 *                 and finally Prometheus text out (no socket, no clock)
 *   ws_assets.c   generated at build time from protocols/ws/dashboard/
 *
 * Not for use outside protocols/ws.
 */
#ifndef PROTOCOLS_WS_WS_INT_H
#define PROTOCOLS_WS_WS_INT_H

#include <stddef.h>
#include <stdint.h>

/* One embedded dashboard file. */
typedef struct ws_asset {
    const char *path;          /* relative to dashboard/, e.g. "app.js" */
    const unsigned char *data; /* its bytes, static */
    size_t len;                /* bytes */
} ws_asset;

extern const ws_asset ws__assets[];  /* every file, then {NULL, NULL, 0} */
extern const size_t ws__asset_count; /* entries before the terminator */

/* Sends one command on the metrics session; returns 0 or a negative errno. */
typedef int (*ws_metrics_submit_fn)(void *arg, int argc, const char *const *argv,
                                    const size_t *lens);

typedef struct ws_metrics ws_metrics; /* one /metrics request in progress */

/* Gateway counters shown in /metrics beside the core's. */
typedef struct ws_metrics_gw {
    uint64_t connections; /* WebSocket connections open */
    uint64_t tails;       /* live tails open */
    uint64_t consumers;   /* group consumers open */
    uint64_t msgs_in;     /* messages received since start */
    uint64_t msgs_out;    /* messages sent since start */
} ws_metrics_gw;

/* A new request state, or NULL out of memory. */
ws_metrics *ws__metrics_new(const ws_metrics_gw *gw, int64_t now_ms);

/* Submits the first command through fn. Returns 0 or fn's error. */
int ws__metrics_start(ws_metrics *m, ws_metrics_submit_fn fn, void *arg);

/*
 * Feeds the reply to the oldest command in flight; may submit more.
 * Returns 1 once the text is complete, 0 while replies are awaited, or a
 * negative errno (a submit failed, a reply did not parse).
 */
int ws__metrics_feed(ws_metrics *m, const char *buf, size_t len, ws_metrics_submit_fn fn,
                     void *arg);

/* The Prometheus text once feed returned 1 (borrowed from m). */
const char *ws__metrics_text(const ws_metrics *m, size_t *len);

/* Frees m; NULL is a no-op. */
void ws__metrics_free(ws_metrics *m);

#endif /* PROTOCOLS_WS_WS_INT_H */
