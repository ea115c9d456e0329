-- SIGHUP reloads the configuration: a bad file keeps the old one; a good one
-- applies to new connections while open connections keep theirs.
local t = dofile(lib)
t.main(function()
  local function readFile(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end
  local function writeFile(p, s) local f = assert(io.open(p, "wb")); f:write(s); f:close() end
  local function hup() os.execute("kill -HUP " .. milterpid) end
  local function waitLog(...)
    for _ = 1, 50 do
      if t.logCount(...) > 0 then return true end
      mt.sleep(0.1)
    end
    return false
  end
  local original = readFile(conf)

  -- 1. rua2@ is not a report address yet.
  local before = t.open()
  local r, stage = t.send(before, { qid = "QR1", rcpts = { "<rua2@example.test>" }, eml = data .. "/report-31.eml" })
  t.check(r == SMFIR_ACCEPT and stage == "data", "rua2 not a report address: " .. t.name(r) .. " at " .. stage)

  -- 2. A broken file: logged, the old configuration stays.
  writeFile(conf, original .. "NoSuchKey yes\n")
  hup()
  t.check(waitLog("reload failed, keeping the old configuration", "NoSuchKey"), "bad reload logged with the key")
  local conn = t.open()
  r = t.send(conn, { qid = "QR2", rcpts = { "<rua@example.test>" }, eml = data .. "/report-32.eml" })
  t.check(r == SMFIR_ACCEPT and t.header(conn):match("^stored;") ~= nil, "still running with the old configuration")
  t.ok(mt.disconnect(conn), "disconnect")

  -- 3. A good file: new connections see rua2@, the open one keeps its configuration.
  writeFile(conf, original .. "ReportAddress rua2@example.test\n")
  hup()
  t.check(waitLog("configuration reloaded"), "reload logged")
  conn = t.open()
  r = t.send(conn, { qid = "QR3", rcpts = { "<rua2@example.test>" }, eml = data .. "/report-33.eml" })
  t.check(r == SMFIR_ACCEPT and t.header(conn):match("^stored;") ~= nil, "new connection: rua2 is a report address")
  t.ok(mt.disconnect(conn), "disconnect")
  r, stage = t.send(before, { qid = "QR4", rcpts = { "<rua2@example.test>" }, eml = data .. "/report-34.eml" })
  t.check(r == SMFIR_ACCEPT and stage == "data", "connection opened before the reload keeps its configuration")
  t.ok(mt.disconnect(before), "disconnect")
  t.check(#t.reportIds() == 2, "2 reports stored")
end)
