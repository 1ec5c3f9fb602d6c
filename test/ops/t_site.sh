#!/usr/bin/env bash
# The production site (nginx/ringfence-site.conf), as shipped and with its
# real_ip block filled in, in front of a stack's pool: nginx -t accepts
# it; the JSON API has a limit of its own, so an import-like burst from
# one address is not refused by the dashboard's 10 a second (which does
# refuse the same burst on the dashboard); a 429 on /api is JSON; the
# request id is nginx's own unless a trusted balancer sent a valid one;
# behind the balancer the client's address is the one forwarded.
#
# Only the host-specific lines are rewritten (ports, the certificate, the
# socket, the log folder); every location, limit and header is the
# shipped file's.
. "$ROOT/test/ops/lib.sh"

command -v nginx >/dev/null || { not_ok "nginx is installed"; tap_done; }
command -v openssl >/dev/null || { not_ok "openssl is installed"; tap_done; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
	local p n
	for ((n = 0; n < 200; n++)); do
		p=$((33000 + RANDOM % 20000))
		port_free "$p" && { echo "$p"; return 0; }
	done
	return 1
}

stack_start || tap_done
SOCK=$RINGFENCE_STACK_DIR/run/fcgi.sock
[ -S "$SOCK" ] || { not_ok "the stack's pool socket is at $SOCK"; tap_done; }

T=$OPS_TMP/site
mkdir -p "$T/cert" "$T/log" "$T/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=reminders.example.com \
	-keyout "$T/cert/privkey.pem" -out "$T/cert/fullchain.pem" >"$T/openssl.log" 2>&1 ||
	{ not_ok "a self-signed certificate for the test" "$T/openssl.log"; tap_done; }

# render SITE_FILE NGINX_DIR HTTPS_PORT HTTP_PORT [lb]: a runnable nginx
# configuration of the shipped site in NGINX_DIR; with "lb", its real_ip
# block and trusted-proxy geo name 127.0.0.1 as the load balancer.
render() {
	local dir=$2 https=$3 http=$4 lb=${5:-} user_line=""
	mkdir -p "$dir/log" "$dir/tmp"
	sed -e "s|/etc/letsencrypt/live/reminders.example.com/|$T/cert/|" \
		-e "s|listen 443 ssl http2;|listen 127.0.0.1:$https ssl http2;|" \
		-e "s|listen 80;|listen 127.0.0.1:$http;|" \
		-e '/listen \[::\]:/d' \
		-e "s|unix:/run/ringfence-sock/fcgi.sock|unix:$SOCK|" \
		-e "s|/var/log/nginx/|$dir/log/|" \
		-e "s|/opt/ringfence/current/audio/|$ROOT/audio/|" \
		-e "s|include fastcgi_params;|include /etc/nginx/fastcgi_params;|" \
		"$1" >"$dir/site.conf"
	if [ "$lb" = lb ]; then
		sed -i -e 's|^#set_real_ip_from 10.0.0.10;.*|set_real_ip_from 127.0.0.1;|' \
			-e 's|^#real_ip_header|real_ip_header|' \
			-e 's|^#real_ip_recursive|real_ip_recursive|' \
			-e 's|^    #10.0.0.10 1;.*|    127.0.0.1 1;|' "$dir/site.conf"
	fi
	[ "$(id -u)" = 0 ] && user_line="user root root;"
	cat >"$dir/nginx.conf" <<-EOF
		$user_line
		pid $dir/nginx.pid;
		error_log $dir/log/error.log warn;
		events { worker_connections 256; }
		http {
		    include /etc/nginx/mime.types;
		    client_body_temp_path $dir/tmp/body;
		    fastcgi_temp_path $dir/tmp/fastcgi;
		    proxy_temp_path $dir/tmp/proxy;
		    uwsgi_temp_path $dir/tmp/uwsgi;
		    scgi_temp_path $dir/tmp/scgi;
		    include $dir/site.conf;
		}
	EOF
}

NGINX_PIDS=()
stop_sites() {
	local p
	for p in "${NGINX_PIDS[@]}"; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	stack_stop_all
}
trap stop_sites EXIT

# start DIR: nginx -t, then nginx, on the rendered configuration.
start() {
	nginx -t -p "$1" -c "$1/nginx.conf" >"$1/t.log" 2>&1 || return 1
	nginx -p "$1" -c "$1/nginx.conf" >"$1/start.log" 2>&1 || return 1
	NGINX_PIDS+=("$1/nginx.pid")
	for _ in $(seq 50); do [ -f "$1/nginx.pid" ] && return 0; sleep 0.1; done
	return 1
}

# codes URL N [DIR]: "status content-type x-request-id" of N requests to
# URL sent one after another on one connection, one a line; with DIR,
# the bodies are kept there (DIR/1 .. DIR/N).
codes() {
	local url=$1 n=$2 dir=${3:-} args=()
	for ((i = 1; i <= n; i++)); do
		args+=(-o "${dir:-/dev/null}${dir:+/$i}" "$url")
	done
	[ -z "$dir" ] || mkdir -p "$dir"
	curl -sk -w '%{http_code} %{content_type} %header{x-request-id}\n' "${args[@]}"
}

# ---- as shipped ---------------------------------------------------------------
HTTPS=$(pick_port) && HTTP=$(pick_port) || { not_ok "two free ports"; tap_done; }
render "$ROOT/nginx/ringfence-site.conf" "$T/shipped" "$HTTPS" "$HTTP"
if start "$T/shipped"; then
	ok "nginx -t accepts the shipped site, and it starts"
else
	not_ok "nginx -t accepts the shipped site, and it starts" "$T/shipped/t.log"
	tap_done
fi
BASE=https://127.0.0.1:$HTTPS

out=$(codes "$BASE/api/v1/appointments" 150 | cut -d' ' -f1)
n429=$(grep -c '^429$' <<<"$out")
nother=$(grep -vc '^401$' <<<"$out")
if [ "$n429" -eq 0 ] && [ "$nother" -eq 0 ]; then
	ok "150 API requests in a row from one address: all reach ringfence (401 without a key), none 429"
else
	not_ok "150 API requests in a row: $n429 refused with 429, $nother not 401"
	sort <<<"$out" | uniq -c | sed 's/^/# /'
fi

sleep 3 # the dashboard zone's bucket drains
out=$(codes "$BASE/login" 150 | cut -d' ' -f1)
n429=$(grep -c '^429$' <<<"$out")
if [ "$n429" -gt 0 ]; then
	ok "the same burst on the dashboard is limited ($n429 of 150 answered 429)"
else
	not_ok "the same burst on the dashboard: no 429 (the dashboard's limit is gone)"
fi

# Past the API's own burst (200 at once, then 50 a second): 429 in the
# API's JSON error format, with the request id.
sleep 5
codes "$BASE/api/v1/appointments" 400 "$T/api400" >"$T/api400.txt"
n429=$(grep -c '^429 ' "$T/api400.txt")
first=$(grep -n '^429 ' "$T/api400.txt" | head -1 | cut -d: -f1)
line=$(sed -n "${first:-1}p" "$T/api400.txt")
if [ "$n429" -gt 0 ] && [[ $line =~ ^429\ application/json\ [0-9a-f]{32}$ ]] &&
	grep -q '"code": "rate_limited"' "$T/api400/$first"; then
	ok "past the API's own burst: 429 in the API's JSON format with an X-Request-Id ($n429 of 400)"
else
	not_ok "past the API's own burst: $n429 of 400 were 429; the first: '$line'"
	[ -n "$first" ] && sed 's/^/# /' "$T/api400/$first"
fi

sleep 5
rid=$(curl -sk -D - -o /dev/null -H 'X-Request-Id: from-a-client-0001' "$BASE/login" |
	tr -d '\r' | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
if [[ $rid =~ ^[0-9a-f]{32}$ ]] && grep -q " rid=$rid\$" "$T/shipped/log/ringfence.access.log"; then
	ok "no balancer configured: a client's X-Request-Id is replaced by nginx's own ($rid), logged as rid="
else
	not_ok "no balancer configured: X-Request-Id came back as '$rid'" "$T/shipped/log/ringfence.access.log"
fi

# ---- behind a balancer (the real_ip block and the geo filled in) -----------------
HTTPS=$(pick_port) && HTTP=$(pick_port) || { not_ok "two free ports"; tap_done; }
render "$ROOT/nginx/ringfence-site.conf" "$T/lb" "$HTTPS" "$HTTP" lb
if start "$T/lb"; then
	ok "nginx -t accepts the site with its real_ip block filled in"
else
	not_ok "nginx -t accepts the site with its real_ip block filled in" "$T/lb/t.log"
	tap_done
fi
BASE=https://127.0.0.1:$HTTPS
rid=$(curl -sk -D - -o /dev/null -H 'X-Request-Id: lb-chosen.id_0001' \
	-H 'X-Forwarded-For: 203.0.113.7' "$BASE/login" |
	tr -d '\r' | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
if [ "$rid" = lb-chosen.id_0001 ] &&
	grep -q '^203\.0\.113\.7 .* rid=lb-chosen\.id_0001$' "$T/lb/log/ringfence.access.log"; then
	ok "from the balancer: its X-Request-Id is kept and the forwarded client address is logged"
else
	not_ok "from the balancer: X-Request-Id came back as '$rid'" "$T/lb/log/ringfence.access.log"
fi
rid=$(curl -sk -D - -o /dev/null -H 'X-Request-Id: bad id' "$BASE/login" |
	tr -d '\r' | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
if [[ $rid =~ ^[0-9a-f]{32}$ ]]; then
	ok "from the balancer: a malformed X-Request-Id is replaced ($rid)"
else
	not_ok "from the balancer: 'bad id' came back as '$rid'"
fi
# The audit names the forwarded client: an unsigned webhook's summary.
curl -sk -o /dev/null -H 'X-Request-Id: lb-audit-0000001' -H 'X-Forwarded-For: 198.51.100.23' \
	--data 'CallSid=CA00' "$BASE/twilio/voice/inbound"
sleep 0.5
if "$ROOT/bin/ringfence" audit rejected --max 50 2>/dev/null |
	grep '"request_id":"lb-audit-0000001"' | grep -q '"remote_addr":"198.51.100.23"'; then
	ok "behind the balancer the audit records the client's address and the balancer's request id"
else
	not_ok "the audit's summary of an unsigned webhook lacks remote_addr 198.51.100.23 or the id"
	"$ROOT/bin/ringfence" audit rejected --max 3 2>&1 | sed 's/^/# /'
fi

tap_done
