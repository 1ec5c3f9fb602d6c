/* arena: region allocation, and ringfence's one memory rule.
 *
 * The rule (DESIGN.md section 6; h2o's req->pool):
 *
 *   1. Everything a request touches lives in the request's arena:
 *      the copied FastCGI parameters, the body, the parsed form and
 *      query, validated values, strings copied out of PGresult and
 *      redisReply, JSON text, the rendered TwiML, HTML or JSON and the
 *      response's headers and body (struct buf on an arena, buf.h).
 *      The arena is reset once, after FCGX_Finish_r (src/fcgi.c), so
 *      nothing on the request path calls free and nothing can leak.
 *   2. A job in the worker uses a per-job arena the same way, reset
 *      after the job (src/worker.c).
 *   3. What a library allocates is not kept: it is copied into the
 *      arena, or freed at once where it is used (jansson's json_t
 *      values are reference-counted and released by json_decref before
 *      the request ends; JSON text is dumped straight into the arena
 *      by arena_json; libxml2's documents are freed where they are
 *      built and their text is copied out).
 *   4. Long-lived data (configuration, the engine's flows, the audit
 *      sink, connections) is malloc'd through util.h's xmalloc family,
 *      released by a matching _free, and names its owner in a comment.
 *   5. Out of memory aborts the process: one policy for our code and
 *      for the libraries, which util_alloc_hooks_install points at the
 *      same allocators (the master respawns a dead worker).
 *
 * Allocation never fails and never returns NULL. */
#ifndef RF_ARENA_H
#define RF_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct arena;

/* A new arena whose blocks are at least chunk bytes (0: a default). */
struct arena *arena_new(size_t chunk);
/* Frees every block and the arena itself. */
void arena_free(struct arena *a);
/* Forgets every allocation; keeps the first block for reuse. */
void arena_reset(struct arena *a);
/* n bytes aligned for any type, uninitialised. */
void *arena_alloc(struct arena *a, size_t n);
/* n zeroed bytes. */
void *arena_calloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
/* Copies n bytes of s and a NUL (s need not be NUL-terminated). */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);
/* The compact (flags: jansson's JSON_*) text of json, NUL-terminated,
 * written straight into a: jansson allocates nothing for it.  NULL only
 * when json cannot be encoded (a NULL value, or an invalid string). */
struct json_t;
char *arena_json(struct arena *a, const struct json_t *json, size_t flags);
/* Bytes currently allocated from the system (for tests and metrics). */
size_t arena_footprint(const struct arena *a);

#endif
