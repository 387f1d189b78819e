/*
 * check_fields: unit tests for src/fields.c (with_fields / without_fields).
 *
 * Table-driven: every row is a with_fields list, a without_fields list (P()
 * gives one with its length, so a row can hold a NUL byte; NONE is an absent
 * parameter), an input value and either the result we want or a fragment of
 * the error message we want. Results are compared as compact text, so the
 * member order of the input must survive. JSON in the tables is written with
 * single quotes; qjson() turns them into double quotes. Every successful row
 * is also checked for: the input left unchanged, and a filter with only one
 * list giving the same result when applied to its own result.
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

#include "fields.h"

struct list {
	const char	*s;	/* NULL: the parameter is absent */
	size_t		 len;
};

struct row {
	struct list	 with, without;
	const char	*in;	/* the value filtered */
	const char	*want;	/* the result, or NULL for FIELDS_BAD */
	const char	*msg;	/* FIELDS_BAD: a fragment of the message */
};

#define P(s)		{ (s), sizeof(s) - 1 }
#define NONE		{ NULL, 0 }
#define OK(w, x, in, want)	{ w, x, (in), (want), NULL }
#define BAD(w, x, msg)		{ w, x, "{'a':1}", NULL, (msg) }

#define NROWS(a)	((int)(sizeof(a) / sizeof((a)[0])))

/* The example of Orchestrate's KB page on field filtering. */
#define KB	"{'a':1,'b':[{'c':1,'d':2},{'c':3,'d':4}]}"

static const struct row core_rows[] = {
	/* The KB page, word for word. */
	OK(P("value.a"), NONE, KB, "{'a':1}"),
	OK(NONE, P("value.b"), KB, "{'a':1}"),
	OK(P("value.b"), P("value.b.d"), KB, "{'b':[{'c':1},{'c':3}]}"),
	/* The examples of docs/api.md. */
	OK(P("a.b"), P("a.b.c"), "{'a':{'b':{'c':1}}}", "{'a':{'b':{}}}"),
	OK(P("tags.name"), NONE, "{'tags':[{'name':1,'x':2},{'x':3},4]}",
	    "{'tags':[{'name':1}]}"),
	OK(NONE, P("tags.name"), "{'tags':[{'name':1,'x':2},{'x':3},4]}",
	    "{'tags':[{'x':2},{'x':3},4]}"),
	/* Nested objects: only the parents that lead somewhere. */
	OK(P("a.b.c"), NONE, "{'a':{'b':{'c':1,'d':2},'e':3},'f':4}",
	    "{'a':{'b':{'c':1}}}"),
	OK(P("a.b"), NONE, "{'a':{'b':{'c':1,'d':[2]}},'b':5}",
	    "{'a':{'b':{'c':1,'d':[2]}}}"),
	OK(P("a,c"), NONE, "{'a':1,'b':2,'c':3}", "{'a':1,'c':3}"),
	/* The input's member order, not the list's. */
	OK(P("c,a"), NONE, "{'a':1,'b':2,'c':3}", "{'a':1,'c':3}"),
	OK(NONE, P("a.b.c"), "{'a':{'b':{'c':1,'d':2},'e':3},'f':4}",
	    "{'a':{'b':{'d':2},'e':3},'f':4}"),
	/* Arrays of objects: the path applies to every element. */
	OK(P("tags.name"), NONE, "{'tags':[{'name':1,'x':2},{'name':3}],'y':0}",
	    "{'tags':[{'name':1},{'name':3}]}"),
	OK(NONE, P("tags.name"), "{'tags':[{'name':1,'x':2},{'name':3}],'y':0}",
	    "{'tags':[{'x':2},{}],'y':0}"),
	OK(P("tags.name"), NONE, "{'tags':[{'x':1},{'name':2},{'x':3}]}",
	    "{'tags':[{'name':2}]}"),
	OK(NONE, P("a.b.c"), "{'a':[{'b':{'c':1,'d':2}},{'b':[{'c':3},{'e':4}]}]}",
	    "{'a':[{'b':{'d':2}},{'b':[{},{'e':4}]}]}"),
	/* Arrays of arrays. */
	OK(P("a.b"), NONE, "{'a':[[{'b':1,'c':2}],[{'c':3}]]}", "{'a':[[{'b':1}]]}"),
	OK(NONE, P("a.b"), "{'a':[[{'b':1,'c':2}],[{'c':3}]]}",
	    "{'a':[[{'c':2}],[{'c':3}]]}"),
	/* Arrays of scalars: kept whole, and a path into one selects nothing. */
	OK(P("tags"), NONE, "{'tags':[1,'x',null,true],'y':0}",
	    "{'tags':[1,'x',null,true]}"),
	OK(P("tags.x"), NONE, "{'tags':[1,2],'a':1}", "{}"),
	OK(NONE, P("tags.x"), "{'tags':[1,2],'a':1}", "{'tags':[1,2],'a':1}"),
	OK(P("tags.name"), NONE, "{'tags':[1,{'name':2},'s',null,{'x':1},[]]}",
	    "{'tags':[{'name':2}]}"),
	OK(NONE, P("tags.name"), "{'tags':[1,{'name':2},'s',null,{'x':1}]}",
	    "{'tags':[1,{},'s',null,{'x':1}]}"),
	OK(P("a.b,c"), NONE, "{'a':[[1,2],[{'b':3}]],'c':[4]}",
	    "{'a':[[{'b':3}]],'c':[4]}"),
	/* A name never indexes an array. */
	OK(P("l.0"), NONE, "{'l':[{'0':1,'1':2},5]}", "{'l':[{'0':1}]}"),
	/* Paths that do not exist. */
	OK(P("nope"), NONE, "{'a':1}", "{}"),
	OK(P("a.nope"), NONE, "{'a':{'b':1}}", "{}"),
	OK(P("a.b"), NONE, "{'a':5}", "{}"),
	OK(P("a.b"), NONE, "{'a':'text'}", "{}"),
	OK(P("a.b"), NONE, "{'a':null}", "{}"),
	OK(P("a.b,c"), NONE, "{'a':{},'c':2}", "{'c':2}"),
	OK(P("a.b"), NONE, "{'a':[]}", "{}"),
	OK(NONE, P("nope"), "{'a':1}", "{'a':1}"),
	OK(NONE, P("a.b"), "{'a':5}", "{'a':5}"),
	OK(NONE, P("a.b.c"), "{'a':{'b':'s'}}", "{'a':{'b':'s'}}"),
	/* without_fields leaves the parents, even empty. */
	OK(NONE, P("a.b"), "{'a':{'b':1}}", "{'a':{}}"),
	/* Both lists. */
	OK(P("a,b"), P("b.c"), "{'a':1,'b':{'c':2,'d':3},'e':4}",
	    "{'a':1,'b':{'d':3}}"),
	OK(P("a"), P("a"), "{'a':1,'b':2}", "{}"),
	OK(P("a.b"), P("a"), "{'a':{'b':1},'c':1}", "{}"),
	OK(P("a"), P("a.b"), "{'a':{'b':1,'c':2},'d':3}", "{'a':{'c':2}}"),
	OK(P("a.b.c"), P("a.b"), "{'a':{'b':{'c':1}}}", "{'a':{}}"),
	OK(P("a"), P("zz"), "{'a':1,'zz':2}", "{'a':1}"),
	/* A parent with_fields kept stays when without_fields empties it ... */
	OK(P("x.a.b"), P("x.a"), "{'x':{'a':{'b':1}}}", "{'x':{}}"),
	OK(P("a.k"), P("a.k"), "{'a':[{'k':1},{'j':2}]}", "{'a':[{}]}"),
	OK(P("x.a,x.c"), P("x.a,x.c"), "{'x':{'a':1,'b':2}}", "{'x':{}}"),
	/* ... but not when with_fields kept nothing of it. */
	OK(P("x.a.b"), P("x.a"), "{'x':{'a':{'c':1}}}", "{}"),
	OK(P("x.a.b,y"), P("x.a"), "{'x':{'a':[1,{'c':1}]},'y':0}", "{'y':0}"),
	/* Overlapping paths in one list: the shorter wins, in either order. */
	OK(P("a,a.b"), NONE, "{'a':{'b':1,'c':2},'d':3}", "{'a':{'b':1,'c':2}}"),
	OK(P("a.b,a"), NONE, "{'a':{'b':1,'c':2},'d':3}", "{'a':{'b':1,'c':2}}"),
	OK(NONE, P("a.b,a"), "{'a':{'b':1},'c':1}", "{'c':1}"),
	OK(P("a.b.c,a.b,a.b.d"), NONE, "{'a':{'b':{'c':1,'e':2},'f':3}}",
	    "{'a':{'b':{'c':1,'e':2}}}"),
	OK(P("a,a,a"), NONE, "{'a':1,'b':2}", "{'a':1}"),
	/* The value. qualifier. */
	OK(P("value.name"), NONE, "{'name':'x','age':1}", "{'name':'x'}"),
	OK(P("value.a,b"), NONE, "{'a':1,'b':2,'c':3}", "{'a':1,'b':2}"),
	OK(P("value.a,a"), NONE, "{'a':1,'b':2}", "{'a':1}"),
	OK(NONE, P("value.a.b"), "{'a':{'b':1,'c':2}}", "{'a':{'c':2}}"),
	OK(P("value"), NONE, "{'value':1,'x':2}", "{'value':1}"),
	OK(P("value.value"), NONE, "{'value':1,'x':2}", "{'value':1}"),
	OK(P("value.value.x"), NONE, "{'value':{'x':1,'y':2},'x':3}",
	    "{'value':{'x':1}}"),
	OK(P("value.x"), NONE, "{'value':{'x':1},'x':3}", "{'x':3}"),
	OK(NONE, P("value"), "{'value':1,'x':2}", "{'x':2}"),
	OK(P("valuex.a"), NONE, "{'valuex':{'a':1},'a':2}", "{'valuex':{'a':1}}"),
	OK(P("Value.a"), NONE, "{'Value':{'a':1},'a':2}", "{'Value':{'a':1}}"),
	OK(P("a.value.b"), NONE, "{'a':{'value':{'b':1}},'b':2}",
	    "{'a':{'value':{'b':1}}}"),
	/* Names are bytes: Unicode, spaces and punctuation as they are. */
	OK(P("caf\xc3\xa9.\xc3\xb1"), NONE,
	    "{'caf\xc3\xa9':{'\xc3\xb1':1,'n':2}}", "{'caf\xc3\xa9':{'\xc3\xb1':1}}"),
	OK(P("\xe6\x97\xa5\xe6\x9c\xac,\xf0\x9f\x98\x80"), NONE,
	    "{'\xe6\x97\xa5\xe6\x9c\xac':1,'\xf0\x9f\x98\x80':2,'x':3}",
	    "{'\xe6\x97\xa5\xe6\x9c\xac':1,'\xf0\x9f\x98\x80':2}"),
	OK(P("cafe\xcc\x81"), NONE, "{'caf\xc3\xa9':1}", "{}"),
	OK(P("a b"), NONE, "{'a b':1,'a':2}", "{'a b':1}"),
	OK(P("a, b"), NONE, "{'a':1,'b':2,' b':3}", "{'a':1,' b':3}"),
	OK(P("@path.kind,*,a/b"), NONE, "{'@path':{'kind':1},'x':2,'a/b':3}",
	    "{'@path':{'kind':1},'a/b':3}"),
	OK(P("q\"x"), NONE, "{'q\\\"x':1,'q':2}", "{'q\\\"x':1}"),
	/* Empty results and empty values. */
	OK(P("a"), NONE, "{}", "{}"),
	OK(NONE, P("a,b"), "{'a':1,'b':2}", "{}"),
	OK(P("a"), NONE, "{'a':{}}", "{'a':{}}"),
	OK(P("a"), NONE, "{'a':[]}", "{'a':[]}"),
	OK(P("a"), NONE, "{'a':null,'b':1}", "{'a':null}"),
	OK(P("a.b"), NONE, "{'a':{'b':null}}", "{'a':{'b':null}}"),
	/* Numbers keep their text through the copy. */
	OK(P("a"), NONE, "{'a':1.50,'b':2}", "{'a':1.50}"),
	OK(P("a,b"), NONE, "{'a':18446744073709551614,'b':-9223372036854775807}",
	    "{'a':18446744073709551614,'b':-9223372036854775807}"),
	OK(NONE, P("x"), "{'a':[1.0,2e3,-0.0]}", "{'a':[1.0,2e3,-0.0]}"),
	/* Values that are not objects (not stored today, but defined). */
	OK(P("a"), NONE, "[{'a':1,'b':2},{'b':3}]", "[{'a':1}]"),
	OK(P("a"), NONE, "[1,2]", "[]"),
	OK(NONE, P("a"), "[{'a':1,'b':2},3]", "[{'b':2},3]"),
	OK(P("a"), NONE, "'s'", "null"),
	OK(NONE, P("a"), "5", "5"),
};

static const struct row limit_rows[] = {
	/* Limits are checked per list, "value." is outside the name count. */
	OK(P("value.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f"
	    ".g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j.k.l"),
	    NONE, "{'a':{'b':1}}", "{}"),
	BAD(P("value.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f"
	    ".g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m"),
	    NONE, "has more than 64 names."),
	BAD(P("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f"
	    ".g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m"),
	    NONE, "with_fields: field 1 (\"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t"
	    "....\") has more than 64 names."),
	BAD(NONE, P("x,value.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a"
	    ".b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j"
	    ".k.l.m"), "without_fields: field 2 (\"value.a.b.c.d.e.f.g.h.i.j.k.l.m."
	    "n.o.p.q....\") has more than 64 names."),
};

static const struct row error_rows[] = {
	/* Empty lists: the parameter was given without a value. */
	BAD(P(""), NONE, "with_fields is empty: it must name at least one field."),
	BAD(NONE, P(""), "without_fields is empty"),
	BAD(P(""), P(""), "with_fields is empty"),
	BAD(P("a"), P(""), "without_fields is empty"),
	/* Empty paths: commas. */
	BAD(P(","), NONE, "with_fields: field 1 is empty (a leading, trailing or "
	    "doubled comma)."),
	BAD(P(",a"), NONE, "with_fields: field 1 is empty"),
	BAD(P("a,"), NONE, "with_fields: field 2 is empty"),
	BAD(P("a,,b"), NONE, "with_fields: field 2 is empty"),
	BAD(P("a,b,"), NONE, "with_fields: field 3 is empty"),
	BAD(P(",,,"), NONE, "with_fields: field 1 is empty"),
	BAD(NONE, P(","), "without_fields: field 1 is empty"),
	BAD(NONE, P("a,"), "without_fields: field 2 is empty"),
	BAD(NONE, P(",a"), "without_fields: field 1 is empty"),
	/* Empty names: dots. */
	BAD(P("."), NONE, "with_fields: field 1 (\".\") has an empty name (a "
	    "leading, trailing or doubled dot)."),
	BAD(P("a."), NONE, "field 1 (\"a.\") has an empty name"),
	BAD(P(".a"), NONE, "field 1 (\".a\") has an empty name"),
	BAD(P("a..b"), NONE, "field 1 (\"a..b\") has an empty name"),
	BAD(P("..."), NONE, "field 1 (\"...\") has an empty name"),
	BAD(P("a.b."), NONE, "field 1 (\"a.b.\") has an empty name"),
	BAD(P("a..."), NONE, "field 1 (\"a...\") has an empty name"),
	BAD(P("a,b.,c"), NONE, "field 2 (\"b.\") has an empty name"),
	BAD(P("a,.,b"), NONE, "field 2 (\".\") has an empty name"),
	BAD(P("a.,b"), NONE, "field 1 (\"a.\") has an empty name"),
	BAD(P(".value"), NONE, "field 1 (\".value\") has an empty name"),
	BAD(NONE, P("a..b"), "without_fields: field 1 (\"a..b\") has an empty name"),
	BAD(NONE, P("x,y,.z"), "without_fields: field 3 (\".z\") has an empty name"),
	/* The qualifier alone, or followed by an empty name. */
	BAD(P("value."), NONE, "field 1 (\"value.\") has an empty name"),
	BAD(P("value.."), NONE, "field 1 (\"value..\") has an empty name"),
	BAD(P("value..a"), NONE, "field 1 (\"value..a\") has an empty name"),
	BAD(P("value.a..b"), NONE, "field 1 (\"value.a..b\") has an empty name"),
	BAD(P("value.a."), NONE, "field 1 (\"value.a.\") has an empty name"),
	BAD(NONE, P("value."), "without_fields: field 1 (\"value.\")"),
	/* Bytes that are not text. */
	BAD(P("a\0b"), NONE, "with_fields: field 1 is not valid UTF-8 text (or "
	    "holds a NUL byte)."),
	BAD(P("\0"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("a,b\0"), NONE, "field 2 is not valid UTF-8"),
	BAD(P("\xff"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("a.\xff"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("\xff,a"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("a,\xff"), NONE, "field 2 is not valid UTF-8"),
	BAD(P("\xc0\xaf"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("\xed\xa0\x80"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("caf\xc3"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("caf\xc3.x"), NONE, "field 1 is not valid UTF-8"),
	BAD(NONE, P("a\0"), "without_fields: field 1 is not valid UTF-8"),
	BAD(NONE, P("\xf4\x90\x80\x80"), "without_fields: field 1 is not valid"),
	BAD(P("\x80"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("\xc3\x28"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("\xe2\x82"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("a\xc0\x80" "b"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("\xf0\x80\x80\x80"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("\xf8\x88\x80\x80\x80"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("\xed\xbf\xbf"), NONE, "field 1 is not valid UTF-8"),
	BAD(P("a.b,c.d,e\xef\xbf"), NONE, "field 3 is not valid UTF-8"),
	BAD(NONE, P("x,\xc3\x28"), "without_fields: field 2 is not valid UTF-8"),
	BAD(NONE, P("x,y\0z"), "without_fields: field 2 is not valid UTF-8"),
	/* More commas and dots, in both lists. */
	BAD(P("a.b,,"), NONE, "with_fields: field 2 is empty"),
	BAD(P(" ,"), NONE, "with_fields: field 2 is empty"),
	BAD(P("a,b,c,,"), NONE, "with_fields: field 4 is empty"),
	BAD(P("value.,a"), NONE, "field 1 (\"value.\") has an empty name"),
	BAD(P("a,value."), NONE, "field 2 (\"value.\") has an empty name"),
	BAD(P("a..,b"), NONE, "field 1 (\"a..\") has an empty name"),
	BAD(P("..a"), NONE, "field 1 (\"..a\") has an empty name"),
	BAD(P("a.b.c.d."), NONE, "field 1 (\"a.b.c.d.\") has an empty name"),
	BAD(NONE, P("."), "without_fields: field 1 (\".\") has an empty name"),
	BAD(NONE, P(".."), "without_fields: field 1 (\"..\") has an empty name"),
	BAD(NONE, P("a..b.c"), "without_fields: field 1 (\"a..b.c\")"),
	BAD(NONE, P("a,b,,c"), "without_fields: field 3 is empty"),
	BAD(NONE, P(",,"), "without_fields: field 1 is empty"),
	/* One bad list is enough; with_fields is read first. */
	BAD(P(""), P("a"), "with_fields is empty"),
	BAD(P("a"), P(","), "without_fields: field 1 is empty"),
	BAD(P("."), P(""), "with_fields: field 1 (\".\")"),
	BAD(P("a"), P("a..b"), "without_fields: field 1"),
	BAD(P("a..b"), P("a"), "with_fields: field 1"),
	BAD(P("a.,b"), P(",c"), "with_fields: field 1"),
	BAD(P("a,b,c,d"), P("a,b,c,d,"), "without_fields: field 5 is empty"),
	/* The message quotes at most 40 bytes and never half a character. */
	BAD(P("aaaaaaaaaabbbbbbbbbbccccccccccdddddddddde.."), NONE,
	    "(\"aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd...\") has an empty"),
	BAD(P("aaaaaaaaaabbbbbbbbbbccccccccccddddddddd\xc3\xa9.."), NONE,
	    "(\"aaaaaaaaaabbbbbbbbbbccccccccccddddddddd...\") has an empty"),
	BAD(P("aaaaaaaaaabbbbbbbbbbccccccccccdddddddd\xc3\xa9..."), NONE,
	    "(\"aaaaaaaaaabbbbbbbbbbccccccccccdddddddd\xc3\xa9...\") has an empty"),
	BAD(P("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac..."), NONE,
	    "(\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac...\") has an empty"),
	BAD(P("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f"
	    ".g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m.n"
	    ".o.p"), NONE, "has more than 64 names."),
};

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

/* The compact text of o, as a string for free(). */
static char *
text(struct json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	ck_assert_msg(s != NULL, "got strdup failure, want memory");
	return s;
}

/* A printable name of a list for messages (NUL bytes end it early). */
static const char *
show(const struct list *l)
{
	return l->s != NULL ? l->s : "(absent)";
}

/* Applies f to in and wants text want; returns the result for more checks. */
static struct json_object *
apply_want(const struct row *r, struct fields_filter *f, struct json_object *in,
    const char *want)
{
	struct json_object *got = NULL;
	enum fields_rc rc = fields_apply(f, in, &got);
	char *g;

	ck_assert_msg(rc == FIELDS_OK, "with %s without %s on %s: got rc %d, want "
	    "FIELDS_OK", show(&r->with), show(&r->without), r->in, rc);
	g = text(got);
	ck_assert_msg(strcmp(g, want) == 0, "with %s without %s on %s: got %s, "
	    "want %s", show(&r->with), show(&r->without), r->in, g, want);
	free(g);
	return got;
}

/* Compiles one list of r alone; the rows are valid, so failure is a bug. */
static struct fields_filter *
compile_one(const struct row *r, bool with)
{
	struct fields_filter *f;
	char err[FIELDS_ERR_LEN];

	ck_assert_msg(fields_compile(with ? r->with.s : NULL, r->with.len,
	    with ? NULL : r->without.s, r->without.len, &f, err, sizeof(err)) ==
	    FIELDS_OK, "got %s, want FIELDS_OK", err);
	return f;
}

/* Both lists at once give what with_fields, then without_fields, give. */
static void
check_in_turn(const struct row *r, struct json_object *in, const char *want)
{
	struct fields_filter *fw = compile_one(r, true), *fx = compile_one(r, false);
	struct json_object *mid, *got;
	char *g;

	ck_assert(fields_apply(fw, in, &mid) == FIELDS_OK);
	ck_assert(fields_apply(fx, mid, &got) == FIELDS_OK);
	g = text(got);
	ck_assert_msg(strcmp(g, want) == 0, "with %s, then without %s, on %s: got "
	    "%s, want %s as with both at once", r->with.s, r->without.s, r->in, g,
	    want);
	free(g);
	json_object_put(got);
	json_object_put(mid);
	fields_free(fx);
	fields_free(fw);
}

static void
check_row(const struct row *r)
{
	struct fields_filter *f = (struct fields_filter *)1;
	struct json_object *in, *wantv, *got, *again;
	char err[FIELDS_ERR_LEN], *before, *after, *want;
	enum fields_rc rc;

	rc = fields_compile(r->with.s, r->with.len, r->without.s, r->without.len,
	    &f, err, sizeof(err));
	if (r->want == NULL) {
		ck_assert_msg(rc == FIELDS_BAD, "with %s without %s: got rc %d, want "
		    "FIELDS_BAD", show(&r->with), show(&r->without), rc);
		ck_assert_msg(f == NULL, "with %s: got a filter, want NULL",
		    show(&r->with));
		ck_assert_msg(strstr(err, r->msg) != NULL, "with %s without %s: got "
		    "message \"%s\", want it to contain \"%s\"", show(&r->with),
		    show(&r->without), err, r->msg);
		return;
	}
	ck_assert_msg(rc == FIELDS_OK, "with %s without %s: got rc %d (%s), want "
	    "FIELDS_OK", show(&r->with), show(&r->without), rc, err);
	ck_assert_msg(!fields_is_empty(f), "with %s without %s: got an empty "
	    "filter", show(&r->with), show(&r->without));
	in = qjson(r->in);
	wantv = qjson(r->want);
	want = text(wantv);
	before = text(in);
	got = apply_want(r, f, in, want);
	after = text(in);
	ck_assert_msg(strcmp(after, before) == 0, "with %s on %s: got the input "
	    "changed to %s", show(&r->with), r->in, after);
	free(after);
	/* With only one list, filtering the result again changes nothing. */
	if (r->with.s == NULL || r->without.s == NULL) {
		again = apply_want(r, f, got, want);
		json_object_put(again);
	} else {
		check_in_turn(r, in, want);
	}
	json_object_put(got);
	json_object_put(wantv);
	json_object_put(in);
	free(want);
	free(before);
	fields_free(f);
}

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

/* ---- generated lists ----------------------------------------------------- */

/* head, then n times unit, then tail: a new string for free(). */
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

struct gen_row {
	const char	*head, *unit;
	int		 n;
	const char	*tail;
	bool		 without;	/* the list is without_fields */
	const char	*msg;		/* NULL: accepted */
};

static const struct gen_row gen_rows[] = {
	/* FIELDS_MAX_PATHS paths. */
	{ "a", ",a", 99, "", false, NULL },
	{ "a", ",a", 100, "", false, "with_fields names more than 100 fields." },
	{ "a", ",b", 100, "", true, "without_fields names more than 100 fields." },
	{ "x", ",x.y", 99, "", true, NULL },
	/* The count stops before a bad path beyond the limit is read. */
	{ "a", ",a", 100, ",,", false, "more than 100 fields" },
	{ "a", ",a", 98, ",,", false, "field 100 is empty" },
	/* FIELDS_MAX_PATH_LEN bytes, "value." included. */
	{ "", "a", 1024, "", false, NULL },
	{ "", "a", 1025, "", false, "with_fields: field 1 is longer than 1024 bytes." },
	{ "value.", "a", 1018, "", false, NULL },
	{ "value.", "a", 1019, "", true, "without_fields: field 1 is longer than" },
	{ "x,", "a", 1025, "", false, "field 2 is longer than 1024 bytes" },
	{ "", "a.", 511, "a", false, "field 1 (\"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a..." },
	/* FIELDS_MAX_DEPTH names. */
	{ "a", ".a", 63, "", false, NULL },
	{ "a", ".a", 64, "", false, "has more than 64 names." },
	{ "value.a", ".a", 63, "", true, NULL },
	{ "value.value", ".a", 63, "", true, NULL },
	{ "value.value", ".a", 64, "", true, "has more than 64 names." },
};

START_TEST(test_generated)
{
	const struct gen_row *g = &gen_rows[_i];
	char *list = repeat(g->head, g->unit, g->n, g->tail);
	struct row r = { { NULL, 0 }, { NULL, 0 }, "{'a':{'a':1}}", NULL, g->msg };
	struct list *l = g->without ? &r.without : &r.with;

	l->s = list;
	l->len = strlen(list);
	if (g->msg == NULL) {
		/* Accepted; what it keeps is tested elsewhere. */
		struct fields_filter *f;
		char err[FIELDS_ERR_LEN];

		ck_assert_msg(fields_compile(r.with.s, r.with.len, r.without.s,
		    r.without.len, &f, err, sizeof(err)) == FIELDS_OK,
		    "row %d: got %s, want FIELDS_OK", _i, err);
		fields_free(f);
	} else {
		check_row(&r);
	}
	free(list);
}
END_TEST

/* Builds {"d":{"d":...{"k0":0,"k1":1,"x":2}...}}, depth "d"s deep. */
static struct json_object *
deep_element(int depth)
{
	struct json_object *o = json_object_new_object(), *up;

	ck_assert(o != NULL);
	ck_assert(json_object_object_add(o, "k0", json_object_new_int(0)) == 0);
	ck_assert(json_object_object_add(o, "k1", json_object_new_int(1)) == 0);
	ck_assert(json_object_object_add(o, "x", json_object_new_int(2)) == 0);
	for (int d = 0; d < depth; d++) {
		ck_assert((up = json_object_new_object()) != NULL);
		ck_assert(json_object_object_add(up, "d", o) == 0);
		o = up;
	}
	return o;
}

/*
 * A large value under the largest lists: FIELDS_MAX_PATHS paths of 64 names
 * each ("l", 62 times "d", then k0 ... k99) through an array of 500
 * elements. The paths share their first 63 names, so the filter walks each
 * element once; one walk per path would do 100 times the work (and the
 * test's timeout would show it under valgrind).
 */
START_TEST(test_big)
{
	enum { ELEMS = 500, DEPTH = 62 };
	size_t cap = (size_t)FIELDS_MAX_PATHS * 200, ll = 0;
	char *list = malloc(cap), *got_text, *want_text, *inner;
	struct json_object *in = json_object_new_object(), *arr, *got, *e;
	struct fields_filter *f;
	char err[FIELDS_ERR_LEN];

	ck_assert(list != NULL && in != NULL);
	for (int p = 0; p < FIELDS_MAX_PATHS; p++) {
		ll += (size_t)snprintf(list + ll, cap - ll, "%sl", p ? "," : "");
		for (int d = 0; d < DEPTH; d++)
			ll += (size_t)snprintf(list + ll, cap - ll, ".d");
		ll += (size_t)snprintf(list + ll, cap - ll, ".k%d", p);
		ck_assert(ll < cap);
	}
	ck_assert((arr = json_object_new_array()) != NULL);
	for (int i = 0; i < ELEMS; i++)
		ck_assert(json_object_array_add(arr, deep_element(DEPTH)) == 0);
	ck_assert(json_object_object_add(in, "l", arr) == 0);

	/* with_fields keeps k0 and k1 of every element, not x. */
	ck_assert_msg(fields_compile(list, ll, NULL, 0, &f, err, sizeof(err)) ==
	    FIELDS_OK, "got %s, want FIELDS_OK", err);
	ck_assert(fields_apply(f, in, &got) == FIELDS_OK);
	fields_free(f);
	ck_assert_msg(json_object_array_length(json_object_object_get(got, "l")) ==
	    ELEMS, "got %zu elements, want %d",
	    json_object_array_length(json_object_object_get(got, "l")), ELEMS);
	inner = repeat("", "{\"d\":", DEPTH, "{\"k0\":0,\"k1\":1}");
	want_text = repeat(inner, "}", DEPTH, "");
	e = json_object_array_get_idx(json_object_object_get(got, "l"), ELEMS - 1);
	got_text = text(e);
	ck_assert_msg(strcmp(got_text, want_text) == 0, "got %s, want %s",
	    got_text, want_text);
	free(got_text);
	free(want_text);
	free(inner);
	json_object_put(got);

	/* The same list as both: each element keeps its empty parents. */
	ck_assert(fields_compile(list, ll, list, ll, &f, err, sizeof(err)) ==
	    FIELDS_OK);
	ck_assert(fields_apply(f, in, &got) == FIELDS_OK);
	fields_free(f);
	inner = repeat("", "{\"d\":", DEPTH, "{}");
	want_text = repeat(inner, "}", DEPTH, "");
	e = json_object_array_get_idx(json_object_object_get(got, "l"), 7);
	got_text = text(e);
	ck_assert_msg(strcmp(got_text, want_text) == 0, "got %s, want %s",
	    got_text, want_text);
	ck_assert(json_object_array_length(json_object_object_get(got, "l")) == ELEMS);
	free(got_text);
	free(want_text);
	free(inner);
	json_object_put(got);
	free(list);
	json_object_put(in);
}
END_TEST

/* ---- the rest of the API ------------------------------------------------- */

START_TEST(test_empty)
{
	struct json_object *in = qjson("{'a':{'b':[1,{'c':2}]},'d':1.50}"), *got;
	struct fields_filter *f;
	char err[FIELDS_ERR_LEN], *a, *b;

	ck_assert_msg(fields_is_empty(NULL), "got NULL not empty, want empty");
	ck_assert(fields_compile(NULL, 0, NULL, 0, &f, err, sizeof(err)) == FIELDS_OK);
	ck_assert_msg(f != NULL && fields_is_empty(f), "got a filter that is not "
	    "empty, want empty");
	/* An empty filter still gives a copy, equal and separate. */
	ck_assert(fields_apply(f, in, &got) == FIELDS_OK);
	ck_assert_msg(got != in, "got the input back, want a copy");
	a = text(in);
	b = text(got);
	ck_assert_msg(strcmp(a, b) == 0, "got %s, want %s", b, a);
	json_object_object_add(got, "new", NULL);
	free(b);
	b = text(in);
	ck_assert_msg(strcmp(a, b) == 0, "got the input changed to %s", b);
	free(a);
	free(b);
	json_object_put(got);
	/* So does no filter at all. */
	ck_assert(fields_apply(NULL, in, &got) == FIELDS_OK && got != in);
	json_object_put(got);
	fields_free(f);
	fields_free(NULL);
	/* One list, even a trivial one, is not empty. */
	ck_assert(fields_compile("a", 1, NULL, 0, &f, err, sizeof(err)) == FIELDS_OK);
	ck_assert_msg(!fields_is_empty(f), "with_fields=a: got empty");
	fields_free(f);
	ck_assert(fields_compile(NULL, 0, "a", 1, &f, err, sizeof(err)) == FIELDS_OK);
	ck_assert_msg(!fields_is_empty(f), "without_fields=a: got empty");
	fields_free(f);
	json_object_put(in);
}
END_TEST

/* The result shares nothing with the input: changing one leaves the other. */
START_TEST(test_no_sharing)
{
	struct json_object *in = qjson("{'a':{'b':{'c':1}},'l':[{'x':{'y':2}}]}");
	struct json_object *got, *v;
	struct fields_filter *f;
	char err[FIELDS_ERR_LEN], *before = text(in), *after;

	ck_assert(fields_compile("a,l", 3, "zz", 2, &f, err, sizeof(err)) == FIELDS_OK);
	ck_assert(fields_apply(f, in, &got) == FIELDS_OK);
	ck_assert(json_object_object_get_ex(got, "a", &v));
	ck_assert(json_object_object_get_ex(v, "b", &v));
	json_object_object_add(v, "new", json_object_new_int(3));
	v = json_object_array_get_idx(json_object_object_get(got, "l"), 0);
	json_object_object_del(json_object_object_get(v, "x"), "y");
	after = text(in);
	ck_assert_msg(strcmp(before, after) == 0, "got the input changed to %s, "
	    "want %s", after, before);
	json_object_put(got);
	fields_free(f);
	free(after);
	free(before);
	json_object_put(in);
}
END_TEST

/* A short or absent message buffer is truncated, never overrun. */
START_TEST(test_errlen)
{
	struct fields_filter *f = NULL;
	char err[8];

	memset(err, 'x', sizeof(err));
	ck_assert(fields_compile("a..b", 4, NULL, 0, &f, err, 5) == FIELDS_BAD);
	ck_assert_msg(strcmp(err, "with") == 0 && err[5] == 'x', "got \"%.8s\", "
	    "want \"with\" and the rest untouched", err);
	ck_assert(f == NULL);
	ck_assert(fields_compile("a..b", 4, NULL, 0, &f, NULL, 0) == FIELDS_BAD);
	ck_assert(fields_compile("a", 1, NULL, 0, &f, NULL, 0) == FIELDS_OK);
	fields_free(f);
	/* The length bounds the list: bytes past it are not read. */
	ck_assert(fields_compile("a,,b", 1, "b..", 1, &f, err, sizeof(err)) ==
	    FIELDS_OK);
	fields_free(f);
}
END_TEST

static Suite *
fields_suite(void)
{
	Suite *s = suite_create("fields");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_core, 0, NROWS(core_rows));
	tcase_add_test(core, test_empty);
	tcase_add_test(core, test_no_sharing);
	tcase_add_loop_test(limits, test_limits, 0, NROWS(limit_rows));
	tcase_add_loop_test(limits, test_generated, 0, NROWS(gen_rows));
	/* 500 elements 63 deep: seconds under valgrind. */
	tcase_add_test(limits, test_big);
	tcase_set_timeout(limits, 60);
	tcase_add_loop_test(errors, test_errors, 0, NROWS(error_rows));
	tcase_add_test(errors, test_errlen);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fields_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
