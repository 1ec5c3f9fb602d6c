/* notify: office notifications (include/notify.h). */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "db.h"
#include "valid.h"

static const char *const notify_kinds[] = {
	NOTIFY_CONFIRMED, NOTIFY_CANCELLED, NOTIFY_CALLBACK, NOTIFY_RESCHEDULE,
	NOTIFY_UNREACHED, NOTIFY_INBOX,
};

int notify_kind_valid(const char *kind)
{
	if (kind == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(notify_kinds) / sizeof(notify_kinds[0]); i++)
		if (strcmp(kind, notify_kinds[i]) == 0)
			return 1;
	return 0;
}

const char *notify_kind_words(const char *kind)
{
	static const struct { const char *kind, *words; } w[] = {
		{ NOTIFY_CONFIRMED, "confirmed" }, { NOTIFY_CANCELLED, "cancelled" },
		{ NOTIFY_CALLBACK, "asked for a call back" },
		{ NOTIFY_RESCHEDULE, "asked to reschedule" },
		{ NOTIFY_UNREACHED, "was not reached" }, { NOTIFY_INBOX, "sent a text" },
	};
	for (size_t i = 0; kind && i < sizeof(w) / sizeof(w[0]); i++)
		if (strcmp(kind, w[i].kind) == 0)
			return w[i].words;
	return "told us something";
}

/* s into out (size bytes) as one line, cut at a character boundary. */
static void one_line(char *out, size_t size, const char *s)
{
	size_t n = utf8_cut(s, strlen(s), size - 1);

	memcpy(out, s, n);
	out[n] = '\0';
	for (char *c = out; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
}

long long office_notify(struct db *db, long long business_id, long long appointment_id,
	long long client_id, const char *kind, const char *detail)
{
	char biz[24], appt[24], client[24], line[501];
	const char *p[5];
	PGresult *res;
	long long id;

	if (business_id <= 0 || !notify_kind_valid(kind))
		return -1;
	snprintf(biz, sizeof(biz), "%lld", business_id);
	snprintf(appt, sizeof(appt), "%lld", appointment_id);
	snprintf(client, sizeof(client), "%lld", client_id);
	one_line(line, sizeof(line), detail != NULL ? detail : "");
	p[0] = biz;
	p[1] = appointment_id > 0 ? appt : NULL;
	p[2] = client_id > 0 ? client : NULL;
	p[3] = kind;
	p[4] = line;
	res = db_exec_prepared(db, "office_notify",
		"INSERT INTO office_notifications (business_id, appointment_id, client_id, kind, detail)"
		" VALUES ($1::bigint, $2::bigint, $3::bigint, $4, $5) RETURNING id", 5, p);
	if (res == NULL)
		return -1;
	id = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	return id;
}

long long notify_unreached(struct db *db, long long reminder_id, const char *reason)
{
	char id[24], why[301];
	const char *p[2] = { id, why };
	PGresult *res;
	long long rc;

	snprintf(id, sizeof(id), "%lld", reminder_id);
	one_line(why, sizeof(why), reason && reason[0] ? reason : "no reason recorded");
	/* rf_notify_unreached (sql/026_status_step.sql): the status
	 * callbacks' one statement tells the office through it too. */
	res = db_exec_prepared(db, "notify_unreached", "SELECT rf_notify_unreached($1::bigint, $2)",
		2, p);
	if (res == NULL)
		return -1;
	rc = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? atoll(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	return rc;
}
