// t_calendar.mjs: calendar feeds as an owner meets them (issue 11).  The
// owner adds a calendar's secret address on Settings -> Calendars and sees
// it only masked; a sync that would change too much is held, the banner on
// Today leads to the preview, and the owner approves it; a client the sync
// proposed from an event waits for confirmation, the line on Today leads
// to the clients to confirm, and the owner confirms one from its page.
//
// What `ringfence calsync` writes (the hold, the proposed client) is
// written with SQL, as the sync writes it: reading a real calendar is the
// calsync tests' business, what people see and decide is this one's.  The
// business itself is new (no page creates one), like t_trial's.

import { check, tag } from './lib.mjs';
import { createBusiness, login, noticeCode, sql } from './app.mjs';

const SECRET = `private-${tag()}${tag()}`;

export const tests = [
	{
		name: 'calendar: an owner adds a feed (shown masked), approves a held sync from the Today banner, confirms a proposed client',
		timeoutMs: 120000,
		async fn(t) {
			const biz = await createBusiness('Calendar Salon', 'active', true);
			const tab = await login(t, biz.email, biz.password, 'owner');
			const page = tab.page;

			// Settings -> Calendars, add the feed.
			await tab.go('/settings', { label: 'settings' });
			await tab.click(page.getByRole('link', { name: 'Calendars' }).first(), { label: 'calendars' });
			check(new URL(page.url()).pathname === '/settings/calendars',
				`the Calendars link led to ${tab.where()}`);
			await page.getByLabel('Name').fill('Front desk');
			await page.getByLabel(/secret address/i).fill(
				`https://calendar.google.com/calendar/ical/frontdesk%40example.com/${SECRET}/basic.ics`);
			await tab.click(page.getByRole('button', { name: /add the calendar/i }), { label: 'feed-added' });
			check(noticeCode(tab) === 'feed_added', `adding the feed led to ${tab.where()}`);
			let body = await tab.text();
			check(body.includes('Front desk'), 'the feed is not listed');
			check(body.includes('https://calendar.google.com/…'), 'the feed\'s address is not shown masked');
			check(!(await page.content()).includes(SECRET), 'the page holds the feed\'s secret address');

			// A refused address: the message, and the address is not typed back.
			await page.getByLabel('Name').fill('Second');
			await page.getByLabel(/secret address/i).fill(`ftp://calendar.example.com/${SECRET}`);
			await tab.click(page.getByRole('button', { name: /add the calendar/i }),
				{ status: 422, label: 'feed-refused' });
			check(/must start with https:\/\//.test(await tab.text()), 'the refusal does not say why');
			check(!(await page.content()).includes(SECRET), 'the refusal repeats the address');

			// The sync holds a change of 540 reminders.
			const feeds = await sql(`SELECT id FROM calendar_feeds WHERE business_id = ${biz.id}`);
			check(feeds.length === 1, `${feeds.length} feeds stored, want 1`);
			const feed = feeds[0][0];
			const holds = await sql(`INSERT INTO calendar_holds (business_id, feed_id, reason, creates, ` +
				`reschedules, cancels, threshold, content_sha256, preview) VALUES (${biz.id}, ${feed}, ` +
				`'would change 540 reminders at once (limit 60: 3 x the largest day, 20)', 520, 10, 10, 60, ` +
				`repeat('cd', 32), '[{"action": "create", "summary": "Cut and colour Ann", ` +
				`"client": "Ann", "from": null, "to": "2030-01-07T15:00:00Z"}]') RETURNING id`);
			const hold = holds[0][0];
			await sql(`UPDATE calendar_feeds SET last_status = 'held' WHERE id = ${feed}`);

			// Today's banner, the preview, Approve.
			await tab.go('/today', { label: 'today-hold' });
			await tab.click(page.getByRole('link', { name: /review the changes/i }).first(), { label: 'hold' });
			check(new URL(page.url()).pathname === `/calendar-holds/${hold}`, `the banner led to ${tab.where()}`);
			body = await tab.text();
			check(body.includes('Cut and colour Ann'), 'the preview does not list the event');
			check(body.includes('520 reminders'), 'the page does not say how many reminders it would create');
			await tab.click(page.getByRole('button', { name: /approve the changes/i }), { label: 'hold-approved' });
			check(noticeCode(tab) === 'hold_approved', `approving led to ${tab.where()}`);
			check(/Approved by/.test(await tab.text()), 'the page does not say who approved');
			const decided = await sql(`SELECT decision, decided_by FROM calendar_holds WHERE id = ${hold}`);
			check(decided[0][0] === 'approved' && decided[0][1] === biz.email,
				`the hold is ${decided[0].join(' / ')}`);

			// A proposed client: Today's line, the filter, Confirm.
			const name = `Bea Calendar ${tag()}`;
			const clients = await sql(`INSERT INTO clients (business_id, name, phone, proposed_at, proposed_from) ` +
				`VALUES (${biz.id}, '${name}', '+15555550191', now(), 'calendar feed ''Front desk'', ` +
				`event ''Cut and colour'' on 2030-01-07: phone +15555550191 in the description') RETURNING id`);
			const client = clients[0][0];
			await tab.go('/today', { label: 'today-proposed' });
			check(/1 client from your calendar waits for confirmation/.test(await tab.text()),
				'Today does not say a client waits for confirmation');
			await tab.click(page.getByRole('link', { name: /review them/i }), { label: 'to-confirm' });
			check(new URL(page.url()).searchParams.get('show') === 'to_confirm', `the line led to ${tab.where()}`);
			await tab.click(page.getByRole('link', { name }), { label: 'proposed-client' });
			check((await tab.text()).includes('event \'Cut and colour\''), 'the client\'s page does not say where it was found');
			await tab.click(page.getByRole('button', { name: /confirm this client/i }), { label: 'client-confirmed' });
			check(noticeCode(tab) === 'client_confirmed', `confirming led to ${tab.where()}`);
			const confirmed = await sql(`SELECT confirmed_by FROM clients WHERE id = ${client} AND confirmed_at IS NOT NULL`);
			check(confirmed.length === 1 && confirmed[0][0] === biz.email, 'the client is not confirmed by the owner');
			check(/confirmed by/.test(await tab.text()), 'the client\'s page does not say who confirmed');
		},
	},
];
