-- wrk script of tests/replicas_test.sh: GETs the recommendations of the users
-- listed in $REPLICAS_USERS in turn, and records every distinct answer
-- (status, X-Snapshot header, body) with its count; done() writes them and
-- wrk's error counts to $REPLICAS_OUT for the checker.
local users = {}
for line in io.lines(os.getenv("REPLICAS_USERS")) do
  if #line > 0 then users[#users + 1] = line end
end
local threads = {}
local next_user = 0
seen = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  next_user = math.random(#users)
end

function request()
  next_user = next_user % #users + 1
  return wrk.format("GET", "/v1/users/" .. users[next_user] .. "/recommendations")
end

function response(status, headers, body)
  local key = status .. "\t" .. (headers["X-Snapshot"] or "-") .. "\t" .. body
  seen[key] = (seen[key] or 0) + 1
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("REPLICAS_OUT"), "w"))
  local e = summary.errors
  out:write(string.format("summary\t%d\t%d\t%d\t%d\t%d\t%d\n", summary.requests, e.connect,
                          e.read, e.write, e.status, e.timeout))
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("seen")) do out:write("answer\t" .. v .. "\t" .. k .. "\n") end
  end
  out:close()
end
