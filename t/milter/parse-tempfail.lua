-- OnParseError tempfail: unreadable report mail is deferred with a 451 reply.
-- config: OnParseError tempfail
local t = dofile(lib)
t.main(function()

local conn = t.open()
local r = t.send(conn, { qid = "QTF1", rcpts = { "<rua@example.test>" }, eml = data .. "/corrupt.eml" })
t.check(r == SMFIR_REPLYCODE, "corrupt gzip: " .. t.name(r) .. " (want REPLYCODE)")
-- MT_SMTPREPLY matches only the exact full reply.
t.check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.6.0",
                     "dmarcwatch: report not readable: attachment c.xml.gz: gzip data truncated"), "451 4.6.0 reply")
r = t.send(conn, { qid = "QTF2", rcpts = { "<rua@example.test>" }, eml = data .. "/report-3.eml" })
t.check(r == SMFIR_ACCEPT and t.header(conn):match("^stored;") ~= nil, "next message on the connection stored")
t.ok(mt.disconnect(conn), "disconnect")
end)
