-- wrk script: POST /v1/decisions with a fixed request (dry-run; nothing is stored).
-- Usage: TOKEN=... wrk -t2 -c32 -d20s -s bench/decisions.lua http://127.0.0.1:8080
wrk.method = "POST"
wrk.path = "/v1/decisions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"requester":"alice","role":"payments-db.admin","needs":["read"],"task":"investigate-payment-incident","purpose":"INC-42 investigation","duration":"6h"}'

function done(summary, latency, requests)
  io.write(string.format("requests: %d, errors: non-2xx %d, socket %d\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("throughput: %.0f/s\n", summary.requests / (summary.duration / 1e6)))
  for _, p in pairs({50, 90, 99, 99.9}) do
    io.write(string.format("p%g: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
