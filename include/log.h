/* log: one-line diagnostics on stderr, "time level pid: message".
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

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
