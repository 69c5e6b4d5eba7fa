"""`python -m core deploy`: push a bundle (or a model, exported on the way) to a Jetson and build its engine there.

    python -m core deploy --model DIR_OR_BUNDLE --host HOST [--port 22] --user USER [--key PATH]
                          [--remote-dir PATH] [--build/--no-build] [--known-hosts PATH] [--trust-new-host]
                          [--start-live SOURCE [--headless] [--loop] [--category NAME] [--manager ...]]

After the switch, live inspection is started on the device (--start-live), or restarted on the new release where
it was running (see `python -m core device`).

Expected failures (unknown host key, refused key, unreachable device, no disk space, failed build...) are printed
as one clear message and exit with status 1; an unknown host key is asked about on a terminal, or trusted with
--trust-new-host. Exit status 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.commands import arg_types
from core.commands.device import add_live_flags, after_switch
from core.commands.device_flags import add_device_flags, with_prompts
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
    add_device_flags(parser)
    parser.add_argument("--build", action=argparse.BooleanOptionalAction, default=True,
                        help="build the TensorRT engine on the device before activating (default: --build)")
    parser.add_argument("--max-batch", type=arg_types.whole_number(1, 256), default=4,
                        help="largest batch the engine accepts (default 4)")
    parser.add_argument("--retries", type=arg_types.whole_number(0, 100), default=3,
                        help="reconnections after a dropped connection")
    parser.add_argument("--build-timeout", type=arg_types.SECONDS, default=3600.0, help="seconds allowed for the build")
    parser.add_argument("--log-dir", type=arg_types.output_folder, default=DEFAULT_LOG_DIR,
                        help=f"where the local deployment log goes (default: {DEFAULT_LOG_DIR})")
    parser.add_argument("--start-live", metavar="SOURCE",
                        help="then run live inspection on the device's display from SOURCE (csi://0, "
                             "v4l2:///dev/video0, rtsp://..., file://...); see `python -m core device`")
    add_live_flags(parser)
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
            result = with_prompts(args, lambda target, passphrase: _drive(bundle, target, options, passphrase))
            live = after_switch(args, result.current_path.rsplit("/", 1)[0])
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
    if live:
        print(live)
    return 0


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
