-- full-disk.lua - dmarcwatch-milter on a full file system (run by t/e2e/full-disk.sh,
-- which fills the store's tmpfs with the file `filler` first).
-- A report message is deferred with 451 4.3.0 (OnStoreError tempfail), the milter
-- stays up, and once the filler is gone the same message is stored.
local t = dofile(lib)
t.main(function()
  local function alive() return os.execute("kill -0 " .. milterpid .. " 2>/dev/null") == true end
  local eml = data .. "/report-15.eml"

  -- 1. The disk is full: tempfail, with the reason in the log.
  local conn = t.open()
  local r, stage = t.send(conn, { qid = "QDISK1", rcpts = { "<rua@example.test>" }, eml = eml })
  t.check(r == SMFIR_REPLYCODE and stage == "eom", "full disk: " .. t.name(r) .. " at " .. stage .. " (want REPLYCODE)")
  t.check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0", "dmarcwatch: cannot store the report now, try again later"),
          "451 4.3.0 reply")
  t.ok(mt.disconnect(conn), "disconnect")
  t.check(t.logCount("report message not stored", "qid=QDISK1", "outcome=store-error", "action=tempfail") == 1,
          "log line: store error, tempfail")
  t.check(t.logCount("qid=QDISK1", "No space left on device") == 1, "log line names the full disk")
  t.check(alive(), "milter still running")
  t.check(#t.reportIds() == 0, "nothing of the deferred message stored (0 reports)")

  -- 2. Room again: the MTA's retry of the same message is stored.
  t.check(os.remove(filler) == true, "filler removed")
  conn = t.open()
  r = t.send(conn, { qid = "QDISK2", rcpts = { "<rua@example.test>" }, eml = eml })
  t.check(r == SMFIR_ACCEPT and t.header(conn):match("^stored;") ~= nil,
          "retry stored: " .. t.name(r) .. " '" .. t.header(conn) .. "'")
  t.ok(mt.disconnect(conn), "disconnect")
  local ids = t.reportIds()
  t.check(#ids == 1, "1 report stored (got " .. #ids .. ")")
end)
