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

#include "db.h"

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

#endif
