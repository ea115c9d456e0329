-- lock-latency.lua - miltertest script of bench-lock.sh: report mails, one a second, each timed
-- from connect to the milter's answer at end-of-message (the milter stores the report first).
--
--   miltertest -D sock=SOCKET -D lib=t/milter/lib.lua -D data=DIR -D first=K -D count=N
--              [-D whilefile=PATH] [-D interval=SECONDS] [-D timeout=SECONDS] -s lock-latency.lua
--
-- Sends DIR/report-K.eml .. report-(K+N-1).eml, one connection each, a new one every
-- `interval` seconds (start to start; default 1) and stops early once `whilefile` is gone
-- (bench-lock.sh removes it when the big ingest ends).  One line per message on stdout:
--   sample QID START_NS LATENCY_NS REPLY HEADER
-- START_NS is date(1)'s %s%N, so the caller can tell which mails fell inside the ingest.
-- The clock is read through date(1) (Lua has no wall clock below a second): each latency
-- includes one fork+exec of date, ~1-2 ms, so it errs on the long side.
-- Errors end the script with a failed check (t.main); a reply other than ACCEPT is reported,
-- not fatal: the caller counts it.
local t = dofile(lib)

local function nowNs()
  local p = assert(io.popen("date +%s%N"))
  local v = p:read("n")
  p:close()
  return math.tointeger(v) or v
end

local function exists(path)
  local f = io.open(path, "rb")
  if f == nil then return false end
  f:close()
  return true
end

t.main(function()
  local n = tonumber(count)
  local k0 = tonumber(first)
  local step = tonumber(interval or "1") * 1e9
  -- The old build answers only once the big ingest has committed: wait for it.
  mt.set_timeout(tonumber(timeout or "600"))
  for i = 0, n - 1 do
    if whilefile and not exists(whilefile) then break end
    local qid = string.format("QLOCK%d", k0 + i)
    local t0 = nowNs()
    local conn = t.open()
    local r, stage = t.send(conn, { qid = qid, rcpts = { "<rua@example.test>" },
                                    eml = data .. "/report-" .. (k0 + i) .. ".eml" })
    local t1 = nowNs()
    local reply = t.name(r) .. "@" .. stage
    local h = t.header(conn):gsub("%s+", "_")
    t.ok(mt.disconnect(conn), "disconnect")
    mt.echo(string.format("sample %s %d %d %s %s", qid, t0, t1 - t0, reply, h == "" and "-" or h))
    -- Pace: the next one `interval` after this one began (at once when it took longer).
    local rest = (t0 + step - nowNs()) / 1e9
    if rest > 0 and i < n - 1 then mt.sleep(rest) end
  end
  t.check(true, "sent")
end)
