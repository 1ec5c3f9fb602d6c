/* sim_store: the Twilio simulator's rows in PostgreSQL. */
#include "sim/sim_store.h"
#include "db.h"
#include "log.h"
#include "sim/sim_call.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies a possibly NULL column into a new string (NULL stays NULL). */
static char *col_dup(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return xstrdup(PQgetvalue(res, row, col));
}

static int is_calls(const char *kind)
{
	return strcmp(kind, "calls") == 0;
}

int sim_store_new_sid(const char *prefix, char out[35])
{
	unsigned char rnd[16];
	if (strlen(prefix) != 2 || util_random(rnd, sizeof(rnd)) < 0)
		return -1;
	out[0] = prefix[0];
	out[1] = prefix[1];
	util_hex(rnd, sizeof(rnd), out + 2);
	return 0;
}

/* A statement's outcome, its result cleared: 0, or -1 when it failed
 * (res NULL; db.c logged why). */
static int done(PGresult *res)
{
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* How many rows a statement returned, its result cleared; -1 when it
 * failed. */
static int rows(PGresult *res)
{
	int n;
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n;
}

/* Appends the one text value of a one-row result to json. */
static int one_text(PGresult *res, struct buf *json)
{
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	buf_puts(json, PQgetvalue(res, 0, 0));
	PQclear(res);
	return 1;
}

int sim_store_call_insert(struct db *db, const struct sim_store_call_new *c, struct buf *json)
{
	char events[8], timeout[12], limit[12];
	snprintf(events, sizeof(events), "%u", c->status_events & 15u);
	snprintf(timeout, sizeof(timeout), "%d", c->timeout_s);
	snprintf(limit, sizeof(limit), "%d", c->time_limit_s);
	const char *p[] = { c->sid, c->account_sid, c->to, c->from, c->url,
		c->method ? c->method : "POST", c->twiml, c->status_callback,
		c->status_callback_method ? c->status_callback_method : "POST", events,
		c->machine_detection, timeout, limit, c->direction ? c->direction : "outbound-api",
		c->caller_behaviour, c->fallback_url, c->fallback_method ? c->fallback_method : "POST" };
	PGresult *res = db_exec_prepared(db, "sim_call_insert",
		"INSERT INTO twilio_sim.calls AS c (sid, account_sid, to_number, from_number, url,"
		" method, twiml, status_callback, status_callback_method, status_events,"
		" machine_detection, timeout_s, time_limit_s, direction, caller_behaviour,"
		" fallback_url, fallback_method)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::int, $11, $12::int, $13::int,"
		"  $14, $15, $16, $17)"
		" RETURNING twilio_sim.call_json(c)::text",
		(int)ARRAY_LEN(p), p);
	return one_text(res, json) == 1 ? 0 : -1;
}

int sim_store_message_insert(struct db *db, const struct sim_store_message_new *m,
	struct buf *json)
{
	char segs[12];
	snprintf(segs, sizeof(segs), "%d", m->num_segments > 0 ? m->num_segments : 1);
	const char *p[] = { m->sid, m->account_sid, m->to, m->from, m->body,
		m->direction ? m->direction : "outbound-api", m->status ? m->status : "queued",
		m->status_callback, segs };
	PGresult *res = db_exec_prepared(db, "sim_message_insert",
		"INSERT INTO twilio_sim.messages AS m (sid, account_sid, to_number, from_number, body,"
		" direction, status, status_callback, num_segments, date_sent)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::int,"
		"  CASE WHEN $7 = 'received' THEN now() END)"
		" RETURNING twilio_sim.message_json(m)::text",
		(int)ARRAY_LEN(p), p);
	return one_text(res, json) == 1 ? 0 : -1;
}

int sim_store_get_json(struct db *db, const char *kind, const char *account_sid,
	const char *sid, struct buf *json)
{
	const char *p[] = { account_sid, sid };
	PGresult *res;
	if (is_calls(kind))
		res = db_exec_prepared(db, "sim_call_get",
			"SELECT twilio_sim.call_json(c)::text FROM twilio_sim.calls c"
			" WHERE account_sid = $1 AND sid = $2", 2, p);
	else
		res = db_exec_prepared(db, "sim_message_get",
			"SELECT twilio_sim.message_json(m)::text FROM twilio_sim.messages m"
			" WHERE account_sid = $1 AND sid = $2", 2, p);
	return one_text(res, json);
}

/* The bounds of a date filter, in SQL: a date is a whole UTC day, a
 * date-time an instant.  $n::text holds the value. */
#define SQL_LOWER(n) "(CASE WHEN length($" n ") = 10 THEN ($" n ")::date::timestamp AT TIME ZONE 'UTC'" \
	" ELSE ($" n ")::timestamptz END)"
#define SQL_UPPER(n) "(CASE WHEN length($" n ") = 10 THEN (($" n ")::date + 1)::timestamp AT TIME ZONE 'UTC'" \
	" ELSE ($" n ")::timestamptz + interval '1 microsecond' END)"
/* t within [lower(a), upper(b)) and, for "on", within that day or instant. */
#define SQL_RANGE(t, a, b, on) \
	" AND ($" a "::text IS NULL OR " t " >= " SQL_LOWER(a) ")" \
	" AND ($" b "::text IS NULL OR " t " < " SQL_UPPER(b) ")" \
	" AND ($" on "::text IS NULL OR (" t " >= " SQL_LOWER(on) " AND " t " < " SQL_UPPER(on) "))"

/* The list's WHERE clause after the account ($1): filters $2..$10, then
 * the page token: $11 'PA' (entries after that sid in the list's order)
 * or 'PB' (entries before it), $12 the sid.  Twilio's date filters apply
 * to start_time (calls) and date_sent (messages) as it documents them: a
 * call not yet dialled has no start_time and a message not yet sent no
 * date_sent, so neither matches any date filter. */
#define SQL_LIST_WHERE(tbl, t, e) \
	" WHERE account_sid = $1" \
	" AND ($2::text IS NULL OR to_number = $2)" \
	" AND ($3::text IS NULL OR from_number = $3)" \
	" AND ($4::text IS NULL OR status = $4)" \
	SQL_RANGE(t, "5", "6", "7") e \
	" AND ($11::text IS NULL OR ($11 = 'PA' AND (date_created, sid) <" \
	"   (SELECT date_created, sid FROM " tbl " WHERE sid = $12 AND account_sid = $1))" \
	"  OR ($11 = 'PB' AND (date_created, sid) >" \
	"   (SELECT date_created, sid FROM " tbl " WHERE sid = $12 AND account_sid = $1)))"

int sim_store_list_json(struct db *db, const char *kind, const char *account_sid,
	const struct sim_store_filter *f, const struct sim_store_page *pg, struct buf *json,
	struct sim_store_page_out *po)
{
	char limit[24], dir[3] = "", tsid[40] = "";
	PGresult *res = NULL;
	int n, before = 0, rc = -1;

	memset(po, 0, sizeof(*po));
	snprintf(limit, sizeof(limit), "%ld", pg->page_size + 1);
	if (pg->token) {
		/* PA or PB, then the sid of the row the page starts after or ends before. */
		snprintf(dir, sizeof(dir), "%.2s", pg->token);
		snprintf(tsid, sizeof(tsid), "%s", pg->token + 2);
		before = strcmp(dir, "PB") == 0;
	}
	const char *p[] = { account_sid, f->to, f->from, f->status, f->after, f->before, f->on,
		f->end_after, f->end_before, f->end_on, pg->token ? dir : NULL,
		pg->token ? tsid : NULL, limit };
	if (pg->token) {
		/* A token must name an entry of this account: a page that starts
		 * after nothing is an error, never the whole list again. */
		const char *q[] = { tsid, account_sid };
		PGresult *t = db_exec_prepared(db, is_calls(kind) ? "sim_call_token" : "sim_message_token",
			is_calls(kind) ? "SELECT 1 FROM twilio_sim.calls WHERE sid = $1 AND account_sid = $2"
				       : "SELECT 1 FROM twilio_sim.messages WHERE sid = $1 AND account_sid = $2",
			2, q);
		if (t == NULL)
			return -1;
		n = PQntuples(t);
		PQclear(t);
		if (n == 0)
			return -2;
	}
	/* Newest first; a PB page is read oldest first and turned round. */
	if (is_calls(kind))
		res = db_exec_prepared(db, before ? "sim_call_list_b" : "sim_call_list",
			before ? "SELECT j, sid FROM (SELECT twilio_sim.call_json(c)::text AS j, sid, date_created"
				 " FROM twilio_sim.calls c"
				 SQL_LIST_WHERE("twilio_sim.calls", "start_time", SQL_RANGE("end_time", "8", "9", "10"))
				 " ORDER BY date_created, sid LIMIT $13::bigint) x"
				 " ORDER BY date_created DESC, sid DESC"
			       : "SELECT twilio_sim.call_json(c)::text, sid FROM twilio_sim.calls c"
				 SQL_LIST_WHERE("twilio_sim.calls", "start_time", SQL_RANGE("end_time", "8", "9", "10"))
				 " ORDER BY date_created DESC, sid DESC LIMIT $13::bigint",
			(int)ARRAY_LEN(p), p);
	else
		res = db_exec_prepared(db, before ? "sim_message_list_b" : "sim_message_list",
			before ? "SELECT j, sid FROM (SELECT twilio_sim.message_json(m)::text AS j, sid, date_created"
				 " FROM twilio_sim.messages m"
				 SQL_LIST_WHERE("twilio_sim.messages", "date_sent",
					 " AND ($8::text IS NULL) AND ($9::text IS NULL) AND ($10::text IS NULL)")
				 " ORDER BY date_created, sid LIMIT $13::bigint) x"
				 " ORDER BY date_created DESC, sid DESC"
			       : "SELECT twilio_sim.message_json(m)::text, sid FROM twilio_sim.messages m"
				 SQL_LIST_WHERE("twilio_sim.messages", "date_sent",
					 " AND ($8::text IS NULL) AND ($9::text IS NULL) AND ($10::text IS NULL)")
				 " ORDER BY date_created DESC, sid DESC LIMIT $13::bigint",
			(int)ARRAY_LEN(p), p);
	if (res == NULL)
		goto out;
	n = PQntuples(res);
	{
		/* One row more than the page says whether more follow in the
		 * direction read; a PB page read its rows oldest first, so
		 * its extra row is the newest, first once turned round. */
		int first = 0, extra = n > pg->page_size;
		if (extra) {
			n = (int)pg->page_size;
			if (before)
				first = 1; /* the newest row is the extra one */
		}
		if (before) {
			po->newer = extra;
			po->older = 1; /* the token's own row lies after this page */
		} else {
			po->older = extra;
			po->newer = pg->token != NULL;
		}
		buf_putc(json, '[');
		for (int i = 0; i < n; i++) {
			if (i > 0)
				buf_puts(json, ", ");
			buf_puts(json, PQgetvalue(res, first + i, 0));
		}
		buf_putc(json, ']');
		po->count = n;
		if (n > 0) {
			snprintf(po->first_sid, sizeof(po->first_sid), "%s", PQgetvalue(res, first, 1));
			snprintf(po->last_sid, sizeof(po->last_sid), "%s", PQgetvalue(res, first + n - 1, 1));
		}
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

int sim_store_event_add(struct db *db, const char *sid, const char *kind, const char *text,
	const char *detail, int code, long long at_ms)
{
	char c[16], at[24];
	snprintf(c, sizeof(c), "%d", code);
	snprintf(at, sizeof(at), "%lld", at_ms);
	const char *p[] = { sid, kind, text ? text : "", detail ? detail : "", c, at };
	PGresult *res = db_exec_prepared(db, "sim_event_add",
		"INSERT INTO twilio_sim.events (sid, kind, text, detail, code, at_ms)"
		" VALUES ($1, $2, $3, $4, $5::int, $6::bigint)", 6, p);
	return done(res);
}

int sim_store_transcript(struct db *db, const char *sid, int as_json, struct buf *out)
{
	const char *p[] = { sid };
	PGresult *res;
	int rc = -1;

	res = db_exec_prepared(db, "sim_exists",
		"SELECT 1 FROM twilio_sim.calls WHERE sid = $1"
		" UNION ALL SELECT 1 FROM twilio_sim.messages WHERE sid = $1", 1, p);
	if (res == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		rc = 0;
		goto out;
	}
	PQclear(res);
	if (as_json)
		res = db_exec_prepared(db, "sim_events_json",
			"SELECT COALESCE(jsonb_agg(jsonb_build_object('at_ms', at_ms, 'kind', kind,"
			" 'text', text, 'detail', detail, 'code', code,"
			" 'time', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
			" ORDER BY id), '[]'::jsonb)::text FROM twilio_sim.events WHERE sid = $1", 1, p);
	else
		res = db_exec_prepared(db, "sim_events_text",
			"SELECT to_char(at_ms / 1000.0, 'FM99990.000') || 's ' || kind"
			" || CASE WHEN code <> 0 THEN ' ' || code ELSE '' END"
			" || CASE WHEN text <> '' THEN ' ' || text ELSE '' END"
			" FROM twilio_sim.events WHERE sid = $1 ORDER BY id", 1, p);
	if (res == NULL)
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		buf_puts(out, PQgetvalue(res, i, 0));
		if (!as_json)
			buf_putc(out, '\n');
	}
	PQclear(res);
	rc = 1;
out:
	return rc;
}

int sim_store_callee_set(struct db *db, const char *number, const char *behaviour)
{
	const char *p[] = { number, behaviour };
	PGresult *res = db_exec_prepared(db, "sim_callee_set",
		"INSERT INTO twilio_sim.callees (number, behaviour) VALUES ($1, $2)"
		" ON CONFLICT (number) DO UPDATE SET behaviour = EXCLUDED.behaviour, updated_at = now()",
		2, p);
	return done(res);
}

int sim_store_callee_get(struct db *db, const char *number, char **behaviour)
{
	const char *p[] = { number };
	PGresult *res = db_exec_prepared(db, "sim_callee_get",
		"SELECT behaviour FROM twilio_sim.callees WHERE number = $1", 1, p);
	*behaviour = NULL;
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		*behaviour = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return *behaviour ? 1 : 0;
}

int sim_store_callees_json(struct db *db, struct buf *json)
{
	PGresult *res = db_exec_prepared(db, "sim_callees_json",
		"SELECT COALESCE(jsonb_agg(jsonb_build_object('number', number, 'behaviour', behaviour,"
		" 'updated_at', twilio_sim.rfc2822(updated_at)) ORDER BY number), '[]'::jsonb)::text"
		" FROM twilio_sim.callees", 0, NULL);
	return one_text(res, json) == 1 ? 0 : -1;
}

int sim_store_opted_out(struct db *db, const char *number, const char *sender)
{
	const char *p[] = { number, sender };
	PGresult *res = db_exec_prepared(db, "sim_opted_out",
		"SELECT 1 FROM twilio_sim.opt_outs WHERE number = $1 AND sender = $2", 2, p);
	int n = rows(res);
	return n < 0 ? -1 : n > 0;
}

int sim_store_opt(struct db *db, const char *number, const char *sender, const char *keyword,
	int out)
{
	const char *p[] = { number, sender, keyword };
	PGresult *res;
	if (out)
		res = db_exec_prepared(db, "sim_opt_out",
			"INSERT INTO twilio_sim.opt_outs (number, sender, keyword) VALUES ($1, $2, $3)"
			" ON CONFLICT (number, sender) DO UPDATE SET keyword = EXCLUDED.keyword,"
			" created_at = now()", 3, p);
	else
		res = db_exec_prepared(db, "sim_opt_in",
			"DELETE FROM twilio_sim.opt_outs WHERE number = $1 AND sender = $2"
			" AND $3::text IS NOT NULL", 3, p);
	return done(res);
}

void sim_store_call_free(struct sim_store_call *c)
{
	free(c->sid);
	free(c->account_sid);
	free(c->to);
	free(c->from);
	free(c->url);
	free(c->method);
	free(c->twiml);
	free(c->fallback_url);
	free(c->fallback_method);
	free(c->status_callback);
	free(c->status_callback_method);
	free(c->machine_detection);
	free(c->direction);
	free(c->caller_behaviour);
	memset(c, 0, sizeof(*c));
}

/* Runs a claim statement (name, sql with $1 the driver's pid and $2 the
 * queue hold in ms) that returns at most one row whose first four columns
 * are sid, account_sid, to_number and from_number; copies those into the
 * four outputs (caller frees them with the rest of its struct) and leaves
 * the result in *res for the caller's other columns (caller PQclears).
 * 1 claimed, 0 nothing to claim, -1 database error. */
static int claim_one(struct db *db, const char *name, const char *sql, int driver_pid,
	long hold_ms, PGresult **res, char **sid, char **account_sid, char **to, char **from)
{
	char pid[16], hold[24];
	const char *p[] = { pid, hold };

	snprintf(pid, sizeof(pid), "%d", driver_pid);
	snprintf(hold, sizeof(hold), "%ld", hold_ms > 0 ? hold_ms : 0);
	*res = db_exec_prepared(db, name, sql, 2, p);
	if (*res == NULL)
		return -1;
	if (PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		return 0;
	}
	*sid = col_dup(*res, 0, 0);
	*account_sid = col_dup(*res, 0, 1);
	*to = col_dup(*res, 0, 2);
	*from = col_dup(*res, 0, 3);
	return 1;
}

int sim_store_call_claim(struct db *db, int driver_pid, long hold_ms, struct sim_store_call *out)
{
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	/* Claiming is dialling: the call leaves Twilio's queue and its
	 * start_time begins, though its status stays queued until it rings. */
	rc = claim_one(db, "sim_call_claim",
		"UPDATE twilio_sim.calls SET driver_pid = $1::int, date_updated = now(),"
		" start_time = COALESCE(start_time, now())"
		" WHERE sid = (SELECT sid FROM twilio_sim.calls WHERE status = 'queued'"
		"  AND driver_pid IS NULL"
		"  AND date_created <= now() - make_interval(secs => $2::bigint / 1000.0)"
		"  ORDER BY date_created LIMIT 1 FOR UPDATE SKIP LOCKED)"
		" RETURNING sid, account_sid, to_number, from_number, url, method, twiml,"
		" status_callback, status_callback_method, machine_detection, status_events,"
		" timeout_s, time_limit_s, direction, caller_behaviour, fallback_url, fallback_method",
		driver_pid, hold_ms, &res,
		&out->sid, &out->account_sid, &out->to, &out->from);
	if (rc != 1)
		return rc;
	out->url = col_dup(res, 0, 4);
	out->method = col_dup(res, 0, 5);
	out->twiml = col_dup(res, 0, 6);
	out->status_callback = col_dup(res, 0, 7);
	out->status_callback_method = col_dup(res, 0, 8);
	out->machine_detection = col_dup(res, 0, 9);
	out->status_events = (unsigned)atoi(PQgetvalue(res, 0, 10));
	out->timeout_s = atoi(PQgetvalue(res, 0, 11));
	out->time_limit_s = atoi(PQgetvalue(res, 0, 12));
	out->direction = col_dup(res, 0, 13);
	out->caller_behaviour = col_dup(res, 0, 14);
	out->fallback_url = col_dup(res, 0, 15);
	out->fallback_method = col_dup(res, 0, 16);
	PQclear(res);
	return 1;
}

int sim_store_call_status(struct db *db, const char *sid, const char *status)
{
	const char *p[] = { sid, status };
	/* Dialling starts the call's clock (Twilio's start_time); a final
	 * status is written by sim_store_call_finish, never here. */
	PGresult *res = db_exec_prepared(db, "sim_call_status",
		"UPDATE twilio_sim.calls SET status = $2, date_updated = now(),"
		" start_time = COALESCE(start_time, now())"
		" WHERE sid = $1 AND status IN ('queued', 'ringing', 'in-progress')"
		" AND $2 IN ('ringing', 'in-progress')", 2, p);
	return done(res);
}

int sim_store_call_finish(struct db *db, const char *sid, const struct sim_call_result *r)
{
	char duration[16], code[16];
	snprintf(duration, sizeof(duration), "%d", r->duration_s > 0 ? r->duration_s : 0);
	snprintf(code, sizeof(code), "%d", r->error_code);
	const char *p[] = { sid, r->status, r->answered_by[0] ? r->answered_by : NULL, duration,
		r->error_code ? code : NULL, r->error_code ? r->error_message : NULL };
	PGresult *res = db_exec_prepared(db, "sim_call_finish",
		"UPDATE twilio_sim.calls SET status = $2, answered_by = $3, duration = $4::int,"
		" error_code = $5::int, error_message = $6, date_updated = now(),"
		" start_time = COALESCE(start_time, now()), end_time = now()"
		" WHERE sid = $1", 6, p);
	return done(res);
}

int sim_store_call_fail_inflight(struct db *db, const char *sid, const char *note)
{
	const char *p[] = { sid, note };
	PGresult *res = db_exec_prepared(db, "sim_call_fail_inflight",
		"WITH f AS (UPDATE twilio_sim.calls SET status = 'failed', date_updated = now(),"
		"  end_time = now(), duration = COALESCE(duration, 0),"
		"  error_message = $2"
		"  WHERE driver_pid IS NOT NULL AND status IN ('queued', 'ringing', 'in-progress')"
		"  AND ($1::text IS NULL OR sid = $1) RETURNING sid)"
		" INSERT INTO twilio_sim.events (sid, kind, text) SELECT sid, 'note', $2 FROM f"
		" RETURNING sid", 2, p);
	return rows(res);
}

void sim_store_message_free(struct sim_store_message *m)
{
	free(m->sid);
	free(m->account_sid);
	free(m->to);
	free(m->from);
	free(m->body);
	free(m->status_callback);
	memset(m, 0, sizeof(*m));
}

int sim_store_message_claim(struct db *db, int driver_pid, long hold_ms,
	struct sim_store_message *out)
{
	PGresult *res;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = claim_one(db, "sim_message_claim",
		"UPDATE twilio_sim.messages SET driver_pid = $1::int, status = 'sending',"
		" date_updated = now()"
		" WHERE sid = (SELECT sid FROM twilio_sim.messages WHERE status = 'queued'"
		"  AND direction <> 'inbound'"
		"  AND date_created <= now() - make_interval(secs => $2::bigint / 1000.0)"
		"  ORDER BY date_created LIMIT 1 FOR UPDATE SKIP LOCKED)"
		" RETURNING sid, account_sid, to_number, from_number, body, status_callback",
		driver_pid, hold_ms, &res, &out->sid, &out->account_sid, &out->to, &out->from);
	if (rc != 1)
		return rc;
	out->body = col_dup(res, 0, 4);
	out->status_callback = col_dup(res, 0, 5);
	PQclear(res);
	return 1;
}

int sim_store_message_status(struct db *db, const char *sid, const char *status,
	int error_code, const char *error_message)
{
	char code[16];
	snprintf(code, sizeof(code), "%d", error_code);
	const char *p[] = { sid, status, error_code ? code : NULL,
		error_code ? error_message : NULL };
	PGresult *res = db_exec_prepared(db, "sim_message_status",
		"UPDATE twilio_sim.messages SET status = $2, date_updated = now(),"
		" date_sent = CASE WHEN $2 = 'sent' THEN now() ELSE date_sent END,"
		" error_code = COALESCE($3::int, error_code),"
		" error_message = COALESCE($4, error_message)"
		" WHERE sid = $1", 4, p);
	return done(res);
}

int sim_store_message_fail_inflight(struct db *db, const char *sid, const char *note)
{
	const char *p[] = { sid, note };
	PGresult *res = db_exec_prepared(db, "sim_message_fail_inflight",
		"WITH f AS (UPDATE twilio_sim.messages SET status = 'failed', date_updated = now(),"
		"  error_code = 30008, error_message = $2"
		"  WHERE driver_pid IS NOT NULL AND status = 'sending'"
		"  AND ($1::text IS NULL OR sid = $1) RETURNING sid)"
		" INSERT INTO twilio_sim.events (sid, kind, text) SELECT sid, 'note', $2 FROM f"
		" RETURNING sid", 2, p);
	return rows(res);
}

/* ---- recordings ---------------------------------------------------------- */

int sim_store_recording_insert(struct db *db, const char *sid, const char *account_sid,
	const char *call_sid, int duration_s, const char *speech, const char *status)
{
	char dur[16];
	snprintf(dur, sizeof(dur), "%d", duration_s);
	const char *p[] = { sid, account_sid, call_sid, dur, speech ? speech : "", status };
	PGresult *res = db_exec_prepared(db, "sim_recording_insert",
		"INSERT INTO twilio_sim.recordings (sid, account_sid, call_sid, duration, speech,"
		" status, start_time)"
		" VALUES ($1, $2, $3, $4::int, $5, $6, now() - make_interval(secs => $4::int))",
		(int)ARRAY_LEN(p), p);
	return done(res);
}

int sim_store_recording_json(struct db *db, const char *account_sid, const char *sid,
	struct buf *json)
{
	const char *p[] = { account_sid, sid };
	return one_text(db_exec_prepared(db, "sim_recording_get",
		"SELECT twilio_sim.recording_json(r)::text FROM twilio_sim.recordings r"
		" WHERE account_sid = $1 AND sid = $2", 2, p), json);
}

int sim_store_recording_media(struct db *db, const char *account_sid, const char *sid,
	int *duration_s, char **speech)
{
	const char *p[] = { account_sid, sid };
	PGresult *res = db_exec_prepared(db, "sim_recording_media",
		"SELECT duration, speech FROM twilio_sim.recordings"
		" WHERE account_sid = $1 AND sid = $2", 2, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return 0;
	}
	*duration_s = atoi(PQgetvalue(res, 0, 0));
	*speech = xstrdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	return 1;
}

int sim_store_recordings_list(struct db *db, const char *account_sid, const char *call_sid,
	long page_size, struct buf *json)
{
	char n[24];
	snprintf(n, sizeof(n), "%ld", page_size);
	const char *p[] = { account_sid, call_sid, n };
	return one_text(db_exec_prepared(db, "sim_recordings_list",
		"SELECT COALESCE(jsonb_agg(j ORDER BY dc DESC, s DESC), '[]'::jsonb)::text FROM"
		" (SELECT twilio_sim.recording_json(r) AS j, r.date_created AS dc, r.sid AS s"
		"  FROM twilio_sim.recordings r WHERE account_sid = $1"
		"  AND ($2::text IS NULL OR call_sid = $2)"
		"  ORDER BY date_created DESC, sid DESC LIMIT $3::bigint) x", 3, p), json) == 1 ? 0 : -1;
}

int sim_store_recording_delete(struct db *db, const char *account_sid, const char *sid)
{
	const char *p[] = { account_sid, sid };
	int n = rows(db_exec_prepared(db, "sim_recording_delete",
		"DELETE FROM twilio_sim.recordings WHERE account_sid = $1 AND sid = $2 RETURNING sid",
		2, p));
	return n < 0 ? -1 : n > 0;
}

/* ---- the account and its phone numbers ---- */

int sim_store_account_json(struct db *db, const char *sid, const char *token,
	const char *friendly_name, const char *status, struct buf *json)
{
	const char *p[] = { sid, token, friendly_name, status };
	if (rows(db_exec_prepared(db, "sim_account_make",
		    "INSERT INTO twilio_sim.accounts (sid, friendly_name)"
		    " VALUES ($1, 'My first Twilio account') ON CONFLICT (sid) DO NOTHING"
		    " RETURNING sid", 1, p)) < 0)
		return -1;
	return one_text(db_exec_prepared(db, "sim_account_json",
		"UPDATE twilio_sim.accounts a SET friendly_name = COALESCE($3, friendly_name),"
		" status = COALESCE($4, status),"
		" date_updated = CASE WHEN $3::text IS NULL AND $4::text IS NULL THEN date_updated"
		" ELSE now() END WHERE sid = $1 RETURNING twilio_sim.account_json(a, $2)::text",
		4, p), json) == 1 ? 1 : -1;
}

const char *const sim_number_params[SNF_N] = {
	"FriendlyName", "VoiceUrl", "VoiceMethod", "VoiceFallbackUrl", "VoiceFallbackMethod",
	"SmsUrl", "SmsMethod", "SmsFallbackUrl", "SmsFallbackMethod", "StatusCallback",
	"StatusCallbackMethod",
};

int sim_store_numbers_list(struct db *db, const char *account_sid, const char *pattern,
	long page_size, const char *after, struct buf *json, int *more, char last_sid[35])
{
	char n[24];
	PGresult *res;
	int rc = -1;

	snprintf(n, sizeof(n), "%ld", page_size + 1);
	const char *p[] = { account_sid, pattern, after, n };
	res = db_exec_prepared(db, "sim_numbers_list",
		"SELECT sid, twilio_sim.incoming_number_json(x)::text FROM twilio_sim.incoming_numbers x"
		" WHERE account_sid = $1"
		" AND ($2::text IS NULL OR phone_number LIKE '%' || replace($2, '*', '_') || '%')"
		" AND ($3::text IS NULL OR sid > $3) ORDER BY sid LIMIT $4::bigint", 4, p);
	if (res == NULL)
		return -1;
	int rows_n = PQntuples(res), shown = rows_n > page_size ? (int)page_size : rows_n;
	buf_putc(json, '[');
	for (int i = 0; i < shown; i++) {
		if (i)
			buf_putc(json, ',');
		buf_puts(json, PQgetvalue(res, i, 1));
	}
	buf_putc(json, ']');
	*more = rows_n > shown;
	snprintf(last_sid, 35, "%s", shown ? PQgetvalue(res, shown - 1, 0) : "");
	rc = 0;
	PQclear(res);
	return rc;
}

int sim_store_number_json(struct db *db, const char *account_sid, const char *sid,
	struct buf *json)
{
	const char *p[] = { account_sid, sid };
	return one_text(db_exec_prepared(db, "sim_number_json",
		"SELECT twilio_sim.incoming_number_json(x)::text FROM twilio_sim.incoming_numbers x"
		" WHERE account_sid = $1 AND sid = $2", 2, p), json);
}

int sim_store_number_insert(struct db *db, const char *account_sid, const char *sid,
	const char *number, const char *const values[SNF_N], struct buf *json)
{
	const char *p[3 + SNF_N] = { account_sid, sid, number };
	for (int i = 0; i < SNF_N; i++)
		p[3 + i] = values[i];
	return one_text(db_exec_prepared(db, "sim_number_insert",
		"INSERT INTO twilio_sim.incoming_numbers AS x (account_sid, sid, phone_number,"
		" friendly_name, voice_url, voice_method, voice_fallback_url, voice_fallback_method,"
		" sms_url, sms_method, sms_fallback_url, sms_fallback_method, status_callback,"
		" status_callback_method) VALUES ($1, $2, $3, COALESCE($4, $3), COALESCE($5, ''),"
		" COALESCE($6, 'POST'), COALESCE($7, ''), COALESCE($8, 'POST'), COALESCE($9, ''),"
		" COALESCE($10, 'POST'), COALESCE($11, ''), COALESCE($12, 'POST'), COALESCE($13, ''),"
		" COALESCE($14, 'POST')) ON CONFLICT (phone_number) DO NOTHING"
		" RETURNING twilio_sim.incoming_number_json(x)::text", 3 + SNF_N, p), json);
}

int sim_store_number_update(struct db *db, const char *account_sid, const char *sid,
	const char *const values[SNF_N], struct buf *json)
{
	const char *p[2 + SNF_N] = { account_sid, sid };
	for (int i = 0; i < SNF_N; i++)
		p[2 + i] = values[i];
	return one_text(db_exec_prepared(db, "sim_number_update",
		"UPDATE twilio_sim.incoming_numbers x SET friendly_name = COALESCE($3, friendly_name),"
		" voice_url = COALESCE($4, voice_url), voice_method = COALESCE($5, voice_method),"
		" voice_fallback_url = COALESCE($6, voice_fallback_url),"
		" voice_fallback_method = COALESCE($7, voice_fallback_method),"
		" sms_url = COALESCE($8, sms_url), sms_method = COALESCE($9, sms_method),"
		" sms_fallback_url = COALESCE($10, sms_fallback_url),"
		" sms_fallback_method = COALESCE($11, sms_fallback_method),"
		" status_callback = COALESCE($12, status_callback),"
		" status_callback_method = COALESCE($13, status_callback_method), date_updated = now()"
		" WHERE account_sid = $1 AND sid = $2"
		" RETURNING twilio_sim.incoming_number_json(x)::text", 2 + SNF_N, p), json);
}

int sim_store_number_delete(struct db *db, const char *account_sid, const char *sid)
{
	const char *p[] = { account_sid, sid };
	int n = rows(db_exec_prepared(db, "sim_number_delete",
		"DELETE FROM twilio_sim.incoming_numbers WHERE account_sid = $1 AND sid = $2"
		" RETURNING sid", 2, p));
	return n < 0 ? -1 : n > 0;
}
