/* api: the JSON API (see include/api.h). */
#include "api.h"
#include "api_int.h"
#include "apikey.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "clock.h"
#include "db.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "mail.h"
#include "reminders.h"
#include "util.h"
#include "valid.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define API_NAME_MAX 200
#define API_NOTES_MAX 4000
#define API_STR_(x) #x
#define API_STR(x) API_STR_(x)

/* ---- responses ------------------------------------------------------------ */

/* Answers status with obj (consumed) as the JSON body. */
void api_send_json(struct api_ctx *c, int status, json_t *obj)
{
	json_decref(c->out->json);
	c->out->json = obj;
	c->out->status = status;
}

/* Answers an error; field (may be NULL) is the input field to blame. */
void api_error(struct api_ctx *c, int status, const char *code, const char *field,
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
void api_unavailable(struct api_ctx *c)
{
	log_error("api: request %s %s %s: database error: %s", c->req->request_id, c->req->method,
		c->req->path, db_last_error(c->app->db));
	api_error(c, 503, "unavailable", NULL,
		"the database is unavailable; nothing was changed, try again later");
}

/* ---- lists: query, cursor, page --------------------------------------------- */

int api_query_check(struct api_ctx *c, const char *const *known)
{
	const struct params *q = &c->req->query_params;

	if (!c->req->query_ok) {
		api_error(c, 400, "invalid_query", NULL,
			"the query string is malformed (bad percent-encoding or too long)");
		return -1;
	}
	for (size_t i = 0; i < q->n; i++) {
		const char *name = q->v[i].name;
		size_t k, len = strlen(name);
		int plain = len <= 64 && valid_no_controls(name, len, NULL);
		for (k = 0; known[k] && strcmp(known[k], name) != 0; k++)
			;
		if (known[k] == NULL) {
			api_error(c, 400, "unknown_parameter", plain ? arena_strdup(c->req->arena, name)
				: NULL, "unknown query parameter '%s'", plain ? name : "(unprintable)");
			return -1;
		}
		if (form_count(q, name) > 1) {
			api_error(c, 400, "invalid_parameter", known[k],
				"query parameter '%s' is given more than once", known[k]);
			return -1;
		}
	}
	return 0;
}

const char *api_query(struct api_ctx *c, const char *name)
{
	return form_get(&c->req->query_params, name);
}

int api_query_limit(struct api_ctx *c, int *limit)
{
	const char *v = api_query(c, "limit");
	long long n;

	*limit = API_LIMIT_DEFAULT;
	if (v == NULL)
		return 0;
	if (!valid_to_uint(v, strlen(v), &n) || n < 1 || n > API_LIMIT_MAX) {
		api_error(c, 422, "invalid_parameter", "limit",
			"query parameter 'limit' must be a whole number from 1 to %d", API_LIMIT_MAX);
		return -1;
	}
	*limit = (int)n;
	return 0;
}

/* The answer to a cursor this API did not give out. */
#define API_CURSOR_FORGED "query parameter 'cursor' is not a cursor this API gave out; pass " \
	"next_cursor from the previous page unchanged"
/* The appointments' cursor time (microseconds since 1970) lies within
 * the years 0001..9999 that an RFC 3339 starts_at can name. */
#define API_CURSOR_US_MIN (-62135596800LL * 1000000)
#define API_CURSOR_US_MAX (253402300799LL * 1000000 + 999999)

const char *api_cursor_encode(struct api_ctx *c, long long a, long long b)
{
	char plain[64], *hex;

	snprintf(plain, sizeof(plain), "v1:%lld:%lld", a, b);
	hex = arena_alloc(c->req->arena, 2 * strlen(plain) + 1);
	util_hex((const unsigned char *)plain, strlen(plain), hex);
	return hex;
}

int api_cursor_decode(struct api_ctx *c, const char *s, long long *a, long long *b)
{
	char plain[64];
	size_t len = strlen(s), n = len / 2;
	long long x, y;
	char *end;

	if (len == 0 || len % 2 || n >= sizeof(plain))
		goto bad;
	for (size_t i = 0; i < n; i++) {
		int hi = s[2 * i], lo = s[2 * i + 1], v = 0;
		for (int k = 0; k < 2; k++) {
			int ch = k ? lo : hi;
			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= ch - '0';
			else if (ch >= 'a' && ch <= 'f')
				v |= ch - 'a' + 10;
			else
				goto bad;
		}
		plain[i] = (char)v;
	}
	plain[n] = '\0';
	if (strncmp(plain, "v1:", 3) != 0 || strlen(plain) != n)
		goto bad;
	errno = 0;
	x = strtoll(plain + 3, &end, 10);
	if (end == plain + 3 || *end != ':' || errno)
		goto bad;
	{
		const char *yb = end + 1;
		y = strtoll(yb, &end, 10);
		if (end == yb || *end != '\0' || y < 1 || errno)
			goto bad;
	}
	/* Only the form the encoder writes: no sign, space or leading zero
	 * that strtoll would accept, so that a cursor is one string. */
	{
		char again[64];
		snprintf(again, sizeof(again), "v1:%lld:%lld", x, y);
		if (strcmp(again, plain) != 0)
			goto bad;
	}
	*a = x;
	*b = y;
	return 0;
bad:
	api_error(c, 422, "invalid_parameter", "cursor", API_CURSOR_FORGED);
	return -1;
}

void api_send_rows(struct api_ctx *c, PGresult *res, int limit, int key_a, int key_b)
{
	int rows = PQntuples(res);
	json_t *items = json_array();
	const char *next = NULL;

	for (int i = 0; i < rows && i < limit; i++) {
		json_t *o = json_loads(PQgetvalue(res, i, 0), 0, NULL);
		if (o == NULL) {
			json_decref(items);
			api_error(c, 500, "internal", NULL, "internal error");
			return;
		}
		json_array_append_new(items, o);
	}
	if (rows > limit)
		next = api_cursor_encode(c,
			key_a < 0 ? 0 : strtoll(PQgetvalue(res, limit - 1, key_a), NULL, 10),
			strtoll(PQgetvalue(res, limit - 1, key_b), NULL, 10));
	api_send_json(c, 200, json_pack("{s:o, s:o}", "data", items, "next_cursor",
		next ? json_string(next) : json_null()));
}

/* ---- input ------------------------------------------------------------------ */

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

static int api_valid_notes(const char *v, size_t len)
{
	return len == strlen(v) && valid_text(v, API_NOTES_MAX, "\n\r\t");
}

static int api_valid_status(const char *v, size_t len)
{
	return len == 9 && memcmp(v, "cancelled", 9) == 0;
}

#define API_STARTS_AT_INVALID "field 'starts_at' must be an RFC 3339 date-time with an offset, " \
	"such as 2026-11-25T15:30:00-05:00 or 2026-11-25T20:30:00Z"

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

/* One appointment (row a) as the API shows it: with its reminders and
 * their contact attempts, oldest first. */
#define API_APPOINTMENT_JSON \
	"json_build_object(" \
	"  'id', a.id, 'client_id', a.client_id, 'starts_at', " API_TS("a.starts_at") ", " \
	"  'status', a.status, 'notes', a.notes, " \
	"  'confirmed_at', " API_TS("a.confirmed_at") ", " \
	"  'cancelled_at', " API_TS("a.cancelled_at") ", " \
	"  'callback_requested_at', " API_TS("a.callback_requested_at") ", " \
	"  'reschedule_requested_at', " API_TS("a.reschedule_requested_at") ", " \
	"  'created_at', " API_TS("a.created_at") ", " \
	"  'updated_at', " API_TS("a.updated_at") ", " \
	"  'reminders', coalesce((SELECT json_agg(json_build_object(" \
	"      'id', r.id, 'channel', r.channel, 'offset_minutes', r.offset_minutes, " \
	"      'attempt', r.attempt, 'status', r.status, 'status_reason', r.status_reason, " \
	"      'to_address', r.to_address, 'due_at', " API_TS("r.due_at") ", " \
	"      'stale_at', " API_TS("r.stale_at") ", " \
	"      'not_before', " API_TS("r.not_before") ", " \
	"      'superseded_at', " API_TS("r.superseded_at") ", " \
	"      'contact_attempts', coalesce((SELECT json_agg(json_build_object(" \
	"          'id', ca.id, 'status', ca.status, 'provider_sid', ca.provider_sid, " \
	"          'delivery_status', ca.delivery_status, 'error_code', ca.error_code, " \
	"          'created_at', " API_TS("ca.created_at") ") ORDER BY ca.id) " \
	"        FROM contact_attempts ca WHERE ca.reminder_id = r.id), '[]'::json)" \
	"    ) ORDER BY r.id) FROM reminders r WHERE r.appointment_id = a.id), '[]'::json)" \
	")"

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
		"SELECT " API_APPOINTMENT_JSON "::text FROM appointments a "
		"WHERE a.id = $1::bigint AND a.business_id = $2::bigint",
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

/* Commits the handler's transaction (*in_tx cleared) and answers status
 * with the appointment as it now is.  0, or -1 when the commit fails
 * (nothing answered: the caller answers 503). */
static int api_commit_answer(struct api_ctx *c, int *in_tx, int status, long long id)
{
	if (db_commit(c->app->db) < 0)
		return -1;
	*in_tx = 0;
	api_answer_appointment(c, status, id);
	return 0;
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
		res = db_exec_prepared(c->app->db, "api_client_share",
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
		res = db_exec_prepared(c->app->db, "api_appointment_insert",
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
	if (api_commit_answer(c, &in_tx, 201, c->out->appointment_id) < 0)
		goto db_failed;
	c->out->location = arena_printf(c->req->arena, API_PREFIX "appointments/%lld",
		c->out->appointment_id);
	goto out;
db_failed:
	c->out->planned = -1;
	api_unavailable(c);
out:
	db_finish(c->app->db, in_tx, res);
}

/* Begins the transaction (*in_tx set) and locks appointment id of the
 * caller's business: ids gets the id as text, *status its status
 * (request arena) and *starts_s its start.  1 locked; 0 after answering
 * 503 (no transaction) or 404 (no such appointment); -1 on a database
 * error (the caller answers). */
static int api_lock_appointment(struct api_ctx *c, long long id, char ids[24], int *in_tx,
	const char **status, long long *starts_s)
{
	const char *p[] = { ids, c->business }, *v[2];
	int rc;

	snprintf(ids, 24, "%lld", id);
	if (db_begin(c->app->db) < 0) {
		api_unavailable(c);
		return 0;
	}
	*in_tx = 1;
	rc = db_row_prepared(c->app->db, c->req->arena, "api_appointment_lock",
		"SELECT status, extract(epoch FROM starts_at)::bigint FROM appointments "
		"WHERE id = $1::bigint AND business_id = $2::bigint FOR UPDATE",
		2, p, 2, v);
	if (rc == 0)
		api_error(c, 404, "not_found", NULL, "no appointment %lld", id);
	if (rc == 1) {
		*status = v[0];
		*starts_s = strtoll(v[1], NULL, 10);
	}
	return rc;
}

/* Cancels appointment id and its unsent reminders in one transaction
 * and answers it (200); cancelling a cancelled one again answers the
 * same.  A completed one is 409, naming field (NULL: none).  The POST
 * /cancel and the PATCH {"status": "cancelled"} are this (the caller
 * sets the outcome's action). */
static void api_cancel_tx(struct api_ctx *c, long long id, const char *field)
{
	char ids[24];
	const char *cur;
	long long starts_s;
	int in_tx = 0, rc;

	rc = api_lock_appointment(c, id, ids, &in_tx, &cur, &starts_s);
	if (rc < 0)
		goto db_failed;
	if (rc == 0)
		goto out;
	if (strcmp(cur, "completed") == 0) {
		api_error(c, 409, "conflict", field,
			"%sappointment %lld is completed and cannot be cancelled",
			field ? arena_printf(c->req->arena, "field '%s': ", field) : "", id);
		goto out;
	}
	if (strcmp(cur, "cancelled") != 0) {
		c->out->cancelled = reminders_cancel_appointment(c->app->db, id);
		if (c->out->cancelled < 0)
			goto db_failed;
	}
	if (api_commit_answer(c, &in_tx, 200, id) < 0)
		goto db_failed;
	goto out;
db_failed:
	c->out->cancelled = -1;
	api_unavailable(c);
out:
	db_finish(c->app->db, in_tx, NULL);
}

/* PATCH /api/v1/appointments/{id}: reschedule or cancel, with the
 * reminders, in one transaction. */
static void api_patch_appointment(struct api_ctx *c, long long id)
{
	const struct valid_value *f = c->members;
	const char *starts = f[AP_STARTS_AT].s, *status = f[AP_STATUS].s, *cur;
	long long starts_s = f[AP_STARTS_AT].i, now_s = clock_now_s(), old_s;
	char ids[24], err[256];
	int in_tx = 0, n, rc;

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
	if (status) {
		c->out->action = "cancel_appointment";
		api_cancel_tx(c, id, "status");
		goto out;
	}
	if (api_future(c, starts_s, now_s) < 0)
		goto out;
	c->out->action = "reschedule_appointment";
	rc = api_lock_appointment(c, id, ids, &in_tx, &cur, &old_s);
	if (rc < 0)
		goto db_failed;
	if (rc == 0)
		goto out;
	if (strcmp(cur, "cancelled") == 0 || strcmp(cur, "completed") == 0) {
		api_error(c, 409, "conflict", "starts_at",
			"field 'starts_at': appointment %lld is %s and cannot be rescheduled; "
			"book a new one", id, cur);
		goto out;
	}
	if (starts_s != old_s) {
		n = reminders_reschedule(c->app->db, id, starts_s, now_s, &c->out->cancelled, err,
			sizeof(err));
		if (n < 0) {
			log_error("api: request %s: rescheduling appointment %lld: %s",
				c->req->request_id, id, err);
			goto db_failed;
		}
		c->out->planned = n;
	}
	if (api_commit_answer(c, &in_tx, 200, id) < 0)
		goto db_failed;
	goto out;
db_failed:
	c->out->planned = c->out->cancelled = -1;
	api_unavailable(c);
out:
	db_finish(c->app->db, in_tx, NULL);
}

/* The statuses an appointment can have, for the list's filter. */
static const char *const api_appointment_statuses[] = { "booked", "confirmed", "cancelled",
	"completed", NULL };

/* status=booked,confirmed: a PostgreSQL array literal of known statuses
 * into *out (arena).  0, or -1 after answering 422. */
static int api_status_filter(struct api_ctx *c, const char *v, const char **out)
{
	const char *arr = "{", *p = v;
	int n = 0;

	for (;;) {
		size_t len = strcspn(p, ","), k;
		for (k = 0; api_appointment_statuses[k]; k++)
			if (strlen(api_appointment_statuses[k]) == len &&
				strncmp(p, api_appointment_statuses[k], len) == 0)
				break;
		if (api_appointment_statuses[k] == NULL) {
			api_error(c, 422, "invalid_parameter", "status",
				"query parameter 'status' must be booked, confirmed, cancelled or completed "
				"(several separated by commas)");
			return -1;
		}
		arr = arena_printf(c->req->arena, "%s%s%s", arr, n++ ? "," : "",
			api_appointment_statuses[k]);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*out = arena_printf(c->req->arena, "%s}", arr);
	return 0;
}

/* An RFC 3339 query parameter as SQL text (NULL when absent).  0, or -1
 * after answering 422. */
static int api_time_param(struct api_ctx *c, const char *name, const char **out, long long *secs)
{
	const char *v = api_query(c, name);
	char sql[32];

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!valid_to_time(v, strlen(v), secs)) {
		api_error(c, 422, "invalid_parameter", name,
			"query parameter '%s' must be an RFC 3339 date-time with an offset, such as "
			"2026-11-25T00:00:00Z (a '+' must be sent as %%2B)", name);
		return -1;
	}
	clock_sql(*secs, sql);
	*out = arena_strdup(c->req->arena, sql);
	return 0;
}

/* GET /api/v1/appointments: the business's appointments by (starts_at,
 * id), a page at a time.  The cursor is the last row's (starts_at in
 * microseconds, id): rows booked between pages after the cursor show
 * up, nothing is shown twice. */
static void api_list_appointments(struct api_ctx *c)
{
	static const char *const known[] = { "from", "to", "status", "client_id", "limit",
		"cursor", NULL };
	const char *from = NULL, *to = NULL, *statuses = NULL, *client = NULL, *cur_us = NULL,
		   *cur_id = NULL;
	long long from_s = 0, to_s = 0, cid, a, b;
	char lim[16];
	int limit;
	PGresult *res = NULL;

	c->out->action = "list_appointments";
	if (api_query_check(c, known) < 0 || api_query_limit(c, &limit) < 0 ||
		api_time_param(c, "from", &from, &from_s) < 0 ||
		api_time_param(c, "to", &to, &to_s) < 0)
		goto out;
	if (from && to && to_s <= from_s) {
		api_error(c, 422, "invalid_parameter", "to",
			"query parameter 'to' must be later than 'from'");
		goto out;
	}
	if (api_query(c, "status") && api_status_filter(c, api_query(c, "status"), &statuses) < 0)
		goto out;
	if (api_query(c, "client_id")) {
		const char *v = api_query(c, "client_id");
		if (!valid_to_id(v, strlen(v), &cid)) {
			api_error(c, 422, "invalid_parameter", "client_id",
				"query parameter 'client_id' must be a client id (a positive whole number)");
			goto out;
		}
		client = v;
	}
	if (api_query(c, "cursor")) {
		if (api_cursor_decode(c, api_query(c, "cursor"), &a, &b) < 0)
			goto out;
		/* A forged time outside the years an appointment can have
		 * would be PostgreSQL's range error: refused like any other
		 * cursor this API did not give out. */
		if (a < API_CURSOR_US_MIN || a > API_CURSOR_US_MAX) {
			api_error(c, 422, "invalid_parameter", "cursor", API_CURSOR_FORGED);
			goto out;
		}
		cur_us = arena_printf(c->req->arena, "%lld", a);
		cur_id = arena_printf(c->req->arena, "%lld", b);
	}
	snprintf(lim, sizeof(lim), "%d", limit + 1);
	{
		const char *p[] = { c->business, cur_us, cur_id, from, to, statuses, client, lim };
		res = db_exec_prepared(c->app->db, "api_list_appointments",
			"SELECT " API_APPOINTMENT_JSON "::text, "
			"  (extract(epoch FROM a.starts_at) * 1000000)::bigint, a.id "
			"FROM appointments a WHERE a.business_id = $1::bigint "
			"AND ($2::bigint IS NULL OR (a.starts_at, a.id) > "
			"  (timestamptz 'epoch' + $2::bigint * interval '1 microsecond', $3::bigint)) "
			"AND ($4::timestamptz IS NULL OR a.starts_at >= $4::timestamptz) "
			"AND ($5::timestamptz IS NULL OR a.starts_at < $5::timestamptz) "
			"AND ($6::text[] IS NULL OR a.status = ANY ($6::text[])) "
			"AND ($7::bigint IS NULL OR a.client_id = $7::bigint) "
			"ORDER BY a.starts_at, a.id LIMIT $8::int",
			8, p);
	}
	if (res == NULL) {
		api_unavailable(c);
		goto out;
	}
	api_send_rows(c, res, limit, 1, 2);
out:
	if (res)
		PQclear(res);
}

/* POST /api/v1/appointments/{id}/cancel: the body is empty or "{}".  0
 * when it is, or -1 after answering 413, 415, 400 or 422. */
int api_empty_body(struct api_ctx *c)
{
	struct http_request *req = c->req;
	json_error_t jerr;
	json_t *body;
	const char *name;
	json_t *m;
	int rc = -1;

	if (req->body_len == 0)
		return 0;
	if (req->body_len > API_MAX_BODY) {
		api_error(c, 413, "body_too_large", NULL, "the body must be at most %d bytes",
			API_MAX_BODY);
		return -1;
	}
	if (strncasecmp(req->content_type, "application/json", 16) != 0 ||
		(req->content_type[16] != '\0' && req->content_type[16] != ';' &&
			req->content_type[16] != ' ')) {
		api_error(c, 415, "unsupported_media_type", NULL,
			"the body must be empty or JSON with Content-Type: application/json");
		return -1;
	}
	body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL) {
		api_error(c, 400, "invalid_json", NULL, "the body is not valid JSON: %s (line %d)",
			jerr.text, jerr.line);
		return -1;
	}
	if (!json_is_object(body)) {
		api_error(c, 400, "invalid_json", NULL, "the body must be a JSON object");
		goto out;
	}
	json_object_foreach(body, name, m) {
		size_t len = strlen(name);
		int plain = len <= 64 && valid_no_controls(name, len, NULL);
		api_error(c, 422, "unknown_field", plain ? arena_strdup(req->arena, name) : NULL,
			"unknown field '%s' (this request takes no fields)", plain ? name : "(unprintable)");
		goto out;
	}
	rc = 0;
out:
	json_decref(body);
	return rc;
}

/* POST /api/v1/appointments/{id}/cancel: cancels the appointment and its
 * unsent reminders; cancelling a cancelled one again answers the same. */
static void api_cancel_appointment(struct api_ctx *c, long long id)
{
	c->out->appointment_id = id;
	c->out->action = "cancel_appointment";
	if (api_empty_body(c) < 0)
		return;
	api_cancel_tx(c, id, NULL);
}

/* ---- the routes' handlers ------------------------------------------------------ */

/* The context of one authenticated request. */
void api_ctx_init(struct api_ctx *c, struct app *app, const struct route_input *in,
	struct outcome *out)
{
	memset(c, 0, sizeof(*c));
	c->app = app;
	c->req = in->req;
	c->out = out;
	c->members = in->members.v;
	c->json = in->json;
	c->business = in->business;
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

void api_list_appointments_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_list_appointments(&c);
}

void api_cancel_appointment_handle(struct app *app, const struct route_input *in,
	struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_cancel_appointment(&c, in->param_id);
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
