/*
 * tests/fuzz/fuzz_resp: libFuzzer target for the RESP request parser.
 *
 * Input layout: byte 0 holds flags (bit 0: unauth, bit 1: a tiny
 * max_bulk_len taken from byte 1), byte 1 seeds the chunk sizes, the rest is
 * the byte stream a client sends. The stream is parsed twice: whole, then
 * in pseudo-random chunks through a query buffer that is moved to a fresh
 * allocation on every change (ASan catches a parser that kept a pointer).
 * Both runs must produce the same commands and the same final outcome, and
 * every result must respect the resp_parse() contract. resp_hdr() is checked
 * against snprintf on the first 8 bytes.
 *
 * Not here: performance; RESP_INLINE_MAX-sized inputs are only parsed, since
 * "too big" errors legitimately depend on how bytes are chunked.
 */
#include "protocols/resp/resp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a libFuzzer crash) when an invariant fails. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* What a run produced: a digest of every command and the final outcome. */
typedef struct fuzz_log {
    uint64_t hash;   /* FNV-1a over argc, lengths and bytes of each command */
    size_t commands; /* commands returned (argc == 0 included) */
    int rc;          /* 0, or the negative errno that ended the run */
    const char *err; /* p.err after a failure; literal or copied into errbuf */
    char errbuf[64]; /* copy of the message (p.err may live in the parser) */
    size_t pending;  /* bytes left unparsed at the end */
} fuzz_log;

static void
fuzz_hash(fuzz_log *l, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        l->hash ^= b[i];
        l->hash *= 1099511628211ULL;
    }
}

/* Checks one resp_parse() result on buf[0, len) and records it. */
static void
fuzz_record(fuzz_log *l, const resp_parser *p, int rc, const char *buf, size_t len)
{
    if (rc < 0) {
        FUZZ_CHECK(rc == -EPROTO);
        FUZZ_CHECK(p->err != NULL);
        FUZZ_CHECK(strncmp(p->err, "Protocol error: ", 16) == 0);
        l->rc = rc;
        snprintf(l->errbuf, sizeof(l->errbuf), "%s", p->err);
        l->err = l->errbuf;
        return;
    }
    FUZZ_CHECK(rc == 1);
    FUZZ_CHECK(p->consumed >= 1 && p->consumed <= len);
    FUZZ_CHECK(p->argc == 0 || p->argv != NULL);
    fuzz_hash(l, &p->argc, sizeof(p->argc));
    for (size_t i = 0; i < p->argc; i++) {
        const char *a = p->argv[i].ptr;
        size_t n = p->argv[i].len;

        if (buf[0] == '*') {
            /* Multibulk: zero-copy, inside the command's bytes. */
            FUZZ_CHECK(a >= buf && n <= p->consumed && (size_t)(a - buf) <= p->consumed - n);
        } else {
            /* Inline: unescaped into the parser's scratch, never longer than the line. */
            FUZZ_CHECK(n <= p->consumed);
            FUZZ_CHECK(n == 0 ||
                       (a >= p->scratch && (size_t)(a - p->scratch) + n <= p->scratch_cap));
        }
        fuzz_hash(l, &n, sizeof(n));
        fuzz_hash(l, a, n); /* reads every byte: ASan checks the range */
    }
    l->commands++;
}

/* Parses the whole stream from one contiguous buffer. */
static void
fuzz_run_whole(fuzz_log *l, long long max_bulk, int unauth, const char *in, size_t n)
{
    resp_parser p;
    size_t off = 0;

    resp_parser_init(&p, max_bulk);
    p.unauth = unauth;
    for (;;) {
        int rc = resp_parse(&p, in + off, n - off);

        if (rc == 0)
            break;
        fuzz_record(l, &p, rc, in + off, n - off);
        if (rc < 0)
            break;
        off += p.consumed;
    }
    l->pending = l->rc < 0 ? 0 : n - off;
    resp_parser_fini(&p);
}

/* Replaces *buf (len bytes) by a fresh copy of its bytes from skip plus add. */
static char *
fuzz_move(char *buf, size_t *len, size_t skip, const char *add, size_t n)
{
    size_t keep = *len - skip;
    char *nb = malloc(keep + n + 1);

    FUZZ_CHECK(nb != NULL);
    if (keep > 0)
        memcpy(nb, buf + skip, keep);
    if (n > 0)
        memcpy(nb + keep, add, n);
    free(buf);
    *len = keep + n;
    return nb;
}

/* Parses the stream arriving in chunks of 1..64 bytes chosen by seed. */
static void
fuzz_run_chunked(fuzz_log *l, long long max_bulk, int unauth, unsigned seed, const char *in,
                 size_t n)
{
    resp_parser p;
    char *buf = NULL;
    size_t len = 0, off = 0;
    uint32_t rng = seed * 2654435761u + 1;

    resp_parser_init(&p, max_bulk);
    p.unauth = unauth;
    while (off < n && l->rc == 0) {
        size_t k;

        rng = rng * 1664525u + 1013904223u;
        k = 1 + (rng >> 26); /* 1..64 */
        if (k > n - off)
            k = n - off;
        buf = fuzz_move(buf, &len, 0, in + off, k);
        off += k;
        for (;;) {
            int rc = resp_parse(&p, buf, len);

            if (rc == 0)
                break;
            fuzz_record(l, &p, rc, buf, len);
            if (rc < 0)
                break;
            buf = fuzz_move(buf, &len, p.consumed, NULL, 0);
        }
    }
    l->pending = l->rc < 0 ? 0 : len;
    free(buf);
    resp_parser_fini(&p);
}

/* resp_hdr() must agree with printf for any value and prefix. */
static void
fuzz_hdr(const uint8_t *data, size_t size)
{
    char got[RESP_HDR_MAX], want[64];
    long long v = 0;
    size_t n;
    int wn;

    if (size < 9)
        return;
    memcpy(&v, data + 1, sizeof(v));
    n = resp_hdr(got, (char)data[0], v);
    wn = snprintf(want, sizeof(want), "%c%lld\r\n", (char)data[0], v);
    FUZZ_CHECK(n == (size_t)wn && n <= RESP_HDR_MAX);
    FUZZ_CHECK(memcmp(got, want, n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_log whole, chunked;
    long long max_bulk = 512LL * 1024 * 1024;
    const char *in;
    size_t n;
    int unauth;

    if (size < 2)
        return 0;
    fuzz_hdr(data, size);
    unauth = data[0] & 1;
    if (data[0] & 2)
        max_bulk = data[1];
    in = (const char *)data + 2;
    n = size - 2;
    memset(&whole, 0, sizeof(whole));
    memset(&chunked, 0, sizeof(chunked));
    fuzz_run_whole(&whole, max_bulk, unauth, in, n);
    fuzz_run_chunked(&chunked, max_bulk, unauth, data[1], in, n);
    if (n > RESP_INLINE_MAX)
        return 0;
    FUZZ_CHECK(whole.rc == chunked.rc);
    FUZZ_CHECK(whole.commands == chunked.commands);
    FUZZ_CHECK(whole.hash == chunked.hash);
    FUZZ_CHECK(whole.pending == chunked.pending);
    FUZZ_CHECK(whole.rc == 0 || strcmp(whole.err, chunked.err) == 0);
    return 0;
}
