/* bench_ids: see bench_ids.h. */
#include "bench_ids.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

long long bench_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long bench_read_ids(const char *prog, const char *path, long long **ids)
{
	FILE *f = fopen(path, "r");
	size_t n = 0, cap = 1024;
	char line[64];

	*ids = NULL;
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open %s\n", prog, path);
		return -1;
	}
	*ids = malloc(cap * sizeof(**ids));
	while (*ids && fgets(line, sizeof(line), f)) {
		char *end;
		long long v;
		errno = 0;
		v = strtoll(line, &end, 10);
		if (errno || end == line || v <= 0 || (*end != '\n' && *end != '\0')) {
			fprintf(stderr, "%s: %s: line %zu is not an id\n", prog, path, n + 1);
			free(*ids);
			*ids = NULL;
			break;
		}
		if (n == cap) {
			long long *more = realloc(*ids, 2 * cap * sizeof(**ids));
			if (more == NULL) {
				free(*ids);
				*ids = NULL;
				break;
			}
			*ids = more;
			cap *= 2;
		}
		(*ids)[n++] = v;
	}
	if (*ids == NULL || ferror(f) != 0) {
		fprintf(stderr, "%s: cannot read %s\n", prog, path);
		free(*ids);
		*ids = NULL;
		fclose(f);
		return -1;
	}
	fclose(f);
	return (long)n;
}
