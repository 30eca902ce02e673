/*
 * broker/config: parameter table, file loading, CONFIG GET/SET/REWRITE.
 *
 * Every parameter is a row of config_table pointing at a field of the
 * global `config`. CONFIG SET validates every pair first, then applies them
 * in order, running the server's apply hook; if a hook fails, every value
 * already changed in that call is restored (and re-applied), so the call is
 * all or none, as in Redis 7.
 *
 * Not hot: only the config commands and start-up run this code.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "broker/config/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "broker/commands/cmd.h"
#include "broker/util/glob.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

runnel_config config;

enum config_type { CONFIG_BOOL, CONFIG_INT, CONFIG_MEM, CONFIG_ENUM, CONFIG_STR, CONFIG_SPECIAL };

/* Longest value of a CONFIG_SPECIAL parameter, in long longs. */
#define CONFIG_VEC 9

/*
 * A parameter whose value is not one number or string
 * (client-output-buffer-limit, notify-keyspace-events). Its value travels
 * through CONFIG SET and rollback as a vector of CONFIG_VEC long longs.
 */
typedef struct config_special {
    void (*get)(long long *v);       /* current value into v */
    void (*set)(const long long *v); /* makes v current */
    void (*reset)(void);             /* makes the default current */
    /* Parses argc words over v (which holds the current value); returns
     * NULL or Redis's error text. */
    const char *(*parse)(int argc, char **argv, long long *v);
    void (*format)(char *buf, size_t cap); /* CONFIG GET text of the current value */
    int nlines;                            /* CONFIG REWRITE lines it owns */
    /* Line k ("name args") of the current value into buf; returns 1 when it
     * differs from the default (a line Redis writes even if the file had
     * none). */
    int (*rewrite)(int k, char *buf, size_t cap);
} config_special;

#define CONFIG_IMMUTABLE 1 /* CONFIG SET refuses it */
#define CONFIG_MULTI_ARG 2 /* takes several words (bind) */
#define CONFIG_DIR       4 /* CONFIG GET shows the working directory */
#define CONFIG_PROTECTED 8 /* CONFIG SET needs enable-protected-configs */

typedef struct config_param {
    const char *name;              /* lowercase name */
    enum config_type type;         /* how values parse and print */
    int flags;                     /* CONFIG_IMMUTABLE, ... */
    long long min, max;            /* bounds for numbers */
    long long dflt;                /* default for numbers and bools */
    const char *dflt_str;          /* default for strings */
    const char *const *enums;      /* names for CONFIG_ENUM, NULL-terminated */
    long long *num;                /* storage for numbers, bools, enums */
    char **str;                    /* storage for strings */
    const char *alias;             /* old name also accepted (Redis 7.0 aliases), or NULL */
    const config_special *special; /* for CONFIG_SPECIAL, else NULL */
} config_param;

static const config_special config_obuf_special;
static const config_special config_notify_special;

static const char *const config_loglevels[] = {"debug", "verbose", "notice", "warning", NULL};
static const char *const config_fsyncs[] = {"everysec", "always", "no", NULL};
static const char *const config_debug_cmd[] = {"no", "yes", "local", NULL};

#define NUM(f) &config.f, NULL
#define STR(f) NULL, &config.f

static config_param config_table[] = {
    {"port", CONFIG_INT, 0, 0, 65535, 6379, NULL, NULL, NUM(port)},
    {"bind", CONFIG_STR, CONFIG_MULTI_ARG, 0, 0, 0, "127.0.0.1", NULL, STR(bind)},
    {"dir", CONFIG_STR, CONFIG_DIR, 0, 0, 0, "./data", NULL, STR(dir)},
    {"databases", CONFIG_INT, CONFIG_IMMUTABLE, 1, INT_MAX, 16, NULL, NULL, NUM(databases)},
    {"maxclients", CONFIG_INT, 0, 1, UINT_MAX, 10000, NULL, NULL, NUM(maxclients)},
    {"timeout", CONFIG_INT, 0, 0, INT_MAX, 0, NULL, NULL, NUM(timeout)},
    {"tcp-keepalive", CONFIG_INT, 0, 0, INT_MAX, 300, NULL, NULL, NUM(tcp_keepalive)},
    {"tcp-backlog", CONFIG_INT, CONFIG_IMMUTABLE, 0, INT_MAX, 511, NULL, NULL, NUM(tcp_backlog)},
    {"loglevel", CONFIG_ENUM, 0, 0, 0, CONFIG_LL_NOTICE, NULL, config_loglevels, NUM(loglevel)},
    {"logfile", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "", NULL, STR(logfile)},
    {"pidfile", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "", NULL, STR(pidfile)},
    {"daemonize", CONFIG_BOOL, CONFIG_IMMUTABLE, 0, 1, 0, NULL, NULL, NUM(daemonize)},
    {"requirepass", CONFIG_STR, 0, 0, 0, 0, "", NULL, STR(requirepass)},
    /* The nng gateway (protocols/nng): endpoints, "" = off; read at start. */
    {"nng-rep-url", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "tcp://127.0.0.1:7379", NULL,
     STR(nng_rep_url)},
    {"nng-pub-url", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "tcp://127.0.0.1:7380", NULL,
     STR(nng_pub_url)},
    {"nng-pull-url", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "tcp://127.0.0.1:7381", NULL,
     STR(nng_pull_url)},
    {"nng-pub-streams", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "", NULL, STR(nng_pub_streams)},
    {"nng-rep-contexts", CONFIG_INT, CONFIG_IMMUTABLE, 1, 4096, 16, NULL, NULL,
     NUM(nng_rep_contexts)},
    /* The WebSocket gateway (protocols/ws): 0 = off; read at start. */
    {"ws-port", CONFIG_INT, CONFIG_IMMUTABLE, 0, 65535, 8379, NULL, NULL, NUM(ws_port)},
    {"ws-bind", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "127.0.0.1", NULL, STR(ws_bind)},
    {"ws-allowed-origins", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "", NULL,
     STR(ws_allowed_origins)},
    {"ws-max-message-size", CONFIG_MEM, CONFIG_IMMUTABLE, 1024, LLONG_MAX, 512LL * 1024 * 1024,
     NULL, NULL, NUM(ws_max_message_size)},
    {"proto-max-bulk-len", CONFIG_MEM, 0, 1024 * 1024, LONG_MAX, 512LL * 1024 * 1024, NULL, NULL,
     NUM(proto_max_bulk_len)},
    {"client-query-buffer-limit", CONFIG_MEM, 0, 1024 * 1024, LONG_MAX, 1024LL * 1024 * 1024, NULL,
     NULL, NUM(client_query_buffer_limit)},
    {"hz", CONFIG_INT, 0, 0, INT_MAX, 10, NULL, NULL, NUM(hz)},
    {"slowlog-log-slower-than", CONFIG_INT, 0, -1, LLONG_MAX, 10000, NULL, NULL,
     NUM(slowlog_log_slower_than)},
    {"stream-node-max-bytes", CONFIG_MEM, 0, 0, LLONG_MAX, 4096, NULL, NULL,
     NUM(stream_node_max_bytes)},
    {"stream-node-max-entries", CONFIG_INT, 0, 0, LLONG_MAX, 100, NULL, NULL,
     NUM(stream_node_max_entries)},
    {"slowlog-max-len", CONFIG_INT, 0, 0, LLONG_MAX, 128, NULL, NULL, NUM(slowlog_max_len)},
    {"hash-max-listpack-entries", CONFIG_INT, 0, 0, LLONG_MAX, 512, NULL, NULL,
     NUM(hash_max_listpack_entries), "hash-max-ziplist-entries"},
    {"hash-max-listpack-value", CONFIG_MEM, 0, 0, LLONG_MAX, 64, NULL, NULL,
     NUM(hash_max_listpack_value), "hash-max-ziplist-value"},
    {"list-max-listpack-size", CONFIG_INT, 0, INT_MIN, INT_MAX, -2, NULL, NULL,
     NUM(list_max_listpack_size), "list-max-ziplist-size"},
    {"set-max-intset-entries", CONFIG_INT, 0, 0, LLONG_MAX, 512, NULL, NULL,
     NUM(set_max_intset_entries)},
    {"zset-max-listpack-entries", CONFIG_INT, 0, 0, LLONG_MAX, 128, NULL, NULL,
     NUM(zset_max_listpack_entries), "zset-max-ziplist-entries"},
    {"zset-max-listpack-value", CONFIG_MEM, 0, 0, LLONG_MAX, 64, NULL, NULL,
     NUM(zset_max_listpack_value), "zset-max-ziplist-value"},
    {"client-output-buffer-limit", CONFIG_SPECIAL, CONFIG_MULTI_ARG, 0, 0, 0, NULL, NULL, NULL,
     NULL, NULL, &config_obuf_special},
    {"notify-keyspace-events", CONFIG_SPECIAL, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL,
     &config_notify_special},
    /* Persistence (broker/persist). */
    {"appendonly", CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL, NUM(appendonly)},
    {"appendfsync", CONFIG_ENUM, 0, 0, 0, CONFIG_FSYNC_EVERYSEC, NULL, config_fsyncs,
     NUM(appendfsync)},
    {"appendfilename", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "appendonly.aof", NULL,
     STR(appendfilename)},
    {"appenddirname", CONFIG_STR, CONFIG_IMMUTABLE, 0, 0, 0, "appendonlydir", NULL,
     STR(appenddirname)},
    {"dbfilename", CONFIG_STR, CONFIG_PROTECTED, 0, 0, 0, "dump.rdb", NULL, STR(dbfilename)},
    {"save", CONFIG_STR, CONFIG_MULTI_ARG, 0, 0, 0, "3600 1 300 100 60 10000", NULL, STR(save)},
    {"auto-aof-rewrite-percentage", CONFIG_INT, 0, 0, INT_MAX, 100, NULL, NULL,
     NUM(auto_aof_rewrite_percentage)},
    {"auto-aof-rewrite-min-size", CONFIG_MEM, 0, 0, LLONG_MAX, 64LL * 1024 * 1024, NULL, NULL,
     NUM(auto_aof_rewrite_min_size)},
    {"aof-load-truncated", CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL, NUM(aof_load_truncated)},
    {"aof-use-rdb-preamble", CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL, NUM(aof_use_rdb_preamble)},
    {"aof-rewrite-incremental-fsync", CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL,
     NUM(aof_rewrite_incremental_fsync)},
    {"rdbcompression", CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL, NUM(rdbcompression)},
    {"rdbchecksum", CONFIG_BOOL, CONFIG_IMMUTABLE, 0, 1, 1, NULL, NULL, NUM(rdbchecksum)},
    {"stop-writes-on-bgsave-error", CONFIG_BOOL, 0, 0, 1, 1, NULL, NULL,
     NUM(stop_writes_on_bgsave_error)},
    {"enable-protected-configs", CONFIG_ENUM, CONFIG_IMMUTABLE, 0, 0, 0, NULL, config_debug_cmd,
     NUM(enable_protected_configs)},
    {"enable-debug-command", CONFIG_ENUM, CONFIG_IMMUTABLE, 0, 0, 0, NULL, config_debug_cmd,
     NUM(enable_debug_command)},
    /* Scripting (broker/script). */
    {"busy-reply-threshold", CONFIG_INT, 0, 0, LLONG_MAX, 5000, NULL, NULL,
     NUM(busy_reply_threshold), "lua-time-limit"},
};

#define CONFIG_COUNT (sizeof(config_table) / sizeof(config_table[0]))

static char *config_path;           /* absolute path of the config file, owned */
static config_apply_fn config_hook; /* server's apply hook, may be NULL */

void
config_init(void)
{
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        config_param *p = &config_table[i];
        if (p->special) {
            p->special->reset();
        } else if (p->str) {
            util_free(*p->str);
            *p->str = util_strdup(p->dflt_str);
        } else {
            *p->num = p->dflt;
        }
    }
}

void
config_fini(void)
{
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        if (config_table[i].str) {
            util_free(*config_table[i].str);
            *config_table[i].str = NULL;
        }
    }
    util_free(config_path);
    config_path = NULL;
}

const char *
config_file(void)
{
    return config_path;
}

void
config_set_apply_hook(config_apply_fn fn)
{
    config_hook = fn;
}

static config_param *
config_find(const char *name, size_t len)
{
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const char *alias = config_table[i].alias;
        if (strlen(config_table[i].name) == len &&
            strncasecmp(config_table[i].name, name, len) == 0)
            return &config_table[i];
        if (alias && strlen(alias) == len && strncasecmp(alias, name, len) == 0)
            return &config_table[i];
    }
    return NULL;
}

/* Parses "1gb", "10mb", "100k", "42" like Redis's memtoull: units k kb m
 * mb g gb, case-insensitive; returns 1 on success. */
static int
config_parse_mem(const char *s, size_t len, long long *out)
{
    size_t digits = 0;
    unsigned long long mul = 1, v;
    char unit[4] = {0};
    while (digits < len && isdigit((unsigned char)s[digits]))
        digits++;
    if (digits == 0 && !(len > 0 && s[0] == '-'))
        return 0;
    if (len - digits > 2)
        return 0;
    for (size_t i = digits; i < len; i++)
        unit[i - digits] = (char)tolower((unsigned char)s[i]);
    if (unit[0] == '\0' || strcmp(unit, "b") == 0)
        mul = 1;
    else if (strcmp(unit, "k") == 0)
        mul = 1000;
    else if (strcmp(unit, "kb") == 0)
        mul = 1024;
    else if (strcmp(unit, "m") == 0)
        mul = 1000 * 1000;
    else if (strcmp(unit, "mb") == 0)
        mul = 1024 * 1024;
    else if (strcmp(unit, "g") == 0)
        mul = 1000ULL * 1000 * 1000;
    else if (strcmp(unit, "gb") == 0)
        mul = 1024ULL * 1024 * 1024;
    else
        return 0;
    if (!util_str2ull(s, digits, &v))
        return 0;
    if (v > (unsigned long long)LLONG_MAX / mul)
        return 0;
    *out = (long long)(v * mul);
    return 1;
}

/* Validates argv as a value of p; on success stores the parsed value in
 * *num (num[0..CONFIG_VEC) for a special parameter) or a new string in
 * *str. Returns NULL or a static error text. */
static const char *
config_parse(const config_param *p, int argc, char **argv, long long *num, char **str)
{
    static char msg[160];
    if (argc != 1 && !(p->flags & CONFIG_MULTI_ARG))
        return "wrong number of arguments";
    switch (p->type) {
    case CONFIG_BOOL:
        if (strcasecmp(argv[0], "yes") == 0)
            *num = 1;
        else if (strcasecmp(argv[0], "no") == 0)
            *num = 0;
        else
            return "argument must be 'yes' or 'no'";
        return NULL;
    case CONFIG_INT:
        if (!util_str2ll(argv[0], strlen(argv[0]), num))
            return "argument couldn't be parsed into an integer";
        goto range;
    case CONFIG_MEM:
        if (!config_parse_mem(argv[0], strlen(argv[0]), num))
            return "argument must be a memory value";
        goto range;
    case CONFIG_ENUM:
        for (int i = 0; p->enums[i]; i++) {
            if (strcasecmp(argv[0], p->enums[i]) == 0) {
                *num = i;
                return NULL;
            }
        }
        snprintf(msg, sizeof(msg), "argument(s) must be one of the following: ");
        for (int i = 0; p->enums[i]; i++) {
            strncat(msg, p->enums[i], sizeof(msg) - strlen(msg) - 1);
            if (p->enums[i + 1])
                strncat(msg, ", ", sizeof(msg) - strlen(msg) - 1);
        }
        return msg;
    case CONFIG_SPECIAL:
        p->special->get(num);
        return p->special->parse(argc, argv, num);
    case CONFIG_STR: {
        size_t total = 0;
        for (int i = 0; i < argc; i++)
            total += strlen(argv[i]) + 1;
        *str = util_malloc(total + 1);
        (*str)[0] = '\0';
        for (int i = 0; i < argc; i++) {
            if (i)
                strcat(*str, " ");
            strcat(*str, argv[i]);
        }
        return NULL;
    }
    }
    return "unknown type";
range:
    if (*num < p->min || *num > p->max) {
        snprintf(msg, sizeof(msg), "argument must be between %lld and %lld inclusive", p->min,
                 p->max);
        return msg;
    }
    return NULL;
}

/* Formats the current value of p into buf. */
static const char *
config_format(const config_param *p, char *buf, size_t cap)
{
    if (p->flags & CONFIG_DIR) {
        if (getcwd(buf, cap) != NULL)
            return buf;
        return *p->str;
    }
    switch (p->type) {
    case CONFIG_BOOL:
        return *p->num ? "yes" : "no";
    case CONFIG_INT:
    case CONFIG_MEM:
        util_ll2str(buf, *p->num);
        return buf;
    case CONFIG_ENUM:
        return p->enums[*p->num];
    case CONFIG_STR:
        return *p->str;
    case CONFIG_SPECIAL:
        p->special->format(buf, cap);
        return buf;
    }
    return "";
}

/* ------------------------------------------------------------------------
 * client-output-buffer-limit
 * ------------------------------------------------------------------------ */

/* Defaults per class: hard, soft, seconds (Redis's). */
static const long long config_obuf_defaults[CONFIG_OBUF_CLASSES][3] = {
    {0, 0, 0},
    {256LL * 1024 * 1024, 64LL * 1024 * 1024, 60},
    {32LL * 1024 * 1024, 8LL * 1024 * 1024, 60},
};

static void
config_obuf_get(long long *v)
{
    for (int c = 0; c < CONFIG_OBUF_CLASSES; c++) {
        v[c * 3] = (long long)config.obuf_hard[c];
        v[c * 3 + 1] = (long long)config.obuf_soft[c];
        v[c * 3 + 2] = config.obuf_soft_secs[c];
    }
}

static void
config_obuf_set(const long long *v)
{
    for (int c = 0; c < CONFIG_OBUF_CLASSES; c++) {
        config.obuf_hard[c] = (unsigned long long)v[c * 3];
        config.obuf_soft[c] = (unsigned long long)v[c * 3 + 1];
        config.obuf_soft_secs[c] = v[c * 3 + 2];
    }
}

static void
config_obuf_reset(void)
{
    config_obuf_set(&config_obuf_defaults[0][0]);
}

/* The class a name selects: normal, slave or replica, pubsub (any case);
 * -1 otherwise (master is not settable, as in Redis). */
static int
config_obuf_class(const char *s)
{
    if (strcasecmp(s, "normal") == 0)
        return CONFIG_OBUF_NORMAL;
    if (strcasecmp(s, "slave") == 0 || strcasecmp(s, "replica") == 0)
        return CONFIG_OBUF_REPLICA;
    if (strcasecmp(s, "pubsub") == 0)
        return CONFIG_OBUF_PUBSUB;
    return -1;
}

/* A byte size as Redis 7.0's memtoull reads it: digits (a value too large
 * saturates), then an optional unit b k kb m mb g gb in any case; no sign. */
static int
config_obuf_bytes(const char *s, unsigned long long *out)
{
    static const struct {
        const char *unit;
        unsigned long long mul;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"k", 1000},
                 {"kb", 1024},
                 {"m", 1000 * 1000},
                 {"mb", 1024 * 1024},
                 {"g", 1000ULL * 1000 * 1000},
                 {"gb", 1024ULL * 1024 * 1024}};
    unsigned long long v = 0;
    const char *u = s;
    while (isdigit((unsigned char)*u)) {
        unsigned d = (unsigned)(*u - '0');
        v = v > (ULLONG_MAX - d) / 10 ? ULLONG_MAX : v * 10 + d;
        u++;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(u, units[i].unit) == 0) {
            *out = v * units[i].mul;
            return 1;
        }
    }
    return 0;
}

/* Soft-limit seconds as Redis 7.0 reads them: a strtoll-style integer
 * (sign allowed) whose value, cut to an int, must not be negative. */
static int
config_obuf_secs(const char *s, long long *out)
{
    char *end;
    long long v;
    int as_int;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0')
        return 0;
    as_int = (int)(uint32_t)(unsigned long long)v;
    if (as_int < 0)
        return 0;
    *out = as_int;
    return 1;
}

static const char *config_obuf_parse_words(int argc, char **argv, long long *v);

/* The words of a value; one argument (a quoted value in the config file
 * or on the command line) is split first, as Redis does for its multi-word
 * parameters. */
static const char *
config_obuf_parse(int argc, char **argv, long long *v)
{
    char **words;
    int n;
    const char *why;
    if (argc != 1)
        return config_obuf_parse_words(argc, argv, v);
    n = config_split_args(argv[0], &words);
    if (n < 0)
        return "Unbalanced quotes in configuration line";
    why = config_obuf_parse_words(n, words, v);
    config_free_args(words, n);
    return why;
}

static const char *
config_obuf_parse_words(int argc, char **argv, long long *v)
{
    static const char bad[] = "Error in hard, soft or soft_seconds setting in buffer limit "
                              "configuration.";
    if (argc % 4 != 0)
        return "Wrong number of arguments in buffer limit configuration.";
    /* Check every word first: all or nothing. */
    for (int j = 0; j < argc; j += 4) {
        unsigned long long b;
        long long secs = 0;
        if (config_obuf_class(argv[j]) < 0)
            return "Invalid client class specified in buffer limit configuration.";
        if (!config_obuf_bytes(argv[j + 1], &b) || !config_obuf_bytes(argv[j + 2], &b) ||
            !config_obuf_secs(argv[j + 3], &secs))
            return bad;
    }
    for (int j = 0; j < argc; j += 4) {
        int c = config_obuf_class(argv[j]);
        unsigned long long hard, soft;
        long long secs = 0;
        config_obuf_bytes(argv[j + 1], &hard);
        config_obuf_bytes(argv[j + 2], &soft);
        config_obuf_secs(argv[j + 3], &secs);
        v[c * 3] = (long long)hard;
        v[c * 3 + 1] = (long long)soft;
        v[c * 3 + 2] = secs;
    }
    return NULL;
}

static void
config_obuf_format(char *buf, size_t cap)
{
    snprintf(buf, cap, "normal %llu %llu %lld slave %llu %llu %lld pubsub %llu %llu %lld",
             config.obuf_hard[0], config.obuf_soft[0], config.obuf_soft_secs[0],
             config.obuf_hard[1], config.obuf_soft[1], config.obuf_soft_secs[1],
             config.obuf_hard[2], config.obuf_soft[2], config.obuf_soft_secs[2]);
}

/* A byte count the way CONFIG REWRITE writes it: 64mb, 1gb, 3kb or bytes. */
static void
config_format_memory(char *buf, size_t cap, unsigned long long v)
{
    const unsigned long long gb = 1024ULL * 1024 * 1024, mb = 1024 * 1024, kb = 1024;
    if (v && v % gb == 0)
        snprintf(buf, cap, "%llugb", v / gb);
    else if (v && v % mb == 0)
        snprintf(buf, cap, "%llumb", v / mb);
    else if (v && v % kb == 0)
        snprintf(buf, cap, "%llukb", v / kb);
    else
        snprintf(buf, cap, "%llu", v);
}

static int
config_obuf_rewrite(int k, char *buf, size_t cap)
{
    static const char *const names[] = {"normal", "replica", "pubsub"};
    char hard[32], soft[32];
    config_format_memory(hard, sizeof(hard), config.obuf_hard[k]);
    config_format_memory(soft, sizeof(soft), config.obuf_soft[k]);
    snprintf(buf, cap, "client-output-buffer-limit %s %s %s %lld", names[k], hard, soft,
             config.obuf_soft_secs[k]);
    return (long long)config.obuf_hard[k] != config_obuf_defaults[k][0] ||
           (long long)config.obuf_soft[k] != config_obuf_defaults[k][1] ||
           config.obuf_soft_secs[k] != config_obuf_defaults[k][2];
}

static const config_special config_obuf_special = {
    config_obuf_get,     config_obuf_set,    config_obuf_reset,
    config_obuf_parse,   config_obuf_format, 3,
    config_obuf_rewrite,
};

/* ------------------------------------------------------------------------
 * notify-keyspace-events
 * ------------------------------------------------------------------------ */

/* Class letters and their NOTIFY_* bits, in the order CONFIG GET prints
 * the classes that "A" does not cover. */
static const struct {
    char letter;
    int bits;
} config_notify_letters[] = {
    {'g', NOTIFY_GENERIC},  {'$', NOTIFY_STRING},   {'l', NOTIFY_LIST},     {'s', NOTIFY_SET},
    {'h', NOTIFY_HASH},     {'z', NOTIFY_ZSET},     {'x', NOTIFY_EXPIRED},  {'e', NOTIFY_EVICTED},
    {'t', NOTIFY_STREAM},   {'d', NOTIFY_MODULE},   {'n', NOTIFY_NEW},      {'A', NOTIFY_ALL},
    {'K', NOTIFY_KEYSPACE}, {'E', NOTIFY_KEYEVENT}, {'m', NOTIFY_KEY_MISS},
};

static void
config_notify_get(long long *v)
{
    v[0] = config.notify_keyspace_events;
}

static void
config_notify_set(const long long *v)
{
    config.notify_keyspace_events = v[0];
}

static void
config_notify_reset(void)
{
    config.notify_keyspace_events = 0;
}

static const char *
config_notify_parse(int argc, char **argv, long long *v)
{
    int flags = 0;
    if (argc != 1)
        return "wrong number of arguments";
    for (const char *s = argv[0]; *s; s++) {
        size_t i, n = sizeof(config_notify_letters) / sizeof(config_notify_letters[0]);
        for (i = 0; i < n && config_notify_letters[i].letter != *s; i++)
            ;
        if (i == n)
            return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
        flags |= config_notify_letters[i].bits;
    }
    v[0] = flags;
    return NULL;
}

/* Redis's canonical text: "A" replaces all the classes it covers (and
 * then, as in Redis, hides 'n'), then K, E and m. */
static void
config_notify_text(char *buf, size_t cap)
{
    long long f = config.notify_keyspace_events;
    size_t n = 0;
    (void)cap; /* at most 15 letters */
    if ((f & NOTIFY_ALL) == NOTIFY_ALL) {
        buf[n++] = 'A';
    } else {
        for (size_t i = 0; config_notify_letters[i].letter != 'A'; i++) {
            if (f & config_notify_letters[i].bits)
                buf[n++] = config_notify_letters[i].letter;
        }
    }
    if (f & NOTIFY_KEYSPACE)
        buf[n++] = 'K';
    if (f & NOTIFY_KEYEVENT)
        buf[n++] = 'E';
    if (f & NOTIFY_KEY_MISS)
        buf[n++] = 'm';
    buf[n] = '\0';
}

static int
config_notify_rewrite(int k, char *buf, size_t cap)
{
    char text[32];
    (void)k;
    config_notify_text(text, sizeof(text));
    snprintf(buf, cap, "notify-keyspace-events \"%s\"", text);
    return config.notify_keyspace_events != 0;
}

static const config_special config_notify_special = {
    config_notify_get,     config_notify_set,  config_notify_reset,
    config_notify_parse,   config_notify_text, 1,
    config_notify_rewrite,
};

int
config_split_args(const char *line, char ***out)
{
    size_t n = 0, cap = 8;
    char **args = util_malloc(cap * sizeof(char *));
    const char *s = line;
    for (;;) {
        char *cur;
        size_t len = 0, curcap = 16;
        int inq = 0, insq = 0, done = 0;
        while (*s && isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            break;
        cur = util_malloc(curcap);
        while (!done) {
            char ch = 0;
            int emit = 1;
            if (inq) {
                if (*s == '\\' && s[1] == 'x' && isxdigit((unsigned char)s[2]) &&
                    isxdigit((unsigned char)s[3])) {
                    char hex[3] = {s[2], s[3], 0};
                    ch = (char)strtol(hex, NULL, 16);
                    s += 3;
                } else if (*s == '\\' && s[1]) {
                    s++;
                    switch (*s) {
                    case 'n':
                        ch = '\n';
                        break;
                    case 'r':
                        ch = '\r';
                        break;
                    case 't':
                        ch = '\t';
                        break;
                    case 'b':
                        ch = '\b';
                        break;
                    case 'a':
                        ch = '\a';
                        break;
                    default:
                        ch = *s;
                        break;
                    }
                } else if (*s == '"') {
                    if (s[1] && !isspace((unsigned char)s[1]))
                        goto err;
                    done = 1;
                    emit = 0;
                } else if (*s == '\0') {
                    goto err;
                } else {
                    ch = *s;
                }
            } else if (insq) {
                if (*s == '\\' && s[1] == '\'') {
                    s++;
                    ch = '\'';
                } else if (*s == '\'') {
                    if (s[1] && !isspace((unsigned char)s[1]))
                        goto err;
                    done = 1;
                    emit = 0;
                } else if (*s == '\0') {
                    goto err;
                } else {
                    ch = *s;
                }
            } else {
                switch (*s) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0':
                    done = 1;
                    emit = 0;
                    break;
                case '"':
                    inq = 1;
                    emit = 0;
                    break;
                case '\'':
                    insq = 1;
                    emit = 0;
                    break;
                default:
                    ch = *s;
                    break;
                }
            }
            if (emit) {
                if (len + 2 > curcap) {
                    curcap *= 2;
                    cur = util_realloc(cur, curcap);
                }
                cur[len++] = ch;
            }
            if (*s)
                s++;
            continue;
        err:
            util_free(cur);
            config_free_args(args, (int)n);
            return -1;
        }
        cur[len] = '\0';
        if (n == cap) {
            cap *= 2;
            args = util_realloc(args, cap * sizeof(char *));
        }
        args[n++] = cur;
    }
    *out = args;
    return (int)n;
}

void
config_free_args(char **args, int n)
{
    for (int i = 0; i < n; i++)
        util_free(args[i]);
    util_free(args);
}

/* Stores a parsed value into p's storage (taking str); num is a vector
 * for a special parameter. */
static void
config_store(config_param *p, const long long *num, char *str)
{
    if (p->special) {
        p->special->set(num);
    } else if (p->str) {
        util_free(*p->str);
        *p->str = str;
    } else {
        *p->num = num[0];
    }
}

static int
config_load_text(char *text, char *err, size_t errlen)
{
    int lineno = 0;
    char *next;
    for (char *line = text; line; line = next) {
        char **argv;
        int argc;
        const char *why = NULL;
        config_param *p;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        while (isspace((unsigned char)*line))
            line++;
        if (*line == '#' || *line == '\0')
            continue;
        argc = config_split_args(line, &argv);
        if (argc < 0) {
            why = "Unbalanced quotes in configuration line";
        } else if (argc == 0) {
            config_free_args(argv, 0);
            continue;
        } else {
            long long num[CONFIG_VEC] = {0};
            char *str = NULL;
            p = config_find(argv[0], strlen(argv[0]));
            if (p == NULL || argc < 2)
                why = "Bad directive or wrong number of arguments";
            else if ((why = config_parse(p, argc - 1, argv + 1, num, &str)) == NULL)
                config_store(p, num, str);
            config_free_args(argv, argc);
        }
        if (why) {
            snprintf(err, errlen,
                     "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                     "Reading the configuration file, at line %d\n>>> '%s'\n%s\n",
                     lineno, line, why);
            return -1;
        }
    }
    return 0;
}

int
config_load(const char *path, const char *extra, char *err, size_t errlen)
{
    if (path) {
        FILE *f = fopen(path, "r");
        char *text, resolved[PATH_MAX];
        long size;
        int rc;
        if (f == NULL) {
            snprintf(err, errlen, "Fatal error, can't open config file '%s': %s", path,
                     strerror(errno));
            return -1;
        }
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = util_malloc((size_t)size + 1);
        size = (long)fread(text, 1, (size_t)size, f);
        text[size] = '\0';
        fclose(f);
        util_free(config_path);
        config_path = util_strdup(realpath(path, resolved) ? resolved : path);
        rc = config_load_text(text, err, errlen);
        util_free(text);
        if (rc < 0)
            return -1;
    }
    if (extra && *extra) {
        char *copy = util_strdup(extra);
        int rc = config_load_text(copy, err, errlen);
        util_free(copy);
        if (rc < 0)
            return -1;
    }
    return 0;
}

void
config_cmd_get(reply *r, int argc, const resp_arg *argv)
{
    /* Each name appears once even when several patterns match it; a
     * parameter and its alias count as two names, as in Redis 7.0 (bit 1:
     * the name was listed, bit 2: the alias was). */
    char seen[CONFIG_COUNT] = {0};
    size_t mark = reply_defer(r);
    long long n = 0;
    for (int a = 2; a < argc; a++) {
        /* A plain name (no glob characters) is looked up directly and
         * echoed as the caller spelled it, as Redis 7.0 does. */
        int plain = 1;
        for (size_t k = 0; k < argv[a].len; k++) {
            char ch = argv[a].ptr[k];
            if (ch == '*' || ch == '?' || ch == '[')
                plain = 0;
        }
        if (plain) {
            config_param *p = config_find(argv[a].ptr, argv[a].len);
            char buf[PATH_MAX];
            int bit = p && p->alias && strlen(p->alias) == argv[a].len &&
                              strncasecmp(p->alias, argv[a].ptr, argv[a].len) == 0
                          ? 2
                          : 1;
            if (p && !(seen[p - config_table] & bit)) {
                seen[p - config_table] |= (char)bit;
                reply_bulk(r, argv[a].ptr, argv[a].len);
                reply_bulk_cstr(r, config_format(p, buf, sizeof(buf)));
                n++;
            }
            continue;
        }
        for (size_t i = 0; i < CONFIG_COUNT; i++) {
            const config_param *p = &config_table[i];
            char buf[PATH_MAX];
            const char *v;
            if (p->alias && !(seen[i] & 2) &&
                util_glob_match(argv[a].ptr, argv[a].len, p->alias, strlen(p->alias), 1)) {
                seen[i] |= 2;
                reply_bulk_cstr(r, p->alias);
                reply_bulk_cstr(r, config_format(p, buf, sizeof(buf)));
                n++;
            }
            if ((seen[i] & 1) ||
                !util_glob_match(argv[a].ptr, argv[a].len, p->name, strlen(p->name), 1))
                continue;
            seen[i] |= 1;
            v = config_format(p, buf, sizeof(buf));
            reply_bulk_cstr(r, p->name);
            reply_bulk_cstr(r, v);
            n++;
        }
    }
    reply_defer_map(r, mark, n);
}

/* Saved value for the rollback of a failed CONFIG SET. */
typedef struct config_undo {
    config_param *p;           /* parameter changed */
    long long num[CONFIG_VEC]; /* old number (vector for a special parameter) */
    char *str;                 /* old string, owned */
} config_undo;

void
config_cmd_set(reply *r, int argc, const resp_arg *argv)
{
    int npairs = (argc - 2) / 2;
    config_param **params;
    long long *nums;
    char **strs;
    config_undo *undo;
    const char *why = NULL;
    int bad = -1, applied = 0;

    if ((argc - 2) % 2 != 0) {
        reply_error(r, "ERR syntax error");
        return;
    }
    params = util_calloc((size_t)npairs, sizeof(*params));
    nums = util_calloc((size_t)npairs * CONFIG_VEC, sizeof(*nums));
    strs = util_calloc((size_t)npairs, sizeof(*strs));
    undo = util_calloc((size_t)npairs, sizeof(*undo));

    /* Pass 1: every name known, no duplicates, every value valid. */
    for (int i = 0; i < npairs && !why; i++) {
        const resp_arg *name = &argv[2 + 2 * i], *val = &argv[3 + 2 * i];
        config_param *p = config_find(name->ptr, name->len);
        if (p == NULL) {
            reply_errorf(r, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                         (int)name->len, name->ptr);
            goto out;
        }
        params[i] = p;
        bad = i;
        if (p->flags & CONFIG_IMMUTABLE) {
            why = "can't set immutable config";
            break;
        }
        if ((p->flags & CONFIG_PROTECTED) && config.enable_protected_configs == 0) {
            why = "can't set protected config";
            break;
        }
        for (int j = 0; j < i; j++) {
            /* A parameter and its alias are distinct names to Redis 7.0:
             * setting both is allowed and the last one wins. */
            const resp_arg *prev = &argv[2 + 2 * j];
            if (params[j] == p && prev->len == name->len &&
                strncasecmp(prev->ptr, name->ptr, name->len) == 0)
                why = "duplicate parameter";
        }
        if (why)
            break;
        {
            char *v = util_memdup(val->ptr, val->len), **vargv;
            int vargc;
            if (p->flags & CONFIG_MULTI_ARG) {
                vargc = config_split_args(v, &vargv);
                if (vargc < 0) {
                    why = "Unbalanced quotes in configuration line";
                    util_free(v);
                    break;
                }
                why = config_parse(p, vargc, vargv, &nums[i * CONFIG_VEC], &strs[i]);
                config_free_args(vargv, vargc);
            } else {
                why = config_parse(p, 1, &v, &nums[i * CONFIG_VEC], &strs[i]);
            }
            util_free(v);
        }
    }
    if (why)
        goto fail;

    /* Pass 2: store and apply in order; roll everything back on failure. */
    for (int i = 0; i < npairs; i++) {
        config_param *p = params[i];
        undo[i].p = p;
        if (p->special)
            p->special->get(undo[i].num);
        else if (p->str)
            undo[i].str = util_strdup(*p->str);
        else
            undo[i].num[0] = *p->num;
        config_store(p, &nums[i * CONFIG_VEC], strs[i]);
        strs[i] = NULL;
        applied = i + 1;
        if (config_hook && config_hook(p->name, &why) != 0) {
            bad = i;
            break;
        }
    }
    if (why) {
        for (int i = applied - 1; i >= 0; i--) {
            config_store(undo[i].p, undo[i].num, undo[i].str);
            undo[i].str = NULL;
            if (config_hook && i != bad) {
                const char *ignored;
                config_hook(undo[i].p->name, &ignored);
            }
        }
        goto fail;
    }
    reply_ok(r);
    goto out;
fail:
    reply_errorf(r, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                 (int)argv[2 + 2 * bad].len, argv[2 + 2 * bad].ptr, why);
out:
    for (int i = 0; i < npairs; i++) {
        util_free(strs[i]);
        util_free(undo[i].str);
    }
    util_free(params);
    util_free(nums);
    util_free(strs);
    util_free(undo);
}

/* Appends the directive line for p's current value to out (line k of a
 * special parameter). */
static void
config_rewrite_line(const config_param *p, int k, FILE *out)
{
    char buf[PATH_MAX];
    if (p->special) {
        p->special->rewrite(k, buf, sizeof(buf));
        fprintf(out, "%s\n", buf);
        return;
    }
    const char *v =
        p->str && !(p->flags & CONFIG_DIR) ? *p->str : config_format(p, buf, sizeof(buf));
    if (p->str && !(p->flags & CONFIG_MULTI_ARG)) {
        /* Quote strings so spaces and special bytes survive a reload. */
        fprintf(out, "%s \"", p->name);
        for (const char *s = v; *s; s++) {
            if (*s == '"' || *s == '\\')
                fprintf(out, "\\%c", *s);
            else if (isprint((unsigned char)*s))
                fputc(*s, out);
            else
                fprintf(out, "\\x%02x", (unsigned char)*s);
        }
        fprintf(out, "\"\n");
    } else {
        fprintf(out, "%s %s\n", p->name, v);
    }
}

static int
config_is_default(const config_param *p)
{
    char buf[PATH_MAX];
    if (p->flags & CONFIG_DIR)
        return 0;
    if (p->special) {
        for (int k = 0; k < p->special->nlines; k++) {
            if (p->special->rewrite(k, buf, sizeof(buf)))
                return 0;
        }
        return 1;
    }
    if (p->str)
        return strcmp(*p->str, p->dflt_str) == 0;
    return *p->num == p->dflt;
}

void
config_cmd_rewrite(reply *r)
{
    FILE *in, *out;
    char tmp[PATH_MAX + 16], line[8192];
    char done[CONFIG_COUNT] = {0};
    int generated = 0;

    if (config_path == NULL) {
        reply_error(r, "ERR The server is running without a config file");
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", config_path, (int)getpid());
    out = fopen(tmp, "w");
    if (out == NULL) {
        reply_errorf(r, "ERR Rewriting config file: %s", strerror(errno));
        return;
    }
    in = fopen(config_path, "r");
    /* Keep comments and unknown lines where they are; replace the first
     * line of each known parameter with its current value and drop repeats. */
    while (in && fgets(line, sizeof(line), in)) {
        char **argv;
        const char *s = line;
        int argc;
        config_param *p;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '#' || *s == '\0') {
            if (strcmp(line, "# Generated by CONFIG REWRITE\n") == 0)
                generated = 1;
            fputs(line, out);
            continue;
        }
        argc = config_split_args(s, &argv);
        p = argc > 0 ? config_find(argv[0], strlen(argv[0])) : NULL;
        if (argc >= 0)
            config_free_args(argv, argc);
        if (p == NULL) {
            fputs(line, out);
            continue;
        }
        /* A special parameter with several lines (one per client class)
         * reuses the file's lines in order, as Redis does. */
        if (done[p - config_table] < (p->special ? p->special->nlines : 1))
            config_rewrite_line(p, done[p - config_table], out);
        if (done[p - config_table] < CHAR_MAX)
            done[p - config_table]++;
    }
    if (in)
        fclose(in);
    for (size_t i = 0; i < CONFIG_COUNT; i++) {
        const config_param *p = &config_table[i];
        int nlines = p->special ? p->special->nlines : 1;
        for (int k = done[i]; k < nlines; k++) {
            char buf[PATH_MAX];
            /* Lines the file did not have: only values off their default. */
            if (p->special ? !p->special->rewrite(k, buf, sizeof(buf)) : config_is_default(p))
                continue;
            if (!generated) {
                fputs("# Generated by CONFIG REWRITE\n", out);
                generated = 1;
            }
            config_rewrite_line(p, k, out);
        }
    }
    if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0 ||
        rename(tmp, config_path) != 0) {
        reply_errorf(r, "ERR Rewriting config file: %s", strerror(errno));
        unlink(tmp);
        return;
    }
    reply_ok(r);
}
