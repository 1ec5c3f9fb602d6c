/* log: one-line diagnostics on stderr, "time level pid: message", or
 * "time level pid: [req <id>] message" while a request is served.
 *
 * Logs are for the operator; the audit trail (audit.h) is the record of
 * what happened to calls.  Never log secrets. */
#ifndef RF_LOG_H
#define RF_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Messages below level are dropped (default LOG_INFO; RINGFENCE_LOG=debug,
 * info, warn or error sets it at start: command.c, config_log_level). */
void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The id of the request being served (http_request_read sets it, the
 * FastCGI loop clears it with NULL after the response): every line
 * logged meanwhile carries it, and audit_record adds it to every record.
 * Copied; at most LOG_REQUEST_ID_MAX characters. */
#define LOG_REQUEST_ID_MAX 64
void log_set_request_id(const char *id);
/* The id set, or "" outside a request. */
const char *log_request_id(void);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
