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

struct app;
struct http_request;
struct http_response;

#define API_MAX_BODY (16 * 1024)

/* The route handler for the prefix /api/v1/. */
void api_handle(struct app *app, struct http_request *req, struct http_response *res);

#endif
