/* api: the JSON API (see include/api.h). */
#include "api.h"
#include "apikey.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "clock.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "mail.h"
#include "reminders.h"
#include "util.h"
#include "valid.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define API_PREFIX "/api/v1/"
#define API_NAME_MAX 200
#define API_NOTES_MAX 4000
#define API_STR_(x) #x
#define API_STR(x) API_STR_(x)

/* A timestamptz column as RFC 3339 UTC, whole seconds (NULL stays NULL). */
#define API_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* One request as the handlers see it.  Strings live in the request arena
 * or are literals. */
struct api_ctx {
	struct app *app;
	struct http_request *req;
	struct outcome *out;
	const struct valid_value *members; /* the route's JSON members, validated */
	const char *business;       /* the authenticated business's id as text */
};

/* ---- responses ------------------------------------------------------------ */

/* Answers status with obj (consumed) as the JSON body. */
static void api_send_json(struct api_ctx *c, int status, json_t *obj)
{
	json_decref(c->out->json);
	c->out->json = obj;
	c->out->status = status;
}

/* Answers an error; field (may be NULL) is the input field to blame. */
static void api_error(struct api_ctx *c, int status, const char *code, const char *field,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void api_error(struct api_ctx *c, int status, const char *code, const char *field,
	const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	outcome_error(c->out, status, code, field, arena_strdup(c->req->arena, msg));
}

/* The database failed: nothing was changed (the caller rolled back). */
static void api_unavailable(struct api_ctx *c)
{
	log_error("api: request %s %s %s: database error: %s", c->req->request_id, c->req->method,
		c->req->path, db_last_error(c->app->db));
	api_error(c, 503, "unavailable", NULL,
		"the database is unavailable; nothing was changed, try again later");
}

/* ---- input ------------------------------------------------------------------ */

/* Characters (code points) in UTF-8 s. */
static size_t api_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* starts_at (already an RFC 3339 date-time) must be in the future.  0,
 * or -1 after answering 422. */
static int api_future(struct api_ctx *c, long long starts_s, long long now_s)
{
	if (starts_s <= now_s) {
		api_error(c, 422, "invalid_field", "starts_at", "field 'starts_at' is in the past");
		return -1;
	}
	return 0;
}

/* The validators of the JSON members (struct json_field, checked by the
 * dispatcher before the handler runs). */
static int api_valid_name(const char *v, size_t len)
{
	return len > 0 && strspn(v, " ") < len && api_chars(v) <= API_NAME_MAX &&
		valid_no_controls(v, len, NULL);
}

static int api_valid_email(const char *v, size_t len)
{
	/* The mailer's own rule: an address taken here is one it sends to. */
	return memchr(v, '\0', len) == NULL && mail_address_valid(v);
}

/* The shape of a time zone name; whether PostgreSQL knows it is the
 * handler's question. */
static int api_valid_time_zone(const char *v, size_t len)
{
	return len <= 64 && valid_no_controls(v, len, NULL);
}

static int api_valid_notes(const char *v, size_t len)
{
	return api_chars(v) <= API_NOTES_MAX && valid_no_controls(v, len, "\n\r\t");
}

static int api_valid_status(const char *v, size_t len)
{
	return len == 9 && memcmp(v, "cancelled", 9) == 0;
}

#define API_STARTS_AT_INVALID "field 'starts_at' must be an RFC 3339 date-time with an offset, " \
	"such as 2026-11-25T15:30:00-05:00 or 2026-11-25T20:30:00Z"

const struct json_field api_client_fields[AC_NFIELDS] = {
	[AC_NAME] = { "name", JSON_MEMBER_STRING, 1, api_valid_name, VALID_TEXT,
		"field 'name' must be 1 to " API_STR(API_NAME_MAX) " printable characters" },
	[AC_PHONE] = { "phone", JSON_MEMBER_STRING, 0, valid_e164, VALID_TEXT,
		"field 'phone' must be an E.164 number such as +15555550123" },
	[AC_EMAIL] = { "email", JSON_MEMBER_STRING, 0, api_valid_email, VALID_TEXT,
		"field 'email' must be a plain e-mail address such as client@example.com"
		" (no display name, spaces, commas, quotes or parentheses)" },
	[AC_TIME_ZONE] = { "time_zone", JSON_MEMBER_STRING, 0, api_valid_time_zone, VALID_TEXT,
		API_TIME_ZONE_INVALID },
};

const struct json_field api_appointment_fields[AA_NFIELDS] = {
	[AA_CLIENT] = { "client_id", JSON_MEMBER_ID, 1, NULL, VALID_TEXT, NULL },
	[AA_STARTS_AT] = { "starts_at", JSON_MEMBER_STRING, 1, valid_timestamp, VALID_TIME,
		API_STARTS_AT_INVALID },
	[AA_NOTES] = { "notes", JSON_MEMBER_STRING, 0, api_valid_notes, VALID_TEXT,
		"field 'notes' must be at most " API_STR(API_NOTES_MAX) " characters of text" },
};

const struct json_field api_patch_fields[AP_NFIELDS] = {
	[AP_STARTS_AT] = { "starts_at", JSON_MEMBER_STRING, 0, valid_timestamp, VALID_TIME,
		API_STARTS_AT_INVALID },
	[AP_STATUS] = { "status", JSON_MEMBER_STRING, 0, api_valid_status, VALID_TEXT,
		"field 'status' can only be set to 'cancelled'" },
};

/* ---- resources ----------------------------------------------------------------- */

/* The appointment (of the authenticated business) with its reminders and
 * their attempts, as JSON; NULL with *found 0 when there is none, NULL
 * with *found 1 on a database error. */
static json_t *api_appointment_json(struct api_ctx *c, long long id, int *found)
{
	char ids[24];
	const char *p[] = { ids, c->business };
	PGresult *res;
	json_t *obj = NULL;

	snprintf(ids, sizeof(ids), "%lld", id);
	*found = 1;
	res = db_exec_prepared(c->app->db, "api_appointment",
		"SELECT json_build_object("
		"  'id', a.id, 'client_id', a.client_id, 'starts_at', " API_TS("a.starts_at") ", "
		"  'status', a.status, 'notes', a.notes, "
		"  'confirmed_at', " API_TS("a.confirmed_at") ", "
		"  'cancelled_at', " API_TS("a.cancelled_at") ", "
		"  'callback_requested_at', " API_TS("a.callback_requested_at") ", "
		"  'created_at', " API_TS("a.created_at") ", "
		"  'updated_at', " API_TS("a.updated_at") ", "
		"  'reminders', coalesce((SELECT json_agg(json_build_object("
		"      'id', r.id, 'channel', r.channel, 'offset_minutes', r.offset_minutes, "
		"      'attempt', r.attempt, 'status', r.status, 'status_reason', r.status_reason, "
		"      'to_address', r.to_address, 'due_at', " API_TS("r.due_at") ", "
		"      'stale_at', " API_TS("r.stale_at") ", "
		"      'not_before', " API_TS("r.not_before") ", "
		"      'superseded_at', " API_TS("r.superseded_at") ", "
		"      'contact_attempts', coalesce((SELECT json_agg(json_build_object("
		"          'id', ca.id, 'status', ca.status, 'provider_sid', ca.provider_sid, "
		"          'delivery_status', ca.delivery_status, 'error_code', ca.error_code, "
		"          'created_at', " API_TS("ca.created_at") ") ORDER BY ca.id) "
		"        FROM contact_attempts ca WHERE ca.reminder_id = r.id), '[]'::json)"
		"    ) ORDER BY r.id) FROM reminders r WHERE r.appointment_id = a.id), '[]'::json)"
		")::text FROM appointments a WHERE a.id = $1::bigint AND a.business_id = $2::bigint",
		2, p);
	if (res == NULL)
		goto out;
	if (PQntuples(res) != 1) {
		*found = 0;
		goto out;
	}
	obj = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (obj == NULL)
		log_error("api: the database's appointment JSON does not parse");
out:
	if (res)
		PQclear(res);
	return obj;
}

/* Answers status with the appointment's JSON. */
static void api_answer_appointment(struct api_ctx *c, int status, long long id)
{
	int found;
	json_t *obj = api_appointment_json(c, id, &found);

	if (obj)
		api_send_json(c, status, obj);
	else if (!found)
		api_error(c, 404, "not_found", NULL, "no appointment %lld", id);
	else
		api_unavailable(c);
}

/* POST /api/v1/clients */
static void api_create_client(struct api_ctx *c)
{
	const struct valid_value *f = c->members;
	const char *name = f[AC_NAME].s, *phone = f[AC_PHONE].s, *email = f[AC_EMAIL].s;
	const char *tz = f[AC_TIME_ZONE].s;
	json_t *obj;
	PGresult *res = NULL;

	c->out->action = "create_client";
	if (phone == NULL && email == NULL) {
		api_error(c, 422, "missing_field", "phone",
			"a client needs a 'phone' or an 'email' (or both)");
		goto out;
	}
	if (tz) {
		const char *p[] = { tz };
		int ok;
		res = db_exec(c->app->db, "SELECT rf_valid_time_zone($1)", 1, p);
		if (res == NULL) {
			api_unavailable(c);
			goto out;
		}
		ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		res = NULL;
		if (!ok) {
			api_error(c, 422, "invalid_field", "time_zone", API_TIME_ZONE_INVALID);
			goto out;
		}
	}
	{
		const char *p[] = { c->business, name, phone, email, tz };
		res = db_exec(c->app->db,
			"INSERT INTO clients (business_id, name, phone, email, time_zone) "
			"VALUES ($1::bigint, $2, $3, $4, $5) "
			"RETURNING json_build_object('id', id, 'name', name, 'phone', phone, "
			"  'email', email, 'time_zone', time_zone, "
			"  'created_at', " API_TS("created_at") ")::text, id",
			5, p);
	}
	if (res == NULL) {
		api_unavailable(c);
		goto out;
	}
	obj = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	c->out->client_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	if (obj == NULL) {
		api_error(c, 500, "internal", NULL, "the client was created but cannot be shown");
		goto out;
	}
	api_send_json(c, 201, obj);
out:
	if (res)
		PQclear(res);
}

/* POST /api/v1/appointments: the appointment and its reminders in one
 * transaction. */
static void api_create_appointment(struct api_ctx *c)
{
	const struct valid_value *f = c->members;
	const char *notes = f[AA_NOTES].s ? f[AA_NOTES].s : "";
	long long client_id = f[AA_CLIENT].i, starts_s = f[AA_STARTS_AT].i, now_s = clock_now_s();
	char cid[24], st[32], err[256];
	PGresult *res = NULL;
	int in_tx = 0, n;

	c->out->action = "create_appointment";
	if (api_future(c, starts_s, now_s) < 0)
		goto out;
	c->out->client_id = client_id;
	snprintf(cid, sizeof(cid), "%lld", client_id);
	clock_sql(starts_s, st);

	if (db_begin(c->app->db) < 0) {
		api_unavailable(c);
		goto out;
	}
	in_tx = 1;
	{
		const char *p[] = { cid, c->business };
		res = db_exec(c->app->db,
			"SELECT 1 FROM clients WHERE id = $1::bigint AND business_id = $2::bigint "
			"FOR SHARE", 2, p);
	}
	if (res == NULL)
		goto db_failed;
	if (PQntuples(res) != 1) {
		api_error(c, 404, "not_found", "client_id", "field 'client_id': no client %lld",
			client_id);
		goto out;
	}
	PQclear(res);
	{
		const char *p[] = { c->business, cid, st, notes };
		res = db_exec(c->app->db,
			"INSERT INTO appointments (business_id, client_id, starts_at, notes) "
			"VALUES ($1::bigint, $2::bigint, $3::timestamptz, $4) RETURNING id",
			4, p);
	}
	if (res == NULL)
		goto db_failed;
	c->out->appointment_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	res = NULL;
	n = reminders_plan(c->app->db, c->out->appointment_id, now_s, err, sizeof(err));
	if (n < 0) {
		log_error("api: request %s: planning reminders for appointment %lld: %s",
			c->req->request_id, c->out->appointment_id, err);
		goto db_failed;
	}
	c->out->planned = n;
	if (db_commit(c->app->db) < 0)
		goto db_failed;
	in_tx = 0;
	{
		c->out->location = arena_printf(c->req->arena, API_PREFIX "appointments/%lld",
			c->out->appointment_id);
	}
	api_answer_appointment(c, 201, c->out->appointment_id);
	goto out;
db_failed:
	db_rollback(c->app->db);
	in_tx = 0;
	c->out->planned = -1;
	api_unavailable(c);
out:
	if (in_tx)
		db_rollback(c->app->db);
	if (res)
		PQclear(res);
}

/* Inside the PATCH's transaction: runs the appointment's update (sql with
 * n parameters) and cancels its unsent reminders with reason why, counting
 * them in the answer.  0, or -1 on a database error (the caller rolls
 * back). */
static int update_cancel_unsent(struct api_ctx *c, long long id, const char *sql, int n,
	const char *const *p, const char *why)
{
	PGresult *res = db_exec(c->app->db, sql, n, p);
	int cancelled;

	if (res == NULL)
		return -1;
	PQclear(res);
	cancelled = reminders_cancel_unsent(c->app->db, id, why);
	if (cancelled < 0)
		return -1;
	c->out->cancelled = cancelled;
	return 0;
}

/* PATCH /api/v1/appointments/{id}: reschedule or cancel, with the
 * reminders, in one transaction. */
static void api_patch_appointment(struct api_ctx *c, long long id)
{
	const struct valid_value *f = c->members;
	const char *starts = f[AP_STARTS_AT].s, *status = f[AP_STATUS].s;
	long long starts_s = f[AP_STARTS_AT].i, now_s = clock_now_s(), old_s;
	char ids[24], st[32], err[256], cur[16];
	PGresult *res = NULL;
	int in_tx = 0, n;

	c->out->appointment_id = id;
	c->out->action = "update_appointment";
	if (starts && status) {
		api_error(c, 422, "invalid_field", "status",
			"give either 'starts_at' (reschedule) or 'status' (cancel), not both");
		goto out;
	}
	if (starts == NULL && status == NULL) {
		api_error(c, 422, "missing_field", "starts_at",
			"nothing to change: give 'starts_at' to reschedule or "
			"'status': 'cancelled' to cancel");
		goto out;
	}
	if (starts && api_future(c, starts_s, now_s) < 0)
		goto out;
	c->out->action = starts ? "reschedule_appointment" : "cancel_appointment";
	snprintf(ids, sizeof(ids), "%lld", id);

	if (db_begin(c->app->db) < 0) {
		api_unavailable(c);
		goto out;
	}
	in_tx = 1;
	{
		const char *p[] = { ids, c->business };
		res = db_exec(c->app->db,
			"SELECT status, extract(epoch FROM starts_at)::bigint FROM appointments "
			"WHERE id = $1::bigint AND business_id = $2::bigint FOR UPDATE",
			2, p);
	}
	if (res == NULL)
		goto db_failed;
	if (PQntuples(res) != 1) {
		api_error(c, 404, "not_found", NULL, "no appointment %lld", id);
		goto out;
	}
	snprintf(cur, sizeof(cur), "%s", PQgetvalue(res, 0, 0));
	old_s = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	res = NULL;

	if (starts) {
		if (strcmp(cur, "cancelled") == 0 || strcmp(cur, "completed") == 0) {
			api_error(c, 409, "conflict", "starts_at",
				"field 'starts_at': appointment %lld is %s and cannot be rescheduled; "
				"book a new one", id, cur);
			goto out;
		}
		if (starts_s != old_s) {
			const char *p[] = { ids, st };
			clock_sql(starts_s, st);
			/* A confirmation was for the old time. */
			if (update_cancel_unsent(c, id,
				    "UPDATE appointments SET starts_at = $2::timestamptz, status = 'booked', "
				    "confirmed_at = NULL, updated_at = now() WHERE id = $1::bigint",
				    2, p, "rescheduled") < 0)
				goto db_failed;
			n = reminders_plan(c->app->db, id, now_s, err, sizeof(err));
			if (n < 0) {
				log_error("api: request %s: planning reminders for appointment %lld: %s",
					c->req->request_id, id, err);
				goto db_failed;
			}
			c->out->planned = n;
		}
	} else if (strcmp(cur, "completed") == 0) {
		api_error(c, 409, "conflict", "status",
			"field 'status': appointment %lld is completed and cannot be cancelled", id);
		goto out;
	} else if (strcmp(cur, "cancelled") != 0) {
		const char *p[] = { ids };
		if (update_cancel_unsent(c, id,
			    "UPDATE appointments SET status = 'cancelled', cancelled_at = now(), "
			    "updated_at = now() WHERE id = $1::bigint",
			    1, p, "appointment cancelled") < 0)
			goto db_failed;
	}
	if (db_commit(c->app->db) < 0)
		goto db_failed;
	in_tx = 0;
	api_answer_appointment(c, 200, id);
	goto out;
db_failed:
	db_rollback(c->app->db);
	in_tx = 0;
	c->out->planned = c->out->cancelled = -1;
	api_unavailable(c);
out:
	if (in_tx)
		db_rollback(c->app->db);
	if (res)
		PQclear(res);
}

/* ---- the routes' handlers ------------------------------------------------------ */

/* The context of one authenticated request. */
static void api_ctx_init(struct api_ctx *c, struct app *app, const struct route_input *in,
	struct outcome *out)
{
	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = in->req;
	c->out = out;
	c->members = in->members.v;
	c->business = in->business;
}

void api_create_client_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_create_client(&c);
}

void api_create_appointment_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_create_appointment(&c);
}

void api_get_appointment_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	out->action = "get_appointment";
	out->appointment_id = in->param_id;
	api_answer_appointment(&c, 200, in->param_id);
}

void api_patch_appointment_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_patch_appointment(&c, in->param_id);
}

void api_not_found_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	(void)app;
	(void)in;
	outcome_error(out, 404, "not_found", NULL, "no such resource");
}

void api_root_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	api_not_found_handle(app, in, out);
	out->rejected = "no such resource";
}
