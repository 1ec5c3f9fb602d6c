// main.mjs: runs the browser tests and prints TAP (test/run counts each
// "ok" / "not ok" line as one test).  Arguments: substrings of test names
// to run only those.  Started by test/browser/run, which prepares the
// stack and the environment.
//
// Each test file exports `tests`: a list of { name, timeoutMs, fn }, fn
// being async (t) => {...} with t a lib.mjs T.  A test passes when fn
// returns within timeoutMs and no guard recorded a problem.

import { launch, T, TestFailure } from './lib.mjs';

// In this order: the failsafe test pauses every outbound message while it
// runs, so it comes after the tests that need a call or a text to go through.
const FILES = ['./t_login.mjs', './t_reminder.mjs', './t_sms.mjs', './t_greeting.mjs',
	'./t_import.mjs', './t_xss.mjs', './t_pages.mjs', './t_trial.mjs', './t_notify.mjs',
	'./t_calendar.mjs', './t_switch.mjs', './t_inbox.mjs',
	'./t_failsafe.mjs'];

const only = process.argv.slice(2);
const all = [];
for (const f of FILES) {
	const mod = await import(f);
	for (const test of mod.tests)
		all.push(test);
}
const chosen = only.length ? all.filter((x) => only.some((o) => x.name.includes(o))) : all;

console.log(`1..${chosen.length}`);
let browser;
try {
	browser = await launch();
} catch (e) {
	chosen.forEach((x, i) => {
		console.log(`not ok ${i + 1} - ${x.name}`);
		if (i === 0)
			console.log(`# Chromium did not start: ${e.message.split('\n')[0]}`);
	});
	process.exit(1);
}
console.log(`# Chromium ${browser.version()}`);

let failed = 0;
for (const [i, test] of chosen.entries()) {
	const t = new T(browser, i + 1, test.name);
	const started = Date.now();
	let timer;
	let thrown = null;
	try {
		await Promise.race([
			test.fn(t),
			new Promise((_, reject) => {
				timer = setTimeout(() => reject(new TestFailure(
					`did not finish within ${test.timeoutMs / 1000} s`)), test.timeoutMs);
			}),
		]);
	} catch (e) {
		thrown = e;
	} finally {
		clearTimeout(timer);
	}
	await t.close();
	const problems = [...t.problems];
	if (thrown) {
		const msg = thrown instanceof TestFailure ? thrown.message
			: (thrown.stack || String(thrown)).split('\n').slice(0, 6).join('\n');
		problems.unshift(msg);
	}
	const secs = ((Date.now() - started) / 1000).toFixed(1);
	if (problems.length === 0) {
		console.log(`ok ${i + 1} - ${test.name} (${secs} s)`);
	} else {
		failed++;
		console.log(`not ok ${i + 1} - ${test.name} (${secs} s)`);
		for (const p of problems)
			for (const l of String(p).split('\n'))
				console.log(`#   ${l}`);
	}
	console.log(`#   screenshots: ${t.dir}`);
}
await browser.close();
process.exit(failed ? 1 : 0);
