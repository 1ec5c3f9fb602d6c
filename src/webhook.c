/* webhook: the voice webhook's fields and handler; see include/webhook.h. */
#include "webhook.h"
#include "app.h"
#include "arena.h"
#include "engine.h"
#include "greeting.h"
#include "audit.h"
#include "form.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

#include <string.h>

/* Digits: the keys pressed, or, on a <Record>'s action only, "hangup"
 * when the caller hung up to end the recording (Twilio's <Record>
 * docs); the engine refuses "hangup" anywhere else. */
static int valid_voice_digits(const char *v, size_t len)
{
	return valid_digits(v, len) ||
		(v != NULL && len == 6 && strcmp(v, ENGINE_DIGITS_HANGUP) == 0);
}

#define VOICE_FIELDS \
	[WV_CALL_SID] = { "CallSid", valid_call_sid, 1, VALID_TEXT }, \
	[WV_ACCOUNT_SID] = { "AccountSid", valid_account_sid, 1, VALID_TEXT }, \
	[WV_FROM] = { "From", valid_phone_or_client, 0, VALID_TEXT }, \
	[WV_TO] = { "To", valid_phone_or_client, 0, VALID_TEXT }, \
	[WV_CALL_STATUS] = { "CallStatus", valid_call_status, 0, VALID_TEXT }, \
	[WV_DIRECTION] = { "Direction", valid_direction, 0, VALID_TEXT }, \
	[WV_DIGITS] = { "Digits", valid_voice_digits, 0, VALID_TEXT }, \
	[WV_ANSWERED_BY] = { "AnsweredBy", valid_answered_by, 0, VALID_TEXT }, \
	/* A <Record>'s action request. */ \
	[WV_RECORDING_URL] = { "RecordingUrl", valid_recording_url, 0, VALID_TEXT }, \
	[WV_RECORDING_SID] = { "RecordingSid", valid_recording_sid, 0, VALID_TEXT }, \
	[WV_RECORDING_DURATION] = { "RecordingDuration", valid_recording_duration, 0, VALID_TEXT }

const struct valid_field webhook_voice_fields[WV_NFIELDS] = { VOICE_FIELDS };

/* ErrorUrl is checked by the handler, not here: a fallback without a
 * usable one still gets the apology, a log line and its record. */
const struct valid_field webhook_fallback_fields[WF_NFIELDS] = {
	VOICE_FIELDS,
	[WF_ERROR_CODE] = { "ErrorCode", valid_uint, 0, VALID_INT64 },
	[WF_ERROR_URL] = { "ErrorUrl", valid_any, 0, VALID_TEXT },
};

const struct valid_field webhook_voice_query[WQ_NFIELDS] = {
	[WQ_TOKEN] = { "c", valid_token, 0, VALID_TEXT },
	[WQ_STATE] = { "s", valid_state_name, 0, VALID_TEXT },
	[WQ_SEQ] = { "n", valid_uint, 0, VALID_INT64 },
};

/* One step of the voice flow: f are the voice fields (webhook_voice_fields'
 * order), q the engine's query (webhook_voice_query's). */
static void voice_step(struct app *app, struct arena *a, const char *flow,
	const struct valid_value *f, const struct valid_value *q, struct outcome *out)
{
	struct engine_input ei;
	struct engine_outcome eo;
	char err[1024] = "";

	memset(&ei, 0, sizeof(ei));
	ei.flow = flow;
	ei.call_sid = f[WV_CALL_SID].s;
	ei.token = q[WQ_TOKEN].s;
	ei.state = q[WQ_STATE].s;
	ei.seq = q[WQ_SEQ].s ? q[WQ_SEQ].i : -1;
	ei.digits = f[WV_DIGITS].s;
	ei.answered_by = f[WV_ANSWERED_BY].s;
	ei.call_status = f[WV_CALL_STATUS].s;
	ei.direction = f[WV_DIRECTION].s;
	ei.from = f[WV_FROM].s;
	ei.to = f[WV_TO].s;
	ei.recording_url = f[WV_RECORDING_URL].s;
	ei.recording_sid = f[WV_RECORDING_SID].s;
	ei.recording_duration = f[WV_RECORDING_DURATION].s;

	if (engine_handle(app->engine, app->db, a, &ei, &out->twiml, &eo, err, sizeof(err)) < 0)
		out->error = err[0] ? arena_strdup(a, err) : "engine failed";
	out->call_id = eo.call_id;
	out->business_id = eo.business_id;
	out->state_before = eo.state_before;
	out->state_after = eo.state_after;
	out->input = eo.input;
	out->action = eo.action;
	out->replay = eo.replay;
}

void webhook_voice_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	voice_step(app, in->req->arena, in->param, in->form.v, in->query.v, out);
}

/* ErrorUrl's flow (into flow) and engine query (into q) when it is an
 * http(s) URL of a voice webhook, /twilio/voice/{flow}[?query]: 0, or -1
 * with why. */
static int fallback_target(struct arena *a, const char *url, const char **flow,
	const char **path, struct valid_result *q, const char **why)
{
	const char *host, *p, *qs, *end;
	struct params qp;
	char *f;

	*path = NULL;
	if (url == NULL) {
		*why = "ErrorUrl is missing";
		return -1;
	}
	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else {
		*why = "ErrorUrl is not an http(s) URL";
		return -1;
	}
	p = strchr(host, '/');
	if (p == NULL || p == host) {
		*why = "ErrorUrl has no host or no path";
		return -1;
	}
	qs = strchr(p, '?');
	end = qs ? qs : p + strlen(p);
	*path = arena_strndup(a, p, (size_t)(end - p));
	if (strncmp(*path, WEBHOOK_VOICE_PREFIX, strlen(WEBHOOK_VOICE_PREFIX)) != 0) {
		*why = "ErrorUrl is not a voice webhook of ringfence";
		return -1;
	}
	f = arena_strdup(a, *path + strlen(WEBHOOK_VOICE_PREFIX));
	if (f[0] == '\0' || !valid_state_name(f, strlen(f))) {
		*why = "ErrorUrl names no flow";
		return -1;
	}
	if (form_parse(a, qs ? qs + 1 : "", qs ? strlen(qs + 1) : 0, NULL, &qp) != FORM_OK ||
		valid_params(a, webhook_voice_query, WQ_NFIELDS, &qp, q, NULL, 0) < 0) {
		*why = "ErrorUrl's query is not a voice webhook's";
		return -1;
	}
	*flow = f;
	return 0;
}

void webhook_fallback_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	struct arena *a = in->req->arena;
	const struct valid_value *f = in->form.v;
	const char *flow = NULL, *path = NULL, *why = NULL;
	struct valid_result q;
	struct audit_json j;

	metrics_webhook_fallback();
	if (fallback_target(a, f[WF_ERROR_URL].s, &flow, &path, &q, &why) < 0) {
		out->error = arena_printf(a, "fallback: %s", why);
		log_warn("fallback %s: call %s: %s (ErrorCode %s)", in->req->request_id,
			f[WV_CALL_SID].s, why, f[WF_ERROR_CODE].s ? f[WF_ERROR_CODE].s : "none");
	} else {
		voice_step(app, a, flow, f, q.v, out);
		log_info("fallback %s: call %s: answered %s for the failed node (ErrorCode %s)%s",
			in->req->request_id, f[WV_CALL_SID].s, path,
			f[WF_ERROR_CODE].s ? f[WF_ERROR_CODE].s : "none", out->replay ? ", a replay" : "");
	}
	/* The failed URL's path only: its query holds the call's token. */
	audit_json_begin(&j, a);
	audit_json_str(&j, "request_id", in->req->request_id);
	audit_json_str(&j, "error_code", f[WF_ERROR_CODE].s);
	audit_json_str(&j, "error_url_path", path);
	audit_json_str(&j, "state_before", out->state_before);
	audit_json_str(&j, "state_after", out->state_after);
	if (out->replay)
		audit_json_true(&j, "replay");
	audit_json_str(&j, "error", out->error);
	audit_defer(app->audit, "fallback", f[WV_CALL_SID].s, out->business_id, &j);
}

void webhook_unknown_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	(void)app;
	(void)in;
	out->error = "no such webhook";
}
