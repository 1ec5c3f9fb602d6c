/* Unit tests for audit_replay: the fallback log and its rotated files read
 * oldest first (a line still being written left out, a line that is not
 * JSON shown as such, --max keeping the newest), and the replay into a
 * real Redis (RINGFENCE_REDIS_URL): the streams audit_record would have
 * used, marked replayed, once however often it runs; Redis down: an
 * error and nothing lost. */
#include "unit.h"

#include "audit.h"
#include "audit_replay.h"
#include "rds.h"
#include "util.h"

#include <stdio.h>
#include <unistd.h>

static char *tmpdir(void)
{
	char *d = xasprintf("/tmp/rf-test-replay-%d-XXXXXX", (int)getpid());
	assert_non_null(mkdtemp(d));
	return d;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static const char *kind_at(json_t *recs, size_t i)
{
	return json_string_value(json_object_get(json_array_get(recs, i), "kind"));
}

static void test_read_oldest_first(void **state)
{
	char *d = tmpdir(), *log = xasprintf("%s/audit.log", d), *f;
	json_t *recs;
	int files = 0;

	(void)state;
	f = xasprintf("%s.2", log);
	put(f, "{\"kind\":\"a\"}\n");
	free(f);
	f = xasprintf("%s.1", log);
	put(f, "{\"kind\":\"b\"}\nnot json\n");
	free(f);
	put(log, "{\"kind\":\"c\"}\n\n{\"kind\":\"half-writ");
	/* logrotate's weekly renames (deploy/logrotate: dateext, -%Y%m%d-%s),
	 * older than the size rotation's files, the older first; names that
	 * are not its are not the log's. */
	f = xasprintf("%s-20261207-1765065600", log);
	put(f, "{\"kind\":\"w2\"}\n");
	free(f);
	f = xasprintf("%s-20261130-1764460800", log);
	put(f, "{\"kind\":\"w1\"}\n");
	free(f);
	f = xasprintf("%s-old", log);
	put(f, "{\"kind\":\"not-the-log\"}\n");
	free(f);
	f = xasprintf("%s.lock", log);
	put(f, "");
	free(f);

	recs = audit_fallback_read(log, 0, &files);
	assert_non_null(recs);
	assert_int_equal(files, 5);
	assert_int_equal(json_array_size(recs), 6);
	assert_string_equal(kind_at(recs, 0), "w1");
	assert_string_equal(kind_at(recs, 1), "w2");
	assert_string_equal(kind_at(recs, 2), "a");
	assert_string_equal(kind_at(recs, 3), "b");
	assert_string_equal(kind_at(recs, 4), "unparsable");
	assert_string_equal(json_string_value(json_object_get(json_array_get(recs, 4), "raw")),
		"not json");
	assert_string_equal(kind_at(recs, 5), "c");
	json_decref(recs);

	recs = audit_fallback_read(log, 2, &files);
	assert_int_equal(json_array_size(recs), 2);
	assert_string_equal(kind_at(recs, 0), "unparsable");
	assert_string_equal(kind_at(recs, 1), "c");
	json_decref(recs);

	/* No log at all: nothing to show, not an error. */
	f = xasprintf("%s/none.log", d);
	recs = audit_fallback_read(f, 0, &files);
	assert_non_null(recs);
	assert_int_equal(json_array_size(recs), 0);
	assert_int_equal(files, 0);
	json_decref(recs);
	free(f);
	/* A folder is not a log. */
	assert_null(audit_fallback_read(d, 0, &files));
	rm_rf(d);
	free(log);
	free(d);
}

static void del(struct rds *r, const char *key)
{
	const char *argv[2] = { "DEL", key };
	redisReply *rep = rds_command(r, 2, argv, NULL);
	if (rep)
		freeReplyObject(rep);
}

static void test_replay_once(void **state)
{
	char *d = tmpdir(), *log = xasprintf("%s/audit.log", d);
	char sid[40], biz[24], *text, *ck, *bk;
	struct rds *r = rds_open(unit_redis_url());
	struct audit_replay_stats st;
	json_t *recs, *rec;

	(void)state;
	snprintf(sid, sizeof(sid), "CA%032x", (unsigned)getpid());
	snprintf(biz, sizeof(biz), "77%d", (int)getpid());
	ck = xasprintf(AUDIT_KEY_CALL_PREFIX "%s", sid);
	bk = xasprintf(AUDIT_KEY_BUSINESS_PREFIX "%s", biz);
	del(r, ck);
	del(r, bk);
	text = xasprintf("{\"kind\":\"error\",\"ts\":\"%d\",\"call_sid\":\"%s\",\"business_id\":\"%s\"}\n"
			 "{\"kind\":\"webhook\",\"ts\":\"%d\",\"call_sid\":\"%s\",\"business_id\":\"../x\"}\n",
		(int)getpid(), sid, biz, (int)getpid(), sid);
	put(log, text);

	assert_int_equal(audit_replay(r, log, &st), 0);
	assert_int_equal(st.added, 2);
	assert_int_equal(st.already, 0);
	recs = audit_read(r, "call", sid, 10);
	assert_int_equal(json_array_size(recs), 2);
	rec = json_array_get(recs, 0);
	assert_true(json_is_true(json_object_get(rec, "replayed")));
	assert_string_equal(json_string_value(json_object_get(rec, "kind")), "error");
	json_decref(recs);
	/* The second names no business stream: "../x" is not an id. */
	recs = audit_read(r, "business", biz, 10);
	assert_int_equal(json_array_size(recs), 1);
	json_decref(recs);

	assert_int_equal(audit_replay(r, log, &st), 0);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.already, 2);
	recs = audit_read(r, "call", sid, 10);
	assert_int_equal(json_array_size(recs), 2);
	json_decref(recs);

	del(r, ck);
	del(r, bk);
	rds_close(r);
	/* Redis down: an error, and the file as it was. */
	r = rds_open("redis://127.0.0.1:1/0");
	assert_int_equal(audit_replay(r, log, &st), -1);
	assert_int_equal(st.added, 0);
	rds_close(r);
	recs = audit_fallback_read(log, 0, &st.files);
	assert_int_equal(json_array_size(recs), 2);
	json_decref(recs);
	rm_rf(d);
	free(text);
	free(ck);
	free(bk);
	free(log);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_oldest_first),
		cmocka_unit_test(test_replay_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
