/* curl_easy: the one place libcurl is set up, for every module that makes
 * HTTP or SMTP requests (twilio, mail, and the simulator's sim_http):
 * the global state once per process, and the option block every request
 * shares, so that no request goes out without timeouts or with redirects
 * or TLS verification left to chance. */
#ifndef RF_CURL_EASY_H
#define RF_CURL_EASY_H

#include <curl/curl.h>

/* Which protocols a handle may speak. */
enum curl_easy_kind {
	CURL_EASY_HTTP, /* http, https */
	CURL_EASY_SMTP, /* smtp, smtps */
};

/* A new easy handle, after initialising libcurl once per process
 * (thread-safe).  NULL when libcurl cannot be initialised; the caller
 * cleans the handle up with curl_easy_cleanup. */
CURL *curl_easy_new(void);

/* Sets the options every ringfence request has on c: only the protocols
 * of kind (for the URL and any redirect), no redirects followed, no
 * signals (timeouts work in any thread and never raise SIGALRM), a
 * connect timeout of connect_ms and a total timeout of total_ms (both
 * must be positive), TLS peer and host verification on, and errbuf
 * (CURL_ERROR_SIZE bytes) as the error buffer.  The caller adds the URL,
 * headers, body and callbacks.  Returns 0, or -1 when libcurl refused an
 * option or a timeout is not positive (the handle is then unusable). */
int curl_easy_defaults(CURL *c, enum curl_easy_kind kind, long connect_ms, long total_ms,
	char *errbuf);

#endif
