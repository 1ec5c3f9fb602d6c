/* dash_notify: what the office is told, on the dashboard (issue 11
 * part 5; the rows are office_notifications, notify.h).
 *
 *   Today's "What clients said" panel (dash_notify_panel): the newest
 *     notifications, unseen ones highlighted, "Mark all seen".
 *   GET  /notifications                  every notification, newest first,
 *                                        NOTIFY_PAGE_SIZE a page (?page=N)
 *   GET  /notifications.json?after=ID    the business's notifications newer
 *                                        than ID (at most NOTIFY_JSON_MAX,
 *                                        newest first), the unseen count and
 *                                        the newest id: app.js polls it while
 *                                        the page is visible and prepends
 *                                        new rows; without JavaScript a
 *                                        reload shows them
 *   POST /notifications/seen             marks the business's unseen
 *                                        notifications up to the one shown
 *                                        (field upto) seen, by this user
 *   GET  /settings/notifications         My notifications: this user's own
 *   POST /settings/notifications         email choice (off, immediately, a
 *                                        daily digest at an hour of the
 *                                        business's zone); office_mail.h
 *                                        sends it
 *
 * Every query is scoped by the session's business; the appointment's
 * notes are never read.  The header's count of unseen notifications is
 * dash_notify_nav's (page.c). */
#ifndef RF_DASH_NOTIFY_H
#define RF_DASH_NOTIFY_H

#include "valid.h"

struct app;
struct buf;
struct outcome;
struct route_input;
struct session_user;

#define NOTIFY_PAGE_SIZE 50
#define NOTIFY_PANEL_ROWS 10
#define NOTIFY_JSON_MAX 50

enum { DNQ_PAGE, DNQ_NFIELDS };
extern const struct valid_field dash_notify_page_query[DNQ_NFIELDS];
enum { DNJ_AFTER, DNJ_NFIELDS };
extern const struct valid_field dash_notify_json_query[DNJ_NFIELDS];
enum { DNS_UPTO, DNS_BACK, DNS_NFIELDS };
extern const struct valid_field dash_notify_seen_fields[DNS_NFIELDS];
enum { DNP_MODE, DNP_HOUR, DNP_NFIELDS };
extern const struct valid_field dash_notify_pref_fields[DNP_NFIELDS];

/* The panel on Today, appended to out.  0, or -1 on a database error
 * (nothing appended). */
int dash_notify_panel(struct app *app, const struct route_input *in, struct outcome *out);

/* The header's menu item: "Notifications" with the unseen count (a
 * link to /notifications carrying the newest id for app.js), appended to
 * b.  Nothing when the database cannot tell.  current: the page is the
 * notifications page. */
void dash_notify_nav(struct app *app, const struct session_user *u, struct buf *b, int current);

void dash_notify_list_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_notify_json_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_notify_seen_handle(struct app *app, const struct route_input *in, struct outcome *out);
void dash_notify_pref_page(struct app *app, const struct route_input *in, struct outcome *out);
void dash_notify_pref_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif
