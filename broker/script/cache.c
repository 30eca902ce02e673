/*
 * broker/script/cache: EVAL scripts. The cache maps the SHA-1 of a body to
 * its compiled function and its shebang flags, both kept in the EVAL Lua
 * state's registry (one table each), so SCRIPT FLUSH is closing that state
 * and opening a fresh one, as Redis does.
 *
 * A body starting with "#!" names its engine and options on its first
 * line ("#!lua flags=no-writes"); the code is compiled from that line's
 * newline on, so line numbers in errors count the shebang line.
 *
 * Hot path: EVALSHA, one SHA-1 lookup in a Lua table. Not here: running
 * the function (lua.c).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker/script/script_int.h"

#define REG_SCRIPTS "runnel.scripts" /* sha -> compiled function */
#define REG_SFLAGS  "runnel.sflags"  /* sha -> SCRIPT_FLAG_* */

static lua_State *script_cache_L; /* the EVAL state, owned */

static int
script_cache_open(void)
{
    script_cache_L = script__state_new(0);
    if (script_cache_L == NULL)
        return -ENOMEM;
    lua_newtable(script_cache_L);
    lua_setfield(script_cache_L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_newtable(script_cache_L);
    lua_setfield(script_cache_L, LUA_REGISTRYINDEX, REG_SFLAGS);
    return 0;
}

int
script_init(void)
{
    int rc = script_cache_open();
    if (rc == 0 && script__func_state() == NULL)
        rc = -ENOMEM;
    return rc;
}

void
script__cache_fini(void)
{
    script__state_free(script_cache_L);
    script_cache_L = NULL;
}

void
script_fini(void)
{
    script__cache_fini();
    script__func_fini();
}

/* Parses the shebang of an EVAL body into flags and the offset where the
 * code starts; replies the error and returns -1 when it is bad. */
static int
script_cache_shebang(cmd_ctx *c, const char *body, size_t len, uint32_t *flags, size_t *code_off)
{
    const char *nl, *p, *end;
    size_t elen;
    if (len < 2 || body[0] != '#' || body[1] != '!') {
        *flags = SCRIPT_FLAG_EVAL_COMPAT;
        *code_off = 0;
        return 0;
    }
    nl = memchr(body, '\n', len);
    if (nl == NULL) {
        reply_error(c->r, "ERR Invalid script shebang");
        return -1;
    }
    for (elen = 0; body + elen < nl && body[elen] != ' '; elen++)
        ;
    if (elen != 5 || memcmp(body, "#!lua", 5) != 0) {
        reply_errorf(c->r, "ERR Unexpected engine in script shebang: %.*s", (int)elen, body);
        return -1;
    }
    *flags = 0;
    p = body + elen;
    end = nl;
    while (p < end) {
        const char *tok;
        while (p < end && *p == ' ')
            p++;
        if (p == end)
            break;
        tok = p;
        while (p < end && *p != ' ')
            p++;
        if ((size_t)(p - tok) >= 6 && memcmp(tok, "flags=", 6) == 0) {
            const char *bad;
            size_t badlen;
            if (script__parse_flags(tok + 6, (size_t)(p - tok) - 6, flags, &bad, &badlen) != 0) {
                reply_errorf(c->r, "ERR Unexpected flag in script shebang: %.*s", (int)badlen, bad);
                return -1;
            }
        } else {
            reply_errorf(c->r, "ERR Unknown lua shebang option: %.*s", (int)(p - tok), tok);
            return -1;
        }
    }
    *code_off = (size_t)(nl - body);
    return 0;
}

/* Compiles body under sha into the cache unless it is there; replies the
 * error and returns -1 on a bad shebang or a compile error. */
static int
script_cache_add(cmd_ctx *c, const char *body, size_t len, const char *sha)
{
    lua_State *L = script_cache_L;
    uint32_t flags;
    size_t off;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_getfield(L, -1, sha);
    if (!lua_isnil(L, -1)) {
        lua_pop(L, 2);
        return 0;
    }
    lua_pop(L, 1);
    if (script_cache_shebang(c, body, len, &flags, &off) != 0) {
        lua_pop(L, 1);
        return -1;
    }
    if (luaL_loadbuffer(L, body + off, len - off, "@user_script") != 0) {
        reply_errorf(c->r, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SFLAGS);
    lua_pushnumber(L, flags);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    return 0;
}

/* Lowercase copy of a 40-digit sha argument into out; 0 or -1. */
static int
script_cache_sha_arg(const resp_arg *a, char out[41])
{
    if (a->len != 40)
        return -1;
    for (int i = 0; i < 40; i++)
        out[i] = (char)tolower((unsigned char)a->ptr[i]);
    out[40] = '\0';
    return 0;
}

void
script_cmd_eval(cmd_ctx *c, int by_sha, int ro)
{
    lua_State *L = script_cache_L;
    long long numkeys;
    char sha[41];
    uint32_t flags;

    if (c->host->script_monitor)
        c->host->script_monitor(c);
    if (cmd_get_ll_or_reply(c, 2, &numkeys, NULL) < 0)
        return;
    if (numkeys > c->argc - 3) {
        reply_error(c->r, "ERR Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        reply_error(c->r, "ERR Number of keys can't be negative");
        return;
    }
    if (by_sha) {
        if (script_cache_sha_arg(&c->argv[1], sha) != 0) {
            reply_error(c->r, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
    } else {
        script__sha1hex(c->argv[1].ptr, c->argv[1].len, sha);
        if (script_cache_add(c, c->argv[1].ptr, c->argv[1].len, sha) != 0)
            return;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SFLAGS);
    lua_getfield(L, -1, sha);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 2);
        reply_error(c->r, "NOSCRIPT No matching script. Please use EVAL.");
        return;
    }
    flags = (uint32_t)lua_tonumber(L, -1);
    lua_pop(L, 2);
    if (ro && !(flags & (SCRIPT_FLAG_EVAL_COMPAT | SCRIPT_FLAG_NO_WRITES))) {
        reply_error(c->r, "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    script__push_args(L, c->argv + 3, (int)numkeys);
    script__set_global(L, "KEYS");
    script__push_args(L, c->argv + 3 + numkeys, c->argc - 3 - (int)numkeys);
    script__set_global(L, "ARGV");
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    lua_getfield(L, -1, sha);
    lua_remove(L, -2);
    script__call(c, L, 0, sha, flags, ro, 1);
}

void
script_cmd_load(cmd_ctx *c)
{
    char sha[41];
    script__sha1hex(c->argv[2].ptr, c->argv[2].len, sha);
    if (script_cache_add(c, c->argv[2].ptr, c->argv[2].len, sha) != 0)
        return;
    reply_bulk(c->r, sha, 40);
}

void
script_cmd_exists(cmd_ctx *c)
{
    lua_State *L = script_cache_L;
    reply_array(c->r, c->argc - 2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SCRIPTS);
    for (int i = 2; i < c->argc; i++) {
        char sha[41];
        int found = 0;
        if (script_cache_sha_arg(&c->argv[i], sha) == 0) {
            lua_getfield(L, -1, sha);
            found = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        reply_int(c->r, found);
    }
    lua_pop(L, 1);
}

void
script_cmd_flush(cmd_ctx *c)
{
    if (c->argc > 3 || (c->argc == 3 && !cmd_arg_is(c, 2, "sync") && !cmd_arg_is(c, 2, "async"))) {
        reply_error(c->r, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    script__cache_fini();
    if (script_cache_open() != 0) {
        reply_error(c->r, "ERR out of memory");
        return;
    }
    reply_ok(c->r);
}
