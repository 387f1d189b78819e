/*
 * fuzz_bulk: libFuzzer target for the bulk splitter and reader (bulk.h):
 * bulk_split_feed/end, bulk_read, bulk_emit_success/failure and
 * bulk_entry_bound.
 *
 * The input is an import stream (small limits: values of 256 bytes, 4
 * levels, names of 24 bytes, so that the limits are reached); its first
 * byte, when there is one, also picks the size of the chunks of a second
 * split. Whatever happens, nothing may crash or leak. Invariants: both
 * splits hand on exactly the same operations (the chunking never changes
 * the outcome); indexes count from 0; offsets rise and lie inside the
 * input; a whole operation is the input's bytes at its offset, begins
 * with '{', ends with '}' and is at most bulk_op_max bytes; a failure has
 * a code, a message and an info. An operation bulk_read accepts has names
 * as the router wants them (non-empty, no NUL, valid UTF-8, within the
 * limit), a value that is a canonical JSON object within the limits (or
 * none, for a tombstone or a relation without properties), an ordinal
 * only with a timestamp, timestamps and reftimes in range; an end line
 * has a count from 0 and nothing else; a refusal has a code and a
 * message. Every result entry is JSON within its bound. bulk_read_unit
 * (the splitter's tree, whole or built chunk by chunk) and bulk_read (the
 * text parsed again) give exactly the same operation or refusal.
 * Build (see run.sh):
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     tests/fuzz/fuzz_bulk.c src/bulk.c src/json.c src/evpos.c \
 *     src/timefmt.c src/ids.c src/mem.c src/buf.c src/util.c \
 *     $(pkg-config --cflags --libs json-c libcrypto) -lm
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "bulk.h"
#include "fuzz.h"
#include "json.h"
#include "mem.h"
#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct bulk_limits LIM = { 256, 4, 24 };

/* What a split handed on, as a digest of each unit. */
struct seen {
	const uint8_t *in;
	size_t size;
	struct arena *a;
	struct buf log;      /* index, offset, ok, len, code of each unit */
	uint64_t last_offset;
	size_t n;
	bool read;           /* check each read operation and its entry */
};

static void
check_name(const char *s)
{
	size_t n;

	require(s != NULL);
	n = strlen(s);
	require(n > 0 && n <= LIM.max_name);
	require(util_utf8_valid(s, n));
}

/* The entry is a JSON object of at most bound bytes. */
static void
check_entry(const struct buf *b, size_t bound)
{
	struct json_object *o;

	require(!b->b_failed);
	require(b->b_len <= bound);
	o = json_tokener_parse(b->b_data);
	require(o != NULL && json_object_is_type(o, json_type_object));
	json_object_put(o);
}

static void
check_op(const struct bulk_op *op, size_t index)
{
	struct bulk_done done;
	struct buf b;

	if (op->kind == BULK_END) {
		/* A marker: a count and nothing else. */
		require(op->lines >= 0 && op->coll == NULL && op->key == NULL &&
		    op->value == NULL && op->reftime == 0);
		goto entry;
	}
	check_name(op->coll);
	check_name(op->key);
	if (op->kind == BULK_EVENT)
		check_name(op->type);
	if (op->kind == BULK_RELATION) {
		check_name(op->relation);
		check_name(op->to_coll);
		check_name(op->to_key);
	}
	require(op->kind == BULK_ITEM || !op->tombstone);
	require(op->value != NULL || op->tombstone || op->kind == BULK_RELATION);
	if (op->value != NULL) {
		struct json_object *o = NULL;
		const char *why, *canon;
		size_t len;

		require(op->vlen <= LIM.max_value && strlen(op->value) == op->vlen);
		require(json_parse_object(op->value, op->vlen, LIM.max_depth, &o, &why) ==
		    JSON_OK);
		canon = json_canonical(o, &len);
		require(canon != NULL && len == op->vlen && memcmp(canon, op->value, len) == 0);
		json_release(o);
	}
	require(!op->has_ord || op->has_ts);
	require(!op->has_ts || (op->ts >= TIMEFMT_MIN_MS && op->ts <= TIMEFMT_MAX_MS));
	require(op->reftime >= 0 && op->reftime <= TIMEFMT_MAX_MS);
entry:
	memset(&done, 0, sizeof(done));
	memcpy(done.ref, "0123456789abcdef", sizeof(done.ref));
	done.reftime = TIMEFMT_MAX_MS;
	done.pos.ts = (uint64_t)op->ts;
	done.pos.ord = op->ord;
	buf_init(&b, 0);
	bulk_emit_success(&b, index, op, &done);
	check_entry(&b, bulk_entry_bound(op));
	buf_free(&b);
}

static void
check_fail(const struct bulk_fail *f, size_t index, const struct bulk_op *op)
{
	struct buf b;

	require(f->code != NULL && f->message != NULL);
	require(memchr(f->info, '\0', sizeof(f->info)) != NULL);
	buf_init(&b, 0);
	bulk_emit_failure(&b, index, f);
	check_entry(&b, bulk_entry_bound(op));
	buf_free(&b);
}

static const char *
or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* Every field of a read's outcome, into b. */
static void
digest(struct buf *b, enum bulk_rc rc, const struct bulk_op *op, const struct bulk_fail *f)
{
	if (rc != BULK_OK) {
		buf_printf(b, "%d|%s|%s|%s;", (int)rc, or_empty(f->code), or_empty(f->message),
		    f->info);
		return;
	}
	buf_printf(b, "%d|%d|%s|%s|%s|%s|%s|%s|%zu|", (int)rc, (int)op->kind,
	    or_empty(op->coll), or_empty(op->key), or_empty(op->type), or_empty(op->relation),
	    or_empty(op->to_coll), or_empty(op->to_key), op->vlen);
	if (op->value != NULL)
		buf_add(b, op->value, op->vlen);
	buf_printf(b, "|%d|%lld|%d|%lld|%d|%llu|%lld;", (int)op->tombstone,
	    (long long)op->reftime, (int)op->has_ts, (long long)op->ts, (int)op->has_ord,
	    (unsigned long long)op->ord, (long long)op->lines);
}

static int
take(void *arg, const struct bulk_unit *u)
{
	struct seen *s = arg;

	require(u->index == s->n);
	require(u->offset >= s->last_offset && u->offset < s->size);
	s->last_offset = u->offset;
	s->n++;
	buf_printf(&s->log, "%zu@%llu:%d:%zu:%s;", u->index, (unsigned long long)u->offset,
	    (int)u->ok, u->len, u->ok ? "" : u->fail.code);
	if (!u->ok) {
		check_fail(&u->fail, u->index, NULL);
		return 0;
	}
	require(u->len >= 2 && u->len <= bulk_op_max(&LIM));
	require(u->offset + u->len <= s->size);
	require(memcmp(u->text, s->in + u->offset, u->len) == 0);
	require(u->text[0] == '{' && u->text[u->len - 1] == '}');
	{
		struct bulk_op op, op2;
		struct bulk_fail f, f2;
		struct buf d1, d2;
		enum bulk_rc rc = bulk_read_unit(&LIM, s->a, u, &op, &f);
		enum bulk_rc rc2 = bulk_read(&LIM, s->a, u->text, u->len, &op2, &f2);

		buf_init(&d1, 0);
		buf_init(&d2, 0);
		digest(&d1, rc, &op, &f);
		digest(&d2, rc2, &op2, &f2);
		require(!d1.b_failed && !d2.b_failed && d1.b_len == d2.b_len &&
		    memcmp(d1.b_data, d2.b_data, d1.b_len) == 0);
		/* The chunked split must read the same as the whole one. */
		buf_add(&s->log, d1.b_data, d1.b_len);
		buf_free(&d1);
		buf_free(&d2);
		if (s->read) {
			switch (rc) {
			case BULK_OK:
				check_op(&op, u->index);
				break;
			case BULK_REFUSED:
				check_fail(&f, u->index, NULL);
				break;
			default:
				require(0);
			}
		}
		mem_reset(s->a);
	}
	return 0;
}

/* Splits the input in chunks of chunk bytes (0: at once) into s->log. */
static void
split(struct seen *s, size_t chunk)
{
	struct bulk_split *sp = bulk_split_new(&LIM);

	require(sp != NULL);
	if (chunk == 0)
		chunk = s->size > 0 ? s->size : 1;
	for (size_t i = 0; i < s->size; i += chunk)
		require(bulk_split_feed(sp, (const char *)s->in + i,
		    s->size - i < chunk ? s->size - i : chunk, take, s) == 0);
	require(bulk_split_end(sp, take, s) == 0);
	require(bulk_split_offset(sp) == s->size);
	bulk_split_free(sp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole, chunked;
	size_t chunk = size > 0 ? (size_t)data[0] % 17 + 1 : 1;

	memset(&whole, 0, sizeof(whole));
	whole.in = data;
	whole.size = size;
	whole.a = mem_new();
	whole.read = true;
	require(whole.a != NULL);
	buf_init(&whole.log, 0);
	chunked = whole;
	chunked.read = false;
	buf_init(&chunked.log, 0);
	split(&whole, 0);
	split(&chunked, chunk);
	require(!whole.log.b_failed && !chunked.log.b_failed);
	require(whole.log.b_len == chunked.log.b_len);
	require(whole.log.b_len == 0 ||
	    memcmp(whole.log.b_data, chunked.log.b_data, whole.log.b_len) == 0);
	buf_free(&whole.log);
	buf_free(&chunked.log);
	mem_free(whole.a);
	return 0;
}
