#!/usr/bin/env bash
# Set up .venv/ at the repository root (idempotent: a second run only checks a stamp), then
#   run   -> the main job on the embedded default (the app window; headless: train + evaluate + overlays)
#   test  -> the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# Re-install only when pyproject.toml changed since the last successful install.
stamp=".venv/.setup-stamp"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  echo "$want" > "$stamp"
fi

case "$mode" in
  run)
    shift || true
    # The window needs a screen; on a headless machine the same command runs the engine's default job instead
    # (demo model, evaluation table, overlays in runs/demo/).
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}${QT_QPA_PLATFORM:-}" ]; then
      exec .venv/bin/python -m app "$@"
    fi
    echo "bootstrap: no display; running the headless default (python -m core demo)" >&2
    exec .venv/bin/python -m core demo "$@"
    ;;
  test)
    shift || true
    # The deployment tests talk to a real OpenSSH server on loopback.
    if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server) >/dev/null \
          || echo "bootstrap: could not install openssh-server; deployment tests will be skipped" >&2
      fi
    fi
    export QT_QPA_PLATFORM=offscreen
    .venv/bin/lint-imports
    exec .venv/bin/python -m pytest "$@"
    ;;
  *)
    echo "usage: resources/bootstrap.sh {run|test} [args...]" >&2
    exit 2
    ;;
esac
