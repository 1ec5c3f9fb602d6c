#!/usr/bin/env bash
# Graceful reload of the FastCGI pool (include/fcgi.h): under signed
# webhook load with requests held in the application, SIGHUP and
# `ringfence fcgi-reload` replace every worker without one failed
# webhook; a release switched by moving a `current` symlink brings its
# code and its flows together; a broken release is refused while the old
# workers serve on.
#
# Releases here are folders like /opt/ringfence/releases/<version>:
# bin/ (ringfence, ringfence-sim), state_tables/, audio/, sql/.  A is the
# checkout's build; B is the same source built with VERSION=reload-b and
# a changed prompt in the inbound flow; C's binary exits 1 at once; D's
# flow fails `ringfence check`.
#
# RELOAD_SAN=1 runs the releases' binaries from bin/san (make SAN=1).
. "$ROOT/test/ops/lib.sh"

SRC_BIN=$ROOT/bin
[ "${RELOAD_SAN:-0}" = 1 ] && SRC_BIN=$ROOT/bin/san
REL=$OPS_TMP/releases
CUR=$OPS_TMP/current
LOAD=$ROOT/bin/webhook-load
RATE=25

# make_release DIR BINDIR: a release folder from the checkout's flows,
# audio and migrations and the binaries in BINDIR.
make_release() {
	mkdir -p "$1/bin" &&
		cp "$2/ringfence" "$2/ringfence-sim" "$1/bin/" &&
		cp -r "$ROOT/state_tables" "$ROOT/audio" "$ROOT/sql" "$1/"
}

# switch_to DIR: points `current` at DIR in one rename, as a deployment
# does.
switch_to() {
	ln -sfn "$1" "$CUR.new" && mv -T "$CUR.new" "$CUR"
}

# status_field NAME: a top-level field of the pool's status file.
status_field() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$RINGFENCE_RUN_DIR/fcgi.status" "$1"
}

# inbound_twiml: the TwiML of a new inbound call, signed as Twilio signs
# (HMAC-SHA1 over the URL and the sorted name+value pairs).
inbound_twiml() {
	local sid url sig from
	sid=CA$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	url=$RINGFENCE_PUBLIC_URL/twilio/voice/inbound
	from=+1555$((RANDOM % 9000 + 1000))$((RANDOM % 900 + 100))
	sig=$(printf '%s' "${url}AccountSid${TWILIO_ACCOUNT_SID}CallSid${sid}CallStatusringingCalled+15005550006Caller${from}DirectioninboundFrom${from}To+15005550006" |
		openssl dgst -sha1 -hmac "$TWILIO_AUTH_TOKEN" -binary | base64)
	curl -s --max-time 10 -H "X-Twilio-Signature: $sig" \
		--data-urlencode "AccountSid=$TWILIO_ACCOUNT_SID" --data-urlencode "CallSid=$sid" \
		--data-urlencode "CallStatus=ringing" --data-urlencode "Called=+15005550006" \
		--data-urlencode "Caller=$from" --data-urlencode "Direction=inbound" \
		--data-urlencode "From=$from" --data-urlencode "To=+15005550006" "$url"
}

# every_answer_has TEXT N: N new inbound calls in a row all get TwiML
# with TEXT (N above the pool size, so every worker answers some).
every_answer_has() {
	local i out
	for ((i = 0; i < $2; i++)); do
		out=$(inbound_twiml)
		case $out in
		*"$1"*) ;;
		*)
			echo "answer $i: $out"
			return 1
			;;
		esac
	done
}

# workers_run FILE: every worker of the pool runs FILE (/proc/PID/exe).
workers_run() {
	local pids p exe
	pids=$(RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" fcgi-pids | tail -n +2)
	[ -n "$pids" ] || return 1
	for p in $pids; do
		exe=$(readlink "/proc/$p/exe") || continue
		if [ "$exe" != "$1" ]; then
			echo "worker $p runs $exe"
			return 1
		fi
	done
}

# load_start SECONDS NAME: webhook-load in the background, 25/s, every
# 25th request held 1.5 s by a row lock; load_wait NAME checks its line.
load_start() {
	"$LOAD" --url "$RINGFENCE_PUBLIC_URL" --rate "$RATE" --seconds "$1" --conns 8 --slow 25 \
		--slow-ms 1500 >"$OPS_TMP/load-$2.out" 2>"$OPS_TMP/load-$2.err" &
	LOAD_PID=$!
}
load_wait() {
	local rc
	wait "$LOAD_PID"
	rc=$?
	diag "$2: $(tail -n 1 "$OPS_TMP/load-$2.out")"
	if [ "$rc" -eq 0 ] && grep -q ' failed 0 ' "$OPS_TMP/load-$2.out" &&
		grep -Eq 'held by a row lock .* ([1-9][0-9]{3}) ms' "$OPS_TMP/load-$2.err"; then
		ok "$1"
	else
		not_ok "$1" "$OPS_TMP/load-$2.err"
	fi
}

# The command line the tests reload with: the checkout's (a broken
# release's own binary would not even run).
RF=$SRC_BIN/ringfence

# ---- a status file left behind ---------------------------------------------
# The pool crashed (or was killed) and left fcgi.status in RINGFENCE_RUN_DIR
# (/run/ringfence is kept between restarts); its master_pid now belongs to
# another process, here a sleep.  fcgi-reload must not signal it.
STALE=$OPS_TMP/stale-run
mkdir -p "$STALE"
sleep 300 &
SLEEPER=$!
printf '{"master_pid": %d, "service": "fcgi", "generation": 1, "version": "x", "workers": 4, "reload": {"state": "ok", "seq": 0, "at": "", "reason": ""}}\n' \
	"$SLEEPER" >"$STALE/fcgi.status"
check_fails "fcgi-reload refuses a status file whose master_pid is no pool's master" \
	env RINGFENCE_RUN_DIR="$STALE" "$RF" fcgi-reload --timeout 2
if grep -q "not the pool's master" "$OPS_TMP/check-$TAP_N.log"; then
	ok "the refusal says the status file is stale"
else
	not_ok "the refusal does not say why" "$OPS_TMP/check-$TAP_N.log"
fi
if kill -0 "$SLEEPER" 2>/dev/null; then
	ok "and the process that has the pid now got no signal"
else
	not_ok "fcgi-reload sent SIGHUP to a process that is not the pool's master"
fi
kill "$SLEEPER" 2>/dev/null
wait "$SLEEPER" 2>/dev/null

# ---- releases ---------------------------------------------------------------
if [ ! -x "$LOAD" ] || [ ! -x "$SRC_BIN/ringfence" ]; then
	not_ok "bin/webhook-load and $SRC_BIN/ringfence are built (make integration)"
	tap_done
fi
check "release A is the checkout's build" make_release "$REL/a" "$SRC_BIN"
# Release B: the same source with another version, built in a copy of
# the tree (the checkout's own bin/ stays as it is).
build_b() {
	mkdir -p "$OPS_TMP/src-b" &&
		cp -a "$ROOT/Makefile" "$ROOT/src" "$ROOT/include" "$OPS_TMP/src-b/" &&
		if [ -d "$ROOT/build" ]; then cp -a "$ROOT/build" "$OPS_TMP/src-b/"; fi &&
		make -C "$OPS_TMP/src-b" -j4 VERSION=reload-b SAN="${RELOAD_SAN:-0}" \
			"${SRC_BIN#"$ROOT"/}/ringfence" "${SRC_BIN#"$ROOT"/}/ringfence-sim" &&
		make_release "$REL/b" "$OPS_TMP/src-b/${SRC_BIN#"$ROOT"/}" &&
		cp "$REL/b/audio/inbound/ask_code/welcome_enter_code.mp3" \
			"$REL/b/audio/inbound/ask_code/welcome_enter_code_b.mp3" &&
		sed -i 's/welcome_enter_code\.mp3/welcome_enter_code_b.mp3/' \
			"$REL/b/state_tables/inbound/ask_code.xml" &&
		RINGFENCE_ROOT=$REL/b "$REL/b/bin/ringfence" check
}
check "release B builds with VERSION=reload-b and a changed inbound prompt" build_b
# C: a binary that exits at once.  D: B's binary with a flow that fails
# `ringfence check` (a prompt whose audio is missing).
check "release C's binary exits 1 at once" bash -c '
	cp -r "$1/b" "$1/c" && printf "#!/bin/sh\nexit 1\n" >"$1/c/bin/ringfence" &&
	chmod 0755 "$1/c/bin/ringfence"' - "$REL"
check_fails "release D's flow fails ringfence check" bash -c '
	cp -r "$1/b" "$1/d" && rm "$1/d/audio/inbound/ask_code/welcome_enter_code_b.mp3" &&
	RINGFENCE_ROOT=$1/d "$1/d/bin/ringfence" check' - "$REL"
switch_to "$REL/a"

# ---- the stack on release A ---------------------------------------------------
export RINGFENCE_ROOT=$CUR RINGFENCE_BIN=$CUR/bin/ringfence RINGFENCE_FCGI_WORKERS=4 \
	RINGFENCE_FCGI_RELOAD_TIMEOUT=5
stack_start || tap_done
STACK_CMD=("$ROOT/deploy/stack")

if [ "$(status_field generation)" = 1 ] && [ "$(status_field root)" = "$REL/a" ] &&
	[ "$(status_field workers)" = 4 ]; then
	ok "the status file shows generation 1 on release A's resolved root with 4 workers"
else
	not_ok "the status file at start" "$RINGFENCE_RUN_DIR/fcgi.status"
fi
check "release A's flow answers (its own prompt)" every_answer_has "welcome_enter_code.mp3" 8

# ---- reloads of the same release under load ---------------------------------
load_start 24 same
sleep 3
master=$(status_field master_pid)
for i in 1 2 3; do
	check "fcgi-reload $i under load succeeds" "$RF" fcgi-reload --timeout 60
	sleep 2
	check "SIGHUP $i under load is a reload too" kill -HUP "$master"
	sleep 3
done
load_wait "3 fcgi-reloads and 3 SIGHUPs at $RATE req/s with held requests: 0 failed" same
gen=$(status_field generation)
if [ "$gen" -ge 6 ] && [ "$(status_field master_pid)" = "$master" ]; then
	ok "the same master is at generation $gen (one per reload)"
else
	not_ok "generation $gen after 6 reloads, master $(status_field master_pid) (was $master)" \
		"$RINGFENCE_RUN_DIR/fcgi.status"
fi

# A SIGHUP while a reload is under way waits for it (queued), and both
# happen.  The second is sent once the status file says the first has
# begun: two signals sent before the master takes the first are one
# pending SIGHUP to the kernel, and that is no test of the queue.
reload_state() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["reload"]["state"])' \
		"$RINGFENCE_RUN_DIR/fcgi.status"
}
kill -HUP "$master"
for _ in $(seq 1 200); do
	[ "$(status_field generation)" -gt "$gen" ] || [ "$(reload_state)" = in_progress ] && break
	sleep 0.01
done
kill -HUP "$master"
for _ in $(seq 1 300); do
	[ "$(status_field generation)" -ge $((gen + 2)) ] && [ "$(reload_state)" = ok ] && break
	sleep 0.1
done
check "two SIGHUPs, the second during the first reload, then fcgi-reload: three reloads, all done" \
	"$RF" fcgi-reload --timeout 60
if [ "$(status_field generation)" -eq $((gen + 3)) ] && [ "$(status_field master_pid)" = "$master" ]; then
	ok "the second SIGHUP was queued, not lost (generation $((gen + 3)))"
else
	not_ok "generation $(status_field generation) after three more reloads from $gen" \
		"$RINGFENCE_RUN_DIR/fcgi.status"
fi

# ---- switching to release B under load --------------------------------------
load_start 20 switch
sleep 3
switch_to "$REL/b"
check "deploy/stack fcgi-reload into release B under load" "${STACK_CMD[@]}" fcgi-reload
sleep 1
load_wait "the switch to release B at $RATE req/s: 0 failed" switch
if [ "$(status_field version)" = reload-b ] && [ "$(status_field root)" = "$REL/b" ]; then
	ok "the status file shows version reload-b from release B's root"
else
	not_ok "the status file after the switch" "$RINGFENCE_RUN_DIR/fcgi.status"
fi
check "every worker runs release B's binary (/proc/PID/exe)" workers_run "$REL/b/bin/ringfence"
check "release B's changed prompt is in the TwiML" every_answer_has "welcome_enter_code_b.mp3" 8

# A worker that dies is replaced within its generation: after the
# symlink moved back to A without a reload, the replacement still runs
# B's code with B's flows.
switch_to "$REL/a"
victim=$("${STACK_CMD[@]}" fcgi-pids | sed -n 2p)
kill -KILL "$victim"
sleep 2
check "a respawned worker of release B still runs B's binary" workers_run "$REL/b/bin/ringfence"
check "and still serves B's flows though current points at A" every_answer_has "welcome_enter_code_b.mp3" 8
switch_to "$REL/b"

# ---- broken releases ----------------------------------------------------------
# broken NAME DIR WHAT: switch to DIR under load, fcgi-reload must fail
# with a reason, B serves on, 0 failed.
broken() {
	local out
	load_start 12 "$1"
	sleep 2
	switch_to "$2"
	if out=$("$RF" fcgi-reload --timeout 60 2>&1); then
		not_ok "fcgi-reload into $3 fails (it said: $out)"
	elif [ -n "$out" ]; then
		ok "fcgi-reload into $3 exits 1: $out"
	else
		not_ok "fcgi-reload into $3 fails without a reason"
	fi
	switch_to "$REL/b"
	load_wait "webhooks during the reload into $3: 0 failed" "$1"
	if [ "$(status_field version)" = reload-b ] &&
		python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["reload"]; sys.exit(s["state"] != "failed" or not s["reason"])' \
			"$RINGFENCE_RUN_DIR/fcgi.status"; then
		ok "after $3 the status file says failed with a reason, release B serving"
	else
		not_ok "the status file after $3" "$RINGFENCE_RUN_DIR/fcgi.status"
	fi
	check "release B's workers still answer with B's prompt after $3" \
		every_answer_has "welcome_enter_code_b.mp3" 8
}
broken c "$REL/c" "a release whose binary exits 1"
# D's bin/ringfence is B's real binary: its workers fail their init.
broken d "$REL/d" "a release whose flow fails check"
# E has no bin/ringfence at all (and the master's own path, behind the
# same symlink, resolves there too).
mkdir -p "$REL/e" && cp -r "$REL/b/state_tables" "$REL/b/audio" "$REL/e/"
broken e "$REL/e" "a release without a binary"
# F's workers never say ready: the master gives up after
# RINGFENCE_FCGI_RELOAD_TIMEOUT (5 s here) and stops them.
cp -r "$REL/b" "$REL/f" && printf '#!/bin/sh\nexec sleep 613\n' >"$REL/f/bin/ringfence" &&
	chmod 0755 "$REL/f/bin/ringfence"
broken f "$REL/f" "a release whose workers are never ready"
if ! pgrep -f "sleep 613" >/dev/null; then
	ok "the workers that were not ready were stopped"
else
	not_ok "the workers that were not ready still run: $(pgrep -af 'sleep 613' | head -3)"
fi
check "after the broken ones a reload into B succeeds" "$REL/b/bin/ringfence" fcgi-reload
check "every worker runs release B's binary" workers_run "$REL/b/bin/ringfence"

# ---- command line -------------------------------------------------------------
check_fails "fcgi-reload --pid of a process that is not the master is refused" \
	"$RF" fcgi-reload --pid 1
check_fails "fcgi-reload --timeout 0 is refused" "$RF" fcgi-reload --timeout 0
check_fails "fcgi-reload without a status file says so" \
	env RINGFENCE_RUN_DIR="$OPS_TMP/nowhere" "$RF" fcgi-reload

tap_done
