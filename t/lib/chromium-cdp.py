#!/usr/bin/env python3
# chromium-cdp.py - load one local HTML page in headless Chromium and record what a test checks:
# console messages and uncaught exceptions, every request that would leave the file, the
# rendered text, the DOM, the layout width, and a PNG screenshot per requested viewport width.
# Used by t/lib/chromium-headless.sh (chromium_render); not meant to be run by hand.
#
#   chromium-cdp.py BINARY URL OUTDIR HEIGHT WIDTH...
#
# Why the DevTools protocol over a pipe (--remote-debugging-pipe, fd 3 in, fd 4 out, messages
# separated by NUL) and not --dump-dom/--screenshot with --enable-logging=stderr: one browser
# start serves every width; console.error and console.log are told apart (stderr logs both as
# INFO:CONSOLE); exceptions, CSP violations and failed loads arrive as events; requests are seen
# (and refused) before anything leaves the machine; no port is opened.
#
# Output in OUTDIR: console.txt ("LEVEL KIND text" per line; LEVEL is error, warning, info,
# log, debug or verbose; KIND is console, exception, dialog or log; written also when the run
# failed), external.txt (one URL a line:
# requests for anything but file:, data:, blob: and about:, each refused), text-WIDTH.txt
# (document.body.innerText), dom.html, layout-WIDTH.txt ("viewport scrollWidth scrollHeight"),
# shot-WIDTH.png (the viewport, WIDTH x HEIGHT; with CHROMIUM_FULL_PAGE=1 the whole page), timing.txt (ms to the first answer, the load event, the end), browser.pid (the browser's PID = its process group), browser.stderr.
# Exit status 0 when the page loaded and everything was written; 1 when the browser failed
# or the time ran out (why on stderr); 2 on bad usage.
#
# Processes: the browser is started in a session of its own, so its PID is its process group;
# at exit (normal, error, SIGTERM, or the internal deadline) the group gets Browser.close, then
# SIGTERM, then SIGKILL.  Nothing else is ever signalled.

import base64
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome-error:")


class Failure(Exception):
    pass


class Browser:
    def __init__(self, binary, profile, errlog, deadline):
        self.deadline = deadline
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # Step: fds 3 and 4 in the child are the protocol pipe.  Moved above 10 first, so that
        # dup2 onto 3 cannot close the other end; close_fds stays off because subprocess closes
        # after preexec_fn (our own descriptors are close-on-exec anyway, PEP 446).
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child_r, from_child_w)]
        os.close(to_child_r)
        os.close(from_child_w)
        to_child_r, from_child_w = moved

        def child_fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        args = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check",
            "--disable-crash-reporter", "--disable-breakpad", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-default-apps",
            "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars",
            "--force-device-scale-factor=1", "--font-render-hinting=none",
            # nothing can be resolved: a request that escapes the Fetch check still goes nowhere
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
            "about:blank",
        ]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog,
                                     preexec_fn=child_fds, close_fds=False,
                                     start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        except OSError as e:
            raise Failure("the browser is gone (%s; exit status %s)" % (e, self.proc.poll()))
        return self.next_id

    def read_one(self, timeout):
        while b"\0" not in self.buf:
            left = min(timeout, self.deadline - time.monotonic())
            if left <= 0:
                raise Failure("timed out waiting for the browser")
            ready, _, _ = select.select([self.from_child], [], [], left)
            if not ready:
                raise Failure("timed out waiting for the browser")
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise Failure("the browser closed the protocol pipe (exit status %s)" % self.proc.poll())
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30):
        want = self.send(method, params, session)
        while True:
            msg = self.read_one(timeout)
            if msg.get("id") == want:
                if "error" in msg:
                    raise Failure("%s: %s" % (method, msg["error"].get("message")))
                return msg.get("result", {})
            if "method" in msg:
                self.handle(msg)

    def pump(self, seconds):
        """Handle events for SECONDS (late console messages)."""
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                msg = self.read_one(max(0.01, end - time.monotonic()))
                if "method" in msg:
                    self.handle(msg)
        except Failure:
            if self.proc.poll() is not None:
                raise

    def handle(self, msg):
        """Record an event; a paused request is let through when local, else refused and kept;
        a dialog (alert, confirm, prompt) is dismissed, else the page would wait for a click."""
        if msg["method"] == "Page.javascriptDialogOpening":
            self.send("Page.handleJavaScriptDialog", {"accept": False}, msg.get("sessionId"))
        elif msg["method"] in ("Inspector.targetCrashed", "Target.targetCrashed"):
            self.events.append(msg)
            raise Failure("the page's renderer crashed")
        elif msg["method"] == "Fetch.requestPaused":
            rid, rurl = msg["params"]["requestId"], msg["params"]["request"]["url"]
            if rurl.startswith(LOCAL_SCHEMES):
                self.send("Fetch.continueRequest", {"requestId": rid}, msg.get("sessionId"))
                return
            self.send("Fetch.failRequest", {"requestId": rid, "errorReason": "BlockedByClient"},
                      msg.get("sessionId"))
        self.events.append(msg)

    def group_alive(self):
        """PIDs of the browser's process group that are not zombies.  Helpers that exit after
        the browser are reparented to PID 1, which may reap them seconds later: a zombie still
        makes killpg succeed, so killpg cannot tell whether the group is gone."""
        alive = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid and fields[0] != "Z":
                alive.append(int(entry))
        return alive

    def close(self):
        # Step: ask nicely, then signal the whole process group (renderers, zygote, GPU,
        # crashpad), polling until no member of it is alive.
        try:
            self.send("Browser.close")
        except Failure:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not self.group_alive():
                break
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            end = time.monotonic() + 3
            while self.group_alive() and time.monotonic() < end:
                time.sleep(0.05)
        try:
            self.proc.wait(1)
        except subprocess.TimeoutExpired:
            pass
        left = self.group_alive()
        if left:
            print("chromium-cdp.py: processes %s of group %d survived SIGKILL" % (left, self.proc.pid),
                  file=sys.stderr)
        os.close(self.to_child)
        os.close(self.from_child)


def arg_text(arg):
    if "value" in arg:
        return arg["value"] if isinstance(arg["value"], str) else json.dumps(arg["value"])
    return arg.get("description") or arg.get("unserializableValue") or arg.get("type", "?")


def collect(events, session):
    """console.txt lines and the external URLs from the recorded events."""
    lines, external = [], []
    level_of = {"error": "error", "assert": "error", "warning": "warning", "info": "info",
                "debug": "debug", "trace": "debug"}
    for msg in events:
        if msg.get("sessionId") != session:
            continue
        method, p = msg["method"], msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(arg_text(a) for a in p.get("args", []))
            lines.append("%s console %s" % (level_of.get(p["type"], "log"), text))
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = (d.get("exception") or {}).get("description") or d.get("text", "")
            lines.append("error exception %s (%s:%d)" % (text.split("\n")[0], d.get("url", "?"),
                                                          d.get("lineNumber", -1) + 1))
        elif method == "Page.javascriptDialogOpening":
            lines.append("error dialog %s %s" % (p.get("type"), p.get("message")))
        elif method == "Log.entryAdded":
            e = p["entry"]
            lines.append("%s log %s: %s%s" % (e["level"], e["source"], e["text"],
                                               " " + e["url"] if e.get("url") else ""))
        elif method == "Fetch.requestPaused":
            external.append(p["request"]["url"])
    return [l.replace("\n", " ") for l in lines], external


def main():
    if len(sys.argv) < 6:
        print("usage: chromium-cdp.py BINARY URL OUTDIR HEIGHT WIDTH...", file=sys.stderr)
        return 2
    binary, url, outdir, height = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    widths = [int(w) for w in sys.argv[5:]]
    deadline = time.monotonic() + float(os.environ.get("CHROMIUM_TIMEOUT", "60"))
    full_page = os.environ.get("CHROMIUM_FULL_PAGE", "") not in ("", "0")
    profile = os.path.join(outdir, "profile")
    os.makedirs(profile, exist_ok=True)

    session = None

    def write(name, text):
        with open(os.path.join(outdir, name), "w", encoding="utf-8") as f:
            f.write(text)

    def on_term(signum, frame):
        raise Failure("stopped by signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)

    with open(os.path.join(outdir, "browser.stderr"), "wb") as errlog:
        browser = Browser(binary, profile, errlog, deadline)
        with open(os.path.join(outdir, "browser.pid"), "w") as f:
            f.write("%d\n" % browser.proc.pid)
        try:
            # Step: a fresh page target and a flat session on it.
            t0 = browser.started
            target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            timing = ["start %.0f" % ((time.monotonic() - t0) * 1000)]
            s = session = browser.call("Target.attachToTarget",
                                       {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Inspector", "Runtime", "Log", "Page"):
                browser.call(domain + ".enable", session=s)
            # Step: every request is paused here first; any that is not local is refused (and
            # listed), so a report that is not self-contained is caught and nothing leaves.
            browser.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session=s)
            browser.call("Emulation.setDeviceMetricsOverride",
                         {"width": widths[0], "height": height, "deviceScaleFactor": 1, "mobile": False},
                         session=s)
            nav = browser.send("Page.navigate", {"url": url}, s)
            # Step: until the load event, answering paused requests as they come.
            loaded = False
            while not loaded:
                msg = browser.read_one(30)
                if msg.get("id") == nav and "error" in msg:
                    raise Failure("Page.navigate: %s" % msg["error"].get("message"))
                if msg.get("id") == nav and msg.get("result", {}).get("errorText"):
                    raise Failure("Page.navigate: %s" % msg["result"]["errorText"])
                if "method" not in msg:
                    continue
                browser.handle(msg)
                if msg["method"] == "Page.loadEventFired" and msg.get("sessionId") == s:
                    loaded = True
            timing.append("load %.0f" % ((time.monotonic() - t0) * 1000))
            # late messages (timers of 0 ms, the failed-load log entries)
            browser.pump(0.3)
            dom = browser.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                                    "returnByValue": True}, s)["result"].get("value", "")
            write("dom.html", dom)
            # Step: per width, the layout settled (two animation frames), then text, layout, PNG.
            for w in widths:
                browser.call("Emulation.setDeviceMetricsOverride",
                             {"width": w, "height": height, "deviceScaleFactor": 1, "mobile": False}, s)
                browser.call("Runtime.evaluate", {
                    "expression": "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))",
                    "awaitPromise": True}, s)
                res = browser.call("Runtime.evaluate", {
                    "expression": "JSON.stringify([document.body.innerText, window.innerWidth, "
                                  "document.documentElement.scrollWidth, "
                                  "document.documentElement.scrollHeight])",
                    "returnByValue": True}, s)["result"].get("value", "[\"\",0,0,0]")
                text, inner, scroll, page_height = json.loads(res)
                write("text-%d.txt" % w, text + "\n")
                write("layout-%d.txt" % w, "%d %d %d\n" % (inner, scroll, page_height))
                shot = {"format": "png"}
                if full_page:
                    # the whole page at this width, not only the viewport
                    shot.update(captureBeyondViewport=True, clip={
                        "x": 0, "y": 0, "width": w, "height": max(page_height, 1), "scale": 1})
                png = browser.call("Page.captureScreenshot", shot, s)["data"]
                with open(os.path.join(outdir, "shot-%d.png" % w), "wb") as f:
                    f.write(base64.b64decode(png))
            browser.pump(0.1)
            timing.append("done %.0f" % ((time.monotonic() - t0) * 1000))
            write("timing.txt", " ".join(timing) + " (ms from the browser's start)\n")
            return 0
        except Failure as e:
            print("chromium-cdp.py: %s" % e, file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            # what the page said up to here, also when it failed (a hung page's messages)
            lines, external = collect(browser.events, session)
            write("console.txt", "".join(l + "\n" for l in lines))
            write("external.txt", "".join(u + "\n" for u in external))
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
