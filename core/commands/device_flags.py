"""The flags that name a device and how to log in to it, shared by `deploy` and `device`, and the loop that asks
about an unknown host key or a key passphrase when there is someone to ask."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from core.commands import arg_types
from core.deploy.errors import UnknownHostKey

if TYPE_CHECKING:  # paramiko is imported only when connecting
    from core.deploy.connection import SshTarget

DEFAULT_REMOTE_DIR = "~/inspection-station"
T = TypeVar("T")


def add_device_flags(parser: argparse.ArgumentParser) -> None:
    """--host, --port, --user, --key, --known-hosts, --trust-new-host, --remote-dir, --timeout."""
    parser.add_argument("--host", required=True, help="the Jetson's host name or address")
    parser.add_argument("--port", type=arg_types.whole_number(1, 65535), default=22)
    parser.add_argument("--user", required=True, help="login on the Jetson")
    parser.add_argument("--key", type=arg_types.input_file, help="private key (default: the SSH agent and ~/.ssh/id_*)")
    parser.add_argument("--remote-dir", default=DEFAULT_REMOTE_DIR,
                        help=f"deployment directory on the Jetson (default: {DEFAULT_REMOTE_DIR})")
    parser.add_argument("--known-hosts", type=Path, help="known_hosts file (default: ~/.ssh/known_hosts)")
    parser.add_argument("--trust-new-host", action="store_true",
                        help="trust an unknown host key (never a changed one) and remember it")
    parser.add_argument("--timeout", type=arg_types.SECONDS, default=60.0, help="seconds allowed per remote step")


def target_of(args: argparse.Namespace) -> SshTarget:
    from core.deploy.connection import SshTarget

    return SshTarget(args.host, args.user, args.port, args.key, args.known_hosts,
                     connect_timeout=min(args.timeout, 15.0))


def with_prompts(args: argparse.Namespace, action: Callable[[SshTarget, str | None], T]) -> T:
    """`action(target, passphrase)`, asking about an unknown host key (or trusting it with --trust-new-host) and
    for a key's passphrase when there is a terminal; the error itself otherwise."""
    from core.deploy.errors import KeyNeedsPassphrase
    from core.deploy.host_keys import trust_host_key

    target = target_of(args)
    passphrase: str | None = None
    trusted, asked = False, 0
    while True:
        try:
            return action(target, passphrase)
        except UnknownHostKey as unknown:
            if trusted or not (args.trust_new_host or _confirm(unknown)):
                raise
            path = trust_host_key(unknown.host, unknown.port, unknown.key_type, unknown.key_base64,
                                  args.known_hosts)
            print(f"added {unknown.key_type} {unknown.fingerprint} for {unknown.host} to {path}")
            trusted = True
        except KeyNeedsPassphrase:
            if asked >= 3 or not sys.stdin.isatty():
                raise
            passphrase = getpass.getpass(f"passphrase for {args.key}: ")
            asked += 1


def _confirm(unknown: UnknownHostKey) -> bool:
    if not sys.stdin.isatty():
        return False
    print(f"The host key of {unknown.host} port {unknown.port} is not known:\n  {unknown.key_type} "
          f"{unknown.fingerprint}\nCompare it with the device's (ssh-keygen -lf on its /etc/ssh/ssh_host_*.pub).")
    return input("Trust it and remember it? [y/N] ").strip().lower() in ("y", "yes")
