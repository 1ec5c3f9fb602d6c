/* webhook: /twilio/... — the signature first, then method, type,
 * validation and the engine; one audit record per signed request, one
 * bounded summary per refused one. */
#include "webhook.h"
#include "app.h"
#include "arena.h"
#include "audit.h"
#include "engine.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "signature.h"
#include "sms.h"
#include "status.h"
#include "twiml.h"
#include "util.h"
#include "valid.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define VOICE_PREFIX "/twilio/voice/"
#define STATUS_PREFIX "/twilio/status/"
#define SMS_INBOUND "/twilio/sms/inbound"

/* Fields a voice webhook may carry that ringfence reads; everything else
 * is ignored (but was signed over). */
enum { F_CALL_SID, F_ACCOUNT_SID, F_FROM, F_TO, F_CALL_STATUS, F_DIRECTION,
	F_DIGITS, F_ANSWERED_BY, F_NFIELDS };
static const struct valid_field voice_fields[F_NFIELDS] = {
	[F_CALL_SID] = { "CallSid", valid_call_sid, 1 },
	[F_ACCOUNT_SID] = { "AccountSid", valid_account_sid, 1 },
	[F_FROM] = { "From", valid_phone_or_client, 0 },
	[F_TO] = { "To", valid_phone_or_client, 0 },
	[F_CALL_STATUS] = { "CallStatus", valid_call_status, 0 },
	[F_DIRECTION] = { "Direction", valid_direction, 0 },
	[F_DIGITS] = { "Digits", valid_digits, 0 },
	[F_ANSWERED_BY] = { "AnsweredBy", valid_answered_by, 0 },
};

/* The engine's own query parameters on the URLs it gives Twilio. */
enum { Q_TOKEN, Q_STATE, Q_SEQ, Q_NFIELDS };
static const struct valid_field query_fields[Q_NFIELDS] = {
	[Q_TOKEN] = { "c", valid_token, 0 },
	[Q_STATE] = { "s", valid_state_name, 0 },
	[Q_SEQ] = { "n", valid_uint, 0 },
};

/* What one webhook request did, gathered for its audit record. */
struct webhook_log {
	const char *verdict;       /* signature verdict name */
	const char *call_sid;
	const char *error;         /* NULL when all went well */
	const struct params *form; /* parsed body, or NULL */
	struct engine_outcome outcome;
	int have_outcome;
};

static int is_form(const char *content_type)
{
	static const char form_type[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(form_type) - 1;
	return strncasecmp(content_type, form_type, n) == 0 &&
		(content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

static void json_set_str(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, json_string(value));
}

/* Writes the audit record of this request (and an error record when it
 * went wrong).  Records are never dropped: audit_record falls back to a
 * file when Redis is down. */
static void webhook_audit(struct app *app, const struct http_request *req,
	const struct http_response *res, const struct webhook_log *wl)
{
	json_t *rec = json_object();
	const char *business = wl->have_outcome ? wl->outcome.business_id : NULL;
	char *response;

	json_set_str(rec, "request_id", req->request_id);
	json_set_str(rec, "method", req->method);
	json_set_str(rec, "path", req->path);
	json_set_str(rec, "query", req->query);
	json_set_str(rec, "remote_addr", req->remote_addr);
	json_set_str(rec, "signature", wl->verdict);
	if (wl->form)
		json_object_set_new(rec, "params", audit_params_json(wl->form));
	json_object_set_new(rec, "status", json_integer(res->status));
	response = audit_redact(buf_str(&res->body));
	json_object_set_new(rec, "response", json_string(response));
	free(response);
	json_object_set_new(rec, "latency_ms", json_integer(util_now_ms() - req->start_ms));
	if (wl->have_outcome) {
		json_set_str(rec, "call_id", wl->outcome.call_id);
		json_set_str(rec, "state_before", wl->outcome.state_before);
		json_set_str(rec, "state_after", wl->outcome.state_after);
		json_set_str(rec, "input", wl->outcome.input);
		json_set_str(rec, "action", wl->outcome.action);
		if (wl->outcome.replay)
			json_object_set_new(rec, "replay", json_true());
	}
	json_set_str(rec, "error", wl->error);
	audit_record(app->audit, "webhook", wl->call_sid, business, rec);

	if (wl->error) {
		json_t *err = json_object();
		json_set_str(err, "request_id", req->request_id);
		json_set_str(err, "path", req->path);
		json_set_str(err, "error", wl->error);
		json_object_set_new(err, "status", json_integer(res->status));
		audit_record(app->audit, "error", wl->call_sid, business, err);
		log_warn("webhook %s %s: %s", req->request_id, req->path, wl->error);
	}
}

static void answer_twiml(struct http_response *res)
{
	res->status = 200;
	res->content_type = "text/xml; charset=utf-8";
}

static void answer_apology(struct http_response *res)
{
	answer_twiml(res);
	buf_reset(&res->body);
	twiml_apology(&res->body);
}

/* A signed voice webhook: validate, run the engine, answer TwiML. */
static void voice_handle(struct app *app, struct http_request *req, struct http_response *res,
	const struct params *form, struct webhook_log *wl)
{
	struct valid_result vf, vq;
	struct engine_input in;
	char err[160];
	const char *flow = req->path + strlen(VOICE_PREFIX);

	if (valid_params(req->arena, voice_fields, F_NFIELDS, form, &vf, err, sizeof(err)) < 0) {
		wl->error = arena_strdup(req->arena, err);
		answer_apology(res);
		return;
	}
	wl->call_sid = vf.values[F_CALL_SID];
	if (!req->query_ok ||
		valid_params(req->arena, query_fields, Q_NFIELDS, &req->query_params, &vq, err,
			sizeof(err)) < 0) {
		wl->error = req->query_ok ? arena_printf(req->arena, "query: %s", err)
					  : "malformed query string";
		answer_apology(res);
		return;
	}
	if (strcmp(vf.values[F_ACCOUNT_SID], app->cfg.account_sid) != 0) {
		wl->error = "AccountSid is not this deployment's account";
		answer_apology(res);
		return;
	}
	memset(&in, 0, sizeof(in));
	in.flow = flow;
	in.call_sid = vf.values[F_CALL_SID];
	in.token = vq.values[Q_TOKEN];
	in.state = vq.values[Q_STATE];
	in.seq = vq.values[Q_SEQ];
	in.digits = vf.values[F_DIGITS];
	in.answered_by = vf.values[F_ANSWERED_BY];
	in.call_status = vf.values[F_CALL_STATUS];

	answer_twiml(res);
	wl->have_outcome = 1;
	if (engine_handle(app->engine, app->db, req->arena, &in, &res->body, &wl->outcome) < 0)
		wl->error = wl->outcome.error ? wl->outcome.error : "engine failed";
}

/* Records a refused, unverified request as a bounded summary: nothing
 * from its body but sizes and a digest, and no key named by it. */
static void webhook_reject(struct app *app, struct http_request *req,
	const struct http_response *res, const char *verdict, long long nfields)
{
	struct audit_rejection rj;

	memset(&rj, 0, sizeof(rj));
	rj.request_id = req->request_id;
	rj.method = req->method;
	rj.path = req->path;
	rj.remote_addr = req->remote_addr;
	rj.verdict = verdict;
	rj.status = res->status;
	rj.body_len = req->body_too_large ? req->body_received : (long long)req->body_len;
	rj.nfields = nfields;
	rj.body_sha256 = http_request_digest(req);
	audit_rejected(app->audit, &rj);
}

/* The empty TwiML answer of a messaging or status webhook. */
static void answer_empty(struct http_response *res)
{
	answer_twiml(res);
	buf_reset(&res->body);
	buf_puts(&res->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response/>\n");
}

void webhook_handle(struct app *app, struct http_request *req, struct http_response *res)
{
	struct webhook_log wl;
	struct params form = { NULL, 0 };
	int form_body, is_voice, is_status, is_sms;
	enum signature_verdict verdict;
	const char *url, *refused = NULL; /* the verdict of an unverified request */
	long long nfields = -1;

	memset(&wl, 0, sizeof(wl));
	/* Nothing is answered before the signature is known, and without a
	 * body there is no signature to know: refused, summarised. */
	if (req->body_too_large) {
		http_response_text(res, 413, "request body too large");
		refused = "body too large";
		goto out;
	}
	/* Twilio signs a form POST over its parameters, anything else over
	 * the URL (and bodySHA256); a form that cannot be parsed cannot be
	 * signed. */
	form_body = strcmp(req->method, "POST") == 0 && is_form(req->content_type);
	if (form_body &&
		form_parse(req->arena, req->body, req->body_len, NULL, &form) != FORM_OK) {
		http_response_text(res, 403, "forbidden: the body cannot be parsed, so it is not signed");
		refused = "body unparsable";
		goto out;
	}
	/* The URL Twilio signed is the public base URL plus the request URI,
	 * never anything taken from the Host header. */
	url = arena_printf(req->arena, "%s%s", app->cfg.public_url, req->request_uri);
	verdict = signature_validate(app->cfg.auth_token, url, &form, form_body, req->body,
		req->body_len, req->twilio_signature);
	if (verdict != SIGNATURE_VALID) {
		http_response_text(res, 403, "forbidden: invalid Twilio signature");
		refused = arena_printf(req->arena, "signature %s", signature_verdict_name(verdict));
		nfields = form_body ? (long long)form.n : -1;
		goto out;
	}

	/* Signed: from here on the answer is TwiML, whatever is wrong, and the
	 * request is recorded in full under its (now verified) CallSid. */
	wl.verdict = signature_verdict_name(verdict);
	if (form_body) {
		wl.form = &form;
		wl.call_sid = form_get(&form, "CallSid");
		if (wl.call_sid && !valid_call_sid(wl.call_sid, strlen(wl.call_sid)))
			wl.call_sid = NULL; /* never key the audit by an unvalidated id */
	}
	is_voice = strncmp(req->path, VOICE_PREFIX, strlen(VOICE_PREFIX)) == 0;
	is_status = strcmp(req->path, STATUS_PREFIX "call") == 0 ||
		strcmp(req->path, STATUS_PREFIX "sms") == 0;
	is_sms = strcmp(req->path, SMS_INBOUND) == 0;
	if (strcmp(req->method, "POST") != 0) {
		wl.error = arena_printf(req->arena, "method %.16s is not POST", req->method);
		if (is_status || is_sms)
			answer_empty(res);
		else
			answer_apology(res);
	} else if (!form_body) {
		wl.error = "webhook body is not form-encoded";
		if (is_status || is_sms)
			answer_empty(res);
		else
			answer_apology(res);
	} else if (is_voice) {
		voice_handle(app, req, res, &form, &wl);
	} else if (is_status) {
		struct status_outcome so;
		status_handle(app, req, res, req->path + strlen(STATUS_PREFIX), &form, &so);
		wl.have_outcome = 1;
		wl.outcome.business_id = so.business_id;
		wl.outcome.call_id = so.attempt_id ? arena_printf(req->arena, "attempt-%s", so.attempt_id) : NULL;
		wl.outcome.state_before = so.before;
		wl.outcome.state_after = so.after;
		wl.outcome.action = so.change;
		wl.error = so.error;
	} else if (is_sms) {
		const char *note = NULL;
		wl.have_outcome = 1;
		if (sms_inbound_handle(app, req, res, &form, &note) < 0)
			wl.error = note;
		wl.outcome.action = note;
	} else {
		wl.error = "no such webhook";
		answer_apology(res);
	}
out:
	if (refused)
		webhook_reject(app, req, res, refused, nfields);
	else
		webhook_audit(app, req, res, &wl);
}
