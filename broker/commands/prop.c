/*
 * broker/commands/prop: helpers for handlers that choose what their write
 * is recorded as (cmd_propagate): an argument vector built on the stack
 * with formatted numbers and stream IDs, and a batch that collects several
 * commands and records them at the end of the handler.
 *
 * A command that records more than one command is wrapped in MULTI/EXEC,
 * as Redis 7.0 does, so a replay applies all of them or none; inside EXEC
 * the transaction is already wrapped and nothing more is added.
 *
 * Not hot: only writes whose argv does not replay as is come here (SET EX,
 * XADD *, XREADGROUP, SPOP, ...). Not here: the log itself (persist/).
 */
#include <assert.h>
#include <string.h>

#include "broker/commands/cmd.h"
#include "broker/util/mem.h"
#include "broker/util/num.h"

void
cmd_prop_args_init(cmd_prop_args *a)
{
    a->argc = 0;
}

void
cmd_prop_lit(cmd_prop_args *a, const char *s)
{
    assert(a->argc < CMD_PROP_MAXARGS);
    a->argv[a->argc].ptr = s;
    a->argv[a->argc].len = strlen(s);
    a->argc++;
}

void
cmd_prop_arg(cmd_prop_args *a, const resp_arg *arg)
{
    assert(a->argc < CMD_PROP_MAXARGS);
    a->argv[a->argc++] = *arg;
}

void
cmd_prop_ll(cmd_prop_args *a, long long v)
{
    assert(a->argc < CMD_PROP_MAXARGS);
    a->argv[a->argc].ptr = a->num[a->argc];
    a->argv[a->argc].len = util_ll2str(a->num[a->argc], v);
    a->argc++;
}

void
cmd_prop_id(cmd_prop_args *a, uint64_t ms, uint64_t seq)
{
    char *p = a->num[a->argc];
    size_t n;
    assert(a->argc < CMD_PROP_MAXARGS);
    n = util_ull2str(p, ms);
    p[n++] = '-';
    n += util_ull2str(p + n, seq);
    a->argv[a->argc].ptr = p;
    a->argv[a->argc].len = n;
    a->argc++;
}

void
cmd_prop_emit(cmd_ctx *c, const cmd_prop_args *a)
{
    cmd_propagate(c, a->argc, a->argv);
}

void
cmd_prop_batch_init(cmd_prop_batch *b)
{
    memset(b, 0, sizeof(*b));
}

void
cmd_prop_batch_add(cmd_prop_batch *b, const cmd_prop_args *a)
{
    size_t need = sizeof(uint32_t);
    char *p;
    for (int i = 0; i < a->argc; i++)
        need += sizeof(uint64_t) + a->argv[i].len;
    if (b->len + need > b->cap) {
        b->cap = (b->len + need) * 2;
        b->buf = util_realloc(b->buf, b->cap);
    }
    /* Layout per command: argc (u32), then per argument its length (u64)
     * and bytes. */
    p = b->buf + b->len;
    {
        uint32_t argc = (uint32_t)a->argc;
        memcpy(p, &argc, sizeof(argc));
        p += sizeof(argc);
    }
    for (int i = 0; i < a->argc; i++) {
        uint64_t len = a->argv[i].len;
        memcpy(p, &len, sizeof(len));
        p += sizeof(len);
        if (len)
            memcpy(p, a->argv[i].ptr, len);
        p += len;
    }
    b->len += need;
    b->count++;
}

void
cmd_prop_batch_flush(cmd_ctx *c, cmd_prop_batch *b)
{
    size_t off = 0;
    int wrap = b->count > 1 && !(c->sess && (c->sess->flags & SESS_IN_EXEC));
    resp_arg *argv = NULL;
    size_t argv_cap = 0;
    cmd_propagate(c, 0, NULL); /* nothing beyond the batch, even when empty */
    if (wrap) {
        resp_arg multi = {"MULTI", 5};
        cmd_propagate(c, 1, &multi);
    }
    while (off < b->len) {
        uint32_t argc;
        memcpy(&argc, b->buf + off, sizeof(argc));
        off += sizeof(argc);
        if (argc > argv_cap) {
            argv_cap = argc;
            argv = util_realloc(argv, argv_cap * sizeof(*argv));
        }
        for (uint32_t i = 0; i < argc; i++) {
            uint64_t len;
            memcpy(&len, b->buf + off, sizeof(len));
            off += sizeof(len);
            argv[i].ptr = b->buf + off;
            argv[i].len = (size_t)len;
            off += (size_t)len;
        }
        cmd_propagate(c, (int)argc, argv);
    }
    if (wrap) {
        resp_arg exec = {"EXEC", 4};
        cmd_propagate(c, 1, &exec);
    }
    util_free(argv);
    util_free(b->buf);
    memset(b, 0, sizeof(*b));
}

void
cmd_prop_batch_fini(cmd_prop_batch *b)
{
    util_free(b->buf);
    memset(b, 0, sizeof(*b));
}
