/* routes: the route table of the FastCGI application.  Each route names a
 * method, a path (exact, or a prefix ending in '/') and its handler. */
#ifndef RF_ROUTES_H
#define RF_ROUTES_H

struct app;
struct http_request;
struct http_response;

typedef void (*route_handler)(struct app *app, struct http_request *req,
	struct http_response *res);

/* Dispatches req to its handler; answers 404 / 405 itself. */
void routes_dispatch(struct app *app, struct http_request *req, struct http_response *res);

#endif
