/* twiml_ref: the libxml2 reference renderer of TwiML templates.
 *
 * It fills in a copy of the parsed template as a libxml2 document and
 * serialises it with xmlDocDumpFormatMemoryEnc: the way ringfence
 * rendered before templates were compiled (twiml.h's twiml_compile).
 * It is the specification of the compiled renderer's output: the unit
 * tests and the fuzz harness render every template both ways and
 * require the same bytes.  Nothing on the request path calls it. */
#ifndef RF_TWIML_REF_H
#define RF_TWIML_REF_H

#include <libxml/tree.h>

struct buf;
struct twiml_render_opts;

/* twiml_render's contract (twiml.h), rendered through libxml2. */
int twiml_ref_render(xmlDocPtr tmpl, const struct twiml_render_opts *opts, struct buf *out);

#endif
