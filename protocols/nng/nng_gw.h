/*
 * protocols/nng: the nng gateway. Services speak to Runnel over nng
 * sockets (tcp://, ipc://, ws:// URLs) on three endpoints:
 *
 *   rep0   one request = one command as a RESP array (or an inline line),
 *          reply = its RESP3 reply; one core session per nng pipe, so AUTH,
 *          SELECT and HELLO hold per connection; many nng contexts keep
 *          requests of different pipes in flight at once.
 *   pub0   every PUBLISH as "c:<channel>\0<payload>", every SPUBLISH as
 *          "sc:<channel>\0<payload>", every appended entry of a stream
 *          selected by the core's filter as "x:<key>\0<id>\0<RESP3 map>";
 *          a subscription to "c:<channel>\0" gets exactly that channel.
 *   pull0  fire-and-forget commands (XADD from producers), in order per
 *          pipe; replies are dropped, errors counted (INFO) and logged.
 *
 * Runs on nng's own threads and reaches the core only through the bridge
 * (protocols/bridge.h); it includes no broker header.
 */
#ifndef PROTOCOLS_NNG_NNG_GW_H
#define PROTOCOLS_NNG_NNG_GW_H

#include <stddef.h>

#include "protocols/bridge.h"

typedef struct nngt nngt; /* one gateway: its sockets, contexts and counters */

typedef struct nngt_options {
    const char *rep_url;  /* rep0 listener, NULL or "" off */
    const char *pub_url;  /* pub0 listener, NULL or "" off */
    const char *pull_url; /* pull0 listener, NULL or "" off */
    int contexts;         /* rep0 contexts (requests in flight), <= 0: 16 */
    /* Called (on an nng thread) to log a rate-limited warning, or NULL. */
    void (*log)(const char *msg);
} nngt_options;

/*
 * Registers the gateway "nng" with the bridge b and starts listening on
 * the endpoints o names. Call on the core thread, once the bridge is
 * ready. Returns the gateway, or NULL with a message in err (a URL that
 * does not parse or bind); nothing is left running then.
 */
nngt *nngt_start(bridge *b, const nngt_options *o, char *err, size_t errlen);

/* The gateway id bridge_register gave it. */
int nngt_bridge_id(const nngt *g);

/*
 * Stops every aio (waiting for callbacks in progress), then closes the
 * sockets and frees g. Core thread, after the bridge stopped delivering;
 * NULL is a no-op.
 */
void nngt_stop(nngt *g);

#endif /* PROTOCOLS_NNG_NNG_GW_H */
