/*
 * protocols/resp: the pure RESP codec (request parser and header encoder).
 *
 * The parser is incremental and zero-copy: resp_parse() is handed the start of
 * the current command in the caller's query buffer and returns argv pointing
 * into that buffer (multibulk) or into parser-owned scratch (inline, whose
 * quoting must be undone). Progress is kept as offsets from the command's
 * first byte, so the caller may realloc or memmove its buffer between calls,
 * and nothing already validated is scanned twice: a 500 MB bulk arriving in
 * 64 KB reads costs O(total).
 *
 * Hot path: resp_parse() once per read and per pipelined command; a complete
 * multibulk command costs one pass over its header lines plus O(argc).
 * resp_hdr() runs for every reply header and never calls snprintf.
 *
 * Behaviour and error texts match Redis 7.0 (processMultibulkBuffer and
 * processInlineBuffer); see resp.c for the quirks kept on purpose.
 * Not here: sockets, query-buffer limits, command lookup, reply building.
 */
#ifndef PROTOCOLS_RESP_H
#define PROTOCOLS_RESP_H

#include <stddef.h>

/* Longest inline request or count line buffered without its terminator
 * (Redis PROTO_INLINE_MAX_SIZE). */
#define RESP_INLINE_MAX (64 * 1024)

/* Bytes resp_hdr() may write: prefix, "-9223372036854775808", CR, LF. */
#define RESP_HDR_MAX 24

/* Redis's limits for a client that must still AUTH. */
#define RESP_UNAUTH_MAX_COUNT 10    /* multibulk count above this is refused */
#define RESP_UNAUTH_MAX_BULK  16384 /* bulk length above this is refused */

/* One argument of a parsed command. */
typedef struct resp_arg {
    const char *ptr; /* first byte; not NUL-terminated; borrowed (see resp_parser.argv) */
    size_t len;      /* bytes */
} resp_arg;

/*
 * Parser state. Lives in caller storage (resp_parser_init/fini). The public
 * fields above the private block are inputs (max_bulk_len, unauth) or outputs
 * valid only after the return value named in their comment.
 *
 * Progress through a multibulk request after 23 bytes have arrived (offsets
 * count bytes from the command's first byte, escapes shown as in C):
 *
 *     *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$12
 *     ^0          ^8           ^17  ^20
 *                 offs[0]      offs[1]
 *                                    pos = 20, scan = 23, left = 1, bulk_len = -1
 *
 * pos is the next header line (or, once that line is read and bulk_len set,
 * the payload); scan is where the search for the line's '\r' resumes.
 */
typedef struct resp_parser {
    long long max_bulk_len; /* proto-max-bulk-len in bytes; caller-set, may change between calls */
    int unauth;             /* caller-set: 1 while the client must still AUTH */
    size_t argc;            /* after resp_parse() returned 1: number of arguments */
    resp_arg *argv;         /* after 1: arguments, owned by the parser; see resp_parse() */
    size_t consumed;        /* after 1: bytes the command spans from buf */
    const char *err;        /* after -EPROTO: full message, static or in errbuf */

    /* Private progress state; offsets are relative to the command's first byte. */
    int state;          /* RESP__* phase in resp.c; 0 = no command started */
    size_t scan;        /* next byte to examine while looking for a line end */
    size_t pos;         /* multibulk: start of the current header line or payload */
    long long left;     /* multibulk: bulks still to read, > 0 while in progress */
    long long bulk_len; /* multibulk: payload bytes of the current bulk, -1 before its header */
    size_t nargs;       /* arguments recorded so far for the command in progress */
    size_t *offs;       /* owned; multibulk payload offsets, parallel to argv */
    size_t cap;         /* items allocated in argv and offs */
    char *scratch;      /* owned; unescaped inline arguments */
    size_t scratch_cap; /* bytes allocated in scratch */
    char errbuf[48];    /* message for "expected '$', got 'X'" (err points here) */
} resp_parser;

/* ---- Lifecycle ---------------------------------------------------------- */

/*
 * Prepares p with proto-max-bulk-len max_bulk_len (> 0) and unauth = 0.
 * Allocates nothing; cannot fail. O(1).
 */
void resp_parser_init(resp_parser *p, long long max_bulk_len);

/*
 * Releases the argv, offset and scratch storage p owns. p may be
 * re-initialised afterwards. Safe on a parser that never parsed. O(1).
 */
void resp_parser_fini(resp_parser *p);

/*
 * Forgets the partial command (call it when the caller discards the bytes it
 * was fed, e.g. after a client is reset). Invalidates argv. Keeps modest
 * allocations for reuse and frees large ones. O(1).
 */
void resp_parser_reset(resp_parser *p);

/* ---- Parsing ------------------------------------------------------------- */

/*
 * Parses the command starting at buf, of which len bytes are available.
 * buf must be the same command start (same bytes, possibly moved) as on the
 * previous call, with len not smaller, until the call returns non-zero or
 * resp_parser_reset() is called.
 *
 * Returns:
 *   1        a whole command: argc, argv and consumed are set. The caller runs
 *            it, advances by consumed and calls again on the rest. argc == 0
 *            means Redis would skip it silently (empty or blank inline line,
 *            "*0", "*-1"): just advance.
 *   0        more bytes are needed; progress is kept.
 *   -EPROTO  protocol error; err holds the message (Redis replies
 *            "-ERR <err>\r\n" and closes the connection). Progress is
 *            dropped: a further call starts a new command at buf.
 *   -ENOMEM  argv or scratch could not grow; progress is kept and the call
 *            may be retried.
 *
 * argv entries point into buf (multibulk) or into p's scratch (inline) and
 * stay valid until the next resp_parse() or resp_parser_reset() call, and for
 * multibulk only while the caller's buffer is unchanged. err points to a
 * string literal or to p->errbuf, valid until the next call.
 *
 * Never reads past buf + len. Memory grows with the arguments that have
 * actually arrived, never with a claimed count. The max_bulk_len and unauth
 * limits are applied when each header line is read.
 * Complexity: O(new bytes) per call for header lines and inline requests,
 * O(1) per call while a bulk payload is arriving, O(argc) on completion.
 */
int resp_parse(resp_parser *p, const char *buf, size_t len);

/* ---- Encoding ------------------------------------------------------------ */

/*
 * Writes "<prefix><n>\r\n" (prefix '*', '$', ':', '%', '~', '>', ...; n may
 * be negative, e.g. "$-1\r\n") to dst, which must have room for RESP_HDR_MAX
 * bytes. No NUL terminator is written. Returns the bytes written (4..23).
 * O(digits), no allocation, no snprintf.
 */
size_t resp_hdr(char *dst, char prefix, long long n);

#endif /* PROTOCOLS_RESP_H */
