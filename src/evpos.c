/*
 * evpos: positions in an event stream and the ranges lists walk (evpos.h).
 */
#include "evpos.h"

#include <string.h>

#include "ids.h"
#include "timefmt.h"
#include "util.h"

int
evpos_parse_ordinal(const char *s, size_t len, uint64_t *ord)
{
	unsigned char b[IDS_REF_BYTES];

	/* ids_ref_parse takes exactly IDS_REF_LEN (16) hex digits. */
	if (ids_ref_parse(s, len, b) == 0) {
		*ord = util_get_be64(b);
		return 0;
	}
	return util_parse_uint64(s, len, ord);
}

int
evpos_parse(const char *s, size_t len, struct evpos *p, bool *ord_given)
{
	const char *slash = memchr(s, '/', len);
	size_t tslen = slash != NULL ? (size_t)(slash - s) : len;
	int64_t ms;

	if (timefmt_parse(s, tslen, &ms) == -1)
		return -1;
	p->ts = (uint64_t)ms;
	p->ord = 0;
	*ord_given = slash != NULL;
	if (slash != NULL && evpos_parse_ordinal(slash + 1, len - tslen - 1, &p->ord) == -1)
		return -1;
	return 0;
}

int
evpos_parse_bound(const char *s, size_t len, bool upper, bool excl, struct evpos *p)
{
	bool ord_given;

	if (evpos_parse(s, len, p, &ord_given) == -1)
		return -1;
	/*
	 * startEvent=T and beforeEvent=T start at T/0; endEvent=T and
	 * afterEvent=T at T/max: the first two include T's millisecond from
	 * below or exclude it from above, the other two the other way round.
	 */
	if (!ord_given)
		p->ord = upper == excl ? 0 : UINT64_MAX;
	return 0;
}

int
evpos_cmp(const struct evpos *a, const struct evpos *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if (a->ord != b->ord)
		return a->ord < b->ord ? -1 : 1;
	return 0;
}

void
evrange_all(struct evrange *r)
{
	r->lo.ts = r->lo.ord = 0;
	r->hi.ts = r->hi.ord = UINT64_MAX;
	r->lo_excl = r->hi_excl = false;
}

int
evrange_where(const struct evrange *r, const struct evpos *p)
{
	int lo = evpos_cmp(p, &r->lo), hi = evpos_cmp(p, &r->hi);

	if (lo < 0 || (lo == 0 && r->lo_excl))
		return -1;
	if (hi > 0 || (hi == 0 && r->hi_excl))
		return 1;
	return 0;
}

void
evrange_narrow_ms(struct evrange *r, uint64_t ms)
{
	struct evpos lo = { ms, 0 }, hi = { ms, UINT64_MAX };
	int c = evpos_cmp(&lo, &r->lo);

	if (c > 0 || (c == 0 && !r->lo_excl)) {
		r->lo = lo;
		r->lo_excl = false;
	}
	c = evpos_cmp(&hi, &r->hi);
	if (c < 0) {
		r->hi = hi;
		r->hi_excl = false;
	}
}
