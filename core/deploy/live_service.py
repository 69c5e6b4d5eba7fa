"""Live inspection on the device as a service: start, stop, status and logs, over one SSH connection.

Two ways to keep device/live.py running, chosen per device:

- systemd (a Jetson with a desktop login): a generated user unit, `inspection-live.service`, restarted on failure
  with a limit on restarts; its ExecStart goes through `<root>/current`, so restarting it after a switch runs
  the new release. `loginctl enable-linger USER` on the device makes it start at boot without a login.
- process (no systemd user session, e.g. a plain SSH login or a container): device/live_supervisor.py, detached
  with setsid, applies the same restart rules; its pid file is in the state folder.

Either way live.py writes its status, verdicts and last error into `<root>/live` (see device/live_record.py), which
`status` reads back together with the manager's own words (systemctl status, or the supervisor's state).

Example:
    >>> remote = Remote(open_client(target), target.label, timeout=30.0)
    >>> start(remote, "/home/nvidia/inspection-station", LiveOptions(source="csi://0")).manager
    'systemd'
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.deploy.device.live_feed import STATUS_FILE
from core.deploy.device.live_supervisor import EXIT_FILE, LOG_FILE, PID_FILE, REASON_FILE, STATE_FILE
from core.deploy.errors import DeployError
from core.deploy.releases import CURRENT

from core.jobs import Job, Progress

if TYPE_CHECKING:  # paramiko only when connecting
    from core.deploy.connection import SshTarget
    from core.deploy.remote import Remote

UNIT_NAME = "inspection-live.service"
STATE_DIR = "live"
SYSTEMD, PROCESS, AUTO = "systemd", "process", "auto"
MANAGERS = (AUTO, SYSTEMD, PROCESS)
_UNIT_PATH = f"~/.config/systemd/user/{UNIT_NAME}"
_HAS_SYSTEMD = "systemctl --user show-environment >/dev/null 2>&1"
_SECTION = "@@"


@dataclass(frozen=True)
class LiveOptions:
    """What live.py runs on and how it is restarted (seconds; `burst` failures within `interval` end it)."""

    source: str
    headless: bool = False
    loop: bool = False
    category: str = ""
    backend: str = "auto"
    display: str = ":0"
    restart_sec: float = 5.0
    burst: int = 5
    interval: float = 300.0


@dataclass(frozen=True)
class LiveStatus:
    """What `status` found on the device. `manager` is how live.py runs now: systemd, process, or stopped."""

    manager: str
    systemd_available: bool
    current: str
    status: dict[str, Any] | None
    status_age: float | None
    reason: str
    exit: str
    supervisor: dict[str, Any] | None
    service_lines: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.manager != "stopped"


def state_dir(root: str) -> str:
    return f"{root}/{STATE_DIR}"


def live_command(root: str, options: LiveOptions, python: str = "python3") -> list[str]:
    """live.py's command line, through `current` so that a restart runs whatever release is current then."""
    current = f"{root}/{CURRENT}"
    command = [python, f"{current}/device/live.py", "--bundle", current, "--source", options.source,
               "--state-dir", state_dir(root), "--backend", options.backend]
    command += ["--headless"] if options.headless else []
    command += ["--loop"] if options.loop else []
    command += ["--category", options.category] if options.category else []
    return command


def unit_text(root: str, options: LiveOptions, python: str = "/usr/bin/python3") -> str:
    """The systemd user unit: restart on failure after RestartSec, at most StartLimitBurst starts per interval;
    when it stops for good, ExecStopPost leaves systemd's reason in exit.txt for `status` to show."""
    exit_file = f"{state_dir(root)}/{EXIT_FILE}"
    # %% is a literal % in unit files; $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS are set for ExecStopPost.
    record = ("/bin/sh -c 'date -u +%%Y-%%m-%%dT%%H:%%M:%%SZ | tr -d \"\\n\" > " + exit_file + "; "
              "echo \" systemd: $SERVICE_RESULT ($EXIT_CODE $EXIT_STATUS)\" >> " + exit_file + "'")
    environment = "PYTHONUNBUFFERED=1" + ("" if options.headless else f" DISPLAY={options.display}")
    return "\n".join([
        "[Unit]",
        f"Description=Inspection Station live inspection ({root}/{CURRENT})",
        "After=graphical-session.target network-online.target",
        f"StartLimitIntervalSec={options.interval:.0f}",
        f"StartLimitBurst={options.burst}",
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={root}",
        f"Environment={environment}",
        "ExecStart=" + " ".join(_systemd_quote(part) for part in live_command(root, options, python)),
        f"ExecStopPost={record}",
        "Restart=on-failure",
        f"RestartSec={options.restart_sec:g}",
        "TimeoutStopSec=15",
        "",
        "[Install]",
        "WantedBy=default.target",
        ""])


def supervisor_command(root: str, options: LiveOptions) -> str:
    """The detached supervisor's shell command (setsid: its own session and process group, so the SSH login
    ending does not end it, and `stop` can end it and its child together)."""
    q = shlex.quote
    state = state_dir(root)
    supervisor = ["python3", f"{root}/{CURRENT}/device/live_supervisor.py", "--state-dir", state,
                  "--restart-sec", f"{options.restart_sec:g}", "--burst", str(options.burst),
                  "--interval", f"{options.interval:g}", "--", *live_command(root, options)]
    display = "" if options.headless else f"DISPLAY={q(options.display)} "
    return (f"cd {q(root)} && {display}PYTHONUNBUFFERED=1 setsid nohup {' '.join(q(p) for p in supervisor)} "
            f">> {q(state)}/supervisor.log 2>&1 < /dev/null &")


def start(remote: Remote, root: str, options: LiveOptions, manager: str = AUTO) -> LiveStatus:
    """Stop what runs, then start live.py under systemd when it works here (or as asked), else the supervisor."""
    q = shlex.quote
    probe = remote.run(f"command -v python3; if {_HAS_SYSTEMD}; then echo @systemd; fi; "
                       f"test -f {q(root)}/{CURRENT}/device/live.py && echo @bundle")
    if "@bundle" not in probe.stdout:
        raise DeployError(f"{remote.label}: {root}/{CURRENT}/device/live.py not found: deploy a bundle first "
                          f"(python -m core deploy ...), or give the --remote-dir it was deployed to")
    systemd = "@systemd" in probe.stdout
    if manager == SYSTEMD and not systemd:
        raise DeployError(f"{remote.label}: no systemd user session for {remote.label.split('@')[0]} "
                          f"(systemctl --user fails); use --manager process, or log in on the device once and "
                          f"run loginctl enable-linger")
    use = SYSTEMD if manager == SYSTEMD or (manager == AUTO and systemd) else PROCESS
    stop(remote, root)
    state = q(state_dir(root))
    reset = f"mkdir -p {state} && rm -f {state}/{REASON_FILE} {state}/{EXIT_FILE}"
    if use == SYSTEMD:
        python = probe.stdout.splitlines()[0].strip() or "/usr/bin/python3"
        text = unit_text(root, options, python)
        result = remote.run(f"{reset} && mkdir -p ~/.config/systemd/user && printf '%s' {q(text)} > {_UNIT_PATH} "
                            f"&& systemctl --user daemon-reload && {{ systemctl --user reset-failed {UNIT_NAME} "
                            f"2>/dev/null || true; }} && systemctl --user enable {UNIT_NAME} && "
                            f"systemctl --user restart {UNIT_NAME}")
    else:
        launch = supervisor_command(root, options)
        result = remote.run(f"{reset} && printf '%s\\n' {q(launch)} > {state}/start.sh && sh {state}/start.sh && "
                            f"for i in $(seq 50); do [ -f {state}/{PID_FILE} ] && break; sleep 0.1; done; "
                            f"cat {state}/{PID_FILE}")
    if not result.ok:
        raise DeployError(f"{remote.label}: live inspection did not start ({result.reason()})")
    return status(remote, root)


def stop(remote: Remote, root: str) -> list[str]:
    """Stop live.py however it runs (both, should both be found); the managers that were stopped."""
    state = shlex.quote(state_dir(root))
    result = remote.run(
        f"if {_HAS_SYSTEMD} && systemctl --user is-active --quiet {UNIT_NAME}; then "
        f"systemctl --user disable --now {UNIT_NAME} >/dev/null 2>&1; echo @systemd; fi; {_alive(state)} && "
        f"{{ kill -TERM \"$P\"; i=0; while kill -0 \"$P\" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; "
        f"i=$((i+1)); done; kill -KILL -- -\"$P\" 2>/dev/null; rm -f {state}/{PID_FILE}; echo @process; }}; "
        f"true", timeout=max(remote.timeout, 30.0))
    return [name for name in (SYSTEMD, PROCESS) if f"@{name}" in result.stdout]


def restart_if_running(remote: Remote, root: str) -> str | None:
    """After `current` was switched: restart live.py on the new release if it runs; the manager, or None."""
    now = status(remote, root)
    if now.manager == SYSTEMD:
        remote.run(f"systemctl --user restart {UNIT_NAME}")
    elif now.manager == PROCESS:
        stop(remote, root)
        state = shlex.quote(state_dir(root))
        remote.run(f"sh {state}/start.sh")
    return now.manager if now.running else None


def status(remote: Remote, root: str) -> LiveStatus:
    """Everything `device status` shows, in one round trip."""
    q = shlex.quote
    state = q(state_dir(root))
    result = remote.run(
        f"echo {_SECTION}systemd; if {_HAS_SYSTEMD}; then echo yes; "
        f"echo {_SECTION}active; systemctl --user is-active {UNIT_NAME} 2>/dev/null; "
        f"echo {_SECTION}service; systemctl --user status {UNIT_NAME} --no-pager -n 8 2>&1 | head -n 20; fi; "
        f"echo {_SECTION}supervisor_pid; {_alive(state)} && echo \"$P\"; "
        f"for name in {STATE_FILE} {STATUS_FILE} {REASON_FILE} {EXIT_FILE}; do echo {_SECTION}$name; "
        f"cat {state}/$name 2>/dev/null; echo; done; echo {_SECTION}current; readlink {q(root)}/{CURRENT}; "
        f"echo {_SECTION}now; date +%s")
    sections = _sections(result.stdout)
    systemd = sections.get("systemd", "").strip() == "yes"
    active = sections.get("active", "").strip()
    pid = sections.get("supervisor_pid", "").strip()
    manager = SYSTEMD if active in ("active", "activating", "reloading") else PROCESS if pid else "stopped"
    live = _json(sections.get(STATUS_FILE, ""))
    age = None
    if live and isinstance(live.get("written_at"), (int, float)) and sections.get("now", "").strip().isdigit():
        age = max(0.0, int(sections["now"]) - float(live["written_at"]))
    return LiveStatus(manager, systemd, sections.get("current", "").strip(), live, age,
                      sections.get(REASON_FILE, "").strip(), sections.get(EXIT_FILE, "").strip(),
                      _json(sections.get(STATE_FILE, "")),
                      sections.get("service", "").rstrip().splitlines())


def logs(remote: Remote, root: str, lines: int = 50) -> str:
    """The last `lines` of live.py's output: the journal under systemd, live.log under the supervisor."""
    state = shlex.quote(state_dir(root))
    result = remote.run(
        f"if {_HAS_SYSTEMD} && systemctl --user cat {UNIT_NAME} >/dev/null 2>&1; then echo '-- journal --'; "
        f"journalctl --user -u {UNIT_NAME} -n {lines} --no-pager 2>&1; fi; "
        f"if [ -f {state}/{LOG_FILE} ]; then echo '-- {STATE_DIR}/{LOG_FILE} --'; "
        f"tail -n {lines} {state}/{LOG_FILE}; fi")
    return result.stdout


def describe(found: LiveStatus) -> str:
    """The status as the operator reads it."""
    how = {"systemd": "running as the systemd user service inspection-live",
           "process": "running as a supervised process (no systemd user session on the device)",
           "stopped": "not running"}[found.manager]
    lines = [f"live inspection: {how}", f"release: {found.current or 'none deployed'}"]
    live = found.status or {}
    if live:
        age = f", {found.status_age:.0f} s ago" if found.status_age is not None else ""
        lines.append(f"state: {live.get('state', '?')}{age}; source {live.get('source', '?')}; "
                     f"engine {live.get('engine', '?')}")
        if "fps" in live:
            latency = live.get("latency_ms", {})
            lines.append(f"FPS {live['fps']:.1f}; frames {live.get('frames', 0)}, NG {live.get('ng', 0)}, dropped "
                         f"{live.get('dropped', 0)}; latency ms: " + ", ".join(f"{k} {v}" for k, v in latency.items()))
            memory = live.get("memory", {})
            lines.append("memory: " + ", ".join(f"{k} {v}" for k, v in memory.items()))
        last = live.get("last")
        if last:
            lines.append(f"last verdict: {last.get('verdict')} score {last.get('score')} / "
                         f"{last.get('threshold')} {last.get('category') or ''}".rstrip())
    supervisor = found.supervisor or {}
    if found.manager == "process" or supervisor.get("state") == "gave-up":
        lines.append(f"supervisor: {supervisor.get('state', '?')}, restarted {supervisor.get('restarts', 0)} times"
                     + (f", last {supervisor['last_exit']}" if supervisor.get("last_exit") else ""))
    if found.reason:
        lines.append(f"last error: {found.reason}")
    if found.exit:
        lines.append(f"last exit: {found.exit}")
    lines += [f"  {line}" for line in found.service_lines]
    return "\n".join(lines)


def live_job(target: SshTarget, remote_dir: str, action: str, options: LiveOptions | None = None,
             manager: str = AUTO, timeout: float = 60.0) -> Job[LiveStatus]:
    """Start, stop or just look at live inspection on the device, as a job (the Export page runs it on a worker):
    one connection, the action, then the status."""
    from core.deploy.releases import resolve_root
    from core.deploy.remote import connected

    yield Progress(0, 0, f"connecting to {target.label}", stage="connect")
    with connected(target, timeout=timeout) as remote:
        root = resolve_root(remote, remote_dir)
        if action == "start":
            if options is None:
                raise ValueError("starting needs LiveOptions")
            yield Progress(0, 0, f"starting live inspection on {target.host}", stage="start")
            return start(remote, root, options, manager)
        if action == "stop":
            yield Progress(0, 0, f"stopping live inspection on {target.host}", stage="stop")
            stop(remote, root)
        return status(remote, root)


def _alive(state: str) -> str:
    """Shell: set P to the supervisor's pid and succeed when that process is alive and is our supervisor."""
    return (f"P=$(cat {state}/{PID_FILE} 2>/dev/null); [ -n \"$P\" ] && kill -0 \"$P\" 2>/dev/null && "
            f"grep -q live_supervisor /proc/\"$P\"/cmdline 2>/dev/null")


def _sections(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    name = ""
    for line in text.splitlines(keepends=True):
        if line.startswith(_SECTION):
            name = line[len(_SECTION):].strip()
            sections[name] = ""
        elif name:
            sections[name] += line
    return sections


def _json(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _systemd_quote(word: str) -> str:
    """A word of ExecStart: double-quoted when it has spaces or quotes; % and $ doubled so systemd takes them
    literally (it expands %-specifiers and $VARIABLES in command lines)."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    if any(char in escaped for char in " \t\"'\\;"):
        escaped = '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return escaped
