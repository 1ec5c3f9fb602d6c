/* api: the JSON API under /api/v1/, how appointments enter the system.
 *
 *   POST  /api/v1/clients                    {"name", "phone", "email", "time_zone"}
 *   GET   /api/v1/clients                    ?phone= &email= &name= (prefixes) &limit= &cursor=
 *   GET   /api/v1/clients/{id}
 *   PATCH /api/v1/clients/{id}               {"name", "phone", "email", "time_zone",
 *                                             "do_not_call", "opted_out"}
 *   POST  /api/v1/appointments               {"client_id", "starts_at", "notes"}
 *   GET   /api/v1/appointments               ?from= &to= &status= &client_id= &limit= &cursor=
 *   GET   /api/v1/appointments/{id}          with its reminders and their attempts
 *   PATCH /api/v1/appointments/{id}          {"starts_at"} reschedules,
 *                                            {"status": "cancelled"} cancels
 *   POST  /api/v1/appointments/{id}/cancel   cancels (empty body or {})
 *   GET   /api/v1/calendar-feeds             ?limit= &cursor= (the address masked)
 *   POST  /api/v1/calendar-feeds             {"name", "url"}
 *   DELETE /api/v1/calendar-feeds/{id}       removes it (its appointments stay)
 *   POST  /api/v1/clients/{id}/confirm       confirms a client proposed from a
 *                                            calendar event (empty body or {})
 *   GET   /api/v1/openapi.json               the OpenAPI 3.1 description (no key)
 *
 * Every other request carries "Authorization: Bearer <key>" (apikey.h);
 * the key names the business, and a request only ever sees that
 * business's rows (anything else is 404, never a hint that it exists).
 * Bodies are JSON objects (Content-Type application/json, at most
 * API_MAX_BODY bytes); unknown fields are refused.  Errors are
 *   {"error": {"code": "...", "message": "...", "field": "..."}}
 * ("field" when one field, query parameter or header is to blame) with
 * 400 (not a JSON object, a bad query), 401, 404, 405, 409, 413, 415,
 * 422 (a field is missing or invalid), 429 (api_rate.h) or 503 (the
 * database is unavailable: nothing was changed).  POST and PATCH take an
 * Idempotency-Key (api_idem.h).  Lists are pages: {"data": [...],
 * "next_cursor": "..." or null}, in a stable order, so that paging with
 * next_cursor neither misses nor repeats a row while rows are added.
 * An appointment and its reminder rows change in one transaction.  Every
 * request is audited (kind "api", the business's stream) without its
 * body: an appointment's notes are confidential and go nowhere but back
 * to the business.  The OpenAPI document is src/www/openapi.json, built
 * into the binary (api_openapi.c). */
#ifndef RF_API_H
#define RF_API_H

#include "dispatch.h"

#define API_MAX_BODY (16 * 1024)
#define API_TIME_ZONE_INVALID \
	"field 'time_zone' must be an IANA time zone such as America/New_York"

/* The members of each body, validated by the dispatcher (routes.c). */
enum { AC_NAME, AC_PHONE, AC_EMAIL, AC_TIME_ZONE, AC_NFIELDS };
extern const struct json_field api_client_fields[AC_NFIELDS];
enum { ACP_NAME, ACP_PHONE, ACP_EMAIL, ACP_TIME_ZONE, ACP_DO_NOT_CALL, ACP_OPTED_OUT,
	ACP_NFIELDS };
extern const struct json_field api_client_patch_fields[ACP_NFIELDS];
enum { AA_CLIENT, AA_STARTS_AT, AA_NOTES, AA_NFIELDS };
extern const struct json_field api_appointment_fields[AA_NFIELDS];
enum { AP_STARTS_AT, AP_STATUS, AP_NFIELDS };
extern const struct json_field api_patch_fields[AP_NFIELDS];

/* The handlers of the /api/v1 routes (src/routes.c), run after the
 * dispatcher authenticated the key and parsed the JSON body. */
void api_create_client_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* POST clients */
void api_create_appointment_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* POST appointments */
void api_get_appointment_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* GET appointments/{id} */
void api_patch_appointment_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* PATCH appointments/{id} */
void api_list_clients_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* GET clients */
void api_get_client_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* GET clients/{id} */
void api_patch_client_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* PATCH clients/{id} */
void api_list_appointments_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* GET appointments */
void api_cancel_appointment_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* POST appointments/{id}/cancel */
/* Calendar feeds and proposed clients (api_calendar.c). */
enum { AF_NAME, AF_URL, AF_NFIELDS };
extern const struct json_field api_feed_fields[AF_NFIELDS];
void api_list_feeds_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* GET calendar-feeds */
void api_create_feed_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* POST calendar-feeds */
void api_delete_feed_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* DELETE calendar-feeds/{id} */
void api_confirm_client_handle(struct app *app, const struct route_input *in,
	struct outcome *out);                               /* POST clients/{id}/confirm */
/* GET /api/v1/openapi.json, without a key. */
void api_openapi_handle(struct app *app, const struct route_input *in, struct outcome *out);

/* The OpenAPI document (src/www/openapi.json) as built into the binary,
 * NUL-terminated. */
extern const char api_openapi_json[];

/* Any other path under /api/v1/, authenticated: 404 not_found. */
void api_not_found_handle(struct app *app, const struct route_input *in, struct outcome *out);
/* /api/v1 itself: 404 not_found before any key is looked at (a summary). */
void api_root_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif
