/* render_states: renders every state of the reminder call and text flows
 * N times, for an instruction count under callgrind:
 *
 *   valgrind --tool=callgrind --collect-atstart=no \
 *       --toggle-collect='render_compiled*' build/bench/render_states [N]
 *   (--toggle-collect='render_libxml2*' ... N libxml2 for its peer)
 *
 * By default through engine_render_preview, the engine's own rendering
 * path (the compiled templates); with "libxml2", through the reference
 * renderer (twiml_ref.h) with the options built as the engine built them
 * before templates were compiled (arena_printf), its peer in the same
 * run.  Prints the number of renderings and the bytes written. */
#include "arena.h"
#include "buf.h"
#include "engine.h"
#include "flow.h"
#include "twiml.h"
#include "twiml_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const values[4] = { "Bright Smile & Sons <Dental>", "Tuesday, March 4",
	"10:30 AM", "+15551234567" };

/* State st of flow f rendered into out with libxml2's reference
 * renderer, the options built as the engine built them before templates
 * were compiled; 0 or -1. */
static int render_reference(struct arena *a, const struct flow *f, size_t i, struct buf *out)
{
	const struct twiml_var vars[] = { { "business_name", values[0] },
		{ "appointment_date", values[1] }, { "appointment_time", values[2] },
		{ "callback_number", values[3] } };
	const char *st = f->states[i].name;
	struct twiml_render_opts o = { vars, 4,
		arena_printf(a, "%s/twilio/voice/%s?c=%s&s=%s&n=%d", "https://rf.example.com",
			f->name, "00000000000000000000000000000000", st, 0),
		arena_printf(a, "%s/audio/%s/%s", "https://rf.example.com", f->name, st), NULL, NULL,
		arena_printf(a, "%s/twilio/status/recording", "https://rf.example.com") };

	/* The engine looks the state up by name, as the preview does. */
	if (flow_state_index(f, st) < 0)
		return -1;
	return twiml_ref_render(f->states[i].tmpl, &o, out);
}

/* Every state of every flow named in flows, n times, compiled (the
 * engine's path) or through libxml2; returns the bytes rendered, or -1
 * when a state does not render. */
static long render_rounds(struct engine *e, const char *const *flows, long n, long *count,
	int libxml2)
{
	struct arena *a = arena_new(0);
	long bytes = 0;

	for (long k = 0; k < n; k++) {
		for (size_t fi = 0; flows[fi]; fi++) {
			const struct flow *f = engine_flow(e, flows[fi]);
			for (size_t i = 0; f && i < f->nstates; i++) {
				struct buf out;
				int rc;
				buf_init_arena(&out, a);
				rc = libxml2 ? render_reference(a, f, i, &out) :
					engine_render_preview(e, a, flows[fi], f->states[i].name, values,
						&out);
				if (rc < 0)
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

/* The two functions callgrind counts (--toggle-collect). */
__attribute__((noinline)) static long render_compiled(struct engine *e,
	const char *const *flows, long n, long *count)
{
	return render_rounds(e, flows, n, count, 0);
}

__attribute__((noinline)) static long render_libxml2(struct engine *e,
	const char *const *flows, long n, long *count)
{
	return render_rounds(e, flows, n, count, 1);
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
	if (argc > 2 && strcmp(argv[2], "libxml2") == 0)
		bytes = render_libxml2(e, flows, n, &count);
	else
		bytes = render_compiled(e, flows, n, &count);
	engine_free(e);
	if (bytes < 0) {
		fprintf(stderr, "render_states: a state does not render\n");
		return 1;
	}
	printf("BENCH renders=%ld bytes=%ld\n", count, bytes);
	return 0;
}
