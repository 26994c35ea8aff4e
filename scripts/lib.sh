# Shared by scripts/quickstart and scripts/test.

say() { printf '\n== %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "Need root to run: $*  (install it, or run this script as root)" >&2; return 1
    fi
}

APT_UPDATED=""
apt_install() {
    # apt_install PACKAGE... : installs missing Debian packages with apt-get install -y.
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "Installing Debian packages: ${missing[*]}"
    if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}

ensure_venv() {
    local py="${PYTHON:-python3}"
    if ! python_ok "$py"; then
        echo "Watchword needs Python 3.11 or newer; '$py' is missing or older. Set PYTHON=/path/to/python3.11." >&2
        exit 2
    fi
    if [ -x .venv/bin/python ] && python_ok .venv/bin/python && [ -x .venv/bin/pip ]; then return 0; fi
    say "Creating the virtual environment .venv"
    rm -rf .venv
    if ! "$py" -m venv .venv 2>/dev/null; then
        # Debian ships venv's bootstrap separately (python3-venv).
        local ver
        ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        apt_install "python${ver}-venv" || apt_install python3-venv
        rm -rf .venv
        "$py" -m venv .venv
    fi
    .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
}
