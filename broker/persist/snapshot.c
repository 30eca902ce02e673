/*
 * broker/persist/snapshot: the binary snapshot codec (see snapshot.h).
 *
 * On-disk layout, version 1. Integers are little-endian; "uv" is an
 * unsigned LEB128 varint (7 bits a byte, low first, at most 10 bytes); "str"
 * is uv length then bytes; "id" is uv ms then uv seq; "i64"/"u64"/"f64" are
 * 8 fixed bytes (f64: the IEEE-754 bits of a double).
 *
 *   "RUNNELSNAP" u16 version(1)
 *   0xFA str name str value            aux field, any number, unknown ignored
 *                                      ("ctime-ms": decimal ms; "runnel-ver")
 *   0xFE uv db uv nkeys                per non-empty database, then nkeys of:
 *     [0xFC i64 expire-ms] u8 type str key value
 *   0xFF u64 crc                       CRC-64/Jones of every byte before crc
 *
 * Values by type tag: 0 string: str. 1 list: uv n, n str (head first).
 * 2 set: uv n, n str. 3 zset: uv n, n (str member, f64 score), ascending.
 * 4 hash: uv n, n (str field, str value). 6 stream: uv length, id last-id,
 * id first-id, id max-deleted-id, uv entries-added, uv stored entries, each
 * u8 flags (1 deleted, 2 starts a block) id uv npairs npairs (str, str);
 * uv groups, each str name, id last-delivered, i64 entries-read (-1 none),
 * uv consumers, each str name, i64 seen-ms, i64 active-ms (-1 never),
 * uv pending, each id, i64 delivery-ms, uv delivery-count.
 *
 * Streams keep deleted entries and block starts so a load rebuilds the
 * same blocks; first-id is informative (the load recomputes it). Loading
 * checks the CRC over the whole file first, so a damaged file never
 * touches the keyspace; the parse then bounds-checks every field anyway.
 * Not hot (runs in a child or at startup). Not here: when to save,
 * forking, the append-only log.
 */
#include "broker/persist/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/config/config.h"
#include "broker/keyspace/streamobj.h"
#include "broker/keyspace/t_hash.h"
#include "broker/keyspace/t_list.h"
#include "broker/keyspace/t_set.h"
#include "broker/keyspace/t_zset.h"
#include "broker/server/server.h"
#include "broker/util/mem.h"
#include "consumers/pel.h"

#define SNAP_MAGIC     "RUNNELSNAP"
#define SNAP_MAGIC_LEN 10
#define SNAP_VERSION   1

#define SNAP_TAG_AUX    0xFA
#define SNAP_TAG_EXPIRE 0xFC
#define SNAP_TAG_DB     0xFE
#define SNAP_TAG_END    0xFF

#define SNAP_T_STRING 0
#define SNAP_T_LIST   1
#define SNAP_T_SET    2
#define SNAP_T_ZSET   3
#define SNAP_T_HASH   4
#define SNAP_T_STREAM 6

#define SNAP_E_DELETED 1 /* stream entry flag: removed by XDEL or trimming */
#define SNAP_E_BLOCK   2 /* stream entry flag: first entry of a block */

#define SNAP_BUF      (64 * 1024) /* writer and reader buffer, bytes */
#define SNAP_PROGRESS 1024        /* keys between progress callbacks */

/* ---- CRC-64/Jones (reflected, init 0, xorout 0) ---- */

#define SNAP_CRC_POLY 0x95ac9329ac4bc9b5ULL /* 0xad93d23594c935a9 reflected */

static uint64_t snap_crc_table[256]; /* filled once by snap_crc_init */
static int snap_crc_ready;           /* 1 once the table is filled */

/* The table is built at first use rather than stored: 256 constants are
 * easy to get wrong by hand, and the loop is the definition. */
static void
snap_crc_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;

        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ SNAP_CRC_POLY : c >> 1;
        snap_crc_table[i] = c;
    }
    snap_crc_ready = 1;
}

uint64_t
/* Byte at a time: the snapshot is written once per save, so the simple
 * table beats slicing-by-8 on clarity at no visible cost. */
snap_crc64(uint64_t crc, const void *p, size_t n)
{
    const unsigned char *b = p;

    if (!snap_crc_ready)
        snap_crc_init();
    while (n--)
        crc = snap_crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* ---- Buffered writer ----
 *
 * Only write(2): the child of a fork may not touch locks or the loop. The
 * first failure sticks in err and every later call is a no-op. */

typedef struct snap_writer {
    int fd;                      /* temporary file */
    int err;                     /* first negative errno, 0 while fine */
    uint64_t crc;                /* CRC of every byte handed in so far */
    uint64_t off;                /* bytes handed in so far */
    size_t len;                  /* bytes pending in buf */
    unsigned char buf[SNAP_BUF]; /* pending bytes */
} snap_writer;

/* Hands buf to the kernel, retrying short writes and EINTR; a disk full
 * error becomes w->err. Returns w->err. */
static int
snap_w_flush(snap_writer *w)
{
    size_t done = 0;

    while (w->err == 0 && done < w->len) {
        ssize_t n = write(w->fd, w->buf + done, w->len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            w->err = n < 0 ? -errno : -EIO;
        else
            done += (size_t)n;
    }
    w->len = 0;
    return w->err;
}

/* Every byte goes through here so the CRC and the offset cover the file
 * exactly; large strings pass through buf in SNAP_BUF pieces. */
static void
snap_w_bytes(snap_writer *w, const void *p, size_t n)
{
    const unsigned char *b = p;

    w->crc = snap_crc64(w->crc, p, n);
    w->off += n;
    while (n > 0 && w->err == 0) {
        size_t room = SNAP_BUF - w->len, k = n < room ? n : room;

        memcpy(w->buf + w->len, b, k);
        w->len += k;
        b += k;
        n -= k;
        if (w->len == SNAP_BUF)
            (void)snap_w_flush(w);
    }
}

/* One tag or flags byte. */
static void
snap_w_u8(snap_writer *w, unsigned v)
{
    unsigned char c = (unsigned char)v;

    snap_w_bytes(w, &c, 1);
}

/* Fixed 8 bytes little-endian (times, expiries, score bits, the CRC). */
static void
snap_w_u64(snap_writer *w, uint64_t v)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    snap_w_bytes(w, b, 8);
}

/* LEB128: lengths and counts are mostly small, so one byte each. */
static void
snap_w_uv(snap_writer *w, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;

    while (v >= 0x80) {
        b[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (unsigned char)v;
    snap_w_bytes(w, b, n);
}

/* A length-prefixed byte string; binary-safe. */
static void
snap_w_str(snap_writer *w, const void *p, size_t len)
{
    snap_w_uv(w, len);
    snap_w_bytes(w, p, len);
}

/* A stream ID as two varints (seq is usually 0 or small). */
static void
snap_w_id(snap_writer *w, const stream_id *id)
{
    snap_w_uv(w, id->ms);
    snap_w_uv(w, id->seq);
}

/* ---- Writing values ---- */

/* Elements head to tail, so pushing them at the tail rebuilds the order. */
static void
snap_w_list(snap_writer *w, const ks_obj *o)
{
    ks_list_pos p;

    snap_w_uv(w, ks_list_len(o));
    if (!ks_list_locate(o, 0, &p))
        return;
    do {
        size_t len;
        const char *s = ks_list_pos_get(&p, &len);

        snap_w_str(w, s, len);
    } while (ks_list_pos_next(&p));
}

/* Members in iteration order; the loader re-adds them one by one. */
static void
snap_w_set(snap_writer *w, ks_obj *o)
{
    ks_set_iter it;
    const char *m;
    size_t len;

    snap_w_uv(w, ks_set_count(o));
    ks_set_iter_start(&it, o);
    while (ks_set_iter_next(&it, &m, &len))
        snap_w_str(w, m, len);
    ks_set_iter_stop(&it);
}

/* Pairs in iteration order: insertion order for a listpack, which the
 * loader keeps, so HGETALL on a small hash answers as before. */
static void
snap_w_hash(snap_writer *w, ks_obj *o)
{
    ks_hash_iter it;
    const char *f, *v;
    size_t flen, vlen;

    snap_w_uv(w, ks_hash_count(o));
    ks_hash_iter_start(&it, o);
    while (ks_hash_iter_next(&it, &f, &flen, &v, &vlen)) {
        snap_w_str(w, f, flen);
        snap_w_str(w, v, vlen);
    }
    ks_hash_iter_stop(&it);
}

/* Ascending (score, member) order; scores as raw double bits so that
 * -0.0, infinities and every last digit survive. */
static void
snap_w_zset(snap_writer *w, ks_obj *o)
{
    ks_zset_iter it;
    const char *m;
    size_t len;
    double score;

    snap_w_uv(w, ks_zset_count(o));
    ks_zset_iter_rank(&it, o, 0, SIZE_MAX, 0);
    while (ks_zset_iter_next(&it, &m, &len, &score)) {
        uint64_t bits;

        memcpy(&bits, &score, sizeof(bits));
        snap_w_str(w, m, len);
        snap_w_u64(w, bits);
    }
}

/* Stored entries are counted in a first walk so the count can precede them
 * (the writer cannot seek back: it streams). */
static void
snap_w_stream_log(snap_writer *w, stream *s)
{
    stream_iter it;
    stream_id id, last = stream_last_id(s), md = stream_max_deleted_id(s), first = {0, 0};
    stream_field f, v;
    size_t npairs;
    uint64_t stored = 0;
    int deleted, bstart;

    (void)stream_first_entry(s, &first);
    snap_w_uv(w, stream_len(s));
    snap_w_id(w, &last);
    snap_w_id(w, &first);
    snap_w_id(w, &md);
    snap_w_uv(w, stream_entries_added(s));
    stream_iter_start_raw(&it, s);
    while (stream_iter_next_raw(&it, &id, &npairs, &deleted, &bstart))
        stored++;
    stream_iter_stop(&it);
    snap_w_uv(w, stored);
    stream_iter_start_raw(&it, s);
    while (stream_iter_next_raw(&it, &id, &npairs, &deleted, &bstart)) {
        snap_w_u8(w, (deleted ? SNAP_E_DELETED : 0) | (bstart ? SNAP_E_BLOCK : 0));
        snap_w_id(w, &id);
        snap_w_uv(w, npairs);
        while (stream_iter_field(&it, &f, &v)) {
            snap_w_str(w, f.ptr, f.len);
            snap_w_str(w, v.ptr, v.len);
        }
    }
    stream_iter_stop(&it);
}

/* One consumer and the pending entries it owns; returns 0 or -ENOMEM. */
static int
snap_w_consumer(snap_writer *w, const cg_group *g, const cg_consumer *c)
{
    pel_iter pi;
    stream_id id;
    pel_entry *e;
    const void *name;
    size_t nlen;
    int rc;

    name = cg_consumer_name(c, &nlen);
    snap_w_str(w, name, nlen);
    snap_w_u64(w, (uint64_t)cg_consumer_seen_ms(c));
    snap_w_u64(w, (uint64_t)cg_consumer_active_ms(c));
    snap_w_uv(w, cg_consumer_pending_count(c));
    rc = pel_iter_start(&pi, g, c, NULL);
    if (rc < 0)
        return rc;
    while (pel_iter_next(&pi, &id, &e)) {
        snap_w_id(w, &id);
        snap_w_u64(w, (uint64_t)pel_entry_delivery_ms(e));
        snap_w_uv(w, pel_entry_delivery_count(e));
    }
    pel_iter_stop(&pi);
    return 0;
}

/* The log, then the groups in name order, each with its consumers in
 * name order and each consumer's pending entries in ID order: the group
 * PEL is exactly the union of the consumers' PELs (cg_check). */
static int
snap_w_stream(snap_writer *w, ks_obj *o)
{
    ks_stream *xs = (ks_stream *)o->ptr;
    cg_iter gi, ci;
    cg_group *g;
    cg_consumer *c;
    int rc = 0;

    snap_w_stream_log(w, xs->log);
    snap_w_uv(w, xs->groups != NULL ? cg_set_count(xs->groups) : 0);
    if (xs->groups == NULL)
        return 0;
    cg_iter_groups(&gi, xs->groups);
    while (rc == 0 && cg_iter_next_group(&gi, &g)) {
        size_t nlen;
        const void *name = cg_group_name(g, &nlen);
        stream_id last = cg_group_last_id(g);

        snap_w_str(w, name, nlen);
        snap_w_id(w, &last);
        snap_w_u64(w, (uint64_t)cg_group_entries_read(g));
        snap_w_uv(w, cg_group_consumer_count(g));
        cg_iter_consumers(&ci, g);
        while (rc == 0 && cg_iter_next_consumer(&ci, &c))
            rc = snap_w_consumer(w, g, c);
        cg_iter_stop(&ci);
    }
    cg_iter_stop(&gi);
    return rc;
}

/* Writes type tag, key and value; 0 or a negative errno. */
static int
snap_w_key(snap_writer *w, const char *key, size_t klen, ks_obj *o, int64_t expire)
{
    if (expire >= 0) {
        snap_w_u8(w, SNAP_TAG_EXPIRE);
        snap_w_u64(w, (uint64_t)expire);
    }
    switch (o->type) {
    case KS_STRING: {
        char num[32];
        long long ll;

        snap_w_u8(w, SNAP_T_STRING);
        snap_w_str(w, key, klen);
        if (o->enc == KS_ENC_INT && ks_obj_get_ll(o, &ll)) {
            int n = snprintf(num, sizeof(num), "%lld", ll);

            snap_w_str(w, num, (size_t)n);
        } else {
            snap_w_str(w, o->ptr, o->len);
        }
        return 0;
    }
    case KS_LIST:
        snap_w_u8(w, SNAP_T_LIST);
        snap_w_str(w, key, klen);
        snap_w_list(w, o);
        return 0;
    case KS_SET:
        snap_w_u8(w, SNAP_T_SET);
        snap_w_str(w, key, klen);
        snap_w_set(w, o);
        return 0;
    case KS_HASH:
        snap_w_u8(w, SNAP_T_HASH);
        snap_w_str(w, key, klen);
        snap_w_hash(w, o);
        return 0;
    case KS_ZSET:
        snap_w_u8(w, SNAP_T_ZSET);
        snap_w_str(w, key, klen);
        snap_w_zset(w, o);
        return 0;
    case KS_STREAM:
        snap_w_u8(w, SNAP_T_STREAM);
        snap_w_str(w, key, klen);
        return snap_w_stream(w, o);
    default:
        return -ENOTSUP;
    }
}

/* The Lua function libraries, saved as the aux field "functions" (their
 * FUNCTION DUMP payload) through hooks the server sets at start. */
static char *(*snap_fn_dump)(size_t *len);
static int (*snap_fn_restore)(const char *p, size_t len);

void
snap_set_functions_hooks(char *(*dump)(size_t *len), int (*restore)(const char *p, size_t len))
{
    snap_fn_dump = dump;
    snap_fn_restore = restore;
}

/* A name/value aux field; loaders skip names they do not know. */
static void
snap_w_aux(snap_writer *w, const char *name, const char *value)
{
    snap_w_u8(w, SNAP_TAG_AUX);
    snap_w_str(w, name, strlen(name));
    snap_w_str(w, value, strlen(value));
}

/* The whole file body; 0 or a negative errno. */
static int
snap_w_all(snap_writer *w, const ks_space *ks)
{
    unsigned char ver[2] = {SNAP_VERSION & 0xff, SNAP_VERSION >> 8};
    struct timespec ts;
    char num[32];
    int rc = 0;

    snap_w_bytes(w, SNAP_MAGIC, SNAP_MAGIC_LEN);
    snap_w_bytes(w, ver, 2);
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(num, sizeof(num), "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    snap_w_aux(w, "ctime-ms", num);
    snap_w_aux(w, "runnel-ver", RUNNEL_VERSION);
    if (snap_fn_dump) {
        size_t flen;
        char *fp = snap_fn_dump(&flen);
        if (fp != NULL) {
            snap_w_u8(w, SNAP_TAG_AUX);
            snap_w_str(w, "functions", 9);
            snap_w_str(w, fp, flen);
            util_free(fp);
        }
    }
    for (int i = 0; i < ks->count && rc == 0; i++) {
        ks_db *db = &ks->dbs[i];
        ks_dict_iter it;
        ks_dict_entry *e;

        if (ks_dict_count(db->keys) == 0)
            continue;
        snap_w_u8(w, SNAP_TAG_DB);
        snap_w_uv(w, (uint64_t)i);
        snap_w_uv(w, ks_dict_count(db->keys));
        ks_dict_iter_start(&it, db->keys);
        while (rc == 0 && w->err == 0 && (e = ks_dict_iter_next(&it)) != NULL) {
            size_t klen;
            const char *key = ks_dict_entry_key(e, &klen);

            rc = snap_w_key(w, key, klen, ks_dict_entry_val(e), ks_get_expire(db, key, klen));
        }
        ks_dict_iter_stop(&it);
    }
    if (rc != 0)
        return rc;
    snap_w_u8(w, SNAP_TAG_END);
    snap_w_u64(w, w->crc);
    return snap_w_flush(w);
}

/* dir of path into out ("." when path has no slash). */
static void
snap_dirname(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int
/* The temporary name carries the pid, so a parent SAVE and a child BGSAVE
 * never write the same file; a failure unlinks it. */
snap_write(const ks_space *ks, const char *path, char *err, size_t errcap)
{
    char dir[4096], tmp[4200];
    snap_writer *w;
    int rc, dfd;

    snap_dirname(path, dir, sizeof(dir));
    snprintf(tmp, sizeof(tmp), "%s/temp-%ld.snap", dir, (long)getpid());
    w = util_calloc(1, sizeof(*w));
    w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        rc = -errno;
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "cannot create %s: %s", tmp, strerror(-rc));
        util_free(w);
        return rc;
    }
    rc = snap_w_all(w, ks);
    if (rc == 0 && fsync(w->fd) != 0)
        rc = -errno;
    if (close(w->fd) != 0 && rc == 0)
        rc = -errno;
    util_free(w);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0) {
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "writing %s failed: %s", tmp, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    /* The rename is durable only once the directory is synced. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        rc = -errno;
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "fsync of directory %s failed: %s", dir, strerror(-rc));
    }
    if (dfd >= 0)
        close(dfd);
    return rc;
}

/* ---- Buffered reader ----
 *
 * Every read is bounded by `limit` (the offset of the CRC), so a length
 * field can never make the loader allocate more than the file holds. The
 * first failure is kept in rc with its message; later reads return zeros. */

typedef struct snap_reader {
    int fd;                      /* the snapshot, read sequentially */
    const char *path;            /* for messages */
    uint64_t limit;              /* offset of the trailing CRC */
    uint64_t off;                /* file offset of the next byte consumed */
    size_t pos;                  /* next byte of buf */
    size_t len;                  /* bytes valid in buf */
    int rc;                      /* first negative errno, 0 while fine */
    char *err;                   /* caller's message buffer, may be NULL */
    size_t errcap;               /* bytes in err */
    unsigned char *scratch[2];   /* reusable string buffers, owned */
    size_t scap[2];              /* bytes allocated in scratch[i] */
    unsigned char buf[SNAP_BUF]; /* read-ahead */
} snap_reader;

/* Records the first failure: "snapshot <path>: <what> at byte <off>". */
static int
snap_r_fail(snap_reader *r, int rc, const char *what, uint64_t off)
{
    if (r->rc == 0) {
        r->rc = rc;
        if (r->err != NULL && r->errcap > 0)
            snprintf(r->err, r->errcap, "snapshot %s: %s at byte %" PRIu64, r->path, what, off);
    }
    return r->rc;
}

/* Copies n bytes from the file, or fails (zeros in dst) when they would
 * pass limit: this is the one bounds check every field relies on. */
static int
snap_r_bytes(snap_reader *r, void *dst, size_t n)
{
    unsigned char *d = dst;

    if (r->rc != 0) {
        memset(dst, 0, n);
        return r->rc;
    }
    if (n > r->limit - r->off) {
        memset(dst, 0, n);
        return snap_r_fail(r, -EINVAL, "unexpected end of data", r->off);
    }
    while (n > 0) {
        size_t k;

        if (r->pos == r->len) {
            ssize_t got = read(r->fd, r->buf, SNAP_BUF);

            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                memset(d, 0, n);
                return snap_r_fail(r, got < 0 ? -errno : -EINVAL, "read failed", r->off);
            }
            r->pos = 0;
            r->len = (size_t)got;
        }
        k = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(d, r->buf + r->pos, k);
        r->pos += k;
        r->off += k;
        d += k;
        n -= k;
    }
    return 0;
}

/* One byte (0 after a failure). */
static unsigned
snap_r_u8(snap_reader *r)
{
    unsigned char c;

    snap_r_bytes(r, &c, 1);
    return c;
}

/* Fixed 8 bytes little-endian. */
static uint64_t
snap_r_u64(snap_reader *r)
{
    unsigned char b[8];
    uint64_t v = 0;

    snap_r_bytes(r, b, 8);
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* LEB128 of at most 10 bytes whose value fits 64 bits; anything longer or
 * larger is damage. */
static uint64_t
snap_r_uv(snap_reader *r)
{
    uint64_t at = r->off, v = 0;

    for (unsigned shift = 0; shift < 70; shift += 7) {
        unsigned c = snap_r_u8(r);

        if (shift == 63 && c > 1)
            break;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    snap_r_fail(r, -EINVAL, "bad varint", at);
    return 0;
}

/* A count of items each at least min_each bytes long: refused when the
 * rest of the file could not hold them. */
static uint64_t
snap_r_count(snap_reader *r, uint64_t min_each)
{
    uint64_t at = r->off, n = snap_r_uv(r);

    if (r->rc == 0 && n > (r->limit - r->off) / min_each)
        snap_r_fail(r, -EINVAL, "count larger than the file", at);
    return r->rc == 0 ? n : 0;
}

/* A string into scratch buffer slot (valid until the next read into the
 * same slot), NUL-terminated; *len its length. */
static const char *
snap_r_str(snap_reader *r, int slot, size_t *len)
{
    uint64_t at = r->off, n = snap_r_uv(r);

    *len = 0;
    if (r->rc == 0 && n > r->limit - r->off)
        snap_r_fail(r, -EINVAL, "string longer than the file", at);
    if (r->rc != 0)
        return "";
    if (n + 1 > r->scap[slot]) {
        r->scap[slot] = (size_t)n + 1 > 64 ? (size_t)n + 1 : 64;
        r->scratch[slot] = util_realloc(r->scratch[slot], r->scap[slot]);
    }
    snap_r_bytes(r, r->scratch[slot], (size_t)n);
    r->scratch[slot][n] = 0;
    *len = (size_t)n;
    return (const char *)r->scratch[slot];
}

/* A stream ID: two varints. */
static void
snap_r_id(snap_reader *r, stream_id *id)
{
    id->ms = snap_r_uv(r);
    id->seq = snap_r_uv(r);
}

/* ---- Loading values ---- */

/* Empty values never exist in a keyspace (the last element takes the key
 * with it), so a zero count is damage for lists, sets, hashes and zsets. */
static ks_obj *
snap_r_list(snap_reader *r)
{
    uint64_t at = r->off, n = snap_r_count(r, 1);
    ks_obj *o;

    if (r->rc == 0 && n == 0)
        snap_r_fail(r, -EINVAL, "empty list", at);
    if (r->rc != 0)
        return NULL;
    o = ks_list_new((int)config.list_max_listpack_size);
    for (uint64_t i = 0; i < n && r->rc == 0; i++) {
        size_t len;
        const char *s = snap_r_str(r, 0, &len);

        if (r->rc == 0)
            ks_list_push(o, 1, s, len);
    }
    return o;
}

/* The first member decides intset or hashtable as SADD would; the
 * threshold then converts as members are added. */
static ks_obj *
snap_r_set(snap_reader *r)
{
    uint64_t at = r->off, n = snap_r_count(r, 1);
    ks_obj *o = NULL;

    if (r->rc == 0 && n == 0)
        snap_r_fail(r, -EINVAL, "empty set", at);
    for (uint64_t i = 0; i < n && r->rc == 0; i++) {
        size_t len;
        const char *m;

        at = r->off;
        m = snap_r_str(r, 0, &len);
        if (r->rc != 0)
            break;
        if (o == NULL)
            o = ks_set_new_for(m, len);
        if (!ks_set_add(o, m, len, (size_t)config.set_max_intset_entries))
            snap_r_fail(r, -EINVAL, "repeated set member", at);
    }
    return o;
}

/* Rebuilt through ks_hash_set, which converts past the listpack limits. */
static ks_obj *
snap_r_hash(snap_reader *r)
{
    ks_hash_limits lim = {(size_t)config.hash_max_listpack_entries,
                          (size_t)config.hash_max_listpack_value};
    uint64_t at = r->off, n = snap_r_count(r, 2);
    ks_obj *o;

    if (r->rc == 0 && n == 0)
        snap_r_fail(r, -EINVAL, "empty hash", at);
    if (r->rc != 0)
        return NULL;
    o = ks_hash_new();
    for (uint64_t i = 0; i < n && r->rc == 0; i++) {
        size_t flen, vlen;
        const char *f, *v;

        at = r->off;
        f = snap_r_str(r, 0, &flen);
        v = snap_r_str(r, 1, &vlen);
        if (r->rc == 0 && !ks_hash_set(o, f, flen, v, vlen, &lim))
            snap_r_fail(r, -EINVAL, "repeated hash field", at);
    }
    return o;
}

/* Created in the encoding the count calls for; ks_zset_add converts a
 * listpack when a member is longer than the value limit. Scores must come
 * in order, which also refuses NaN. */
static ks_obj *
snap_r_zset(snap_reader *r)
{
    ks_zset_limits lim = {(size_t)config.zset_max_listpack_entries,
                          (size_t)config.zset_max_listpack_value};
    uint64_t at = r->off, n = snap_r_count(r, 9);
    ks_obj *o = NULL;
    double prev = -INFINITY;

    if (r->rc == 0 && n == 0)
        snap_r_fail(r, -EINVAL, "empty sorted set", at);
    if (r->rc != 0)
        return NULL;
    o = ks_zset_new((size_t)n, 0, &lim);
    for (uint64_t i = 0; i < n && r->rc == 0; i++) {
        size_t len;
        const char *m;
        uint64_t bits;
        double score;
        int out = 0;

        at = r->off;
        m = snap_r_str(r, 0, &len);
        bits = snap_r_u64(r);
        memcpy(&score, &bits, sizeof(score));
        if (r->rc != 0)
            break;
        if (isnan(score) || score < prev) {
            snap_r_fail(r, -EINVAL, "bad sorted set score", at);
            break;
        }
        prev = score;
        if (ks_zset_add(o, score, m, len, 0, &out, NULL, &lim) != 0 || out != KS_ZADD_OUT_ADDED)
            snap_r_fail(r, -EINVAL, "repeated sorted set member", at);
    }
    return o;
}

/* Reads the pairs of one stream entry into r's pair arena and points fv at
 * them. */
typedef struct snap_pairs {
    unsigned char *data; /* field and value bytes back to back, owned */
    size_t cap;          /* bytes allocated in data */
    size_t *lens;        /* 2*npairs lengths, owned */
    stream_field *fv;    /* 2*npairs fields, owned */
    size_t fcap;         /* items allocated in lens and fv */
} snap_pairs;

static void
snap_r_pairs(snap_reader *r, snap_pairs *pp, uint64_t npairs)
{
    size_t used = 0, k;

    if (2 * npairs > pp->fcap) {
        pp->fcap = 2 * (size_t)npairs;
        pp->lens = util_realloc(pp->lens, pp->fcap * sizeof(*pp->lens));
        pp->fv = util_realloc(pp->fv, pp->fcap * sizeof(*pp->fv));
    }
    for (k = 0; k < 2 * npairs && r->rc == 0; k++) {
        size_t len;
        const char *s = snap_r_str(r, 0, &len);

        if (used + len > pp->cap) {
            pp->cap = (used + len) * 2;
            pp->data = util_realloc(pp->data, pp->cap);
        }
        memcpy(pp->data + used, s, len);
        pp->lens[k] = len;
        used += len;
    }
    used = 0;
    for (k = 0; k < 2 * npairs && r->rc == 0; k++) {
        pp->fv[k].ptr = pp->data + used;
        pp->fv[k].len = pp->lens[k];
        used += pp->lens[k];
    }
}

/* The log of a stream; 0 or the reader's error. */
static int
snap_r_stream_log(snap_reader *r, stream *s)
{
    stream_id last, first, md;
    uint64_t at = r->off, length, added, stored;
    snap_pairs pp = {0};
    int rc;

    length = snap_r_uv(r);
    snap_r_id(r, &last);
    snap_r_id(r, &first);
    snap_r_id(r, &md);
    added = snap_r_uv(r);
    stored = snap_r_count(r, 4);
    for (uint64_t i = 0; i < stored && r->rc == 0; i++) {
        unsigned flags;
        stream_id id;
        uint64_t npairs;

        at = r->off;
        flags = snap_r_u8(r);
        snap_r_id(r, &id);
        npairs = snap_r_count(r, 2);
        if (r->rc == 0 && (flags & ~(unsigned)(SNAP_E_DELETED | SNAP_E_BLOCK)) != 0)
            snap_r_fail(r, -EINVAL, "bad stream entry flags", at);
        snap_r_pairs(r, &pp, npairs);
        if (r->rc != 0)
            break;
        rc = stream_restore_append(s, &id, pp.fv, (size_t)npairs, (flags & SNAP_E_BLOCK) != 0,
                                   (flags & SNAP_E_DELETED) != 0);
        if (rc == -ENOMEM)
            runnel_panic("out of memory loading a stream");
        if (rc != 0)
            snap_r_fail(r, -EINVAL, "bad stream entry", at);
    }
    util_free(pp.data);
    util_free(pp.lens);
    util_free(pp.fv);
    if (r->rc != 0)
        return r->rc;
    if (stream_len(s) != length || stream_restore_finish(s, &last, added, &md) != 0)
        return snap_r_fail(r, -EINVAL, "inconsistent stream metadata", r->off);
    (void)first; /* recomputed from the entries by stream_restore_finish */
    return 0;
}

/* One consumer with its times and the pending entries it owns; the times
 * are set after creation because cg_consumer_add marks it never active. */
static int
snap_r_consumer(snap_reader *r, cg_group *g)
{
    uint64_t at = r->off, npending;
    size_t nlen;
    const char *name = snap_r_str(r, 0, &nlen);
    int64_t seen = (int64_t)snap_r_u64(r), active = (int64_t)snap_r_u64(r);
    cg_consumer *c;
    int rc;

    npending = snap_r_count(r, 11);
    if (r->rc != 0)
        return r->rc;
    rc = cg_consumer_add(g, name, nlen, seen, &c);
    if (rc == -ENOMEM)
        runnel_panic("out of memory loading a consumer");
    if (rc != 0)
        return snap_r_fail(r, -EINVAL, "repeated consumer", at);
    cg_consumer_set_times(c, seen, active);
    for (uint64_t i = 0; i < npending && r->rc == 0; i++) {
        stream_id id;
        int64_t ms;
        uint64_t count;

        at = r->off;
        snap_r_id(r, &id);
        ms = (int64_t)snap_r_u64(r);
        count = snap_r_uv(r);
        if (r->rc != 0)
            break;
        rc = pel_restore(g, c, &id, ms, count);
        if (rc == -ENOMEM)
            runnel_panic("out of memory loading a pending entry");
        if (rc != 0)
            snap_r_fail(r, -EINVAL, "repeated pending entry", at);
    }
    return r->rc;
}

/* The log, then the groups. A partial value is returned on failure so
 * the caller frees it with everything it owns. */
static ks_obj *
snap_r_stream(snap_reader *r)
{
    ks_obj *o = ks_stream_obj_new();
    ks_stream *xs = (ks_stream *)o->ptr;
    uint64_t ngroups;

    if (snap_r_stream_log(r, xs->log) != 0)
        return o;
    ngroups = snap_r_count(r, 4);
    for (uint64_t i = 0; i < ngroups && r->rc == 0; i++) {
        uint64_t at = r->off, nconsumers;
        size_t nlen;
        const char *name = snap_r_str(r, 1, &nlen);
        stream_id last;
        int64_t entries_read;
        cg_group *g;
        int rc;

        snap_r_id(r, &last);
        entries_read = (int64_t)snap_r_u64(r);
        nconsumers = snap_r_count(r, 18);
        if (r->rc == 0 && entries_read < CG_ENTRIES_READ_INVALID)
            snap_r_fail(r, -EINVAL, "bad entries-read", at);
        if (r->rc != 0)
            break;
        rc = cg_group_add(ks_stream_groups(xs), name, nlen, &last, entries_read, &g);
        if (rc == -ENOMEM)
            runnel_panic("out of memory loading a consumer group");
        if (rc != 0) {
            snap_r_fail(r, -EINVAL, "repeated consumer group", at);
            break;
        }
        for (uint64_t k = 0; k < nconsumers && r->rc == 0; k++)
            (void)snap_r_consumer(r, g);
    }
    return o;
}

/* Reads one value of type tag type; NULL (or a partial value the caller
 * frees) with r->rc set on failure. */
static ks_obj *
snap_r_value(snap_reader *r, unsigned type, uint64_t at)
{
    size_t len;
    const char *s;

    switch (type) {
    case SNAP_T_STRING:
        s = snap_r_str(r, 0, &len);
        return r->rc == 0 ? ks_obj_new_str(s, len) : NULL;
    case SNAP_T_LIST:
        return snap_r_list(r);
    case SNAP_T_SET:
        return snap_r_set(r);
    case SNAP_T_HASH:
        return snap_r_hash(r);
    case SNAP_T_ZSET:
        return snap_r_zset(r);
    case SNAP_T_STREAM:
        return snap_r_stream(r);
    default:
        snap_r_fail(r, -EINVAL, "unknown value type", at);
        return NULL;
    }
}

/* The key is read into scratch slot 1 and copied before the value is read,
 * since values use the slots too. */
static int
snap_r_key(snap_reader *r, ks_db *db, int64_t now_ms, snap_info *info)
{
    uint64_t at = r->off;
    int64_t expire = -1;
    unsigned type = snap_r_u8(r);
    size_t klen;
    const char *k;
    char *key;
    ks_obj *o;

    if (type == SNAP_TAG_EXPIRE) {
        expire = (int64_t)snap_r_u64(r);
        if (r->rc == 0 && expire < 0)
            return snap_r_fail(r, -EINVAL, "negative expiry", at);
        at = r->off;
        type = snap_r_u8(r);
    }
    k = snap_r_str(r, 1, &klen);
    if (r->rc != 0)
        return r->rc;
    key = util_memdup(k, klen);
    o = snap_r_value(r, type, at);
    if (r->rc == 0 && ks_dict_find(db->keys, key, klen) != NULL)
        snap_r_fail(r, -EINVAL, "repeated key", at);
    if (r->rc != 0 || (expire >= 0 && expire <= now_ms)) {
        if (r->rc == 0)
            info->expired++;
        ks_obj_free(o);
        util_free(key);
        return r->rc;
    }
    ks_add(db, key, klen, o);
    if (expire >= 0)
        ks_set_expire(db, key, klen, expire);
    info->keys++;
    util_free(key);
    return 0;
}

/* Known aux fields fill info; others are skipped for forward compatibility. */
static void
snap_r_aux(snap_reader *r, snap_info *info)
{
    size_t nlen, vlen;
    uint64_t at = r->off;
    const char *name = snap_r_str(r, 1, &nlen);
    char namebuf[32];
    const char *v;

    snprintf(namebuf, sizeof(namebuf), "%.*s", (int)(nlen < 31 ? nlen : 31), name);
    v = snap_r_str(r, 0, &vlen);
    if (r->rc == 0 && nlen == 8 && strcmp(namebuf, "ctime-ms") == 0)
        info->ctime_ms = strtoll(v, NULL, 10);
    if (r->rc == 0 && nlen == 9 && strcmp(namebuf, "functions") == 0 && snap_fn_restore &&
        snap_fn_restore(v, vlen) != 0)
        snap_r_fail(r, -EINVAL, "function libraries that do not load", at);
}

/* Checks the trailing CRC over the whole file before anything is parsed,
 * so a damaged file never reaches the keyspace. */
static int
snap_r_check_crc(snap_reader *r, uint64_t size)
{
    uint64_t crc = 0, stored = 0, done = 0;
    unsigned char tail[8];
    size_t k = 0;

    while (done < size) {
        ssize_t got = read(r->fd, r->buf, SNAP_BUF);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return snap_r_fail(r, got < 0 ? -errno : -EINVAL, "read failed", done);
        for (ssize_t i = 0; i < got; i++, done++) {
            if (done < size - 8)
                crc = snap_crc_table[(crc ^ r->buf[i]) & 0xff] ^ (crc >> 8);
            else if (k < 8)
                tail[k++] = r->buf[i];
        }
    }
    for (int i = 7; i >= 0; i--)
        stored = stored << 8 | tail[i];
    if (stored != crc)
        return snap_r_fail(r, -EINVAL, "checksum mismatch (damaged or cut short)", size - 8);
    if (lseek(r->fd, 0, SEEK_SET) != 0)
        return snap_r_fail(r, -errno, "seek failed", 0);
    return 0;
}

/* Header, then tagged sections up to END. */
static int
snap_r_all(snap_reader *r, ks_space *ks, int64_t now_ms, snap_info *info, snap_progress_fn progress,
           void *priv)
{
    unsigned char magic[SNAP_MAGIC_LEN];
    uint64_t nkeys = 0;
    unsigned ver;

    snap_r_bytes(r, magic, SNAP_MAGIC_LEN);
    ver = snap_r_u8(r);
    ver |= snap_r_u8(r) << 8;
    if (r->rc == 0 && ver != SNAP_VERSION)
        return snap_r_fail(r, -EINVAL, "unsupported version", SNAP_MAGIC_LEN);
    while (r->rc == 0) {
        uint64_t at = r->off;
        unsigned tag = snap_r_u8(r);

        if (tag == SNAP_TAG_END) {
            if (r->rc == 0 && r->off != r->limit)
                snap_r_fail(r, -EINVAL, "data after END", r->off);
            break;
        } else if (tag == SNAP_TAG_AUX) {
            snap_r_aux(r, info);
        } else if (tag == SNAP_TAG_DB) {
            uint64_t dbnum = snap_r_uv(r), n = snap_r_count(r, 3);

            if (r->rc == 0 && dbnum >= (uint64_t)ks->count)
                return snap_r_fail(r, -EINVAL, "database number out of range", at);
            for (uint64_t i = 0; i < n && r->rc == 0; i++) {
                snap_r_key(r, &ks->dbs[dbnum], now_ms, info);
                if (progress != NULL && ++nkeys % SNAP_PROGRESS == 0)
                    progress(priv, r->off);
            }
        } else if (r->rc == 0) {
            snap_r_fail(r, -EINVAL, "unknown section tag", at);
        }
    }
    return r->rc;
}

int
/* The magic is checked before the CRC pass so a foreign file gets a clear
 * message; the CRC pass runs before any parse so a damaged file leaves the
 * keyspace untouched. */
snap_load(ks_space *ks, const char *path, int64_t now_ms, snap_info *info,
          snap_progress_fn progress, void *priv, char *err, size_t errcap)
{
    snap_info local = {0, 0, 0, 0};
    unsigned char magic[SNAP_MAGIC_LEN];
    snap_reader *r;
    struct stat st;
    ssize_t got;
    int rc;

    if (info == NULL)
        info = &local;
    memset(info, 0, sizeof(*info));
    if (!snap_crc_ready)
        snap_crc_init();
    r = util_calloc(1, sizeof(*r));
    r->path = path;
    r->err = err;
    r->errcap = errcap;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = -errno;
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "snapshot %s: cannot open: %s", path, strerror(-rc));
        util_free(r);
        return rc;
    }
    if (fstat(r->fd, &st) != 0) {
        rc = snap_r_fail(r, -errno, "fstat failed", 0);
        goto done;
    }
    info->bytes = (uint64_t)st.st_size;
    got = read(r->fd, magic, SNAP_MAGIC_LEN);
    if (got != SNAP_MAGIC_LEN || memcmp(magic, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0) {
        rc = snap_r_fail(r, -EINVAL, "not a Runnel snapshot", 0);
        goto done;
    }
    if ((uint64_t)st.st_size < SNAP_MAGIC_LEN + 2 + 1 + 8) {
        rc = snap_r_fail(r, -EINVAL, "file too short", (uint64_t)st.st_size);
        goto done;
    }
    if (lseek(r->fd, 0, SEEK_SET) != 0) {
        rc = snap_r_fail(r, -errno, "seek failed", 0);
        goto done;
    }
    rc = snap_r_check_crc(r, (uint64_t)st.st_size);
    if (rc == 0) {
        r->limit = (uint64_t)st.st_size - 8;
        rc = snap_r_all(r, ks, now_ms, info, progress, priv);
    }
done:
    close(r->fd);
    util_free(r->scratch[0]);
    util_free(r->scratch[1]);
    util_free(r);
    return rc;
}
