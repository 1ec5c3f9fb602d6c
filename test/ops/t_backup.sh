#!/usr/bin/env bash
# Backups and a restore that never re-sends (deploy/backup, deploy/restore,
# ringfence restore-reconcile), and the audit fallback log read back and
# replayed (ringfence audit fallback|replay).
#
# A business with five clients, each answering the simulator its own way:
#   A  answers the reminder call and presses keys (then the call is over)
#   B  replies STOP to the reminder text
#   C  takes a text and says nothing
#   D  has only reminders due after the restore
#   E  gets an email
# Back up; send the reminders due now (A's call, B's and C's texts, E's
# email); restore the backup: every one of them is 'pending' again.  The
# failsafe is tripped, a worker left running sends nothing, resume is
# refused; restore-reconcile marks the sent ones, applies B's STOP again,
# holds A's appointment and skips E's email; then resume and make every
# later reminder due: the simulator's log shows nobody contacted twice
# for one reminder, nothing to B after its STOP, A's held reminder not
# sent, and C's and D's later reminders sent.
. "$ROOT/test/ops/lib.sh"

export RINGFENCE_ALLOWED_CONTACTS="+15555550201,+15555550202,+15555550203,+15555550204,+15555550205,+15555550206,+15555550207,client@example.com"
stack_start || tap_done
R=$ROOT/bin/ringfence
BK=$OPS_TMP/backups
q() { psql -X -q -tA -v ON_ERROR_STOP=1 "$@"; }

# ---- the business and its clients -----------------------------------------
callee() {
	curl -sf -u "$TWILIO_ACCOUNT_SID:$TWILIO_AUTH_TOKEN" "$TWILIO_API_URL/sim/callees" \
		--data-urlencode "Number=$1" --data-urlencode "Behaviour=$2" >/dev/null
}
callee +15555550201 'person; ring 1; wait 1; press 1; wait 1; press 1' &&
	callee +15555550202 'person; sms-reply "STOP"' &&
	callee +15555550203 'person' &&
	callee +15555550204 'person; ring 1; wait 1; press 1; wait 1; press 1' &&
	callee +15555550205 'person; sms-reply "1"' &&
	callee +15555550206 'person' &&
	callee +15555550207 'person; ring 1; wait 1; press 1; wait 1; press 1' ||
	not_ok "the simulator takes the callees"

# Reminders "now" are due a minute ago; "later" ones in two hours (made
# due after the restore, as time passing would).
q >"$OPS_TMP/seed.log" 2>&1 <<'EOF' || not_ok "the business is seeded" "$OPS_TMP/seed.log"
INSERT INTO businesses (id, name, time_zone, callback_phone, status, verified, window_start, window_end)
    VALUES (9001, 'Backup Clinic', 'UTC', '+15555550299', 'active', true, '00:00', '23:59:59');
INSERT INTO clients (id, business_id, name, phone, email) VALUES
    (9101, 9001, 'A', '+15555550201', NULL), (9102, 9001, 'B', '+15555550202', NULL),
    (9103, 9001, 'C', '+15555550203', NULL), (9104, 9001, 'D', '+15555550204', NULL),
    (9105, 9001, 'E', NULL, 'client@example.com'), (9106, 9001, 'F', '+15555550205', NULL),
    (9107, 9001, 'G', '+15555550206', NULL), (9108, 9001, 'H', '+15555550207', NULL);
INSERT INTO appointments (id, business_id, client_id, starts_at)
    SELECT 9200 + c, 9001, 9100 + c, now() + interval '5 hours' FROM generate_series(1, 8) c;
-- G's text and H's call (answered, ended) go out before the backup: the
-- dump knows them.
INSERT INTO reminders (id, business_id, appointment_id, channel, offset_minutes, due_at, stale_at, to_address) VALUES
    (9307, 9001, 9207, 'sms', 300, now() - interval '1 minute', now() + interval '1 hour', '+15555550206'),
    (9308, 9001, 9208, 'voice', 300, now() - interval '1 minute', now() + interval '1 hour', '+15555550207');
EOF
"$R" scheduler --once >"$OPS_TMP/sched0.log" 2>&1
"$R" worker --once >"$OPS_TMP/worker0.log" 2>&1
for _ in $(seq 1 60); do
	[ "$(q -c "SELECT delivery_status FROM contact_attempts WHERE reminder_id = 9308")" = completed ] && break
	sleep 1
done
q >>"$OPS_TMP/seed.log" 2>&1 <<'EOF' || not_ok "the later reminders are seeded" "$OPS_TMP/seed.log"
INSERT INTO reminders (id, business_id, appointment_id, channel, offset_minutes, due_at, stale_at, to_address) VALUES
    (9301, 9001, 9201, 'voice', 300, now() - interval '1 minute', now() + interval '1 hour', '+15555550201'),
    (9311, 9001, 9201, 'sms',   120, now() + interval '2 hours', now() + interval '3 hours', '+15555550201'),
    (9302, 9001, 9202, 'sms',   300, now() - interval '1 minute', now() + interval '1 hour', '+15555550202'),
    (9312, 9001, 9202, 'voice', 120, now() + interval '2 hours', now() + interval '3 hours', '+15555550202'),
    (9303, 9001, 9203, 'sms',   300, now() - interval '1 minute', now() + interval '1 hour', '+15555550203'),
    (9313, 9001, 9203, 'sms',   120, now() + interval '2 hours', now() + interval '3 hours', '+15555550203'),
    (9314, 9001, 9204, 'voice', 120, now() + interval '2 hours', now() + interval '3 hours', '+15555550204'),
    (9305, 9001, 9205, 'email', 300, now() - interval '1 minute', now() + interval '1 hour', 'client@example.com'),
    (9306, 9001, 9206, 'sms',   300, now() - interval '1 minute', now() + interval '1 hour', '+15555550205'),
    (9316, 9001, 9206, 'voice', 120, now() + interval '2 hours', now() + interval '3 hours', '+15555550205'),
    (9318, 9001, 9208, 'sms',   120, now() + interval '2 hours', now() + interval '3 hours', '+15555550207');
EOF

# ---- the backup --------------------------------------------------------------
check "deploy/backup writes a dump" "$ROOT/deploy/backup" --stack --dir "$BK" --keep 2 --with-redis
DUMP=$(ls "$BK"/ringfence-*.dump 2>/dev/null | tail -n 1)
if [ -n "$DUMP" ] && [ "$(stat -c %a "$DUMP")" = 600 ] && [ "$(stat -c %a "$BK")" = 700 ] &&
	[ -s "${DUMP%.dump}.json" ] && [ -s "${DUMP%.dump}.rdb" ]; then
	ok "the dump is 0600 in a 0700 folder, with its sidecar and the Redis snapshot"
else
	not_ok "dump $DUMP: mode, sidecar or RDB missing ($(ls -la "$BK" 2>&1 | tr '\n' ' '))"
fi
if pg_restore -l "$DUMP" | grep -q twilio_sim; then
	not_ok "the dump holds the simulator's schema"
else
	ok "the dump leaves out the simulator's schema twilio_sim"
fi
if grep -q '"release": "' "${DUMP%.dump}.json" && grep -q '"backup_at": "20' "${DUMP%.dump}.json"; then
	ok "the sidecar names the release and the backup time"
else
	not_ok "sidecar: $(cat "${DUMP%.dump}.json" 2>&1)"
fi
# --keep: three more backups, two kept.
for _ in 1 2; do sleep 1.1; "$ROOT/deploy/backup" --stack --dir "$BK" --keep 2 >/dev/null 2>&1; done
n=$(ls "$BK"/ringfence-*.dump | wc -l)
if [ "$n" = 2 ] && [ ! -e "$DUMP" ]; then
	ok "--keep 2 keeps the newest two backups"
else
	not_ok "--keep 2 left $n dumps"
fi
DUMP=$(ls "$BK"/ringfence-*.dump | tail -n 1)
check_fails "deploy/backup refuses a bad --keep" "$ROOT/deploy/backup" --stack --keep zero

# ---- before the restore: reminders go out --------------------------------------
sim_count() { # sim_count TABLE TO [DIRECTION]: Twilio's records to TO
	q -c "SELECT count(*) FROM twilio_sim.$1 WHERE to_number = '$2' AND direction = '${3:-outbound-api}'"
}
"$R" scheduler --once >"$OPS_TMP/sched1.log" 2>&1
"$R" worker --once >"$OPS_TMP/worker1.log" 2>&1
# Wait for the call to end and B's STOP to come back.
for _ in $(seq 1 60); do
	st=$(q -c "SELECT status FROM twilio_sim.calls WHERE to_number = '+15555550201'")
	stop_in=$(q -c "SELECT count(*) FROM twilio_sim.messages WHERE from_number = '+15555550202' AND direction = 'inbound'")
	f_in=$(q -c "SELECT count(*) FROM twilio_sim.messages WHERE from_number = '+15555550205' AND direction = 'inbound'")
	[ "$st" = completed ] && [ "$stop_in" = 1 ] && [ "$f_in" = 1 ] && break
	sleep 1
done
# placed, or completed once Twilio's status callback came: both "sent".
states() {
	q -c "SELECT string_agg(id || ':' || CASE WHEN status IN ('placed', 'completed') THEN 'sent'
		ELSE status END, ',' ORDER BY id) FROM reminders WHERE business_id = 9001"
}
sent=$(states)
if [ "$st" = completed ] && [ "$stop_in" = 1 ] && [ "$sent" = "9301:sent,9302:sent,9303:sent,9305:sent,9306:sent,9307:sent,9308:sent,9311:pending,9312:pending,9313:pending,9314:pending,9316:pending,9318:pending" ] && [ "$f_in" = 1 ]; then
	ok "before the restore: A's call (answered), B's, C's and F's texts and E's email went out, B texted STOP, F replied 1"
else
	not_ok "before the restore: call $st, B's STOP $stop_in, F's reply $f_in, reminders $sent" "$OPS_TMP/worker1.log"
fi
optout=$(q -c "SELECT opted_out_at IS NOT NULL FROM clients WHERE id = 9102")
[ "$optout" = t ] && ok "B's STOP opted B out" || not_ok "B is not opted out ($optout)"

# ---- the restore -------------------------------------------------------------
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" worker-start >/dev/null 2>&1
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" scheduler-start >/dev/null 2>&1
check_fails "deploy/restore refuses without --yes and no terminal" "$ROOT/deploy/restore" "$DUMP" --stack </dev/null
check "deploy/restore --stack --yes restores the backup" "$ROOT/deploy/restore" "$DUMP" --stack --yes
back=$(states)
if [ "$back" = "9301:pending,9302:pending,9303:pending,9305:pending,9306:pending,9307:sent,9308:sent,9311:pending,9312:pending,9313:pending,9314:pending,9316:pending,9318:pending" ] &&
	[ "$(q -c "SELECT opted_out_at IS NULL FROM clients WHERE id = 9102")" = t ]; then
	ok "the restored database has every reminder pending again and B not opted out (the problem)"
else
	not_ok "after the restore: $back"
fi
if [ "$(sim_count calls +15555550201)" = 1 ] && [ "$(sim_count messages +15555550203)" = 1 ]; then
	ok "the simulator's records (twilio_sim) were not rolled back"
else
	not_ok "twilio_sim lost records: calls to A $(sim_count calls +15555550201), texts to C $(sim_count messages +15555550203)"
fi
"$R" failsafe status >"$OPS_TMP/fs.log" 2>&1
fs=$?
if [ "$fs" = 3 ] && grep -q "restored from the backup of .*: reconcile before resuming" "$OPS_TMP/fs.log"; then
	ok "the failsafe is tripped with the restore's reason"
else
	not_ok "failsafe status exit $fs" "$OPS_TMP/fs.log"
fi
sp=$(cat "$RINGFENCE_RUN_DIR/scheduler.pid" 2>/dev/null)
wp=$(cat "$RINGFENCE_RUN_DIR/worker.pid" 2>/dev/null)
if [ -n "$sp" ] && kill -0 "$sp" 2>/dev/null && [ -n "$wp" ] && kill -0 "$wp" 2>/dev/null; then
	ok "the scheduler and the worker that ran are running again"
else
	not_ok "scheduler ($sp) or worker ($wp) not running after the restore"
fi
# A scheduler tick (interval 10 s) and the worker's turn: nothing goes out.
sleep 13
after=$(q -c "SELECT count(*) FROM twilio_sim.calls" ; q -c "SELECT count(*) FROM twilio_sim.messages WHERE direction = 'outbound-api'")
"$R" scheduler --once >/dev/null 2>&1
"$R" worker --once >"$OPS_TMP/worker-tripped.log" 2>&1
sleep 2
after2=$(q -c "SELECT count(*) FROM twilio_sim.calls" ; q -c "SELECT count(*) FROM twilio_sim.messages WHERE direction = 'outbound-api'")
if [ "$after" = "$(printf '2\n4')" ] && [ "$after2" = "$after" ]; then
	ok "while tripped the running worker and scheduler send nothing"
else
	not_ok "sent while tripped: $(echo $after) then $(echo $after2)" "$OPS_TMP/worker-tripped.log"
fi
check_fails "failsafe resume is refused before the reconciliation" \
	"$R" failsafe resume --reason "try" --by ops
grep -q "restore-reconcile" "$OPS_TMP/check-$TAP_N.log" && ok "the refusal names restore-reconcile" ||
	not_ok "the refusal does not say why" "$OPS_TMP/check-$TAP_N.log"

# ---- the reconciliation ----------------------------------------------------------
# What a reconciliation would change (a worker left running may move
# other reminders on: blocked, stale).
touched() {
	q -c "SELECT (SELECT count(*) FROM contact_attempts WHERE worker = 'restore-reconcile'),
		(SELECT count(*) FROM deployment_events WHERE kind = 'restore_reconciled'),
		(SELECT opted_out_at IS NULL FROM clients WHERE id = 9102),
		(SELECT string_agg(id || status, ',' ORDER BY id) FROM reminders WHERE id IN (9305, 9311, 9316))"
}
# A stranger's text since the backup whose body would forge a line of the
# report and clear the operator's terminal.
q -c "INSERT INTO twilio_sim.messages (sid, account_sid, to_number, from_number, body, direction, status)
	VALUES ('SM0000000000000000000000000000f0f0', '$TWILIO_ACCOUNT_SID', '+15005550006', '+15555550999',
	        E'hi\\nmarked_sent      SMforged: all clear\\u001b[2J\\u009b2J', 'inbound', 'received')" >/dev/null
before=$(touched)
check_fails "restore-reconcile with Twilio unreachable exits 1" \
	env TWILIO_API_URL=http://127.0.0.1:9 "$R" restore-reconcile
check_fails "restore-reconcile with a wrong auth token (401) exits 1" \
	env TWILIO_AUTH_TOKEN=wrong-token-0000 "$R" restore-reconcile
mid=$(touched)
if [ "$before" = "$mid" ] && [ "$mid" = "0|0|t|9305pending,9311pending,9316pending" ]; then
	ok "a failed reconciliation changed nothing"
else
	not_ok "a failed reconciliation changed the database: $before then $mid"
fi
check "restore-reconcile reconciles" "$R" restore-reconcile --by ops
cp "$OPS_TMP/check-$TAP_N.log" "$OPS_TMP/reconcile.log"
sed 's/^/# /' "$OPS_TMP/reconcile.log"
got=$(states)
want="9301:sent,9302:sent,9303:sent,9305:skipped,9306:sent,9307:sent,9308:sent,9311:skipped,9312:pending,9313:pending,9314:pending,9316:skipped,9318:pending"
[ "$got" = "$want" ] && ok "reconciled: sent ones placed, A's (answered) and F's (replied) appointments held, E's email skipped" ||
	not_ok "reconciled reminders: $got (want $want)"
sids=$(q -c "SELECT count(*) FROM contact_attempts ca WHERE ca.business_id = 9001 AND ca.status = 'placed'
	AND EXISTS (SELECT 1 FROM twilio_sim.calls c WHERE c.sid = ca.provider_sid
	            UNION ALL SELECT 1 FROM twilio_sim.messages m WHERE m.sid = ca.provider_sid)")
[ "$sids" = 6 ] && ok "the six sent calls and texts (four marked, two in the dump) have attempts with Twilio's sids" ||
	not_ok "attempts with Twilio's sids: $sids"
[ "$(q -c "SELECT opted_out_at IS NOT NULL FROM clients WHERE id = 9102")" = t ] &&
	ok "B's STOP is applied again" || not_ok "B is not opted out after the reconciliation"
grep -q "answered_held" "$OPS_TMP/reconcile.log" && grep -q "opt_out_applied" "$OPS_TMP/reconcile.log" &&
	grep -q "reply_held .*'1' from +15555550205" "$OPS_TMP/reconcile.log" && grep -q "already known 2," "$OPS_TMP/reconcile.log" &&
	grep -q "email_skipped" "$OPS_TMP/reconcile.log" && ok "the report lists each decision" ||
	not_ok "the report misses a decision" "$OPS_TMP/reconcile.log"
if grep -q "^ *marked_sent *SMforged" "$OPS_TMP/reconcile.log" || grep -q "$(printf '\033')" "$OPS_TMP/reconcile.log" ||
	grep -q "$(printf '\302\233')" "$OPS_TMP/reconcile.log"; then
	not_ok "a text's body forged a line of the report or reached the terminal raw" "$OPS_TMP/reconcile.log"
elif grep -qF "SM0000000000000000000000000000f0f0: 'hi\x0amarked_sent      SMforged: all clear\x1b[2J\xc2\x9b2J'" \
	"$OPS_TMP/reconcile.log"; then
	ok "a text's line breaks and control characters are shown escaped in the report"
else
	not_ok "the stranger's text is not in the report" "$OPS_TMP/reconcile.log"
fi
check "restore-reconcile a second time has nothing to do" "$R" restore-reconcile
check "failsafe resume is accepted after the reconciliation" \
	"$R" failsafe resume --reason "reconciled after the restore" --by ops

# ---- after the resume ------------------------------------------------------------
q -c "UPDATE reminders SET due_at = now() - interval '1 minute' WHERE business_id = 9001 AND status = 'pending'" >/dev/null
"$R" scheduler --once >/dev/null 2>&1
"$R" worker --once >"$OPS_TMP/worker2.log" 2>&1
for _ in $(seq 1 30); do
	[ "$(q -c "SELECT count(*) FROM reminders WHERE id IN (9313, 9314, 9318) AND status IN ('pending', 'dialing')")" = 0 ] && break
	sleep 1
done
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" worker-stop >/dev/null 2>&1
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" scheduler-stop >/dev/null 2>&1
final=$(states)
want="9301:sent,9302:sent,9303:sent,9305:skipped,9306:sent,9307:sent,9308:sent,9311:skipped,9312:pending,9313:sent,9314:sent,9316:skipped,9318:sent"
[ "$final" = "$want" ] && ok "after the resume only C's, D's and H's later reminders went out (H's call ended before the backup: not held); B's stays unsent (opted out)" ||
	not_ok "after the resume: $final (want $want)"
# Twilio's log: calls and texts per person.
log=$(q -c "SELECT string_agg(k, ',' ORDER BY k) FROM (
	SELECT 'call ' || to_number || ' x' || count(*) AS k FROM twilio_sim.calls GROUP BY to_number
	UNION ALL SELECT 'sms ' || to_number || ' x' || count(*) FROM twilio_sim.messages
	  WHERE direction = 'outbound-api' GROUP BY to_number) x")
diag "the simulator's log: $log"
want="call +15555550201 x1,call +15555550204 x1,call +15555550207 x1,sms +15555550202 x1,sms +15555550203 x2,sms +15555550205 x1,sms +15555550206 x1,sms +15555550207 x1"
[ "$log" = "$want" ] && ok "nobody contacted twice for one reminder, B (STOP) not called, A's held reminder not sent, C's and D's later ones sent" ||
	not_ok "the simulator's log: $log (want $want)"
nb=$(q -c "SELECT count(*) FROM twilio_sim.calls c WHERE c.to_number = '+15555550202'")
[ "$nb" = 0 ] && ok "B, who texted STOP, got no call after the restore" || not_ok "B was called $nb time(s)"
mails=$(ls "$RINGFENCE_STACK_DIR/mail" 2>/dev/null | wc -l)
[ "$mails" = 1 ] && ok "E got its email once" || not_ok "E's emails: $mails"

# ---- the audit fallback log --------------------------------------------------------
FB=$RINGFENCE_AUDIT_FALLBACK
rm -f "$FB" "$FB".[0-9]*
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" redis-stop >/dev/null 2>&1
U=http://127.0.0.1:$RINGFENCE_NGINX_PORT
# Unsigned: refused and summarised; signed: an inbound text (a stranger's).
curl -s -o /dev/null -d "From=%2B15555550999&To=%2B15005550006&Body=hi" "$U/twilio/sms/inbound"
curl -s -o /dev/null -d "CallSid=CAx" "$U/twilio/voice/inbound"
form="AccountSid=$TWILIO_ACCOUNT_SID&Body=hello&From=%2B15555550998&MessageSid=SM0123456789abcdef0123456789abcdef&NumMedia=0&To=$(printf %s "$TWILIO_FROM_NUMBER" | sed 's/+/%2B/')"
sig=$(printf '%s' "$RINGFENCE_PUBLIC_URL/twilio/sms/inbound" "AccountSid$TWILIO_ACCOUNT_SID" "Bodyhello" \
	"From+15555550998" "MessageSidSM0123456789abcdef0123456789abcdef" "NumMedia0" "To$TWILIO_FROM_NUMBER" |
	openssl dgst -sha1 -hmac "$TWILIO_AUTH_TOKEN" -binary | base64)
curl -s -o /dev/null -H "X-Twilio-Signature: $sig" -d "$form" "$U/twilio/sms/inbound"
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" redis-start >/dev/null 2>&1
"$R" audit fallback >"$OPS_TMP/fallback.out" 2>&1
nrej=$(grep -c '"kind":"rejected"' "$OPS_TMP/fallback.out")
nweb=$(grep -c '"call_sid"\|"webhook"\|MessageSid\|SM0123456789abcdef' "$OPS_TMP/fallback.out")
if [ "$nrej" -ge 2 ] && [ "$nweb" -ge 1 ]; then
	ok "audit fallback prints the records written while Redis was down ($nrej rejected, $nweb signed)"
else
	not_ok "audit fallback: $nrej rejected, $nweb signed" "$OPS_TMP/fallback.out"
fi
total=$(wc -l <"$OPS_TMP/fallback.out")
check "audit replay puts them into the streams" "$R" audit replay
grep -q "$total added, 0 replayed before" "$OPS_TMP/check-$TAP_N.log" && ok "the first replay added all $total" ||
	not_ok "first replay" "$OPS_TMP/check-$TAP_N.log"
"$R" audit all --max 1000 >"$OPS_TMP/all.out" 2>&1
"$R" audit rejected --max 1000 >"$OPS_TMP/rejected.out" 2>&1
if grep -q '"replayed":true' "$OPS_TMP/all.out" && [ "$(grep -c '"replayed":true' "$OPS_TMP/rejected.out")" = "$nrej" ]; then
	ok "audit all and audit rejected show the replayed records, marked replayed"
else
	not_ok "the replayed records are not in the streams" "$OPS_TMP/all.out"
fi
check "audit replay a second time" "$R" audit replay
grep -q " 0 added, $total replayed before" "$OPS_TMP/check-$TAP_N.log" && ok "a second replay adds nothing" ||
	not_ok "second replay" "$OPS_TMP/check-$TAP_N.log"
n2=$(grep -c '"replayed":true' < <("$R" audit all --max 1000))
n1=$(grep -c '"replayed":true' "$OPS_TMP/all.out")
[ "$n1" = "$n2" ] && ok "the streams hold each replayed record once" || not_ok "replayed records $n1 then $n2"
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" redis-stop >/dev/null 2>&1
sum1=$(sha256sum "$FB" | cut -d' ' -f1)
check_fails "audit replay with Redis down exits 1" "$R" audit replay
[ "$(sha256sum "$FB" | cut -d' ' -f1)" = "$sum1" ] && ok "and leaves the file as it was" || not_ok "the file changed"
RINGFENCE_STACK_DIR=$RINGFENCE_STACK_DIR "$ROOT/deploy/stack" redis-start >/dev/null 2>&1
check_fails "audit fallback with an unreadable --file fails" "$R" audit fallback --file "$OPS_TMP"
tap_done
