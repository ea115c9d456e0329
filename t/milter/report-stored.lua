-- A report mail to the rua address is stored and gets the X-DMARCwatch header;
-- the same report again is a duplicate; one log line per report message.
local t = dofile(lib)
t.main(function()

local conn = t.open()
local r, stage = t.send(conn, { qid = "QSTORE1", rcpts = { "<rua@example.test>" }, eml = data .. "/report-7.eml" })
t.check(r == SMFIR_ACCEPT and stage == "eom", "report: " .. t.name(r) .. " at " .. stage .. " (want ACCEPT at eom)")
local h = t.header(conn)
t.check(h == "stored; reports=1; records=2; messages=8; auth=unauthenticated", "header '" .. h .. "'")
t.check(mt.eom_check(conn, MT_HDRADD, "X-DMARCwatch"), "header added with smfi_addheader")
t.ok(mt.disconnect(conn), "disconnect")

-- Upper-case recipient and domain-wide address both match.
conn = t.open()
r = t.send(conn, { qid = "QSTORE2", rcpts = { "<RUA@Example.TEST>" }, eml = data .. "/report-7.eml" })
t.check(r == SMFIR_ACCEPT, "duplicate: " .. t.name(r))
h = t.header(conn)
t.check(h == "duplicate; reports=1; records=2; messages=8; auth=unauthenticated", "duplicate header '" .. h .. "'")
r = t.send(conn, { qid = "QSTORE3", rcpts = { "<dmarc@reports.example.test>" }, eml = data .. "/report-8.eml" })
t.check(r == SMFIR_ACCEPT and t.header(conn) == "stored; reports=1; records=2; messages=9; auth=unauthenticated",
        "@domain address: " .. t.name(r) .. " '" .. t.header(conn) .. "'")
t.ok(mt.disconnect(conn), "disconnect")

local ids = t.reportIds()
t.check(#ids == 2, "store holds 2 reports (got " .. #ids .. ")")
t.check(t.logCount("report message", "qid=QSTORE1", "client=192.0.2.10", "reporter=google.com", "domain=example.test",
                   "report_id=rid-7", "records=2", "messages=8", "outcome=stored") == 1, "log line for QSTORE1")
t.check(t.logCount("qid=QSTORE2", "outcome=duplicate") == 1, "log line for the duplicate")
end)
