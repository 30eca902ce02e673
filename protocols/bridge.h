/*
 * protocols/bridge: how a gateway (WebSocket, nng), running on its own
 * thread, reaches the core. Declared here so gateways build and test
 * without the broker; broker/server/bridge.c implements it.
 *
 *   gateway thread                         core thread
 *   bridge_open / submit / close  --->  inbox (mutex + uv_async, drained
 *                                         whole) -> dispatcher, as for a
 *                                         RESP client of the session
 *   ops->deliver(gw, msg)         <---  replies, pushes, closes, in order
 *   ops->on_publish / on_entry    <---  taps: every PUBLISH, stream appends
 *
 * A session is named by the gateway's own 64-bit local id (unique within
 * that gateway); the core gives it a client id of its own (CLIENT ID,
 * CLIENT LIST) and runs its commands exactly as for a RESP client:
 * same ACL/AUTH, same errors, same blocking (XREAD BLOCK waits and its
 * reply comes later), pub/sub pushes. A session starts in RESP3 and
 * authenticated unless requirepass is set. Commands of one session run
 * one at a time in submission order; a blocked command delays the
 * session's next ones, so a gateway that multiplexes uses one session per
 * independent stream of requests.
 *
 * Messages to the gateway carry the session's local id, the tag given
 * with the request (0 for pushes) and the reply or push as RESP bytes in
 * the session's protocol (RESP3 unless it sent HELLO 2).
 */
#ifndef PROTOCOLS_BRIDGE_H
#define PROTOCOLS_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct bridge bridge; /* opaque: one per server, owned by the core */

enum bridge_msg_kind {
    BRIDGE_REPLY = 1, /* the reply to request `tag` */
    BRIDGE_PUSH = 2,  /* an out-of-band push (pub/sub message, ...) */
    BRIDGE_CLOSE = 3, /* the core closed the session: data is the reason
                         ("output buffer limit", "shutdown", "killed");
                         code is a WebSocket close code hint (1001, 1008) */
};

/* One message from the core to a gateway, in one allocation; the gateway
 * owns it after deliver() and frees it with bridge_msg_free(). */
typedef struct bridge_msg {
    struct bridge_msg *next; /* free for the gateway's queue */
    uint64_t session;        /* the gateway's local session id */
    uint64_t tag;            /* request tag for BRIDGE_REPLY, else 0 */
    int kind;                /* enum bridge_msg_kind */
    int code;                /* BRIDGE_CLOSE: close code hint, else 0 */
    size_t len;              /* bytes in data */
    char data[];             /* RESP bytes (REPLY/PUSH), or the reason text */
} bridge_msg;

/* A gateway's callbacks. All are called on the core thread and must not
 * block: queue and wake the gateway's own thread (lws_cancel_service,
 * nng aio, a pipe). Any may be NULL. */
typedef struct bridge_ops {
    /* Takes ownership of msg. Messages of one session arrive in order. */
    void (*deliver)(void *gw, bridge_msg *msg);
    /* Every PUBLISH (sharded 0) and SPUBLISH (sharded 1) the core runs,
     * after its subscribers were served. Bytes are borrowed for the call. */
    void (*on_publish)(void *gw, int sharded, const char *channel, size_t clen, const char *message,
                       size_t mlen);
    /* Every entry appended to a stream (XADD), after the append: the key,
     * the ID as text ("ms-seq") and the field/value pairs as a RESP3 map.
     * Bytes are borrowed for the call. */
    void (*on_entry)(void *gw, int db, const char *key, size_t klen, const char *id, size_t idlen,
                     const char *fields_resp, size_t flen);
    /* Appends this gateway's INFO section ("# Name\r\nfield:value\r\n...")
     * to buf (cap bytes, NUL-terminated); returns the length written.
     * Read counters with atomics: the gateway thread writes them. */
    size_t (*info)(void *gw, char *buf, size_t cap);
} bridge_ops;

/* ---- Setup (core thread, before the gateway thread starts) ---- */

/* Registers a gateway named name ("ws", "nng") with its callbacks;
 * returns its gateway id (>= 0) for the calls below, or -ENOSPC. */
int bridge_register(bridge *b, const char *name, const bridge_ops *ops, void *gw);

/* Core thread, once the gateway's threads no longer call the bridge (a
 * failed start, or its stop): no callback reaches gw any more and the
 * gateway's sessions are closed without messages. The id is not reused. */
void bridge_unregister(bridge *b, int gw);

/* ---- Gateway thread side: thread-safe, never block on the core ---- */

/*
 * Opens session `session` (the gateway's local id) for a peer described by
 * addr ("ip:port", shown by CLIENT LIST). Returns 0, or -ENOMEM. Commands
 * submitted after it are run after it.
 */
int bridge_open(bridge *b, int gw, uint64_t session, const char *addr);

/*
 * Submits one command for session: argc arguments, copied. The core runs
 * it and delivers a BRIDGE_REPLY with tag (unless the session issued
 * CLIENT REPLY OFF). Returns 0; -E2BIG when an argument is longer than
 * proto-max-bulk-len (nothing queued: the gateway refuses it itself);
 * -EAGAIN when the core's inbox holds more than its limit (the gateway
 * should slow down); -ESHUTDOWN once the core is stopping.
 */
int bridge_submit(bridge *b, int gw, uint64_t session, uint64_t tag, int argc,
                  const char *const *argv, const size_t *lens);

/* A tag with this bit set asks for a BRIDGE_REPLY only when the reply is
 * an error ('-' or '!'): fire-and-forget producers (nng pull0) skip the
 * cost of every other reply. */
#define BRIDGE_TAG_ERRORS_ONLY (1ull << 63)

/* Closes session: its subscriptions, blocked command and transaction go;
 * no more messages for it are delivered after the core processed it. */
void bridge_close(bridge *b, int gw, uint64_t session);

/* The longest argument bridge_submit accepts (proto-max-bulk-len), for
 * gateways that check sizes before copying. */
uint64_t bridge_max_arg(const bridge *b);

/* Frees a message delivered to the gateway. */
void bridge_msg_free(bridge_msg *m);

#endif /* PROTOCOLS_BRIDGE_H */
