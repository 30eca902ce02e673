/*
 * broker/script/lua: the Lua states, their sandbox, the redis.* API, the
 * conversions between RESP replies and Lua values, and the run loop.
 *
 * Sandbox: stock Lua 5.1 has no read-only tables (Redis patches its VM),
 * so protection is built from proxies: the globals seen by scripts are an
 * empty proxy table whose metatable reads through to the real globals and
 * refuses writes ("Attempt to modify a readonly table"); the real globals
 * raise "Script attempted to access nonexistent global variable" on a
 * miss; every library table is a read-only proxy too. rawset, rawget,
 * setmetatable, getmetatable, next and pairs are replaced by versions
 * that see through (or refuse) proxies, loadstring and load refuse
 * bytecode, and pcall hands back the message string of redis.call errors.
 *
 * Hot path: redis.call (argument conversion, one dispatcher call, reply
 * parse) and the count hook (one clock read per 100000 instructions).
 * Not here: the EVAL cache (cache.c) and libraries (func.c).
 */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lua-bitop.h>
#include <lua-cjson.h>

#include "broker/config/config.h"
#include "broker/script/script_int.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

#define SCRIPT_HOOK_COUNT 100000 /* instructions between two hook calls */
#define SCRIPT_MAX_DEPTH  1000   /* nesting limit of converted replies */

/* Registry keys. */
#define REG_PROXIES "runnel.proxies" /* proxy -> backing table */
#define REG_GLOBALS "runnel.globals" /* the real globals table */
#define REG_GMETA   "runnel.gmeta"   /* metatable of the globals proxy */
#define REG_LOADAPI "runnel.loadapi" /* library-loading globals (func.c) */

script_ctx *script__run;

const char *const script__flag_names[SCRIPT_NFLAGS] = {
    "no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys",
};

/* The 48-bit linear congruential generator of math.random (the POSIX
 * drand48 family's recurrence), one state for both Lua states and never
 * reseeded between scripts, as in Redis 7.0; it starts from the state
 * Redis's generator starts from, so a fresh server gives Redis's
 * sequence. math.randomseed(n) sets it as srand48(n) would. */
static uint64_t script_rand_state = 0x1234ABCD330Eull;

static int32_t
script_rand_next(void)
{
    script_rand_state = (script_rand_state * 0x5DEECE66Dull + 0xB) & ((1ull << 48) - 1);
    return (int32_t)(script_rand_state >> 17);
}

int64_t
script__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
script__parse_flags(const char *s, size_t len, uint32_t *flags, const char **bad, size_t *badlen)
{
    uint32_t f = 0;
    size_t i = 0;
    if (len == 0) {
        *flags = 0;
        return 0;
    }
    for (;;) {
        size_t j = i, k;
        while (j < len && s[j] != ',')
            j++;
        for (k = 0; k < SCRIPT_NFLAGS; k++) {
            if (strlen(script__flag_names[k]) == j - i &&
                memcmp(script__flag_names[k], s + i, j - i) == 0)
                break;
        }
        if (k == SCRIPT_NFLAGS) {
            *bad = s + i;
            *badlen = j - i;
            return -1;
        }
        f |= 1u << k;
        if (j == len)
            break;
        i = j + 1;
    }
    *flags = f;
    return 0;
}

/* ------------------------------------------------------------ errors */

/* Pushes the error table {err = "CODE message"} for s as Redis words it:
 * "-CODE message" keeps its code, a bare message gets "ERR ". */
static void
script_lua_push_error(lua_State *L, const char *s, size_t n)
{
    lua_newtable(L);
    if (n > 0 && s[0] == '-') {
        const char *sp = memchr(s, ' ', n);
        if (sp == NULL) {
            lua_pushliteral(L, "ERR ");
            lua_pushlstring(L, s + 1, n - 1);
            lua_concat(L, 2);
        } else {
            lua_pushlstring(L, s + 1, n - 1);
        }
    } else {
        lua_pushliteral(L, "ERR ");
        lua_pushlstring(L, s, n);
        lua_concat(L, 2);
    }
    lua_setfield(L, -2, "err");
}

/* Raises (raise 1) or returns (raise 0) the error table of msg. */
static int
script_lua_fail(lua_State *L, const char *msg, int raise)
{
    script_lua_push_error(L, msg, strlen(msg));
    if (raise)
        return lua_error(L);
    return 1;
}

/* The message handler of every run: turns the error into a table with
 * err ("ERR " added to plain messages), source and line of the Lua code
 * that raised it (skipping one C frame such as error or redis.call). */
static int
script_lua_errh(lua_State *L)
{
    lua_Debug ar;
    int have = 0;
    if (lua_getstack(L, 1, &ar)) {
        lua_getinfo(L, "Sl", &ar);
        have = 1;
        if (strcmp(ar.what, "C") == 0) {
            have = lua_getstack(L, 2, &ar);
            if (have)
                lua_getinfo(L, "Sl", &ar);
        }
    }
    if (!lua_istable(L, 1)) {
        const char *m;
        switch (lua_type(L, 1)) {
        case LUA_TSTRING:
        case LUA_TNUMBER:
            m = lua_tostring(L, 1);
            break;
        case LUA_TNIL:
            m = "nil";
            break;
        case LUA_TBOOLEAN:
            m = lua_toboolean(L, 1) ? "true" : "false";
            break;
        default:
            m = lua_typename(L, lua_type(L, 1));
            break;
        }
        lua_newtable(L);
        lua_pushliteral(L, "ERR ");
        lua_pushstring(L, m);
        lua_concat(L, 2);
        lua_setfield(L, -2, "err");
    } else {
        lua_pushvalue(L, 1);
    }
    if (have && ar.currentline > 0) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, -2, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, -2, "line");
    }
    return 1;
}

/* Replies the error object on top of L for a failed run of name. */
static void
script_lua_error_reply(lua_State *L, reply *r, const char *name)
{
    const char *err = NULL, *source = NULL;
    long line = 0;
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "err");
        err = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        lua_getfield(L, -2, "source");
        source = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        lua_getfield(L, -3, "line");
        line = lua_type(L, -1) == LUA_TNUMBER ? (long)lua_tonumber(L, -1) : 0;
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        lua_pushliteral(L, "ERR ");
        lua_pushvalue(L, -2);
        lua_concat(L, 2);
        err = lua_tostring(L, -1);
    }
    if (err == NULL)
        err = "ERR unknown error";
    if (source && line > 0) {
        size_t n = strlen(err) + strlen(name) + strlen(source) + 64;
        char *msg = util_malloc(n);
        snprintf(msg, n, "%s script: %s, on %s:%ld.", err, name, source, line);
        reply_error(r, msg);
        util_free(msg);
    } else {
        reply_error(r, err);
    }
}

/* ------------------------------------------------------------ conversions */

/* Lua number to the integer Redis replies (C cast, saturating where the
 * cast would be undefined, as x86 gives). */
static long long
script_lua_to_ll(lua_Number n)
{
    if (!(n >= -9223372036854775808.0 && n < 9223372036854775808.0))
        return LLONG_MIN;
    return (long long)n;
}

/* A status or big number line: CR and LF become spaces. */
static void
script_lua_reply_line(reply *r, char type, const char *s, size_t n)
{
    char *buf = util_malloc(n + 3);
    buf[0] = type;
    for (size_t i = 0; i < n; i++)
        buf[i + 1] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    buf[n + 1] = '\r';
    buf[n + 2] = '\n';
    reply_raw(r, buf, n + 3);
    util_free(buf);
}

static void script_lua_to_reply(lua_State *L, reply *r, int sresp);

/* Field name of table at idx, raw, pushed; returns its type. */
static int
script_lua_rawfield(lua_State *L, int idx, const char *name)
{
    lua_pushstring(L, name);
    lua_rawget(L, idx < 0 ? idx - 1 : idx);
    return lua_type(L, -1);
}

static void
script_lua_table_to_reply(lua_State *L, reply *r, int sresp)
{
    size_t n;
    const char *s;
    long long count = 0;
    int t = lua_gettop(L);

    if (script_lua_rawfield(L, t, "err") == LUA_TSTRING) {
        reply_error(r, lua_tostring(L, -1));
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (script_lua_rawfield(L, t, "ok") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &n);
        script_lua_reply_line(r, '+', s, n);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (script_lua_rawfield(L, t, "double") == LUA_TNUMBER) {
        reply_double(r, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (script_lua_rawfield(L, t, "big_number") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &n);
        if (r->resp >= 3)
            script_lua_reply_line(r, '(', s, n);
        else
            reply_bulk(r, s, n);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (script_lua_rawfield(L, t, "map") == LUA_TTABLE) {
        int m = lua_gettop(L);
        size_t mark = reply_defer(r);
        lua_pushnil(L);
        while (lua_next(L, m)) {
            lua_pushvalue(L, -2);
            script_lua_to_reply(L, r, sresp); /* the key copy */
            script_lua_to_reply(L, r, sresp); /* the value */
            count++;
        }
        reply_defer_map(r, mark, count);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (script_lua_rawfield(L, t, "set") == LUA_TTABLE) {
        int m = lua_gettop(L);
        size_t mark = reply_defer(r);
        lua_pushnil(L);
        while (lua_next(L, m)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            script_lua_to_reply(L, r, sresp);
            count++;
        }
        reply_defer_set(r, mark, count);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    if (script_lua_rawfield(L, t, "verbatim_string") == LUA_TTABLE) {
        int v = lua_gettop(L);
        if (script_lua_rawfield(L, v, "format") == LUA_TSTRING &&
            script_lua_rawfield(L, v, "string") == LUA_TSTRING) {
            const char *fmt = lua_tostring(L, -2);
            s = lua_tolstring(L, -1, &n);
            if (strlen(fmt) == 3) {
                reply_verbatim(r, s, n, fmt);
                lua_pop(L, 3);
                return;
            }
        }
        lua_settop(L, v);
    }
    lua_pop(L, 1);
    /* A plain array: elements 1..n up to the first nil. */
    {
        size_t mark = reply_defer(r);
        for (int j = 1;; j++) {
            lua_rawgeti(L, t, j);
            if (lua_isnil(L, -1)) {
                lua_pop(L, 1);
                break;
            }
            script_lua_to_reply(L, r, sresp);
            count++;
        }
        reply_defer_array(r, mark, count);
    }
}

/* Replies the Lua value on top of L (popped) for a caller on r->resp;
 * sresp is the script's redis.setresp() protocol (booleans). */
static void
script_lua_to_reply(lua_State *L, reply *r, int sresp)
{
    size_t n;
    const char *s;
    /* Nesting ends where Lua's C stack does (LUAI_MAXCSTACK), as in
     * Redis: a self-referencing table gives the same reply. */
    if (!lua_checkstack(L, 4)) {
        reply_error(r, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &n);
        reply_bulk(r, s, n);
        break;
    case LUA_TBOOLEAN:
        if (sresp == 3)
            reply_bool(r, lua_toboolean(L, -1));
        else if (lua_toboolean(L, -1))
            reply_int(r, 1);
        else
            reply_null(r);
        break;
    case LUA_TNUMBER:
        reply_int(r, script_lua_to_ll(lua_tonumber(L, -1)));
        break;
    case LUA_TTABLE:
        script_lua_table_to_reply(L, r, sresp);
        break;
    default:
        reply_null(r);
        break;
    }
    lua_pop(L, 1);
}

/* Reads a RESP length/integer line starting at p (after the type byte);
 * returns the byte after CRLF or NULL. */
static const char *
script_resp_line(const char *p, const char *end, const char **s, size_t *n)
{
    const char *cr = p;
    while (cr + 1 < end && !(cr[0] == '\r' && cr[1] == '\n'))
        cr++;
    if (cr + 1 >= end)
        return NULL;
    *s = p;
    *n = (size_t)(cr - p);
    return cr + 2;
}

/* Pushes the Lua value of the RESP reply at p; returns the byte after it
 * or NULL on a malformed reply (nothing pushed). */
static const char *
script_resp_to_lua(lua_State *L, const char *p, const char *end, int depth)
{
    const char *s;
    size_t n;
    long long v = 0;
    char type;
    if (p >= end || depth > SCRIPT_MAX_DEPTH || !lua_checkstack(L, 8))
        return NULL;
    type = *p;
    p = script_resp_line(p + 1, end, &s, &n);
    if (p == NULL)
        return NULL;
    switch (type) {
    case '+':
        lua_newtable(L);
        lua_pushlstring(L, s, n);
        lua_setfield(L, -2, "ok");
        return p;
    case '-':
        lua_newtable(L);
        lua_pushlstring(L, s, n);
        lua_setfield(L, -2, "err");
        return p;
    case ':':
        util_str2ll(s, n, &v);
        lua_pushnumber(L, (lua_Number)v);
        return p;
    case '_':
        lua_pushnil(L);
        return p;
    case '#':
        lua_pushboolean(L, n > 0 && s[0] == 't');
        return p;
    case ',': {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*s", (int)(n < 63 ? n : 63), s);
        lua_newtable(L);
        lua_pushnumber(L, strtod(buf, NULL));
        lua_setfield(L, -2, "double");
        return p;
    }
    case '(':
        lua_newtable(L);
        lua_pushlstring(L, s, n);
        lua_setfield(L, -2, "big_number");
        return p;
    case '$':
    case '=':
        if (!util_str2ll(s, n, &v) || v < -1)
            return NULL;
        if (v == -1) {
            lua_pushboolean(L, 0);
            return p;
        }
        if ((size_t)(end - p) < (size_t)v + 2)
            return NULL;
        if (type == '$') {
            lua_pushlstring(L, p, (size_t)v);
        } else {
            lua_newtable(L);
            lua_newtable(L);
            lua_pushlstring(L, p, v >= 4 ? 3 : 0);
            lua_setfield(L, -2, "format");
            lua_pushlstring(L, p + (v >= 4 ? 4 : 0), (size_t)(v >= 4 ? v - 4 : v));
            lua_setfield(L, -2, "string");
            lua_setfield(L, -2, "verbatim_string");
        }
        return p + v + 2;
    case '*':
    case '>':
    case '~':
    case '%':
    case '|': {
        if (!util_str2ll(s, n, &v) || v < -1)
            return NULL;
        if (v == -1) {
            lua_pushboolean(L, 0);
            return p;
        }
        lua_newtable(L);
        if (type == '%' || type == '~' || type == '|')
            lua_newtable(L);
        for (long long i = 0; i < v; i++) {
            p = script_resp_to_lua(L, p, end, depth + 1);
            if (p == NULL)
                goto bad;
            if (type == '%' || type == '|') {
                p = script_resp_to_lua(L, p, end, depth + 1);
                if (p == NULL) {
                    lua_pop(L, 1);
                    goto bad;
                }
                lua_rawset(L, -3);
            } else if (type == '~') {
                lua_pushboolean(L, 1);
                lua_rawset(L, -3);
            } else {
                lua_rawseti(L, -2, (int)i + 1);
            }
        }
        if (type == '%')
            lua_setfield(L, -2, "map");
        else if (type == '~')
            lua_setfield(L, -2, "set");
        if (type == '|') {
            /* Attributes are dropped: the value follows. */
            lua_pop(L, 2);
            return script_resp_to_lua(L, p, end, depth);
        }
        return p;
    bad:
        lua_pop(L, (type == '%' || type == '~' || type == '|') ? 2 : 1);
        return NULL;
    }
    default:
        return NULL;
    }
}

/* ------------------------------------------------------------ redis.* */

/* redis.call (raise 1) and redis.pcall (raise 0). */
static int
script_lua_redis_call(lua_State *L, int raise)
{
    script_ctx *run = script__run;
    int argc = lua_gettop(L);
    const cmd_def *d;
    resp_arg *argv;
    char(*nums)[32];
    reply rr;
    const char *end;

    if (run == NULL)
        return script_lua_fail(L, "redis.call is not available now", raise);
    if (argc == 0)
        return script_lua_fail(L, "Please specify at least one argument for this redis lib call",
                               raise);
    argv = util_malloc((size_t)argc * (sizeof(*argv) + sizeof(*nums)));
    nums = (char(*)[32])(argv + argc);
    for (int i = 0; i < argc; i++) {
        int t = lua_type(L, i + 1);
        if (t == LUA_TNUMBER) {
            int k = snprintf(nums[i], sizeof(nums[i]), "%.17g", (double)lua_tonumber(L, i + 1));
            argv[i].ptr = nums[i];
            argv[i].len = (size_t)k;
        } else if (t == LUA_TSTRING) {
            argv[i].ptr = lua_tolstring(L, i + 1, &argv[i].len);
        } else {
            util_free(argv);
            return script_lua_fail(L, "Lua redis lib command arguments must be strings or integers",
                                   raise);
        }
    }
    d = cmd_lookup(argv[0].ptr, argv[0].len);
    /* A container alone (no subcommand) fails its arity below. */
    if (d && d->subs && argc >= 2)
        d = cmd_lookup_sub(d, argv[1].ptr, argv[1].len);
    if (d == NULL) {
        util_free(argv);
        return script_lua_fail(L, "Unknown Redis command called from script", raise);
    }
    if ((d->arity > 0 && argc != d->arity) || (d->arity < 0 && argc < -d->arity)) {
        util_free(argv);
        return script_lua_fail(L, "Wrong number of args calling Redis command from script", raise);
    }
    if (d->fn == NULL || (d->flags & CMD_NOSCRIPT)) {
        util_free(argv);
        return script_lua_fail(L, "This Redis command is not allowed from script", raise);
    }
    if ((d->flags & CMD_WRITE) && run->ro) {
        util_free(argv);
        return script_lua_fail(L, "Write commands are not allowed from read-only scripts.", raise);
    }
    if (d->flags & CMD_WRITE)
        run->wrote = 1;
    reply_init(&rr, run->sess.resp);
    run->c->host->script_call(&run->sess, &rr, argc, argv);
    util_free(argv);
    end = script_resp_to_lua(L, rr.buf, rr.buf + rr.len, 0);
    if (end == NULL) {
        reply_fini(&rr);
        return script_lua_fail(L, "Unexpected reply from command", raise);
    }
    if (rr.len > 0 && rr.buf[0] == '-') {
        /* An error reply: the table gets Redis's code rule. */
        size_t n = rr.len - 2;
        lua_pop(L, 1);
        script_lua_push_error(L, rr.buf, n);
        reply_fini(&rr);
        if (raise)
            return lua_error(L);
        return 1;
    }
    reply_fini(&rr);
    return 1;
}

static int
script_lua_call(lua_State *L)
{
    return script_lua_redis_call(L, 1);
}

static int
script_lua_pcall_cmd(lua_State *L)
{
    return script_lua_redis_call(L, 0);
}

static int
script_lua_error_reply_fn(lua_State *L)
{
    size_t n;
    const char *s;
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING)
        return script_lua_fail(L, "wrong number or type of arguments", 0);
    s = lua_tolstring(L, 1, &n);
    if (n > 0 && s[0] == '-') {
        script_lua_push_error(L, s, n);
    } else {
        lua_pushliteral(L, "-");
        lua_pushvalue(L, 1);
        lua_concat(L, 2);
        s = lua_tolstring(L, -1, &n);
        script_lua_push_error(L, s, n);
    }
    return 1;
}

static int
script_lua_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TSTRING)
        return script_lua_fail(L, "wrong number or type of arguments", 0);
    lua_newtable(L);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int
script_lua_sha1hex(lua_State *L)
{
    size_t n;
    const char *s;
    char hex[41];
    if (lua_gettop(L) != 1) {
        lua_pushliteral(L, "wrong number of arguments");
        return lua_error(L);
    }
    s = lua_tolstring(L, 1, &n);
    script__sha1hex(s ? s : "", s ? n : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int
script_lua_log(lua_State *L)
{
    int argc = lua_gettop(L);
    lua_Number level;
    if (argc < 2)
        return script_lua_fail(L, "redis.log() requires two arguments or more.", 1);
    if (!lua_isnumber(L, 1))
        return script_lua_fail(L, "First argument must be a number (log level).", 1);
    level = lua_tonumber(L, 1);
    if (level < CONFIG_LL_DEBUG || level > CONFIG_LL_WARNING)
        return script_lua_fail(L, "Invalid debug level.", 1);
    if ((long long)level >= config.loglevel) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int i = 2; i <= argc; i++) {
            size_t n;
            const char *s = lua_tolstring(L, i, &n);
            if (s == NULL)
                continue;
            if (i > 2)
                luaL_addchar(&b, ' ');
            luaL_addlstring(&b, s, n);
        }
        luaL_pushresult(&b);
        if (script__run && script__run->c->host->log)
            script__run->c->host->log((int)level, lua_tostring(L, -1));
    }
    return 0;
}

static int
script_lua_setresp(lua_State *L)
{
    lua_Number v;
    if (lua_gettop(L) != 1)
        return script_lua_fail(L, "redis.setresp() requires one argument.", 1);
    v = lua_tonumber(L, 1);
    if (v != 2 && v != 3)
        return script_lua_fail(L, "RESP version must be 2 or 3.", 1);
    if (script__run)
        script__run->sess.resp = (int)v;
    return 0;
}

static int
script_lua_set_repl(lua_State *L)
{
    lua_Number v;
    if (lua_gettop(L) != 1)
        return script_lua_fail(L, "redis.set_repl() requires one argument.", 1);
    v = lua_tonumber(L, 1);
    if (v < 0 || v > 3 || v != floor(v))
        return script_lua_fail(
            L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.", 1);
    return 0;
}

static int
script_lua_true(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int
script_lua_false(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int
script_lua_nothing(lua_State *L)
{
    (void)L;
    return 0;
}

static int
script_lua_acl_check_cmd(lua_State *L)
{
    size_t n;
    const char *s;
    const cmd_def *d;
    if (lua_gettop(L) < 1 || (s = lua_tolstring(L, 1, &n)) == NULL)
        return script_lua_fail(L, "Please specify at least one argument for this redis lib call",
                               1);
    d = cmd_lookup(s, n);
    if (d && d->subs && lua_gettop(L) >= 2) {
        size_t sn;
        const char *sub = lua_tolstring(L, 2, &sn);
        d = sub ? cmd_lookup_sub(d, sub, sn) : NULL;
    }
    if (d == NULL)
        return script_lua_fail(L, "Invalid command passed to redis.acl_check_cmd()", 1);
    lua_pushboolean(L, 1);
    return 1;
}

/* ------------------------------------------------------------ sandbox */

/* Replaces the table at idx (absolute) by its backing table when it is a
 * read-only proxy; returns 1 if it was one. */
static int
script_lua_unproxy(lua_State *L, int idx)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    if (lua_istable(L, -1)) {
        lua_replace(L, idx);
        lua_pop(L, 1);
        return 1;
    }
    lua_pop(L, 2);
    return 0;
}

/* 1 when the value at idx is a proxy or the real globals table. */
static int
script_lua_is_protected(lua_State *L, int idx)
{
    int r;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    r = !lua_isnil(L, -1);
    lua_pop(L, 2);
    if (r)
        return 1;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);
    r = lua_rawequal(L, -1, idx);
    lua_pop(L, 1);
    return r;
}

static int
script_lua_readonly_error(lua_State *L)
{
    return luaL_error(L, "Attempt to modify a readonly table");
}

/* The same error without a position, as from a C library function. */
static int
script_lua_readonly_raw(lua_State *L)
{
    lua_pushliteral(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

static int
script_lua_noglobal(lua_State *L)
{
    const char *k = lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER
                        ? lua_tostring(L, 2)
                        : lua_typename(L, lua_type(L, 2));
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", k);
}

/* Pushes a read-only proxy of the table at idx and records it. */
static void
script_lua_proxy(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_newtable(L); /* proxy */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, script_lua_readonly_error);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, idx);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static int
script_lua_rawset(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    if (script_lua_is_protected(L, 1))
        return script_lua_readonly_raw(L);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int
script_lua_rawget(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    script_lua_unproxy(L, 1);
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
}

static int
script_lua_setmetatable(lua_State *L)
{
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
    if (script_lua_is_protected(L, 1))
        return script_lua_readonly_raw(L);
    if (luaL_getmetafield(L, 1, "__metatable"))
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

static int
script_lua_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (lua_istable(L, 1) && script_lua_is_protected(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    if (!lua_getmetatable(L, 1)) {
        lua_pushnil(L);
        return 1;
    }
    luaL_getmetafield(L, 1, "__metatable");
    return 1;
}

static int
script_lua_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    script_lua_unproxy(L, 1);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

static int
script_lua_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* Compiles a source chunk; bytecode is refused. */
static int
script_lua_load_chunk(lua_State *L, const char *s, size_t n, const char *name)
{
    if (n > 0 && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushliteral(L, "Loading binary chunks is not allowed");
        return 2;
    }
    if (luaL_loadbuffer(L, s, n, name) != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

static int
script_lua_loadstring(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *name = luaL_optstring(L, 2, s);
    return script_lua_load_chunk(L, s, n, name);
}

/* load(f [, name]): the pieces f returns, concatenated, then compiled. */
static int
script_lua_load(lua_State *L)
{
    luaL_Buffer b;
    const char *name = luaL_optstring(L, 2, "=(load)");
    size_t n;
    const char *s;
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 2);
    luaL_buffinit(L, &b);
    for (;;) {
        lua_pushvalue(L, 1);
        lua_call(L, 0, 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        if (!lua_isstring(L, -1))
            return luaL_error(L, "reader function must return a string");
        if (lua_objlen(L, -1) == 0) {
            lua_pop(L, 1);
            break;
        }
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    s = lua_tolstring(L, -1, &n);
    return script_lua_load_chunk(L, s, n, name);
}

/* pcall that hands back the message of an error table (redis.call
 * errors) rather than the table, as Redis 7.0 does. */
static int
script_lua_pcall(lua_State *L)
{
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    if (lua_pcall(L, argc - 1, LUA_MULTRET, 0) != 0) {
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_replace(L, 1);
        lua_settop(L, 2);
    }
    return lua_gettop(L);
}

static int
script_lua_random(lua_State *L)
{
    lua_Number r = (lua_Number)(script_rand_next() % 2147483647) / (lua_Number)2147483647;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = luaL_checkint(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushnumber(L, floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = luaL_checkint(L, 1), u = luaL_checkint(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushnumber(L, floor(r * (u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int
script_lua_randomseed(lua_State *L)
{
    int32_t seed = (int32_t)luaL_checkint(L, 1);
    script_rand_state = ((uint64_t)(uint32_t)seed << 16) | 0x330E;
    return 0;
}

/* Opens a library through its luaopen function and leaves its table
 * under name in the globals. */
static void
script_lua_open(lua_State *L, lua_CFunction fn, const char *name)
{
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
    if (lua_istable(L, -1))
        lua_setfield(L, LUA_GLOBALSINDEX, name);
    else
        lua_pop(L, 1);
}

static void
script_lua_setfn(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
}

static void
script_lua_setnum(lua_State *L, const char *name, lua_Number v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, name);
}

static void script_lua_redis_consts(lua_State *L);

/* The redis table on top of the stack gets the API and constants. */
static void
script_lua_redis_api(lua_State *L)
{
    script_lua_setfn(L, "call", script_lua_call);
    script_lua_setfn(L, "pcall", script_lua_pcall_cmd);
    script_lua_setfn(L, "error_reply", script_lua_error_reply_fn);
    script_lua_setfn(L, "status_reply", script_lua_status_reply);
    script_lua_setfn(L, "sha1hex", script_lua_sha1hex);
    script_lua_setfn(L, "log", script_lua_log);
    script_lua_setfn(L, "setresp", script_lua_setresp);
    script_lua_setfn(L, "set_repl", script_lua_set_repl);
    script_lua_setfn(L, "replicate_commands", script_lua_true);
    script_lua_setfn(L, "breakpoint", script_lua_false);
    script_lua_setfn(L, "debug", script_lua_nothing);
    script_lua_setfn(L, "acl_check_cmd", script_lua_acl_check_cmd);
    script_lua_redis_consts(L);
}

/* LOG_* levels and the version, on the table on top. */
static void
script_lua_log_consts(lua_State *L)
{
    script_lua_setnum(L, "LOG_DEBUG", CONFIG_LL_DEBUG);
    script_lua_setnum(L, "LOG_VERBOSE", CONFIG_LL_VERBOSE);
    script_lua_setnum(L, "LOG_NOTICE", CONFIG_LL_NOTICE);
    script_lua_setnum(L, "LOG_WARNING", CONFIG_LL_WARNING);
    lua_pushliteral(L, "7.0.15");
    lua_setfield(L, -2, "REDIS_VERSION");
    script_lua_setnum(L, "REDIS_VERSION_NUM", 0x07000f);
}

/* LOG_*, REPL_* and the version, on the table on top. */
static void
script_lua_redis_consts(lua_State *L)
{
    script_lua_log_consts(L);
    script_lua_setnum(L, "REPL_NONE", 0);
    script_lua_setnum(L, "REPL_AOF", 1);
    script_lua_setnum(L, "REPL_SLAVE", 2);
    script_lua_setnum(L, "REPL_REPLICA", 2);
    script_lua_setnum(L, "REPL_ALL", 3);
}

/* The globals a library sees while it loads, as in Redis 7.0: only a
 * redis table with register_function, log, LOG_* and the version; any
 * other name raises "nonexistent global variable". */
static void
script_lua_loadapi(lua_State *L)
{
    lua_newtable(L); /* the loading globals */
    lua_newtable(L); /* their redis table */
    script_lua_setfn(L, "register_function", script__register_function);
    script_lua_setfn(L, "log", script_lua_log);
    script_lua_log_consts(L);
    lua_newtable(L);
    lua_pushcfunction(L, script_lua_noglobal);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    script_lua_proxy(L, -1);
    lua_remove(L, -2);
    lua_setfield(L, -2, "redis");
    lua_newtable(L);
    lua_pushcfunction(L, script_lua_noglobal);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_LOADAPI);
}

/* Opens the libraries Redis gives scripts and drops the base functions
 * it removes. */
static void
script_lua_open_libs(lua_State *L)
{
    static const char *const drop[] = {"print",   "dofile",   "loadfile", "getfenv",
                                       "setfenv", "newproxy", "module",   "require"};
    script_lua_open(L, luaopen_base, "");
    script_lua_open(L, luaopen_table, LUA_TABLIBNAME);
    script_lua_open(L, luaopen_string, LUA_STRLIBNAME);
    script_lua_open(L, luaopen_math, LUA_MATHLIBNAME);
    script_lua_open(L, luaopen_cjson, "cjson");
    script_lua_open(L, luaopen_bit, "bit");
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
        lua_pushnil(L);
        lua_setfield(L, LUA_GLOBALSINDEX, drop[i]);
    }
}

/* Replaces the base and math functions the sandbox must control. */
static void
script_lua_replace_base(lua_State *L)
{
    static const struct {
        const char *name;
        lua_CFunction fn;
    } fns[] = {
        {"pcall", script_lua_pcall},
        {"rawset", script_lua_rawset},
        {"rawget", script_lua_rawget},
        {"setmetatable", script_lua_setmetatable},
        {"getmetatable", script_lua_getmetatable},
        {"loadstring", script_lua_loadstring},
        {"load", script_lua_load},
    };
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        lua_pushcfunction(L, fns[i].fn);
        lua_setfield(L, LUA_GLOBALSINDEX, fns[i].name);
    }
    lua_pushcfunction(L, script_lua_next);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_GLOBALSINDEX, "next");
    lua_pushcclosure(L, script_lua_pairs, 1);
    lua_setfield(L, LUA_GLOBALSINDEX, "pairs");
    lua_getfield(L, LUA_GLOBALSINDEX, "math");
    script_lua_setfn(L, "random", script_lua_random);
    script_lua_setfn(L, "randomseed", script_lua_randomseed);
    lua_pop(L, 1);
}

/* Makes every library table, the string metatable and the globals
 * read-only (see the file comment). */
static void
script_lua_protect(lua_State *L)
{
    static const char *const libs[] = {"string", "math",  "table", "coroutine",
                                       "bit",    "cjson", "redis"};
    for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
        lua_getfield(L, LUA_GLOBALSINDEX, libs[i]);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            continue;
        }
        script_lua_proxy(L, -1);
        lua_setfield(L, LUA_GLOBALSINDEX, libs[i]);
        lua_pop(L, 1);
    }
    /* The string metatable is shared by every string: its __index must be
     * the string proxy, and getmetatable('') a read-only view of it. */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_getfield(L, LUA_GLOBALSINDEX, "string");
    lua_setfield(L, -2, "__index");
    script_lua_proxy(L, -1);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    /* Globals: the real table raises on a miss; scripts see a proxy. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);
    lua_newtable(L);
    lua_pushcfunction(L, script_lua_noglobal);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    script_lua_proxy(L, -1);
    lua_getmetatable(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_GMETA);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "_G"); /* into the real globals, which have no __newindex */
    lua_replace(L, LUA_GLOBALSINDEX);
    lua_pop(L, 1);
}

lua_State *
script__state_new(int functions)
{
    lua_State *L = luaL_newstate();
    if (L == NULL)
        return NULL;
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_PROXIES);
    script_lua_open_libs(L);
    script_lua_replace_base(L);
    lua_newtable(L);
    script_lua_redis_api(L);
    lua_setfield(L, LUA_GLOBALSINDEX, "redis");
    script_lua_protect(L);
    if (functions)
        script_lua_loadapi(L);
    return L;
}

void
script__state_free(lua_State *L)
{
    if (L)
        lua_close(L);
}

void
script__set_global(lua_State *L, const char *name)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_GLOBALS);
    lua_insert(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void
script__library_mode(lua_State *L, int load)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_GMETA);
    lua_getfield(L, LUA_REGISTRYINDEX, load ? REG_LOADAPI : REG_GLOBALS);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void
script__push_args(lua_State *L, const resp_arg *argv, int n)
{
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, argv[i].ptr, argv[i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

/* ------------------------------------------------------------ running */

/* The count hook: past busy-reply-threshold the server serves others;
 * a killed script gets an error at every hook until it ends. */
static void
script_lua_hook(lua_State *L, lua_Debug *ar)
{
    script_ctx *run = script__run;
    (void)ar;
    if (run == NULL)
        return;
    if (!run->timedout && script__mono_ms() - run->start_ms >= config.busy_reply_threshold) {
        run->timedout = 1;
        if (run->c->host->log) {
            char msg[512];
            snprintf(msg, sizeof(msg),
                     "Slow script detected: still in execution after %lld milliseconds. You can "
                     "try killing the script using the %s command. Script name is: %s.",
                     (long long)(script__mono_ms() - run->start_ms),
                     run->is_eval ? "SCRIPT KILL" : "FUNCTION KILL", run->name);
            run->c->host->log(CONFIG_LL_WARNING, msg);
        }
    }
    if (run->timedout && !run->killed && run->c->host->script_yield) {
        int rc = run->c->host->script_yield(run->c, run->is_eval);
        if (rc == 1 || (rc == 2 && !run->wrote))
            run->killed = 1;
    }
    if (run->killed) {
        lua_sethook(L, script_lua_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
        script_lua_fail(L, "Script killed by user with SCRIPT KILL...", 1);
    }
}

void
script__call(cmd_ctx *c, lua_State *L, int nargs, const char *name, uint32_t flags, int ro,
             int is_eval)
{
    script_ctx run;
    int base = lua_gettop(L) - nargs - 1, rc;

    memset(&run, 0, sizeof(run));
    run.c = c;
    run.sess = *c->sess;
    run.sess.flags = SESS_IN_EXEC | SESS_SCRIPT; /* nothing blocks or is served mid-run */
    run.sess.tx = NULL;
    run.sess.resp = 2;
    run.sess.authed = 1;
    run.L = L;
    run.name = name;
    run.flags = flags;
    run.ro = ro || (flags & SCRIPT_FLAG_NO_WRITES);
    run.is_eval = is_eval;
    run.start_ms = script__mono_ms();

    lua_pushcfunction(L, script_lua_errh);
    lua_insert(L, base + 1);
    script__run = &run;
    if (c->host->script_begin)
        c->host->script_begin(c);
    lua_sethook(L, script_lua_hook, LUA_MASKCOUNT, SCRIPT_HOOK_COUNT);
    rc = lua_pcall(L, nargs, 1, base + 1);
    lua_sethook(L, NULL, 0, 0);
    if (c->host->script_end)
        c->host->script_end(c);
    script__run = NULL;
    if (rc == 0)
        script_lua_to_reply(L, c->r, run.sess.resp);
    else
        script_lua_error_reply(L, c->r, name);
    lua_settop(L, base);
    /* The commands the script ran were recorded one by one. */
    c->propagated = 1;
    lua_gc(L, LUA_GCSTEP, 1);
}

int
script_running(int *is_eval)
{
    if (script__run && is_eval)
        *is_eval = script__run->is_eval;
    return script__run != NULL;
}

void
script_cmd_kill(cmd_ctx *c, int functions)
{
    script_ctx *run = script__run;
    if (run == NULL) {
        reply_error(c->r, "NOTBUSY No scripts in execution right now.");
        return;
    }
    if (run->wrote) {
        reply_error(c->r, "UNKILLABLE Sorry the script already executed write commands against "
                          "the dataset. You can either wait the script termination or kill the "
                          "server in a hard way using the SHUTDOWN NOSAVE command.");
        return;
    }
    /* As Redis 7.0: SCRIPT KILL of a function is BUSY, FUNCTION KILL of
     * an EVAL script is NOTBUSY. */
    if (run->is_eval == functions) {
        reply_error(c->r, functions ? "NOTBUSY No scripts in execution right now."
                                    : SCRIPT_BUSY_FUNCTION);
        return;
    }
    run->killed = 1;
    reply_ok(c->r);
}
