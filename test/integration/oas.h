/* oas: checks a JSON response body against Twilio's own OpenAPI
 * description of the 2010-04-01 REST API (test/integration/
 * twilio_api_v2010.json, a copy of twilio-oai's file), so that the local
 * simulator's answers can be held to what Twilio really sends.
 *
 * For a 2xx status the operation's response schema is followed ($ref
 * included) and the document is checked field by field:
 *   - an object with properties must have every one of them (Twilio sends
 *     all, null when empty) and no other;
 *   - types: string, integer, number, boolean, object, array; null only
 *     where the schema says nullable;
 *   - enum values, minLength/maxLength, pattern (the sid patterns such as
 *     ^CA[0-9a-fA-F]{32}$, as POSIX extended regular expressions);
 *   - formats: date-time-rfc-2822 (day, month, year, time, zone, and the
 *     weekday when given must be the date's), date (YYYY-MM-DD), uri (an
 *     absolute URI or a path from api.twilio.com), uri-map (an object of
 *     uri strings), currency (three capital letters), http-method,
 *     iso-country-code.  Other formats (phone-number: Twilio also sends
 *     short codes and alphanumeric sender ids there) are not checked;
 *   - list responses through their schema: the list key, each item, the
 *     paging fields.
 * For a status of 400 or more the body must be Twilio's error document:
 * {code: five-digit integer, message: non-empty string, more_info: http(s)
 * URL, status: integer equal to the HTTP status}, plus an optional
 * details object (Twilio's helper libraries read it) and nothing else.
 *
 * The spec is loaded once and kept until oas_unload; none of this is
 * thread-safe. */
#ifndef RF_OAS_H
#define RF_OAS_H

#include <stddef.h>

/* Where the spec lives, relative to the repository root (the folder the
 * integration binary runs from). */
#define OAS_SPEC_PATH "test/integration/twilio_api_v2010.json"

/* Loads the spec at path (replacing one already loaded).  Returns 0, or -1
 * with a one-line reason in err. */
int oas_load(const char *path, char *err, size_t errlen);

/* Releases the loaded spec (a no-op when none is). */
void oas_unload(void);

/* Checks json, the body of a response with HTTP status to method
 * ("GET", "POST", ... any case) on path_template as the spec writes it
 * ("/2010-04-01/Accounts/{AccountSid}/Calls.json").  Loads OAS_SPEC_PATH
 * first when no spec is loaded.  Returns 0 when the body is what Twilio
 * would send, or -1 with the first problem in err, naming the field
 * ("calls[0].date_created: 'x' is not an RFC 2822 date"). */
int oas_check(const char *method, const char *path_template, int status, const char *json,
	char *err, size_t errlen);

/* Whether s is an RFC 2822 date as Twilio writes them ("Tue, 31 Aug 2010
 * 20:36:28 +0000"; the weekday and the seconds are optional, the zone is
 * +hhmm, -hhmm, GMT or UT).  1, or 0 with the reason in why (may be NULL). */
int oas_is_rfc2822_date(const char *s, char *why, size_t whylen);

/* The checker's own cmocka group (test_oas.c); needs no stack.  Returns
 * the number of failed tests. */
int oas_tests(void);

#endif
