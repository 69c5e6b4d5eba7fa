"""`python -m core deploy`: push a bundle (or a model, exported on the way) to a Jetson and build its engine there.

    python -m core deploy --model DIR_OR_BUNDLE --host HOST [--port 22] --user USER [--key PATH]
                          [--remote-dir PATH] [--build/--no-build] [--known-hosts PATH] [--trust-new-host]

Expected failures (unknown host key, refused key, unreachable device, no disk space, failed build...) are printed
as one clear message and exit with status 1; an unknown host key is asked about on a terminal, or trusted with
--trust-new-host. Exit status 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.commands import arg_types
from core.deploy.errors import UnknownHostKey
from core.errors import InputError

if TYPE_CHECKING:  # the real imports happen in run(): paramiko and tqdm only when deploying
    from core.deploy.connection import SshTarget
    from core.deploy.push import DeployOptions, DeployResult

DEFAULT_LOG_DIR = Path("runs/deploy")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `deploy` subcommand to an argparse sub-parsers object; returns its parser (run it with `run`)."""
    parser = subparsers.add_parser(
        "deploy",  # its --help line: core.cli.COMMANDS
        description="Upload a deployment bundle to a Jetson, verify it there, build its TensorRT engine with the "
                    "device's trtexec and make it the active deployment. The previous deployment stays active "
                    "until the new one is verified (and built).")
    parser.add_argument("--model", required=True, type=Path, metavar="DIR_OR_BUNDLE",
                        help="a deployment bundle, or a model directory to export to one first")
    parser.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="int8",
                        help="precision of the bundle exported from a model directory (default: int8)")
    parser.add_argument("--host", required=True, help="the Jetson's host name or address")
    parser.add_argument("--port", type=arg_types.whole_number(1, 65535), default=22)
    parser.add_argument("--user", required=True, help="login on the Jetson")
    parser.add_argument("--key", type=arg_types.input_file, help="private key (default: the SSH agent and ~/.ssh/id_*)")
    parser.add_argument("--remote-dir", default="~/inspection-station",
                        help="deployment directory on the Jetson (default: ~/inspection-station)")
    parser.add_argument("--build", action=argparse.BooleanOptionalAction, default=True,
                        help="build the TensorRT engine on the device before activating (default: --build)")
    parser.add_argument("--known-hosts", type=Path, help="known_hosts file (default: ~/.ssh/known_hosts)")
    parser.add_argument("--trust-new-host", action="store_true",
                        help="trust an unknown host key (never a changed one) and remember it")
    parser.add_argument("--max-batch", type=arg_types.whole_number(1, 256), default=4,
                        help="largest batch the engine accepts (default 4)")
    parser.add_argument("--retries", type=arg_types.whole_number(0, 100), default=3,
                        help="reconnections after a dropped connection")
    parser.add_argument("--timeout", type=arg_types.SECONDS, default=60.0, help="seconds allowed per remote step")
    parser.add_argument("--build-timeout", type=arg_types.SECONDS, default=3600.0, help="seconds allowed for the build")
    parser.add_argument("--log-dir", type=arg_types.output_folder, default=DEFAULT_LOG_DIR,
                        help=f"where the local deployment log goes (default: {DEFAULT_LOG_DIR})")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the deploy subcommand; the process exit status."""
    from core.deploy.connection import check_key
    from core.deploy.push import DeployOptions
    from core.deploy.source import resolve_bundle

    options = DeployOptions(remote_dir=args.remote_dir, build=args.build, max_batch=args.max_batch,
                            retries=args.retries, command_timeout=args.timeout, build_timeout=args.build_timeout,
                            log_dir=args.log_dir)
    try:
        if args.key is not None:
            check_key(args.key)
        with tempfile.TemporaryDirectory(prefix="deploy-") as work:
            bundle = resolve_bundle(args.model, precision=args.precision, work_dir=Path(work))
            result = _deploy_with_prompts(bundle, args, options)
    except KeyboardInterrupt:
        print("\ncancelled; the device's active deployment only changes at the final switch", file=sys.stderr)
        return 130
    except InputError as error:
        hint = " Once checked, run again with --trust-new-host." if isinstance(error, UnknownHostKey) else ""
        print(f"error: {error}{hint}", file=sys.stderr)
        return 1
    engine = (f"engine built with TensorRT {result.engine_info.get('tensorrt')} in "
              f"{result.engine_info.get('seconds')} s" if result.engine_info else
              f"engine not built (--no-build); on the device: cd {result.release_path} && "
              f"python3 device/build_engine.py")
    print(f"deployed {args.model} to {result.host} in {result.seconds:.1f} s ({result.bundle_bytes / 1e6:.1f} MB, "
          f"{result.bytes_sent / 1e6:.1f} MB sent); {engine}")
    print(f"active: {result.current_path} -> {result.release_path}")
    if result.local_log:
        print(f"log: {result.local_log}")
    return 0


def _deploy_with_prompts(bundle: Path, args: argparse.Namespace, options: DeployOptions) -> DeployResult:
    """Deploy, asking about an unknown host key or a key passphrase when there is someone to ask."""
    from core.deploy.connection import SshTarget
    from core.deploy.errors import KeyNeedsPassphrase
    from core.deploy.host_keys import trust_host_key

    target = SshTarget(args.host, args.user, args.port, args.key, args.known_hosts,
                       connect_timeout=min(args.timeout, 15.0))
    passphrase: str | None = None
    trusted, asked = False, 0
    while True:
        try:
            return _drive(bundle, target, options, passphrase)
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


def _drive(bundle: Path, target: SshTarget, options: DeployOptions, passphrase: str | None) -> DeployResult:
    """Run the deploy job with a byte bar for the upload and the other messages (build log too) as lines."""
    from tqdm import tqdm

    from core.deploy.push import deploy
    from core.jobs import CancelToken

    job = deploy(bundle, target, CancelToken(), options, passphrase=passphrase)
    bar = None
    try:
        while True:
            try:
                record = next(job)
            except StopIteration as finished:
                return finished.value
            if record.stage == "upload":
                if bar is None:
                    bar = tqdm(total=record.total, unit="B", unit_scale=True, desc="upload", leave=False)
                bar.update(record.step - bar.n)
                continue
            if bar is not None:
                bar.close()
                bar = None
            tqdm.write(f"[{record.stage}] {record.message}")
    finally:
        if bar is not None:
            bar.close()
        job.close()


def _confirm(unknown: UnknownHostKey) -> bool:
    if not sys.stdin.isatty():
        return False
    print(f"The host key of {unknown.host} port {unknown.port} is not known:\n  {unknown.key_type} "
          f"{unknown.fingerprint}\nCompare it with the device's (ssh-keygen -lf on its /etc/ssh/ssh_host_*.pub).")
    return input("Trust it and remember it? [y/N] ").strip().lower() in ("y", "yes")
