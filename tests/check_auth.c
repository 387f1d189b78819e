/*
 * check_auth: unit tests for src/auth.h (the Basic header, key digests and
 * new keys).
 *
 * Table-driven: each row is an Authorization header with the key we want, or
 * -1. The base64 strings were made with coreutils `base64` (printf 'key:' |
 * base64); the digests are the FIPS 180-2 SHA-256 test vectors and
 * `sha256sum` output.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

#define NCASES(a)	((int)(sizeof(a) / sizeof((a)[0])))

struct basic_case {
	const char	*header;
	const char	*key;    /* NULL: want -1 */
};

static const struct basic_case basic_core[] = {
	{ "Basic a2V5Og==", "key" },                      /* "key:" */
	{ "basic a2V5Og==", "key" },
	{ "BASIC a2V5Og==", "key" },
	{ "bAsIc a2V5Og==", "key" },
	{ "Basic a2V5", "key" },                          /* "key", no colon */
	{ "Basic a2V5OnNlY3JldA==", "key" },              /* "key:secret" */
	{ "Basic YTpiOmM=", "a" },                        /* "a:b:c" */
	{ "Basic YTo=", "a" },                            /* "a:" */
	{ "Basic YWI=", "ab" },                           /* "ab" */
	{ "Basic a8OpOg==", "k\xc3\xa9" },                /* "ké:" */
	{ "Basic a2V5Og==  ", "key" },
	{ "Basic   a2V5Og==", "key" },
	/* A real key as clients send it. */
	{ "Basic ZjBmMmZkODAtNWQ2Yi00NDNmLWIyNTktY2FhY2I0NzFjNmFkOg==",
	    "f0f2fd80-5d6b-443f-b259-caacb471c6ad" },
	/* Padding-free lengths are fine when the length is a multiple of 4. */
	{ "Basic a2V5OnBw", "key" },                      /* "key:pp" */
};

static const struct basic_case basic_errors[] = {
	{ NULL, NULL },
	{ "", NULL },
	{ "Basic", NULL },
	{ "Basic ", NULL },
	{ "Basic  ", NULL },
	{ "Basica2V5Og==", NULL },
	{ "Bearer a2V5Og==", NULL },
	{ "Bearer x", NULL },
	{ "Digest a2V5Og==", NULL },
	{ " Basic a2V5Og==", NULL },
	{ "a2V5Og==", NULL },
	/* Empty user name. */
	{ "Basic OnB3", NULL },                           /* ":pw" */
	{ "Basic Og==", NULL },                           /* ":" */
	/* Missing or wrong padding. */
	{ "Basic a2V5Og", NULL },
	{ "Basic a2V5Og=", NULL },
	{ "Basic a2V5Og===", NULL },
	{ "Basic YWI", NULL },
	{ "Basic aw", NULL },
	{ "Basic aw=", NULL },
	{ "Basic a===", NULL },
	{ "Basic ====", NULL },
	{ "Basic YQ==YQ==", NULL },
	{ "Basic a2V5=g==", NULL },
	/* Non-canonical: bits after the last byte must be zero. */
	{ "Basic a2V5Oh==", NULL },
	{ "Basic a2V5Ov==", NULL },
	{ "Basic YWJ=", NULL },
	{ "Basic YWL=", NULL },
	/* Characters outside the base64 alphabet. */
	{ "Basic a2V5Og!=", NULL },
	{ "Basic a2V5-g==", NULL },
	{ "Basic a2V5_g==", NULL },
	{ "Basic a2V5 Og==", NULL },
	{ "Basic a2V5\tOg==", NULL },
	{ "Basic a2V5Og==\r\n", NULL },
	{ "Basic a2V5Og==.", NULL },
	{ "Basic \xc3\xa9\xc3\xa9", NULL },
	/* Control characters in the user name. */
	{ "Basic awF5Og==", NULL },                       /* "k\x01y:" */
	{ "Basic awl5Og==", NULL },                       /* "k\ty:" */
	{ "Basic awB5Og==", NULL },                       /* "k\0y:" */
	{ "Basic a386", NULL },                           /* "k\x7f:" */
	{ "Basic Cg==", NULL },                           /* "\n" */
};

static void
check_basic(const struct basic_case *tc)
{
	char key[AUTH_MAX_KEY + 1];
	int rc;

	memset(key, 'x', sizeof(key));
	rc = auth_parse_basic(tc->header, key);
	if (tc->key == NULL) {
		ck_assert_msg(rc == -1, "auth_parse_basic(\"%s\"): got %d (\"%.*s\"), "
		    "want -1", tc->header ? tc->header : "(null)", rc,
		    rc == 0 ? AUTH_MAX_KEY : 0, key);
	} else {
		ck_assert_msg(rc == 0, "auth_parse_basic(\"%s\"): got %d, want 0",
		    tc->header, rc);
		ck_assert_msg(strcmp(key, tc->key) == 0,
		    "auth_parse_basic(\"%s\"): got \"%s\", want \"%s\"",
		    tc->header, key, tc->key);
	}
}

START_TEST(test_basic_core)
{
	check_basic(&basic_core[_i]);
}
END_TEST

START_TEST(test_basic_errors)
{
	check_basic(&basic_errors[_i]);
}
END_TEST

/* Standard base64 with padding, written here so the limits can be built. */
static void
b64(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		out[o++] = tab[in[i] >> 2];
		out[o++] = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = tab[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
		out[o++] = tab[in[i + 2] & 63];
	}
	if (len - i == 1) {
		out[o++] = tab[in[i] >> 2];
		out[o++] = tab[(in[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		out[o++] = tab[in[i] >> 2];
		out[o++] = tab[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[o++] = tab[(in[i + 1] & 15) << 2];
		out[o++] = '=';
	}
	out[o] = '\0';
}

struct len_case {
	size_t	 user;      /* bytes of 'k' */
	size_t	 password;  /* bytes of 'p' after the colon */
	int	 rc;
};

static const struct len_case len_cases[] = {
	{ 1, 0, 0 },
	{ AUTH_MAX_KEY - 1, 0, 0 },
	{ AUTH_MAX_KEY, 0, 0 },
	{ AUTH_MAX_KEY, 500, 0 },
	{ 36, 700, 0 },
	{ AUTH_MAX_KEY + 1, 0, -1 },
	{ AUTH_MAX_KEY * 2, 0, -1 },
	{ 500, 0, -1 },
	/* The header is limited as a whole, whatever the user name. */
	{ 36, AUTH_MAX_HEADER, -1 },
	{ 36, AUTH_MAX_HEADER * 4, -1 },
};

START_TEST(test_basic_lengths)
{
	const struct len_case *tc = &len_cases[_i];
	size_t rawlen = tc->user + 1 + tc->password;
	unsigned char *raw = malloc(rawlen);
	char *header = malloc(16 + rawlen * 2);
	char key[AUTH_MAX_KEY + 1];
	int rc;

	ck_assert_msg(raw != NULL && header != NULL, "malloc: got NULL");
	memset(raw, 'k', tc->user);
	raw[tc->user] = ':';
	memset(raw + tc->user + 1, 'p', tc->password);
	memcpy(header, "Basic ", 6);
	b64(raw, rawlen, header + 6);
	rc = auth_parse_basic(header, key);
	ck_assert_msg(rc == tc->rc, "auth_parse_basic(user %zu bytes, password "
	    "%zu bytes, header %zu bytes): got %d, want %d", tc->user,
	    tc->password, strlen(header), rc, tc->rc);
	if (rc == 0)
		ck_assert_msg(strlen(key) == tc->user &&
		    strspn(key, "k") == tc->user,
		    "key: got %zu bytes, want %zu of 'k'", strlen(key), tc->user);
	free(raw);
	free(header);
}
END_TEST

struct digest_case {
	const char	*in;
	const char	*hex;
};

static const struct digest_case digest_cases[] = {
	{ "abc",
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "",
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "hello",
	  "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" },
};

START_TEST(test_digest)
{
	const struct digest_case *tc = &digest_cases[_i];
	unsigned char d[AUTH_DIGEST_LEN];
	char hex[2 * AUTH_DIGEST_LEN + 1];

	auth_digest(tc->in, strlen(tc->in), d);
	for (int i = 0; i < AUTH_DIGEST_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	ck_assert_msg(strcmp(hex, tc->hex) == 0, "auth_digest(\"%s\"): got %s, "
	    "want %s", tc->in, hex, tc->hex);
}
END_TEST

/* Only len bytes are digested: "abcdef" with len 3 is "abc". */
START_TEST(test_digest_counted)
{
	unsigned char a[AUTH_DIGEST_LEN], b[AUTH_DIGEST_LEN];

	auth_digest("abcdef", 3, a);
	auth_digest("abc", 3, b);
	ck_assert_msg(memcmp(a, b, sizeof(a)) == 0,
	    "auth_digest(\"abcdef\", 3): got a different digest, want sha256(abc)");
	auth_digest("abd", 3, b);
	ck_assert_msg(memcmp(a, b, sizeof(a)) != 0,
	    "auth_digest(abc) == auth_digest(abd): got equal, want different");
}
END_TEST

/* Returns NULL when s is a version 4 UUID, else what is wrong. */
static const char *
uuid_v4_problem(const char *s)
{
	if (strlen(s) != 36)
		return "length is not 36";
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return "no dash at 8, 13, 18 or 23";
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f'))) {
			return "not lowercase hex";
		}
	}
	if (s[14] != '4')
		return "version nibble is not 4";
	if (strchr("89ab", s[19]) == NULL)
		return "variant nibble is not 8-b";
	return NULL;
}

static int
cmp_keys(const void *a, const void *b)
{
	return strcmp(a, b);
}

START_TEST(test_new_key)
{
	enum { N = 1000 };
	char (*keys)[37] = calloc(N, sizeof(*keys));
	int seen_variant[4] = { 0 };
	const char *why;

	ck_assert_msg(keys != NULL, "calloc: got NULL");
	for (int i = 0; i < N; i++) {
		int rc = auth_new_key(keys[i]);

		if (rc != 0)
			ck_abort_msg("auth_new_key #%d: got %d, want 0", i, rc);
		if ((why = uuid_v4_problem(keys[i])) != NULL)
			ck_abort_msg("auth_new_key #%d: got \"%s\" (%s), want a "
			    "version 4 UUID", i, keys[i], why);
		seen_variant[strchr("89ab", keys[i][19]) - "89ab"]++;
	}
	qsort(keys, N, sizeof(*keys), cmp_keys);
	for (int i = 1; i < N; i++) {
		if (strcmp(keys[i - 1], keys[i]) == 0)
			ck_abort_msg("auth_new_key: got \"%s\" twice in %d keys, "
			    "want unique keys", keys[i], N);
	}
	/* 1000 draws of 2 random bits: every variant value shows up. */
	for (int i = 0; i < 4; i++)
		ck_assert_msg(seen_variant[i] > 0, "variant nibble %c: got 0 of "
		    "%d, want some", "89ab"[i], N);
	free(keys);
}
END_TEST

/* A new key is a valid Basic user name and survives the round trip. */
START_TEST(test_new_key_parses)
{
	char k[37], header[80], key[AUTH_MAX_KEY + 1], raw[40];
	int rc;

	ck_assert_msg(auth_new_key(k) == 0, "auth_new_key: got -1, want 0");
	snprintf(raw, sizeof(raw), "%s:", k);
	memcpy(header, "Basic ", 6);
	b64((const unsigned char *)raw, strlen(raw), header + 6);
	rc = auth_parse_basic(header, key);
	ck_assert_msg(rc == 0 && strcmp(key, k) == 0,
	    "auth_parse_basic(\"%s\"): got %d \"%s\", want 0 \"%s\"", header, rc,
	    rc == 0 ? key : "", k);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *errors = tcase_create("errors");

	tcase_add_loop_test(core, test_basic_core, 0, NCASES(basic_core));
	tcase_add_loop_test(core, test_digest, 0, NCASES(digest_cases));
	tcase_add_test(core, test_digest_counted);
	tcase_add_test(core, test_new_key);
	tcase_add_test(core, test_new_key_parses);
	suite_add_tcase(s, core);

	tcase_add_loop_test(limits, test_basic_lengths, 0, NCASES(len_cases));
	suite_add_tcase(s, limits);

	tcase_add_loop_test(errors, test_basic_errors, 0, NCASES(basic_errors));
	suite_add_tcase(s, errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
