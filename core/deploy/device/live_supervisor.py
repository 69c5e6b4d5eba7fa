#!/usr/bin/env python3
"""Keep live.py running where there is no systemd user session (a login without one, a container): the same rules
as the generated unit (Restart=on-failure, RestartSec, StartLimitBurst in StartLimitIntervalSec), in a plain
detached process.

    python3 device/live_supervisor.py --state-dir ~/inspection-station/live -- \\
        python3 ~/inspection-station/current/device/live.py --bundle ~/inspection-station/current --source csi://0

The command is started again after a failure (not after a clean exit), each time through the paths it was given,
so a `current` switched meanwhile starts the new release. The child's output is appended to live.log. In the state
folder: supervisor.pid (this process, which leads its process group), supervisor.json (restarts, last exit, state)
and exit.txt (how the last run ended). SIGTERM stops the child, then the supervisor.

Python 3.8 syntax; standard library only, on purpose: it must be able to report a live.py that cannot even
import numpy or OpenCV (hence its own small atomic write instead of live_record's).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from typing import Deque, List, Optional

PID_FILE = "supervisor.pid"
STATE_FILE = "supervisor.json"
EXIT_FILE = "exit.txt"
REASON_FILE = "reason.txt"  # live.py's own words (live_record.REASON_FILE)
LOG_FILE = "live.log"
LOG_MAX_BYTES = 5 * 1000 * 1000


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Restart a command when it fails, like systemd's on-failure.")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--restart-sec", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=5, help="failures allowed within --interval seconds")
    parser.add_argument("--interval", type=float, default=300.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("no command to supervise (give it after --)")
    return args


def _write(path: str, text: str) -> None:
    temporary = "{}.{}.tmp".format(path, os.getpid())
    with open(temporary, "w") as stream:
        stream.write(text)
    os.replace(temporary, path)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Supervisor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state_dir = args.state_dir
        self.child = None  # type: Optional[subprocess.Popen]
        self.stopping = False
        self.restarts = 0
        self.last_exit = ""
        self.failures = deque()  # type: Deque[float]

    def _state(self, state: str) -> None:
        record = dict(state=state, pid=os.getpid(), restarts=self.restarts, command=self.args.command,
                      child_pid=self.child.pid if self.child is not None else None, at=_now(),
                      last_exit=self.last_exit)
        _write(os.path.join(self.state_dir, STATE_FILE), json.dumps(record, indent=1))

    def _log(self):  # noqa: ANN202 - an open file
        path = os.path.join(self.state_dir, LOG_FILE)
        if os.path.exists(path) and os.path.getsize(path) > LOG_MAX_BYTES:
            os.replace(path, path + ".1")
        return open(path, "ab")

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        _write(os.path.join(self.state_dir, PID_FILE), "{}\n".format(os.getpid()))
        try:
            return self._loop()
        finally:
            try:
                os.remove(os.path.join(self.state_dir, PID_FILE))
            except OSError:
                pass

    def _loop(self) -> int:
        while not self.stopping:
            started = time.time()
            with self._log() as log:
                log.write("{} supervisor: starting {}\n".format(_now(), " ".join(self.args.command)).encode())
                log.flush()
                output_from = log.tell()
                self.child = subprocess.Popen(self.args.command, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL)
            self._state("running")
            status = self.child.wait()
            if self.stopping:
                break
            how = "exited with status {}".format(status) if status >= 0 else "killed by signal {}".format(-status)
            self.last_exit = how
            _write(os.path.join(self.state_dir, EXIT_FILE), "{} live.py {}\n".format(_now(), how))
            if status > 0:
                self._reason_from_output(started, output_from)
            if status == 0:
                self._state("exited")
                return 0
            now = time.monotonic()
            self.failures.append(now)
            while self.failures and now - self.failures[0] > self.args.interval:
                self.failures.popleft()
            if len(self.failures) >= self.args.burst:
                _write(os.path.join(self.state_dir, EXIT_FILE),
                       "{} live.py {}; gave up after {} failures within {:.0f} s (as systemd's StartLimitBurst)\n"
                       .format(_now(), how, len(self.failures), self.args.interval))
                self._state("gave-up")
                return 1
            self._state("restarting")
            deadline = time.monotonic() + self.args.restart_sec
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.05)
            self.restarts += 1
        self._state("stopped")
        return 0

    def _reason_from_output(self, started: float, output_from: int) -> None:
        """A live.py that failed before it could say why (an import error, a crash) leaves its last output line
        as the reason; one that wrote reason.txt itself has said it better."""
        reason = os.path.join(self.state_dir, REASON_FILE)
        if os.path.exists(reason) and os.path.getmtime(reason) >= started - 1:
            return
        try:
            with open(os.path.join(self.state_dir, LOG_FILE), "rb") as stream:
                stream.seek(output_from)
                lines = [line.strip() for line in stream.read()[-8192:].decode(errors="replace").splitlines()]
        except OSError:
            return
        last = next((line for line in reversed(lines) if line), "no output")
        _write(reason, "{} live.py failed before reporting why; its last output: {}\n".format(_now(), last))

    def _stop(self, signum: int, frame: object) -> None:
        # Only flag and pass the signal on: the main loop is inside child.wait() (the station's `device stop`
        # kills the whole process group if the child does not end in time).
        self.stopping = True
        if self.child is not None:
            self.child.terminate()


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    return Supervisor(args).run()


if __name__ == "__main__":
    sys.exit(main())
