/*
 * cg_int.h - internals shared by cg.c and pel.c: the set, group, consumer
 * and pending-entry structs, and the cg__ helpers that both files use.
 *
 * The one rule every mutation keeps: a pel_entry sits in its group's PEL
 * (which owns it) and in the PEL of the consumer it names (which borrows
 * it), under the same 16-byte key, and nowhere else. pel_check verifies it.
 * Not here: the public contracts (cg.h, pel.h).
 */
#ifndef CONSUMERS_CG_INT_H
#define CONSUMERS_CG_INT_H

#include "consumers/cg.h"
#include "consumers/cg_malloc.h"
#include "consumers/pel.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes of a radix-tree key for an entry ID: ms then seq, big-endian. */
#define CG_KEY_LEN 16

struct cg_set {
    rax *groups; /* group name -> cg_group *, owned (the only owner of groups) */
};

struct cg_group {
    rax *pel;             /* entry ID key -> pel_entry *, OWNS every pending entry */
    rax *consumers;       /* consumer name -> cg_consumer *, owned */
    stream_id last_id;    /* last-delivered ID */
    int64_t entries_read; /* read counter of last_id, or CG_ENTRIES_READ_INVALID */
    size_t name_len;      /* bytes in name */
    unsigned char name[]; /* copy of the tree key, name_len bytes */
};

struct cg_consumer {
    rax *pel;             /* entry ID key -> pel_entry *, BORROWED from the group PEL */
    int64_t seen_ms;      /* last read or claim attempt, ms since epoch */
    int64_t active_ms;    /* last entry received or claimed, ms, or CG_NEVER_ACTIVE */
    size_t name_len;      /* bytes in name */
    unsigned char name[]; /* copy of the tree key, name_len bytes */
};

struct pel_entry {
    int64_t delivery_ms;     /* last delivery, ms since epoch */
    uint64_t delivery_count; /* deliveries so far (or RETRYCOUNT) */
    cg_consumer *owner;      /* consumer whose PEL also holds it; borrowed, never NULL */
};

/* Writes the 16-byte big-endian key of id to key. */
void cg__key(unsigned char *key, const stream_id *id);

/* Reads an ID back from a 16-byte key. */
stream_id cg__key_id(const unsigned char *key);

/* Removes e (key) from both PELs and frees it. */
void cg__pel_drop(cg_group *g, const unsigned char *key, pel_entry *e);

/*
 * Moves e (key) into c's PEL, out of its previous owner's. Inserts first, so
 * -ENOMEM leaves everything as it was; 0 on success (also when c already
 * owns it).
 */
int cg__pel_move(pel_entry *e, const unsigned char *key, cg_consumer *c);

#endif /* CONSUMERS_CG_INT_H */
