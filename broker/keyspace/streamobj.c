/*
 * broker/keyspace/streamobj: stream values (see streamobj.h).
 *
 * The engines report ENOMEM; the broker treats it as fatal, as every other
 * allocation of the keyspace does, so these functions never fail.
 */
#include "broker/keyspace/streamobj.h"

#include "broker/util/mem.h"

ks_stream *
ks_stream_new(void)
{
    ks_stream *xs = util_malloc(sizeof(*xs));

    xs->log = stream_new();
    if (xs->log == NULL)
        runnel_panic("out of memory creating a stream");
    xs->groups = NULL;
    return xs;
}

ks_obj *
ks_stream_obj_new(void)
{
    ks_obj *o = util_calloc(1, sizeof(*o));

    o->type = KS_STREAM;
    o->enc = KS_ENC_STREAM;
    o->lru = ks_clock_sec;
    o->ptr = (char *)ks_stream_new();
    return o;
}

void
ks_stream_free(ks_stream *xs)
{
    if (xs == NULL)
        return;
    stream_free(xs->log);
    cg_set_free(xs->groups);
    util_free(xs);
}

/* COPY duplicates the groups too: the copy's consumers and PELs are its
 * own, so acknowledging on one key never touches the other. */
ks_stream *
ks_stream_dup(const ks_stream *xs)
{
    ks_stream *copy = util_malloc(sizeof(*copy));

    copy->log = stream_dup(xs->log);
    copy->groups = NULL;
    if (copy->log == NULL || (xs->groups && cg_set_dup(xs->groups, &copy->groups) != 0))
        runnel_panic("out of memory copying a stream");
    return copy;
}

size_t
ks_stream_mem(const ks_stream *xs)
{
    return sizeof(*xs) + stream_mem(xs->log) + (xs->groups ? cg_set_mem(xs->groups) : 0);
}

/* Lazily made, as Redis's cgroups tree: most streams never get a group. */
cg_set *
ks_stream_groups(ks_stream *xs)
{
    if (xs->groups == NULL) {
        xs->groups = cg_set_new();
        if (xs->groups == NULL)
            runnel_panic("out of memory creating consumer groups");
    }
    return xs->groups;
}
