/* api_idem: the JSON API's Idempotency-Key (see include/api_idem.h). */
#include "api_idem.h"
#include "app.h"
#include "arena.h"
#include "db.h"
#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when key is 1..API_IDEM_KEY_MAX printable ASCII characters. */
static int api_idem_key_ok(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > API_IDEM_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
			return 0;
	return 1;
}

/* Hex SHA-256 of method, path and body (NUL-separated, so that no two
 * requests share the bytes).  0, or -1 when the crypto library fails. */
static int api_idem_digest(const struct http_request *req, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx == NULL)
		goto out;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
		EVP_DigestUpdate(ctx, req->method, strlen(req->method) + 1) != 1 ||
		EVP_DigestUpdate(ctx, req->path, strlen(req->path) + 1) != 1 ||
		EVP_DigestUpdate(ctx, req->body, req->body_len) != 1 ||
		EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	util_hex(md, mdlen, out);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Releases the advisory lock of st (taken by api_idem_begin). */
static void api_idem_unlock(struct app *app, struct api_idem *st)
{
	const char *p[] = { st->lock };
	PGresult *res = db_exec_prepared(app->db, "api_idem_unlock",
		"SELECT pg_advisory_unlock($1::bigint)", 1, p);
	if (res)
		PQclear(res);
}

/* The database failed before anything ran. */
static int api_idem_unavailable(struct app *app, struct http_request *req, struct outcome *out)
{
	log_error("api: request %s: idempotency key: database error: %s", req->request_id,
		db_last_error(app->db));
	outcome_error(out, 503, "unavailable", NULL,
		"the database is unavailable; nothing was changed, try again later");
	return -1;
}

int api_idem_begin(struct app *app, struct http_request *req, long long business_id,
	struct api_idem *st, struct outcome *out)
{
	struct arena *a = req->arena;
	char hash[65];
	const char *row[4];
	PGresult *res;
	int got, rc = -1;

	memset(st, 0, sizeof(*st));
	if (req->idempotency_key == NULL || strcmp(req->method, "GET") == 0 ||
		strcmp(req->method, "HEAD") == 0)
		return 0;
	if (!api_idem_key_ok(req->idempotency_key)) {
		outcome_error(out, 400, "invalid_idempotency_key", "Idempotency-Key",
			"the Idempotency-Key header must be 1 to 255 printable ASCII characters");
		return -1;
	}
	if (api_idem_digest(req, hash) < 0) {
		outcome_error(out, 500, "internal", NULL, "internal error");
		return -1;
	}
	st->key = req->idempotency_key;
	snprintf(st->business, sizeof(st->business), "%lld", business_id);

	/* Expired rows go as new ones arrive, a few at a time. */
	res = db_exec_prepared(app->db, "api_idem_prune",
		"DELETE FROM api_idempotency WHERE (business_id, key) IN (SELECT business_id, key "
		"FROM api_idempotency WHERE created_at < now() - interval '24 hours' LIMIT 100)",
		0, NULL);
	if (res == NULL)
		return api_idem_unavailable(app, req, out);
	PQclear(res);
	{
		const char *p[] = { st->business, st->key };
		got = db_row_prepared(app->db, a, "api_idem_lock",
			"SELECT h::text, pg_try_advisory_lock(h) FROM "
			"(SELECT hashtextextended($1 || ':' || $2, 0) AS h) x",
			2, p, 2, row);
	}
	if (got != 1)
		return api_idem_unavailable(app, req, out);
	snprintf(st->lock, sizeof(st->lock), "%s", row[0]);
	if (strcmp(row[1], "t") != 0) {
		outcome_error(out, 409, "idempotency_key_in_use", "Idempotency-Key",
			"a request with this Idempotency-Key is still running; retry after it has "
			"finished to get its answer");
		return -1;
	}
	{
		const char *p[] = { st->business, st->key, hash };
		res = db_exec_prepared(app->db, "api_idem_insert",
			"INSERT INTO api_idempotency (business_id, key, request_sha256) "
			"VALUES ($1::bigint, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
			3, p);
	}
	if (res == NULL) {
		api_idem_unlock(app, st);
		return api_idem_unavailable(app, req, out);
	}
	got = PQntuples(res);
	PQclear(res);
	if (got == 1) {
		st->owned = 1;
		return 0;
	}
	{
		const char *p[] = { st->business, st->key };
		got = db_row_prepared(app->db, a, "api_idem_read",
			"SELECT request_sha256, status::text, body, location FROM api_idempotency "
			"WHERE business_id = $1::bigint AND key = $2",
			2, p, 4, row);
	}
	if (got < 0) {
		api_idem_unavailable(app, req, out);
		goto out;
	}
	if (got == 0) {
		/* Pruned between the insert and the read: a day-old key. */
		outcome_error(out, 409, "idempotency_key_in_use", "Idempotency-Key",
			"this Idempotency-Key just expired; retry");
		goto out;
	}
	if (strcmp(row[0], hash) != 0) {
		outcome_error(out, 422, "idempotency_key_reused", "Idempotency-Key",
			"this Idempotency-Key was used for another request (another method, path or "
			"body) in the last 24 hours; use a new key for a new request");
		goto out;
	}
	if (row[1] == NULL) {
		outcome_error(out, 409, "idempotency_key_in_use", "Idempotency-Key",
			"the first request with this Idempotency-Key did not finish, so whether it "
			"changed anything is unknown; look the resource up before sending it again "
			"with a new key");
		goto out;
	}
	st->replay = 1;
	st->status = atoi(row[1]);
	st->body = row[2];
	st->location = row[3];
	rc = 1;
out:
	api_idem_unlock(app, st);
	return rc;
}

void api_idem_replay(const struct api_idem *st, struct http_response *res)
{
	res->status = st->status;
	res->content_type = "application/json";
	buf_reset(&res->body);
	buf_puts(&res->body, st->body);
	if (st->location)
		http_response_header(res, "Location", st->location);
	http_response_header(res, "Idempotent-Replayed", "true");
}

void api_idem_finish(struct app *app, struct api_idem *st, const struct http_response *res,
	const char *location, int handled)
{
	PGresult *r;
	char status[8];

	if (!st->owned)
		return;
	st->owned = 0;
	snprintf(status, sizeof(status), "%d", res->status);
	if (!handled || res->status == 503) {
		/* Nothing ran, or nothing was changed: let the retry run. */
		const char *p[] = { st->business, st->key };
		r = db_exec_prepared(app->db, "api_idem_drop",
			"DELETE FROM api_idempotency WHERE business_id = $1::bigint AND key = $2", 2, p);
	} else {
		const char *p[] = { st->business, st->key, status, buf_str(&res->body), location };
		r = db_exec_prepared(app->db, "api_idem_store",
			"UPDATE api_idempotency SET status = $3::integer, body = $4, location = $5, "
			"completed_at = now() WHERE business_id = $1::bigint AND key = $2",
			5, p);
	}
	if (r)
		PQclear(r);
	else
		log_error("api: storing the answer of Idempotency-Key for business %s: %s; retries "
			"with it will be refused", st->business, db_last_error(app->db));
	api_idem_unlock(app, st);
}
