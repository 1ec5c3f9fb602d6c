/* dashboard_sql: prints the dashboard list's statement on one line,
 * exactly as the page prepares it, for test/bench/dashboard's pgbench
 * peer and its EXPLAIN. */
#include "dash_appointments.h"

#include <stdio.h>

int main(void)
{
	printf("%s\n", dash_list_sql);
	return 0;
}
