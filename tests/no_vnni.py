"""Run Python on an emulated x86 CPU without VNNI, to see what ONNX Runtime's integer kernels do on such machines.

ONNX Runtime (MLAS) picks its U8S8 kernels once, from CPUID, when the library loads; no session option or
environment variable makes a VNNI machine take the non-VNNI path. QEMU's user-mode emulator (Debian package
`qemu-user`, QEMU >= 7.2 for AVX2 under TCG) runs this very interpreter and venv on a CPU model of our choosing, so
the CPUID that MLAS reads is the model's: an AVX2 Haswell, no AVX-512, no VNNI.

    >>> run_python(["-c", "import onnxruntime; print('ok')"]).strip()   # about 5-10 s: everything is emulated
    'ok'

From a shell: `python tests/no_vnni.py -m core evaluate --model BUNDLE --data DIR` (any python arguments).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

QEMU = "qemu-x86_64"
# An AVX2/FMA CPU without AVX-512 and without (AVX-)VNNI. The removed flags are ones QEMU's TCG cannot emulate: it
# warns once per thread about each of them otherwise, and none of them matters to numerical code.
CPU_MODEL = "Haswell-v2,-pcid,-x2apic,-tsc-deadline,-invpcid"
REPO = Path(__file__).resolve().parents[1]


def emulator() -> str | None:
    """Path of qemu-x86_64, or None when it is not installed (or this is not an x86-64 Linux host)."""
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        return None
    return shutil.which(QEMU)


MISSING_REASON = f"{QEMU} not installed (apt-get install qemu-user): cannot emulate a CPU without VNNI"


def _command_and_env(args: Sequence[str], env: Mapping[str, str] | None) -> tuple[list[str], dict[str, str]]:
    qemu = emulator()
    if qemu is None:
        raise RuntimeError(MISSING_REASON)
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(REPO / "tests"),
                                                            child_env.get("PYTHONPATH")]))
    # sys.executable is the venv's python: under emulation it still finds pyvenv.cfg beside it, so the venv's
    # packages are the ones imported.
    return [qemu, "-cpu", CPU_MODEL, sys.executable, *args], child_env


def run_python(args: Sequence[str], *, timeout: float = 300, env: Mapping[str, str] | None = None,
               cwd: Path = REPO) -> str:
    """Run `python *args` (this interpreter) on the emulated CPU and return its standard output.

    The repository and tests/ are on PYTHONPATH so that `core` and the modules beside this one import. Raises
    RuntimeError with the child's standard error when it fails, subprocess.TimeoutExpired past `timeout` seconds."""
    command, child_env = _command_and_env(args, env)
    result = subprocess.run(command, cwd=cwd, env=child_env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {result.returncode}:\n{result.stderr[-4000:]}")
    return result.stdout


def run_snippet(code: str, *, timeout: float = 300, env: Mapping[str, str] | None = None) -> str:
    """Run a Python snippet on the emulated CPU (see run_python) and return what it printed."""
    return run_python(["-c", code], timeout=timeout, env=env)


def main(args: Sequence[str]) -> int:
    """`python tests/no_vnni.py -m core latency --model BUNDLE`: any python command line, on the emulated CPU, with
    its output shown as it comes; returns its exit code."""
    try:
        command, child_env = _command_and_env(args, None)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 2
    return subprocess.run(command, env=child_env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
