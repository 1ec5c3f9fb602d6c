/* routes: the one route table of the FastCGI application (routes_table,
 * declared in dispatch.h): every route with its method, path pattern,
 * authentication kind, body limit, field validators and handler. */
#ifndef RF_ROUTES_H
#define RF_ROUTES_H

struct app;
struct http_request;
struct http_response;

/* Answers req through the table (dispatch()). */
void routes_dispatch(struct app *app, struct http_request *req, struct http_response *res);

#endif
