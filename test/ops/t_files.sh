#!/usr/bin/env bash
# The files ringfence leaves on a host, and who may read them:
#   - what the units' settings create (deploy/systemd/): a log or
#     run-time file is not readable by www-data, while nginx (www-data)
#     does reach the socket.  Without systemd as PID 1 the settings are
#     applied by hand, as systemd would: the folder with the unit's
#     LogsDirectoryMode / RuntimeDirectoryMode owned by its user and
#     group, files created under its UMask, the socket with the socket
#     unit's SocketUser, SocketGroup and SocketMode.  Stand-ins: the user
#     nobody and the group nogroup play ringfence:ringfence.  The same
#     check with the old settings (Group=www-data, no UMask) shows the leak,
#     so it can fail;
#   - logrotate (deploy/logrotate/ringfence): logrotate -d accepts it, and
#     a forced run on a copy (its own state file) ages the audit fallback
#     log without touching ringfence's own size rotation (path.1 ..);
#   - the certbot deploy hook (deploy/certbot/ringfence-reload-nginx),
#     with a fake nginx and systemctl on PATH.
. "$ROOT/test/ops/lib.sh"

UNITS=$ROOT/deploy/systemd
T=$OPS_TMP/files
mkdir -p "$T"
chmod 0755 "$OPS_TMP" "$T"

setting() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# ---- the units' files ------------------------------------------------------------
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! id www-data >/dev/null 2>&1; then
	# Honest about it: these four checks did not run.
	for what in "www-data reads nothing the fcgi unit's settings create" \
		"units sharing /var/log/ringfence agree" "the old settings' leak is found" \
		"the socket admits www-data only"; do
		ok "$what # SKIP needs root, setpriv and the user www-data"
	done
else
	as_service() { setpriv --reuid=nobody --regid="$1" --clear-groups -- sh -c "umask $2; $3"; }
	as_www() { setpriv --reuid=www-data --regid=www-data --init-groups -- sh -c "$1"; }

	# made GROUP UMASK DIRMODE NAME: a folder as systemd makes it for a
	# unit whose group is GROUP, and a file and a subfolder the unit
	# creates in it; prints the folder.
	made() {
		local d=$T/$4
		rm -rf "$d"
		mkdir -p "$d"
		chown "nobody:$1" "$d"
		chmod "$3" "$d"
		as_service "$1" "$2" "echo '{\"From\":\"+15005550006\",\"Body\":\"see you at 3\"}' >>'$d/audit-fallback.log'; mkdir '$d/sub'; echo x >'$d/sub/f'" ||
			return 1
		echo "$d"
	}

	u=$UNITS/ringfence-fcgi.service
	group=nogroup
	[ "$(setting "$u" Group)" = ringfence ] || group=$(setting "$u" Group)
	umask_=$(setting "$u" UMask)
	logs=$(made "$group" "${umask_:-0022}" "$(setting "$u" LogsDirectoryMode)" var-log-ringfence)
	run=$(made "$group" "${umask_:-0022}" "$(setting "$u" RuntimeDirectoryMode)" run-ringfence)
	mode=$(stat -c %a "$logs/audit-fallback.log")
	if [ -n "$logs" ] && [ -n "$run" ] &&
		! as_www "cat '$logs/audit-fallback.log'" >/dev/null 2>&1 &&
		! as_www "ls '$logs'" >/dev/null 2>&1 &&
		! as_www "cat '$run/sub/f'" >/dev/null 2>&1 &&
		[ "$mode" = 640 ] && [ "$(stat -c %a "$logs/sub")" = 750 ]; then
		ok "ringfence-fcgi's settings: www-data reads nothing in /var/log/ringfence or /run/ringfence (files $mode, folders 750)"
	else
		not_ok "ringfence-fcgi's settings: www-data can read its files (file mode $mode)"
		ls -laR "$logs" "$run" 2>&1 | sed 's/^/# /'
	fi
	# Every other unit writing the same folders: the same result.
	bad=""
	# (ringfence-backup writes /var/backups/ringfence only, under 0077.)
	for u2 in "$UNITS"/ringfence-*.service; do
		if grep -q '^LogsDirectory=' "$u2"; then
			[ "$(setting "$u2" UMask)" = "$umask_" ] || bad+=" ${u2##*/}:UMask"
			[ "$(setting "$u2" Group)" = "$(setting "$u" Group)" ] || bad+=" ${u2##*/}:Group"
		fi
	done
	if [ -z "$bad" ]; then
		ok "every unit sharing /var/log/ringfence has the same group and UMask"
	else
		not_ok "units sharing /var/log/ringfence differ:$bad"
	fi

	# The old settings (Group=www-data, systemd's default UMask 0022): the
	# same check finds the leak.
	old=$(made www-data 0022 0750 old-var-log-ringfence)
	if [ -n "$old" ] && as_www "cat '$old/audit-fallback.log'" >/dev/null 2>&1; then
		ok "with the old settings (Group=www-data) the same check finds www-data reading the log"
	else
		not_ok "the old settings' leak was not found: the check above cannot fail"
	fi

	# The socket: as ringfence-fcgi.socket makes it, nginx connects and
	# other users do not.  spawn-fcgi (as root, which is when it sets owner
	# and mode) makes a listening socket with the socket unit's settings.
	s=$UNITS/ringfence-fcgi.socket
	sockdir=$T/run-ringfence-sock
	mkdir -p "$sockdir"
	chmod "$(setting "$s" DirectoryMode)" "$sockdir"
	sgroup=$(setting "$s" SocketGroup)
	sock=$sockdir/fcgi.sock
	spawn-fcgi -s "$sock" -U nobody -G "$sgroup" -M "$(setting "$s" SocketMode)" \
		-P "$T/listener.pid" -- /bin/sleep 30 >"$T/spawn.log" 2>&1
	connects() { # user: 0 when the user's connect() succeeds (curl then times out: 28)
		setpriv --reuid="$1" --regid="$1" --init-groups -- \
			curl -s -m 1 --unix-socket "$sock" http://localhost/ >/dev/null 2>&1
		[ $? -eq 28 ]
	}
	if [ -S "$sock" ] && connects www-data && ! connects daemon; then
		ok "the socket ($(stat -c '%U:%G %a' "$sock")): nginx's www-data connects, another user (daemon) does not"
	else
		not_ok "the socket ($(stat -c '%U:%G %a' "$sock" 2>&1)): www-data or daemon connect wrongly" "$T/spawn.log"
	fi
	[ -s "$T/listener.pid" ] && kill "$(cat "$T/listener.pid")" 2>/dev/null
fi

# ---- logrotate -------------------------------------------------------------------
LR=$ROOT/deploy/logrotate/ringfence
if ! command -v logrotate >/dev/null; then
	not_ok "logrotate is installed (deploy/stack install)"
else
	# The shipped file, as logrotate reads it (-d: nothing is changed).
	# Its "su ringfence ringfence" needs that user: a copy names ours
	# where it does not exist.
	conf=$T/logrotate-shipped
	if id ringfence >/dev/null 2>&1; then cp "$LR" "$conf"; else
		sed "s/^\tsu ringfence ringfence/\tsu $(id -un) $(id -gn)/" "$LR" >"$conf"
	fi
	chmod 0644 "$conf"
	if logrotate -d -s "$T/state-d" "$conf" >"$T/lr-d.log" 2>&1 && ! grep -qi "error" "$T/lr-d.log"; then
		ok "logrotate -d accepts deploy/logrotate/ringfence"
	else
		not_ok "logrotate -d deploy/logrotate/ringfence" "$T/lr-d.log"
	fi

	# A forced run on a copy whose path is a scratch folder.
	L=$T/var-log
	mkdir -p "$L"
	chmod 0750 "$L"
	f=$L/audit-fallback.log
	sed "s|^/var/log/ringfence/audit-fallback.log|$f|" "$conf" >"$T/logrotate-copy"
	echo '{"n":1}' >"$f"
	echo '{"n":"app.1"}' >"$f.1"
	echo '{"n":"app.2"}' >"$f.2"
	logrotate -f -s "$T/state" "$T/logrotate-copy" >"$T/lr-f.log" 2>&1
	dated=$(find "$L" -maxdepth 1 -regextype posix-extended -regex '.*/audit-fallback\.log-[0-9]{8}-[0-9]+' | wc -l)
	if [ ! -e "$f" ] && [ "$dated" -eq 1 ] && grep -q '"n":1' "$L"/audit-fallback.log-* &&
		[ "$(cat "$f.1")" = '{"n":"app.1"}' ] && [ "$(cat "$f.2")" = '{"n":"app.2"}' ]; then
		ok "a forced rotation renames the live fallback log to a dated name, not recreated, and leaves ringfence's .1 and .2 alone"
	else
		not_ok "a forced rotation of the fallback log" "$T/lr-f.log"
		ls -la "$L" | sed 's/^/# /'
	fi
	# The next line starts a new file, rotated under another name; an
	# empty one is left alone; a dated file older than 8 weeks goes.
	sleep 1
	echo '{"n":2}' >>"$f"
	old_dated=$L/audit-fallback.log-20200101-1577836800
	echo '{"n":"old"}' >"$old_dated"
	touch -d '70 days ago' "$old_dated"
	logrotate -f -s "$T/state" "$T/logrotate-copy" >>"$T/lr-f.log" 2>&1
	: >"$f"
	logrotate -f -s "$T/state" "$T/logrotate-copy" >>"$T/lr-f.log" 2>&1
	dated=$(find "$L" -maxdepth 1 -regextype posix-extended -regex '.*/audit-fallback\.log-[0-9]{8}-[0-9]+' | wc -l)
	if [ "$dated" -eq 2 ] && [ ! -e "$old_dated" ] && [ -e "$f" ] && [ ! -s "$f" ]; then
		ok "the next rotation keeps both dated files, drops the one older than 8 weeks, and skips an empty log"
	else
		not_ok "second rotation: $dated dated files, old one $( [ -e "$old_dated" ] && echo kept || echo gone)" "$T/lr-f.log"
		ls -la "$L" | sed 's/^/# /'
	fi
	# What logrotate renamed is still the log's: audit fallback (and
	# replay, which reads the same files) shows every record, oldest first.
	got=$(cd "$T" && env -i PATH="$PATH" RINGFENCE_ENV=test "$ROOT/bin/ringfence" audit fallback --file "$f" 2>&1 | tr '\n' ' ')
	if [ "$got" = '{"n":1} {"n":2} {"n":"app.2"} {"n":"app.1"} ' ]; then
		ok "audit fallback reads logrotate's dated files before ringfence's own, oldest first"
	else
		not_ok "audit fallback after logrotate shows: $got"
	fi
fi

# ---- the certbot deploy hook -------------------------------------------------------
HOOK=$ROOT/deploy/certbot/ringfence-reload-nginx
FAKE=$T/fakebin
mkdir -p "$FAKE"
# nginx -t exits $NGINX_T_RC; systemctl records its arguments and exits
# $SYSTEMCTL_RC.
cat >"$FAKE/nginx" <<'EOF'
#!/bin/sh
echo "nginx $*" >>"$CALLS"
[ "${NGINX_T_RC:-0}" = 0 ] || echo "nginx: [emerg] cannot load certificate" >&2
exit "${NGINX_T_RC:-0}"
EOF
cat >"$FAKE/systemctl" <<'EOF'
#!/bin/sh
echo "systemctl $*" >>"$CALLS"
exit "${SYSTEMCTL_RC:-0}"
EOF
chmod 0755 "$FAKE/nginx" "$FAKE/systemctl"
run_hook() { # NGINX_T_RC SYSTEMCTL_RC: the hook's exit status; calls in $T/calls
	: >"$T/calls"
	CALLS=$T/calls NGINX_T_RC=$1 SYSTEMCTL_RC=$2 PATH="$FAKE:$PATH" \
		RENEWED_LINEAGE=/etc/letsencrypt/live/reminders.example.com \
		"$HOOK" >"$T/hook.out" 2>"$T/hook.err"
}
if [ -x "$HOOK" ]; then
	ok "the hook is executable (certbot runs only executable hooks)"
else
	not_ok "deploy/certbot/ringfence-reload-nginx is not executable"
fi
run_hook 0 0
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$T/calls")" = "$(printf 'nginx -t\nsystemctl reload nginx')" ]; then
	ok "renewed: nginx -t, then systemctl reload nginx, exit 0"
else
	not_ok "renewed: exit $rc, calls: $(tr '\n' ';' <"$T/calls")" "$T/hook.err"
fi
run_hook 1 0
rc=$?
if [ $rc -ne 0 ] && [ "$(cat "$T/calls")" = "nginx -t" ] && grep -q "not reloaded" "$T/hook.err" &&
	grep -q "cannot load certificate" "$T/hook.err"; then
	ok "nginx -t fails: no reload, nginx's reason and a one-line reason on stderr, exit $rc"
else
	not_ok "nginx -t fails: exit $rc, calls: $(tr '\n' ';' <"$T/calls")" "$T/hook.err"
fi
run_hook 0 1
rc=$?
if [ $rc -ne 0 ] && grep -q "reload nginx failed" "$T/hook.err"; then
	ok "the reload fails: exit $rc with the reason"
else
	not_ok "the reload fails: exit $rc" "$T/hook.err"
fi

tap_done
