// t_login.mjs: the demo login `make run` prints opens the dashboard; an
// unknown login does not; logging out ends the session.

import { check, tag } from './lib.mjs';
import { loginDemo } from './app.mjs';

export const tests = [
	{
		name: 'login: / asks for a login, an unknown login is refused, the demo login opens Today, logout ends it',
		timeoutMs: 90000,
		async fn(t) {
			const anon = await t.tab('visitor');
			const page = anon.page;
			await anon.go('/', { label: 'root-logged-out' });
			check(new URL(page.url()).pathname === '/login', `/ led a visitor to ${anon.where()}, not /login`);

			// A login that does not exist (the same answer as a wrong
			// password; a wrong password for the demo login would count
			// towards its throttle on every run): the login page again.
			await page.getByLabel(/e-?mail/i).fill(`nobody-${tag()}@example.com`);
			await page.getByLabel(/^password/i).fill('not the password at all');
			await anon.click(page.locator('form').filter({ has: page.getByLabel(/^password/i) })
				.locator('button[type=submit], input[type=submit]').first(),
			{ status: [200, 401, 403, 422, 429], label: 'login-refused' });
			check(new URL(page.url()).pathname === '/login',
				`an unknown login led to ${anon.where()}, not back to the login page`);
			await anon.go('/today', { label: false });
			check(new URL(page.url()).pathname === '/login',
				`after an unknown login /today showed ${anon.where()}, not the login page`);

			const tab = await loginDemo(t);
			const body = await tab.text();
			check(body.includes('Riverside Dental (demo)'),
				'Today does not name the demo business "Riverside Dental (demo)"');

			await tab.click(tab.page.getByRole('button', { name: /log ?out|sign ?out/i }), { label: 'logged-out' });
			await tab.go('/today', { label: false });
			check(new URL(tab.page.url()).pathname === '/login',
				`after logging out /today showed ${tab.where()}, not the login page`);
		},
	},
];
