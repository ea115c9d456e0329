-- A message aborted half-way stores nothing; the connection goes on; close may come any time.
local t = dofile(lib)
t.main(function()

local conn = t.open()
t.ok(mt.macro(conn, SMFIC_MAIL, "i", "QABORT"), "macro")
t.ok(mt.mailfrom(conn, "<noreply-dmarc-support@google.com>"), "mailfrom")
t.ok(mt.rcptto(conn, "<rua@example.test>"), "rcptto")
t.ok(mt.data(conn), "data")
local headers, body = t.loadEml(data .. "/report-21.eml")
for _, hd in ipairs(headers) do t.ok(mt.header(conn, hd[1], hd[2]), "header") end
t.ok(mt.eoh(conn), "eoh")
t.ok(mt.bodystring(conn, body:sub(1, #body // 2)), "half body")
t.ok(mt.abort(conn), "abort")

local r = t.send(conn, { qid = "QAFTER", rcpts = { "<rua@example.test>" }, eml = data .. "/report-22.eml" })
t.check(r == SMFIR_ACCEPT and t.header(conn):match("^stored;") ~= nil, "message after abort stored")
t.ok(mt.disconnect(conn), "disconnect")

-- Abrupt disconnects in the middle of a message, and right after connect.
conn = t.open()
t.ok(mt.macro(conn, SMFIC_MAIL, "i", "QCUT"), "macro")
t.ok(mt.mailfrom(conn, "<x@google.com>"), "mailfrom")
t.ok(mt.rcptto(conn, "<rua@example.test>"), "rcptto")
t.ok(mt.data(conn), "data")
t.ok(mt.header(conn, "Subject", "cut"), "header")
t.ok(mt.disconnect(conn, false), "abrupt disconnect")
conn = mt.connect(sock, 50, 0.1)
t.ok(mt.disconnect(conn, false), "abrupt disconnect right after connect")

local ids = t.reportIds()
t.check(#ids == 1 and ids[1] == "rid-22", "only the complete report stored (got " .. #ids .. ")")
t.check(t.logCount("QABORT") == 0, "nothing logged for the aborted message")
end)
