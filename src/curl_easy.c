/* curl_easy: libcurl's global initialisation, once. */
#include "curl_easy.h"

#include <pthread.h>

static pthread_once_t curl_easy_once = PTHREAD_ONCE_INIT;
static CURLcode curl_easy_global_rc = CURLE_FAILED_INIT;

static void curl_easy_global_init(void)
{
	curl_easy_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURL *curl_easy_new(void)
{
	pthread_once(&curl_easy_once, curl_easy_global_init);
	if (curl_easy_global_rc != CURLE_OK)
		return NULL;
	return curl_easy_init();
}
