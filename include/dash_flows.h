/* dash_flows: the call flows as diagrams on the dashboard.
 *
 * GET /flows shows each flow of state_tables/ with its diagram and its
 * steps as a table (the same facts in words, for a screen reader and a
 * small phone).  GET /flows/<flow>.svg serves the diagram: an SVG drawn
 * at build time by Graphviz's `dot` from `ringfence diagram <flow>` (the
 * Makefile's build/diagrams/<flow>.svg rule), read once per process and
 * kept for the process's life (never a shell-out per request), served as
 * image/svg+xml with a Content-Security-Policy that allows no script.
 * The flows are the product's, the same for every business, so the SVG
 * needs no session (like the stylesheet); the page that shows them does.
 * A file holding anything that could run (a script or foreignObject
 * element, an on* attribute, a javascript: or data: link) is refused at
 * load (404 and a log line), as it is by the build rule. */
#ifndef RF_DASH_FLOWS_H
#define RF_DASH_FLOWS_H

#include <stddef.h>

#include "dispatch.h"

/* The CSP the SVG is served with. */
#define DASH_FLOWS_SVG_CSP "default-src 'none'; style-src 'unsafe-inline'; sandbox"

/* GET /flows. */
void dash_flows_handle(struct app *app, const struct route_input *in, struct outcome *out);
/* GET /flows/{param}, param "<flow>.svg" (dash_flows_svg_param). */
void dash_flows_svg_handle(struct app *app, const struct route_input *in, struct outcome *out);
/* The param validator: a flow name ([a-z][a-z0-9_]{0,63}) and ".svg". */
int dash_flows_svg_param(const char *v, size_t len);

/* 1 when svg[0..len) is well-formed XML with an <svg> root and nothing
 * that could run (see above), else 0.  Exposed for the unit tests. */
int dash_flows_svg_safe(const char *svg, size_t len);

#endif
