# shellcheck shell=bash disable=SC2034
# test/cluster/lib.sh: what test/cluster/run and test/cluster/watch share
# (sourced, not run).  Expects ROOT (the repository); sets the cluster's
# variables (exported, so deploy/cluster sees the same), CL (the
# deploy/cluster command) and W (the test's own folder, beside the
# cluster's: a fresh `deploy/cluster up` empties the cluster's folder, and
# the test's settings must be there before it; $CDIR/ctest links to it).

NAME=${RINGFENCE_CLUSTER_NAME:-rf}
NET=${RINGFENCE_CLUSTER_NET:-10.77.0}
CDIR=${RINGFENCE_CLUSTER_DIR:-$ROOT/var/cluster-$NAME}
export RINGFENCE_CLUSTER_NAME=$NAME RINGFENCE_CLUSTER_NET=$NET RINGFENCE_CLUSTER_DIR=$CDIR
CL=$ROOT/deploy/cluster
W=$CDIR-ctest
NODES="n1 n2 n3"

note() {
	printf 'cluster-test: %s\n' "$*" >&2
}

die() {
	note "$*"
	exit 1
}

cl() {
	"$CL" "$@"
}

now_ms() {
	date +%s%3N
}

# NODE's address on the bridge: n1 -> NET.11.
node_ip() {
	printf '%s.1%s' "$NET" "${1#n}"
}

node_url() {
	printf 'http://%s:8080' "$(node_ip "$1")"
}

# The value of variable VAR in NODE's ringfence.env (node: n1..n3, sim).
node_env() { # NODE VAR
	local f
	f=$(cl env "$1") || return 1
	(
		set +u
		# shellcheck disable=SC1090
		. "$f" >/dev/null 2>&1
		printf '%s' "${!2:-}"
	)
}

# psql against the product's database through the nodes' multi-host URL
# (target_session_attrs=read-write: whichever node is the primary), from
# the root namespace over the bridge.
DB_URL=
pg() {
	if [[ -z $DB_URL ]]; then
		DB_URL=$(node_env n1 RINGFENCE_DATABASE_URL)
		[[ -n $DB_URL ]] || die "no RINGFENCE_DATABASE_URL in n1's ringfence.env"
	fi
	PGCONNECT_TIMEOUT=3 psql "$DB_URL" -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# psql against the simulator's own store, inside its namespace.
sim_pg() {
	# shellcheck disable=SC2016
	cl exec sim bash -c 'PGCONNECT_TIMEOUT=3 exec psql "$RINGFENCE_DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -At "$@"' \
		sim-psql "$@"
}

# redis-cli against the current Redis master (the sentinels' view).
# The password comes from the nodes' RINGFENCE_REDIS_URL when it has one
# (sentinel://:PASSWORD@...).
REDIS_PW=
redis_m() {
	local m url
	if [[ -z $REDIS_PW ]]; then
		url=$(node_env n1 RINGFENCE_REDIS_URL)
		REDIS_PW=-
		[[ $url =~ ://:([^@]+)@ ]] && REDIS_PW=${BASH_REMATCH[1]}
	fi
	m=$(cl redis-master) || return 1
	if [[ $REDIS_PW == - ]]; then
		redis-cli -h "$(node_ip "$m")" -p 6379 "$@"
	else
		REDISCLI_AUTH=$REDIS_PW redis-cli -h "$(node_ip "$m")" -p 6379 "$@"
	fi
}
