/*
 * runnel-server: process entry point.
 *
 * Usage: runnel-server [/path/to/runnel.conf] [--name value ...]
 * Options on the command line are applied after the file, one directive
 * each, so they override it (as redis-server does). With no file the
 * embedded defaults serve: port 6379 on 127.0.0.1, data under ./data.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "broker/config/config.h"
#include "broker/persist/aof.h"
#include "broker/persist/snapshot.h"
#include "broker/script/script.h"
#include "broker/server/server.h"
#include "broker/util/mem.h"

/* Creates dir and its parents (mkdir -p). */
static int
main_mkdirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path))
        return -1;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            char save = path[i];
            path[i] = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                return -1;
            path[i] = save;
        }
    }
    return 0;
}

static void
main_usage(void)
{
    fprintf(stderr, "Usage: ./runnel-server [/path/to/runnel.conf] [options]\n"
                    "       ./runnel-server - (read config from stdin)\n"
                    "       ./runnel-server -v or --version\n"
                    "       ./runnel-server -h or --help\n\n"
                    "Examples:\n"
                    "       ./runnel-server (run the server with default conf)\n"
                    "       ./runnel-server /etc/runnel/6379.conf\n"
                    "       ./runnel-server --port 7777\n"
                    "       ./runnel-server /etc/myrunnel.conf --loglevel verbose\n");
}

/* Turns "--port 7777 --bind a b" into "port 7777\nbind a b\n", quoting
 * each value so spaces survive the config parser. */
static char *
main_options(int argc, char **argv, int first)
{
    size_t cap = 256, len = 0;
    char *out = util_malloc(cap);
    out[0] = '\0';
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        size_t need = strlen(a) * 4 + 8;
        if (len + need >= cap) {
            cap = (len + need) * 2;
            out = util_realloc(out, cap);
        }
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            if (len)
                out[len++] = '\n';
            len += (size_t)sprintf(out + len, "%s", a + 2);
        } else {
            /* A value: double-quote and escape it. */
            out[len++] = ' ';
            out[len++] = '"';
            for (const char *s = a; *s; s++) {
                if (*s == '"' || *s == '\\')
                    out[len++] = '\\';
                out[len++] = *s;
            }
            out[len++] = '"';
        }
        out[len] = '\0';
    }
    return out;
}

/* Snapshots carry the function libraries when there are any. */
static char *
main_functions_dump(size_t *len)
{
    return script_functions_count() > 0 ? script_functions_payload(len) : NULL;
}

static void
main_daemonize(void)
{
    int fd;
    if (fork() != 0)
        exit(0);
    setsid();
    if ((fd = open("/dev/null", O_RDWR, 0)) != -1) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
}

static void
main_host_shutdown(cmd_ctx *c, int save, int nosave, int now, int force, int abort_)
{
    (void)now;
    if (abort_) {
        reply_error(c->r, "ERR No shutdown in progress.");
        return;
    }
    if (aof_shutdown(save, nosave) != AOF_OK && !force) {
        reply_error(c->r, "ERR Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    srv.exit_code = 0;
    loop__shutdown();
}

static long long
main_host_lastsave(void)
{
    return aof_lastsave();
}

int
main(int argc, char **argv)
{
    const char *file = NULL;
    char *extra, err[2048];
    int first = 1, rc;

    if (argc >= 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        printf("Runnel server v=%s (Redis %s compatible)\n", RUNNEL_VERSION, RUNNEL_REDIS_COMPAT);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        main_usage();
        return 0;
    }
    if (argc >= 2 && argv[1][0] != '-') {
        file = argv[1];
        first = 2;
    }
    config_init();
    extra = main_options(argc, argv, first);
    rc = config_load(file, extra, err, sizeof(err));
    util_free(extra);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        config_fini();
        return 1;
    }
    if (config.daemonize)
        main_daemonize();
    if (main_mkdirs(config.dir) != 0 || chdir(config.dir) != 0) {
        fprintf(stderr, "Can't chdir to '%s': %s\n", config.dir, strerror(errno));
        config_fini();
        return 1;
    }
    if (config.pidfile[0]) {
        FILE *f = fopen(config.pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    signal(SIGPIPE, SIG_IGN);

    srv.start_ms = server_now_ms();
    srv.lastsave = srv.start_ms / 1000;
    srv.errorstats = ks_dict_new();
    srv.clients_by_id = ks_dict_new();
    srv.host.info = info__cmd;
    srv.host.client = client__cmd;
    srv.host.shutdown = main_host_shutdown;
    srv.host.monitor = client__monitor;
    srv.host.reset = client__reset;
    srv.host.stats_reset = dispatch__reset_stats;
    srv.host.slowlog = dispatch__slowlog_cmd;
    srv.host.lastsave = main_host_lastsave;
    srv.host.block = blocked__block;
    srv.host.propagate = aof_feed;
    srv.host.exec = dispatch__exec;
    srv.host.script_call = scriptrun__call;
    srv.host.script_begin = scriptrun__begin;
    srv.host.script_end = scriptrun__end;
    srv.host.script_yield = scriptrun__yield;
    srv.host.log = scriptrun__log;
    srv.host.script_monitor = scriptrun__monitor;
    config_set_apply_hook(loop__config_apply);
    ks_space_init(&srv.ks, (int)config.databases);
    cmd_table_init();
    if (script_init() != 0) {
        fprintf(stderr, "Can't create the Lua states: out of memory\n");
        return 1;
    }
    snap_set_functions_hooks(main_functions_dump, script_functions_restore);

    server_log(CONFIG_LL_NOTICE, "Runnel %s starting, pid=%d, port=%lld", RUNNEL_VERSION,
               (int)getpid(), config.port);
    rc = loop_run();

    script_fini();
    cmd_table_fini();
    ks_space_fini(&srv.ks);
    ks_dict_free(srv.errorstats, NULL);
    ks_dict_free(srv.clients_by_id, NULL);
    dispatch__slowlog_free();
    config_fini();
    return rc;
}
