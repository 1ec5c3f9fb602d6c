/* html: the escaping template writer for the HTML ringfence serves and
 * mails.
 *
 * Markup lives in constant templates; values reach it only through
 * {{name}} placeholders, each replaced by its value with & < > " '
 * escaped, so no value can open a tag, close an attribute or start an
 * entity, whatever it holds.  No handler assembles markup from strings. */
#ifndef RF_HTML_H
#define RF_HTML_H

struct buf;

/* Appends tmpl to out with every {{name}} replaced by the escaped value
 * of name in fields, a NULL-terminated list of name, value pairs ({ "biz",
 * "A & B", NULL }).  A value may be NULL (written as "").  Returns 0, or
 * -1 when tmpl names a placeholder that fields lacks or leaves "{{"
 * unclosed; out then holds whatever came before it and must not be sent. */
int html_render(struct buf *out, const char *tmpl, const char *const *fields);

/* Appends s to out escaped as text or as a quoted attribute value. */
void html_escape(struct buf *out, const char *s);

#endif
