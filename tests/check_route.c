/*
 * check_route: unit tests for src/route.h (path splitting and the percent
 * codec).
 *
 * Table-driven: each row is a raw path (or a string to decode or encode) with
 * the result we want. Expected encodings follow RFC 3986 (upper-case hex, the
 * unreserved set literal) and API.md "Transport and auth" for the path rules.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "route.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))
#define MAXLEN		1024

struct split_case {
	const char	*raw;
	size_t		 len;
	size_t		 max_len;
	enum route_rc	 rc;
	size_t		 nseg;
	const char	*seg[6];
};

/* The length comes from sizeof, so embedded NUL bytes are part of the input. */
#define OK0(s)		{ (s), sizeof(s) - 1, MAXLEN, ROUTE_OK, 0, { NULL } }
#define OK(s, n, ...)	{ (s), sizeof(s) - 1, MAXLEN, ROUTE_OK, (n), { __VA_ARGS__ } }
#define BAD(s)		{ (s), sizeof(s) - 1, MAXLEN, ROUTE_BAD, 0, { NULL } }
#define NOTAPI(s)	{ (s), sizeof(s) - 1, MAXLEN, ROUTE_NOT_API, 0, { NULL } }

static const char *
rc_name(enum route_rc rc)
{
	switch (rc) {
	case ROUTE_OK: return "ROUTE_OK";
	case ROUTE_NOT_API: return "ROUTE_NOT_API";
	case ROUTE_BAD: return "ROUTE_BAD";
	}
	return "?";
}

static const struct split_case split_core[] = {
	OK0("/v0"),
	OK0("/v0/"),
	OK("/v0/c", 1, "c"),
	OK("/v0/c/", 1, "c"),
	OK("/v0/c/k", 2, "c", "k"),
	OK("/v0/c/k/", 2, "c", "k"),
	OK("//v0/c/k", 2, "c", "k"),
	OK("//v0/c/k/", 2, "c", "k"),
	OK("/v0/c/k/refs/0123456789abcdef", 4, "c", "k", "refs",
	    "0123456789abcdef"),
	OK("/v0/c/k/events/t/1411421154480/1", 6, "c", "k", "events", "t",
	    "1411421154480", "1"),
	/* "%2F" stays inside one segment: split first, decode after. */
	OK("/v0/c/k%2Fx", 2, "c", "k/x"),
	OK("/v0/c/%2F", 2, "c", "/"),
	OK("/v0/c/a%2f%2Fb", 2, "c", "a//b"),
	/* A percent-encoded dot is an ordinary name. */
	OK("/v0/c/%2E%2E", 2, "c", ".."),
	OK("/v0/c/%2e", 2, "c", "."),
	OK("/v0/%2E/k", 2, ".", "k"),
	OK("/v0/c/...", 2, "c", "..."),
	OK("/v0/c/.k", 2, "c", ".k"),
	OK("/v0/c/k..", 2, "c", "k.."),
	/* Decoding; '+' is not a space in a path. */
	OK("/v0/c/k%20y", 2, "c", "k y"),
	OK("/v0/c/a+b", 2, "c", "a+b"),
	OK("/v0/c/%41%62", 2, "c", "Ab"),
	OK("/v0/c/a:b@c", 2, "c", "a:b@c"),
	OK("/v0/c/%3F%23%26", 2, "c", "?#&"),
	/* UTF-8, encoded and raw. */
	OK("/v0/c/%C3%A9", 2, "c", "\xc3\xa9"),
	OK("/v0/c/\xc3\xa9", 2, "c", "\xc3\xa9"),
	OK("/v0/c/%E2%82%AC", 2, "c", "\xe2\x82\xac"),
	OK("/v0/c/%F0%9F%98%80", 2, "c", "\xf0\x9f\x98\x80"),
	OK("/v0/c/%F4%8F%BF%BF", 2, "c", "\xf4\x8f\xbf\xbf"),
};

static const struct split_case split_errors[] = {
	/* Not under /v0. */
	NOTAPI(""),
	NOTAPI("/"),
	NOTAPI("//"),
	NOTAPI("/v"),
	NOTAPI("/v0x"),
	NOTAPI("/v0x/c"),
	NOTAPI("/v01/c"),
	NOTAPI("/v1/c"),
	NOTAPI("/V0/c"),
	NOTAPI("/other"),
	NOTAPI("/other/v0"),
	NOTAPI("v0/c"),
	/* Raw dot segments. */
	BAD("/v0/."),
	BAD("/v0/.."),
	BAD("/v0/c/."),
	BAD("/v0/c/.."),
	BAD("/v0/./k"),
	BAD("/v0/../k"),
	BAD("/v0/c/../k"),
	BAD("/v0/c/k/."),
	BAD("/v0/c/k/../"),
	/* Empty segments; only one trailing slash is tolerated. */
	BAD("/v0//c"),
	BAD("/v0/c//k"),
	BAD("//v0//c"),
	BAD("/v0/c//"),
	BAD("/v0/c/k//"),
	BAD("/v0/c/k///"),
	BAD("/v0//"),
	/* NUL, escaped or raw. */
	BAD("/v0/c/%00"),
	BAD("/v0/c/a%00b"),
	BAD("/v0/%00/k"),
	BAD("/v0/c/a\0b"),
	/* Bad escapes. */
	BAD("/v0/c/%"),
	BAD("/v0/c/%4"),
	BAD("/v0/c/%zz"),
	BAD("/v0/c/%4g"),
	BAD("/v0/c/%g4"),
	BAD("/v0/c/k%"),
	BAD("/v0/c/k%4"),
	BAD("/v0/c/%%41"),
	BAD("/v0/c/% 41"),
	BAD("/v0/c/%+1"),
	BAD("/v0/c/%-1"),
	BAD("/v0/%/k"),
	BAD("/v0/c/%4/"),
	/* Invalid UTF-8, escaped or raw. */
	BAD("/v0/c/%C3%28"),
	BAD("/v0/c/%C0%AF"),
	BAD("/v0/c/%C1%BF"),
	BAD("/v0/c/%E0%80%AF"),
	BAD("/v0/c/%F0%80%80%AF"),
	BAD("/v0/c/%ED%A0%80"),
	BAD("/v0/c/%ED%BF%BF"),
	BAD("/v0/c/%F4%90%80%80"),
	BAD("/v0/c/%F8%88%80%80%80"),
	BAD("/v0/c/%FF"),
	BAD("/v0/c/%FE"),
	BAD("/v0/c/%80"),
	BAD("/v0/c/a%BFb"),
	BAD("/v0/c/%C3"),
	BAD("/v0/c/%E2%82"),
	BAD("/v0/c/%F0%9F%98"),
	BAD("/v0/c/\xff"),
	BAD("/v0/c/\xc3\x28"),
	BAD("/v0/c/\xed\xa0\x80"),
	BAD("/v0/\xc3/k"),
};

/*
 * Failure messages are built first and the arena freed before the abort, so
 * a failing case leaks nothing under CK_FORK=no valgrind.
 */
static void
check_split(const struct split_case *tc)
{
	struct arena *a = mem_new();
	struct path p;
	const char *why = NULL;
	char msg[1024] = "";
	enum route_rc rc;

	ck_assert_msg(a != NULL, "mem_new: got NULL, want an arena");
	rc = route_split(a, tc->raw, tc->len, tc->max_len, &p, &why);
	if (rc != tc->rc) {
		snprintf(msg, sizeof(msg), "route_split(\"%.*s\"): got %s, want %s",
		    (int)tc->len, tc->raw, rc_name(rc), rc_name(tc->rc));
	} else if (rc == ROUTE_BAD && (why == NULL || why[0] == '\0')) {
		snprintf(msg, sizeof(msg), "route_split(\"%.*s\"): got no reason, "
		    "want one", (int)tc->len, tc->raw);
	} else if (rc == ROUTE_OK && p.nseg != tc->nseg) {
		snprintf(msg, sizeof(msg), "route_split(\"%.*s\"): got %zu "
		    "segments, want %zu", (int)tc->len, tc->raw, p.nseg, tc->nseg);
	} else if (rc == ROUTE_OK) {
		for (size_t i = 0; i < tc->nseg && msg[0] == '\0'; i++) {
			size_t want = strlen(tc->seg[i]);

			if (p.seg[i].len != want ||
			    memcmp(p.seg[i].s, tc->seg[i], want) != 0)
				snprintf(msg, sizeof(msg), "route_split(\"%.*s\") "
				    "segment %zu: got \"%.*s\", want \"%s\"",
				    (int)tc->len, tc->raw, i, (int)p.seg[i].len,
				    p.seg[i].s, tc->seg[i]);
			else if (p.seg[i].s[want] != '\0')
				snprintf(msg, sizeof(msg), "route_split(\"%.*s\") "
				    "segment %zu: got no NUL terminator, want one",
				    (int)tc->len, tc->raw, i);
		}
	}
	mem_free(a);
	if (msg[0] != '\0')
		ck_abort_msg("%s", msg);
}

START_TEST(test_split_core)
{
	check_split(&split_core[_i]);
}
END_TEST

START_TEST(test_split_errors)
{
	check_split(&split_errors[_i]);
}
END_TEST

/* Only the len bytes of raw count. */
START_TEST(test_split_counted)
{
	static const struct split_case cases[] = {
		{ "/v0/c/k?x=1", 7, MAXLEN, ROUTE_OK, 2, { "c", "k" } },
		{ "/v0/c/%41", 8, MAXLEN, ROUTE_BAD, 0, { NULL } },
		{ "/v0x", 3, MAXLEN, ROUTE_OK, 0, { NULL } },
		{ "/v0/c", 2, MAXLEN, ROUTE_NOT_API, 0, { NULL } },
	};

	for (int i = 0; i < NCASES(cases); i++)
		check_split(&cases[i]);
}
END_TEST

/* Builds "/v0" followed by n segments of "s<i>". */
static size_t
many_segments(char *out, size_t size, int n)
{
	size_t len = (size_t)snprintf(out, size, "/v0");

	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, size - len, "/s%d", i);
	return len;
}

struct nseg_case {
	int	 n;
	int	 trailing_slash;
	enum route_rc rc;
};

static const struct nseg_case nseg_cases[] = {
	{ ROUTE_MAX_SEGS - 1, 0, ROUTE_OK },
	{ ROUTE_MAX_SEGS, 0, ROUTE_OK },
	{ ROUTE_MAX_SEGS, 1, ROUTE_OK },
	{ ROUTE_MAX_SEGS + 1, 0, ROUTE_BAD },
	{ ROUTE_MAX_SEGS + 1, 1, ROUTE_BAD },
	{ ROUTE_MAX_SEGS * 4, 0, ROUTE_BAD },
};

START_TEST(test_split_nseg)
{
	const struct nseg_case *tc = &nseg_cases[_i];
	struct arena *a = mem_new();
	char raw[2048];
	struct path p;
	const char *why = NULL;
	size_t len = many_segments(raw, sizeof(raw) - 2, tc->n);
	enum route_rc rc;

	if (tc->trailing_slash)
		raw[len++] = '/';
	rc = route_split(a, raw, len, MAXLEN, &p, &why);
	ck_assert_msg(rc == tc->rc, "route_split(%d segments%s): got %s, want %s",
	    tc->n, tc->trailing_slash ? " and '/'" : "", rc_name(rc),
	    rc_name(tc->rc));
	if (rc == ROUTE_OK) {
		char want[16];

		ck_assert_msg(p.nseg == (size_t)tc->n,
		    "route_split(%d segments): got %zu, want %d", tc->n, p.nseg,
		    tc->n);
		snprintf(want, sizeof(want), "s%d", tc->n - 1);
		ck_assert_msg(strcmp(p.seg[p.nseg - 1].s, want) == 0,
		    "last segment: got \"%s\", want \"%s\"",
		    p.seg[p.nseg - 1].s, want);
	}
	mem_free(a);
}
END_TEST

struct maxlen_case {
	const char	*unit;     /* repeated to build the segment */
	size_t		 ulen;     /* decoded bytes per unit */
	size_t		 units;
	size_t		 max_len;
	enum route_rc	 rc;
};

static const struct maxlen_case maxlen_cases[] = {
	{ "a", 1, 1, 1, ROUTE_OK },
	{ "a", 1, 2, 1, ROUTE_BAD },
	{ "a", 1, 255, 255, ROUTE_OK },
	{ "a", 1, 256, 255, ROUTE_BAD },
	{ "a", 1, 1024, 1024, ROUTE_OK },
	{ "a", 1, 1025, 1024, ROUTE_BAD },
	/* The limit counts decoded bytes, not the raw escapes. */
	{ "%41", 1, 100, 100, ROUTE_OK },
	{ "%41", 1, 101, 100, ROUTE_BAD },
	{ "%C3%A9", 2, 50, 100, ROUTE_OK },
	{ "%C3%A9", 2, 51, 100, ROUTE_BAD },
	{ "\xe2\x82\xac", 3, 33, 99, ROUTE_OK },
	{ "\xe2\x82\xac", 3, 34, 99, ROUTE_BAD },
};

START_TEST(test_split_max_len)
{
	const struct maxlen_case *tc = &maxlen_cases[_i];
	struct arena *a = mem_new();
	struct path p;
	const char *why = NULL;
	size_t ul = strlen(tc->unit), len;
	char *raw = malloc(16 + tc->units * ul);
	enum route_rc rc;

	ck_assert_msg(raw != NULL, "malloc: got NULL, want memory");
	len = (size_t)sprintf(raw, "/v0/c/");
	for (size_t i = 0; i < tc->units; i++, len += ul)
		memcpy(raw + len, tc->unit, ul);
	rc = route_split(a, raw, len, tc->max_len, &p, &why);
	ck_assert_msg(rc == tc->rc, "route_split(%zu x \"%s\", max_len %zu): "
	    "got %s, want %s", tc->units, tc->unit, tc->max_len, rc_name(rc),
	    rc_name(tc->rc));
	if (rc == ROUTE_OK)
		ck_assert_msg(p.nseg == 2 && p.seg[1].len == tc->units * tc->ulen,
		    "decoded length: got %zu, want %zu", p.seg[1].len,
		    tc->units * tc->ulen);
	/* The collection is limited the same way. */
	if (tc->rc == ROUTE_BAD) {
		memmove(raw + 4, raw + 6, len - 6);
		memcpy(raw + len - 2, "/k", 2);
		rc = route_split(a, raw, len, tc->max_len, &p, &why);
		ck_assert_msg(rc == ROUTE_BAD, "long collection: got %s, want %s",
		    rc_name(rc), rc_name(ROUTE_BAD));
	}
	free(raw);
	mem_free(a);
}
END_TEST

struct decode_case {
	const char	*in;
	size_t		 len;
	int		 plus;
	const char	*out;      /* NULL: a bad escape */
	size_t		 outlen;
};

#define DEC(s, plus, o)	{ (s), sizeof(s) - 1, (plus), (o), sizeof(o) - 1 }
#define DECBAD(s, plus)	{ (s), sizeof(s) - 1, (plus), NULL, 0 }

static const struct decode_case decode_core[] = {
	DEC("", 0, ""),
	DEC("abc", 0, "abc"),
	DEC("a%20b", 0, "a b"),
	DEC("a+b", 0, "a+b"),
	DEC("a+b", 1, "a b"),
	DEC("%2B", 1, "+"),
	DEC("%2b", 0, "+"),
	DEC("%41%42%43", 0, "ABC"),
	DEC("%e9", 0, "\xe9"),
	DEC("%E9", 0, "\xe9"),
	DEC("%C3%A9", 0, "\xc3\xa9"),
	DEC("%25", 0, "%"),
	DEC("%2525", 0, "%25"),
	DEC("%2F", 0, "/"),
	DEC("%00", 0, "\0"),
	DEC("a%00b", 1, "a\0b"),
	DEC("++", 1, "  "),
	DEC("%7E~", 0, "~~"),
};

static const struct decode_case decode_errors[] = {
	DECBAD("%", 0),
	DECBAD("%4", 0),
	DECBAD("%zz", 0),
	DECBAD("%g0", 0),
	DECBAD("%0g", 0),
	DECBAD("a%", 1),
	DECBAD("a%4", 1),
	DECBAD("%%", 0),
	DECBAD("%%41", 0),
	DECBAD("% 1", 0),
	DECBAD("%+1", 1),
	DECBAD("%-1", 0),
	DECBAD("%0x1", 0),
	DECBAD("abc%4", 0),
	DECBAD("%\0" "0", 0),
	DECBAD("%41%", 0),
	DECBAD("%41%2", 0),
	DECBAD("%\xc3\xa9", 0),
};

static void
check_decode(const struct decode_case *tc)
{
	struct arena *a = mem_new();
	size_t outlen = 12345;
	int bad = -1;
	char *got;

	got = route_decode(a, tc->in, tc->len, tc->plus, &outlen, &bad);
	if (tc->out == NULL) {
		ck_assert_msg(got == NULL && bad != 0,
		    "route_decode(\"%.*s\"): got \"%s\" (bad %d), want NULL and bad",
		    (int)tc->len, tc->in, got ? got : "(null)", bad);
	} else {
		ck_assert_msg(got != NULL && bad == 0,
		    "route_decode(\"%.*s\"): got NULL (bad %d), want \"%s\"",
		    (int)tc->len, tc->in, bad, tc->out);
		ck_assert_msg(outlen == tc->outlen &&
		    memcmp(got, tc->out, tc->outlen) == 0,
		    "route_decode(\"%.*s\"): got \"%.*s\" (%zu bytes), want "
		    "\"%s\" (%zu bytes)", (int)tc->len, tc->in, (int)outlen, got,
		    outlen, tc->out, tc->outlen);
		ck_assert_msg(got[outlen] == '\0',
		    "route_decode(\"%.*s\"): got no NUL terminator, want one",
		    (int)tc->len, tc->in);
	}
	mem_free(a);
}

START_TEST(test_decode_core)
{
	check_decode(&decode_core[_i]);
}
END_TEST

START_TEST(test_decode_errors)
{
	check_decode(&decode_errors[_i]);
}
END_TEST

struct encode_case {
	const char	*in;
	size_t		 len;
	const char	*seg;      /* route_encode_segment */
	const char	*query;    /* route_encode_query; NULL: not checked */
};

#define ENC(s, seg, q)	{ (s), sizeof(s) - 1, (seg), (q) }

static const struct encode_case encode_cases[] = {
	ENC("", "", ""),
	ENC("abc", "abc", "abc"),
	ENC("AZaz09", "AZaz09", "AZaz09"),
	ENC("-._~", "-._~", "-._~"),
	ENC("a b", "a%20b", "a%20b"),
	ENC("a/b", "a%2Fb", NULL),
	ENC("a:b@c", "a:b@c", "a:b@c"),
	ENC("a&b", "a%26b", "a%26b"),
	ENC("a=b", "a%3Db", "a%3Db"),
	ENC("a+b", "a%2Bb", "a%2Bb"),
	ENC("a?b", "a%3Fb", "a%3Fb"),
	ENC("a#b", "a%23b", "a%23b"),
	ENC("100%", "100%25", "100%25"),
	ENC("\"<>\\^`{|}", "%22%3C%3E%5C%5E%60%7B%7C%7D",
	    "%22%3C%3E%5C%5E%60%7B%7C%7D"),
	ENC("\xc3\xa9", "%C3%A9", "%C3%A9"),
	ENC("\xf0\x9f\x98\x80", "%F0%9F%98%80", "%F0%9F%98%80"),
	ENC("a\nb\tc\x7f", "a%0Ab%09c%7F", "a%0Ab%09c%7F"),
	ENC("a\0b", "a%00b", "a%00b"),
};

START_TEST(test_encode)
{
	const struct encode_case *tc = &encode_cases[_i];
	struct buf b;
	int rc;

	buf_init(&b, 0);
	rc = route_encode_segment(&b, tc->in, tc->len);
	ck_assert_msg(rc == 0 && b.b_len == strlen(tc->seg) &&
	    memcmp(b.b_data ? b.b_data : "", tc->seg, b.b_len) == 0,
	    "route_encode_segment(\"%.*s\"): got %d \"%.*s\", want 0 \"%s\"",
	    (int)tc->len, tc->in, rc, (int)b.b_len, b.b_data ? b.b_data : "",
	    tc->seg);
	if (tc->query != NULL) {
		buf_reset(&b);
		rc = route_encode_query(&b, tc->in, tc->len);
		ck_assert_msg(rc == 0 && b.b_len == strlen(tc->query) &&
		    memcmp(b.b_data ? b.b_data : "", tc->query, b.b_len) == 0,
		    "route_encode_query(\"%.*s\"): got %d \"%.*s\", want 0 \"%s\"",
		    (int)tc->len, tc->in, rc, (int)b.b_len,
		    b.b_data ? b.b_data : "", tc->query);
	}
	buf_free(&b);
}
END_TEST

/* An encoder appends: what the buffer held stays in front. */
START_TEST(test_encode_appends)
{
	struct buf b;

	buf_init(&b, 0);
	buf_adds(&b, "/v0/");
	route_encode_segment(&b, "a b", 3);
	buf_addc(&b, '/');
	route_encode_segment(&b, "k/1", 3);
	buf_adds(&b, "?q=");
	route_encode_query(&b, "x&y", 3);
	ck_assert_msg(strcmp(b.b_data, "/v0/a%20b/k%2F1?q=x%26y") == 0,
	    "got \"%s\", want \"/v0/a%%20b/k%%2F1?q=x%%26y\"", b.b_data);
	buf_free(&b);
}
END_TEST

/* A full buffer: -1 from both encoders. */
START_TEST(test_encode_cap)
{
	struct buf b;
	int rc;

	buf_init(&b, 8);
	rc = route_encode_segment(&b, "a b c d e f", 11);
	ck_assert_msg(rc == -1, "route_encode_segment over the cap: got %d, "
	    "want -1", rc);
	buf_free(&b);
	buf_init(&b, 8);
	rc = route_encode_query(&b, "&&&&&&&&", 8);
	ck_assert_msg(rc == -1, "route_encode_query over the cap: got %d, "
	    "want -1", rc);
	buf_free(&b);
}
END_TEST

/* decode(encode(x)) == x for one string, through both encoders. */
static void
round_trip(struct arena *a, const char *s, size_t len)
{
	struct buf b;
	size_t outlen = 0;
	int bad = 0;
	char *got;

	buf_init(&b, 0);
	route_encode_segment(&b, s, len);
	got = route_decode(a, b.b_data ? b.b_data : "", b.b_len, 0, &outlen, &bad);
	if (got == NULL || outlen != len || memcmp(got, s, len) != 0)
		ck_abort_msg("decode(encode_segment(\"%.*s\")) via \"%s\": got "
		    "\"%.*s\", want the input", (int)len, s,
		    b.b_data ? b.b_data : "", got ? (int)outlen : 0,
		    got ? got : "");
	buf_reset(&b);
	route_encode_query(&b, s, len);
	got = route_decode(a, b.b_data ? b.b_data : "", b.b_len, 1, &outlen, &bad);
	if (got == NULL || outlen != len || memcmp(got, s, len) != 0)
		ck_abort_msg("decode(encode_query(\"%.*s\"), plus is space) via "
		    "\"%s\": got \"%.*s\", want the input", (int)len, s,
		    b.b_data ? b.b_data : "", got ? (int)outlen : 0,
		    got ? got : "");
	buf_free(&b);
}

static uint64_t
next_rand(uint64_t *state)
{
	*state = *state * UINT64_C(6364136223846793005) +
	    UINT64_C(1442695040888963407);
	return *state >> 33;
}

START_TEST(test_round_trip)
{
	static const char *strings[] = {
		"", "a", "a b", "a+b", "a%20b", "%", "%%", "k/x", "..", ".",
		"?a=b&c=d#e", "\xc3\xa9t\xc3\xa9", ":@!$'()*,;",
		"\xf0\x9f\x98\x80 \xe2\x82\xac",
	};
	struct arena *a = mem_new();
	uint64_t state = 0x5eed;
	char s[64];

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		round_trip(a, strings[i], strlen(strings[i]));
	/* Every byte value alone, then random byte strings. */
	for (int c = 0; c < 256; c++) {
		s[0] = (char)c;
		round_trip(a, s, 1);
	}
	for (int i = 0; i < 2000; i++) {
		size_t len = (size_t)(next_rand(&state) % sizeof(s));

		for (size_t j = 0; j < len; j++)
			s[j] = (char)next_rand(&state);
		round_trip(a, s, len);
		mem_reset(a);
	}
	mem_free(a);
}
END_TEST

/*
 * route_split(encode_segment(name)) == name for valid names: what Location
 * and Link headers say must route back to the same item. Dot names are the
 * interesting case: a key "." or ".." (stored as "%2E%2E") must not come back
 * as a raw dot segment, which route_split refuses and clients normalise away.
 */
static const char *path_names[] = {
	"k", "a b", "k/x", "a:b@c", "100%", "a+b", "\xc3\xa9", "...", ".k",
	"?#&=", ".", "..",
};

START_TEST(test_path_round_trip)
{
	const char *name = path_names[_i];
	struct arena *a = mem_new();
	struct path p;
	const char *why = NULL;
	struct buf b;
	char msg[512] = "";
	enum route_rc rc;

	buf_init(&b, 0);
	buf_adds(&b, "/v0/c/");
	route_encode_segment(&b, name, strlen(name));
	rc = route_split(a, b.b_data, b.b_len, MAXLEN, &p, &why);
	if (rc != ROUTE_OK || p.nseg != 2 || strcmp(p.seg[1].s, name) != 0)
		snprintf(msg, sizeof(msg), "route_split(\"%s\") for key \"%s\": "
		    "got %s (%s), want ROUTE_OK and the key", b.b_data, name,
		    rc_name(rc), why ? why : "");
	buf_free(&b);
	mem_free(a);
	if (msg[0] != '\0')
		ck_abort_msg("%s", msg);
}
END_TEST

static Suite *
route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_split_core, 0, NCASES(split_core));
	tcase_add_test(core, test_split_counted);
	tcase_add_loop_test(core, test_decode_core, 0, NCASES(decode_core));
	tcase_add_loop_test(core, test_encode, 0, NCASES(encode_cases));
	tcase_add_test(core, test_encode_appends);
	tcase_add_test(core, test_round_trip);
	tcase_add_loop_test(core, test_path_round_trip, 0, NCASES(path_names));
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_split_nseg, 0, NCASES(nseg_cases));
	tcase_add_loop_test(limits, test_split_max_len, 0,
	    NCASES(maxlen_cases));
	tcase_add_test(limits, test_encode_cap);
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_split_errors, 0, NCASES(split_errors));
	tcase_add_loop_test(errors, test_decode_errors, 0,
	    NCASES(decode_errors));
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(route_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
