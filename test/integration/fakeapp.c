/* fakeapp: a programmable HTTP/1.1 application for the simulator's tests. */
#include "fakeapp.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FA_MAX_HEAD (16 * 1024)       /* request line and headers */
#define FA_MAX_BODY (1024 * 1024)
#define FA_MAX_HEADERS 64
#define FA_MAX_REQUESTS 20000         /* recorded; later ones are answered 503 */
#define FA_IO_TIMEOUT_S 10
#define FA_SLICE_MS 50

struct route {
	char *path;
	int status;
	char *content_type;   /* NULL: none sent */
	char *body;
	long delay_ms;
};

struct fakeapp {
	int fd;
	char url[64];
	pthread_t acceptor;
	int acceptor_started;
	pthread_mutex_t lock;
	pthread_cond_t changed;   /* a request arrived, or a connection ended */
	int stopping;
	int active;               /* connection threads running */
	struct route *routes;
	size_t nroutes;
	struct fakeapp_request *reqs;
	size_t nreqs, capreqs;
};

struct conn {
	struct fakeapp *fa;
	int fd;
};

/* ---- requests ------------------------------------------------------------ */

static void request_free(struct fakeapp_request *r)
{
	free(r->target);
	free(r->path);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static void request_copy(struct fakeapp_request *dst, const struct fakeapp_request *src)
{
	*dst = *src;
	dst->target = xstrdup(src->target);
	dst->path = xstrdup(src->path);
	dst->headers = src->nheaders ? xcalloc(src->nheaders, sizeof(*dst->headers)) : NULL;
	for (size_t i = 0; i < src->nheaders; i++) {
		dst->headers[i].name = xstrdup(src->headers[i].name);
		dst->headers[i].value = xstrdup(src->headers[i].value);
	}
	dst->body = xmalloc(src->body_len + 1);
	memcpy(dst->body, src->body, src->body_len);
	dst->body[src->body_len] = '\0';
}

void fakeapp_requests_free(struct fakeapp_request *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		request_free(&r[i]);
	free(r);
}

const char *fakeapp_header(const struct fakeapp_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static int path_is(const struct fakeapp_request *r, const char *path)
{
	return path == NULL || strcmp(r->path, path) == 0;
}

/* ---- socket I/O ---------------------------------------------------------- */

static int send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, data, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* Sends a whole response; failures (the client went away) are ignored,
 * as a real server would. */
static void respond(int fd, int status, const char *content_type, const char *body)
{
	size_t blen = body ? strlen(body) : 0;
	char *head;
	if (content_type)
		head = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n", status, reason(status), content_type, blen);
	else
		head = xasprintf("HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			status, reason(status), blen);
	if (send_all(fd, head, strlen(head)) == 0 && blen > 0)
		send_all(fd, body, blen);
	free(head);
}

/* Reads until the end of the headers.  Returns the head's length
 * (through the blank line), 0 when the client closed or timed out, -1
 * when the head is too large.  buf holds *got bytes afterwards (part of
 * the body may follow the head). */
static long read_head(int fd, char *buf, size_t cap, size_t *got)
{
	*got = 0;
	for (;;) {
		char *end;
		ssize_t r;
		buf[*got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			return (long)(end - buf) + 4;
		if (*got + 1 >= cap)
			return -1;
		r = recv(fd, buf + *got, cap - 1 - *got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		*got += (size_t)r;
	}
}

static char *trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Parses the request line and headers of head (NUL-terminated, CRLF
 * lines) into r.  Returns 0, or an HTTP status to answer with. */
static int parse_head(char *head, struct fakeapp_request *r)
{
	char *line, *save = NULL, *sp1, *sp2, *q;

	line = strtok_r(head, "\n", &save);
	if (line == NULL)
		return 400;
	line = trim(line);
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || (size_t)(sp1 - line) >= sizeof(r->method) ||
		strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp1[1] != '/')
		return 400;
	memcpy(r->method, line, (size_t)(sp1 - line));
	r->method[sp1 - line] = '\0';
	r->target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	q = strchr(r->target, '?');
	r->path = q ? xstrndup(r->target, (size_t)(q - r->target)) : xstrdup(r->target);
	r->headers = xcalloc(FA_MAX_HEADERS, sizeof(*r->headers));
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		char *colon;
		line = trim(line);
		if (*line == '\0')
			break;
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			return 400;
		if (r->nheaders == FA_MAX_HEADERS)
			return 431;
		*colon = '\0';
		r->headers[r->nheaders].name = xstrdup(trim(line));
		r->headers[r->nheaders].value = xstrdup(trim(colon + 1));
		r->nheaders++;
	}
	return 0;
}

/* Reads the body (Content-Length only) after the head.  Returns 0, or an
 * HTTP status to answer with (-1: the client went away). */
static int read_body(int fd, struct fakeapp_request *r, const char *already, size_t nalready)
{
	const char *cl = fakeapp_header(r, "Content-Length");
	const char *te = fakeapp_header(r, "Transfer-Encoding");
	const char *expect = fakeapp_header(r, "Expect");
	unsigned long long want = 0;
	char *end;

	if (te && strcasecmp(te, "identity") != 0)
		return 501;
	if (cl) {
		errno = 0;
		want = strtoull(cl, &end, 10);
		if (errno || end == cl || *end != '\0')
			return 400;
		if (want > FA_MAX_BODY)
			return 413;
	}
	if (nalready > want)
		return 400; /* a second request on this connection, or garbage */
	r->body = xmalloc((size_t)want + 1);
	memcpy(r->body, already, nalready);
	r->body_len = nalready;
	if (expect && strcasecmp(expect, "100-continue") == 0 && nalready < want &&
		send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
		return -1;
	while (r->body_len < want) {
		ssize_t n = recv(fd, r->body + r->body_len, (size_t)want - r->body_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		r->body_len += (size_t)n;
	}
	r->body[r->body_len] = '\0';
	return 0;
}

/* ---- connections ----------------------------------------------------------- */

/* Records r (taking it over) and copies out what its path serves.
 * Returns 1 when a route matched, 0 when none did, -1 when the record
 * is full. */
static int record_and_route(struct fakeapp *fa, struct fakeapp_request *r, struct route *out)
{
	int found = 0;
	pthread_mutex_lock(&fa->lock);
	if (fa->nreqs == FA_MAX_REQUESTS) {
		pthread_mutex_unlock(&fa->lock);
		return -1;
	}
	if (fa->nreqs == fa->capreqs) {
		fa->capreqs = fa->capreqs ? fa->capreqs * 2 : 64;
		fa->reqs = xrealloc(fa->reqs, fa->capreqs * sizeof(*fa->reqs));
	}
	fa->reqs[fa->nreqs++] = *r;
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < fa->nroutes; i++) {
		if (strcmp(fa->routes[i].path, fa->reqs[fa->nreqs - 1].path) != 0)
			continue;
		out->status = fa->routes[i].status;
		out->content_type = fa->routes[i].content_type ? xstrdup(fa->routes[i].content_type) : NULL;
		out->body = xstrdup(fa->routes[i].body);
		out->delay_ms = fa->routes[i].delay_ms;
		found = 1;
		break;
	}
	pthread_cond_broadcast(&fa->changed);
	pthread_mutex_unlock(&fa->lock);
	return found;
}

/* Sleeps ms in short slices; returns early when the server stops. */
static void delay(struct fakeapp *fa, long ms)
{
	long long until = util_now_ms() + ms;
	for (;;) {
		long long left = until - util_now_ms();
		int stop;
		pthread_mutex_lock(&fa->lock);
		stop = fa->stopping;
		pthread_mutex_unlock(&fa->lock);
		if (stop || left <= 0)
			return;
		poll(NULL, 0, (int)(left < FA_SLICE_MS ? left : FA_SLICE_MS));
	}
}

/* One connection: read one request, record it, answer, close. */
static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct fakeapp *fa = c->fa;
	struct fakeapp_request r;
	struct route rt = { NULL, 0, NULL, NULL, 0 };
	char *buf = xmalloc(FA_MAX_HEAD + 1);
	size_t got;
	long head_len;
	int st, routed;

	memset(&r, 0, sizeof(r));
	head_len = read_head(c->fd, buf, FA_MAX_HEAD + 1, &got);
	if (head_len == 0)
		goto out;
	if (head_len < 0) {
		respond(c->fd, 431, "text/plain", "request head too large\n");
		goto out;
	}
	r.at_ms = util_now_ms();
	buf[head_len - 2] = '\0'; /* keep one CRLF: the last header line ends */
	st = parse_head(buf, &r);
	if (st == 0)
		st = read_body(c->fd, &r, buf + head_len, got - (size_t)head_len);
	if (st < 0)
		goto out;
	if (st > 0) {
		respond(c->fd, st, "text/plain", "bad request\n");
		goto out;
	}
	routed = record_and_route(fa, &r, &rt);
	if (routed < 0) {
		respond(c->fd, 503, "text/plain", "fakeapp: too many requests recorded\n");
		goto out;
	}
	if (routed == 0) {
		respond(c->fd, 404, "text/plain", "fakeapp: nothing is served at this path\n");
		goto out;
	}
	if (rt.delay_ms > 0)
		delay(fa, rt.delay_ms);
	respond(c->fd, rt.status, rt.content_type, rt.body);
out:
	request_free(&r);
	free(rt.content_type);
	free(rt.body);
	free(buf);
	close(c->fd);
	pthread_mutex_lock(&fa->lock);
	fa->active--;
	pthread_cond_broadcast(&fa->changed);
	pthread_mutex_unlock(&fa->lock);
	free(c);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct fakeapp *fa = arg;
	struct timeval tv = { FA_IO_TIMEOUT_S, 0 };

	for (;;) {
		int fd = accept(fa->fd, NULL, NULL), stop;
		struct conn *c;
		pthread_t t;
		pthread_attr_t attr;

		pthread_mutex_lock(&fa->lock);
		stop = fa->stopping;
		pthread_mutex_unlock(&fa->lock);
		if (stop) {
			if (fd >= 0)
				close(fd);
			break;
		}
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
				poll(NULL, 0, 10);
				continue;
			}
			break;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		c = xmalloc(sizeof(*c));
		c->fa = fa;
		c->fd = fd;
		pthread_mutex_lock(&fa->lock);
		fa->active++;
		pthread_mutex_unlock(&fa->lock);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, conn_main, c) != 0) {
			close(fd);
			free(c);
			pthread_mutex_lock(&fa->lock);
			fa->active--;
			pthread_mutex_unlock(&fa->lock);
		}
		pthread_attr_destroy(&attr);
	}
	return NULL;
}

/* ---- the server ------------------------------------------------------------ */

int fakeapp_start(struct fakeapp **out, char *err, size_t errlen)
{
	struct fakeapp *fa = xcalloc(1, sizeof(*fa));
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1;

	*out = NULL;
	fa->fd = -1;
	pthread_mutex_init(&fa->lock, NULL);
	pthread_cond_init(&fa->changed, NULL);
	fa->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fa->fd < 0) {
		snprintf(err, errlen, "fakeapp: socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fa->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind(fa->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fa->fd, 128) < 0 ||
		getsockname(fa->fd, (struct sockaddr *)&sa, &len) < 0) {
		snprintf(err, errlen, "fakeapp: cannot listen on 127.0.0.1: %s", strerror(errno));
		goto fail;
	}
	snprintf(fa->url, sizeof(fa->url), "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	if (pthread_create(&fa->acceptor, NULL, accept_main, fa) != 0) {
		snprintf(err, errlen, "fakeapp: cannot start its thread");
		goto fail;
	}
	fa->acceptor_started = 1;
	*out = fa;
	return 0;
fail:
	fakeapp_stop(fa);
	return -1;
}

void fakeapp_stop(struct fakeapp *fa)
{
	if (fa == NULL)
		return;
	pthread_mutex_lock(&fa->lock);
	fa->stopping = 1;
	pthread_mutex_unlock(&fa->lock);
	if (fa->fd >= 0)
		shutdown(fa->fd, SHUT_RDWR); /* wakes accept() */
	if (fa->acceptor_started)
		pthread_join(fa->acceptor, NULL);
	pthread_mutex_lock(&fa->lock);
	while (fa->active > 0)
		pthread_cond_wait(&fa->changed, &fa->lock);
	pthread_mutex_unlock(&fa->lock);
	if (fa->fd >= 0)
		close(fa->fd);
	for (size_t i = 0; i < fa->nroutes; i++) {
		free(fa->routes[i].path);
		free(fa->routes[i].content_type);
		free(fa->routes[i].body);
	}
	free(fa->routes);
	for (size_t i = 0; i < fa->nreqs; i++)
		request_free(&fa->reqs[i]);
	free(fa->reqs);
	pthread_cond_destroy(&fa->changed);
	pthread_mutex_destroy(&fa->lock);
	free(fa);
}

const char *fakeapp_url(const struct fakeapp *fa)
{
	return fa->url;
}

int fakeapp_serve(struct fakeapp *fa, const char *path, int status, const char *content_type,
	const char *body, long delay_ms)
{
	struct route *rt = NULL;

	if (path == NULL || path[0] != '/' || strchr(path, '?') || status < 100 || status > 599 ||
		delay_ms < 0)
		return -1;
	pthread_mutex_lock(&fa->lock);
	for (size_t i = 0; i < fa->nroutes; i++)
		if (strcmp(fa->routes[i].path, path) == 0)
			rt = &fa->routes[i];
	if (rt == NULL) {
		fa->routes = xrealloc(fa->routes, (fa->nroutes + 1) * sizeof(*fa->routes));
		rt = &fa->routes[fa->nroutes++];
		rt->path = xstrdup(path);
	} else {
		free(rt->content_type);
		free(rt->body);
	}
	rt->status = status;
	rt->content_type = content_type ? xstrdup(content_type) : NULL;
	rt->body = xstrdup(body ? body : "");
	rt->delay_ms = delay_ms;
	pthread_mutex_unlock(&fa->lock);
	return 0;
}

/* Called with the lock held. */
static size_t count_locked(const struct fakeapp *fa, const char *path)
{
	size_t n = 0;
	for (size_t i = 0; i < fa->nreqs; i++)
		if (path_is(&fa->reqs[i], path))
			n++;
	return n;
}

size_t fakeapp_count(struct fakeapp *fa, const char *path)
{
	size_t n;
	pthread_mutex_lock(&fa->lock);
	n = count_locked(fa, path);
	pthread_mutex_unlock(&fa->lock);
	return n;
}

size_t fakeapp_wait(struct fakeapp *fa, const char *path, size_t n, long timeout_ms)
{
	struct timespec until;
	size_t have;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fa->lock);
	while ((have = count_locked(fa, path)) < n) {
		if (pthread_cond_timedwait(&fa->changed, &fa->lock, &until) == ETIMEDOUT) {
			have = count_locked(fa, path);
			break;
		}
	}
	pthread_mutex_unlock(&fa->lock);
	return have;
}

size_t fakeapp_requests(struct fakeapp *fa, const char *path, struct fakeapp_request **out)
{
	size_t n = 0;
	pthread_mutex_lock(&fa->lock);
	*out = NULL;
	n = count_locked(fa, path);
	if (n > 0) {
		size_t k = 0;
		*out = xcalloc(n, sizeof(**out));
		for (size_t i = 0; i < fa->nreqs; i++)
			if (path_is(&fa->reqs[i], path))
				request_copy(&(*out)[k++], &fa->reqs[i]);
	}
	pthread_mutex_unlock(&fa->lock);
	return n;
}
