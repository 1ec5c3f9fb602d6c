-- wrk script for test/bench/dashboard: GETs one dashboard page with the
-- owner's session cookie and checks every answer.
--
--   wrk -t T -c C -d D --latency -s dashboard.lua URL -- PATH COOKIE ROWS
--
-- An answer counts as bad unless it is 200, carries the list
-- (id="today-list") and has exactly ROWS appointment rows: a login page
-- or an error page answered 200 cannot pass for the list.
--
-- done() prints one line for the part to parse:
--   BENCH requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N
--         max_us=N mean_us=F non2xx=N errors=N bad=N bytes=N

local threads = {}

function setup(thread)
	threads[#threads + 1] = thread
end

local req
local rows = 0
bad = 0
bytes = 0

function init(args)
	rows = tonumber(args[3])
	req = wrk.format("GET", args[1], { ["Cookie"] = args[2] })
end

function request()
	return req
end

function response(status, headers, body)
	local _, n = body:gsub('<li><div class="row">', "")
	if status ~= 200 or not body:find('id="today-list"', 1, true) or n ~= rows then
		bad = bad + 1
	end
	bytes = #body
end

function done(summary, latency, requests)
	local e = summary.errors
	local f = {
		{ "requests", summary.requests }, { "duration_us", summary.duration },
		{ "rps", string.format("%.1f", summary.requests / (summary.duration / 1e6)) },
		{ "p50_us", latency:percentile(50) }, { "p90_us", latency:percentile(90) },
		{ "p99_us", latency:percentile(99) }, { "max_us", latency.max },
		{ "mean_us", string.format("%.1f", latency.mean) }, { "non2xx", e.status },
		{ "errors", e.connect + e.read + e.write + e.timeout }, { "bad", 0 }, { "bytes", 0 },
	}
	for _, t in ipairs(threads) do
		f[11][2] = f[11][2] + t:get("bad")
		f[12][2] = math.max(f[12][2], t:get("bytes"))
	end
	local out = { "BENCH" }
	for _, kv in ipairs(f) do
		out[#out + 1] = kv[1] .. "=" .. tostring(kv[2])
	end
	io.write(table.concat(out, " ") .. "\n")
end
