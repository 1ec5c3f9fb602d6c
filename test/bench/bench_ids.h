/* bench_ids: what the bench tools built with bench_tool share. */
#ifndef RF_BENCH_IDS_H
#define RF_BENCH_IDS_H

/* The positive ids of path, one a line, into *ids (owner: the caller,
 * free()).  Returns their count, or -1 with the reason on stderr, each
 * line starting with prog. */
long bench_read_ids(const char *prog, const char *path, long long **ids);

/* CLOCK_MONOTONIC, microseconds. */
long long bench_wall_us(void);

#endif
