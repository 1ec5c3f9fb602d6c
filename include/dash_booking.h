/* dash_booking: the settings page's "booking confirmation" card and its
 * form (POST /settings/booking): whether a business sends a message
 * shortly after each appointment is booked (businesses.booking_channel:
 * off, 'sms' or 'email') and how many minutes after the booking
 * (booking_delay_minutes, 0 to 1440).  Only an owner (or an operator)
 * changes it; reminders_plan (reminders.h) makes the confirmation. */
#ifndef RF_DASH_BOOKING_H
#define RF_DASH_BOOKING_H

#include "dispatch.h"

struct app;

#define DASH_BOOKING_DELAY_MAX 1440

/* The card, after the reminder policy.  0, or -1 on a database error. */
int dash_booking_render(struct app *app, const struct route_input *in, struct outcome *out);

enum { DB_CHANNEL, DB_DELAY, DB_NFIELDS };
extern const struct valid_field dash_booking_fields[DB_NFIELDS];
void dash_booking_handle(struct app *app, const struct route_input *in, struct outcome *out);

#endif
