/* dispatch: one request through its route, the same way for every route.
 *
 * Every route is a row of the one table in src/routes.c (struct route):
 * method, path pattern, authentication kind, body limit, the validator
 * tables of its fields, the renderer of its answer and its handler.  The
 * dispatcher matches the row, refuses a body over the limit, checks the
 * Twilio signature or the API key, parses and validates the fields, calls
 * the handler with the typed values (struct route_input), renders the
 * handler's struct outcome with the route's renderer (TwiML, JSON or an
 * HTML page) and writes the audit record, each exactly once.  A handler
 * never writes HTTP, raw XML or JSON text, and never parses a field.
 *
 * By authentication kind (README "How a webhook is handled", "HTTP
 * interface"):
 *   ROUTE_AUTH_TWILIO: nothing is answered before the signature is known.
 *     Unsigned, badly signed, an unparsable form or a body over the cap:
 *     403 (413) text/plain and only a bounded summary (audit_rejected).
 *     Signed: always 200 TwiML (the handler's, the apology, or an empty
 *     <Response/> for an ROUTE_RENDER_TWIML_EMPTY route), also for a wrong
 *     method or content type, an invalid field or query, another account's
 *     AccountSid or an unknown /twilio/ path; recorded in full.
 *   ROUTE_AUTH_API_KEY: a body over the cap 413 before the key is looked
 *     at; then Authorization: Bearer <key> (401 / 503 JSON), then 405, the
 *     JSON body (415, 413, 400), its members against the row's json_fields
 *     (422 unknown_field / missing_field / invalid_field, naming the
 *     field) and the handler.  Authenticated requests
 *     are recorded in full under their business, others as summaries.
 *   ROUTE_AUTH_SESSION: a dashboard session (session.h).  No valid
 *     session: a GET is sent to /login (303), anything else 403.  Every
 *     request that is not GET or HEAD must carry the session's CSRF token
 *     (form field "csrf", constant-time compared), else 403 with a page
 *     saying why; nothing is changed.  in->user is the logged-in user,
 *     in->business_id the business the pages show (an operator's chosen
 *     one), so every query is scoped by it.
 *   ROUTE_AUTH_PUBLIC_PAGE: a dashboard page without a session (the login
 *     form); a POST still needs the login form's CSRF token (session.h).
 *   ROUTE_AUTH_NONE: the handler decides (health, the unsubscribe link,
 *     which carries its own HMAC token).
 * An unknown path is 404 text/plain, a known path with another method 405
 * (in the route's own renderer for /twilio/ and /api/v1/ routes).
 *
 * The request path's one error channel:
 *   - Below a handler (the engine, validators, renderers, database
 *     helpers), a function that fails returns -1 (or NULL) and, when its
 *     caller needs the reason, writes one line into the caller's
 *     `char *err, size_t errlen` (the pair the rest of ringfence uses:
 *     engine_new, clock_init, valid_params, config).  It neither logs
 *     nor audits: its caller decides.  A database failure's text is
 *     db_last_error(db), read by the function that writes err.
 *   - A handler reports through its struct outcome only: out->error
 *     (why a webhook got the apology or did nothing; text in the request
 *     arena) and outcome_error (an API answer's status, code, field and
 *     message), or out->rejected for a refusal.  It may add a line to
 *     the operator's log; the audit record and the error stream are
 *     written by the dispatcher alone, once, from the outcome. */
#ifndef RF_DISPATCH_H
#define RF_DISPATCH_H

#include <stddef.h>

#include "buf.h"
#include "form.h"
#include "valid.h"

struct app;
struct http_request;
struct http_response;
struct session_user;

enum route_auth {
	ROUTE_AUTH_NONE,
	ROUTE_AUTH_TWILIO,   /* X-Twilio-Signature over PUBLIC_URL + URI and the form */
	ROUTE_AUTH_API_KEY,  /* Authorization: Bearer <a business's API key> */
	ROUTE_AUTH_SESSION,  /* dashboard session cookie + CSRF token on state changes */
	ROUTE_AUTH_PUBLIC_PAGE, /* dashboard page before login (the login form) */
};

enum route_render {
	ROUTE_RENDER_TWIML,       /* the handler's TwiML; the apology when there is none */
	ROUTE_RENDER_TWIML_EMPTY, /* the handler's TwiML (a text's reply), else the empty
	                             <Response/> (status callbacks, a refused text) */
	ROUTE_RENDER_JSON,        /* out->json, or {"error": ...} from out->error_code */
	ROUTE_RENDER_HTML,        /* a whole page from out->page_* through html.c */
	ROUTE_RENDER_PAGE,        /* a dashboard page: out->page_body in the shell (page.h),
	                             or a 303 to out->redirect */
	ROUTE_RENDER_ASSET,       /* a static file: out->page_body as is, of type
	                             out->asset_type, cacheable (page_static_handle) */
	ROUTE_RENDER_TEXT,        /* out->page_body as is, of type out->asset_type (a
	                             status code from out->status), never cached: the
	                             liveness check, the metrics */
};

enum route_body {
	ROUTE_BODY_NONE,  /* no body is read */
	ROUTE_BODY_FORM,  /* application/x-www-form-urlencoded, validated by form_fields */
	ROUTE_BODY_JSON,  /* application/json holding an object, up to body_max bytes,
	                     its members validated by json_fields */
	ROUTE_BODY_RAW,   /* the handler reads req->body (it knows the format) */
	ROUTE_BODY_MULTIPART, /* multipart/form-data (a file upload): its parts as form
	                         pairs (a file part's value is the file's bytes),
	                         validated by form_fields like ROUTE_BODY_FORM */
};

/* One member of a JSON object body, declared like a form field: its
 * JSON type, whether it is required (null counts as absent), and for a
 * string its validator, conversion and the message naming what is
 * accepted.  Members not declared are refused (422 unknown_field). */
enum json_member {
	JSON_MEMBER_STRING, /* a JSON string (a number is refused) */
	JSON_MEMBER_ID,     /* a positive JSON integer (a string is refused) */
	JSON_MEMBER_BOOLEAN, /* true or false (in .i as 1 or 0) */
};
struct json_field {
	const char *name;
	enum json_member type;
	int required;
	valid_fn check;             /* strings: NULL accepts any */
	enum valid_type conv;       /* strings: VALID_TEXT or VALID_TIME */
	const char *invalid;        /* the 422 message when check refuses */
};

/* What a handler gets: the request (for its id, method and raw body),
 * the typed values of its declared fields, and who is asking. */
struct route_input {
	struct http_request *req;
	const char *param;          /* the pattern's {param} segment, validated; or NULL */
	long long param_id;         /* its number when the row's param_type is VALID_INT64 */
	struct valid_result form;   /* the row's form_fields, in declaration order */
	struct valid_result query;  /* the row's query_fields */
	int query_valid;            /* outside a webhook: the query passed (else query is empty) */
	const struct params *form_all; /* every parsed form pair (signed), or NULL */
	void *json;                 /* ROUTE_BODY_JSON: the body, a json_t object (borrowed) */
	struct valid_result members; /* ROUTE_BODY_JSON: the row's json_fields (an id in .i) */
	long long business_id;      /* ROUTE_AUTH_API_KEY: the key's business;
	                               ROUTE_AUTH_SESSION: the business the pages show */
	const char *business;       /* the same as text */
	const struct session_user *user; /* ROUTE_AUTH_SESSION: who is logged in; else NULL */
};

/* What a handler did: the answer for the route's renderer and the fields
 * of the request's audit record.  Strings live in the request arena or
 * are literals; json and audit are consumed by the dispatcher. */
struct outcome {
	int status;                 /* 0: 200 */
	struct buf twiml;           /* ROUTE_RENDER_TWIML: the document to answer */
	void *json;                 /* ROUTE_RENDER_JSON: the body (json_t, consumed) */
	int json_spaced;            /* 1: "a": 1, "b" (the health check's format) */
	const char *error_code;     /* JSON error: "invalid_field", ...; NULL on success */
	const char *error_field;    /* the input field to blame, or NULL */
	const char *error_message;
	const char *allow;          /* an Allow header (405) */
	const char *location;       /* a Location header (201) */
	const char *www_authenticate; /* a WWW-Authenticate header (401) */
	const char *page_title;     /* ROUTE_RENDER_HTML: title, template and its */
	const char *page_tmpl;      /* {{name}} fields (NULL-terminated pairs) */
	const char *const *page_fields;
	struct buf page_body;       /* ROUTE_RENDER_PAGE: the page's main content, written
	                               only through html_render / page_add (page.h) */
	const char *page_nav;       /* ROUTE_RENDER_PAGE: the current menu item ("today") */
	const char *page_media_src; /* ROUTE_RENDER_PAGE: one origin the page's <audio> may
	                               play from (added to its Content-Security-Policy), or NULL */
	const char *redirect;       /* ROUTE_RENDER_PAGE: 303 See Other to this local path */
	int page_fragment;          /* ROUTE_RENDER_PAGE: a 200 answer is page_body alone,
	                               without the shell (app.js's data-refresh fragment) */
	int page_broken;            /* ROUTE_RENDER_PAGE: a template did not render: 500 */
	const struct session_user *page_user; /* ROUTE_RENDER_PAGE without a session route:
	                               the user the shell shows when the handler found
	                               one (the 404 page of a logged-in user) */
	const char *asset_type;     /* ROUTE_RENDER_ASSET: its Content-Type */
	const char *asset_etag;     /* ROUTE_RENDER_ASSET: its ETag */
	const char *asset_csp;      /* ROUTE_RENDER_ASSET: a Content-Security-Policy, or NULL */
	const char *set_cookie[2];  /* Set-Cookie header values (session.c builds them) */
	/* audit */
	const char *rejected;       /* set: record only a summary, with this verdict */
	const char *audit_kind;     /* ROUTE_AUTH_NONE: record in full under this kind */
	void *audit;                /* extra members of the record (json_t object, consumed) */
	const char *call_sid;       /* validated key of the call's stream */
	const char *business_id;    /* key of the business's stream */
	const char *call_id;
	const char *attempt_id;
	const char *state_before;
	const char *state_after;
	const char *input;
	const char *action;
	int replay;
	int hold;                   /* a voice webhook answered with the hold document: its
	                               number (engine.h); counted as a hold, not an outcome */
	long long client_id;        /* API: 0 when none */
	long long appointment_id;
	int planned;                /* API: reminders planned, -1: none */
	int cancelled;              /* API: reminders cancelled, -1: none */
	const char *error;          /* what went wrong, for the audit and the error stream */
};

/* A page that says one thing: "<h1>{{title}}</h1><p>{{message}}</p>". */
extern const char dispatch_page_message[];

typedef void (*route_handler)(struct app *app, const struct route_input *in,
	struct outcome *out);

/* One row of the route table. */
struct route {
	const char *method;         /* "GET", "POST", "PATCH" */
	const char *pattern;        /* "/healthz", "/api/v1/appointments/{id}"; a final
	                               "{name}" matches the rest of the path (may be
	                               empty), a "{name}" with more after it
	                               ("/clients/{id}/edit") one non-empty segment
	                               and the rest literally, a final "*" any rest
	                               (a catch-all); one {name} at most */
	valid_fn param_check;       /* the {param}'s validator; NULL: any */
	enum valid_type param_type;
	enum route_auth auth;
	enum route_render render;
	enum route_body body;
	size_t body_max;            /* bytes; 0: HTTP_MAX_BODY */
	const struct valid_field *form_fields;
	size_t nform;
	const struct valid_field *query_fields;
	size_t nquery;
	int query_strict;           /* 1: the query holds exactly query_fields, each once */
	route_handler handler;
	const struct json_field *json_fields; /* ROUTE_BODY_JSON: its members */
	size_t njson;
};

/* The table (src/routes.c). */
extern const struct route routes_table[];
extern const size_t routes_count;

/* Writes the audit record a signed webhook left for after its answer
 * (app->defer_audit), if any; the FastCGI pool calls it after
 * FCGX_Finish_r, before the request arena is reset.  One Redis round
 * trip; the fallback log when Redis is down. */
void dispatch_after(struct app *app);

/* Answers req through table[0..n): match, authenticate, validate, call
 * the handler, render, audit.  Never fails: every path writes an answer
 * into res.  A HEAD is answered as the GET of the same URI (RFC 9110;
 * nginx sends only its headers), so it changes nothing either. */
void dispatch(struct app *app, const struct route *table, size_t n, struct http_request *req,
	struct http_response *res);

/* The first row of table[0..n) whose pattern matches path (its {param}
 * passing the row's param_check) and whose method is method (NULL in a
 * row: any), or NULL.  *param gets the {param} text (in arena a), or NULL;
 * *path_row the first row whose pattern matches path whatever its
 * method (NULL: an unknown path, 404), so that a wrong method is answered
 * in that route's kind.  Exposed for the unit tests. */
struct arena;
const struct route *dispatch_match(const struct route *table, size_t n, struct arena *a,
	const char *method, const char *path, const char **param, const struct route **path_row);

/* Sets a JSON error on out: status, code, field (may be NULL), message. */
void outcome_error(struct outcome *out, int status, const char *code, const char *field,
	const char *message);

#endif
