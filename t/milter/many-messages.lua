-- Many messages on one connection, report and plain mail interleaved: every report stored once.
local t = dofile(lib)
t.main(function()

local conn = t.open()
local good = 0
for n = 1, 40 do
  local r, stage = t.send(conn, { qid = "QMANY" .. n, rcpts = { "<rua@example.test>" },
                                  eml = data .. "/report-" .. n .. ".eml" })
  if r == SMFIR_ACCEPT and t.header(conn) == string.format("stored; reports=1; records=2; messages=%d; auth=unauthenticated", n + 1) then
    good = good + 1
  end
  if n % 4 == 0 then
    r, stage = t.send(conn, { qid = "QPLAIN" .. n, rcpts = { "<bob@other.test>" }, eml = data .. "/plain.eml" })
    if not (r == SMFIR_ACCEPT and stage == "data") then good = good - 100 end
  end
end
t.check(good == 40, "40 reports stored on one connection (" .. good .. ")")
-- The same 40 again on a second connection: all duplicates.
conn = t.open()
local dups = 0
for n = 1, 40 do
  local r = t.send(conn, { qid = "QDUP" .. n, rcpts = { "<rua@example.test>" }, eml = data .. "/report-" .. n .. ".eml" })
  if r == SMFIR_ACCEPT and t.header(conn):match("^duplicate;") then dups = dups + 1 end
end
t.check(dups == 40, "40 duplicates (" .. dups .. ")")
t.ok(mt.disconnect(conn), "disconnect")
local ids = t.reportIds()
t.check(#ids == 40, "store holds 40 reports (got " .. #ids .. ")")
t.check(t.logCount("report message", "outcome=stored") == 40, "40 'stored' log lines")
end)
