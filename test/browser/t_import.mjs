// t_import.mjs: the CSV import of clients: a file with one bad row imports
// nothing and names the line and the field; the file corrected shows a
// preview, imports its rows, and importing it again creates nothing.

import { env, check, tag } from './lib.mjs';
import { loginDemo, sql, noticeCode, csvOf, upload, clientsHeader } from './app.mjs';

// The preview's "Import N rows" button (its form posts to /import/ID/commit).
function commitButton(page) {
	return page.locator('form[action*="/commit"]').locator('button[type=submit], input[type=submit]');
}

async function countNamed(prefix) {
	const rows = await sql(`SELECT count(*) FROM clients WHERE business_id = ${Number(env.demoBusinessId)} ` +
		`AND name LIKE '${prefix.replace(/'/g, "''")}%'`);
	return Number(rows[0][0]);
}

export const tests = [
	{
		name: 'import: a CSV with one bad row imports nothing and names the line; corrected it imports once',
		timeoutMs: 120000,
		async fn(t) {
			const tab = await loginDemo(t);
			const page = tab.page;
			const prefix = `Imported ${tag()}`;

			const header = await clientsHeader(tab);

			const rows = [
				{ name: `${prefix} Alice`, phone: '+1 555 010 0141', email: '' },
				{ name: `${prefix} Bob`, phone: '555-0123', email: '' }, // line 3: no country code
				{ name: `${prefix} Carol`, phone: '+15550100143', email: 'carol@example.com' },
			];
			let text = await upload(tab, csvOf(header, rows), 'clients-bad.csv', {
				status: [200, 422], label: 'import-bad-row',
			});
			check(/line 3\b/i.test(text), 'the refused import does not name line 3');
			check(/phone/i.test(text), 'the refused import does not name the phone field');
			check(await commitButton(page).count() === 0,
				'a file with a bad row still offers an Import button');
			check(await countNamed(prefix) === 0, 'a file with a bad row imported clients');
			await tab.go('/clients', { label: 'clients-after-refused-import' });
			check(!(await tab.text()).includes(prefix), 'the client list shows a client of the refused file');

			// Corrected: a preview, then the import.
			rows[1].phone = '+1 555 010 0142';
			const good = csvOf(header, rows);
			text = await upload(tab, good, 'clients.csv', { label: 'import-preview' });
			for (const r of rows)
				check(text.includes(r.name), `the preview does not list ${r.name}`);
			check(await countNamed(prefix) === 0, 'the preview imported clients before the Import button');
			check(await commitButton(page).count() === 1, 'the preview has no "Import N rows" form');
			await tab.click(commitButton(page).first(), { label: 'imported' });
			check(noticeCode(tab) === 'imported', `importing led to ${tab.where()}, not ?notice=imported`);
			check(await countNamed(prefix) === 3, `importing 3 rows made ${await countNamed(prefix)} clients`);
			await tab.go('/clients', { label: 'clients-after-import' });
			text = await tab.text();
			for (const r of rows)
				check(text.includes(r.name), `the client list does not show the imported ${r.name}`);

			// The same file again: already imported, nothing new.
			text = await upload(tab, good, 'clients.csv', { label: 'import-again' });
			check(/already/i.test(text), 'a file imported before is not shown as already imported');
			const again = commitButton(page);
			if (await again.count())
				await tab.click(again.first(), { label: 'imported-again' });
			check(await countNamed(prefix) === 3, 'importing the same file twice created more clients');
		},
	},
];
