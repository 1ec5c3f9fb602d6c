/* twiml_ref: the libxml2 reference renderer of TwiML templates.
 *
 * It fills in a copy of the parsed template as a libxml2 document and
 * serialises it with xmlDocDumpFormatMemoryEnc: the way ringfence
 * rendered before templates were compiled (twiml.h's twiml_compile).
 * It is the specification of the compiled renderer's output: the unit
 * tests and the fuzz harness render every template both ways and
 * require the same bytes, and every flow's templates are held to it when
 * they are loaded (twiml_ref_verify).  Nothing on the request path calls
 * it. */
#ifndef RF_TWIML_REF_H
#define RF_TWIML_REF_H

#include <libxml/tree.h>

struct buf;
struct twiml_prog;
struct twiml_render_opts;

/* twiml_render's contract (twiml.h), rendered through libxml2. */
int twiml_ref_render(xmlDocPtr tmpl, const struct twiml_render_opts *opts, struct buf *out);

/* 0 when p (tmpl compiled) renders a few hostile renderings exactly as
 * libxml2 does; else -1 with the first difference in err. */
int twiml_ref_verify(xmlDocPtr tmpl, const struct twiml_prog *p, char *err, size_t errlen);

#endif
