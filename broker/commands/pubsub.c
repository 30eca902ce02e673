/*
 * broker/commands/pubsub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
 * SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH and PUBSUB.
 *
 * The handlers keep the caller's subscriptions in the hub (broker/pubsub)
 * under its session id, with the session as the delivery handle, and keep
 * SESS_PUBSUB set while it has any: the dispatcher then limits a RESP2
 * caller to the subscription commands, and CLIENT LIST shows flag P.
 * Confirmations are pushes (arrays in RESP2) of kind, name and the
 * caller's count, which for channels and patterns is their sum and for
 * shard channels is counted apart, as in Redis 7.0.
 *
 * Hot path: PUBLISH (pubsub_publish). Not here: delivery to sockets
 * (broker/server/client.c), keyspace notifications (notify.c).
 */
#include <ctype.h>
#include <string.h>

#include "broker/commands/families.h"
#include "broker/pubsub/pubsub.h"
#include "broker/util/mem.h"

/* Reply words of each kind: subscribe and unsubscribe confirmations. */
static const char *const pubsub_sub_word[PUBSUB_NKINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const pubsub_unsub_word[PUBSUB_NKINDS] = {"unsubscribe", "punsubscribe",
                                                             "sunsubscribe"};

static pubsub *
pubsub_hub(cmd_ctx *c)
{
    return c->host->pubsub;
}

/* The count a confirmation carries: channels + patterns, or shard
 * channels alone. */
static long long
pubsub_cmd_count(cmd_ctx *c, int kind)
{
    pubsub *ps = pubsub_hub(c);
    uint64_t id = c->sess->id;
    if (kind == PUBSUB_SHARD)
        return (long long)pubsub_count(ps, PUBSUB_SHARD, id);
    return (long long)(pubsub_count(ps, PUBSUB_CHANNEL, id) + pubsub_count(ps, PUBSUB_PATTERN, id));
}

/* Clears SESS_PUBSUB once the caller has no subscription of any kind. */
static void
pubsub_cmd_update_flag(cmd_ctx *c)
{
    pubsub *ps = pubsub_hub(c);
    uint64_t id = c->sess->id;
    if (pubsub_count(ps, PUBSUB_CHANNEL, id) + pubsub_count(ps, PUBSUB_PATTERN, id) +
            pubsub_count(ps, PUBSUB_SHARD, id) ==
        0)
        c->sess->flags &= ~SESS_PUBSUB;
}

static void
pubsub_cmd_confirm(cmd_ctx *c, const char *word, const char *name, size_t len, int kind)
{
    reply_push(c->r, 3);
    reply_bulk_cstr(c->r, word);
    if (name)
        reply_bulk(c->r, name, len);
    else
        reply_null(c->r);
    reply_int(c->r, pubsub_cmd_count(c, kind));
}

static void
pubsub_cmd_subscribe(cmd_ctx *c, int kind)
{
    pubsub *ps = pubsub_hub(c);
    for (int i = 1; i < c->argc; i++) {
        pubsub_subscribe(ps, kind, c->sess->id, c->sess, c->argv[i].ptr, c->argv[i].len);
        pubsub_cmd_confirm(c, pubsub_sub_word[kind], c->argv[i].ptr, c->argv[i].len, kind);
    }
    c->sess->flags |= SESS_PUBSUB;
}

static void
pubsub_cmd_unsubscribe(cmd_ctx *c, int kind)
{
    pubsub *ps = pubsub_hub(c);
    if (c->argc == 1) {
        /* Everything of this kind, oldest first; with nothing to drop,
         * one confirmation with a null name. */
        const char *name;
        size_t len;
        int any = 0;
        while ((name = pubsub_first(ps, kind, c->sess->id, &len)) != NULL) {
            char *copy = util_memdup(name, len);
            pubsub_unsubscribe(ps, kind, c->sess->id, copy, len);
            pubsub_cmd_confirm(c, pubsub_unsub_word[kind], copy, len, kind);
            util_free(copy);
            any = 1;
        }
        if (!any)
            pubsub_cmd_confirm(c, pubsub_unsub_word[kind], NULL, 0, kind);
    } else {
        for (int i = 1; i < c->argc; i++) {
            pubsub_unsubscribe(ps, kind, c->sess->id, c->argv[i].ptr, c->argv[i].len);
            pubsub_cmd_confirm(c, pubsub_unsub_word[kind], c->argv[i].ptr, c->argv[i].len, kind);
        }
    }
    pubsub_cmd_update_flag(c);
}

static void
cmd_subscribe(cmd_ctx *c)
{
    pubsub_cmd_subscribe(c, PUBSUB_CHANNEL);
}

static void
cmd_psubscribe(cmd_ctx *c)
{
    pubsub_cmd_subscribe(c, PUBSUB_PATTERN);
}

static void
cmd_ssubscribe(cmd_ctx *c)
{
    pubsub_cmd_subscribe(c, PUBSUB_SHARD);
}

static void
cmd_unsubscribe(cmd_ctx *c)
{
    pubsub_cmd_unsubscribe(c, PUBSUB_CHANNEL);
}

static void
cmd_punsubscribe(cmd_ctx *c)
{
    pubsub_cmd_unsubscribe(c, PUBSUB_PATTERN);
}

static void
cmd_sunsubscribe(cmd_ctx *c)
{
    pubsub_cmd_unsubscribe(c, PUBSUB_SHARD);
}

static void
cmd_publish(cmd_ctx *c)
{
    long long n = pubsub_publish(pubsub_hub(c), 0, c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr,
                                 c->argv[2].len);
    if (c->host && c->host->published)
        c->host->published(0, c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr, c->argv[2].len);
    reply_int(c->r, n);
}

static void
cmd_spublish(cmd_ctx *c)
{
    long long n = pubsub_publish(pubsub_hub(c), 1, c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr,
                                 c->argv[2].len);
    if (c->host && c->host->published)
        c->host->published(1, c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr, c->argv[2].len);
    reply_int(c->r, n);
}

/* ------------------------------------------------------------------------
 * PUBSUB <subcommand>
 * ------------------------------------------------------------------------ */

/* "ERR unknown subcommand or wrong number of arguments for '<sub>'. Try
 * PUBSUB HELP.", with the names as the caller typed them. */
static void
pubsub_cmd_sub_syntax(cmd_ctx *c)
{
    char up[64];
    size_t n = c->argv[0].len < sizeof(up) - 1 ? c->argv[0].len : sizeof(up) - 1;
    for (size_t i = 0; i < n; i++)
        up[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
    up[n] = '\0';
    reply_errorf(c->r,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                 (int)(c->argv[1].len < 128 ? c->argv[1].len : 128), c->argv[1].ptr, up);
}

/* PUBSUB CHANNELS / SHARDCHANNELS: one reply item per matching name. */
typedef struct pubsub_cmd_list {
    reply *r;    /* where the names go */
    long long n; /* names written */
} pubsub_cmd_list;

static void
pubsub_cmd_collect(void *arg, const char *name, size_t len)
{
    pubsub_cmd_list *l = arg;
    reply_bulk(l->r, name, len);
    l->n++;
}

static void
pubsub_cmd_channels(cmd_ctx *c, int kind)
{
    pubsub_cmd_list l = {c->r, 0};
    size_t mark;
    if (c->argc > 3) {
        pubsub_cmd_sub_syntax(c);
        return;
    }
    mark = reply_defer(c->r);
    if (c->argc == 3)
        pubsub_each(pubsub_hub(c), kind, c->argv[2].ptr, c->argv[2].len, pubsub_cmd_collect, &l);
    else
        pubsub_each(pubsub_hub(c), kind, NULL, 0, pubsub_cmd_collect, &l);
    reply_defer_array(c->r, mark, l.n);
}

static void
pubsub_cmd_numsub(cmd_ctx *c, int kind)
{
    /* An array of name, count pairs, also in RESP3 (as Redis 7.0). */
    reply_array(c->r, (long long)(c->argc - 2) * 2);
    for (int i = 2; i < c->argc; i++) {
        reply_bulk(c->r, c->argv[i].ptr, c->argv[i].len);
        reply_int(c->r,
                  (long long)pubsub_numsub(pubsub_hub(c), kind, c->argv[i].ptr, c->argv[i].len));
    }
}

static void
cmd_pubsub_channels(cmd_ctx *c)
{
    pubsub_cmd_channels(c, PUBSUB_CHANNEL);
}

static void
cmd_pubsub_shardchannels(cmd_ctx *c)
{
    pubsub_cmd_channels(c, PUBSUB_SHARD);
}

static void
cmd_pubsub_numsub(cmd_ctx *c)
{
    pubsub_cmd_numsub(c, PUBSUB_CHANNEL);
}

static void
cmd_pubsub_shardnumsub(cmd_ctx *c)
{
    pubsub_cmd_numsub(c, PUBSUB_SHARD);
}

static void
cmd_pubsub_numpat(cmd_ctx *c)
{
    reply_int(c->r, (long long)pubsub_names(pubsub_hub(c), PUBSUB_PATTERN));
}

static void
cmd_pubsub_help(cmd_ctx *c)
{
    static const char *const help[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(help) / sizeof(help[0]);
    reply_array(c->r, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c->r, help[i]);
}

/* ------------------------------------------------------------------------
 * Table
 * ------------------------------------------------------------------------ */

/* Flags, ACL categories, key positions and key specs as Redis 7.0's
 * COMMAND INFO gives them (@pubsub and @slow/@fast follow from the
 * flags); summary, since, group and complexity as COMMAND DOCS does. */
#define PUBSUB_CMD(nm, fn_, ar, fl, sum, since_, cx)                                               \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl), .summary = (sum),                 \
        .since = (since_), .group = "pubsub", .complexity = (cx)                                   \
    }
/* The shard commands name their channels as keys (for cluster routing)
 * with the not_key flag. */
#define PUBSUB_SHARD_CMD(nm, fn_, ar, fl, lk, last, sum, since_, cx)                               \
    {                                                                                              \
        .name = (nm), .fn = (fn_), .arity = (ar), .flags = (fl), .first_key = 1, .last_key = (lk), \
        .key_step = 1, .summary = (sum), .since = (since_), .group = "pubsub", .complexity = (cx), \
        .keyspecs = {                                                                              \
            {.flags = "not_key", .begin = 1, .lastkey = (last), .keystep = 1}                      \
        }                                                                                          \
    }

#define PUBSUB_SUBFL  (CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define PUBSUB_PUBFL  (CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST)
#define PUBSUB_INFOFL (CMD_PUBSUB | CMD_LOADING | CMD_STALE)

static cmd_def pubsub_subs[] = {
    PUBSUB_CMD("channels", cmd_pubsub_channels, -2, PUBSUB_INFOFL, "List active channels", "2.8.0",
               "O(N) where N is the number of active channels, and assuming constant time pattern "
               "matching (relatively short channels and patterns)"),
    PUBSUB_CMD("help", cmd_pubsub_help, 2, CMD_LOADING | CMD_STALE,
               "Show helpful text about the different subcommands", "6.2.0", "O(1)"),
    PUBSUB_CMD("numpat", cmd_pubsub_numpat, 2, PUBSUB_INFOFL,
               "Get the count of unique patterns pattern subscriptions", "2.8.0", "O(1)"),
    PUBSUB_CMD("numsub", cmd_pubsub_numsub, -2, PUBSUB_INFOFL,
               "Get the count of subscribers for channels", "2.8.0",
               "O(N) for the NUMSUB subcommand, where N is the number of requested channels"),
    PUBSUB_CMD("shardchannels", cmd_pubsub_shardchannels, -2, PUBSUB_INFOFL,
               "List active shard channels", "7.0.0",
               "O(N) where N is the number of active shard channels, and assuming constant time "
               "pattern matching (relatively short shard channels)."),
    PUBSUB_CMD("shardnumsub", cmd_pubsub_shardnumsub, -2, PUBSUB_INFOFL,
               "Get the count of subscribers for shard channels", "7.0.0",
               "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard "
               "channels"),
    {0},
};

cmd_def cmd_pubsub_defs[] = {
    PUBSUB_CMD("subscribe", cmd_subscribe, -2, PUBSUB_SUBFL,
               "Listen for messages published to the given channels", "2.0.0",
               "O(N) where N is the number of channels to subscribe to."),
    PUBSUB_CMD("unsubscribe", cmd_unsubscribe, -1, PUBSUB_SUBFL,
               "Stop listening for messages posted to the given channels", "2.0.0",
               "O(N) where N is the number of clients already subscribed to a channel."),
    PUBSUB_CMD("psubscribe", cmd_psubscribe, -2, PUBSUB_SUBFL,
               "Listen for messages published to channels matching the given patterns", "2.0.0",
               "O(N) where N is the number of patterns the client is already subscribed to."),
    PUBSUB_CMD("punsubscribe", cmd_punsubscribe, -1, PUBSUB_SUBFL,
               "Stop listening for messages posted to channels matching the given patterns",
               "2.0.0",
               "O(N+M) where N is the number of patterns the client is already subscribed and M "
               "is the number of total patterns subscribed in the system (by any client)."),
    PUBSUB_CMD("publish", cmd_publish, 3, PUBSUB_PUBFL, "Post a message to a channel", "2.0.0",
               "O(N+M) where N is the number of clients subscribed to the receiving channel and "
               "M is the total number of subscribed patterns (by any client)."),
    PUBSUB_SHARD_CMD("ssubscribe", cmd_ssubscribe, -2, PUBSUB_SUBFL, -1, -1,
                     "Listen for messages published to the given shard channels", "7.0.0",
                     "O(N) where N is the number of shard channels to subscribe to."),
    PUBSUB_SHARD_CMD("sunsubscribe", cmd_sunsubscribe, -1, PUBSUB_SUBFL, -1, -1,
                     "Stop listening for messages posted to the given shard channels", "7.0.0",
                     "O(N) where N is the number of clients already subscribed to a shard "
                     "channel."),
    PUBSUB_SHARD_CMD("spublish", cmd_spublish, 3, PUBSUB_PUBFL, 1, 0,
                     "Post a message to a shard channel", "7.0.0",
                     "O(N) where N is the number of clients subscribed to the receiving shard "
                     "channel."),
    {.name = "pubsub",
     .arity = -2,
     .summary = "A container for Pub/Sub commands",
     .since = "2.8.0",
     .group = "pubsub",
     .complexity = "Depends on subcommand.",
     .subs = pubsub_subs},
    {0},
};
