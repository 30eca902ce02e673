/*
 * broker/commands/notify: keyspace notifications, as Redis's
 * notifyKeyspaceEvent.
 *
 * An event for key in database N is published, when notify-keyspace-events
 * selects its class, as the message <event> on __keyspace@N__:<key> (K) and
 * as the message <key> on __keyevent@N__:<event> (E), through the ordinary
 * PUBLISH path, so channel and pattern subscribers both see it.
 *
 * Hot path: one test of the configured classes on every write when
 * notifications are off (the default). Not here: which events a command
 * fires (each handler calls cmd_notify in Redis's order), the "new",
 * "expired" and "keymiss" events (the keyspace hooks the server installs
 * call cmd_notify_db).
 */
#include <stdio.h>
#include <string.h>

#include "broker/commands/cmd.h"
#include "broker/config/config.h"
#include "broker/pubsub/pubsub.h"
#include "broker/util/mem.h"

/* Channel names up to this size are built on the stack. */
#define NOTIFY_STACK 256

/* Publishes msg on "<prefix><db>__:<suffix>". */
static void
notify_publish(pubsub *ps, const char *prefix, int dbid, const void *suffix, size_t slen,
               const void *msg, size_t mlen)
{
    char stack[NOTIFY_STACK], head[48];
    int hlen = snprintf(head, sizeof(head), "%s%d__:", prefix, dbid);
    size_t clen = (size_t)hlen + slen;
    char *chan = clen <= sizeof(stack) ? stack : util_malloc(clen);
    memcpy(chan, head, (size_t)hlen);
    if (slen)
        memcpy(chan + hlen, suffix, slen);
    pubsub_publish(ps, 0, chan, clen, msg, mlen);
    if (chan != stack)
        util_free(chan);
}

void
cmd_notify_db(pubsub *ps, int dbid, int type, const char *event, const void *key, size_t len)
{
    long long flags = config.notify_keyspace_events;
    if (!(flags & type) || ps == NULL)
        return;
    if (flags & NOTIFY_KEYSPACE)
        notify_publish(ps, "__keyspace@", dbid, key, len, event, strlen(event));
    if (flags & NOTIFY_KEYEVENT)
        notify_publish(ps, "__keyevent@", dbid, event, strlen(event), key, len);
}

void
cmd_notify(cmd_ctx *c, int type, const char *event, const void *key, size_t len)
{
    /* Tested here first: handlers of unit tests run without a host. */
    if (!(config.notify_keyspace_events & type))
        return;
    cmd_notify_db(c->host ? c->host->pubsub : NULL, c->db->id, type, event, key, len);
}
