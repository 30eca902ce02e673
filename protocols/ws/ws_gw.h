/*
 * protocols/ws/ws_gw: the WebSocket gateway. Browsers (and any WebSocket
 * client) reach Runnel on ws-port:
 *
 *   /ws        subprotocol runnel.json (default): JSON requests, replies
 *              and pushes (ws_json.h), live stream tails and consumer
 *              groups with credit; subprotocol resp3: one RESP command per
 *              message, RESP3 replies and pushes as binary messages
 *   /          the dashboard (files embedded at build time)
 *   /metrics   Prometheus text format, gathered through the bridge
 *   /healthz   liveness
 *
 * Runs libwebsockets (its default poll loop) on its own thread and reaches
 * the core only through the bridge (protocols/bridge.h); it includes no
 * broker header. Every browser connection owns one bridge session, plus
 * one per live tail (reads history, then takes entries from the core's
 * on_entry tap) or group consumer (blocks in XREADGROUP).
 */
#ifndef PROTOCOLS_WS_WS_GW_H
#define PROTOCOLS_WS_WS_GW_H

#include <stddef.h>
#include <stdint.h>

#include "protocols/bridge.h"

typedef struct ws_gw ws_gw; /* one gateway: its lws context, thread and sessions */

typedef struct ws_options {
    const char *bind;            /* listen address, NULL or "" = every interface */
    int port;                    /* TCP port (> 0) */
    const char *allowed_origins; /* space/comma separated origins, "*" any, ""/NULL same host */
    uint64_t max_message;        /* largest message received, bytes (close 1009 above) */
    /* Called (on the gateway thread) to log a warning, or NULL. */
    void (*log)(const char *msg);
} ws_options;

/*
 * Registers the gateway "ws" with the bridge b, listens and starts the
 * gateway thread (signals blocked on it). Call on the core thread once
 * the bridge is ready. Returns the gateway, or NULL with a message in err
 * (the port cannot be bound, no memory); nothing is left running then.
 */
ws_gw *ws_start(bridge *b, const ws_options *o, char *err, size_t errlen);

/* The gateway id bridge_register gave it. */
int ws_bridge_id(const ws_gw *g);

/* The port it listens on (useful with port 0 in tests). */
int ws_port(const ws_gw *g);

/*
 * Sends what is queued (the 1001 closes bridge shutdown delivered) and
 * closes every connection, waiting at most about two seconds, then stops
 * the thread and frees g. Core thread, after the bridge stopped
 * delivering; NULL is a no-op.
 */
void ws_stop(ws_gw *g);

#endif /* PROTOCOLS_WS_WS_GW_H */
