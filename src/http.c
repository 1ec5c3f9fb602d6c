/* http: copying a FastCGI request into the arena, and writing responses. */
#include "http.h"
#include "arena.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* No header or URI ringfence reads may be longer than this; nginx caps
 * them too, but the application does not rely on it. */
#define HTTP_MAX_PARAM 8192

/* Copies FastCGI parameter name into the arena ("" when absent, or NULL
 * when null_if_absent), since FCGX_GetParam's pointer dies at the next
 * accept.  An over-long value marks the request bad. */
static const char *param_copy(FCGX_Request *fcgx, struct arena *a, const char *name,
	int null_if_absent, int *bad)
{
	const char *v = FCGX_GetParam(name, fcgx->envp);
	size_t n;
	if (v == NULL)
		return null_if_absent ? NULL : "";
	n = strnlen(v, HTTP_MAX_PARAM + 1);
	if (n > HTTP_MAX_PARAM) {
		*bad = 1;
		return null_if_absent ? NULL : "";
	}
	return arena_strndup(a, v, n);
}

static long long parse_length(const char *s)
{
	char *end;
	long long n;
	if (s == NULL || *s == '\0')
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	return n;
}

/* Reads and discards up to HTTP_MAX_DRAIN bytes of a refused body,
 * hashing them, so that nginx's request is taken whole and the summary
 * can name the body without keeping it. */
static void drain_body(FCGX_Request *fcgx, struct http_request *req)
{
	char chunk[16384];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	long long want = req->content_length < HTTP_MAX_DRAIN ? req->content_length : HTTP_MAX_DRAIN;

	while (req->body_received < want) {
		long long left = want - req->body_received;
		int got = FCGX_GetStr(chunk, left < (long long)sizeof(chunk) ? (int)left
									 : (int)sizeof(chunk), fcgx->in);
		if (got <= 0)
			break;
		if (ok)
			ok = EVP_DigestUpdate(ctx, chunk, (size_t)got) == 1;
		req->body_received += got;
	}
	if (ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32)
		util_hex(md, mdlen, req->body_sha256);
	EVP_MD_CTX_free(ctx);
}

const char *http_request_digest(struct http_request *req)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (req->body_sha256[0] == '\0' && !req->body_too_large &&
			EVP_Digest(req->body, req->body_len, md, &mdlen, EVP_sha256(), NULL) == 1 &&
			mdlen == 32)
		util_hex(md, mdlen, req->body_sha256);
	return req->body_sha256;
}

int http_request_id_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] && n <= HTTP_REQUEST_ID_MAX; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
			    (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '_' || s[n] == '-'))
			return 0;
	return n >= HTTP_REQUEST_ID_MIN && n <= HTTP_REQUEST_ID_MAX;
}

int http_request_read(FCGX_Request *fcgx, struct arena *a, struct http_request *req)
{
	const char *q;
	unsigned char rnd[8];
	int bad = 0;

	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->start_ms = util_now_ms();
	/* nginx's id (deploy: the REQUEST_ID parameter), so that its access
	 * log, this process's log and the audit share one; ringfence's own
	 * when it is missing or malformed. */
	q = FCGX_GetParam("REQUEST_ID", fcgx->envp);
	if (http_request_id_valid(q)) {
		strcpy(req->request_id, q);
	} else {
		if (util_random(rnd, sizeof(rnd)) < 0)
			memset(rnd, 0, sizeof(rnd));
		util_hex(rnd, sizeof(rnd), req->request_id);
	}
	log_set_request_id(req->request_id);

	req->method = param_copy(fcgx, a, "REQUEST_METHOD", 1, &bad);
	req->request_uri = param_copy(fcgx, a, "REQUEST_URI", 1, &bad);
	if (bad || req->method == NULL || req->request_uri == NULL || req->request_uri[0] != '/')
		return -1;
	q = strchr(req->request_uri, '?');
	if (q) {
		req->path = arena_strndup(a, req->request_uri, (size_t)(q - req->request_uri));
		req->query = q + 1;
	} else {
		req->path = req->request_uri;
		req->query = "";
	}
	req->content_type = param_copy(fcgx, a, "CONTENT_TYPE", 0, &bad);
	req->remote_addr = param_copy(fcgx, a, "REMOTE_ADDR", 0, &bad);
	req->twilio_signature = param_copy(fcgx, a, "HTTP_X_TWILIO_SIGNATURE", 1, &bad);
	req->cookie = param_copy(fcgx, a, "HTTP_COOKIE", 1, &bad);
	req->authorization = param_copy(fcgx, a, "HTTP_AUTHORIZATION", 1, &bad);
	req->idempotency_key = param_copy(fcgx, a, "HTTP_IDEMPOTENCY_KEY", 1, &bad);
	req->user_agent = param_copy(fcgx, a, "HTTP_USER_AGENT", 0, &bad);
	if (bad)
		return -1;

	req->query_ok = form_parse(a, req->query, strlen(req->query), NULL,
		&req->query_params) == FORM_OK;

	req->body = "";
	req->content_length = parse_length(FCGX_GetParam("CONTENT_LENGTH", fcgx->envp));
	if (req->content_length > (strncasecmp(req->content_type, "multipart/form-data", 19) == 0
			? HTTP_MAX_UPLOAD : HTTP_MAX_BODY)) {
		req->body_too_large = 1;
		drain_body(fcgx, req);
	} else if (req->content_length > 0) {
		char *body = arena_alloc(a, (size_t)req->content_length + 1);
		int got = FCGX_GetStr(body, (int)req->content_length, fcgx->in);
		if (got < 0)
			return -1;
		body[got] = '\0';
		req->body = body;
		req->body_len = (size_t)got;
		req->body_received = got;
	}
	return 0;
}

void http_response_init(struct http_response *res, struct arena *a)
{
	res->status = 200;
	res->content_type = NULL;
	res->cache_control = NULL;
	buf_init_arena(&res->body, a);
	buf_init_arena(&res->headers, a);
}

void http_response_text(struct http_response *res, int status, const char *text)
{
	res->status = status;
	res->content_type = "text/plain; charset=utf-8";
	buf_reset(&res->body);
	buf_puts(&res->body, text);
	buf_putc(&res->body, '\n');
}

void http_response_header(struct http_response *res, const char *name, const char *value)
{
	/* Header values come from ringfence itself; refuse to emit a split
	 * header even so. */
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) {
		log_error("http: refusing header %s with a line break", name);
		return;
	}
	buf_printf(&res->headers, "%s: %s\r\n", name, value);
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 302: return "Found";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

int http_response_send(FCGX_Request *fcgx, const struct http_response *res)
{
	int rc = 0;
	if (FCGX_FPrintF(fcgx->out,
		    "Status: %d %s\r\n"
		    "Content-Type: %s\r\n"
		    "Content-Length: %lu\r\n"
		    "Cache-Control: %s\r\n"
		    "X-Content-Type-Options: nosniff\r\n"
		    "%s\r\n",
		    res->status, http_status_text(res->status),
		    res->content_type ? res->content_type : "text/plain; charset=utf-8",
		    (unsigned long)res->body.len,
		    res->cache_control ? res->cache_control : "no-store",
		    buf_str(&res->headers)) < 0)
		rc = -1;
	if (rc == 0 && res->body.len > 0 &&
		FCGX_PutStr(res->body.data, (int)res->body.len, fcgx->out) < 0)
		rc = -1;
	return rc;
}
