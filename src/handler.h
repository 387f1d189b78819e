/*
 * handler: what every API handler receives. A handler is a business rule
 * over a request and one store transaction; it fills the response and
 * returns STORE_OK (the response is complete, 2xx or 4xx), STORE_RETRY (a
 * deadlock: the dispatcher aborts and runs it again) or STORE_ERR/STORE_PANIC.
 * It never touches FastCGI or Berkeley DB directly.
 */
#ifndef ORCHID_HANDLER_H
#define ORCHID_HANDLER_H

#include "http.h"
#include "store.h"

struct ctx {
	struct request *req;
	struct response *resp;
	struct store_txn *txn;
};

typedef enum store_rc (*handler_fn)(struct ctx *c);

/* Items and refs (items.c). */
enum store_rc items_get(struct ctx *c);
enum store_rc items_put(struct ctx *c);
enum store_rc items_post(struct ctx *c);
enum store_rc items_delete(struct ctx *c);
enum store_rc items_list_refs(struct ctx *c);
enum store_rc items_get_ref(struct ctx *c);
enum store_rc items_list_collection(struct ctx *c);
enum store_rc items_list_collections(struct ctx *c);
enum store_rc items_ping(struct ctx *c);

/*
 * Shared helpers for handlers (items.c): the store key prefix of an item,
 * tenant(be32) | collection | 0x00 | key, with room for extra bytes after it;
 * NULL when out of memory.
 */
unsigned char *items_key(struct ctx *c, const char *collection, const char *key,
    size_t extra, size_t *len);

/* Parses the body as a JSON object within the limits, or answers 400/413. */
struct json_object;
enum store_rc items_parse_body(struct ctx *c, struct json_object **out, int *ok);

/* Reads "limit" (1..100, default 10) and "offset" (>= 0); answers 400 itself. */
int handler_limit_offset(struct ctx *c, int64_t *limit, int64_t *offset);

/*
 * Parses an If-Match or If-None-Match header value (NULL: absent). Returns 1
 * when present and valid, 0 when absent, -1 after answering 400
 * item_ref_malformed.
 */
int handler_parse_cond(struct ctx *c, const char *header, struct etag_list *l);

/* Answers 412 item_version_mismatch. */
void handler_version_mismatch(struct ctx *c);

/* Events (events.c). */
enum store_rc events_create(struct ctx *c);
enum store_rc events_list(struct ctx *c);
enum store_rc events_get(struct ctx *c);
enum store_rc events_update(struct ctx *c);
enum store_rc events_patch(struct ctx *c);
enum store_rc events_delete(struct ctx *c);

/* Appends the URL path "/v0/<c>/<k>" percent-encoded. */
void handler_item_path(struct buf *b, const char *collection, const char *key);

#endif
