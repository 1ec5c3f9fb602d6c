/* inbox: the texts clients send, per client (include/inbox.h). */
#include "inbox.h"
#include "arena.h"
#include "db.h"
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int inbox_needs_answer(const char *state)
{
	static const char *const open[] = { "hint", "quiet", "nothing_pending" };

	if (state == NULL)
		return 1;
	for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++)
		if (strcmp(state, open[i]) == 0)
			return 1;
	return 0;
}

/* See inbox.h.  One statement keeps the rows and names the clients; the
 * notification quotes the first INBOX_NOTIFY_CHARS characters of the
 * text as it was stored. */
int inbox_record(struct db *db, struct arena *a, const char *text_id, const char *business_id,
	const char *reminder_id, const char *phone, const char *state)
{
	int needs = inbox_needs_answer(state);
	char chars[16];
	const char *p[7] = { business_id, phone, reminder_id, text_id, state,
		needs ? "true" : "false", chars };
	const char *v[3];
	int rc;

	snprintf(chars, sizeof(chars), "%d", INBOX_NOTIFY_CHARS);
	/* rf_inbox_record (sql/026_status_step.sql): an inbound text's one
	 * statement (rf_sms_step) keeps it through the same function. */
	rc = db_row_prepared(db, a, "inbox_record",
		"SELECT * FROM rf_inbox_record($1::bigint, $2, $3::bigint, $4::bigint, $5,"
		" $6::boolean, $7::int)", 7, p, 3, v);
	if (rc <= 0)
		return -1;
	return inbox_tell_office(db, business_id, state, v);
}

/* See inbox.h. */
int inbox_tell_office(struct db *db, const char *business_id, const char *state,
	const char *const kept[3])
{
	int n = atoi(kept[0]);

	if (n > 0 && inbox_needs_answer(state) &&
		office_notify(db, atoll(business_id), 0, atoll(kept[1]), NOTIFY_INBOX, kept[2]) < 0)
		return -1;
	return n;
}

long long inbox_open_clients(struct db *db, long long business_id)
{
	char biz[24];
	const char *p[1] = { biz };
	PGresult *res;
	long long n = -1;

	snprintf(biz, sizeof(biz), "%lld", business_id);
	res = db_exec_prepared(db, "inbox_open_clients",
		"SELECT count(DISTINCT client_id) FROM inbox_texts"
		" WHERE business_id = $1::bigint AND needs_answer AND answered_at IS NULL", 1, p);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
		n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}
