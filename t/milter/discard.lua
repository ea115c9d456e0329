-- ReportAction discard: only rua recipient -> DISCARD; with other recipients
-- -> only the rua recipient is removed.  Unreadable reports are never dropped.
-- config: ReportAction discard
local t = dofile(lib)
t.main(function()

local conn = t.open()
local r = t.send(conn, { qid = "QDISC1", rcpts = { "<rua@example.test>" }, eml = data .. "/report-11.eml" })
t.check(r == SMFIR_DISCARD, "only rua: " .. t.name(r) .. " (want DISCARD)")

r = t.send(conn, { qid = "QDISC2", rcpts = { "<bob@example.test>", "<rua@example.test>", "<carol@other.test>" },
                   eml = data .. "/report-12.eml" })
t.check(r == SMFIR_ACCEPT, "rua + others: " .. t.name(r) .. " (want ACCEPT)")
t.check(mt.eom_check(conn, MT_RCPTDELETE, "<rua@example.test>"), "rua recipient deleted")
t.check(not mt.eom_check(conn, MT_RCPTDELETE, "<bob@example.test>"), "other recipient kept")
t.check(not mt.eom_check(conn, MT_HDRADD, "X-DMARCwatch"), "no header for the other recipients")

r = t.send(conn, { qid = "QDISC3", rcpts = { "<rua@example.test>" }, eml = data .. "/corrupt.eml" })
t.check(r == SMFIR_ACCEPT, "unreadable report kept: " .. t.name(r))
t.check(t.header(conn):match("^error; ") ~= nil, "error header '" .. t.header(conn) .. "'")
t.ok(mt.disconnect(conn), "disconnect")

local ids = t.reportIds()
t.check(#ids == 2, "store holds 2 reports (got " .. #ids .. ")")
t.check(t.logCount("qid=QDISC1", "outcome=stored", "action=discard") == 1, "log says discard")
t.check(t.logCount("qid=QDISC2", "outcome=stored", "action=delrcpt") == 1, "log says delrcpt")
end)
