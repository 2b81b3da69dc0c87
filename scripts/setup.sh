#!/usr/bin/env bash
# Everything Harrier needs on a fresh Debian machine; safe to run again.
#   uv (from PyPI when missing), Python dependencies from uv.lock,
#   Chromium from Debian's packages when missing, database migrations, static files.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  echo "==> installing uv"
  python3 -m pip install --quiet --disable-pip-version-check uv \
    || python3 -m pip install --quiet --user --disable-pip-version-check uv
  export PATH="$HOME/.local/bin:$PATH"
fi

echo "==> Python dependencies (uv sync --frozen)"
uv sync --frozen --quiet

if [ ! -x "${HARRIER_CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "==> installing Chromium from Debian's packages"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ "${HARRIER_SKIP_MIGRATE:-0}" != "1" ]; then
  echo "==> database migrations"
  uv run --frozen python manage.py migrate --no-input -v 0
  uv run --frozen python manage.py collectstatic --no-input -v 0
fi
