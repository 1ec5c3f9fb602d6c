/* routes: the one route table of the FastCGI application, and the
 * handlers that need no module of their own (liveness, readiness, metrics).
 *
 * Every request is matched against this table, top to bottom, by
 * dispatch() (src/dispatch.c), which does the authentication,
 * validation, rendering and auditing the row declares.  Catch-alls ("*")
 * come after the rows they back up.  Adding a route is adding a row here
 * and a handler in its module (README "Source layout"). */
#include "routes.h"
#include "api.h"
#include "dash_calendar.h"
#include "dash_flows.h"
#include "dash_greeting.h"
#include "dash_keys.h"
#include "dash_notify.h"
#include "dash_settings.h"
#include "dash_booking.h"
#include "msgswitch.h"
#include "dash_users.h"
#include "app.h"
#include "dash_account.h"
#include "dash_operator.h"
#include "arena.h"
#include "buf.h"
#include "dash_clients.h"
#include "dash_import.h"
#include "dash_inbox.h"
#include "db.h"
#include "dash_appointments.h"
#include "dash_decisions.h"
#include "dash_timeline.h"
#include "dispatch.h"
#include "metrics.h"
#include "doctor.h"
#include "failsafe.h"
#include "greeting.h"
#include "http.h"
#include "page.h"
#include "twilio.h"
#include "rds.h"
#include "sms.h"
#include "status.h"
#include "unsubscribe.h"
#include "util.h"
#include "webhook.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A number field of an INFO reply ("name:123\r\n"), or -1. */
static long long info_field(const char *info, const char *name)
{
	size_t n = strlen(name);
	long long v = -1;
	const char *p = info;

	while (p && *p && v < 0) {
		if (strncmp(p, name, n) == 0 && p[n] == ':')
			v = strtoll(p + n + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return v;
}

/* Redis's memory as /readyz shows it: used and max bytes and
 * "pressure": "ok" (under 80% of maxmemory), "high" (80% or more: audit
 * writes soon fail over to the fallback log and the ready queue with
 * them), or "unbounded" (no maxmemory: Redis grows until the host runs
 * out, see the README's deploy notes); NULL when INFO cannot be read. */
static json_t *health_redis_memory(struct app *app)
{
	const char *argv[] = { "INFO", "memory" };
	redisReply *r = rds_command(app->rds, 2, argv, NULL);
	long long used, max;
	json_t *j = NULL;

	if (r == NULL)
		return NULL;
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
		used = info_field(r->str, "used_memory");
		max = info_field(r->str, "maxmemory");
		if (used >= 0) {
			j = json_pack("{s:I}", "used_bytes", (json_int_t)used);
			if (max > 0) {
				json_object_set_new(j, "max_bytes", json_integer(max));
				json_object_set_new(j, "used_fraction", json_real((double)used / (double)max));
				json_object_set_new(j, "pressure",
					json_string(used * 5 >= max * 4 ? "high" : "ok"));
			} else {
				json_object_set_new(j, "pressure", json_string("unbounded"));
			}
		}
	}
	freeReplyObject(r);
	return j;
}

/* GET /healthz: liveness.  200 "ok" whenever this process answers; no
 * database or Redis call, so that a slow dependency never gets a serving
 * process restarted. */
static void health_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	(void)app;
	(void)in;
	buf_puts(&out->page_body, "ok\n");
	out->asset_type = "text/plain; charset=utf-8";
}

/* GET /readyz: readiness, "can serve webhooks": 200 when the call flows
 * are loaded and PostgreSQL answers, else 503, with the reasons.  Redis
 * down is not unready (webhooks still work, the audit goes to the
 * fallback log), nor is a tripped failsafe (webhooks must still be
 * answered): both are named, the failsafe without its reason, which is
 * the operator's page's only.  Redis's memory (health_redis_memory) does
 * not change the status either.  "database" is "primary", "standby"
 * (unready: a node on a standby can serve no webhook; with a multi-host
 * RINGFENCE_DATABASE_URL the next connection finds the primary) or
 * "down".  The ping is retry-safe: after a failover it reconnects once
 * without showing the lost connection. */
static void ready_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const char *missing = metrics_flow_missing(app);
	const char *rec = NULL, *argv[] = { "PING" };
	int pg = db_row_retry(app->db, in->req->arena, "ready_ping",
		"SELECT pg_is_in_recovery()::text", 0, NULL, 1, &rec);
	int db_up = pg == 1 && rec != NULL, standby = db_up && strcmp(rec, "true") == 0;
	int db_ok = db_up && !standby, redis_ok, flows_ok = missing == NULL, tripped = -1;
	redisReply *r;
	json_t *j, *why = json_array();

	if (missing)
		json_array_append_new(why, json_sprintf("call flows not loaded: %s", missing));
	if (!db_up)
		json_array_append_new(why, json_string("PostgreSQL does not answer"));
	else if (standby)
		json_array_append_new(why, json_string("database: connected to a standby (read-only)"));
	r = rds_command(app->rds, 1, argv, NULL);
	redis_ok = r != NULL;
	if (r)
		freeReplyObject(r);
	if (db_up)
		tripped = failsafe_tripped(app->db, NULL, 0); /* its reason is not shown here */
	out->status = (db_ok && flows_ok) ? 200 : 503;
	j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "status", out->status == 200 ? "ready" : "unready",
		"flows", flows_ok ? "loaded" : "missing",
		"database", db_ok ? "primary" : standby ? "standby" : "down",
		"redis", redis_ok ? "ok" : "down (audit to the fallback log)",
		"failsafe", tripped == 1 ? "tripped (nothing is sent; see the operator's page)"
			: tripped == 0 ? "armed" : "unknown");
	if (j && redis_ok) {
		json_t *mem = health_redis_memory(app);
		if (mem)
			json_object_set_new(j, "redis_memory", mem);
	}
	if (j && json_array_size(why) > 0)
		json_object_set(j, "reasons", why);
	json_decref(why);
	out->json = j;
	out->json_spaced = 1;
}

/* GET /metrics: the Prometheus exposition (metrics.h). */
static void metrics_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	(void)in;
	metrics_render(app, &out->page_body);
	out->asset_type = "text/plain; version=0.0.4; charset=utf-8";
}

#define FIELDS(t) t, ARRAY_LEN(t)
#define NO_FIELDS NULL, 0

const struct route routes_table[] = {
	/* Liveness, readiness and metrics: local and monitoring addresses
	 * only (routes_dispatch). */
	{ "GET", "/healthz", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_TEXT,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, health_handle, NO_FIELDS },
	{ "GET", "/readyz", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, ready_handle, NO_FIELDS },
	{ "GET", "/metrics", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_TEXT,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, metrics_handle, NO_FIELDS },
	/* `ringfence doctor`'s proof that RINGFENCE_PUBLIC_URL reaches this
	 * deployment: no storage, constant cost. */
	{ "GET", DOCTOR_PATH, NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(doctor_query), 1, doctor_route_handle,
		NO_FIELDS },

	/* Twilio's webhooks: signed, always answered with TwiML. */
	{ "POST", "/twilio/voice/{flow}", NULL, VALID_TEXT, ROUTE_AUTH_TWILIO, ROUTE_RENDER_TWIML,
		ROUTE_BODY_FORM, HTTP_MAX_BODY, FIELDS(webhook_voice_fields),
		FIELDS(webhook_voice_query), 0, webhook_voice_handle, NO_FIELDS },
	{ "POST", TWILIO_FALLBACK_PATH, NULL, VALID_TEXT, ROUTE_AUTH_TWILIO, ROUTE_RENDER_TWIML,
		ROUTE_BODY_FORM, HTTP_MAX_BODY, FIELDS(webhook_fallback_fields), NO_FIELDS, 0,
		webhook_fallback_handle, NO_FIELDS },
	{ "POST", "/twilio/status/call", NULL, VALID_TEXT, ROUTE_AUTH_TWILIO,
		ROUTE_RENDER_TWIML_EMPTY, ROUTE_BODY_FORM, HTTP_MAX_BODY, FIELDS(status_call_fields),
		FIELDS(status_query), 0, status_call_handle, NO_FIELDS },
	{ "POST", "/twilio/status/sms", NULL, VALID_TEXT, ROUTE_AUTH_TWILIO,
		ROUTE_RENDER_TWIML_EMPTY, ROUTE_BODY_FORM, HTTP_MAX_BODY, FIELDS(status_sms_fields),
		FIELDS(status_query), 0, status_sms_handle, NO_FIELDS },
	{ "POST", "/twilio/status/recording", NULL, VALID_TEXT, ROUTE_AUTH_TWILIO,
		ROUTE_RENDER_TWIML_EMPTY, ROUTE_BODY_FORM, HTTP_MAX_BODY,
		FIELDS(greeting_status_fields), NO_FIELDS, 0, greeting_status_handle, NO_FIELDS },
	{ "POST", "/twilio/sms/inbound", NULL, VALID_TEXT, ROUTE_AUTH_TWILIO,
		ROUTE_RENDER_TWIML_EMPTY, ROUTE_BODY_FORM, HTTP_MAX_BODY, FIELDS(sms_inbound_fields),
		NO_FIELDS, 0, sms_inbound_handle, NO_FIELDS },
	{ "POST", "/twilio/*", NULL, VALID_TEXT, ROUTE_AUTH_TWILIO, ROUTE_RENDER_TWIML,
		ROUTE_BODY_FORM, HTTP_MAX_BODY, NO_FIELDS, NO_FIELDS, 0, webhook_unknown_handle,
		NO_FIELDS },

	/* The JSON API: a business's key, JSON in and out. */
	{ "POST", "/api/v1/clients", NULL, VALID_TEXT, ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON,
		ROUTE_BODY_JSON, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0, api_create_client_handle,
		FIELDS(api_client_fields) },
	{ "POST", "/api/v1/appointments", NULL, VALID_TEXT, ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON,
		ROUTE_BODY_JSON, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0,
		api_create_appointment_handle, FIELDS(api_appointment_fields) },
	{ "GET", "/api/v1/appointments/{id}", valid_id, VALID_INT64, ROUTE_AUTH_API_KEY,
		ROUTE_RENDER_JSON, ROUTE_BODY_NONE, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0,
		api_get_appointment_handle, NO_FIELDS },
	{ "PATCH", "/api/v1/appointments/{id}", valid_id, VALID_INT64, ROUTE_AUTH_API_KEY,
		ROUTE_RENDER_JSON, ROUTE_BODY_JSON, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0,
		api_patch_appointment_handle, FIELDS(api_patch_fields) },
	/* ---- API: lists, clients, cancel, keys, OpenAPI (api.c) ---- */
	{ "GET", "/api/v1/openapi.json", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, api_openapi_handle, NO_FIELDS },
	{ "GET", "/api/v1/clients", NULL, VALID_TEXT, ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0, api_list_clients_handle,
		NO_FIELDS },
	{ "GET", "/api/v1/clients/{id}", valid_id, VALID_INT64, ROUTE_AUTH_API_KEY,
		ROUTE_RENDER_JSON, ROUTE_BODY_NONE, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0,
		api_get_client_handle, NO_FIELDS },
	{ "PATCH", "/api/v1/clients/{id}", valid_id, VALID_INT64, ROUTE_AUTH_API_KEY,
		ROUTE_RENDER_JSON, ROUTE_BODY_JSON, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0,
		api_patch_client_handle, FIELDS(api_client_patch_fields) },
	{ "GET", "/api/v1/appointments", NULL, VALID_TEXT, ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0, api_list_appointments_handle,
		NO_FIELDS },
	{ "POST", "/api/v1/appointments/{id}/cancel", valid_id, VALID_INT64,
		ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON, ROUTE_BODY_RAW, API_MAX_BODY, NO_FIELDS,
		NO_FIELDS, 0, api_cancel_appointment_handle, NO_FIELDS },
	/* ---- API: the automatic-messages switch (msgswitch.c) ---- */
	{ "GET", "/api/v1/automatic-messages", NULL, VALID_TEXT, ROUTE_AUTH_API_KEY,
		ROUTE_RENDER_JSON, ROUTE_BODY_NONE, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0,
		msgswitch_api_get_handle, NO_FIELDS },
	{ "PUT", "/api/v1/automatic-messages", NULL, VALID_TEXT, ROUTE_AUTH_API_KEY,
		ROUTE_RENDER_JSON, ROUTE_BODY_JSON, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0,
		msgswitch_api_put_handle, FIELDS(msgswitch_api_fields) },

	/* ---- API: calendar feeds, confirming proposed clients (api_calendar.c) ---- */
	{ "GET", "/api/v1/calendar-feeds", NULL, VALID_TEXT, ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0, api_list_feeds_handle,
		NO_FIELDS },
	{ "POST", "/api/v1/calendar-feeds", NULL, VALID_TEXT, ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON,
		ROUTE_BODY_JSON, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0, api_create_feed_handle,
		FIELDS(api_feed_fields) },
	{ "DELETE", "/api/v1/calendar-feeds/{id}", valid_id, VALID_INT64, ROUTE_AUTH_API_KEY,
		ROUTE_RENDER_JSON, ROUTE_BODY_NONE, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0,
		api_delete_feed_handle, NO_FIELDS },
	{ "POST", "/api/v1/clients/{id}/confirm", valid_id, VALID_INT64, ROUTE_AUTH_API_KEY,
		ROUTE_RENDER_JSON, ROUTE_BODY_RAW, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0,
		api_confirm_client_handle, NO_FIELDS },

	{ NULL, "/api/v1/*", NULL, VALID_TEXT, ROUTE_AUTH_API_KEY, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0, api_not_found_handle,
		NO_FIELDS },
	{ NULL, "/api/v1", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, API_MAX_BODY, NO_FIELDS, NO_FIELDS, 0, api_root_handle,
		NO_FIELDS },

	/* The unsubscribe link of reminder emails: its own HMAC token. */
	{ "GET", "/unsubscribe", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_HTML,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(unsubscribe_query), 1, unsubscribe_handle,
		NO_FIELDS },
	{ "POST", "/unsubscribe", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_HTML,
		ROUTE_BODY_RAW, HTTP_MAX_BODY, NO_FIELDS, FIELDS(unsubscribe_query), 1,
		unsubscribe_handle, NO_FIELDS },

	/* ---- dashboard: login, logout, password, sessions (dash_account.c) ---- */
	{ "GET", "/", NULL, VALID_TEXT, ROUTE_AUTH_PUBLIC_PAGE, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_root_handle, NO_FIELDS },
	{ "GET", "/login", NULL, VALID_TEXT, ROUTE_AUTH_PUBLIC_PAGE, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(dash_login_query), 0, dash_login_page_handle,
		NO_FIELDS },
	{ "POST", "/login", NULL, VALID_TEXT, ROUTE_AUTH_PUBLIC_PAGE, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_login_fields), NO_FIELDS, 0, dash_login_handle,
		NO_FIELDS },
	{ "POST", "/logout", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0, dash_logout_handle, NO_FIELDS },
	{ "GET", "/account/password", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_password_page_handle, NO_FIELDS },
	{ "POST", "/account/password", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_password_fields), NO_FIELDS, 0, dash_password_handle,
		NO_FIELDS },
	{ "GET", "/settings/sessions", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_sessions_handle, NO_FIELDS },
	{ "POST", "/settings/sessions/{id}/revoke", valid_id, VALID_INT64,
		ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_session_revoke_handle, NO_FIELDS },
	{ "GET", "/operator/businesses", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(dash_operator_businesses_query), 0,
		dash_operator_businesses_handle,
		NO_FIELDS },
	{ "POST", "/operator/business", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_operator_fields), NO_FIELDS, 0,
		dash_operator_pick_handle, NO_FIELDS },
	{ "POST", "/operator/businesses/{id}/verify", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, FIELDS(dash_business_fields), NO_FIELDS, 0,
		dash_business_verify_post, NO_FIELDS },
	{ "POST", "/operator/businesses/{id}/unverify", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, FIELDS(dash_business_fields), NO_FIELDS, 0,
		dash_business_unverify_post, NO_FIELDS },
	{ "POST", "/operator/businesses/{id}/resume", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, FIELDS(dash_business_fields), NO_FIELDS, 0,
		dash_business_resume_post, NO_FIELDS },

	/* ---- dashboard: appointments, timeline, decisions (dash_appointments.c) ---- */
	{ "GET", "/today", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(dash_today_query), 0, dash_today_handle,
		NO_FIELDS },
	{ "GET", "/today/fragment", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(dash_today_query), 0,
		dash_today_fragment_handle, NO_FIELDS },
	{ "GET", "/appointments/new", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(dash_new_query), 0, dash_appt_new_handle,
		NO_FIELDS },
	{ "POST", "/appointments", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, PAGE_MAX_FORM, FIELDS(dash_appt_fields), NO_FIELDS, 0,
		dash_appt_create_handle, NO_FIELDS },
	{ "GET", "/appointments/{id}", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_timeline_handle,
		NO_FIELDS },
	{ "POST", "/appointments/{id}", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, PAGE_MAX_FORM, FIELDS(dash_appt_fields),
		NO_FIELDS, 0, dash_appt_update_handle, NO_FIELDS },
	{ "GET", "/appointments/{id}/edit", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_appt_edit_handle,
		NO_FIELDS },
	{ "POST", "/appointments/{id}/cancel", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, PAGE_MAX_FORM, NO_FIELDS, NO_FIELDS, 0,
		dash_appt_cancel_handle, NO_FIELDS },
	{ "POST", "/appointments/{id}/callback-done", valid_id, VALID_INT64,
		ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, PAGE_MAX_FORM, NO_FIELDS,
		NO_FIELDS, 0, dash_callback_done_handle, NO_FIELDS },
	{ "POST", "/appointments/{id}/reschedule-done", valid_id, VALID_INT64,
		ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, PAGE_MAX_FORM, NO_FIELDS,
		NO_FIELDS, 0, dash_reschedule_done_handle, NO_FIELDS },
	{ "POST", "/appointments/{id}/test-reminder", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, PAGE_MAX_FORM, FIELDS(dash_test_fields),
		NO_FIELDS, 0, dash_test_reminder_handle, NO_FIELDS },
	{ "GET", "/decisions", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_decisions_handle, NO_FIELDS },
	{ "POST", "/decisions/{id}", valid_id, VALID_INT64, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, PAGE_MAX_FORM, FIELDS(dash_decision_fields), NO_FIELDS, 0,
		dash_decide_handle, NO_FIELDS },

	/* ---- dashboard: what clients said (dash_notify.c) ---- */
	{ "GET", "/notifications", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(dash_notify_page_query), 0,
		dash_notify_list_handle, NO_FIELDS },
	{ "GET", "/notifications.json", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_JSON,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(dash_notify_json_query), 0,
		dash_notify_json_handle, NO_FIELDS },
	{ "POST", "/notifications/seen", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_notify_seen_fields), NO_FIELDS, 0,
		dash_notify_seen_handle, NO_FIELDS },
	{ "GET", "/settings/notifications", NULL, VALID_TEXT, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_notify_pref_page,
		NO_FIELDS },
	{ "POST", "/settings/notifications", NULL, VALID_TEXT, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, FIELDS(dash_notify_pref_fields), NO_FIELDS, 0,
		dash_notify_pref_handle, NO_FIELDS },

	/* ---- dashboard: clients and CSV import (dash_clients.c, dash_import.c) ---- */
	{ "GET", "/clients", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, FIELDS(dash_clients_query), 0, dash_clients_list_handle,
		NO_FIELDS },
	{ "POST", "/clients", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_client_fields), NO_FIELDS, 0,
		dash_clients_create_handle, NO_FIELDS },
	{ "GET", "/clients/new", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_clients_new_handle, NO_FIELDS },
	{ "GET", "/clients/{id}", valid_id, VALID_INT64, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_clients_show_handle, NO_FIELDS },
	{ "POST", "/clients/{id}", valid_id, VALID_INT64, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_client_fields), NO_FIELDS, 0,
		dash_clients_update_handle, NO_FIELDS },
	{ "GET", "/clients/{id}/edit", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_clients_edit_handle, NO_FIELDS },
	{ "POST", "/clients/{id}/opt-out", valid_id, VALID_INT64,
		ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_clients_opt_out_handle, NO_FIELDS },
	{ "POST", "/clients/{id}/confirm", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_client_confirm_handle, NO_FIELDS },
	/* ---- dashboard: the reply inbox and conversations (dash_inbox.c) ---- */
	{ "GET", "/inbox", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_inbox_handle, NO_FIELDS },
	{ "GET", "/clients/{id}/messages", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_inbox_conversation_handle, NO_FIELDS },
	{ "POST", "/clients/{id}/messages", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, PAGE_MAX_FORM, FIELDS(dash_inbox_reply_fields),
		NO_FIELDS, 0, dash_inbox_reply_handle, NO_FIELDS },
	{ "POST", "/clients/{id}/messages/answered", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, PAGE_MAX_FORM, NO_FIELDS, NO_FIELDS, 0,
		dash_inbox_answered_handle, NO_FIELDS },
	{ "GET", "/import", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_import_page_handle, NO_FIELDS },
	{ "POST", "/import", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_MULTIPART, HTTP_MAX_UPLOAD, FIELDS(dash_import_fields), NO_FIELDS, 0,
		dash_import_upload_handle, NO_FIELDS },
	{ "GET", "/import/template/{name}", dash_import_valid_template, VALID_TEXT,
		ROUTE_AUTH_NONE, ROUTE_RENDER_ASSET, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_import_template_handle, NO_FIELDS },
	{ "POST", "/import/{id}/commit", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_import_commit_handle, NO_FIELDS },

	/* ---- dashboard: settings, API keys, users, flows (dash_settings.c, dash_flows.c) ---- */
	{ "GET", "/settings", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_settings_handle, NO_FIELDS },
	{ "POST", "/settings/business", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_settings_business_fields), NO_FIELDS, 0,
		dash_settings_business_handle, NO_FIELDS },
	{ "POST", "/settings/policy", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_settings_policy_fields), NO_FIELDS, 0,
		dash_settings_policy_add_handle, NO_FIELDS },
	{ "POST", "/settings/policy/{id}/remove", valid_id, VALID_INT64,
		ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_settings_policy_remove_handle, NO_FIELDS },
	{ "POST", "/settings/wording", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_settings_wording_fields), NO_FIELDS, 0,
		dash_settings_wording_handle, NO_FIELDS },
	{ "POST", "/settings/booking", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_booking_fields), NO_FIELDS, 0,
		dash_booking_handle, NO_FIELDS },
	{ "POST", "/settings/automatic-messages", NULL, VALID_TEXT, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, FIELDS(msgswitch_form_fields), NO_FIELDS, 0,
		msgswitch_dash_handle, NO_FIELDS },
	/* calendar feeds, held syncs, events without a contact (dash_calendar.c) */
	{ "GET", "/settings/calendars", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_calendars_handle, NO_FIELDS },
	{ "POST", "/settings/calendars", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, PAGE_MAX_FORM, FIELDS(dash_calendar_add_fields), NO_FIELDS, 0,
		dash_calendar_add_handle, NO_FIELDS },
	{ "POST", "/settings/calendars/country", NULL, VALID_TEXT, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, FIELDS(dash_calendar_country_fields), NO_FIELDS,
		0, dash_calendar_country_handle, NO_FIELDS },
	{ "POST", "/settings/calendars/auto-confirm", NULL, VALID_TEXT, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, FIELDS(dash_calendar_auto_fields), NO_FIELDS, 0,
		dash_calendar_auto_handle, NO_FIELDS },
	{ "POST", "/settings/calendars/{id}/remove", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_calendar_remove_handle, NO_FIELDS },
	{ "POST", "/settings/calendars/{id}/enabled", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, FIELDS(dash_calendar_enabled_fields), NO_FIELDS,
		0, dash_calendar_enabled_handle, NO_FIELDS },
	{ "POST", "/settings/calendars/{id}/sync", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_calendar_sync_handle, NO_FIELDS },
	{ "GET", "/calendar-holds/{id}", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_calendar_hold_handle, NO_FIELDS },
	{ "POST", "/calendar-holds/{id}", valid_id, VALID_INT64, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, FIELDS(dash_calendar_hold_fields), NO_FIELDS, 0,
		dash_calendar_hold_decide_handle, NO_FIELDS },
	{ "GET", "/calendar-events/no-contact", NULL, VALID_TEXT, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_calendar_no_contact_handle, NO_FIELDS },
	{ "GET", "/settings/greeting", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_greeting_handle, NO_FIELDS },
	{ "POST", "/settings/greeting/code", NULL, VALID_TEXT, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_greeting_code_handle, NO_FIELDS },
	{ "POST", "/settings/greeting/revert", NULL, VALID_TEXT, ROUTE_AUTH_SESSION,
		ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_greeting_revert_handle, NO_FIELDS },
	{ "GET", "/settings/api-keys", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_keys_handle, NO_FIELDS },
	{ "POST", "/settings/api-keys", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_keys_create_fields), NO_FIELDS, 0,
		dash_keys_create_handle, NO_FIELDS },
	{ "POST", "/settings/api-keys/{id}/revoke", valid_id, VALID_INT64,
		ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_keys_revoke_handle, NO_FIELDS },
	{ "GET", "/settings/users", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_users_handle, NO_FIELDS },
	{ "POST", "/settings/users", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, 0, FIELDS(dash_users_add_fields), NO_FIELDS, 0,
		dash_users_add_handle, NO_FIELDS },
	{ "POST", "/settings/users/{id}/remove", valid_id, VALID_INT64,
		ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE, ROUTE_BODY_FORM, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_users_remove_handle, NO_FIELDS },
	{ "GET", "/flows", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_flows_handle, NO_FIELDS },
	/* The diagrams are the product's, the same for every business: no
	 * session, like the stylesheet. */
	{ "GET", "/flows/{name}", dash_flows_svg_param, VALID_TEXT, ROUTE_AUTH_NONE,
		ROUTE_RENDER_ASSET, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0,
		dash_flows_svg_handle, NO_FIELDS },

	/* ---- dashboard: static files, operator, failsafe; the catch-all last (page.c, dash_operator.c) ---- */
	{ "GET", "/static/{name}", page_static_name, VALID_TEXT, ROUTE_AUTH_NONE,
		ROUTE_RENDER_ASSET, ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, page_static_handle,
		NO_FIELDS },
	{ "GET", "/operator/failsafe", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_NONE, 0, NO_FIELDS, NO_FIELDS, 0, dash_failsafe_page, NO_FIELDS },
	{ "POST", "/operator/failsafe", NULL, VALID_TEXT, ROUTE_AUTH_SESSION, ROUTE_RENDER_PAGE,
		ROUTE_BODY_FORM, PAGE_MAX_FORM, FIELDS(dash_failsafe_fields), NO_FIELDS, 0,
		dash_failsafe_post, NO_FIELDS },
	/* Any other path: the 404 page (after every row, catch-alls included). */
	{ NULL, "/*", NULL, VALID_TEXT, ROUTE_AUTH_NONE, ROUTE_RENDER_PAGE, ROUTE_BODY_NONE, 0,
		NO_FIELDS, NO_FIELDS, 0, page_not_found_handle, NO_FIELDS },
};
const size_t routes_count = ARRAY_LEN(routes_table);

/* Answers req; /healthz, /readyz and /metrics only to loopback and
 * RINGFENCE_MONITORING_ADDRESSES (anyone else gets the 404 of an unknown
 * path, from the catch-all row), so that an nginx that lets them through
 * still leaks nothing.  Every answer is counted (metrics.h). */
void routes_dispatch(struct app *app, struct http_request *req, struct http_response *res)
{
	enum metrics_route kind = metrics_route_of(req->path);
	long long start_us = metrics_now_us();

	if (kind == MR_HEALTH && !metrics_addr_allowed(app->monitoring, req->remote_addr))
		dispatch(app, &routes_table[routes_count - 1], 1, req, res);
	else
		dispatch(app, routes_table, routes_count, req, res);
	metrics_http(kind, res->status, metrics_now_us() - start_us);
}
