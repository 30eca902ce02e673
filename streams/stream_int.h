/*
 * stream_int.h - internals shared by stream.c, stream_iter.c, stream_trim.c
 * and stream_id.c: the stream and block structs, the entry encoding and the
 * stream__ helpers that read and write it.
 *
 * The central choice is memory: an entry whose fields equal its block's
 * master list costs a flags byte, a varint sequence delta and its values, and
 * values that are canonical integers or decimals are stored as numbers. There
 * are no per-entry back-pointers; backward walks decode forward and remember
 * offsets. Decoding (stream__entry_read, stream__elem_*) is on every hot path.
 * Not here: ID parsing (stream_id.c) and the public contracts (stream.h).
 */
#ifndef STREAMS_STREAM_INT_H
#define STREAMS_STREAM_INT_H

#include "streams/stream.h"

#include "streams/rax.h"
#include "streams/stream_malloc.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Block (one per radix tree key). The header is its own allocation, so the
 * tree and the chain keep pointing at it while the data buffer is realloc'd.
 *
 *   header                              data (cap bytes, used in use)
 *   +------+------+------+-------+      +------------------+---------+-----+---------+
 *   | prev | next | data | first |--->  | master field 0.. | entry 0 | ... | entry N |
 *   | ...counters, offsets...    |      | master_count elems        ^last_off        |
 *   +----------------------------+      +------------------+---------+-----+---------+
 *                                       0          master_len                   used
 *
 * Entry (entry 0 is the one whose fields became the master list; its ID is
 * 'first', the tree key, even after it is deleted):
 *
 *   +--------+----------------+---------+--------------------------------------+
 *   | flags  | [ms delta - 63]| seq     | SAME:  value_0 ... value_{m-1}       |
 *   | 1 byte | uvarint, only  | uvarint | else:  npairs (uvarint), then        |
 *   |        | if msd == 63   |         |        field_0 value_0 ... pairs     |
 *   +--------+----------------+---------+--------------------------------------+
 *   flags: bit 0 DELETED, bit 1 SAME (fields == master list), bits 2-7 msd:
 *   ms delta = id.ms - first.ms when < 63, else 63 and the rest follows.
 *   seq: id.seq - first.seq when the ms delta is 0, else id.seq itself.
 *   A field of a non-SAME entry may be a reference to a master field.
 *
 * Element (field or value), one header byte h:
 *
 *   0x00-0x7f  integer 0..127, no more bytes
 *   0x80-0xbf  string of h & 0x3f bytes, bytes follow
 *   0xc0-0xc7  integer, (h & 7) + 1 bytes two's complement little-endian
 *   0xc8-0xcf  reference to master field h & 7 (field position only)
 *   0xd0-0xdf  decimal >= 0: uvarint mantissa, (h & 15) + 1 digits after '.'
 *   0xe0-0xef  decimal < 0 (or "-0.0"): as above, with a leading '-'
 *   0xf0       string: uvarint length, bytes follow
 *   0xf1       reference to master field: uvarint index (field position only)
 *   0xf2-0xff  invalid
 *
 * Integers are the strings Redis's string2ll accepts (canonical int64: no
 * '+', no leading zeros, no "-0"); decimals are "[-]I.F" with I "0" or no
 * leading zero, 1-16 digits F, at most 18 digits in all. Both format back
 * byte for byte, so every other string is stored verbatim.
 */
struct stream_block {
    stream_block *prev;    /* older block, NULL for the head */
    stream_block *next;    /* newer block, NULL for the tail */
    unsigned char *data;   /* master list then entries; owned */
    stream_id first;       /* ID of entry 0, the tree key (big-endian) */
    uint32_t used;         /* bytes of data in use */
    uint32_t cap;          /* bytes allocated for data, >= used */
    uint32_t count;        /* entries stored, deleted ones included */
    uint32_t live;         /* entries not deleted; > 0 (empty blocks are freed) */
    uint32_t master_count; /* fields in the master list */
    uint32_t master_len;   /* bytes of the master list = offset of entry 0 */
    uint32_t last_off;     /* offset of entry count-1 */
};

struct stream {
    rax *index;               /* 16-byte big-endian first ID -> block; owns the blocks */
    stream_block *head;       /* oldest block, NULL when there is none */
    stream_block *tail;       /* newest block, the one appends go to */
    uint64_t length;          /* live entries */
    uint64_t entries_added;   /* entries ever added (XINFO entries-added) */
    uint64_t blocks;          /* blocks in the chain = keys in index */
    size_t block_bytes;       /* headers and data capacity of all blocks */
    stream_id last_id;        /* last generated ID */
    stream_id first_id;       /* first live entry, 0-0 when empty (Redis first_id) */
    stream_id max_deleted_id; /* largest ID removed by XDEL, or set by XSETID */
};

#define STREAM__FLAG_DELETED 0x01u /* entry removed by XDEL or exact trim */
#define STREAM__FLAG_SAME    0x02u /* fields equal the block's master list */
#define STREAM__MSD_SHIFT    2     /* flags >> 2 = inline ms delta */
#define STREAM__MSD_ESCAPE   63u   /* inline ms delta meaning "63 + uvarint" */

#define STREAM__E_STR6 0x80u /* short string, length in the low 6 bits */
#define STREAM__E_INT  0xc0u /* integer, (h & 7) + 1 bytes */
#define STREAM__E_REF3 0xc8u /* master reference 0..7 */
#define STREAM__E_DECP 0xd0u /* non-negative decimal */
#define STREAM__E_DECN 0xe0u /* negative decimal */
#define STREAM__E_STR  0xf0u /* long string */
#define STREAM__E_REF  0xf1u /* master reference with a uvarint index */

/* Raw field and value bytes one entry may carry (Redis's listpack cap). */
#define STREAM__ENTRY_MAX_RAW ((size_t)1 << 30)
/* Encoded bytes a block may hold beyond its first entry. */
#define STREAM__BLOCK_MAX_BYTES ((size_t)1 << 30)
/* Encoded bytes one block may hold at all (fits the uint32 offsets). */
#define STREAM__BLOCK_HARD_BYTES ((size_t)0x7fffffff)

/* A decoded entry head. */
typedef struct stream__entry {
    stream_id id;    /* entry ID */
    unsigned flags;  /* STREAM__FLAG_* */
    uint64_t npairs; /* field/value pairs */
    uint32_t off;    /* offset of the flags byte */
    uint32_t body;   /* offset of the first element (after npairs if any) */
} stream__entry;

/* Redis's string2ll on s[0..len): 1 and *v for a canonical int64 ("0", or
 * an optional '-', a digit 1-9, more digits; at most 20 bytes), else 0.
 * (stream_id.c) */
int stream__parse_ll(const char *s, size_t len, int64_t *v);

/* ---- Encoding (stream.c) ---- */

/* Reads a uvarint at p; returns the byte after it. Data is trusted. */
static inline const unsigned char *
stream__uvarint_get(const unsigned char *p, uint64_t *v)
{
    uint64_t x = 0;
    unsigned shift = 0;

    while (*p & 0x80u) {
        x |= (uint64_t)(*p++ & 0x7fu) << shift;
        shift += 7;
    }
    *v = x | (uint64_t)*p << shift;
    return p + 1;
}

/* Bytes of the uvarint encoding of v (1..10). */
size_t stream__uvarint_len(uint64_t v);
/* Writes v as a uvarint; returns the byte after it. */
unsigned char *stream__uvarint_put(unsigned char *p, uint64_t v);

/* Encoded size of the element for ptr[0..len). */
size_t stream__elem_size(const void *ptr, size_t len);
/* Encodes ptr[0..len) at dst; returns the byte after it. */
unsigned char *stream__elem_put(unsigned char *dst, const void *ptr, size_t len);
/* Returns the byte after the element at p. */
const unsigned char *stream__elem_skip(const unsigned char *p);
/*
 * Decodes the element at p. Strings point into the block, numbers are
 * formatted into buf (STREAM_NUM_BUF bytes). A master reference sets
 * *ref to its index and leaves out untouched; otherwise *ref = UINT64_MAX.
 * Returns the byte after the element.
 */
const unsigned char *stream__elem_get(const unsigned char *p, stream_field *out, char *buf,
                                      uint64_t *ref);

/* Decodes the head of the entry at offset off of b. */
void stream__entry_read(const stream_block *b, uint32_t off, stream__entry *e);
/* Offset just past the entry whose head is e. */
uint32_t stream__entry_end(const stream_block *b, const stream__entry *e);

/* ---- Blocks and metadata (stream.c) ---- */

/* Writes the 16-byte big-endian tree key of id. */
void stream__key(unsigned char key[16], const stream_id *id);
/* Block whose first ID is the largest <= id, or NULL. O(log N). */
stream_block *stream__find_block(const stream *s, const stream_id *id);
/* Unlinks b from the chain and the tree and frees it. */
void stream__block_drop(stream *s, stream_block *b);
/* Marks the entry e of block b deleted (XDEL semantics, frees an emptied
 * block). Returns 1 if b was freed. */
int stream__entry_delete(stream *s, stream_block *b, const stream__entry *e);
/* Recomputes s->first_id from the head block. O(block). */
void stream__refresh_first(stream *s);

#endif /* STREAMS_STREAM_INT_H */
