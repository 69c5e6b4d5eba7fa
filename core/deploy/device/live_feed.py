#!/usr/bin/env python3
"""Stream live.py's results to the station over the SSH channel that runs this script: nothing listens on the
device's network. A few times a second, when live.py has written a new status, one line goes out:

    {"status": {...status.json...}, "jpeg": "<base64 of overlay.jpg>"}

The station's `jetson://` source (core/deploy/live_feed.py) reads these lines; the script ends when the channel
closes (the station stopped watching). Python 3.8 syntax; standard library only.

    python3 device/live_feed.py --state-dir ~/inspection-station/live [--per-second 4]
"""

import argparse
import base64
import json
import os
import sys
import time
from typing import List, Optional, Tuple

STATUS_FILE = "status.json"  # as live_record.py writes them
OVERLAY_FILE = "overlay.jpg"


def read_state(state_dir: str) -> Tuple[Optional[dict], bytes]:
    """The status and the overlay JPEG as they are now (either may be missing while live.py starts)."""
    status, jpeg = None, b""
    try:
        with open(os.path.join(state_dir, STATUS_FILE)) as stream:
            status = json.load(stream)
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(state_dir, OVERLAY_FILE), "rb") as stream:
            jpeg = stream.read()
    except OSError:
        pass
    return status, jpeg


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Print live.py's status and overlay as JSON lines.")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--per-second", type=float, default=4.0)
    parser.add_argument("--heartbeat", type=float, default=2.0, help="repeat an unchanged status this often (s)")
    args = parser.parse_args(argv)
    period = 1.0 / max(args.per_second, 0.1)
    last_written, last_sent = None, 0.0
    try:
        while True:
            status, jpeg = read_state(args.state_dir)
            written = status.get("written_at") if status else None
            now = time.monotonic()
            if written != last_written or now - last_sent >= args.heartbeat:
                line = {"status": status, "jpeg": base64.b64encode(jpeg).decode("ascii")
                        if written != last_written else ""}
                sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
                sys.stdout.flush()
                last_written, last_sent = written, now
            time.sleep(period)
    except (BrokenPipeError, KeyboardInterrupt):
        return 0


if __name__ == "__main__":
    sys.exit(main())
