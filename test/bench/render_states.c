/* render_states: renders every state of every loaded flow N times through
 * engine_render_preview, the engine's own rendering path, for an
 * instruction count under callgrind:
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *       --toggle-collect=render_all build/bench/render_states [N]
 *
 * Prints the number of renderings and the bytes written, so two runs
 * (before and after a change) can be compared per rendering. */
#include "arena.h"
#include "buf.h"
#include "engine.h"
#include "flow.h"

#include <stdio.h>
#include <stdlib.h>

/* Every state of every flow named in flows, n times; returns the bytes
 * rendered, or -1 when a state does not render. */
__attribute__((noinline)) static long render_all(struct engine *e, const char *const *flows,
	long n, long *count)
{
	static const char *const values[4] = { "Bright Smile & Sons <Dental>", "Tuesday, March 4",
		"10:30 AM", "+15551234567" };
	struct arena *a = arena_new(0);
	long bytes = 0;

	for (long k = 0; k < n; k++) {
		for (size_t fi = 0; flows[fi]; fi++) {
			const struct flow *f = engine_flow(e, flows[fi]);
			for (size_t i = 0; f && i < f->nstates; i++) {
				struct buf out;
				buf_init_arena(&out, a);
				if (engine_render_preview(e, a, flows[fi], f->states[i].name, values, &out) < 0)
					return -1;
				bytes += (long)out.len;
				(*count)++;
			}
		}
		arena_reset(a);
	}
	arena_free(a);
	return bytes;
}

int main(int argc, char **argv)
{
	static const char *const flows[] = { "reminder_call", "reminder_sms", NULL };
	char err[512];
	long n = argc > 1 ? atol(argv[1]) : 1000, count = 0, bytes;
	struct engine *e = engine_new(".", "https://rf.example.com", err, sizeof(err));

	if (e == NULL) {
		fprintf(stderr, "render_states: %s\n", err);
		return 1;
	}
	bytes = render_all(e, flows, n, &count);
	engine_free(e);
	if (bytes < 0) {
		fprintf(stderr, "render_states: a state does not render\n");
		return 1;
	}
	printf("BENCH renders=%ld bytes=%ld\n", count, bytes);
	return 0;
}
