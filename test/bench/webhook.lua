-- wrk script for `make bench`: replays pre-signed Twilio webhooks.
--
--   wrk -t T -c C -d D --latency -s bench/webhook.lua URL -- REQUESTS T [PATH]
--
-- REQUESTS is the file bench/gen_requests wrote: one request a line,
-- "URI<TAB>X-Twilio-Signature<TAB>form body".  Each thread of T takes the
-- calls whose token (c=) is its own modulo T, keeping the file's order, so
-- a call's requests all go through one thread in order and never wait for
-- each other's row lock; it cycles through its share for the whole run
-- (after its first pass every request is a replay of a webhook ringfence
-- has already answered).
-- PATH, when given, replaces the path of every URI (the query string and
-- body stay), so the baselines get exactly the same requests as
-- ringfence.
--
-- done() prints one line for bench/run to parse:
--   BENCH requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N
--         max_us=N mean_us=F non2xx=N errors=N

local counter = 0

function setup(thread)
	thread:set("thread_index", counter)
	counter = counter + 1
end

local reqs = {}
local pos = 0

local function split_tabs(line)
	local a, b = line:find("\t", 1, true)
	if not a then
		return nil
	end
	local c, d = line:find("\t", b + 1, true)
	if not c then
		return nil
	end
	return line:sub(1, a - 1), line:sub(b + 1, c - 1), line:sub(d + 1)
end

function init(args)
	local file = args[1]
	local nthreads = tonumber(args[2] or "1")
	local path = args[3]
	local index = thread_index or 0
	local f = assert(io.open(file, "r"), "cannot open " .. tostring(file))
	local n = 0

	for line in f:lines() do
		local uri, sig, body = split_tabs(line)
		assert(uri, "malformed request line " .. (n + 1) .. " in " .. file)
		local token = assert(uri:match("[?&]c=(%x+)"), "no call token in line " .. (n + 1))
		if tonumber(token:sub(-6), 16) % nthreads == index then
			if path then
				local q = uri:find("?", 1, true)
				uri = path .. (q and uri:sub(q) or "")
			end
			reqs[#reqs + 1] = wrk.format("POST", uri, {
				["Content-Type"] = "application/x-www-form-urlencoded",
				["X-Twilio-Signature"] = sig,
				["User-Agent"] = "TwilioProxy/1.1",
			}, body)
		end
		n = n + 1
	end
	f:close()
	assert(#reqs > 0, "no requests for thread " .. index .. " in " .. file)
end

function request()
	pos = pos + 1
	if pos > #reqs then
		pos = 1
	end
	return reqs[pos]
end

function done(summary, latency, requests)
	local e = summary.errors
	local secs = summary.duration / 1e6
	io.write(string.format(
		"BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d" ..
		" max_us=%d mean_us=%.1f non2xx=%d errors=%d\n",
		summary.requests, summary.duration, summary.requests / secs,
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency.max, latency.mean, e.status,
		e.connect + e.read + e.write + e.timeout))
end
