// t_greeting.mjs: the greeting page (/settings/greeting).  The owner gets
// a task code (the code, its expiry and the number to call on the page);
// a simulated person calls that number, enters the code, speaks, ends the
// recording with # and keeps it with 1; the page then plays the recording
// in an <audio> player whose source loads under the page's
// Content-Security-Policy; "Use the synthesised greeting" reverts.  The
// page at 375 px and at desktop width.

import path from 'node:path';
import { env, check, run, tag, waitFor } from './lib.mjs';
import { loginDemo } from './app.mjs';

const SIM = path.join(env.root, 'bin/ringfence-sim');
const SYNTH = /open with the synthesised greeting/i;

// A caller number of the fictional 555 range, new for every run (the
// inbound flow throttles failures per caller; caller ID is never who).
function callerNumber() {
	return `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
}

// Records every securitypolicyviolation the page reports from now on
// (in window.__csp, across reloads of the same tab).
async function watchCsp(page) {
	await page.addInitScript(() => {
		window.__csp = [];
		document.addEventListener('securitypolicyviolation', (e) => {
			window.__csp.push(`${e.violatedDirective} refused ${e.blockedURI}`);
		});
	});
}

export const tests = [
	{
		name: 'greeting: a task code, a greeting recorded by phone plays on the page (media loads, no CSP refusal), revert',
		timeoutMs: 180000,
		async fn(t) {
			const tab = await loginDemo(t);
			const page = tab.page;
			await watchCsp(page);

			await tab.go('/settings', { label: 'settings' });
			await tab.click(page.getByRole('link', { name: /greeting/i }).first(), { label: 'greeting' });
			check(new URL(page.url()).pathname === '/settings/greeting',
				`the settings page's greeting link led to ${tab.where()}`);
			check(SYNTH.test(await tab.text()), 'a fresh business\'s greeting page does not say the synthesised greeting is used');
			check(await page.locator('audio').count() === 0, 'the page has a player before anything was recorded');
			await tab.narrow('greeting-synthesised');

			// The code: six digits, when it expires, the number to call.
			await tab.click(page.getByRole('button', { name: /get a code/i }), { label: 'greeting-code' });
			await tab.narrow('greeting-code');
			const code = (await page.locator('#task-code').innerText()).trim();
			check(/^\d{6}$/.test(code), `the code shown is ${JSON.stringify(code)}, not six digits`);
			const expires = (await page.locator('#task-code-expires').innerText()).trim();
			check(/\d{1,2}:\d{2}/.test(expires), `the expiry shown is ${JSON.stringify(expires)}, not a time`);
			const number = (await page.locator('#task-code-number').innerText()).trim();
			check(/^\+[1-9]\d{6,14}$/.test(number), `the number to call is ${JSON.stringify(number)}, not E.164`);
			const text = await tab.text();
			check(/works once/i.test(text) && text.includes(number) && text.includes(expires),
				'the code page does not say the code works once, until when and whom to call');

			// The call, through the simulator as Twilio would place it.
			const words = `Hello from the browser test salon ${tag()}`;
			const behaviour = `person; wait 1; press ${code}; speak 3 "${words}"; press #; wait 2; press 1`;
			const call = await run(['call-in', '--from', callerNumber(), '--to', number,
				'--behaviour', behaviour, '--wait', '--timeout', '120'], { program: SIM });
			check(call.code === 0, `ringfence-sim call-in failed (${call.code}): ${(call.stderr || call.stdout).trim()}`);

			// The recording's status callback stores it; the page shows it.
			await waitFor('the greeting page to show the recording', async () => {
				await tab.go('/settings/greeting', { label: false });
				return await page.locator('audio#greeting-audio').count() === 1;
			}, { timeoutMs: 30000, intervalMs: 1000 });
			await tab.look('greeting-recorded');
			await tab.narrow('greeting-recorded');
			check(/your own recording/i.test(await tab.text()), 'the page does not say the calls open with the recording');

			// The player's source loads (the media request answers, the
			// browser can read it) and the CSP lets it.
			const audio = page.locator('audio#greeting-audio');
			const src = new URL(await audio.getAttribute('src'), page.url()).href;
			const [media] = await Promise.all([
				page.waitForResponse((r) => r.url() === src || r.request().redirectedFrom()?.url() === src,
					{ timeout: 10000 }).catch(() => null),
				audio.evaluate((el) => { el.preload = 'auto'; el.load(); }),
			]);
			const violations = await page.evaluate(() => window.__csp);
			check(violations.length === 0, `Content-Security-Policy refusals: ${violations.join('; ')}`);
			check(media, `the player did not request ${src} within 10 s`);
			check(media.status() === 200 || media.status() === 206,
				`the recording ${src} answered ${media.status()}`);
			check(/^audio\//.test(media.headers()['content-type'] || ''),
				`the recording ${src} is served as ${media.headers()['content-type']}, not audio`);
			await waitFor('the player to read the recording', () => audio.evaluate((el) => {
				if (el.error)
					throw new Error(`media error ${el.error.code}: ${el.error.message}`);
				return el.readyState >= 1 && el.duration > 0;
			}), { timeoutMs: 15000, intervalMs: 250 });
			const late = await page.evaluate(() => window.__csp);
			check(late.length === 0, `Content-Security-Policy refusals: ${late.join('; ')}`);

			// Revert, through the confirm dialog.
			await tab.click(page.getByRole('button', { name: /use the synthesised greeting/i }),
				{ confirm: /synthesised greeting/i, label: 'greeting-reverted' });
			check(new URL(page.url()).searchParams.get('notice') === 'greeting_reverted',
				`reverting led to ${tab.where()}, not ?notice=greeting_reverted`);
			check(SYNTH.test(await tab.text()), 'after the revert the page does not say the synthesised greeting is used');
			check(await page.locator('audio').count() === 0, 'after the revert the page still has a player');
		},
	},
];
