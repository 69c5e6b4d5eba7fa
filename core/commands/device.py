"""`python -m core device`: live inspection on a deployed Jetson, managed from the station.

    python -m core device --host HOST --user USER [--key PATH] [--remote-dir DIR] status
    python -m core device --host HOST --user USER start --source csi://0 [--headless] [--loop] [--category NAME]
                                                        [--manager {auto,systemd,process}]
    python -m core device --host HOST --user USER stop
    python -m core device --host HOST --user USER logs [--lines 50]

`start` runs device/live.py of the current release as a systemd user service where the device has a systemd user
session, else as a detached supervised process (the output says which); both restart it on failure. `status`
shows the release, source, FPS, latency split, memory and last verdict, and why it failed when it did. Exit
status 1 on an expected failure (unreachable device, nothing deployed), with one clear message.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from core.commands import arg_types
from core.commands.device_flags import add_device_flags, with_prompts
from core.deploy.live_service import MANAGERS
from core.errors import InputError

if TYPE_CHECKING:
    from core.deploy.connection import SshTarget
    from core.deploy.live_service import LiveOptions


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "device",  # its --help line: core.cli.COMMANDS on main ("start, stop and watch live inspection on a Jetson")
        description="Manage live inspection (device/live.py of the current release) on a Jetson over SSH.")
    add_device_flags(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("status", help="release, source, FPS, latency, memory, last verdict, failure reason")
    starting = actions.add_parser("start", help="start (or restart) live inspection on the device")
    starting.add_argument("--source", required=True, help="csi://0, v4l2:///dev/video0, rtsp://..., file://...")
    add_live_flags(starting)
    actions.add_parser("stop", help="stop live inspection on the device")
    logging = actions.add_parser("logs", help="the last lines of live inspection's output on the device")
    logging.add_argument("--lines", type=arg_types.whole_number(1, 100000), default=50)
    parser.set_defaults(run=run)
    return parser


def add_live_flags(parser: argparse.ArgumentParser) -> None:
    """How live.py runs on the device (shared with `deploy --start-live`)."""
    parser.add_argument("--headless", action="store_true", help="no window on the device's display")
    parser.add_argument("--loop", action="store_true", help="repeat a video file or folder source")
    parser.add_argument("--category", default="", help="the category the camera shows (its threshold applies)")
    parser.add_argument("--display", default=":0", help="the device's X display (default :0)")
    parser.add_argument("--manager", choices=MANAGERS, default="auto",
                        help="systemd user service, or a supervised process (default: systemd where it works)")
    parser.add_argument("--restart-sec", type=arg_types.SECONDS, default=5.0, help="wait before a restart")


def live_options(args: argparse.Namespace, source: str) -> LiveOptions:
    from core.deploy.live_service import LiveOptions

    return LiveOptions(source=source, headless=args.headless, loop=args.loop, category=args.category,
                       display=args.display, restart_sec=args.restart_sec)


def run(args: argparse.Namespace) -> int:
    try:
        print(with_prompts(args, lambda target, passphrase: _act(args, target, passphrase)))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def after_switch(args: argparse.Namespace, root: str) -> str:
    """After `deploy` switched `current`: start live inspection (--start-live) or restart it where it ran, so it
    runs the new release; what was done, in words ("" when nothing ran)."""
    from core.deploy import live_service
    from core.deploy.remote import connected

    def act(target: SshTarget, passphrase: str | None) -> str:
        with connected(target, passphrase, args.timeout) as remote:
            if args.start_live:
                started = live_service.start(remote, root, live_options(args, args.start_live), args.manager)
                return "live: " + live_service.describe(started)
            restarted = live_service.restart_if_running(remote, root)
            return f"live inspection restarted on the new release ({restarted})" if restarted else ""

    return with_prompts(args, act)


def _act(args: argparse.Namespace, target: SshTarget, passphrase: str | None) -> str:
    from core.deploy import live_service
    from core.deploy.releases import resolve_root
    from core.deploy.remote import connected

    with connected(target, passphrase, args.timeout) as remote:
        root = resolve_root(remote, args.remote_dir)
        if args.action == "start":
            started = live_service.start(remote, root, live_options(args, args.source), args.manager)
            return live_service.describe(started)
        if args.action == "stop":
            stopped = live_service.stop(remote, root)
            return f"stopped ({', '.join(stopped)})" if stopped else "live inspection was not running"
        if args.action == "logs":
            return live_service.logs(remote, root, args.lines).rstrip() or "no output recorded yet"
        return live_service.describe(live_service.status(remote, root))
