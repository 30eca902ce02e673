/*
 * protocols/ws/ws_json: RESP replies and pushes to JSON, JSON requests to
 * argument vectors (see ws_json.h for the mapping).
 *
 * The RESP reader is a recursive descent over one complete buffer (the
 * bridge delivers whole replies), bounded by WS_JSON_MAX_DEPTH, that never
 * reads past its end. Byte strings are checked for UTF-8 by jansson
 * (json_stringn refuses invalid sequences) and fall back to base64.
 *
 * Hot path: ws_json_value. Not here: framing, sessions, HTTP.
 */
#include "protocols/ws/ws_json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char ws_json_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ------------------------------------------------------------------------
 * Byte strings
 * ------------------------------------------------------------------------ */

/* Standard base64 (with padding) of len bytes as a new JSON string. */
static json_t *
ws_json_base64(const unsigned char *p, size_t len)
{
    size_t olen = (len + 2) / 3 * 4;
    char *o = malloc(olen + 1);
    size_t i, k = 0;
    json_t *s;
    if (o == NULL)
        return NULL;
    for (i = 0; i + 2 < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        o[k++] = ws_json_b64[v >> 18];
        o[k++] = ws_json_b64[(v >> 12) & 63];
        o[k++] = ws_json_b64[(v >> 6) & 63];
        o[k++] = ws_json_b64[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
        o[k++] = ws_json_b64[v >> 18];
        o[k++] = ws_json_b64[(v >> 12) & 63];
        o[k++] = i + 1 < len ? ws_json_b64[(v >> 6) & 63] : '=';
        o[k++] = '=';
    }
    s = json_stringn_nocheck(o, k);
    free(o);
    return s;
}

/* Decodes base64 text into a new buffer (*out, NUL-terminated). Returns 0,
 * or -1 on a character outside the alphabet or a bad length. */
static int
ws_json_unbase64(const char *s, size_t len, ws_bytes *out)
{
    char *o;
    size_t k = 0;
    unsigned acc = 0;
    int bits = 0;
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    o = malloc(len * 3 / 4 + 1);
    if (o == NULL)
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *c = strchr(ws_json_b64, s[i]);
        if (s[i] == '\0' || c == NULL) {
            free(o);
            return -1;
        }
        acc = acc << 6 | (unsigned)(c - ws_json_b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (char)((acc >> bits) & 0xff);
        }
    }
    o[k] = '\0';
    out->ptr = o;
    out->len = k;
    return 0;
}

json_t *
ws_json_bytes(const char *p, size_t len)
{
    json_t *s = json_stringn(p, len);
    json_t *o;
    if (s)
        return s;
    /* Not UTF-8 (or no memory, which the next allocation will tell). */
    o = json_object();
    if (o == NULL || json_object_set_new(o, "base64", ws_json_base64((const void *)p, len)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The text used as an object key for a converted map key: strings as
 * they are, numbers in decimal, anything else as its compact JSON. */
static char *
ws_json_key_text(json_t *k)
{
    char buf[64];
    if (json_is_string(k))
        return strdup(json_string_value(k));
    if (json_is_integer(k)) {
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(k));
        return strdup(buf);
    }
    return json_dumps(k, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ------------------------------------------------------------------------
 * RESP reader
 * ------------------------------------------------------------------------ */

/* Finds the CRLF ending the line at buf[pos]; returns the index of '\r',
 * or -1 when incomplete. */
static long
ws_json_line(const char *buf, size_t len, size_t pos)
{
    for (size_t i = pos; i + 1 < len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n')
            return (long)i;
    }
    return -1;
}

/* Parses a signed decimal that spans exactly buf[a..b). */
static int
ws_json_ll(const char *buf, size_t a, size_t b, long long *v)
{
    char tmp[32], *end;
    if (b <= a || b - a >= sizeof(tmp))
        return -1;
    memcpy(tmp, buf + a, b - a);
    tmp[b - a] = '\0';
    errno = 0;
    *v = strtoll(tmp, &end, 10);
    return (errno || *end != '\0') ? -1 : 0;
}

static long ws_json_read(const char *buf, size_t len, int depth, json_t **out);

/* An aggregate of n elements (pairs when map) after its header, which
 * ends at pos. */
static long
ws_json_aggregate(const char *buf, size_t len, size_t pos, int depth, long long n, int map,
                  json_t **out)
{
    json_t *agg = map ? json_object() : json_array();
    if (agg == NULL)
        return -ENOMEM;
    for (long long i = 0; i < n; i++) {
        json_t *k = NULL, *v = NULL;
        long used;
        if (map) {
            used = ws_json_read(buf + pos, len - pos, depth + 1, &k);
            if (used <= 0)
                goto fail_used;
            pos += (size_t)used;
        }
        used = ws_json_read(buf + pos, len - pos, depth + 1, &v);
        if (used <= 0) {
            json_decref(k);
            goto fail_used;
        }
        pos += (size_t)used;
        if (map) {
            char *kt = ws_json_key_text(k);
            int rc = kt ? json_object_set_new(agg, kt, v) : -1;
            free(kt);
            json_decref(k);
            if (rc != 0) {
                json_decref(agg);
                return -ENOMEM;
            }
        } else if (json_array_append_new(agg, v) != 0) {
            json_decref(agg);
            return -ENOMEM;
        }
        continue;
    fail_used:
        json_decref(agg);
        return used;
    }
    *out = agg;
    return (long)pos;
}

/* A double's text ("1.5", "inf", "-inf", "nan") as JSON. */
static json_t *
ws_json_double(const char *buf, size_t a, size_t b)
{
    char tmp[512], *end;
    double d;
    if (b - a >= sizeof(tmp))
        return NULL;
    memcpy(tmp, buf + a, b - a);
    tmp[b - a] = '\0';
    d = strtod(tmp, &end);
    if (*end != '\0' || b == a)
        return NULL;
    if (isinf(d) || isnan(d))
        return json_stringn(buf + a, b - a);
    return json_real(d);
}

/* One error value: {"error": text}. */
static json_t *
ws_json_error(const char *p, size_t len)
{
    json_t *o = json_object();
    if (o && json_object_set_new(o, "error", ws_json_bytes(p, len)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static long
ws_json_read(const char *buf, size_t len, int depth, json_t **out)
{
    long eol;
    long long n;
    size_t end;
    if (len == 0)
        return 0;
    if (depth > WS_JSON_MAX_DEPTH)
        return -EPROTO;
    eol = ws_json_line(buf, len, 1);
    if (eol < 0)
        return 0;
    end = (size_t)eol + 2; /* the first byte after the header line */
    switch (buf[0]) {
    case '+':
        *out = ws_json_bytes(buf + 1, (size_t)eol - 1);
        return *out ? (long)end : -ENOMEM;
    case '-':
        *out = ws_json_error(buf + 1, (size_t)eol - 1);
        return *out ? (long)end : -ENOMEM;
    case ':':
        if (ws_json_ll(buf, 1, (size_t)eol, &n) != 0)
            return -EPROTO;
        if (n > WS_JSON_MAX_SAFE_INT || n < -WS_JSON_MAX_SAFE_INT)
            *out = json_stringn(buf + 1, (size_t)eol - 1);
        else
            *out = json_integer(n);
        return *out ? (long)end : -ENOMEM;
    case '(':
        *out = json_stringn(buf + 1, (size_t)eol - 1);
        return *out ? (long)end : -EPROTO;
    case ',':
        *out = ws_json_double(buf, 1, (size_t)eol);
        return *out ? (long)end : -EPROTO;
    case '#':
        if (eol != 2 || (buf[1] != 't' && buf[1] != 'f'))
            return -EPROTO;
        *out = json_boolean(buf[1] == 't');
        return (long)end;
    case '_':
        if (eol != 1)
            return -EPROTO;
        *out = json_null();
        return (long)end;
    case '$':
    case '!':
    case '=': {
        size_t skip;
        if (ws_json_ll(buf, 1, (size_t)eol, &n) != 0 || n < -1)
            return -EPROTO;
        if (n == -1 && buf[0] == '$') {
            *out = json_null();
            return (long)end;
        }
        if (n < 0)
            return -EPROTO;
        if (len - end < (size_t)n + 2)
            return 0;
        if (buf[end + (size_t)n] != '\r' || buf[end + (size_t)n + 1] != '\n')
            return -EPROTO;
        /* A verbatim string starts with its format ("txt:"), not shown. */
        skip = (buf[0] == '=' && n >= 4) ? 4 : 0;
        if (buf[0] == '!')
            *out = ws_json_error(buf + end, (size_t)n);
        else
            *out = ws_json_bytes(buf + end + skip, (size_t)n - skip);
        return *out ? (long)(end + (size_t)n + 2) : -ENOMEM;
    }
    case '*':
    case '~':
    case '>':
    case '%':
        if (ws_json_ll(buf, 1, (size_t)eol, &n) != 0 || n < -1)
            return -EPROTO;
        if (n == -1) {
            if (buf[0] != '*')
                return -EPROTO;
            *out = json_null();
            return (long)end;
        }
        /* Each element takes at least 3 bytes: refuse impossible counts
         * before allocating anything for them. */
        if ((unsigned long long)n > len)
            return 0;
        return ws_json_aggregate(buf, len, end, depth, n, buf[0] == '%', out);
    case '|': {
        /* Attributes are metadata: read and drop them, keep the value. */
        json_t *attr = NULL;
        long used, used2;
        if (ws_json_ll(buf, 1, (size_t)eol, &n) != 0 || n < 0)
            return -EPROTO;
        if ((unsigned long long)n > len)
            return 0;
        used = ws_json_aggregate(buf, len, end, depth, n, 1, &attr);
        if (used <= 0)
            return used;
        json_decref(attr);
        used2 = ws_json_read(buf + used, len - (size_t)used, depth + 1, out);
        return used2 <= 0 ? used2 : used + used2;
    }
    default:
        return -EPROTO;
    }
}

long
ws_json_value(const char *buf, size_t len, json_t **out)
{
    json_t *v = NULL;
    long used = ws_json_read(buf, len, 0, &v);
    if (used > 0)
        *out = v;
    return used;
}

json_t *
ws_json_reply(const char *buf, size_t len)
{
    json_t *vals = json_array(), *obj = json_object(), *v = NULL;
    size_t pos = 0;
    if (vals == NULL || obj == NULL)
        goto fail;
    while (pos < len) {
        long used = ws_json_value(buf + pos, len - pos, &v);
        if (used <= 0)
            goto fail;
        if (json_array_append_new(vals, v) != 0)
            goto fail;
        pos += (size_t)used;
    }
    if (json_array_size(vals) == 0)
        goto fail;
    if (json_array_size(vals) == 1) {
        v = json_array_get(vals, 0);
        /* A lone error is the request's error; nested ones stay values. */
        if (json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, "error") &&
            (buf[0] == '-' || buf[0] == '!'))
            json_object_set(obj, "error", json_object_get(v, "error"));
        else
            json_object_set(obj, "result", v);
        json_decref(vals);
    } else {
        json_object_set_new(obj, "result", vals);
    }
    return obj;
fail:
    json_decref(vals);
    json_decref(obj);
    return NULL;
}

json_t *
ws_json_push(const char *buf, size_t len)
{
    json_t *frame = NULL, *obj, *kind;
    const char *k;
    size_t n;
    if (len == 0 || (buf[0] != '>' && buf[0] != '*'))
        return NULL;
    if (ws_json_value(buf, len, &frame) <= 0)
        return NULL;
    n = json_array_size(frame);
    kind = json_array_get(frame, 0);
    obj = json_object();
    if (obj == NULL || !json_is_string(kind)) {
        json_decref(frame);
        json_decref(obj);
        return NULL;
    }
    k = json_string_value(kind);
    json_object_set(obj, "push", kind);
    if ((strcmp(k, "message") == 0 || strcmp(k, "smessage") == 0) && n == 3) {
        json_object_set(obj, "channel", json_array_get(frame, 1));
        json_object_set(obj, "data", json_array_get(frame, 2));
    } else if (strcmp(k, "pmessage") == 0 && n == 4) {
        json_object_set(obj, "pattern", json_array_get(frame, 1));
        json_object_set(obj, "channel", json_array_get(frame, 2));
        json_object_set(obj, "data", json_array_get(frame, 3));
    } else {
        json_array_remove(frame, 0);
        json_object_set(obj, "data", frame);
    }
    json_decref(frame);
    return obj;
}

/* Appends the entries of one stream's list to arr. */
static size_t
ws_json_entry_list(json_t *list, json_t *arr, char *last, size_t cap)
{
    size_t added = 0, i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        json_t *id = json_array_get(e, 0), *kv = json_array_get(e, 1);
        json_t *fields = json_object(), *obj = json_object();
        if (fields == NULL || obj == NULL || !json_is_string(id)) {
            json_decref(fields);
            json_decref(obj);
            continue;
        }
        for (size_t f = 0; f + 1 < json_array_size(kv); f += 2) {
            char *kt = ws_json_key_text(json_array_get(kv, f));
            if (kt)
                json_object_set(fields, kt, json_array_get(kv, f + 1));
            free(kt);
        }
        json_object_set(obj, "id", id);
        /* A deleted entry still pending in a group has no fields (nil). */
        json_object_set_new(obj, "fields", json_is_null(kv) ? json_null() : fields);
        if (json_is_null(kv))
            json_decref(fields);
        json_array_append_new(arr, obj);
        snprintf(last, cap, "%s", json_string_value(id));
        added++;
    }
    return added;
}

size_t
ws_json_entries(json_t *reply, json_t *arr, char *last, size_t cap)
{
    size_t added = 0;
    if (json_is_object(reply)) {
        const char *key;
        json_t *list;
        json_object_foreach(reply, key, list) added += ws_json_entry_list(list, arr, last, cap);
    } else if (json_is_array(reply)) {
        size_t i;
        json_t *pair;
        json_array_foreach(reply, i, pair)
        {
            added += ws_json_entry_list(json_array_get(pair, 1), arr, last, cap);
        }
    }
    return added;
}

/* ------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------ */

/* Copies one argument: a string, an integer, a real, or {"base64": ...}.
 * Returns 0, or -1 when it is none of them. */
static int
ws_json_arg(json_t *v, ws_bytes *out)
{
    char tmp[64];
    const char *p = tmp;
    size_t len;
    if (json_is_string(v)) {
        p = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_integer(v)) {
        len = (size_t)snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        len = (size_t)snprintf(tmp, sizeof(tmp), "%.17g", json_real_value(v));
    } else if (json_is_object(v) && json_object_size(v) == 1 &&
               json_is_string(json_object_get(v, "base64"))) {
        json_t *b = json_object_get(v, "base64");
        return ws_json_unbase64(json_string_value(b), json_string_length(b), out);
    } else {
        return -1;
    }
    out->ptr = malloc(len + 1);
    if (out->ptr == NULL)
        return -1;
    memcpy(out->ptr, p, len);
    out->ptr[len] = '\0';
    out->len = len;
    return 0;
}

/* Copies the member name of obj into out; required ones fail when absent. */
static int
ws_json_member(json_t *obj, const char *name, ws_bytes *out, int required, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL && !required)
        return 0;
    if (v == NULL || ws_json_arg(v, out) != 0) {
        snprintf(err, errlen, "ERR '%s' must be a string", name);
        return -1;
    }
    return 0;
}

/* Reads "count" of obj into *count (dflt when absent), within 1..1000000. */
static int
ws_json_count(json_t *obj, long long dflt, long long *count, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, "count");
    *count = dflt;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000) {
        snprintf(err, errlen, "ERR 'count' must be an integer between 1 and 1000000");
        return -1;
    }
    *count = (long long)json_integer_value(v);
    return 0;
}

/* Copies an array of arguments into req->argv/argc. */
static int
ws_json_args(json_t *arr, ws_req *req)
{
    size_t n = json_array_size(arr);
    if (n == 0 || n > INT_MAX)
        return -1;
    req->argv = calloc(n, sizeof(*req->argv));
    if (req->argv == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (ws_json_arg(json_array_get(arr, i), &req->argv[i]) != 0)
            return -1;
        req->argc = (int)i + 1;
    }
    return 0;
}

/* Parses the body of a tail/untail/consume/ack request. */
static int
ws_json_verb(json_t *body, ws_req *req, char *err, size_t errlen)
{
    if (!json_is_object(body)) {
        snprintf(err, errlen, "ERR the request body must be an object");
        return -1;
    }
    if (ws_json_member(body, "stream", &req->stream, 1, err, errlen) != 0)
        return -1;
    switch (req->kind) {
    case WS_REQ_TAIL:
        if (ws_json_member(body, "from", &req->from, 0, err, errlen) != 0)
            return -1;
        return ws_json_count(body, 100, &req->count, err, errlen);
    case WS_REQ_CONSUME:
        if (ws_json_member(body, "group", &req->group, 1, err, errlen) != 0 ||
            ws_json_member(body, "consumer", &req->consumer, 1, err, errlen) != 0)
            return -1;
        return ws_json_count(body, 10, &req->count, err, errlen);
    case WS_REQ_ACK:
        if (ws_json_member(body, "group", &req->group, 1, err, errlen) != 0)
            return -1;
        if (!json_is_array(json_object_get(body, "ids")) ||
            ws_json_args(json_object_get(body, "ids"), req) != 0) {
            snprintf(err, errlen, "ERR 'ids' must be a non-empty array of entry IDs");
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

int
ws_json_parse(const char *text, size_t len, ws_req *req, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        int kind;
    } verbs[] = {{"cmd", WS_REQ_CMD},
                 {"tail", WS_REQ_TAIL},
                 {"untail", WS_REQ_UNTAIL},
                 {"consume", WS_REQ_CONSUME},
                 {"ack", WS_REQ_ACK}};
    json_error_t jerr;
    json_t *root, *body = NULL;
    int rc = -1;
    memset(req, 0, sizeof(*req));
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(err, errlen, "ERR invalid JSON: %s", jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "ERR a request must be a JSON object");
        goto out;
    }
    req->id = json_object_get(root, "id");
    json_incref(req->id);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        json_t *v = json_object_get(root, verbs[i].name);
        if (v == NULL)
            continue;
        if (req->kind) {
            snprintf(err, errlen,
                     "ERR a request has exactly one of cmd, tail, untail, consume, ack");
            goto out;
        }
        req->kind = verbs[i].kind;
        body = v;
    }
    if (req->kind == 0) {
        snprintf(err, errlen, "ERR a request has exactly one of cmd, tail, untail, consume, ack");
        goto out;
    }
    if (req->kind == WS_REQ_CMD) {
        if (!json_is_array(body) || ws_json_args(body, req) != 0) {
            snprintf(
                err, errlen,
                "ERR 'cmd' must be a non-empty array of strings, numbers or {\"base64\": ...}");
            goto out;
        }
        rc = 0;
    } else {
        rc = ws_json_verb(body, req, err, errlen);
    }
out:
    json_decref(root);
    return rc;
}

static void
ws_bytes_free(ws_bytes *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
}

void
ws_req_fini(ws_req *req)
{
    for (int i = 0; i < req->argc; i++)
        ws_bytes_free(&req->argv[i]);
    free(req->argv);
    ws_bytes_free(&req->stream);
    ws_bytes_free(&req->from);
    ws_bytes_free(&req->group);
    ws_bytes_free(&req->consumer);
    json_decref(req->id);
    memset(req, 0, sizeof(*req));
}
