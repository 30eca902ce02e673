/*
 * broker/commands/table: the command table index and the helpers every
 * handler shares.
 *
 * The families' arrays are merged at start into one hash index keyed by the
 * lowercase name; subcommands are found by a linear scan of their parent's
 * short array. Lookup lowercases into a stack buffer, so it allocates
 * nothing; names longer than that buffer cannot be commands.
 */
#include "broker/commands/cmd.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker/commands/families.h"
#include "broker/keyspace/dict.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

#define CMD_NAME_MAX 64

static ks_dict *cmd_index; /* lowercase name -> cmd_def * */
static cmd_def **cmd_list; /* top-level commands, table order */
static size_t cmd_list_count;

static cmd_def *const cmd_families[] = {
    cmd_conn_defs,   cmd_server_defs, cmd_keys_defs,   cmd_stream_defs, cmd_group_defs,
    cmd_string_defs, cmd_hash_defs,   cmd_set_defs,    cmd_pubsub_defs, cmd_list_defs,
    cmd_zset_defs,   cmd_multi_defs,  cmd_script_defs,
};

void
cmd_table_init(void)
{
    size_t nfam = sizeof(cmd_families) / sizeof(cmd_families[0]);
    cmd_index = ks_dict_new();
    if (cmd_index == NULL)
        runnel_panic("out of memory building the command table");
    for (size_t f = 0; f < nfam; f++) {
        for (cmd_def *d = cmd_families[f]; d->name; d++) {
            if (ks_dict_add(cmd_index, d->name, strlen(d->name), d) == NULL)
                runnel_panic("duplicate command '%s' in the table", d->name);
            cmd_list = util_realloc(cmd_list, (cmd_list_count + 1) * sizeof(*cmd_list));
            cmd_list[cmd_list_count++] = d;
            for (cmd_def *s = (cmd_def *)d->subs; s && s->name; s++)
                s->parent = d;
        }
    }
}

void
cmd_table_fini(void)
{
    ks_dict_free(cmd_index, NULL);
    cmd_index = NULL;
    util_free(cmd_list);
    cmd_list = NULL;
    cmd_list_count = 0;
}

cmd_def *
cmd_lookup(const char *name, size_t len)
{
    char low[CMD_NAME_MAX];
    ks_dict_entry *e;
    if (len == 0 || len >= sizeof(low))
        return NULL;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    e = ks_dict_find(cmd_index, low, len);
    return e ? ks_dict_entry_val(e) : NULL;
}

cmd_def *
cmd_lookup_sub(const cmd_def *parent, const char *name, size_t len)
{
    for (const cmd_def *s = parent->subs; s && s->name; s++) {
        if (strlen(s->name) == len && strncasecmp(s->name, name, len) == 0)
            return (cmd_def *)s;
    }
    return NULL;
}

cmd_def *
cmd_at(size_t i)
{
    return i < cmd_list_count ? cmd_list[i] : NULL;
}

size_t
cmd_count(void)
{
    return cmd_list_count;
}

const char *
cmd_fullname(const cmd_def *d, char *buf, size_t cap)
{
    if (d->parent)
        snprintf(buf, cap, "%s|%s", d->parent->name, d->name);
    else
        snprintf(buf, cap, "%s", d->name);
    return buf;
}

int
cmd_reply_syntax(cmd_ctx *c)
{
    reply_error(c->r, "ERR syntax error");
    return -1;
}

int
cmd_reply_wrongtype(cmd_ctx *c)
{
    reply_error(c->r, "WRONGTYPE Operation against a key holding the wrong kind of value");
    return -1;
}

int
cmd_get_ll_or_reply(cmd_ctx *c, int i, long long *out, const char *msg)
{
    if (!util_str2ll(c->argv[i].ptr, c->argv[i].len, out)) {
        reply_error(c->r, msg ? msg : "ERR value is not an integer or out of range");
        return -1;
    }
    return 0;
}

int
cmd_arg_is(const cmd_ctx *c, int i, const char *s)
{
    size_t n = strlen(s), len;
    const char *nul;
    if (i >= c->argc)
        return 0;
    /* Redis compares options as C strings, so bytes after a NUL are
     * ignored ("nx\0junk" is NX); match that. */
    nul = memchr(c->argv[i].ptr, '\0', c->argv[i].len);
    len = nul ? (size_t)(nul - c->argv[i].ptr) : c->argv[i].len;
    return len == n && strncasecmp(c->argv[i].ptr, s, n) == 0;
}

ks_obj *
cmd_lookup_read(cmd_ctx *c, int i)
{
    return ks_lookup(c->ks, c->db, c->argv[i].ptr, c->argv[i].len, c->now_ms, 0);
}

ks_obj *
cmd_lookup_write(cmd_ctx *c, int i)
{
    /* Writes neither count hits/misses nor, as in Redis, skip the touch. */
    return ks_lookup(c->ks, c->db, c->argv[i].ptr, c->argv[i].len, c->now_ms, KS_LOOKUP_NOSTATS);
}

void
cmd_key_changed(cmd_ctx *c, const void *key, size_t len)
{
    /* Callers blocked on the key run again once this command is done.
     * WATCH and keyspace notifications hook in here with their issues. */
    ks_block_signal(&c->ks->blocking, c->db->id, key, len);
    cmd_watch_touch(c->db->id, key, len);
    c->dirty++;
}

void
cmd_propagate(cmd_ctx *c, int argc, const resp_arg *argv)
{
    c->propagated = 1;
    if (argc > 0 && c->host && c->host->propagate)
        c->host->propagate(c->db->id, argc, argv);
}

int
cmd_get_timeout_or_reply(cmd_ctx *c, int i, long long *ms)
{
    long double t, scaled;
    if (!util_str2ld(c->argv[i].ptr, c->argv[i].len, &t)) {
        reply_error(c->r, "ERR timeout is not a float or out of range");
        return -1;
    }
    /* Seconds to whole ms, truncating; what does not fit a long long
     * ends up negative, as the C conversion Redis relies on gives. */
    scaled = t * 1000.0L;
    if (scaled != scaled || scaled >= 9.2e18L || scaled <= -9.2e18L)
        *ms = LLONG_MIN;
    else
        *ms = (long long)scaled;
    if (*ms < 0) {
        reply_error(c->r, "ERR timeout is negative");
        return -1;
    }
    if (*ms > 0 && *ms > LLONG_MAX - c->now_ms) {
        reply_error(c->r, "ERR timeout is out of range");
        return -1;
    }
    return 0;
}

int
cmd_client_name_ok(const resp_arg *a)
{
    /* Redis allows only printable ASCII without spaces ('!' to '~'). */
    for (size_t i = 0; i < a->len; i++) {
        unsigned char ch = (unsigned char)a->ptr[i];
        if (ch < '!' || ch > '~')
            return 0;
    }
    return 1;
}
