-- Unreadable report mail is accepted (kept) with the error in the header and the log.
local t = dofile(lib)
t.main(function()

local conn = t.open()
local r = t.send(conn, { qid = "QBAD1", rcpts = { "<rua@example.test>" }, eml = data .. "/corrupt.eml" })
t.check(r == SMFIR_ACCEPT, "corrupt gzip: " .. t.name(r) .. " (want ACCEPT)")
local h = t.header(conn)
t.check(h:match("^error; .+") ~= nil, "error header '" .. h .. "'")
t.check(not h:find("[\r\n]"), "header value is one line")

r = t.send(conn, { qid = "QBAD2", rcpts = { "<rua@example.test>" }, eml = data .. "/noreport.eml" })
t.check(r == SMFIR_ACCEPT, "no report at all: " .. t.name(r))
t.check(t.header(conn):match("^error; ") ~= nil, "error header '" .. t.header(conn) .. "'")

r = t.send(conn, { qid = "QBAD3", rcpts = { "<rua@example.test>" }, headers = {}, body = "" })
t.check(r == SMFIR_ACCEPT, "empty message: " .. t.name(r))
t.ok(mt.disconnect(conn), "disconnect")

t.check(#t.reportIds() == 0, "nothing stored")
t.check(t.logCount("report message not stored", "qid=QBAD1", "outcome=error", "action=keep") == 1,
        "log line for QBAD1")
t.check(t.logCount("report message not stored", "qid=QBAD2") == 1, "log line for QBAD2")
end)
