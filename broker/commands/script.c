/*
 * broker/commands/script: the scripting family. EVAL, EVALSHA, EVAL_RO,
 * EVALSHA_RO, SCRIPT (LOAD, EXISTS, FLUSH, KILL, DEBUG, HELP), FCALL,
 * FCALL_RO and FUNCTION (LOAD, DELETE, FLUSH, LIST, STATS, DUMP, RESTORE,
 * KILL, HELP).
 *
 * The handlers only route: the Lua engine (broker/script) parses the
 * arguments, runs the code and replies. The table entries are Redis
 * 7.0's COMMAND INFO/DOCS; the keynum key spec (index 2, numkeys then
 * keys) cannot be expressed by cmd_keyspec and is given as a range from
 * argument 3 to the end.
 *
 * Hot path: EVALSHA/FCALL, straight into the engine.
 */
#include "broker/commands/families.h"
#include "broker/script/script.h"

static void
cmd_eval(cmd_ctx *c)
{
    script_cmd_eval(c, 0, 0);
}

static void
cmd_evalsha(cmd_ctx *c)
{
    script_cmd_eval(c, 1, 0);
}

static void
cmd_eval_ro(cmd_ctx *c)
{
    script_cmd_eval(c, 0, 1);
}

static void
cmd_evalsha_ro(cmd_ctx *c)
{
    script_cmd_eval(c, 1, 1);
}

static void
cmd_fcall(cmd_ctx *c)
{
    script_cmd_fcall(c, 0);
}

static void
cmd_fcall_ro(cmd_ctx *c)
{
    script_cmd_fcall(c, 1);
}

static void
cmd_script_kill(cmd_ctx *c)
{
    script_cmd_kill(c, 0);
}

static void
cmd_function_kill(cmd_ctx *c)
{
    script_cmd_kill(c, 1);
}

/* SCRIPT DEBUG: there is no Lua debugger; NO is accepted. */
static void
cmd_script_debug(cmd_ctx *c)
{
    if (cmd_arg_is(c, 2, "no")) {
        reply_ok(c->r);
    } else if (cmd_arg_is(c, 2, "yes") || cmd_arg_is(c, 2, "sync")) {
        reply_error(c->r, "ERR SCRIPT DEBUG YES|SYNC is not supported by this server");
    } else {
        reply_error(c->r, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

static void
cmd_help_lines(cmd_ctx *c, const char *const *lines, size_t n)
{
    reply_array(c->r, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c->r, lines[i]);
}

static void
cmd_script_help(cmd_ctx *c)
{
    static const char *const help[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };
    cmd_help_lines(c, help, sizeof(help) / sizeof(help[0]));
}

static void
cmd_function_help(cmd_ctx *c)
{
    static const char *const help[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME "
        "argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored "
        "using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a "
        "restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
        "abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
        "replace the old",
        "      libraries with the new libraries (notice that even on this option there is a "
        "chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    };
    cmd_help_lines(c, help, sizeof(help) / sizeof(help[0]));
}

#define SCRIPT_RUN_FLAGS (CMD_NOSCRIPT | CMD_STALE | CMD_SKIP_MONITOR | CMD_NO_MANDATORY_KEYS)
#define SCRIPT_RW_NOTES                                                                            \
    "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE"
#define SCRIPT_RO_NOTES                                                                            \
    "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"
#define SCRIPT_CX       "Depends on the script that is executed."
#define SCRIPT_FN_CX    "Depends on the function that is executed."
#define SCRIPT_TIPS_ALL "request_policy:all_shards response_policy:all_succeeded"

/* A script-running command: keys after numkeys (see the file comment). */
#define SCRIPT_RUN(nm, f, fl, sum, since_, cx, ksflags, ksnotes)                                   \
    {                                                                                              \
        .name = (nm), .fn = (f), .arity = -3, .flags = SCRIPT_RUN_FLAGS | (fl),                    \
        .acl = ACL_SLOW | ACL_SCRIPTING, .summary = (sum), .since = (since_),                      \
        .group = "scripting", .complexity = (cx), .keyspecs = {                                    \
            {.flags = (ksflags), .begin = 3, .lastkey = -1, .keystep = 1, .notes = (ksnotes)}      \
        }                                                                                          \
    }

#define SCRIPT_SUB(nm, f, ar, fl, ac, sum, since_, cx, tp)                                         \
    {                                                                                              \
        .name = (nm), .fn = (f), .arity = (ar), .flags = (fl), .acl = (ac) | ACL_SCRIPTING,        \
        .summary = (sum), .since = (since_), .group = "scripting", .complexity = (cx),             \
        .tips = (tp)                                                                               \
    }

/* Subcommands, alphabetical (Redis lists them in a per-process hash order). */
static cmd_def cmd_script_subs[] = {
    SCRIPT_SUB("debug", cmd_script_debug, 3, CMD_NOSCRIPT, ACL_SLOW,
               "Set the debug mode for executed scripts.", "3.2.0", "O(1)", NULL),
    SCRIPT_SUB("exists", script_cmd_exists, -3, CMD_NOSCRIPT, ACL_SLOW,
               "Check existence of scripts in the script cache.", "2.6.0",
               "O(N) with N being the number of scripts to check (so checking a single script is "
               "an O(1) operation).",
               "request_policy:all_shards response_policy:agg_logical_and"),
    SCRIPT_SUB("flush", script_cmd_flush, -2, CMD_NOSCRIPT, ACL_SLOW,
               "Remove all the scripts from the script cache.", "2.6.0",
               "O(N) with N being the number of scripts in cache",
               "request_policy:all_nodes response_policy:all_succeeded"),
    SCRIPT_SUB("help", cmd_script_help, 2, CMD_LOADING | CMD_STALE, ACL_SLOW,
               "Show helpful text about the different subcommands", "5.0.0", "O(1)", NULL),
    SCRIPT_SUB("kill", cmd_script_kill, 2, CMD_NOSCRIPT | CMD_ALLOW_BUSY, ACL_SLOW,
               "Kill the script currently in execution.", "2.6.0", "O(1)",
               "request_policy:all_shards response_policy:one_succeeded"),
    SCRIPT_SUB("load", script_cmd_load, 3, CMD_NOSCRIPT | CMD_STALE, ACL_SLOW,
               "Load the specified Lua script into the script cache.", "2.6.0",
               "O(N) with N being the length in bytes of the script body.",
               "request_policy:all_nodes response_policy:all_succeeded"),
    {0},
};

static cmd_def cmd_function_subs[] = {
    SCRIPT_SUB("delete", script_cmd_fn_delete, 3, CMD_WRITE | CMD_NOSCRIPT, ACL_SLOW,
               "Delete a function by name", "7.0.0", "O(1)", SCRIPT_TIPS_ALL),
    SCRIPT_SUB("dump", script_cmd_fn_dump, 2, CMD_NOSCRIPT, ACL_SLOW,
               "Dump all functions into a serialized binary payload", "7.0.0",
               "O(N) where N is the number of functions", NULL),
    SCRIPT_SUB("flush", script_cmd_fn_flush, -2, CMD_WRITE | CMD_NOSCRIPT, ACL_SLOW,
               "Deleting all functions", "7.0.0", "O(N) where N is the number of functions deleted",
               SCRIPT_TIPS_ALL),
    SCRIPT_SUB("help", cmd_function_help, 2, CMD_LOADING | CMD_STALE, ACL_SLOW,
               "Show helpful text about the different subcommands", "7.0.0", "O(1)", NULL),
    SCRIPT_SUB("kill", cmd_function_kill, 2, CMD_NOSCRIPT | CMD_ALLOW_BUSY, ACL_SLOW,
               "Kill the function currently in execution.", "7.0.0", "O(1)",
               "request_policy:all_shards response_policy:one_succeeded"),
    SCRIPT_SUB("list", script_cmd_fn_list, -2, CMD_NOSCRIPT, ACL_SLOW,
               "List information about all the functions", "7.0.0",
               "O(N) where N is the number of functions", "nondeterministic_output_order"),
    SCRIPT_SUB("load", script_cmd_fn_load, -3, CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT, ACL_SLOW,
               "Create a function with the given arguments (name, code, description)", "7.0.0",
               "O(1) (considering compilation time is redundant)", SCRIPT_TIPS_ALL),
    SCRIPT_SUB("restore", script_cmd_fn_restore, -3, CMD_WRITE | CMD_DENYOOM | CMD_NOSCRIPT,
               ACL_SLOW, "Restore all the functions on the given payload", "7.0.0",
               "O(N) where N is the number of functions on the payload", SCRIPT_TIPS_ALL),
    SCRIPT_SUB("stats", script_cmd_fn_stats, 2, CMD_NOSCRIPT | CMD_ALLOW_BUSY, ACL_SLOW,
               "Return information about the function currently running (name, description, "
               "duration)",
               "7.0.0", "O(1)",
               "nondeterministic_output request_policy:all_shards response_policy:special"),
    {0},
};

cmd_def cmd_script_defs[] = {
    SCRIPT_RUN("eval", cmd_eval, CMD_MOVABLE_KEYS, "Execute a Lua script server side", "2.6.0",
               SCRIPT_CX, "RW access update", SCRIPT_RW_NOTES),
    SCRIPT_RUN("evalsha", cmd_evalsha, CMD_MOVABLE_KEYS, "Execute a Lua script server side",
               "2.6.0", SCRIPT_CX, "RW access update", NULL),
    SCRIPT_RUN("eval_ro", cmd_eval_ro, CMD_READONLY | CMD_MOVABLE_KEYS,
               "Execute a read-only Lua script server side", "7.0.0", SCRIPT_CX, "RO access",
               SCRIPT_RO_NOTES),
    SCRIPT_RUN("evalsha_ro", cmd_evalsha_ro, CMD_READONLY | CMD_MOVABLE_KEYS,
               "Execute a read-only Lua script server side", "7.0.0", SCRIPT_CX, "RO access", NULL),
    SCRIPT_RUN("fcall", cmd_fcall, CMD_MOVABLE_KEYS, "Invoke a function", "7.0.0", SCRIPT_FN_CX,
               "RW access update", SCRIPT_RW_NOTES),
    SCRIPT_RUN("fcall_ro", cmd_fcall_ro, CMD_READONLY | CMD_MOVABLE_KEYS,
               "Invoke a read-only function", "7.0.0", SCRIPT_FN_CX, "RO access", SCRIPT_RO_NOTES),
    {.name = "script",
     .fn = NULL,
     .arity = -2,
     .flags = 0,
     .acl = ACL_SLOW,
     .summary = "A container for Lua scripts management commands",
     .since = "2.6.0",
     .group = "scripting",
     .complexity = "Depends on subcommand.",
     .subs = cmd_script_subs},
    {.name = "function",
     .fn = NULL,
     .arity = -2,
     .flags = 0,
     .acl = ACL_SLOW,
     .summary = "A container for function commands",
     .since = "7.0.0",
     .group = "scripting",
     .complexity = "Depends on subcommand.",
     .subs = cmd_function_subs},
    {0},
};
