/* webhook: the voice webhook's fields and handler; see include/webhook.h. */
#include "webhook.h"
#include "app.h"
#include "arena.h"
#include "engine.h"
#include "greeting.h"
#include "http.h"
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

const struct valid_field webhook_voice_fields[WV_NFIELDS] = {
	[WV_CALL_SID] = { "CallSid", valid_call_sid, 1, VALID_TEXT },
	[WV_ACCOUNT_SID] = { "AccountSid", valid_account_sid, 1, VALID_TEXT },
	[WV_FROM] = { "From", valid_phone_or_client, 0, VALID_TEXT },
	[WV_TO] = { "To", valid_phone_or_client, 0, VALID_TEXT },
	[WV_CALL_STATUS] = { "CallStatus", valid_call_status, 0, VALID_TEXT },
	[WV_DIRECTION] = { "Direction", valid_direction, 0, VALID_TEXT },
	[WV_DIGITS] = { "Digits", valid_voice_digits, 0, VALID_TEXT },
	[WV_ANSWERED_BY] = { "AnsweredBy", valid_answered_by, 0, VALID_TEXT },
	/* A <Record>'s action request. */
	[WV_RECORDING_URL] = { "RecordingUrl", valid_recording_url, 0, VALID_TEXT },
	[WV_RECORDING_SID] = { "RecordingSid", valid_recording_sid, 0, VALID_TEXT },
	[WV_RECORDING_DURATION] = { "RecordingDuration", valid_recording_duration, 0, VALID_TEXT },
};

const struct valid_field webhook_voice_query[WQ_NFIELDS] = {
	[WQ_TOKEN] = { "c", valid_token, 0, VALID_TEXT },
	[WQ_STATE] = { "s", valid_state_name, 0, VALID_TEXT },
	[WQ_SEQ] = { "n", valid_uint, 0, VALID_INT64 },
	[WQ_HOLD] = { "hold", valid_uint, 0, VALID_INT64 },
	[WQ_DIGITS] = { "digits", valid_digits, 0, VALID_TEXT },
};

void webhook_voice_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	const struct valid_value *f = in->form.v, *q = in->query.v;
	struct engine_input ei;
	struct engine_outcome eo;
	char err[1024] = "";

	memset(&ei, 0, sizeof(ei));
	ei.flow = in->param;
	ei.call_sid = f[WV_CALL_SID].s;
	ei.token = q[WQ_TOKEN].s;
	ei.state = q[WQ_STATE].s;
	ei.seq = q[WQ_SEQ].s ? q[WQ_SEQ].i : -1;
	ei.digits = f[WV_DIGITS].s ? f[WV_DIGITS].s : q[WQ_DIGITS].s;
	ei.answered_by = f[WV_ANSWERED_BY].s;
	ei.call_status = f[WV_CALL_STATUS].s;
	ei.direction = f[WV_DIRECTION].s;
	ei.from = f[WV_FROM].s;
	ei.to = f[WV_TO].s;
	ei.recording_url = f[WV_RECORDING_URL].s;
	ei.recording_sid = f[WV_RECORDING_SID].s;
	ei.recording_duration = f[WV_RECORDING_DURATION].s;
	/* Past the bound any hold= is as good as the bound: the apology. */
	ei.hold = !q[WQ_HOLD].s ? 0 : q[WQ_HOLD].i > ENGINE_HOLD_MAX ? ENGINE_HOLD_MAX
		: (int)q[WQ_HOLD].i;

	if (engine_handle(app->engine, app->db, in->req->arena, &ei, &out->twiml, &eo, err,
		    sizeof(err)) != 0)
		out->error = err[0] ? arena_strdup(in->req->arena, err) : "engine failed";
	out->hold = eo.hold;
	if (eo.hold)
		metrics_webhook_hold();
	if (eo.hold_exhausted)
		metrics_webhook_hold_exhausted();
	out->call_id = eo.call_id;
	out->business_id = eo.business_id;
	out->state_before = eo.state_before;
	out->state_after = eo.state_after;
	out->input = eo.input;
	out->action = eo.action;
	out->replay = eo.replay;
}

void webhook_unknown_handle(struct app *app, const struct route_input *in, struct outcome *out)
{
	(void)app;
	(void)in;
	out->error = "no such webhook";
}
