#!/usr/bin/env bash
# t_upgrade.sh: releases side by side, an upgrade and a rollback under
# webhook load, and the refusals (a migration failing --check, a rollback
# past a contract migration, a release older than the database's contract
# migration).
#
# Releases built from copies of the checkout into OPS_TMP/opt/releases:
#   A         the checkout (make VERSION=A)
#   B         A plus the expand migration 900_upgrade_probe.sql, a changed
#             prompt (audio) and a changed text in a copied state table
#   BAD       A plus 900_upgrade_bad.sql: a DROP COLUMN marked expand
#             (deploy/release refuses to build it; copied from A by hand)
#   C         B plus the contract migration 901_upgrade_contract.sql
# The stack's pool, scheduler and worker run OPS_TMP/opt/current.
# shellcheck disable=SC2317  # functions run through check/check_fails
. "$ROOT/test/ops/lib.sh"

PREFIX=$OPS_TMP/opt
REL=$PREFIX/releases
LOAD_SECONDS=${T_UPGRADE_LOAD_SECONDS:-150}

# copy_tree FROM DEST: a copy of a checkout with its build (mtimes kept,
# so that make only relinks), without git and the stack folders.
copy_tree() {
	mkdir -p "$2" &&
		tar -C "$1" --exclude=./.git --exclude=./var --exclude=./test-artifacts -cf - . |
		tar -C "$2" -xf -
}

# release NAME SRC: deploy/release --version NAME.
release() {
	"$ROOT/deploy/release" --prefix "$PREFIX" --version "$1" "$2" >"$OPS_TMP/release-$1.log" 2>&1
}

# The release (its name) that a process runs, from /proc/PID/exe.
release_of() {
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	case $exe in "$REL"/*/bin/ringfence) ;; *) echo "?$exe"; return 0 ;; esac
	exe=${exe#"$REL"/}
	echo "${exe%%/*}"
}

# runs_release NAME: the pool's workers, the scheduler and the worker run
# release NAME; prints what runs otherwise.  (The pool's master is not
# replaced by a reload: it starts workers from the release RINGFENCE_ROOT
# resolves to.)
runs_release() {
	local want=$1 pid got bad=0 n=0 master
	master=$("$ROOT/deploy/stack" fcgi-pids | head -n 1)
	diag "the pool's master $master runs $(release_of "$master")"
	for pid in $("$ROOT/deploy/stack" fcgi-pids | tail -n +2) \
		$(cat "$RINGFENCE_RUN_DIR/scheduler.pid" "$RINGFENCE_RUN_DIR/worker.pid" 2>/dev/null); do
		got=$(release_of "$pid") || continue
		n=$((n + 1))
		if [ "$got" != "$want" ]; then
			echo "pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)) runs $got, not $want"
			bad=1
		fi
	done
	[ "$n" -ge 3 ] || { echo "only $n processes found"; bad=1; }
	return "$bad"
}

# log_has "what" LOG PATTERN...: ok when LOG has a line matching each.
log_has() {
	local what=$1 log=$2 p
	shift 2
	for p in "$@"; do
		if ! grep -q -- "$p" "$log"; then
			not_ok "$what" "$log"
			return
		fi
	done
	ok "$what"
}

psql_q() {
	psql "$RINGFENCE_DATABASE_URL" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1"
}

events() {
	psql_q "SELECT count(*) FROM deployment_events WHERE kind = '$1' AND release = '$2'"
}

# ---- the releases --------------------------------------------------------
SRC=$OPS_TMP/src
copy_tree "$ROOT" "$SRC/A" || { not_ok "copy the checkout"; tap_done; }
check "release A builds and installs" release A "$SRC/A"

copy_tree "$SRC/A" "$SRC/B"
cat >"$SRC/B/sql/900_upgrade_probe.sql" <<'SQL'
-- A test migration of t_upgrade.sh (release B).
-- phase: expand
CREATE TABLE upgrade_probe (id integer PRIMARY KEY, note text);
SQL
PROMPT=audio/reminder_call/announce/automated_message_from.txt
printf 'This is release B of the automated message from\n' >"$SRC/B/$PROMPT"
sed -i 's/reply 1 to confirm/release B: reply 1 to confirm/' "$SRC/B/state_tables/reminder_sms/help.xml"
check "release B (an expand migration, a changed prompt) builds and installs" release B "$SRC/B"

copy_tree "$SRC/A" "$SRC/BAD"
cat >"$SRC/BAD/sql/900_upgrade_bad.sql" <<'SQL'
-- phase: expand
ALTER TABLE process_heartbeats DROP COLUMN last_error;
SQL
check_fails "deploy/release refuses a checkout whose expand migration fails the lint" release BAD "$SRC/BAD"
# A release built elsewhere with the same migration: deploy/upgrade's own
# migrate --check must stop it.
bad_release() {
	cp -a "$REL/A" "$REL/BAD" && chmod u+w "$REL/BAD" "$REL/BAD/sql" &&
		cp "$SRC/BAD/sql/900_upgrade_bad.sql" "$REL/BAD/sql/" && chmod a-w "$REL/BAD/sql" "$REL/BAD"
}
check "release BAD (A plus a DROP COLUMN marked expand) by hand" bad_release

copy_tree "$SRC/B" "$SRC/C"
cat >"$SRC/C/sql/901_upgrade_contract.sql" <<'SQL'
-- phase: contract
DROP TABLE upgrade_probe;
SQL
check "release C (a contract migration) installs" release C "$SRC/C"

read_only() {
	[ -z "$(find "$REL/A" ! -type l -perm /222 | head -n 3 | tee /dev/stderr)" ]
}
check "a release is read-only (no file or folder with a write bit)" read_only
check_fails "an existing release is never overwritten" release A "$SRC/A"
check "release A's binary says A" test "$("$REL/A/bin/ringfence" --version)" = "ringfence A"
check "release B's binary says B" test "$("$REL/B/bin/ringfence" --version)" = "ringfence B"
if [ ! -x "$REL/A/bin/ringfence" ] || [ ! -x "$REL/B/bin/ringfence" ]; then
	tap_done
fi

# ---- a stack on release A --------------------------------------------------
ln -s "$REL/A" "$PREFIX/current"
export RINGFENCE_ROOT=$PREFIX/current RINGFENCE_BIN=$PREFIX/current/bin/ringfence
stack_start || tap_done
STACK=$ROOT/deploy/stack
STACK_DIR_LOG=$RINGFENCE_STACK_DIR/log
check "the scheduler starts on A" "$STACK" scheduler-start
check "a worker starts on A" "$STACK" worker-start
check "pool, scheduler and worker run A" runs_release A

# ---- an upgrade that fails --check changes nothing -------------------------
# (deploy/backup's own 'backup' row is the one thing it may add.)
before=$(psql_q "SELECT count(*) FROM deployment_events WHERE kind <> 'backup'")
check_fails "deploy/upgrade to BAD stops" "$ROOT/deploy/upgrade" --stack --prefix "$PREFIX" "$REL/BAD"
log_has "it names the DROP COLUMN and says nothing changed" "$OPS_TMP/check-$TAP_N.log" \
	'DROP COLUMN' 'nothing changed'
unchanged_after_bad() {
	[ "$(readlink -f "$PREFIX/current")" = "$REL/A" ] || { echo "current moved"; return 1; }
	[ "$(psql_q "SELECT count(*) FROM schema_migrations WHERE version LIKE '900%'")" = 0 ] ||
		{ echo "a 900 migration is recorded"; return 1; }
	[ "$(psql_q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'process_heartbeats'::regclass
		AND attname = 'last_error' AND NOT attisdropped")" = 1 ] || { echo "the column is gone"; return 1; }
	[ "$(psql_q "SELECT count(*) FROM deployment_events WHERE kind <> 'backup'")" = "$before" ] || { echo "an event was recorded"; return 1; }
}
check "after BAD: current is still A, nothing migrated, dropped or recorded" unchanged_after_bad
check "pool, scheduler and worker still run A" runs_release A

# ---- the upgrade to B and the rollback to A, under load --------------------
if [ ! -x "$ROOT/bin/webhook-load" ]; then
	not_ok "bin/webhook-load is built (make)"
	tap_done
fi
LOAD_LOG=$OPS_TMP/webhook-load.log
"$ROOT/bin/webhook-load" --url "$RINGFENCE_PUBLIC_URL" --token "$TWILIO_AUTH_TOKEN" \
	--rate 30 --seconds "$LOAD_SECONDS" --slow 4 >"$LOAD_LOG" 2>&1 &
LOAD_PID=$!
sleep 3
A_AUDIO=$(curl -s "$RINGFENCE_PUBLIC_URL/${PROMPT%.txt}.mp3" | md5sum)
check "deploy/upgrade --stack to B under load" "$ROOT/deploy/upgrade" --stack --prefix "$PREFIX" "$REL/B"
sed -n 's/^/# /p' "$OPS_TMP/check-$TAP_N.log" | grep -F '[' || true
check "after the upgrade: pool, scheduler and worker run B" runs_release B
B_AUDIO=$(curl -s "$RINGFENCE_PUBLIC_URL/${PROMPT%.txt}.mp3" | md5sum)
prompt_is_b() {
	[ "$A_AUDIO" != "$B_AUDIO" ] && [ "$B_AUDIO" = "$(md5sum <"$REL/B/${PROMPT%.txt}.mp3")" ]
}
probe_once() {
	[ "$(psql_q "SELECT count(*) || ' ' || min(phase) FROM schema_migrations
		WHERE version = '900_upgrade_probe.sql'")" = '1 expand' ]
}
check "after the upgrade: the changed prompt is served" prompt_is_b
check "the probe migration is applied once, as expand" probe_once
check "an upgrade row in deployment_events" test "$(events upgrade B)" = 1

check "deploy/rollback --stack (to the previous: A) under load" "$ROOT/deploy/rollback" --stack --prefix "$PREFIX"
check "after the rollback: pool, scheduler and worker run A" runs_release A
check "after the rollback: the expand migration stays" psql_q "SELECT 1 FROM upgrade_probe LIMIT 1"
check "a rollback row in deployment_events" test "$(events rollback A)" = 1
if kill -0 "$LOAD_PID" 2>/dev/null; then
	wait "$LOAD_PID"
	rc=$?
	diag "$(grep -E '^sent ' "$LOAD_LOG" | head -n 1)"
	if [ "$rc" -eq 0 ] && grep -Eq '^sent [0-9]+ ok [0-9]+ failed 0( |$)' "$LOAD_LOG"; then
		ok "0 failed webhooks during the upgrade and the rollback"
	else
		not_ok "0 failed webhooks during the upgrade and the rollback (exit $rc)" "$LOAD_LOG"
	fi
else
	wait "$LOAD_PID"
	not_ok "the load ran through the upgrade and the rollback (it ended first; raise T_UPGRADE_LOAD_SECONDS)" "$LOAD_LOG"
fi

# ---- contract migrations ---------------------------------------------------
check_fails "migrate --check refuses a pending contract migration" \
	env RINGFENCE_ROOT="$REL/C" "$REL/C/bin/ringfence" migrate --check
log_has "--check names the contract migration" "$OPS_TMP/check-$TAP_N.log" '901_upgrade_contract.sql contract'
check_fails "plain migrate does not apply a contract migration" \
	env RINGFENCE_ROOT="$REL/C" "$REL/C/bin/ringfence" migrate
check "migrate --contract applies it" env RINGFENCE_ROOT="$REL/C" "$REL/C/bin/ringfence" migrate --contract
check "deploy/upgrade to C" "$ROOT/deploy/upgrade" --stack --prefix "$PREFIX" "$REL/C"
check "pool, scheduler and worker run C" runs_release C
check_fails "deploy/rollback to B (past the contract migration) is refused" \
	"$ROOT/deploy/rollback" --stack --prefix "$PREFIX" B
log_has "the refusal names the contract migration" "$OPS_TMP/check-$TAP_N.log" '901_upgrade_contract.sql'
check "after the refusal: current is C" test "$(readlink -f "$PREFIX/current")" = "$REL/C"
check "... and pool, scheduler and worker run C" runs_release C
# current switched to B by hand, past deploy/rollback's refusal: the
# reload's new workers (B's fcgi-worker) refuse to start, so the reload
# fails and C's workers serve on.
reload_into_b() {
	local rc
	ln -sfn "$REL/B" "$PREFIX/.t" && mv -T "$PREFIX/.t" "$PREFIX/current"
	"$STACK" fcgi-reload
	rc=$?
	ln -sfn "$REL/C" "$PREFIX/.t" && mv -T "$PREFIX/.t" "$PREFIX/current"
	return "$rc"
}
check_fails "a reload into B by hand (past the contract migration) fails" reload_into_b
log_has "... because B's new workers refuse to start" "$STACK_DIR_LOG/fcgi.log" 'refusing to start'
check "... and C's workers serve on" runs_release C
check "... and answer GET /readyz" curl -fsS -o /dev/null "$RINGFENCE_PUBLIC_URL/readyz"
for cmd in scheduler worker calsync fcgi; do
	check_fails "release B's $cmd refuses to start against the contract migration" \
		env RINGFENCE_ROOT="$REL/B" timeout 20 "$REL/B/bin/ringfence" $cmd
	log=$OPS_TMP/check-$TAP_N.log
	if grep -q 'refusing to start.*901_upgrade_contract.sql' "$log" && [ "$(wc -l <"$log")" -eq 1 ]; then
		ok "... with one line naming the migration"
	else
		not_ok "... with one line naming the migration" "$log"
	fi
done
runs_until_stopped() {
	RINGFENCE_ROOT=$REL/C timeout 3 "$REL/C/bin/ringfence" worker
	[ $? -eq 124 ]
}
check "release C's worker starts (the check is not a blanket refusal)" runs_until_stopped

# ---- pruning ---------------------------------------------------------------
check "deploy/release --prune --keep 1" "$ROOT/deploy/release" --prefix "$PREFIX" --prune --keep 1
pruned() {
	local left=()
	mapfile -t left < <(find "$REL" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort)
	echo "left: ${left[*]}"
	[ -d "$REL/C" ] && [ -d "$REL/A" ] && [ "${#left[@]}" -le 3 ] &&
		[ -e "$(readlink -f "$PREFIX/current")" ] && [ -e "$(readlink -f "$PREFIX/previous")" ]
}
check "pruning keeps current (C) and previous (A) and deletes the rest but the newest" pruned

"$STACK" scheduler-stop >/dev/null 2>&1
"$STACK" worker-stop >/dev/null 2>&1
tap_done
