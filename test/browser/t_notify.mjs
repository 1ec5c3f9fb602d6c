// t_notify.mjs: an open Today page shows what a client just said without
// being reloaded (app.js polls /notifications.json): the row appears on
// top of "What clients said", unseen, and the header's count goes up;
// "Mark all seen" then marks it.

import { env, check, tag, waitFor } from './lib.mjs';
import { loginDemo, sql } from './app.mjs';

export const tests = [
	{
		name: 'notify: an open Today page shows a new notification without a reload',
		timeoutMs: 180000,
		async fn(t) {
			const owner = await loginDemo(t);
			const page = owner.page;
			check(await page.getByRole('heading', { name: 'What clients said' }).count() === 1,
				'Today has no "What clients said" panel');
			const count = async () => Number((await page.locator('#notify-count').textContent()) || '0');
			const before = await count();
			// A marker that a reload would wipe out.
			await page.evaluate(() => { window.rfNotReloaded = true; });
			const rows = await sql(`SELECT a.id, a.client_id FROM appointments a ` +
				`WHERE a.business_id = ${Number(env.demoBusinessId)} ORDER BY a.id LIMIT 1`);
			check(rows.length === 1, 'the demo business has no appointment');
			const detail = `Confirmed by keypad (browser test ${tag()})`;
			// The row office_notify (src/notify.c) writes when a client confirms.
			await sql(`INSERT INTO office_notifications (business_id, appointment_id, client_id, kind, detail) ` +
				`VALUES (${Number(env.demoBusinessId)}, ${Number(rows[0][0])}, ${Number(rows[0][1])}, ` +
				`'confirmed', '${detail}')`);
			// (The demo's own reminders may tell the office things meanwhile:
			// the row is found by its text, the count only has to go up.)
			const first = page.locator('#notify-list > li').filter({ hasText: detail }).first();
			await waitFor('the new notification in the panel', async () => await first.count() === 1,
				{ timeoutMs: 60000 });
			check(await first.evaluate((el) => el.classList.contains('unseen')), 'the new row is not marked unseen');
			check(((await first.textContent()) || '').includes('confirmed'), 'the new row does not say "confirmed"');
			await waitFor('the header count to go up', async () => (await count()) >= before + 1,
				{ timeoutMs: 60000 });
			check(await page.evaluate(() => window.rfNotReloaded === true), 'the page was reloaded');
			await owner.look('today-notification-arrived');

			const seen = page.locator('#notifications form.notify-seen');
			await owner.click(seen.getByRole('button', { name: /mark all seen/i }), { label: 'today-all-seen' });
			check(new URL(page.url()).searchParams.get('notice') === 'notifications_seen',
				`marking all seen led to ${owner.where()}`);
			const row = page.locator('#notify-list > li').filter({ hasText: detail }).first();
			check(await row.count() === 1, 'the notification is gone from the panel after marking it seen');
			check(!(await row.evaluate((el) => el.classList.contains('unseen'))), 'the row is still unseen');
			const left = await sql(`SELECT count(*) FROM office_notifications WHERE business_id = ` +
				`${Number(env.demoBusinessId)} AND seen_at IS NULL AND detail = '${detail}'`);
			check(left[0][0] === '0', 'the notification is still unseen in the database');
		},
	},
];
