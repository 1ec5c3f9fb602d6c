/* fcgi: `ringfence fcgi`, the pre-forked FastCGI pool.
 *
 * Run under `spawn-fcgi -n -s SOCKET -- ringfence fcgi`: the listening
 * socket is fd 0.  The master forks RINGFENCE_FCGI_WORKERS workers,
 * respawns any that dies (with a back-off when they die at once), and on
 * SIGTERM or SIGINT tells them to finish the request in hand and exit,
 * waiting up to 20 s before killing stragglers.  Each worker opens its own
 * PostgreSQL and Redis connections after fork, serves requests one at a
 * time with a per-request arena, and exits after a bounded number of
 * requests so slow leaks cannot build up. */
#ifndef RF_FCGI_H
#define RF_FCGI_H

int fcgi_main(int argc, char **argv);

#endif
