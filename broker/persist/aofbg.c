/*
 * broker/persist/aofbg: work done in forked children (BGSAVE, the log
 * rewrite), the foreground SAVE, save points and automatic rewrites run
 * from the cron, shutdown saving, DEBUG RELOAD/LOADAOF, and the INFO
 * persistence fields.
 *
 * At most one child runs. A rewrite, at fork time, moves the log to a new
 * incr file (the manifest lists the old base, the old incrs and the new
 * one, so a crash meanwhile loses nothing); the child writes the new base;
 * when it exits with success the manifest names only the new base and the
 * incr files opened since the fork, and the others are deleted. Children
 * are reaped with waitpid(WNOHANG) from the cron.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/config/config.h"
#include "broker/persist/aof.h"
#include "broker/persist/aof_int.h"
#include "broker/persist/snapshot.h"
#include "broker/util/mem.h"

#define AOFBG_RETRY_MS 5000 /* wait after a failed BGSAVE before a save point tries again */

static int aofbg_incr_from;     /* first incr (index in the manifest) opened at the fork */
static long long aofbg_new_seq; /* base seq the rewrite child writes */

static int64_t
aofbg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
aofbg_dirty(void)
{
    return aof__st.host.dirty ? *aof__st.host.dirty : 0;
}

/* Forks a child that snapshots the keyspace to path and exits. Returns
 * the pid, or -1 (logged). */
static pid_t
aofbg_fork(const char *path, const char *what)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        aof__logf(CONFIG_LL_WARNING, "Can't save in background: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        char err[512] = "";
        int rc;
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        /* The child dies with the server: an orphan finishing later would
         * rename its base over one a restarted server already wrote. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        rc = snap_write(aof__st.host.ks, path, err, sizeof(err));
        if (rc != 0)
            aof__logf(CONFIG_LL_WARNING, "%s failed writing %s: %s", what, path,
                      err[0] ? err : strerror(-rc));
        _exit(rc == 0 ? 0 : 1);
    }
    aof__st.child = pid;
    aof__st.child_start_ms = aofbg_now_ms();
    aof__st.child_dirty = aofbg_dirty();
    return pid;
}

void
aof__kill_child(void)
{
    int status;
    if (aof__st.child == 0)
        return;
    kill(aof__st.child, SIGUSR1);
    while (waitpid(aof__st.child, &status, 0) < 0 && errno == EINTR)
        ;
    if (aof__st.child_type == AOF__CHILD_AOF)
        unlink(aof__st.child_base);
    aof__st.child = 0;
    aof__st.child_type = AOF__CHILD_NONE;
    aof__cleanup();
}

int
aof__rewrite_start(void)
{
    char name[AOF_PATH_MAX];
    aof__manifest *m = &aof__st.man;
    if (mkdir(config.appenddirname, 0755) != 0 && errno != EEXIST) {
        aof__logf(CONFIG_LL_WARNING, "Can't create the append-only directory %s: %s",
                  config.appenddirname, strerror(errno));
        return -1;
    }
    aofbg_new_seq = m->base_seq + 1;
    snprintf(name, sizeof(name), "%s.%lld.base.rdb", config.appendfilename, aofbg_new_seq);
    aof__path(aof__st.child_base, name);
    aofbg_incr_from = m->nincr;
    if (aof__st.state != AOF__OFF) {
        /* What is buffered belongs to the old file; new writes go to a
         * new incr file, which the next base does not cover. */
        aof__flush(0);
        if (aof__open_new_incr() != 0)
            return -1;
        if (aof__st.state == AOF__ON && aof__manifest_write(m) != 0)
            return -1;
    }
    if (aofbg_fork(aof__st.child_base, "AOF rewrite") < 0)
        return -1;
    aof__st.child_type = AOF__CHILD_AOF;
    aof__st.rewrite_scheduled = 0;
    aof__st.rewrites++;
    aof__logf(CONFIG_LL_NOTICE, "Background append only file rewriting started by pid %ld",
              (long)aof__st.child);
    return 0;
}

/* The rewrite child exited: switch the manifest on success. */
static void
aofbg_rewrite_done(int ok)
{
    aof__manifest *m = &aof__st.man, nm;
    char name[AOF_PATH_MAX];
    aof__st.rewrite_time = (aofbg_now_ms() - aof__st.child_start_ms) / 1000;
    if (ok) {
        memset(&nm, 0, sizeof(nm));
        snprintf(name, sizeof(name), "%s.%lld.base.rdb", config.appendfilename, aofbg_new_seq);
        nm.base.name = util_strdup(name);
        nm.base.seq = aofbg_new_seq;
        nm.base.type = 'b';
        nm.base_seq = aofbg_new_seq;
        nm.incr_seq = m->incr_seq;
        if (aof__st.state != AOF__OFF) {
            for (int i = aofbg_incr_from; i < m->nincr; i++) {
                nm.incr = util_realloc(nm.incr, (size_t)(nm.nincr + 1) * sizeof(*nm.incr));
                nm.incr[nm.nincr].name = util_strdup(m->incr[i].name);
                nm.incr[nm.nincr].seq = m->incr[i].seq;
                nm.incr[nm.nincr].type = 'i';
                nm.nincr++;
            }
        }
        if (aof__manifest_write(&nm) != 0) {
            aof__manifest_free(&nm);
            ok = 0;
        } else {
            aof__delete_files(m, &nm);
            aof__manifest_free(m);
            *m = nm;
            aof__st.base_size = aof__file_size(m->base.name);
            aof__st.cur_size = aof__st.base_size;
            for (int i = 0; i < m->nincr; i++)
                aof__st.cur_size += aof__file_size(m->incr[i].name);
            aof__st.rewrite_base = aof__st.cur_size;
            if (aof__st.state == AOF__WAIT_REWRITE)
                aof__st.state = AOF__ON;
            aof__st.rewrite_ok = 1;
            aof__st.rewrite_fails = 0;
            aof__logf(CONFIG_LL_NOTICE, "Background AOF rewrite finished successfully");
            return;
        }
    }
    unlink(aof__st.child_base);
    aof__st.rewrite_ok = 0;
    aof__st.rewrite_fails++;
    if (aof__st.state == AOF__WAIT_REWRITE)
        aof__st.rewrite_scheduled = 1;
    aof__logf(CONFIG_LL_WARNING, "Background AOF rewrite terminated with error");
}

static void
aofbg_save_done(int ok)
{
    int64_t now = aofbg_now_ms();
    aof__st.bgsave_time = (now - aof__st.child_start_ms) / 1000;
    if (ok) {
        aof__st.lastsave = now / 1000;
        aof__st.dirty_at_save = aof__st.child_dirty;
        aof__st.bgsave_ok = 1;
        aof__logf(CONFIG_LL_NOTICE, "Background saving terminated with success");
    } else {
        aof__st.bgsave_ok = 0;
        aof__logf(CONFIG_LL_WARNING, "Background saving error");
    }
}

static void
aofbg_reap(void)
{
    int status;
    pid_t pid;
    if (aof__st.child == 0)
        return;
    pid = waitpid(aof__st.child, &status, WNOHANG);
    if (pid == 0 || (pid < 0 && errno == EINTR))
        return;
    {
        int ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        int type = aof__st.child_type;
        aof__st.child = 0;
        aof__st.child_type = AOF__CHILD_NONE;
        if (type == AOF__CHILD_AOF)
            aofbg_rewrite_done(ok);
        else
            aofbg_save_done(ok);
        if (!ok)
            aof__cleanup();
    }
}

static int
aofbg_bgsave_start(void)
{
    aof__st.last_bgsave_try_ms = aofbg_now_ms();
    if (aofbg_fork(config.dbfilename, "Background save") < 0) {
        aof__st.bgsave_ok = 0;
        return AOF_FAIL;
    }
    aof__st.child_type = AOF__CHILD_RDB;
    aof__st.bgsave_scheduled = 0;
    aof__st.saves++;
    aof__logf(CONFIG_LL_NOTICE, "Background saving started by pid %ld", (long)aof__st.child);
    return AOF_OK;
}

/* Parses config.save into pairs; returns the pair count or -1. */
static int
aofbg_save_points(long long *pts, int max)
{
    char **args;
    int n = config_split_args(config.save ? config.save : "", &args), k = 0;
    if (n < 0)
        return -1;
    if (n == 1 && args[0][0] == '\0')
        n = 0, config_free_args(args, 1), args = NULL;
    if (n % 2 != 0) {
        config_free_args(args, n);
        return -1;
    }
    for (int i = 0; i < n && k < max; i += 2, k++) {
        char *e1, *e2;
        pts[2 * k] = strtoll(args[i], &e1, 10);
        pts[2 * k + 1] = strtoll(args[i + 1], &e2, 10);
        if (*e1 || *e2 || args[i][0] == '\0' || args[i + 1][0] == '\0' || pts[2 * k] < 0 ||
            pts[2 * k + 1] < 0) {
            config_free_args(args, n);
            return -1;
        }
    }
    if (args)
        config_free_args(args, n);
    return k;
}

void
aof_cron(int64_t now_ms)
{
    long long pts[32];
    int np;
    if (!aof__st.have_host || aof__st.loading)
        return;
    aofbg_reap();
    if (aof__st.child == 0 && aof__st.rewrite_scheduled)
        aof_bgrewrite();
    if (aof__st.child == 0 && aof__st.bgsave_scheduled)
        aofbg_bgsave_start();
    np = aof__st.child == 0 ? aofbg_save_points(pts, 16) : 0;
    for (int i = 0; i < np; i++) {
        long long changes = aofbg_dirty() - aof__st.dirty_at_save;
        if (changes >= pts[2 * i + 1] && now_ms / 1000 - aof__st.lastsave > pts[2 * i] &&
            (aof__st.bgsave_ok || now_ms - aof__st.last_bgsave_try_ms > AOFBG_RETRY_MS)) {
            aof__logf(CONFIG_LL_NOTICE, "%lld changes in %lld seconds. Saving...", pts[2 * i + 1],
                      pts[2 * i]);
            aofbg_bgsave_start();
            break;
        }
    }
    if (aof__st.child == 0 && aof__st.state == AOF__ON && config.auto_aof_rewrite_percentage > 0 &&
        aof__st.cur_size > (uint64_t)config.auto_aof_rewrite_min_size) {
        uint64_t base = aof__st.rewrite_base ? aof__st.rewrite_base : 1;
        uint64_t growth = (aof__st.cur_size - base) * 100 / base;
        if (aof__st.cur_size > base && growth >= (uint64_t)config.auto_aof_rewrite_percentage) {
            aof__logf(CONFIG_LL_NOTICE, "Starting automatic rewriting of AOF on %llu%% growth",
                      (unsigned long long)growth);
            aof_bgrewrite();
        }
    }
    if (aof__st.len > 0 || aof__st.unsynced)
        aof__flush(0);
}

int
aof_bgrewrite(void)
{
    if (aof__st.child && aof__st.child_type == AOF__CHILD_AOF)
        return AOF_BUSY_SAME;
    if (aof__st.child) {
        aof__st.rewrite_scheduled = 1;
        aof__st.rewrite_fails = 0;
        return AOF_SCHEDULED;
    }
    if (aof__rewrite_start() != 0) {
        aof__st.rewrite_ok = 0;
        return AOF_FAIL;
    }
    return AOF_OK;
}

int
aof_bgsave(int schedule)
{
    if (aof__st.child && aof__st.child_type == AOF__CHILD_RDB)
        return AOF_BUSY_SAME;
    if (aof__st.child) {
        if (!schedule)
            return AOF_BUSY_OTHER;
        aof__st.bgsave_scheduled = 1;
        return AOF_SCHEDULED;
    }
    return aofbg_bgsave_start();
}

int
aof_save(void)
{
    char err[512] = "";
    int rc;
    if (aof__st.child && aof__st.child_type == AOF__CHILD_RDB)
        return AOF_BUSY_SAME;
    rc = snap_write(aof__st.host.ks, config.dbfilename, err, sizeof(err));
    if (rc != 0) {
        aof__logf(CONFIG_LL_WARNING, "Failed saving the DB: %s", err[0] ? err : strerror(-rc));
        aof__st.bgsave_ok = 0;
        return AOF_FAIL;
    }
    aof__logf(CONFIG_LL_NOTICE, "DB saved on disk");
    aof__st.lastsave = (long long)time(NULL);
    aof__st.dirty_at_save = aofbg_dirty();
    aof__st.bgsave_ok = 1;
    aof__st.saves++;
    return AOF_OK;
}

int
aof_shutdown(int save, int nosave)
{
    long long pts[32];
    if (aof__st.loading) {
        /* Half a data set must not replace the files it comes from. */
        return AOF_OK;
    }
    if (aof__st.child) {
        aof__logf(CONFIG_LL_WARNING, "There is a child saving an .rdb or rewriting the AOF. "
                                     "Killing it!");
        aof__kill_child();
    }
    if (aof__st.state != AOF__OFF && aof__st.fd >= 0) {
        aof__logf(CONFIG_LL_NOTICE, "Calling fsync() on the AOF file.");
        aof__flush(1);
    }
    if (save || (!nosave && aofbg_save_points(pts, 16) > 0)) {
        aof__logf(CONFIG_LL_NOTICE, "Saving the final RDB snapshot before exiting.");
        if (aof_save() != AOF_OK) {
            aof__logf(CONFIG_LL_WARNING, "Error trying to save the DB, can't exit.");
            return AOF_FAIL;
        }
    }
    return AOF_OK;
}

int
aof_config_changed(const char *name, const char **err)
{
    if (strcmp(name, "dbfilename") == 0) {
        if (strchr(config.dbfilename, '/') != NULL) {
            *err = "dbfilename can't be a path, just a filename";
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "save") == 0) {
        long long pts[32];
        if (aofbg_save_points(pts, 16) < 0) {
            *err = "Invalid save parameters";
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "appendonly") != 0 || !aof__st.have_host)
        return 0;
    if (config.appendonly && aof__st.state == AOF__OFF) {
        /* Continue the numbering of a log left on disk, so no file it
         * names is overwritten; the rewrite's success deletes them. */
        if (aof__st.man.base.name == NULL && aof__st.man.nincr == 0 &&
            aof__manifest_read(&aof__st.man) != 0)
            aof__manifest_free(&aof__st.man);
        aof__st.state = AOF__WAIT_REWRITE;
        if (aof__st.child && aof__st.child_type == AOF__CHILD_RDB) {
            aof__st.rewrite_scheduled = 1;
        } else if (aof__st.child == 0 && aof__rewrite_start() != 0) {
            aof__st.state = AOF__OFF;
            *err = "Unable to turn on AOF. Check server logs.";
            return -1;
        }
    } else if (!config.appendonly && aof__st.state != AOF__OFF) {
        aof__flush(1);
        aof__close_fd();
        if (aof__st.child && aof__st.child_type == AOF__CHILD_AOF) {
            aof__kill_child();
            aof__st.rewrite_ok = 0;
        }
        aof__st.state = AOF__OFF;
        aof__st.rewrite_scheduled = 0;
    }
    return 0;
}

const char *
aof_writes_refused(void)
{
    static char msg[256];
    long long pts[32];
    if (config.stop_writes_on_bgsave_error && !aof__st.bgsave_ok && aofbg_save_points(pts, 16) > 0)
        return "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
               "persist to disk. Commands that may modify the data set are disabled, because this "
               "instance is configured to report errors during writes if RDB snapshotting fails "
               "(stop-writes-on-bgsave-error option). Please check the Redis logs for details "
               "about the RDB error.";
    if (aof__st.state != AOF__OFF && !aof__st.write_ok) {
        snprintf(msg, sizeof(msg), "MISCONF Errors writing to the AOF file: %s",
                 strerror(aof__st.write_errno ? aof__st.write_errno : EIO));
        return msg;
    }
    return NULL;
}

/* Empties every database (DEBUG RELOAD, DEBUG LOADAOF). */
static void
aofbg_empty(void)
{
    ks_space *ks = aof__st.host.ks;
    for (int i = 0; i < ks->count; i++)
        ks_flush(&ks->dbs[i]);
}

int
aof_debug_reload(void)
{
    int rc;
    if (aof_save() != AOF_OK)
        return AOF_FAIL;
    aofbg_empty();
    aof__st.loading = 1;
    {
        char err[512] = "";
        snap_info info;
        memset(&info, 0, sizeof(info));
        rc = snap_load(aof__st.host.ks, config.dbfilename, aofbg_now_ms(), &info, NULL, NULL, err,
                       sizeof(err));
        if (rc != 0)
            aof__logf(CONFIG_LL_WARNING, "Error trying to load the RDB dump: %s", err);
        aof__st.load_keys = info.keys;
        aof__st.load_expired = info.expired;
    }
    aof__st.loading = 0;
    if (rc == 0)
        aof__logf(CONFIG_LL_NOTICE, "DB reloaded by DEBUG RELOAD");
    return rc == 0 ? AOF_OK : AOF_FAIL;
}

int
aof_debug_loadaof(void)
{
    int rc, was_on = aof__st.state == AOF__ON;
    if (aof__st.state != AOF__OFF)
        aof__flush(1);
    aofbg_empty();
    rc = aof__load_all(0);
    if (rc != 0 && !was_on)
        return AOF_FAIL;
    if (rc != 0) {
        aof__logf(CONFIG_LL_WARNING, "Can't load the append only file: exiting");
        exit(1);
    }
    aof__logf(CONFIG_LL_WARNING, "Append Only File loaded by DEBUG LOADAOF");
    return AOF_OK;
}

/* "loading", "async_loading" and, while loading, Redis's loading_*
 * progress fields. Returns the length (at most cap - 1). */
static size_t
aofbg_info_loading(char *buf, size_t cap)
{
    int n;
    if (!aof__st.loading) {
        n = snprintf(buf, cap, "loading:0\r\nasync_loading:0\r\n");
    } else {
        uint64_t total = aof__st.load_total, done = aof__st.load_done + aof__st.load_cur;
        uint64_t left = total > done ? total - done : 0;
        long long elapsed = (long long)time(NULL) - aof__st.load_start;
        long long eta = elapsed == 0 ? 1 : (long long)((uint64_t)elapsed * left / (done + 1));
        n = snprintf(buf, cap,
                     "loading:1\r\nasync_loading:0\r\nloading_start_time:%lld\r\n"
                     "loading_total_bytes:%llu\r\nloading_rdb_used_mem:0\r\n"
                     "loading_loaded_bytes:%llu\r\nloading_loaded_perc:%.2f\r\n"
                     "loading_eta_seconds:%lld\r\n",
                     aof__st.load_start, (unsigned long long)total, (unsigned long long)done,
                     (double)done / (double)(total + 1) * 100.0, eta);
    }
    if (n < 0)
        return 0;
    return (size_t)n >= cap ? cap - 1 : (size_t)n;
}

size_t
aof_info(char *buf, size_t cap)
{
    int64_t now = aofbg_now_ms();
    int rdb = aof__st.child && aof__st.child_type == AOF__CHILD_RDB;
    int aof = aof__st.child && aof__st.child_type == AOF__CHILD_AOF;
    size_t used = aofbg_info_loading(buf, cap);
    int n;
    if (used >= cap)
        return used;
    buf += used;
    cap -= used;
    n = snprintf(
        buf, cap,
        "current_cow_peak:0\r\ncurrent_cow_size:0\r\n"
        "current_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\n"
        "current_save_keys_total:0\r\nrdb_changes_since_last_save:%lld\r\n"
        "rdb_bgsave_in_progress:%d\r\nrdb_last_save_time:%lld\r\nrdb_last_bgsave_status:%s\r\n"
        "rdb_last_bgsave_time_sec:%lld\r\nrdb_current_bgsave_time_sec:%lld\r\nrdb_saves:%lld\r\n"
        "rdb_last_cow_size:0\r\nrdb_last_load_keys_expired:%llu\r\n"
        "rdb_last_load_keys_loaded:%llu\r\naof_enabled:%d\r\naof_rewrite_in_progress:%d\r\n"
        "aof_rewrite_scheduled:%d\r\naof_last_rewrite_time_sec:%lld\r\n"
        "aof_current_rewrite_time_sec:%lld\r\naof_last_bgrewrite_status:%s\r\n"
        "aof_rewrites:%lld\r\naof_rewrites_consecutive_failures:%lld\r\n"
        "aof_last_write_status:%s\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\n"
        "module_fork_last_cow_size:0\r\n",
        aofbg_dirty() - aof__st.dirty_at_save, rdb, aof__st.lastsave,
        aof__st.bgsave_ok ? "ok" : "err", aof__st.bgsave_time,
        rdb ? (long long)((now - aof__st.child_start_ms) / 1000) : -1LL, aof__st.saves,
        (unsigned long long)aof__st.load_expired, (unsigned long long)aof__st.load_keys,
        aof__st.state != AOF__OFF, aof, aof__st.rewrite_scheduled, aof__st.rewrite_time,
        aof ? (long long)((now - aof__st.child_start_ms) / 1000) : -1LL,
        aof__st.rewrite_ok ? "ok" : "err", aof__st.rewrites, aof__st.rewrite_fails,
        aof__st.write_ok ? "ok" : "err");
    if (n < 0)
        return used;
    if ((size_t)n >= cap)
        return used + cap - 1;
    if (aof__st.state != AOF__OFF) {
        int m = snprintf(buf + n, cap - (size_t)n,
                         "aof_current_size:%llu\r\naof_base_size:%llu\r\naof_pending_rewrite:%d\r\n"
                         "aof_buffer_length:%zu\r\naof_pending_bio_fsync:%d\r\n"
                         "aof_delayed_fsync:%llu\r\n",
                         (unsigned long long)aof__st.cur_size,
                         (unsigned long long)aof__st.base_size, aof__st.rewrite_scheduled,
                         aof__st.len, aof__st.fsync_busy, aof__st.delayed_fsync);
        if (m > 0)
            n = (size_t)(n + m) >= cap ? (int)cap - 1 : n + m;
    }
    return used + (size_t)n;
}
