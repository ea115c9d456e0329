-- OnStoreError: a report the store cannot take (a real MDB_MAP_FULL: the
-- smallest MapSize and MaxDatabaseSize, and a report of 372000 facts) is deferred with 451 4.3.0,
-- nothing of it is stored, and the store keeps working.  After a reload with
-- OnStoreError accept, the same mail is delivered with the error in the header.
-- config: MapSize 16M
-- config: MaxDatabaseSize 16M
-- config: MaxRawArchive 0
local t = dofile(lib)
t.main(function()
  local function readFile(p) local f = assert(io.open(p, "rb")); local s = f:read("a"); f:close(); return s end
  local function writeFile(p, s) local f = assert(io.open(p, "wb")); f:write(s); f:close() end
  local function waitLog(...)
    for _ = 1, 50 do
      if t.logCount(...) > 0 then return true end
      mt.sleep(0.1)
    end
    return false
  end

  -- 1. Default OnStoreError tempfail.
  local conn = t.open()
  local r, stage = t.send(conn, { qid = "QFULL1", rcpts = { "<rua@example.test>" }, eml = data .. "/mapfull.eml" })
  t.check(r == SMFIR_REPLYCODE and stage == "eom", "map full: " .. t.name(r) .. " at " .. stage .. " (want REPLYCODE)")
  -- MT_SMTPREPLY matches only the exact full reply.
  t.check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0", "dmarcwatch: cannot store the report now, try again later"),
          "451 4.3.0 reply")
  t.check(not mt.eom_check(conn, MT_HDRADD, "X-DMARCwatch"), "no header on a deferred message")
  t.check(t.logCount("report message not stored", "qid=QFULL1", "outcome=store-error", "MDB_MAP_FULL",
                     "action=tempfail") == 1, "log line names MDB_MAP_FULL")
  -- The failed transaction left nothing behind; a small report still fits.
  r = t.send(conn, { qid = "QSMALL", rcpts = { "<rua@example.test>" }, eml = data .. "/report-51.eml" })
  t.check(r == SMFIR_ACCEPT and t.header(conn):match("^stored;") ~= nil,
          "next report on the connection stored: " .. t.name(r) .. " '" .. t.header(conn) .. "'")
  t.ok(mt.disconnect(conn), "disconnect")
  local ids = t.reportIds()
  t.check(#ids == 1 and ids[1] == "rid-51", "store holds only rid-51 (got " .. #ids .. ")")

  -- 2. OnStoreError accept (reload): delivered, with the error in the header.
  writeFile(conf, readFile(conf) .. "OnStoreError accept\n")
  os.execute("kill -HUP " .. milterpid)
  t.check(waitLog("configuration reloaded"), "reload logged")
  conn = t.open()
  r, stage = t.send(conn, { qid = "QFULL2", rcpts = { "<rua@example.test>" }, eml = data .. "/mapfull.eml" })
  t.check(r == SMFIR_ACCEPT and stage == "eom", "OnStoreError accept: " .. t.name(r) .. " at " .. stage)
  local h = t.header(conn)
  t.check(h:match("^error; store: ") ~= nil and h:match("MDB_MAP_FULL") ~= nil, "error header '" .. h .. "'")
  t.ok(mt.disconnect(conn), "disconnect")
  t.check(t.logCount("report message not stored", "qid=QFULL2", "outcome=store-error", "action=accept") == 1,
          "log line says accept")
  t.check(#t.reportIds() == 1, "still only one report stored")
end)
