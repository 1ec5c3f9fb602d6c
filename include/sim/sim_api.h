/* sim_api: the HTTP side of `ringfence-sim twilio-sim`.
 *
 * Twilio's REST subset, with its field names, RFC 2822 dates, status
 * codes and error JSON {"code","message","more_info","status"}:
 *
 *   POST/GET /2010-04-01/Accounts/{AccountSid}/Calls.json
 *   GET      /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json
 *   POST/GET /2010-04-01/Accounts/{AccountSid}/Messages.json
 *   GET      /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}.json
 *   GET      /2010-04-01/Accounts/{AccountSid}/Recordings.json (PageSize, CallSid;
 *            one page, newest first), .../Calls/{CallSid}/Recordings.json
 *   GET/DELETE /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.json
 *   GET      /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}[.wav|.mp3]
 *            the media (audio/x-wav, audio/mpeg), without credentials like
 *            Twilio's when the account does not enforce HTTP auth on media
 *
 * and the simulator's own API (not Twilio's, same credentials):
 *
 *   POST/GET /sim/callees                     form Number + Behaviour
 *   POST     /sim/inbound-calls               form From, To, Behaviour (the person
 *            calling) [, Url (default RINGFENCE_SIM_VOICE_URL, else
 *            RINGFENCE_PUBLIC_URL/twilio/voice/inbound), Method, StatusCallback]
 *   GET      /sim/calls/{Sid}/transcript      text/plain
 *   GET      /sim/calls/{Sid}/events.json
 *   GET      /sim/messages/{Sid}/transcript, /sim/messages/{Sid}/events.json
 *   GET      /healthz                         no credentials needed
 *
 * Every request but /healthz and recording media needs HTTP Basic TWILIO_ACCOUNT_SID:
 * TWILIO_AUTH_TOKEN (the simulator is that account), else 401 and error
 * 20003; the path's AccountSid must be that account too.  Created calls
 * and messages are queued; the driver (sim_driver.h) plays them. */
#ifndef RF_SIM_API_H
#define RF_SIM_API_H

#include <stddef.h>

#include "config.h"

struct db;
struct http_request;
struct http_response;

struct sim_api {
	struct config cfg;   /* points into the environment */
	struct db *db;       /* owned; connected lazily */
};

/* Reads the configuration (RINGFENCE_DATABASE_URL, TWILIO_ACCOUNT_SID,
 * TWILIO_AUTH_TOKEN) and opens the database handle.  0, or -1 with a
 * one-line reason in err. */
int sim_api_init(struct sim_api *api, char *err, size_t errlen);
void sim_api_free(struct sim_api *api);

/* Answers one request; allocations live in req->arena or res. */
void sim_api_handle(struct sim_api *api, struct http_request *req, struct http_response *res);

/* Twilio's segment count for body: text in the GSM-7 alphabet in 160
 * septets (153 when split; ^ { } \ [ ] ~ | and the euro sign take two),
 * anything else as UCS-2 in 70 UTF-16 units (67 when split; an emoji
 * takes two).  Exposed for tests. */
int sim_api_segments(const char *body);

#endif
