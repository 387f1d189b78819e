/*
 * search_xapian: the search index of a tenant in Xapian 1.4, behind the C
 * interface of search.h; the only file that includes <xapian.h>. It turns a
 * search_doc into a Xapian document (terms, value slots, data: the schema is
 * docs/storage.md "Search index"), a lucene_node tree into a Xapian query,
 * and runs it with exact counts, sort keys and aggregates.
 *
 * No C++ exception leaves this file: every exported function catches
 * everything and maps it to an enum search_rc with a message (fail()).
 * Memory handed to C comes from the caller's arena; every C++ object made
 * here is freed here.
 */
#include <xapian.h>

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

extern "C" {
#include "evpos.h"
#include "json.h"
#include "lucene.h"
#include "mem.h"
}
#include "search.h"

namespace {

/* ---- limits and schema constants (docs/storage.md "Search index") ---- */

/* Xapian refuses terms longer than 245 bytes (a NUL byte counts twice). */
const size_t MAX_TERM = 245;
/* Lowercased strings kept in a string slot (sort keys, string ranges). */
const size_t MAX_SLOT_STRING = 256;
/* top_values: bytes of one string kept, and of one document's list. */
const size_t MAX_LIST_STRING = 1024;
const size_t MAX_LIST = 65536;
/* Positions left between two strings, so no phrase spans both. */
const Xapian::termcount STRING_GAP = 100;
/* Metadata keys (Xapian's advice). */
const size_t MAX_META_KEY = 200;
/* The reader's attempts at one search when the revision is discarded. */
const int SEARCH_ATTEMPTS = 3;

/* Value slots of the metadata; slots of value fields are hashed above
 * SLOT_RESERVED. */
enum : Xapian::valueno {
	SLOT_REFTIME = 0,     /* sortable_serialise(ms) */
	SLOT_TIMESTAMP = 1,   /* events: sortable_serialise(ms) */
	SLOT_KEY = 2,         /* raw bytes (relations: the source key) */
	SLOT_KIND = 3,        /* "item", "event", "relationship" */
	SLOT_COLL = 4,        /* collection name (relations: the source's) */
	SLOT_TYPE = 5,        /* events: the type */
	SLOT_REL = 6,         /* relations: the relation */
	SLOT_ORDINAL = 7,     /* events: the ordinal, 8 bytes big-endian */
	SLOT_DCOLL = 8,       /* relations: destination collection */
	SLOT_DKEY = 9,        /* relations: destination key */
	SLOT_REF = 10,        /* the ref (16 hex digits) */
	SLOT_UID = 11,        /* the 16-byte hash of the identity (_random) */
	SLOT_ORDER = 12,      /* the identity as one sort key (relevance ties) */
	SLOT_RESERVED = 16
};

/* Per-path value slot types (the byte hashed with the path). */
const char ST_NUM = 'n', ST_DATE = 'd', ST_STR = 's', ST_GEO = 'g', ST_LAT = 'a',
    ST_LON = 'o', ST_LIST = 'v';

const char *const KIND_NAME[] = { "item", "event", "relationship" };

/* A query that cannot run: search_run answers SEARCH_BAD with msg. */
struct BadQuery {
	std::string msg;
};

/* ---- hashing and term helpers ---- */

uint64_t
fnv64(const void *p, size_t n, uint64_t h = 0xcbf29ce484222325ULL)
{
	const unsigned char *s = static_cast<const unsigned char *>(p);

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* splitmix64's finaliser: spreads FNV's weak low bits. */
uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* FNV-1a, 128 bits, as 16 bytes big-endian. */
std::string
fnv128(const std::string &s)
{
	typedef unsigned __int128 u128;
	const u128 prime = (static_cast<u128>(1) << 88) | 0x13b;
	u128 h = (static_cast<u128>(0x6c62272e07bb0142ULL) << 64) | 0x62b821756295c58dULL;
	std::string out(16, '\0');

	for (unsigned char c : s) {
		h ^= c;
		h *= prime;
	}
	for (int i = 15; i >= 0; i--) {
		out[i] = static_cast<char>(static_cast<unsigned char>(h & 0xff));
		h >>= 8;
	}
	return out;
}

std::string
hex(const std::string &bytes)
{
	static const char digits[] = "0123456789abcdef";
	std::string out;

	for (unsigned char c : bytes) {
		out += digits[c >> 4];
		out += digits[c & 15];
	}
	return out;
}

std::string
be64(uint64_t v)
{
	std::string out(8, '\0');

	for (int i = 7; i >= 0; i--) {
		out[i] = static_cast<char>(static_cast<unsigned char>(v & 0xff));
		v >>= 8;
	}
	return out;
}

void
put_str(std::string &out, const char *s)
{
	size_t n = s != nullptr ? strlen(s) : 0;

	out += be64(n).substr(4);
	out.append(s != nullptr ? s : "", n);
}

/* Backs n off so that s[0..n) does not end inside a UTF-8 sequence. */
size_t
utf8_floor(const char *s, size_t len, size_t n)
{
	while (n > 0 && n < len && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * prefix + text as a term Xapian accepts: unchanged when it fits in
 * MAX_TERM bytes, else prefix + the text's head + '#' + 32 hex digits of
 * the hash of the whole text (indexing and querying both go through here,
 * so an exact match on a long value still works).
 */
std::string
fit_term(const std::string &prefix, const char *s, size_t len)
{
	size_t cost = prefix.size();

	for (size_t i = 0; i < len; i++)
		cost += s[i] == '\0' ? 2 : 1;
	if (cost <= MAX_TERM)
		return prefix + std::string(s, len);
	std::string tail = "#" + hex(fnv128(std::string(s, len)));
	size_t budget = MAX_TERM - prefix.size() - tail.size(), n = 0, c = 0;
	while (n < len && c + (s[n] == '\0' ? 2 : 1) <= budget)
		c += s[n++] == '\0' ? 2 : 1;
	n = utf8_floor(s, len, n);
	return prefix + std::string(s, n) + tail;
}

std::string
fit_term(const std::string &prefix, const std::string &s)
{
	return fit_term(prefix, s.data(), s.size());
}

std::string
truncate_utf8(const std::string &s, size_t max)
{
	if (s.size() <= max)
		return s;
	return s.substr(0, utf8_floor(s.data(), s.size(), max));
}

std::string
lower(const std::string &s)
{
	return Xapian::Unicode::tolower(s);
}

/* ---- value fields: prefixes and slots of a JSON path ---- */

/* The letters A..P of a 64-bit hash: a fixed-length, capitals-only code,
 * so no field's prefix is a prefix of another's. */
std::string
letters16(uint64_t h)
{
	std::string out(16, 'A');

	for (int i = 15; i >= 0; i--) {
		out[i] = static_cast<char>('A' + (h & 15));
		h >>= 4;
	}
	return out;
}

Xapian::valueno
field_slot(const std::string &path, char type)
{
	uint64_t h = mix64(fnv64(path.data(), path.size(), fnv64(&type, 1)));

	/* SLOT_RESERVED .. 0xfffffffe: never Xapian::BAD_VALUENO. */
	return static_cast<Xapian::valueno>(SLOT_RESERVED +
	    h % (0xffffffffULL - SLOT_RESERVED));
}

struct PathKeys {
	std::string text;    /* "XF" + code: TermGenerator words (stems: "Z" + it) */
	std::string exact;   /* "XE" + code + whole string (backticks) */
	std::string has;     /* "XH" + code: the field exists */
	Xapian::valueno num, date, str, geo, lat, lon, list;
};

PathKeys
path_keys(const std::string &path)
{
	PathKeys k;
	std::string code = letters16(mix64(fnv64(path.data(), path.size())));

	k.text = "XF" + code;
	k.exact = "XE" + code;
	k.has = "XH" + code;
	k.num = field_slot(path, ST_NUM);
	k.date = field_slot(path, ST_DATE);
	k.str = field_slot(path, ST_STR);
	k.geo = field_slot(path, ST_GEO);
	k.lat = field_slot(path, ST_LAT);
	k.lon = field_slot(path, ST_LON);
	k.list = field_slot(path, ST_LIST);
	return k;
}

/* Unfielded exact terms ("XU" + whole string) and metadata terms. */
const std::string EXACT_ANY = "XU";
const std::string T_KIND = "XPKIND:", T_COLL = "XPCOLL:", T_KEY = "XPKEY:",
    T_REF = "XPREF:", T_TYPE = "XPTYPE:", T_REL = "XPREL:", T_SCOLL = "XPSCOLL:",
    T_SKEY = "XPSKEY:", T_DCOLL = "XPDCOLL:", T_DKEY = "XPDKEY:";

std::string
cid_term(uint64_t cid)
{
	return "XC" + hex(be64(cid));
}

std::string
item_term(uint64_t cid, const char *key)
{
	std::string id = be64(cid);

	put_str(id, key);
	return "XI" + hex(fnv128(id));
}

std::string
kind_term(const char *kind)
{
	return T_KIND + kind;
}

/* The identity of a document, hashed: the unique term is "Q" + hex. */
std::string
uid_bytes(const struct search_doc *d)
{
	std::string id(1, static_cast<char>('0' + d->kind));

	id += be64(d->cid);
	put_str(id, d->key);
	if (d->kind == SEARCH_EVENT) {
		put_str(id, d->type);
		id += be64(static_cast<uint64_t>(d->timestamp));
		id += be64(d->ordinal);
	} else if (d->kind == SEARCH_RELATION) {
		put_str(id, d->relation);
		id += be64(d->dst_cid);
		put_str(id, d->dst_key);
	}
	return fnv128(id);
}

std::string
uid_term(const struct search_doc *d)
{
	return "Q" + hex(uid_bytes(d));
}

/* ---- metadata fields (@path.*) ---- */

enum MetaType { M_STR, M_NUM, M_ORD };

struct MetaField {
	const char *name;
	const std::string *term;   /* boolean term prefix; NULL: slot only */
	Xapian::valueno slot;
	MetaType type;
	const char *only_kind;     /* only documents of this kind have it */
};

const MetaField META_FIELDS[] = {
	{ "kind", &T_KIND, SLOT_KIND, M_STR, nullptr },
	{ "collection", &T_COLL, SLOT_COLL, M_STR, nullptr },
	{ "key", &T_KEY, SLOT_KEY, M_STR, nullptr },
	{ "ref", &T_REF, SLOT_REF, M_STR, nullptr },
	{ "reftime", nullptr, SLOT_REFTIME, M_NUM, nullptr },
	{ "type", &T_TYPE, SLOT_TYPE, M_STR, "event" },
	{ "timestamp", nullptr, SLOT_TIMESTAMP, M_NUM, "event" },
	{ "ordinal", nullptr, SLOT_ORDINAL, M_ORD, "event" },
	{ "relation", &T_REL, SLOT_REL, M_STR, "relationship" },
	{ "source.collection", &T_SCOLL, SLOT_COLL, M_STR, "relationship" },
	{ "source.key", &T_SKEY, SLOT_KEY, M_STR, "relationship" },
	{ "destination.collection", &T_DCOLL, SLOT_DCOLL, M_STR, "relationship" },
	{ "destination.key", &T_DKEY, SLOT_DKEY, M_STR, "relationship" },
};

enum FieldKind { F_ALL, F_VALUE, F_META, F_UNKNOWN };

struct FieldRef {
	FieldKind kind;
	std::string path;
	const MetaField *meta;
};

/* value.a.b and a.b: the JSON path a.b; "value" and no field: every
 * string of the value; @path.x: metadata; anything else starting with '@'
 * matches nothing. */
FieldRef
resolve_field(const char *field)
{
	FieldRef f = { F_ALL, std::string(), nullptr };

	if (field == nullptr || strcmp(field, "value") == 0)
		return f;
	if (strncmp(field, "@path.", 6) == 0) {
		for (const MetaField &m : META_FIELDS)
			if (strcmp(field + 6, m.name) == 0) {
				f.kind = F_META;
				f.meta = &m;
				return f;
			}
		f.kind = F_UNKNOWN;
		return f;
	}
	if (field[0] == '@' || field[0] == '\0') {
		f.kind = F_UNKNOWN;
		return f;
	}
	f.kind = F_VALUE;
	f.path = strncmp(field, "value.", 6) == 0 ? field + 6 : field;
	if (f.path.empty())
		f.kind = F_UNKNOWN;
	return f;
}

/* ---- numbers and dates ---- */

/* A number as JSON writes it (optionally with a leading '+'). */
bool
parse_number(const char *s, double *out)
{
	const char *p = s;

	if (*p == '-' || *p == '+')
		p++;
	if (!isdigit(static_cast<unsigned char>(*p)))
		return false;
	while (isdigit(static_cast<unsigned char>(*p)))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit(static_cast<unsigned char>(*p)))
			return false;
		while (isdigit(static_cast<unsigned char>(*p)))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit(static_cast<unsigned char>(*p)))
			return false;
		while (isdigit(static_cast<unsigned char>(*p)))
			p++;
	}
	if (*p != '\0')
		return false;
	errno = 0;
	double v = strtod(s, nullptr);
	if (!std::isfinite(v))
		return false;
	*out = v;
	return true;
}

int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = static_cast<unsigned>(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = static_cast<unsigned>(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool
digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit(static_cast<unsigned char>(s[i])))
			return false;
		v = v * 10 + static_cast<unsigned>(s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * ISO 8601 as common.md decides: YYYY-MM-DD, optionally THH:MM[:SS[.f+]]
 * and Z or +hh:mm / +hhmm (no zone: UTC). Milliseconds since the epoch.
 */
bool
parse_iso_date(const char *s, size_t n, int64_t *ms)
{
	unsigned y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
	size_t i = 10;

	if (n < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) ||
	    !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d))
		return false;
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
		return false;
	int64_t off_min = 0;
	if (i < n) {
		if (s[i] != 'T' || n < i + 6 || !digits(s + i + 1, 2, &h) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &mi))
			return false;
		i += 6;
		if (i < n && s[i] == ':') {
			if (n < i + 3 || !digits(s + i + 1, 2, &sec))
				return false;
			i += 3;
			if (i < n && s[i] == '.') {
				size_t nd = 0;
				i++;
				while (i < n && isdigit(static_cast<unsigned char>(s[i]))) {
					if (nd < 3)
						frac = frac * 10 + static_cast<unsigned>(s[i] - '0');
					nd++;
					i++;
				}
				if (nd == 0)
					return false;
				for (; nd < 3; nd++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || sec > 59)
			return false;
		if (i < n && s[i] == 'Z') {
			i++;
		} else if (i < n && (s[i] == '+' || s[i] == '-')) {
			unsigned oh, om;
			bool neg = s[i] == '-';
			if (n - i == 6 && s[i + 3] == ':' && digits(s + i + 1, 2, &oh) &&
			    digits(s + i + 4, 2, &om))
				i += 6;
			else if (n - i == 5 && digits(s + i + 1, 2, &oh) && digits(s + i + 3, 2, &om))
				i += 5;
			else
				return false;
			if (oh > 23 || om > 59)
				return false;
			off_min = (neg ? -1 : 1) * static_cast<int64_t>(oh * 60 + om);
		}
		if (i != n)
			return false;
	}
	int64_t days = days_from_civil(y, mo, d);
	*ms = ((days * 24 + h) * 60 + mi - off_min) * 60000 + static_cast<int64_t>(sec) * 1000 + frac;
	return true;
}

/* A JSON number for a double: integers without a fraction, others with
 * the fewest digits that read back the same. */
std::string
fmt_double(double v)
{
	char b[64];

	if (!std::isfinite(v))
		return "null";
	if (v == std::floor(v) && std::fabs(v) < 1e15) {
		snprintf(b, sizeof(b), "%.0f", v == 0 ? 0.0 : v);
		return b;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(b, sizeof(b), "%.*g", prec, v);
		if (strtod(b, nullptr) == v)
			break;
	}
	return b;
}

void
json_str(std::string &out, const char *s, size_t n)
{
	out += '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = static_cast<unsigned char>(s[i]);
		if (c == '"' || c == '\\') {
			out += '\\';
			out += static_cast<char>(c);
		} else if (c < 0x20) {
			char b[8];
			snprintf(b, sizeof(b), "\\u%04x", c);
			out += b;
		} else {
			out += static_cast<char>(c);
		}
	}
	out += '"';
}

void
json_str(std::string &out, const std::string &s)
{
	json_str(out, s.data(), s.size());
}

/* ---- geo ---- */

const Xapian::GreatCircleMetric METRIC;

double
unit_metres(const char *unit)
{
	static const struct {
		const char *name;
		double metres;
	} units[] = {
		{ "km", 1000 }, { "m", 1 }, { "cm", 0.01 }, { "mm", 0.001 },
		{ "mi", 1609.344 }, { "yd", 0.9144 }, { "ft", 0.3048 },
		{ "in", 0.0254 }, { "nmi", 1852 },
	};

	if (unit != nullptr)
		for (const auto &u : units)
			if (strcmp(unit, u.name) == 0)
				return u.metres;
	return 1;
}

/* Longitudes in slots and boxes are kept in -180..180. */
double
norm_lon(double lon)
{
	if (lon >= -180 && lon <= 180)
		return lon;
	double l = std::fmod(lon + 180, 360);
	if (l < 0)
		l += 360;
	return l - 180;
}

bool
json_number(json_object *o, double *v)
{
	json_type t = json_object_get_type(o);

	if (t != json_type_int && t != json_type_double)
		return false;
	*v = json_object_get_double(o);
	return std::isfinite(*v);
}

/* A geo point: an object with numeric lat|latitude and
 * lon|long|lng|longitude (latitude within ±90). */
bool
geo_point(json_object *o, double *lat, double *lon)
{
	static const char *const lats[] = { "lat", "latitude" };
	static const char *const lons[] = { "lon", "long", "lng", "longitude" };
	bool has_lat = false, has_lon = false;
	json_object *v;

	for (const char *k : lats)
		if (!has_lat && json_object_object_get_ex(o, k, &v) && json_number(v, lat))
			has_lat = true;
	for (const char *k : lons)
		if (!has_lon && json_object_object_get_ex(o, k, &v) && json_number(v, lon))
			has_lon = true;
	return has_lat && has_lon && *lat >= -90 && *lat <= 90;
}

/* ---- indexing: search_doc -> Xapian::Document ---- */

class DocBuilder {
public:
	explicit DocBuilder(Xapian::Document &doc) : doc_(doc)
	{
		tg_.set_stemmer(Xapian::Stem("english"));
		tg_.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
		tg_.set_document(doc_);
	}

	/* Indexes every field of the JSON value (len bytes at s). */
	void value(const char *s, size_t len);

private:
	const PathKeys &keys(const std::string &path);
	void walk(json_object *o, const std::string &path, int depth);
	void scalar_string(const std::string &path, const char *s, size_t n);
	void scalar_number(const std::string &path, json_object *o);
	void first(Xapian::valueno slot, const std::string &v);
	void list_add(const std::string &path, char type, const std::string &v);

	Xapian::Document &doc_;
	Xapian::TermGenerator tg_;
	std::unordered_map<std::string, PathKeys> keys_;
	std::set<Xapian::valueno> filled_;
	/* top_values: the distinct scalars of each path, encoded. */
	std::map<Xapian::valueno, std::pair<std::string, std::set<std::string>>> lists_;
};

const PathKeys &
DocBuilder::keys(const std::string &path)
{
	auto it = keys_.find(path);

	if (it == keys_.end())
		it = keys_.emplace(path, path_keys(path)).first;
	return it->second;
}

/* A slot keeps the first value of its type the walk meets (document
 * order; array elements in order). */
void
DocBuilder::first(Xapian::valueno slot, const std::string &v)
{
	if (filled_.insert(slot).second)
		doc_.add_value(slot, v);
}

void
DocBuilder::list_add(const std::string &path, char type, const std::string &v)
{
	auto &l = lists_[keys(path).list];
	std::string entry(1, type);

	entry += be64(v.size()).substr(4);
	entry += v;
	if (l.first.size() + entry.size() > MAX_LIST || !l.second.insert(entry).second)
		return;
	l.first += entry;
}

void
DocBuilder::scalar_string(const std::string &path, const char *s, size_t n)
{
	const PathKeys &k = keys(path);
	std::string str(s, n);
	int64_t ms;

	/* Words for the field and for the all-text field, each string apart
	 * from the next (no phrase across two strings). */
	tg_.index_text(str, 1, k.text);
	tg_.increase_termpos(STRING_GAP);
	tg_.index_text(str);
	tg_.increase_termpos(STRING_GAP);
	doc_.add_term(fit_term(k.exact, str));
	doc_.add_term(fit_term(EXACT_ANY, str));
	doc_.add_boolean_term(k.has);
	first(k.str, truncate_utf8(lower(str), MAX_SLOT_STRING));
	if (parse_iso_date(s, n, &ms))
		first(k.date, Xapian::sortable_serialise(static_cast<double>(ms)));
	list_add(path, 's', truncate_utf8(str, MAX_LIST_STRING));
}

void
DocBuilder::scalar_number(const std::string &path, json_object *o)
{
	const PathKeys &k = keys(path);
	const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	double v;

	if (txt == nullptr)
		throw std::bad_alloc();
	tg_.index_text(txt, 1, k.text);
	tg_.increase_termpos(STRING_GAP);
	doc_.add_term(fit_term(k.exact, txt, strlen(txt)));
	doc_.add_boolean_term(k.has);
	if (json_number(o, &v)) {
		/* Numbers also serve as dates: epoch milliseconds. */
		first(k.num, Xapian::sortable_serialise(v));
		first(k.date, Xapian::sortable_serialise(v));
	}
	list_add(path, 'n', txt);
}

void
DocBuilder::walk(json_object *o, const std::string &path, int depth)
{
	double lat = 0, lon = 0;

	switch (json_object_get_type(o)) {
	case json_type_null:
		return;
	case json_type_boolean: {
		const PathKeys &k = keys(path);
		const char *b = json_object_get_boolean(o) ? "true" : "false";
		tg_.index_text(b, 1, k.text);
		tg_.increase_termpos(STRING_GAP);
		doc_.add_boolean_term(k.has);
		first(k.str, b);
		return;
	}
	case json_type_int:
	case json_type_double:
		scalar_number(path, o);
		return;
	case json_type_string:
		scalar_string(path, json_object_get_string(o),
		    static_cast<size_t>(json_object_get_string_len(o)));
		return;
	case json_type_array: {
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++)
			walk(json_object_array_get_idx(o, i), path, depth + 1);
		return;
	}
	case json_type_object:
		break;
	}
	if (!path.empty()) {
		const PathKeys &k = keys(path);
		doc_.add_boolean_term(k.has);
		if (geo_point(o, &lat, &lon)) {
			Xapian::LatLongCoords c;
			c.append(Xapian::LatLongCoord(lat, lon));
			first(k.geo, c.serialise());
			first(k.lat, Xapian::sortable_serialise(lat));
			first(k.lon, Xapian::sortable_serialise(norm_lon(lon)));
		}
	}
	json_object_object_foreach(o, name, member) {
		walk(member, path.empty() ? std::string(name) : path + "." + name, depth + 1);
	}
}

void
DocBuilder::value(const char *s, size_t len)
{
	if (s == nullptr || len == 0)
		return;
	int depth = json_depth(s, len);
	json_tokener *tok = json_tokener_new_ex(depth + 2);
	if (tok == nullptr)
		throw std::bad_alloc();
	json_object *root = json_tokener_parse_ex(tok, s, static_cast<int>(len));
	bool whole = json_tokener_get_error(tok) == json_tokener_success &&
	    json_tokener_get_parse_end(tok) == len;
	json_tokener_free(tok);
	if (root == nullptr || !whole) {
		json_object_put(root);
		throw BadQuery{ "the value is not valid JSON" };
	}
	try {
		walk(root, std::string(), 0);
		for (auto &l : lists_)
			doc_.add_value(l.first, l.second.first);
	} catch (...) {
		json_object_put(root);
		throw;
	}
	json_object_put(root);
}

std::string
ms_value(int64_t ms)
{
	return Xapian::sortable_serialise(static_cast<double>(ms));
}

/* The fields that name a document (search_writer_delete needs no more). */
void
check_identity(const struct search_doc *d)
{
	if (d == nullptr || d->kind < SEARCH_ITEM || d->kind > SEARCH_RELATION ||
	    d->key == nullptr || (d->kind == SEARCH_EVENT && d->type == nullptr) ||
	    (d->kind == SEARCH_RELATION && (d->relation == nullptr || d->dst_key == nullptr)))
		throw BadQuery{ "the search document lacks a field of its identity" };
}

void
check_doc(const struct search_doc *d)
{
	check_identity(d);
	if (d->collection == nullptr || d->entry == nullptr ||
	    (d->kind == SEARCH_RELATION && d->dst_collection == nullptr))
		throw BadQuery{ "the search document lacks its collection or entry" };
}

void key_part(std::string &key, const std::string &v, bool desc);

/* The identity as one key: collection, key, kind, then the rest of an
 * event's or a relation's identity; an order of documents that survives a
 * rebuild (docids do not). Read from the document's metadata values. */
std::string
order_key(const Xapian::Document &doc)
{
	static const Xapian::valueno slots[] = { SLOT_COLL, SLOT_KEY, SLOT_KIND,
		SLOT_TYPE, SLOT_TIMESTAMP, SLOT_ORDINAL, SLOT_REL, SLOT_DCOLL, SLOT_DKEY };
	std::string key;

	for (Xapian::valueno slot : slots)
		key_part(key, doc.get_value(slot), false);
	return key;
}

Xapian::Document
make_doc(const struct search_doc *d)
{
	Xapian::Document doc;
	std::string uid = uid_bytes(d);
	const char *kind = KIND_NAME[d->kind];

	doc.set_data(std::string(d->entry, d->entry_len));
	doc.add_boolean_term("Q" + hex(uid));
	doc.add_boolean_term(kind_term(kind));
	doc.add_boolean_term(fit_term(T_COLL, d->collection, strlen(d->collection)));
	doc.add_boolean_term(fit_term(T_KEY, d->key, strlen(d->key)));
	if (d->ref != nullptr)
		doc.add_boolean_term(fit_term(T_REF, d->ref, strlen(d->ref)));
	doc.add_boolean_term(cid_term(d->cid));
	doc.add_boolean_term(item_term(d->cid, d->key));
	doc.add_value(SLOT_REFTIME, ms_value(d->reftime));
	doc.add_value(SLOT_KEY, d->key);
	doc.add_value(SLOT_KIND, kind);
	doc.add_value(SLOT_COLL, d->collection);
	if (d->ref != nullptr)
		doc.add_value(SLOT_REF, d->ref);
	doc.add_value(SLOT_UID, uid);
	if (d->kind == SEARCH_EVENT) {
		doc.add_boolean_term(fit_term(T_TYPE, d->type, strlen(d->type)));
		doc.add_value(SLOT_TYPE, d->type);
		doc.add_value(SLOT_TIMESTAMP, ms_value(d->timestamp));
		doc.add_value(SLOT_ORDINAL, be64(d->ordinal));
	} else if (d->kind == SEARCH_RELATION) {
		doc.add_boolean_term(fit_term(T_REL, d->relation, strlen(d->relation)));
		doc.add_boolean_term(fit_term(T_SCOLL, d->collection, strlen(d->collection)));
		doc.add_boolean_term(fit_term(T_SKEY, d->key, strlen(d->key)));
		doc.add_boolean_term(fit_term(T_DCOLL, d->dst_collection,
		    strlen(d->dst_collection)));
		doc.add_boolean_term(fit_term(T_DKEY, d->dst_key, strlen(d->dst_key)));
		/* A relation goes with either end's collection and item. */
		doc.add_boolean_term(cid_term(d->dst_cid));
		doc.add_boolean_term(item_term(d->dst_cid, d->dst_key));
		doc.add_value(SLOT_REL, d->relation);
		doc.add_value(SLOT_DCOLL, d->dst_collection);
		doc.add_value(SLOT_DKEY, d->dst_key);
	}
	/* Kept whole in one slot, so that relevance ties sort by a value
	 * (cheap) instead of a key made from nine values per match. */
	doc.add_value(SLOT_ORDER, order_key(doc));
	DocBuilder b(doc);
	b.value(d->value, d->vlen);
	return doc;
}

/* ---- query text analysis (the same TermGenerator as indexing) ---- */

struct Analysed {
	std::vector<std::string> words;   /* unstemmed terms in position order */
	std::vector<std::string> match;   /* per word: its stem if indexed, else it */
};

Analysed
analyse(const std::string &prefix, const char *text, size_t len)
{
	Xapian::Document scratch;
	Xapian::TermGenerator tg;
	Xapian::Stem stem("english");
	std::vector<std::pair<Xapian::termpos, std::string>> pos;
	std::set<std::string> all;
	Analysed out;

	tg.set_stemmer(stem);
	tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
	tg.set_document(scratch);
	tg.index_text(std::string(text != nullptr ? text : "", text != nullptr ? len : 0), 1,
	    prefix);
	for (auto t = scratch.termlist_begin(); t != scratch.termlist_end(); ++t) {
		all.insert(*t);
		/* Stems are "Z" + prefix + stem; words start with the prefix
		 * ("XF...") or a lowercase letter or digit, never with 'Z'. */
		if ((*t)[0] == 'Z')
			continue;
		for (auto p = t.positionlist_begin(); p != t.positionlist_end(); ++p)
			pos.emplace_back(*p, *t);
	}
	std::sort(pos.begin(), pos.end());
	for (auto &p : pos) {
		std::string z = "Z" + prefix + stem(p.second.substr(prefix.size()));
		out.words.push_back(p.second);
		out.match.push_back(all.count(z) != 0 ? z : p.second);
	}
	return out;
}

/* ---- wildcard and fuzzy matching over code points ---- */

std::vector<unsigned>
code_points(const std::string &s)
{
	std::vector<unsigned> out;

	for (Xapian::Utf8Iterator i(s); i != Xapian::Utf8Iterator(); ++i)
		out.push_back(*i);
	return out;
}

const unsigned GLOB_ONE = 0xffffffffu, GLOB_ANY = 0xfffffffeu;

/* A lucene_node wildcard pattern ('\' escapes) as code points with
 * GLOB_ONE / GLOB_ANY; *head gets the literal text before the first
 * wildcard. lowercase: fold the literals (value fields). */
std::vector<unsigned>
glob_compile(const char *pat, bool lowercase, std::string *head)
{
	std::vector<unsigned> out;
	std::vector<unsigned> cps = code_points(pat);
	bool wild = false;

	head->clear();
	for (size_t i = 0; i < cps.size(); i++) {
		unsigned c = cps[i];
		if (c == '\\' && i + 1 < cps.size()) {
			c = cps[++i];
		} else if (c == '*' || c == '?') {
			out.push_back(c == '*' ? GLOB_ANY : GLOB_ONE);
			wild = true;
			continue;
		}
		if (lowercase)
			c = Xapian::Unicode::tolower(c);
		out.push_back(c);
		if (!wild)
			Xapian::Unicode::append_utf8(*head, c);
	}
	return out;
}

bool
glob_match(const std::vector<unsigned> &p, const std::vector<unsigned> &s)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < s.size()) {
		if (pi < p.size() && p[pi] == GLOB_ANY) {
			star = pi++;
			mark = si;
		} else if (pi < p.size() && (p[pi] == GLOB_ONE || p[pi] == s[si])) {
			pi++;
			si++;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			si = ++mark;
		} else {
			return false;
		}
	}
	while (pi < p.size() && p[pi] == GLOB_ANY)
		pi++;
	return pi == p.size();
}

/* Damerau-Levenshtein, optimal string alignment; more than max: max + 1. */
unsigned
osa_distance(const std::vector<unsigned> &a, const std::vector<unsigned> &b, unsigned max)
{
	size_t n = a.size(), m = b.size();

	if ((n > m ? n - m : m - n) > max)
		return max + 1;
	std::vector<unsigned> prev2(m + 1), prev(m + 1), cur(m + 1);
	for (size_t j = 0; j <= m; j++)
		prev[j] = static_cast<unsigned>(j);
	for (size_t i = 1; i <= n; i++) {
		cur[0] = static_cast<unsigned>(i);
		unsigned rowmin = cur[0];
		for (size_t j = 1; j <= m; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned v = std::min({ prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost });
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
				v = std::min(v, prev2[j - 2] + 1);
			cur[j] = v;
			rowmin = std::min(rowmin, v);
		}
		if (rowmin > max)
			return max + 1;
		std::swap(prev2, prev);
		std::swap(prev, cur);
	}
	return prev[m];
}

/* ---- query building: lucene_node -> Xapian::Query ---- */

struct Built {
	Xapian::Query q;
	bool dropped;   /* analysed to nothing: Lucene leaves the clause out */
};

Xapian::Query
value_range(Xapian::valueno slot, const std::string *lo, const std::string *hi)
{
	if (lo != nullptr && hi != nullptr) {
		if (*lo > *hi)
			return Xapian::Query::MatchNothing;
		return Xapian::Query(Xapian::Query::OP_VALUE_RANGE, slot, *lo, *hi);
	}
	if (lo != nullptr)
		return Xapian::Query(Xapian::Query::OP_VALUE_GE, slot, *lo);
	if (hi != nullptr)
		return Xapian::Query(Xapian::Query::OP_VALUE_LE, slot, *hi);
	return Xapian::Query::MatchNothing;
}

/* A numeric range (doubles, sortable_serialise): exclusive ends move to
 * the next representable double. */
Xapian::Query
num_range(Xapian::valueno slot, const double *lo, bool lo_incl, const double *hi, bool hi_incl)
{
	std::string l, h;

	if (lo != nullptr)
		l = Xapian::sortable_serialise(lo_incl ? *lo : std::nextafter(*lo, HUGE_VAL));
	if (hi != nullptr)
		h = Xapian::sortable_serialise(hi_incl ? *hi : std::nextafter(*hi, -HUGE_VAL));
	if (lo != nullptr && hi != nullptr) {
		double a = lo_incl ? *lo : std::nextafter(*lo, HUGE_VAL);
		double b = hi_incl ? *hi : std::nextafter(*hi, -HUGE_VAL);
		if (a > b)
			return Xapian::Query::MatchNothing;
	}
	return value_range(slot, lo != nullptr ? &l : nullptr, hi != nullptr ? &h : nullptr);
}

/* A byte-string range: an exclusive lower end a is a + "\0"; an
 * exclusive upper end takes the equal value away. */
Xapian::Query
str_range(Xapian::valueno slot, const std::string *lo, bool lo_incl, const std::string *hi,
    bool hi_incl)
{
	std::string l;

	if (lo != nullptr) {
		l = *lo;
		if (!lo_incl)
			l += '\0';
	}
	Xapian::Query q = value_range(slot, lo != nullptr ? &l : nullptr, hi);
	if (hi != nullptr && !hi_incl)
		q = Xapian::Query(Xapian::Query::OP_AND_NOT, q,
		    Xapian::Query(Xapian::Query::OP_VALUE_RANGE, slot, *hi, *hi));
	return q;
}

class QueryBuilder {
public:
	QueryBuilder(const Xapian::Database &db, unsigned max_expansion)
	    : db_(db), max_(max_expansion) {}

	Xapian::Query top(const struct lucene_node *root, const char *collection);

private:
	Built node(const struct lucene_node *n);
	Built boolean(const struct lucene_node *n);
	Xapian::Query leaf(const struct lucene_node *n, bool *dropped);
	Xapian::Query term(const FieldRef &f, const struct lucene_node *n, bool *dropped);
	Xapian::Query phrase(const FieldRef &f, const struct lucene_node *n, bool *dropped);
	Xapian::Query exact(const FieldRef &f, const struct lucene_node *n);
	Xapian::Query meta_value(const FieldRef &f, const char *text);
	Xapian::Query exists(const FieldRef &f);
	Xapian::Query expansion(const FieldRef &f, const struct lucene_node *n);
	Xapian::Query range(const FieldRef &f, const struct lucene_node *n);
	Xapian::Query near(const FieldRef &f, const struct lucene_node *n);
	Xapian::Query in(const FieldRef &f, const struct lucene_node *n);
	template <class Pred>
	Xapian::Query expand(const std::string &prefix, const std::string &start, bool is_prefix,
	    const std::string *stop, bool skip_upper, Pred pred, const struct lucene_node *n);

	const Xapian::Database &db_;
	unsigned max_;
};

Xapian::Query
only_kind(const MetaField *m, Xapian::Query q)
{
	if (m->only_kind == nullptr)
		return q;
	return Xapian::Query(Xapian::Query::OP_FILTER, q,
	    Xapian::Query(kind_term(m->only_kind)));
}

/* The value of a metadata field named in a term, phrase or exact clause. */
Xapian::Query
QueryBuilder::meta_value(const FieldRef &f, const char *text)
{
	const MetaField *m = f.meta;
	double v;
	int64_t ms;
	uint64_t ord;

	switch (m->type) {
	case M_STR:
		if (m->slot == SLOT_KIND && strcmp(text, "relation") == 0)
			text = "relationship";
		return Xapian::Query(fit_term(*m->term, text, strlen(text)));
	case M_NUM:
		if (parse_number(text, &v))
			return num_range(m->slot, &v, true, &v, true);
		if (parse_iso_date(text, strlen(text), &ms)) {
			v = static_cast<double>(ms);
			return num_range(m->slot, &v, true, &v, true);
		}
		return Xapian::Query::MatchNothing;
	case M_ORD:
		if (evpos_parse_ordinal(text, strlen(text), &ord) != 0)
			return Xapian::Query::MatchNothing;
		return Xapian::Query(Xapian::Query::OP_VALUE_RANGE, m->slot, be64(ord), be64(ord));
	}
	return Xapian::Query::MatchNothing;
}

/* A word clause: every token's stem (its word when it has none, as
 * numbers), OR-ed as Lucene does with the tokens of one unquoted term. */
Xapian::Query
QueryBuilder::term(const FieldRef &f, const struct lucene_node *n, bool *dropped)
{
	if (f.kind == F_META)
		return meta_value(f, n->text);
	Analysed a = analyse(f.kind == F_ALL ? std::string() : path_keys(f.path).text, n->text,
	    n->len);
	std::vector<std::string> terms = a.match;
	std::sort(terms.begin(), terms.end());
	terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
	if (terms.empty()) {
		*dropped = true;
		return Xapian::Query::MatchNothing;
	}
	if (terms.size() == 1)
		return Xapian::Query(terms[0]);
	return Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end());
}

/*
 * A phrase over unstemmed positional words. Slop s, Lucene's edit
 * distance over positions: 2 words: exact (PHRASE window 2+s, OR NEAR
 * window s once s >= 2 lets them swap); more words: NEAR window n+s, a
 * superset (it also lets words change places at no cost).
 */
Xapian::Query
QueryBuilder::phrase(const FieldRef &f, const struct lucene_node *n, bool *dropped)
{
	if (f.kind == F_META)
		return meta_value(f, n->text);
	Analysed a = analyse(f.kind == F_ALL ? std::string() : path_keys(f.path).text, n->text,
	    n->len);
	const std::vector<std::string> &w = a.words;
	Xapian::termcount slop = n->slop > 0 ? static_cast<Xapian::termcount>(n->slop) : 0;
	Xapian::termcount nw = static_cast<Xapian::termcount>(w.size());

	if (w.empty()) {
		*dropped = true;
		return Xapian::Query::MatchNothing;
	}
	if (w.size() == 1)
		return Xapian::Query(w[0]);
	if (w.size() == 2) {
		Xapian::Query ph(Xapian::Query::OP_PHRASE, w.begin(), w.end(), 2 + slop);
		if (slop < 2)
			return ph;
		return Xapian::Query(Xapian::Query::OP_OR, ph,
		    Xapian::Query(Xapian::Query::OP_NEAR, w.begin(), w.end(), slop));
	}
	if (slop == 0)
		return Xapian::Query(Xapian::Query::OP_PHRASE, w.begin(), w.end(), nw);
	return Xapian::Query(Xapian::Query::OP_NEAR, w.begin(), w.end(), nw + slop);
}

Xapian::Query
QueryBuilder::exact(const FieldRef &f, const struct lucene_node *n)
{
	switch (f.kind) {
	case F_ALL:
		return Xapian::Query(fit_term(EXACT_ANY, n->text, n->len));
	case F_VALUE:
		return Xapian::Query(fit_term(path_keys(f.path).exact, n->text, n->len));
	case F_META:
		return meta_value(f, n->text);
	case F_UNKNOWN:
		break;
	}
	return Xapian::Query::MatchNothing;
}

/* field:* */
Xapian::Query
QueryBuilder::exists(const FieldRef &f)
{
	switch (f.kind) {
	case F_ALL:
		return Xapian::Query::MatchAll;
	case F_VALUE:
		return Xapian::Query(path_keys(f.path).has);
	case F_META:
		if (f.meta->only_kind != nullptr)
			return Xapian::Query(kind_term(f.meta->only_kind));
		return Xapian::Query::MatchAll;
	case F_UNKNOWN:
		break;
	}
	return Xapian::Query::MatchNothing;
}

std::string
clause_text(const struct lucene_node *n)
{
	std::string s;

	if (n->field != nullptr) {
		s += n->field;
		s += ':';
	}
	if (n->kind == LQ_RANGE) {
		s += n->lo_incl ? '[' : '{';
		s += n->lo != nullptr ? n->lo : "*";
		s += " TO ";
		s += n->hi != nullptr ? n->hi : "*";
		s += n->hi_incl ? ']' : '}';
	} else if (n->text != nullptr) {
		s += n->text;
		if (n->kind == LQ_PREFIX)
			s += '*';
		else if (n->kind == LQ_FUZZY)
			s += "~" + std::to_string(n->edits);
	}
	return s;
}

/*
 * The terms under prefix whose rest satisfies pred, as one OP_SYNONYM:
 * rests starting with start (is_prefix), or from start up to *stop when
 * stop is given. More than max_ (0: no cap) is SEARCH_BAD. skip_upper:
 * the prefix is the all-text field's empty one, so every capitalised
 * (prefixed) term is someone else's and jumped over.
 */
template <class Pred>
Xapian::Query
QueryBuilder::expand(const std::string &prefix, const std::string &start, bool is_prefix,
    const std::string *stop, bool skip_upper, Pred pred, const struct lucene_node *n)
{
	std::vector<std::string> terms;
	Xapian::TermIterator t = db_.allterms_begin(prefix), end = db_.allterms_end(prefix);

	if (!start.empty())
		t.skip_to(prefix + start);
	while (t != end) {
		const std::string term = *t;
		std::string rest = term.substr(prefix.size());
		if (is_prefix && rest.compare(0, start.size(), start) != 0)
			break;
		if (stop != nullptr && rest > *stop)
			break;
		if (skip_upper && !rest.empty() && rest[0] >= 'A' && rest[0] <= 'Z') {
			t.skip_to("[");   /* 'Z' + 1: past every prefixed term */
			continue;
		}
		if (pred(rest)) {
			if (max_ != 0 && terms.size() >= max_)
				throw BadQuery{ clause_text(n) + " expands to more than " +
				    std::to_string(max_) + " terms" };
			terms.push_back(term);
		}
		++t;
	}
	if (terms.empty())
		return Xapian::Query::MatchNothing;
	return Xapian::Query(Xapian::Query::OP_SYNONYM, terms.begin(), terms.end());
}

/* Wildcard, prefix and fuzzy: over the field's unstemmed words
 * (lowercased; metadata values as they are). */
Xapian::Query
QueryBuilder::expansion(const FieldRef &f, const struct lucene_node *n)
{
	std::string prefix;
	bool fold = true;

	if (f.kind == F_UNKNOWN || (f.kind == F_META && f.meta->type != M_STR))
		return Xapian::Query::MatchNothing;
	if (f.kind == F_VALUE)
		prefix = path_keys(f.path).text;
	else if (f.kind == F_META) {
		prefix = *f.meta->term;
		fold = false;
	}
	bool skip_upper = f.kind == F_ALL;
	std::string text = n->text != nullptr ? n->text : "";

	if (n->kind == LQ_FUZZY) {
		std::string t = fold ? lower(text) : text;
		std::vector<unsigned> want = code_points(t);
		unsigned edits = n->edits > 0 ? static_cast<unsigned>(std::min(n->edits, 2)) : 0;
		/* Lucene's rule: a match needs fewer edits than the shorter
		 * word has code points (an exact match always counts). */
		auto pred = [&](const std::string &rest) {
			std::vector<unsigned> cand = code_points(rest);
			unsigned d = osa_distance(want, cand, edits);
			return d == 0 || (d <= edits && d < std::min(want.size(), cand.size()));
		};
		return expand(prefix, std::string(), true, nullptr, skip_upper, pred, n);
	}
	std::string head;
	std::vector<unsigned> pat;
	if (n->kind == LQ_PREFIX) {
		head = fold ? lower(text) : text;
		pat = code_points(head);
		pat.push_back(GLOB_ANY);
	} else {
		pat = glob_compile(text.c_str(), fold, &head);
	}
	auto pred = [&](const std::string &rest) { return glob_match(pat, code_points(rest)); };
	return expand(prefix, head, true, nullptr, skip_upper, pred, n);
}

enum RangeType { R_NUM, R_DATE, R_STR };

/* Ranges: both given ends numbers: numeric; both ISO-8601 dates: dates
 * (epoch ms); else strings (lowercased for value fields). */
Xapian::Query
QueryBuilder::range(const FieldRef &f, const struct lucene_node *n)
{
	const char *ends[2] = { n->lo, n->hi };
	double num[2], dt[2];
	bool all_num = true, all_date = true;

	for (int i = 0; i < 2; i++) {
		if (ends[i] == nullptr)
			continue;
		int64_t ms;
		if (!parse_number(ends[i], &num[i]))
			all_num = false;
		if (parse_iso_date(ends[i], strlen(ends[i]), &ms))
			dt[i] = static_cast<double>(ms);
		else
			all_date = false;
	}
	if (f.kind == F_UNKNOWN)
		return Xapian::Query::MatchNothing;
	if (n->lo == nullptr && n->hi == nullptr)
		return exists(f);
	const double *lo, *hi;
	if (f.kind == F_META && f.meta->type == M_NUM) {
		const double *src = all_num ? num : all_date ? dt : nullptr;
		if (src == nullptr)
			return Xapian::Query::MatchNothing;
		lo = n->lo != nullptr ? &src[0] : nullptr;
		hi = n->hi != nullptr ? &src[1] : nullptr;
		return only_kind(f.meta, num_range(f.meta->slot, lo, n->lo_incl, hi, n->hi_incl));
	}
	if (f.kind == F_META && f.meta->type == M_ORD) {
		uint64_t o[2];
		std::string b[2];
		for (int i = 0; i < 2; i++)
			if (ends[i] != nullptr) {
				if (evpos_parse_ordinal(ends[i], strlen(ends[i]), &o[i]) != 0)
					return Xapian::Query::MatchNothing;
				b[i] = be64(o[i]);
			}
		return only_kind(f.meta, str_range(f.meta->slot, n->lo ? &b[0] : nullptr,
		    n->lo_incl, n->hi ? &b[1] : nullptr, n->hi_incl));
	}
	if (f.kind == F_META) {
		std::string b[2];
		for (int i = 0; i < 2; i++)
			if (ends[i] != nullptr)
				b[i] = ends[i];
		return only_kind(f.meta, str_range(f.meta->slot, n->lo ? &b[0] : nullptr,
		    n->lo_incl, n->hi ? &b[1] : nullptr, n->hi_incl));
	}
	std::string b[2];
	for (int i = 0; i < 2; i++)
		if (ends[i] != nullptr)
			b[i] = truncate_utf8(lower(ends[i]), MAX_SLOT_STRING);
	if (f.kind == F_ALL) {
		/* No slot holds every string: the all-text words in the range. */
		std::string lo_s = n->lo != nullptr ? b[0] : std::string();
		std::string hi_s = n->hi != nullptr ? b[1] : std::string();
		auto pred = [&](const std::string &w) {
			if (n->lo != nullptr && (w < lo_s || (!n->lo_incl && w == lo_s)))
				return false;
			return n->hi == nullptr || w < hi_s || (n->hi_incl && w == hi_s);
		};
		return expand(std::string(), lo_s, false, n->hi != nullptr ? &hi_s : nullptr, true,
		    pred, n);
	}
	PathKeys k = path_keys(f.path);
	if (all_num)
		return num_range(k.num, n->lo ? &num[0] : nullptr, n->lo_incl,
		    n->hi ? &num[1] : nullptr, n->hi_incl);
	if (all_date)
		return num_range(k.date, n->lo ? &dt[0] : nullptr, n->lo_incl,
		    n->hi ? &dt[1] : nullptr, n->hi_incl);
	return str_range(k.str, n->lo ? &b[0] : nullptr, n->lo_incl, n->hi ? &b[1] : nullptr,
	    n->hi_incl);
}

/* NEAR: a filter of the points within the radius (great circle). */
Xapian::Query
QueryBuilder::near(const FieldRef &f, const struct lucene_node *n)
{
	if (f.kind != F_VALUE)
		return Xapian::Query::MatchNothing;
	if (!std::isfinite(n->lat) || n->lat < -90 || n->lat > 90 || !std::isfinite(n->lon))
		throw BadQuery{ clause_text(n) + ": latitude must be within -90..90" };
	if (!std::isfinite(n->radius_m) || n->radius_m < 0)
		throw BadQuery{ clause_text(n) + ": the distance must not be negative" };
	Xapian::LatLongCoords centre;
	centre.append(Xapian::LatLongCoord(n->lat, n->lon));
	/* Xapian reads a range of 0 as "no limit". */
	double range = n->radius_m > 0 ? n->radius_m : 1e-9;
	Xapian::PostingSource *ps = new Xapian::LatLongDistancePostingSource(
	    path_keys(f.path).geo, centre, METRIC, range);
	return Xapian::Query(Xapian::Query::OP_SCALE_WEIGHT, Xapian::Query(ps->release()), 0);
}

/* IN: the box on the latitude and longitude slots; west > east crosses
 * the antimeridian. */
Xapian::Query
QueryBuilder::in(const FieldRef &f, const struct lucene_node *n)
{
	if (f.kind != F_VALUE)
		return Xapian::Query::MatchNothing;
	PathKeys k = path_keys(f.path);
	double s = n->south, no = n->north, w = norm_lon(n->west), e = norm_lon(n->east);
	double lo = -180, hi = 180;
	Xapian::Query lat = num_range(k.lat, &s, true, &no, true), lon;

	if (w <= e)
		lon = num_range(k.lon, &w, true, &e, true);
	else
		lon = Xapian::Query(Xapian::Query::OP_OR, num_range(k.lon, &w, true, &hi, true),
		    num_range(k.lon, &lo, true, &e, true));
	return Xapian::Query(Xapian::Query::OP_AND, lat, lon);
}

Xapian::Query
QueryBuilder::leaf(const struct lucene_node *n, bool *dropped)
{
	FieldRef f = resolve_field(n->field);

	if (f.kind == F_UNKNOWN)
		return Xapian::Query::MatchNothing;
	switch (n->kind) {
	case LQ_ALL:
		return exists(f);
	case LQ_TERM:
		return term(f, n, dropped);
	case LQ_PHRASE:
		return phrase(f, n, dropped);
	case LQ_EXACT:
		return exact(f, n);
	case LQ_WILDCARD:
	case LQ_PREFIX:
	case LQ_FUZZY:
		return expansion(f, n);
	case LQ_RANGE:
		return range(f, n);
	case LQ_NEAR:
		return near(f, n);
	case LQ_IN:
		return in(f, n);
	case LQ_BOOL:
		break;
	}
	return Xapian::Query::MatchNothing;
}

/*
 * Lucene's clause lists (lucene.h): MUST set M, SHOULD set S, MUST_NOT
 * set N: AND(M), AND_MAYBE(AND(M), OR(S)) when both, OR(S) alone, then
 * AND_NOT(..., OR(N)); only N: everything but them (Elasticsearch's rule).
 */
Built
QueryBuilder::boolean(const struct lucene_node *n)
{
	std::vector<Xapian::Query> must, should, mustnot;

	for (size_t i = 0; i < n->nclauses; i++) {
		Built c = node(n->clauses[i].node);
		if (c.dropped)
			continue;
		switch (n->clauses[i].occur) {
		case LO_MUST:
			must.push_back(c.q);
			break;
		case LO_SHOULD:
			should.push_back(c.q);
			break;
		case LO_MUST_NOT:
			mustnot.push_back(c.q);
			break;
		}
	}
	if (must.empty() && should.empty() && mustnot.empty())
		return Built{ Xapian::Query::MatchNothing, true };
	Xapian::Query base;
	if (!must.empty()) {
		base = Xapian::Query(Xapian::Query::OP_AND, must.begin(), must.end());
		if (!should.empty())
			base = Xapian::Query(Xapian::Query::OP_AND_MAYBE, base,
			    Xapian::Query(Xapian::Query::OP_OR, should.begin(), should.end()));
	} else if (!should.empty()) {
		base = Xapian::Query(Xapian::Query::OP_OR, should.begin(), should.end());
	} else {
		base = Xapian::Query::MatchAll;
	}
	if (!mustnot.empty())
		base = Xapian::Query(Xapian::Query::OP_AND_NOT, base,
		    Xapian::Query(Xapian::Query::OP_OR, mustnot.begin(), mustnot.end()));
	return Built{ base, false };
}

Built
QueryBuilder::node(const struct lucene_node *n)
{
	Built b{ Xapian::Query::MatchNothing, false };

	if (n == nullptr)
		return Built{ Xapian::Query::MatchNothing, true };
	if (n->kind == LQ_BOOL)
		b = boolean(n);
	else
		b.q = leaf(n, &b.dropped);
	if (!b.dropped && n->boost != 1.0) {
		double boost = std::isfinite(n->boost) && n->boost > 0 ? n->boost : 0;
		b.q = Xapian::Query(Xapian::Query::OP_SCALE_WEIGHT, b.q, boost);
	}
	return b;
}

bool
names_kind(const struct lucene_node *n)
{
	if (n == nullptr)
		return false;
	if (n->field != nullptr && strcmp(n->field, "@path.kind") == 0)
		return true;
	if (n->kind == LQ_BOOL)
		for (size_t i = 0; i < n->nclauses; i++)
			if (names_kind(n->clauses[i].node))
				return true;
	return false;
}

/* The first NEAR clause (preorder), on field path when path is given. */
const struct lucene_node *
find_near(const struct lucene_node *n, const std::string *path)
{
	if (n == nullptr)
		return nullptr;
	if (n->kind == LQ_NEAR) {
		FieldRef f = resolve_field(n->field);
		if (f.kind == F_VALUE && (path == nullptr || f.path == *path))
			return n;
	}
	if (n->kind == LQ_BOOL)
		for (size_t i = 0; i < n->nclauses; i++) {
			const struct lucene_node *r = find_near(n->clauses[i].node, path);
			if (r != nullptr)
				return r;
		}
	return nullptr;
}

/* The whole query: the tree, the kind rule, the collection filter. */
Xapian::Query
QueryBuilder::top(const struct lucene_node *root, const char *collection)
{
	Built b = root != nullptr ? node(root) : Built{ Xapian::Query::MatchAll, false };
	Xapian::Query q = b.dropped ? Xapian::Query::MatchNothing : b.q;

	if (!names_kind(root))
		q = Xapian::Query(Xapian::Query::OP_FILTER, q, Xapian::Query(kind_term("item")));
	if (collection != nullptr)
		q = Xapian::Query(Xapian::Query::OP_FILTER, q,
		    Xapian::Query(fit_term(T_COLL, collection, strlen(collection))));
	return q;
}

/* ---- geo context of a query: a NEAR clause's centre and unit ---- */

struct NearRef {
	bool ok = false;
	Xapian::valueno slot = 0;
	Xapian::LatLongCoords centre;
	double unit = 1;   /* metres per unit of the clause */

	/* The centre and unit of NEAR clause n; the points of path (a field
	 * measured from another field's centre), else of n's own field. */
	void set(const struct lucene_node *n, const std::string *path = nullptr)
	{
		if (n == nullptr)
			return;
		ok = true;
		slot = path_keys(path != nullptr ? *path : resolve_field(n->field).path).geo;
		centre.append(Xapian::LatLongCoord(n->lat, n->lon));
		unit = unit_metres(n->unit);
	}

	/* The distance of doc's point in the clause's unit; false: none. */
	bool distance(const Xapian::Document &doc, double *d) const
	{
		std::string v = doc.get_value(slot);
		if (!ok || v.empty())
			return false;
		Xapian::LatLongCoords c;
		c.unserialise(v);
		*d = METRIC(centre, c) / unit;
		return true;
	}
};

/* ---- sort keys ---- */

/*
 * Appends v to key so that byte order of keys is v's order, ascending or
 * descending, and no encoding is a prefix of another (so the next
 * clause's part compares only on ties). Ascending: 0x00 -> 00 01, end
 * 00 00. Descending: bytes inverted, 0xff -> ff 00, end ff ff.
 */
void
key_part(std::string &key, const std::string &v, bool desc)
{
	for (unsigned char c : v) {
		if (!desc) {
			key += static_cast<char>(c);
			if (c == 0)
				key += '\x01';
		} else {
			unsigned char r = static_cast<unsigned char>(0xff - c);
			key += static_cast<char>(r);
			if (r == 0xff)
				key += '\0';
		}
	}
	key += desc ? std::string("\xff\xff", 2) : std::string("\0\0", 2);
}

struct SortClause {
	enum { VALUE, RANDOM, DISTANCE, IDENTITY } type;
	Xapian::valueno slot;
	bool desc;
	uint64_t seed;
	NearRef near;
};

class SortKeys : public Xapian::KeyMaker {
public:
	std::vector<SortClause> clauses;

	/* A document order that survives a rebuild (docids do not):
	 * collection, key, kind, then the rest of an event's or a relation's
	 * identity. */
	static void identity(std::string &key, const Xapian::Document &doc)
	{
		key += doc.get_value(SLOT_ORDER);
	}

	/* Each clause: 0x00 and its part, or 0x01 when the document lacks the
	 * value: missing values sort last in both directions. */
	std::string operator()(const Xapian::Document &doc) const override
	{
		std::string key;

		for (const SortClause &c : clauses) {
			std::string v;
			double d;
			switch (c.type) {
			case SortClause::VALUE:
				v = doc.get_value(c.slot);
				break;
			case SortClause::RANDOM: {
				std::string uid = doc.get_value(SLOT_UID);
				v = be64(mix64(fnv64(uid.data(), uid.size(), mix64(c.seed))));
				break;
			}
			case SortClause::DISTANCE:
				if (c.near.distance(doc, &d))
					v = Xapian::sortable_serialise(d);
				break;
			case SortClause::IDENTITY:
				identity(key, doc);
				continue;
			}
			if (v.empty()) {
				key += '\x01';
				continue;
			}
			key += '\0';
			key_part(key, v, c.desc);
		}
		return key;
	}
};

uint64_t
fresh_seed()
{
	try {
		std::random_device rd;
		return (static_cast<uint64_t>(rd()) << 32) ^ rd();
	} catch (const std::exception &) {
		return mix64(static_cast<uint64_t>(time(nullptr)) ^
		    static_cast<uint64_t>(getpid()));
	}
}

/*
 * Sets the order of enq from the sort clauses: the clauses before the
 * first _score make the key, ties by relevance then docid; a leading
 * _score sorts by relevance, ties by the clauses after it, then by
 * identity; no clause: relevance, ties by identity (SortKeys::identity),
 * so equal scores keep their order across an index rebuild. Clauses after
 * a later _score cannot apply (relevance ties are rare) and are ignored;
 * _score is always descending.
 */
void
set_order(Xapian::Enquire &enq, SortKeys &keys, const Xapian::Database &db,
    const struct search_query *q, const struct lucene_node *root)
{
	bool score_first = false;

	for (size_t i = 0; i < q->nsort; i++) {
		const struct search_sort &s = q->sort[i];
		SortClause c{ SortClause::VALUE, 0, s.desc, 0, NearRef() };
		if (s.kind == SORT_SCORE) {
			if (i == 0) {
				score_first = true;
				continue;
			}
			break;
		}
		if (s.kind == SORT_RANDOM) {
			c.type = SortClause::RANDOM;
			c.seed = s.seeded ? s.seed : fresh_seed();
			c.desc = false;
			keys.clauses.push_back(c);
			continue;
		}
		FieldRef f = resolve_field(s.field);
		if (s.kind == SORT_DISTANCE) {
			/* The centre of the NEAR clause on this field, else of the
			 * query's first NEAR clause (the npm client's own tests ask
			 * for distances of one field from another's centre). */
			const struct lucene_node *nn = f.kind == F_VALUE ? find_near(root, &f.path) : nullptr;
			if (nn == nullptr && f.kind == F_VALUE)
				nn = find_near(root, nullptr);
			if (nn == nullptr)
				throw BadQuery{ std::string("sorting by the distance of ") +
				    (s.field ? s.field : "") + " needs a NEAR clause in the query" };
			c.type = SortClause::DISTANCE;
			c.near.set(nn, &f.path);
		} else if (f.kind == F_META) {
			c.slot = f.meta->slot;
		} else if (f.kind == F_VALUE && s.kind == SORT_FIELD) {
			PathKeys k = path_keys(f.path);
			/* Numeric when the field holds numbers, else strings. */
			c.slot = db.get_value_freq(k.num) > 0 ? k.num : k.str;
		} else {
			throw BadQuery{ std::string("cannot sort by ") + (s.field ? s.field : "") };
		}
		keys.clauses.push_back(c);
	}
	if (keys.clauses.empty()) {
		enq.set_sort_by_relevance_then_value(SLOT_ORDER, false);
	} else if (score_first) {
		keys.clauses.push_back(SortClause{ SortClause::IDENTITY, 0, false, 0, NearRef() });
		enq.set_sort_by_relevance_then_key(&keys, false);
	} else {
		enq.set_sort_by_key_then_relevance(&keys, false);
	}
}

/* ---- aggregates ---- */

/* time_series labels of ms (already shifted by the zone), false when
 * outside years 0..9999. */
bool
series_label(double ms, enum search_interval iv, std::string *out)
{
	if (!(ms >= -62167219200000.0 && ms <= 253402300799999.0))
		return false;
	int64_t t = static_cast<int64_t>(std::floor(ms));
	int64_t days = t >= 0 ? t / 86400000 : -((-t + 86399999) / 86400000);
	int64_t hour = (t - days * 86400000) / 3600000;
	int64_t y;
	unsigned m, d;
	char b[40];

	civil_from_days(days, &y, &m, &d);
	switch (iv) {
	case IV_YEAR:
		snprintf(b, sizeof(b), "%04" PRId64, y);
		break;
	case IV_QUARTER:
		snprintf(b, sizeof(b), "%04" PRId64 "-Q%u", y, (m - 1) / 3 + 1);
		break;
	case IV_MONTH:
		snprintf(b, sizeof(b), "%04" PRId64 "-%02u", y, m);
		break;
	case IV_WEEK: {
		/* ISO 8601: the week (Monday first) with the year's first
		 * Thursday is week 1; the Thursday of a week names its year. */
		int64_t wd = ((days % 7) + 7 + 3) % 7 + 1;   /* 1970-01-01: Thursday */
		int64_t thu = days - (wd - 4);
		int64_t ty;
		unsigned tm, td;
		civil_from_days(thu, &ty, &tm, &td);
		int64_t week = (thu - days_from_civil(ty, 1, 1)) / 7 + 1;
		snprintf(b, sizeof(b), "%04" PRId64 "-W%02" PRId64, ty, week);
		break;
	}
	case IV_DAY:
		snprintf(b, sizeof(b), "%04" PRId64 "-%02u-%02u", y, m, d);
		break;
	case IV_HOUR:
		snprintf(b, sizeof(b), "%04" PRId64 "-%02u-%02uT%02" PRId64, y, m, d, hour);
		break;
	}
	*out = b;
	return true;
}

const char *
interval_name(enum search_interval iv)
{
	static const char *const names[] = { "year", "quarter", "month", "week", "day", "hour" };
	return names[iv];
}

/* A bucket bound as written when it is a JSON number, else formatted. */
std::string
bound_json(const char *text, double v)
{
	double dummy;

	if (text != nullptr && text[0] != '+' && parse_number(text, &dummy)) {
		/* JSON has no leading zeros ("01") and no ".5"/"5." forms;
		 * parse_number already refuses the last two. */
		const char *p = text[0] == '-' ? text + 1 : text;
		if (!(p[0] == '0' && isdigit(static_cast<unsigned char>(p[1]))))
			return text;
	}
	return fmt_double(v);
}

struct TopKey {
	char type;          /* 'n' before 's' */
	double num;
	std::string text;
	bool operator<(const TopKey &o) const
	{
		if (type != o.type)
			return type < o.type;
		if (type == 'n' && num != o.num)
			return num < o.num;
		return text < o.text;
	}
};

class AggSpy : public Xapian::MatchSpy {
public:
	struct One {
		const struct search_agg *spec;
		enum { NONE, NUM, LIST, STR, GEO } src;
		Xapian::valueno slot;
		NearRef near;
		uint64_t count = 0;
		double min = 0, max = 0, sum = 0, sumsq = 0, mean = 0, m2 = 0;
		std::vector<uint64_t> buckets;
		std::map<std::string, uint64_t> series;
		std::map<TopKey, uint64_t> values;
	};
	std::vector<One> aggs;

	void operator()(const Xapian::Document &doc, double) override
	{
		for (One &a : aggs)
			see(a, doc);
	}

	void json(std::string &out) const;

private:
	void see(One &a, const Xapian::Document &doc);
	void see_number(One &a, double v);
};

void
AggSpy::see_number(One &a, double v)
{
	const struct search_agg *s = a.spec;

	a.count++;
	switch (s->kind) {
	case AGG_STATS: {
		if (a.count == 1 || v < a.min)
			a.min = v;
		if (a.count == 1 || v > a.max)
			a.max = v;
		a.sum += v;
		a.sumsq += v * v;
		/* Welford: the variance without sumsq/n - mean^2's cancellation. */
		double delta = v - a.mean;
		a.mean += delta / static_cast<double>(a.count);
		a.m2 += delta * (v - a.mean);
		break;
	}
	case AGG_RANGE:
	case AGG_DISTANCE:
		for (size_t i = 0; i < s->nbuckets; i++) {
			const struct search_bucket &b = s->buckets[i];
			if ((!b.has_min || v >= b.min) && (!b.has_max || v < b.max))
				a.buckets[i]++;
		}
		break;
	case AGG_TIME_SERIES: {
		std::string label;
		double local = v + (s->has_tz ? s->tz_minutes * 60000.0 : 0);
		if (series_label(local, s->interval, &label))
			a.series[label]++;
		else
			a.count--;
		break;
	}
	case AGG_TOP_VALUES:
		break;
	}
}

void
AggSpy::see(One &a, const Xapian::Document &doc)
{
	std::string v;
	double d;

	switch (a.src) {
	case One::NONE:
		return;
	case One::NUM:
		v = doc.get_value(a.slot);
		if (!v.empty())
			see_number(a, Xapian::sortable_unserialise(v));
		return;
	case One::GEO:
		if (a.near.distance(doc, &d))
			see_number(a, d);
		return;
	case One::STR:
		v = doc.get_value(a.slot);
		if (!v.empty()) {
			a.count++;
			a.values[TopKey{ 's', 0, v }]++;
		}
		return;
	case One::LIST:
		v = doc.get_value(a.slot);
		if (v.empty())
			return;
		a.count++;
		for (size_t i = 0; i + 5 <= v.size();) {
			char type = v[i];
			size_t len = 0;
			for (size_t j = 1; j <= 4; j++)
				len = len << 8 | static_cast<unsigned char>(v[i + j]);
			if (i + 5 + len > v.size())
				break;
			TopKey k{ type, 0, v.substr(i + 5, len) };
			if (type == 'n')
				k.num = strtod(k.text.c_str(), nullptr);
			a.values[k]++;
			i += 5 + len;
		}
		return;
	}
}

void
agg_stats(std::string &out, const AggSpy::One &a)
{
	bool any = a.count > 0;
	/* The population variance (common.md). */
	double var = any ? a.m2 / static_cast<double>(a.count) : 0;

	out += ",\"statistics\":{\"min\":" + (any ? fmt_double(a.min) : "null");
	out += ",\"max\":" + (any ? fmt_double(a.max) : "null");
	out += ",\"mean\":" + (any ? fmt_double(a.mean) : "null");
	out += ",\"sum\":" + fmt_double(a.sum);
	out += ",\"sum_of_squares\":" + fmt_double(a.sumsq);
	out += ",\"variance\":" + (any ? fmt_double(var) : "null");
	out += ",\"std_dev\":" + (any ? fmt_double(std::sqrt(var)) : "null");
	out += '}';
}

void
agg_buckets(std::string &out, const AggSpy::One &a)
{
	const struct search_agg *s = a.spec;

	out += ",\"buckets\":[";
	for (size_t j = 0; j < s->nbuckets; j++) {
		const struct search_bucket &b = s->buckets[j];
		out += j > 0 ? ",{" : "{";
		if (b.has_min)
			out += "\"min\":" + bound_json(b.min_text, b.min) + ",";
		if (b.has_max)
			out += "\"max\":" + bound_json(b.max_text, b.max) + ",";
		out += "\"count\":" + std::to_string(a.buckets[j]) + "}";
	}
	out += ']';
}

void
agg_series(std::string &out, const AggSpy::One &a)
{
	const struct search_agg *s = a.spec;
	bool first = true;

	out += ",\"interval\":\"";
	out += interval_name(s->interval);
	out += '"';
	if (s->has_tz) {
		out += ",\"time_zone\":";
		json_str(out, s->tz_text != nullptr ? s->tz_text : "");
	}
	/* Labels sort as the times do (years 0000..9999). */
	out += ",\"buckets\":[";
	for (const auto &b : a.series) {
		out += first ? "{\"bucket\":" : ",{\"bucket\":";
		first = false;
		json_str(out, b.first);
		out += ",\"count\":" + std::to_string(b.second) + "}";
	}
	out += ']';
}

void
agg_top(std::string &out, const AggSpy::One &a)
{
	const struct search_agg *s = a.spec;
	typedef std::pair<TopKey, uint64_t> Entry;
	std::vector<Entry> e(a.values.begin(), a.values.end());

	out += ",\"offset\":" + std::to_string(s->offset);
	out += ",\"limit\":" + std::to_string(s->limit);
	out += ",\"entries\":[";
	/* Most frequent first; the map's order (numbers, then strings) breaks
	 * ties. */
	std::stable_sort(e.begin(), e.end(), [](const Entry &x, const Entry &y) {
		return x.second > y.second;
	});
	for (size_t j = s->offset; j < e.size() && j - s->offset < s->limit; j++) {
		out += j > s->offset ? ",{\"value\":" : "{\"value\":";
		if (e[j].first.type == 'n')
			out += e[j].first.text;
		else
			json_str(out, e[j].first.text);
		out += ",\"count\":" + std::to_string(e[j].second) + "}";
	}
	out += ']';
}

/* The "aggregates" array (orchestrate-api.md §8.5). */
void
AggSpy::json(std::string &out) const
{
	static const char *const kinds[] = { "stats", "range", "distance", "top_values",
		"time_series" };

	out += '[';
	for (size_t i = 0; i < aggs.size(); i++) {
		const One &a = aggs[i];
		out += i > 0 ? ",{\"aggregate_kind\":\"" : "{\"aggregate_kind\":\"";
		out += kinds[a.spec->kind];
		out += "\",\"field_name\":";
		json_str(out, a.spec->field != nullptr ? a.spec->field : "");
		out += ",\"value_count\":" + std::to_string(a.count);
		switch (a.spec->kind) {
		case AGG_STATS:
			agg_stats(out, a);
			break;
		case AGG_RANGE:
		case AGG_DISTANCE:
			agg_buckets(out, a);
			break;
		case AGG_TIME_SERIES:
			agg_series(out, a);
			break;
		case AGG_TOP_VALUES:
			agg_top(out, a);
			break;
		}
		out += '}';
	}
	out += ']';
}

void
setup_aggs(AggSpy &spy, const struct search_query *q, const struct lucene_node *root)
{
	for (size_t i = 0; i < q->naggs; i++) {
		const struct search_agg *s = &q->aggs[i];
		AggSpy::One a;
		FieldRef f = resolve_field(s->field);
		a.spec = s;
		a.src = AggSpy::One::NONE;
		a.slot = 0;
		if (s->kind == AGG_DISTANCE) {
			const struct lucene_node *nn = f.kind == F_VALUE ? find_near(root, &f.path) : nullptr;
			if (nn == nullptr && f.kind == F_VALUE)
				nn = find_near(root, nullptr);
			if (nn == nullptr)
				throw BadQuery{ std::string("the distance aggregate on ") +
				    (s->field ? s->field : "") + " needs a NEAR clause in the query" };
			a.src = AggSpy::One::GEO;
			a.near.set(nn, &f.path);
		} else if (f.kind == F_VALUE) {
			PathKeys k = path_keys(f.path);
			if (s->kind == AGG_TOP_VALUES) {
				a.src = AggSpy::One::LIST;
				a.slot = k.list;
			} else {
				a.src = AggSpy::One::NUM;
				a.slot = s->kind == AGG_TIME_SERIES ? k.date : k.num;
			}
		} else if (f.kind == F_META) {
			if (s->kind == AGG_TOP_VALUES && f.meta->type == M_STR) {
				a.src = AggSpy::One::STR;
				a.slot = f.meta->slot;
			} else if (s->kind != AGG_TOP_VALUES && f.meta->type == M_NUM) {
				a.src = AggSpy::One::NUM;
				a.slot = f.meta->slot;
			}
		}
		a.buckets.assign(s->nbuckets, 0);
		spy.aggs.push_back(a);
	}
}

/* ---- running a search ---- */

char *
arena_copy(struct arena *a, const std::string &s)
{
	char *p = mem_strndup(a, s.data(), s.size());

	if (p == nullptr)
		throw std::bad_alloc();
	return p;
}

void
run_search(Xapian::Database &db, const struct search_query *q, struct arena *a,
    struct search_result *out)
{
	QueryBuilder qb(db, q->max_expansion);
	Xapian::Query query = qb.top(q->query, q->collection);
	SortKeys keys;
	AggSpy spy;
	Xapian::Enquire enq(db);

	enq.set_query(query);
	enq.set_weighting_scheme(Xapian::BM25Weight());
	enq.set_docid_order(Xapian::Enquire::ASCENDING);
	set_order(enq, keys, db, q, q->query);
	setup_aggs(spy, q, q->query);
	if (!spy.aggs.empty())
		enq.add_matchspy(&spy);
	/* checkatleast = every document: an exact count, and the spies see
	 * every match. */
	Xapian::MSet m = enq.get_mset(q->offset, q->limit, db.get_doccount());

	NearRef near;
	near.set(find_near(q->query, nullptr));
	struct search_hit *hits = nullptr;
	if (m.size() > 0) {
		hits = static_cast<struct search_hit *>(mem_alloc(a, m.size() * sizeof(*hits)));
		if (hits == nullptr)
			throw std::bad_alloc();
	}
	size_t n = 0;
	for (Xapian::MSetIterator it = m.begin(); it != m.end(); ++it, n++) {
		Xapian::Document doc = it.get_document();
		std::string data = doc.get_data();
		hits[n].entry = arena_copy(a, data);
		hits[n].entry_len = data.size();
		hits[n].score = it.get_weight();
		hits[n].has_distance = near.ok && near.distance(doc, &hits[n].distance);
	}
	std::string aggs;
	if (q->naggs > 0)
		spy.json(aggs);
	/* Everything read: only now is out written (a retry starts over). */
	out->total = m.get_matches_estimated();
	out->hits = hits;
	out->nhits = n;
	out->aggregates = q->naggs > 0 ? arena_copy(a, aggs) : nullptr;
	out->aggregates_len = q->naggs > 0 ? aggs.size() : 0;
}

/* ---- errors ---- */

void
set_err(char *err, size_t errlen, const char *what, const char *msg)
{
	if (err != nullptr && errlen > 0)
		snprintf(err, errlen, "%s%s", what, msg);
}

bool
dir_missing(const char *dir)
{
	struct stat st;

	return dir != nullptr && stat(dir, &st) == -1 && errno == ENOENT;
}

/*
 * Maps the exception being handled to a search_rc and err; call only
 * from a catch block. Never throws.
 */
enum search_rc
fail(char *err, size_t errlen, const char *dir) noexcept
{
	try {
		try {
			throw;
		} catch (const BadQuery &e) {
			set_err(err, errlen, "", e.msg.c_str());
			return SEARCH_BAD;
		} catch (const Xapian::DatabaseModifiedError &e) {
			set_err(err, errlen, "the index kept changing under the reader: ",
			    e.get_description().c_str());
			return SEARCH_ERR;
		} catch (const Xapian::DatabaseLockError &e) {
			set_err(err, errlen, "the index is locked by another writer: ",
			    e.get_description().c_str());
			return SEARCH_ERR;
		} catch (const Xapian::DatabaseCorruptError &e) {
			set_err(err, errlen, "", e.get_description().c_str());
			return SEARCH_CORRUPT;
		} catch (const Xapian::DatabaseVersionError &e) {
			set_err(err, errlen, "", e.get_description().c_str());
			return SEARCH_CORRUPT;
		} catch (const Xapian::DatabaseNotFoundError &e) {
			set_err(err, errlen, "", e.get_description().c_str());
			return SEARCH_MISSING;
		} catch (const Xapian::DatabaseOpeningError &e) {
			set_err(err, errlen, "", e.get_description().c_str());
			return dir_missing(dir) ? SEARCH_MISSING : SEARCH_ERR;
		} catch (const Xapian::Error &e) {
			set_err(err, errlen, "", e.get_description().c_str());
			return SEARCH_ERR;
		} catch (const std::bad_alloc &) {
			set_err(err, errlen, "", "out of memory");
			return SEARCH_ERR;
		} catch (const std::exception &e) {
			set_err(err, errlen, "", e.what());
			return SEARCH_ERR;
		}
	} catch (...) {
		/* Something unknown, or get_description() itself failed. */
		set_err(err, errlen, "", "search: unexpected failure");
		return SEARCH_ERR;
	}
}

enum search_rc
get_meta(const Xapian::Database &db, const char *key, struct arena *a, char **value,
    size_t *vlen)
{
	if (key == nullptr || key[0] == '\0' || strlen(key) > MAX_META_KEY)
		throw BadQuery{ "metadata keys are 1 to 200 bytes" };
	std::string v = db.get_metadata(key);
	*value = arena_copy(a, v);
	*vlen = v.size();
	return SEARCH_OK;
}

} // namespace

/* ---- the C interface ---- */

/*
 * The writer: one per database, in the indexer process only. After any
 * error but SEARCH_BAD the caller closes it and opens a new one: a
 * WritableDatabase is never reused after an I/O error (Xapian Trac #317),
 * and a failed commit_transaction() leaves no transaction open.
 */
struct search_writer {
	Xapian::WritableDatabase db;
	bool in_txn;
};

/* The reader: opened in the process that uses it (after fork), never
 * shared. */
struct search_reader {
	Xapian::Database db;
	std::string dir;
};

extern "C" {

enum search_rc
search_writer_open(const char *dir, struct search_writer **out, char *err, size_t errlen)
{
	try {
		*out = nullptr;
		/* No fsync at commit: search_sync makes commits durable in
		 * batches (the indexer calls it before it deletes what they
		 * cover from the outbox), so the disk's flushes stay with the
		 * database's own log. */
		*out = new search_writer{ Xapian::WritableDatabase(dir,
		    Xapian::DB_CREATE_OR_OPEN | Xapian::DB_NO_SYNC), false };
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, dir);
	}
}

void
search_writer_close(struct search_writer *w)
{
	if (w == nullptr)
		return;
	try {
		if (w->in_txn)
			w->db.cancel_transaction();
	} catch (...) {
		/* Nothing to report to: the transaction dies with the handle. */
	}
	try {
		/* close() would commit changes made outside a transaction; the
		 * indexer makes none, so this only releases the lock. */
		w->db.close();
	} catch (...) {
	}
	delete w;
}

enum search_rc
search_writer_begin(struct search_writer *w, char *err, size_t errlen)
{
	try {
		w->db.begin_transaction(true);
		w->in_txn = true;
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, nullptr);
	}
}

enum search_rc
search_writer_put(struct search_writer *w, const struct search_doc *d, char *err,
    size_t errlen)
{
	try {
		check_doc(d);
		Xapian::Document doc = make_doc(d);
		w->db.replace_document(uid_term(d), doc);
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, nullptr);
	}
}

enum search_rc
search_writer_delete(struct search_writer *w, const struct search_doc *d, char *err,
    size_t errlen)
{
	try {
		check_identity(d);
		w->db.delete_document(uid_term(d));
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, nullptr);
	}
}

enum search_rc
search_writer_delete_item_all(struct search_writer *w, uint64_t cid, const char *key,
    char *err, size_t errlen)
{
	try {
		if (key == nullptr)
			throw BadQuery{ "no key" };
		w->db.delete_document(item_term(cid, key));
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, nullptr);
	}
}

enum search_rc
search_writer_delete_collection(struct search_writer *w, uint64_t cid, char *err,
    size_t errlen)
{
	try {
		w->db.delete_document(cid_term(cid));
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, nullptr);
	}
}

enum search_rc
search_writer_set_meta(struct search_writer *w, const char *key, const char *value,
    size_t vlen, char *err, size_t errlen)
{
	try {
		if (key == nullptr || key[0] == '\0' || strlen(key) > MAX_META_KEY)
			throw BadQuery{ "metadata keys are 1 to 200 bytes" };
		w->db.set_metadata(key, std::string(value != nullptr ? value : "",
		    value != nullptr ? vlen : 0));
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, nullptr);
	}
}

enum search_rc
search_writer_get_meta(struct search_writer *w, const char *key, struct arena *a,
    char **value, size_t *vlen, char *err, size_t errlen)
{
	try {
		return get_meta(w->db, key, a, value, vlen);
	} catch (...) {
		return fail(err, errlen, nullptr);
	}
}

enum search_rc
search_writer_commit(struct search_writer *w, char *err, size_t errlen)
{
	try {
		w->db.commit_transaction();
		w->in_txn = false;
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, nullptr);
	}
}

void
search_writer_cancel(struct search_writer *w)
{
	try {
		if (w->in_txn)
			w->db.cancel_transaction();
	} catch (...) {
		/* The caller closes the writer after a failure anyway. */
	}
	w->in_txn = false;
}

uint64_t
search_writer_doccount(struct search_writer *w)
{
	try {
		return w->db.get_doccount();
	} catch (...) {
		return 0;
	}
}

enum search_rc
search_reader_open(const char *dir, struct search_reader **out, char *err, size_t errlen)
{
	try {
		*out = nullptr;
		if (dir_missing(dir)) {
			set_err(err, errlen, "no index at ", dir);
			return SEARCH_MISSING;
		}
		*out = new search_reader{ Xapian::Database(dir), dir };
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, dir);
	}
}

void
search_reader_close(struct search_reader *r)
{
	try {
		delete r;
	} catch (...) {
	}
}

enum search_rc
search_reader_refresh(struct search_reader *r, char *err, size_t errlen)
{
	try {
		r->db.reopen();
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, r->dir.c_str());
	}
}

enum search_rc
search_reader_get_meta(struct search_reader *r, const char *key, struct arena *a,
    char **value, size_t *vlen, char *err, size_t errlen)
{
	try {
		/* Metadata lives in a table a writer can overwrite too. */
		for (int attempt = 1;; attempt++) {
			try {
				return get_meta(r->db, key, a, value, vlen);
			} catch (const Xapian::DatabaseModifiedError &) {
				if (attempt == SEARCH_ATTEMPTS)
					throw;
				r->db.reopen();
			}
		}
	} catch (...) {
		return fail(err, errlen, r->dir.c_str());
	}
}

enum search_rc
search_run(struct search_reader *r, const struct search_query *q, struct arena *a,
    struct search_result *out, char *err, size_t errlen)
{
	try {
		/* A revision discarded under the reader: reopen and redo the
		 * whole search (a half-old, half-new answer is not offered). */
		for (int attempt = 1;; attempt++) {
			try {
				run_search(r->db, q, a, out);
				return SEARCH_OK;
			} catch (const Xapian::DatabaseModifiedError &) {
				if (attempt == SEARCH_ATTEMPTS)
					throw;
				r->db.reopen();
			}
		}
	} catch (...) {
		return fail(err, errlen, r->dir.c_str());
	}
}

enum search_rc
search_sync(const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int bad = 0;

	if (d == nullptr) {
		if (errno == ENOENT)
			return SEARCH_MISSING;
		set_err(err, errlen, dir, ": cannot open the directory");
		return SEARCH_ERR;
	}
	/* Every table file, then the directory (the version file's rename). */
	while ((de = readdir(d)) != nullptr) {
		if (de->d_name[0] == '.')
			continue;
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			if (errno != ENOENT)
				bad = errno;
			continue;
		}
		if (fdatasync(fd) == -1)
			bad = errno;
		(void)close(fd);
	}
	if (fsync(dirfd(d)) == -1)
		bad = errno;
	(void)closedir(d);
	if (bad != 0) {
		set_err(err, errlen, dir, (std::string(": fsync: ") + strerror(bad)).c_str());
		return SEARCH_ERR;
	}
	return SEARCH_OK;
}

enum search_rc
search_run_empty(const struct search_query *q, struct arena *a, struct search_result *out,
    char *err, size_t errlen)
{
	try {
		/* An empty in-memory database: no document, no value. */
		search_reader r{ Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY),
		    std::string() };

		run_search(r.db, q, a, out);
		return SEARCH_OK;
	} catch (...) {
		return fail(err, errlen, nullptr);
	}
}

} // extern "C"
