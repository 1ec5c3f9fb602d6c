/* greeting: a business's own recorded greeting, made on an inbound call
 * after a valid task code (taskcode.h) and played at the start of its
 * reminder calls instead of the synthesised "automated message from".
 *
 * Every recording of such a call is a take (greeting_takes): the
 * <Record>'s signed action request names it, and its RecordingUrl must
 * be a recording of this account on the configured Twilio API
 * (engine_attach's prefix followed by the RecordingSid), so no request
 * can make a reminder call play someone else's URL.  A take becomes the
 * business's greeting when both the caller kept it (pressed 1) and
 * Twilio's signed recording status callback said "completed", in either
 * order (greeting_promote in sql/015_task_codes.sql).  A callback for a
 * recording that is no take, or for a take of another call, changes
 * nothing. */
#ifndef RF_GREETING_H
#define RF_GREETING_H

#include <stddef.h>

#include "dispatch.h"

struct action_ctx;
struct arena;
struct db;

/* Recordings one inbound call may make before it is ended. */
#define GREETING_MAX_TAKES 3

/* Validators of the recording fields Twilio sends. */
int valid_recording_url(const char *v, size_t len);      /* http(s)://, printable, <= 512 */
int valid_recording_sid(const char *v, size_t len);      /* RE + 32 lower-case hex */
int valid_recording_duration(const char *v, size_t len); /* 0..999999999, or -1 */
int valid_recording_status(const char *v, size_t len);   /* in-progress completed absent failed */

/* The inbound flow's actions (registered in actions.c). */
int greeting_store_take(struct action_ctx *ctx, const char **event);  /* the take; no event */
int greeting_retake(struct action_ctx *ctx, const char **event);      /* "again" / "enough" */
int greeting_keep(struct action_ctx *ctx, const char **event);        /* keeps the last take */

/* POST /twilio/status/recording.  Twilio does not promise that the
 * "completed" callback comes after the <Record>'s action: when it comes
 * first, the take is made from it (its RecordingUrl must be this
 * account's, as on the action), and the action then finds it. */
enum { GR_CALL_SID, GR_ACCOUNT_SID, GR_RECORDING_SID, GR_STATUS, GR_DURATION, GR_URL,
	GR_NFIELDS };
extern const struct valid_field greeting_status_fields[GR_NFIELDS];
void greeting_status_handle(struct app *app, const struct route_input *in, struct outcome *out);

/* The business's greeting: its URL, duration (-1 unknown) and when it
 * was recorded (unix s).  1 there is one, 0 none, -1 database error. */
struct greeting_info {
	long long take_id;
	const char *url;
	long long duration_s;
	long long recorded_at;
};
int greeting_current(struct db *db, struct arena *a, long long business_id,
	struct greeting_info *g);

/* Back to the synthesised greeting: retires the business's greeting,
 * naming user_id.  1 reverted, 0 there was none, -1 database error. */
int greeting_revert(struct db *db, long long business_id, long long user_id, long long now_s);

#endif
