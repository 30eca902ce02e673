/*
 * broker/script internals shared by lua.c (states, sandbox, redis.* API,
 * conversions, the run loop), cache.c (EVAL scripts) and func.c
 * (FUNCTION libraries).
 *
 * One run at a time: script__run points at the running script's context
 * while Lua executes, so redis.call, the count hook and SCRIPT KILL find
 * it without passing it through Lua.
 */
#ifndef BROKER_SCRIPT_SCRIPT_INT_H
#define BROKER_SCRIPT_SCRIPT_INT_H

#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>

#include "broker/script/script.h"

/* Script flags (shebang flags=, register_function flags). */
#define SCRIPT_FLAG_NO_WRITES   (1u << 0) /* no-writes */
#define SCRIPT_FLAG_ALLOW_OOM   (1u << 1) /* allow-oom */
#define SCRIPT_FLAG_ALLOW_STALE (1u << 2) /* allow-stale */
#define SCRIPT_FLAG_NO_CLUSTER  (1u << 3) /* no-cluster */
#define SCRIPT_FLAG_CROSS_SLOT  (1u << 4) /* allow-cross-slot-keys */
#define SCRIPT_FLAG_EVAL_COMPAT (1u << 5) /* EVAL body without a shebang */
#define SCRIPT_NFLAGS           5         /* flags with a name */

/* The running script (script__run while Lua executes, else NULL). */
typedef struct script_ctx {
    cmd_ctx *c;       /* the EVAL/FCALL command, borrowed */
    cmd_session sess; /* the script's own session: db, resp of redis.call */
    lua_State *L;     /* the state running it */
    const char *name; /* sha (EVAL) or function name, for errors */
    uint32_t flags;   /* SCRIPT_FLAG_* */
    int ro;           /* 1: write commands refused (*_RO, no-writes) */
    int is_eval;      /* 1 EVAL family, 0 FCALL */
    int wrote;        /* 1 once a write command ran (SCRIPT KILL refuses) */
    int killed;       /* 1 once SCRIPT/FUNCTION KILL or shutdown asked */
    int timedout;     /* 1 once past busy-reply-threshold */
    int64_t start_ms; /* monotonic start, ms */
} script_ctx;

extern script_ctx *script__run;

/* func.c: redis.register_function of the library-loading API. */
int script__register_function(lua_State *L);

/* lua.c: a new sandboxed state (functions 1: the library state, whose
 * global proxy can be pointed at the loading API); NULL on no memory. */
lua_State *script__state_new(int functions);
void script__state_free(lua_State *L);
/* Runs the function at the top of L's stack, below which nothing of the
 * run lies, with the nargs values pushed after it; replies to c (the
 * result, or the error as Redis 7.0 words it) and pops everything. */
void script__call(cmd_ctx *c, lua_State *L, int nargs, const char *name, uint32_t flags, int ro,
                  int is_eval);
/* Pushes a Lua array of argv[0..n). */
void script__push_args(lua_State *L, const resp_arg *argv, int n);
/* Sets global name to the value on top (popped), past the read-only
 * protection. */
void script__set_global(lua_State *L, const char *name);
/* Points the globals of the library state at the loading API (load 1)
 * or at the full environment (load 0). */
void script__library_mode(lua_State *L, int load);
/* Milliseconds on a monotonic clock. */
int64_t script__mono_ms(void);
/* Parses "flag,flag,..." into SCRIPT_FLAG_*; 0, or -1 with the bad flag
 * in *bad (pointing into s, *badlen bytes). */
int script__parse_flags(const char *s, size_t len, uint32_t *flags, const char **bad,
                        size_t *badlen);
/* Flag names, index = bit. */
extern const char *const script__flag_names[SCRIPT_NFLAGS];

/* sha1.c: SHA-1 of p as 40 hex digits and a NUL. O(len). */
void script__sha1hex(const void *p, size_t len, char out[41]);

/* cache.c / func.c: teardown of the script cache and of the libraries
 * (with their state); script__func_state creates the library state on
 * first use and returns it (NULL on no memory). */
void script__cache_fini(void);
void script__func_fini(void);
lua_State *script__func_state(void);

#endif /* BROKER_SCRIPT_SCRIPT_INT_H */
