/*
 * broker/script: Lua scripting as Redis 7.0 has it: EVAL and its script
 * cache, FUNCTION libraries and FCALL, on Debian's Lua 5.1 (the version
 * Redis embeds) with cjson and bit.
 *
 * Two Lua states live for the process: one for EVAL scripts, one for
 * function libraries, each sandboxed (read-only globals and library
 * tables, no os/io/loadfile/dofile/require). A script runs to completion
 * on the core thread; redis.call runs commands through the server's
 * dispatcher (cmd_host.script_call) with a copy of the caller's session,
 * and a count hook lets the server answer BUSY to others once the run
 * passes busy-reply-threshold (cmd_host.script_yield).
 *
 * Not here: argument tables of the commands (broker/commands/script.c),
 * the dispatcher side of BUSY (broker/server/scriptrun.c).
 */
#ifndef BROKER_SCRIPT_SCRIPT_H
#define BROKER_SCRIPT_SCRIPT_H

#include "broker/commands/cmd.h"

/* Lifecycle. script_init creates both Lua states (0, or -ENOMEM);
 * script_fini frees them with every cached script and library. */
int script_init(void);
void script_fini(void);

/* The BUSY errors, by the kind of script running. */
#define SCRIPT_BUSY_EVAL                                                                           \
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
#define SCRIPT_BUSY_FUNCTION                                                                       \
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."

/* 1 while a script or function runs; *is_eval tells which (may be NULL). */
int script_running(int *is_eval);

/* Command bodies. Each parses all of c's arguments, replies, and never
 * blocks. The EVAL family and FCALL run O(script); the cache and library
 * commands are O(1) per argument except where noted. */
void script_cmd_eval(cmd_ctx *c, int by_sha, int ro); /* EVAL[SHA][_RO] */
void script_cmd_load(cmd_ctx *c);                     /* SCRIPT LOAD */
void script_cmd_exists(cmd_ctx *c);                   /* SCRIPT EXISTS */
void script_cmd_flush(cmd_ctx *c);                    /* SCRIPT FLUSH [ASYNC|SYNC] */
/* SCRIPT KILL (functions 0) and FUNCTION KILL (functions 1): NOTBUSY,
 * UNKILLABLE, or +OK with the running script marked to stop. */
void script_cmd_kill(cmd_ctx *c, int functions);
void script_cmd_fcall(cmd_ctx *c, int ro); /* FCALL, FCALL_RO */
void script_cmd_fn_load(cmd_ctx *c);       /* FUNCTION LOAD [REPLACE] code */
void script_cmd_fn_delete(cmd_ctx *c);     /* FUNCTION DELETE name */
void script_cmd_fn_flush(cmd_ctx *c);      /* FUNCTION FLUSH [ASYNC|SYNC] */
void script_cmd_fn_list(cmd_ctx *c);       /* FUNCTION LIST, O(libraries) */
void script_cmd_fn_stats(cmd_ctx *c);      /* FUNCTION STATS */
void script_cmd_fn_dump(cmd_ctx *c);       /* FUNCTION DUMP, O(code bytes) */
void script_cmd_fn_restore(cmd_ctx *c);    /* FUNCTION RESTORE payload [policy] */

/* For the append-only log's rewrite: the FUNCTION DUMP payload of every
 * library (owned by the caller, util_free; *len bytes), to record as
 * FUNCTION RESTORE <payload> when script_functions_count() > 0. O(code). */
char *script_functions_payload(size_t *len);
int script_functions_count(void); /* libraries loaded */
/* Replaces every library with those of a FUNCTION DUMP payload (snapshot
 * load). Returns 0, or a negative errno when the payload is damaged or a
 * library does not load (the libraries are then left as they were). */
int script_functions_restore(const char *p, size_t len);

#endif /* BROKER_SCRIPT_SCRIPT_H */
