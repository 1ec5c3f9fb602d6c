/* smtp-sink: a local SMTP server for tests and `make run` that delivers
 * nothing: every message it accepts is written to DIR/<n>.eml.
 *
 *   smtp-sink --port PORT --dir DIR [--listen 127.0.0.1]
 *
 * Speaks enough SMTP for libcurl and ordinary clients: EHLO/HELO, MAIL
 * FROM, RCPT TO, DATA (dot-unstuffed), RSET, NOOP, QUIT.  One child
 * process per connection.  A message file is written under a temporary
 * name and renamed into place, so a reader never sees half a message;
 * its first line is "X-Envelope: from=<a>; to=<b>, <c>" and the rest is
 * the message as received, CRLF line ends kept.
 *
 * For tests of refusals: a recipient whose local part starts with
 * "reject" is refused with 550 at RCPT TO, one starting with "tempfail"
 * with 451. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SINK_MAX_LINE 4096
#define SINK_MAX_MESSAGE (10 * 1024 * 1024)
#define SINK_MAX_RCPT 100
#define SINK_IDLE_S 60

struct conn {
	int fd;
	char in[SINK_MAX_LINE * 2];
	size_t inlen;
};

static const char *sink_dir;
static volatile sig_atomic_t sink_stop;

static void on_term(int sig)
{
	(void)sig;
	sink_stop = 1;
}

static int reply(struct conn *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n > sizeof(buf) - 3)
		return -1;
	buf[n++] = '\r';
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(c->fd, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (int)w;
	}
	return 0;
}

/* Reads one line (without CRLF or LF) into line.  Returns its length,
 * -1 on EOF or error, -2 when the line is too long (the rest is
 * skipped). */
static long read_line(struct conn *c, char *line, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->in, '\n', c->inlen);
		if (nl) {
			size_t n = (size_t)(nl - c->in), used = n + 1;
			long ret;
			if (n > 0 && c->in[n - 1] == '\r')
				n--;
			if (n >= cap) {
				ret = -2;
			} else {
				memcpy(line, c->in, n);
				line[n] = '\0';
				ret = (long)n;
			}
			memmove(c->in, c->in + used, c->inlen - used);
			c->inlen -= used;
			return ret;
		}
		if (c->inlen == sizeof(c->in)) {
			c->inlen = 0; /* an endless line: drop it, report too long */
			return -2;
		}
		ssize_t r = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c->inlen += (size_t)r;
	}
}

/* The address inside "<...>" after a "FROM:" / "TO:" prefix, copied into
 * out; parameters after '>' (SIZE=, BODY=) are ignored.  0 or -1. */
static int parse_path(const char *arg, char *out, size_t cap)
{
	const char *lt, *gt;
	while (*arg == ' ')
		arg++;
	lt = strchr(arg, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	if (lt != arg || gt == NULL || (size_t)(gt - lt - 1) >= cap)
		return -1;
	memcpy(out, lt + 1, (size_t)(gt - lt - 1));
	out[gt - lt - 1] = '\0';
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == '<' || *p == '>' || *p == ',')
			return -1;
	return 0;
}

/* Writes the message atomically as the next free DIR/<n>.eml. */
static int deliver(const char *from, char rcpt[][320], int nrcpt, const char *data, size_t len)
{
	char tmp[4096], dst[4096];
	FILE *f;
	int ok;

	snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%ld.eml", sink_dir, (long)getpid(), (long)time(NULL));
	f = fopen(tmp, "wx");
	if (f == NULL)
		return -1;
	fprintf(f, "X-Envelope: from=<%s>; to=", from);
	for (int i = 0; i < nrcpt; i++)
		fprintf(f, "%s<%s>", i ? ", " : "", rcpt[i]);
	fputs("\r\n", f);
	ok = fwrite(data, 1, len, f) == len;
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
	if (fclose(f) != 0 || !ok) {
		unlink(tmp);
		return -1;
	}
	/* link() fails with EEXIST when another child took n: try the next. */
	for (long n = 1; n < 10000000; n++) {
		snprintf(dst, sizeof(dst), "%s/%ld.eml", sink_dir, n);
		if (link(tmp, dst) == 0) {
			unlink(tmp);
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	unlink(tmp);
	return -1;
}

static void session(int fd)
{
	struct conn c = { fd, "", 0 };
	char line[SINK_MAX_LINE], from[320] = "", rcpt[SINK_MAX_RCPT][320];
	int nrcpt = 0, have_from = 0, greeted = 0;

	alarm(SINK_IDLE_S);
	if (reply(&c, "220 smtp-sink ESMTP ready") < 0)
		return;
	for (;;) {
		long n = read_line(&c, line, sizeof(line));
		alarm(SINK_IDLE_S);
		if (n == -1)
			return;
		if (n == -2) {
			if (reply(&c, "500 5.5.2 line too long") < 0)
				return;
			continue;
		}
		if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
			greeted = 1;
			have_from = 0;
			nrcpt = 0;
			if (toupper((unsigned char)line[0]) == 'E') {
				if (reply(&c, "250-smtp-sink") < 0 || reply(&c, "250-8BITMIME") < 0 ||
					reply(&c, "250 SIZE %d", SINK_MAX_MESSAGE) < 0)
					return;
			} else if (reply(&c, "250 smtp-sink") < 0) {
				return;
			}
		} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
			if (!greeted) {
				if (reply(&c, "503 5.5.1 EHLO first") < 0)
					return;
			} else if (have_from) {
				if (reply(&c, "503 5.5.1 nested MAIL") < 0)
					return;
			} else if (parse_path(line + 10, from, sizeof(from)) < 0) {
				if (reply(&c, "501 5.1.7 bad sender address") < 0)
					return;
			} else {
				have_from = 1;
				nrcpt = 0;
				if (reply(&c, "250 2.1.0 ok") < 0)
					return;
			}
		} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
			char to[320];
			if (!have_from) {
				if (reply(&c, "503 5.5.1 MAIL first") < 0)
					return;
			} else if (parse_path(line + 8, to, sizeof(to)) < 0 || strchr(to, '@') == NULL) {
				if (reply(&c, "501 5.1.3 bad recipient address") < 0)
					return;
			} else if (strncasecmp(to, "reject", 6) == 0) {
				if (reply(&c, "550 5.1.1 recipient refused") < 0)
					return;
			} else if (strncasecmp(to, "tempfail", 8) == 0) {
				if (reply(&c, "451 4.3.0 try again later") < 0)
					return;
			} else if (nrcpt == SINK_MAX_RCPT) {
				if (reply(&c, "452 4.5.3 too many recipients") < 0)
					return;
			} else {
				snprintf(rcpt[nrcpt++], sizeof(rcpt[0]), "%s", to);
				if (reply(&c, "250 2.1.5 ok") < 0)
					return;
			}
		} else if (strcasecmp(line, "DATA") == 0) {
			char *data = NULL;
			size_t len = 0, cap = 0;
			int too_big = 0;
			if (!have_from || nrcpt == 0) {
				if (reply(&c, "503 5.5.1 need MAIL and RCPT") < 0)
					return;
				continue;
			}
			if (reply(&c, "354 end data with <CR><LF>.<CR><LF>") < 0)
				return;
			for (;;) {
				const char *p = line;
				size_t l;
				n = read_line(&c, line, sizeof(line));
				if (n == -1) {
					free(data);
					return;
				}
				if (n == -2) {
					too_big = 1;
					continue;
				}
				if (strcmp(line, ".") == 0)
					break;
				if (line[0] == '.')
					p++; /* dot-unstuffing */
				l = strlen(p);
				if (len + l + 2 > SINK_MAX_MESSAGE) {
					too_big = 1;
					continue;
				}
				if (len + l + 2 > cap) {
					cap = (len + l + 2) * 2;
					data = realloc(data, cap);
					if (data == NULL)
						return;
				}
				memcpy(data + len, p, l);
				len += l;
				data[len++] = '\r';
				data[len++] = '\n';
			}
			if (too_big) {
				if (reply(&c, "552 5.3.4 message too big or line too long") < 0) {
					free(data);
					return;
				}
			} else if (deliver(from, rcpt, nrcpt, data ? data : "", len) < 0) {
				if (reply(&c, "451 4.3.0 cannot store the message: %s", strerror(errno)) < 0) {
					free(data);
					return;
				}
			} else if (reply(&c, "250 2.0.0 ok: stored") < 0) {
				free(data);
				return;
			}
			free(data);
			have_from = 0;
			nrcpt = 0;
		} else if (strcasecmp(line, "RSET") == 0) {
			have_from = 0;
			nrcpt = 0;
			if (reply(&c, "250 2.0.0 ok") < 0)
				return;
		} else if (strncasecmp(line, "NOOP", 4) == 0) {
			if (reply(&c, "250 2.0.0 ok") < 0)
				return;
		} else if (strcasecmp(line, "QUIT") == 0) {
			reply(&c, "221 2.0.0 bye");
			return;
		} else {
			if (reply(&c, "502 5.5.2 command not implemented") < 0)
				return;
		}
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: smtp-sink --port PORT --dir DIR [--listen ADDRESS]\n"
		     "Accepts SMTP on ADDRESS:PORT (default 127.0.0.1) and writes each message to\n"
		     "DIR/<n>.eml with an X-Envelope first line.  Recipients starting with \"reject\"\n"
		     "get 550, with \"tempfail\" 451.\n");
}

int main(int argc, char **argv)
{
	const char *listen_addr = "127.0.0.1";
	long port = 0;
	struct sockaddr_in sa;
	struct sigaction act;
	struct stat st;
	int lfd, one = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
			char *end;
			port = strtol(argv[++i], &end, 10);
			if (*end || port < 1 || port > 65535) {
				fprintf(stderr, "smtp-sink: --port must be 1 to 65535\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			sink_dir = argv[++i];
		} else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen_addr = argv[++i];
		} else {
			fprintf(stderr, "smtp-sink: unknown or incomplete argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (port == 0 || sink_dir == NULL) {
		usage(stderr);
		return 2;
	}
	if (stat(sink_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "smtp-sink: %s is not a directory\n", sink_dir);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, listen_addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "smtp-sink: --listen must be an IPv4 address\n");
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
		fprintf(stderr, "smtp-sink: cannot listen on %s:%ld: %s\n", listen_addr, port, strerror(errno));
		return 1;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = SIG_IGN;
	act.sa_flags = SA_NOCLDWAIT; /* children reap themselves */
	sigaction(SIGCHLD, &act, NULL);
	act.sa_handler = SIG_IGN;
	act.sa_flags = 0;
	sigaction(SIGPIPE, &act, NULL);
	act.sa_handler = on_term;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	fprintf(stderr, "smtp-sink: listening on %s:%ld, writing to %s\n", listen_addr, port, sink_dir);
	while (!sink_stop) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		pid_t pid;
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "smtp-sink: accept: %s\n", strerror(errno));
			sleep(1);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			close(lfd);
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			session(fd);
			close(fd);
			_exit(0);
		}
		if (pid < 0)
			fprintf(stderr, "smtp-sink: fork: %s\n", strerror(errno));
		close(fd);
	}
	close(lfd);
	return 0;
}
