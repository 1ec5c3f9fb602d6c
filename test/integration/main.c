/* The integration tests: every group against the live stack named by the
 * environment (see harness.h), in an order that keeps each group's
 * fixtures out of the next one's way.  Exit status: the number of failed
 * tests (0 when all passed), at most 255. */
#include "harness.h"
#include "groups.h"

int main(void)
{
	static int (*const groups[])(void) = {
		oas_tests, twilio_sim_tests, sim_calls_tests, simulate_tests, api_tests,
		worker_tests, scheduler_tests, outage_tests, guards_tests, webhook_tests,
	};
	int failed = 0;

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		failed += groups[i]();
	return failed > 255 ? 255 : failed;
}
