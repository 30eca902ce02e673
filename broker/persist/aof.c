/*
 * broker/persist/aof: the append-only log writer, the manifest, and
 * loading (base snapshot, then the incr files) at start.
 *
 * Writes are buffered as RESP by aof_feed() and written once per loop
 * iteration by aof_before_sleep(), before any reply goes out:
 *
 *   command runs -> aof_feed (buffer) -> ... -> before sleep: write(2)
 *     always:   fdatasync on the core thread, then the replies
 *     everysec: fdatasync of a dup of the fd on the thread pool, at most
 *               one at a time and once a second
 *     no:       the kernel decides
 *
 * A failed or short write keeps the unwritten bytes buffered and retries
 * (the bytes already written are a prefix of the same records, so the file
 * stays a sequence of whole commands once the retry succeeds).
 *
 * Manifest updates are atomic: a temporary file, fsync, rename, fsync of
 * the directory.
 */
#include "broker/persist/aof.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/config/config.h"
#include "broker/persist/aof_int.h"
#include "broker/persist/snapshot.h"
#include "broker/util/mem.h"

aof__state aof__st = {.fd = -1,
                      .seldb = -1,
                      .write_ok = 1,
                      .bgsave_ok = 1,
                      .rewrite_ok = 1,
                      .bgsave_time = -1,
                      .rewrite_time = -1};

#define AOF_BUF_KEEP (1024 * 1024) /* buffer bytes kept allocated between writes */

static uv_work_t aof_fsync_req; /* the background fsync */
static int aof_fsync_fd = -1;   /* dup of the incr fd the background fsync syncs */
static uint64_t aof_load_cmds;  /* commands replayed by the current load */
static uint64_t aof_load_errs;  /* of which replied an error */
static int aof_abandon;         /* 1 once host.progress asked to stop loading */

void
aof__logf(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (aof__st.host.log)
        aof__st.host.log(level, msg);
    else
        fprintf(stderr, "%s\n", msg);
}

/* "<appenddirname>/<name>" (relative to dir, the working directory). */
void
aof__path(char *out, const char *name)
{
    int n = snprintf(out, AOF_PATH_MAX, "%s/%s", config.appenddirname, name);
    /* A path that does not fit is left empty, so opening it fails loudly
     * instead of touching a truncated name. */
    if (n < 0 || n >= AOF_PATH_MAX)
        out[0] = '\0';
}

static void
aof_manifest_path(char *out, int temp)
{
    snprintf(out, AOF_PATH_MAX, "%s/%s%s.manifest", config.appenddirname, temp ? "temp-" : "",
             config.appendfilename);
}

uint64_t
aof__file_size(const char *name)
{
    char path[AOF_PATH_MAX];
    struct stat st;
    aof__path(path, name);
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* ---- Manifest ------------------------------------------------------------ */

void
aof__manifest_free(aof__manifest *m)
{
    util_free(m->base.name);
    for (int i = 0; i < m->nincr; i++)
        util_free(m->incr[i].name);
    util_free(m->incr);
    memset(m, 0, sizeof(*m));
}

static void
aof_manifest_add_incr(aof__manifest *m, const char *name, long long seq)
{
    m->incr = util_realloc(m->incr, (size_t)(m->nincr + 1) * sizeof(*m->incr));
    m->incr[m->nincr].name = util_strdup(name);
    m->incr[m->nincr].seq = seq;
    m->incr[m->nincr].type = 'i';
    m->nincr++;
    if (seq > m->incr_seq)
        m->incr_seq = seq;
}

/* Parses one manifest line into m. Returns 0, or -1 on a bad line. */
static int
aof_manifest_line(aof__manifest *m, char *line)
{
    char *tok[16], *save = NULL, *name = NULL;
    int n = 0;
    long long seq = -1;
    char type = 0;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 16;
         t = strtok_r(NULL, " \t\r\n", &save))
        tok[n++] = t;
    if (n == 0 || tok[0][0] == '#')
        return 0;
    if (n % 2 != 0)
        return -1;
    for (int i = 0; i < n; i += 2) {
        if (strcmp(tok[i], "file") == 0)
            name = tok[i + 1];
        else if (strcmp(tok[i], "seq") == 0)
            seq = strtoll(tok[i + 1], NULL, 10);
        else if (strcmp(tok[i], "type") == 0)
            type = tok[i + 1][0];
    }
    if (name == NULL || seq < 0 || strchr(name, '/') != NULL)
        return -1;
    if (type == 'b') {
        if (m->base.name)
            return -1;
        m->base.name = util_strdup(name);
        m->base.seq = seq;
        m->base.type = 'b';
        if (seq > m->base_seq)
            m->base_seq = seq;
    } else if (type == 'i') {
        aof_manifest_add_incr(m, name, seq);
    } else if (type == 'h') {
        /* History files are deleted once the rewrite that left them is
         * done; one still listed is simply not loaded. */
    } else {
        return -1;
    }
    return 0;
}

/* Reads the manifest. Returns 0, -ENOENT when there is none, -EINVAL when
 * it is malformed (logged). */
int
aof__manifest_read(aof__manifest *m)
{
    char path[AOF_PATH_MAX], line[AOF_PATH_MAX + 128];
    int lineno = 0;
    FILE *f;
    memset(m, 0, sizeof(*m));
    aof_manifest_path(path, 0);
    f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? -ENOENT : -EIO;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (aof_manifest_line(m, line) != 0) {
            aof__logf(CONFIG_LL_WARNING, "Invalid AOF manifest file format: %s line %d", path,
                      lineno);
            fclose(f);
            aof__manifest_free(m);
            return -EINVAL;
        }
    }
    fclose(f);
    return 0;
}

static int
aof_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;
    if (fd < 0)
        return -errno;
    rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int
aof__manifest_write(const aof__manifest *m)
{
    char tmp[AOF_PATH_MAX], path[AOF_PATH_MAX];
    FILE *f;
    int ok;
    aof_manifest_path(tmp, 1);
    aof_manifest_path(path, 0);
    f = fopen(tmp, "w");
    if (f == NULL) {
        aof__logf(CONFIG_LL_WARNING, "Can't open the AOF manifest file %s: %s", tmp,
                  strerror(errno));
        return -1;
    }
    if (m->base.name)
        fprintf(f, "file %s seq %lld type b\n", m->base.name, m->base.seq);
    for (int i = 0; i < m->nincr; i++)
        fprintf(f, "file %s seq %lld type i\n", m->incr[i].name, m->incr[i].seq);
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        aof__logf(CONFIG_LL_WARNING, "Can't persist the AOF manifest file %s: %s", path,
                  strerror(errno));
        unlink(tmp);
        return -1;
    }
    aof_fsync_dir(config.appenddirname);
    return 0;
}

/* 1 when name is listed in m. */
static int
aof_manifest_has(const aof__manifest *m, const char *name)
{
    if (m->base.name && strcmp(m->base.name, name) == 0)
        return 1;
    for (int i = 0; i < m->nincr; i++) {
        if (strcmp(m->incr[i].name, name) == 0)
            return 1;
    }
    return 0;
}

void
aof__delete_files(const aof__manifest *old, const aof__manifest *keep)
{
    char path[AOF_PATH_MAX];
    if (old->base.name && !aof_manifest_has(keep, old->base.name)) {
        aof__path(path, old->base.name);
        unlink(path);
    }
    for (int i = 0; i < old->nincr; i++) {
        if (!aof_manifest_has(keep, old->incr[i].name)) {
            aof__path(path, old->incr[i].name);
            unlink(path);
        }
    }
}

/* 1 when name ends with suffix. */
static int
aof_ends_with(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n >= k && strcmp(name + n - k, suffix) == 0;
}

/* Removes what a crash or a killed child can leave: snapshot temporaries
 * ("temp-*.snap") in dir and in the log directory, and log files of this
 * appendfilename that the manifest no longer names. Only while no child
 * runs (its temporary file would be one of them). */
void
aof__cleanup(void)
{
    const char *dirs[2] = {".", config.appenddirname};
    size_t stem = strlen(config.appendfilename);
    for (int d = 0; d < 2; d++) {
        DIR *dh = opendir(dirs[d]);
        struct dirent *e;
        if (dh == NULL)
            continue;
        while ((e = readdir(dh)) != NULL) {
            const char *n = e->d_name;
            char path[AOF_PATH_MAX];
            int stale = strncmp(n, "temp-", 5) == 0 && aof_ends_with(n, ".snap");
            if (d == 1 && !stale && aof__st.state == AOF__ON &&
                strncmp(n, config.appendfilename, stem) == 0 && n[stem] == '.' &&
                (aof_ends_with(n, ".base.rdb") || aof_ends_with(n, ".base.aof") ||
                 aof_ends_with(n, ".incr.aof")))
                stale = !aof_manifest_has(&aof__st.man, n);
            if (!stale)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dirs[d], n);
            if (unlink(path) == 0)
                aof__logf(CONFIG_LL_NOTICE, "Removed the leftover file %s", path);
        }
        closedir(dh);
    }
}

/* ---- Writer -------------------------------------------------------------- */

static void
aof_buf_reserve(size_t more)
{
    if (aof__st.len + more <= aof__st.cap)
        return;
    aof__st.cap = (aof__st.len + more) * 2;
    if (aof__st.cap < 16384)
        aof__st.cap = 16384;
    aof__st.buf = util_realloc(aof__st.buf, aof__st.cap);
}

static void
aof_buf_header(char kind, size_t n)
{
    aof_buf_reserve(RESP_HDR_MAX);
    aof__st.len += resp_hdr(aof__st.buf + aof__st.len, kind, (long long)n);
}

static void
aof_buf_bulk(const void *p, size_t n)
{
    aof_buf_header('$', n);
    aof_buf_reserve(n + 2);
    memcpy(aof__st.buf + aof__st.len, p, n);
    aof__st.len += n;
    aof__st.buf[aof__st.len++] = '\r';
    aof__st.buf[aof__st.len++] = '\n';
}

void
aof_feed(int dbid, int argc, const resp_arg *argv)
{
    if (aof__st.state == AOF__OFF || aof__st.loading || argc <= 0 || aof__st.fd < 0)
        return;
    if (dbid != aof__st.seldb) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%d", dbid);
        aof_buf_header('*', 2);
        aof_buf_bulk("SELECT", 6);
        aof_buf_bulk(num, (size_t)n);
        aof__st.seldb = dbid;
    }
    aof_buf_header('*', (size_t)argc);
    for (int i = 0; i < argc; i++)
        aof_buf_bulk(argv[i].ptr, argv[i].len);
}

static void
aof_fsync_work(uv_work_t *w)
{
    (void)w;
    fdatasync(aof_fsync_fd);
}

static void
aof_fsync_done(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
    close(aof_fsync_fd);
    aof_fsync_fd = -1;
    aof__st.fsync_busy = 0;
}

/* Starts a background fdatasync of the incr file unless one runs. */
static void
aof_fsync_background(int64_t now)
{
    if (aof__st.fsync_busy) {
        aof__st.delayed_fsync++;
        return;
    }
    aof_fsync_fd = dup(aof__st.fd);
    if (aof_fsync_fd < 0)
        return;
    aof__st.fsync_busy = 1;
    aof__st.unsynced = 0;
    aof__st.last_fsync_ms = now;
    if (uv_queue_work(aof__st.host.loop, &aof_fsync_req, aof_fsync_work, aof_fsync_done) != 0) {
        /* No thread pool: sync here. */
        fdatasync(aof_fsync_fd);
        aof_fsync_done(&aof_fsync_req, 0);
    }
}

static int64_t
aof_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
aof__flush(int force_sync)
{
    size_t done = 0;
    if (aof__st.fd < 0)
        return;
    while (done < aof__st.len) {
        ssize_t n = write(aof__st.fd, aof__st.buf + done, aof__st.len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (aof__st.write_ok)
                aof__logf(CONFIG_LL_WARNING, "Error writing to the AOF file: %s",
                          n < 0 ? strerror(errno) : "short write");
            aof__st.write_ok = 0;
            aof__st.write_errno = n < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)n;
        aof__st.cur_size += (uint64_t)n;
        aof__st.unsynced = 1;
    }
    if (done > 0) {
        memmove(aof__st.buf, aof__st.buf + done, aof__st.len - done);
        aof__st.len -= done;
    }
    if (aof__st.len == 0 && aof__st.cap > AOF_BUF_KEEP) {
        /* A burst grew the buffer: give the memory back. */
        util_free(aof__st.buf);
        aof__st.buf = NULL;
        aof__st.cap = 0;
    }
    if (aof__st.len > 0 && config.appendfsync == CONFIG_FSYNC_ALWAYS) {
        aof__logf(CONFIG_LL_WARNING, "Can't recover from AOF write error when the AOF fsync "
                                     "policy is 'always'. Exiting...");
        exit(1);
    }
    if (aof__st.len == 0 && !aof__st.write_ok) {
        aof__logf(CONFIG_LL_WARNING, "AOF write error looks solved, Redis can write again.");
        aof__st.write_ok = 1;
    }
    if (!aof__st.unsynced)
        return;
    if (force_sync || config.appendfsync == CONFIG_FSYNC_ALWAYS) {
        if (fdatasync(aof__st.fd) != 0 && config.appendfsync == CONFIG_FSYNC_ALWAYS) {
            aof__logf(CONFIG_LL_WARNING,
                      "Can't persist AOF for fsync error when the AOF fsync policy is 'always': "
                      "%s. Exiting...",
                      strerror(errno));
            exit(1);
        }
        aof__st.unsynced = 0;
        aof__st.last_fsync_ms = aof_now_ms();
    } else if (config.appendfsync == CONFIG_FSYNC_EVERYSEC) {
        int64_t now = aof_now_ms();
        if (now - aof__st.last_fsync_ms >= 1000)
            aof_fsync_background(now);
    }
}

void
aof_before_sleep(void)
{
    if (aof__st.len > 0 || (aof__st.unsynced && config.appendfsync == CONFIG_FSYNC_ALWAYS))
        aof__flush(0);
}

int
aof_pending(void)
{
    return aof__st.len > 0 || (aof__st.unsynced && config.appendfsync == CONFIG_FSYNC_ALWAYS);
}

void
aof__close_fd(void)
{
    if (aof__st.fd >= 0)
        close(aof__st.fd);
    aof__st.fd = -1;
    aof__st.seldb = -1;
    aof__st.unsynced = 0;
}

/* Opens (creating, empty) the next incr file, makes it the one written and
 * adds it to the in-memory manifest. The caller flushed the buffer to the
 * previous file and persists the manifest. Returns 0 or -1 (logged). */
int
aof__open_new_incr(void)
{
    char name[AOF_PATH_MAX], path[AOF_PATH_MAX];
    long long seq = aof__st.man.incr_seq + 1;
    int fd;
    snprintf(name, sizeof(name), "%s.%lld.incr.aof", config.appendfilename, seq);
    aof__path(path, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        aof__logf(CONFIG_LL_WARNING, "Can't open the append-only file %s: %s", path,
                  strerror(errno));
        return -1;
    }
    aof__close_fd();
    aof__st.fd = fd;
    aof_manifest_add_incr(&aof__st.man, name, seq);
    return 0;
}

/* ---- Loading ------------------------------------------------------------- */

static int
aof_replay_one(void *priv, int argc, const resp_arg *argv)
{
    const aof_scan *sc = priv;
    aof__st.load_cur = sc->good;
    aof_load_cmds++;
    if (aof__st.host.replay(aof__st.host.priv, argc, argv) != 0)
        aof_load_errs++;
    if ((aof_load_cmds & 1023) == 0 && aof__st.host.progress &&
        aof__st.host.progress(aof__st.host.priv)) {
        aof_abandon = 1;
        return 1;
    }
    return 0;
}

static void
aof_snap_progress(void *priv, uint64_t bytes)
{
    (void)priv;
    aof__st.load_cur = bytes;
    if (aof__st.host.progress && aof__st.host.progress(aof__st.host.priv))
        aof_abandon = 1;
}

/* Loads a snapshot into the (empty) keyspace. Returns 0, -ENOENT when
 * missing, 1 abandoned, -1 fatal (logged). */
static int
aof_load_snapshot(const char *path)
{
    char err[512] = "";
    snap_info info;
    int rc;
    memset(&info, 0, sizeof(info));
    rc = snap_load(aof__st.host.ks, path, aof_now_ms(), &info, aof_snap_progress, NULL, err,
                   sizeof(err));
    if (rc == -ENOENT)
        return -ENOENT;
    if (rc != 0) {
        aof__logf(CONFIG_LL_WARNING, "Can't load the snapshot %s: %s", path,
                  err[0] ? err : strerror(-rc));
        return -1;
    }
    aof__st.load_keys = info.keys;
    aof__st.load_expired = info.expired;
    aof__st.load_done += info.bytes;
    aof__st.load_cur = 0;
    aof__logf(CONFIG_LL_NOTICE, "Done loading snapshot %s: %llu keys loaded, %llu expired", path,
              (unsigned long long)info.keys, (unsigned long long)info.expired);
    return aof_abandon ? 1 : 0;
}

/* Replays one RESP file. last: the newest incr (a torn tail may be cut).
 * Returns 0, 1 abandoned, -1 fatal (logged). */
static int
aof_load_resp(const char *name, int last)
{
    char path[AOF_PATH_MAX];
    static const resp_arg sel0[2] = {{"SELECT", 6}, {"0", 1}};
    aof_scan sc;
    int rc;
    aof__path(path, name);
    /* Every file starts in database 0, as the writer assumes. */
    aof__st.host.replay(aof__st.host.priv, 2, sel0);
    rc = aof_scan_file(path, aof_replay_one, &sc, &sc);
    aof__st.load_done += sc.good;
    aof__st.load_cur = 0;
    if (sc.in_multi) {
        /* The commands of the unfinished transaction are only queued. */
        static const resp_arg discard[1] = {{"DISCARD", 7}};
        aof__st.host.replay(aof__st.host.priv, 1, discard);
    }
    if (rc == 1)
        return 1;
    if (rc < 0) {
        aof__logf(CONFIG_LL_WARNING, "Can't read the append only file %s: %s", path, strerror(-rc));
        return -1;
    }
    if (sc.status == AOF_SCAN_TORN && last && config.aof_load_truncated) {
        aof__logf(CONFIG_LL_WARNING, "!!! Warning: short read while loading the AOF file %s!!!",
                  path);
        aof__logf(CONFIG_LL_WARNING, "!!! Truncating the AOF %s at offset %llu !!!", path,
                  (unsigned long long)sc.good);
        if (truncate(path, (off_t)sc.good) != 0) {
            aof__logf(CONFIG_LL_WARNING, "Error truncating the AOF file %s: %s", path,
                      strerror(errno));
            return -1;
        }
        aof__logf(CONFIG_LL_WARNING, "AOF %s loaded anyway because aof-load-truncated is enabled",
                  path);
    } else if (sc.status == AOF_SCAN_TORN) {
        aof__logf(CONFIG_LL_WARNING,
                  "Unexpected end of file reading the append only file %s at offset %llu. "
                  "You can: 1) Make a backup of your AOF file, then use runnel-check-aof --fix "
                  "<filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' "
                  "configuration option to yes and restart the server.",
                  path, (unsigned long long)sc.good);
        return -1;
    } else if (sc.status == AOF_SCAN_BAD) {
        aof__logf(CONFIG_LL_WARNING,
                  "Bad file format reading the append only file %s at offset %llu (%s): make a "
                  "backup of your AOF file, then use runnel-check-aof --fix <filename.manifest>",
                  path, (unsigned long long)sc.good, sc.why);
        return -1;
    }
    return 0;
}

/* Loads base + incr files of the in-memory manifest. Returns 0, 1
 * abandoned, -1 fatal. */
static int
aof_load_manifest_files(void)
{
    const aof__manifest *m = &aof__st.man;
    int64_t start = aof_now_ms();
    int rc = 0;
    aof_load_cmds = aof_load_errs = 0;
    aof_abandon = 0;
    if (m->base.name) {
        char path[AOF_PATH_MAX];
        size_t n = strlen(m->base.name);
        aof__path(path, m->base.name);
        if (n > 4 && strcmp(m->base.name + n - 4, ".aof") == 0)
            rc = aof_load_resp(m->base.name, m->nincr == 0);
        else
            rc = aof_load_snapshot(path);
        if (rc == -ENOENT) {
            aof__logf(CONFIG_LL_WARNING, "The AOF base file %s doesn't exist", path);
            return -1;
        }
        if (rc != 0)
            return rc;
    }
    for (int i = 0; i < m->nincr; i++) {
        rc = aof_load_resp(m->incr[i].name, i == m->nincr - 1);
        if (rc != 0)
            return rc;
    }
    if (aof_load_errs)
        aof__logf(CONFIG_LL_WARNING, "%llu commands of the AOF replied an error while loading",
                  (unsigned long long)aof_load_errs);
    aof__logf(CONFIG_LL_NOTICE, "DB loaded from append only file: %.3f seconds (%llu commands)",
              (double)(aof_now_ms() - start) / 1000.0, (unsigned long long)aof_load_cmds);
    return 0;
}

/* Re-opens the newest incr file for appending and computes the sizes. */
static int
aof_reopen_last_incr(void)
{
    char path[AOF_PATH_MAX];
    aof__manifest *m = &aof__st.man;
    aof__st.base_size = m->base.name ? aof__file_size(m->base.name) : 0;
    aof__st.cur_size = aof__st.base_size;
    for (int i = 0; i < m->nincr; i++)
        aof__st.cur_size += aof__file_size(m->incr[i].name);
    aof__st.rewrite_base = aof__st.cur_size;
    if (m->nincr == 0) {
        if (aof__open_new_incr() != 0 || aof__manifest_write(m) != 0)
            return -1;
        return 0;
    }
    aof__path(path, m->incr[m->nincr - 1].name);
    aof__close_fd();
    aof__st.fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (aof__st.fd < 0) {
        aof__logf(CONFIG_LL_WARNING, "Can't open the append-only file %s: %s", path,
                  strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes a first base (the current data) and an empty incr, then the
 * manifest. Returns 0 or -1 (logged). */
static int
aof_create_first(void)
{
    char name[AOF_PATH_MAX], path[AOF_PATH_MAX], err[512] = "";
    aof__manifest *m = &aof__st.man;
    int rc;
    if (mkdir(config.appenddirname, 0755) != 0 && errno != EEXIST) {
        aof__logf(CONFIG_LL_WARNING, "Can't create the append-only directory %s: %s",
                  config.appenddirname, strerror(errno));
        return -1;
    }
    snprintf(name, sizeof(name), "%s.%lld.base.rdb", config.appendfilename, m->base_seq + 1);
    aof__path(path, name);
    rc = snap_write(aof__st.host.ks, path, err, sizeof(err));
    if (rc != 0) {
        aof__logf(CONFIG_LL_WARNING, "Can't write the AOF base %s: %s", path,
                  err[0] ? err : strerror(-rc));
        return -1;
    }
    util_free(m->base.name);
    m->base.name = util_strdup(name);
    m->base.seq = ++m->base_seq;
    m->base.type = 'b';
    if (aof__open_new_incr() != 0 || aof__manifest_write(m) != 0)
        return -1;
    aof__st.base_size = aof__file_size(name);
    aof__st.cur_size = aof__st.rewrite_base = aof__st.base_size;
    aof__logf(CONFIG_LL_NOTICE, "Creating AOF base file %s on server start", name);
    return 0;
}

/* Loads dbfilename when present. Returns 0, 1 abandoned, -1 fatal. */
static int
aof_load_dbfile(void)
{
    struct stat st;
    int rc;
    aof_abandon = 0;
    if (stat(config.dbfilename, &st) == 0)
        aof__st.load_total = (uint64_t)st.st_size;
    rc = aof_load_snapshot(config.dbfilename);
    return rc == -ENOENT ? 0 : rc;
}

int
aof__load_all(int at_start)
{
    int rc;
    aof__st.loading = 1;
    aof__st.host.ks->no_expire = 1;
    aof__st.load_start = (long long)time(NULL);
    aof__st.load_done = aof__st.load_cur = 0;
    aof__st.load_total = 0;
    if (config.appendonly) {
        aof__manifest_free(&aof__st.man);
        rc = aof__manifest_read(&aof__st.man);
        if (rc == 0) {
            const aof__manifest *m = &aof__st.man;
            aof__st.load_total = m->base.name ? aof__file_size(m->base.name) : 0;
            for (int i = 0; i < m->nincr; i++)
                aof__st.load_total += aof__file_size(m->incr[i].name);
        }
        if (rc == -EINVAL || rc == -EIO) {
            rc = -1;
        } else if (rc == 0) {
            rc = aof_load_manifest_files();
            if (rc == 0)
                rc = aof_reopen_last_incr();
        } else {
            rc = aof_load_dbfile();
            if (rc == 0)
                rc = aof_create_first();
        }
        if (rc == 0) {
            aof__st.state = AOF__ON;
            if (at_start)
                aof__cleanup();
        }
    } else {
        rc = aof_load_dbfile();
    }
    aof__st.loading = 0;
    aof__st.host.ks->no_expire = 0;
    if (aof__st.host.dirty)
        *aof__st.host.dirty = 0;
    aof__st.dirty_at_save = 0;
    return rc;
}

int
aof_start(const aof_host *host)
{
    aof__st.host = *host;
    aof__st.have_host = 1;
    aof__st.lastsave = (long long)time(NULL);
    aof__st.last_fsync_ms = aof_now_ms();
    return aof__load_all(1);
}

void
aof_stop(void)
{
    if (aof__st.child)
        aof__kill_child();
    if (aof__st.fd >= 0) {
        aof__flush(1);
        aof__close_fd();
    }
    aof__st.state = AOF__OFF;
    aof__manifest_free(&aof__st.man);
    util_free(aof__st.buf);
    aof__st.buf = NULL;
    aof__st.len = aof__st.cap = 0;
}

int
aof_loading(void)
{
    return aof__st.loading;
}

long long
aof_lastsave(void)
{
    return aof__st.lastsave;
}
