/*
 * broker/keyspace/streamobj: the payload of a KS_STREAM value, the stream
 * log (streams/) and its consumer groups (consumers/) side by side.
 *
 * The engines stay apart (groups never reach into the log's blocks); this
 * struct is the one place that ties a stream to its groups, as Redis's
 * stream struct carries its cgroups tree. Groups are created on first use,
 * so a stream without groups costs one NULL pointer.
 *
 * Not hot: allocated once per stream key. Not here: commands (commands/
 * stream.c and group.c), the ks_obj header (obj.h).
 */
#ifndef BROKER_KEYSPACE_STREAMOBJ_H
#define BROKER_KEYSPACE_STREAMOBJ_H

#include <stddef.h>

#include "broker/keyspace/obj.h"
#include "consumers/cg.h"
#include "streams/stream.h"

typedef struct ks_stream {
    stream *log;    /* entries and metadata, owned */
    cg_set *groups; /* consumer groups, owned; NULL until the first XGROUP CREATE */
} ks_stream;

/* A new empty stream without groups. Aborts on ENOMEM (runnel_panic). */
ks_stream *ks_stream_new(void);

/* A new KS_STREAM value holding an empty ks_stream (XADD, XGROUP CREATE
 * MKSTREAM). Aborts on ENOMEM. */
ks_obj *ks_stream_obj_new(void);

/* Frees the log and the groups. NULL is a no-op. */
void ks_stream_free(ks_stream *xs);

/* Deep copy for COPY: log, groups, consumers and pending entries. Aborts
 * on ENOMEM. O(size). */
ks_stream *ks_stream_dup(const ks_stream *xs);

/* Bytes held by the log and the groups (MEMORY USAGE, INFO). */
size_t ks_stream_mem(const ks_stream *xs);

/* The groups, created on demand (XGROUP CREATE). Aborts on ENOMEM. */
cg_set *ks_stream_groups(ks_stream *xs);

#endif /* BROKER_KEYSPACE_STREAMOBJ_H */
