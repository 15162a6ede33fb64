-- wrk script: one JSON-RPC SendMessage per request, a unique messageId each time.
--
-- wrk -t1 -c32 -d5s -s bench/send.lua http://127.0.0.1:PORT/ -- TEXT LIMIT PREFIX MARKER
--   TEXT    the message text (selects the behaviour: "hello" = task, "reply:hello" = message)
--   LIMIT   stop after this many responses (0 = run for the whole duration)
--   PREFIX  prefix of the messageIds (unique per run)
--   MARKER  file created when LIMIT is reached (the driver then stops wrk with SIGINT)
-- done() prints one line "BENCH_JSON {...}" with the counts and latency percentiles (us).
-- A response counts as bad unless it is HTTP 200 with a JSON-RPC "result" and no "error".
-- Several servers (bench/cluster.py): BENCH_PORTS="8101 8102" in the environment sends
-- wrk's thread i to the i-th port on 127.0.0.1 (round robin; run wrk with -t<ports>),
-- each thread with its share of the connections; the latency statistics are wrk's,
-- over all threads.

local text = "hello"
local limit = 0
local prefix = "m"
local marker = ""
local counter = 0
local threads = {}

responses = 0
bad = 0

function setup(thread)
  thread:set("thread_no", #threads + 1)
  local ports = os.getenv("BENCH_PORTS")
  if ports and ports ~= "" then
    local list = {}
    for port in string.gmatch(ports, "%d+") do table.insert(list, port) end
    thread.addr = wrk.lookup("127.0.0.1", list[(#threads % #list) + 1])[1]
  end
  table.insert(threads, thread)
end

function init(args)
  text = args[1] or text
  limit = tonumber(args[2] or "0") or 0
  prefix = (args[3] or "m") .. "-" .. tostring(thread_no)
  marker = args[4] or ""
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["A2A-Version"] = "1.0"
end

function request()
  counter = counter + 1
  local body = '{"jsonrpc":"2.0","id":' .. counter
    .. ',"method":"SendMessage","params":{"message":{"messageId":"' .. prefix .. "-" .. counter
    .. '","role":"ROLE_USER","parts":[{"text":"' .. text .. '"}]}}}'
  return wrk.format("POST", "/", nil, body)
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 or not string.find(body, '"result"', 1, true)
    or string.find(body, '"error"', 1, true) then
    bad = bad + 1
  end
  if limit > 0 and responses == limit then
    if marker ~= "" then
      local f = io.open(marker, "w")
      if f then f:write(tostring(responses)); f:close() end
    end
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total_responses, total_bad = 0, 0
  for _, t in ipairs(threads) do
    total_responses = total_responses + t:get("responses")
    total_bad = total_bad + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"responses":%d,"bad":%d,"duration_us":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,'
      .. '"connect_errors":%d,"read_errors":%d,"write_errors":%d,'
      .. '"status_errors":%d,"timeouts":%d}\n',
    summary.requests, total_responses, total_bad, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
