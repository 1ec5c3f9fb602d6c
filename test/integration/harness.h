/* harness: black-box helpers for the integration tests.
 *
 * The tests talk to a running stack only through its public surfaces:
 * HTTP through nginx (libcurl), the database (libpq), Redis (hiredis), the
 * audit fallback file, and deploy/stack for stopping and starting
 * services.  The stack is named entirely by the environment
 * (RINGFENCE_PUBLIC_URL, RINGFENCE_DATABASE_URL, RINGFENCE_REDIS_URL,
 * TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, RINGFENCE_AUDIT_FALLBACK,
 * RINGFENCE_STACK_DIR), so the same binary runs against any deployment.
 *
 * Helpers whose names end in _or_fail report problems with cmocka's
 * fail_msg and must only be called from a test's own thread; every other
 * helper returns an error code and is safe from any thread that owns the
 * objects it is given. */
#ifndef RF_HARNESS_H
#define RF_HARNESS_H

/* SQL: a time zone (Etc/GMT-N) in which it is now about 13:00, inside the
 * business hours (09:00-18:00) that test reminders need, whenever the
 * tests run. */
#define HX_MIDDAY_TZ_SQL \
	"(SELECT 'Etc/GMT' || CASE WHEN n > 0 THEN '-' || n WHEN n < 0 THEN '+' || -n ELSE '' END" \
	" FROM (SELECT 13 - extract(hour FROM now() AT TIME ZONE 'UTC')::int AS n) h)"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <cmocka.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "buf.h"
#include "form.h"
#include "signature.h"

/* ---- environment ---------------------------------------------------- */

struct hx_env {
	const char *public_url;     /* no trailing slash */
	const char *database_url;
	const char *redis_url;
	const char *account_sid;
	const char *auth_token;
	const char *audit_fallback;
	const char *stack_dir;
	char *stack_script;         /* owned: path of deploy/stack */
};

/* Filled by hx_init; read-only afterwards. */
extern struct hx_env hx_env;

/* Reads and checks the environment, initialises libcurl and connects to
 * PostgreSQL and Redis.  Returns 0, or -1 with a one-line reason naming
 * the missing or unusable variable in err. */
int hx_init(char *err, size_t errlen);
void hx_fini(void);

/* The setup and teardown of a group that needs the harness alone:
 * hx_init (its reason on stderr, "# run_integration: ...") and hx_fini. */
int hx_group_setup(void **state);
int hx_group_teardown(void **state);

/* The ringfence binary the tests run: RINGFENCE_BIN, or bin/ringfence
 * when that is unset or empty.  NULL, with a line on stderr naming who
 * (the group), when it is not executable. */
const char *hx_ringfence_bin(const char *who);

/* The stack's SMTP sink folder, RINGFENCE_STACK_DIR/mail (free it).  NULL,
 * with a line on stderr naming who (the group), when the variable is
 * unset or the folder is not readable. */
char *hx_mail_dir(const char *who);

/* hx_init, then the simulator's REST API: TWILIO_API_URL (an http URL)
 * in *api_url and "<api_url>/2010-04-01/Accounts/<account>" in base.
 * Returns 0, or -1 after printing the reason prefixed by who. */
int hx_init_sim_api(const char *who, const char **api_url, char *base, size_t baselen);

/* For a forked child about to exec `ringfence worker`: only allowed
 * (comma-separated) may be contacted, the failsafe floor and the rate are
 * out of a test's way, a sender address for email is set when the
 * environment has none, and no fixed clock or crash point is inherited. */
void hx_worker_child_env(const char *allowed);

/* A dead node's origin, "http://127.0.0.1:PORT": a port of the kernel's
 * choosing, bound and never listened on for the whole run, so a
 * connection there is refused and no other program (another test run on
 * this machine) can take it.  The same for every caller; fails the test
 * when no port can be bound. */
const char *hx_dead_origin(void);

/* Waits up to timeout_s seconds for the child pid: its exit status, 128 +
 * the signal that ended it, or -1 when it ran past the time (it is killed
 * and reaped then). */
int hx_wait_child(pid_t pid, long timeout_s);

/* ---- random identifiers --------------------------------------------- */

/* 2n lowercase hex digits of fresh randomness into out (2n+1 bytes). */
void hx_random_hex(char *out, size_t n);
/* "CA" + 32 hex; out needs 35 bytes. */
void hx_random_call_sid(char out[35]);
/* "SM" + 32 hex; out needs 35 bytes. */
void hx_random_message_sid(char out[35]);
/* A random North American E.164 number, "+1" + 10 digits; out needs 13. */
void hx_random_phone(char out[13]);

/* ---- HTTP ------------------------------------------------------------ */

struct hx_request {
	const char *method;        /* "GET", "POST", or another (PATCH: body sent as given) */
	const char *url;
	const char *body;          /* NULL: no body */
	size_t body_len;
	const char *content_type;  /* NULL with a body: form-encoded */
	const char *signature;     /* X-Twilio-Signature, NULL: none */
	const char *host;          /* Host header override, NULL: from url */
	const char *authorization; /* Authorization header value, NULL: none */
	int chunked;               /* send the body chunked, no Content-Length */
	int expect_continue;       /* send Expect: 100-continue */
	long timeout_ms;           /* 0: 15 s, Twilio's own limit */
};

struct hx_response {
	long status;               /* 0 when no HTTP answer came back */
	char content_type[128];    /* "" when none */
	struct buf body;           /* owned */
	char error[256];           /* transport error, "" when none */
};

/* Performs rq on a fresh or reused handle (curl may be NULL: a temporary
 * handle).  Returns 0 when an HTTP answer came back (any status), -1 on
 * a transport error (reason in rs->error).  rs must be freed with
 * hx_response_free either way. */
int hx_http(void *curl, const struct hx_request *rq, struct hx_response *rs);
void hx_response_free(struct hx_response *rs);

/* GET url (absolute, or a path joined to the public URL). */
int hx_get(const char *url, struct hx_response *rs);

/* ---- the Twilio simulator's API ---------------------------------------- */

/* An answer of the simulator (TWILIO_API_URL). */
struct hx_sim_res {
	long status;               /* 0 when no HTTP answer came back */
	struct buf body;           /* owned */
	json_t *json;              /* the body parsed, NULL when not JSON */
	char error[256];           /* transport error, "" when none */
};

/* GET url (body NULL) or POST the form-encoded body to it, with HTTP Basic
 * credentials user:pass (NULL: the stack's account and token).  url is
 * absolute, or a path joined to TWILIO_API_URL.  Returns 0 when an HTTP
 * answer came back (any status), -1 otherwise (reason in r->error); r
 * must be freed with hx_sim_res_free either way. */
int hx_sim_request(const char *url, const char *user, const char *pass, const char *body,
	struct hx_sim_res *r);
void hx_sim_res_free(struct hx_sim_res *r);

/* Sets how the simulator's callee at number behaves (POST /sim/callees;
 * grammar in include/sim_callee.h); fails the test unless it is taken. */
void hx_sim_callee_or_fail(const char *number, const char *behaviour);
/* GET (form NULL) or POST form on the simulator's url with the stack's
 * credentials; the JSON answer (caller decrefs).  Fails the test on an
 * error, an HTTP status of 400 or more, or an answer that is not JSON. */
json_t *hx_sim_json_or_fail(const char *url, const char *form);
/* The "messages" array of the simulator's list of the stack account's
 * messages to phone (E.164; the first page of 100), as a new reference
 * (caller decrefs).  Fails the test as hx_sim_json_or_fail does, or when
 * the answer holds no such array. */
json_t *hx_sim_messages_to_or_fail(const char *phone);

/* ---- forms and signatures ------------------------------------------- */

/* A form being built, in insertion order; owns its strings. */
struct arena;
struct hx_form {
	struct params p;
	size_t cap;
	struct arena *arena;  /* owns every name and value */
};

void hx_form_init(struct hx_form *f);
void hx_form_free(struct hx_form *f);
void hx_form_add(struct hx_form *f, const char *name, const char *value);
/* Replaces every value of name with value (adds it when absent). */
void hx_form_set(struct hx_form *f, const char *name, const char *value);
/* Removes every occurrence of name. */
void hx_form_del(struct hx_form *f, const char *name);
/* Initialises f with the fields Twilio posts to the inbound SMS webhook
 * for the text sid (its MessageSid) from from to to saying body (NULL:
 * no Body field at all); the caller adds any more and hx_form_frees it. */
void hx_sms_form(struct hx_form *f, const char *sid, const char *from, const char *to,
	const char *body);
/* application/x-www-form-urlencoded text of f (caller frees). */
char *hx_form_encode(const struct hx_form *f);

/* The fields Twilio sends on an outbound call's voice webhook. */
void hx_form_voice(struct hx_form *f, const char *call_sid, const char *from,
	const char *to);

/* X-Twilio-Signature for url and f (f NULL: URL alone) with the stack's
 * auth token (or key when not NULL).  0 or -1. */
int hx_sign(const char *key, const char *url, const struct hx_form *f,
	char out[SIGNATURE_LEN + 1]);

/* Lowercase hex SHA-256 of data (what Twilio puts in bodySHA256). */
void hx_sha256_hex(const void *data, size_t len, char out[65]);

enum hx_sign_mode {
	HX_SIGNED,      /* correct signature */
	HX_BAD_SIG,     /* a well-formed signature that does not match */
	HX_NO_SIG,      /* no header */
};

/* POSTs f form-encoded to url, signed according to mode.  Returns like
 * hx_http. */
int hx_post_form(const char *url, const struct hx_form *f, enum hx_sign_mode mode,
	struct hx_response *rs);

/* ---- TwiML ------------------------------------------------------------ */

struct hx_twiml {
	int well_formed;        /* parsed as XML */
	int root_response;      /* root element is <Response> */
	int has_gather;
	int gather_count;
	int ends_with_hangup;   /* last top-level element is Hangup or Reject */
	char *gather_action;    /* first Gather's action, entities decoded; malloc'd */
	char *gather_method;
	char *gather_on_empty;  /* actionOnEmptyResult */
	char **says;            /* text of every Say, document order */
	size_t nsay;
	char **plays;           /* URL of every Play, document order */
	size_t nplay;
	struct buf say_text;    /* every Say joined by "\n" */
	char **verbs;           /* top-level element names, in order */
	size_t nverbs;
	char *redirect;         /* the top-level Redirect's URL, entities decoded; malloc'd */
	char *redirect_method;
	int pause_length;       /* the first top-level Pause's length= (-1: none given) */
};

/* Parses body into t (always initialised; free with hx_twiml_free). */
void hx_twiml_parse(const char *body, size_t len, struct hx_twiml *t);
void hx_twiml_free(struct hx_twiml *t);
/* The hold document (engine.h's ENGINE_HOLD_MAX): body must be "One
 * moment, please." played from /audio/hold/, a Pause of seconds, then a
 * Redirect by POST to want_url exactly; fails the test otherwise. */
void hx_expect_hold(const char *body, size_t len, const char *want_url, int seconds,
	const char *what);
/* Whether any Say mentions needle, ASCII case-insensitively. */
int hx_twiml_says(const struct hx_twiml *t, const char *needle);

/* ---- PostgreSQL --------------------------------------------------------- */

/* Runs sql with text parameters on the harness's own connection
 * (reconnecting once if the connection went bad).  Returns the result
 * (caller PQclear()s) or NULL with the reason in err. */
PGresult *hx_db_exec(const char *sql, int n, const char *const *params, char *err, size_t errlen);

/* The first column of the first row as a new string, or NULL for no row
 * or SQL NULL.  Fails the test on a database error. */
char *hx_db_value_or_fail(const char *sql, int n, const char *const *params);
/* The first column of the first row as an integer (fails the test when
 * there is no row). */
long long hx_db_int_or_fail(const char *sql, int n, const char *const *params);

/* hx_db_exec that fails the test, naming the SQL, on a database error;
 * the caller PQclear()s the result. */
PGresult *hx_db_exec_or_fail(const char *sql, int n, const char *const *params);
/* The same for a statement whose result is not needed. */
void hx_db_cmd_or_fail(const char *sql, int n, const char *const *params);

/* A new API key of business_id labelled label, made as the dashboard
 * makes one (apikey_create): the key itself (free it). */
char *hx_api_key_or_fail(long long business_id, const char *label);

/* One reminder's fixture rows for the worker's groups: a business open all
 * day in UTC sending from +15005550006, a client with a fresh phone (and
 * a fresh email unless email_prefix is NULL), an appointment tomorrow and
 * one reminder on channel due a minute ago, addressed to the email for
 * channel "email" and to the phone otherwise. */
struct hx_rfix_opts {
	const char *business_name;
	const char *client_name;
	const char *channel;        /* "voice", "sms" or "email" */
	const char *email_prefix;   /* the email is <prefix><8 hex>@example.com; NULL: none */
	const char *notes;          /* the appointment's notes; NULL: none */
	int retry_count;
	int retry_delay_minutes;
	int stale_min;              /* the reminder is stale this many minutes from now */
};

struct hx_rfix {
	char business[24], client[24], appt[24], reminder[24];
	char phone[13];
	char email[64];             /* "" without email */
};

/* Creates the rows in one statement; fails the test on a database error. */
void hx_rfix_or_fail(struct hx_rfix *f, const struct hx_rfix_opts *o);

/* A fixture reminder's state: its status and reason, whether it is
 * deferred, its attempt count and the attempt's status and sid ("" when
 * none). */
struct hx_rstate {
	char reminder[32];
	char reason[400];
	int not_before_set;
	long long attempts;
	char attempt[32];
	char sid[64];
};
void hx_rstate_or_fail(const struct hx_rfix *f, struct hx_rstate *s);

/* In a forked child whose environment is set: the common test worker
 * settings (failsafe floor unless already set by the caller, a fast
 * pacer, the real clock), then execs `bin worker ARGS...` (at most 13
 * args).  Never returns (exit 127 when the exec fails). */
void hx_exec_worker(const char *bin, const char *const *args);

/* One reminder call's fixture rows: a business, a client, an appointment
 * with pending reminders, and a call in the flow's start state. */
struct hx_call {
	char business_id[24];
	char client_id[24];
	char appointment_id[24];
	char call_id[24];
	char token[33];
	char call_sid[35];          /* the CallSid the tests will send */
	char business_name[96];
	char callback_phone[16];
	char client_phone[16];
	char from_number[16];       /* the business's Twilio number */
	char first_url[512];        /* the first webhook's URL */
	int nreminders_pending;     /* pending reminders created */
};

/* Creates the rows for a new call; fails the test on a database error. */
void hx_fixture_call_or_fail(struct hx_call *c);

/* What the database says about a call and its appointment. */
struct hx_snapshot {
	char state[72];
	long long seq;
	long long events;
	char call_sid[40];          /* "" while unbound */
	char appointment_status[24];
	char confirmed_at[48];      /* "" when NULL */
	char cancelled_at[48];
	char callback_requested_at[48];
	long long reminders_pending;
	long long reminders_cancelled;
	char updated_at[48];        /* the appointment's */
};

void hx_snapshot_or_fail(const struct hx_call *c, struct hx_snapshot *s);
/* Fails the test, naming the field, when a and b differ. */
void hx_snapshot_same_or_fail(const struct hx_snapshot *a, const struct hx_snapshot *b,
	const char *what);

/* Fails the test unless the appointment has exactly want office
 * notifications (office_notifications), all of kind, for the
 * appointment's business and client, each detail LIKE like and without
 * never (the appointment's notes, say). */
void hx_notified_or_fail(const char *appointment_id, const char *kind, const char *like,
	const char *never, long long want);

/* ---- Redis audit trail --------------------------------------------------- */

/* Every record of audit stream key ("audit:call:CA..."), oldest first, as
 * a JSON array (caller decrefs), or NULL with the reason in err when Redis
 * cannot be read.  max 0: all. */
json_t *hx_audit_read(const char *key, size_t max, char *err, size_t errlen);
/* The newest max records of key, newest first. */
json_t *hx_audit_read_newest(const char *key, size_t max, char *err, size_t errlen);

/* How many records of arr have every string field given as
 * name, value pairs (NULL-terminated list) equal to value. */
size_t hx_audit_count(json_t *arr, ...);
size_t hx_audit_vcount(json_t *arr, va_list ap);

/* Polls stream key until at least min records match the name, value
 * pairs (NULL-terminated), for at most timeout_ms.  Returns the number
 * that matched at the end (may be below min), or -1 when Redis could not
 * be read the whole time. */
long hx_audit_wait(const char *key, size_t min, long timeout_ms, ...);
/* The same with the pairs in ap, reading only the newest `newest` records
 * (0: all); fails the test when the stream cannot be read. */
long hx_audit_vwait_or_fail(const char *key, size_t newest, size_t min, long timeout_ms,
	va_list ap);

/* The records of the fallback log (one JSON object a line) that mention
 * needle in a string value, oldest first, as a JSON array (caller
 * decrefs); an absent file is an empty array; NULL when it cannot be
 * read. */
json_t *hx_fallback_read(const char *needle);

/* Whether the harness's own Redis connection answers PING. */
int hx_redis_up(void);

/* Runs one Redis command argv-style on the harness's own connection
 * (reconnecting once if the connection went bad).  Returns 0 for any
 * answer that is not an error (*integer, when not NULL, gets an integer
 * answer, else 0), -1 with the reason in err. */
int hx_redis(int argc, const char **argv, long long *integer, char *err, size_t errlen);

/* Forgets every task code attempt (PostgreSQL) and the task code
 * throttle's Redis counters, so that one test's wrong codes do not
 * throttle the next.  Fails the test when either cannot be cleared. */
void hx_taskcode_reset_or_fail(void);

/* Drops the harness's own PostgreSQL and Redis connections, so that the
 * next use connects afresh (after the servers were restarted). */
void hx_disconnect(void);

/* ---- the stack ------------------------------------------------------------ */

/* Runs deploy/stack sub (pg-stop, pg-start, ...) with a timeout.  Returns
 * its exit status (-1 when it could not run or timed out); *out, when not
 * NULL, gets its standard output (caller frees). */
int hx_stack(const char *sub, char **out, int timeout_s);

/* Runs the shell command line cmd (/bin/sh -c) in a process group of its
 * own, its standard output (add 2>&1 for the errors) appended to out,
 * killed with everything it started after timeout_s seconds: no test can
 * hang on a child.  Its exit status, or -1 when it could not run, died of
 * a signal or timed out (a line on stderr says so). */
int hx_shell(const char *cmd, struct buf *out, int timeout_s);

/* When *stopped, starts part ("pg", "redis": deploy/stack <part>-start
 * within timeout_s) and clears *stopped; 0, or -1 with a line on stderr
 * (*stopped left set).  Nothing to do when *stopped is 0: 0. */
int hx_stack_start_stopped(const char *part, int *stopped, int timeout_s);

/* The FastCGI master and workers as deploy/stack fcgi-pids reports them. */
struct hx_pids {
	long master;
	long workers[256];
	int nworkers;
};
int hx_fcgi_pids(struct hx_pids *p);

/* The value of one sample of GET /metrics, named in full as it is written
 * ("ringfence_failsafe_tripped", "ringfence_scrape_errors{source=\"redis\"}"),
 * or -1 when the page has no such line (or does not answer 200). */
double hx_metric(const char *series);

/* Polls GET /readyz until it answers 200, for at most timeout_ms.
 * Returns 0 once it did, -1 otherwise (the last status and body in err). */
int hx_wait_healthy(long timeout_ms, char *err, size_t errlen);

/* Milliseconds on a monotonic clock, and a short sleep. */
long long hx_now_ms(void);
void hx_sleep_ms(long ms);

#endif
