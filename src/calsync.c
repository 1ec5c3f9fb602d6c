/* calsync: the calendar sync (see calsync.h). */
#include "calsync.h"
#include "arena.h"
#include "audit.h"
#include "calfetch.h"
#include "calmatch.h"
#include "calparse.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "heartbeat.h"
#include "log.h"
#include "metrics.h"
#include "rds.h"
#include "reminders.h"
#include "util.h"
#include "valid.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "ringfence calsync"

void calsync_default_opts(struct calsync_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->poll_s = CALSYNC_DEFAULT_POLL_S;
	o->horizon_days = CALSYNC_DEFAULT_HORIZON_DAYS;
	o->max_bytes = CALSYNC_MAX_BYTES;
	o->connect_ms = CALSYNC_CONNECT_MS;
	o->total_ms = CALSYNC_TOTAL_MS;
	o->max_redirects = CALSYNC_MAX_REDIRECTS;
	o->max_occ = CALSYNC_MAX_OCCURRENCES;
}

int calsync_threshold(long long busiest)
{
	long long t = busiest * CALSYNC_GUARD_FACTOR;

	if (busiest < 0 || t < CALSYNC_GUARD_FLOOR)
		return CALSYNC_GUARD_FLOOR;
	return t > 1000000000 ? 1000000000 : (int)t;
}

int calsync_backoff(int poll_s, int failures)
{
	long long d = poll_s;

	if (poll_s >= CALSYNC_MAX_BACKOFF_S)
		return poll_s;
	for (int i = 0; i < failures && d < CALSYNC_MAX_BACKOFF_S; i++)
		d *= 2;
	return d > CALSYNC_MAX_BACKOFF_S ? CALSYNC_MAX_BACKOFF_S : (int)d;
}

/* The feed and its business, as one poll reads them. */
struct feed {
	const char *id, *business_id, *name, *url, *etag, *last_modified, *sha;
	const char *time_zone, *country;
	int enabled, failures, auto_confirm;
	long long applied_s; /* 0: never */
};

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* 1 loaded, 0 no such feed, -1 database error. */
static int feed_load(struct db *db, struct arena *a, long long feed_id, struct feed *f)
{
	char id[24];
	const char *p[] = { id }, *v[13];
	int rc;

	snprintf(id, sizeof(id), "%lld", feed_id);
	rc = db_row_prepared(db, a, "calsync_feed_load",
		"SELECT f.id, f.business_id, f.name, f.url, f.enabled, f.etag, f.last_modified, "
		"  f.content_sha256, f.failures, COALESCE(extract(epoch FROM f.applied_at)::bigint, 0), "
		"  b.time_zone, b.country, b.auto_confirm_clients "
		"FROM calendar_feeds f JOIN businesses b ON b.id = f.business_id "
		"WHERE f.id = $1::bigint",
		1, p, 13, v);
	if (rc != 1)
		return rc;
	f->id = v[0];
	f->business_id = v[1];
	f->name = v[2];
	f->url = v[3];
	f->enabled = strcmp(v[4], "t") == 0;
	f->etag = v[5];
	f->last_modified = v[6];
	f->sha = v[7];
	f->failures = atoi(v[8]);
	f->applied_s = strtoll(v[9], NULL, 10);
	f->time_zone = v[10];
	f->country = v[11];
	f->auto_confirm = strcmp(v[12], "t") == 0;
	return 1;
}

/* A message that may quote the feed's address (a library's error) with
 * the address masked: the path of an iCalendar address is its secret. */
static void scrub(const struct feed *f, const char *msg, char *out, size_t outlen)
{
	const char *hit = f->url && f->url[0] ? strstr(msg, f->url) : NULL;
	char masked[256];

	if (hit == NULL) {
		snprintf(out, outlen, "%s", msg);
		return;
	}
	calfetch_mask_url(f->url, masked, sizeof(masked));
	snprintf(out, outlen, "%.*s%s%s", (int)(hit - msg), msg, masked, hit + strlen(f->url));
}

/* ---- the audit record and the feed's outcome ---- */

static void audit_poll(struct audit *au, const struct feed *f, long long feed_id,
	const struct calsync_result *r, long long started_ms)
{
	json_t *rec;

	if (au == NULL)
		return;
	rec = json_pack("{s:I, s:s, s:s, s:I, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I}",
		"feed_id", (json_int_t)feed_id, "feed_name", f && f->name ? f->name : "",
		"status", r->status, "events", (json_int_t)r->events,
		"new_events", r->new_events, "moved_events", r->moved_events,
		"cancelled_events", r->cancelled_events, "gone_events", r->gone_events,
		"no_contact", r->no_contact, "proposed_clients", r->proposed,
		"reminders_created", r->creates, "reminders_moved", r->reschedules,
		"reminders_cancelled", r->cancels, "threshold", r->threshold,
		"duration_ms", (json_int_t)(util_now_ms() - started_ms));
	if (rec == NULL)
		return;
	if (r->error[0])
		json_object_set_new(rec, "error", json_string(r->error));
	if (r->hold_id)
		json_object_set_new(rec, "hold_id", json_integer(r->hold_id));
	audit_record(au, "calendar", NULL, f ? f->business_id : NULL, rec);
}

/* The feed's row after a failed poll: nothing else changes. */
static void record_failure(struct db *db, const struct feed *f, const struct calsync_opts *o,
	long long now_s, const char *why, struct calsync_result *r)
{
	char now[32], next[32], msg[501];

	r->status = "failed";
	scrub(f, why, r->error, sizeof(r->error));
	/* One line of UTF-8: a reason may quote the feed (an event's summary,
	 * libical's message) and be cut inside a character; PostgreSQL refuses
	 * such text, the audit's JSON drops it, a terminal shows a second line. */
	utf8_repair(r->error, strlen(r->error), NULL);
	calmatch_trim(r->error, msg, sizeof(msg)); /* the column holds 500 */
	clock_sql(now_s, now);
	clock_sql(now_s + calsync_backoff(o->poll_s, f->failures + 1), next);
	{
		const char *p[] = { f->id, now, msg, next };
		if (db_cmd_prepared(db, "calsync_failed",
			    "UPDATE calendar_feeds SET last_polled_at = $2::timestamptz, "
			    "last_status = 'failed', last_error = $3, failures = failures + 1, "
			    "next_poll_at = $4::timestamptz WHERE id = $1::bigint",
			    4, p) < 0)
			log_error("calsync: feed %s: recording the failure: %s", f->id,
				db_last_error(db));
	}
}

/* Unchanged content (a 304, or the SHA-256 last applied): the poll's
 * time and status only, and a new ETag/Last-Modified when the server
 * sent them.  A hold of other content is moot. */
static int record_unchanged(struct db *db, const struct feed *f, const struct calsync_opts *o,
	long long now_s, const struct calfetch_res *fr, struct calsync_result *r)
{
	char now[32], next[32];
	const char *p[] = { f->id, now, next, nz(fr->etag), nz(fr->last_modified) };
	int in_tx = 0;

	r->status = "not_modified";
	clock_sql(now_s, now);
	clock_sql(now_s + o->poll_s, next);
	if (db_begin(db) < 0)
		goto failed;
	in_tx = 1;
	if (db_cmd_prepared(db, "calsync_unchanged",
		    "UPDATE calendar_feeds SET last_polled_at = $2::timestamptz, "
		    "last_ok_at = $2::timestamptz, last_status = 'not_modified', last_error = NULL, "
		    "failures = 0, next_poll_at = $3::timestamptz, "
		    "etag = COALESCE($4, etag), last_modified = COALESCE($5, last_modified) "
		    "WHERE id = $1::bigint",
		    5, p) < 0)
		goto failed;
	{
		const char *q[] = { f->id, f->sha ? f->sha : "" };
		if (db_cmd_prepared(db, "calsync_moot_holds",
			    "DELETE FROM calendar_holds WHERE feed_id = $1::bigint AND applied_at IS NULL "
			    "AND (decision IS NULL OR decision = 'approved') AND content_sha256 <> $2",
			    2, q) < 0)
			goto failed;
	}
	if (db_commit(db) < 0)
		goto failed;
	return 0;
failed:
	db_finish(db, in_tx, NULL);
	{
		char why[300];
		snprintf(why, sizeof(why), "database error: %s", db_last_error(db));
		record_failure(db, f, o, now_s, why, r);
	}
	return -1;
}

/* ---- the events of the feed already known ---- */

struct known {
	long long id, appointment_id, starts_s;
	const char *uid, *rid, *state, *summary, *appt_status, *client_name;
	int seen;
};

struct known_set {
	PGresult *res;
	struct known *k;
	size_t n;
	size_t *slot; /* open addressing: index + 1, 0 empty */
	size_t cap;
	size_t active_future; /* active events still to come */
};

static uint64_t key_hash(const char *uid, const char *rid)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *s = (const unsigned char *)uid; *s; s++)
		h = (h ^ *s) * 1099511628211ULL;
	h = (h ^ 0x1f) * 1099511628211ULL;
	for (const unsigned char *s = (const unsigned char *)rid; *s; s++)
		h = (h ^ *s) * 1099511628211ULL;
	return h;
}

static void known_free(struct known_set *ks)
{
	if (ks->res)
		PQclear(ks->res);
	free(ks->k);
	free(ks->slot);
	memset(ks, 0, sizeof(*ks));
}

static struct known *known_find(const struct known_set *ks, const char *uid, const char *rid)
{
	size_t i;

	if (ks->cap == 0)
		return NULL;
	for (i = key_hash(uid, rid) & (ks->cap - 1); ks->slot[i]; i = (i + 1) & (ks->cap - 1)) {
		struct known *k = &ks->k[ks->slot[i] - 1];
		if (strcmp(k->uid, uid) == 0 && strcmp(k->rid, rid) == 0)
			return k;
	}
	return NULL;
}

/* Inside the transaction: every calendar_events row of the feed with
 * its appointment's status and its client's name.  0 or -1. */
static int known_load(struct db *db, const char *feed_id, long long now_s, struct known_set *ks)
{
	const char *p[] = { feed_id };
	size_t n;

	memset(ks, 0, sizeof(*ks));
	ks->res = db_exec_prepared(db, "calsync_known",
		"SELECT e.id, e.uid, e.recurrence_id, e.state, extract(epoch FROM e.starts_at)::bigint, "
		"  COALESCE(e.appointment_id, 0), e.summary, COALESCE(a.status, ''), "
		"  COALESCE(c.name, '') "
		"FROM calendar_events e "
		"LEFT JOIN appointments a ON a.id = e.appointment_id "
		"LEFT JOIN clients c ON c.id = e.client_id "
		"WHERE e.feed_id = $1::bigint FOR UPDATE OF e",
		1, p);
	if (ks->res == NULL)
		return -1;
	n = (size_t)PQntuples(ks->res);
	ks->n = n;
	ks->k = xcalloc(n ? n : 1, sizeof(*ks->k));
	for (ks->cap = 16; ks->cap < 2 * n; ks->cap *= 2)
		;
	ks->slot = xcalloc(ks->cap, sizeof(*ks->slot));
	for (size_t r = 0; r < n; r++) {
		struct known *k = &ks->k[r];
		size_t i;
		k->id = strtoll(PQgetvalue(ks->res, (int)r, 0), NULL, 10);
		k->uid = PQgetvalue(ks->res, (int)r, 1);
		k->rid = PQgetvalue(ks->res, (int)r, 2);
		k->state = PQgetvalue(ks->res, (int)r, 3);
		k->starts_s = strtoll(PQgetvalue(ks->res, (int)r, 4), NULL, 10);
		k->appointment_id = strtoll(PQgetvalue(ks->res, (int)r, 5), NULL, 10);
		k->summary = PQgetvalue(ks->res, (int)r, 6);
		k->appt_status = PQgetvalue(ks->res, (int)r, 7);
		k->client_name = PQgetvalue(ks->res, (int)r, 8);
		if (strcmp(k->state, "active") == 0 && k->starts_s > now_s)
			ks->active_future++;
		for (i = key_hash(k->uid, k->rid) & (ks->cap - 1); ks->slot[i];
			i = (i + 1) & (ks->cap - 1))
			;
		ks->slot[i] = r + 1;
	}
	return 0;
}

/* ---- the apply ---- */

struct apply {
	struct db *db;
	const struct feed *f;
	struct calmatch_business biz;
	struct calmatch_dir *dir;
	long long now_s;
	json_t *preview;
	struct calsync_result *r;
	char err[512];
};

static void preview_add(struct apply *ap, const char *action, const char *summary,
	const char *client, long long from_s, long long to_s)
{
	char from[32], to[32];
	json_t *o;

	if (json_array_size(ap->preview) >= CALSYNC_PREVIEW_MAX)
		return;
	if (from_s)
		clock_sql(from_s, from);
	if (to_s)
		clock_sql(to_s, to);
	o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "action", action, "summary", summary,
		"client", client, "from", from_s ? json_string(from) : json_null(),
		"to", to_s ? json_string(to) : json_null());
	if (o)
		json_array_append_new(ap->preview, o);
}

/* A summary as stored (the column holds 1000 characters). */
static void summary_cut(const char *s, char out[1001])
{
	calmatch_trim(s, out, 1001);
}

static int db_fail(struct apply *ap, const char *what)
{
	snprintf(ap->err, sizeof(ap->err), "%s: %s", what, db_last_error(ap->db));
	return -1;
}

/* Inserts (k NULL) or updates the event row of occurrence o. */
static int event_write(struct apply *ap, const struct known *k, const struct cal_occurrence *o,
	const char *state, long long appointment_id, long long client_id, const char *contact)
{
	char starts[32], ends[32], now[32], aid[24], cid[24], kid[24], summary[1001];
	const char *ctext = contact;
	char cbuf[501];

	clock_sql(o->starts_s, starts);
	clock_sql(o->ends_s > o->starts_s ? o->ends_s : o->starts_s, ends);
	clock_sql(ap->now_s, now);
	snprintf(aid, sizeof(aid), "%lld", appointment_id);
	snprintf(cid, sizeof(cid), "%lld", client_id);
	summary_cut(o->summary, summary);
	calmatch_trim(contact, cbuf, sizeof(cbuf));
	ctext = cbuf;
	if (k == NULL) {
		const char *p[] = { ap->f->id, ap->f->business_id, o->uid, o->recurrence_id, summary,
			starts, ends, state, appointment_id ? aid : NULL, client_id ? cid : NULL,
			ctext, now };
		if (db_cmd_prepared(ap->db, "calsync_event_insert",
			    "INSERT INTO calendar_events (feed_id, business_id, uid, recurrence_id, summary, "
			    "  starts_at, ends_at, state, appointment_id, client_id, contact, first_seen_at, "
			    "  last_seen_at, updated_at) "
			    "VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6::timestamptz, $7::timestamptz, "
			    "  $8, $9::bigint, $10::bigint, $11, $12::timestamptz, $12::timestamptz, "
			    "  $12::timestamptz)",
			    12, p) < 0)
			return db_fail(ap, "recording a new event");
		return 0;
	}
	snprintf(kid, sizeof(kid), "%lld", k->id);
	{
		/* appointment_id and client_id: NULL keeps the row's own. */
		const char *p[] = { kid, summary, starts, ends, state, appointment_id ? aid : NULL,
			client_id ? cid : NULL, ctext, now };
		if (db_cmd_prepared(ap->db, "calsync_event_update",
			    "UPDATE calendar_events SET summary = $2, starts_at = $3::timestamptz, "
			    "  ends_at = $4::timestamptz, state = $5, "
			    "  appointment_id = COALESCE($6::bigint, appointment_id), "
			    "  client_id = COALESCE($7::bigint, client_id), contact = $8, "
			    "  last_seen_at = $9::timestamptz, updated_at = $9::timestamptz "
			    "WHERE id = $1::bigint",
			    9, p) < 0)
			return db_fail(ap, "updating an event");
	}
	return 0;
}

/* A state change of a row whose occurrence is gone or cancelled. */
static int event_state(struct apply *ap, const struct known *k, const char *state)
{
	char kid[24], now[32];
	const char *p[] = { kid, state, now };

	snprintf(kid, sizeof(kid), "%lld", k->id);
	clock_sql(ap->now_s, now);
	if (db_cmd_prepared(ap->db, "calsync_event_state",
		    "UPDATE calendar_events SET state = $2, updated_at = $3::timestamptz "
		    "WHERE id = $1::bigint",
		    3, p) < 0)
		return db_fail(ap, "updating an event");
	return 0;
}

/* A new appointment for occurrence o (or a known row k that had none):
 * the client, the appointment, its reminders as the API plans them. */
static int event_create(struct apply *ap, const struct known *k, const struct cal_occurrence *o)
{
	struct calmatch_result m;
	char cid[24], st[32], notes[1001], err[256];
	long long appt;
	PGresult *res;
	int rc, n;

	rc = calmatch_find(ap->db, ap->dir, &ap->biz, ap->f->name, o, ap->now_s, &m, ap->err,
		sizeof(ap->err));
	if (rc < 0)
		return -1;
	if (rc == 0) {
		ap->r->no_contact++;
		/* A known row that has no contact already, unchanged: nothing. */
		if (k && strcmp(k->state, "no_contact") == 0 && k->starts_s == o->starts_s) {
			char summary[1001];
			summary_cut(o->summary, summary);
			if (strcmp(summary, k->summary) == 0)
				return 0;
		}
		return event_write(ap, k, o, "no_contact", 0, 0, m.contact);
	}
	ap->r->proposed += m.proposed;
	snprintf(cid, sizeof(cid), "%lld", m.client_id);
	clock_sql(o->starts_s, st);
	summary_cut(o->summary, notes);
	{
		const char *p[] = { ap->f->business_id, cid, st, notes };
		res = db_exec_prepared(ap->db, "calsync_appointment",
			"INSERT INTO appointments (business_id, client_id, starts_at, notes) "
			"VALUES ($1::bigint, $2::bigint, $3::timestamptz, $4) RETURNING id",
			4, p);
	}
	if (res == NULL)
		return db_fail(ap, "creating an appointment");
	appt = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	n = reminders_plan(ap->db, appt, ap->now_s, err, sizeof(err));
	if (n < 0) {
		snprintf(ap->err, sizeof(ap->err), "planning reminders: %s", err);
		return -1;
	}
	ap->r->creates += n;
	ap->r->new_events++;
	preview_add(ap, "create", o->summary, m.client_name, 0, o->starts_s);
	return event_write(ap, k, o, "active", appt, m.client_id, m.contact);
}

/* Whether the appointment is still the calendar's to change: a person
 * who cancelled or completed it decided. */
static int appt_open(const struct known *k)
{
	return strcmp(k->appt_status, "booked") == 0 || strcmp(k->appt_status, "confirmed") == 0;
}

static int event_cancel(struct apply *ap, const struct known *k, const char *state,
	const char *summary)
{
	if (k->appointment_id && strcmp(k->state, "active") == 0 && appt_open(k)) {
		int n = reminders_cancel_appointment(ap->db, k->appointment_id);
		if (n < 0)
			return db_fail(ap, "cancelling an appointment");
		ap->r->cancels += n;
		preview_add(ap, "cancel", summary, k->client_name, k->starts_s, 0);
	}
	if (strcmp(state, "cancelled") == 0)
		ap->r->cancelled_events++;
	else
		ap->r->gone_events++;
	return event_state(ap, k, state);
}

static int apply_occurrence(struct apply *ap, struct known *k, const struct cal_occurrence *o)
{
	char summary[1001];

	if (k == NULL) {
		if (o->cancelled)
			return event_write(ap, NULL, o, "cancelled", 0, 0, "cancelled in the calendar");
		return event_create(ap, NULL, o);
	}
	k->seen = 1;
	/* An event that has started is the past: never touched. */
	if (k->starts_s <= ap->now_s)
		return 0;
	if (strcmp(k->state, "active") == 0) {
		if (!appt_open(k))
			return 0;
		if (o->cancelled)
			return event_cancel(ap, k, "cancelled", o->summary);
		summary_cut(o->summary, summary);
		if (o->starts_s != k->starts_s) {
			char err[256];
			int cancelled = 0, n;
			n = reminders_reschedule(ap->db, k->appointment_id, o->starts_s, ap->now_s,
				&cancelled, err, sizeof(err));
			if (n < 0) {
				snprintf(ap->err, sizeof(ap->err), "rescheduling: %s", err);
				return -1;
			}
			ap->r->reschedules += n > cancelled ? n : cancelled;
			ap->r->moved_events++;
			preview_add(ap, "reschedule", o->summary, k->client_name, k->starts_s,
				o->starts_s);
		} else if (strcmp(summary, k->summary) == 0) {
			return 0;
		}
		{
			char kid[24], starts[32], ends[32], now[32];
			const char *p[] = { kid, summary, starts, ends, now };
			snprintf(kid, sizeof(kid), "%lld", k->id);
			clock_sql(o->starts_s, starts);
			clock_sql(o->ends_s > o->starts_s ? o->ends_s : o->starts_s, ends);
			clock_sql(ap->now_s, now);
			if (db_cmd_prepared(ap->db, "calsync_event_moved",
				    "UPDATE calendar_events SET summary = $2, starts_at = $3::timestamptz, "
				    "  ends_at = $4::timestamptz, last_seen_at = $5::timestamptz, "
				    "  updated_at = $5::timestamptz WHERE id = $1::bigint",
				    5, p) < 0)
				return db_fail(ap, "updating an event");
		}
		return 0;
	}
	/* no_contact, cancelled or gone before. */
	if (o->cancelled) {
		if (strcmp(k->state, "cancelled") == 0)
			return 0;
		ap->r->cancelled_events++;
		return event_state(ap, k, "cancelled");
	}
	return event_create(ap, k, o);
}

/* The whole apply inside the caller's transaction.  0 or -1 (ap->err). */
static int apply_feed(struct apply *ap, const struct cal_feed *cf, struct known_set *ks,
	size_t *active_now)
{
	*active_now = 0;
	for (size_t i = 0; i < cf->n; i++) {
		const struct cal_occurrence *o = &cf->occ[i];
		if (!o->cancelled)
			(*active_now)++;
		if (apply_occurrence(ap, known_find(ks, o->uid, o->recurrence_id), o) < 0)
			return -1;
	}
	/* Gone from the feed while still to come. */
	for (size_t i = 0; i < ks->n; i++) {
		struct known *k = &ks->k[i];
		if (k->seen || k->starts_s <= ap->now_s)
			continue;
		if (strcmp(k->state, "active") != 0 && strcmp(k->state, "no_contact") != 0)
			continue;
		if (event_cancel(ap, k, "gone", k->summary) < 0)
			return -1;
	}
	return 0;
}

/* The most reminders the business had due on one of its days in the
 * last 90 days and the next 60.  -1 on a database error. */
static long long busiest_day(struct db *db, const char *business_id, long long now_s)
{
	char now[32];
	const char *p[] = { business_id, now };
	PGresult *res;
	long long n;

	clock_sql(now_s, now);
	res = db_exec_prepared(db, "calsync_busiest_day",
		"SELECT COALESCE(max(n), 0) FROM (SELECT count(*) AS n FROM reminders r "
		"  JOIN businesses b ON b.id = r.business_id "
		"  WHERE r.business_id = $1::bigint AND r.superseded_at IS NULL "
		"  AND r.status <> 'cancelled' "
		"  AND r.due_at >= $2::timestamptz - interval '90 days' "
		"  AND r.due_at < $2::timestamptz + interval '60 days' "
		"  GROUP BY (r.due_at AT TIME ZONE b.time_zone)::date) d",
		2, p);
	if (res == NULL)
		return -1;
	n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

/* The open hold of the feed: 1 (id, decision, sha into a), 0 none, -1. */
static int open_hold(struct db *db, struct arena *a, const char *feed_id, int lock,
	const char **v)
{
	const char *p[] = { feed_id };

	return db_row_prepared(db, a, lock ? "calsync_open_hold_lock" : "calsync_open_hold",
		lock ? "SELECT id, COALESCE(decision, ''), content_sha256 FROM calendar_holds "
		       "WHERE feed_id = $1::bigint AND applied_at IS NULL "
		       "AND (decision IS NULL OR decision = 'approved') FOR UPDATE"
		     : "SELECT id, COALESCE(decision, ''), content_sha256 FROM calendar_holds "
		       "WHERE feed_id = $1::bigint AND applied_at IS NULL "
		       "AND (decision IS NULL OR decision = 'approved')",
		1, p, 3, v);
}

/* Writes (or refreshes) the feed's open hold after the rolled-back
 * apply.  0 or -1. */
static int write_hold(struct db *db, struct arena *a, const struct feed *f,
	const struct calsync_opts *o, long long now_s, const char *sha, const char *reason,
	json_t *preview, struct calsync_result *r)
{
	char now[32], next[32], cr[16], rs[16], cn[16], th[16];
	const char *v[3];
	char *pj = json_dumps(preview, JSON_COMPACT);
	PGresult *res = NULL;
	int in_tx = 0, rc = -1, found;

	clock_sql(now_s, now);
	clock_sql(now_s + o->poll_s, next);
	snprintf(cr, sizeof(cr), "%d", r->creates);
	snprintf(rs, sizeof(rs), "%d", r->reschedules);
	snprintf(cn, sizeof(cn), "%d", r->cancels);
	snprintf(th, sizeof(th), "%d", r->threshold);
	if (pj == NULL || db_begin(db) < 0)
		goto out;
	in_tx = 1;
	found = open_hold(db, a, f->id, 1, v);
	if (found < 0)
		goto out;
	if (found) {
		/* An approved hold of other content: the feed changed since the
		 * approval, so this is a new question for a person. */
		const char *p[] = { v[0], reason, cr, rs, cn, th, sha, pj, now };
		res = db_exec_prepared(db, "calsync_hold_refresh",
			"UPDATE calendar_holds SET reason = $2, creates = $3::int, reschedules = $4::int, "
			"  cancels = $5::int, threshold = $6::int, content_sha256 = $7, "
			"  preview = $8::jsonb, updated_at = $9::timestamptz, "
			"  decision = CASE WHEN content_sha256 = $7 THEN decision END, "
			"  decided_at = CASE WHEN content_sha256 = $7 THEN decided_at END, "
			"  decided_by = CASE WHEN content_sha256 = $7 THEN decided_by END "
			"WHERE id = $1::bigint RETURNING id",
			9, p);
	} else {
		const char *p[] = { f->business_id, f->id, reason, cr, rs, cn, th, sha, pj, now };
		res = db_exec_prepared(db, "calsync_hold_insert",
			"INSERT INTO calendar_holds (business_id, feed_id, reason, creates, reschedules, "
			"  cancels, threshold, content_sha256, preview, created_at, updated_at) "
			"VALUES ($1::bigint, $2::bigint, $3, $4::int, $5::int, $6::int, $7::int, $8, "
			"  $9::jsonb, $10::timestamptz, $10::timestamptz) RETURNING id",
			10, p);
	}
	if (res == NULL)
		goto out;
	r->hold_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	res = NULL;
	{
		const char *p[] = { f->id, now, next };
		if (db_cmd_prepared(db, "calsync_held",
			    "UPDATE calendar_feeds SET last_polled_at = $2::timestamptz, "
			    "last_ok_at = $2::timestamptz, last_status = 'held', last_error = NULL, "
			    "failures = 0, next_poll_at = $3::timestamptz WHERE id = $1::bigint",
			    3, p) < 0)
			goto out;
	}
	if (db_commit(db) < 0)
		goto out;
	in_tx = 0;
	rc = 0;
out:
	db_finish(db, in_tx, res);
	free(pj);
	return rc;
}

/* The feed's row after an apply, and its holds: an approved one of this
 * content is applied, any other open one is moot.  Inside the
 * transaction.  0 or -1. */
static int record_applied(struct db *db, const struct feed *f, const struct calsync_opts *o,
	long long now_s, const char *sha, const struct calfetch_res *fr, size_t events,
	struct calsync_result *r)
{
	char now[32], next[32], ev[24];
	const char *p[] = { f->id, now, next, sha, nz(fr->etag), nz(fr->last_modified), ev };
	PGresult *res;

	clock_sql(now_s, now);
	clock_sql(now_s + o->poll_s, next);
	snprintf(ev, sizeof(ev), "%zu", events);
	if (db_cmd_prepared(db, "calsync_applied",
		    "UPDATE calendar_feeds SET last_polled_at = $2::timestamptz, "
		    "last_ok_at = $2::timestamptz, last_status = 'ok', last_error = NULL, failures = 0, "
		    "next_poll_at = $3::timestamptz, content_sha256 = $4, etag = $5, "
		    "last_modified = $6, events_in_feed = $7::int, applied_at = $2::timestamptz "
		    "WHERE id = $1::bigint",
		    7, p) < 0)
		return -1;
	{
		const char *q[] = { f->id, sha, now };
		res = db_exec_prepared(db, "calsync_hold_applied",
			"UPDATE calendar_holds SET applied_at = $3::timestamptz, updated_at = $3::timestamptz "
			"WHERE feed_id = $1::bigint AND applied_at IS NULL AND decision = 'approved' "
			"AND content_sha256 = $2 RETURNING id",
			3, q);
		if (res == NULL)
			return -1;
		if (PQntuples(res) > 0)
			r->hold_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (db_cmd_prepared(db, "calsync_moot_holds",
			    "DELETE FROM calendar_holds WHERE feed_id = $1::bigint AND applied_at IS NULL "
			    "AND (decision IS NULL OR decision = 'approved') AND content_sha256 <> $2",
			    2, q) < 0)
			return -1;
	}
	return 0;
}

/* The parsed feed, applied, held or failed. */
static int sync_content(struct db *db, struct arena *a, const struct feed *f,
	const struct calsync_opts *o, long long now_s, const struct calfetch_res *fr,
	const char *sha, const struct cal_feed *cf, struct calsync_result *r)
{
	struct known_set ks;
	struct apply ap;
	const char *hv[3], *rv[1];
	char reason[500];
	size_t active_now = 0;
	int approved = 0, in_tx = 0, held = 0, hrc;
	long long busiest;

	memset(&ks, 0, sizeof(ks));
	memset(&ap, 0, sizeof(ap));
	reason[0] = '\0';
	r->events = cf->n;
	/* A person rejected exactly this content: it stays unapplied. */
	{
		const char *p[] = { f->id, sha };
		hrc = db_row_prepared(db, a, "calsync_rejected",
			"SELECT decided_by FROM calendar_holds WHERE feed_id = $1::bigint "
			"AND decision = 'rejected' AND content_sha256 = $2 "
			"ORDER BY decided_at DESC LIMIT 1",
			2, p, 1, rv);
	}
	if (hrc < 0)
		goto db_failed;
	if (hrc == 1) {
		snprintf(reason, sizeof(reason),
			"these changes were rejected by %s; the feed's content is not applied until it "
			"changes", rv[0]);
		record_failure(db, f, o, now_s, reason, r);
		return -1;
	}
	hrc = open_hold(db, a, f->id, 0, hv);
	if (hrc < 0)
		goto db_failed;
	approved = hrc == 1 && strcmp(hv[1], "approved") == 0 && strcmp(hv[2], sha) == 0;
	busiest = busiest_day(db, f->business_id, now_s);
	if (busiest < 0)
		goto db_failed;
	r->threshold = calsync_threshold(busiest);

	ap.db = db;
	ap.f = f;
	ap.biz.id = f->business_id;
	ap.biz.time_zone = f->time_zone;
	ap.biz.country = f->country;
	ap.biz.auto_confirm = f->auto_confirm;
	ap.now_s = now_s;
	ap.r = r;
	ap.preview = json_array();
	ap.dir = calmatch_dir_new();
	if (db_begin(db) < 0)
		goto db_failed;
	in_tx = 1;
	{
		const char *p[] = { f->id };
		const char *v[1];
		int lrc = db_row_prepared(db, a, "calsync_lock_feed",
			"SELECT enabled FROM calendar_feeds WHERE id = $1::bigint FOR UPDATE", 1, p, 1, v);
		if (lrc < 0)
			goto db_failed;
		if (lrc == 0 || strcmp(v[0], "t") != 0) {
			/* Removed or turned off meanwhile. */
			db_rollback(db);
			json_decref(ap.preview);
			calmatch_dir_free(ap.dir);
			r->status = "skipped";
			return 0;
		}
	}
	if (known_load(db, f->id, now_s, &ks) < 0)
		goto db_failed;
	if (apply_feed(&ap, cf, &ks, &active_now) < 0)
		goto apply_failed;
	if (!approved) {
		int total = r->creates + r->reschedules + r->cancels;
		if (total > r->threshold) {
			snprintf(reason, sizeof(reason),
				"would change %d reminders at once (%d created, %d moved, %d cancelled; "
				"limit %d: 3 x the busiest day, at least %d)",
				total, r->creates, r->reschedules, r->cancels, r->threshold,
				CALSYNC_GUARD_FLOOR);
			held = 1;
		} else if (ks.active_future > 0 && active_now == 0) {
			snprintf(reason, sizeof(reason),
				"the feed no longer has any of its %zu upcoming events (%d reminders would "
				"be cancelled)",
				ks.active_future, r->cancels);
			held = 1;
		}
	}
	if (held) {
		db_rollback(db);
		in_tx = 0;
		if (write_hold(db, a, f, o, now_s, sha, reason, ap.preview, r) < 0)
			goto db_failed;
		r->status = "held";
		known_free(&ks);
		json_decref(ap.preview);
		calmatch_dir_free(ap.dir);
		return 0;
	}
	if (record_applied(db, f, o, now_s, sha, fr, cf->n, r) < 0 || db_commit(db) < 0)
		goto db_failed;
	r->status = "ok";
	known_free(&ks);
	json_decref(ap.preview);
	calmatch_dir_free(ap.dir);
	return 0;
db_failed:
	snprintf(ap.err, sizeof(ap.err), "database error: %s", db_last_error(db));
apply_failed:
	db_finish(db, in_tx, NULL);
	known_free(&ks);
	json_decref(ap.preview);
	calmatch_dir_free(ap.dir);
	{
		/* Nothing of the apply is kept: the counts say what was not done. */
		char why[600];
		snprintf(why, sizeof(why), "%s", ap.err[0] ? ap.err : "database error");
		r->new_events = r->moved_events = r->cancelled_events = r->gone_events = 0;
		r->no_contact = r->proposed = r->creates = r->reschedules = r->cancels = 0;
		r->hold_id = 0;
		record_failure(db, f, o, now_s, why, r);
	}
	return -1;
}

int calsync_feed(struct db *db, struct audit *au, const struct calsync_opts *o,
	long long feed_id, long long now_s, struct calsync_result *r)
{
	struct arena *a = arena_new(0);
	struct feed f;
	struct calfetch_req req;
	struct calfetch_res fr;
	struct cal_feed cf;
	char sha[65], perr[400], why[600];
	long long started = util_now_ms();
	int rc = -1, found, recent;

	memset(r, 0, sizeof(*r));
	memset(&f, 0, sizeof(f));
	memset(&fr, 0, sizeof(fr));
	memset(&cf, 0, sizeof(cf));
	r->status = "failed";
	found = feed_load(db, a, feed_id, &f);
	if (found <= 0) {
		if (found < 0)
			snprintf(r->error, sizeof(r->error), "database error: %s", db_last_error(db));
		else
			snprintf(r->error, sizeof(r->error), "no feed %lld", feed_id);
		arena_free(a);
		return -1;
	}
	if (!f.enabled) {
		r->status = "skipped";
		arena_free(a);
		return 0;
	}
	recent = f.applied_s > 0 && now_s - f.applied_s < CALSYNC_REREAD_S && f.sha;
	memset(&req, 0, sizeof(req));
	req.url = f.url;
	req.etag = recent ? f.etag : NULL;
	req.last_modified = recent ? f.last_modified : NULL;
	req.max_bytes = o->max_bytes;
	req.connect_ms = o->connect_ms;
	req.total_ms = o->total_ms;
	req.max_redirects = o->max_redirects;
	req.allow_http = o->allow_http;
	if (calfetch_get(&req, &fr) < 0) {
		record_failure(db, &f, o, now_s, fr.error[0] ? fr.error : "the feed could not be fetched",
			r);
		goto out;
	}
	if (fr.not_modified) {
		rc = record_unchanged(db, &f, o, now_s, &fr, r);
		goto out;
	}
	if (util_sha256_hex(fr.body ? fr.body : "", fr.len, sha) < 0) {
		record_failure(db, &f, o, now_s, "cannot hash the feed's content", r);
		goto out;
	}
	if (recent && strcmp(sha, f.sha) == 0) {
		rc = record_unchanged(db, &f, o, now_s, &fr, r);
		goto out;
	}
	if (calparse_feed(fr.body ? fr.body : "", fr.len, f.time_zone, now_s,
		    now_s + (long long)o->horizon_days * 86400, o->max_occ, &cf, perr,
		    sizeof(perr)) < 0) {
		snprintf(why, sizeof(why), "not a valid calendar: %s", perr);
		record_failure(db, &f, o, now_s, why, r);
		goto out;
	}
	rc = sync_content(db, a, &f, o, now_s, &fr, sha, &cf, r);
out:
	audit_poll(au, &f, feed_id, r, started);
	if (rc < 0)
		log_warn("calsync: feed %lld of business %s: %s", feed_id,
			f.business_id ? f.business_id : "?", r->error);
	calparse_free(&cf);
	calfetch_res_free(&fr);
	arena_free(a);
	return rc;
}

long long calsync_claim(struct db *db, long long now_s)
{
	char now[32], lease[32];
	const char *p[] = { now, lease };
	PGresult *res;
	long long id = 0;

	clock_sql(now_s, now);
	clock_sql(now_s + CALSYNC_LEASE_S, lease);
	res = db_exec_prepared(db, "calsync_claim",
		"WITH c AS (SELECT f.id FROM calendar_feeds f WHERE f.enabled AND "
		"  (f.next_poll_at <= $1::timestamptz OR (f.last_status = 'held' AND EXISTS ("
		"    SELECT 1 FROM calendar_holds h WHERE h.feed_id = f.id AND h.applied_at IS NULL "
		"    AND h.decision = 'approved'))) "
		"  ORDER BY f.next_poll_at, f.id LIMIT 1 FOR UPDATE SKIP LOCKED) "
		"UPDATE calendar_feeds f SET next_poll_at = $2::timestamptz "
		"FROM c WHERE f.id = c.id RETURNING f.id",
		2, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return id;
}

/* ---- the command ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence calsync [--once] [--feed ID]\n\n"
		"Polls the businesses' calendar feeds (iCalendar addresses) and keeps one\n"
		"appointment, with its reminders, per event occurrence in the next\n"
		"RINGFENCE_CALENDAR_HORIZON_DAYS days (default %d).  Without options it runs\n"
		"until SIGTERM (the feed in hand is finished), polling each feed whose next\n"
		"poll has come; every RINGFENCE_CALENDAR_POLL_S seconds (default %d, at least\n"
		"%d outside the test environment); failures back off, doubling up to an hour.\n"
		"  --once     poll every due feed once and exit (non-zero when one failed)\n"
		"  --feed ID  poll that feed now, due or not, and exit (non-zero on failure)\n"
		"A sync that would change more reminders at once than max(%d, 3 x the\n"
		"business's busiest day), or that would empty a feed, is held for a person\n"
		"to approve on the dashboard.  Needs RINGFENCE_DATABASE_URL and\n"
		"RINGFENCE_REDIS_URL (the audit).\n",
		CALSYNC_DEFAULT_HORIZON_DAYS, CALSYNC_DEFAULT_POLL_S, CALSYNC_MIN_POLL_S,
		CALSYNC_GUARD_FLOOR);
}

/* An environment value, a whole number lo..hi, or def when unset. */
static int env_int(const char *name, long lo, long hi, long def, long *out)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] == '\0') {
		*out = def;
		return 0;
	}
	return cli_int_arg(PROG, name, v, lo, hi, out);
}

static void print_result(long long id, const struct calsync_result *r)
{
	if (strcmp(r->status, "failed") == 0) {
		printf("feed %lld: failed: %s\n", id, r->error);
		return;
	}
	printf("feed %lld: %s, %zu events, %d new, %d moved, %d cancelled, %d gone, %d without "
	       "contact, %d clients proposed; reminders %d created, %d moved, %d cancelled "
	       "(limit %d)%s",
		id, r->status, r->events, r->new_events, r->moved_events, r->cancelled_events,
		r->gone_events, r->no_contact, r->proposed, r->creates, r->reschedules, r->cancels,
		r->threshold, r->hold_id ? "" : "\n");
	if (r->hold_id)
		printf(", hold %lld\n", r->hold_id);
	fflush(stdout);
}

static void idle(int seconds)
{
	struct timespec ts = { seconds, 0 };

	while (!cli_stopping() && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The sync's heartbeat: a feed's poll can take a while (fetch and parse). */
#define CALSYNC_BEAT_S 60

int calsync_main(int argc, char **argv)
{
	struct calsync_opts o;
	struct config cfg;
	struct db *db = NULL;
	struct rds *rd = NULL;
	struct audit *au = NULL;
	struct calsync_result r;
	char err[512];
	long feed = 0, v;
	int once = 0, rc = 1, failed = 0;
	struct heartbeat hb;

	memset(&hb, 0, sizeof(hb));
	calsync_default_opts(&o);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--once") == 0) {
			once = 1;
		} else if (strcmp(argv[i], "--feed") == 0) {
			if (cli_int_arg(PROG, "--feed", i + 1 < argc ? argv[++i] : NULL, 1,
				    999999999999999999L, &feed) < 0)
				return 2;
		} else {
			fprintf(stderr, PROG ": unknown argument '%s' (see --help)\n", argv[i]);
			return 2;
		}
	}
	if (config_load(&cfg, CFG_NEED_DB | CFG_NEED_REDIS, err, sizeof(err)) < 0 ||
		clock_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	if (cli_check_redis(PROG, &cfg) < 0)
		return 1;
	if (env_int("RINGFENCE_CALENDAR_POLL_S", cfg.env == RF_ENV_TEST ? 1 : CALSYNC_MIN_POLL_S,
		    86400, CALSYNC_DEFAULT_POLL_S, &v) < 0)
		return 1;
	o.poll_s = (int)v;
	if (env_int("RINGFENCE_CALENDAR_HORIZON_DAYS", 1, 366, CALSYNC_DEFAULT_HORIZON_DAYS, &v) < 0)
		return 1;
	o.horizon_days = (int)v;
	o.allow_http = cfg.env == RF_ENV_DEVELOPMENT || cfg.env == RF_ENV_TEST;
	audit_add_secret(cfg.auth_token);

	rd = rds_open(cfg.redis_url);
	if (rd == NULL) {
		fprintf(stderr, PROG ": RINGFENCE_REDIS_URL is malformed\n");
		goto out;
	}
	au = audit_open(rd, cfg.audit_fallback);
	db = db_open(cfg.database_url);
	if (db_connect(db) < 0 && (once || feed)) {
		fprintf(stderr, PROG ": cannot connect to the database: %s\n", db_last_error(db));
		goto out;
	}
	cli_catch_stop(SIGTERM);
	cli_catch_stop(SIGINT);
	if (feed) {
		rc = calsync_feed(db, au, &o, feed, clock_now_s(), &r) < 0 ? 1 : 0;
		print_result(feed, &r);
		if (rc && r.error[0] && strncmp(r.error, "no feed", 7) == 0)
			fprintf(stderr, PROG ": %s\n", r.error);
		else if (strcmp(r.status, "skipped") == 0)
			fprintf(stderr, PROG ": feed %ld is turned off; nothing polled\n", feed);
		goto out;
	}
	if (!once)
		log_info("calsync: started, feeds polled every %d s, horizon %d days%s", o.poll_s,
			o.horizon_days, cfg.now ? " (clock fixed by RINGFENCE_NOW)" : "");
	if (!once) {
		metrics_open(cfg.run_dir, METRICS_CALSYNC);
		heartbeat_init(&hb, db, "calsync", CALSYNC_BEAT_S);
	}
	while (!cli_stopping()) {
		long long id = calsync_claim(db, clock_now_s());
		if (!once)
			heartbeat_beat(&hb, id < 0 ? HEARTBEAT_ERROR : HEARTBEAT_OK, db_last_error(db));
		if (id < 0) {
			log_error("calsync: claiming a feed: %s", db_last_error(db));
			if (once) {
				failed = 1;
				break;
			}
			idle(5);
			continue;
		}
		if (id == 0) {
			if (once)
				break;
			idle(5);
			continue;
		}
		if (calsync_feed(db, au, &o, id, clock_now_s(), &r) < 0)
			failed = 1;
		if (once)
			print_result(id, &r);
		else
			log_info("calsync: feed %lld: %s (%zu events, reminders %d created, %d moved, "
				 "%d cancelled)%s%s",
				id, r.status, r.events, r.creates, r.reschedules, r.cancels,
				r.error[0] ? ": " : "", r.error);
	}
	rc = once && failed ? 1 : 0;
	if (!once) {
		heartbeat_stop(&hb);
		log_info("calsync: stopped");
	}
out:
	db_close(db);
	audit_close(au);
	rds_close(rd);
	return rc;
}
