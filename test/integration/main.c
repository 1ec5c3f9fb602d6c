/* The integration tests: every group against the live stack named by the
 * environment (see harness.h), in an order that keeps each group's
 * fixtures out of the next one's way.  RINGFENCE_TEST_GROUPS (a comma-
 * separated list of the names below) runs only those groups, for work on
 * one part; unset, every group runs.  Exit status: the number of failed
 * tests (0 when all passed), at most 255. */
#include "harness.h"
#include "groups.h"

#include <signal.h>
#include <unistd.h>

/* The group running now, for the line a stopping signal writes. */
static const char *volatile current_group = "(none)";

/* test/run's timeout stops a hung run with SIGTERM: say which group it
 * was in (what the log shows last is then where it hung), then die of
 * the signal. */
static void on_stop(int sig)
{
	static const char pre[] = "# run_integration: stopped by a signal in the group ";
	const char *g = current_group;
	if (write(2, pre, sizeof(pre) - 1) < 0 || write(2, g, strlen(g)) < 0 || write(2, "\n", 1) < 0) {
		/* nothing more can be said */
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* 1 when name is in the comma-separated list (NULL or empty: every name). */
static int selected(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	if (list == NULL || list[0] == '\0')
		return 1;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

int main(void)
{
	static const struct {
		const char *name;
		int (*run)(void);
	} groups[] = {
		{ "oas", oas_tests }, { "twilio_sim", twilio_sim_tests },
		{ "sim_calls", sim_calls_tests }, { "simulate", simulate_tests },
		{ "sim_record", sim_record_tests },
		{ "paths", paths_tests },
		{ "api", api_tests }, { "api_spec", api_spec_tests }, { "worker", worker_tests },
		{ "reconcile", reconcile_tests }, { "sweep", sweep_tests },
		{ "scheduler", scheduler_tests }, { "outage", outage_tests },
		{ "scheduler_set", scheduler_set_tests },
		{ "guards", guards_tests }, { "webhook", webhook_tests },
		{ "roundtrip", roundtrip_tests }, { "hold", hold_tests },
		{ "fallback", fallback_tests },
		{ "metrics", metrics_tests },
		{ "sms", sms_tests },
		{ "sms_flow", sms_flow_tests },
		{ "email", email_tests },
		{ "flood", flood_tests },
		{ "sentinel", sentinel_tests },
		{ "request_id", request_id_tests },
		{ "session", session_tests },
		{ "dash_appointments", dash_appointments_tests },
		{ "shell", shell_tests },
		{ "dash_clients", dash_clients_tests },
		{ "dash_settings", dash_settings_tests },
		{ "taskcode", taskcode_tests },
		{ "trial", trial_tests },
		{ "switch", switch_tests }, { "booking", booking_tests },
		{ "notify", notify_tests },
		{ "calendar_pages", calendar_pages_tests },
		{ "inbox", inbox_tests },
		{ "calsync", calsync_tests },
		{ "config", config_tests },
		{ "doctor", doctor_tests },
		{ "failover", failover_tests },
		{ "isolation", isolation_tests },
		{ "restarts", restarts_tests },
	};
	const char *only = getenv("RINGFENCE_TEST_GROUPS");
	int failed = 0;

	/* One TAP line at a time reaches the log, so a run stopped from
	 * outside shows how far it got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (selected(only, groups[i].name)) {
			current_group = groups[i].name;
			failed += groups[i].run();
		}
	return failed > 255 ? 255 : failed;
}
