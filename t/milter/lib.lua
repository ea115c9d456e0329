-- lib.lua - shared handshake and checks for the dmarcwatch-milter miltertest scripts.
--
-- run-miltertest.sh starts the real milter and runs each script as
--   miltertest -D sock=SOCKET -D data=DIR -D db=DIR -D log=FILE -D dmarcwatch=BIN -D lib=THIS -s SCRIPT
-- A script does:  local t = dofile(lib)  t.main(function() ... end)
-- Output: "ok N - text" / "not ok N - text" lines, then "# N passed, M failed".
-- miltertest quirks (see shared/reference/e2e/REPORT.md): mt.* return nil or
-- an error string; SMFIR_* are floats; macros are sent only when asked.

local t = { passed = 0, failed = 0, n = 0 }

local names = {
  [SMFIR_ACCEPT] = "ACCEPT", [SMFIR_CONTINUE] = "CONTINUE", [SMFIR_DISCARD] = "DISCARD",
  [SMFIR_REJECT] = "REJECT", [SMFIR_TEMPFAIL] = "TEMPFAIL", [SMFIR_REPLYCODE] = "REPLYCODE",
}
function t.name(r) return names[r] or tostring(r) end

function t.check(cond, msg)
  t.n = t.n + 1
  if cond then
    t.passed = t.passed + 1
    mt.echo("ok " .. t.n .. " - " .. msg)
  else
    t.failed = t.failed + 1
    mt.echo("not ok " .. t.n .. " - " .. msg)
  end
  return cond
end

-- mt.* calls return nil on success; anything else aborts the script.
function t.ok(err, what)
  if err ~= nil then error(what .. ": " .. tostring(err)) end
end

-- Run the script body; an error (miltertest prints none) becomes a failed check.
function t.main(body)
  local ok, err = pcall(body)
  if not ok then t.check(false, "script error: " .. tostring(err)) end
  t.finish()
end

function t.finish()
  mt.echo(string.format("# %d passed, %d failed", t.passed, t.failed))
  if t.failed > 0 then error(t.failed .. " check(s) failed") end
end

-- A new milter connection with connect and HELO done.
function t.open()
  local conn = mt.connect(sock, 50, 0.1)
  if conn == nil then error("mt.connect(" .. sock .. ") failed") end
  t.ok(mt.conninfo(conn, "mail.sender.test", "192.0.2.10"), "conninfo")
  if mt.getreply(conn) ~= SMFIR_CONTINUE then error("connect: " .. t.name(mt.getreply(conn))) end
  -- HELO is recorded for SPF; the milter waives its reply (SMFIP_NR_HELO).
  t.ok(mt.helo(conn, "mail.sender.test"), "helo")
  return conn
end

-- A whole file's bytes (nil when it does not exist).
function t.readFile(path)
  local f = io.open(path, "rb")
  if f == nil then return nil end
  local text = f:read("a")
  f:close()
  return text
end

-- Read an .eml file into a list of {name, value} and the body.
function t.loadEml(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  local head, body = text:match("^(.-)\r?\n\r?\n(.*)$")
  if head == nil then head, body = text, "" end
  local headers = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r?\n") do
    if line:match("^[ \t]") and #headers > 0 then
      headers[#headers][2] = headers[#headers][2] .. "\r\n" .. line
    else
      local k, v = line:match("^([^:]+):[ \t]*(.*)$")
      if k then headers[#headers + 1] = { k, v } end
    end
  end
  return headers, body
end

-- One message on an open connection, as an MTA sends it.
--   m = { qid=, from=, rcpts={...}, eml=PATH | headers={{k,v}}, body=STRING, chunk=N }
-- Returns the final reply and the stage that gave it ("data", "header", "eom", ...).
function t.send(conn, m)
  t.ok(mt.macro(conn, SMFIC_MAIL, "i", m.qid or "QID"), "macro i")
  t.ok(mt.mailfrom(conn, m.from or "<noreply-dmarc-support@google.com>"), "mailfrom")
  if mt.getreply(conn) ~= SMFIR_CONTINUE then return mt.getreply(conn), "envfrom" end
  for _, r in ipairs(m.rcpts) do
    t.ok(mt.rcptto(conn, r), "rcptto")
    if mt.getreply(conn) ~= SMFIR_CONTINUE then return mt.getreply(conn), "rcpt" end
  end
  t.ok(mt.data(conn), "data")
  if mt.getreply(conn) ~= SMFIR_CONTINUE then return mt.getreply(conn), "data" end
  local headers, body = m.headers, m.body
  if m.eml then headers, body = t.loadEml(m.eml) end
  for _, h in ipairs(headers or {}) do
    t.ok(mt.header(conn, h[1], h[2]), "header")
    if mt.getreply(conn) ~= SMFIR_CONTINUE then return mt.getreply(conn), "header" end
  end
  t.ok(mt.eoh(conn), "eoh")
  if mt.getreply(conn) ~= SMFIR_CONTINUE then return mt.getreply(conn), "eoh" end
  local chunk = m.chunk or 65535
  body = body or ""
  for i = 1, #body, chunk do
    t.ok(mt.bodystring(conn, body:sub(i, i + chunk - 1)), "body")
    if mt.getreply(conn) ~= SMFIR_CONTINUE then return mt.getreply(conn), "body" end
  end
  t.ok(mt.eom(conn), "eom")
  return mt.getreply(conn), "eom"
end

-- The X-DMARCwatch header added at eom ("" when none); miltertest keeps the leading space.
-- The reason of the verdict (auth-reason="...", last) is dropped: it depends on the checks
-- plugged in (none here; "mail not checked" with the store's trust), not on these tests.
function t.header(conn)
  local v = mt.getheader(conn, "X-DMARCwatch", 0)
  if v == nil then return "" end
  return (v:gsub("^%s+", ""):gsub('; auth%-reason="[^"]*"$', ""))
end

-- Output of a shell command.
function t.run(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  p:close()
  return out
end

-- Reports in the store, by `dmarcwatch reports --json` (counts "report_id" keys).
function t.reportIds()
  local out = t.run(dmarcwatch .. " --db " .. db .. " reports --json")
  local ids = {}
  for id in out:gmatch('"report_id"%s*:%s*"([^"]*)"') do ids[#ids + 1] = id end
  return ids, out
end

-- Size of the milter's log file (0 while there is none).
local function logSize()
  local f = io.open(log, "rb")
  if f == nil then return 0 end
  local size = f:seek("end")
  f:close()
  return size
end

-- Number of milter log lines containing every one of the plain strings given.  The milter
-- writes its log from a thread of its own, a moment after the answer: count once the file
-- has not grown for 100 ms (at most 3 s).
function t.logCount(...)
  local size, still = logSize(), 0
  for _ = 1, 60 do
    mt.sleep(0.05)
    local now = logSize()
    if now == size then still = still + 1 else size, still = now, 0 end
    if still >= 2 then break end
  end
  local f = io.open(log, "rb")
  if f == nil then return 0 end
  local needles, count = { ... }, 0
  for line in f:lines() do
    local all = true
    for _, s in ipairs(needles) do
      if not line:find(s, 1, true) then all = false; break end
    end
    if all then count = count + 1 end
  end
  f:close()
  return count
end

return t
