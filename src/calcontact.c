/* calcontact: phone numbers and email addresses in an event's free text
 * (include/calcontact.h).
 *
 * Phone numbers: a run of digits with the separators people write
 * between them (one space, dash, dot or slash, brackets), starting at a
 * "+", a bracket or a digit that does not continue a word.  A run is
 * not taken when it touches a letter, a digit, "@" or "_", sits inside
 * a web address, follows "#" or a word such as "order", "invoice",
 * "ref" or "id", or reads as a date.  A run with "+" or the
 * international prefix is normalised by phone_normalise (phone.h), the
 * one normalisation of the product; a national one only with the
 * country's trunk prefix and length, and then by phone_normalise too.
 * Email addresses: the letters around an "@", checked by
 * mail_address_valid (mail.h), lower-cased. */
#include "calcontact.h"

#include "mail.h"
#include "phone.h"

#include <string.h>
#include <strings.h>

/* Countries whose national numbers are read: calling code, trunk prefix
 * (what a national number starts with, dropped for E.164; "" for none),
 * the international prefix people dial before a country code, and the
 * digits a national number has with its trunk prefix. */
static const struct country {
	const char iso[3], code[4], trunk[2], intl[5];
	int min_digits, max_digits;
} countries[] = {
	{ "US", "1", "1", "011", 10, 11 }, /* NANP: 10 digits, or 11 with the leading 1 */
	{ "CA", "1", "1", "011", 10, 11 },
	{ "GB", "44", "0", "00", 10, 11 },
	{ "IE", "353", "0", "00", 8, 11 },
	{ "DE", "49", "0", "00", 7, 13 },
	{ "AT", "43", "0", "00", 7, 13 },
	{ "FR", "33", "0", "00", 10, 10 },
	{ "BE", "32", "0", "00", 9, 10 },
	{ "NL", "31", "0", "00", 10, 10 },
	{ "CH", "41", "0", "00", 10, 10 },
	{ "AU", "61", "0", "0011", 10, 10 },
	{ "NZ", "64", "0", "00", 8, 11 },
};

static const struct country *country_find(const char *iso)
{
	if (iso == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++)
		if (strcasecmp(countries[i].iso, iso) == 0)
			return &countries[i];
	return NULL;
}

int calcontact_country_known(const char *country)
{
	return country_find(country) != NULL;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_sep(char c)
{
	return c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')';
}

/* The words that make the number after them something else. */
static int after_stop_word(const char *text, size_t start)
{
	static const char *const words[] = { "order", "invoice", "inv", "ref", "reference",
		"booking", "confirmation", "conf", "account", "acct", "id", "ticket", "case",
		"po", "receipt", "transaction", "pin", "code", "room", "zoom" };
	size_t e = start, b;
	/* back over blanks and the punctuation between a label and its value */
	while (e > 0 && (text[e - 1] == ' ' || text[e - 1] == ':' || text[e - 1] == '.' ||
			       text[e - 1] == '-' || text[e - 1] == '\t'))
		e--;
	if (e > 0 && text[e - 1] == '#')
		return 1;
	b = e;
	while (b > 0 && is_alpha(text[b - 1]))
		b--;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strlen(words[i]) == e - b && strncasecmp(text + b, words[i], e - b) == 0)
			return 1;
	return 0;
}

/* 1 when text[start] is inside a web address ("https://zoom.us/j/123..."). */
static int inside_url(const char *text, size_t start)
{
	size_t b = start;
	while (b > 0 && text[b - 1] != ' ' && text[b - 1] != '\n' && text[b - 1] != '\t' &&
		text[b - 1] != '<' && text[b - 1] != '"')
		b--;
	for (size_t i = b; i + 3 <= start; i++)
		if (strncmp(text + i, "://", 3) == 0)
			return 1;
	return start - b >= 4 && strncasecmp(text + b, "www.", 4) == 0;
}

/* 1 when the run reads as a date: three groups of digits with the same
 * separator, a 4-digit year first or last and the others 1-2 digits
 * ("2026-12-07", "07.12.2026", "12/7/2026"). */
static int looks_like_date(const char *s, size_t n)
{
	size_t len[4] = { 0 }, g = 0;
	char sep = 0;
	for (size_t i = 0; i < n; i++) {
		if (is_digit(s[i])) {
			len[g]++;
		} else {
			if (s[i] != '-' && s[i] != '.' && s[i] != '/')
				return 0;
			if (sep != 0 && s[i] != sep)
				return 0;
			sep = s[i];
			if (++g > 2)
				return 0;
		}
	}
	if (g != 2)
		return 0;
	return (len[0] == 4 && len[1] >= 1 && len[1] <= 2 && len[2] >= 1 && len[2] <= 2) ||
		(len[2] == 4 && len[0] >= 1 && len[0] <= 2 && len[1] >= 1 && len[1] <= 2);
}

static void add_phone(struct cal_contact *out, const char *e164)
{
	for (size_t i = 0; i < out->n_phones; i++)
		if (strcmp(out->phones[i], e164) == 0)
			return;
	if (out->n_phones < CALCONTACT_MAX)
		memcpy(out->phones[out->n_phones++], e164, strlen(e164) + 1);
}

/* A national number (digits only, d[0..n)) in country c as E.164, or "". */
static void national(const struct country *c, const char *d, size_t n, char *e164, size_t size)
{
	char buf[40];
	size_t t = strlen(c->trunk);
	e164[0] = '\0';
	if (n < (size_t)c->min_digits || n > (size_t)c->max_digits)
		return;
	if (strcmp(c->code, "1") == 0) {
		/* NANP: an area code that starts with 2-9, after an optional 1 */
		if (n == 11 && d[0] == '1') {
			d++;
			n--;
		}
		if (n != 10 || d[0] < '2')
			return;
	} else {
		if (t == 0 || strncmp(d, c->trunk, t) != 0 || (n > t && d[t] == '0'))
			return;
		d += t;
		n -= t;
	}
	if (1 + strlen(c->code) + n >= sizeof buf)
		return;
	buf[0] = '+';
	memcpy(buf + 1, c->code, strlen(c->code));
	memcpy(buf + 1 + strlen(c->code), d, n);
	if (phone_normalise(buf, 1 + strlen(c->code) + n, e164, size) != PHONE_OK)
		e164[0] = '\0';
}

/* One run (trimmed: from a '+', '(' or digit to a digit). */
static void take_run(const char *run, size_t n, const struct country *c, struct cal_contact *out)
{
	char digits[40], e164[PHONE_E164_SIZE + 3];
	size_t nd = 0;

	for (size_t i = 0; i < n; i++)
		if (is_digit(run[i])) {
			if (nd + 1 >= sizeof digits)
				return;
			digits[nd++] = run[i];
		}
	digits[nd] = '\0';
	if (nd < 7 || looks_like_date(run, n))
		return;
	if (*run == '(') {
		run++;
		n--;
	}
	if (*run == '+' || (digits[0] == '0' && digits[1] == '0' &&
				   (c == NULL || strncmp(digits, c->intl, strlen(c->intl)) != 0 ||
					   strcmp(c->intl, "00") == 0))) {
		if (phone_normalise(run, n, e164, sizeof e164) == PHONE_OK)
			add_phone(out, e164);
		return;
	}
	if (c == NULL || nd > 15)
		return;
	if (strncmp(digits, c->intl, strlen(c->intl)) == 0) {
		/* "011 44 20 7946 0958" dialled from the US */
		char buf[40];
		size_t k = strlen(c->intl);
		buf[0] = '+';
		memcpy(buf + 1, digits + k, nd - k + 1);
		if (phone_normalise(buf, strlen(buf), e164, sizeof e164) == PHONE_OK)
			add_phone(out, e164);
		return;
	}
	national(c, digits, nd, e164, sizeof e164);
	if (e164[0] != '\0')
		add_phone(out, e164);
}

/* Scans the phone number starting at text[i] (a '+', '(' or digit that
 * starts no word); returns the index after the run. */
static size_t scan_phone(const char *text, size_t i, const struct country *c,
	struct cal_contact *out)
{
	size_t start = i, end, j = i, last_digit = i;
	int bad_start = start > 0 && (is_alpha(text[start - 1]) || is_digit(text[start - 1]) ||
					     text[start - 1] == '_' || text[start - 1] == '@' ||
					     text[start - 1] == '/' || text[start - 1] == '=' ||
					     text[start - 1] == '&' || text[start - 1] == '.' ||
					     text[start - 1] == '-');

	if (text[j] == '(' || text[j] == '+')
		j++;
	while (text[j] != '\0') {
		if (is_digit(text[j])) {
			last_digit = j++;
			continue;
		}
		/* a group of separators between digits: at most two, at most one
		 * space and one of - . / */
		size_t k = j;
		int spaces = 0, marks = 0;
		while (is_sep(text[k]) && k - j < 3) {
			spaces += text[k] == ' ';
			marks += text[k] == '-' || text[k] == '.' || text[k] == '/';
			k++;
		}
		if (k == j || k - j > 2 || spaces > 1 || marks > 1 || !is_digit(text[k]))
			break;
		j = k;
	}
	end = last_digit + 1;
	if (bad_start)
		return end;
	if (is_alpha(text[end]) || text[end] == '@' || text[end] == '_' ||
		(text[end] == '.' && is_digit(text[end + 1])) || (text[end] == ':' && is_digit(text[end + 1])))
		return end;
	if (after_stop_word(text, start) || inside_url(text, start))
		return end;
	take_run(text + start, end - start, c, out);
	return end;
}

static int local_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int domain_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '.' || c == '-';
}

/* The address around the '@' at text[at]; returns the index after it. */
static size_t scan_email(const char *text, size_t at, struct cal_contact *out)
{
	size_t b = at, e = at + 1;
	char addr[255];
	while (b > 0 && local_char(text[b - 1]))
		b--;
	while (b < at && (text[b] == '.' || text[b] == '-' || text[b] == '+'))
		b++;
	while (domain_char(text[e]))
		e++;
	while (e > at + 1 && (text[e - 1] == '.' || text[e - 1] == '-'))
		e--;
	if (b == at || e == at + 1 || e - b >= sizeof addr)
		return e > at ? e : at + 1;
	for (size_t i = b; i < e; i++)
		addr[i - b] = (char)(text[i] >= 'A' && text[i] <= 'Z' ? text[i] + 32 : text[i]);
	addr[e - b] = '\0';
	if (mail_address_valid(addr)) {
		for (size_t i = 0; i < out->n_emails; i++)
			if (strcmp(out->emails[i], addr) == 0)
				return e;
		if (out->n_emails < CALCONTACT_MAX)
			memcpy(out->emails[out->n_emails++], addr, e - b + 1);
	}
	return e;
}

void calcontact_find(const char *text, const char *country, struct cal_contact *out)
{
	const struct country *c = country_find(country);
	size_t i = 0;

	memset(out, 0, sizeof *out);
	if (text == NULL)
		return;
	/* addresses first, so their digits are not read as numbers */
	for (i = 0; text[i] != '\0'; i++)
		if (text[i] == '@')
			i = scan_email(text, i, out) - 1;
	for (i = 0; text[i] != '\0';) {
		char ch = text[i];
		if (is_digit(ch) || ((ch == '+' || ch == '(') && (is_digit(text[i + 1]) ||
						 (ch == '(' && text[i + 1] == '+' && is_digit(text[i + 2]))))) {
			if (ch == '(' && text[i + 1] == '+')
				i++;
			i = scan_phone(text, i, c, out);
		} else if (is_alpha(ch) || ch == '_' || ch == '@') {
			/* a word (or an address) and the digits stuck to it */
			while (is_alpha(text[i]) || is_digit(text[i]) || text[i] == '_' || text[i] == '@' ||
				text[i] == '.' || text[i] == '-' || text[i] == '%')
				if (text[i++] == '.' && !(is_alpha(text[i]) || is_digit(text[i])))
					break;
		} else {
			i++;
		}
	}
}
