/* hello_fcgi: the bare libfcgi baseline for `make bench`.
 *
 * The smallest program with the same shape as `ringfence fcgi`: run as
 * `spawn-fcgi -n -s SOCKET -- hello_fcgi N`, it takes the listening
 * socket on fd 0, pre-forks N workers that each accept one request at a
 * time with the FCGX_*_r API, read the whole request body (nginx sends
 * the same POST bodies as to ringfence) and answer a fixed text; on
 * SIGTERM or SIGINT the master stops its workers and exits.  What
 * ringfence costs beyond this is its own work: parsing, signature,
 * PostgreSQL, TwiML and the Redis audit.
 *
 * Built by bench/run, not by the Makefile. */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HELLO_MAX_WORKERS 256

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Installs fn for sig without SA_RESTART, so a blocking accept() or
 * wait() returns and the loop sees stop_requested. */
static void set_handler(int sig, void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* Reads and discards the request body, as a real handler must before it
 * answers; returns the number of bytes read. */
static long drain_body(FCGX_Stream *in)
{
	char chunk[4096];
	long total = 0;
	int n;

	while ((n = FCGX_GetStr(chunk, sizeof(chunk), in)) > 0)
		total += n;
	return total;
}

/* The worker loop: serves requests until told to stop; never returns. */
static void worker_run(void)
{
	static const char body[] = "Hello, world\n";
	FCGX_Request req;
	int code = 0;

	set_handler(SIGTERM, on_stop);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		fprintf(stderr, "hello_fcgi: cannot initialise libfcgi\n");
		_exit(3);
	}
	while (!stop_requested) {
		int rc = FCGX_Accept_r(&req);

		if (rc < 0) {
			if (stop_requested || errno == EINTR || rc == -EINTR)
				continue;
			fprintf(stderr, "hello_fcgi: accept failed (%d)\n", rc);
			code = 1;
			break;
		}
		drain_body(req.in);
		/* libfcgi's own printf knows no %zu. */
		FCGX_FPrintF(req.out,
			"Status: 200 OK\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"Content-Length: %d\r\n"
			"\r\n", (int)sizeof(body) - 1);
		FCGX_PutStr(body, (int)sizeof(body) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	_exit(code);
}

/* Signals every live worker and waits for all of them. */
static void stop_workers(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	pid_t pids[HELLO_MAX_WORKERS];
	char *end = NULL;
	long n = argc == 2 ? strtol(argv[1], &end, 10) : 0;
	int started = 0, rc = 1;

	if (end == NULL || *end != '\0' || n < 1 || n > HELLO_MAX_WORKERS) {
		fprintf(stderr, "usage: spawn-fcgi -n -s SOCKET -- hello_fcgi WORKERS (1..%d)\n",
			HELLO_MAX_WORKERS);
		return 2;
	}
	set_handler(SIGTERM, on_stop);
	set_handler(SIGINT, on_stop);
	memset(pids, 0, sizeof(pids));
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			worker_run();
		if (pid < 0) {
			fprintf(stderr, "hello_fcgi: fork: %s\n", strerror(errno));
			goto out;
		}
		pids[started++] = pid;
	}
	/* A worker never exits on its own while the master runs, so the
	 * first death is a failure worth stopping the benchmark for. */
	while (!stop_requested) {
		pid_t dead = wait(NULL);

		if (dead > 0) {
			fprintf(stderr, "hello_fcgi: worker %d exited\n", (int)dead);
			for (int i = 0; i < started; i++)
				if (pids[i] == dead)
					pids[i] = 0;
			goto out;
		}
		if (errno != EINTR)
			goto out;
	}
	rc = 0;
out:
	stop_workers(pids, started);
	return rc;
}
