"""Helpers for the deployment tests: tiny real ONNX graphs, bundles made from them, and a real OpenSSH server on
127.0.0.1 (throwaway host and client keys) standing in for the Jetson; its file system is this one."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import psutil
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.bundle import write_bundle
from core.deploy.connection import SshTarget
from core.model_manifest import Normalisation, Thresholds

SSHD = Path("/usr/sbin/sshd")
SIZE = 32  # input height and width of the test graphs


def make_graph(path: Path, *, qdq: bool = False, fp16: bool = False, input_dtype: int = TensorProto.FLOAT,
               channels: int = 4, opset: int = 17) -> Path:
    """A small anomaly-style network: image (N x 3 x 32 x 32) -> conv, relu, conv -> anomaly_map (N x 1 x 32 x 32)
    and score = its maximum (N). `qdq` adds QuantizeLinear/DequantizeLinear on the input and the first weights."""
    rng = np.random.default_rng(0)
    weight_type = np.float16 if fp16 else np.float32
    w1 = rng.normal(size=(channels, 3, 3, 3)).astype(weight_type)
    w2 = rng.normal(size=(1, channels, 1, 1)).astype(weight_type)
    nodes, inits = [], [numpy_helper.from_array(w2, "w2")]
    source = "image"
    if input_dtype != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT))
        source = "image_f"
    if fp16:
        nodes.append(helper.make_node("Cast", [source], ["image_h"], to=TensorProto.FLOAT16))
        source = "image_h"
    if qdq:
        scale = np.array(1 / 64, np.float32)
        zero = np.array(0, np.int8)
        inits += [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zero, "z"),
                  numpy_helper.from_array(np.clip(np.round(w1 * 64), -127, 127).astype(np.int8), "w1_q"),
                  numpy_helper.from_array(np.full(channels, 1 / 64, np.float32), "w1_s"),
                  numpy_helper.from_array(np.zeros(channels, np.int8), "w1_z")]
        nodes += [helper.make_node("QuantizeLinear", [source, "s", "z"], ["image_q"]),
                  helper.make_node("DequantizeLinear", ["image_q", "s", "z"], ["image_dq"]),
                  helper.make_node("DequantizeLinear", ["w1_q", "w1_s", "w1_z"], ["w1"], axis=0)]
        source = "image_dq"
    else:
        inits.append(numpy_helper.from_array(w1, "w1"))
    nodes += [helper.make_node("Conv", [source, "w1"], ["c1"], pads=[1, 1, 1, 1]),
              helper.make_node("Relu", ["c1"], ["r1"]),
              helper.make_node("Conv", ["r1", "w2"], ["map_raw"])]
    out_type = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
    nodes += [helper.make_node("Identity", ["map_raw"], ["anomaly_map"]),
              helper.make_node("ReduceMax", ["map_raw"], ["score"], axes=[1, 2, 3], keepdims=0)]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("image", input_dtype, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("score", out_type, ["batch"]),
         helper.make_tensor_value_info("anomaly_map", out_type, ["batch", 1, SIZE, SIZE])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def input_spec(dtype: str = "float32") -> dict:
    return {"name": "image", "shape": [-1, 3, SIZE, SIZE], "dtype": dtype, "layout": "NCHW", "channels": "RGB"}


NORMALISATION = Normalisation(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), in_graph=False)


def make_bundle(tmp: Path, name: str = "bundle", *, precision: str = "fp32", **graph_options: object) -> Path:
    graph = make_graph(tmp / f"{name}.onnx", qdq=precision == "int8", **graph_options)
    return write_bundle(graph, tmp / name, precision=precision, input_spec=input_spec(),
                        thresholds=Thresholds(image=0.5, map_low=0.1), categories=["bottle"], normalisation=NORMALISATION,
                        extra={"method": "stfpm"})


def fake_trtexec(directory: Path, banner: str, *, status: int = 0, sleep: float = 0.0) -> Path:
    """An executable standing in for trtexec: prints the banner of the given version, records its arguments,
    writes the --saveEngine file when it 'succeeds'."""
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / "trtexec"
    tool.write_text(f"""#!/bin/sh
echo "&&&& RUNNING TensorRT.trtexec [TensorRT {banner}] # trtexec $*"
printf '%s\\n' "$@" > "{directory}/args-$$.txt"
sleep {sleep}
if [ {status} -ne 0 ]; then echo "[E] Error[4]: fake parser failure"; exit {status}; fi
for arg in "$@"; do case "$arg" in --saveEngine=*) printf 'engine bytes' > "${{arg#--saveEngine=}}";; esac; done
echo "&&&& PASSED TensorRT.trtexec [TensorRT {banner}] # trtexec $*"
""")
    tool.chmod(0o755)
    return tool



def recorded_build_arguments(directory: Path) -> list[str]:
    """The arguments the fake trtexec in `directory` was built with (not those of its --help version probe)."""
    runs = [path.read_text().split() for path in directory.glob("args-*.txt")]
    builds = [args for args in runs if any(arg.startswith("--onnx=") for arg in args)]
    assert len(builds) == 1, runs
    return builds[0]


class SshServer:
    """An OpenSSH server on 127.0.0.1 run from a generated config, as the current user. Commands it runs see
    `bin_dir` first on their PATH (where a test can put a fake trtexec)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = "127.0.0.1"
        self.user = getpass.getuser()
        self.bin_dir = root / "bin"
        self.bin_dir.mkdir()
        self.host_key = self._keygen("host_key")
        self.client_key = self._keygen("client_key")
        (root / "authorized_keys").write_text(self.client_key.with_suffix(".pub").read_text())
        self.known_hosts = root / "known_hosts"
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.start()
        key_type, key_base64 = self.host_key.with_suffix(".pub").read_text().split()[:2]
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {key_type} {key_base64}\n")

    def _keygen(self, name: str) -> Path:
        path = self.root / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
        return path

    def start(self) -> None:
        for _ in range(5):  # a free port may be taken between probing and binding
            self.port = _free_port()
            config = self.root / "sshd_config"
            config.write_text("\n".join([
                f"Port {self.port}", f"ListenAddress {self.host}", f"HostKey {self.host_key}",
                f"AuthorizedKeysFile {self.root / 'authorized_keys'}", f"PidFile {self.root / 'sshd.pid'}",
                "UsePAM no", "StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes", "AuthenticationMethods publickey", "PermitRootLogin prohibit-password",
                "UseDNS no", "PrintMotd no", "Subsystem sftp internal-sftp", "LogLevel ERROR",
                # SHLVL=1 keeps bash from sourcing ~/.bashrc for each command (as a Jetson's non-interactive guard
                # does; this machine's root .bashrc takes ~0.4 s): bash only does so for a first-level shell.
                f"SetEnv PATH={self.bin_dir}:/usr/local/bin:/usr/bin:/bin SHLVL=1", ""]))
            self.process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                            stderr=open(self.root / "sshd.log", "ab"))
            if _wait_for_banner(self.host, self.port, self.process):
                return
            self.process.kill()
            self.process.wait()
        pytest.fail(f"sshd did not start: {(self.root / 'sshd.log').read_text()}")

    def target(self, **changes: object) -> SshTarget:
        fields = {"host": self.host, "user": self.user, "port": self.port, "key_path": self.client_key,
                  "known_hosts": self.known_hosts, "connect_timeout": 5.0}
        fields.update(changes)
        return SshTarget(**fields)

    def drop_sessions(self) -> None:
        """Kill the per-connection sshd processes (and what they run), leaving the listener up."""
        if self.process is not None:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                _kill(child.pid)

    def stop(self) -> None:
        """Kill the whole server: no new connections either."""
        if self.process is not None:
            self.drop_sessions()
            self.process.kill()
            self.process.wait()
            self.process = None


@contextmanager
def running_sshd(root: Path) -> Iterator[SshServer]:
    """An `SshServer` in `root` (created), stopped afterwards; the test is skipped, with the reason, where
    OpenSSH's server cannot run."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server not installed (apt-get install -y openssh-server)")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        try:  # sshd started as root insists on its privilege-separation directory (the package's service makes it)
            Path("/run/sshd").mkdir(mode=0o755, parents=True)
        except OSError as error:
            pytest.skip(f"sshd needs /run/sshd and it cannot be created: {error}")
    root.mkdir()
    server = SshServer(root)
    try:
        yield server
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_banner(host: str, port: int, process: subprocess.Popen) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-2.0"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def use_this_python_on_the_device(server: SshServer) -> None:
    """The device's python3 is this interpreter (numpy, OpenCV and onnxruntime, as a Jetson's would have): a
    wrapper, not a link, since a venv's python finds its packages by its own path."""
    wrapper = server.bin_dir / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)


def write_video(path: Path, frames: int = 12, size: int = 64, fps: float = 10.0) -> Path:
    """An MJPG video of random frames."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size, size))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    writer.release()
    return path


def deploy_for_live(server: SshServer, bundle: Path, root: Path) -> None:
    """`bundle` deployed (engine not built) to `root` behind `server`, whose python3 can run live.py."""
    from core.deploy.push import DeployOptions, deploy
    from core.jobs import CancelToken, run_to_end

    use_this_python_on_the_device(server)
    run_to_end(deploy(bundle, server.target(), CancelToken(), DeployOptions(remote_dir=str(root), build=False)))


@contextmanager
def live_device(server: SshServer, bundle: Path, root: Path, source: str) -> Iterator[Path]:
    """`bundle` deployed to `root` behind `server` and live.py running on `source` (headless, looping, under the
    supervisor: there is no systemd user session here); yields the state folder; stopped afterwards."""
    from core.deploy import live_service
    from core.deploy.connection import open_client
    from core.deploy.remote import Remote

    deploy_for_live(server, bundle, root)
    remote = Remote(open_client(server.target()), server.target().label, timeout=30.0)
    try:
        options = live_service.LiveOptions(source=source, headless=True, loop=True, restart_sec=0.2)
        live_service.start(remote, str(root), options, live_service.PROCESS)
        yield root / live_service.STATE_DIR
    finally:
        live_service.stop(remote, str(root))
        remote.close()
