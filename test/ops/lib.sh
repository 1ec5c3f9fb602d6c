# test/ops/lib.sh: what every operations test (test/ops/t_*.sh) shares.
#
# Each t_*.sh is a bash script that prints TAP ("ok N - what",
# "not ok N - what" with "# " lines of diagnosis, then "1..N") and exits
# non-zero when a test failed.  It runs as an operator would: with the
# shipped scripts (deploy/*) and commands, on a stack of its own that it
# starts and stops itself.  test/run (the "ops" stage) and test/ops/run
# give each script:
#   ROOT                    the checkout (built: bin/, bin/san/, audio)
#   RINGFENCE_STACK_DIR     a fresh folder for its stack (it may start
#                           more than one stack under OPS_TMP)
#   RINGFENCE_NGINX_PORT, RINGFENCE_PG_PORT, RINGFENCE_REDIS_PORT
#                           free ports for that stack (nginx's port and
#                           the two after it are free too)
#   OPS_TMP                 a scratch folder of its own
#   RINGFENCE_ENV=test
# Source it:  . "$ROOT/test/ops/lib.sh"
#
# Timing is never asserted; a script may print measurements as "# " lines.

set -u
TAP_N=0
TAP_FAILED=0
OPS_STACKS=()

# ok "what": one passing test.
ok() {
	TAP_N=$((TAP_N + 1))
	echo "ok $TAP_N - $*"
}

# not_ok "what" [log-file]: one failing test, with the log's last lines.
not_ok() {
	local what=$1 log=${2:-}
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $what"
	if [ -n "$log" ] && [ -f "$log" ]; then
		tail -n 30 "$log" | sed 's/^/# /'
	fi
}

# check "what" cmd...: ok when cmd exits 0; its output goes to a log
# under OPS_TMP, shown when it fails.
check() {
	local what=$1 log
	shift
	log=$OPS_TMP/check-$((TAP_N + 1)).log
	if "$@" >"$log" 2>&1; then
		ok "$what"
	else
		not_ok "$what (exit $?)" "$log"
	fi
}

# check_fails "what" cmd...: ok when cmd exits non-zero.
check_fails() {
	local what=$1 log
	shift
	log=$OPS_TMP/check-$((TAP_N + 1)).log
	if "$@" >"$log" 2>&1; then
		not_ok "$what (it succeeded)" "$log"
	else
		ok "$what"
	fi
}

# diag text...: a "# " line.
diag() {
	echo "# $*"
}

# stack_start [STACK_DIR]: starts a stack (deploy/stack start) in
# STACK_DIR (default RINGFENCE_STACK_DIR) on the script's ports and
# sources its environment; stopped again by the EXIT trap.
stack_start() {
	local dir=${1:-$RINGFENCE_STACK_DIR}
	OPS_STACKS+=("$dir")
	if ! RINGFENCE_STACK_DIR=$dir timeout 300 "$ROOT/deploy/stack" start >"$OPS_TMP/stack-start.log" 2>&1; then
		not_ok "the stack starts in $dir" "$OPS_TMP/stack-start.log"
		return 1
	fi
	set -a
	# shellcheck disable=SC1091
	. "$dir/ringfence.env"
	set +a
	return 0
}

# Stops every stack the script started (the EXIT trap).
stack_stop_all() {
	local d
	for d in "${OPS_STACKS[@]}"; do
		RINGFENCE_STACK_DIR=$d timeout 120 "$ROOT/deploy/stack" stop >>"$OPS_TMP/stack-stop.log" 2>&1
	done
	OPS_STACKS=()
}

# tap_done: prints the plan and exits 1 when a test failed.
tap_done() {
	echo "1..$TAP_N"
	[ "$TAP_FAILED" -eq 0 ]
	exit $?
}

: "${ROOT:?ROOT is not set (run through test/ops/run)}"
: "${OPS_TMP:?OPS_TMP is not set (run through test/ops/run)}"
mkdir -p "$OPS_TMP"
trap stack_stop_all EXIT
