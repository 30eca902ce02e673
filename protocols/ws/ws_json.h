/*
 * protocols/ws/ws_json: the runnel.json subprotocol's two translations,
 * pure functions over bytes and jansson values (no socket, no thread).
 *
 *   RESP2/RESP3 reply or push bytes  --ws_json_reply/ws_json_push-->  JSON
 *   {"id", "cmd"|"tail"|"untail"|"consume"|"ack"} text --ws_json_parse-->
 *   a ws_req (argv copied out, ready for bridge_submit)
 *
 * Mapping: bulk/simple/verbatim strings -> strings, or {"base64": "..."}
 * when the bytes are not valid UTF-8; integers -> numbers, or decimal
 * strings outside +-(2^53-1); big numbers -> strings; doubles -> numbers
 * ("inf", "-inf", "nan" as strings); booleans; nulls; arrays and sets ->
 * arrays; maps -> objects (keys as text); nested errors -> {"error": ...}.
 *
 * Hot path: ws_json_value (every reply and push of a JSON session).
 * Not here: sessions, tails and consumers (ws_gw.c).
 */
#ifndef PROTOCOLS_WS_WS_JSON_H
#define PROTOCOLS_WS_WS_JSON_H

#include <stddef.h>

#include <jansson.h>

/* Deepest RESP nesting converted; deeper input is refused (-EPROTO). */
#define WS_JSON_MAX_DEPTH 64
/* Integers with an absolute value above this come as decimal strings. */
#define WS_JSON_MAX_SAFE_INT 9007199254740991LL

/* Request kinds of the JSON protocol. */
enum ws_req_kind {
    WS_REQ_CMD = 1, /* {"cmd": [...]} any command */
    WS_REQ_TAIL,    /* {"tail": {"stream", "from"}} live stream tail */
    WS_REQ_UNTAIL,  /* {"untail": {"stream"}} */
    WS_REQ_CONSUME, /* {"consume": {"stream", "group", "consumer", "count"}} */
    WS_REQ_ACK,     /* {"ack": {"stream", "group", "ids"}} */
};

/* One byte string copied out of a request. */
typedef struct ws_bytes {
    char *ptr;  /* owned, NUL-terminated for convenience */
    size_t len; /* bytes, without the NUL */
} ws_bytes;

/* A parsed request; every field is owned by it (ws_req_fini). */
typedef struct ws_req {
    int kind;          /* enum ws_req_kind */
    json_t *id;        /* the request's "id" (a reference), or NULL */
    int argc;          /* CMD: arguments; ACK: ids */
    ws_bytes *argv;    /* CMD: the command; ACK: the IDs to ack */
    ws_bytes stream;   /* TAIL/UNTAIL/CONSUME/ACK: the stream key */
    ws_bytes from;     /* TAIL: "$" (default) or an entry ID */
    ws_bytes group;    /* CONSUME/ACK: the group */
    ws_bytes consumer; /* CONSUME: the consumer name */
    long long count;   /* TAIL: batch size (default 100); CONSUME: credit (default 10) */
} ws_req;

/* ---- RESP -> JSON -------------------------------------------------------- */

/*
 * Converts the RESP2/RESP3 value starting at buf (len bytes) into *out (a
 * new reference); top-level and nested errors both become {"error": text}.
 * Returns the bytes the value spans (> 0), 0 when the value is incomplete,
 * -EPROTO when the bytes are not RESP or nest deeper than
 * WS_JSON_MAX_DEPTH, -ENOMEM. O(len).
 */
long ws_json_value(const char *buf, size_t len, json_t **out);

/*
 * Converts the reply bytes of one request (one or more RESP values: a
 * SUBSCRIBE to n channels replies n frames) into a new object
 * {"result": value} (several values: an array of them) or
 * {"error": "ERR ..."} when the only value is an error. Returns NULL on
 * malformed or empty input, or out of memory.
 */
json_t *ws_json_reply(const char *buf, size_t len);

/*
 * Converts one push frame (RESP3 '>' or a RESP2 array) into a new object:
 * message/smessage -> {"push": kind, "channel", "data"}, pmessage adds
 * "pattern", anything else -> {"push": kind, "data": [the rest]}. Returns
 * NULL on malformed input or out of memory.
 */
json_t *ws_json_push(const char *buf, size_t len);

/*
 * The JSON form of len bytes: a string when they are valid UTF-8, else
 * {"base64": "..."}. New reference, NULL only out of memory.
 */
json_t *ws_json_bytes(const char *p, size_t len);

/*
 * Appends the entries of an XREAD/XREADGROUP reply already converted by
 * ws_json_value (a map of stream -> entries, or a RESP2 array of
 * [stream, entries] pairs) to arr as {"id": ..., "fields": {...}} objects
 * and copies the last ID into last (cap bytes, NUL-terminated; left alone
 * when there is none). Returns the entries appended.
 */
size_t ws_json_entries(json_t *reply, json_t *arr, char *last, size_t cap);

/* ---- JSON -> requests ---------------------------------------------------- */

/*
 * Parses one JSON request text into req (zeroed first). Returns 0; or -1
 * with Redis-style error text in err (errlen bytes) and req->id set when
 * the request had one, so the error can be answered: malformed JSON,
 * a missing or unknown verb, a bad "cmd" array (empty, or an element that
 * is not a string, number or {"base64": ...}), a missing stream, group or
 * consumer, a count outside 1..1000000. Call ws_req_fini in both cases.
 */
int ws_json_parse(const char *text, size_t len, ws_req *req, char *err, size_t errlen);

/* Frees everything req owns; leaves it zeroed. */
void ws_req_fini(ws_req *req);

#endif /* PROTOCOLS_WS_WS_JSON_H */
