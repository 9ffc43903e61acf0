-- wrk script: POST /v1/requests, each with a new (source, ticket), so every call is an
-- intake that stores a request, its decision, its audit event and its job.
-- Usage: TOKEN=... wrk -t2 -c16 -d20s -s bench/requests.lua http://127.0.0.1:8080
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = string.format("%d-%d", os.time(), tid)
end

request = function()
  counter = counter + 1
  local body = string.format('{"source":"bench","ticket":"%s-%d","requester":"alice","role":"payments-db.admin","needs":["read"],"purpose":"INC-42","duration":"2h"}', prefix, counter)
  return wrk.format("POST", "/v1/requests", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
  }, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests: %d, errors: non-2xx %d, socket %d\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("throughput: %.0f/s\n", summary.requests / (summary.duration / 1e6)))
  for _, p in pairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%g: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
