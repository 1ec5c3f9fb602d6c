// t_reminder.mjs: an owner's day: create a client and an appointment,
// send a test reminder and watch the simulated call reach "confirmed" on
// the timeline (the callee presses 1 to hear the details and 1 to
// confirm), reschedule the appointment, cancel it.

import { env, check, tag, waitFor } from './lib.mjs';
import { loginDemo, createClient, createAppointment, clientZone, simCallee, localDateTime, noticeCode,
	testNumber, sendTestReminder } from './app.mjs';

// One of the test numbers (app.mjs testNumber); the simulator answers it
// as the demo's Ada Byron does (deploy/demo-callees): listens and confirms.
const CALLEE = 'person; ring 1; wait 1; press 1; wait 2; press 1';

export const tests = [
	{
		name: 'reminder: create a client and an appointment, a test reminder call is confirmed (key press on the timeline), reschedule, cancel',
		timeoutMs: 240000,
		async fn(t) {
			const tab = await loginDemo(t);
			const page = tab.page;
			const NUMBER = await testNumber();
			const TYPED = `${NUMBER.slice(0, 2)} ${NUMBER.slice(2, 5)} ${NUMBER.slice(5, 8)} ${NUMBER.slice(8)}`;
			await simCallee(NUMBER, CALLEE);
			const zone = await clientZone(env.demoBusinessId);
			const name = `Test Caller ${tag()}`;

			// The client, with the number typed as people type it.
			const clientId = await createClient(tab, { name, phone: TYPED, zone });
			await tab.go(`/clients/${clientId}`, { label: 'client' });
			let body = await tab.text();
			check(body.includes(name), `the client's page does not show the name ${name}`);
			check(body.includes(NUMBER) || body.includes(TYPED),
				`the client's page shows neither ${NUMBER} nor ${TYPED}`);

			// The appointment, two days ahead.
			const when = localDateTime(2, 10, 15);
			const id = await createAppointment(tab, { clientName: name, when, notes: 'Check-up' });
			await tab.go(`/appointments/${id}`, { label: 'appointment' });
			body = await tab.text();
			check(body.includes(name), `the appointment's page does not name the client ${name}`);

			// Send me a test reminder: a call.
			await sendTestReminder(tab, id, 'voice');

			// The scheduler, a worker and the simulator take it from here;
			// the timeline shows the call, the key press and the outcome.
			await waitFor('the timeline to show the key press "pressed 1 -> confirmed"', async () => {
				await tab.go(`/appointments/${id}`, { label: false });
				const text = await tab.text();
				return /pressed\s*1\W+confirmed/i.test(text);
			}, { timeoutMs: 150000, intervalMs: 1000 });
			await tab.look('timeline-confirmed');

			// Reschedule: three days ahead at 11:30.
			const later = localDateTime(3, 11, 30);
			await tab.go(`/appointments/${id}/edit`, { label: 'appointment-edit' });
			await page.locator('input[type="datetime-local"]').first().fill(later);
			await tab.click(page.locator('main form button[type=submit]').first(), { label: 'rescheduled' });
			check(noticeCode(tab), `rescheduling led to ${tab.where()} without a notice`);
			await tab.go(`/appointments/${id}/edit`, { label: false });
			const value = await page.locator('input[type="datetime-local"]').first().inputValue();
			check(value.slice(0, 16) === later,
				`after rescheduling to ${later} the edit form shows ${value}`);
			await tab.go(`/appointments/${id}`, { label: 'rescheduled-appointment' });
			check((await tab.text()).includes('11:30'), 'the rescheduled appointment does not show 11:30');

			// Cancel, through the confirm dialog.
			await tab.click(page.locator(`form[action$="/appointments/${id}/cancel"]`)
				.locator('button[type=submit], input[type=submit]').first(),
				{ confirm: /cancel/i, label: 'cancelled' });
			check(noticeCode(tab) === 'cancelled', `cancelling led to ${tab.where()}, not ?notice=cancelled`);
			await tab.go(`/appointments/${id}`, { label: 'cancelled-appointment' });
			check(/cancelled/i.test(await tab.text()), 'the cancelled appointment does not say "cancelled"');
		},
	},
];
