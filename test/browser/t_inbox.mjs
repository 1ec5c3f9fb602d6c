// t_inbox.mjs: the reply inbox as a business owner meets it (issue 11).
// A client answers a reminder text with a question the automatic replies
// do not understand (the simulator's callee texts it back, markup and
// all); it waits in the Inbox, counted in the menu; the owner opens the
// conversation, where the text shows as text (no script runs), and
// answers from the form: an over-long reply is refused with the text kept,
// a good one is queued and then, once the worker sent it and the
// simulator's status callback came, delivered.  An opted-out client's
// page refuses to reply.  Without JavaScript the reply form submits and
// the page shows the queued reply.
//
// The business is new (no page creates one); the worker and scheduler
// test/browser/run started send the texts.

import { check, tag, waitFor } from './lib.mjs';
import { login, createBusiness, createClient, createAppointment, clientZone, simCallee, localDateTime,
	testNumber, sendTestReminder, noticeCode, simTexts, textFromClient, sql } from './app.mjs';

const SCRIPT = '<script>alert(1)</script>';
const QUESTION = `Can I bring my dog? ${SCRIPT}`;
const SENDER = '+15005550006';
// Settled states of a reply, in order.
const PROGRESS = /^(queued|sending|queued at Twilio|sent|delivered)$/;

// The conversation's row of an outbound text holding text (a locator).
function outRow(tab, text) {
	return tab.page.locator('tr.msg-out').filter({ hasText: text });
}

// The state badge of row.
async function stateOf(row) {
	return (await row.locator('td[data-label="State"]').innerText()).trim();
}

// Types body into the reply form and sends it (status: the answer's).
async function reply(tab, body, { status = 200, label } = {}) {
	const form = tab.page.locator('form').filter({ has: tab.page.getByLabel('Your text') });
	await form.getByLabel('Your text').fill(body);
	await tab.click(form.getByRole('button', { name: /send the reply/i }), { status, label });
}

export const tests = [
	{
		name: 'inbox: a client\'s unrecognised text (with markup) waits in the inbox, the owner replies from the conversation and sees it delivered',
		timeoutMs: 300000,
		async fn(t) {
			const biz = await createBusiness('Inbox Salon', 'active', true, ['09:00', '18:00']);
			const owner = await login(t, biz.email, biz.password, 'owner');
			const page = owner.page;
			let dialogs = 0;
			page.on('dialog', () => { dialogs++; });

			// The client answers the reminder text with a question.
			const number = await testNumber();
			await simCallee(number, `person; sms-reply "${QUESTION}"`);
			const name = `Dog Owner ${tag()}`;
			const client = await createClient(owner, { name, phone: number, zone: await clientZone(biz.id) });
			const appt = await createAppointment(owner, { clientName: name, when: localDateTime(3, 10, 0) });
			await owner.go(`/appointments/${appt}`, { label: 'appointment' });
			await owner.go('/inbox', { label: 'inbox-empty' });
			check(/no texts from clients yet/i.test(await owner.text()), 'the empty inbox does not say so');
			await owner.go(`/appointments/${appt}`, { label: false });
			await sendTestReminder(owner, appt, 'sms');

			// The Inbox: the client first, waiting, counted in the menu.
			const row = page.locator('tbody tr').filter({ hasText: name });
			await waitFor('the client\'s text in the inbox', async () => {
				await owner.go('/inbox', { label: false });
				return await row.count() === 1;
			}, { timeoutMs: 150000, intervalMs: 1000 });
			// No more texts from this callee (the reply below would start it again).
			await simCallee(number, 'person');
			await owner.look('inbox');
			check(/waiting for an answer/.test(await row.innerText()), `the inbox row says ${JSON.stringify(await row.innerText())}`);
			check(await page.locator('tbody tr').first().innerText() === await row.innerText(),
				'the waiting client is not listed first');
			const nav = page.locator('header nav a, nav a').filter({ hasText: /^Inbox/ }).first();
			check(await nav.innerText() === 'Inbox (1)', `the menu says ${JSON.stringify(await nav.innerText())}`);

			// The conversation: the client's text as text, no script.
			await owner.click(row.getByRole('link', { name }), { label: 'conversation' });
			check(new URL(page.url()).pathname === `/clients/${client}/messages`,
				`the inbox link led to ${owner.where()}`);
			const inRow = page.locator('tr.msg-in').filter({ hasText: 'Can I bring my dog?' }).first();
			check(await inRow.count() === 1, 'the conversation does not show the client\'s text');
			check((await inRow.locator('td[data-label="Text"]').innerText()).includes(SCRIPT),
				'the client\'s text does not show its markup as text');
			check(/needs an answer/.test(await stateOf(inRow)), `the client's text is ${JSON.stringify(await stateOf(inRow))}`);
			check(await page.locator('script:not([src])').evaluateAll(
				(els) => els.filter((e) => e.textContent.includes('alert(1)')).length) === 0,
			'the client\'s text became a script element');
			check(await outRow(owner, '(the reminder text)').count() >= 1,
				'the conversation does not show the reminder text sent to the client');

			// An over-long reply (a browser that does not stop at
			// maxlength): the error, the text kept, nothing queued.
			const long = `Long answer ${tag()} ` + 'x'.repeat(330);
			await page.getByLabel('Your text').evaluate((el) => el.removeAttribute('maxlength'));
			await reply(owner, long, { status: 422, label: 'reply-too-long' });
			check(/Nothing was queued: field 'body' must be at most 320 characters/.test(await owner.text()),
				'the over-long reply does not say why it was refused');
			check(await page.getByLabel('Your text').inputValue() === long, 'the refused reply\'s text was not kept');
			check(await outRow(owner, 'Long answer').count() === 0, 'the refused reply is listed');

			// A good reply of three lines, 320 characters as typed (a
			// browser sends each line break as CR LF): queued, then delivered.
			const first = `Yes, dogs are welcome ${tag()}.`;
			let answer = `${first}\nBring a lead, please.\nSee you then `;
			answer += '.'.repeat(320 - answer.length);
			await page.getByLabel('Your text').fill('');
			await reply(owner, answer, { label: 'reply-queued' });
			check(noticeCode(owner) === 'reply_queued', `the 320-character reply led to ${owner.where()}`);
			check(/your reply is queued/i.test(await owner.text()), 'the page does not say the reply is queued');
			const mine = outRow(owner, first);
			check(await mine.count() === 1, 'the conversation does not list the reply');
			check(PROGRESS.test(await stateOf(mine)), `the new reply is ${JSON.stringify(await stateOf(mine))}`);
			check((await mine.innerText()).includes(`Reply from ${biz.email}`), 'the reply does not say who wrote it');
			check(/answered/.test(await stateOf(inRow)), `after the reply the client's text is ${JSON.stringify(await stateOf(inRow))}`);
			await waitFor('the reply to show delivered', async () => {
				await owner.reload();
				return await stateOf(outRow(owner, first)) === 'delivered';
			}, { timeoutMs: 120000, intervalMs: 1000 });
			await owner.look('reply-delivered');
			const got = (await simTexts(number)).filter((m) => m.body === `${biz.name}: ${answer}`);
			check(got.length === 1 && got[0].from === SENDER, `the simulator holds ${JSON.stringify(got)}`);
			check(dialogs === 0, `${dialogs} dialog(s) opened`);
		},
	},
	{
		name: 'inbox: without JavaScript a reply submits and shows queued; an opted-out client\'s page refuses to reply',
		timeoutMs: 120000,
		async fn(t) {
			const biz = await createBusiness('Plain Inbox', 'active', true, ['09:00', '18:00']);
			const owner = await login(t, biz.email, biz.password, 'owner without JavaScript', { javaScript: false });
			const page = owner.page;
			const zone = await clientZone(biz.id);

			// A reply without JavaScript.
			const number = await testNumber();
			await simCallee(number, 'person');
			const name = `Plain Client ${tag()}`;
			const client = await createClient(owner, { name, phone: number, zone });
			await createAppointment(owner, { clientName: name, when: localDateTime(3, 11, 0) });
			await owner.go(`/clients/${client}/messages`, { label: 'nojs-conversation' });
			check(/no texts to or from this client yet/i.test(await owner.text()), 'the empty conversation does not say so');
			const answer = `Your table is ready ${tag()}.`;
			await reply(owner, answer, { label: 'nojs-reply-queued' });
			check(noticeCode(owner) === 'reply_queued', `the reply led to ${owner.where()}`);
			check(/your reply is queued/i.test(await owner.text()), 'the page does not say the reply is queued');
			check(PROGRESS.test(await stateOf(outRow(owner, answer))), 'the reply is not listed as on its way');
			const q = await sql(`SELECT count(*) FROM reminders WHERE business_id = ${Number(biz.id)} AND kind = 'reply'`);
			check(q[0][0] === '1', `${q[0][0]} replies stored, want 1`);

			// A client who texted STOP: the page says so, no form; a post
			// is refused and queues nothing.
			const stopper = `+1555555${String(1000 + Math.floor(Math.random() * 8000)).padStart(4, '0')}`;
			const other = `Opted Out ${tag()}`;
			const oid = await createClient(owner, { name: other, phone: stopper, zone });
			await createAppointment(owner, { clientName: other, when: localDateTime(3, 12, 0) });
			const st = await textFromClient(stopper, SENDER, 'STOP');
			check(st === 200, `the STOP text answered ${st}`);
			await owner.go(`/clients/${oid}/messages`, { label: 'nojs-opted-out' });
			check(/this client opted out by STOP on /i.test(await owner.text()),
				'the opted-out client\'s conversation does not say they opted out');
			check(await page.getByLabel('Your text').count() === 0, 'the opted-out client\'s page offers the reply form');
			const csrf = await page.locator('input[name=csrf]').first().getAttribute('value');
			const forced = await page.request.post(`/clients/${oid}/messages`, {
				form: { csrf, body: 'Are you still there?' }, maxRedirects: 0 });
			check(forced.status() === 409, `a reply to the opted-out client answered ${forced.status()}, not 409`);
			check(/opted out by STOP/.test(await forced.text()), 'the refusal does not say why');
			const none = await sql(`SELECT count(*) FROM reminders r JOIN appointments a ON a.id = r.appointment_id ` +
				`WHERE a.client_id = ${Number(oid)} AND r.kind = 'reply'`);
			check(none[0][0] === '0', 'a reply to the opted-out client was stored');
		},
	},
];
