// addbulk.js: BullMQ's deduplicated enqueue, timed, for test/bench/queue.
//
//   NODE_PATH=build/bench/bullmq/node_modules node addbulk.js IDS_FILE QUEUE CHUNK
//
// Reads reminder ids (one a line) and adds one job per id to the BullMQ
// queue QUEUE on RINGFENCE_REDIS_URL with Queue.addBulk, CHUNK jobs per
// call, each with jobId "r<id>" (BullMQ refuses an integer custom id): a
// second job with the same jobId is not added, BullMQ's deduplication.
// The connection is made first (waitUntilReady) and not timed.  Then it
// counts the queue's waiting jobs, prints
//
//   BENCH ids=N us=WALL cpu_us=CPU jobs=WAITING
//
// and removes the queue (obliterate, not timed).
'use strict';
const fs = require('fs');
const { Queue } = require('bullmq');
const IORedis = require('ioredis');

async function main() {
	const [file, name, chunkArg] = process.argv.slice(2);
	const chunk = Number(chunkArg);
	const url = process.env.RINGFENCE_REDIS_URL;
	if (!file || !name || !Number.isInteger(chunk) || chunk < 1 || !url)
		throw new Error('usage: RINGFENCE_REDIS_URL=... addbulk.js IDS_FILE QUEUE CHUNK');
	const ids = fs.readFileSync(file, 'utf8').split('\n').filter(l => l !== '').map(l => {
		if (!/^[1-9][0-9]*$/.test(l))
			throw new Error(`${file}: '${l}' is not an id`);
		return l;
	});
	const connection = new IORedis(url, { maxRetriesPerRequest: null });
	const queue = new Queue(name, { connection });
	await queue.waitUntilReady();
	const c0 = process.cpuUsage();
	const t0 = process.hrtime.bigint();
	for (let i = 0; i < ids.length; i += chunk) {
		await queue.addBulk(ids.slice(i, i + chunk).map(id => ({
			name: 'reminder', data: { id: Number(id) }, opts: { jobId: 'r' + id },
		})));
	}
	const t1 = process.hrtime.bigint();
	const c = process.cpuUsage(c0);
	const jobs = await queue.getWaitingCount();
	console.log(`BENCH ids=${ids.length} us=${(t1 - t0) / 1000n} cpu_us=${c.user + c.system} jobs=${jobs}`);
	await queue.obliterate({ force: true });
	await queue.close();
	await connection.quit();
}

main().catch(err => {
	console.error(`addbulk.js: ${err.message}`);
	process.exit(1);
});
