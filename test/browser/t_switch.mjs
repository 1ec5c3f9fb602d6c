// t_switch.mjs: the automatic-messages switch as a business owner meets it
// (issue 11).  The owner sets a booking confirmation by text, then turns
// automatic messages off on Settings with a reason; every page then shows
// the red banner saying since when, by whom, why and how many reminders
// are held.  An appointment booked meanwhile gets its booking confirmation
// held: a worker pass sends nothing (the simulator's Messages log), a test
// reminder is refused, and the confirmation goes once the owner turns
// them on again.  A staff login may turn them off but not on.  Without
// JavaScript the owner turns them off and on and saves the booking
// confirmation setting, which Settings then shows.
//
// The business is new (no page creates one); the worker and scheduler
// test/browser/run started send what is released.

import { check, run, tag, waitFor } from './lib.mjs';
import { login, createBusiness, addUser, createClient, createAppointment, clientZone, simCallee,
	localDateTime, testNumber, noticeCode, simTexts, sql } from './app.mjs';

const BANNER = '#messages-off';

// The red banner's text on the tab's page ('' when there is none).
async function banner(tab) {
	const b = tab.page.locator(BANNER);
	return (await b.count()) ? b.innerText() : '';
}

// On Settings, the switch's form: types why and submits it (confirm: the
// confirm dialog turning them off asks for, when JavaScript runs).
async function flip(tab, button, reason, { confirm = null, status = 200, label } = {}) {
	const page = tab.page;
	await tab.go('/settings', { label: false });
	const card = page.locator('#automatic-messages');
	await card.getByLabel(/^why they/i).fill(reason);
	await tab.click(card.getByRole('button', { name: button }), { confirm, status, label });
}

// The new simulator messages to number (not among the sids seen before).
async function newTexts(number, before) {
	return (await simTexts(number)).filter((m) => !before.has(m.sid));
}

export const tests = [
	{
		name: 'switch: off with a reason shows the banner everywhere and holds a due reminder; staff may turn off, not on; on again sends it',
		timeoutMs: 240000,
		async fn(t) {
			const biz = await createBusiness('Switch Salon', 'active', true, ['09:00', '18:00']);
			const staff = await addUser(biz.id, 'staff');
			const owner = await login(t, biz.email, biz.password, 'owner');
			const page = owner.page;

			// Settings: a booking confirmation by text as soon as an
			// appointment is booked; the switch is on.
			await owner.go('/settings', { label: 'settings-on' });
			const booking = page.locator('#booking form');
			await booking.getByLabel(/send a booking confirmation by/i).selectOption('sms');
			await booking.getByLabel(/minutes after booking/i).fill('0');
			await owner.click(booking.getByRole('button', { name: /save booking confirmation/i }),
				{ label: 'booking-saved' });
			check(noticeCode(owner) === 'saved', `saving the booking confirmation led to ${owner.where()}`);
			check(await page.locator('#booking form').getByLabel(/send a booking confirmation by/i).inputValue() === 'sms',
				'Settings does not show the booking confirmation by text message');
			check(/On\./.test(await page.locator('#automatic-messages').innerText()),
				'Settings does not say automatic messages are on');
			check(await banner(owner) === '', 'a banner shows while automatic messages are on');

			// Off, with a reason.
			const why = `Storm ${tag()}: office closed`;
			await flip(owner, /turn automatic messages off/i, why,
				{ confirm: /stop every automatic message/i, label: 'switched-off' });
			check(noticeCode(owner) === 'messages_off', `turning them off led to ${owner.where()}`);
			let text = await banner(owner);
			check(text.includes('Automatic messages are off') && text.includes(`by ${biz.email}: ${why}`) &&
				text.includes('0 reminders are held'), `the banner says ${JSON.stringify(text)}`);

			// An appointment booked now: its booking confirmation is due and held.
			const number = await testNumber();
			await simCallee(number, 'person');
			const before = new Set((await simTexts(number)).map((m) => m.sid));
			const name = `Held Client ${tag()}`;
			await createClient(owner, { name, phone: number, zone: await clientZone(biz.id) });
			const appt = await createAppointment(owner, { clientName: name, when: localDateTime(2, 11, 30) });
			for (const p of ['/today', '/clients', `/appointments/${appt}`, '/inbox', '/settings']) {
				await owner.go(p, { label: `off-${p}` });
				text = await banner(owner);
				check(text.includes(`by ${biz.email}: ${why}`) && text.includes('1 reminder is held'),
					`the banner on ${p} says ${JSON.stringify(text)}`);
			}
			// A test reminder is refused while they are off, and says why.
			await owner.go(`/appointments/${appt}`, { label: false });
			const test = page.locator(`form[action$="/appointments/${appt}/test-reminder"]`);
			await test.locator('select[name=channel]').selectOption('sms');
			await owner.click(test.locator('button[type=submit]').first(), { status: 409, label: 'test-refused' });
			check(/automatic messages are off for this business/i.test(await owner.text()),
				'the refused test reminder does not say automatic messages are off');
			// A worker pass and a scheduler tick (besides the running ones)
			// send nothing: it stays pending, blocked by the switch.
			for (const args of [['worker', '--once'], ['scheduler', '--once'], ['worker', '--once']]) {
				const r = await run(args);
				check(r.code === 0, `ringfence ${args.join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).trim()}`);
			}
			const held = await sql(`SELECT r.status, b.reason FROM reminders r, ` +
				`reminder_block(r.id, now()) b WHERE r.appointment_id = ${Number(appt)} AND r.kind = 'booking'`);
			check(held.length === 1 && held[0][0] === 'pending' && held[0][1] === 'automatic messages are off',
				`the booking confirmation is ${JSON.stringify(held)}, not pending and held by the switch`);
			let sent = await newTexts(number, before);
			check(sent.length === 0, `the simulator got ${sent.length} text(s) while messages were off: ` +
				JSON.stringify(sent.map((m) => m.body)));

			// Staff: sees the banner, may not turn them on (no form; a
			// forged POST is refused and changes nothing).
			const desk = await login(t, staff.email, staff.password, 'staff');
			await desk.go('/settings', { label: 'staff-settings-off' });
			check((await banner(desk)).includes(why), 'the staff login sees no banner');
			const card = desk.page.locator('#automatic-messages');
			check(/only an owner can turn them on/i.test(await card.innerText()),
				'Settings does not tell staff only an owner turns them on');
			check(await card.getByRole('button', { name: /turn automatic messages on/i }).count() === 0,
				'staff is offered the button turning them on');
			const csrf = await desk.page.locator('input[name=csrf]').first().getAttribute('value');
			const forged = await desk.page.request.post('/settings/automatic-messages', {
				form: { csrf, on: 'on', reason: 'staff says so' }, maxRedirects: 0 });
			check(forged.status() === 403, `staff turning them on answered ${forged.status()}, not 403`);
			check((await sql(`SELECT paused_at IS NOT NULL FROM businesses WHERE id = ${Number(biz.id)}`))[0][0] === 't',
				'staff turned automatic messages on');

			// The owner turns them on again: the banner goes, the held
			// reminder goes out (the running scheduler and worker).
			await flip(owner, /turn automatic messages on/i, 'The storm is over', { label: 'switched-on' });
			check(noticeCode(owner) === 'messages_on', `turning them on led to ${owner.where()}`);
			check(await banner(owner) === '', 'the banner stays after turning them on');
			check(/On\./.test(await page.locator('#automatic-messages').innerText()), 'Settings does not say on');
			sent = await waitFor('the held booking confirmation to reach the simulator', async () => {
				const s = await newTexts(number, before);
				return s.length ? s : null;
			}, { timeoutMs: 120000, intervalMs: 1000 });
			check(sent.length === 1 && sent[0].body.startsWith(`${biz.name}: your appointment on `) &&
				sent[0].body.includes(' is booked.'), `after turning on the simulator got ${JSON.stringify(sent.map((m) => m.body))}`);

			// Staff turns them off (stopping is always allowed).
			const deskWhy = `Double booking ${tag()}`;
			await flip(desk, /turn automatic messages off/i, deskWhy,
				{ confirm: /stop every automatic message/i, label: 'staff-switched-off' });
			check(noticeCode(desk) === 'messages_off', `staff turning them off led to ${desk.where()}`);
			await owner.go('/today', { label: 'owner-sees-staff-off' });
			text = await banner(owner);
			check(text.includes(`by ${staff.email}: ${deskWhy}`), `after staff turned them off the banner says ${JSON.stringify(text)}`);
			const events = await sql(`SELECT event, actor, reason FROM business_events WHERE business_id = ` +
				`${Number(biz.id)} AND event LIKE 'messages_%' ORDER BY id`);
			check(JSON.stringify(events) === JSON.stringify([['messages_off', biz.email, why],
				['messages_on', biz.email, 'The storm is over'], ['messages_off', staff.email, deskWhy]]),
			`the business's events are ${JSON.stringify(events)}`);
		},
	},
	{
		name: 'switch: without JavaScript the switch and the booking confirmation setting submit and show',
		timeoutMs: 120000,
		async fn(t) {
			const biz = await createBusiness('Plain Salon', 'active', true);
			const owner = await login(t, biz.email, biz.password, 'owner without JavaScript',
				{ javaScript: false });
			const page = owner.page;

			// Off (no confirm dialog without JavaScript), then on.
			const why = `Holiday ${tag()}`;
			await flip(owner, /turn automatic messages off/i, why, { label: 'nojs-off' });
			check(noticeCode(owner) === 'messages_off', `turning them off led to ${owner.where()}`);
			check((await banner(owner)).includes(`by ${biz.email}: ${why}`), 'no banner after turning them off');
			await owner.go('/clients', { label: 'nojs-clients-off' });
			check((await banner(owner)).includes(why), 'no banner on Clients');
			await flip(owner, /turn automatic messages on/i, 'Back from holiday', { label: 'nojs-on' });
			check(noticeCode(owner) === 'messages_on', `turning them on led to ${owner.where()}`);
			check(await banner(owner) === '', 'the banner stays after turning them on');

			// The booking confirmation: by text, 30 minutes after booking.
			const form = page.locator('#booking form');
			await form.getByLabel(/send a booking confirmation by/i).selectOption('sms');
			await form.getByLabel(/minutes after booking/i).fill('30');
			await owner.click(form.getByRole('button', { name: /save booking confirmation/i }),
				{ label: 'nojs-booking-saved' });
			check(noticeCode(owner) === 'saved', `saving the booking confirmation led to ${owner.where()}`);
			const saved = page.locator('#booking form');
			check(await saved.getByLabel(/send a booking confirmation by/i).inputValue() === 'sms',
				'the booking confirmation is not shown as by text message');
			check(await saved.getByLabel(/minutes after booking/i).inputValue() === '30',
				'the booking confirmation\'s minutes are not shown as 30');
			const row = await sql(`SELECT booking_channel, booking_delay_minutes FROM businesses WHERE id = ${Number(biz.id)}`);
			check(row[0][0] === 'sms' && row[0][1] === '30', `the business has ${JSON.stringify(row)}`);
			// A bad value: the page says why and nothing changes.
			// (the field's max stops a browser from sending it: as one that does not check it)
			await saved.getByLabel(/minutes after booking/i).evaluate((el) => { el.removeAttribute('max'); });
			await saved.getByLabel(/minutes after booking/i).fill('2000');
			await owner.click(saved.getByRole('button', { name: /save booking confirmation/i }),
				{ status: 422, label: 'nojs-booking-refused' });
			check(/whole number from 0 to 1440/.test(await owner.text()), 'the refusal does not say why');
			const after = await sql(`SELECT booking_delay_minutes FROM businesses WHERE id = ${Number(biz.id)}`);
			check(after[0][0] === '30', `a refused value changed the delay to ${after[0][0]}`);
		},
	},
];
