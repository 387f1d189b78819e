/*
 * check_export: unit tests of the export stream (export.h) over a real
 * Berkeley DB environment (testdom.h's fixture).
 *
 * The fixture stores a small tenant through the domain (items with several
 * versions, a tombstone, events of items that exist and of one that does
 * not, a collection of events only, one whose items are all deleted) and a
 * second tenant that must never show. Each line of an export is parsed
 * with json-c, checked for the shape of the stream (docs/api.md "Export":
 * ref and reftime agree with the value, ordinal_str with the ordinal) and
 * summed up as "i:c/k=value", "t:c/k" (tombstone) or "e:c/k/type/ts=value";
 * the summaries of all batches are compared with the expected order, for
 * every batch size, so that resuming between batches is covered too. The
 * end line must come once, last, in the batch that says done, and count
 * the lines before it; an export that fails never gives it.
 */
#include <inttypes.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "collections.h"
#include "events.h"
#include "export.h"
#include "ids.h"
#include "items.h"
#include "relations.h"
#include "testdom.h"

#define T1	1
#define T2	2

static const struct dom_cond no_cond;

static void
put(uint32_t t, const char *coll, const char *key, const char *value)
{
	struct item_version v;
	struct dom d;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = item_put(&d, coll, key, value, strlen(value), &no_cond, &no_cond, &v);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "item_put(%s/%s) to set up: got %s, want DOM_OK", coll,
	    key, dom_rc_name(rc));
}

static void
del(uint32_t t, const char *coll, const char *key)
{
	struct dom d;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = item_delete(&d, coll, key, &no_cond, false);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "item_delete(%s/%s) to set up: got %s, want DOM_OK",
	    coll, key, dom_rc_name(rc));
}

static void
event(uint32_t t, const char *coll, const char *key, const char *type, int64_t ts,
    const char *value)
{
	struct event_name n = { coll, key, type };
	struct event_record r;
	struct evpos p;
	struct dom d;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = event_create(&d, &n, ts, value, strlen(value), &p, &r);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "event_create(%s/%s/%s) to set up: got %s, want "
	    "DOM_OK", coll, key, type, dom_rc_name(rc));
}

static void
relate(uint32_t t, const char *coll, const char *key, const char *kind,
    const char *to_coll, const char *to_key, const char *props)
{
	struct rel_name n = { coll, key, kind, to_coll, to_key };
	struct rel_record r;
	struct dom d;
	bool missing_dst;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = relation_put(&d, &n, props, props ? strlen(props) : 0, &no_cond, &no_cond, &r,
	    &missing_dst);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK, "relation_put(%s/%s %s %s/%s) to set up: got %s, want "
	    "DOM_OK", coll, key, kind, to_coll, to_key, dom_rc_name(rc));
}

static void
drop(uint32_t t, const char *coll)
{
	struct dom d;
	bool existed;
	enum dom_rc rc;

	td_begin(&d, t);
	rc = coll_drop(&d, coll, &existed);
	td_end(&d, rc);
	ck_assert_msg(rc == DOM_OK && existed, "coll_drop(%s): got %s, existed %d; want "
	    "DOM_OK, 1", coll, dom_rc_name(rc), existed);
}

/*
 * The tenant every test exports (T1), and another one (T2). Of T1's
 * relations only a -likes-> b and b -likes-> a are live at both ends: the
 * others start at a deleted item (d), end at one (q), or end in a dropped
 * collection (c3).
 */
static void
fixture(void)
{
	put(T1, "c0", "a", V1);
	put(T1, "c0", "b", V1);
	put(T1, "c0", "b", V2);
	put(T1, "c0", "d", VB);
	relate(T1, "c0", "d", "x", "c0", "a", NULL);
	del(T1, "c0", "d");
	event(T1, "c0", "a", "ev", 7, VE);
	event(T1, "c0", "a", "ev", 5, V1);
	event(T1, "c0", "zz", "ev2", 1, VB);
	event(T1, "c1", "x", "t", 3, V2);
	put(T1, "c2", "q", VB);
	relate(T1, "c0", "b", "owns", "c2", "q", V1);
	del(T1, "c2", "q");
	put(T1, "c3", "z", V1);
	relate(T1, "c0", "a", "to", "c3", "z", NULL);
	drop(T1, "c3");
	relate(T1, "c0", "b", "likes", "c0", "a", NULL);
	relate(T1, "c0", "a", "likes", "c0", "b", VB);
	put(T2, "c0", "a", V2);
	event(T2, "c0", "a", "ev", 5, V2);
	relate(T2, "c0", "a", "self", "c0", "a", V2);
}

#define RELS ",r:c0/a/likes/c0/b=" VB ",r:c0/b/likes/c0/a=" VE
#define NOHIST_ALL "i:c0/a=" V1 ",i:c0/b=" V2 ",e:c0/a/ev/5=" V1 ",e:c0/a/ev/7=" VE \
	",e:c0/zz/ev2/1=" VB ",e:c1/x/t/3=" V2 RELS
#define HIST_C0_DATA "i:c0/a=" V1 ",i:c0/b=" V1 ",i:c0/b=" V2 ",i:c0/d=" VB ",t:c0/d" \
	",e:c0/a/ev/5=" V1 ",e:c0/a/ev/7=" VE ",e:c0/zz/ev2/1=" VB
#define HIST_C0 HIST_C0_DATA RELS
#define HIST_ALL HIST_C0_DATA ",e:c1/x/t/3=" V2 ",i:c2/q=" VB ",t:c2/q" RELS
#define NOHIST_C0 "i:c0/a=" V1 ",i:c0/b=" V2 ",e:c0/a/ev/5=" V1 ",e:c0/a/ev/7=" VE \
	",e:c0/zz/ev2/1=" VB RELS

/* What the export wrote, summed up. */
struct got {
	char s[4096];
	size_t len;
	int64_t lines;
	int batches;
	uint64_t bytes;         /* of every batch */
	bool ended;             /* the end line came */
};

static void
got_add(struct got *g, const char *text)
{
	size_t n = strlen(text);

	ck_assert_msg(g->len + n + 2 < sizeof(g->s), "the summary outgrew its buffer");
	if (g->len > 0)
		g->s[g->len++] = ',';
	memcpy(g->s + g->len, text, n + 1);
	g->len += n;
}

static const char *
str_of(struct json_object *o, const char *name)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_string), "member %s: got none or not a "
	    "string, want a string", name);
	return json_object_get_string(v);
}

static int64_t
int_of(struct json_object *o, const char *name)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, name, &v) &&
	    json_object_is_type(v, json_type_int), "member %s: got none or not an "
	    "integer, want an integer", name);
	return json_object_get_int64(v);
}

/* A relationship line: "r:c/k/kind/c2/k2=props". */
static void
check_relation(struct got *g, struct json_object *o, const char *line, size_t len)
{
	struct json_object *src, *dst, *value;
	char text[512], ref[IDS_REF_LEN + 1];
	const char *vs;

	ck_assert_msg(json_object_object_get_ex(o, "source", &src) &&
	    json_object_object_get_ex(o, "destination", &dst) &&
	    json_object_object_get_ex(o, "value", &value), "relationship line %.*s: want "
	    "source, destination and value", (int)len, line);
	vs = json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);
	ids_ref(vs, strlen(vs), ref, NULL);
	ck_assert_msg(strcmp(str_of(o, "ref"), ref) == 0 && int_of(o, "reftime") > 0,
	    "relationship line %.*s: got ref %s, want %s (of the value), and a reftime",
	    (int)len, line, str_of(o, "ref"), ref);
	snprintf(text, sizeof(text), "r:%s/%s/%s/%s/%s=%s", str_of(src, "collection"),
	    str_of(src, "key"), str_of(o, "relation"), str_of(dst, "collection"),
	    str_of(dst, "key"), vs);
	got_add(g, text);
	g->lines++;
	json_object_put(o);
}

/* The end line: exactly {"kind":"end","lines":N}, N the lines before it. */
static void
check_end(struct got *g, struct json_object *o, const char *line, size_t len)
{
	char want[64];

	snprintf(want, sizeof(want), "{\"kind\":\"end\",\"lines\":%" PRId64 "}", g->lines);
	ck_assert_msg(strlen(want) == len && memcmp(line, want, len) == 0, "end line: got "
	    "%.*s, want %s", (int)len, line, want);
	g->ended = true;
	json_object_put(o);
}

/* Checks one line's shape and adds its summary. */
static void
check_line(struct got *g, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *path, *value = NULL, *tomb = NULL;
	char text[512], ref[IDS_REF_LEN + 1], hex[17];
	const char *kind, *vs = NULL;

	ck_assert_msg(!g->ended, "a line after the end line: got %.*s, want none", (int)len,
	    line);
	ck_assert_msg(tok != NULL, "json_tokener_new: got NULL");
	o = json_tokener_parse_ex(tok, line, (int)len);
	ck_assert_msg(o != NULL && json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(o, json_type_object), "line \"%.*s\": got no JSON object",
	    (int)len, line);
	json_tokener_free(tok);
	kind = str_of(o, "kind");
	if (strcmp(kind, "end") == 0) {
		check_end(g, o, line, len);
		return;
	}
	if (strcmp(kind, "relationship") == 0) {
		check_relation(g, o, line, len);
		return;
	}
	ck_assert_msg(json_object_object_get_ex(o, "path", &path), "line %.*s: got no path",
	    (int)len, line);
	ck_assert_msg(strcmp(str_of(path, "kind"), kind) == 0, "line %.*s: path.kind "
	    "differs from kind", (int)len, line);
	ck_assert_msg(int_of(o, "reftime") == int_of(path, "reftime"), "line %.*s: "
	    "reftime differs from path.reftime", (int)len, line);
	(void)json_object_object_get_ex(path, "tombstone", &tomb);
	if (json_object_object_get_ex(o, "value", &value)) {
		vs = json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);
		ids_ref(vs, strlen(vs), ref, NULL);
		ck_assert_msg(strcmp(str_of(path, "ref"), ref) == 0, "line %.*s: got ref "
		    "%s, want %s (of the value)", (int)len, line, str_of(path, "ref"), ref);
	}
	if (strcmp(kind, "item") == 0 && tomb != NULL) {
		ck_assert_msg(json_object_get_boolean(tomb) && value == NULL &&
		    strcmp(str_of(path, "ref"), REFNULL) == 0, "tombstone line %.*s: want "
		    "tombstone true, no value, the ref of null", (int)len, line);
		snprintf(text, sizeof(text), "t:%s/%s", str_of(path, "collection"),
		    str_of(path, "key"));
	} else if (strcmp(kind, "item") == 0) {
		ck_assert_msg(vs != NULL, "item line %.*s: got no value", (int)len, line);
		snprintf(text, sizeof(text), "i:%s/%s=%s", str_of(path, "collection"),
		    str_of(path, "key"), vs);
	} else {
		ck_assert_msg(strcmp(kind, "event") == 0 && vs != NULL, "line %.*s: got kind "
		    "%s, want item or event with a value", (int)len, line, kind);
		ids_hex64((uint64_t)int_of(path, "ordinal"), hex);
		ck_assert_msg(strcmp(str_of(path, "ordinal_str"), hex) == 0, "line %.*s: "
		    "ordinal_str is not the ordinal in hex", (int)len, line);
		snprintf(text, sizeof(text), "e:%s/%s/%s/%" PRId64 "=%s",
		    str_of(path, "collection"), str_of(path, "key"), str_of(path, "type"),
		    int_of(path, "timestamp"), vs);
	}
	got_add(g, text);
	g->lines++;
	json_object_put(o);
}

/* Checks that data holds whole lines and adds them. */
static void
check_lines(struct got *g, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n;

		ck_assert_msg(nl != NULL, "a batch ends in the middle of a line: \"%.*s\"",
		    (int)len, data);
		n = (size_t)(nl - data);
		check_line(g, data, n);
		data += n + 1;
		len -= n + 1;
	}
}

static struct export *
new_export(uint32_t tenant, const char *coll, bool history, int64_t records,
    size_t bytes)
{
	struct export_spec spec = { tenant, coll, history, records, bytes };
	struct export *x = export_new(&spec);

	ck_assert_msg(x != NULL, "export_new: got NULL, want an export");
	return x;
}

/* One batch; it must succeed, and end with the end line when it is the
 * last (the first batch that says done; any later one is empty). */
static bool
batch(struct export *x, struct got *g)
{
	const char *data;
	size_t len;
	bool done, ended = g->ended;
	enum store_rc rc = export_next(x, td_st, 0, &data, &len, &done);

	ck_assert_msg(rc == STORE_OK, "export_next: got %d, want STORE_OK", (int)rc);
	check_lines(g, data, len);
	g->batches++;
	g->bytes += len;
	ck_assert_msg(g->ended == done, "batch %d: got done %d and end line %d, want both "
	    "or neither", g->batches, done, g->ended);
	ck_assert_msg(!ended || len == 0, "a batch after the end line: got %zu bytes, want "
	    "none", len);
	return done;
}

/* Runs an export to its end (at most 1000 batches). */
static void
run_all(struct export *x, struct got *g)
{
	memset(g, 0, sizeof(*g));
	while (!batch(x, g))
		ck_assert_msg(g->batches < 1000, "the export did not end after 1000 batches");
}

struct order_case {
	const char *coll;       /* NULL: every collection */
	bool history;
	int64_t records;        /* per batch */
	size_t bytes;
	const char *want;
};

static const struct order_case order_core[] = {
	{ NULL, false, 1000, EXPORT_BATCH_BYTES, NOHIST_ALL },
	{ NULL, true, 1000, EXPORT_BATCH_BYTES, HIST_ALL },
	{ "c0", false, 1000, EXPORT_BATCH_BYTES, NOHIST_C0 },
	{ "c0", true, 1000, EXPORT_BATCH_BYTES, HIST_C0 },
	{ "c1", false, 1000, EXPORT_BATCH_BYTES, "e:c1/x/t/3=" V2 },
	{ "c2", false, 1000, EXPORT_BATCH_BYTES, "" },
	{ "c2", true, 1000, EXPORT_BATCH_BYTES, "i:c2/q=" VB ",t:c2/q" },
};

/* Every batch size resumes where the last batch stopped. */
static const struct order_case order_limits[] = {
	{ NULL, false, 1, EXPORT_BATCH_BYTES, NOHIST_ALL },
	{ NULL, false, 2, EXPORT_BATCH_BYTES, NOHIST_ALL },
	{ NULL, false, 3, EXPORT_BATCH_BYTES, NOHIST_ALL },
	{ NULL, true, 1, EXPORT_BATCH_BYTES, HIST_ALL },
	{ NULL, true, 2, EXPORT_BATCH_BYTES, HIST_ALL },
	{ NULL, true, 5, EXPORT_BATCH_BYTES, HIST_ALL },
	{ NULL, true, 1000, 1, HIST_ALL },
	{ NULL, true, 1000, 200, HIST_ALL },
	{ "c0", true, 1, EXPORT_BATCH_BYTES, HIST_C0 },
	{ "c0", false, 1000, 1, NOHIST_C0 },
};

/* Nothing to export: a missing collection, a tenant with nothing. */
static const struct order_case order_errors[] = {
	{ "nope", false, 1000, EXPORT_BATCH_BYTES, "" },
	{ "nope", true, 1, EXPORT_BATCH_BYTES, "" },
	{ "C0", false, 1, EXPORT_BATCH_BYTES, "" },
	{ "c", true, 1, EXPORT_BATCH_BYTES, "" },
};

static void
run_order_case(const struct order_case *tc, uint32_t tenant)
{
	struct export *x;
	struct got g;
	struct export_totals tot;

	fixture();
	x = new_export(tenant, tc->coll, tc->history, tc->records, tc->bytes);
	run_all(x, &g);
	ck_assert_msg(strcmp(g.s, tc->want) == 0, "export of %s (history %d, %" PRId64
	    " lines / %zu bytes a batch):\n got %s\nwant %s", tc->coll ? tc->coll : "all",
	    tc->history, tc->records, tc->bytes, g.s, tc->want);
	export_totals(x, &tot);
	ck_assert_msg(tot.items + tot.events + tot.relations == g.lines, "totals: got %"
	    PRId64 " items + %" PRId64 " events + %" PRId64 " relations, want %" PRId64
	    " lines", tot.items, tot.events, tot.relations, g.lines);
	ck_assert_msg(tot.bytes == g.bytes, "totals: got %" PRIu64 " bytes, want %" PRIu64
	    " (the end line's too)", tot.bytes, g.bytes);
	if (tc->records == 1 && g.lines > 0)
		ck_assert_msg(g.batches >= g.lines, "one line a batch: got %d batches for %"
		    PRId64 " lines", g.batches, g.lines);
	/* After the end, further batches give nothing. */
	ck_assert_msg(batch(x, &g) && strcmp(g.s, tc->want) == 0, "a batch after the "
	    "end: got more lines or not done");
	export_free(x);
}

START_TEST(test_order_core)
{
	run_order_case(&order_core[_i], T1);
}
END_TEST

START_TEST(test_order_limits)
{
	run_order_case(&order_limits[_i], T1);
}
END_TEST

START_TEST(test_order_errors)
{
	run_order_case(&order_errors[_i], T1);
}
END_TEST

START_TEST(test_other_tenant)
{
	struct export *x;
	struct got g;

	fixture();
	x = new_export(3, NULL, true, 1, EXPORT_BATCH_BYTES);
	run_all(x, &g);
	ck_assert_msg(strcmp(g.s, "") == 0, "a tenant with nothing: got %s, want nothing",
	    g.s);
	export_free(x);
	x = new_export(T2, NULL, true, 1, EXPORT_BATCH_BYTES);
	run_all(x, &g);
	ck_assert_msg(strcmp(g.s, "i:c0/a=" V2 ",e:c0/a/ev/5=" V2 ",r:c0/a/self/c0/a=" V2)
	    == 0, "tenant 2: got %s, want only its own item, event and relation", g.s);
	export_free(x);
}
END_TEST

/* The whole stream's last bytes: the end line, alone in an empty export. */
struct end_case {
	uint32_t tenant;
	const char *coll;
	bool history;
	int64_t records;
	const char *want;       /* the stream ends with it (an empty one is it) */
	bool whole;             /* want is the whole stream */
};

#define END(n) "{\"kind\":\"end\",\"lines\":" #n "}\n"

static const struct end_case end_cases[] = {
	{ 3, NULL, false, 1000, END(0), true },
	{ 3, NULL, true, 1, END(0), true },
	{ T1, "c2", false, 1000, END(0), true },
	{ T1, "c2", true, 1000, "}\n" END(2), false },
	{ T1, "c1", false, 1, END(1), false },
	{ T1, NULL, false, 1000, END(8), false },
	{ T1, NULL, false, 1, END(8), false },
	{ T1, NULL, true, 3, END(13), false },
	{ T2, NULL, true, 1000, "}\n" END(3), false },
};

START_TEST(test_end_line)
{
	const struct end_case *tc = &end_cases[_i];
	char stream[8192];
	size_t n = 0, wl = strlen(tc->want);
	struct export *x;
	bool done = false;
	int batches = 0;

	fixture();
	x = new_export(tc->tenant, tc->coll, tc->history, tc->records, EXPORT_BATCH_BYTES);
	while (!done) {
		const char *data;
		size_t len;
		enum store_rc rc = export_next(x, td_st, 0, &data, &len, &done);

		ck_assert_msg(rc == STORE_OK && n + len < sizeof(stream) && ++batches < 1000,
		    "case %d: got %d after %zu bytes, want STORE_OK", _i, (int)rc, n);
		memcpy(stream + n, data, len);
		n += len;
	}
	stream[n] = '\0';
	if (tc->whole)
		ck_assert_msg(strcmp(stream, tc->want) == 0, "case %d: got \"%s\", want \"%s\"",
		    _i, stream, tc->want);
	else
		ck_assert_msg(n > wl && strcmp(stream + n - wl, tc->want) == 0, "case %d: got "
		    "\"...%s\", want it to end with \"%s\"", _i, n > 80 ? stream + n - 80 : stream,
		    tc->want);
	export_free(x);
}
END_TEST

/*
 * Writes between batches: one behind the position is not in the stream,
 * one ahead of it is; a version added to an item whose history is being
 * written continues it; a collection dropped half-way is left, and the
 * export goes on with the next one.
 */
START_TEST(test_between_batches)
{
	struct export *x;
	struct got g;

	fixture();
	x = new_export(T1, NULL, true, 2, EXPORT_BATCH_BYTES);
	memset(&g, 0, sizeof(g));
	ck_assert_msg(!batch(x, &g) && strcmp(g.s, "i:c0/a=" V1 ",i:c0/b=" V1) == 0,
	    "first batch: got %s", g.s);
	put(T1, "c0", "a", V2);        /* behind: not exported */
	put(T1, "c0", "b", VE);        /* b's history goes on */
	put(T1, "c0", "c", VE);        /* ahead */
	ck_assert_msg(!batch(x, &g), "second batch: got done, want more");
	drop(T1, "c1");
	while (!batch(x, &g))
		;
	ck_assert_msg(strcmp(g.s, "i:c0/a=" V1 ",i:c0/b=" V1 ",i:c0/b=" V2 ",i:c0/b=" VE
	    ",i:c0/c=" VE ",i:c0/d=" VB ",t:c0/d,e:c0/a/ev/5=" V1 ",e:c0/a/ev/7=" VE
	    ",e:c0/zz/ev2/1=" VB ",i:c2/q=" VB ",t:c2/q" RELS) == 0, "got %s", g.s);
	export_free(x);
}
END_TEST

/* A collection dropped while its own export runs: the export ends there. */
START_TEST(test_dropped_collection)
{
	struct export *x;
	struct got g;

	fixture();
	x = new_export(T1, "c0", false, 1, EXPORT_BATCH_BYTES);
	memset(&g, 0, sizeof(g));
	ck_assert_msg(!batch(x, &g), "first batch: got done, want more");
	drop(T1, "c0");
	put(T1, "c0", "b", V1);        /* a new c0, under a new cid */
	ck_assert_msg(batch(x, &g) && strcmp(g.s, "i:c0/a=" V1) == 0, "after the drop: "
	    "got %s and not done, want only the line before it (and no relations: they "
	    "went with the collection)", g.s);
	export_free(x);
}
END_TEST

/* Deleted items are passed over in bounded steps: batches without lines
 * that still end. */
START_TEST(test_many_tombstones)
{
	char key[16];
	struct export *x;
	struct got g;

	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		put(T1, "t", key, V1);
		del(T1, "t", key);
	}
	put(T1, "t", "z", V2);
	x = new_export(T1, "t", false, 1, EXPORT_BATCH_BYTES);
	run_all(x, &g);
	ck_assert_msg(strcmp(g.s, "i:t/z=" V2) == 0, "got %s, want the one live item",
	    g.s);
	ck_assert_msg(g.batches >= 40 / 8, "got %d batches, want at least %d (each passes "
	    "over at most 8 deleted items)", g.batches, 40 / 8);
	export_free(x);
}
END_TEST

/* A malformed record is a fault, reported and final; never a short stream
 * that looks whole. */
START_TEST(test_malformed_record)
{
	static const struct { enum store_db db; const char *suffix; } bad[] = {
		{ STORE_DB_ITEMS, "" }, { STORE_DB_EVENTS, "x" }, { STORE_DB_RELATIONS, "" },
	};
	unsigned char k[64];
	struct store_txn *t;
	struct export *x;
	const char *data;
	size_t len, kl;
	bool done;
	uint64_t cid;
	struct dom d;
	enum store_rc rc;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(T1, "m", "a", V1);
		td_begin(&d, T1);
		ck_assert_msg(coll_lookup(&d, "m", &cid) == DOM_OK, "coll_lookup(m)");
		td_end(&d, DOM_OK);
		layout_prefix(k, T1, cid);
		memcpy(k + LAYOUT_PREFIX_LEN, "b", 1);
		kl = LAYOUT_PREFIX_LEN + 1;
		memcpy(k + kl, bad[i].suffix, strlen(bad[i].suffix));
		kl += strlen(bad[i].suffix);
		ck_assert_msg(store_begin(td_st, true, &t) == STORE_OK &&
		    store_put(t, bad[i].db, k, kl, "junk", 4) == STORE_OK &&
		    store_commit(t) == STORE_OK, "storing a malformed record");
		x = new_export(T1, "m", false, 1000, EXPORT_BATCH_BYTES);
		rc = export_next(x, td_st, 0, &data, &len, &done);
		ck_assert_msg(rc == STORE_ERR, "case %zu: got %d, want STORE_ERR", i, (int)rc);
		rc = export_next(x, td_st, 0, &data, &len, &done);
		ck_assert_msg(rc == STORE_ERR && len == 0 && !done, "case %zu, again: got %d, "
		    "%zu bytes, done %d; want STORE_ERR, nothing", i, (int)rc, len, done);
		export_free(x);
		ck_assert_msg(store_begin(td_st, true, &t) == STORE_OK &&
		    store_del(t, bad[i].db, k, kl) == STORE_OK && store_commit(t) == STORE_OK,
		    "removing the malformed record");
	}
}
END_TEST

/* A fault after lines went out: the export never gives its end line. */
START_TEST(test_fault_gives_no_end_line)
{
	unsigned char k[64];
	struct store_txn *t;
	struct export *x;
	const char *data;
	size_t len, kl;
	bool done;
	uint64_t cid;
	struct dom d;
	enum store_rc rc;

	put(T1, "m", "a", V1);
	put(T1, "m", "c", V1);
	td_begin(&d, T1);
	ck_assert_msg(coll_lookup(&d, "m", &cid) == DOM_OK, "coll_lookup(m)");
	td_end(&d, DOM_OK);
	layout_prefix(k, T1, cid);
	memcpy(k + LAYOUT_PREFIX_LEN, "b", 1);
	kl = LAYOUT_PREFIX_LEN + 1;
	ck_assert_msg(store_begin(td_st, true, &t) == STORE_OK &&
	    store_put(t, STORE_DB_ITEMS, k, kl, "junk", 4) == STORE_OK &&
	    store_commit(t) == STORE_OK, "storing a malformed record");
	x = new_export(T1, "m", false, 1, EXPORT_BATCH_BYTES);
	rc = export_next(x, td_st, 0, &data, &len, &done);
	ck_assert_msg(rc == STORE_OK && !done && len > 0 && strstr(data, "\"end\"") == NULL,
	    "first batch: got %d, done %d, \"%.*s\"; want item a alone", (int)rc, done,
	    (int)len, data);
	for (int i = 0; i < 3; i++) {
		rc = export_next(x, td_st, 0, &data, &len, &done);
		ck_assert_msg(rc == STORE_ERR && len == 0 && !done, "batch %d after the fault: "
		    "got %d, %zu bytes, done %d; want STORE_ERR, nothing", i, (int)rc, len, done);
	}
	export_free(x);
}
END_TEST

START_TEST(test_count_items)
{
	static const struct { const char *coll; enum dom_rc rc; int64_t n; } cases[] = {
		{ NULL, DOM_OK, 2 }, { "c0", DOM_OK, 2 }, { "c1", DOM_OK, 0 },
		{ "c2", DOM_OK, 0 }, { "nope", DOM_NOT_FOUND, 0 },
	};
	struct dom d;

	fixture();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t n = -1;
		enum dom_rc rc;

		td_begin(&d, T1);
		rc = export_count_items(&d, cases[i].coll, &n);
		td_end(&d, rc);
		ck_assert_msg(rc == cases[i].rc && (rc != DOM_OK || n == cases[i].n),
		    "export_count_items(%s): got %s, %" PRId64 "; want %s, %" PRId64,
		    cases[i].coll ? cases[i].coll : "NULL", dom_rc_name(rc), n,
		    dom_rc_name(cases[i].rc), cases[i].n);
	}
}
END_TEST

static Suite *
export_suite(void)
{
	Suite *s = suite_create("export");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_checked_fixture(core, td_setup, td_teardown);
	tcase_add_loop_test(core, test_order_core, 0, NCASES(order_core));
	tcase_add_test(core, test_other_tenant);
	tcase_add_test(core, test_between_batches);
	tcase_add_test(core, test_count_items);
	tcase_add_loop_test(core, test_end_line, 0, NCASES(end_cases));
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, td_setup, td_teardown);
	tcase_add_loop_test(limits, test_order_limits, 0, NCASES(order_limits));
	tcase_add_test(limits, test_many_tombstones);
	suite_add_tcase(s, limits);

	tcase_add_checked_fixture(errors, td_setup, td_teardown);
	tcase_add_loop_test(errors, test_order_errors, 0, NCASES(order_errors));
	tcase_add_test(errors, test_dropped_collection);
	tcase_add_test(errors, test_malformed_record);
	tcase_add_test(errors, test_fault_gives_no_end_line);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(export_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
