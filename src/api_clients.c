/* api_clients: the JSON API's clients (see include/api.h): create, list,
 * read, update. */
#include "api.h"
#include "api_int.h"
#include "app.h"
#include "arena.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "mail.h"
#include "phone.h"
#include "util.h"
#include "valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_NAME_MAX 200
#define API_STR_(x) #x
#define API_STR(x) API_STR_(x)

/* One client (row c) as the API shows it. */
#define API_CLIENT_JSON \
	"json_build_object('id', c.id, 'name', c.name, 'phone', c.phone, 'email', c.email, " \
	"  'time_zone', c.time_zone, 'do_not_call', c.do_not_call, " \
	"  'opted_out', c.opted_out_at IS NOT NULL, " \
	"  'opted_out_at', " API_TS("c.opted_out_at") ", " \
	"  'phone_invalid_at', " API_TS("c.phone_invalid_at") ", " \
	"  'proposed_at', " API_TS("c.proposed_at") ", 'proposed_from', c.proposed_from, " \
	"  'confirmed_at', " API_TS("c.confirmed_at") ", 'confirmed_by', c.confirmed_by, " \
	"  'created_at', " API_TS("c.created_at") ")"

/* ---- input ------------------------------------------------------------------ */

/* A phone member's shape: text without control characters.  What makes
 * it a number (phone_normalise) is the handler's question, so that the
 * answer can say why ("must start with + and the country code"). */
static int api_valid_phone_text(const char *v, size_t len)
{
	return len <= 64 && valid_no_controls(v, len, NULL);
}

static int api_valid_name(const char *v, size_t len)
{
	return len > 0 && strspn(v, " ") < len && valid_chars(v) <= API_NAME_MAX &&
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

#define API_NAME_INVALID "field 'name' must be 1 to " API_STR(API_NAME_MAX) " printable characters"
#define API_PHONE_INVALID "field 'phone' must be a phone number with its country code, such " \
	"as +1 555 010 0123"
#define API_EMAIL_INVALID "field 'email' must be a plain e-mail address such as " \
	"client@example.com (no display name, spaces, commas, quotes or parentheses)"

const struct json_field api_client_fields[AC_NFIELDS] = {
	[AC_NAME] = { "name", JSON_MEMBER_STRING, 1, api_valid_name, VALID_TEXT, API_NAME_INVALID },
	[AC_PHONE] = { "phone", JSON_MEMBER_STRING, 0, api_valid_phone_text, VALID_TEXT,
		API_PHONE_INVALID },
	[AC_EMAIL] = { "email", JSON_MEMBER_STRING, 0, api_valid_email, VALID_TEXT,
		API_EMAIL_INVALID },
	[AC_TIME_ZONE] = { "time_zone", JSON_MEMBER_STRING, 0, api_valid_time_zone, VALID_TEXT,
		API_TIME_ZONE_INVALID },
};

const struct json_field api_client_patch_fields[ACP_NFIELDS] = {
	[ACP_NAME] = { "name", JSON_MEMBER_STRING, 0, api_valid_name, VALID_TEXT, API_NAME_INVALID },
	[ACP_PHONE] = { "phone", JSON_MEMBER_STRING, 0, api_valid_phone_text, VALID_TEXT,
		API_PHONE_INVALID },
	[ACP_EMAIL] = { "email", JSON_MEMBER_STRING, 0, api_valid_email, VALID_TEXT,
		API_EMAIL_INVALID },
	[ACP_TIME_ZONE] = { "time_zone", JSON_MEMBER_STRING, 0, api_valid_time_zone, VALID_TEXT,
		API_TIME_ZONE_INVALID },
	[ACP_DO_NOT_CALL] = { "do_not_call", JSON_MEMBER_BOOLEAN, 0, NULL, VALID_TEXT, NULL },
	[ACP_OPTED_OUT] = { "opted_out", JSON_MEMBER_BOOLEAN, 0, NULL, VALID_TEXT, NULL },
};

/* The phone of member i as E.164 (phone.h) into *out (request arena;
 * NULL when absent).  0, or -1 after answering 422 with the reason. */
static int api_phone_member(struct api_ctx *c, size_t i, const char **out)
{
	char e164[PHONE_E164_SIZE];
	const struct valid_value *v = &c->members[i];
	enum phone_error e;

	*out = NULL;
	if (v->s == NULL)
		return 0;
	e = phone_normalise(v->s, v->len, e164, sizeof(e164));
	if (e != PHONE_OK) {
		api_error(c, 422, "invalid_field", "phone", "field 'phone' %s",
			phone_error_text(e));
		return -1;
	}
	*out = arena_strdup(c->req->arena, e164);
	return 0;
}

/* Whether PostgreSQL knows time zone tz: 1, 0 (after answering 422), or
 * -1 (after answering 503). */
static int api_time_zone_known(struct api_ctx *c, const char *tz)
{
	const char *p[] = { tz };
	PGresult *res = db_exec_prepared(c->app->db, "api_tz",
		"SELECT rf_valid_time_zone($1)", 1, p);
	int ok;

	if (res == NULL) {
		api_unavailable(c);
		return -1;
	}
	ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!ok)
		api_error(c, 422, "invalid_field", "time_zone", API_TIME_ZONE_INVALID);
	return ok;
}

/* ---- resources ----------------------------------------------------------------- */

/* Answers status with the client (of the authenticated business). */
static void api_answer_client(struct api_ctx *c, int status, long long id)
{
	char ids[24];
	const char *p[] = { ids, c->business };
	PGresult *res;
	json_t *obj;

	snprintf(ids, sizeof(ids), "%lld", id);
	res = db_exec_prepared(c->app->db, "api_client",
		"SELECT " API_CLIENT_JSON "::text FROM clients c "
		"WHERE c.id = $1::bigint AND c.business_id = $2::bigint",
		2, p);
	if (res == NULL) {
		api_unavailable(c);
		return;
	}
	if (PQntuples(res) != 1) {
		api_error(c, 404, "not_found", NULL, "no client %lld", id);
		goto out;
	}
	obj = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (obj == NULL)
		api_error(c, 500, "internal", NULL, "internal error");
	else
		api_send_json(c, status, obj);
out:
	PQclear(res);
}

/* POST /api/v1/clients */
static void api_create_client(struct api_ctx *c)
{
	const struct valid_value *f = c->members;
	const char *name = f[AC_NAME].s, *phone, *email = f[AC_EMAIL].s, *tz = f[AC_TIME_ZONE].s;
	PGresult *res = NULL;

	c->out->action = "create_client";
	if (api_phone_member(c, AC_PHONE, &phone) < 0)
		goto out;
	if (phone == NULL && email == NULL) {
		api_error(c, 422, "missing_field", "phone",
			"a client needs a 'phone' or an 'email' (or both)");
		goto out;
	}
	if (tz && api_time_zone_known(c, tz) != 1)
		goto out;
	{
		const char *p[] = { c->business, name, phone, email, tz };
		res = db_exec_prepared(c->app->db, "api_client_insert",
			"INSERT INTO clients (business_id, name, phone, email, time_zone) "
			"VALUES ($1::bigint, $2, $3, $4, $5) RETURNING id",
			5, p);
	}
	if (res == NULL) {
		api_unavailable(c);
		goto out;
	}
	c->out->client_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	c->out->location = arena_printf(c->req->arena, API_PREFIX "clients/%lld",
		c->out->client_id);
	api_answer_client(c, 201, c->out->client_id);
out:
	if (res)
		PQclear(res);
}

/* A prefix filter of the client list (NULL when absent).  0, or -1
 * after answering 422. */
static int api_prefix_param(struct api_ctx *c, const char *name, const char **out)
{
	const char *v = api_query(c, name);
	size_t len;

	*out = NULL;
	if (v == NULL)
		return 0;
	len = strlen(v);
	if (strcmp(name, "phone") == 0) {
		/* "+1 555", "+1555": the separators go, as in a stored number. */
		char digits[VALID_E164_MAX_DIGITS + 2];
		size_t n = 0;
		for (size_t i = 0; i < len && n <= VALID_E164_MAX_DIGITS; i++) {
			if (i == 0 ? v[i] == '+' : (v[i] >= '0' && v[i] <= '9'))
				digits[n++] = v[i];
			else if (i == 0 || strchr(" -.()", v[i]) == NULL)
				goto bad;
		}
		if (n < 2 || n > VALID_E164_MAX_DIGITS + 1)
			goto bad;
		digits[n] = '\0';
		*out = arena_strdup(c->req->arena, digits);
		return 0;
	}
	if (len == 0 || valid_chars(v) > 254 || !valid_no_controls(v, len, NULL))
		goto bad;
	*out = v;
	return 0;
bad:
	if (strcmp(name, "phone") == 0)
		api_error(c, 422, "invalid_parameter", name,
			"query parameter 'phone' must be the start of an E.164 number, such as +1555 "
			"(send '+' as %%2B)");
	else
		api_error(c, 422, "invalid_parameter", name,
			"query parameter '%s' must be 1 to 254 printable characters", name);
	return -1;
}

/* GET /api/v1/clients: the business's clients by id, a page at a time,
 * filtered by the start of the phone number, e-mail or name (the last
 * two ignoring case). */
static void api_list_clients(struct api_ctx *c)
{
	static const char *const known[] = { "phone", "email", "name", "limit", "cursor", NULL };
	const char *phone, *email, *name, *after = NULL;
	long long a, b;
	char lim[16];
	int limit;
	PGresult *res = NULL;

	c->out->action = "list_clients";
	if (api_query_check(c, known) < 0 || api_query_limit(c, &limit) < 0 ||
		api_prefix_param(c, "phone", &phone) < 0 || api_prefix_param(c, "email", &email) < 0 ||
		api_prefix_param(c, "name", &name) < 0)
		goto out;
	if (api_query(c, "cursor")) {
		if (api_cursor_decode(c, api_query(c, "cursor"), &a, &b) < 0)
			goto out;
		after = arena_printf(c->req->arena, "%lld", b);
	}
	snprintf(lim, sizeof(lim), "%d", limit + 1);
	{
		const char *p[] = { c->business, after, phone, email, name, lim };
		res = db_exec_prepared(c->app->db, "api_list_clients",
			"SELECT " API_CLIENT_JSON "::text, c.id FROM clients c "
			"WHERE c.business_id = $1::bigint "
			"AND ($2::bigint IS NULL OR c.id > $2::bigint) "
			"AND ($3::text IS NULL OR left(c.phone::text, char_length($3)) = $3) "
			"AND ($4::text IS NULL OR lower(left(c.email::text, char_length($4))) = lower($4)) "
			"AND ($5::text IS NULL OR lower(left(c.name, char_length($5))) = lower($5)) "
			"ORDER BY c.id LIMIT $6::int",
			6, p);
	}
	if (res == NULL) {
		api_unavailable(c);
		goto out;
	}
	api_send_rows(c, res, limit, -1, 1);
out:
	if (res)
		PQclear(res);
}

/* 1 when the PATCH body sets member name to null explicitly. */
static int api_member_null(struct api_ctx *c, const char *name)
{
	return json_is_null(json_object_get(c->json, name));
}

/* Inside the PATCH's transaction: the client's pending reminders on
 * channels (an SQL array literal) follow its new address, or are
 * cancelled when it has none any more.  0 or -1 (database error). */
static int api_readdress(struct api_ctx *c, const char *ids, const char *channels,
	const char *address, const char *why)
{
	const char *p[] = { ids, channels, address, why };
	PGresult *res = db_exec_prepared(c->app->db, "api_client_reminders",
		"UPDATE reminders r SET "
		"  to_address = CASE WHEN $3::text IS NULL THEN r.to_address ELSE $3 END, "
		"  status = CASE WHEN $3::text IS NULL THEN 'cancelled' ELSE r.status END, "
		"  status_reason = CASE WHEN $3::text IS NULL THEN $4 ELSE r.status_reason END, "
		"  updated_at = now() "
		"FROM appointments a WHERE r.appointment_id = a.id AND a.client_id = $1::bigint "
		"AND r.status = 'pending' AND r.channel = ANY ($2::text[])",
		4, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* PATCH /api/v1/clients/{id}: a member left out stays as it is; null
 * clears phone, email or time_zone.  The client's reminders not sent
 * yet go to the new address (or are cancelled when it was cleared).
 * opted_out can be set, never cleared: only the client takes back an
 * opt-out (START by text). */
static void api_patch_client(struct api_ctx *c, long long id)
{
	const struct valid_value *f = c->members;
	char ids[24], dnc[8];
	const char *row[6], *name, *phone, *email, *tz, *new_phone;
	int in_tx = 0, got, set_phone, set_email, set_tz, opt_out = 0, any = 0;
	PGresult *res = NULL;

	c->out->client_id = id;
	c->out->action = "update_client";
	for (size_t i = 0; i < ACP_NFIELDS; i++)
		any |= f[i].s != NULL || api_member_null(c, api_client_patch_fields[i].name);
	if (!any) {
		api_error(c, 422, "missing_field", NULL,
			"nothing to change: give one or more of name, phone, email, time_zone, "
			"do_not_call, opted_out");
		goto out;
	}
	{
		static const size_t not_null[] = { ACP_NAME, ACP_DO_NOT_CALL, ACP_OPTED_OUT };
		for (size_t i = 0; i < ARRAY_LEN(not_null); i++) {
			const char *m = api_client_patch_fields[not_null[i]].name;
			if (api_member_null(c, m)) {
				api_error(c, 422, "invalid_field", m, "field '%s' cannot be null%s", m,
					not_null[i] == ACP_NAME ? "" : "; give true or false");
				goto out;
			}
		}
	}
	set_phone = f[ACP_PHONE].s != NULL || api_member_null(c, "phone");
	set_email = f[ACP_EMAIL].s != NULL || api_member_null(c, "email");
	set_tz = f[ACP_TIME_ZONE].s != NULL || api_member_null(c, "time_zone");
	if (api_phone_member(c, ACP_PHONE, &new_phone) < 0)
		goto out;
	if (f[ACP_TIME_ZONE].s && api_time_zone_known(c, f[ACP_TIME_ZONE].s) != 1)
		goto out;
	snprintf(ids, sizeof(ids), "%lld", id);
	if (db_begin(c->app->db) < 0) {
		api_unavailable(c);
		goto out;
	}
	in_tx = 1;
	{
		const char *p[] = { ids, c->business };
		got = db_row_prepared(c->app->db, c->req->arena, "api_client_lock",
			"SELECT name, phone, email, time_zone, do_not_call::text, "
			"  (opted_out_at IS NOT NULL)::text FROM clients "
			"WHERE id = $1::bigint AND business_id = $2::bigint FOR UPDATE",
			2, p, 6, row);
	}
	if (got < 0)
		goto db_failed;
	if (got == 0) {
		api_error(c, 404, "not_found", NULL, "no client %lld", id);
		goto out;
	}
	if (f[ACP_OPTED_OUT].s && !f[ACP_OPTED_OUT].i && strcmp(row[5], "true") == 0) {
		api_error(c, 422, "invalid_field", "opted_out",
			"field 'opted_out': client %lld opted out and only the client can take that back "
			"by texting START to the business's number; nothing was changed",
			id);
		goto out;
	}
	opt_out = f[ACP_OPTED_OUT].s && f[ACP_OPTED_OUT].i;
	name = f[ACP_NAME].s ? f[ACP_NAME].s : row[0];
	phone = set_phone ? new_phone : row[1];
	email = set_email ? f[ACP_EMAIL].s : row[2];
	tz = set_tz ? f[ACP_TIME_ZONE].s : row[3];
	snprintf(dnc, sizeof(dnc), "%s", f[ACP_DO_NOT_CALL].s ? f[ACP_DO_NOT_CALL].s : row[4]);
	if (phone == NULL && email == NULL) {
		api_error(c, 422, "missing_field", set_phone ? "phone" : "email",
			"a client needs a 'phone' or an 'email' (or both); nothing was changed");
		goto out;
	}
	{
		const char *p[] = { ids, name, phone, email, tz, dnc, opt_out ? "t" : "f" };
		res = db_exec_prepared(c->app->db, "api_client_update",
			"UPDATE clients SET name = $2, phone = $3::text, email = $4::text, "
			"  time_zone = $5::text, do_not_call = $6::boolean, "
			"  phone_invalid_at = CASE WHEN phone::text IS DISTINCT FROM $3::text THEN NULL "
			"    ELSE phone_invalid_at END, "
			"  opted_out_at = CASE WHEN $7::boolean THEN COALESCE(opted_out_at, now()) "
			"    ELSE opted_out_at END, "
			/* Who opted the client out, for the dashboard (010_clients.sql). */
			"  opted_out_by = CASE WHEN $7::boolean AND opted_out_at IS NULL "
			"    THEN 'the JSON API' ELSE opted_out_by END "
			"WHERE id = $1::bigint",
			7, p);
	}
	if (res == NULL)
		goto db_failed;
	PQclear(res);
	res = NULL;
	if (set_phone && (row[1] == NULL || phone == NULL || strcmp(row[1], phone) != 0) &&
		api_readdress(c, ids, "{voice,sms}", phone, "client has no phone") < 0)
		goto db_failed;
	if (set_email && (row[2] == NULL || email == NULL || strcmp(row[2], email) != 0) &&
		api_readdress(c, ids, "{email}", email, "client has no email") < 0)
		goto db_failed;
	if (db_commit(c->app->db) < 0)
		goto db_failed;
	in_tx = 0;
	api_answer_client(c, 200, id);
	goto out;
db_failed:
	api_unavailable(c);
out:
	db_finish(c->app->db, in_tx, res);
}

/* ---- the routes' handlers ------------------------------------------------------ */

void api_create_client_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_create_client(&c);
}

void api_list_clients_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_list_clients(&c);
}

void api_get_client_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	out->action = "get_client";
	out->client_id = in->param_id;
	api_answer_client(&c, 200, in->param_id);
}

void api_patch_client_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct api_ctx c;
	api_ctx_init(&c, app, in, out);
	api_patch_client(&c, in->param_id);
}
