/* fcgi: the generic pre-forked FastCGI pool (master + workers). */
#include "fcgi.h"
#include "arena.h"
#include "cli.h"
#include "http.h"
#include "log.h"
#include "config.h"
#include "proc_pool.h"
#include "util.h"
#include "version.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A worker retires after this many requests so that a slow leak in any
 * library cannot grow without bound; the master replaces it. */
#define FCGI_MAX_REQUESTS 100000
#define FCGI_STOP_GRACE_S 20

/* See fcgi.h. */
void fcgi_answer(const struct fcgi_service *svc, void *state, FCGX_Request *fcgx,
	struct arena *arena)
{
	struct http_request req;
	struct http_response res;

	http_response_init(&res, arena);
	if (http_request_read(fcgx, arena, &req) < 0) {
		http_response_text(&res, 400, "bad request");
	} else {
		svc->handle(state, &req, &res);
	}
	if (http_response_send(fcgx, &res) < 0)
		log_warn("%s: client went away before the response was written", svc->name);
}

/* See fcgi.h. */
void fcgi_after(const struct fcgi_service *svc, void *state, struct arena *arena)
{
	if (svc->after)
		svc->after(state);
	log_set_request_id(NULL);
	arena_reset(arena);
}

/* Tells the master on ready_fd (-1: nobody asks) that this worker can
 * serve, or why it cannot, and closes it. */
static void worker_say(int ready_fd, const char *what)
{
	if (ready_fd < 0)
		return;
	if (dprintf(ready_fd, "%s\n", what) < 0)
		log_warn("cannot tell the master: %s", strerror(errno));
	close(ready_fd);
}

/* A worker (slot < n): serves requests until SIGTERM or its request
 * budget; returns its exit status.  ready_fd: see worker_say. */
static int worker_run(const struct fcgi_service *svc, int listen_fd, int ready_fd)
{
	void *state = NULL;
	FCGX_Request fcgx;
	struct arena *arena;
	char err[256];
	sigset_t term, old;
	long served = 0;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);

	if (svc->init(&state, err, sizeof(err)) < 0) {
		log_error("%s worker: %s", svc->name, err);
		worker_say(ready_fd, err);
		return 3;
	}
	arena = arena_new(16384);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&fcgx, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("%s worker: cannot initialise libfcgi", svc->name);
		worker_say(ready_fd, "cannot initialise libfcgi");
		return 3;
	}
	{
		char line[200];
		snprintf(line, sizeof(line), "ready %s", rf_version);
		worker_say(ready_fd, line);
	}
	while (!cli_stopping() && served < FCGI_MAX_REQUESTS) {
		int rc = FCGX_Accept_r(&fcgx);
		if (rc < 0) {
			if (cli_stopping())
				break;
			if (errno == EINTR || rc == -EINTR)
				continue;
			log_error("%s worker: accept failed (%d)", svc->name, rc);
			break;
		}
		/* A SIGTERM arriving mid-request waits until the answer is out
		 * and the work deferred after it (the audit record) is done:
		 * interrupted system calls inside libpq, hiredis or libfcgi
		 * would otherwise cut the request short. */
		sigprocmask(SIG_BLOCK, &term, &old);
		fcgi_answer(svc, state, &fcgx, arena);
		FCGX_Finish_r(&fcgx);
		fcgi_after(svc, state, arena);
		served++;
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	FCGX_Free(&fcgx, 1);
	arena_free(arena);
	svc->free(state);
	return 0;
}

/* The extra child (slot n): closes the listening socket (it serves no
 * request), puts SIGTERM and SIGHUP back to their defaults (SIGTERM ends
 * it unless the function installs its own handler) and runs the
 * service's function. */
static int extra_run(const struct fcgi_service *svc, int listen_fd)
{
	close(listen_fd);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	return svc->extra_run(svc->extra_ctx);
}

/* One generation's release: what its workers run and read. */
struct gen_release {
	char root[PATH_MAX];   /* resolved RINGFENCE_ROOT */
	char binary[PATH_MAX]; /* resolved; "" for generation 1 (forked, no exec) */
	int bin_fd;            /* the binary, open for fexecve; -1: none */
};

struct pool {
	const struct fcgi_service *svc;
	int n; /* workers; slot n, when the service has one, is the extra child */
	int listen_fd;
	/* Reload (svc->worker_cmd). */
	char root_link[PATH_MAX]; /* RINGFENCE_ROOT as given, absolute */
	char self[PATH_MAX];      /* the path the master was started as, absolute */
	char self_exe[PATH_MAX];  /* the master's own binary (generation 1) */
	struct gen_release rel[2]; /* generation g in rel[g % 2] */
	char status_path[PATH_MAX];
	long long started_s;
};

static int pool_run_slot(void *ctx, int slot)
{
	const struct pool *pool = ctx;
	if (slot == pool->n)
		return extra_run(pool->svc, pool->listen_fd);
	return worker_run(pool->svc, pool->listen_fd, -1);
}

/* A worker of generation gen: generation 1 serves in this process;
 * later ones exec their release's binary (the worker_cmd), with the
 * ready pipe on fd 3.  SIGTERM stays blocked across the exec (the new
 * image unblocks it once its handler is in place), so a stop sent now
 * is not lost. */
static int pool_run_gen(void *ctx, int slot, int gen, int ready_fd)
{
	const struct pool *pool = ctx;
	const struct gen_release *rel = &pool->rel[gen % 2];
	char *argv[3];
	sigset_t term;
	int bin_fd;

	if (slot == pool->n)
		return extra_run(pool->svc, pool->listen_fd);
	if (gen == 1 || rel->bin_fd < 0)
		return worker_run(pool->svc, pool->listen_fd, ready_fd);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	if (cli_stopping())
		return 0;
	/* The binary's fd above the ready pipe's fixed number 3. */
	bin_fd = fcntl(rel->bin_fd, F_DUPFD, 10);
	if (bin_fd < 0 || setenv("RINGFENCE_ROOT", rel->root, 1) < 0)
		goto fail;
	if (ready_fd >= 0) {
		if (ready_fd != 3 && dup2(ready_fd, 3) < 0)
			goto fail;
		if (fcntl(3, F_SETFD, 0) < 0 || setenv("RINGFENCE_FCGI_READY_FD", "3", 1) < 0)
			goto fail;
	} else {
		unsetenv("RINGFENCE_FCGI_READY_FD");
	}
	/* (F_DUPFD leaves it open across the exec: a script (#!) is run
	 * through /dev/fd/N.) */
	argv[0] = (char *)rel->binary;
	argv[1] = (char *)pool->svc->worker_cmd;
	argv[2] = NULL;
	fexecve(bin_fd, argv, environ);
fail:
	{
		char why[PATH_MAX + 100];
		snprintf(why, sizeof(why), "cannot run %s: %s", rel->binary, strerror(errno));
		log_error("%s worker: %s", pool->svc->name, why);
		worker_say(ready_fd >= 0 ? 3 : -1, why);
	}
	return 127;
}

/* proc_pool's reload_begin: resolves the release generation gen runs. */
static int pool_reload_begin(void *ctx, int gen, char *err, size_t errlen)
{
	struct pool *pool = ctx;
	struct gen_release *rel = &pool->rel[gen % 2];
	char root[PATH_MAX], cand[PATH_MAX + 64], bin[PATH_MAX];
	struct stat st;
	int fd;

	if (realpath(pool->root_link, root) == NULL) {
		snprintf(err, errlen, "RINGFENCE_ROOT %s cannot be resolved: %s", pool->root_link,
			strerror(errno));
		return -1;
	}
	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "RINGFENCE_ROOT %s (%s) is not a folder", pool->root_link, root);
		return -1;
	}
	snprintf(cand, sizeof(cand), "%s/bin/%s", root, pool->svc->bin_name);
	if (stat(cand, &st) < 0) {
		/* No binary in the release: the one the master was started as,
		 * which may sit behind the same symlink. */
		if (realpath(pool->self, bin) == NULL) {
			snprintf(err, errlen, "no %s binary: %s is missing and %s cannot be resolved (%s)",
				pool->svc->bin_name, cand, pool->self, strerror(errno));
			return -1;
		}
	} else if (realpath(cand, bin) == NULL) {
		snprintf(err, errlen, "%s cannot be resolved: %s", cand, strerror(errno));
		return -1;
	}
	if (stat(bin, &st) < 0 || !S_ISREG(st.st_mode) || access(bin, X_OK) < 0) {
		snprintf(err, errlen, "%s is not an executable file", bin);
		return -1;
	}
	fd = open(bin, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", bin, strerror(errno));
		return -1;
	}
	/* rel held generation gen - 2, whose workers have all ended. */
	if (rel->bin_fd >= 0)
		close(rel->bin_fd);
	snprintf(rel->root, sizeof(rel->root), "%s", root);
	snprintf(rel->binary, sizeof(rel->binary), "%s", bin);
	rel->bin_fd = fd;
	log_info("%s: generation %d runs %s with root %s", pool->svc->name, gen, bin, root);
	return 0;
}

static void rfc3339(char *buf, size_t len, long long epoch_s)
{
	time_t t = (time_t)epoch_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* proc_pool's status: writes the status file (see fcgi.h) atomically. */
static void pool_status(void *ctx, const struct proc_pool_status *st)
{
	const struct pool *pool = ctx;
	const struct gen_release *rel = &pool->rel[st->generation % 2];
	static const char *states[] = { "ok", "failed", "in_progress" };
	char started[32], now[32], at[32], *tmp = NULL, *text = NULL;
	json_t *o, *r;
	FILE *f;

	rfc3339(started, sizeof(started), pool->started_s);
	rfc3339(now, sizeof(now), (long long)time(NULL));
	rfc3339(at, sizeof(at), st->reload_at_ms / 1000);
	r = json_pack("{s:s, s:I, s:o, s:s}", "state", states[st->reload], "seq",
		(json_int_t)st->reload_seq, "at", st->reload_at_ms ? json_string(at) : json_null(),
		"reason", st->reload_reason ? st->reload_reason : "");
	o = json_pack("{s:I, s:s, s:i, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:s, s:s, s:o}",
		"master_pid", (json_int_t)getpid(), "service", pool->svc->name,
		"generation", st->generation,
		"version", st->note && st->note[0] ? st->note : rf_version,
		"root", rel->root,
		"binary", rel->binary[0] ? rel->binary : pool->self_exe,
		"workers", st->running, "workers_wanted", st->n, "retiring", st->retiring,
		"restarts", (json_int_t)st->restarts, "started_at", started, "updated_at", now,
		"reload", r);
	if (o == NULL)
		goto out;
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	tmp = xasprintf("%s.%d.tmp", pool->status_path, (int)getpid());
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0) {
		log_warn("%s: cannot write %s: %s", pool->svc->name, tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, pool->status_path) < 0) {
		log_warn("%s: cannot rename %s: %s", pool->svc->name, tmp, strerror(errno));
		unlink(tmp);
	}
out:
	free(tmp);
	free(text);
	json_decref(o);
}

static const char *pool_slot_what(void *ctx, int slot)
{
	const struct pool *pool = ctx;
	if (slot == pool->n)
		return pool->svc->extra_name ? pool->svc->extra_name : "extra child";
	return "worker";
}

/* An absolute form of path (relative to the working directory), symlinks
 * left as they are: they are followed at each reload. */
static int absolute(char *out, size_t len, const char *path)
{
	char cwd[PATH_MAX];
	if (path[0] == '/')
		return snprintf(out, len, "%s", path) < (int)len ? 0 : -1;
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	return snprintf(out, len, "%s/%s", cwd, path) < (int)len ? 0 : -1;
}

/* The reload set-up at start: remembers RINGFENCE_ROOT and the master's
 * path, resolves the root for generation 1 and exports it, and keeps the
 * run folder and the audit fallback where they were (under the root as
 * given, not inside a release).  0, or -1 with a reason in err. */
static int pool_reload_setup(struct pool *pool, char *err, size_t errlen)
{
	const char *root = getenv("RINGFENCE_ROOT");
	char argv0[PATH_MAX];
	ssize_t n;
	int fd;

	if (root == NULL || root[0] == '\0')
		root = ".";
	if (absolute(pool->root_link, sizeof(pool->root_link), root) < 0) {
		snprintf(err, errlen, "RINGFENCE_ROOT is too long");
		return -1;
	}
	if (realpath(pool->root_link, pool->rel[1].root) == NULL) {
		snprintf(err, errlen, "RINGFENCE_ROOT %s cannot be resolved: %s", root, strerror(errno));
		return -1;
	}
	if (getenv("RINGFENCE_RUN_DIR") == NULL) {
		char *v = xasprintf("%s/var/run", pool->root_link);
		setenv("RINGFENCE_RUN_DIR", v, 1);
		free(v);
	}
	if (getenv("RINGFENCE_AUDIT_FALLBACK") == NULL) {
		char *v = xasprintf("%s/var/log/audit-fallback.log", pool->root_link);
		setenv("RINGFENCE_AUDIT_FALLBACK", v, 1);
		free(v);
	}
	setenv("RINGFENCE_ROOT", pool->rel[1].root, 1);
	/* The path this process was started as (its argv[0]); /proc/self/exe
	 * is already resolved into the release it came from. */
	n = readlink("/proc/self/exe", pool->self_exe, sizeof(pool->self_exe) - 1);
	pool->self_exe[n > 0 ? n : 0] = '\0';
	snprintf(pool->self, sizeof(pool->self), "%s", pool->self_exe);
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, argv0, sizeof(argv0) - 1);
		close(fd);
		argv0[n > 0 ? n : 0] = '\0';
		if (strchr(argv0, '/'))
			absolute(pool->self, sizeof(pool->self), argv0);
	}
	return 0;
}

int fcgi_serve(const struct fcgi_service *svc, int nworkers)
{
	struct pool pool;
	struct proc_pool pp;
	struct proc_pool_report rep;
	struct config cfg;
	void *probe = NULL;
	char err[512];
	struct stat st;
	int reload = svc->worker_cmd != NULL && svc->extra_run == NULL;

	if (nworkers < 1 || nworkers > FCGI_MAX_WORKERS) {
		fprintf(stderr, "ringfence %s: the pool needs 1 to %d workers\n", svc->name,
			FCGI_MAX_WORKERS);
		return 1;
	}
	if (fstat(0, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "ringfence %s: fd 0 is not a listening socket; run under spawn-fcgi -n\n",
			svc->name);
		return 1;
	}
	memset(&pool, 0, sizeof(pool));
	pool.rel[0].bin_fd = pool.rel[1].bin_fd = -1;
	pool.started_s = (long long)time(NULL);
	if (reload && pool_reload_setup(&pool, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence %s: %s\n", svc->name, err);
		return 1;
	}
	/* Build the state once in the master so that a broken deployment
	 * fails at start with a reason, not in every worker. */
	if (svc->init(&probe, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringfence %s: %s\n", svc->name, err);
		return 1;
	}
	svc->free(probe);

	pool.svc = svc;
	pool.n = nworkers;
	pool.listen_fd = 0;
	memset(&pp, 0, sizeof(pp));
	pp.name = svc->name;
	pp.n = nworkers + (svc->extra_run ? 1 : 0);
	pp.run = pool_run_slot;
	pp.ctx = &pool;
	pp.what = pool_slot_what;
	pp.respawn = 1;
	pp.stop_grace_s = FCGI_STOP_GRACE_S;
	if (reload) {
		long timeout_s = FCGI_RELOAD_TIMEOUT_S;
		const char *v = getenv("RINGFENCE_FCGI_RELOAD_TIMEOUT");
		if (v && cli_int_arg("ringfence fcgi", "RINGFENCE_FCGI_RELOAD_TIMEOUT", v, 1, 3600,
				 &timeout_s) < 0)
			return 1;
		if (config_load(&cfg, 0, err, sizeof(err)) < 0) {
			fprintf(stderr, "ringfence %s: %s\n", svc->name, err);
			return 1;
		}
		if ((size_t)snprintf(pool.status_path, sizeof(pool.status_path), "%s/%s", cfg.run_dir,
			    FCGI_STATUS_FILE) >= sizeof(pool.status_path)) {
			fprintf(stderr, "ringfence %s: RINGFENCE_RUN_DIR is too long\n", svc->name);
			return 1;
		}
		mkdir(cfg.run_dir, 0750);
		pp.run_gen = pool_run_gen;
		pp.reload_begin = pool_reload_begin;
		pp.reload_timeout_ms = (int)timeout_s * 1000;
		pp.status = pool_status;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	log_info("%s: master %d serving with %d workers%s%s%s%s", svc->name, (int)getpid(), nworkers,
		svc->extra_run ? " and a " : "", svc->extra_run ? pool_slot_what(&pool, nworkers) : "",
		reload ? "; root " : "", reload ? pool.rel[1].root : "");
	if (proc_pool_run(&pp, &rep) < 0)
		return 1;
	for (int i = 0; i < 2; i++)
		if (pool.rel[i].bin_fd >= 0)
			close(pool.rel[i].bin_fd);
	log_info("%s: stopped", svc->name);
	return 0;
}

int fcgi_worker_main(const struct fcgi_service *svc, int argc, char **argv)
{
	const char *v = getenv("RINGFENCE_FCGI_READY_FD");
	struct stat st;
	sigset_t none;
	int ready_fd = -1;

	if (argc > 1) {
		fprintf(stderr, "ringfence %s: started by the FastCGI master on a reload, not by hand\n",
			argv[0]);
		return 2;
	}
	if (v) {
		long fd;
		if (cli_int_arg("ringfence fcgi-worker", "RINGFENCE_FCGI_READY_FD", v, 3, 1024, &fd) < 0)
			return 2;
		ready_fd = (int)fd;
		fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
		unsetenv("RINGFENCE_FCGI_READY_FD");
	}
	if (fstat(0, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		worker_say(ready_fd, "fd 0 is not the listening socket");
		fprintf(stderr, "ringfence %s: fd 0 is not a listening socket\n", argv[0]);
		return 2;
	}
	/* The signals of a pool worker (proc_pool.h); SIGTERM was blocked
	 * across the exec and may be pending already. */
	cli_catch_stop(SIGTERM);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	return worker_run(svc, 0, ready_fd);
}

/* What fcgi-reload reads of the status file. */
struct status_seen {
	long long master_pid;
	long long generation;
	long long seq;
	long long workers;
	char state[16];
	char version[128];
	char reason[300];
};

/* Reads path into *s.  0, or -1 (missing, half written or not JSON). */
static int status_read(const char *path, struct status_seen *s)
{
	json_error_t jerr;
	json_t *o = json_load_file(path, 0, &jerr), *r;
	const char *state = NULL, *version = NULL, *reason = NULL;
	json_int_t pid = 0, gen = 0, seq = 0, workers = 0;
	int rc = -1;

	if (o == NULL)
		return -1;
	if (json_unpack(o, "{s:I, s:I, s:s, s:I, s:o}", "master_pid", &pid, "generation", &gen,
		    "version", &version, "workers", &workers, "reload", &r) == 0 &&
		json_unpack(r, "{s:s, s:I, s:s}", "state", &state, "seq", &seq, "reason", &reason) == 0) {
		s->master_pid = pid;
		s->generation = gen;
		s->seq = seq;
		s->workers = workers;
		snprintf(s->state, sizeof(s->state), "%s", state);
		snprintf(s->version, sizeof(s->version), "%s", version);
		snprintf(s->reason, sizeof(s->reason), "%s", reason);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* Whether pid runs `ringfence fcgi` (its second argument is "fcgi"): 1,
 * 0 when it runs something else or nothing, -1 when /proc does not say. */
static int is_pool_master(long pid)
{
	char path[64], cmd[4096];
	int fd;
	ssize_t n;
	size_t first;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n < 0)
		return -1;
	cmd[n] = '\0';
	first = strlen(cmd);
	return (size_t)n > first + 1 && strcmp(cmd + first + 1, "fcgi") == 0;
}

static void fcgi_reload_usage(FILE *out)
{
	fprintf(out,
		"usage: ringfence fcgi-reload [--pid PID | --pidfile FILE] [--timeout S]\n"
		"\n"
		"Reloads the FastCGI pool without dropping a request: sends SIGHUP to its\n"
		"master (default: the master_pid of %s in RINGFENCE_RUN_DIR), which\n"
		"starts new workers from the release RINGFENCE_ROOT points at now and retires\n"
		"the old ones once every new one is ready.  Waits up to S seconds (default\n"
		"60) for the outcome in the status file: exit 0 with \"reloaded: generation G,\n"
		"version V, N workers\", or exit 1 with the reason (the old workers serve on).\n",
		FCGI_STATUS_FILE);
}

int fcgi_reload_main(int argc, char **argv)
{
	const char *prog = "ringfence fcgi-reload";
	const char *pidfile = NULL;
	long pid = 0, timeout_s = 60;
	struct config cfg;
	struct status_seen before, now;
	char err[512], *path = NULL;
	long long deadline;
	int rc = 1, have_before;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fcgi_reload_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--pid") == 0) {
			if (cli_int_arg(prog, "--pid", i + 1 < argc ? argv[++i] : NULL, 2, 1L << 22, &pid) < 0)
				return 2;
		} else if (strcmp(argv[i], "--pidfile") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: --pidfile needs a file\n", prog);
				return 2;
			}
			pidfile = argv[++i];
		} else if (strcmp(argv[i], "--timeout") == 0) {
			if (cli_int_arg(prog, "--timeout", i + 1 < argc ? argv[++i] : NULL, 1, 3600,
				    &timeout_s) < 0)
				return 2;
		} else {
			fprintf(stderr, "%s: unknown argument '%s' (see --help)\n", prog, argv[i]);
			return 2;
		}
	}
	if (pid && pidfile) {
		fprintf(stderr, "%s: give --pid or --pidfile, not both\n", prog);
		return 2;
	}
	if (config_load(&cfg, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 1;
	}
	path = xasprintf("%s/%s", cfg.run_dir, FCGI_STATUS_FILE);
	if (pidfile) {
		FILE *f = fopen(pidfile, "r");
		char line[64] = "";
		if (f == NULL || fgets(line, sizeof(line), f) == NULL) {
			fprintf(stderr, "%s: cannot read %s: %s\n", prog, pidfile,
				f ? "it is empty" : strerror(errno));
			if (f)
				fclose(f);
			goto out;
		}
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
		if (cli_int_arg(prog, pidfile, line, 2, 1L << 22, &pid) < 0)
			goto out;
	}
	have_before = status_read(path, &before) == 0;
	if (!have_before) {
		fprintf(stderr, "%s: cannot read the pool's status %s (is the pool running, with this "
			"RINGFENCE_RUN_DIR?)\n", prog, path);
		goto out;
	}
	if (pid == 0)
		pid = (long)before.master_pid;
	if (before.master_pid != pid) {
		fprintf(stderr, "%s: %s belongs to master %lld, not %ld\n", prog, path,
			before.master_pid, pid);
		goto out;
	}
	/* A status file left by a pool that crashed names a pid that may be
	 * another process's by now: never signalled. */
	if (is_pool_master(pid) == 0) {
		fprintf(stderr, "%s: process %ld, named in %s, is not the pool's master (`ringfence "
			"fcgi`): the pool is not running and the file is stale; start the pool\n", prog,
			pid, path);
		goto out;
	}
	/* A reload under way: the master queues this one after it. */
	if (kill((pid_t)pid, SIGHUP) < 0) {
		fprintf(stderr, "%s: cannot signal the master %ld: %s\n", prog, pid, strerror(errno));
		goto out;
	}
	deadline = util_now_ms() + timeout_s * 1000;
	for (;;) {
		struct timespec ts = { 0, 100 * 1000000L };
		if (status_read(path, &now) == 0 && now.master_pid == pid && now.seq > before.seq &&
			strcmp(now.state, "in_progress") != 0) {
			if (strcmp(now.state, "ok") == 0) {
				printf("reloaded: generation %lld, version %s, %lld workers\n", now.generation,
					now.version, now.workers);
				rc = 0;
			} else {
				fprintf(stderr, "%s: reload failed: %s (generation %lld, version %s serves on)\n",
					prog, now.reason, now.generation, now.version);
			}
			break;
		}
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			fprintf(stderr, "%s: the master %ld exited during the reload\n", prog, pid);
			break;
		}
		if (util_now_ms() >= deadline) {
			fprintf(stderr, "%s: no outcome in %s within %ld s\n", prog, path, timeout_s);
			break;
		}
		nanosleep(&ts, NULL);
	}
out:
	free(path);
	return rc;
}
