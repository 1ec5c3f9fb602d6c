/* calmatch: the client of a calendar event (see calmatch.h). */
#include "calmatch.h"
#include "calcontact.h"
#include "calparse.h"
#include "clock.h"
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of s cut to at most max bytes without splitting a UTF-8
 * sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

void calmatch_trim(const char *s, char *out, size_t outlen)
{
	size_t n;

	if (outlen == 0)
		return;
	if (s == NULL)
		s = "";
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n > outlen - 1) {
		n = outlen - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

const char *calmatch_field_name(enum calmatch_field f)
{
	switch (f) {
	case CALMATCH_SUMMARY:
		return "the summary";
	case CALMATCH_DESCRIPTION:
		return "the description";
	case CALMATCH_LOCATION:
		return "the location";
	case CALMATCH_ATTENDEE:
		return "the attendees";
	}
	return "the event";
}

static void add_contact(struct calmatch_found *out, const char *value, int is_phone,
	enum calmatch_field field, const char *name)
{
	struct calmatch_contact *c;

	for (size_t i = 0; i < out->n; i++)
		if (out->c[i].is_phone == is_phone && strcmp(out->c[i].value, value) == 0)
			return;
	if (out->n >= CALMATCH_MAX_CONTACTS)
		return;
	c = &out->c[out->n++];
	snprintf(c->value, sizeof(c->value), "%s", value);
	c->is_phone = is_phone;
	c->field = field;
	c->name = name;
}

static void add_text(struct calmatch_found *out, const char *text, const char *country,
	enum calmatch_field field, const char *name)
{
	struct cal_contact cc;

	if (text == NULL || text[0] == '\0')
		return;
	calcontact_find(text, country, &cc);
	for (size_t i = 0; i < cc.n_phones; i++)
		add_contact(out, cc.phones[i], 1, field, NULL);
	for (size_t i = 0; i < cc.n_emails; i++)
		add_contact(out, cc.emails[i], 0, field, name);
}

void calmatch_collect(const struct cal_occurrence *o, const char *country,
	struct calmatch_found *out)
{
	memset(out, 0, sizeof(*out));
	add_text(out, o->summary, country, CALMATCH_SUMMARY, NULL);
	add_text(out, o->description, country, CALMATCH_DESCRIPTION, NULL);
	add_text(out, o->location, country, CALMATCH_LOCATION, NULL);
	for (size_t i = 0; i < o->n_attendees; i++) {
		const struct cal_attendee *at = &o->attendees[i];
		/* The CN may hold a phone number ("Jane +1 555 ..."); the
		 * address is the attendee's own. */
		add_text(out, at->name, country, CALMATCH_ATTENDEE, NULL);
		add_text(out, at->email, country, CALMATCH_ATTENDEE,
			at->name && at->name[0] ? at->name : NULL);
	}
}

const struct calmatch_contact *calmatch_first(const struct calmatch_found *found)
{
	for (size_t i = 0; i < found->n; i++)
		if (found->c[i].is_phone)
			return &found->c[i];
	return found->n > 0 ? &found->c[0] : NULL;
}

void calmatch_proposed_from(const char *feed_name, const char *summary, const char *date,
	const struct calmatch_contact *c, char *out, size_t outlen)
{
	char feed[128], sum[256];
	size_t n;

	/* 'feed' (<= 100 characters) + 'summary' (<= 200 bytes here) + the
	 * rest (< 150) stays under the column's 500 characters. */
	calmatch_trim(feed_name, feed, sizeof(feed));
	calmatch_trim(summary, sum, sizeof(sum));
	n = utf8_cut(feed, 100);
	feed[n] = '\0';
	n = utf8_cut(sum, 200);
	if (n < strlen(sum))
		snprintf(sum + n, sizeof(sum) - n, "...");
	snprintf(out, outlen, "calendar feed '%s', event '%s' on %s: %s %s in %s", feed, sum,
		date, c->is_phone ? "phone" : "email", c->value, calmatch_field_name(c->field));
}

void calmatch_client_name(const char *summary, const struct calmatch_contact *c, char *out,
	size_t outlen)
{
	char buf[201];

	calmatch_trim(c->name, buf, sizeof(buf));
	if (buf[0] == '\0')
		calmatch_trim(summary, buf, sizeof(buf));
	if (buf[0] == '\0')
		snprintf(buf, sizeof(buf), "%s", c->value);
	snprintf(out, outlen, "%s", buf);
}

/* Step 1: an existing client by phone or email, the earliest contact of
 * found deciding.  1 found, 0 none, -1 database error. */
static int by_contact(struct db *db, const char *business_id, const struct calmatch_found *found,
	struct calmatch_result *out)
{
	char phones[CALMATCH_MAX_CONTACTS * 20 + 4], emails[CALMATCH_MAX_CONTACTS * 260 + 4];
	size_t pl = 0, el = 0;
	PGresult *res;
	int rc = 0, best = -1;

	phones[pl++] = '{';
	emails[el++] = '{';
	for (size_t i = 0; i < found->n; i++) {
		/* Both kinds are validated (E.164 digits; an email address of
		 * calcontact has no quote, backslash, comma or brace), so they
		 * go into the array literal as they are, quoted. */
		if (found->c[i].is_phone)
			pl += (size_t)snprintf(phones + pl, sizeof(phones) - pl, "%s\"%s\"",
				pl > 1 ? "," : "", found->c[i].value);
		else if (strpbrk(found->c[i].value, "\"\\,{}") == NULL)
			el += (size_t)snprintf(emails + el, sizeof(emails) - el, "%s\"%s\"",
				el > 1 ? "," : "", found->c[i].value);
	}
	snprintf(phones + pl, sizeof(phones) - pl, "}");
	snprintf(emails + el, sizeof(emails) - el, "}");
	if (pl == 1 && el == 1)
		return 0;
	{
		const char *p[] = { business_id, phones, emails };
		res = db_exec_prepared(db, "calmatch_by_contact",
			"SELECT id, name, phone::text, lower(email::text) FROM clients "
			"WHERE business_id = $1::bigint AND (phone::text = ANY($2::text[]) "
			"  OR (cardinality($3::text[]) > 0 AND lower(email::text) = ANY($3::text[]))) "
			"ORDER BY id LIMIT 64",
			3, p);
	}
	if (res == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		for (size_t i = 0; i < found->n; i++) {
			const char *v = PQgetvalue(res, r, found->c[i].is_phone ? 2 : 3);
			if (!PQgetisnull(res, r, found->c[i].is_phone ? 2 : 3) &&
				strcmp(v, found->c[i].value) == 0) {
				if (best < 0 || (int)i < best) {
					best = (int)i;
					out->client_id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
					snprintf(out->client_name, sizeof(out->client_name), "%s",
						PQgetvalue(res, r, 1));
				}
				break;
			}
		}
	}
	if (best >= 0) {
		const struct calmatch_contact *c = &found->c[best];
		snprintf(out->contact, sizeof(out->contact), "%s %s in %s",
			c->is_phone ? "phone" : "email", c->value, calmatch_field_name(c->field));
		rc = 1;
	}
	PQclear(res);
	return rc;
}

/* Step 2: the one client named like the summary.  1, 0, -1. */
static int by_name(struct db *db, const char *business_id, const char *summary,
	struct calmatch_result *out)
{
	char name[201];
	PGresult *res;
	int rc = 0;

	calmatch_trim(summary, name, sizeof(name));
	if (name[0] == '\0')
		return 0;
	{
		const char *p[] = { business_id, name };
		res = db_exec_prepared(db, "calmatch_by_name",
			"SELECT id, name FROM clients WHERE business_id = $1::bigint "
			"AND lower(btrim(name)) = lower($2) ORDER BY id LIMIT 2",
			2, p);
	}
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1) {
		out->client_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(out->client_name, sizeof(out->client_name), "%s", PQgetvalue(res, 0, 1));
		snprintf(out->contact, sizeof(out->contact), "client's name is the summary");
		rc = 1;
	} else if (PQntuples(res) == 2) {
		snprintf(out->contact, sizeof(out->contact),
			"no phone number or email in the event, and several clients are named '%s'",
			name);
	}
	PQclear(res);
	return rc;
}

/* Step 3: a new client proposed from c.  1, or -1. */
static int propose(struct db *db, const struct calmatch_business *b, const char *feed_name,
	const struct cal_occurrence *o, const struct calmatch_contact *c, long long now_s,
	struct calmatch_result *out)
{
	char starts[32], now[32], date[16], from[2048], name[201];
	PGresult *res;
	int rc = -1;

	clock_sql(o->starts_s, starts);
	clock_sql(now_s, now);
	{
		const char *p[] = { starts, b->time_zone };
		res = db_exec_prepared(db, "calmatch_local_date",
			"SELECT to_char($1::timestamptz AT TIME ZONE $2, 'YYYY-MM-DD')", 2, p);
	}
	if (res == NULL)
		return -1;
	snprintf(date, sizeof(date), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	calmatch_proposed_from(feed_name, o->summary, date, c, from, sizeof(from));
	calmatch_client_name(o->summary, c, name, sizeof(name));
	{
		const char *p[] = { b->id, name, c->is_phone ? c->value : NULL,
			c->is_phone ? NULL : c->value, now, from, b->auto_confirm ? "t" : "f" };
		res = db_exec_prepared(db, "calmatch_propose",
			"INSERT INTO clients (business_id, name, phone, email, proposed_at, proposed_from, "
			"  confirmed_at, confirmed_by) "
			"VALUES ($1::bigint, $2, $3, $4, $5::timestamptz, $6, "
			"  CASE WHEN $7::boolean THEN $5::timestamptz END, "
			"  CASE WHEN $7::boolean THEN 'automatic (business setting)' END) "
			"RETURNING id",
			7, p);
	}
	if (res == NULL)
		return -1;
	out->client_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	out->proposed = 1;
	snprintf(out->client_name, sizeof(out->client_name), "%s", name);
	snprintf(out->contact, sizeof(out->contact), "new client proposed from %s %s in %s%s",
		c->is_phone ? "phone" : "email", c->value, calmatch_field_name(c->field),
		b->auto_confirm ? " (confirmed automatically: business setting)" : " (unconfirmed)");
	rc = 1;
	PQclear(res);
	return rc;
}

int calmatch_find(struct db *db, const struct calmatch_business *b, const char *feed_name,
	const struct cal_occurrence *o, long long now_s, struct calmatch_result *out, char *err,
	size_t errlen)
{
	struct calmatch_found found;
	const struct calmatch_contact *first;
	int rc;

	memset(out, 0, sizeof(*out));
	calmatch_collect(o, b->country, &found);
	rc = by_contact(db, b->id, &found, out);
	if (rc == 0)
		rc = by_name(db, b->id, o->summary, out);
	if (rc == 0 && (first = calmatch_first(&found)) != NULL)
		rc = propose(db, b, feed_name, o, first, now_s, out);
	if (rc < 0) {
		snprintf(err, errlen, "finding the client: %s", db_last_error(db));
		return -1;
	}
	if (rc == 0 && out->contact[0] == '\0')
		snprintf(out->contact, sizeof(out->contact), "%s",
			b->country ? "no phone number or email in the event, and no client is named "
				     "like its summary"
				   : "no phone number or email in the event (national numbers need the "
				     "business's country), and no client is named like its summary");
	return rc;
}
