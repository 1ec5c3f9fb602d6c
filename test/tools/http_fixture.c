/* http-fixture: the calendar feed server of the tests.
 *
 *   http-fixture --port PORT --dir DIR [--listen 127.0.0.1]
 *   http-fixture --fd N --dir DIR        (an already listening socket)
 *
 * HTTP/1.1, one request per connection (Connection: close), one child
 * process per connection, so a slow answer blocks no other request.
 *
 *   GET /<file>        DIR/<file>, read at each request (a test changes a
 *                      feed by rewriting its file; write it under another
 *                      name and rename it into place), with an ETag
 *                      ("<size>-<mtime in ns>") and Last-Modified; 304 to
 *                      a matching If-None-Match, or to If-Modified-Since
 *                      not older than the file when there is no
 *                      If-None-Match.  .ics files are text/calendar, .txt
 *                      text/plain, others application/octet-stream.  404
 *                      when missing, 400 for a path with "..".
 *   GET /status/NNN    that status (100-599 except 1xx/204/304: 200 body)
 *   GET /slow          sleeps 30 s, then a small calendar
 *   GET /loop          302 to itself
 *   GET /redirect/<p>  302 to /<p> (so /redirect/redirect/x is two hops)
 *   GET /absolute/<p>  302 to http://127.0.0.1:PORT/<p> (an absolute Location)
 *   GET /huge          a 50 MB calendar-looking body, streamed without
 *                      Content-Length (read until the connection closes)
 *   GET /huge-length   the same with Content-Length
 *   GET /html          a text/html sign-in page
 *   GET /latin1-validators  a small calendar whose ETag and Last-Modified
 *                      hold a Latin-1 byte (obs-text: legal HTTP, not UTF-8)
 *   GET /_count?path=/x  how many requests /x had (text/plain, "N\n");
 *                      /_count itself is not counted
 *
 * Only GET and HEAD.  Counting lives in memory shared by the children
 * (at most 256 paths).  A child dies with the server (SIGKILL), so
 * stopping the server leaves no /slow answer behind. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUEST 16384
#define MAX_PATHS 256
#define HUGE_BYTES (50L * 1024 * 1024)
#define SLOW_S 30

struct counter {
	char path[240];
	long count;
};

struct shared {
	int lock;
	struct counter c[MAX_PATHS];
};

static struct shared *shared;
static const char *dir;
static int port;

static void lock(void)
{
	while (__atomic_exchange_n(&shared->lock, 1, __ATOMIC_ACQUIRE))
		usleep(100);
}

static void unlock(void)
{
	__atomic_store_n(&shared->lock, 0, __ATOMIC_RELEASE);
}

static void count(const char *path)
{
	lock();
	for (int i = 0; i < MAX_PATHS; i++) {
		if (shared->c[i].path[0] == '\0') {
			size_t n = strnlen(path, sizeof shared->c[i].path - 1);
			memcpy(shared->c[i].path, path, n);
			shared->c[i].path[n] = '\0';
			shared->c[i].count = 1;
			break;
		}
		if (strcmp(shared->c[i].path, path) == 0) {
			shared->c[i].count++;
			break;
		}
	}
	unlock();
}

static long counted(const char *path)
{
	long n = 0;
	lock();
	for (int i = 0; i < MAX_PATHS && shared->c[i].path[0]; i++)
		if (strcmp(shared->c[i].path, path) == 0)
			n = shared->c[i].count;
	unlock();
	return n;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* Writes a whole response; extra holds header lines ending in CRLF. */
static void respond(int fd, int head_only, int status, const char *type, const char *extra,
	const char *body, size_t len)
{
	char h[2048];
	int n = snprintf(h, sizeof h,
		"HTTP/1.1 %d %s\r\nConnection: close\r\n%s%s%s%sContent-Length: %zu\r\n\r\n",
		status, reason(status), type ? "Content-Type: " : "", type ? type : "",
		type ? "\r\n" : "", extra ? extra : "", len);
	if (n < 0 || (size_t)n >= sizeof h || write_all(fd, h, (size_t)n) < 0)
		return;
	if (!head_only && len > 0)
		write_all(fd, body, len);
}

static const char small_ics[] =
	"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ringfence//http-fixture//EN\r\n"
	"END:VCALENDAR\r\n";

/* The value of header name in the request headers (case-insensitive),
 * copied into out; 0 when absent. */
static int header(const char *req, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(req, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
		const char *l = p + 2, *e;
		if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			l += nl + 1;
			while (*l == ' ' || *l == '\t')
				l++;
			e = strstr(l, "\r\n");
			if (e == NULL)
				e = l + strlen(l);
			while (e > l && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			snprintf(out, outlen, "%.*s", (int)(e - l), l);
			return 1;
		}
	}
	return 0;
}

static void http_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void serve_file(int fd, int head_only, const char *req, const char *path)
{
	char file[4096], etag[128], lm[64], inm[512], ims[128], extra[512];
	struct stat st;
	const char *type = "application/octet-stream";
	size_t plen = strlen(path);
	char *body;
	int f;

	if (strstr(path, "..") != NULL || path[1] == '\0') {
		respond(fd, head_only, 400, "text/plain", NULL, "bad path\n", 9);
		return;
	}
	snprintf(file, sizeof file, "%s%s", dir, path);
	if ((f = open(file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (f >= 0)
			close(f);
		respond(fd, head_only, 404, "text/plain", NULL, "not found\n", 10);
		return;
	}
	snprintf(etag, sizeof etag, "\"%lld-%lld%09ld\"", (long long)st.st_size,
		(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	http_date(st.st_mtim.tv_sec, lm, sizeof lm);
	if (plen > 4 && strcmp(path + plen - 4, ".ics") == 0)
		type = "text/calendar; charset=utf-8";
	else if (plen > 4 && strcmp(path + plen - 4, ".txt") == 0)
		type = "text/plain; charset=utf-8";
	snprintf(extra, sizeof extra, "ETag: %s\r\nLast-Modified: %s\r\n", etag, lm);
	if (header(req, "If-None-Match", inm, sizeof inm)) {
		if (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0) {
			close(f);
			respond(fd, 1, 304, NULL, extra, NULL, 0);
			return;
		}
	} else if (header(req, "If-Modified-Since", ims, sizeof ims)) {
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		if (strptime(ims, "%a, %d %b %Y %H:%M:%S GMT", &tm) != NULL &&
			timegm(&tm) >= st.st_mtim.tv_sec) {
			close(f);
			respond(fd, 1, 304, NULL, extra, NULL, 0);
			return;
		}
	}
	body = malloc((size_t)st.st_size + 1);
	if (body == NULL || read(f, body, (size_t)st.st_size) != st.st_size) {
		free(body);
		close(f);
		respond(fd, head_only, 500, "text/plain", NULL, "cannot read\n", 12);
		return;
	}
	close(f);
	respond(fd, head_only, 200, type, extra, body, (size_t)st.st_size);
	free(body);
}

static void serve_huge(int fd, int head_only, int with_length)
{
	static const char ev[] =
		"BEGIN:VEVENT\r\nUID:huge@ringfence.test\r\nDTSTART:20261208T100000Z\r\n"
		"SUMMARY:padding padding padding padding padding padding padding\r\nEND:VEVENT\r\n";
	char h[256], block[64 * 1024];
	size_t fill = 0, sent = 0;
	int n;
	if (with_length)
		n = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
			"Content-Type: text/calendar\r\nContent-Length: %ld\r\n\r\n", HUGE_BYTES);
	else
		n = snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nConnection: close\r\n"
			"Content-Type: text/calendar\r\n\r\n");
	if (write_all(fd, h, (size_t)n) < 0 || head_only)
		return;
	while (fill + sizeof ev - 1 <= sizeof block) {
		memcpy(block + fill, ev, sizeof ev - 1);
		fill += sizeof ev - 1;
	}
	memcpy(block, "BEGIN:VCALENDAR\r\n", 17);
	while (sent < (size_t)HUGE_BYTES) {
		size_t k = (size_t)HUGE_BYTES - sent < fill ? (size_t)HUGE_BYTES - sent : fill;
		if (write_all(fd, block, k) < 0)
			return; /* the client stopped reading: that is the point */
		sent += k;
	}
}

static void handle(int fd)
{
	char req[MAX_REQUEST + 1], method[16], target[2048], extra[512];
	size_t len = 0;
	char *path;
	int head_only;

	while (len < MAX_REQUEST) {
		ssize_t r = read(fd, req + len, MAX_REQUEST - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		len += (size_t)r;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	req[len] = '\0';
	if (sscanf(req, "%15s %2047s", method, target) != 2) {
		respond(fd, 0, 400, "text/plain", NULL, "bad request\n", 12);
		return;
	}
	head_only = strcmp(method, "HEAD") == 0;
	if (!head_only && strcmp(method, "GET") != 0) {
		respond(fd, 0, 405, "text/plain", "Allow: GET, HEAD\r\n", "GET only\n", 9);
		return;
	}
	path = target;
	if (strncmp(path, "/_count?path=", 13) == 0) {
		char out[32];
		int n = snprintf(out, sizeof out, "%ld\n", counted(path + 13));
		respond(fd, head_only, 200, "text/plain", NULL, out, (size_t)n);
		return;
	}
	{
		char *q = strchr(path, '?');
		if (q != NULL)
			*q = '\0';
	}
	count(path);
	if (strncmp(path, "/status/", 8) == 0) {
		int st = atoi(path + 8);
		if (st < 200 || st > 599 || st == 204 || st == 304)
			st = 200;
		respond(fd, head_only, st, "text/plain", NULL, "status\n", 7);
	} else if (strcmp(path, "/slow") == 0) {
		sleep(SLOW_S);
		respond(fd, head_only, 200, "text/calendar", NULL, small_ics, sizeof small_ics - 1);
	} else if (strcmp(path, "/loop") == 0) {
		respond(fd, head_only, 302, "text/plain", "Location: /loop\r\n", "moved\n", 6);
	} else if (strncmp(path, "/redirect/", 10) == 0) {
		snprintf(extra, sizeof extra, "Location: /%.400s\r\n", path + 10);
		respond(fd, head_only, 302, "text/plain", extra, "moved\n", 6);
	} else if (strncmp(path, "/absolute/", 10) == 0) {
		snprintf(extra, sizeof extra, "Location: http://127.0.0.1:%d/%.400s\r\n", port,
			path + 10);
		respond(fd, head_only, 302, "text/plain", extra, "moved\n", 6);
	} else if (strcmp(path, "/huge") == 0 || strcmp(path, "/huge-length") == 0) {
		serve_huge(fd, head_only, strcmp(path, "/huge-length") == 0);
	} else if (strcmp(path, "/latin1-validators") == 0) {
		respond(fd, head_only, 200, "text/calendar",
			"ETag: \"caf\xe9\"\r\nLast-Modified: Mon, 07 D\xe9" "c 2026 10:00:00 GMT\r\n",
			small_ics, sizeof small_ics - 1);
	} else if (strcmp(path, "/html") == 0) {
		static const char page[] = "<!DOCTYPE html><html><head><title>Sign in</title></head>"
			"<body><form>Sign in to see this calendar</form></body></html>\n";
		respond(fd, head_only, 200, "text/html; charset=utf-8", NULL, page, sizeof page - 1);
	} else {
		serve_file(fd, head_only, req, path);
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: http-fixture (--port PORT [--listen ADDRESS] | --fd N) --dir DIR\n");
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	const char *listen_addr = "127.0.0.1";
	long p = 0, lfd = -1;
	struct sigaction sa;

	for (int i = 1; i < argc; i++) {
		char *end;
		if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			p = strtol(argv[++i], &end, 10);
			if (*end || p < 1 || p > 65535) {
				fprintf(stderr, "http-fixture: --port must be 1 to 65535\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
			lfd = strtol(argv[++i], &end, 10);
			if (*end || lfd < 0) {
				fprintf(stderr, "http-fixture: --fd must be a file descriptor\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			dir = argv[++i];
		} else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen_addr = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if ((p == 0) == (lfd < 0) || dir == NULL) {
		usage(stderr);
		return 2;
	}
	if (lfd < 0) {
		struct sockaddr_in in;
		int one = 1;
		memset(&in, 0, sizeof in);
		in.sin_family = AF_INET;
		in.sin_port = htons((unsigned short)p);
		if (inet_pton(AF_INET, listen_addr, &in.sin_addr) != 1) {
			fprintf(stderr, "http-fixture: --listen must be an IPv4 address\n");
			return 2;
		}
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0 || setsockopt((int)lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
			bind((int)lfd, (struct sockaddr *)&in, sizeof in) < 0 || listen((int)lfd, 64) < 0) {
			fprintf(stderr, "http-fixture: cannot listen on %s:%ld: %s\n", listen_addr, p,
				strerror(errno));
			return 1;
		}
		port = (int)p;
	} else {
		struct sockaddr_in in;
		socklen_t sl = sizeof in;
		if (getsockname((int)lfd, (struct sockaddr *)&in, &sl) < 0 || listen((int)lfd, 64) < 0) {
			fprintf(stderr, "http-fixture: --fd %ld is not a socket: %s\n", lfd, strerror(errno));
			return 1;
		}
		port = ntohs(in.sin_port);
	}
	shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		fprintf(stderr, "http-fixture: mmap: %s\n", strerror(errno));
		return 1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "http-fixture: listening on port %d, serving %s\n", port, dir);
	for (;;) {
		int fd = accept4((int)lfd, NULL, NULL, SOCK_CLOEXEC);
		pid_t pid;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "http-fixture: accept: %s\n", strerror(errno));
			return 1;
		}
		pid = fork();
		if (pid == 0) {
			/* a slow answer does not outlive the server */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			close((int)lfd);
			handle(fd);
			shutdown(fd, SHUT_WR);
			close(fd);
			_exit(0);
		}
		close(fd);
	}
}
