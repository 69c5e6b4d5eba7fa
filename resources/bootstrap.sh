#!/usr/bin/env bash
# Set up .venv/ at the repository root from the lock (idempotent: a second run only checks a stamp), then
#   run   -> the main job on the embedded default (the app window; headless: train + evaluate + overlays)
#   test  -> the whole test suite
#   lock [NAME ...] -> re-resolve pyproject.toml in a scratch venv and rewrite resources/requirements.lock
#         (no NAME: the newest releases pyproject.toml allows; with NAMEs: every locked version is kept but
#         those packages', e.g. `lock ray` after adding ray to pyproject.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
shift || true

python=${PYTHON:-python3}
lock="resources/requirements.lock"
pip_flags=(--quiet --disable-pip-version-check)

# Canonical package name (PEP 503), so that "PyYAML", "pyyaml" and "py_yaml" compare equal.
canonical() { tr 'A-Z' 'a-z' | sed -E 's/[-_.]+/-/g'; }

# The venv gets exactly the locked versions: the lock is a constraints file, so pyproject.toml still says what
# is needed and the lock only says which version; the build back-end (setuptools) is pinned the same way.
install_venv() {
  if [ ! -f "$lock" ]; then
    echo "bootstrap: $lock is missing; make it with: bash resources/bootstrap.sh lock" >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  # Re-install only when pyproject.toml or the lock changed since the last successful install.
  local stamp=".venv/.setup-stamp" want
  want="$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  echo "bootstrap: installing the versions in $lock into .venv/" >&2
  .venv/bin/python -m pip install "${pip_flags[@]}" -c "$lock" --upgrade pip
  .venv/bin/python -m pip install "${pip_flags[@]}" -c "$lock" --build-constraint "$lock" -e '.[test]'
  # pip never removes what the lock no longer lists; say so (tests/test_lock.py fails on it).
  local extra
  extra="$(.venv/bin/python -m pip freeze --all --exclude-editable | grep -vxF -f "$lock" || true)"
  if [ -n "$extra" ]; then
    echo "bootstrap: installed but not as locked (pip uninstall them, or delete .venv/):" $extra >&2
  fi
  echo "$want" > "$stamp"
}

# Resolve pyproject.toml (with the test extra) in a throw-away venv and write its full pip freeze as the lock.
# The lock is replaced by a rename, so an interrupted or failed refresh leaves the old one in place.
refresh_lock() {
  local scratch new keep=""
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/inspection-lock.XXXXXX")"
  new="$lock.new.$$"
  # Expanded now: the locals are gone when the shell exits.
  trap "rm -rf '$scratch' '$new'" EXIT
  "$python" -m venv "$scratch/venv"
  local py="$scratch/venv/bin/python" constraints=() build_constraints=()
  if [ "$#" -gt 0 ]; then
    # Keep every locked version except the named packages' (and those of packages the lock does not have yet).
    keep="$scratch/keep.txt"
    local names
    names="$(printf '%s\n' "$@" | canonical)"
    while IFS= read -r line; do
      case "$line" in ''|'#'*) continue ;; esac
      if ! grep -qxF "$(printf '%s' "${line%%==*}" | canonical)" <<<"$names"; then
        printf '%s\n' "$line"
      fi
    done < "$lock" > "$keep"
    constraints=(-c "$keep")
    build_constraints=(--build-constraint "$keep")  # not known to the venv's first pip, only to the locked one
  fi
  echo "bootstrap: resolving pyproject.toml in $scratch/venv (torch's build is several GB: minutes)" >&2
  "$py" -m pip install "${pip_flags[@]}" "${constraints[@]}" --upgrade pip
  if ! "$py" -m pip install "${pip_flags[@]}" "${constraints[@]}" "${build_constraints[@]}" -e '.[test]'; then
    if [ "$#" -gt 0 ]; then
      echo "bootstrap: pyproject.toml does not resolve with the kept pins; name the packages pip blames above too" \
           "(bash resources/bootstrap.sh lock $* NAME), or resolve everything afresh (bash resources/bootstrap.sh lock)" >&2
    fi
    exit 1
  fi
  "$py" -m pip check >&2
  local frozen
  frozen="$("$py" -m pip freeze --all --exclude-editable)"
  if grep -v '^[A-Za-z0-9._-]*==[^ ]*$' <<<"$frozen"; then
    echo "bootstrap: the lines above are not exact pins (name==version); the lock would not travel" >&2
    exit 1
  fi
  local name
  for name in "$@"; do
    if ! cut -d= -f1 <<<"$frozen" | canonical | grep -qxF "$(printf '%s' "$name" | canonical)"; then
      echo "bootstrap: $name is not a dependency of pyproject.toml (directly or through another); add it there first" >&2
      exit 1
    fi
  done
  {
    echo "# Exact versions of every distribution in the set-up the suite passes with; bootstrap.sh installs with"
    echo "# this file as constraints. Written by 'bash resources/bootstrap.sh lock [NAME ...]': do not edit by hand."
    echo "# Resolved on $("$py" -c 'import platform; print("Python", platform.python_version(), platform.system(), platform.machine())')."
    # Which pyproject.toml these pins were resolved from: a lock written for an older one says so in its diff.
    echo "# From pyproject.toml sha256 $(sha256sum pyproject.toml | cut -d' ' -f1)."
    printf '%s\n' "$frozen"
  } > "$new"
  if [ -f "$lock" ] && diff -q <(grep -v '^#' "$lock") <(grep -v '^#' "$new") >/dev/null; then
    echo "bootstrap: $lock unchanged" >&2
  else
    diff <(grep -v '^#' "$lock" 2>/dev/null || true) <(grep -v '^#' "$new") | grep '^[<>]' >&2 || true
  fi
  mv -f "$new" "$lock"
  echo "bootstrap: wrote $lock ($(grep -vc '^#' "$lock") pins); now run: bash resources/bootstrap.sh test" >&2
}

case "$mode" in
  run)
    install_venv
    # The window needs a screen; on a headless machine the same command runs the engine's default job instead
    # (demo model, evaluation table, overlays in runs/demo/).
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}${QT_QPA_PLATFORM:-}" ]; then
      exec .venv/bin/python -m app "$@"
    fi
    echo "bootstrap: no display; running the headless default (python -m core demo)" >&2
    exec .venv/bin/python -m core demo "$@"
    ;;
  test)
    install_venv
    # The deployment tests talk to a real OpenSSH server on loopback; the INT8 tests run ONNX Runtime on an
    # emulated CPU without VNNI (qemu-user), whatever CPU this machine has.
    missing=()
    if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then missing+=(openssh-server); fi
    if ! command -v qemu-x86_64 >/dev/null 2>&1; then missing+=(qemu-user); fi
    if [ "${#missing[@]}" -gt 0 ]; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null \
          || echo "bootstrap: could not install ${missing[*]}; the tests that need them will be skipped" >&2
      fi
    fi
    export QT_QPA_PLATFORM=offscreen
    .venv/bin/lint-imports
    exec .venv/bin/python -m pytest "$@"
    ;;
  lock)
    refresh_lock "$@"
    ;;
  *)
    echo "usage: resources/bootstrap.sh {run|test|lock [NAME ...]} [args...]" >&2
    exit 2
    ;;
esac
