-- A report message that arrives with X-DMARCwatch headers (a sender forging
-- "stored") loses them: each is deleted with smfi_chgheader before ours is
-- added.  Non-report mail is not looked at.  (Also: SocketMode, checked by run-miltertest.sh.)
-- config: SocketMode 0600
local t = dofile(lib)
t.main(function()

local headers, body = t.loadEml(data .. "/report-41.eml")
table.insert(headers, 1, { "X-DMARCwatch", "stored; reports=1; records=999; messages=999999" })
headers[#headers + 1] = { "x-dmarcwatch", "duplicate; reports=1; records=1; messages=1" }

local conn = t.open()
local r, stage = t.send(conn, { qid = "QFORGE1", rcpts = { "<rua@example.test>" }, headers = headers, body = body })
t.check(r == SMFIR_ACCEPT and stage == "eom", "forged report: " .. t.name(r) .. " at " .. stage .. " (want ACCEPT at eom)")
-- Deleting is a change to an empty value; miltertest records it as such.
t.check(mt.eom_check(conn, MT_HDRCHANGE, "X-DMARCwatch"), "a header change of X-DMARCwatch")
t.check(mt.eom_check(conn, MT_HDRCHANGE, "X-DMARCwatch", ""), "X-DMARCwatch changed to nothing (deleted)")
t.check(mt.eom_check(conn, MT_HDRADD, "X-DMARCwatch"), "ours added with smfi_addheader")
local h = t.header(conn)
t.check(h == "stored; reports=1; records=2; messages=42; auth=unauthenticated", "our header '" .. h .. "'")
t.ok(mt.disconnect(conn), "disconnect")
t.check(t.logCount("forged result header removed", "qid=QFORGE1", "headers=2", "failed=0") == 1,
        "log line: 2 forged headers removed")

-- Non-report mail with the same header: accepted at DATA, nothing changed.
conn = t.open()
r, stage = t.send(conn, { qid = "QFORGE2", rcpts = { "<bob@other.test>" }, headers = headers, body = body })
t.check(r == SMFIR_ACCEPT and stage == "data", "non-report: " .. t.name(r) .. " at " .. stage)
t.ok(mt.disconnect(conn), "disconnect")
t.check(t.logCount("QFORGE2") == 0, "nothing logged for the non-report mail")
end)
