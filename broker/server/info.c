/*
 * broker/server/info: the INFO command, with Redis 7.0's sections and
 * field names so monitoring tools and clients that parse INFO work.
 *
 * Sections: server, clients, memory, persistence, stats, replication, cpu,
 * modules, commandstats, errorstats, cluster, keyspace; "default", "all"
 * and "everything" as in Redis. Not hot.
 */
#include "broker/server/server.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "broker/config/config.h"
#include "broker/persist/aof.h"
#include "broker/util/mem.h"

typedef struct info_buf {
    char *p;    /* text, owned */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} info_buf;

static void info_add(info_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
info_add(info_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len)
            break;
        b->cap = b->cap * 2 + (size_t)n + 64;
        b->p = util_realloc(b->p, b->cap);
    }
    b->len += (size_t)n;
}

static void
info_human(char *buf, size_t cap, double n)
{
    const char *units = "BKMGTP";
    int u = 0;
    if (n < 1024) {
        snprintf(buf, cap, "%.0fB", n);
        return;
    }
    while (n >= 1024 && u < 5) {
        n /= 1024;
        u++;
    }
    snprintf(buf, cap, "%.2f%c", n, units[u]);
}

static size_t
info_rss(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

static void
info_server(info_buf *b)
{
    struct utsname u;
    int64_t now = server_now_ms();
    uname(&u);
    info_add(b,
             "# Server\r\nredis_version:%s\r\nrunnel_version:%s\r\nredis_git_sha1:00000000\r\n"
             "redis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\n"
             "os:%s %s %s\r\narch_bits:%d\r\nmonotonic_clock:POSIX clock_gettime\r\n"
             "multiplexing_api:libuv %s\r\natomicvar_api:c11-builtin\r\n"
             "gcc_version:%d.%d.%d\r\nprocess_id:%d\r\nprocess_supervised:no\r\n"
             "run_id:%040llx\r\ntcp_port:%lld\r\nserver_time_usec:%lld\r\n"
             "uptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\nhz:%lld\r\nconfigured_hz:%lld\r\n"
             "lru_clock:%u\r\nexecutable:\r\nconfig_file:%s\r\nio_threads_active:0\r\n",
             RUNNEL_REDIS_COMPAT, RUNNEL_VERSION, u.sysname, u.release, u.machine,
             (int)(sizeof(long) * 8), uv_version_string(),
#ifdef __GNUC__
             __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
             0, 0, 0,
#endif
             (int)getpid(), (unsigned long long)srv.start_ms * 2654435761ULL, config.port,
             server_ustime(), (long long)(now - srv.start_ms) / 1000,
             (long long)(now - srv.start_ms) / 86400000,
             config.hz < 1     ? 1
             : config.hz > 500 ? 500
                               : config.hz,
             config.hz, (unsigned)((now / 1000) & 0xFFFFFF), config_file() ? config_file() : "");
}

static void
info_clients(info_buf *b)
{
    size_t maxin = 0, maxout = client__recent_max_obuf(server_now_ms());
    for (client *c = srv.clients; c; c = c->next) {
        if (c->qcap > maxin)
            maxin = c->qcap;
    }
    info_add(b,
             "# Clients\r\nconnected_clients:%lu\r\ncluster_connections:0\r\nmaxclients:%lld\r\n"
             "client_recent_max_input_buffer:%zu\r\nclient_recent_max_output_buffer:%zu\r\n"
             "blocked_clients:%lu\r\ntracking_clients:0\r\nclients_in_timeout_table:%lu\r\n",
             srv.nclients + bridge__count(), config.maxclients, maxin, maxout, srv.nblocked,
             srv.nblocked);
}

static void
info_memory(info_buf *b)
{
    struct mallinfo2 mi = mallinfo2();
    size_t used = mi.uordblks + mi.hblkhd, rss = info_rss();
    static size_t peak;
    char h1[32], h2[32], h3[32], h4[32];
    if (used > peak)
        peak = used;
    info_human(h1, sizeof(h1), (double)used);
    info_human(h2, sizeof(h2), (double)rss);
    info_human(h3, sizeof(h3), (double)peak);
    info_human(h4, sizeof(h4), (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE));
    info_add(b,
             "# Memory\r\nused_memory:%zu\r\nused_memory_human:%s\r\nused_memory_rss:%zu\r\n"
             "used_memory_rss_human:%s\r\nused_memory_peak:%zu\r\nused_memory_peak_human:%s\r\n"
             "total_system_memory:%lld\r\ntotal_system_memory_human:%s\r\nmaxmemory:0\r\n"
             "maxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n"
             "mem_fragmentation_ratio:%.2f\r\nmem_allocator:libc\r\n"
             "lazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
             used, h1, rss, h2, peak, h3,
             (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE), h4,
             used ? (double)rss / (double)used : 0.0);
}

static void
info_persistence(info_buf *b)
{
    char buf[4096];
    aof_info(buf, sizeof(buf));
    info_add(b, "# Persistence\r\n%s", buf);
}

static void
info_stats(info_buf *b)
{
    info_add(b,
             "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
             "instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:%llu\r\n"
             "total_net_output_bytes:%llu\r\nrejected_connections:%llu\r\n"
             "expired_keys:%llu\r\nexpired_stale_perc:%.2f\r\n"
             "expired_time_cap_reached_count:0\r\nexpire_cycle_cpu_milliseconds:%llu\r\n"
             "evicted_keys:0\r\nevicted_clients:0\r\nkeyspace_hits:%llu\r\n"
             "keyspace_misses:%llu\r\npubsub_channels:%zu\r\npubsub_patterns:%zu\r\n"
             "pubsubshard_channels:%zu\r\ntotal_error_replies:%llu\r\n",
             srv.stat_conns, srv.stat_cmds, srv.stat_net_in, srv.stat_net_out, srv.stat_rejected,
             srv.ks.expired_keys, (double)srv.ks.expired_stale_perc, srv.ks.expire_cycle_ms,
             srv.ks.hits, srv.ks.misses, pubsub_names(srv.pubsub, PUBSUB_CHANNEL),
             pubsub_names(srv.pubsub, PUBSUB_PATTERN), pubsub_names(srv.pubsub, PUBSUB_SHARD),
             srv.stat_errors);
}

static void
info_cpu(info_buf *b)
{
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    info_add(b,
             "# CPU\r\nused_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n"
             "used_cpu_sys_children:%ld.%06ld\r\nused_cpu_user_children:%ld.%06ld\r\n",
             (long)self.ru_stime.tv_sec, (long)self.ru_stime.tv_usec, (long)self.ru_utime.tv_sec,
             (long)self.ru_utime.tv_usec, (long)children.ru_stime.tv_sec,
             (long)children.ru_stime.tv_usec, (long)children.ru_utime.tv_sec,
             (long)children.ru_utime.tv_usec);
}

static void
info_cmdstat(info_buf *b, const cmd_def *d)
{
    char name[96];
    if (d->calls == 0 && d->rejected == 0 && d->failed == 0)
        return;
    info_add(b,
             "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
             "failed_calls=%llu\r\n",
             cmd_fullname(d, name, sizeof(name)), d->calls, d->usec,
             d->calls ? (double)d->usec / (double)d->calls : 0.0, d->rejected, d->failed);
}

static void
info_commandstats(info_buf *b)
{
    info_add(b, "# Commandstats\r\n");
    for (size_t i = 0; cmd_at(i); i++) {
        const cmd_def *d = cmd_at(i);
        if (d->subs) {
            for (const cmd_def *s = d->subs; s->name; s++)
                info_cmdstat(b, s);
        } else {
            info_cmdstat(b, d);
        }
    }
}

static void
info_errorstats(info_buf *b)
{
    ks_dict_iter it;
    ks_dict_entry *e;
    info_add(b, "# Errorstats\r\n");
    ks_dict_iter_start(&it, srv.errorstats);
    while ((e = ks_dict_iter_next(&it)) != NULL) {
        size_t len;
        const char *k = ks_dict_entry_key(e, &len);
        info_add(b, "errorstat_%.*s:count=%lld\r\n", (int)len, k, (long long)ks_dict_entry_s64(e));
    }
    ks_dict_iter_stop(&it);
}

static void
info_keyspace(info_buf *b)
{
    info_add(b, "# Keyspace\r\n");
    for (int i = 0; i < srv.ks.count; i++) {
        ks_db *db = &srv.ks.dbs[i];
        size_t keys = ks_dict_count(db->keys);
        if (keys == 0)
            continue;
        info_add(b, "db%d:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", i, keys,
                 ks_dict_count(db->expires), db->avg_ttl);
    }
}

enum {
    INFO_SERVER = 1 << 0,
    INFO_CLIENTS = 1 << 1,
    INFO_MEMORY = 1 << 2,
    INFO_PERSISTENCE = 1 << 3,
    INFO_STATS = 1 << 4,
    INFO_REPLICATION = 1 << 5,
    INFO_CPU = 1 << 6,
    INFO_MODULES = 1 << 7,
    INFO_COMMANDSTATS = 1 << 8,
    INFO_ERRORSTATS = 1 << 9,
    INFO_CLUSTER = 1 << 10,
    INFO_KEYSPACE = 1 << 11,
    INFO_GATEWAYS = 1 << 12, /* every gateway's section (server/bridge.c) */
};

#define INFO_DEFAULT                                                                               \
    (INFO_SERVER | INFO_CLIENTS | INFO_MEMORY | INFO_PERSISTENCE | INFO_STATS | INFO_REPLICATION | \
     INFO_CPU | INFO_MODULES | INFO_ERRORSTATS | INFO_CLUSTER | INFO_KEYSPACE)

static const struct {
    const char *name; /* section name, lowercase */
    int bits;         /* sections it selects */
} info_names[] = {
    {"server", INFO_SERVER},
    {"clients", INFO_CLIENTS},
    {"memory", INFO_MEMORY},
    {"persistence", INFO_PERSISTENCE},
    {"stats", INFO_STATS},
    {"replication", INFO_REPLICATION},
    {"cpu", INFO_CPU},
    {"modules", INFO_MODULES},
    {"commandstats", INFO_COMMANDSTATS},
    {"errorstats", INFO_ERRORSTATS},
    {"cluster", INFO_CLUSTER},
    {"keyspace", INFO_KEYSPACE},
    {"default", INFO_DEFAULT},
    {"all", INFO_DEFAULT | INFO_COMMANDSTATS | INFO_GATEWAYS},
    {"everything", INFO_DEFAULT | INFO_COMMANDSTATS | INFO_GATEWAYS},
};

void
info__cmd(cmd_ctx *c, int argc, const resp_arg *sections)
{
    info_buf b = {util_malloc(4096), 0, 4096};
    int bits = argc == 0 ? INFO_DEFAULT : 0, first = 1;
    const resp_arg *gw_one = NULL; /* one gateway's section asked by name */
    for (int i = 0; i < argc; i++) {
        for (size_t k = 0; k < sizeof(info_names) / sizeof(info_names[0]); k++) {
            if (strlen(info_names[k].name) == sections[i].len &&
                strncasecmp(info_names[k].name, sections[i].ptr, sections[i].len) == 0)
                bits |= info_names[k].bits;
        }
        if (bridge__has_section(sections[i].ptr, sections[i].len))
            gw_one = &sections[i];
    }
    b.p[0] = '\0';
#define INFO_SECTION(bit, code)                                                                    \
    if (bits & (bit)) {                                                                            \
        if (!first)                                                                                \
            info_add(&b, "\r\n");                                                                  \
        first = 0;                                                                                 \
        code;                                                                                      \
    }
    INFO_SECTION(INFO_SERVER, info_server(&b));
    INFO_SECTION(INFO_CLIENTS, info_clients(&b));
    INFO_SECTION(INFO_MEMORY, info_memory(&b));
    INFO_SECTION(INFO_PERSISTENCE, info_persistence(&b));
    INFO_SECTION(INFO_STATS, info_stats(&b));
    INFO_SECTION(INFO_REPLICATION,
                 info_add(&b, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
                              "master_failover_state:no-failover\r\nmaster_repl_offset:0\r\n"
                              "second_repl_offset:-1\r\nrepl_backlog_active:0\r\n"));
    INFO_SECTION(INFO_CPU, info_cpu(&b));
    INFO_SECTION(INFO_MODULES, info_add(&b, "# Modules\r\n"));
    INFO_SECTION(INFO_COMMANDSTATS, info_commandstats(&b));
    INFO_SECTION(INFO_ERRORSTATS, info_errorstats(&b));
    INFO_SECTION(INFO_CLUSTER, info_add(&b, "# Cluster\r\ncluster_enabled:0\r\n"));
    INFO_SECTION(INFO_KEYSPACE, info_keyspace(&b));
    if ((bits & INFO_GATEWAYS) || gw_one) {
        char gwbuf[4096];
        size_t n = (bits & INFO_GATEWAYS)
                       ? bridge__info(NULL, 0, gwbuf, sizeof(gwbuf))
                       : bridge__info(gw_one->ptr, gw_one->len, gwbuf, sizeof(gwbuf));
        if (n > 0) {
            if (!first)
                info_add(&b, "\r\n");
            first = 0;
            info_add(&b, "%s", gwbuf);
        }
    }
#undef INFO_SECTION
    reply_verbatim(c->r, b.p, b.len, "txt");
    util_free(b.p);
}
