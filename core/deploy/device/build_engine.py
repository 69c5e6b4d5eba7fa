#!/usr/bin/env python3
"""Build the TensorRT engine of a deployment bundle on the Jetson itself, with the trtexec it finds there.

Engines are specific to the TensorRT version and the GPU, so they are built where they run. This script picks the
trtexec flags for the TensorRT version it detects:

- TensorRT 8.x (JetPack 5, Xavier NX): a Q/DQ (INT8) graph needs `--int8`, plus `--fp16` so the layers left
  unquantized may run in FP16; an FP16 bundle needs `--fp16`.
- TensorRT 10.x (JetPack 6, Orin): graphs whose tensors already carry their types (Q/DQ, FP16 weights) are built
  `--stronglyTyped` (precision flags are not allowed with it); an FP32 graph meant for FP16 gets `--fp16`.

A dynamic batch dimension gets an explicit optimisation profile (`--minShapes/--optShapes/--maxShapes`). trtexec
then runs the engine a few times (`--iterations`), which proves it loads and executes on this device. Everything it
prints goes to the build log and to stdout; the engine is written to a temporary name and renamed when complete.

Runs on Python 3.8 (JetPack 5) and 3.10 (JetPack 6) with the standard library only; `tensorrt` is imported only to
read its version. Usage, from the bundle directory:

    python3 device/build_engine.py --bundle . [--max-batch 4] [--dry-run]

Exit status: 0 built; 2 bad bundle or arguments; 3 trtexec not found; 4 the build failed; 5 the build timed out;
6 the TensorRT version is unknown or not supported by this bundle.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, List, Optional, Tuple

EXIT_OK = 0
EXIT_BAD_BUNDLE = 2
EXIT_NO_TRTEXEC = 3
EXIT_BUILD_FAILED = 4
EXIT_TIMEOUT = 5
EXIT_UNSUPPORTED = 6

ENGINE_FILE = "model.engine"
ENGINE_INFO_FILE = "engine.json"
BUILD_LOG_FILE = "build.log"
RESULT_PREFIX = "BUILD_RESULT "
TRTEXEC_FALLBACKS = ("/usr/src/tensorrt/bin/trtexec",)
BUNDLE_FORMAT = "inspection-station-bundle"
SUPPORTED_FORMAT_VERSION = 1
TRT8_MAX_OPSET = 17  # the ONNX parser of TensorRT 8.5 reads opsets up to 17
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")  # as the host's core.artefact_dir allows

Version = Tuple[int, int, int]


class BundleProblem(Exception):
    """The bundle cannot be built here; the message says why."""


def parse_trt_version(text: str) -> Optional[Version]:
    """The TensorRT version in `text`, from any of the places it shows up.

    >>> parse_trt_version("&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # trtexec --help")
    (8, 5, 2)
    >>> parse_trt_version("[TensorRT v100300]"), parse_trt_version("10.3.0.30-1+cuda12.5")
    ((10, 3, 0), (10, 3, 0))
    """
    banner = re.search(r"TensorRT v(\d{4,6})\b", text)
    if banner:
        digits = banner.group(1)
        # NV_TENSORRT_VERSION: major*1000 + minor*100 + patch up to 8.x, major*10000 + minor*100 + patch from 10.
        if len(digits) == 4:
            return int(digits[0]), int(digits[1]), int(digits[2:])
        return int(digits[:-4]), int(digits[-4:-2]), int(digits[-2:])
    dotted = re.search(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{1,3})", text)
    if dotted:
        return int(dotted.group(1)), int(dotted.group(2)), int(dotted.group(3))
    return None


def version_from_python() -> Optional[Version]:
    """The version of the `tensorrt` Python module (JetPack installs it for the system python3)."""
    try:
        import tensorrt  # noqa: PLC0415 - only to read its version; absent on machines without TensorRT
    except Exception:  # noqa: BLE001 - ImportError, or a broken CUDA install failing at import
        return None
    return parse_trt_version(str(getattr(tensorrt, "__version__", "")))


def version_from_trtexec(trtexec: str) -> Optional[Version]:
    """The version in trtexec's banner ("[TensorRT v8502]"), which it prints before anything else."""
    try:
        done = subprocess.run([trtexec, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_trt_version(done.stdout[:4096])


def version_from_dpkg() -> Optional[Version]:
    """The version of the libnvinfer Debian package (libnvinfer8 on JetPack 5, libnvinfer10 on JetPack 6)."""
    try:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Version}\\n", "libnvinfer*"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    for line in done.stdout.splitlines():
        package, _, version = line.partition(" ")
        if re.fullmatch(r"libnvinfer\d+", package) and version:
            return parse_trt_version(version)
    return None


def detect_trt_version(trtexec: Optional[str]) -> Tuple[Optional[Version], str]:
    """The installed TensorRT version and where it was read: the Python module, trtexec's banner, or dpkg."""
    found = version_from_python()
    if found:
        return found, "python tensorrt module"
    if trtexec:
        found = version_from_trtexec(trtexec)
        if found:
            return found, "trtexec banner"
    found = version_from_dpkg()
    if found:
        return found, "dpkg libnvinfer"
    return None, "not found"


def find_trtexec(environ: Optional[dict] = None) -> Optional[str]:
    """trtexec from $TRTEXEC, the PATH, or where JetPack installs it (/usr/src/tensorrt/bin, not on the PATH)."""
    environ = os.environ if environ is None else environ
    candidates = [environ.get("TRTEXEC", ""), shutil.which("trtexec", path=environ.get("PATH")) or ""]
    candidates.extend(TRTEXEC_FALLBACKS)
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def bundle_file(bundle: str, name: object) -> str:
    """`bundle/name`, refused unless `name` is a plain relative name that resolves, symbolic links followed, inside
    the bundle: neither a manifest nor a copied bundle is trusted to keep this script inside its directory."""
    if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name) or {".", ".."} & set(name.split("/")):
        raise BundleProblem("unsafe file name {!r} in the bundle (entries must be plain relative names inside {}: "
                            "no '..', no absolute paths)".format(name, bundle))
    path = os.path.join(bundle, name)
    root, real = os.path.realpath(bundle), os.path.realpath(path)
    if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
        raise BundleProblem("{}: a symbolic link to {}, outside the bundle; refusing to use it".format(path, real))
    return path


def output_file(bundle: str, name: str) -> str:
    """A file this script writes in the bundle: never through a symbolic link (it would write wherever it points)."""
    path = bundle_file(bundle, name)
    if os.path.islink(path):
        raise BundleProblem("{}: is a symbolic link; refusing to write through it (delete it)".format(path))
    return path


def read_manifest(bundle: str) -> dict:
    """The bundle's manifest, checked for what this script needs."""
    try:
        path = bundle_file(bundle, "manifest.json")
        with open(path) as stream:
            manifest = json.load(stream)
    except (OSError, ValueError) as error:
        raise BundleProblem("{}: cannot read the manifest ({})".format(os.path.join(bundle, "manifest.json"), error))
    if not isinstance(manifest, dict):
        raise BundleProblem("{}: not a manifest (a JSON {})".format(path, type(manifest).__name__))
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleProblem("{}: not a deployment bundle (format {!r})".format(path, manifest.get("format")))
    if manifest.get("format_version") != SUPPORTED_FORMAT_VERSION:
        raise BundleProblem("{}: bundle format version {} is not supported by this script (it reads {})".format(
            path, manifest.get("format_version"), SUPPORTED_FORMAT_VERSION))
    for key in ("precision", "input", "graph"):
        if key not in manifest:
            raise BundleProblem("{}: the manifest has no {!r}".format(path, key))
    files = manifest.get("files", {})
    if not isinstance(files, dict) or not isinstance(manifest["graph"], dict):
        raise BundleProblem("{}: 'files' and 'graph' must be JSON objects".format(path))
    for name in list(files) + [manifest["graph"].get("file", "model.onnx")]:
        bundle_file(bundle, name)
    return manifest


def check_supported(version: Version, manifest: dict) -> None:
    """Refuse, with the reason, a bundle this TensorRT cannot parse (rather than a cryptic parser error)."""
    if version[0] < 8:
        raise BundleProblem("TensorRT {}.{}.{} is too old: explicit quantization and this bundle need 8.5 or newer"
                            .format(*version))
    if version[0] == 8:
        opset = int(manifest["graph"].get("opset", 0))
        if opset > TRT8_MAX_OPSET:
            raise BundleProblem("the graph uses ONNX opset {}, TensorRT {}.{} parses up to {}: export with opset {}"
                                .format(opset, version[0], version[1], TRT8_MAX_OPSET, TRT8_MAX_OPSET))
        if manifest["input"].get("dtype") == "uint8":
            raise BundleProblem("TensorRT {}.{} cannot take a uint8 network input: export the bundle with a "
                                "float32 input".format(version[0], version[1]))


def precision_flags(version: Version, manifest: dict) -> List[str]:
    """The builder precision flags for this TensorRT version and bundle (see the module docstring)."""
    precision = manifest["precision"]
    graph = manifest["graph"]
    typed = bool(graph.get("qdq")) or bool(graph.get("fp16_tensors"))
    if version[0] >= 9:  # strongly typed networks exist from TensorRT 9; JetPack 6 ships 10.3
        if typed:
            return ["--stronglyTyped"]
        return ["--fp16"] if precision == "fp16" else []
    if precision == "int8":
        return ["--int8", "--fp16"]
    return ["--fp16"] if precision == "fp16" else []


def shape_flags(input_spec: dict, opt_batch: int, max_batch: int) -> List[str]:
    """An optimisation profile for a dynamic batch dimension; nothing for a static input."""
    shape = list(input_spec["shape"])
    if isinstance(shape[0], int) and shape[0] > 0:
        return []
    rest = [int(size) for size in shape[1:]]
    if any(size <= 0 for size in rest):
        raise BundleProblem("input {!r} has dynamic dimensions other than the batch: {}".format(
            input_spec["name"], shape))

    def spec(batch: int) -> str:
        return "{}:{}".format(input_spec["name"], "x".join(str(size) for size in [batch] + rest))

    return ["--minShapes=" + spec(1), "--optShapes=" + spec(opt_batch), "--maxShapes=" + spec(max_batch)]


def trtexec_command(trtexec: str, version: Version, manifest: dict, onnx_path: str, engine_path: str,
                    opt_batch: int = 1, max_batch: int = 4) -> List[str]:
    """The whole trtexec command line for this bundle."""
    command = [trtexec, "--onnx=" + onnx_path, "--saveEngine=" + engine_path]
    command += precision_flags(version, manifest)
    command += shape_flags(manifest["input"], opt_batch, max_batch)
    # A short run of the built engine: proves it deserialises and executes here. (--skipInference is not used:
    # 8.x releases spell it differently.)
    command += ["--iterations=10", "--warmUp=0", "--duration=0"]
    return command


def run_logged(command: List[str], say: Callable[[str], None], timeout: float) -> Tuple[int, bool]:
    """Run `command`, passing each output line to `say`; kill it after `timeout` s. Returns (status, timed_out).

    The command gets a process group of its own, killed as a whole on time-out and when this script is hung up
    or terminated (the SSH session closing), so nothing is left building, or holding the output pipe, behind us.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                               errors="replace", bufsize=1, start_new_session=True)
    timed_out = threading.Event()

    def kill_group() -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def on_timeout() -> None:
        timed_out.set()
        kill_group()

    def on_signal(number: int, frame: object) -> None:
        raise SystemExit(128 + number)

    handlers = {number: signal.signal(number, on_signal) for number in (signal.SIGHUP, signal.SIGTERM)}
    timer = threading.Timer(timeout, on_timeout)
    timer.start()
    try:
        for line in process.stdout:
            say(line.rstrip("\n"))
        status = process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:
            kill_group()
            process.wait()
        for number, handler in handlers.items():
            signal.signal(number, handler)
    return status, timed_out.is_set()


def build(bundle: str, args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """Build the engine (or print the command with --dry-run); the exit status of the script."""
    try:
        manifest = read_manifest(bundle)
        engine, partial = output_file(bundle, ENGINE_FILE), output_file(bundle, ENGINE_FILE + ".partial")
        info_path = output_file(bundle, ENGINE_INFO_FILE)
    except BundleProblem as problem:
        say("error: {}".format(problem))
        return EXIT_BAD_BUNDLE
    trtexec = args.trtexec or find_trtexec()
    if trtexec is None and not args.dry_run:
        say("error: trtexec not found (looked at $TRTEXEC, the PATH and {}); install TensorRT (JetPack) to build "
            "the engine".format(", ".join(TRTEXEC_FALLBACKS)))
        return EXIT_NO_TRTEXEC
    if args.trt_version:
        version, source = parse_trt_version(args.trt_version), "--trt-version"
    else:
        version, source = detect_trt_version(trtexec)
    if version is None:
        say("error: cannot tell the TensorRT version (no tensorrt module, trtexec banner or libnvinfer package); "
            "give it with --trt-version")
        return EXIT_UNSUPPORTED
    say("TensorRT {}.{}.{} ({})".format(version[0], version[1], version[2], source))
    try:
        check_supported(version, manifest)
        command = trtexec_command(trtexec or "trtexec", version, manifest,
                                  bundle_file(bundle, manifest["graph"].get("file", "model.onnx")), partial,
                                  args.opt_batch, args.max_batch)
    except BundleProblem as problem:
        say("error: {}".format(problem))
        return EXIT_UNSUPPORTED
    say("command: " + " ".join(shlex.quote(part) for part in command))
    if args.dry_run:
        return EXIT_OK
    started = time.time()
    status, timed_out = run_logged(command, say, args.timeout)
    if timed_out:
        say("error: the build did not finish within {:.0f} s and was stopped".format(args.timeout))
        return EXIT_TIMEOUT
    if status != 0 or not os.path.isfile(partial) or os.path.getsize(partial) == 0:
        say("error: trtexec failed (exit status {}); see the lines above".format(status))
        return EXIT_BUILD_FAILED
    os.replace(partial, engine)
    info = {"engine": ENGINE_FILE, "tensorrt": "{}.{}.{}".format(*version), "command": command[1:],
            "seconds": round(time.time() - started, 1), "bytes": os.path.getsize(engine),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with open(info_path, "w") as stream:
        json.dump(info, stream, indent=2)
    say(RESULT_PREFIX + json.dumps(info))
    return EXIT_OK


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Build a bundle's TensorRT engine with trtexec.")
    parser.add_argument("--bundle", default=".", help="bundle directory (default: the current directory)")
    parser.add_argument("--log", default=BUILD_LOG_FILE, help="build log, relative to the bundle (appended to)")
    parser.add_argument("--trtexec", help="trtexec to use (default: $TRTEXEC, PATH, /usr/src/tensorrt/bin)")
    parser.add_argument("--trt-version", help="TensorRT version to assume, e.g. 8.5.2 (default: detect it)")
    parser.add_argument("--opt-batch", type=int, default=1, help="batch size the engine is tuned for")
    parser.add_argument("--max-batch", type=int, default=4, help="largest batch size the engine accepts")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds before the build is stopped")
    parser.add_argument("--dry-run", action="store_true", help="print the trtexec command and stop")
    args = parser.parse_args(argv)
    if not 1 <= args.opt_batch <= args.max_batch:
        parser.error("need 1 <= --opt-batch <= --max-batch")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    bundle = os.path.abspath(args.bundle)
    log_path = os.path.join(bundle, args.log)
    try:
        if os.path.islink(log_path):
            raise OSError("it is a symbolic link; refusing to write through it")
        log = open(log_path, "a")
    except OSError as error:
        print("error: cannot write the build log {} ({})".format(log_path, error), flush=True)
        return EXIT_BAD_BUNDLE

    def say(line: str) -> None:
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    with log:
        say("build_engine: {} (python {})".format(time.strftime("%Y-%m-%d %H:%M:%S"), sys.version.split()[0]))
        return build(bundle, args, say)


if __name__ == "__main__":
    sys.exit(main())
