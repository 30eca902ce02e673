/*
 * broker/persist/aofscan: reads the RESP commands of one append-only file
 * in order, for the loader and for runnel-check-aof.
 *
 * The file is read in chunks into a buffer that holds at least the
 * command being parsed; the RESP parser keeps its progress across reads.
 * Only multibulk commands are valid (an inline command or any other byte
 * where a command starts is corruption). A file that ends inside a command
 * is "torn": the bytes after the last whole command are what a crash in
 * the middle of a write leaves.
 *
 * Hot path: loading at start, O(file size).
 */
#include "broker/persist/aof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/util/mem.h"

#define AOFSCAN_CHUNK (1024 * 1024) /* bytes read at a time */

/* Reads more of fd onto the end of *buf (growing it to hold at least
 * AOFSCAN_CHUNK free bytes). Returns bytes read, 0 at end, -errno. */
static ssize_t
aofscan_fill(int fd, char **buf, size_t *len, size_t *cap)
{
    ssize_t n;
    if (*cap - *len < AOFSCAN_CHUNK) {
        *cap = *len + AOFSCAN_CHUNK;
        *buf = util_realloc(*buf, *cap);
    }
    do {
        n = read(fd, *buf + *len, *cap - *len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    *len += (size_t)n;
    return n;
}

/* 1 when a equals the lowercase word w, any case. */
static int
aofscan_is(const resp_arg *a, const char *w)
{
    size_t n = strlen(w);
    return a->len == n && strncasecmp(a->ptr, w, n) == 0;
}

int
aof_scan_file(const char *path, aof_cmd_fn fn, void *priv, aof_scan *out)
{
    resp_parser p;
    char *buf = NULL;
    size_t len = 0, cap = 0, pos = 0;
    uint64_t base = 0;     /* file offset of buf[0] */
    uint64_t multi_at = 0; /* offset of the open MULTI, when in_multi */
    int eof = 0, rc = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    memset(out, 0, sizeof(*out));
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) == 0)
        out->size = (uint64_t)st.st_size;
    resp_parser_init(&p, (long long)1 << 40);
    for (;;) {
        int prc;
        if (pos == len && eof)
            break;
        if (pos < len && buf[pos] != '*' && p.state == 0) {
            out->status = AOF_SCAN_BAD;
            snprintf(out->why, sizeof(out->why), "expected '*' (a multibulk command), got 0x%02x",
                     (unsigned char)buf[pos]);
            break;
        }
        prc = pos < len ? resp_parse(&p, buf + pos, len - pos) : 0;
        if (prc < 0 && prc != -ENOMEM) {
            out->status = AOF_SCAN_BAD;
            snprintf(out->why, sizeof(out->why), "%s", p.err ? p.err : "protocol error");
            break;
        }
        if (prc == 1) {
            /* The RESP parser, like Redis's, skips the two bytes after a
             * bulk unread; a log must have CRLF there. */
            for (size_t i = 0; i < p.argc; i++) {
                const char *end = p.argv[i].ptr + p.argv[i].len;
                if (end[0] != '\r' || end[1] != '\n') {
                    out->status = AOF_SCAN_BAD;
                    snprintf(out->why, sizeof(out->why), "argument %zu is not followed by CRLF",
                             i + 1);
                    break;
                }
            }
            if (out->status == AOF_SCAN_BAD)
                break;
            if (p.argc == 1 && aofscan_is(&p.argv[0], "multi")) {
                out->in_multi = 1;
                multi_at = base + pos;
            } else if (p.argc == 1 &&
                       (aofscan_is(&p.argv[0], "exec") || aofscan_is(&p.argv[0], "discard"))) {
                out->in_multi = 0;
            }
            pos += p.consumed;
            out->good = base + pos;
            if (p.argc > 0) {
                out->commands++;
                if (fn && (rc = fn(priv, (int)p.argc, p.argv)) != 0)
                    break;
            }
            continue;
        }
        if (prc == -ENOMEM) {
            rc = -ENOMEM;
            break;
        }
        /* Need more bytes: keep the partial command at the front. */
        if (eof) {
            out->status = AOF_SCAN_TORN;
            snprintf(out->why, sizeof(out->why), "the file ends inside a command");
            break;
        }
        if (pos > 0) {
            memmove(buf, buf + pos, len - pos);
            len -= pos;
            base += pos;
            pos = 0;
        }
        {
            ssize_t n = aofscan_fill(fd, &buf, &len, &cap);
            if (n < 0) {
                rc = (int)n;
                break;
            }
            if (n == 0)
                eof = 1;
        }
    }
    if (rc == 0 && out->in_multi && out->status != AOF_SCAN_BAD) {
        out->status = AOF_SCAN_TORN;
        out->good = multi_at;
        snprintf(out->why, sizeof(out->why), "the file ends inside MULTI/EXEC");
    }
    resp_parser_fini(&p);
    util_free(buf);
    close(fd);
    return rc;
}
