// app.mjs: steps through ringfence's dashboard that several browser tests
// share (log in, create a client or an appointment, read the notice), and
// the stack's side doors the tests need (bin/ringfence, psql, the
// simulator's callee API).  Locators go by what a person sees: labels,
// button names, link text.

import { createHmac, randomBytes } from 'node:crypto';
import { env, check, run, tag, TestFailure } from './lib.mjs';

// Logs in on a new tab (its own context; opts: T.tab's) and lands on /today.
export async function login(t, email, password, who = email, opts = {}) {
	const tab = await t.tab(who, opts);
	const page = tab.page;
	await tab.go('/login', { label: 'login' });
	await page.getByLabel(/e-?mail/i).fill(email);
	await page.getByLabel(/^password/i).fill(password);
	await tab.click(page.locator('form').filter({ has: page.getByLabel(/^password/i) })
		.locator('button[type=submit], input[type=submit]').first(), { label: 'after-login' });
	check(new URL(page.url()).pathname === '/today',
		`${who}: logging in led to ${tab.where()}, not /today`);
	return tab;
}

// The demo owner's login, as `make run` prints it.
export async function loginDemo(t) {
	check(env.demoUser && env.demoPassword, 'no demo login (RINGFENCE_DEMO_USER/PASSWORD)');
	return login(t, env.demoUser, env.demoPassword, 'demo owner');
}

// The notice line's text after a redirect with ?notice=.
export function noticeCode(tab) {
	return new URL(tab.page.url()).searchParams.get('notice');
}

// The id at the end of /<what>/<id> in the tab's URL, or null.
export function idInUrl(tab, what) {
	const m = new RegExp(`^/${what}/(\\d+)(?:$|[/?])`).exec(new URL(tab.page.url()).pathname);
	return m ? m[1] : null;
}

// Chooses the <option> of select whose text contains text.
export async function selectByText(select, text) {
	const value = await select.evaluate((el, want) => {
		for (const o of el.options)
			if (o.textContent.includes(want))
				return o.value;
		return null;
	}, text);
	check(value !== null, `no option containing ${JSON.stringify(text)} in the select`);
	await select.selectOption(value);
}

// One SQL query's rows as arrays of strings (psql -At against the stack's
// database: PGHOST etc. come from ringfence.env).  For reading what the
// pages do not show (a business's calling window, an id), never for
// changing what a test then checks through the pages.
export async function sql(query) {
	const r = await run(['-X', '-q', '-At', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', query],
		{ program: 'psql' });
	if (r.code !== 0)
		throw new TestFailure(`psql failed: ${r.stderr.trim()}`);
	return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

// How the simulator's callee at number behaves from now on
// (include/sim/sim_callee.h's grammar).
export async function simCallee(number, behaviour) {
	const auth = Buffer.from(`${env.twilioSid}:${env.twilioToken}`).toString('base64');
	const res = await fetch(`${env.twilioApi}/sim/callees`, {
		method: 'POST',
		headers: { authorization: `Basic ${auth}`, 'content-type': 'application/x-www-form-urlencoded' },
		body: new URLSearchParams({ Number: number, Behaviour: behaviour }).toString(),
	});
	if (!res.ok)
		throw new TestFailure(`the simulator refused the callee ${number}: ${res.status} ${await res.text()}`);
}

// Zones a client may have, west to east; clientZone picks one of them.
const ZONES = ['Pacific/Pago_Pago', 'Pacific/Honolulu', 'America/Anchorage', 'America/Los_Angeles',
	'America/Denver', 'America/Chicago', 'America/New_York', 'America/Halifax',
	'America/Sao_Paulo', 'Atlantic/South_Georgia', 'Atlantic/Azores', 'Europe/London',
	'Europe/Berlin', 'Europe/Athens', 'Europe/Moscow', 'Asia/Dubai', 'Asia/Karachi',
	'Asia/Dhaka', 'Asia/Bangkok', 'Asia/Shanghai', 'Asia/Tokyo', 'Australia/Brisbane',
	'Pacific/Noumea', 'Pacific/Auckland', 'Pacific/Tongatapu', 'Pacific/Kiritimati'];

function localMinutes(zone, when) {
	const parts = new Intl.DateTimeFormat('en-GB', {
		timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
	}).formatToParts(when);
	const get = (k) => Number(parts.find((p) => p.type === k).value);
	return get('hour') * 60 + get('minute');
}

// A time zone in which it is now well inside the business's calling
// window (at least 45 minutes from either edge), so that a test reminder
// to a client living there may go out now, whatever the hour of the run.
export async function clientZone(businessId) {
	const rows = await sql(`SELECT to_char(window_start, 'HH24:MI'), to_char(window_end, 'HH24:MI') ` +
		`FROM businesses WHERE id = ${Number(businessId)}`);
	check(rows.length === 1, `no business ${businessId}`);
	const mins = (s) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
	const [start, end] = [mins(rows[0][0]), mins(rows[0][1])];
	const now = new Date();
	let best = null;
	for (const z of ZONES) {
		const m = localMinutes(z, now);
		const margin = Math.min(m - start, end - m);
		if (margin >= 45 && (!best || margin > best.margin))
			best = { zone: z, margin };
	}
	check(best, `no time zone has ${rows[0][0]}-${rows[0][1]} open now`);
	return best.zone;
}

// "YYYY-MM-DDTHH:MM" (a datetime-local value) days from today at hh:mm.
export function localDateTime(days, hh, mm = 0) {
	const d = new Date(Date.now() + days * 86400000);
	const p = (n) => String(n).padStart(2, '0');
	return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(hh)}:${p(mm)}`;
}

// Creates a client through /clients/new; returns its id.
export async function createClient(tab, { name, phone, email = '', zone = null }) {
	const page = tab.page;
	await tab.go('/clients/new', { label: 'clients-new' });
	await page.getByLabel(/^name/i).fill(name);
	await page.getByLabel(/phone/i).fill(phone);
	if (email)
		await page.getByLabel(/^e-?mail/i).fill(email);
	if (zone)
		await page.getByLabel(/time ?zone/i).selectOption(zone);
	await tab.click(page.locator('main form button[type=submit]').last(), { label: 'client-created' });
	let id = idInUrl(tab, 'clients');
	if (!id) {
		// Back on the list: the new client's link.
		const href = await page.getByRole('link', { name, exact: true }).first().getAttribute('href');
		id = (/\/clients\/(\d+)/.exec(href || '') || [])[1];
	}
	check(id, `creating the client ${name} led to ${tab.where()} without the client's id`);
	return id;
}

// Creates an appointment for the client through /appointments/new (the
// client chosen by name); returns its id.
export async function createAppointment(tab, { clientName, when, notes = '' }) {
	const page = tab.page;
	await tab.go('/appointments/new', { label: 'appointments-new' });
	const client = page.getByLabel(/^client/i);
	if (await client.evaluate((el) => el.tagName === 'SELECT'))
		await selectByText(client, clientName);
	else
		await client.fill(clientName);
	await page.locator('input[type="datetime-local"]').first().fill(when);
	if (notes)
		await page.getByLabel(/^notes/i).fill(notes);
	await tab.click(page.locator('main form button[type=submit]').last(), { label: 'appointment-created' });
	let id = idInUrl(tab, 'appointments');
	if (!id) {
		const link = page.locator('a[href^="/appointments/"]').filter({ hasText: clientName }).first();
		const href = await link.getAttribute('href');
		id = (/\/appointments\/(\d+)/.exec(href || '') || [])[1];
	}
	check(id, `creating the appointment for ${clientName} led to ${tab.where()} without its id`);
	return id;
}

// A CSV of clients in the columns of the page's own template: the rows'
// values by column name (name, phone, email, time zone), empty otherwise.
export function csvOf(header, rows) {
	const cols = header.split(',').map((c) => c.trim().toLowerCase().replace(/^"|"$/g, ''));
	const cell = (row, c) => {
		if (/name/.test(c)) return row.name;
		if (/phone/.test(c)) return row.phone;
		if (/e-?mail/.test(c)) return row.email;
		if (/zone/.test(c)) return 'America/New_York';
		return '';
	};
	const quote = (v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
	return [header, ...rows.map((r) => cols.map((c) => quote(cell(r, c))).join(','))].join('\r\n') + '\r\n';
}

// Uploads csv as a clients import from /import; returns the answer page's text.
export async function upload(tab, csv, filename, { status = 200, label } = {}) {
	const page = tab.page;
	await tab.go('/import', { label: label ? `${label}-form` : false });
	const form = page.locator('form').filter({ has: page.locator('input[type=file]') }).first();
	const kind = form.locator('select[name=type], select[name=kind]');
	if (await kind.count())
		await kind.first().selectOption('clients');
	else if (await form.locator('input[type=radio][value=clients]').count())
		await form.locator('input[type=radio][value=clients]').check();
	await form.locator('input[type=file]').setInputFiles({
		name: filename, mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8'),
	});
	await tab.click(form.locator('button[type=submit], input[type=submit]').first(), { status, label });
	return tab.text();
}

// The header line of the page's own template for a clients import.
export async function clientsHeader(tab) {
	const tpl = await tab.page.request.get('/import/template/clients.csv');
	check(tpl.status() === 200, `GET /import/template/clients.csv answered ${tpl.status()}`);
	const header = (await tpl.text()).replace(/^\uFEFF/, '').split(/\r?\n/)[0];
	check(/name/i.test(header) && /phone/i.test(header), `the template's header is ${JSON.stringify(header)}`);
	return header;
}

// A new operator login (bin/ringfence user add --role operator), in the
// demo business; returns { email, password }.
export async function createOperator() {
	const email = `operator-${tag()}@example.com`;
	const password = `op-${tag()}-${tag()}-pw`;
	const r = await run(['user', 'add', '--business', String(env.demoBusinessId), '--email', email,
		'--role', 'operator', '--password-stdin'], { input: `${password}\n` });
	check(r.code === 0, `ringfence user add --role operator failed (${r.code}): ${(r.stderr || r.stdout).trim()}`);
	return { email, password };
}

// A new business named "<label> <tag>" (America/New_York, with status and
// verified as given: no page creates one; window: its calling window
// ['HH:MM', 'HH:MM'], the default one when null) and its owner's login;
// { id, name, email, password }.
export async function createBusiness(label, status, verified, window = null) {
	const name = `${label} ${tag()}`;
	const rows = await sql(`INSERT INTO businesses (name, time_zone, callback_phone, status, verified` +
		`${window ? ', window_start, window_end' : ''}) VALUES ('${name}', 'America/New_York', ` +
		`'+15555550123', '${status}', ${verified}` +
		`${window ? `, '${window[0]}', '${window[1]}'` : ''}) RETURNING id`);
	check(rows.length === 1, 'the new business was not created');
	const id = rows[0][0];
	return { id, name, ...await addUser(id, 'owner') };
}

// test/browser/run allows +15555550190..199 for the tests' own clients.
// Of the ten, the number contacted least in the last day (a number is
// contacted at most 6 times a day by all businesses: runs on one stack
// take turns), the lowest first.
export async function testNumber() {
	const all = Array.from({ length: 10 }, (_, i) => `+1555555019${i}`);
	const rows = await sql(`SELECT to_norm, count(*) FROM contact_attempts ` +
		`WHERE claimed_at > now() - interval '1 day' AND to_norm IN (${all.map((n) => `'${n}'`).join(',')}) ` +
		'GROUP BY to_norm');
	const used = new Map(rows.map(([n, c]) => [n, Number(c)]));
	return all.reduce((best, n) => ((used.get(n) || 0) < (used.get(best) || 0) ? n : best), all[0]);
}

// "Send me a test reminder" on the appointment's page by channel (voice,
// sms or email); the page must say it was queued.
export async function sendTestReminder(tab, id, channel) {
	const page = tab.page;
	const form = page.locator(`form[action$="/appointments/${id}/test-reminder"]`);
	check(await form.count() === 1, 'the appointment page has no "Send me a test reminder" form');
	const select = form.locator('select[name=channel]');
	if (await select.count())
		await select.selectOption(channel);
	else if (await form.locator(`input[name=channel][value=${channel}]`).count())
		await form.locator(`input[name=channel][value=${channel}]`).check();
	await tab.click(form.locator('button[type=submit], input[type=submit]').first(),
		{ label: `test-reminder-${channel}-queued` });
	check(noticeCode(tab) === 'queued', `sending a test reminder led to ${tab.where()}, not ?notice=queued`);
	check(/queued/i.test(await tab.text()), 'the page after sending a test reminder does not say "queued"');
}

// A new login with role (owner, staff) in business id; { email, password }.
export async function addUser(id, role) {
	const email = `${role}-${tag()}@example.com`;
	const password = `${role.slice(0, 2)}-${tag()}-${tag()}-pw`;
	const r = await run(['user', 'add', '--business', String(id), '--email', email, '--role', role,
		'--password-stdin'], { input: `${password}\n` });
	check(r.code === 0, `ringfence user add --role ${role} failed (${r.code}): ${(r.stderr || r.stdout).trim()}`);
	return { email, password };
}

// The texts the simulator holds to number (its Messages log), newest
// first: [{ body, from, to, status, ... }].
export async function simTexts(number) {
	const auth = Buffer.from(`${env.twilioSid}:${env.twilioToken}`).toString('base64');
	const res = await fetch(`${env.twilioApi}/2010-04-01/Accounts/${env.twilioSid}/Messages.json?` +
		new URLSearchParams({ To: number, PageSize: '100' }).toString(),
	{ headers: { authorization: `Basic ${auth}` } });
	if (!res.ok)
		throw new TestFailure(`the simulator's Messages log for ${number}: ${res.status} ${await res.text()}`);
	return (await res.json()).messages;
}

// A client's text from number to to, as Twilio posts it to
// /twilio/sms/inbound: signed with the account's auth token
// (X-Twilio-Signature: HMAC-SHA1 of the URL and the sorted parameters).
// Returns the HTTP status.
export async function textFromClient(from, to, body) {
	const sid = `SM${randomBytes(16).toString('hex')}`;
	const params = { MessageSid: sid, SmsSid: sid, SmsMessageSid: sid, AccountSid: env.twilioSid,
		From: from, To: to, Body: body, NumMedia: '0', NumSegments: '1', SmsStatus: 'received',
		ApiVersion: '2010-04-01' };
	const url = new URL('/twilio/sms/inbound', env.base).href;
	const signed = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
	const res = await fetch(url, {
		method: 'POST',
		headers: { 'content-type': 'application/x-www-form-urlencoded',
			'x-twilio-signature': createHmac('sha1', env.twilioToken).update(signed).digest('base64') },
		body: new URLSearchParams(params).toString(),
	});
	await res.text();
	return res.status;
}
