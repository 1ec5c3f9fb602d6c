/* log: one line per message on stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static char request_id[LOG_REQUEST_ID_MAX + 1];

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_set_request_id(const char *id)
{
	size_t n = id ? strnlen(id, LOG_REQUEST_ID_MAX) : 0;
	memcpy(request_id, id ? id : "", n);
	request_id[n] = '\0';
}

const char *log_request_id(void)
{
	return request_id;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	char line[2048];
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	int n;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ %s ringfence[%d]: ", ts,
		now.tv_nsec / 1000000, names[level], (int)getpid());
	if (request_id[0])
		n += snprintf(line + n, sizeof(line) - (size_t)n, "[req %s] ", request_id);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One message is one line: fold embedded newlines. */
	for (char *p = line + n; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	size_t len = strlen(line);
	line[len++] = '\n';
	ssize_t r = write(2, line, len);
	(void)r;
}
