#!/usr/bin/env python3
"""Load a page in headless Chromium and report what happened, as JSON on stdout.

Drives Chromium through the DevTools protocol over --remote-debugging-pipe (file descriptors 3 and 4, messages
separated by NUL), so it needs nothing but the standard library and Debian's `chromium`.

    check-page.py URL [--screenshot FILE.png] [--step NAME=JS]... [--timeout S]

It waits until the page sets <html data-ready="1"> (the report does when it is interactive) and then
data-detail="1", runs each --step in order (a JavaScript expression; a Promise is awaited; the value must be
JSON-serialisable; `wait:EXPR` polls until EXPR is truthy) and prints:

    {"ready_ms": ..., "interactive_ms": ..., "detail_ms": ..., "load_ms": ...,
     "console_errors": [...], "exceptions": [...], "log_errors": [...],
     "requests": [urls the page asked for], "results": {"NAME": value, ...},
     "seq_changes": [[unix_seconds, seq, shown_ms], ...]}   (shown_ms: when the page showed it, its own clock)

interactive_ms is the report's own performance mark (from navigation start); ready_ms is the same moment seen from
here. Exit 0 when the page became ready, 1 otherwise (the JSON says why).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, width, height):
        # Debian's /usr/bin/chromium is a shell wrapper; the binary itself keeps the pipe descriptors simply.
        exe = next((p for p in ("/usr/lib/chromium/chromium",) if os.access(p, os.X_OK)), None) \
            or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not exe:
            raise SystemExit("chromium is not installed (Debian: apt-get install chromium)")
        self.profile = tempfile.mkdtemp(prefix="clowdr-chromium-")
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()

        def child_fds():
            # Through high numbers first: a pipe end may already be 3 or 4, and must survive exec either way.
            r, w = os.dup(to_child_r) + 100, os.dup(from_child_w) + 100
            os.dup2(to_child_r, r)
            os.dup2(from_child_w, w)
            os.dup2(r, 3)
            os.dup2(w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        args = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}", "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
            "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider", "--disable-dev-shm-usage",
            "about:blank",
        ]
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self.out = os.fdopen(to_child_w, "wb", buffering=0)
        self.inp = os.fdopen(from_child_r, "rb", buffering=0)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self):
        while b"\0" not in self.buffer:
            chunk = self.inp.read(1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.out.write(json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--screenshot")
    parser.add_argument("--step", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args()

    browser = Browser(args.width, args.height)
    result = {"console_errors": [], "exceptions": [], "log_errors": [], "requests": [], "results": {}, "seq_changes": []}
    ok = False
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Network", "Log", "Page"):
            browser.send(f"{domain}.enable", session=session)

        def evaluate(expression, await_promise=True):
            r = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": await_promise}, session)
            if "exceptionDetails" in r:
                d = r["exceptionDetails"]
                raise RuntimeError(d.get("exception", {}).get("description") or d.get("text"))
            return r.get("result", {}).get("value")

        def wait_for(expression, timeout):
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    if evaluate(f"!!({expression})", False):
                        return True
                except RuntimeError:
                    pass  # e.g. no document yet while the navigation commits
                time.sleep(0.05)
            return False

        started = time.time()
        browser.send("Page.navigate", {"url": args.url}, session)
        if not wait_for("document.documentElement?.dataset.ready === '1'", args.timeout):
            result["error"] = f"the page did not become ready within {args.timeout} s"
        else:
            result["ready_ms"] = round((time.time() - started) * 1000, 1)
            result["interactive_ms"] = evaluate("(performance.getEntriesByName('clowdr-interactive')[0] || {}).startTime")
            if wait_for("document.documentElement?.dataset.detail === '1'", args.timeout):
                result["detail_ms"] = round((time.time() - started) * 1000, 1)
            result["load_ms"] = evaluate("(performance.getEntriesByType('navigation')[0] || {}).loadEventEnd")
            # The seq shown and when the page showed it, read together (a change between two reads would pair them wrongly).
            shown = lambda: (evaluate("[document.body?.dataset.seq, document.body?.dataset.shownAt].join('@')", False) or "@").split("@")
            last_seq, at = shown()
            result["seq_changes"].append([time.time(), last_seq, at])
            ok = True
            for step in args.step:
                name, _, expression = step.partition("=")
                if expression.startswith("wait:"):
                    deadline = time.time() + args.timeout
                    value = False
                    while time.time() < deadline and not value:
                        try:
                            value = bool(evaluate(f"!!({expression[5:]})", False))
                        except RuntimeError:
                            value = False
                        seq, at = shown()
                        if seq != last_seq:
                            last_seq = seq
                            result["seq_changes"].append([time.time(), seq, at])
                        if not value:
                            time.sleep(0.05)
                    result["results"][name] = value
                else:
                    try:
                        result["results"][name] = evaluate(expression)
                    except RuntimeError as e:
                        result["results"][name] = {"error": str(e)}
            if args.screenshot:
                metrics = browser.send("Page.getLayoutMetrics", session=session)
                size = metrics.get("cssContentSize") or metrics.get("contentSize")
                shot = browser.send("Page.captureScreenshot", {
                    "format": "png", "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1},
                }, session)
                import base64
                with open(args.screenshot, "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
        # Drain what is pending, then sort the events out.
        browser.send("Runtime.evaluate", {"expression": "1"}, session)
        for event in browser.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                result["console_errors"].append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                d = params.get("exceptionDetails", {})
                result["exceptions"].append(d.get("exception", {}).get("description") or d.get("text"))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                result["log_errors"].append(params["entry"].get("text"))
            elif method == "Network.requestWillBeSent":
                result["requests"].append(params.get("request", {}).get("url", "")[:200])
    except Exception as e:  # report, never hang
        result["error"] = f"{type(e).__name__}: {e}"
        ok = False
    finally:
        browser.close()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
