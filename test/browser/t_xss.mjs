// t_xss.mjs: clients named like markup are shown as text on every page
// where names appear (lists, details, forms, selects, the import preview,
// the timeline), and no dialog ever opens (lib.mjs fails the test on any
// dialog).  A name with SQL metacharacters and emoji comes back verbatim.

import { check, tag } from './lib.mjs';
import { loginDemo, createClient, createAppointment, localDateTime, csvOf, upload, clientsHeader } from './app.mjs';

const HOSTILE = [
	'<script>alert(1)</script>',
	'"><img src=x onerror=alert(1)>',
	'javascript:alert(1)',
	"O'Brien\"; DROP TABLE clients;-- \u{1F600} caf\u00e9",
];

// Nothing in the page came from a name as markup: no image with src=x, no
// javascript: link, no script of our own; every name is shown (as text, or
// as a form field's value where the page is a form).
async function clean(tab, names, { where, shown = true }) {
	const found = await tab.page.evaluate((want) => {
		const bad = [];
		if (document.querySelector('img[src="x"]'))
			bad.push('an <img src=x> element');
		for (const a of document.querySelectorAll('a[href], form[action]')) {
			const u = (a.getAttribute('href') || a.getAttribute('action') || '').trim().toLowerCase();
			if (u.startsWith('javascript:'))
				bad.push(`a javascript: URL (${a.outerHTML.slice(0, 80)})`);
		}
		for (const s of document.querySelectorAll('script'))
			if (!s.src || /alert/.test(s.textContent))
				bad.push(`an inline <script> (${s.outerHTML.slice(0, 80)})`);
		for (const el of document.querySelectorAll('*'))
			for (const at of el.getAttributeNames())
				if (/^on/i.test(at))
					bad.push(`an event handler attribute ${at} on <${el.tagName.toLowerCase()}>`);
		const text = document.body.innerText;
		const values = [...document.querySelectorAll('input, textarea, option')]
			.map((e) => (e.tagName === 'OPTION' ? e.textContent : e.value));
		const missing = want.filter((n) => !text.includes(n) && !values.some((v) => v.includes(n)));
		return { bad, missing };
	}, names);
	check(found.bad.length === 0, `${where}: ${found.bad.join('; ')}`);
	if (shown)
		check(found.missing.length === 0, `${where} does not show, as text, ${found.missing.map((n) => JSON.stringify(n)).join(', ')}`);
}

export const tests = [
	{
		name: 'xss: clients named <script>, "><img onerror> and javascript: are shown as text everywhere, no dialog',
		timeoutMs: 180000,
		async fn(t) {
			const tab = await loginDemo(t);
			const page = tab.page;
			const tg = tag();
			const names = HOSTILE.map((n) => `${n} ${tg}`);
			const clients = [];
			const appts = [];
			for (const [i, name] of names.entries()) {
				// 555-018X: fictional numbers nobody answers; the
				// appointments are far enough ahead that nothing is due.
				const id = await createClient(tab, { name, phone: `+1555555018${i + 1}` });
				clients.push(id);
				appts.push(await createAppointment(tab, { clientName: name, when: localDateTime(6, 9 + i, 0) }));
			}

			const lists = ['/clients', '/today', `/today?from=${localDateTime(0, 0).slice(0, 10)}&to=${localDateTime(8, 0).slice(0, 10)}`];
			for (const p of lists) {
				await tab.go(p);
				await clean(tab, names, { where: p });
			}
			await tab.go('/appointments/new');
			await clean(tab, names, { where: '/appointments/new (the client select)' });
			for (const [i, name] of names.entries()) {
				for (const p of [`/clients/${clients[i]}`, `/clients/${clients[i]}/edit`,
					`/appointments/${appts[i]}`, `/appointments/${appts[i]}/edit`]) {
					await tab.go(p);
					await clean(tab, [name], { where: p });
				}
				// The searches find it by its own words: the client list's,
				// and Today's client filter, typed into its form.
				const q = `/clients?q=${encodeURIComponent(name)}`;
				await tab.go(q, { label: `clients-search-${i + 1}` });
				await clean(tab, [name], { where: q });
				await tab.go('/today', { label: false });
				const filter = page.locator('form[action="/today"]');
				await filter.getByLabel(/^client/i).fill(name);
				await filter.getByLabel(/^to/i).fill(localDateTime(8, 0).slice(0, 10));
				await tab.click(filter.locator('button[type=submit], input[type=submit]').first(),
					{ label: `today-filtered-${i + 1}` });
				await clean(tab, [name], { where: `${tab.where()} (Today filtered by the client)` });
			}
			const edit = page.getByLabel(/^name/i);
			await tab.go(`/clients/${clients[3]}/edit`, { label: false });
			check(await edit.inputValue() === names[3],
				`the name with quotes and emoji came back as ${JSON.stringify(await edit.inputValue())}`);

			// The import preview shows the names of a file as text (nothing imported).
			const header = await clientsHeader(tab);
			const rows = names.map((n, i) => ({ name: `${n} csv`, phone: `+1555555017${i + 1}`, email: '' }));
			await upload(tab, csvOf(header, rows), 'hostile.csv', { label: 'import-preview-hostile' });
			await clean(tab, rows.map((r) => r.name), { where: 'the import preview' });

			// Every other page an owner has, with these names in the business.
			for (const p of ['/decisions', '/settings', '/settings/users', '/flows']) {
				await tab.go(p);
				await clean(tab, names, { where: p, shown: false });
			}
		},
	},
];
