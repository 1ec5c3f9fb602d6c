/* dblint: every statement the FastCGI pool and the workers run is
 * prepared once per connection (db_exec_prepared and the helpers that
 * name their statement), so that PostgreSQL parses and plans it once,
 * not per request.  `ringfence check` runs this lint over src/ (when the
 * root has one): a call of db_exec( or a db_row_prepared( whose name is
 * NULL is a problem, unless a comment "unprepared: <why>" on its line or
 * the line before says why its text truly varies.  Files the pool and
 * the workers never run (the database layer itself, commands run by
 * hand, the scheduler's own process) are not linted; dblint_exempt
 * lists them. */
#ifndef RF_DBLINT_H
#define RF_DBLINT_H

#include <stdio.h>

/* Whether src/<base> (a file name without directory) is left out of the
 * lint, and why (static storage), or NULL. */
const char *dblint_exempt(const char *base);

/* Lints the C text of one file (file names it in messages): the number
 * of unprepared calls without the comment, each printed to out
 * ("FILE:LINE: ...") unless out is NULL.  Comments and string literals
 * are skipped. */
int dblint_text(const char *file, const char *text, FILE *out);

/* Lints every *.c file of dir (not exempt).  The number of problems, or
 * -1 when dir or one of its files cannot be read. */
int dblint_dir(const char *dir, FILE *out);

#endif
