/* curl_easy: libcurl's global initialisation, once, and the option block
 * every request shares (see curl_easy.h). */
#include "curl_easy.h"

#include <pthread.h>

static pthread_once_t curl_easy_once = PTHREAD_ONCE_INIT;
static CURLcode curl_easy_global_rc = CURLE_FAILED_INIT;

static void curl_easy_global_init(void)
{
	curl_easy_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* See curl_easy.h. */
CURL *curl_easy_new(void)
{
	pthread_once(&curl_easy_once, curl_easy_global_init);
	if (curl_easy_global_rc != CURLE_OK)
		return NULL;
	return curl_easy_init();
}

/* See curl_easy.h. */
int curl_easy_defaults(CURL *c, enum curl_easy_kind kind, long connect_ms, long total_ms,
	char *errbuf)
{
	int smtp = kind == CURL_EASY_SMTP;
	int ret = -1;

	if (c == NULL || errbuf == NULL || connect_ms <= 0 || total_ms <= 0)
		goto out;
	errbuf[0] = '\0';
	if (
#if LIBCURL_VERSION_NUM >= 0x075500
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, smtp ? "smtp,smtps" : "http,https") != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, smtp ? "smtp,smtps" : "http,https") != CURLE_OK ||
#else
		curl_easy_setopt(c, CURLOPT_PROTOCOLS, smtp ? (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS) :
			(long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, smtp ? (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS) :
			(long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
#endif
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK)
		goto out;
	ret = 0;
out:
	return ret;
}
