#!/usr/bin/env bash
# The systemd units (deploy/systemd/), checked offline (no systemd as PID 1
# is needed): systemd-analyze security rates each "OK" or better, and
# the ringfence units keep the exposure they have now; systemd-analyze
# verify accepts them; and their settings keep logs and run-time files
# away from www-data (nginx reaches the sockets only).  What a file
# created under these settings looks like is t_files.sh's.
. "$ROOT/test/ops/lib.sh"

UNITS=$ROOT/deploy/systemd
command -v systemd-analyze >/dev/null ||
	{ not_ok "systemd-analyze is installed (deploy/stack install)"; tap_done; }

# The exposure (x10) each ringfence unit has now; any other unit in the
# folder must be "OK" (4.9) or better.
# The workers' 1.2: NotifyAccess=all, since each of its processes pings
# the watchdog (WATCHDOG=1), not only the main one.
declare -A MAX=(
	[ringfence-fcgi.service]=11 [ringfence-worker.service]=12
	[ringfence-scheduler.service]=9 [ringfence-calsync.service]=11
	[ringfence-twilio-sim.service]=11 [ringfence-backup.service]=11
)

for u in "$UNITS"/*.service; do
	name=$(basename "$u")
	max=${MAX[$name]:-49}
	log=$OPS_TMP/security-$name.log
	(cd "$UNITS" && systemd-analyze security --offline=yes --no-pager --threshold="$max" "$name") >"$log" 2>&1
	rc=$?
	level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' "$log")
	if [ $rc -eq 0 ] && [ -n "$level" ]; then
		ok "$name: systemd-analyze security: $level (at most $((max / 10)).$((max % 10)))"
	else
		not_ok "$name: systemd-analyze security: '$level', above $((max / 10)).$((max % 10))" "$log"
	fi
done

# verify needs the commands to exist: the checkout's binaries stand in for
# /opt/ringfence's.
V=$OPS_TMP/verify
VLOG=$OPS_TMP/verify.log
mkdir -p "$V"
for u in "$UNITS"/*.service "$UNITS"/*.socket "$UNITS"/*.timer; do
	[ -f "$u" ] || continue
	sed -e "s|/opt/ringfence/current/|$ROOT/|g" -e "s|=/opt/ringfence/current\$|=$ROOT|" "$u" >"$V/$(basename "$u")"
done
if (cd "$V" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./*) >"$VLOG" 2>&1 &&
	! grep -q . "$VLOG"; then
	ok "systemd-analyze verify accepts every unit, without a warning"
else
	not_ok "systemd-analyze verify" "$VLOG"
fi
# ... and would say so: a misspelt setting is reported.
sed 's/^UMask=0027/UMaks=0027/' "$V/ringfence-worker.service" >"$V/bad.service"
if (cd "$V" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no ./bad.service) 2>&1 |
	grep -q "UMaks"; then
	ok "systemd-analyze verify reports a misspelt setting (the check above can fail)"
else
	not_ok "systemd-analyze verify said nothing about a misspelt setting"
fi
rm -f "$V/bad.service"

# setting FILE KEY: the last value of KEY in FILE's [Service] or [Socket].
setting() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

for u in "$UNITS"/ringfence-*.service; do
	name=$(basename "$u")
	bad=""
	[ "$(setting "$u" User)" = ringfence ] || bad+=" User=$(setting "$u" User)"
	[ "$(setting "$u" Group)" = ringfence ] || bad+=" Group=$(setting "$u" Group)"
	# 0027, or stricter (the backup's 0077: its dumps are ringfence's alone).
	um=$(setting "$u" UMask)
	[ -n "$um" ] && [ $((8#$um & 8#0027)) -eq $((8#0027)) ] || bad+=" UMask=$um"
	grep -q '^SupplementaryGroups=.*www-data' "$u" && bad+=" SupplementaryGroups has www-data"
	if grep -q '^LogsDirectory=' "$u"; then
		[ "$(setting "$u" LogsDirectory)" = ringfence ] || bad+=" LogsDirectory=$(setting "$u" LogsDirectory)"
		[ "$(setting "$u" LogsDirectoryMode)" = 0750 ] || bad+=" LogsDirectoryMode=$(setting "$u" LogsDirectoryMode)"
	fi
	if grep -q '^RuntimeDirectory=' "$u"; then
		[ "$(setting "$u" RuntimeDirectory)" = ringfence ] || bad+=" RuntimeDirectory=$(setting "$u" RuntimeDirectory)"
		[ "$(setting "$u" RuntimeDirectoryMode)" = 0750 ] || bad+=" RuntimeDirectoryMode=$(setting "$u" RuntimeDirectoryMode)"
		[ "$(setting "$u" RuntimeDirectoryPreserve)" = yes ] || bad+=" RuntimeDirectoryPreserve is not yes"
	fi
	if [ -z "$bad" ]; then
		ok "$name: ringfence:ringfence, UMask 0027 or stricter, /var/log/ringfence and /run/ringfence 0750 like every other unit"
	else
		not_ok "$name:$bad"
	fi
done

# Every socket nginx reaches: ringfence:www-data 0660, outside
# /run/ringfence (a folder some unit names as RuntimeDirectory is
# chowned to that unit's user and group, sockets included, when it is
# not theirs yet); its service takes it as standard input.
for s in "$UNITS"/*.socket; do
	[ -f "$s" ] || continue
	name=$(basename "$s")
	svc=$UNITS/${name%.socket}.service
	path=$(setting "$s" ListenStream)
	bad=""
	[ "$(setting "$s" SocketUser)" = ringfence ] || bad+=" SocketUser=$(setting "$s" SocketUser)"
	[ "$(setting "$s" SocketGroup)" = www-data ] || bad+=" SocketGroup=$(setting "$s" SocketGroup)"
	[ "$(setting "$s" SocketMode)" = 0660 ] || bad+=" SocketMode=$(setting "$s" SocketMode)"
	case $path in /run/ringfence/*) bad+=" ListenStream=$path is inside /run/ringfence" ;; esac
	[ -f "$svc" ] && [ "$(setting "$svc" StandardInput)" = socket ] || bad+=" ${svc##*/} does not take it as StandardInput"
	grep -q "unix:$path;" "$ROOT/nginx/ringfence-site.conf" || bad+=" nginx/ringfence-site.conf does not name $path"
	if [ -z "$bad" ]; then
		ok "$name: $path, ringfence:www-data 0660, the service's standard input, nginx's upstream"
	else
		not_ok "$name:$bad"
	fi
done

tap_done
