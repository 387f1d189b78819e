/*
 * check_patch: unit tests for src/patch.c.
 *
 * Table-driven: every row is a document, an operation list, the return code
 * we want and, on success, the document we want (compared with
 * json_object_equal, so member order does not matter). A failing row must
 * leave the document byte for byte as it was. JSON in the tables is written
 * with single quotes for readability; qjson() turns them into double quotes
 * (write \u0027 for a real apostrophe).
 */
/* strdup is POSIX; the build may not define _GNU_SOURCE. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "patch.h"

struct row {
	const char	*doc;
	const char	*ops;
	enum patch_rc	 rc;
	const char	*want;	/* NULL: the document must not change */
};

#define OK(d, o, w)	{ (d), (o), PATCH_OK, (w) }
#define BAD(d, o)	{ (d), (o), PATCH_BAD_REQUEST, NULL }
#define CONFLICT(d, o)	{ (d), (o), PATCH_CONFLICT, NULL }

static const struct row core_rows[] = {
	/* add */
	OK("{'a':1}", "[{'op':'add','path':'b','value':2}]", "{'a':1,'b':2}"),
	OK("{'a':1}", "[{'op':'add','path':'/b','value':{'c':[1]}}]",
	    "{'a':1,'b':{'c':[1]}}"),
	OK("{}", "[{'op':'add','path':'profile.description','value':'x'}]",
	    "{'profile':{'description':'x'}}"),
	OK("{'a':1}", "[{'op':'add','path':'a','value':2}]", "{'a':2}"),
	OK("{'a':1}", "[{'op':'add','path':'a','value':null}]", "{'a':null}"),
	OK("{'a':[1,3]}", "[{'op':'add','path':'/a/1','value':2}]",
	    "{'a':[1,2,3]}"),
	OK("{'a':[1,3]}", "[{'op':'add','path':'/a/0','value':0}]",
	    "{'a':[0,1,3]}"),
	OK("{'a':[1,3]}", "[{'op':'add','path':'/a/-','value':4}]",
	    "{'a':[1,3,4]}"),
	OK("{'a':[1,3]}", "[{'op':'add','path':'/a/2','value':4}]",
	    "{'a':[1,3,4]}"),
	OK("{'a':[]}", "[{'op':'add','path':'a.0','value':'x'}]",
	    "{'a':['x']}"),
	/* remove */
	OK("{'a':1,'b':2}", "[{'op':'remove','path':'/a'}]", "{'b':2}"),
	OK("{'a':[1,2,3]}", "[{'op':'remove','path':'/a/1'}]", "{'a':[1,3]}"),
	OK("{'a':{'b':null}}", "[{'op':'remove','path':'a.b'}]", "{'a':{}}"),
	/* replace */
	OK("{'a':1}", "[{'op':'replace','path':'a','value':'x'}]", "{'a':'x'}"),
	OK("{'a':1}", "[{'op':'replace','path':'/a','value':null}]",
	    "{'a':null}"),
	OK("{'a':[1,2,3]}", "[{'op':'replace','path':'/a/1','value':9}]",
	    "{'a':[1,9,3]}"),
	OK("{'a':1}", "[{'op':'replace','path':'','value':{'b':2}}]",
	    "{'b':2}"),
	/* move and copy */
	OK("{'a':1}", "[{'op':'move','from':'a','path':'b'}]", "{'b':1}"),
	OK("{'a':[1,2,3]}", "[{'op':'move','from':'/a/0','path':'/a/-'}]",
	    "{'a':[2,3,1]}"),
	OK("{'a':{'x':1}}", "[{'op':'move','from':'/a','path':''}]",
	    "{'x':1}"),
	OK("{'a':{'x':1}}", "[{'op':'move','from':'a.x','path':'b.c'}]",
	    "{'a':{},'b':{'c':1}}"),
	OK("{'a':{'x':1}}", "[{'op':'copy','from':'a','path':'b'}]",
	    "{'a':{'x':1},'b':{'x':1}}"),
	OK("{'a':{'x':1}}", "[{'op':'copy','from':'','path':'/a/y'}]",
	    "{'a':{'x':1,'y':{'a':{'x':1}}}}"),
	/* test */
	OK("{'a':{'x':[1,2]}}",
	    "[{'op':'test','path':'a','value':{'x':[1,2]}},"
	    "{'op':'add','path':'ok','value':true}]",
	    "{'a':{'x':[1,2]},'ok':true}"),
	OK("{'a':1}", "[{'op':'test','path':'a','value':2,'negate':true}]",
	    "{'a':1}"),
	OK("{'a':1}", "[{'op':'test','path':'b','value':2,'negate':true}]",
	    "{'a':1}"),
	OK("{'a':1}", "[{'op':'test','path':'a'}]", "{'a':1}"),
	OK("{'a':null}", "[{'op':'test','path':'a'}]", "{'a':null}"),
	OK("{'a':1}", "[{'op':'test','path':'b','negate':true}]", "{'a':1}"),
	OK("{'a':1}", "[{'op':'test','path':'a','negate':false}]", "{'a':1}"),
	OK("{'a':null}", "[{'op':'test','path':'/a','value':null}]",
	    "{'a':null}"),
	/* inc */
	OK("{'n':1}", "[{'op':'inc','path':'n'}]", "{'n':2}"),
	OK("{'n':1}", "[{'op':'inc','path':'n','value':5}]", "{'n':6}"),
	OK("{'n':1}", "[{'op':'inc','path':'/n','value':-3}]", "{'n':-2}"),
	OK("{'n':1}", "[{'op':'inc','path':'n','value':0.5}]", "{'n':1.5}"),
	OK("{'n':1.5}", "[{'op':'inc','path':'n'}]", "{'n':2.5}"),
	OK("{}", "[{'op':'inc','path':'n'}]", "{'n':1}"),
	OK("{}", "[{'op':'inc','path':'a.b','value':3}]", "{'a':{'b':3}}"),
	OK("{'l':[1,2]}", "[{'op':'inc','path':'l.1','value':10}]",
	    "{'l':[1,12]}"),
	/* init */
	OK("{}", "[{'op':'init','path':'a','value':{'x':1}}]",
	    "{'a':{'x':1}}"),
	OK("{'a':1}", "[{'op':'init','path':'a','value':2}]", "{'a':1}"),
	OK("{'a':null}", "[{'op':'init','path':'a','value':2}]", "{'a':null}"),
	OK("{}", "[{'op':'init','path':'profile','value':{}},"
	    "{'op':'add','path':'profile.description','value':'d'}]",
	    "{'profile':{'description':'d'}}"),
	/* append */
	OK("{'l':[1]}", "[{'op':'append','path':'l','value':2}]",
	    "{'l':[1,2]}"),
	OK("{'l':[1]}", "[{'op':'append','path':'/l','value':[2,3]}]",
	    "{'l':[1,2,3]}"),
	OK("{'l':[1]}", "[{'op':'append','path':'l','value':{'x':1}}]",
	    "{'l':[1,{'x':1}]}"),
	OK("{'l':[1]}", "[{'op':'append','path':'l','value':[[2]]}]",
	    "{'l':[1,[2]]}"),
	OK("{'l':[1]}", "[{'op':'append','path':'l','value':[]}]",
	    "{'l':[1]}"),
	OK("{'l':[]}", "[{'op':'append','path':'l','value':null}]",
	    "{'l':[null]}"),
	/* merge */
	OK("{'a':1,'b':{'c':1}}",
	    "[{'op':'merge','path':'/','value':{'b':{'d':2},'a':null}}]",
	    "{'b':{'c':1,'d':2}}"),
	OK("{'a':1}", "[{'op':'merge','path':'','value':{'z':[1]}}]",
	    "{'a':1,'z':[1]}"),
	OK("{'p':{'x':1,'y':2}}",
	    "[{'op':'merge','path':'p','value':{'y':null,'z':{'q':null}}}]",
	    "{'p':{'x':1,'z':{}}}"),
	OK("{'p':{'x':{'y':1}}}",
	    "[{'op':'merge','path':'/p','value':{'x':5}}]", "{'p':{'x':5}}"),
	/* nested patch */
	OK("{'p':{'n':1}}",
	    "[{'op':'patch','path':'p','value':[{'op':'inc','path':'n'},"
	    "{'op':'add','path':'/m','value':true}]}]",
	    "{'p':{'n':2,'m':true}}"),
	OK("{'a':1}",
	    "[{'op':'patch','path':'/','value':[{'op':'add','path':'b',"
	    "'value':2}]}]", "{'a':1,'b':2}"),
	OK("{'a':1}",
	    "[{'op':'patch','path':'/','conditional':true,'value':["
	    "{'op':'test','path':'a','value':2},"
	    "{'op':'add','path':'b','value':1}]},"
	    "{'op':'add','path':'c','value':1}]", "{'a':1,'c':1}"),
	OK("{'a':1}",
	    "[{'op':'patch','path':'/','conditional':true,'value':["
	    "{'op':'test','path':'a','value':1},"
	    "{'op':'add','path':'b','value':1}]},"
	    "{'op':'add','path':'c','value':1}]", "{'a':1,'b':1,'c':1}"),
	OK("{'a':1}",
	    "[{'op':'patch','path':'','conditional':true,'value':["
	    "{'op':'add','path':'b','value':1},"
	    "{'op':'test','path':'a','negate':true}]}]", "{'a':1}"),
	OK("{'l':[1,2]}",
	    "[{'op':'patch','path':'l','value':[{'op':'replace','path':'/0',"
	    "'value':9}]}]", "{'l':[9,2]}"),
	OK("{'p':{'a':1}}",
	    "[{'op':'patch','path':'p','value':[{'op':'add','path':'',"
	    "'value':[1,2]}]}]", "{'p':[1,2]}"),
	/* paths */
	OK("{'a/b':1,'m~n':2}",
	    "[{'op':'test','path':'/a~1b','value':1},"
	    "{'op':'replace','path':'/m~0n','value':3}]",
	    "{'a/b':1,'m~n':3}"),
	OK("{'l':[{'x':1},{'x':2}]}",
	    "[{'op':'replace','path':'l.1.x','value':5}]",
	    "{'l':[{'x':1},{'x':5}]}"),
	OK("{'o':{'0':'a'}}", "[{'op':'replace','path':'o.0','value':'b'}]",
	    "{'o':{'0':'b'}}"),
	OK("{}", "[{'op':'add','path':'/','value':1}]", "{'':1}"),
	OK("{'a':1}", "[]", "{'a':1}"),
	OK("{'a':1}",
	    "[{'op':'add','path':'b','value':1},"
	    "{'op':'move','from':'b','path':'c'},"
	    "{'op':'inc','path':'c'},{'op':'remove','path':'a'}]",
	    "{'c':2}"),
};

static const struct row limit_rows[] = {
	/* Integers stay integers within (-2^63, 2^64-1), as json.c stores. */
	OK("{'n':2}", "[{'op':'inc','path':'n','value':3}]", "{'n':5}"),
	OK("{'n':9223372036854775807}", "[{'op':'inc','path':'n'}]",
	    "{'n':9223372036854775808}"),
	OK("{'n':18446744073709551613}", "[{'op':'inc','path':'n'}]",
	    "{'n':18446744073709551614}"),
	CONFLICT("{'n':18446744073709551614}", "[{'op':'inc','path':'n'}]"),
	CONFLICT("{'n':18446744073709551614}",
	    "[{'op':'inc','path':'n','value':18446744073709551614}]"),
	OK("{'n':9223372036854775808}",
	    "[{'op':'inc','path':'n','value':-1}]",
	    "{'n':9223372036854775807}"),
	OK("{'n':18446744073709551614}",
	    "[{'op':'inc','path':'n','value':-9223372036854775807}]",
	    "{'n':9223372036854775807}"),
	OK("{'n':-9223372036854775806}",
	    "[{'op':'inc','path':'n','value':-1}]",
	    "{'n':-9223372036854775807}"),
	CONFLICT("{'n':-9223372036854775807}",
	    "[{'op':'inc','path':'n','value':-1}]"),
	OK("{'n':-5}", "[{'op':'inc','path':'n','value':5}]", "{'n':0}"),
	OK("{'n':1e308}", "[{'op':'inc','path':'n','value':1}]",
	    "{'n':1e308}"),
	CONFLICT("{'n':1e308}", "[{'op':'inc','path':'n','value':1e308}]"),
	OK("{'n':9223372036854775807}",
	    "[{'op':'inc','path':'n','value':0.0}]",
	    "{'n':9223372036854775807.0}"),
	/* Array indices: canonical decimal only, at most the length. */
	CONFLICT("{'l':[1,2]}", "[{'op':'replace','path':'/l/01','value':0}]"),
	CONFLICT("{'l':[1,2]}", "[{'op':'add','path':'/l/3','value':0}]"),
	CONFLICT("{'l':[1,2]}", "[{'op':'remove','path':'/l/2'}]"),
	CONFLICT("{'l':[1,2]}",
	    "[{'op':'add','path':'/l/99999999999999999999999','value':0}]"),
	CONFLICT("{'l':[1,2]}", "[{'op':'remove','path':'/l/-1'}]"),
	CONFLICT("{'l':[1,2]}", "[{'op':'replace','path':'/l/-','value':0}]"),
	OK("{'o':{'01':1}}", "[{'op':'replace','path':'/o/01','value':2}]",
	    "{'o':{'01':2}}"),
	OK("{'o':{'-':1}}", "[{'op':'remove','path':'o.-'}]", "{'o':{}}"),
	/* Pointer escapes are decoded once, left to right. */
	OK("{'~1':1}", "[{'op':'replace','path':'/~01','value':2}]",
	    "{'~1':2}"),
	OK("{'':{'':1}}", "[{'op':'replace','path':'//','value':2}]",
	    "{'':{'':2}}"),
	OK("{'a.b':1}", "[{'op':'remove','path':'/a.b'}]", "{}"),
	OK("{}", "[{'op':'add','path':'a.b.c.d.e.f','value':1}]",
	    "{'a':{'b':{'c':{'d':{'e':{'f':1}}}}}}"),
	OK("{'\u00e9t\u00e9':1}",
	    "[{'op':'inc','path':'\u00e9t\u00e9'}]", "{'\u00e9t\u00e9':2}"),
	/* json_object_equal: an integer never equals a double. */
	CONFLICT("{'n':1}", "[{'op':'test','path':'n','value':1.0}]"),
	OK("{'n':1}", "[{'op':'test','path':'n','value':1.0,'negate':true}]",
	    "{'n':1}"),
	/* A failed test two levels down still only skips the conditional. */
	OK("{'a':{'b':1}}",
	    "[{'op':'patch','path':'a','conditional':true,'value':["
	    "{'op':'add','path':'c','value':1},"
	    "{'op':'patch','path':'/','value':["
	    "{'op':'test','path':'b','value':2}]}]},"
	    "{'op':'add','path':'d','value':1}]",
	    "{'a':{'b':1},'d':1}"),
	OK("{'a':1}", "[{'op':'move','from':'a','path':'a'}]", "{'a':1}"),
	OK("{'a':1}", "[{'op':'patch','path':'/','value':[]}]", "{'a':1}"),
	OK("{'a':1}", "[{'op':'merge','path':'/','value':{}}]", "{'a':1}"),
	OK("{'a':[1,2,3]}", "[{'op':'move','from':'/a/2','path':'/a/0'}]",
	    "{'a':[3,1,2]}"),
};

static const struct row error_rows[] = {
	/* Malformed requests. */
	BAD("{'a':1}", "{}"),
	BAD("{'a':1}", "[1]"),
	BAD("{'a':1}", "[null]"),
	BAD("{'a':1}", "[{'path':'a'}]"),
	BAD("{'a':1}", "[{'op':1,'path':'a'}]"),
	BAD("{'a':1}", "[{'op':'huh','path':'a'}]"),
	BAD("{'a':1}", "[{'op':'ADD','path':'a','value':1}]"),
	BAD("{'a':1}", "[{'op':'add\\u0000x','path':'a','value':1}]"),
	BAD("{'a':1}", "[{'op':'remove'}]"),
	BAD("{'a':1}", "[{'op':'remove','path':1}]"),
	BAD("{'a':1}", "[{'op':'remove','path':null}]"),
	BAD("{'a':1}", "[{'op':'add','path':'b'}]"),
	BAD("{'a':1}", "[{'op':'replace','path':'a'}]"),
	BAD("{'a':1}", "[{'op':'init','path':'a'}]"),
	BAD("{'a':1}", "[{'op':'append','path':'a'}]"),
	BAD("{'a':1}", "[{'op':'merge','path':'/'}]"),
	BAD("{'a':1}", "[{'op':'patch','path':'/'}]"),
	BAD("{'a':1}", "[{'op':'move','path':'b'}]"),
	BAD("{'a':1}", "[{'op':'copy','path':'b','from':1}]"),
	BAD("{'a':1}", "[{'op':'inc','path':'a','value':'1'}]"),
	BAD("{'a':1}", "[{'op':'inc','path':'a','value':null}]"),
	BAD("{'a':1}", "[{'op':'merge','path':'/','value':[1]}]"),
	BAD("{'a':1}", "[{'op':'merge','path':'/','value':null}]"),
	BAD("{'a':1}", "[{'op':'patch','path':'/','value':{}}]"),
	BAD("{'a':1}", "[{'op':'remove','path':'/a/~2'}]"),
	BAD("{'a':1}", "[{'op':'remove','path':'/a~'}]"),
	BAD("{'a':1}", "[{'op':'move','from':'/~x','path':'b'}]"),
	BAD("{'a':1}", "[{'op':'remove','path':'a..b'}]"),
	BAD("{'a':1}", "[{'op':'remove','path':'.a'}]"),
	BAD("{'a':1}", "[{'op':'remove','path':'a.'}]"),
	BAD("{'a':1}", "[{'op':'remove','path':'a\\u0000b'}]"),
	BAD("{'a':1}", "[{'op':'test','path':'a','negate':'true'}]"),
	BAD("{'a':1}", "[{'op':'patch','path':'/','value':[],"
	    "'conditional':1}]"),
	BAD("{'a':1}", "[{'op':'patch','path':'/','conditional':true,"
	    "'value':[{'op':'huh','path':'a'}]}]"),
	BAD("{'a':1}", "[{'op':'patch','path':'/','value':["
	    "{'op':'patch','path':'/','value':[{'op':'add','path':'x'}]}]}]"),
	/* A bad request wins over an earlier operation that would fail. */
	BAD("{'a':1}", "[{'op':'remove','path':'zzz'},{'op':'huh'}]"),
	/* Operations that cannot apply. */
	CONFLICT("{'a':1}", "[{'op':'remove','path':'b'}]"),
	CONFLICT("{'a':1}", "[{'op':'remove','path':''}]"),
	CONFLICT("{'a':1}", "[{'op':'replace','path':'/Huh','value':1}]"),
	CONFLICT("{'a':{}}", "[{'op':'replace','path':'a.b.c','value':1}]"),
	CONFLICT("{'a':1}", "[{'op':'replace','path':'','value':[1]}]"),
	CONFLICT("{'a':1}", "[{'op':'add','path':'','value':5}]"),
	CONFLICT("{'a':1}", "[{'op':'add','path':'/x/y','value':1}]"),
	CONFLICT("{'a':1}", "[{'op':'add','path':'a.b','value':1}]"),
	CONFLICT("{'a':[1]}", "[{'op':'add','path':'a.5.b','value':1}]"),
	CONFLICT("{'a':1}", "[{'op':'move','from':'b','path':'c'}]"),
	CONFLICT("{'a':{'b':1}}", "[{'op':'move','from':'a','path':'a.b.c'}]"),
	CONFLICT("{'a':1}", "[{'op':'move','from':'','path':'/b'}]"),
	CONFLICT("{'a':1}", "[{'op':'move','from':'a','path':''}]"),
	CONFLICT("{'a':1}", "[{'op':'copy','from':'b','path':'c'}]"),
	CONFLICT("{'a':1}", "[{'op':'test','path':'a','value':2}]"),
	CONFLICT("{'a':1}", "[{'op':'test','path':'b','value':1}]"),
	CONFLICT("{'a':1}", "[{'op':'test','path':'a','value':1,"
	    "'negate':true}]"),
	CONFLICT("{'a':1}", "[{'op':'test','path':'b'}]"),
	CONFLICT("{'a':null}", "[{'op':'test','path':'a','negate':true}]"),
	CONFLICT("{'a':'x'}", "[{'op':'inc','path':'a'}]"),
	CONFLICT("{'a':true}", "[{'op':'inc','path':'a'}]"),
	CONFLICT("{'a':null}", "[{'op':'inc','path':'a'}]"),
	CONFLICT("{'a':1}", "[{'op':'inc','path':''}]"),
	CONFLICT("{'a':1}", "[{'op':'append','path':'l','value':1}]"),
	CONFLICT("{'l':{}}", "[{'op':'append','path':'l','value':1}]"),
	CONFLICT("{'a':1}", "[{'op':'merge','path':'p','value':{}}]"),
	CONFLICT("{'p':[1]}", "[{'op':'merge','path':'p','value':{}}]"),
	CONFLICT("{'a':1}", "[{'op':'patch','path':'p','value':[]}]"),
	CONFLICT("{'a':1}", "[{'op':'patch','path':'a','value':[]}]"),
	CONFLICT("{'a':1}", "[{'op':'patch','path':'/','value':["
	    "{'op':'test','path':'a','value':2}]}]"),
	CONFLICT("{'a':1}", "[{'op':'patch','path':'/','conditional':true,"
	    "'value':[{'op':'remove','path':'b'}]}]"),
	CONFLICT("{'a':1}", "[{'op':'patch','path':'/','value':["
	    "{'op':'add','path':'','value':5}]}]"),
	CONFLICT("{'l':[1,2]}", "[{'op':'add','path':'/l/x','value':0}]"),
	/* Atomic: a failing third operation undoes the first two. */
	CONFLICT("{'a':1,'l':[1]}",
	    "[{'op':'add','path':'b','value':2},"
	    "{'op':'replace','path':'a','value':{'x':1}},"
	    "{'op':'remove','path':'zzz'}]"),
	CONFLICT("{'a':1,'l':[1]}",
	    "[{'op':'append','path':'l','value':[2,3]},"
	    "{'op':'patch','path':'/','value':[{'op':'inc','path':'a'}]},"
	    "{'op':'test','path':'a','value':1}]"),
	CONFLICT("{'a':1}",
	    "[{'op':'move','from':'a','path':'b'},"
	    "{'op':'merge','path':'/','value':{'b':null}},"
	    "{'op':'test','path':'b'}]"),
};

static const char *const rc_names[] = {
	"PATCH_OK", "PATCH_BAD_REQUEST", "PATCH_CONFLICT", "PATCH_NOMEM",
	"PATCH_TOO_LARGE"
};

/* The limits of the configuration's defaults, but PATCH_MAX_DEPTH (1000)
 * for the depth, which the rows written before limits were passed test. */
static const struct patch_limits roomy = { (size_t)2 << 20, 1000 };

/* Parses s after turning its single quotes into double quotes. */
static struct json_object *
qjson(const char *s)
{
	struct json_object *o;
	char *t = strdup(s);

	ck_assert_msg(t != NULL, "got strdup failure, want memory");
	for (char *c = t; *c != '\0'; c++)
		if (*c == '\'')
			*c = '"';
	o = json_tokener_parse(t);
	ck_assert_msg(o != NULL || strcmp(t, "null") == 0,
	    "got a parse failure, want valid test JSON: %s", t);
	free(t);
	return o;
}

static const char *
rc_name(enum patch_rc rc)
{
	return (unsigned)rc < sizeof(rc_names) / sizeof(rc_names[0]) ?
	    rc_names[rc] : "?";
}

/* Checks err against rc: details exactly for a conflict, info on failure. */
static void
check_error(const struct row *r, enum patch_rc rc, struct patch_error *err)
{
	if (rc == PATCH_OK)
		return;
	ck_assert_msg(err->info[0] != '\0', "%s: got an empty info, want a "
	    "sentence", r->ops);
	ck_assert_msg((err->details != NULL) == (rc == PATCH_CONFLICT),
	    "%s: got details %p, want them only for a conflict", r->ops,
	    (void *)err->details);
	ck_assert_msg(rc != PATCH_CONFLICT || err->op_index >= 0,
	    "%s: got op_index %d, want >= 0", r->ops, err->op_index);
}

static void
check_row(const struct row *r)
{
	struct json_object *doc = qjson(r->doc), *ops = qjson(r->ops), *want;
	struct patch_error err;
	char *before = strdup(json_object_to_json_string(doc));
	enum patch_rc rc;

	rc = patch_apply(&doc, ops, &roomy, &err);
	ck_assert_msg(rc == r->rc, "%s on %s: got %s (%s), want %s", r->ops,
	    r->doc, rc_name(rc), err.info, rc_name(r->rc));
	check_error(r, rc, &err);
	if (r->want != NULL) {
		want = qjson(r->want);
		ck_assert_msg(json_object_equal(doc, want),
		    "%s: got %s, want %s", r->ops,
		    json_object_to_json_string(doc),
		    json_object_to_json_string(want));
		json_object_put(want);
	} else {
		ck_assert_msg(strcmp(json_object_to_json_string(doc),
		    before) == 0, "%s: got %s, want the document unchanged: %s",
		    r->ops, json_object_to_json_string(doc), before);
	}
	patch_error_free(&err);
	patch_error_free(&err);
	free(before);
	json_object_put(doc);
	json_object_put(ops);
}

#define NROWS(a)	((int)(sizeof(a) / sizeof((a)[0])))

START_TEST(test_core)
{
	check_row(&core_rows[_i]);
}
END_TEST

START_TEST(test_limits)
{
	check_row(&limit_rows[_i]);
}
END_TEST

START_TEST(test_errors)
{
	check_row(&error_rows[_i]);
}
END_TEST

/*
 * Rows too long to write out: the operations are head, n copies of unit,
 * then tail; with dn > 0 the document is {"x":[0,0,...]} with dn + 1 zeros.
 * PATCH_MAX_DEPTH in patch.c is 1000; the copy budget is 2^20 values plus
 * twice the document's.
 */
struct gen_row {
	const char	*doc;
	int		 dn;
	const char	*head;
	const char	*unit;
	int		 n;
	const char	*tail;
	enum patch_rc	 rc;
};

#define WRAP_V	"{'op':'add','path':'/n','value':{}}," \
		"{'op':'move','from':'/v','path':'/n/v'}," \
		"{'op':'move','from':'/n','path':'/v'},"
#define COPY_ROOT "{'op':'copy','from':'','path':'/a'}," \
		"{'op':'copy','from':'','path':'/b'},"

static const struct gen_row gen_rows[] = {
	/* Paths of 1000 segments; a value at depth 1000 but not 1001. */
	{ "{}", 0, "[{'op':'add','path':'a", ".a", 999, "','value':1}]",
	  PATCH_OK },
	{ "{}", 0, "[{'op':'add','path':'a", ".a", 999, "','value':{}}]",
	  PATCH_CONFLICT },
	{ "{}", 0, "[{'op':'add','path':'a", ".a", 999, "','value':[1]}]",
	  PATCH_CONFLICT },
	{ "{'a':{}}", 0, "[{'op':'patch','path':'a','value':[{'op':'add',"
	  "'path':'b", ".b", 998, "','value':1}]}]", PATCH_OK },
	{ "{'a':{}}", 0, "[{'op':'patch','path':'a','value':[{'op':'add',"
	  "'path':'b", ".b", 998, "','value':{}}]}]", PATCH_CONFLICT },
	{ "{}", 0, "[{'op':'add','path':'a", ".a", 1000, "','value':1}]",
	  PATCH_BAD_REQUEST },
	{ "{}", 0, "[{'op':'test','path':'", "/a", 1001, "'}]",
	  PATCH_BAD_REQUEST },
	/* Moves that nest a value one level deeper each time. */
	{ "{'v':1}", 0, "[", WRAP_V, 500, "{'op':'test','path':'v'}]",
	  PATCH_OK },
	{ "{'v':1}", 0, "[", WRAP_V, 1000, "{'op':'test','path':'v'}]",
	  PATCH_CONFLICT },
	/* Copies that make the document grow exponentially. */
	{ "{'x':[[[[[[[[[[1]]]]]]]]]]}", 0, "[", COPY_ROOT, 5,
	  "{'op':'test','path':'x'}]", PATCH_OK },
	{ "{'x':[[[[[[[[[[1]]]]]]]]]]}", 0, "[", COPY_ROOT, 32,
	  "{'op':'test','path':'x'}]", PATCH_CONFLICT },
	/* Conditional patches copy their target: 2003 values here. */
	{ NULL, 2000, "[",
	  "{'op':'patch','path':'/','conditional':true,'value':[]},", 400,
	  "{'op':'test','path':'x'}]", PATCH_OK },
	{ NULL, 2000, "[",
	  "{'op':'patch','path':'/','conditional':true,'value':[]},", 700,
	  "{'op':'test','path':'x'}]", PATCH_CONFLICT },
	{ NULL, 2000, "[",
	  "{'op':'patch','path':'x','conditional':true,'value':[]},", 700,
	  "{'op':'test','path':'x'}]", PATCH_CONFLICT },
};

/* head, n times unit, tail: a new string for free(). */
static char *
repeat(const char *head, const char *unit, int n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * (size_t)n + tl + 1), *w;

	ck_assert_msg(s != NULL, "got malloc failure, want memory");
	memcpy(s, head, hl);
	w = s + hl;
	for (int i = 0; i < n; i++, w += ul)
		memcpy(w, unit, ul);
	memcpy(w, tail, tl + 1);
	return s;
}

START_TEST(test_generated)
{
	const struct gen_row *g = &gen_rows[_i];
	char *ops = repeat(g->head, g->unit, g->n, g->tail);
	char *text = g->dn > 0 ? repeat("{'x':[", "0,", g->dn, "0]}") : NULL;
	struct row r = { text ? text : g->doc, ops, g->rc, NULL };
	struct json_object *doc = qjson(r.doc), *o = qjson(ops);
	struct patch_error err;
	enum patch_rc rc;

	if (g->rc != PATCH_OK) {
		check_row(&r);
	} else {
		/* The result is large; check only the return code. */
		rc = patch_apply(&doc, o, &roomy, &err);
		ck_assert_msg(rc == PATCH_OK, "row %d: got %s (%s), want "
		    "PATCH_OK", _i, rc_name(rc), err.info);
	}
	json_object_put(doc);
	json_object_put(o);
	free(ops);
	free(text);
}
END_TEST

/* A member of the error details that we want (NULL want: absent). */
struct detail_row {
	const char	*doc;
	const char	*ops;
	int		 op_index;
	const char	*member;
	const char	*want;
};

static const struct detail_row detail_rows[] = {
	{ "{'a':1}", "[{'op':'test','path':'a'},"
	  "{'op':'replace','path':'/Huh','value':1}]", 1, "op",
	  "{'op':'replace','path':'/Huh','value':1}" },
	{ "{'a':1}", "[{'op':'replace','path':'/Huh','value':1}]", 0,
	  "opIndex", "0" },
	{ "{'a':1}", "[{'op':'move','from':'/b','path':'/c'}]", 0, "op",
	  "{'op':'move','from':'/b','path':'/c'}" },
	{ "{'a':1}", "[{'op':'test','path':'a','value':2}]", 0, "expected",
	  "2" },
	{ "{'a':1}", "[{'op':'test','path':'a','value':2}]", 0, "actual",
	  "1" },
	{ "{'a':null}", "[{'op':'test','path':'a','value':2}]", 0, "actual",
	  "null" },
	{ "{'a':1}", "[{'op':'test','path':'b','value':{'x':1}}]", 0,
	  "expected", "{'x':1}" },
	{ "{'a':1}", "[{'op':'test','path':'b','value':2}]", 0, "actual",
	  NULL },
	{ "{'a':1}", "[{'op':'test','path':'b'}]", 0, "expected", NULL },
	{ "{'a':1}", "[{'op':'test','path':'a','negate':true}]", 0,
	  "actual", "1" },
	{ "{'a':1}", "[{'op':'add','path':'b','value':1},"
	  "{'op':'patch','path':'/','value':[{'op':'test','path':'a',"
	  "'value':3}]}]", 1, "op", "{'op':'test','path':'a','value':3}" },
	{ "{'a':1}", "[{'op':'remove','path':'x'}]", 0, "expected", NULL },
};

START_TEST(test_details)
{
	const struct detail_row *r = &detail_rows[_i];
	struct json_object *doc = qjson(r->doc), *ops = qjson(r->ops), *got;
	struct json_object *want = r->want ? qjson(r->want) : NULL;
	struct patch_error err;
	enum patch_rc rc;
	bool present;

	rc = patch_apply(&doc, ops, &roomy, &err);
	ck_assert_msg(rc == PATCH_CONFLICT, "%s: got %s, want PATCH_CONFLICT",
	    r->ops, rc_name(rc));
	ck_assert_msg(err.op_index == r->op_index, "%s: got op_index %d, "
	    "want %d", r->ops, err.op_index, r->op_index);
	present = json_object_object_get_ex(err.details, r->member, &got);
	ck_assert_msg(present == (r->want != NULL), "%s: got %s %s, want %s",
	    r->ops, r->member, present ? "present" : "absent",
	    r->want ? r->want : "absent");
	ck_assert_msg(!present || json_object_equal(got, want),
	    "%s: got %s %s, want %s", r->ops, r->member,
	    json_object_to_json_string(got), r->want);
	patch_error_free(&err);
	json_object_put(want);
	json_object_put(doc);
	json_object_put(ops);
}
END_TEST

/* A 400 names the culprit: info contains want, op_index is set. */
struct message_row {
	const char	*ops;
	int		 op_index;
	const char	*want;
};

static const struct message_row message_rows[] = {
	{ "[{'op':'huh','path':'a'}]", 0, "\"huh\"" },
	{ "[{'op':'test','path':'a'},{'op':'frobnicate','path':'a'}]", 1,
	  "frobnicate" },
	{ "[{'op':'patch','path':'/','value':[{'op':'xyzzy'}]}]", 0,
	  "xyzzy" },
	{ "[{'op':'remove','path':'/a/~2'}]", 0, "/a/~2" },
	{ "[{'op':'add','path':'a'}]", 0, "value" },
	{ "[{'op':'move','path':'a'}]", 0, "from" },
	{ "{'op':'add'}", -1, "array" },
};

START_TEST(test_messages)
{
	const struct message_row *r = &message_rows[_i];
	struct json_object *doc = qjson("{'a':1}"), *ops = qjson(r->ops);
	struct patch_error err;
	enum patch_rc rc;

	rc = patch_apply(&doc, ops, &roomy, &err);
	ck_assert_msg(rc == PATCH_BAD_REQUEST, "%s: got %s, want "
	    "PATCH_BAD_REQUEST", r->ops, rc_name(rc));
	ck_assert_msg(strstr(err.info, r->want) != NULL,
	    "%s: got info \"%s\", want it to contain %s", r->ops, err.info,
	    r->want);
	ck_assert_msg(err.op_index == r->op_index, "%s: got op_index %d, "
	    "want %d", r->ops, err.op_index, r->op_index);
	ck_assert_msg(err.details == NULL, "%s: got details, want none",
	    r->ops);
	patch_error_free(&err);
	json_object_put(doc);
	json_object_put(ops);
}
END_TEST

static const struct row merge_rows[] = {
	OK("{'a':1,'b':2}", "{'a':null,'c':3}", "{'b':2,'c':3}"),
	OK("{'a':{'x':1,'y':2}}", "{'a':{'y':null,'z':3}}",
	    "{'a':{'x':1,'z':3}}"),
	OK("{'a':[1,2]}", "{'a':[3]}", "{'a':[3]}"),
	OK("{'a':1}", "{'a':{'b':{'c':null,'d':1}}}", "{'a':{'b':{'d':1}}}"),
	OK("{'a':1}", "{}", "{'a':1}"),
	OK("{}", "{'type':'consultant'}", "{'type':'consultant'}"),
	OK("{'a':1}", "{'b':null}", "{'a':1}"),
	BAD("{'a':1}", "[{'a':2}]"),
	BAD("{'a':1}", "'a'"),
	BAD("{'a':1}", "null"),
	BAD("{'a':1}", "5"),
	BAD("{'a':1}", "[]"),
};

START_TEST(test_merge)
{
	const struct row *r = &merge_rows[_i];
	struct json_object *doc = qjson(r->doc), *m = qjson(r->ops), *want;
	struct patch_error err;
	char *before = strdup(json_object_to_json_string(doc));
	enum patch_rc rc;

	rc = patch_merge(&doc, m, &roomy, &err);
	ck_assert_msg(rc == r->rc, "merge %s: got %s, want %s", r->ops,
	    rc_name(rc), rc_name(r->rc));
	want = r->want != NULL ? qjson(r->want) : NULL;
	if (want != NULL)
		ck_assert_msg(json_object_equal(doc, want), "merge %s: got %s, "
		    "want %s", r->ops, json_object_to_json_string(doc),
		    r->want);
	else
		ck_assert_msg(strcmp(json_object_to_json_string(doc), before)
		    == 0, "merge %s: got %s, want unchanged", r->ops,
		    json_object_to_json_string(doc));
	patch_error_free(&err);
	json_object_put(want);
	json_object_put(doc);
	json_object_put(m);
	free(before);
}
END_TEST

/*
 * Limits in bytes and depth. The canonical size is json-c's compact output
 * with json_canonical()'s flags, as json.c stores a value.
 */
static size_t
canon_len(struct json_object *o)
{
	size_t len = 0;

	(void)json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	return len;
}

/* Nesting depth as json_depth() counts it: an object or array is 1. */
static int
depth_of(struct json_object *v)
{
	int d = 0, c;
	size_t n;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, child) {
			(void)key;
			c = depth_of(child);
			d = c > d ? c : d;
		}
		return d + 1;
	}
	if (!json_object_is_type(v, json_type_array))
		return 0;
	n = json_object_array_length(v);
	for (size_t i = 0; i < n; i++) {
		c = depth_of(json_object_array_get_idx(v, i));
		d = c > d ? c : d;
	}
	return d + 1;
}

/* patch_apply, or patch_merge when merge is set. */
static enum patch_rc
apply(struct json_object **doc, struct json_object *ops, bool merge,
    const struct patch_limits *lim, struct patch_error *err)
{
	return merge ? patch_merge(doc, ops, lim, err) :
	    patch_apply(doc, ops, lim, err);
}

/*
 * The exact boundary, for every kind of step that adds bytes: the result's
 * canonical size L as max_bytes is applied, L - 1 is PATCH_TOO_LARGE with
 * the document unchanged. The rows only grow the document or only shrink
 * it, so no step on the way is larger than the result. The strings, names
 * and numbers cover json-c's escapes and number formats.
 */
struct edge_row {
	const char	*doc;
	const char	*ops;
	bool		 merge;
};

static const struct edge_row edge_rows[] = {
	/* Scalars of every kind, escapes in values and names. */
	{ "{}", "[{'op':'add','path':'a','value':'q\\\"b\\\\s/\\n\\t\\b\\f"
	  "\\r\\u0001\\u001f\\u007f\\u00e9\\u0000z'}]", false },
	{ "{}", "[{'op':'add','path':'/k\\\"e~1y\\n','value':1}]", false },
	{ "{'a':1}", "[{'op':'add','path':'b','value':18446744073709551614},"
	  "{'op':'add','path':'c','value':-9223372036854775807},"
	  "{'op':'add','path':'d','value':1.50},"
	  "{'op':'add','path':'e','value':-1e5},"
	  "{'op':'add','path':'f','value':[true,false,null,0,-0.0]}]",
	  false },
	/* add: member, array element, intermediate objects, the root. */
	{ "{'l':[1,3]}", "[{'op':'add','path':'/l/1','value':{'x':2}}]",
	  false },
	{ "{'l':[]}", "[{'op':'add','path':'/l/-','value':'x'}]", false },
	{ "{'a':1}", "[{'op':'add','path':'b.c.d','value':[]}]", false },
	{ "{'a':{}}", "[{'op':'add','path':'a.c.d','value':1}]", false },
	{ "{'a':1}", "[{'op':'add','path':'','value':{'abc':[1,2]}}]",
	  false },
	{ "{'a':1}", "[{'op':'add','path':'a','value':'longer'}]", false },
	/* replace, bigger and smaller. */
	{ "{'a':1,'b':2}", "[{'op':'replace','path':'b','value':{'x':[1]}}]",
	  false },
	{ "{'a':'long text','b':2}", "[{'op':'replace','path':'a','value':1}]",
	  false },
	/* remove: the result is the largest document on the way. */
	{ "{'a':[1,2,3],'b':{'c':'x'}}", "[{'op':'remove','path':'/a/1'},"
	  "{'op':'remove','path':'b'}]", false },
	/* copy and move; a move counts only the name and comma. */
	{ "{'a':{'x':[1,2]}}", "[{'op':'copy','from':'a','path':'b'},"
	  "{'op':'copy','from':'','path':'/c'}]", false },
	{ "{'a':[1,2],'b':0}", "[{'op':'copy','from':'/a/0','path':'/a/0'}]",
	  false },
	{ "{'a':{'x':1},'b':0}", "[{'op':'move','from':'a','path':'abcdef'}]",
	  false },
	{ "{'a':{'x':1}}", "[{'op':'move','from':'a','path':'p.q.r'}]",
	  false },
	{ "{'a':[1,{'y':2}]}", "[{'op':'move','from':'/a/1','path':'/z'}]",
	  false },
	{ "{'a':{'x':1,'yyyy':2}}", "[{'op':'move','from':'/a','path':''}]",
	  false },
	/* inc: more digits, a new member, doubles made by inc. */
	{ "{'n':9}", "[{'op':'inc','path':'n'}]", false },
	{ "{'n':-1}", "[{'op':'inc','path':'/n','value':-99}]", false },
	{ "{}", "[{'op':'inc','path':'a.n','value':12}]", false },
	{ "{'n':0.1}", "[{'op':'inc','path':'n','value':0.2}]", false },
	{ "{'n':0.5}", "[{'op':'inc','path':'n','value':0.5}]", false },
	{ "{'n':1e300}", "[{'op':'inc','path':'n','value':1e300}]", false },
	{ "{'n':9223372036854775807}", "[{'op':'inc','path':'n'}]", false },
	/* init. */
	{ "{'a':1}", "[{'op':'init','path':'b','value':[1,{}]}]", false },
	/* append: a scalar, an array's elements, to an empty array. */
	{ "{'l':[1]}", "[{'op':'append','path':'l','value':'xy'}]", false },
	{ "{'l':[1]}", "[{'op':'append','path':'l','value':[2,[3],{}]}]",
	  false },
	{ "{'l':[]}", "[{'op':'append','path':'l','value':[2,3]}]", false },
	{ "{'l':[]}", "[{'op':'append','path':'l','value':{'k':null}}]",
	  false },
	/* merge op and merge patch: new members, nested new objects with
	 * nulls inside, replaced and removed members. */
	{ "{'a':1,'b':2}", "[{'op':'merge','path':'/','value':{'b':{'c':null,"
	  "'d':[1]},'a':null,'e':'x','f':{'g':{'h':1,'i':null}}}}]", false },
	{ "{'p':{'x':1}}", "[{'op':'merge','path':'p','value':{'y':{},"
	  "'z':null}}]", false },
	{ "{'a':1}", "{'b':{'c':[1,'x']},'a':null}", true },
	{ "{}", "{'type':'consultant'}", true },
	{ "{'a':{'b':1}}", "{'a':{'c':2,'d':null}}", true },
	{ "{'a':{'b':1},'c':[1,2,3]}", "{'a':{'b':null},'c':null}", true },
	{ "{'a':'x'}", "{'a':{'b':{'c':null}}}", true },
	/* nested patches: in place, replacing their root, conditional
	 * applied, conditional skipped (its bytes are given back). */
	{ "{'p':{'n':1}}", "[{'op':'patch','path':'p','value':["
	  "{'op':'inc','path':'n'},{'op':'add','path':'/m','value':true}]}]",
	  false },
	{ "{'p':{'a':1}}", "[{'op':'patch','path':'p','value':[{'op':'add',"
	  "'path':'','value':[1,2,3]}]}]", false },
	{ "{'a':1}", "[{'op':'patch','path':'/','conditional':true,'value':["
	  "{'op':'test','path':'a','value':1},"
	  "{'op':'add','path':'b','value':1}]},"
	  "{'op':'add','path':'c','value':1}]", false },
	{ "{'a':1}", "[{'op':'patch','path':'/','conditional':true,'value':["
	  "{'op':'add','path':'b','value':1},"
	  "{'op':'test','path':'a','value':2}]},"
	  "{'op':'add','path':'c','value':12}]", false },
};

START_TEST(test_edges)
{
	const struct edge_row *r = &edge_rows[_i];
	struct json_object *ops = qjson(r->ops), *doc, *want = qjson(r->doc);
	struct patch_limits lim = roomy;
	struct patch_error err;
	char *before = strdup(json_object_to_json_string(want));
	size_t size;
	enum patch_rc rc;

	rc = apply(&want, ops, r->merge, &roomy, &err);
	ck_assert_msg(rc == PATCH_OK, "%s: got %s (%s), want PATCH_OK",
	    r->ops, rc_name(rc), err.info);
	size = canon_len(want);
	for (int below = 0; below <= 1; below++) {
		doc = qjson(r->doc);
		lim.max_bytes = size - (size_t)below;
		rc = apply(&doc, ops, r->merge, &lim, &err);
		ck_assert_msg(rc == (below ? PATCH_TOO_LARGE : PATCH_OK),
		    "%s with max_bytes %zu (the result's size%s): got %s (%s), "
		    "want %s", r->ops, lim.max_bytes, below ? " - 1" : "",
		    rc_name(rc), err.info, below ? "PATCH_TOO_LARGE" :
		    "PATCH_OK");
		if (below)
			ck_assert_msg(strcmp(json_object_to_json_string(doc),
			    before) == 0, "%s: got %s, want the document "
			    "unchanged", r->ops,
			    json_object_to_json_string(doc));
		else
			ck_assert_msg(json_object_equal(doc, want),
			    "%s: got %s, want %s", r->ops,
			    json_object_to_json_string(doc),
			    json_object_to_json_string(want));
		patch_error_free(&err);
		json_object_put(doc);
	}
	free(before);
	json_object_put(want);
	json_object_put(ops);
}
END_TEST

/*
 * Rows with limits, on generated text: in the document and the operations
 * '@' stands for slen x's and '#' for slen zeros separated by commas; the
 * operations are head, n times unit, then tail. A failure must leave the
 * document unchanged, name op_index (ANY_BUT_LAST: any operation before the
 * last) and say info; a success must be within the limits. max_bytes
 * AT_SIZE is the canonical size of the result with roomy limits, BELOW_SIZE
 * one byte less.
 */
struct lim_row {
	const char	*doc;
	size_t		 slen;
	const char	*head;
	const char	*unit;
	int		 n;
	const char	*tail;
	bool		 merge;
	size_t		 max_bytes;
	int		 max_depth;
	enum patch_rc	 rc;
	int		 op_index;
	const char	*info;
};

#define MIB2		((size_t)2 << 20)
#define KIB64		((size_t)64 << 10)
#define AT_SIZE		((size_t)-1)
#define BELOW_SIZE	((size_t)-2)
#define ANY_BUT_LAST	(-2)
#define BIG_DOC		"{'s':'@','l':[],'n':1}"
#define COPY_S		"{'op':'copy','from':'/s','path':'/l/-'},"
#define FAIL_N		"{'op':'test','path':'/n','value':2}"
#define TOO_LARGE(d, s, h, u, n, t, m, max, at) \
	{ (d), (s), (h), (u), (n), (t), (m), (max), 64, PATCH_TOO_LARGE, \
	  (at), "larger than" }
#define FITS(d, s, h, u, n, t, m, max) \
	{ (d), (s), (h), (u), (n), (t), (m), (max), 64, PATCH_OK, -1, NULL }
#define OVERWORKED(d, s, h, u, n, t) \
	{ (d), (s), (h), (u), (n), (t), false, MIB2, 64, PATCH_CONFLICT, \
	  ANY_BUT_LAST, "work" }
#define DEEP(d, o, m, max, rc, at) \
	{ (d), 0, (o), "", 0, "", (m), MIB2, (max), (rc), (at), "nested" }

static const struct lim_row lim_rows[] = {
	/* Issue 9: 100 copies of a 45 KB member. The document is
	 * 45020 + k * 45003 bytes after k copies: 45 fit in 2 MiB, the 46th
	 * (operation 45) does not. */
	TOO_LARGE(BIG_DOC, 45000, "[", COPY_S, 100, FAIL_N "]", false, MIB2,
	    45),
	TOO_LARGE(BIG_DOC, 45000, "[", COPY_S, 100, "{'op':'test','path':"
	    "'/n'}]", false, MIB2, 45),
	FITS(BIG_DOC, 45000, "[", COPY_S, 45, "{'op':'test','path':'/n'}]",
	    false, MIB2),
	FITS(BIG_DOC, 45000, "[", COPY_S, 45, "{'op':'test','path':'/n'}]",
	    false, AT_SIZE),
	TOO_LARGE(BIG_DOC, 45000, "[", COPY_S, 45, "{'op':'test','path':"
	    "'/n'}]", false, BELOW_SIZE, 44),
	/* Work: copies that replace each other (45 KB walked twice each),
	 * conditional patches that copy the document, inserts that shift a
	 * long array: all refused long before the failing test at the end. */
	OVERWORKED("{'s':'@','t':0,'n':1}", 45000, "[",
	    "{'op':'copy','from':'/s','path':'/t'},", 1000, FAIL_N "]"),
	OVERWORKED(BIG_DOC, 45000, "[", "{'op':'patch','path':'/',"
	    "'conditional':true,'value':[" FAIL_N "]},", 1000, FAIL_N "]"),
	OVERWORKED("{'a':[#],'n':1}", 100000, "[",
	    "{'op':'add','path':'/a/0','value':0},", 1000, FAIL_N "]"),
	OVERWORKED("{'a':[#],'n':1}", 100000, "[",
	    "{'op':'remove','path':'/a/0'},", 1000, FAIL_N "]"),
	/* Nested conditional patches hold their copies at once: at most
	 * max_bytes of them (two copies of 45 KB do not fit in 64 KiB). */
	{ BIG_DOC, 45000, "[{'op':'patch','path':'/','conditional':true,"
	  "'value':[{'op':'patch','path':'/','conditional':true,'value':["
	  "{'op':'test','path':'/n'}]}]}]", "", 0, "", false, KIB64, 64,
	  PATCH_CONFLICT, 0, "at once" },
	FITS(BIG_DOC, 45000, "[{'op':'patch','path':'/','conditional':true,"
	    "'value':[{'op':'patch','path':'/','conditional':true,'value':["
	    "{'op':'test','path':'/n'}]}]}]", "", 0, "", false, MIB2),
	FITS(BIG_DOC, 45000, "[", "{'op':'patch','path':'/','conditional':"
	    "true,'value':[{'op':'test','path':'/n'}]},", 2, "{'op':'test',"
	    "'path':'/n'}]", false, KIB64),
	/* Nested patches, conditional or not, count as they go. */
	TOO_LARGE(BIG_DOC, 45000, "[{'op':'patch','path':'/','value':[",
	    COPY_S, 100, FAIL_N "]}]", false, MIB2, 0),
	TOO_LARGE(BIG_DOC, 45000, "[{'op':'test','path':'/n'},{'op':'patch',"
	    "'path':'/','conditional':true,'value':[", COPY_S, 100,
	    FAIL_N "]}]", false, MIB2, 1),
	TOO_LARGE("{'p':{'l':[]}}", 10000, "[{'op':'patch','path':'p',"
	    "'value':[", "{'op':'add','path':'/l/-','value':'@'},", 10,
	    "{'op':'test','path':'/l'}]}]", false, KIB64, 0),
	/* append: 8 + k * 10003 - 1 bytes after k scalars, so the 7th
	 * (operation 6) is refused; 8 + k * 20006 - 1 after k pairs. */
	TOO_LARGE("{'l':[]}", 10000, "[", "{'op':'append','path':'l',"
	    "'value':'@'},", 10, "{'op':'test','path':'l'}]", false, KIB64, 6),
	FITS("{'l':[]}", 10000, "[", "{'op':'append','path':'l',"
	    "'value':'@'},", 6, "{'op':'test','path':'l'}]", false, KIB64),
	TOO_LARGE("{'l':[]}", 10000, "[", "{'op':'append','path':'l',"
	    "'value':['@','@']},", 10, "{'op':'test','path':'l'}]", false,
	    KIB64, 3),
	/* merge op and merge patch: seven members of 10 KB do not fit in
	 * 64 KiB, six do. */
	TOO_LARGE("{}", 10000, "[{'op':'merge','path':'/','value':{'a':'@',"
	    "'b':'@','c':'@','d':'@','e':'@','f':'@','g':'@'}}]", "", 0, "",
	    false, KIB64, 0),
	FITS("{}", 10000, "[{'op':'merge','path':'/','value':{'a':'@',"
	    "'b':'@','c':'@','d':'@','e':'@','f':'@'}}]", "", 0, "", false,
	    KIB64),
	TOO_LARGE("{}", 10000, "{'a':'@','b':'@','c':'@','d':'@','e':'@',"
	    "'f':'@','g':'@'}", "", 0, "", true, KIB64, -1),
	FITS("{}", 10000, "{'a':'@','b':'@','c':'@','d':'@','e':'@','f':'@'}",
	    "", 0, "", true, KIB64),
	TOO_LARGE("{'a':{'b':{'c':'@'}}}", 40000, "{'a':{'b':{'d':'@'}}}", "",
	    0, "", true, KIB64, -1),
	/* init adds only where nothing is. */
	TOO_LARGE("{'s':'@'}", 40000, "[{'op':'init','path':'b','value':'@'}]",
	    "", 0, "", false, KIB64, 0),
	FITS("{'s':'@'}", 40000, "[{'op':'init','path':'s','value':'@'}]", "",
	    0, "", false, KIB64),
	/* A document stored before max_bytes was lowered: a patch may shrink
	 * it, but not leave it too large. */
	TOO_LARGE("{'s':'@'}", 100, "[]", "", 0, "", false, 50, -1),
	TOO_LARGE("{'s':'@'}", 100, "[{'op':'replace','path':'s','value':"
	    "'@'}]", "", 0, "", false, 50, -1),
	TOO_LARGE("{'s':'@'}", 100, "{'t':1}", "", 0, "", true, 50, -1),
	TOO_LARGE("{'s':'@'}", 100, "[{'op':'add','path':'t','value':1}]", "",
	    0, "", false, 50, 0),
	FITS("{'s':'@'}", 100, "[{'op':'remove','path':'s'}]", "", 0, "",
	    false, 50),
	FITS("{'s':'@'}", 100, "{'s':null,'t':'x'}", "", 0, "", true, 50),
	/* Depth, with max_depth 3: an object is 1 deep. */
	DEEP("{'a':{'b':{}}}", "[{'op':'add','path':'a.b.c','value':1}]",
	    false, 3, PATCH_OK, -1),
	DEEP("{'a':{'b':{}}}", "[{'op':'add','path':'a.b.c','value':{}}]",
	    false, 3, PATCH_CONFLICT, 0),
	DEEP("{'a':{}}", "[{'op':'patch','path':'a','value':[{'op':'add',"
	  "'path':'b','value':[[1]]}]}]", false, 3, PATCH_CONFLICT, 0),
	DEEP("{'a':{}}", "{'a':{'b':{'c':{}}}}", true, 3, PATCH_CONFLICT, -1),
	DEEP("{'a':{}}", "{'a':{'b':{'c':1}}}", true, 3, PATCH_OK, -1),
	/* A document already deeper than max_depth. */
	DEEP("{'a':{'b':{'c':{}}}}", "[{'op':'add','path':'x','value':1}]",
	    false, 3, PATCH_CONFLICT, -1),
	DEEP("{'a':{'b':{'c':{}}}}", "[{'op':'remove','path':'a.b.c'}]",
	    false, 3, PATCH_OK, -1),
	DEEP("{'a':{'b':{'c':{}}}}", "{'x':1}", true, 3, PATCH_CONFLICT, -1),
	DEEP("{'a':{'b':{'c':{}}}}", "{'a':{'b':null}}", true, 3, PATCH_OK,
	    -1),
};

/* text with '@' and '#' expanded (see struct lim_row): free() it. */
static char *
expand(const char *text, size_t slen)
{
	size_t len = strlen(text), at = 0;
	char *out, *w;

	for (const char *c = text; *c != '\0'; c++)
		at += *c == '@' || *c == '#';
	out = malloc(len + at * 2 * slen + 1);
	ck_assert_msg(out != NULL, "got malloc failure, want memory");
	w = out;
	for (const char *c = text; *c != '\0'; c++) {
		if (*c == '@') {
			memset(w, 'x', slen);
			w += slen;
		} else if (*c == '#') {
			for (size_t i = 0; i < slen; i++, w += 2)
				memcpy(w, "0,", 2);
			w -= slen > 0;	/* no comma after the last */
		} else
			*w++ = *c;
	}
	*w = '\0';
	return out;
}

/* Parses the row's document (expanded). */
static struct json_object *
lim_doc(const struct lim_row *r)
{
	char *text = expand(r->doc, r->slen);
	struct json_object *o = qjson(text);

	free(text);
	return o;
}

/* The max_bytes a row means: AT_SIZE and BELOW_SIZE from a roomy run. */
static size_t
lim_max(const struct lim_row *r, struct json_object *ops)
{
	struct json_object *doc;
	struct patch_error err;
	size_t size;

	if (r->max_bytes != AT_SIZE && r->max_bytes != BELOW_SIZE)
		return r->max_bytes;
	doc = lim_doc(r);
	ck_assert_msg(apply(&doc, ops, r->merge, &roomy, &err) == PATCH_OK,
	    "got %s, want PATCH_OK with roomy limits", err.info);
	size = canon_len(doc);
	json_object_put(doc);
	return r->max_bytes == AT_SIZE ? size : size - 1;
}

START_TEST(test_lim)
{
	const struct lim_row *r = &lim_rows[_i];
	char *raw = repeat(r->head, r->unit, r->n, r->tail);
	char *text = expand(raw, r->slen);
	struct json_object *ops = qjson(text), *doc = lim_doc(r);
	struct patch_limits lim = { lim_max(r, ops), r->max_depth };
	char *before = strdup(json_object_to_json_string(doc));
	int last = json_object_is_type(ops, json_type_array) ?
	    (int)json_object_array_length(ops) - 1 : -1;
	struct patch_error err;
	enum patch_rc rc;

	rc = apply(&doc, ops, r->merge, &lim, &err);
	ck_assert_msg(rc == r->rc, "row %d: got %s (%s, operation %d), want "
	    "%s", _i, rc_name(rc), err.info, err.op_index, rc_name(r->rc));
	if (rc == PATCH_OK) {
		ck_assert_msg(canon_len(doc) <= lim.max_bytes, "row %d: got "
		    "%zu bytes, want at most %zu", _i, canon_len(doc),
		    lim.max_bytes);
		ck_assert_msg(depth_of(doc) <= lim.max_depth, "row %d: got "
		    "depth %d, want at most %d", _i, depth_of(doc),
		    lim.max_depth);
	} else {
		ck_assert_msg(r->op_index == ANY_BUT_LAST ? err.op_index >= 0 &&
		    err.op_index < last : err.op_index == r->op_index,
		    "row %d: got op_index %d, want %d (%d: any before %d)", _i,
		    err.op_index, r->op_index, ANY_BUT_LAST, last);
		ck_assert_msg(strstr(err.info, r->info) != NULL, "row %d: got "
		    "info \"%s\", want it to contain \"%s\"", _i, err.info,
		    r->info);
		ck_assert_msg((err.details != NULL) == (rc == PATCH_CONFLICT),
		    "row %d: got details %p, want them only for a conflict",
		    _i, (void *)err.details);
		ck_assert_msg(strcmp(json_object_to_json_string(doc), before)
		    == 0, "row %d: got a changed document, want it unchanged",
		    _i);
	}
	patch_error_free(&err);
	json_object_put(doc);
	json_object_put(ops);
	free(before);
	free(text);
	free(raw);
}
END_TEST

/* The caller's ops are borrowed: the patched document shares nothing. */
START_TEST(test_no_sharing)
{
	struct json_object *doc = qjson("{}"), *v;
	struct json_object *ops = qjson("[{'op':'add','path':'a','value':"
	    "{'x':1}}]");
	struct patch_error err;

	ck_assert_msg(patch_apply(&doc, ops, &roomy, &err) == PATCH_OK,
	    "got %s, want PATCH_OK", err.info);
	ck_assert_msg(json_object_object_get_ex(doc, "a", &v), "got no a, "
	    "want a");
	ck_assert_msg(json_object_object_add(v, "y", json_object_new_int(2))
	    == 0, "got add failure, want success");
	ck_assert_msg(strcmp(json_object_to_json_string_ext(ops,
	    JSON_C_TO_STRING_PLAIN),
	    "[{\"op\":\"add\",\"path\":\"a\",\"value\":{\"x\":1}}]") == 0,
	    "got ops %s, want them untouched", json_object_to_json_string(ops));
	json_object_put(doc);
	json_object_put(ops);
}
END_TEST

static Suite *
patch_suite(void)
{
	Suite *s = suite_create("patch");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_core, 0, NROWS(core_rows));
	tcase_add_loop_test(core, test_merge, 0, NROWS(merge_rows));
	tcase_add_test(core, test_no_sharing);
	tcase_add_loop_test(limits, test_limits, 0, NROWS(limit_rows));
	tcase_add_loop_test(limits, test_generated, 0, NROWS(gen_rows));
	tcase_add_loop_test(limits, test_edges, 0, NROWS(edge_rows));
	tcase_add_loop_test(limits, test_lim, 0, NROWS(lim_rows));
	tcase_add_loop_test(errors, test_errors, 0, NROWS(error_rows));
	tcase_add_loop_test(errors, test_details, 0, NROWS(detail_rows));
	tcase_add_loop_test(errors, test_messages, 0, NROWS(message_rows));
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(patch_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
