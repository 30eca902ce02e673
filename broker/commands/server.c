/*
 * broker/commands/server: server commands: INFO, CONFIG, COMMAND, DBSIZE,
 * FLUSHDB, FLUSHALL, TIME, LASTSAVE, SLOWLOG, SHUTDOWN.
 *
 * COMMAND INFO is generated from the command table (flags, ACL
 * categories implied by flags as Redis derives them, key specs, tips) in
 * Redis 7.0's layout. Not hot.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "broker/commands/families.h"
#include "broker/config/config.h"
#include "broker/persist/aof.h"
#include "broker/util/glob.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

static const char *const server_flag_names[CMD_NFLAGS] = {
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "may_replicate",
    "sentinel",
    "only_sentinel",
    "no_mandatory_keys",
    "protected",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
};

static const char *const server_acl_names[ACL_NCATS] = {
    "keyspace", "read",   "write",       "set",       "sortedset",  "list",        "hash",
    "string",   "bitmap", "hyperloglog", "geo",       "stream",     "pubsub",      "admin",
    "fast",     "slow",   "blocking",    "dangerous", "connection", "transaction", "scripting",
};

/* ACL categories as Redis derives them: explicit ones plus those implied
 * by the flags. */
static uint64_t
server_acl_of(const cmd_def *d)
{
    uint64_t acl = d->acl;
    if (d->flags & CMD_WRITE)
        acl |= ACL_WRITE;
    if ((d->flags & CMD_READONLY) && !(acl & ACL_SCRIPTING))
        acl |= ACL_READ;
    if (d->flags & CMD_ADMIN)
        acl |= ACL_ADMIN | ACL_DANGEROUS;
    if (d->flags & CMD_PUBSUB)
        acl |= ACL_PUBSUB;
    if (d->flags & CMD_FAST)
        acl |= ACL_FAST;
    if (d->flags & CMD_BLOCKING)
        acl |= ACL_BLOCKING;
    if (!(acl & ACL_FAST))
        acl |= ACL_SLOW;
    return acl;
}

/* The key specs of d: its own, or one derived from the key positions. */
static int
server_keyspecs(const cmd_def *d, cmd_keyspec *out)
{
    int n = 0;
    while (n < 3 && d->keyspecs[n].flags) {
        out[n] = d->keyspecs[n];
        n++;
    }
    if (n == 0 && d->first_key > 0) {
        out[0].flags = (d->flags & CMD_WRITE) ? "RW update" : "RO access";
        out[0].begin = d->first_key;
        out[0].lastkey = d->last_key < 0 ? d->last_key : d->last_key - d->first_key;
        out[0].keystep = d->key_step;
        out[0].limit = 0;
        n = 1;
    }
    return n;
}

static void
server_words(reply *r, const char *words, int as_set, int simple)
{
    char buf[256];
    char *save = NULL;
    long long n = 0;
    size_t mark;
    if (words == NULL) {
        if (as_set)
            reply_set(r, 0);
        else
            reply_array(r, 0);
        return;
    }
    snprintf(buf, sizeof(buf), "%s", words);
    mark = reply_defer(r);
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (simple)
            reply_simple(r, w);
        else
            reply_bulk_cstr(r, w);
        n++;
    }
    if (as_set)
        reply_defer_set(r, mark, n);
    else
        reply_defer_array(r, mark, n);
}

static void
server_command_info(reply *r, const cmd_def *d)
{
    char name[96];
    cmd_keyspec ks[3];
    int nks = server_keyspecs(d, ks);
    uint64_t acl = server_acl_of(d);
    long long n = 0;
    size_t mark;

    reply_array(r, 10);
    reply_bulk_cstr(r, cmd_fullname(d, name, sizeof(name)));
    reply_int(r, d->arity);
    mark = reply_defer(r);
    for (int i = 0; i < CMD_NFLAGS; i++) {
        if (d->flags & (1u << i)) {
            reply_simple(r, server_flag_names[i]);
            n++;
        }
    }
    reply_defer_set(r, mark, n);
    reply_int(r, d->first_key);
    reply_int(r, d->last_key);
    reply_int(r, d->key_step);
    n = 0;
    mark = reply_defer(r);
    for (int i = 0; i < ACL_NCATS; i++) {
        if (acl & (1ull << i)) {
            char cat[32];
            snprintf(cat, sizeof(cat), "@%s", server_acl_names[i]);
            reply_simple(r, cat);
            n++;
        }
    }
    reply_defer_set(r, mark, n);
    server_words(r, d->tips, 1, 0);
    reply_set(r, nks);
    for (int i = 0; i < nks; i++) {
        reply_map(r, ks[i].notes ? 4 : 3);
        if (ks[i].notes) {
            reply_bulk_cstr(r, "notes");
            reply_bulk_cstr(r, ks[i].notes);
        }
        reply_bulk_cstr(r, "flags");
        server_words(r, ks[i].flags, 1, 1);
        reply_bulk_cstr(r, "begin_search");
        reply_map(r, 2);
        reply_bulk_cstr(r, "type");
        if (ks[i].keyword) {
            reply_bulk_cstr(r, "keyword");
            reply_bulk_cstr(r, "spec");
            reply_map(r, 2);
            reply_bulk_cstr(r, "keyword");
            reply_bulk_cstr(r, ks[i].keyword);
            reply_bulk_cstr(r, "startfrom");
            reply_int(r, ks[i].startfrom);
        } else {
            reply_bulk_cstr(r, "index");
            reply_bulk_cstr(r, "spec");
            reply_map(r, 1);
            reply_bulk_cstr(r, "index");
            reply_int(r, ks[i].begin);
        }
        reply_bulk_cstr(r, "find_keys");
        reply_map(r, 2);
        reply_bulk_cstr(r, "type");
        reply_bulk_cstr(r, "range");
        reply_bulk_cstr(r, "spec");
        reply_map(r, 3);
        reply_bulk_cstr(r, "lastkey");
        reply_int(r, ks[i].lastkey);
        reply_bulk_cstr(r, "keystep");
        reply_int(r, ks[i].keystep);
        reply_bulk_cstr(r, "limit");
        reply_int(r, ks[i].limit);
    }
    n = 0;
    for (const cmd_def *s = d->subs; s && s->name; s++)
        n++;
    reply_set(r, n);
    for (const cmd_def *s = d->subs; s && s->name; s++)
        server_command_info(r, s);
}

static void
server_command_docs(reply *r, const cmd_def *d)
{
    long long nsubs = 0;
    for (const cmd_def *s = d->subs; s && s->name; s++)
        nsubs++;
    reply_map(r, nsubs ? 5 : 4);
    reply_bulk_cstr(r, "summary");
    reply_bulk_cstr(r, d->summary);
    reply_bulk_cstr(r, "since");
    reply_bulk_cstr(r, d->since);
    reply_bulk_cstr(r, "group");
    reply_bulk_cstr(r, d->group);
    reply_bulk_cstr(r, "complexity");
    reply_bulk_cstr(r, d->complexity);
    if (nsubs) {
        char name[96];
        reply_bulk_cstr(r, "subcommands");
        reply_map(r, nsubs);
        for (const cmd_def *s = d->subs; s->name; s++) {
            reply_bulk_cstr(r, cmd_fullname(s, name, sizeof(name)));
            server_command_docs(r, s);
        }
    }
}

/* Finds "get" or "config|get" (any case). */
static const cmd_def *
server_find_cmd(const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    cmd_def *d;
    if (bar == NULL)
        return cmd_lookup(name, len);
    d = cmd_lookup(name, (size_t)(bar - name));
    if (d == NULL || d->subs == NULL)
        return NULL;
    return cmd_lookup_sub(d, bar + 1, len - (size_t)(bar - name) - 1);
}

static void
server_getkeys(cmd_ctx *c, int with_flags)
{
    const cmd_def *d = cmd_lookup(c->argv[2].ptr, c->argv[2].len);
    int argc = c->argc - 2;
    const resp_arg *argv = c->argv + 2;
    cmd_keyspec ks[3];
    int nks;
    long long n = 0;
    size_t mark;
    if (d && d->subs && argc >= 2)
        d = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
    if (d == NULL) {
        reply_error(c->r, "ERR Invalid command specified");
        return;
    }
    if ((d->arity > 0 && argc != d->arity) || (d->arity < 0 && argc < -d->arity)) {
        reply_error(c->r, "ERR Invalid number of arguments specified for command");
        return;
    }
    nks = server_keyspecs(d, ks);
    if (nks == 0) {
        reply_error(c->r, "ERR The command has no key arguments");
        return;
    }
    mark = reply_defer(c->r);
    for (int s = 0; s < nks; s++) {
        int first = ks[s].begin, last;
        if (ks[s].keyword) {
            /* The keys start after the keyword, searched from startfrom. */
            int step = ks[s].startfrom >= 0 ? 1 : -1;
            int i = ks[s].startfrom >= 0 ? ks[s].startfrom : argc + ks[s].startfrom;
            size_t kwlen = strlen(ks[s].keyword);
            first = 0;
            for (; i > 0 && i < argc; i += step) {
                if (argv[i].len == kwlen && strncasecmp(argv[i].ptr, ks[s].keyword, kwlen) == 0) {
                    first = i + 1;
                    break;
                }
            }
            if (first == 0 || first >= argc)
                continue;
        }
        last = ks[s].lastkey < 0 ? argc + ks[s].lastkey : first + ks[s].lastkey;
        if (ks[s].limit > 1)
            last = first + (last - first + 1) / ks[s].limit - 1;
        for (int i = first; i <= last && i < argc; i += ks[s].keystep) {
            if (with_flags) {
                reply_array(c->r, 2);
                reply_bulk(c->r, argv[i].ptr, argv[i].len);
                server_words(c->r, ks[s].flags, 1, 1);
            } else {
                reply_bulk(c->r, argv[i].ptr, argv[i].len);
            }
            n++;
        }
    }
    reply_defer_array(c->r, mark, n);
}

static void
server_help(reply *r, const char *const *lines)
{
    long long n = 0;
    while (lines[n])
        n++;
    reply_array(r, n);
    for (long long i = 0; i < n; i++)
        reply_simple(r, lines[i]);
}

static const char *const server_command_help[] = {
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Print this help.",
    NULL,
};

static void
cmd_command(cmd_ctx *c)
{
    const char *sub = c->argc == 1 ? "" : c->cmd->name;
    if (c->argc == 1 || (strcmp(sub, "info") == 0 && c->argc == 2)) {
        reply_array(c->r, (long long)cmd_count());
        for (size_t i = 0; cmd_at(i); i++)
            server_command_info(c->r, cmd_at(i));
    } else if (strcmp(sub, "count") == 0) {
        reply_int(c->r, (long long)cmd_count());
    } else if (strcmp(sub, "info") == 0) {
        reply_array(c->r, c->argc - 2);
        for (int i = 2; i < c->argc; i++) {
            const cmd_def *d = server_find_cmd(c->argv[i].ptr, c->argv[i].len);
            if (d)
                server_command_info(c->r, d);
            else
                reply_null(c->r);
        }
    } else if (strcmp(sub, "docs") == 0) {
        size_t mark = reply_defer(c->r);
        long long n = 0;
        char name[96];
        if (c->argc == 2) {
            for (size_t i = 0; cmd_at(i); i++, n++) {
                reply_bulk_cstr(c->r, cmd_at(i)->name);
                server_command_docs(c->r, cmd_at(i));
            }
        }
        for (int i = 2; i < c->argc; i++) {
            const cmd_def *d = server_find_cmd(c->argv[i].ptr, c->argv[i].len);
            if (d == NULL)
                continue;
            reply_bulk_cstr(c->r, cmd_fullname(d, name, sizeof(name)));
            server_command_docs(c->r, d);
            n++;
        }
        reply_defer_map(c->r, mark, n);
    } else if (strcmp(sub, "getkeys") == 0) {
        server_getkeys(c, 0);
    } else if (strcmp(sub, "getkeysandflags") == 0) {
        server_getkeys(c, 1);
    } else if (strcmp(sub, "list") == 0) {
        int mode = 0; /* 0 all, 1 aclcat, 2 pattern, 3 module */
        const resp_arg *arg = NULL;
        size_t mark;
        long long n = 0;
        char name[96];
        if (c->argc == 5 && cmd_arg_is(c, 2, "filterby")) {
            arg = &c->argv[4];
            if (cmd_arg_is(c, 3, "aclcat"))
                mode = 1;
            else if (cmd_arg_is(c, 3, "pattern"))
                mode = 2;
            else if (cmd_arg_is(c, 3, "module"))
                mode = 3;
            else {
                cmd_reply_syntax(c);
                return;
            }
        } else if (c->argc != 2) {
            cmd_reply_syntax(c);
            return;
        }
        mark = reply_defer(c->r);
        for (size_t i = 0; cmd_at(i); i++) {
            const cmd_def *top = cmd_at(i);
            for (const cmd_def *d = top; d;
                 d = d == top ? (top->subs && top->subs->name ? top->subs : NULL)
                              : (d[1].name ? d + 1 : NULL)) {
                int ok = 1;
                cmd_fullname(d, name, sizeof(name));
                if (mode == 1) {
                    uint64_t acl = server_acl_of(d);
                    ok = 0;
                    for (int k = 0; k < ACL_NCATS; k++) {
                        if ((acl & (1ull << k)) && strlen(server_acl_names[k]) == arg->len &&
                            strncasecmp(server_acl_names[k], arg->ptr, arg->len) == 0)
                            ok = 1;
                    }
                } else if (mode == 2) {
                    ok = util_glob_match(arg->ptr, arg->len, name, strlen(name), 1);
                } else if (mode == 3) {
                    ok = 0;
                }
                if (ok) {
                    reply_bulk_cstr(c->r, name);
                    n++;
                }
            }
        }
        reply_defer_array(c->r, mark, n);
    } else {
        server_help(c->r, server_command_help);
    }
}

static void
cmd_info(cmd_ctx *c)
{
    c->host->info(c, c->argc - 1, c->argv + 1);
}

static const char *const server_config_help[] = {
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
    NULL,
};

static void
cmd_config(cmd_ctx *c)
{
    const char *sub = c->cmd->name;
    if (strcmp(sub, "get") == 0) {
        config_cmd_get(c->r, c->argc, c->argv);
    } else if (strcmp(sub, "set") == 0) {
        config_cmd_set(c->r, c->argc, c->argv);
    } else if (strcmp(sub, "resetstat") == 0) {
        c->host->stats_reset();
        reply_ok(c->r);
    } else if (strcmp(sub, "rewrite") == 0) {
        config_cmd_rewrite(c->r);
    } else {
        server_help(c->r, server_config_help);
    }
}

static void
cmd_dbsize(cmd_ctx *c)
{
    reply_int(c->r, (long long)ks_dict_count(c->db->keys));
}

/* Parses the optional ASYNC|SYNC of FLUSHDB/FLUSHALL. */
static int
server_flush_args(cmd_ctx *c)
{
    if (c->argc == 1)
        return 0;
    if (c->argc == 2 && (cmd_arg_is(c, 1, "async") || cmd_arg_is(c, 1, "sync")))
        return 0;
    return cmd_reply_syntax(c);
}

static void
cmd_flushdb(cmd_ctx *c)
{
    if (server_flush_args(c) < 0)
        return;
    cmd_watch_touch_db(c->db, NULL, c->now_ms);
    c->dirty += (long long)ks_flush(c->db);
    ks_block_signal_db(&c->ks->blocking, c->db->id);
    reply_ok(c->r);
}

static void
cmd_flushall(cmd_ctx *c)
{
    if (server_flush_args(c) < 0)
        return;
    for (int i = 0; i < c->ks->count; i++) {
        cmd_watch_touch_db(&c->ks->dbs[i], NULL, c->now_ms);
        c->dirty += (long long)ks_flush(&c->ks->dbs[i]);
        ks_block_signal_db(&c->ks->blocking, i);
    }
    c->dirty++;
    reply_ok(c->r);
}

static void
cmd_time(cmd_ctx *c)
{
    long long us = c->now_ms * 1000;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    reply_array(c->r, 2);
    reply_bulk_ll(c->r, us / 1000000);
    reply_bulk_ll(c->r, us % 1000000);
}

static void
cmd_lastsave(cmd_ctx *c)
{
    reply_int(c->r, c->host->lastsave());
}

static void
cmd_slowlog(cmd_ctx *c)
{
    c->host->slowlog(c);
}

static void
cmd_shutdown(cmd_ctx *c)
{
    int save = 0, nosave = 0, now = 0, force = 0, abort_ = 0;
    for (int i = 1; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "nosave"))
            nosave = 1;
        else if (cmd_arg_is(c, i, "save"))
            save = 1;
        else if (cmd_arg_is(c, i, "now"))
            now = 1;
        else if (cmd_arg_is(c, i, "force"))
            force = 1;
        else if (cmd_arg_is(c, i, "abort"))
            abort_ = 1;
        else {
            cmd_reply_syntax(c);
            return;
        }
    }
    if ((abort_ && c->argc != 2) || (save && nosave)) {
        cmd_reply_syntax(c);
        return;
    }
    c->host->shutdown(c, save, nosave, now, force, abort_);
}

/* SAVE: a foreground snapshot of dbfilename. */
static void
cmd_save(cmd_ctx *c)
{
    int rc = aof_save();
    if (rc == AOF_BUSY_SAME)
        reply_error(c->r, "ERR Background save already in progress");
    else if (rc != AOF_OK)
        reply_error(c->r, "ERR");
    else
        reply_ok(c->r);
}

/* BGSAVE [SCHEDULE]. */
static void
cmd_bgsave(cmd_ctx *c)
{
    int schedule = 0, rc;
    if (c->argc > 1) {
        if (c->argc != 2 || !cmd_arg_is(c, 1, "schedule")) {
            cmd_reply_syntax(c);
            return;
        }
        schedule = 1;
    }
    rc = aof_bgsave(schedule);
    if (rc == AOF_OK)
        reply_simple(c->r, "Background saving started");
    else if (rc == AOF_SCHEDULED)
        reply_simple(c->r, "Background saving scheduled");
    else if (rc == AOF_BUSY_SAME)
        reply_error(c->r, "ERR Background save already in progress");
    else if (rc == AOF_BUSY_OTHER)
        reply_error(c->r, "ERR Another child process is active (AOF?): can't BGSAVE right now. "
                          "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
    else
        reply_error(c->r, "ERR");
}

static void
cmd_bgrewriteaof(cmd_ctx *c)
{
    int rc = aof_bgrewrite();
    if (rc == AOF_OK)
        reply_simple(c->r, "Background append only file rewriting started");
    else if (rc == AOF_SCHEDULED)
        reply_simple(c->r, "Background append only file rewriting scheduled");
    else if (rc == AOF_BUSY_SAME)
        reply_error(c->r, "ERR Background append only file rewriting already in progress");
    else
        reply_error(c->r, "ERR Can't execute an AOF background rewriting. Please check the server "
                          "logs for more information.");
}

/* DEBUG RELOAD | LOADAOF; every other subcommand is unknown here. */
static void
cmd_debug(cmd_ctx *c)
{
    if (config.enable_debug_command == 0) {
        reply_error(c->r, "ERR DEBUG command not allowed. If the enable-debug-command option is "
                          "set to \"local\", you can run it from a local connection, otherwise "
                          "you need to set this option in the configuration file, and then "
                          "restart the server.");
        return;
    }
    if (c->argc == 2 && cmd_arg_is(c, 1, "reload")) {
        if (aof_debug_reload() != AOF_OK)
            reply_error(c->r, "ERR Error trying to load the RDB dump, check server logs.");
        else
            reply_ok(c->r);
    } else if (c->argc == 2 && cmd_arg_is(c, 1, "loadaof")) {
        if (aof_debug_loadaof() != AOF_OK)
            reply_error(c->r, "ERR Error loading the append only file, check server logs.");
        else
            reply_ok(c->r);
    } else {
        reply_errorf(c->r,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                     "DEBUG HELP.",
                     (int)(c->argv[1].len < 128 ? c->argv[1].len : 128), c->argv[1].ptr);
    }
}

#define SRV_ADMIN (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

static cmd_def cmd_config_subs[] = {
    {"get", cmd_config, -3, SRV_ADMIN, 0, 0, 0, 0, "Get the values of configuration parameters",
     "2.0.0", "server", "O(N) when N is the number of configuration parameters provided"},
    {"help", cmd_config, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, 0,
     "Show helpful text about the different subcommands", "5.0.0", "server", "O(1)"},
    {"resetstat", cmd_config, 2, SRV_ADMIN, 0, 0, 0, 0, "Reset the stats returned by INFO", "2.0.0",
     "server", "O(1)"},
    {"rewrite", cmd_config, 2, SRV_ADMIN, 0, 0, 0, 0,
     "Rewrite the configuration file with the in memory configuration", "2.8.0", "server", "O(1)"},
    {"set",
     cmd_config,
     -4,
     SRV_ADMIN,
     0,
     0,
     0,
     0,
     "Set configuration parameters to the given values",
     "2.0.0",
     "server",
     "O(N) when N is the number of configuration parameters provided",
     NULL,
     {{0}},
     "request_policy:all_nodes response_policy:all_succeeded"},
    {0},
};

#define CMD_RO_INFO (CMD_LOADING | CMD_STALE)

static cmd_def cmd_command_subs[] = {
    {"count", cmd_command, 2, CMD_RO_INFO, ACL_CONNECTION, 0, 0, 0,
     "Get total number of Redis commands", "2.8.13", "server", "O(1)"},
    {"docs",
     cmd_command,
     -2,
     CMD_RO_INFO,
     ACL_CONNECTION,
     0,
     0,
     0,
     "Get array of specific Redis command documentation",
     "7.0.0",
     "server",
     "O(N) where N is the number of commands to look up",
     NULL,
     {{0}},
     "nondeterministic_output_order"},
    {"getkeys", cmd_command, -4, CMD_RO_INFO, ACL_CONNECTION, 0, 0, 0,
     "Extract keys given a full Redis command", "2.8.13", "server",
     "O(N) where N is the number of arguments to the command"},
    {"getkeysandflags", cmd_command, -4, CMD_RO_INFO, ACL_CONNECTION, 0, 0, 0,
     "Extract keys and access flags given a full Redis command", "7.0.0", "server",
     "O(N) where N is the number of arguments to the command"},
    {"help", cmd_command, 2, CMD_RO_INFO, ACL_CONNECTION, 0, 0, 0,
     "Show helpful text about the different subcommands", "5.0.0", "server", "O(1)"},
    {"info",
     cmd_command,
     -2,
     CMD_RO_INFO,
     ACL_CONNECTION,
     0,
     0,
     0,
     "Get array of specific Redis command details, or all when no argument is given.",
     "2.8.13",
     "server",
     "O(N) where N is the number of commands to look up",
     NULL,
     {{0}},
     "nondeterministic_output_order"},
    {"list",
     cmd_command,
     -2,
     CMD_RO_INFO,
     ACL_CONNECTION,
     0,
     0,
     0,
     "Get an array of Redis command names",
     "7.0.0",
     "server",
     "O(N) where N is the total number of Redis commands",
     NULL,
     {{0}},
     "nondeterministic_output_order"},
    {0},
};

static cmd_def cmd_slowlog_subs[] = {
    {"get",
     cmd_slowlog,
     -2,
     CMD_ADMIN | CMD_LOADING | CMD_STALE,
     0,
     0,
     0,
     0,
     "Get the slow log's entries",
     "2.2.12",
     "server",
     "O(N) where N is the number of entries returned",
     NULL,
     {{0}},
     "request_policy:all_nodes nondeterministic_output"},
    {"help", cmd_slowlog, 2, CMD_LOADING | CMD_STALE, 0, 0, 0, 0,
     "Show helpful text about the different subcommands", "6.2.0", "server", "O(1)"},
    {"len",
     cmd_slowlog,
     2,
     CMD_ADMIN | CMD_LOADING | CMD_STALE,
     0,
     0,
     0,
     0,
     "Get the slow log's length",
     "2.2.12",
     "server",
     "O(1)",
     NULL,
     {{0}},
     "request_policy:all_nodes response_policy:agg_sum nondeterministic_output"},
    {"reset",
     cmd_slowlog,
     2,
     CMD_ADMIN | CMD_LOADING | CMD_STALE,
     0,
     0,
     0,
     0,
     "Clear all entries from the slow log",
     "2.2.12",
     "server",
     "O(N) where N is the number of entries in the slowlog",
     NULL,
     {{0}},
     "request_policy:all_nodes response_policy:all_succeeded"},
    {0},
};

cmd_def cmd_server_defs[] = {
    {"info",
     cmd_info,
     -1,
     CMD_LOADING | CMD_STALE,
     ACL_DANGEROUS,
     0,
     0,
     0,
     "Get information and statistics about the server",
     "1.0.0",
     "server",
     "O(1)",
     NULL,
     {{0}},
     "nondeterministic_output request_policy:all_shards response_policy:special"},
    {"config", NULL, -2, 0, 0, 0, 0, 0, "A container for server configuration commands", "2.0.0",
     "server", "Depends on subcommand.", cmd_config_subs},
    {"command",
     cmd_command,
     -1,
     CMD_LOADING | CMD_STALE,
     ACL_CONNECTION,
     0,
     0,
     0,
     "Get array of Redis command details",
     "2.8.13",
     "server",
     "O(N) where N is the total number of Redis commands",
     cmd_command_subs,
     {{0}},
     "nondeterministic_output_order"},
    {"dbsize",
     cmd_dbsize,
     1,
     CMD_READONLY | CMD_FAST,
     ACL_KEYSPACE,
     0,
     0,
     0,
     "Return the number of keys in the selected database",
     "1.0.0",
     "server",
     "O(1)",
     NULL,
     {{0}},
     "request_policy:all_shards response_policy:agg_sum"},
    {"flushdb",
     cmd_flushdb,
     -1,
     CMD_WRITE,
     ACL_KEYSPACE | ACL_DANGEROUS,
     0,
     0,
     0,
     "Remove all keys from the current database",
     "1.0.0",
     "server",
     "O(N) where N is the number of keys in the selected database",
     NULL,
     {{0}},
     "request_policy:all_shards response_policy:all_succeeded"},
    {"flushall",
     cmd_flushall,
     -1,
     CMD_WRITE,
     ACL_KEYSPACE | ACL_DANGEROUS,
     0,
     0,
     0,
     "Remove all keys from all databases",
     "1.0.0",
     "server",
     "O(N) where N is the total number of keys in all databases",
     NULL,
     {{0}},
     "request_policy:all_shards response_policy:all_succeeded"},
    {"time",
     cmd_time,
     1,
     CMD_LOADING | CMD_STALE | CMD_FAST,
     0,
     0,
     0,
     0,
     "Return the current server time",
     "2.6.0",
     "server",
     "O(1)",
     NULL,
     {{0}},
     "nondeterministic_output"},
    {"lastsave",
     cmd_lastsave,
     1,
     CMD_LOADING | CMD_STALE | CMD_FAST,
     ACL_ADMIN | ACL_DANGEROUS,
     0,
     0,
     0,
     "Get the UNIX time stamp of the last successful save to disk",
     "1.0.0",
     "server",
     "O(1)",
     NULL,
     {{0}},
     "nondeterministic_output"},
    {"slowlog", NULL, -2, 0, 0, 0, 0, 0, "A container for slow log commands", "2.2.12", "server",
     "Depends on subcommand.", cmd_slowlog_subs},
    {"shutdown", cmd_shutdown, -1,
     CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_NO_MULTI | CMD_ALLOW_BUSY, 0, 0, 0, 0,
     "Synchronously save the dataset to disk and then shut down the server", "1.0.0", "server",
     "O(N) when saving, where N is the total number of keys in all databases when saving data, "
     "otherwise O(1)"},
    {"save", cmd_save, 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING | CMD_NO_MULTI, 0, 0, 0,
     0, "Synchronously save the dataset to disk", "1.0.0", "server",
     "O(N) where N is the total number of keys in all databases"},
    {"bgsave", cmd_bgsave, -1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING, 0, 0, 0, 0,
     "Asynchronously save the dataset to disk", "1.0.0", "server", "O(1)"},
    {"bgrewriteaof", cmd_bgrewriteaof, 1, CMD_ADMIN | CMD_NOSCRIPT | CMD_NO_ASYNC_LOADING, 0, 0, 0,
     0, "Asynchronously rewrite the append-only file", "1.0.0", "server", "O(1)"},
    {"debug", cmd_debug, -2, CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE, 0, 0, 0, 0,
     "A container for debugging commands", "1.0.0", "server", "Depends on subcommand."},
    {0},
};
