/*
 * protocols/ws/ws_metrics: GET /metrics, as a state machine fed with the
 * replies of its own bridge session.
 *
 *   INFO ALL -> SCAN 0 TYPE stream (until the cursor is 0)
 *            -> XINFO STREAM <key> FULL COUNT 1 for every stream, pipelined
 *            -> Prometheus text (format 0.0.4)
 *
 * Every family is written whole (HELP, TYPE, then its samples), as the
 * text format requires; label values are escaped (\\, \", \n). The
 * oldest pending age is now minus the delivery time of the group's first
 * pending entry. Not hot: one request per scrape.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "protocols/ws/ws_int.h"
#include "protocols/ws/ws_json.h"

/* A growing text buffer. */
typedef struct ws_buf {
    char *p;    /* bytes, NUL-terminated, owned */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
    int oom;    /* 1 once an append failed */
} ws_buf;

enum ws_fam {
    WS_F_UP,
    WS_F_UPTIME,
    WS_F_CLIENTS,
    WS_F_MEMORY,
    WS_F_OPS,
    WS_F_PROCESSED,
    WS_F_CALLS,
    WS_F_KEYS,
    WS_F_WS_CONNS,
    WS_F_WS_TAILS,
    WS_F_WS_CONSUMERS,
    WS_F_WS_IN,
    WS_F_WS_OUT,
    WS_F_SLEN,
    WS_F_SADDED,
    WS_F_SGROUPS,
    WS_F_GLAG,
    WS_F_GPENDING,
    WS_F_GOLDEST,
    WS_F_GCONSUMERS,
    WS_F_COUNT
};

static const struct {
    const char *name, *type, *help;
} ws_fams[WS_F_COUNT] = {
    {"runnel_up", "gauge", "1 while the server answers."},
    {"runnel_uptime_seconds", "gauge", "Seconds since the server started."},
    {"runnel_connected_clients", "gauge", "Clients connected (RESP and gateway sessions)."},
    {"runnel_used_memory_bytes", "gauge", "Bytes allocated by the server."},
    {"runnel_instantaneous_ops_per_sec", "gauge", "Commands per second, recent average."},
    {"runnel_commands_processed_total", "counter", "Commands run since start."},
    {"runnel_command_calls_total", "counter", "Calls per command since start."},
    {"runnel_keys", "gauge", "Keys per database."},
    {"runnel_ws_connections", "gauge", "WebSocket connections open."},
    {"runnel_ws_tails", "gauge", "Live stream tails open over WebSocket."},
    {"runnel_ws_consumers", "gauge", "Group consumers open over WebSocket."},
    {"runnel_ws_messages_received_total", "counter", "WebSocket messages received."},
    {"runnel_ws_messages_sent_total", "counter", "WebSocket messages sent."},
    {"runnel_stream_length", "gauge", "Entries in the stream."},
    {"runnel_stream_entries_added_total", "counter", "Entries ever added to the stream."},
    {"runnel_stream_groups", "gauge", "Consumer groups of the stream."},
    {"runnel_stream_group_lag", "gauge", "Entries not yet delivered to the group."},
    {"runnel_stream_group_pending", "gauge", "Entries delivered and not acknowledged."},
    {"runnel_stream_group_oldest_pending_age_seconds", "gauge",
     "Seconds since the oldest pending entry was delivered."},
    {"runnel_stream_group_consumers", "gauge", "Consumers in the group."},
};

enum { WS_M_INFO = 1, WS_M_SCAN, WS_M_XINFO, WS_M_DONE };

struct ws_metrics {
    int state;              /* WS_M_* */
    ws_metrics_gw gw;       /* gateway counters at request time */
    int64_t now_ms;         /* request time, ms since epoch */
    ws_buf fam[WS_F_COUNT]; /* samples per family */
    json_t *streams;        /* stream keys found (array of strings) */
    size_t next_stream;     /* XINFO replies received */
    ws_buf text;            /* the final text */
};

static void
ws_buf_printf(ws_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Appends s as an escaped label value. */
static void
ws_buf_label(ws_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            ws_buf_printf(b, "\\\\");
        else if (*s == '"')
            ws_buf_printf(b, "\\\"");
        else if (*s == '\n')
            ws_buf_printf(b, "\\n");
        else
            ws_buf_printf(b, "%c", *s);
    }
}

/* One sample: family name, optional labels (name, value pairs, NULL
 * terminated), value. */
static void
ws_sample(ws_metrics *m, int f, double v, ...)
{
    ws_buf *b = &m->fam[f];
    va_list ap;
    const char *k;
    int first = 1;
    ws_buf_printf(b, "%s", ws_fams[f].name);
    va_start(ap, v);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        ws_buf_printf(b, "%s%s=\"", first ? "{" : ",", k);
        ws_buf_label(b, val);
        ws_buf_printf(b, "\"");
        first = 0;
    }
    va_end(ap);
    /* Counts print as integers; fractions keep 6 significant digits. */
    if (v == (double)(long long)v && v < 1e15 && v > -1e15)
        ws_buf_printf(b, "%s %lld\n", first ? "" : "}", (long long)v);
    else
        ws_buf_printf(b, "%s %.6g\n", first ? "" : "}", v);
}

ws_metrics *
ws__metrics_new(const ws_metrics_gw *gw, int64_t now_ms)
{
    ws_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->gw = *gw;
    m->now_ms = now_ms;
    m->streams = json_array();
    if (m->streams == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void
ws__metrics_free(ws_metrics *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i < WS_F_COUNT; i++)
        free(m->fam[i].p);
    free(m->text.p);
    json_decref(m->streams);
    free(m);
}

static int
ws_metrics_cmd(ws_metrics_submit_fn fn, void *arg, int argc, const char *const *argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return fn(arg, argc, argv, lens);
}

int
ws__metrics_start(ws_metrics *m, ws_metrics_submit_fn fn, void *arg)
{
    static const char *const info[] = {"INFO", "ALL"};
    m->state = WS_M_INFO;
    return ws_metrics_cmd(fn, arg, 2, info);
}

/* The value of "field:" in INFO text, or NULL. */
static const char *
ws_info_field(const char *text, const char *field, char *out, size_t cap)
{
    size_t flen = strlen(field);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, field, flen) == 0 && p[flen] == ':') {
            size_t n = strcspn(p + flen + 1, "\r\n");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, p + flen + 1, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

static void
ws_metrics_info(ws_metrics *m, const char *text)
{
    static const struct {
        const char *field;
        int fam;
    } plain[] = {{"uptime_in_seconds", WS_F_UPTIME},
                 {"connected_clients", WS_F_CLIENTS},
                 {"used_memory", WS_F_MEMORY},
                 {"instantaneous_ops_per_sec", WS_F_OPS},
                 {"total_commands_processed", WS_F_PROCESSED}};
    char val[128];
    ws_sample(m, WS_F_UP, 1, (const char *)NULL);
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        if (ws_info_field(text, plain[i].field, val, sizeof(val)))
            ws_sample(m, plain[i].fam, strtod(val, NULL), (const char *)NULL);
    }
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        char name[128];
        unsigned long long n;
        int db;
        if (sscanf(p, "cmdstat_%127[^:]:calls=%llu", name, &n) == 2)
            ws_sample(m, WS_F_CALLS, (double)n, "command", name, (const char *)NULL);
        else if (sscanf(p, "db%d:keys=%llu", &db, &n) == 2) {
            char dbs[16];
            snprintf(dbs, sizeof(dbs), "%d", db);
            ws_sample(m, WS_F_KEYS, (double)n, "db", dbs, (const char *)NULL);
        }
    }
    ws_sample(m, WS_F_WS_CONNS, (double)m->gw.connections, (const char *)NULL);
    ws_sample(m, WS_F_WS_TAILS, (double)m->gw.tails, (const char *)NULL);
    ws_sample(m, WS_F_WS_CONSUMERS, (double)m->gw.consumers, (const char *)NULL);
    ws_sample(m, WS_F_WS_IN, (double)m->gw.msgs_in, (const char *)NULL);
    ws_sample(m, WS_F_WS_OUT, (double)m->gw.msgs_out, (const char *)NULL);
}

/* One XINFO STREAM ... FULL reply (a map) for stream key. */
static void
ws_metrics_stream(ws_metrics *m, const char *key, json_t *x)
{
    json_t *groups = json_object_get(x, "groups"), *g;
    size_t i;
    if (!json_is_object(x))
        return;
    ws_sample(m, WS_F_SLEN, (double)json_integer_value(json_object_get(x, "length")), "stream", key,
              (const char *)NULL);
    ws_sample(m, WS_F_SADDED, (double)json_integer_value(json_object_get(x, "entries-added")),
              "stream", key, (const char *)NULL);
    ws_sample(m, WS_F_SGROUPS, (double)json_array_size(groups), "stream", key, (const char *)NULL);
    json_array_foreach(groups, i, g)
    {
        const char *name = json_string_value(json_object_get(g, "name"));
        json_t *lag = json_object_get(g, "lag");
        json_t *first = json_array_get(json_object_get(g, "pending"), 0);
        double age = 0;
        if (name == NULL)
            continue;
        if (json_is_integer(lag))
            ws_sample(m, WS_F_GLAG, (double)json_integer_value(lag), "stream", key, "group", name,
                      (const char *)NULL);
        ws_sample(m, WS_F_GPENDING, (double)json_integer_value(json_object_get(g, "pel-count")),
                  "stream", key, "group", name, (const char *)NULL);
        if (first) {
            json_int_t t = json_integer_value(json_array_get(first, 2));
            age = m->now_ms > t ? (double)(m->now_ms - t) / 1000.0 : 0;
        }
        ws_sample(m, WS_F_GOLDEST, age, "stream", key, "group", name, (const char *)NULL);
        ws_sample(m, WS_F_GCONSUMERS, (double)json_array_size(json_object_get(g, "consumers")),
                  "stream", key, "group", name, (const char *)NULL);
    }
}

static int
ws_metrics_scan(ws_metrics_submit_fn fn, void *arg, const char *cursor)
{
    const char *argv[] = {"SCAN", cursor, "TYPE", "stream", "COUNT", "1000"};
    return ws_metrics_cmd(fn, arg, 6, argv);
}

/* Builds the final text from the families. */
static int
ws_metrics_finish(ws_metrics *m)
{
    for (int f = 0; f < WS_F_COUNT; f++) {
        ws_buf_printf(&m->text, "# HELP %s %s\n# TYPE %s %s\n", ws_fams[f].name, ws_fams[f].help,
                      ws_fams[f].name, ws_fams[f].type);
        if (m->fam[f].len)
            ws_buf_printf(&m->text, "%s", m->fam[f].p);
        if (m->fam[f].oom)
            m->text.oom = 1;
    }
    m->state = WS_M_DONE;
    return m->text.oom ? -ENOMEM : 1;
}

/* Submits XINFO for every stream found, or finishes when there is none. */
static int
ws_metrics_xinfo_all(ws_metrics *m, ws_metrics_submit_fn fn, void *arg)
{
    size_t i;
    json_t *k;
    m->state = WS_M_XINFO;
    if (json_array_size(m->streams) == 0)
        return ws_metrics_finish(m);
    json_array_foreach(m->streams, i, k)
    {
        const char *argv[] = {"XINFO", "STREAM", json_string_value(k), "FULL", "COUNT", "1"};
        size_t lens[] = {5, 6, json_string_length(k), 4, 5, 1};
        int rc = fn(arg, 6, argv, lens);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
ws__metrics_feed(ws_metrics *m, const char *buf, size_t len, ws_metrics_submit_fn fn, void *arg)
{
    json_t *v = NULL;
    int rc = 0;
    if (ws_json_value(buf, len, &v) <= 0)
        return -EPROTO;
    switch (m->state) {
    case WS_M_INFO:
        if (!json_is_string(v)) {
            rc = -EPROTO; /* NOAUTH and the like */
            break;
        }
        ws_metrics_info(m, json_string_value(v));
        m->state = WS_M_SCAN;
        rc = ws_metrics_scan(fn, arg, "0");
        break;
    case WS_M_SCAN: {
        const char *cursor = json_string_value(json_array_get(v, 0));
        json_t *keys = json_array_get(v, 1), *k;
        size_t i;
        if (cursor == NULL) {
            rc = -EPROTO;
            break;
        }
        json_array_foreach(keys, i, k)
        {
            if (json_is_string(k)) /* keys that are not UTF-8 are not labels */
                json_array_append(m->streams, k);
        }
        if (strcmp(cursor, "0") != 0)
            rc = ws_metrics_scan(fn, arg, cursor);
        else
            rc = ws_metrics_xinfo_all(m, fn, arg);
        break;
    }
    case WS_M_XINFO: {
        json_t *k = json_array_get(m->streams, m->next_stream++);
        /* A stream deleted meanwhile answers an error: no samples. */
        if (k && json_is_object(v) && !json_object_get(v, "error"))
            ws_metrics_stream(m, json_string_value(k), v);
        if (m->next_stream == json_array_size(m->streams))
            rc = ws_metrics_finish(m);
        break;
    }
    default:
        rc = -EINVAL;
        break;
    }
    json_decref(v);
    return rc;
}

const char *
ws__metrics_text(const ws_metrics *m, size_t *len)
{
    *len = m->text.len;
    return m->text.p ? m->text.p : "";
}
