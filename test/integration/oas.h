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

/* ---- ringfence's own JSON API (/api/v1) ----------------------------------
 *
 * The same idea for the product's own OpenAPI 3.1 description (src/www/
 * openapi.json, the document /api/v1/openapi.json serves): the API tests
 * check every request and answer against it (test_api.c's HTTP helper).
 * The schema checker knows the JSON Schema keywords the description uses
 * ($ref, type (one or a list, "null" included), enum, const, required,
 * properties, additionalProperties, min/maxProperties, items,
 * min/maxLength, pattern, minimum, maximum, format date-time and email);
 * any other constraining keyword fails the check rather than pass
 * unchecked. */
#define OAS_API_SPEC_PATH "src/www/openapi.json"

/* Loads the description at path (replacing one loaded).  0, or -1 with a
 * one-line reason in err. */
int oas_api_load(const char *path, char *err, size_t errlen);
void oas_api_unload(void);

/* The loaded description (OAS_API_SPEC_PATH when none is) is OpenAPI
 * 3.1 shaped: "openapi": "3.1.0", info with title and version, every $ref
 * resolves, every path has operations, each with a unique operationId
 * and responses keyed by HTTP status with a description, every {param}
 * of a path declared.  0, or -1 with the first problem in err. */
int oas_api_check_doc(char *err, size_t errlen);

/* One exchange with the API: method on path (no query string) answered
 * status with resp_body and the response headers named in headers
 * (NULL-terminated, any case).  The path must be in the description
 * (else only the API's 404 error document may answer), the method
 * (else only 405 with Allow), the status listed for the operation with
 * its required headers, the body valid against the status's schema; and
 * for a 2xx the request body (req_body, NULL or "" for none) against the
 * operation's request schema.  0, or -1 with the first problem in err. */
int oas_api_check(const char *method, const char *path, int status, const char *req_body,
	const char *resp_body, const char *const *headers, char *err, size_t errlen);

/* The checker's own cmocka group (test_oas.c); needs no stack.  Returns
 * the number of failed tests. */
int oas_tests(void);

#endif
