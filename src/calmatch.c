/* calmatch: the client of a calendar event (see calmatch.h). */
#include "calmatch.h"
#include "arena.h"
#include "calcontact.h"
#include "calparse.h"
#include "clock.h"
#include "db.h"
#include "util.h"
#include "valid.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	n = utf8_cut(s, n, outlen - 1);
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

/* calmatch_trim, then on one line: each run of control characters and
 * spaces inside becomes one space.  A name or a "found in" text from a
 * calendar is shown, mailed (a Subject header) and logged; an iCalendar
 * "\\n" in it must not start a new line there. */
static void one_line(const char *s, char *out, size_t outlen)
{
	size_t w = 0;

	calmatch_trim(s, out, outlen);
	for (size_t r = 0; out[r] != '\0'; r++) {
		unsigned char ch = (unsigned char)out[r];
		int blank = ch < 0x20 || ch == 0x7f || ch == ' ';
		if (!blank)
			out[w++] = out[r];
		else if (w > 0 && out[w - 1] != ' ')
			out[w++] = ' ';
	}
	while (w > 0 && out[w - 1] == ' ')
		w--;
	if (outlen > 0)
		out[w] = '\0';
}

void calmatch_proposed_from(const char *feed_name, const char *summary, const char *date,
	const struct calmatch_contact *c, char *out, size_t outlen)
{
	char feed[128], sum[256];
	size_t n;

	/* 'feed' (<= 100 characters) + 'summary' (<= 200 bytes here) + the
	 * rest (< 150) stays under the column's 500 characters. */
	one_line(feed_name, feed, sizeof(feed));
	one_line(summary, sum, sizeof(sum));
	n = utf8_cut(feed, strlen(feed), 100);
	feed[n] = '\0';
	n = utf8_cut(sum, strlen(sum), 200);
	if (n < strlen(sum))
		snprintf(sum + n, sizeof(sum) - n, "...");
	snprintf(out, outlen, "calendar feed '%s', event '%s' on %s: %s %s in %s", feed, sum,
		date, c->is_phone ? "phone" : "email", c->value, calmatch_field_name(c->field));
}

void calmatch_client_name(const char *summary, const struct calmatch_contact *c, char *out,
	size_t outlen)
{
	char buf[201];

	one_line(c->name, buf, sizeof(buf));
	if (buf[0] == '\0')
		one_line(summary, buf, sizeof(buf));
	if (buf[0] == '\0')
		one_line(c->value, buf, sizeof(buf));
	snprintf(out, outlen, "%s", buf);
}

/* ---- the business's clients, read once per sync ---- */

/* A string -> client map: the lowest id with that key, its name, and
 * how many clients share the key. */
struct dmap {
	const char **keys;
	long long *ids;
	const char **names;
	int *count;
	size_t n, cap;
};

struct calmatch_dir {
	struct arena *a;
	struct dmap phones, emails, names;
	int loaded;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static size_t dmap_slot(const struct dmap *m, const char *key)
{
	size_t i = str_hash(key) & (m->cap - 1);

	while (m->keys[i] && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void dmap_grow(struct dmap *m)
{
	struct dmap g;

	memset(&g, 0, sizeof(g));
	g.cap = m->cap ? m->cap * 2 : 64;
	g.keys = xcalloc(g.cap, sizeof(*g.keys));
	g.ids = xcalloc(g.cap, sizeof(*g.ids));
	g.names = xcalloc(g.cap, sizeof(*g.names));
	g.count = xcalloc(g.cap, sizeof(*g.count));
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i] == NULL)
			continue;
		size_t j = dmap_slot(&g, m->keys[i]);
		g.keys[j] = m->keys[i];
		g.ids[j] = m->ids[i];
		g.names[j] = m->names[i];
		g.count[j] = m->count[i];
	}
	g.n = m->n;
	free(m->keys);
	free(m->ids);
	free(m->names);
	free(m->count);
	*m = g;
}

/* Adds a client under key (copied into a); an existing key keeps its
 * first (lowest) id and counts one more. */
static void dmap_put(struct dmap *m, struct arena *a, const char *key, long long id,
	const char *name)
{
	size_t i;

	if (key == NULL || key[0] == '\0')
		return;
	if (2 * (m->n + 1) > m->cap)
		dmap_grow(m);
	i = dmap_slot(m, key);
	if (m->keys[i]) {
		m->count[i]++;
		return;
	}
	m->keys[i] = arena_strdup(a, key);
	m->ids[i] = id;
	m->names[i] = name;
	m->count[i] = 1;
	m->n++;
}

/* The slot of key, or -1. */
static long dmap_get(const struct dmap *m, const char *key)
{
	size_t i;

	if (m->cap == 0)
		return -1;
	i = dmap_slot(m, key);
	return m->keys[i] ? (long)i : -1;
}

static void dmap_free(struct dmap *m)
{
	free(m->keys);
	free(m->ids);
	free(m->names);
	free(m->count);
	memset(m, 0, sizeof(*m));
}

struct calmatch_dir *calmatch_dir_new(void)
{
	struct calmatch_dir *d = xcalloc(1, sizeof(*d));

	d->a = arena_new(0);
	return d;
}

void calmatch_dir_free(struct calmatch_dir *d)
{
	if (d == NULL)
		return;
	dmap_free(&d->phones);
	dmap_free(&d->emails);
	dmap_free(&d->names);
	arena_free(d->a);
	free(d);
}

/* Reads the business's clients once (a per-event query would scan
 * them all for the name, and the planner knows nothing yet of the
 * clients this transaction added).  0 or -1. */
static int dir_load(struct db *db, struct calmatch_dir *d, const char *business_id)
{
	const char *p[] = { business_id };
	PGresult *res;

	if (d->loaded)
		return 0;
	res = db_exec_prepared(db, "calmatch_clients",
		"SELECT id, name, phone::text, lower(email::text), lower(btrim(name)) FROM clients "
		"WHERE business_id = $1::bigint ORDER BY id",
		1, p);
	if (res == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		long long id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		const char *name = arena_strdup(d->a, PQgetvalue(res, r, 1));
		if (!PQgetisnull(res, r, 2))
			dmap_put(&d->phones, d->a, PQgetvalue(res, r, 2), id, name);
		if (!PQgetisnull(res, r, 3))
			dmap_put(&d->emails, d->a, PQgetvalue(res, r, 3), id, name);
		dmap_put(&d->names, d->a, PQgetvalue(res, r, 4), id, name);
	}
	PQclear(res);
	d->loaded = 1;
	return 0;
}

/* Step 1: an existing client by phone or email, the earliest contact of
 * found deciding.  1 found, 0 none. */
static int by_contact(const struct calmatch_dir *d, const struct calmatch_found *found,
	struct calmatch_result *out)
{
	for (size_t i = 0; i < found->n; i++) {
		const struct calmatch_contact *c = &found->c[i];
		const struct dmap *m = c->is_phone ? &d->phones : &d->emails;
		long slot = dmap_get(m, c->value);
		if (slot < 0)
			continue;
		out->client_id = m->ids[slot];
		snprintf(out->client_name, sizeof(out->client_name), "%s", m->names[slot]);
		snprintf(out->contact, sizeof(out->contact), "%s %s in %s",
			c->is_phone ? "phone" : "email", c->value, calmatch_field_name(c->field));
		return 1;
	}
	return 0;
}

/* The key a name is compared by: trimmed and lower-case, as SQL's
 * lower(btrim(name)) (asked of the database when not plain ASCII).
 * 0, or -1 on a database error. */
static int name_key(struct db *db, const char *s, char *out, size_t outlen)
{
	int ascii = 1;

	calmatch_trim(s, out, outlen);
	for (char *p = out; *p; p++) {
		if ((unsigned char)*p >= 0x80)
			ascii = 0;
		else if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	if (!ascii) {
		const char *p[] = { out };
		PGresult *res = db_exec_prepared(db, "calmatch_name_key", "SELECT lower($1)", 1, p);
		if (res == NULL)
			return -1;
		snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	return 0;
}

/* Step 2: the one client named like the summary.  1, 0, -1. */
static int by_name(struct db *db, const struct calmatch_dir *d, const char *summary,
	struct calmatch_result *out)
{
	char key[801], name[201];
	long slot;

	calmatch_trim(summary, name, sizeof(name));
	if (name[0] == '\0')
		return 0;
	if (name_key(db, name, key, sizeof(key)) < 0)
		return -1;
	slot = dmap_get(&d->names, key);
	if (slot < 0)
		return 0;
	if (d->names.count[slot] > 1) {
		snprintf(out->contact, sizeof(out->contact),
			"no phone number or email in the event, and %d clients are named '%s'",
			d->names.count[slot], name);
		return 0;
	}
	out->client_id = d->names.ids[slot];
	snprintf(out->client_name, sizeof(out->client_name), "%s", d->names.names[slot]);
	snprintf(out->contact, sizeof(out->contact), "client's name is the summary");
	return 1;
}

/* Step 3: a new client proposed from c.  1, or -1. */
static int propose(struct db *db, struct calmatch_dir *d, const struct calmatch_business *b,
	const char *feed_name, const struct cal_occurrence *o, const struct calmatch_contact *c,
	long long now_s, struct calmatch_result *out)
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
	/* The next event naming the same number finds this client. */
	{
		const char *kept = arena_strdup(d->a, name);
		char key[801];
		dmap_put(c->is_phone ? &d->phones : &d->emails, d->a, c->value, out->client_id, kept);
		if (name_key(db, name, key, sizeof(key)) < 0) {
			PQclear(res);
			return -1;
		}
		dmap_put(&d->names, d->a, key, out->client_id, kept);
	}
	snprintf(out->contact, sizeof(out->contact), "new client proposed from %s %s in %s%s",
		c->is_phone ? "phone" : "email", c->value, calmatch_field_name(c->field),
		b->auto_confirm ? " (confirmed automatically: business setting)" : " (unconfirmed)");
	rc = 1;
	PQclear(res);
	return rc;
}

int calmatch_find(struct db *db, struct calmatch_dir *d, const struct calmatch_business *b,
	const char *feed_name, const struct cal_occurrence *o, long long now_s,
	struct calmatch_result *out, char *err, size_t errlen)
{
	struct calmatch_found found;
	const struct calmatch_contact *first;
	int rc;

	memset(out, 0, sizeof(*out));
	calmatch_collect(o, b->country, &found);
	rc = dir_load(db, d, b->id);
	if (rc == 0)
		rc = by_contact(d, &found, out);
	if (rc == 0)
		rc = by_name(db, d, o->summary, out);
	if (rc == 0 && (first = calmatch_first(&found)) != NULL)
		rc = propose(db, d, b, feed_name, o, first, now_s, out);
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
