// t_trial.mjs: the operator's /operator/businesses page (issue 10's trial
// rules).  A new, unverified business's owner sees the "not verified"
// banner; an operator verifies it on the page with a reason and the
// owner's banner goes.  Held by its own failsafe, the business is listed
// first with the reason and a Resume form; the owner sees the hold; the
// operator resumes it with a reason and both the listing and the owner's
// banner go.  The page at 375 px and at desktop width.
//
// Two setup steps write to the database because nothing else can: the
// new business itself (there is no page or command that creates a
// business; the demo is the only other one), and its hold (a real one
// takes more than 50 contacts in a day, beyond the test numbers' daily
// limits), written as the claim writes it: the business_holds row and
// its 'hold' event.

import { check, run, tag } from './lib.mjs';
import { createBusiness, login, createOperator, noticeCode, sql } from './app.mjs';

const UNVERIFIED = /this business is not verified yet/i;
const HELD = /this business's messages are held by the failsafe/i;

// The row of the business list naming name.
function businessRow(tab, name) {
	return tab.page.locator('table tbody tr').filter({
		has: tab.page.locator('td[data-label="Business"]', { hasText: name }),
	});
}

export const tests = [
	{
		name: 'trial: an operator verifies a business with a reason (its banner goes); a held business is listed and resumed',
		timeoutMs: 120000,
		async fn(t) {
			const biz = await createBusiness('Trial Salon', 'trial', false);
			const owner = await login(t, biz.email, biz.password, 'new owner');
			check(UNVERIFIED.test(await owner.text()), 'the unverified business\'s owner sees no "not verified" banner');
			check((await owner.text()).includes('+15555550123'), 'the banner does not name the business\'s own number');

			const op = await createOperator();
			const operator = await login(t, op.email, op.password, 'operator');
			const page = operator.page;
			await operator.go('/operator/businesses', { label: 'businesses' });
			await operator.narrow('businesses');

			// Verify, with a reason.
			let row = businessRow(operator, biz.name);
			check(await row.count() === 1, `the businesses page lists ${biz.name} ${await row.count()} times`);
			check(/not verified/i.test(await row.innerText()), `${biz.name} is not shown as not verified`);
			const reason = `browser test ${tag()}: documents checked`;
			await row.getByLabel(/reason \(verify\)/i).fill(reason);
			await operator.click(row.getByRole('button', { name: /^verify$/i }), { label: 'business-verified' });
			check(noticeCode(operator) === 'business_verified',
				`verifying led to ${operator.where()}, not ?notice=business_verified`);
			row = businessRow(operator, biz.name);
			check(/verified/i.test(await row.innerText()) && !/not verified/i.test(await row.innerText()),
				`after verifying, ${biz.name}'s row says ${JSON.stringify(await row.innerText())}`);
			const status = await run(['business', 'status', biz.id]);
			check(status.code === 0 && status.stdout.includes(reason) && status.stdout.includes(op.email),
				`ringfence business status does not record the reason and the operator:\n${status.stdout}${status.stderr}`);

			await owner.go('/today', { label: 'owner-verified' });
			check(!UNVERIFIED.test(await owner.text()), 'the owner still sees the "not verified" banner after the verification');

			// Held: listed first, with the reason and Resume.
			const why = `new business: 51 contacts on a day (browser test ${tag()})`;
			await sql(`WITH h AS (INSERT INTO business_holds (business_id, reason, held_at) ` +
				`VALUES (${Number(biz.id)}, '${why}', now()) RETURNING business_id) ` +
				`INSERT INTO business_events (business_id, event, reason, actor, clock_at) ` +
				`SELECT business_id, 'hold', '${why}', 'failsafe', now() FROM h`);
			await owner.go('/today', { label: 'owner-held' });
			const ownerText = await owner.text();
			check(HELD.test(ownerText) && ownerText.includes(why), 'the held business\'s owner sees no hold banner with the reason');

			await operator.go('/operator/businesses', { label: 'businesses-held' });
			await operator.narrow('businesses-held');
			const held = page.locator('section').filter({ has: page.getByRole('heading', { name: /held by their own failsafe/i }) });
			check(await held.count() === 1, 'the businesses page has no "held" section while a business is held');
			const heldRow = held.locator('tr').filter({ hasText: biz.name });
			check(await heldRow.count() === 1 && (await heldRow.innerText()).includes(why),
				`the held section does not list ${biz.name} with its reason`);
			const resumeWhy = `browser test ${tag()}: the spike was a planned campaign`;
			await heldRow.getByLabel(new RegExp(`reason to resume ${biz.name}`, 'i')).fill(resumeWhy);
			await operator.click(heldRow.getByRole('button', { name: /^resume$/i }), {
				label: 'business-resumed', confirm: /resume this business/i, confirmOptional: true,
			});
			check(noticeCode(operator) === 'business_resumed',
				`resuming led to ${operator.where()}, not ?notice=business_resumed`);
			check(await page.locator('tr').filter({ hasText: why }).count() === 0,
				`${biz.name} is still listed as held after the resume`);
			const after = await run(['business', 'status', biz.id]);
			check(after.stdout.includes(resumeWhy), `ringfence business status does not record the resume:\n${after.stdout}`);

			await owner.go('/today', { label: 'owner-resumed' });
			check(!HELD.test(await owner.text()), 'the owner still sees the hold banner after the resume');
		},
	},
];
