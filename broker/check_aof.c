/*
 * runnel-check-aof: checks (and with --fix, repairs) an append-only log.
 *
 * Usage: runnel-check-aof [--fix] <manifest or incr file>
 *
 * Given a manifest, every file it names is checked in order: the base
 * (a snapshot) by loading it into a scratch keyspace, each incr file by
 * scanning its RESP commands with the loader's own scanner
 * (aof_scan_file). The first problem is reported with its file and byte
 * offset. --fix truncates the incr file there, without asking, and says
 * how many bytes it cut; a bad base cannot be fixed. Exit status: 0 when
 * the log is valid (or was fixed), 1 otherwise.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "broker/config/config.h"
#include "broker/keyspace/db.h"
#include "broker/persist/aof.h"
#include "broker/persist/snapshot.h"
#include "broker/util/mem.h"

#define CHECK_PATH_MAX 4096

/* Checks one RESP file; returns 0 valid or fixed, 1 invalid. */
static int
check_resp(const char *path, int fix)
{
    aof_scan sc;
    int rc = aof_scan_file(path, NULL, NULL, &sc);
    if (rc < 0) {
        fprintf(stderr, "Cannot read %s: %s\n", path, strerror(-rc));
        return 1;
    }
    printf("AOF analyzed: filename=%s, size=%llu, ok_up_to=%llu, diff=%llu\n", path,
           (unsigned long long)sc.size, (unsigned long long)sc.good,
           (unsigned long long)(sc.size - sc.good));
    if (sc.status == AOF_SCAN_OK) {
        printf("AOF %s is valid\n", path);
        return 0;
    }
    printf("AOF %s is not valid at offset %llu: %s\n", path, (unsigned long long)sc.good, sc.why);
    if (!fix) {
        printf("Use the --fix option to try fixing it.\n");
        return 1;
    }
    if (truncate(path, (off_t)sc.good) != 0) {
        printf("Failed to truncate AOF %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("Successfully truncated AOF %s at offset %llu (cut %llu bytes)\n", path,
           (unsigned long long)sc.good, (unsigned long long)(sc.size - sc.good));
    return 0;
}

/* Checks a snapshot base by loading it into a scratch keyspace. */
static int
check_base(const char *path)
{
    ks_space ks;
    snap_info info;
    char err[512] = "";
    struct timespec ts;
    int rc;
    clock_gettime(CLOCK_REALTIME, &ts);
    ks_space_init(&ks, (int)config.databases);
    rc = snap_load(&ks, path, (int64_t)ts.tv_sec * 1000, &info, NULL, NULL, err, sizeof(err));
    ks_space_fini(&ks);
    if (rc != 0) {
        printf("AOF base %s is not valid: %s\n", path, err[0] ? err : strerror(-rc));
        printf("A bad base cannot be fixed.\n");
        return 1;
    }
    printf("AOF base %s is valid (%llu keys)\n", path, (unsigned long long)info.keys);
    return 0;
}

/* Reads a manifest and checks its files in order. */
static int
check_manifest(const char *path, int fix)
{
    char dirbuf[CHECK_PATH_MAX], line[CHECK_PATH_MAX], file[2 * CHECK_PATH_MAX + 2];
    FILE *f = fopen(path, "r");
    int bad = 0, lineno = 0;
    if (f == NULL) {
        fprintf(stderr, "Cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    snprintf(dirbuf, sizeof(dirbuf), "%s", path);
    {
        const char *dir = dirname(dirbuf);
        memmove(dirbuf, dir, strlen(dir) + 1);
    }
    while (!bad && fgets(line, sizeof(line), f)) {
        char *tok[16], *save = NULL, *name = NULL, type = 0;
        int n = 0;
        lineno++;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 16;
             t = strtok_r(NULL, " \t\r\n", &save))
            tok[n++] = t;
        if (n == 0 || tok[0][0] == '#')
            continue;
        for (int i = 0; i + 1 < n; i += 2) {
            if (strcmp(tok[i], "file") == 0)
                name = tok[i + 1];
            else if (strcmp(tok[i], "type") == 0)
                type = tok[i + 1][0];
        }
        if (name == NULL || (type != 'b' && type != 'i' && type != 'h')) {
            printf("Invalid AOF manifest file format: %s line %d\n", path, lineno);
            bad = 1;
            break;
        }
        if (type == 'h')
            continue;
        snprintf(file, sizeof(file), "%s/%s", dirbuf, name);
        {
            size_t len = strlen(name);
            if (type == 'b' && !(len > 4 && strcmp(name + len - 4, ".aof") == 0))
                bad = check_base(file);
            else
                bad = check_resp(file, fix);
        }
    }
    fclose(f);
    return bad;
}

int
main(int argc, char **argv)
{
    const char *path;
    int fix = 0, rc;
    size_t len;
    if (argc == 3 && strcmp(argv[1], "--fix") == 0) {
        fix = 1;
        path = argv[2];
    } else if (argc == 2 && argv[1][0] != '-') {
        path = argv[1];
    } else {
        fprintf(stderr, "Usage: %s [--fix] <file.manifest|file.aof>\n", argv[0]);
        return 1;
    }
    config_init();
    len = strlen(path);
    if (len > 9 && strcmp(path + len - 9, ".manifest") == 0)
        rc = check_manifest(path, fix);
    else
        rc = check_resp(path, fix);
    config_fini();
    return rc;
}
