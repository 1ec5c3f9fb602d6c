/* heartbeat: process_heartbeats rows (heartbeat.h). */
#include "heartbeat.h"
#include "db.h"
#include "util.h"
#include "valid.h"
#include "version.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void heartbeat_init(struct heartbeat *hb, struct db *db, const char *kind, int every_s)
{
	memset(hb, 0, sizeof(*hb));
	hb->db = db;
	hb->kind = kind;
	hb->every_s = every_s < 1 ? 1 : every_s > 86400 ? 86400 : every_s;
	if (gethostname(hb->host, sizeof(hb->host) - 1) < 0 || hb->host[0] == '\0')
		snprintf(hb->host, sizeof(hb->host), "localhost");
	snprintf(hb->pid, sizeof(hb->pid), "%d", (int)getpid());
}

/* $6 'tick' | 'ok' | 'error' | 'alive'; $7 the error (NULL unless 'error'). */
static const char beat_sql[] =
	"INSERT INTO process_heartbeats AS h (kind, host, pid, version, beat_every_s,"
	" last_tick_at, last_ok_at, last_error)"
	" VALUES ($1, $2, $3::int, $4, $5::int,"
	"  CASE WHEN $6 = 'tick' THEN now() END,"
	"  CASE WHEN $6 IN ('tick', 'ok') THEN now() END, $7)"
	" ON CONFLICT (kind, host, pid) DO UPDATE SET beat_at = now(), version = EXCLUDED.version,"
	"  beat_every_s = EXCLUDED.beat_every_s,"
	"  last_tick_at = COALESCE(EXCLUDED.last_tick_at, h.last_tick_at),"
	"  last_ok_at = COALESCE(EXCLUDED.last_ok_at, h.last_ok_at),"
	"  last_error = CASE WHEN $6 = 'error' THEN $7 WHEN $6 IN ('tick', 'ok') THEN NULL"
	"   ELSE h.last_error END";

int heartbeat_beat(struct heartbeat *hb, enum heartbeat_what what, const char *error)
{
	static const char *const names[] = { "alive", "ok", "tick", "error" };
	long long now = util_now_ms();
	char every[16], err[501], ver[101];
	const char *p[7];
	PGresult *res;

	if (hb->db == NULL)
		return 0;
	if (hb->last_ms && now - hb->last_ms < hb->every_s * 900LL && what != HEARTBEAT_TICK &&
		what != HEARTBEAT_ERROR)
		return 0;
	snprintf(every, sizeof(every), "%d", hb->every_s);
	snprintf(ver, sizeof(ver), "%.*s", (int)utf8_cut(rf_version, strlen(rf_version), 100),
		rf_version);
	if (error) {
		size_t n = utf8_cut(error, strlen(error), 500);
		memcpy(err, error, n);
		err[n] = '\0';
	}
	p[0] = hb->kind;
	p[1] = hb->host;
	p[2] = hb->pid;
	p[3] = ver;
	p[4] = every;
	p[5] = names[what];
	p[6] = what == HEARTBEAT_ERROR ? (error ? err : "failed") : NULL;
	res = db_exec_prepared(hb->db, "heartbeat_beat", beat_sql, 7, p);
	if (res == NULL)
		return -1;
	PQclear(res);
	hb->last_ms = now;
	return 1;
}

void heartbeat_stop(struct heartbeat *hb)
{
	const char *p[3] = { hb->kind, hb->host, hb->pid };
	PGresult *res;

	if (hb->db == NULL || hb->last_ms == 0)
		return;
	res = db_exec_prepared(hb->db, "heartbeat_stop",
		"DELETE FROM process_heartbeats WHERE kind = $1 AND host = $2 AND pid = $3::int", 3, p);
	if (res)
		PQclear(res);
	hb->last_ms = 0;
}

long long heartbeat_prune(struct db *db)
{
	PGresult *res = db_exec_prepared(db, "heartbeat_prune",
		"DELETE FROM process_heartbeats WHERE beat_at < now() - interval '1 day'", 0, NULL);
	long long n;

	if (res == NULL)
		return -1;
	n = atoll(PQcmdTuples(res));
	PQclear(res);
	return n;
}

int heartbeat_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t n;
	ssize_t sent;
	int fd;

	if (path == NULL || path[0] == '\0')
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sent = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	close(fd);
	return sent == (ssize_t)strlen(msg) ? 1 : -1;
}
