/* api: the JSON API under /api/v1/, how appointments enter the system.
 *
 *   POST  /api/v1/clients             {"name", "phone", "email", "time_zone"}
 *   POST  /api/v1/appointments        {"client_id", "starts_at", "notes"}
 *   GET   /api/v1/appointments/{id}   with its reminders and their attempts
 *   PATCH /api/v1/appointments/{id}   {"starts_at"} reschedules,
 *                                     {"status": "cancelled"} cancels
 *
 * Every request carries "Authorization: Bearer <key>" (apikey.h); the key
 * names the business, and a request only ever sees that business's rows
 * (anything else is 404, never a hint that it exists).  Bodies are JSON
 * objects (Content-Type application/json, at most API_MAX_BODY bytes);
 * unknown fields are refused.  Errors are
 *   {"error": {"code": "...", "message": "...", "field": "..."}}
 * ("field" when one field is to blame) with 400 (not a JSON object), 401,
 * 404, 405, 409, 413, 415, 422 (a field is missing or invalid), or 503
 * (the database is unavailable: nothing was changed).  An appointment and
 * its reminder rows change in one transaction.  Every request is audited
 * (kind "api", the business's stream) without its body: an appointment's
 * notes are confidential and go nowhere but back to the business. */
#ifndef RF_API_H
#define RF_API_H

#include "dispatch.h"

#define API_MAX_BODY (16 * 1024)
#define API_TIME_ZONE_INVALID \
	"field 'time_zone' must be an IANA time zone such as America/New_York"

/* The members of each body, validated by the dispatcher (routes.c). */
enum { AC_NAME, AC_PHONE, AC_EMAIL, AC_TIME_ZONE, AC_NFIELDS };
extern const struct json_field api_client_fields[AC_NFIELDS];
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
/* Any other path under /api/v1/, authenticated: 404 not_found. */
void api_not_found_handle(struct app *app, const struct route_input *in, struct outcome *out);
/* /api/v1 itself: 404 not_found before any key is looked at (a summary). */
void api_root_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif
