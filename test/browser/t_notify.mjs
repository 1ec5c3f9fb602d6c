// t_notify.mjs: an open Today page shows what a client just said without
// being reloaded (app.js polls /notifications.json).  While one tab sits
// on Today, another creates a client and an appointment and sends a test
// reminder call; the simulated client presses 1 to hear it and 1 to
// confirm, and the confirmation appears on top of "What clients said" in
// the first tab, unseen, with the header's count up.  "Mark all seen"
// then marks it.

import { env, check, tag, waitFor } from './lib.mjs';
import { loginDemo, createClient, createAppointment, clientZone, simCallee, localDateTime,
	testNumber, sendTestReminder, sql } from './app.mjs';

const CALLEE = 'person; ring 1; wait 1; press 1; wait 2; press 1';

export const tests = [
	{
		name: 'notify: an open Today page shows a client\'s keypad confirmation without a reload',
		timeoutMs: 300000,
		async fn(t) {
			const watcher = await loginDemo(t);
			const page = watcher.page;
			check(await page.getByRole('heading', { name: 'What clients said' }).count() === 1,
				'Today has no "What clients said" panel');
			const count = async () => Number((await page.locator('#notify-count').textContent()) || '0');
			const before = await count();
			// A marker that a reload would wipe out.
			await page.evaluate(() => { window.rfNotReloaded = true; });

			// Another tab books and sends the test reminder call.
			const tab = await loginDemo(t);
			const NUMBER = await testNumber();
			await simCallee(NUMBER, CALLEE);
			const zone = await clientZone(env.demoBusinessId);
			const name = `Notified Client ${tag()}`;
			await createClient(tab, { name, phone: NUMBER, zone });
			const id = await createAppointment(tab, { clientName: name, when: localDateTime(2, 10, 15),
				notes: `Private note ${tag()}` });
			await sendTestReminder(tab, id, 'voice');

			// The scheduler, a worker and the simulator take it from here.
			const row = page.locator('#notify-list > li').filter({ hasText: name }).first();
			await waitFor('the confirmation in the open Today page', async () => await row.count() === 1,
				{ timeoutMs: 200000, intervalMs: 1000 });
			const text = (await row.textContent()) || '';
			check(/confirmed/.test(text) && text.includes('(keypad)'), `the new row says ${JSON.stringify(text)}`);
			check(!/Private note/.test(await page.locator('#notify-list').textContent()),
				'the panel shows the appointment\'s notes');
			check(await row.evaluate((el) => el.classList.contains('unseen')), 'the new row is not marked unseen');
			check(await row.locator('a').first().getAttribute('href') === `/appointments/${id}`,
				'the new row does not link to the appointment');
			await waitFor('the header count to go up', async () => (await count()) >= before + 1,
				{ timeoutMs: 60000 });
			check(await page.evaluate(() => window.rfNotReloaded === true), 'the Today page was reloaded');
			await watcher.look('today-notification-arrived');

			const seen = page.locator('#notifications form.notify-seen');
			await watcher.click(seen.getByRole('button', { name: /mark all seen/i }), { label: 'today-all-seen' });
			check(new URL(page.url()).searchParams.get('notice') === 'notifications_seen',
				`marking all seen led to ${watcher.where()}`);
			const after = page.locator('#notify-list > li').filter({ hasText: name }).first();
			check(await after.count() === 1, 'the notification is gone from the panel after marking it seen');
			check(!(await after.evaluate((el) => el.classList.contains('unseen'))), 'the row is still unseen');
			const left = await sql(`SELECT count(*) FROM office_notifications WHERE business_id = ` +
				`${Number(env.demoBusinessId)} AND appointment_id = ${Number(id)} AND seen_at IS NULL`);
			check(left[0][0] === '0', 'the notification is still unseen in the database');
		},
	},
];
