// t_pages.mjs: every page of the dashboard, as the demo owner, as an
// operator and logged out: each answers, fits a 390 px phone without
// sideways scrolling, logs no console error, and is screenshotted at both
// sizes (lib.mjs does the checks and screenshots on every visit).

import { env, check } from './lib.mjs';
import { loginDemo, login, createOperator, sql } from './app.mjs';

// The pages, by who sees them; {client} and {appointment} are the demo's.
const OWNER_PAGES = [
	'/today',
	'/clients',
	'/clients/new',
	'/clients/{client}',
	'/clients/{client}/edit',
	'/clients/{client}/messages',
	'/inbox',
	'/notifications',
	'/appointments/new',
	'/appointments/{appointment}',
	'/appointments/{appointment}/edit',
	'/import',
	'/decisions',
	'/flows',
	'/settings',
	'/settings/greeting',
	'/settings/api-keys',
	'/settings/users',
	'/settings/sessions',
	'/settings/calendars',
	'/settings/notifications',
	'/calendar-events/no-contact',
	'/account/password',
];
const OPERATOR_PAGES = ['/operator/businesses', '/operator/failsafe', '/today'];
const PUBLIC_PAGES = ['/login'];

// One of the demo business's clients and its appointment (the demo seeds
// one appointment for each of its clients).
async function demoIds() {
	const rows = await sql(`SELECT a.client_id, a.id FROM appointments a ` +
		`WHERE a.business_id = ${Number(env.demoBusinessId)} ORDER BY a.id LIMIT 1`);
	check(rows.length === 1, `the demo business ${env.demoBusinessId} has no appointment`);
	return { client: rows[0][0], appointment: rows[0][1] };
}

function fill(p, ids) {
	return p.replace('{client}', ids.client).replace('{appointment}', ids.appointment);
}

export const tests = [
	{
		name: 'pages: every page of an owner, an operator and a visitor at 390x844 and 1440x900, the 404 page',
		timeoutMs: 180000,
		async fn(t) {
			const ids = await demoIds();
			const anon = await t.tab('visitor');
			for (const p of PUBLIC_PAGES)
				await anon.go(p);

			const owner = await loginDemo(t);
			for (const p of OWNER_PAGES)
				await owner.go(fill(p, ids));
			await owner.go('/no-such-page', { status: 404, label: 'not-found' });
			check(/not found|no such page|doesn.t exist|does not exist/i.test(await owner.text()),
				'the 404 page does not say that the page was not found');
			await owner.go('/appointments/999999999', { status: 404, label: 'appointment-not-found' });
			await owner.go('/operator/failsafe', { status: 404, label: 'operator-page-as-owner' });

			const op = await createOperator();
			const operator = await login(t, op.email, op.password, 'operator');
			for (const p of OPERATOR_PAGES)
				await operator.go(p);
		},
	},
];
