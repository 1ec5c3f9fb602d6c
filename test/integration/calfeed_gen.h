/* calfeed_gen: big calendar feeds for the tests, written like a Google
 * Calendar export (its PRODID, X-WR-CALNAME, X-WR-TIMEZONE and VTIMEZONE
 * of America/New_York), generated rather than kept as files.
 *
 * Event i (first <= i < first + count) has the UID "gen-<i>@ringfence.test",
 * starts at start_s + i * step_s (UTC, written with "Z"), lasts 30
 * minutes, its description gives a phone number of its own written
 * "+1 555 0000042" (E.164 "+15550" and i in 6 digits: calfeed_gen_phone),
 * and its summary is "Client <i> - appointment".  The
 * same (first, count, start_s, step_s) always gives the same bytes, so a
 * feed of 5,000 events and the same feed grown by 500 are
 * calfeed_gen(0, 5000, ...) and calfeed_gen(0, 5500, ...).
 *
 * Static inline so that any test program (unit or integration) can
 * include it; the caller frees the result. */
#ifndef RF_CALFEED_GEN_H
#define RF_CALFEED_GEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The E.164 phone number generated for event i (out >= 17 bytes). */
static inline void calfeed_gen_phone(size_t i, char *out, size_t outlen)
{
	snprintf(out, outlen, "+15550%06zu", i % 1000000);
}

/* The feed, NUL-terminated; *len (when not NULL) its length. */
static inline char *calfeed_gen(size_t first, size_t count, long long start_s, long long step_s,
	size_t *len)
{
	static const char head[] =
		"BEGIN:VCALENDAR\r\n"
		"PRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
		"VERSION:2.0\r\n"
		"CALSCALE:GREGORIAN\r\n"
		"METHOD:PUBLISH\r\n"
		"X-WR-CALNAME:Generated clinic\r\n"
		"X-WR-TIMEZONE:America/New_York\r\n"
		"BEGIN:VTIMEZONE\r\n"
		"TZID:America/New_York\r\n"
		"X-LIC-LOCATION:America/New_York\r\n"
		"BEGIN:DAYLIGHT\r\n"
		"TZOFFSETFROM:-0500\r\n"
		"TZOFFSETTO:-0400\r\n"
		"TZNAME:EDT\r\n"
		"DTSTART:19700308T020000\r\n"
		"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"
		"END:DAYLIGHT\r\n"
		"BEGIN:STANDARD\r\n"
		"TZOFFSETFROM:-0400\r\n"
		"TZOFFSETTO:-0500\r\n"
		"TZNAME:EST\r\n"
		"DTSTART:19701101T020000\r\n"
		"RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n"
		"END:STANDARD\r\n"
		"END:VTIMEZONE\r\n";
	static const char tail[] = "END:VCALENDAR\r\n";
	size_t cap = sizeof head + sizeof tail + count * 640 + 1, n = 0;
	char *out = malloc(cap);

	if (out == NULL)
		abort();
	memcpy(out, head, sizeof head - 1);
	n = sizeof head - 1;
	for (size_t i = first; i < first + count; i++) {
		time_t s = (time_t)(start_s + (long long)i * step_s), e = s + 1800;
		struct tm ts, te;
		char a[20], b[20], phone[20];
		int w;
		gmtime_r(&s, &ts);
		gmtime_r(&e, &te);
		strftime(a, sizeof a, "%Y%m%dT%H%M%SZ", &ts);
		strftime(b, sizeof b, "%Y%m%dT%H%M%SZ", &te);
		calfeed_gen_phone(i, phone, sizeof phone);
		w = snprintf(out + n, cap - n,
			"BEGIN:VEVENT\r\n"
			"DTSTART:%s\r\n"
			"DTEND:%s\r\n"
			"DTSTAMP:20261207T120000Z\r\n"
			"UID:gen-%zu@ringfence.test\r\n"
			"CREATED:20261101T120000Z\r\n"
			"DESCRIPTION:Booked online. Phone: %.2s %.3s %s\r\n"
			"LAST-MODIFIED:20261101T120000Z\r\n"
			"LOCATION:\r\n"
			"SEQUENCE:0\r\n"
			"STATUS:CONFIRMED\r\n"
			"SUMMARY:Client %zu - appointment\r\n"
			"TRANSP:OPAQUE\r\n"
			"END:VEVENT\r\n",
			a, b, i, phone, phone + 2, phone + 5, i);
		if (w < 0 || (size_t)w >= cap - n)
			abort();
		n += (size_t)w;
	}
	memcpy(out + n, tail, sizeof tail);
	n += sizeof tail - 1;
	if (len != NULL)
		*len = n;
	return out;
}

#endif
