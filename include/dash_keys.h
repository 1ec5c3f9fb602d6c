/* dash_keys: the business's API keys (settings pages).
 *
 * GET /settings/api-keys lists the keys (label, prefix, created, last
 * used, revoked).  POST /settings/api-keys creates one with a label and
 * answers with a page showing the key once (not a redirect; the shell
 * sends Cache-Control: no-store): only its prefix and hash are stored
 * (apikey.h).  POST /settings/api-keys/{id}/revoke revokes one (the
 * button asks first: data-confirm).  Owners and operators only; staff
 * see the list and get a 403 page on a POST.  Another business's key id
 * is 404, like an unknown one. */
#ifndef RF_DASH_KEYS_H
#define RF_DASH_KEYS_H

#include "dispatch.h"

enum { DK_LABEL, DK_NFIELDS };
extern const struct valid_field dash_keys_create_fields[DK_NFIELDS];

void dash_keys_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_keys_create_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_keys_revoke_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

#endif
