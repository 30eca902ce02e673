/*
 * broker/script/func: FUNCTION libraries and FCALL.
 *
 * A library is Lua code whose first line is "#!lua name=<lib>"; loading it
 * runs the code once in the library state with the globals pointed at the
 * loading API (redis.register_function, redis.log, constants), and every
 * registered callback is kept in the registry by reference. Libraries and
 * their functions are kept in load order (Redis lists them in hash order).
 * DUMP writes "RNFN", a version byte, each library's code with a 4-byte
 * little-endian length, then an FNV-1a 64 checksum; RESTORE accepts only
 * that.
 *
 * Hot path: FCALL, a linear search of the function names (O(functions)).
 * Not here: running the callback (lua.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker/script/script_int.h"
#include "broker/util/glob.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

#define FN_DUMP_MAGIC   "RNFN"
#define FN_DUMP_VERSION 1

typedef struct script_fn {
    char *name;     /* function name, owned */
    char *desc;     /* description, owned, NULL when none */
    uint32_t flags; /* SCRIPT_FLAG_* */
    int ref;        /* callback in the registry (luaL_ref) */
} script_fn;

typedef struct script_lib {
    char *name;     /* library name, owned */
    char *code;     /* the code as loaded, owned */
    size_t len;     /* bytes of code */
    script_fn *fns; /* registered functions, in order, owned */
    int nfns;       /* entries in fns */
} script_lib;

static lua_State *script_func_L;    /* the library state, owned */
static script_lib **script_libs;    /* libraries in load order, owned */
static int script_nlibs;            /* entries in script_libs */
static script_lib *script_loading;  /* library being loaded, else NULL */
static long long script_nfuncs_all; /* functions over all libraries */

lua_State *
script__func_state(void)
{
    if (script_func_L == NULL)
        script_func_L = script__state_new(1);
    return script_func_L;
}

static void
script_lib_free(script_lib *lib)
{
    if (lib == NULL)
        return;
    for (int i = 0; i < lib->nfns; i++) {
        if (script_func_L)
            luaL_unref(script_func_L, LUA_REGISTRYINDEX, lib->fns[i].ref);
        util_free(lib->fns[i].name);
        util_free(lib->fns[i].desc);
    }
    util_free(lib->fns);
    util_free(lib->name);
    util_free(lib->code);
    util_free(lib);
}

static void
script_func_drop_all(void)
{
    for (int i = 0; i < script_nlibs; i++)
        script_lib_free(script_libs[i]);
    util_free(script_libs);
    script_libs = NULL;
    script_nlibs = 0;
    script_nfuncs_all = 0;
}

void
script__func_fini(void)
{
    script_func_drop_all();
    script__state_free(script_func_L);
    script_func_L = NULL;
}

static int
script_lib_index(const char *name, size_t len)
{
    for (int i = 0; i < script_nlibs; i++)
        if (strlen(script_libs[i]->name) == len && memcmp(script_libs[i]->name, name, len) == 0)
            return i;
    return -1;
}

static script_fn *
script_fn_find(const char *name, size_t len, script_lib *skip)
{
    for (int i = 0; i < script_nlibs; i++) {
        if (script_libs[i] == skip)
            continue;
        for (int j = 0; j < script_libs[i]->nfns; j++) {
            script_fn *f = &script_libs[i]->fns[j];
            if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
                return f;
        }
    }
    return NULL;
}

/* Letters, digits and '_', at least one. */
static int
script_name_ok(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return 1;
}

static int
script_reg_fail(lua_State *L, const char *msg)
{
    lua_newtable(L);
    lua_pushfstring(L, "ERR %s", msg);
    lua_setfield(L, -2, "err");
    return lua_error(L);
}

/* redis.register_function(name, callback) or ({function_name=, callback=,
 * flags=, description=}), while a library loads. */
int
script__register_function(lua_State *L)
{
    script_lib *lib = script_loading;
    const char *name = NULL, *desc = NULL;
    size_t nlen = 0;
    uint32_t flags = 0;
    int argc = lua_gettop(L);
    script_fn *f;

    if (lib == NULL)
        return script_reg_fail(
            L, "redis.register_function can only be called on FUNCTION LOAD command");
    if (argc == 1) {
        if (!lua_istable(L, 1))
            return script_reg_fail(L, "calling redis.register_function with a single argument is "
                                      "only applicable to Lua table (representing named "
                                      "arguments).");
        lua_pushnil(L);
        lua_pushnil(L); /* slot 3: the callback */
        lua_replace(L, 2);
        lua_settop(L, 2);
        lua_pushnil(L);
        while (lua_next(L, 1)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            if (strcmp(k, "function_name") == 0) {
                if (!lua_isstring(L, -1))
                    return script_reg_fail(L, "function_name argument given to "
                                              "redis.register_function must be a string");
                name = lua_tolstring(L, -1, &nlen);
            } else if (strcmp(k, "callback") == 0) {
                lua_pushvalue(L, -1);
                lua_replace(L, 2);
            } else if (strcmp(k, "description") == 0) {
                if (!lua_isstring(L, -1))
                    return script_reg_fail(L, "description argument given to "
                                              "redis.register_function must be a string");
                desc = lua_tostring(L, -1);
            } else if (strcmp(k, "flags") == 0) {
                if (!lua_istable(L, -1))
                    return script_reg_fail(L, "flags argument to redis.register_function must be "
                                              "a table representing function flags");
                for (int j = 1;; j++) {
                    const char *bad;
                    size_t blen, flen;
                    const char *fl;
                    uint32_t one;
                    lua_rawgeti(L, -1, j);
                    if (lua_isnil(L, -1)) {
                        lua_pop(L, 1);
                        break;
                    }
                    fl = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &flen) : NULL;
                    if (fl == NULL || flen == 0 ||
                        script__parse_flags(fl, flen, &one, &bad, &blen) != 0 ||
                        memchr(fl, ',', flen))
                        return script_reg_fail(L, "unknown flag given");
                    flags |= one;
                    lua_pop(L, 1);
                }
            } else {
                return script_reg_fail(L, "unknown argument given to redis.register_function");
            }
            lua_pop(L, 1);
        }
        if (name == NULL)
            return script_reg_fail(L, "redis.register_function must get a function name argument");
        if (!lua_isfunction(L, 2))
            return script_reg_fail(L, "redis.register_function must get a callback argument");
    } else if (argc == 2) {
        if (!lua_isstring(L, 1))
            return script_reg_fail(L, "first argument to redis.register_function must be a "
                                      "string");
        if (!lua_isfunction(L, 2))
            return script_reg_fail(L, "second argument to redis.register_function must be a "
                                      "function");
        name = lua_tolstring(L, 1, &nlen);
    } else {
        return script_reg_fail(L, "wrong number of arguments to redis.register_function");
    }
    if (!script_name_ok(name, nlen))
        return script_reg_fail(L, "Library names can only contain letters, numbers, or "
                                  "underscores(_) and must be at least one character long");
    for (int i = 0; i < lib->nfns; i++)
        if (strlen(lib->fns[i].name) == nlen && memcmp(lib->fns[i].name, name, nlen) == 0)
            return script_reg_fail(L, "Function already exists in the library");
    lib->fns = util_realloc(lib->fns, (size_t)(lib->nfns + 1) * sizeof(*lib->fns));
    f = &lib->fns[lib->nfns++];
    f->name = util_memdup(name, nlen);
    f->desc = desc ? util_strdup(desc) : NULL;
    f->flags = flags;
    lua_pushvalue(L, 2);
    f->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

/* A library load that runs too long is stopped (Redis allows 500 ms). */
static int64_t script_load_start;

static void
script_load_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (script__mono_ms() - script_load_start > 500) {
        lua_sethook(L, script_load_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
        luaL_error(L, "FUNCTION LOAD timeout");
    }
}

/* Creates (or with replace 1, replaces) the library in code; replace 0
 * refuses an existing name, -1 too with FUNCTION RESTORE's wording. 0, or
 * -1 with the error message (without "ERR ") in err. */
static int
script_func_create(const char *code, size_t len, int replace, char *err, size_t errlen,
                   const char **libname)
{
    lua_State *L = script__func_state();
    const char *nl, *p, *name = NULL;
    size_t elen, namelen = 0;
    script_lib *lib;
    int old, rc;

    if (L == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        snprintf(err, errlen, "Missing library metadata");
        return -1;
    }
    nl = memchr(code, '\n', len);
    if (nl == NULL) {
        snprintf(err, errlen, "Invalid library metadata");
        return -1;
    }
    for (elen = 2; code + elen < nl && code[elen] != ' '; elen++)
        ;
    if (elen != 5 || strncasecmp(code + 2, "lua", 3) != 0) {
        snprintf(err, errlen, "Engine '%.*s' not found", (int)(elen - 2), code + 2);
        return -1;
    }
    for (p = code + elen; p < nl;) {
        const char *tok;
        while (p < nl && *p == ' ')
            p++;
        if (p == nl)
            break;
        tok = p;
        while (p < nl && *p != ' ')
            p++;
        if ((size_t)(p - tok) >= 5 && memcmp(tok, "name=", 5) == 0) {
            name = tok + 5;
            namelen = (size_t)(p - tok) - 5;
        } else {
            snprintf(err, errlen, "Invalid metadata value given: %.*s", (int)(p - tok), tok);
            return -1;
        }
    }
    if (name == NULL) {
        snprintf(err, errlen, "Library name was not given");
        return -1;
    }
    if (!script_name_ok(name, namelen)) {
        snprintf(err, errlen,
                 "Library names can only contain letters, numbers, or "
                 "underscores(_) and must be at least one character long");
        return -1;
    }
    old = script_lib_index(name, namelen);
    if (old >= 0 && replace <= 0) {
        /* FUNCTION RESTORE words it without quotes (replace -1). */
        snprintf(err, errlen,
                 replace < 0 ? "Library %.*s already exists" : "Library '%.*s' already exists",
                 (int)namelen, name);
        return -1;
    }
    if (luaL_loadbuffer(L, nl, len - (size_t)(nl - code), "@user_function") != 0) {
        snprintf(err, errlen, "Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lib = util_calloc(1, sizeof(*lib));
    lib->name = util_memdup(name, namelen);
    lib->code = util_memdup(code, len);
    lib->len = len;
    script_loading = lib;
    script__library_mode(L, 1);
    script_load_start = script__mono_ms();
    lua_sethook(L, script_load_hook, LUA_MASKCOUNT, 100000);
    rc = lua_pcall(L, 0, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    script__library_mode(L, 0);
    script_loading = NULL;
    if (rc != 0) {
        const char *m = NULL;
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            m = lua_tostring(L, -1);
            snprintf(err, errlen, "Error registering functions: %s", m ? m : "unknown error");
            lua_pop(L, 1);
        } else {
            m = lua_tostring(L, -1);
            snprintf(err, errlen, "Error registering functions: ERR %s", m ? m : "unknown error");
        }
        lua_pop(L, 1);
        script_lib_free(lib);
        return -1;
    }
    if (lib->nfns == 0) {
        snprintf(err, errlen, "No functions registered");
        script_lib_free(lib);
        return -1;
    }
    for (int i = 0; i < lib->nfns; i++) {
        if (script_fn_find(lib->fns[i].name, strlen(lib->fns[i].name),
                           old >= 0 ? script_libs[old] : NULL)) {
            snprintf(err, errlen, "Function %s already exists", lib->fns[i].name);
            script_lib_free(lib);
            return -1;
        }
    }
    if (old >= 0) {
        script_nfuncs_all -= script_libs[old]->nfns;
        script_lib_free(script_libs[old]);
        memmove(script_libs + old, script_libs + old + 1,
                (size_t)(script_nlibs - old - 1) * sizeof(*script_libs));
        script_nlibs--;
    }
    script_libs = util_realloc(script_libs, (size_t)(script_nlibs + 1) * sizeof(*script_libs));
    script_libs[script_nlibs++] = lib;
    script_nfuncs_all += lib->nfns;
    if (libname)
        *libname = lib->name;
    return 0;
}

void
script_cmd_fcall(cmd_ctx *c, int ro)
{
    lua_State *L = script_func_L;
    script_fn *f = script_fn_find(c->argv[1].ptr, c->argv[1].len, NULL);
    long long numkeys;
    if (c->host->script_monitor)
        c->host->script_monitor(c);
    if (f == NULL) {
        reply_error(c->r, "ERR Function not found");
        return;
    }
    if (!util_str2ll(c->argv[2].ptr, c->argv[2].len, &numkeys)) {
        reply_error(c->r, "ERR Bad number of keys provided");
        return;
    }
    if (numkeys > c->argc - 3) {
        reply_error(c->r, "ERR Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        reply_error(c->r, "ERR Number of keys can't be negative");
        return;
    }
    if (ro && !(f->flags & SCRIPT_FLAG_NO_WRITES)) {
        reply_error(c->r, "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, f->ref);
    script__push_args(L, c->argv + 3, (int)numkeys);
    script__push_args(L, c->argv + 3 + numkeys, c->argc - 3 - (int)numkeys);
    script__call(c, L, 2, f->name, f->flags, ro, 0);
}

void
script_cmd_fn_load(cmd_ctx *c)
{
    char err[1024];
    const char *name;
    int replace = 0, i;
    for (i = 2; i < c->argc - 1; i++) {
        if (cmd_arg_is(c, i, "replace")) {
            replace = 1;
            continue;
        }
        reply_errorf(c->r, "ERR Unknown option given: %.*s", (int)c->argv[i].len, c->argv[i].ptr);
        return;
    }
    if (script_func_create(c->argv[c->argc - 1].ptr, c->argv[c->argc - 1].len, replace, err,
                           sizeof(err), &name) != 0) {
        reply_errorf(c->r, "ERR %s", err);
        return;
    }
    reply_bulk_cstr(c->r, name);
    c->dirty++;
}

void
script_cmd_fn_delete(cmd_ctx *c)
{
    int i = script_lib_index(c->argv[2].ptr, c->argv[2].len);
    if (i < 0) {
        reply_error(c->r, "ERR Library not found");
        return;
    }
    script_nfuncs_all -= script_libs[i]->nfns;
    script_lib_free(script_libs[i]);
    memmove(script_libs + i, script_libs + i + 1,
            (size_t)(script_nlibs - i - 1) * sizeof(*script_libs));
    script_nlibs--;
    reply_ok(c->r);
    c->dirty++;
}

/* Drops every library and starts a fresh state. */
static void
script_func_flush_all(void)
{
    script__func_fini();
    script__func_state();
}

void
script_cmd_fn_flush(cmd_ctx *c)
{
    if (c->argc > 3 || (c->argc == 3 && !cmd_arg_is(c, 2, "sync") && !cmd_arg_is(c, 2, "async"))) {
        reply_error(c->r, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    script_func_flush_all();
    reply_ok(c->r);
    c->dirty++;
}

void
script_cmd_fn_list(cmd_ctx *c)
{
    const resp_arg *pattern = NULL;
    int withcode = 0;
    size_t mark;
    long long n = 0;
    for (int i = 2; i < c->argc; i++) {
        if (cmd_arg_is(c, i, "withcode") && !withcode) {
            withcode = 1;
        } else if (cmd_arg_is(c, i, "libraryname") && pattern == NULL) {
            if (i + 1 >= c->argc) {
                reply_error(c->r, "ERR library name argument was not given");
                return;
            }
            pattern = &c->argv[++i];
        } else {
            reply_errorf(c->r, "ERR Unknown argument %.*s", (int)c->argv[i].len, c->argv[i].ptr);
            return;
        }
    }
    mark = reply_defer(c->r);
    for (int i = 0; i < script_nlibs; i++) {
        script_lib *lib = script_libs[i];
        if (pattern &&
            !util_glob_match(pattern->ptr, pattern->len, lib->name, strlen(lib->name), 0))
            continue;
        n++;
        reply_map(c->r, withcode ? 4 : 3);
        reply_bulk_cstr(c->r, "library_name");
        reply_bulk_cstr(c->r, lib->name);
        reply_bulk_cstr(c->r, "engine");
        reply_bulk_cstr(c->r, "LUA");
        reply_bulk_cstr(c->r, "functions");
        reply_array(c->r, lib->nfns);
        for (int j = 0; j < lib->nfns; j++) {
            script_fn *f = &lib->fns[j];
            long long nf = 0;
            reply_map(c->r, 3);
            reply_bulk_cstr(c->r, "name");
            reply_bulk_cstr(c->r, f->name);
            reply_bulk_cstr(c->r, "description");
            reply_bulk_cstr(c->r, f->desc);
            reply_bulk_cstr(c->r, "flags");
            for (int k = 0; k < SCRIPT_NFLAGS; k++)
                nf += (f->flags >> k) & 1;
            reply_set(c->r, nf);
            for (int k = 0; k < SCRIPT_NFLAGS; k++)
                if (f->flags & (1u << k))
                    reply_simple(c->r, script__flag_names[k]);
        }
        if (withcode) {
            reply_bulk_cstr(c->r, "library_code");
            reply_bulk(c->r, lib->code, lib->len);
        }
    }
    reply_defer_array(c->r, mark, n);
}

void
script_cmd_fn_stats(cmd_ctx *c)
{
    script_ctx *run = script__run;
    if (run && run->is_eval) {
        reply_error(c->r, SCRIPT_BUSY_EVAL);
        return;
    }
    reply_map(c->r, 2);
    reply_bulk_cstr(c->r, "running_script");
    if (run == NULL) {
        reply_null(c->r);
    } else {
        reply_map(c->r, 3);
        reply_bulk_cstr(c->r, "name");
        reply_bulk_cstr(c->r, run->name);
        reply_bulk_cstr(c->r, "command");
        reply_array(c->r, run->c->argc);
        for (int i = 0; i < run->c->argc; i++)
            reply_bulk(c->r, run->c->argv[i].ptr, run->c->argv[i].len);
        reply_bulk_cstr(c->r, "duration_ms");
        reply_int(c->r, script__mono_ms() - run->start_ms);
    }
    reply_bulk_cstr(c->r, "engines");
    reply_map(c->r, 1);
    reply_bulk_cstr(c->r, "LUA");
    reply_map(c->r, 2);
    reply_bulk_cstr(c->r, "libraries_count");
    reply_int(c->r, script_nlibs);
    reply_bulk_cstr(c->r, "functions_count");
    reply_int(c->r, script_nfuncs_all);
}

static uint64_t
script_fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

char *
script_functions_payload(size_t *len)
{
    size_t total = 5 + 8, off;
    unsigned char *buf;
    uint64_t h;
    for (int i = 0; i < script_nlibs; i++)
        total += 4 + script_libs[i]->len;
    buf = util_malloc(total);
    memcpy(buf, FN_DUMP_MAGIC, 4);
    buf[4] = FN_DUMP_VERSION;
    off = 5;
    for (int i = 0; i < script_nlibs; i++) {
        uint32_t n = (uint32_t)script_libs[i]->len;
        for (int k = 0; k < 4; k++)
            buf[off++] = (unsigned char)(n >> (8 * k));
        memcpy(buf + off, script_libs[i]->code, n);
        off += n;
    }
    h = script_fnv1a(buf, off);
    for (int k = 0; k < 8; k++)
        buf[off++] = (unsigned char)(h >> (8 * k));
    *len = off;
    return (char *)buf;
}

int
script_functions_count(void)
{
    return script_nlibs;
}

void
script_cmd_fn_dump(cmd_ctx *c)
{
    size_t len;
    char *buf = script_functions_payload(&len);
    reply_bulk(c->r, buf, len);
    util_free(buf);
}

/* Copies of every library's code, to roll a failed RESTORE back. */
typedef struct script_saved {
    char **code; /* owned copies */
    size_t *len; /* their lengths */
    int n;       /* libraries saved */
} script_saved;

static void
script_saved_take(script_saved *s)
{
    s->n = script_nlibs;
    s->code = util_malloc((size_t)(s->n ? s->n : 1) * sizeof(*s->code));
    s->len = util_malloc((size_t)(s->n ? s->n : 1) * sizeof(*s->len));
    for (int i = 0; i < s->n; i++) {
        s->code[i] = util_memdup(script_libs[i]->code, script_libs[i]->len);
        s->len[i] = script_libs[i]->len;
    }
}

static void
script_saved_restore(script_saved *s)
{
    char err[256];
    script_func_flush_all();
    for (int i = 0; i < s->n; i++)
        script_func_create(s->code[i], s->len[i], 0, err, sizeof(err), NULL);
}

static void
script_saved_free(script_saved *s)
{
    for (int i = 0; i < s->n; i++)
        util_free(s->code[i]);
    util_free(s->code);
    util_free(s->len);
}

/* Loads a FUNCTION DUMP payload with policy 0 FLUSH, 1 APPEND, 2 REPLACE.
 * Returns 0; -EINVAL when the payload is damaged (nothing changed); -EEXIST
 * when a library could not be created (err says why; the libraries are
 * rolled back to what they were). */
static int
script_functions_load(const unsigned char *p, size_t len, int policy, char *err, size_t errlen)
{
    uint64_t h = 0;
    script_saved saved;
    size_t off;

    if (len < 13 || memcmp(p, FN_DUMP_MAGIC, 4) != 0 || p[4] != FN_DUMP_VERSION)
        return -EINVAL;
    for (int k = 0; k < 8; k++)
        h |= (uint64_t)p[len - 8 + (size_t)k] << (8 * k);
    if (h != script_fnv1a(p, len - 8))
        return -EINVAL;
    for (off = 5; off < len - 8;) {
        uint32_t n = 0;
        if (len - 8 - off < 4)
            return -EINVAL;
        for (int k = 0; k < 4; k++)
            n |= (uint32_t)p[off + (size_t)k] << (8 * k);
        off += 4;
        if (len - 8 - off < n)
            return -EINVAL;
        off += n;
    }

    script_saved_take(&saved);
    if (policy == 0)
        script_func_flush_all();
    for (off = 5; off < len - 8;) {
        uint32_t n = 0;
        for (int k = 0; k < 4; k++)
            n |= (uint32_t)p[off + (size_t)k] << (8 * k);
        off += 4;
        if (script_func_create((const char *)p + off, n, policy == 2 ? 1 : -1, err, errlen, NULL) !=
            0) {
            script_saved_restore(&saved);
            script_saved_free(&saved);
            return -EEXIST;
        }
        off += n;
    }
    script_saved_free(&saved);
    return 0;
}

int
script_functions_restore(const char *p, size_t len)
{
    char err[256];
    return script_functions_load((const unsigned char *)p, len, 0, err, sizeof(err));
}

void
script_cmd_fn_restore(cmd_ctx *c)
{
    const unsigned char *p = (const unsigned char *)c->argv[2].ptr;
    size_t len = c->argv[2].len;
    int policy = 1; /* 0 FLUSH, 1 APPEND, 2 REPLACE */
    char err[1024];
    int rc;

    if (c->argc > 4) {
        reply_error(c->r, "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. "
                          "Try FUNCTION HELP.");
        return;
    }
    if (c->argc == 4) {
        if (cmd_arg_is(c, 3, "flush"))
            policy = 0;
        else if (cmd_arg_is(c, 3, "append"))
            policy = 1;
        else if (cmd_arg_is(c, 3, "replace"))
            policy = 2;
        else {
            reply_error(c->r, "ERR Wrong restore policy given, value should be either FLUSH, "
                              "APPEND or REPLACE.");
            return;
        }
    }
    rc = script_functions_load(p, len, policy, err, sizeof(err));
    if (rc == -EINVAL) {
        reply_error(c->r, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    if (rc != 0) {
        reply_errorf(c->r, "ERR %s", err);
        return;
    }
    reply_ok(c->r);
    c->dirty++;
}
