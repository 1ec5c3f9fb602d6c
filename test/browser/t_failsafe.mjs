// t_failsafe.mjs: `ringfence failsafe trip` puts a banner on every page;
// an operator sees the reason and resumes from the page with a reason of
// their own, and the banner goes.

import { check, run, tag } from './lib.mjs';
import { loginDemo, login, createOperator } from './app.mjs';

const BANNER = /outbound messages are paused/i;

async function failsafeTripped() {
	const r = await run(['failsafe', 'status']);
	check(r.code === 0 || r.code === 3, `ringfence failsafe status failed (${r.code}): ${r.stderr.trim()}`);
	return r.code === 3;
}

export const tests = [
	{
		name: 'failsafe: tripped from the CLI, the banner shows on every page; an operator resumes it from the page',
		timeoutMs: 120000,
		async fn(t) {
			check(!(await failsafeTripped()), 'the failsafe was tripped before the test');
			const owner = await loginDemo(t);
			check(await owner.page.getByText(BANNER).count() === 0, 'a failsafe banner shows while it is armed');
			const op = await createOperator();
			const reason = `browser test ${tag()}: paused by hand`;
			const tripped = await run(['failsafe', 'trip', '--reason', reason, '--by', 'browser-tests']);
			check(tripped.code === 0, `ringfence failsafe trip failed (${tripped.code}): ${tripped.stderr.trim()}`);
			try {
				for (const p of ['/today', '/clients', '/settings']) {
					await owner.go(p, { label: `${p.slice(1)}-failsafe-tripped` });
					check(await owner.page.getByText(BANNER).count() > 0, `${p} shows no failsafe banner while it is tripped`);
				}

				const operator = await login(t, op.email, op.password, 'operator');
				check(await operator.page.getByText(BANNER).count() > 0, 'the operator sees no failsafe banner');
				check((await operator.text()).includes(reason), 'the operator\'s banner does not give the reason');
				await operator.go('/operator/failsafe', { label: 'operator-failsafe-tripped' });
				check((await operator.text()).includes(reason), 'the failsafe page does not give the reason');
				const form = operator.page.locator('form').filter({
					has: operator.page.getByRole('button', { name: /resume/i }),
				}).first();
				const why = `browser test: checked, resuming ${tag()}`;
				await form.getByLabel(/reason/i).fill(why);
				await operator.click(form.getByRole('button', { name: /resume/i }), {
					label: 'operator-failsafe-resumed', confirm: /resume|sure/i, confirmOptional: true,
				});
				check(!(await failsafeTripped()), 'resuming from the page left the failsafe tripped');
				check(await operator.page.getByText(BANNER).count() === 0, 'the banner stays after resuming');
				await operator.go('/operator/failsafe', { label: 'operator-failsafe-history' });
				check((await operator.text()).includes(why), 'the failsafe history does not show the resume reason');
				await owner.go('/today', { label: 'today-failsafe-resumed' });
				check(await owner.page.getByText(BANNER).count() === 0, 'the owner still sees the banner after the resume');
			} finally {
				// Whatever happened, the stack is left sending.
				if (await failsafeTripped())
					await run(['failsafe', 'resume', '--reason', 'browser test cleanup', '--by', 'browser-tests']);
			}
		},
	},
];
