/* groups: the integration test groups, each a cmocka group in its own
 * file, run in order by main.c against one live stack.  Each returns the
 * number of its failed tests (cmocka_run_group_tests). */
#ifndef RF_GROUPS_H
#define RF_GROUPS_H

int oas_tests(void);          /* test_oas.c: the OpenAPI response checker itself */
int twilio_sim_tests(void);   /* test_twilio_sim.c: the simulator's REST API */
int sim_calls_tests(void);    /* test_sim_calls.c: simulated calls through the REST API */
int simulate_tests(void);     /* test_simulate.c: ringfence-sim simulate and sim_call */
int sim_record_tests(void);   /* test_sim_record.c: inbound calls, <Record> and recordings in the simulator */
int paths_tests(void);        /* test_paths.c: every path of every flow, played through a worker and the simulator */
int api_tests(void);          /* test_api.c: the JSON API */
int api_spec_tests(void);     /* test_api_spec.c: the checker of the API's OpenAPI description */
int worker_tests(void);       /* test_worker.c: workers, the send path, status callbacks */
int reconcile_tests(void);    /* test_reconcile.c: unknown outcomes against a strict simulator */
int sweep_tests(void);        /* test_sweep.c: calls whose status callbacks were lost, settled by the reconciler */
int scheduler_tests(void);    /* test_scheduler.c: the scheduler, the outage's scheduler half */
int scheduler_set_tests(void); /* test_scheduler_set.c: the tick's set-based verdict against reminder_block */
int outage_tests(void);       /* test_outage.c: the outage replay with workers */
int guards_tests(void);       /* test_guards.c: Twilio client, mail, rate limits, failsafe */
int webhook_tests(void);      /* test_webhook.c: the webhook path */
int fallback_tests(void);     /* test_fallback.c: Twilio's FallbackUrl, the fallback route and the simulator's fallback */
int roundtrip_tests(void);    /* test_roundtrip.c: PostgreSQL round trips per voice webhook */
int hold_tests(void);         /* test_hold.c: calls held while PostgreSQL is down (stops it) */
int metrics_tests(void);      /* test_metrics.c: /metrics, /healthz and /readyz, monitoring addresses */
int sms_tests(void);          /* test_sms.c: inbound texts, initiated callbacks, SID checks */
int sms_flow_tests(void);     /* test_sms_flow.c: SMS conversations, opt-out and opt-in, the simulator's 21610 */
int email_tests(void);        /* test_email.c: email reminders and their unsubscribe link */
int request_id_tests(void);  /* test_request_id.c: X-Request-Id through nginx, log and audit */
int sentinel_tests(void);     /* test_sentinel.c: rds through Redis Sentinel, the audit's WAIT */
int flood_tests(void);        /* test_flood.c: the audit under a flood of unsigned webhooks */
int dash_appointments_tests(void); /* test_dash_appointments.c: today, appointments, timeline, decisions */
int session_tests(void);      /* test_session.c: dashboard logins, sessions, CSRF, the login throttle */
int shell_tests(void);        /* test_shell.c: the dashboard shell: headers, 404, redirects, static files, body limits, the failsafe banner */
int dash_clients_tests(void); /* test_dash_clients.c: the clients pages and CSV import */
int dash_settings_tests(void); /* test_dash_settings.c: settings, wording previews, API keys, users, flows */
int taskcode_tests(void);     /* test_taskcode.c: task codes, the inbound call, recorded greetings, guess throttles */
int trial_tests(void);        /* test_trial.c: verification, the new business's own failsafe, test reminder rules */
int switch_tests(void);       /* test_switchbook.c: the automatic-messages switch on the dashboard, API and CLI */
int booking_tests(void);      /* test_switchbook.c: booking confirmations through the simulator */
int notify_tests(void);       /* test_notify.c: what the office is told: dashboard, email, unreached clients */
int calendar_pages_tests(void); /* test_calendar_pages.c: calendar feeds, held syncs, proposed clients: pages and API */
int inbox_tests(void);        /* test_inbox.c: the reply inbox, conversations, staff replies through the worker and the simulator */
int calsync_tests(void);      /* test_calsync.c: calendar feeds synced into appointments, the mass-change guard */
int config_tests(void);       /* test_config.c: configuration checked at start by every command, secrets never echoed */
int doctor_tests(void);       /* test_doctor.c: ringfence doctor green on the stack, then each fault named; the simulator's Account and IncomingPhoneNumbers */
int failover_tests(void);     /* test_failover.c: PostgreSQL failover on a primary/standby pair: multi-host URL, drops, retries, read URL, /readyz */
int isolation_tests(void);    /* test_isolation.c: every id route with another business's ids is 404 and changes nothing */
int restarts_tests(void);     /* test_restarts.c: the contact limits across restarts (last: it restarts the stack) */

#endif
