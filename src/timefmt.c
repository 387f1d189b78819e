/*
 * timefmt: parses and formats the timestamp formats of the API, in UTC.
 *
 * Every parser walks a counted string with a cursor and fills a broken-down
 * time; one function validates it and turns it into milliseconds with a
 * days-from-civil computation.  We avoid timegm, strptime and the locale on
 * purpose: they depend on TZ and LC_TIME and cannot tell us about out-of-range
 * fields.  Pure code: no I/O, no globals, no allocation; calls only snprintf
 * and clock_gettime.
 */

/* clock_gettime is POSIX; the build may not define _GNU_SOURCE. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "timefmt.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS_PER_SEC	INT64_C(1000)
#define MS_PER_DAY	INT64_C(86400000)

/* A counted string being parsed; pos never exceeds len. */
struct cursor {
	const char	*c_s;
	size_t		 c_len;
	size_t		 c_pos;
};

/* A broken-down time as written, before the zone offset is applied. */
struct stamp {
	int	st_year;	/* 0..9999 */
	int	st_mon;		/* 1..12 */
	int	st_day;		/* 1..31, checked against the month later */
	int	st_hour;
	int	st_min;
	int	st_sec;
	int	st_msec;
	int	st_off;		/* zone offset east of UTC, in minutes */
};

static const char *const mon_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Index 0 is Sunday, so that (days since 1970-01-01 + 4) % 7 indexes it. */
static const char *const day_abbr[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const day_full[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
	"Saturday"
};

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* ASCII only: the locale must not change what a month name is. */
static char
to_lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

static bool
at_end(const struct cursor *c)
{
	return c->c_pos == c->c_len;
}

static bool
accept_char(struct cursor *c, char ch)
{
	if (at_end(c) || c->c_s[c->c_pos] != ch)
		return false;
	c->c_pos++;
	return true;
}

/* Consumes the ASCII word w if it comes next, ignoring case. */
static bool
accept_word(struct cursor *c, const char *w)
{
	size_t i;

	for (i = 0; w[i] != '\0'; i++) {
		if (c->c_pos + i >= c->c_len ||
		    to_lower(c->c_s[c->c_pos + i]) != to_lower(w[i]))
			return false;
	}
	c->c_pos += i;
	return true;
}

/* Reads exactly n digits (n <= 4, so no overflow) into *out. */
static bool
digits(struct cursor *c, size_t n, int *out)
{
	size_t i;
	int v = 0;

	if (c->c_len - c->c_pos < n)
		return false;
	for (i = 0; i < n; i++) {
		if (!is_digit(c->c_s[c->c_pos + i]))
			return false;
		v = v * 10 + (c->c_s[c->c_pos + i] - '0');
	}
	c->c_pos += n;
	*out = v;
	return true;
}

/* Reads exactly n digits whose value lies in [min, max]. */
static bool
digits_in(struct cursor *c, size_t n, int min, int max, int *out)
{
	return digits(c, n, out) && *out >= min && *out <= max;
}

/* Matches one of n names (longest first is the caller's job); sets *idx. */
static bool
accept_name(struct cursor *c, const char *const *names, int n, int *idx)
{
	int i;

	for (i = 0; i < n; i++) {
		if (accept_word(c, names[i])) {
			*idx = i;
			return true;
		}
	}
	return false;
}

static bool
accept_month(struct cursor *c, int *mon)
{
	int i;

	if (!accept_name(c, mon_names, 12, &i))
		return false;
	*mon = i + 1;
	return true;
}

/*
 * Consumes a day name.  The name is checked for spelling only, never against
 * the date: a client that gets the weekday wrong still means the date it wrote.
 */
static bool
accept_day_name(struct cursor *c, bool allow_full)
{
	int i;

	if (allow_full && accept_name(c, day_full, 7, &i))
		return true;
	return accept_name(c, day_abbr, 7, &i);
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return (m == 2 && is_leap(y)) ? 29 : mdays[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil, for days >= 0 only. */
static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Validates the day of the month and converts to UTC milliseconds in range. */
static int
stamp_to_ms(const struct stamp *t, int64_t *ms)
{
	int64_t days, v;

	if (t->st_day > days_in_month(t->st_year, t->st_mon))
		return -1;
	days = days_from_civil(t->st_year, t->st_mon, t->st_day);
	v = ((days * 24 + t->st_hour) * 60 + t->st_min - t->st_off) * 60 +
	    t->st_sec;
	v = v * MS_PER_SEC + t->st_msec;
	if (v < TIMEFMT_MIN_MS || v > TIMEFMT_MAX_MS)
		return -1;
	*ms = v;
	return 0;
}

/* Integer milliseconds: digits only, rejected as soon as it passes the max. */
static int
parse_integer(const char *s, size_t len, int64_t *ms)
{
	int64_t v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > TIMEFMT_MAX_MS)
			return -1;
	}
	*ms = v;
	return 0;
}

/* "HH:MM:SS", strictly 00..23, 00..59, 00..59 (no leap second). */
static bool
parse_hms(struct cursor *c, struct stamp *t)
{
	return digits_in(c, 2, 0, 23, &t->st_hour) && accept_char(c, ':') &&
	    digits_in(c, 2, 0, 59, &t->st_min) && accept_char(c, ':') &&
	    digits_in(c, 2, 0, 59, &t->st_sec);
}

/* ".f" with 1 to 9 digits: keeps milliseconds and truncates the rest. */
static bool
parse_fraction(struct cursor *c, struct stamp *t)
{
	size_t n = 0;
	int scale = 100;

	if (!accept_char(c, '.'))
		return true;
	while (!at_end(c) && is_digit(c->c_s[c->c_pos])) {
		if (++n > 9)
			return false;
		t->st_msec += (c->c_s[c->c_pos] - '0') * scale;
		scale /= 10;
		c->c_pos++;
	}
	return n > 0;
}

/* "+HH", "+HHMM" or "+HH:MM" (or '-'); hours 0..23, minutes 0..59. */
static bool
parse_iso_offset(struct cursor *c, struct stamp *t)
{
	int sign, hh, mm = 0;

	if (accept_char(c, '+'))
		sign = 1;
	else if (accept_char(c, '-'))
		sign = -1;
	else
		return false;
	if (!digits_in(c, 2, 0, 23, &hh))
		return false;
	if (accept_char(c, ':')) {
		if (!digits_in(c, 2, 0, 59, &mm))
			return false;
	} else if (!at_end(c) && !digits_in(c, 2, 0, 59, &mm))
		return false;
	t->st_off = sign * (hh * 60 + mm);
	return true;
}

/* ISO 8601: YYYY-MM-DD, or that plus "THH:MM:SS[.f][zone]" (no zone = UTC). */
static int
parse_iso(struct cursor *c, int64_t *ms)
{
	struct stamp t = { 0 };

	if (!digits(c, 4, &t.st_year) || !accept_char(c, '-') ||
	    !digits_in(c, 2, 1, 12, &t.st_mon) || !accept_char(c, '-') ||
	    !digits_in(c, 2, 1, 31, &t.st_day))
		return -1;
	if (!at_end(c)) {
		if (!accept_char(c, 'T') && !accept_char(c, 't'))
			return -1;
		if (!parse_hms(c, &t) || !parse_fraction(c, &t))
			return -1;
		if (!at_end(c) && !accept_char(c, 'Z') &&
		    !accept_char(c, 'z') && !parse_iso_offset(c, &t))
			return -1;
	}
	if (!at_end(c))
		return -1;
	return stamp_to_ms(&t, ms);
}

/* The zone of the named formats: GMT, UTC (any case) or "+HHMM"/"-HHMM". */
static bool
parse_named_zone(struct cursor *c, struct stamp *t)
{
	int sign, hh, mm;

	if (accept_word(c, "GMT") || accept_word(c, "UTC"))
		return true;
	if (accept_char(c, '+'))
		sign = 1;
	else if (accept_char(c, '-'))
		sign = -1;
	else
		return false;
	if (!digits_in(c, 2, 0, 23, &hh) || !digits_in(c, 2, 0, 59, &mm))
		return false;
	t->st_off = sign * (hh * 60 + mm);
	return true;
}

/* A year of four digits, or of two meaning 20YY (RFC 1036 as the API says). */
static bool
parse_year_2or4(struct cursor *c, int *year)
{
	if (digits(c, 4, year))
		return true;
	if (!digits(c, 2, year))
		return false;
	if (!at_end(c) && is_digit(c->c_s[c->c_pos]))
		return false;
	*year += 2000;
	return true;
}

/*
 * After "<day name>,": " DD Mon YYYY HH:MM:SS zone" (RFC 1123, and RFC 1036's
 * preferred form with a two-digit year) or " DD-Mon-YY HH:MM:SS zone" (RFC 850
 * form of RFC 1036, four-digit years too).  The date separator must not mix.
 */
static int
parse_rfc(struct cursor *c, int64_t *ms)
{
	struct stamp t = { 0 };
	char sep;

	if (!accept_char(c, ' ') || !digits_in(c, 2, 1, 31, &t.st_day))
		return -1;
	if (at_end(c) || (c->c_s[c->c_pos] != ' ' && c->c_s[c->c_pos] != '-'))
		return -1;
	sep = c->c_s[c->c_pos++];
	if (!accept_month(c, &t.st_mon) || !accept_char(c, sep) ||
	    !parse_year_2or4(c, &t.st_year) || !accept_char(c, ' ') ||
	    !parse_hms(c, &t) || !accept_char(c, ' ') ||
	    !parse_named_zone(c, &t) || !at_end(c))
		return -1;
	return stamp_to_ms(&t, ms);
}

/* After "<Wdy> ": asctime's "Mon DD HH:MM:SS YYYY", DD as " 6" or "06"; GMT. */
static int
parse_asctime(struct cursor *c, int64_t *ms)
{
	struct stamp t = { 0 };

	if (!accept_month(c, &t.st_mon) || !accept_char(c, ' '))
		return -1;
	if (accept_char(c, ' ')) {
		if (!digits_in(c, 1, 1, 9, &t.st_day))
			return -1;
	} else if (!digits_in(c, 2, 1, 31, &t.st_day))
		return -1;
	if (!accept_char(c, ' ') || !parse_hms(c, &t) ||
	    !accept_char(c, ' ') || !digits(c, 4, &t.st_year) || !at_end(c))
		return -1;
	return stamp_to_ms(&t, ms);
}

/* The formats that start with a day name: RFC 1123, RFC 1036, asctime. */
static int
parse_named(struct cursor *c, int64_t *ms)
{
	size_t start = c->c_pos;

	if (accept_day_name(c, true) && accept_char(c, ','))
		return parse_rfc(c, ms);
	c->c_pos = start;
	if (accept_day_name(c, false) && accept_char(c, ' '))
		return parse_asctime(c, ms);
	return -1;
}

/*
 * Parses exactly one timestamp in any accepted format from the len bytes at s
 * into *ms, which is left alone on failure.  Returns 0, or -1 on bad syntax,
 * an invalid field, trailing bytes or a value outside the accepted range.
 */
int
timefmt_parse(const char *s, size_t len, int64_t *ms)
{
	struct cursor c = { s, len, 0 };
	size_t i;

	if (s == NULL || ms == NULL || len == 0)
		return -1;
	for (i = 0; i < len && is_digit(s[i]); i++)
		continue;
	if (i == len)
		return parse_integer(s, len, ms);
	if (i == 4 && s[i] == '-')
		return parse_iso(&c, ms);
	return parse_named(&c, ms);
}

/* Writes v (0..99) as two digits; returns the position after them. */
static char *
two_digits(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* Splits an in-range ms into its civil fields; day of week 0 is Sunday. */
static int
split_ms(int64_t ms, struct stamp *t, int *wday)
{
	int64_t days, rem;

	if (ms < TIMEFMT_MIN_MS || ms > TIMEFMT_MAX_MS)
		return -1;
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	civil_from_days(days, &t->st_year, &t->st_mon, &t->st_day);
	t->st_hour = (int)(rem / 3600000);
	t->st_min = (int)(rem / 60000 % 60);
	t->st_sec = (int)(rem / 1000 % 60);
	t->st_msec = (int)(rem % 1000);
	*wday = (int)((days + 4) % 7);
	return 0;
}

/*
 * Writes the RFC 1123 date of ms, seconds truncated, into buf of size bytes.
 * Returns 0, or -1 when ms is out of range or buf is too small.
 */
int
timefmt_http_date(int64_t ms, char *buf, size_t size)
{
	struct stamp t;
	int wday;
	char *p = buf;

	/* By hand, not snprintf: every item answer has one (Last-Modified),
	 * and the fields are fixed-width (years 1970..9999). */
	if (buf == NULL || size < TIMEFMT_HTTP_DATE_SIZE || split_ms(ms, &t, &wday) == -1)
		return -1;
	memcpy(p, day_abbr[wday], 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	p = two_digits(p, t.st_day);
	*p++ = ' ';
	memcpy(p, mon_names[t.st_mon - 1], 3);
	p += 3;
	*p++ = ' ';
	p = two_digits(p, t.st_year / 100);
	p = two_digits(p, t.st_year % 100);
	*p++ = ' ';
	p = two_digits(p, t.st_hour);
	*p++ = ':';
	p = two_digits(p, t.st_min);
	*p++ = ':';
	p = two_digits(p, t.st_sec);
	memcpy(p, " GMT", 5);
	return 0;
}

/*
 * Writes ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf of size bytes (at least
 * TIMEFMT_ISO_SIZE). Returns 0, or -1 when ms is out of range or buf too small.
 */
int
timefmt_iso8601(int64_t ms, char *buf, size_t size)
{
	struct stamp t;
	int wday, n;

	if (buf == NULL || split_ms(ms, &t, &wday) == -1)
		return -1;
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    t.st_year, t.st_mon, t.st_day, t.st_hour, t.st_min, t.st_sec,
	    t.st_msec);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

/* Returns the wall-clock time in ms since the epoch, or -1 if the clock fails. */
int64_t
timefmt_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	return (int64_t)ts.tv_sec * MS_PER_SEC + ts.tv_nsec / 1000000;
}
