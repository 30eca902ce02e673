/*
 * broker/commands/families: the per-family command arrays that
 * cmd_table_init() merges into the command table. Each family file
 * (string.c, keys.c, ...) defines one array terminated by an entry with a
 * NULL name, and owns its handlers.
 */
#ifndef BROKER_COMMANDS_FAMILIES_H
#define BROKER_COMMANDS_FAMILIES_H

#include "broker/commands/cmd.h"

extern cmd_def cmd_string_defs[]; /* string.c */
extern cmd_def cmd_keys_defs[];   /* keys.c */
extern cmd_def cmd_conn_defs[];   /* conn.c: PING, ECHO, HELLO, AUTH, SELECT... */
extern cmd_def cmd_server_defs[];
extern cmd_def cmd_stream_defs[];
extern cmd_def cmd_group_defs[];  /* group.c: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM... */
extern cmd_def cmd_hash_defs[];   /* hash.c: HSET, HGET, HINCRBY, HSCAN, ... */
extern cmd_def cmd_set_defs[];    /* set.c: SADD, SREM, SINTER, SSCAN, ... */
extern cmd_def cmd_list_defs[];   /* list.c: LPUSH, LPOP, LRANGE, BLPOP, ... */
extern cmd_def cmd_pubsub_defs[]; /* pubsub.c: SUBSCRIBE, PUBLISH, PUBSUB, ... */
extern cmd_def cmd_zset_defs[];   /* zset.c: ZADD, ZRANGE, BZPOPMIN, ZSCAN, ... */
extern cmd_def cmd_multi_defs[];  /* multi.c: MULTI, EXEC, DISCARD, WATCH, UNWATCH */
extern cmd_def cmd_script_defs[]; /* script.c: EVAL*, SCRIPT, FCALL*, FUNCTION */
/* stream.c: XADD, XRANGE, XREAD, ... */ /* server.c: INFO, CONFIG, COMMAND, ... */

#endif /* BROKER_COMMANDS_FAMILIES_H */
