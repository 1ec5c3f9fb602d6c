/* dash_clients: the dashboard's clients pages (ROUTE_AUTH_SESSION, every
 * query scoped by the business the pages show).
 *
 *   GET  /clients[?q=&page=&show=to_confirm]
 *                                the list: search by name, phone or email,
 *                                50 a page; phone, email, time zone and the
 *                                state badges (opted out since when and by
 *                                whom, do not call, number invalid, to
 *                                confirm); show=to_confirm: only the clients
 *                                proposed from a calendar and not confirmed
 *                                (a confirm button and proposed_from on the
 *                                client's page, dash_calendar.h)
 *   GET  /clients/new            the form
 *   POST /clients                name, phone, email, time_zone, do_not_call:
 *                                303 to the client, or the form again (422)
 *                                with the input and a message naming the field
 *   GET  /clients/{id}           details and the client's appointments
 *   GET  /clients/{id}/edit      the form, filled in
 *   POST /clients/{id}           saves it (as POST /clients)
 *   POST /clients/{id}/opt-out   the business stops every reminder to the
 *                                client; only the client's own START can
 *                                undo an opt-out, so no page clears it
 *
 * A changed phone or email re-plans the client's upcoming reminders that
 * were still to be sent to the old one (never sends them to it). */
#ifndef RF_DASH_CLIENTS_H
#define RF_DASH_CLIENTS_H

#include <stddef.h>

#include "dispatch.h"

/* The form's fields (name, phone, email, time_zone, do_not_call) and the
 * list's query (q, page, show). */
extern const struct valid_field dash_client_fields[5];
extern const struct valid_field dash_clients_query[3];


/* The checks the form and the CSV import share.  Each returns NULL when
 * the value is acceptable, else what is wrong as a predicate to put after
 * the field's name ("is required", "must be at most 200 characters"). */
const char *dash_client_name_problem(const char *name);
const char *dash_client_email_problem(const char *email); /* "" and NULL: none given, fine */

void dash_clients_list_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_clients_new_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_clients_create_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_clients_show_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_clients_edit_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_clients_update_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_clients_opt_out_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

#endif
