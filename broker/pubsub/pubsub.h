/*
 * broker/pubsub: channel, pattern and shard-channel indexes, and the
 * fan-out of published messages to their subscribers.
 *
 * Subscribers are numeric ids (a RESP client today, a gateway session
 * later) with an opaque data pointer the server chose. Each subscription
 * is one record linked into two lists: its channel's subscribers (publish
 * order = subscription order) and its subscriber's subscriptions of that
 * kind (for UNSUBSCRIBE with no argument and for disconnects):
 *
 *   channels: "news" -> chan --head--> [sub 7] <-> [sub 9] <-> [sub 12]
 *                                        |  ^ snext/sprev (per subscriber)
 *   subscriber 7 (channels)  --head--> [news] <-> [sport]
 *
 * A hub-wide table keyed by (id, kind, name) finds a record in O(1), so
 * SUBSCRIBE, UNSUBSCRIBE and a disconnect cost O(1) per subscription.
 * PUBLISH costs O(subscribers of the channel + patterns): each receiver is
 * handed the message once, through the delivery callback, as one shared
 * reference-counted RESP frame per (channel or pattern, protocol) built on
 * first use, never a copy per receiver.
 *
 * Hot path: pubsub_publish() and pubsub_msg_frame(). Not here: sockets,
 * output-buffer limits, command replies (broker/commands/pubsub.c), the
 * keyspace notification policy (broker/commands/notify.c).
 */
#ifndef BROKER_PUBSUB_PUBSUB_H
#define BROKER_PUBSUB_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

/* Subscription kinds: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE. */
#define PUBSUB_CHANNEL 0
#define PUBSUB_PATTERN 1
#define PUBSUB_SHARD   2
#define PUBSUB_NKINDS  3

/*
 * A reference-counted byte buffer: one published frame shared by all its
 * receivers, or a client's own reply bytes moved out of its reply buffer.
 * Core thread only (the count is not atomic). Fields are public so writers
 * can build iovecs; change them only through the functions below.
 */
typedef struct pubsub_buf {
    uint32_t refs; /* owners; freed when it drops to 0 */
    size_t len;    /* bytes in data */
    char *data;    /* the bytes: inline after the struct, or a wrapped heap block */
} pubsub_buf;

typedef struct pubsub pubsub;

/* One message being fanned out to one group of receivers (the subscribers
 * of a channel, or of one matching pattern). Opaque; valid only during the
 * delivery callback. */
typedef struct pubsub_msg pubsub_msg;

/*
 * Delivery callback: receiver id (with the data pointer it subscribed
 * with) gets message m. Called once per (receiver, matching subscription),
 * in subscription order, channel subscribers before pattern subscribers.
 * It must not subscribe or unsubscribe anyone (the lists are being walked);
 * a receiver to drop is closed later, outside the publish.
 */
typedef void (*pubsub_deliver_fn)(void *priv, uint64_t id, void *data, pubsub_msg *m);

/* ---- Shared buffers ---- */

/* A buffer of len bytes (contents uninitialised) with one reference. */
pubsub_buf *pubsub_buf_new(size_t len);
/* Wraps a block from util_malloc (ownership moves to the buffer, which
 * frees it with the last reference); one reference. O(1). */
pubsub_buf *pubsub_buf_wrap(char *block, size_t len);
void pubsub_buf_ref(pubsub_buf *b);
/* Drops one reference; frees b (and a wrapped block) with the last.
 * NULL is a no-op. */
void pubsub_buf_unref(pubsub_buf *b);

/* ---- Lifecycle ---- */

/* A hub delivering through fn(priv, ...). Never NULL (aborts on OOM). */
pubsub *pubsub_new(pubsub_deliver_fn fn, void *priv);
/* Frees the hub and every subscription; NULL is a no-op. */
void pubsub_free(pubsub *ps);

/* ---- Queries ---- */

/* Subscriptions of kind held by id. O(1). */
size_t pubsub_count(pubsub *ps, int kind, uint64_t id);
/* Distinct channels (or patterns, or shard channels) with at least one
 * subscriber: INFO pubsub_channels, PUBSUB NUMPAT. O(1). */
size_t pubsub_names(pubsub *ps, int kind);
/* Subscribers of one channel or shard channel (not counting patterns):
 * PUBSUB NUMSUB. O(1). */
size_t pubsub_numsub(pubsub *ps, int kind, const void *name, size_t len);
/* The oldest subscription of kind held by id: its name (borrowed, valid
 * until that subscription goes) or NULL when id has none. O(1). */
const char *pubsub_first(pubsub *ps, int kind, uint64_t id, size_t *len);
/* Calls fn for every channel (or shard channel) of kind with subscribers
 * whose name matches the glob pattern (NULL: all), in no particular order:
 * PUBSUB CHANNELS. fn must not change subscriptions. O(channels). */
void pubsub_each(pubsub *ps, int kind, const char *pat, size_t plen,
                 void (*fn)(void *arg, const char *name, size_t len), void *arg);

/* Whole-structure check for tests: 0, or -EINVAL when a count, list or
 * table disagrees. O(subscriptions). */
int pubsub_check(pubsub *ps);

/* ---- Mutations ---- */

/* Subscribes id (data is handed back on delivery; it must be the same for
 * all of id's subscriptions) to name. Returns 1 if added, 0 if id already
 * had that subscription. O(len). */
int pubsub_subscribe(pubsub *ps, int kind, uint64_t id, void *data, const void *name, size_t len);
/* Removes one subscription. Returns 1 if it existed, 0 otherwise. O(len). */
int pubsub_unsubscribe(pubsub *ps, int kind, uint64_t id, const void *name, size_t len);
/* Removes every subscription of id, of all kinds (disconnect, RESET).
 * Returns how many. O(subscriptions of id). */
size_t pubsub_drop(pubsub *ps, uint64_t id);

/* ---- Publishing ---- */

/*
 * Publishes msg on channel: to its subscribers, then to the subscribers of
 * every matching pattern (shard = 0), or to the shard channel's
 * subscribers only (shard = 1). Returns the number of deliveries made (a
 * subscriber matching through a channel and a pattern counts twice, as in
 * Redis). O(subscribers + patterns).
 */
long long pubsub_publish(pubsub *ps, int shard, const void *channel, size_t clen, const void *msg,
                         size_t mlen);

/*
 * The RESP frame of m for protocol resp (2: array, 3: push):
 * message/pmessage/smessage with pattern, channel and payload. Built on the
 * first call for that protocol and shared by every receiver of the group.
 * Borrowed: take a reference (pubsub_buf_ref) to keep it. O(frame) once.
 */
pubsub_buf *pubsub_msg_frame(pubsub_msg *m, int resp);

#endif /* BROKER_PUBSUB_PUBSUB_H */
