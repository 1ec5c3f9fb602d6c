/* arena: a per-request region allocator.
 *
 * Everything a request needs (copied FastCGI parameters, parsed forms,
 * strings copied out of PGresult and redisReply) is allocated here and
 * freed at once by arena_reset() after FCGX_Finish_r.  Allocation never
 * fails (out of memory aborts). */
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
/* Bytes currently allocated from the system (for tests and metrics). */
size_t arena_footprint(const struct arena *a);

#endif
