-- Header bytes (issue 14): DKIM with "simple" header canonicalization signs the
-- bytes after the colon, so the milter asks for SMFIP_HDR_LEADSPC and, when the
-- MTA agrees, buffers each field exactly as sent; an MTA that does not offer it
-- gets "Name: value" rebuilt, marked approximate.  What the checks of report
-- mail get is observed with --dump-messages (N.eml, N.envelope), which
-- run-miltertest.sh passes for the line below.
--   1, 2: miltertest, with and without the flag (with it, miltertest puts one
--         space in front of every value, as a "Name: value" field has);
--   3, 4: "Subject:no-space" and "Subject:<tab>tab", which miltertest cannot
--         send under the flag, through t/lib/milter-client.py (Postfix's way).
-- dump-messages
local t = dofile(lib)
t.main(function()

local fileHeaders, body = t.loadEml(data .. "/report-1.eml")
-- The report's own fields and two that a rebuilt "Name: value" gets wrong.
local sent = { { "Subject", "no-space" }, { "Subject", "\ttab" } }
for _, h in ipairs(fileHeaders) do sent[#sent + 1] = h end
-- The buffer: "Name: value" CRLF per field, CRLF, the body.
local function rebuilt(list)
  local out = {}
  for _, h in ipairs(list) do out[#out + 1] = h[1] .. ": " .. h[2] .. "\r\n" end
  return table.concat(out) .. "\r\n" .. body
end
local function envelopeOf(n) return t.readFile(dump .. "/" .. n .. ".envelope") or "" end

-- 1. SMFIP_HDR_LEADSPC offered and agreed: the values arrive as " value" and stay so.
local conn = mt.connect(sock, 50, 0.1)
if conn == nil then error("mt.connect(" .. sock .. ") failed") end
t.ok(mt.negotiate(conn, nil, nil, nil), "negotiate")
t.check(mt.test_option(conn, SMFIP_HDR_LEADSPC), "asks for SMFIP_HDR_LEADSPC")
t.ok(mt.conninfo(conn, "mail.sender.test", "192.0.2.10"), "conninfo")
t.ok(mt.helo(conn, "mail-sor-f41.google.com"), "helo")
local r = t.send(conn, { qid = "QBYTES1", rcpts = { "<rua@example.test>" }, headers = sent, body = body })
t.check(r == SMFIR_ACCEPT and t.header(conn):match("^stored; ") ~= nil, "stored: " .. t.name(r) .. " '" .. t.header(conn) .. "'")
local got = t.readFile(dump .. "/1.eml")
t.check(got ~= nil, "the checks got the message (dump 1.eml)")
t.check(got == rebuilt(sent), "the buffer is the message as sent (" .. #(got or "") .. " bytes)")
t.check(envelopeOf(1) == "client=192.0.2.10\nhelo=mail-sor-f41.google.com\nmail_from=noreply-dmarc-support@google.com\n" ..
        "headers_approximate=0\n", "envelope: client, HELO, MAIL FROM without <> ('" .. envelopeOf(1) .. "')")
t.ok(mt.disconnect(conn), "disconnect")

-- 2. An MTA that does not offer it (every other option of protocol 6): the same bytes, approximate.
conn = mt.connect(sock, 50, 0.1)
if conn == nil then error("mt.connect(" .. sock .. ") failed") end
-- (miltertest takes the protocol steps before the actions, whatever its manual says)
t.ok(mt.negotiate(conn, 6, 0x0FFFFF, nil), "negotiate without SMFIP_HDR_LEADSPC")
t.check(not mt.test_option(conn, SMFIP_HDR_LEADSPC), "SMFIP_HDR_LEADSPC not asked for when not offered")
t.ok(mt.conninfo(conn, "mail.sender.test", "192.0.2.10"), "conninfo")
r = t.send(conn, { qid = "QBYTES2", from = "<>", rcpts = { "<rua@example.test>" }, headers = sent, body = body })
t.check(r == SMFIR_ACCEPT, "accepted: " .. t.name(r))
got = t.readFile(dump .. "/2.eml") or ""
t.check(got == rebuilt(sent), "the buffer is the rebuilt message (" .. #got .. " bytes)")
t.check(envelopeOf(2):find("\nmail_from=\nheaders_approximate=1\n$") ~= nil,
        "null sender and headers approximate ('" .. envelopeOf(2) .. "')")
t.check(t.logCount("report headers approximate", "qid=QBYTES2") == 1, "approximate headers logged")
t.check(t.logCount("report headers approximate") == 1, "only for that connection")
t.ok(mt.disconnect(conn), "disconnect")

-- 3, 4. The raw bytes, the way Postfix sends them, with and without the flag.
local path = sock:gsub("^unix:", "")
local function raw(n, report, protocol)
  local file = dump .. "/../raw-" .. n .. ".eml"
  local text = t.readFile(data .. "/" .. report) or error("no " .. report)
  local f = assert(io.open(file, "wb"))
  f:write("Subject:no-space\r\nSubject:\ttab\r\n" .. text:gsub("\r?\n", "\r\n"))
  f:close()
  local out = t.run("python3 " .. lib:gsub("milter/lib%.lua$", "lib/milter-client.py") .. " " .. path ..
                    " report --id QRAW" .. n .. " --mail " .. file .. " --protocol " .. protocol)
  t.check(out:find("^report ok") ~= nil, "milter-client.py report (protocol " .. protocol .. "): " .. out)
  return t.readFile(file), t.readFile(dump .. "/" .. n .. ".eml") or ""
end
local want, dumped = raw(3, "report-2.eml", "0x1FFFFF")
t.check(dumped:find("^Subject:no%-space\r\nSubject:\ttab\r\n") ~= nil, "Subject:no-space and Subject:<tab>tab kept")
t.check(dumped == want, "the buffer is the mail byte for byte (" .. #dumped .. " of " .. #want .. " bytes)")
t.check(envelopeOf(3):find("\nheaders_approximate=0\n$") ~= nil, "not approximate")
want, dumped = raw(4, "report-3.eml", "0x0FFFFF")
t.check(dumped:find("^Subject: no%-space\r\nSubject: \ttab\r\n") ~= nil, "without the flag: rebuilt with ': '")
local lead = "Subject:no-space\r\nSubject:\ttab\r\n"
t.check(dumped == "Subject: no-space\r\nSubject: \ttab\r\n" .. want:sub(#lead + 1),
        "the rest of the mail byte for byte (" .. #dumped .. " bytes, the mail " .. #want .. ")")
t.check(envelopeOf(4):find("\nheaders_approximate=1\n$") ~= nil, "approximate")
end)
