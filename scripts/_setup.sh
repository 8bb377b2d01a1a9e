# Sourced by scripts/demo and scripts/test: installs what is missing, saying what it does.
# - system packages (Debian/Ubuntu, as root): libpcap, and for the tests tcpdump, tshark, iproute2
# - a virtual environment in .venv with pcapy installed (editable) and, for the tests, its tools
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PCAPY_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

say() { printf '[pcapy setup, %ss] %s\n' "$SECONDS" "$*" >&2; }

have_libpcap() {
  ldconfig -p 2>/dev/null | grep -q 'libpcap\.so' && return 0
  ls /usr/lib/*/libpcap.so* /usr/lib/libpcap.so* >/dev/null 2>&1
}

apt_install() {
  # apt_install PKG...: install Debian packages that are missing, if we can.
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    say "not a Debian-like system: please install ${missing[*]} yourself"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    say "missing ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})"
    return 0
  fi
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || say "apt-get update failed; trying the install anyway"
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_system_packages() {
  # ensure_system_packages [test]: libpcap always; the comparison tools for the tests.
  local pkgs=()
  have_libpcap || pkgs+=(libpcap0.8)
  if [ "${1:-}" = "test" ]; then
    pkgs+=(tcpdump iproute2 util-linux)
    echo "wireshark-common wireshark-common/install-setuid boolean false" \
      | debconf-set-selections 2>/dev/null || true
    pkgs+=(tshark)
  fi
  [ ${#pkgs[@]} -gt 0 ] && apt_install "${pkgs[@]}"
  return 0
}

ensure_venv() {
  # ensure_venv [test]: .venv with pcapy installed; the test tools too when asked.
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating a virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV" || {
      say "python3 -m venv failed; installing python3-venv"
      apt_install python3-venv
      "$PYTHON" -m venv "$VENV"
    }
  fi
  local extras=()
  # The table extras (pcapy-cffi[arrow], pcapy-cffi[dask]) are installed for the tests: pyarrow, numpy,
  # duckdb, polars, pandas and dask[distributed] (tests/tables skips only when they are missing).
  # build, twine and hatchling (the build backend): scripts/test builds the sdist and the wheel
  # and checks them with twine.
  # pytest-xdist: scripts/test runs the traced pass on several workers.
  [ "${1:-}" = "test" ] && extras=(pytest pytest-xdist hypothesis mypy ruff coverage
    pyarrow numpy duckdb polars pandas "dask[dataframe,distributed]" build twine hatchling)
  # This project was installed as the distribution "pcapy" before it was named pcapy-cffi: a
  # .venv made then would keep both (one module, two owners).
  if "$VENV/bin/python" -m pip show -q pcapy >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip uninstall -y -q pcapy >/dev/null 2>&1 || true
  fi
  say "installing pcapy (editable) ${extras[*]:+and ${extras[*]}} into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT" "${extras[@]}"
}
