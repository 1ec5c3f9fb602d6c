// lib.mjs: the browser tests' harness.
//
// One Chromium (Debian's /usr/bin/chromium, never a downloaded build) for
// the whole run, one browser context per test (so no cookie or storage
// crosses tests).  Every page a test opens is guarded; the test fails,
// listing every problem, when:
//   - the page logs a console error (a failed request, a CSP refusal) or
//     throws (pageerror), or crashes;
//   - a dialog opens that the test did not announce (an alert from injected
//     markup is exactly what the XSS tests look for; the confirm dialogs of
//     data-confirm buttons are announced with Tab.click(..., { confirm }));
//   - a page, looked at 390 px wide (or at 375 px with Tab.narrow), scrolls
//     sideways (document.documentElement.scrollWidth > clientWidth);
//   - a navigation answers another status than the test expected.
// Every page visited through Tab.go / Tab.click / Tab.look is screenshotted
// (full page) at 390x844 and at 1440x900 into the test's artifact folder.
//
// Waits are for conditions (locators, waitFor), never fixed sleeps.

import { chromium } from 'playwright-core';
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1440, height: 900 };
export const NARROW = { width: 375, height: 812 };

// The stack under test, from the environment test/browser/run sets.
export const env = {
	base: need('RINGFENCE_PUBLIC_URL'),
	root: need('RINGFENCE_ROOT'),
	bin: process.env.RF_BROWSER_BIN || path.join(need('RINGFENCE_ROOT'), 'bin/ringfence'),
	artifacts: need('RF_BROWSER_ARTIFACTS'),
	demoUser: process.env.RINGFENCE_DEMO_USER || '',
	demoPassword: process.env.RINGFENCE_DEMO_PASSWORD || '',
	demoBusinessId: process.env.RINGFENCE_DEMO_BUSINESS_ID || '',
	twilioApi: process.env.TWILIO_API_URL || '',
	twilioSid: process.env.TWILIO_ACCOUNT_SID || '',
	twilioToken: process.env.TWILIO_AUTH_TOKEN || '',
};

function need(name) {
	const v = process.env[name];
	if (!v)
		throw new Error(`${name} is not set (run the browser tests through test/browser/run)`);
	return v;
}

export class TestFailure extends Error {}

// Throws a TestFailure with msg unless cond holds.
export function check(cond, msg) {
	if (!cond)
		throw new TestFailure(msg);
}

// Polls fn (async, returns a truthy value when done) until it answers or
// timeoutMs passes; intervalMs only spaces the polls (a condition that is
// true is seen at once).  Returns fn's value; throws naming what.
export async function waitFor(what, fn, { timeoutMs = 30000, intervalMs = 500 } = {}) {
	const end = Date.now() + timeoutMs;
	let last = null;
	for (;;) {
		try {
			const v = await fn();
			if (v)
				return v;
		} catch (e) {
			if (e instanceof TestFailure)
				throw e;
			last = e;
		}
		if (Date.now() > end)
			throw new TestFailure(`timed out after ${timeoutMs / 1000} s waiting for ${what}` +
				(last ? ` (last error: ${last.message.split('\n')[0]})` : ''));
		await new Promise((r) => setTimeout(r, intervalMs));
	}
}

// Runs bin/ringfence (or another program) with args; resolves to
// { code, stdout, stderr } whatever the exit status.
export function run(args, { input = null, program = env.bin } = {}) {
	return new Promise((resolve) => {
		const child = execFile(program, args, { timeout: 60000, env: process.env },
			(err, stdout, stderr) => {
				const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
				resolve({ code, stdout: String(stdout), stderr: String(stderr) });
			});
		if (input !== null)
			child.stdin.end(input);
		else
			child.stdin.end();
	});
}

// A short random tag, so that every run's names are new.
export function tag() {
	return Math.random().toString(36).slice(2, 8);
}

// The browser, launched once per run.
export async function launch() {
	return chromium.launch({
		executablePath: '/usr/bin/chromium',
		args: ['--headless', '--no-sandbox', '--disable-gpu'],
	});
}

// One test: its context(s), problems and artifacts.
export class T {
	constructor(browser, index, name) {
		this.browser = browser;
		this.name = name;
		this.problems = [];
		this.contexts = [];
		this.shots = 0;
		this.dir = path.join(env.artifacts,
			`${String(index).padStart(2, '0')}-${name.split(':')[0].replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}`);
		mkdirSync(this.dir, { recursive: true });
	}

	problem(msg) {
		this.problems.push(msg);
	}

	// A new browser context (its own cookies) with one guarded tab;
	// javaScript: false for a browser that runs no script at all.
	async tab(who = 'user', { javaScript = true } = {}) {
		const ctx = await this.browser.newContext({ viewport: DESKTOP, baseURL: env.base,
			javaScriptEnabled: javaScript });
		ctx.setDefaultTimeout(15000);
		ctx.setDefaultNavigationTimeout(30000);
		this.contexts.push(ctx);
		const page = await ctx.newPage();
		return new Tab(this, page, who);
	}

	async close() {
		for (const ctx of this.contexts)
			await ctx.close().catch(() => {});
		this.contexts = [];
	}
}

// A guarded page.
export class Tab {
	constructor(t, page, who) {
		this.t = t;
		this.page = page;
		this.who = who;
		this.dialog = null;        // the announced dialog: { type, re, seen }
		this.expected = new Map(); // URL -> the non-2xx statuses a navigation may answer
		page.on('console', (msg) => {
			if (msg.type() !== 'error')
				return;
			const where = msg.location() && msg.location().url;
			const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(msg.text());
			if (m && where && (this.expected.get(where) || []).includes(Number(m[1])))
				return; // the page itself, answered with the status the test expects
			t.problem(`${who}: console error on ${this.where()}: ${msg.text()}` +
				(where && where !== page.url() ? ` (${where})` : ''));
		});
		page.on('pageerror', (err) => t.problem(`${who}: script error on ${this.where()}: ${err.message}`));
		page.on('crash', () => t.problem(`${who}: the page crashed on ${this.where()}`));
		page.on('dialog', async (d) => {
			const a = this.dialog;
			if (a && !a.seen && d.type() === a.type && a.re.test(d.message())) {
				a.seen = true;
				await d.accept().catch(() => {});
				return;
			}
			t.problem(`${who}: ${d.type() === 'alert' ? 'an' : 'a'} ${d.type()} dialog opened on ${this.where()}: ${JSON.stringify(d.message())}`);
			await d.dismiss().catch(() => {});
		});
	}

	where() {
		try {
			return new URL(this.page.url()).pathname + new URL(this.page.url()).search;
		} catch {
			return this.page.url();
		}
	}

	// A navigation to url may answer status (a number or a list) without
	// its console message counting as an error.
	expect(url, status) {
		const want = (Array.isArray(status) ? status : [status]).filter((s) => s >= 400);
		if (want.length)
			this.expected.set(url, want);
	}

	// The navigation's answer must be status (a number or a list).
	statusOk(resp, status, what) {
		const want = Array.isArray(status) ? status : [status];
		const got = resp ? resp.status() : 0;
		if (!want.includes(got)) {
			throw new TestFailure(`${this.who}: ${what} answered ${got || 'nothing'}, expected ` +
				`${want.join(' or ')} (now on ${this.where()})`);
		}
	}

	// GET path; checks the status and looks at the page (label names its
	// screenshots; false: no look, for polling).
	async go(p, { status = 200, label = undefined } = {}) {
		const url = new URL(p, env.base).href;
		this.expect(url, status);
		const resp = await this.page.goto(url);
		this.statusOk(resp, status, `GET ${p}`);
		if (label !== false)
			await this.look(label);
		return resp;
	}

	// Reloads the page (for polling a page that has no live refresh).
	async reload({ label = false } = {}) {
		const resp = await this.page.reload();
		this.statusOk(resp, 200, `reloading ${this.where()}`);
		if (label !== false)
			await this.look(label);
		return resp;
	}

	// Clicks what submits a form or follows a link and waits for the new
	// page (after redirects).  confirm: a regular expression the confirm
	// dialog's message must match (the dialog is accepted); without it a
	// dialog is a failure; confirmOptional: the page may also submit
	// without one (JavaScript's confirm is an enhancement).  action: the URL answering the expected status
	// when it is not the form's action or the link's href (its console
	// message about that status is then not an error).
	async click(locator, { status = 200, label = undefined, confirm = null, confirmOptional = false, action = null } = {}) {
		if (!action && status !== 200)
			action = await locator.evaluate((el) => (el.form ? el.form.action : el.href) || null);
		if (action)
			this.expect(new URL(action, env.base).href, status);
		this.dialog = confirm ? { type: 'confirm', re: confirm, seen: false } : null;
		const [resp] = await Promise.all([
			this.page.waitForNavigation({ waitUntil: 'load' }),
			locator.click(),
		]);
		if (this.dialog && !this.dialog.seen && !confirmOptional)
			this.t.problem(`${this.who}: the confirm dialog (${confirm}) did not open on ${this.where()}`);
		this.dialog = null;
		this.statusOk(resp, status, `the form or link before ${this.where()}`);
		if (label !== false)
			await this.look(label);
		return resp;
	}

	// The page at phone width (no sideways scrolling) and the screenshots.
	async look(label) {
		const page = this.page;
		const name = this.shotName(label);
		const before = page.viewportSize();
		await this.fitsAt(PHONE, name, 'phone');
		await page.setViewportSize(DESKTOP);
		await page.screenshot({ path: path.join(this.t.dir, `${name}-desktop.png`), fullPage: true });
		if (before && (before.width !== DESKTOP.width || before.height !== DESKTOP.height))
			await page.setViewportSize(before);
	}

	// The page at a narrower phone (default 375x812): no sideways scrolling,
	// one screenshot; the viewport is then as it was.
	async narrow(label, size = NARROW) {
		const before = this.page.viewportSize();
		await this.fitsAt(size, this.shotName(label), String(size.width));
		if (before)
			await this.page.setViewportSize(before);
	}

	// "NN-label" for the next screenshot (label: the path by default).
	shotName(label) {
		const name = (label || this.where().replace(/\?.*/, '').replace(/^\/+/, '') || 'root')
			.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60) || 'page';
		return `${String(++this.t.shots).padStart(2, '0')}-${name}`;
	}

	// At viewport size: a problem when the page scrolls sideways (naming
	// what sticks out); the full-page screenshot name-suffix.png.
	async fitsAt(size, name, suffix) {
		const page = this.page;
		await page.setViewportSize(size);
		const wide = await page.evaluate(() => {
			const de = document.documentElement;
			if (de.scrollWidth <= de.clientWidth)
				return null;
			// Name the elements that stick out, innermost first.
			const out = [];
			for (const el of document.body ? document.body.querySelectorAll('*') : []) {
				const r = el.getBoundingClientRect();
				if (r.right > de.clientWidth + 0.5 && r.width > 0) {
					let d = el.tagName.toLowerCase();
					if (el.id)
						d += '#' + el.id;
					if (el.classList.length)
						d += '.' + [...el.classList].join('.');
					out.push(`${d} (right edge ${Math.round(r.right)} px)`);
				}
			}
			return { scroll: de.scrollWidth, client: de.clientWidth, culprits: out.slice(-3) };
		});
		if (wide) {
			this.t.problem(`${this.who}: ${this.where()} scrolls sideways at ${size.width} px ` +
				`(scrollWidth ${wide.scroll} > clientWidth ${wide.client}; ${wide.culprits.join(', ')})`);
		}
		await page.screenshot({ path: path.join(this.t.dir, `${name}-${suffix}.png`), fullPage: true });
	}

	// The visible text of the page's main content (or body).
	async text() {
		return this.page.locator('body').innerText();
	}
}
