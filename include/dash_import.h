/* dash_import: CSV import of clients and appointments (ROUTE_AUTH_SESSION,
 * scoped by the business the pages show).
 *
 *   GET  /import                          the upload form, the columns of
 *                                         each kind with an example, and
 *                                         the last imports
 *   GET  /import/template/clients.csv     the empty files to fill in
 *   GET  /import/template/appointments.csv
 *   POST /import                          multipart: kind (clients or
 *                                         appointments) and file (up to
 *                                         2 MiB): every row is checked;
 *                                         any bad row: the list of them
 *                                         ("line 7: phone '555-0123' must
 *                                         start with + ..."), 422, nothing
 *                                         stored; else the preview (what
 *                                         would be created, what already
 *                                         exists), stored for an hour in
 *                                         csv_uploads, nothing imported
 *   POST /import/{id}/commit              imports the stored preview once:
 *                                         rows that exist by now are
 *                                         skipped, so the same file twice
 *                                         creates nothing the second time
 *
 * Clients match existing ones by (business, phone) or (business,
 * lower(email)); appointments by (business, client, starts_at).  An
 * imported appointment gets its reminders from reminders_plan, as the
 * API's do. */
#ifndef RF_DASH_IMPORT_H
#define RF_DASH_IMPORT_H

#include <stddef.h>

#include "dispatch.h"

/* The most rows (header aside) one file may hold. */
#define DASH_IMPORT_MAX_ROWS 5000

/* POST /import's fields (kind, file). */
extern const struct valid_field dash_import_fields[2];

/* {param} validator: "clients.csv" or "appointments.csv". */
int dash_import_valid_template(const char *v, size_t len);

void dash_import_page_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_import_template_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_import_upload_handle(struct app *app, const struct route_input *in,
	struct outcome *out);
void dash_import_commit_handle(struct app *app, const struct route_input *in,
	struct outcome *out);

#endif
