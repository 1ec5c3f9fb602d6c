/* Common includes for the cmocka unit tests.  Each test/unit/test_<module>.c
 * is one program linked with every library object (see Makefile) and run
 * by test/run with CMOCKA_MESSAGE_OUTPUT=TAP. */
#ifndef RF_UNIT_H
#define RF_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "arena.h"
#include "db.h"
#include "http.h"
#include "rds.h"
#include "util.h"

/* A connection to the test stack's PostgreSQL (RINGFENCE_DATABASE_URL,
 * which test/run sets), for the tests that need one; fails the test when
 * there is none.  The caller closes it with db_close. */
static inline struct db *unit_db(void)
{
	const char *url = getenv("RINGFENCE_DATABASE_URL");
	struct db *db;
	if (url == NULL || *url == '\0')
		fail_msg("RINGFENCE_DATABASE_URL is not set; this test needs a running PostgreSQL");
	db = db_open(url);
	if (db_connect(db) < 0)
		fail_msg("cannot connect: %s", db_last_error(db));
	return db;
}

/* The test stack's Redis (RINGFENCE_REDIS_URL, which test/run sets);
 * fails the test when there is none. */
static inline const char *unit_redis_url(void)
{
	const char *url = getenv("RINGFENCE_REDIS_URL");
	if (url == NULL || *url == '\0')
		fail_msg("RINGFENCE_REDIS_URL is not set; these tests need a running Redis");
	return url;
}

/* Runs the Redis command whose argc (at most 16) words follow on r; the
 * reply (caller frees), NULL on an error. */
static inline redisReply *unit_redis_cmd(struct rds *r, int argc, ...)
{
	const char *argv[16];
	va_list ap;
	va_start(ap, argc);
	for (int i = 0; i < argc && i < 16; i++)
		argv[i] = va_arg(ap, const char *);
	va_end(ap);
	return rds_command(r, argc < 16 ? argc : 16, argv, NULL);
}

/* A cmocka group setup for the tests that read the repository's files:
 * moves to the repository root (the folder with
 * state_tables/reminder_call/transitions), from there (test/run starts
 * there) or from up to three folders below it.  Returns 0, or -1 with a
 * line on stderr when the root is not found, which fails the group. */
static inline int unit_go_to_repo_root(void **state)
{
	(void)state;
	for (int up = 0; up < 4; up++) {
		if (access("state_tables/reminder_call/transitions", R_OK) == 0)
			return 0;
		if (chdir("..") < 0)
			break;
	}
	fprintf(stderr, "%s: cannot find the repository root (state_tables/)\n",
		program_invocation_short_name);
	return -1;
}

/* A TCP socket bound to a free loopback port (*port gets it) that is not
 * listening: connections to it are refused until the caller listen()s,
 * and then every connect attempt shows up in its accept queue.  The
 * caller closes it (keeping it open keeps the port taken). */
static inline int unit_bound_socket(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return s;
}

/* A new business named name (Europe/Paris, call-back number
 * +33123456789) in db; its id.  Fails the test on an error. */
static inline long long unit_business(struct db *db, const char *name)
{
	const char *p[1] = { name };
	PGresult *res = db_exec(db, "INSERT INTO businesses (name, time_zone, callback_phone)"
		" VALUES ($1, 'Europe/Paris', '+33123456789') RETURNING id", 1, p);
	long long id;

	if (res == NULL)
		fail_msg("cannot add the business '%s': %s", name, db_last_error(db));
	id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return id;
}

/* Fills req (zeroed first) as a request for method uri in arena a, as
 * http.c would: the path and the parsed query split at '?', request id
 * "0123456789abcdef", from 127.0.0.1, and no content type, user agent
 * or body (the caller sets what its test needs). */
static inline void unit_request(struct http_request *req, struct arena *a, const char *method,
	const char *uri)
{
	const char *q = strchr(uri, '?');

	memset(req, 0, sizeof(*req));
	req->arena = a;
	req->method = method;
	req->request_uri = uri;
	req->path = q ? arena_strndup(a, uri, (size_t)(q - uri)) : uri;
	req->query = q ? q + 1 : "";
	req->content_type = "";
	req->remote_addr = "127.0.0.1";
	req->user_agent = "";
	req->body = "";
	memcpy(req->request_id, "0123456789abcdef", 17);
	req->query_ok = form_parse(a, req->query, strlen(req->query), NULL, &req->query_params) ==
		FORM_OK;
}

/* Writes text to dir/name, failing the test when it cannot. */
static inline void unit_write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	free(path);
}

#endif
