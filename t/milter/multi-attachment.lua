-- One mail with two reports (gzip and zip attachments): both stored, one header with totals.
local t = dofile(lib)
t.main(function()

local conn = t.open()
local r = t.send(conn, { qid = "QMULTI", rcpts = { "<rua@example.test>" }, eml = data .. "/multi.eml" })
local h = t.header(conn)
t.check(r == SMFIR_ACCEPT and h == "stored; reports=2; records=5; messages=35; auth=unauthenticated", t.name(r) .. " '" .. h .. "'")
t.ok(mt.disconnect(conn), "disconnect")
local ids = t.reportIds()
t.check(#ids == 2, "store holds 2 reports (got " .. #ids .. ")")
t.check(t.logCount("qid=QMULTI", "reporter=google.com", "report_id=rid-multi-a") == 1, "log line for report a")
t.check(t.logCount("qid=QMULTI", "reporter=yahoo.com", "report_id=rid-multi-b") == 1, "log line for report b")
end)
