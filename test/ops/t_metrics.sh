#!/usr/bin/env bash
# /metrics on a stack of its own: the shipped alert rules check and pass
# their promtool tests; the scheduler's and the workers' heartbeats show
# in ringfence_processes_alive and the tick age, a clean stop removes the
# row, a killed scheduler's tick age grows and it stops counting as
# alive; the shared counters survive a restart of the FastCGI pool.
. "$ROOT/test/ops/lib.sh"

RULES=$ROOT/deploy/prometheus
if command -v promtool >/dev/null; then
	check "promtool check rules: the shipped alert rules are valid" \
		promtool check rules "$RULES/ringfence-alerts.yml"
	check "promtool test rules: each alert fires on the series its condition makes" \
		promtool test rules "$RULES/ringfence-alerts.test.yml"
else
	not_ok "promtool is installed (deploy/stack install: Debian's prometheus)"
fi

stack_start || tap_done
URL=$RINGFENCE_PUBLIC_URL

# The value of one sample of /metrics ("" when absent).
metric() {
	curl -s --max-time 10 "$URL/metrics" | awk -v s="$1" '$1 == s { print $2; exit }'
}

# wait_metric SERIES TEST SECONDS: polls until [ value TEST ] holds
# ("-eq 1", "= ''"); 0 when it did.
wait_metric() {
	local i v
	for ((i = 0; i < $3 * 5; i++)); do
		v=$(metric "$1")
		# shellcheck disable=SC2086
		if [ "$2" = absent ]; then [ -z "$v" ] && return 0
		elif [ -n "$v" ] && awk -v v="$v" "BEGIN { exit !(v $2) }"; then return 0; fi
		sleep 0.2
	done
	diag "$1 is '$v' after $3 s"
	return 1
}

"$ROOT/bin/ringfence" scheduler --interval 1 >"$OPS_TMP/scheduler.log" 2>&1 &
SCHED=$!
"$ROOT/bin/ringfence" worker --concurrency 2 >"$OPS_TMP/worker.log" 2>&1 &
WORKER=$!
check "a running scheduler is alive and ticking" \
	wait_metric 'ringfence_processes_alive{kind="scheduler"}' '== 1' 20
check "its last tick is seconds old" \
	wait_metric 'ringfence_scheduler_last_tick_age_seconds' '< 5' 20
check "two worker processes are alive" \
	wait_metric 'ringfence_processes_alive{kind="worker"}' '== 2' 20
check "the first worker's office-mail pass beats too" \
	wait_metric 'ringfence_processes_alive{kind="office-mail"}' '== 1' 20

kill -TERM "$SCHED"
wait "$SCHED"
check "a scheduler stopped cleanly removes its heartbeat (no tick age)" \
	wait_metric 'ringfence_scheduler_last_tick_age_seconds' absent 10
check "... and none is alive" \
	wait_metric 'ringfence_processes_alive{kind="scheduler"}' '== 0' 10

"$ROOT/bin/ringfence" scheduler --interval 1 >>"$OPS_TMP/scheduler.log" 2>&1 &
SCHED=$!
check "a new scheduler ticks" wait_metric 'ringfence_scheduler_last_tick_age_seconds' '< 5' 20
kill -KILL "$SCHED"
wait "$SCHED" 2>/dev/null
a1=$(metric ringfence_scheduler_last_tick_age_seconds)
sleep 4
a2=$(metric ringfence_scheduler_last_tick_age_seconds)
diag "tick age after the kill: $a1 s, then $a2 s"
if [ -n "$a1" ] && [ -n "$a2" ] && awk -v a="$a1" -v b="$a2" 'BEGIN { exit !(b >= a + 3) }'; then
	ok "a killed scheduler's tick age grows (what RingfenceSchedulerNotTicking reads)"
else
	not_ok "a killed scheduler's tick age grows: $a1 then $a2"
fi
check "a killed scheduler is not alive after 3 beats" \
	wait_metric 'ringfence_processes_alive{kind="scheduler"}' '== 0' 10

kill -TERM "$WORKER"
wait "$WORKER"
check "workers stopped cleanly: none alive (what RingfenceNoWorkerAlive reads)" \
	wait_metric 'ringfence_processes_alive{kind="worker"}' '== 0' 10

# The pool's counters live in RINGFENCE_RUN_DIR, not in the workers.
for _ in 1 2 3 4 5; do curl -s -o /dev/null "$URL/login"; done
before=$(metric 'ringfence_http_requests_total{kind="dashboard",code="200"}')
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR timeout 120 "$ROOT/deploy/stack" fcgi-restart \
	>"$OPS_TMP/restart.log" 2>&1
after=$(metric 'ringfence_http_requests_total{kind="dashboard",code="200"}')
if [ -n "$before" ] && [ "${after:-0}" -ge "$before" ] && [ "$before" -ge 5 ]; then
	ok "the request counters survive a restart of the pool ($before, then $after)"
else
	not_ok "the request counters survive a restart of the pool ($before, then $after)" \
		"$OPS_TMP/restart.log"
fi
# A worker of the pool killed: the master restarts it, and the restarts
# counter (what RingfencePoolRestartStorm reads) moves.
r0=$(metric ringfence_pool_restarts_total)
victim=$(RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" fcgi-pids 2>/dev/null | sed -n 2p)
if [ -n "$r0" ] && [ -n "$victim" ] && kill -KILL "$victim"; then
	check "a killed pool worker shows in ringfence_pool_restarts_total ($r0 before)" \
		wait_metric ringfence_pool_restarts_total "> $r0" 20
else
	not_ok "the pool's status shows in /metrics (ringfence_pool_restarts_total '$r0', worker '$victim')"
fi
tap_done
