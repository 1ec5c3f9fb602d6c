/* curl_easy: the one place libcurl's global state is set up, for every
 * module that makes HTTP or SMTP requests (twilio, mail, sim_http). */
#ifndef RF_CURL_EASY_H
#define RF_CURL_EASY_H

#include <curl/curl.h>

/* A new easy handle, after initialising libcurl once per process
 * (thread-safe).  NULL when libcurl cannot be initialised; the caller
 * cleans the handle up with curl_easy_cleanup. */
CURL *curl_easy_new(void);

#endif
