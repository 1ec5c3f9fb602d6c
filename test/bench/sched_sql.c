/* sched_sql: prints one statement of the scheduler's tick (stale, refuse
 * or due), as src/scheduler.c runs it, for test/bench/scheduler's EXPLAIN. */
#include "scheduler.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	const char *sql = NULL;

	if (argc == 2 && strcmp(argv[1], "stale") == 0)
		sql = scheduler_stale_sql;
	else if (argc == 2 && strcmp(argv[1], "refuse") == 0)
		sql = scheduler_refuse_sql;
	else if (argc == 2 && strcmp(argv[1], "due") == 0)
		sql = scheduler_due_sql;
	if (sql == NULL) {
		fprintf(stderr, "usage: sched_sql stale|refuse|due\n");
		return 2;
	}
	printf("%s\n", sql);
	return 0;
}
