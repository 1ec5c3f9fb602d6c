# test/bench/lib.sh: what every part of `make bench` shares (sourced, not
# run).  A part is an executable script test/bench/<part> that can run on
# its own; test/bench/run runs them all and puts their sections in one
# results file.  See test/bench/README.md.
#
# Sets ROOT (the repository), BUILD (build/bench) and STACK (empty until
# bench_stack_start).

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=$ROOT/build/bench
STACK=

die() {
	echo "bench: $*" >&2
	exit 1
}

note() {
	echo "bench: $*" >&2
}

# Sets PORT to a TCP port no socket uses (listening or connected: an
# outgoing connection may hold a port of this range) and this script has
# not handed out yet, in a range the other tools here do not use; with $1
# (default 1), the $1 ports from PORT on are all free (deploy/stack puts
# the simulator and the SMTP sink on nginx's port + 1 and + 2).
PORTS_TAKEN=" "
free_port() {
	local p i k span=${1:-1} ok
	for i in $(seq 1 200); do
		p=$((30000 + RANDOM % 9000))
		ok=1
		for ((k = p; k < p + span; k++)); do
			if [[ $PORTS_TAKEN == *" $k "* || -n $(ss -Htan "sport = :$k") ]]; then
				ok=
				break
			fi
		done
		if [[ -n $ok ]]; then
			for ((k = p; k < p + span; k++)); do PORTS_TAKEN+="$k "; done
			PORT=$p
			return 0
		fi
	done
	die "no free TCP port found"
}

psql_q() {
	psql "$RINGFENCE_DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -At "$@"
}

redis_q() {
	redis-cli -u "$RINGFENCE_REDIS_URL" "$@"
}

# Milliseconds from microseconds, two decimals.
ms() {
	awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'
}

# a / b with two decimals, "-" when b is zero.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

# Field NAME of a "BENCH k=v ..." line.
field() {
	local line=$1 name=$2
	sed -n "s/.* $name=\\([^ ]*\\).*/\\1/p" <<<"$line"
}

children_of() {
	ps -o pid= --ppid "$1" 2>/dev/null | tr -s ' \n' ' ' || true
}

# The pid in pid file $1 and its children's ("" when there is none).
pid_and_children() {
	local pid
	read -r pid <"$1" 2>/dev/null || return 0
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	echo "$pid $(children_of "$pid")"
}

# shellcheck disable=SC2034 # used by the parts
CLK_TCK=$(getconf CLK_TCK)

# Clock ticks of process $1: utime, stime, cutime and cstime, the 12th to
# 15th fields after the ")" closing the command name (cutime and cstime:
# the time of the children it has waited for, so that a process that
# ended, a pgbench connection's backend, still counts in its parent's).
# Fails, printing nothing, when the process is gone.
proc_ticks() {
	awk '{ sub(/.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null
}

# Children's user + system microseconds from the output of `times` in
# file $1 (`times` must run in the shell that ran them, not in a command
# substitution, whose own children are none).
children_us() {
	awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
		printf "%d", s * 1e6 }' "$1"
}

# The stack's PostgreSQL as its superuser (the stack's initdb trusts
# local connections), for what the application's role may not do (LOAD
# auto_explain, session_replication_role, replacing rf_valid_time_zone).
psql_su() {
	psql -X -q -v ON_ERROR_STOP=1 -At -h "$STACK/pg/sock" -p "$RINGFENCE_PG_PORT" -U postgres \
		-d ringfence "$@"
}

# Builds ringfence (make, make audio) once per bench run.
bench_make() {
	[[ ${BENCH_MADE:-} == 1 ]] && return 0
	note "building (make, make audio)"
	(cd "$ROOT" && make -s >/dev/null) || die "make failed"
	(cd "$ROOT" && make -s audio >/dev/null) || die "make audio failed"
	export BENCH_MADE=1
}

# bench_tool OUT SRC...: compiles a bench program into $BUILD/OUT, linked
# with the library objects `make` built (everything but main.o) and the
# packages the product links, so it runs ringfence's own code.
bench_tool() {
	local out=$1
	shift
	local cflags=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow)
	local pkgs pkg_cflags pkg_libs objs=() o
	local cc=${CC:-cc} objdir
	mkdir -p "$BUILD"
	read -r -a pkgs <<<"$(cd "$ROOT" && make -s print-pkgs)"
	read -r -a pkg_cflags <<<"$(pkg-config --cflags "${pkgs[@]}")"
	read -r -a pkg_libs <<<"$(pkg-config --libs "${pkgs[@]}")"
	# The Makefile's object folder for the compiler in use; generated
	# sources (the dashboard's stylesheet and script) are under gen/.
	objdir=$ROOT/build/$(basename "${cc%% *}")
	for o in "$objdir"/*.o "$objdir"/gen/*.o; do
		[[ $o == "$objdir/main.o" ]] || objs+=("$o")
	done
	$cc "${cflags[@]}" -I"$ROOT/include" "${pkg_cflags[@]}" -o "$BUILD/$out" \
		"$@" "${objs[@]}" "${pkg_libs[@]}" || die "cannot build $BUILD/$out from $*"
}

# Starts a throwaway stack (deploy/stack start) in a fresh folder under
# /tmp with free ports, sources its ringfence.env and sets STACK.
# RINGFENCE_FCGI_WORKERS may be set first.  bench_stack_stop undoes it.
bench_stack_start() {
	STACK=$(mktemp -d /tmp/ringfence-bench.XXXXXX)
	# PostgreSQL runs as its own user and must reach its data folder.
	chmod 755 "$STACK"
	export RINGFENCE_STACK_DIR=$STACK
	free_port 3
	export RINGFENCE_NGINX_PORT=$PORT
	free_port
	export RINGFENCE_PG_PORT=$PORT
	free_port
	export RINGFENCE_REDIS_PORT=$PORT
	note "starting a throwaway stack in $STACK (nginx :$RINGFENCE_NGINX_PORT," \
		"PostgreSQL :$RINGFENCE_PG_PORT, Redis :$RINGFENCE_REDIS_PORT)"
	(cd "$ROOT" && deploy/stack start) >"$STACK/stack-start.log" 2>&1 ||
		{ cat "$STACK/stack-start.log" >&2; die "deploy/stack start failed"; }
	[[ -f $STACK/ringfence.env ]] || die "deploy/stack start wrote no $STACK/ringfence.env"
	set -a
	# shellcheck disable=SC1091
	. "$STACK/ringfence.env"
	set +a
	export RINGFENCE_STACK_DIR=$STACK
	mkdir -p "$STACK/bench"
}

# Stops the stack bench_stack_start started (if any) and removes its
# folder, unless BENCH_KEEP=1 or $1 (the exit status) is not 0.
bench_stack_stop() {
	local rc=${1:-0}
	[[ -n $STACK && -d $STACK ]] || return 0
	(cd "$ROOT" && RINGFENCE_STACK_DIR=$STACK deploy/stack stop) >"$STACK/stack-stop.log" 2>&1 ||
		{ note "deploy/stack stop failed:"; cat "$STACK/stack-stop.log" >&2; }
	if [[ ${BENCH_KEEP:-0} == 1 || $rc != 0 ]]; then
		note "stack folder kept: $STACK"
	else
		rm -rf "$STACK"
	fi
	STACK=
}

# A part's EXIT trap (`trap bench_cleanup EXIT`): stops its stack and
# exits with the part's status.
bench_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	bench_stack_stop "$rc"
	exit "$rc"
}
