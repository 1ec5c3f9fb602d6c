/* reminders: an appointment's reminder rows, planned from its business's
 * policy (see include/reminders.h for the rules). */
#include "reminders.h"
#include "clock.h"
#include "db.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct reminders_line reminders_defaults[2] = {
	{ "voice", 1440, 120 },
	{ "sms", 120, 120 },
};

size_t reminders_default_policy(struct reminders_line out[2])
{
	memcpy(out, reminders_defaults, sizeof(reminders_defaults));
	return 2;
}

int reminders_default_stale(const char *channel)
{
	if (channel == NULL)
		return -1;
	if (strcmp(channel, "voice") == 0 || strcmp(channel, "sms") == 0)
		return 120;
	if (strcmp(channel, "email") == 0)
		return 720;
	return -1;
}

/* Whether a line is one the schema would accept. */
static int reminders_line_ok(const struct reminders_line *l)
{
	return reminders_default_stale(l->channel) > 0 && l->offset_minutes >= 0 &&
		l->offset_minutes <= 43200 && l->stale_after_minutes >= 5 &&
		l->stale_after_minutes <= 10080;
}

/* The address a channel goes to, or NULL when the client cannot (or must
 * not) be reached on it. */
static const char *reminders_address(const char *channel, const struct reminders_recipient *rc)
{
	const char *a;
	if (strcmp(channel, "email") == 0)
		a = rc->email;
	else
		a = rc->phone_blocked ? NULL : rc->phone;
	return (a && *a) ? a : NULL;
}

/* Pure rules; no allocation.  Lines of one channel whose due time has
 * passed all collapse into one reminder due at once (the one with the
 * smallest offset), so a late booking never fires two calls together. */
int reminders_compute(const struct reminders_line *lines, size_t nlines,
	const struct reminders_recipient *rc, long long starts_s, long long now_s,
	struct reminders_row *out, size_t max)
{
	size_t n = 0;
	int rc_out = -1;

	for (size_t i = 0; i < nlines; i++)
		if (!reminders_line_ok(&lines[i]))
			goto out;
	for (size_t i = 0; i < nlines; i++) {
		const struct reminders_line *l = &lines[i];
		const char *to = reminders_address(l->channel, rc);
		long long due = starts_s - l->offset_minutes * 60LL, stale;
		int superseded = 0;

		if (to == NULL)
			continue;
		if (due < now_s) {
			if (starts_s - now_s < REMINDERS_MIN_LEAD_S)
				continue;
			/* Another passed line of this channel closer to the
			 * appointment takes its place. */
			for (size_t j = 0; j < nlines; j++)
				if (j != i && strcmp(lines[j].channel, l->channel) == 0 &&
					starts_s - lines[j].offset_minutes * 60LL < now_s &&
					(lines[j].offset_minutes < l->offset_minutes ||
						(lines[j].offset_minutes == l->offset_minutes && j < i)))
					superseded = 1;
			if (superseded)
				continue;
			due = now_s;
		}
		stale = due + l->stale_after_minutes * 60LL;
		if (stale > starts_s)
			stale = starts_s;
		if (n == max)
			goto out;
		snprintf(out[n].channel, sizeof(out[n].channel), "%s", l->channel);
		out[n].offset_minutes = l->offset_minutes;
		out[n].due_s = due;
		out[n].stale_s = stale;
		out[n].to_address = to;
		n++;
	}
	rc_out = (int)n;
out:
	return rc_out;
}

/* The appointment as planning needs it, copied out of the result. */
struct reminders_appt {
	char business_id[24];
	long long starts_s;
	char status[16];
	char *phone;
	char *email;
	int phone_blocked;
};

static void reminders_appt_free(struct reminders_appt *a)
{
	free(a->phone);
	free(a->email);
}

/* Reads and locks the appointment; 1 found, 0 not, -1 database error. */
static int reminders_load_appt(struct db *db, const char *id, struct reminders_appt *a)
{
	const char *p[] = { id };
	PGresult *res = db_exec_prepared(db, "reminders_appt",
		"SELECT a.business_id, extract(epoch FROM a.starts_at)::bigint, a.status, "
		"  c.phone, c.email, "
		"  (c.opted_out_at IS NOT NULL OR c.phone_invalid_at IS NOT NULL) "
		"FROM appointments a JOIN clients c "
		"  ON c.id = a.client_id AND c.business_id = a.business_id "
		"WHERE a.id = $1::bigint FOR UPDATE OF a",
		1, p);
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (res == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		rc = 0;
		goto out;
	}
	snprintf(a->business_id, sizeof(a->business_id), "%s", PQgetvalue(res, 0, 0));
	a->starts_s = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(a->status, sizeof(a->status), "%s", PQgetvalue(res, 0, 2));
	if (!PQgetisnull(res, 0, 3))
		a->phone = xstrdup(PQgetvalue(res, 0, 3));
	if (!PQgetisnull(res, 0, 4))
		a->email = xstrdup(PQgetvalue(res, 0, 4));
	a->phone_blocked = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
	rc = 1;
out:
	if (res)
		PQclear(res);
	return rc;
}

/* The business's policy lines into lines[0..max); how many (0: none, use
 * the default), or -1 on a database error. */
static int reminders_load_policy(struct db *db, const char *business_id,
	struct reminders_line *lines, size_t max)
{
	const char *p[] = { business_id };
	PGresult *res = db_exec_prepared(db, "reminders_policy",
		"SELECT channel, offset_minutes, stale_after_minutes FROM reminder_policies "
		"WHERE business_id = $1::bigint ORDER BY offset_minutes DESC, channel LIMIT 64",
		1, p);
	int n = -1;

	if (res == NULL)
		goto out;
	n = PQntuples(res);
	if ((size_t)n > max) {
		log_warn("reminders: business %s has %d policy lines; only the first %zu are used",
			business_id, n, max);
		n = (int)max;
	}
	for (int i = 0; i < n; i++) {
		snprintf(lines[i].channel, sizeof(lines[i].channel), "%s", PQgetvalue(res, i, 0));
		lines[i].offset_minutes = atoi(PQgetvalue(res, i, 1));
		lines[i].stale_after_minutes = atoi(PQgetvalue(res, i, 2));
	}
out:
	if (res)
		PQclear(res);
	return n;
}

/* The booking confirmation of the appointment (id) whose first plan is
 * being made, when its business sends them (see reminders.h): one row of
 * kind 'booking' on the business's booking_channel, due now_s plus the
 * business's delay, stale 12 hours later or at the appointment, whichever
 * is first; none when it would be due at or after the appointment, when
 * the client opted out, or has no usable address on that channel.  The
 * unique index reminders_booking_key keeps it one per appointment.  How
 * many rows (0 or 1), or -1 on a database error. */
static int reminders_plan_booking(struct db *db, const char *id, long long now_s)
{
	char now[32];
	const char *p[2] = { id, now };
	PGresult *res;
	int n;

	clock_sql(now_s, now);
	res = db_exec_prepared(db, "reminders_booking",
		"WITH t AS (SELECT a.business_id, a.id, a.starts_at, b.booking_channel AS channel,"
		"  $2::timestamptz + make_interval(mins => b.booking_delay_minutes) AS due,"
		"  CASE b.booking_channel WHEN 'sms' THEN c.phone::text ELSE c.email::text END AS addr"
		"  FROM appointments a JOIN businesses b ON b.id = a.business_id"
		"  JOIN clients c ON c.id = a.client_id AND c.business_id = a.business_id"
		"  WHERE a.id = $1::bigint AND b.booking_channel IS NOT NULL"
		"  AND a.status IN ('booked', 'confirmed') AND c.opted_out_at IS NULL"
		"  AND (b.booking_channel = 'email' OR c.phone_invalid_at IS NULL))"
		" INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes, attempt,"
		"  due_at, stale_at, to_address, kind)"
		" SELECT business_id, id, channel, LEAST(43200, GREATEST(0,"
		"  floor(extract(epoch FROM starts_at - $2::timestamptz) / 60)))::int, 5, due,"
		"  LEAST(due + interval '12 hours', starts_at), addr, 'booking' FROM t"
		" WHERE addr IS NOT NULL AND addr <> '' AND due < starts_at"
		" ON CONFLICT DO NOTHING",
		2, p);
	if (res == NULL)
		return -1;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	return n;
}

int reminders_plan(struct db *db, long long appointment_id, long long now_s, char *err,
	size_t errlen)
{
	struct reminders_line lines[REMINDERS_MAX_LINES];
	struct reminders_row rows[REMINDERS_MAX_LINES];
	struct reminders_appt a;
	struct reminders_recipient rc;
	char id[24];
	const char *p1[1];
	PGresult *res = NULL;
	int nlines, nrows, found, first_plan, ret = -1;

	snprintf(id, sizeof(id), "%lld", appointment_id);
	p1[0] = id;
	found = reminders_load_appt(db, id, &a);
	if (found < 0) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		goto out;
	}
	if (found == 0) {
		snprintf(err, errlen, "no appointment %lld", appointment_id);
		goto out;
	}
	if (strcmp(a.status, "booked") != 0 && strcmp(a.status, "confirmed") != 0) {
		snprintf(err, errlen, "appointment %lld is %s: nothing to remind", appointment_id,
			a.status);
		goto out;
	}
	/* Column 1: whether an earlier plan exists (superseded or not): a
	 * booking confirmation goes with the first plan only. */
	res = db_exec_prepared(db, "reminders_plan_count",
		"SELECT count(*) FILTER (WHERE status = 'pending'), "
		"  count(*) FILTER (WHERE kind = 'plan') > 0 "
		"FROM reminders WHERE appointment_id = $1::bigint",
		1, p1);
	if (res == NULL) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
		snprintf(err, errlen, "appointment %lld still has pending reminders; cancel them first",
			appointment_id);
		goto out;
	}
	first_plan = strcmp(PQgetvalue(res, 0, 1), "t") != 0;
	PQclear(res);
	res = NULL;

	nlines = reminders_load_policy(db, a.business_id, lines, REMINDERS_MAX_LINES);
	if (nlines < 0) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		goto out;
	}
	if (nlines == 0)
		nlines = (int)reminders_default_policy(lines);
	rc.phone = a.phone;
	rc.email = a.email;
	rc.phone_blocked = a.phone_blocked;
	nrows = reminders_compute(lines, (size_t)nlines, &rc, a.starts_s, now_s, rows,
		REMINDERS_MAX_LINES);
	if (nrows < 0) {
		snprintf(err, errlen, "business %s has a malformed reminder policy", a.business_id);
		goto out;
	}

	/* The earlier plan (sent, failed, cancelled rows) stays as history. */
	res = db_exec_prepared(db, "reminders_supersede",
		"UPDATE reminders SET superseded_at = now(), updated_at = now() "
		"WHERE appointment_id = $1::bigint AND superseded_at IS NULL",
		1, p1);
	if (res == NULL) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		goto out;
	}
	PQclear(res);
	res = NULL;

	for (int i = 0; i < nrows; i++) {
		char offset[16], due[32], stale[32];
		snprintf(offset, sizeof(offset), "%d", rows[i].offset_minutes);
		clock_sql(rows[i].due_s, due);
		clock_sql(rows[i].stale_s, stale);
		const char *p[] = { a.business_id, id, rows[i].channel, offset, due, stale,
			rows[i].to_address };
		res = db_exec_prepared(db, "reminders_insert",
			"INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes, "
			"  attempt, due_at, stale_at, to_address) "
			"VALUES ($1::bigint, $2::bigint, $3, $4::int, 1, $5::timestamptz, "
			"  $6::timestamptz, $7)",
			7, p);
		if (res == NULL) {
			snprintf(err, errlen, "database error: %s", db_last_error(db));
			goto out;
		}
		PQclear(res);
		res = NULL;
	}
	if (first_plan && reminders_plan_booking(db, id, now_s) < 0) {
		snprintf(err, errlen, "database error: %s", db_last_error(db));
		goto out;
	}
	ret = nrows;
out:
	if (res)
		PQclear(res);
	if (found > 0)
		reminders_appt_free(&a);
	return ret;
}

int reminders_cancel_unsent(struct db *db, long long appointment_id, const char *reason)
{
	char id[24];
	const char *p[] = { id, reason ? reason : "cancelled" };
	PGresult *res;
	int n = -1;

	snprintf(id, sizeof(id), "%lld", appointment_id);
	res = db_exec_prepared(db, "reminders_cancel_unsent",
		"UPDATE reminders SET status = 'cancelled', status_reason = $2, updated_at = now() "
		"WHERE appointment_id = $1::bigint AND status = 'pending'",
		2, p);
	if (res == NULL)
		goto out;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
out:
	return n;
}

/* Runs sql (the appointment's update, $1 its id, $2 an optional value),
 * prepared as name (a literal), and cancels its unsent reminders with
 * reason why.  How many were cancelled, or -1 on a database error. */
static int appointment_change(struct db *db, long long appointment_id, const char *name,
	const char *sql, const char *value, const char *why)
{
	char id[24];
	const char *p[2] = { id, value };
	PGresult *res;

	snprintf(id, sizeof(id), "%lld", appointment_id);
	res = db_exec_prepared(db, name, sql, value ? 2 : 1, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return reminders_cancel_unsent(db, appointment_id, why);
}

/* See reminders.h. */
int reminders_cancel_appointment(struct db *db, long long appointment_id)
{
	return appointment_change(db, appointment_id, "reminders_appt_cancel",
		"UPDATE appointments SET status = 'cancelled', cancelled_at = now(), "
		"updated_at = now() WHERE id = $1::bigint",
		NULL, "appointment cancelled");
}

/* See reminders.h. */
int reminders_reschedule(struct db *db, long long appointment_id, long long starts_s,
	long long now_s, int *cancelled, char *err, size_t errlen)
{
	char st[32];

	clock_sql(starts_s, st);
	/* A confirmation was for the old time. */
	*cancelled = appointment_change(db, appointment_id, "reminders_appt_move",
		"UPDATE appointments SET starts_at = $2::timestamptz, status = 'booked', "
		"confirmed_at = NULL, updated_at = now() WHERE id = $1::bigint",
		st, "rescheduled");
	if (*cancelled < 0) {
		snprintf(err, errlen, "moving appointment %lld: %s", appointment_id,
			db_last_error(db));
		return -1;
	}
	return reminders_plan(db, appointment_id, now_s, err, errlen);
}

/* See reminders.h. */
long long reminders_add_now(struct db *db, long long appointment_id, const char *channel,
	int offset_minutes, const char *to_address, const char *kind, long long user_id,
	long long now_s)
{
	char id[24], off[16], now[32], stale[16], uid[24];
	const char *p[8] = { id, channel, offset_minutes >= 0 ? off : NULL, now, stale, to_address,
		kind, user_id > 0 ? uid : NULL };
	PGresult *res;
	long long rid = -1;

	snprintf(id, sizeof(id), "%lld", appointment_id);
	snprintf(off, sizeof(off), "%d", offset_minutes);
	clock_sql(now_s, now);
	snprintf(stale, sizeof(stale), "%d", reminders_default_stale(channel));
	snprintf(uid, sizeof(uid), "%lld", user_id);
	/* Attempt 5, the last: status callbacks never retry it. */
	res = db_exec_prepared(db, "reminders_add_now",
		"INSERT INTO reminders (business_id, appointment_id, channel, offset_minutes,"
		" attempt, due_at, stale_at, to_address, kind, requested_by)"
		" SELECT a.business_id, a.id, $2, COALESCE($3::int,"
		"   LEAST(43200, GREATEST(0, floor(extract(epoch FROM a.starts_at - $4::timestamptz)"
		"   / 60)))::int), 5, $4::timestamptz,"
		" LEAST($4::timestamptz + make_interval(mins => $5::int), a.starts_at), $6, $7,"
		" $8::bigint FROM appointments a WHERE a.id = $1::bigint RETURNING id",
		8, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		rid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return rid;
}
