#!/usr/bin/env bash
# Redis with a password, over a Unix socket: a second redis-server of the
# script's own on a socket of mode 0770 with `requirepass` and an ACL
# user.  The FastCGI pool, a worker and `ringfence audit` work through it
# with either credential (percent-escaped in the URL); a wrong or missing
# password stops each of them at start with one line that never shows the
# password.
. "$ROOT/test/ops/lib.sh"

BIN=$ROOT/bin/ringfence
# The default user's password and the ACL user's: characters a URL must
# escape, and the canaries looked for in every output.
PW_DEFAULT='d3f@ult:pw/Zq%7'
PW_DEFAULT_URL='d3f%40ult%3Apw%2FZq%257'
PW_ACL='aclPwQx91'
PW_WRONG='wrongPwKx42'

stack_start || tap_done

RDIR=$OPS_TMP/redis-auth
SOCK=$RDIR/redis.sock
mkdir -p "$RDIR"
cat >"$RDIR/redis.conf" <<CONF
port 0
unixsocket $SOCK
unixsocketperm 770
dir $RDIR
daemonize yes
pidfile $RDIR/redis.pid
logfile $RDIR/redis.log
save ""
appendonly no
requirepass "$PW_DEFAULT"
user ringfence on >$PW_ACL ~* &* +@all
CONF
stop_redis() {
	local pid
	pid=$(cat "$RDIR/redis.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
	stack_stop_all
}
trap stop_redis EXIT
if ! redis-server "$RDIR/redis.conf" >"$OPS_TMP/redis-start.log" 2>&1; then
	not_ok "the password-protected redis-server starts" "$OPS_TMP/redis-start.log"
	tap_done
fi
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
if [ "$(stat -c %a "$SOCK" 2>/dev/null)" = 770 ]; then
	ok "the Redis socket has mode 0770 (unixsocketperm 770)"
else
	not_ok "the Redis socket's mode is $(stat -c %a "$SOCK" 2>/dev/null), not 770"
fi

URL_DEFAULT="unix://:$PW_DEFAULT_URL@$SOCK?db=0"
URL_ACL="unix://ringfence:$PW_ACL@$SOCK?db=1"
URL_WRONG="unix://ringfence:$PW_WRONG@$SOCK"
URL_NONE="unix://$SOCK"

# no_secret "what" file: ok when the file shows no password at all.
no_secret() {
	if grep -qF -e "$PW_DEFAULT" -e "$PW_DEFAULT_URL" -e "$PW_ACL" -e "$PW_WRONG" "$2"; then
		not_ok "$1" "$2"
	else
		ok "$1"
	fi
}

# A worker pass and the audit, with each good credential.
for url in "$URL_DEFAULT" "$URL_ACL"; do
	who=default; [ "$url" = "$URL_ACL" ] && who="ACL user ringfence"
	check "a worker pass works through the socket ($who)" \
		env RINGFENCE_REDIS_URL="$url" "$BIN" worker --once
	check "ringfence audit reads through the socket ($who)" \
		env RINGFENCE_REDIS_URL="$url" "$BIN" audit all --max 5
done

# The pool on the protected socket, in place of the stack's own (nginx
# passes requests to the same socket): a rejected request it audits lands
# in that Redis.
FCGI_SOCK=$RINGFENCE_RUN_DIR/fcgi.sock
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" fcgi-stop >>"$OPS_TMP/pool.log" 2>&1
(cd "$ROOT" && RINGFENCE_REDIS_URL=$URL_ACL exec spawn-fcgi -n -s "$FCGI_SOCK" -M 0666 -- "$BIN" fcgi) \
	</dev/null >>"$OPS_TMP/pool.log" 2>&1 &
POOL=$!
for _ in $(seq 100); do [ -S "$FCGI_SOCK" ] && break; sleep 0.1; done
code=000
for _ in $(seq 50); do
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d 'CallSid=CA00000000000000000000000000000000' \
		"http://127.0.0.1:$RINGFENCE_NGINX_PORT/twilio/status/call")
	[ "$code" = 502 ] || break
	sleep 0.1
done
if [ "$code" = 403 ]; then
	ok "the pool on the password-protected socket answers an unsigned webhook with 403"
else
	not_ok "the pool answered an unsigned webhook with $code, not 403" "$OPS_TMP/pool.log"
fi
keys=$(redis-cli -s "$SOCK" --user ringfence --pass "$PW_ACL" --no-auth-warning -n 1 DBSIZE 2>&1)
if [ "${keys:-0}" -gt 0 ] 2>/dev/null; then
	ok "the pool's audit records are in the protected Redis ($keys keys in db 1)"
else
	not_ok "nothing reached the protected Redis's db 1 (DBSIZE: $keys)" "$OPS_TMP/pool.log"
fi
if RINGFENCE_REDIS_URL="$URL_ACL" "$BIN" audit rejected --max 5 >"$OPS_TMP/rejected.log" 2>&1 &&
	grep -q '"status":403\|403' "$OPS_TMP/rejected.log"; then
	ok "ringfence audit shows the pool's rejected request"
else
	not_ok "ringfence audit does not show the pool's rejected request" "$OPS_TMP/rejected.log"
fi
kill -TERM "$POOL" 2>/dev/null
wait "$POOL" 2>/dev/null
rm -f "$FCGI_SOCK"

# A wrong password and none at all: each process refuses at start.
for url in "$URL_WRONG" "$URL_NONE"; do
	what=wrong; [ "$url" = "$URL_NONE" ] && what=missing
	for cmd in "worker --once" "audit all --max 1" "scheduler --once" "fcgi"; do
		log=$OPS_TMP/refused-$what-${cmd%% *}.log
		# shellcheck disable=SC2086
		RINGFENCE_REDIS_URL="$url" "$BIN" $cmd </dev/null >"$log" 2>&1
		rc=$?
		if [ $rc -ne 0 ] && [ "$(wc -l <"$log")" -eq 1 ] &&
			grep -q 'RINGFENCE_REDIS_URL: .*Redis \(refused the password\|wants a password\)' "$log"; then
			ok "$cmd refuses a $what password at start in one line"
		else
			not_ok "$cmd with a $what password: exit $rc" "$log"
		fi
		no_secret "$cmd's refusal ($what password) shows no password" "$log"
	done
done
# The pool itself does not start on a wrong password.
(cd "$ROOT" && RINGFENCE_REDIS_URL=$URL_WRONG exec timeout 60 spawn-fcgi -n -s "$FCGI_SOCK" -M 0666 \
	-- "$BIN" fcgi) </dev/null >"$OPS_TMP/pool-wrong.log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'Redis refused the password' "$OPS_TMP/pool-wrong.log"; then
	ok "the pool does not start with a wrong password (exit $rc)"
else
	not_ok "the pool with a wrong password: exit $rc" "$OPS_TMP/pool-wrong.log"
fi
no_secret "the pool's refusal shows no password" "$OPS_TMP/pool-wrong.log"
rm -f "$FCGI_SOCK"

# Outside the socket's group nobody gets in, password or not.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 0755 "$RDIR"
	if runuser -u nobody -- redis-cli -s "$SOCK" --pass "$PW_DEFAULT" --no-auth-warning PING \
		>"$OPS_TMP/nobody.log" 2>&1 && grep -q PONG "$OPS_TMP/nobody.log"; then
		not_ok "a user outside the socket's group reached Redis" "$OPS_TMP/nobody.log"
	else
		ok "a user outside the socket's group cannot connect (mode 0770)"
	fi
else
	diag "not root: the socket's group permission is not exercised"
fi
tap_done
