-- Mail without a rua recipient is accepted at DATA: nothing buffered, nothing stored, no header.
local t = dofile(lib)
t.main(function()

local conn = t.open()
local r, stage = t.send(conn, { qid = "QPLAIN1", rcpts = { "<bob@other.test>", "<carol@example.test>" },
                               eml = data .. "/plain.eml" })
t.check(r == SMFIR_ACCEPT and stage == "data", "plain mail: " .. t.name(r) .. " at " .. stage .. " (want ACCEPT at data)")
t.ok(mt.disconnect(conn), "disconnect")

-- A report sent to a non-rua address is not ours either.
conn = t.open()
r, stage = t.send(conn, { qid = "QPLAIN2", rcpts = { "<postmaster@example.test>" }, eml = data .. "/report-1.eml" })
t.check(r == SMFIR_ACCEPT and stage == "data", "report to other address: " .. t.name(r) .. " at " .. stage)
-- Then a real report on the same connection still works.
r, stage = t.send(conn, { qid = "QPLAIN3", rcpts = { "<rua@example.test>" }, eml = data .. "/report-2.eml" })
t.check(r == SMFIR_ACCEPT and stage == "eom" and t.header(conn):match("^stored;") ~= nil,
        "report after plain mail on one connection: " .. t.name(r) .. " at " .. stage)
t.ok(mt.disconnect(conn), "disconnect")

local ids = t.reportIds()
t.check(#ids == 1, "store holds only the real report (got " .. #ids .. ")")
t.check(t.logCount("QPLAIN1") == 0 and t.logCount("QPLAIN2") == 0, "no log lines for plain mail")
end)
