/* dash_users: the business's logins (settings pages).
 *
 * GET /settings/users lists the business's users (email, role, added).
 * An owner or operator adds one (POST /settings/users: email, role owner
 * or staff, and an initial password typed twice, or none, and then a
 * made-up one is shown once on the answer page) and removes one (POST
 * /settings/users/{id}/remove), never their own login nor the business's
 * last owner; the removed user's sessions are revoked in the same
 * transaction.  Staff get a 403 page on a POST.  Another business's user
 * id is 404, like an unknown one. */
#ifndef RF_DASH_USERS_H
#define RF_DASH_USERS_H

#include "dispatch.h"

enum { DU_EMAIL, DU_ROLE, DU_PASSWORD, DU_PASSWORD2, DU_NFIELDS };
extern const struct valid_field dash_users_add_fields[DU_NFIELDS];

void dash_users_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_users_add_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_users_remove_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

#endif
