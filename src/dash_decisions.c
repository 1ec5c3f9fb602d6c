/* dash_decisions: "Needs a decision" (see include/dash_decisions.h). */
#include "dash_decisions.h"
#include "app.h"
#include "arena.h"
#include "clock.h"
#include "dash_appointments.h"
#include "db.h"
#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "outbound.h"
#include "page.h"
#include "queue.h"
#include "reminders.h"
#include "session.h"
#include "util.h"
#include "valid.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DD_LIST_MAX 200

const struct valid_field dash_decision_fields[DD_NFIELDS] = {
	[DD_DECISION] = { "decision", valid_any, 0, VALID_TEXT },
	[DD_REASON] = { "reason", valid_any, 0, VALID_TEXT },
};

/* The list, with the form of attempt err_id showing err and the user's
 * input (decision, reason) when err is set (status 422). */
static void dd_page(struct app *app, const struct route_input *in, struct outcome *out,
	long long err_id, const char *err, const char *decision, const char *reason)
{
	char max[16];
	const char *p[3] = { in->business, in->user->business_tz, max };
	PGresult *res;

	snprintf(max, sizeof(max), "%d", DD_LIST_MAX);
	page_begin(out, "Needs a decision", "decisions");
	if (err)
		out->status = 422;
	res = db_exec_prepared(app->db, "dash_decisions",
		"SELECT ca.id, to_char(ca.claimed_at AT TIME ZONE $2, 'Dy FMDD Mon YYYY, HH24:MI'),"
		" CASE ca.channel WHEN 'voice' THEN 'Call' WHEN 'sms' THEN 'Text' ELSE 'Email' END,"
		" ca.to_address, COALESCE(ca.error_message, 'no note'), COALESCE(ca.provider_sid, ''),"
		" a.id, c.name, to_char(a.starts_at AT TIME ZONE $2, 'Dy FMDD Mon, HH24:MI')"
		" FROM contact_attempts ca JOIN reminders r ON r.id = ca.reminder_id"
		" JOIN appointments a ON a.id = r.appointment_id AND a.business_id = r.business_id"
		" JOIN clients c ON c.id = a.client_id"
		" WHERE ca.business_id = $1::bigint AND ca.status = 'unknown'"
		" ORDER BY ca.claimed_at, ca.id LIMIT $3::int", 3, p);
	if (res == NULL) {
		log_error("dashboard: request %s: decisions: %s", in->req->request_id,
			db_last_error(app->db));
		page_unavailable(out);
		return;
	}
	page_add(out, "<h1>Needs a decision</h1><p>Nobody knows whether these reminders reached"
		" the client: Twilio or the mail server did not say, and asking again did not settle"
		" it. Decide each once: either the client was reached, or send it once more (the"
		" usual limits and checks still apply).</p>", NULL);
	if (PQntuples(res) == 0)
		page_add(out, "<p class=\"empty\">Nothing needs a decision.</p>", NULL);
	page_add(out, "<div class=\"stack\">", NULL);
	for (int i = 0; i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0);
		int mine = err && err_id == strtoll(id, NULL, 10);
		const char *f[] = { "id", id, "when", PQgetvalue(res, i, 1), "channel",
			PQgetvalue(res, i, 2), "to", PQgetvalue(res, i, 3), "note", PQgetvalue(res, i, 4),
			"sid", PQgetvalue(res, i, 5), "appt", PQgetvalue(res, i, 6),
			"name", PQgetvalue(res, i, 7), "starts", PQgetvalue(res, i, 8),
			"csrf", in->user->csrf, "error", mine ? err : "",
			"reason", mine && reason ? reason : "",
			"r_reached", mine && decision && strcmp(decision, "reached") == 0 ? " checked" : "",
			"r_resend", mine && decision && strcmp(decision, "resend") == 0 ? " checked" : "",
			NULL };
		page_add(out, "<section class=\"card\" id=\"attempt-{{id}}\"><p><strong>{{channel}}</strong>"
			" to {{to}}, {{when}}: <a href=\"/appointments/{{appt}}\">{{name}}</a>"
			" ({{starts}})</p><p class=\"muted\">Last note: {{note}}</p>", f);
		if (*PQgetvalue(res, i, 5))
			page_add(out, "<p class=\"muted small\">Reference: <span class=\"mono\">{{sid}}</span>"
				"</p>", f);
		if (mine)
			page_add(out, "<p class=\"alert\" role=\"alert\">{{error}}</p>", f);
		page_add(out, "<form class=\"form\" method=\"post\" action=\"/decisions/{{id}}\">"
			PAGE_CSRF_INPUT
			"<fieldset><legend>Decision</legend>"
			"<label class=\"check\"><input type=\"radio\" name=\"decision\" value=\"reached\""
			"{{r_reached}}> The client was reached</label>"
			"<label class=\"check\"><input type=\"radio\" name=\"decision\" value=\"resend\""
			"{{r_resend}}> Send it once more</label></fieldset>"
			"<div class=\"field\"><label for=\"reason-{{id}}\">Why (required)</label>"
			"<textarea id=\"reason-{{id}}\" name=\"reason\" rows=\"2\" maxlength=\"1000\""
			" required>{{reason}}</textarea></div>"
			"<div class=\"form-actions\"><button class=\"btn btn-primary\" type=\"submit\">"
			"Record the decision</button></div></form></section>", f);
	}
	page_add(out, "</div>", NULL);
	PQclear(res);
}

void dash_decisions_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	dd_page(app, in, out, 0, NULL, NULL, NULL);
}

void dash_decide_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	const char *decision = in->form.v ? in->form.v[DD_DECISION].s : NULL;
	const char *reason = in->form.v ? in->form.v[DD_REASON].s : NULL;
	const char *err = NULL, *v[8], *note;
	long long id = in->param_id, now_s = clock_now_s(), rid = 0;
	char ids[24], uid[24], now[32];
	PGresult *res = NULL;
	int in_tx = 0, rc, resend;

	out->action = "decision";
	out->attempt_id = arena_printf(a, "%lld", id);
	snprintf(ids, sizeof(ids), "%lld", id);
	snprintf(uid, sizeof(uid), "%lld", in->user->user_id);
	clock_sql(now_s, now);
	if (decision == NULL || (strcmp(decision, "reached") != 0 && strcmp(decision, "resend") != 0))
		err = "field 'decision': choose 'The client was reached' or 'Send it once more'";
	else if (reason == NULL || reason[strspn(reason, " \t\r\n")] == '\0')
		err = "field 'reason': say why (it is kept with the decision)";
	else if (!valid_text(reason, DASH_REASON_MAX, "\n\r\t"))
		err = "field 'reason' must be at most 1000 characters of text";
	resend = decision && strcmp(decision, "resend") == 0;

	if (db_begin(app->db) < 0)
		goto db_failed;
	in_tx = 1;
	{
		const char *p[3] = { ids, in->business, now };
		rc = db_row_prepared(app->db, a, "dash_decide_lock",
			"SELECT ca.status, ca.reminder_id, a.id,"
			" (a.status IN ('booked', 'confirmed') AND a.starts_at > $3::timestamptz),"
			" ca.channel, ca.to_address, r.offset_minutes, r.to_address"
			" FROM contact_attempts ca JOIN reminders r ON r.id = ca.reminder_id"
			" JOIN appointments a ON a.id = r.appointment_id AND a.business_id = r.business_id"
			" WHERE ca.id = $1::bigint AND ca.business_id = $2::bigint"
			" FOR UPDATE OF ca", 3, p, 8, v);
	}
	if (rc < 0)
		goto db_failed;
	if (rc == 0) {
		page_not_found(out);
		goto out;
	}
	out->appointment_id = strtoll(v[2], NULL, 10);
	if (strcmp(v[0], "unknown") != 0) {
		db_rollback(app->db);
		in_tx = 0;
		page_error(out, 409, "Already decided",
			"This attempt's outcome is known now; nothing was changed.");
		goto out;
	}
	if (err == NULL && resend && strcmp(v[3], "t") != 0)
		err = "field 'decision': the appointment is over or cancelled; there is nothing to"
		      " send once more";
	if (err) {
		db_rollback(app->db);
		in_tx = 0;
		dd_page(app, in, out, id, err, decision, reason);
		goto out;
	}
	note = arena_printf(a, "decided by %s: %s: %s", in->user->email,
		resend ? "not reached, send once more" : "reached", reason);
	/* The attempt settles as the worker and the reconciler settle one. */
	rc = outbound_settle(app->db, a, id, "unknown", resend ? "not_placed" : "placed", NULL, 0,
		note, resend ? "not_placed" : "placed");
	if (rc < 0)
		goto db_failed;
	if (resend) {
		rid = reminders_add_now(app->db, out->appointment_id, v[4], atoi(v[6]), v[7],
			"resend", in->user->user_id, now_s);
		if (rid < 0)
			goto db_failed;
	}
	{
		const char *p[6] = { ids, in->business, decision, reason, uid, in->user->email };
		const char *rp = rid ? arena_printf(a, "%lld", rid) : NULL;
		const char *q[7] = { p[0], p[1], p[2], p[3], p[4], p[5], rp };
		res = db_exec_prepared(app->db, "decision_insert",
			"INSERT INTO attempt_decisions (attempt_id, business_id, decision, reason, user_id,"
			" user_email, resend_reminder_id) VALUES ($1::bigint, $2::bigint, $3, $4,"
			" $5::bigint, $6, $7::bigint)", 7, q);
	}
	if (res == NULL)
		goto db_failed;
	PQclear(res);
	res = NULL;
	if (db_commit(app->db) < 0)
		goto db_failed;
	in_tx = 0;
	if (rid && queue_push(app->rds, &rid, 1) < 0)
		log_warn("dashboard: reminder %lld (sent once more) not queued now (Redis);"
			" the scheduler will", rid);
	{
		json_t *rec = json_pack("{s:I, s:s, s:s}", "attempt_id", (json_int_t)id, "decision",
			decision, "reason", reason);
		if (rid)
			json_object_set_new(rec, "reminder_id", json_integer(rid));
		dash_audit(app, in, "decision", out->appointment_id, rec);
	}
	page_redirect(out, "/decisions?notice=decided");
	goto out;
db_failed:
	log_error("dashboard: request %s: decision on attempt %lld: %s", in->req->request_id, id,
		db_last_error(app->db));
	page_unavailable(out);
out:
	db_finish(app->db, in_tx, res);
}
