/*
 * broker/commands/conn: connection commands: PING, ECHO, HELLO, AUTH,
 * SELECT, SWAPDB, QUIT, RESET, CLIENT, MONITOR.
 *
 * These change the caller's session (protocol, database, name, auth);
 * what needs the list of clients goes through cmd_host. Not hot except
 * PING.
 */
#include <string.h>

#include "broker/commands/families.h"
#include "broker/config/config.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

static void
cmd_ping(cmd_ctx *c)
{
    if (c->argc > 2) {
        reply_error(c->r, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->argc == 2)
        reply_bulk(c->r, c->argv[1].ptr, c->argv[1].len);
    else
        reply_simple(c->r, "PONG");
}

static void
cmd_echo(cmd_ctx *c)
{
    reply_bulk(c->r, c->argv[1].ptr, c->argv[1].len);
}

/* Checks a password for the default user: with no requirepass the
 * default user is "nopass" and any password is accepted. */
static int
conn_password_ok(const resp_arg *user, const resp_arg *pass)
{
    size_t n = strlen(config.requirepass);
    if (user && !(user->len == 7 && memcmp(user->ptr, "default", 7) == 0))
        return 0;
    if (n == 0)
        return 1;
    return pass->len == n && memcmp(pass->ptr, config.requirepass, n) == 0;
}

static void
cmd_auth(cmd_ctx *c)
{
    const resp_arg *user = NULL, *pass;
    if (c->argc > 3) {
        cmd_reply_syntax(c);
        return;
    }
    if (c->argc == 3)
        user = &c->argv[1];
    pass = &c->argv[c->argc - 1];
    if (user == NULL && config.requirepass[0] == '\0') {
        reply_error(c->r, "ERR AUTH <password> called without any password configured for the "
                          "default user. Are you sure your configuration is correct?");
        return;
    }
    if (!conn_password_ok(user, pass)) {
        reply_error(c->r, "WRONGPASS invalid username-password pair or user is disabled.");
        return;
    }
    c->sess->authed = 1;
    reply_ok(c->r);
}

static void
cmd_hello(cmd_ctx *c)
{
    long long ver = c->sess->resp;
    const resp_arg *user = NULL, *pass = NULL, *name = NULL;
    if (c->argc >= 2) {
        if (!util_str2ll(c->argv[1].ptr, c->argv[1].len, &ver)) {
            reply_error(c->r, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_error(c->r, "NOPROTO unsupported protocol version");
            return;
        }
    }
    for (int i = 2; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (cmd_arg_is(c, i, "auth") && more >= 2) {
            user = &c->argv[i + 1];
            pass = &c->argv[i + 2];
            i += 2;
        } else if (cmd_arg_is(c, i, "setname") && more >= 1) {
            name = &c->argv[i + 1];
            if (!cmd_client_name_ok(name)) {
                reply_error(c->r, "ERR Client names cannot contain spaces, newlines or special "
                                  "characters.");
                return;
            }
            i += 1;
        } else {
            reply_errorf(c->r, "ERR Syntax error in HELLO option '%.*s'", (int)c->argv[i].len,
                         c->argv[i].ptr);
            return;
        }
    }
    if (user) {
        if (!conn_password_ok(user, pass)) {
            reply_error(c->r, "WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        c->sess->authed = 1;
    }
    if (!c->sess->authed) {
        reply_error(c->r, "NOAUTH HELLO must be called with the client already authenticated, "
                          "otherwise the HELLO AUTH <user> <pass> option can be used to "
                          "authenticate the client and select the RESP protocol version at the "
                          "same time");
        return;
    }
    if (name) {
        util_free(c->sess->name);
        c->sess->name = name->len ? util_memdup(name->ptr, name->len) : NULL;
    }
    c->sess->resp = (int)ver;
    c->r->resp = (int)ver;
    reply_map(c->r, 7);
    reply_bulk_cstr(c->r, "server");
    reply_bulk_cstr(c->r, "redis");
    reply_bulk_cstr(c->r, "version");
    reply_bulk_cstr(c->r, "7.0.15");
    reply_bulk_cstr(c->r, "proto");
    reply_int(c->r, ver);
    reply_bulk_cstr(c->r, "id");
    reply_int(c->r, (long long)c->sess->id);
    reply_bulk_cstr(c->r, "mode");
    reply_bulk_cstr(c->r, "standalone");
    reply_bulk_cstr(c->r, "role");
    reply_bulk_cstr(c->r, "master");
    reply_bulk_cstr(c->r, "modules");
    reply_empty_array(c->r);
}

static void
cmd_select(cmd_ctx *c)
{
    long long id;
    if (cmd_get_ll_or_reply(c, 1, &id, NULL) < 0)
        return;
    if (id < 0 || id >= c->ks->count) {
        reply_error(c->r, "ERR DB index is out of range");
        return;
    }
    c->sess->db = (int)id;
    reply_ok(c->r);
}

static void
cmd_swapdb(cmd_ctx *c)
{
    long long a, b;
    if (!util_str2ll(c->argv[1].ptr, c->argv[1].len, &a)) {
        reply_error(c->r, "ERR invalid first DB index");
        return;
    }
    if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &b)) {
        reply_error(c->r, "ERR invalid second DB index");
        return;
    }
    if (a < 0 || a >= c->ks->count || b < 0 || b >= c->ks->count) {
        reply_error(c->r, "ERR DB index is out of range");
        return;
    }
    if (a != b) {
        cmd_watch_touch_db(&c->ks->dbs[a], &c->ks->dbs[b], c->now_ms);
        cmd_watch_touch_db(&c->ks->dbs[b], &c->ks->dbs[a], c->now_ms);
        ks_swap(&c->ks->dbs[a], &c->ks->dbs[b]);
    }
    /* Blocked commands on either side now see the other database. */
    ks_block_signal_db(&c->ks->blocking, (int)a);
    ks_block_signal_db(&c->ks->blocking, (int)b);
    c->dirty++;
    reply_ok(c->r);
}

static void
cmd_quit(cmd_ctx *c)
{
    c->sess->flags |= SESS_CLOSE_AFTER_REPLY;
    reply_ok(c->r);
}

static void
cmd_reset(cmd_ctx *c)
{
    c->host->reset(c);
}

static void
cmd_client(cmd_ctx *c)
{
    c->host->client(c);
}

static void
cmd_monitor(cmd_ctx *c)
{
    c->host->monitor(c);
}

#define CONN_FLAGS (CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)
#define CONN_ADMIN (CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

static cmd_def cmd_client_subs[] = {
    {"getname", cmd_client, 2, CONN_FLAGS, ACL_CONNECTION, 0, 0, 0,
     "Get the current connection name", "2.6.9", "connection", "O(1)"},
    {"help", cmd_client, 2, CMD_LOADING | CMD_STALE, ACL_CONNECTION, 0, 0, 0,
     "Show helpful text about the different subcommands", "5.0.0", "connection", "O(1)"},
    {"id", cmd_client, 2, CONN_FLAGS, ACL_CONNECTION, 0, 0, 0,
     "Returns the client ID for the current connection", "5.0.0", "connection", "O(1)"},
    {"info", cmd_client, 2, CONN_FLAGS, ACL_CONNECTION, 0, 0, 0,
     "Returns information about the current client connection.", "6.2.0", "connection", "O(1)"},
    {"kill", cmd_client, -3, CONN_ADMIN, ACL_CONNECTION, 0, 0, 0, "Kill the connection of a client",
     "2.4.0", "connection", "O(N) where N is the number of client connections"},
    {"list", cmd_client, -2, CONN_ADMIN, ACL_CONNECTION, 0, 0, 0,
     "Get the list of client connections", "2.4.0", "connection",
     "O(N) where N is the number of client connections"},
    {"no-evict", cmd_client, 3, CONN_ADMIN, ACL_CONNECTION, 0, 0, 0,
     "Set client eviction mode for the current connection", "7.0.0", "connection", "O(1)"},
    {"pause", cmd_client, -3, CONN_ADMIN, ACL_CONNECTION, 0, 0, 0,
     "Stop processing commands from clients for some time", "2.9.50", "connection", "O(1)"},
    {"reply", cmd_client, 3, CONN_FLAGS, ACL_CONNECTION, 0, 0, 0,
     "Instruct the server whether to reply to commands", "3.2.0", "connection", "O(1)"},
    {"setname", cmd_client, 3, CONN_FLAGS, ACL_CONNECTION, 0, 0, 0,
     "Set the current connection name", "2.6.9", "connection", "O(1)"},
    {"unblock", cmd_client, -3, CONN_ADMIN, ACL_CONNECTION, 0, 0, 0,
     "Unblock a client blocked in a blocking command from a different connection", "5.0.0",
     "connection", "O(log N) where N is the number of client connections"},
    {"unpause", cmd_client, 2, CONN_ADMIN, ACL_CONNECTION, 0, 0, 0,
     "Resume processing of clients that were paused", "6.2.0", "connection",
     "O(N) Where N is the number of paused clients"},
    {0},
};

cmd_def cmd_conn_defs[] = {
    {"ping", cmd_ping, -1, CMD_FAST, ACL_CONNECTION, 0, 0, 0, "Ping the server", "1.0.0",
     "connection", "O(1)"},
    {"echo", cmd_echo, 2, CMD_LOADING | CMD_STALE | CMD_FAST, ACL_CONNECTION, 0, 0, 0,
     "Echo the given string", "1.0.0", "connection", "O(1)"},
    {"hello", cmd_hello, -1, CONN_FLAGS | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY, ACL_CONNECTION,
     0, 0, 0, "Handshake with Redis", "6.0.0", "connection", "O(1)"},
    {"auth", cmd_auth, -2, CONN_FLAGS | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY, ACL_CONNECTION, 0,
     0, 0, "Authenticate to the server", "1.0.0", "connection",
     "O(N) where N is the number of passwords defined for the user"},
    {"select", cmd_select, 2, CMD_LOADING | CMD_STALE | CMD_FAST, ACL_CONNECTION, 0, 0, 0,
     "Change the selected database for the current connection", "1.0.0", "connection", "O(1)"},
    {"swapdb", cmd_swapdb, 3, CMD_WRITE | CMD_FAST, ACL_KEYSPACE | ACL_DANGEROUS, 0, 0, 0,
     "Swaps two Redis databases", "4.0.0", "server",
     "O(N) where N is the count of clients watching or blocking on keys from both databases."},
    {"quit", cmd_quit, -1, CONN_FLAGS | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY, ACL_CONNECTION, 0,
     0, 0, "Close the connection", "1.0.0", "connection", "O(1)"},
    {"reset", cmd_reset, 1, CONN_FLAGS | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY, ACL_CONNECTION, 0,
     0, 0, "Reset the connection", "6.2.0", "connection", "O(1)"},
    {"client", NULL, -2, 0, 0, 0, 0, 0, "A container for client connection commands", "2.4.0",
     "connection", "Depends on subcommand.", cmd_client_subs},
    {"monitor", cmd_monitor, 1, CONN_ADMIN, 0, 0, 0, 0,
     "Listen for all requests received by the server in real time", "1.0.0", "server", "None"},
    {0},
};
