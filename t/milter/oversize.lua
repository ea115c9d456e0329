-- MaxMessageSize: bigger mail is kept with an error header, not buffered.
-- A small MemoryBufferSize makes a normal report spill to a temp file.
-- config: MaxMessageSize 64K
-- config: MemoryBufferSize 1K
local t = dofile(lib)
t.main(function()

local conn = t.open()
local r = t.send(conn, { qid = "QHUGE", rcpts = { "<rua@example.test>" }, eml = data .. "/huge.eml", chunk = 8192 })
t.check(r == SMFIR_ACCEPT, "oversize: " .. t.name(r) .. " (want ACCEPT)")
local h = t.header(conn)
t.check(h:match("^error; message larger than MaxMessageSize") ~= nil, "header '" .. h .. "'")

r = t.send(conn, { qid = "QBIG", rcpts = { "<rua@example.test>" }, eml = data .. "/big.eml", chunk = 1000 })
h = t.header(conn)
t.check(r == SMFIR_ACCEPT and h == "stored; reports=1; records=400; messages=400; auth=unauthenticated",
        "spilled to temp file and stored: " .. t.name(r) .. " '" .. h .. "'")
t.ok(mt.disconnect(conn), "disconnect")

t.check(t.logCount("report message not stored", "qid=QHUGE", "MaxMessageSize") == 1, "log line for QHUGE")
t.check(#t.reportIds() == 1, "one report stored")
end)
