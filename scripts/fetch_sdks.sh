#!/usr/bin/env bash
# Fetch the official Skyvern Python SDKs that tests/sdk drives against a live Harrier.
#
#   var/sdk/wheels/skyvern-<version>-py3-none-any.whl   the wheel, as PyPI serves it
#   var/sdk/skyvern-<version>/                          the wheel unzipped (PYTHONPATH root)
#
# The SDKs are not project dependencies: 0.1.x and 1.0.x both own the `skyvern`
# package, so they cannot share an environment, and 0.1.x's `skyvern/__init__.py`
# drags in the whole Skyvern server. Unzipping each wheel into its own folder and
# pointing PYTHONPATH at it gives the tests both generated clients without either.
#
# Safe to run again: a version already unzipped is skipped. When the registry cannot
# be reached it says so and exits 0, so that the tests skip instead of failing.
#   SKYVERN_SDK_VERSIONS="0.1.66 1.0.56"   the versions to fetch (default: those two)
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a versions <<<"${SKYVERN_SDK_VERSIONS:-0.1.66 1.0.56}"
sdk_dir="var/sdk"
wheel_dir="$sdk_dir/wheels"

# Harrier's uv venv has no pip and uv has no download command, so use a pip from
# elsewhere: the system Python's when it has one, else one that uv runs on the fly.
if python3 -m pip --version >/dev/null 2>&1; then
  pip_cmd=(python3 -m pip)
elif command -v uv >/dev/null 2>&1; then
  pip_cmd=(uv tool run --from pip pip)
else
  echo "fetch_sdks: neither 'python3 -m pip' nor uv is available; SDK tests will skip" >&2
  exit 0
fi

mkdir -p "$wheel_dir"
missing=0
for version in "${versions[@]}"; do
  target="$sdk_dir/skyvern-$version"
  # The generated client is all the tests import; its presence marks a complete unzip.
  if [ -f "$target/skyvern/client/__init__.py" ]; then
    echo "fetch_sdks: skyvern $version already in $target"
    continue
  fi

  wheel="$wheel_dir/skyvern-$version-py3-none-any.whl"
  if [ ! -f "$wheel" ]; then
    echo "fetch_sdks: downloading skyvern==$version"
    # Short timeout and few retries: with no registry in reach the tests should skip
    # promptly rather than wait out pip's defaults.
    if ! "${pip_cmd[@]}" download --quiet --no-deps --only-binary=:all: \
      --timeout 30 --retries 2 --dest "$wheel_dir" "skyvern==$version"; then
      echo "fetch_sdks: could not download skyvern==$version (registry unreachable?)" >&2
      missing=$((missing + 1))
      continue
    fi
  fi

  # Unzip beside the target and move it into place, so that an interrupted run never
  # leaves a half-filled folder that the check above would take for a complete one.
  tmp="$(mktemp -d "$sdk_dir/.unzip-$version.XXXXXX")"
  python3 -m zipfile -e "$wheel" "$tmp"
  rm -rf "$target"
  mv "$tmp" "$target"
  echo "fetch_sdks: skyvern $version unzipped into $target"
done

if [ "$missing" -gt 0 ]; then
  echo "fetch_sdks: $missing SDK version(s) missing; the SDK tests for them will skip" >&2
fi
exit 0
