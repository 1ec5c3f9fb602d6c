/* calcontact: the phone numbers and email addresses written in the free
 * text of a calendar event (a summary, description, location or
 * attendee value), for finding or proposing the event's client.
 *
 * What is found is a guess from text a person typed; a client proposed
 * from it is unconfirmed until a person confirms it (issue 11).  So the
 * rules lean to taking nothing: a digit run that could be a date, a
 * time, an order number or anything but a phone number is not taken.
 * Pure: no I/O, no allocation, no locale. */
#ifndef RF_CALCONTACT_H
#define RF_CALCONTACT_H

#include <stddef.h>

#define CALCONTACT_MAX 8

struct cal_contact {
	char phones[CALCONTACT_MAX][20];  /* E.164, as phone.h gives it */
	size_t n_phones;
	char emails[CALCONTACT_MAX][255]; /* lower-case */
	size_t n_emails;
};

/* Finds phone numbers and email addresses in text (a summary,
 * description, location or attendee value).  International numbers
 * ("+44 20 7946 0958", "0044 ...") are normalised with phone.h's
 * rules; national numbers are normalised with country (ISO 3166
 * alpha-2, e.g. "US", "GB", "DE", "FR", "AU", "IE", "NZ", "CA"; a
 * small table of calling code and trunk prefix), and ignored when
 * country is NULL/unknown.  "tel:" URIs and "mailto:" are understood.
 * Digit runs that are not phone numbers (dates "2026-12-07", times,
 * order numbers shorter than a national number, longer than 15
 * digits) are not taken.  Duplicates once.  At most CALCONTACT_MAX of
 * each, in the order they appear.  out is cleared first; text NULL
 * finds nothing. */
void calcontact_find(const char *text, const char *country, struct cal_contact *out);

/* 1 when country (ISO 3166 alpha-2, either case) is in the table that
 * national numbers are read with. */
int calcontact_country_known(const char *country);

#endif
