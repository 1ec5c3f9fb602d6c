// t_sms.mjs: a client answers a reminder text (issue 10's SMS
// conversations).  The owner sends a test reminder by text; the
// simulator's callee texts back "1" and then something the flow does not
// understand; the appointment's timeline shows the client's texts and the
// "Text reply" rows in words (texted 1, confirmed; not understood), and
// the appointment is confirmed.

import { env, check, tag, waitFor } from './lib.mjs';
import { loginDemo, createClient, createAppointment, clientZone, simCallee, localDateTime,
	testNumber, sendTestReminder } from './app.mjs';

const OTHER = 'what time again';
// The callee reads the reminder text, confirms with 1, then asks a question.
const CALLEE = `person; sms-reply "1"; sms-wait 3; sms-reply "${OTHER}"`;

export const tests = [
	{
		name: 'sms: a client\'s text replies to a reminder text show on the timeline in words, the appointment is confirmed',
		timeoutMs: 180000,
		async fn(t) {
			const tab = await loginDemo(t);
			const number = await testNumber();
			await simCallee(number, CALLEE);
			const name = `Text Client ${tag()}`;
			await createClient(tab, { name, phone: number, zone: await clientZone(env.demoBusinessId) });
			const id = await createAppointment(tab, { clientName: name, when: localDateTime(2, 9, 45) });
			await tab.go(`/appointments/${id}`, { label: 'appointment' });
			await sendTestReminder(tab, id, 'sms');

			// The scheduler, a worker, the simulator's callee and the
			// inbound webhook take it from here.
			const rows = () => tab.page.locator('li, tr').filter({ hasText: /Text reply:/ }).allInnerTexts();
			await waitFor('the timeline to show the reply "not understood"', async () => {
				await tab.go(`/appointments/${id}`, { label: false });
				return (await rows()).some((r) => /not understood/i.test(r));
			}, { timeoutMs: 150000, intervalMs: 1000 });
			await tab.look('timeline-text-replies');

			const text = await tab.text();
			check(text.includes('Client replied by text: “1”'), 'the timeline does not show the client\'s text "1"');
			check(text.includes(`Client replied by text: “${OTHER}”`), `the timeline does not show the client's text "${OTHER}"`);
			const replies = await rows();
			check(replies.some((r) => /Text reply: texted 1 → confirm check/.test(r)),
				`no "Text reply: texted 1 → confirm check" row in ${JSON.stringify(replies)}`);
			check(replies.some((r) => /Text reply: done → confirmed/.test(r)),
				`no "Text reply: done → confirmed" row in ${JSON.stringify(replies)}`);
			check(replies.some((r) => /Text reply: not understood → /.test(r)),
				`no "Text reply: not understood → ..." row in ${JSON.stringify(replies)}`);
			const raw = replies.filter((r) => /_/.test(r));
			check(raw.length === 0, `"Text reply" rows with a state's raw name: ${JSON.stringify(raw)}`);
			check(/Appointment confirmed/.test(text), 'the timeline does not say the appointment was confirmed');
		},
	},
];
