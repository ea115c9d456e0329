-- Option negotiation: the milter asks the MTA to wait for no reply at connect,
-- HELO, MAIL, RCPT, header and end of headers (SMFIP_NR_*), for header values
-- as they are (SMFIP_HDR_LEADSPC), keeps the reply at DATA
-- (the early accept of non-report mail) and at body/eom.  A verdict that falls
-- on a waived step (here: the temp file cannot be created at the first header
-- of a report) is given at the next step with a reply.  An MTA without the
-- DATA step (protocol 2) keeps header replies.
-- config: MemoryBufferSize 0
-- config: TempDirectory /nonexistent/dmarcwatch-milter-test
local t = dofile(lib)
t.main(function()

-- 1. A current MTA (miltertest offers every protocol option).
local conn = mt.connect(sock, 50, 0.1)
if conn == nil then error("mt.connect(" .. sock .. ") failed") end
t.ok(mt.negotiate(conn, nil, nil, nil), "negotiate")
local want = { NR_CONN = SMFIP_NR_CONN, NR_HELO = SMFIP_NR_HELO, NR_MAIL = SMFIP_NR_MAIL, NR_RCPT = SMFIP_NR_RCPT,
               NR_HDR = SMFIP_NR_HDR, NR_EOH = SMFIP_NR_EOH, NOUNKNOWN = SMFIP_NOUNKNOWN,
               HDR_LEADSPC = SMFIP_HDR_LEADSPC }
-- HELO stays: SPF of report mail checks the HELO name when MAIL FROM is <>.
local unwanted = { NR_DATA = SMFIP_NR_DATA, NR_BODY = SMFIP_NR_BODY, NODATA = SMFIP_NODATA, NOHDRS = SMFIP_NOHDRS,
                   NOBODY = SMFIP_NOBODY, NOMAIL = SMFIP_NOMAIL, NORCPT = SMFIP_NORCPT, NOEOH = SMFIP_NOEOH,
                   NOHELO = SMFIP_NOHELO }
for name, bit in pairs(want) do t.check(mt.test_option(conn, bit), "asks for SMFIP_" .. name) end
for name, bit in pairs(unwanted) do t.check(not mt.test_option(conn, bit), "does not ask for SMFIP_" .. name) end
t.check(mt.test_action(conn, SMFIF_ADDHDRS) and mt.test_action(conn, SMFIF_CHGHDRS) and
        mt.test_action(conn, SMFIF_DELRCPT) and not mt.test_action(conn, SMFIF_CHGBODY), "actions as before")
-- connect, MAIL and RCPT get no reply (miltertest reads none and reports CONTINUE).
t.ok(mt.conninfo(conn, "mail.sender.test", "192.0.2.10"), "conninfo")
local r, stage = t.send(conn, { qid = "QNEG1", rcpts = { "<bob@other.test>" }, eml = data .. "/plain.eml" })
t.check(r == SMFIR_ACCEPT and stage == "data",
        "plain mail: " .. t.name(r) .. " at " .. stage .. " (want ACCEPT at data)")

-- A report whose first header fails (no temp directory): no reply at header
-- or eoh, the 451 comes with the first body chunk.
r, stage = t.send(conn, { qid = "QNEG2", rcpts = { "<rua@example.test>" }, eml = data .. "/report-1.eml" })
t.check(r == SMFIR_REPLYCODE and stage == "body", "failure at a waived header step: " .. t.name(r) .. " at " .. stage ..
        " (want REPLYCODE at body)")
t.check(t.logCount("milter callback failed", "qid=QNEG2", "stage=header", "action=tempfail") == 1,
        "failure logged once, at the header stage")
-- The connection goes on; the kept verdict does not leak into the next message.
r, stage = t.send(conn, { qid = "QNEG3", rcpts = { "<carol@other.test>" }, eml = data .. "/plain.eml" })
t.check(r == SMFIR_ACCEPT and stage == "data", "next plain mail: " .. t.name(r) .. " at " .. stage)
-- (miltertest always sends a body chunk before eom, so the eom case is in test-session.cc.)
t.ok(mt.disconnect(conn), "disconnect")

-- 2. An MTA of protocol 2: no SMFIP_NODATA offered (no DATA step), no SMFIP_NR_* of its own:
--    libmilter answers connect/MAIL/RCPT for the milter; header replies stay, so
--    the same failure is answered at the header (as plain mail without a DATA step
--    is accepted at its first header: test-session.cc; miltertest always sends DATA).
conn = mt.connect(sock, 50, 0.1)
if conn == nil then error("mt.connect(" .. sock .. ") failed") end
local v2prot = SMFIP_NOCONNECT + SMFIP_NOHELO + SMFIP_NOMAIL + SMFIP_NORCPT + SMFIP_NOBODY + SMFIP_NOHDRS + SMFIP_NOEOH
local v2acts = SMFIF_ADDHDRS + SMFIF_CHGBODY + SMFIF_ADDRCPT + SMFIF_DELRCPT + SMFIF_CHGHDRS + SMFIF_QUARANTINE
t.ok(mt.negotiate(conn, 2, v2prot, v2acts), "negotiate protocol 2")
t.check(not mt.test_option(conn, SMFIP_NR_CONN) and not mt.test_option(conn, SMFIP_NR_MAIL) and
        not mt.test_option(conn, SMFIP_NR_RCPT) and not mt.test_option(conn, SMFIP_NR_HDR),
        "no SMFIP_NR_* sent to an MTA without them")
t.ok(mt.conninfo(conn, "mail.sender.test", "192.0.2.10"), "conninfo")
t.check(mt.getreply(conn) == SMFIR_CONTINUE, "connect answered")
r, stage = t.send(conn, { qid = "QNEG5", rcpts = { "<rua@example.test>" }, eml = data .. "/report-1.eml" })
t.check(r == SMFIR_REPLYCODE and stage == "header", "failure at the header: " .. t.name(r) .. " at " .. stage ..
        " (want REPLYCODE at header)")
t.ok(mt.disconnect(conn), "disconnect")

t.check(#t.reportIds() == 0, "nothing stored")
t.check(t.logCount("QNEG1") == 0 and t.logCount("QNEG3") == 0,
        "no log lines for plain mail")
end)
