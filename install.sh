#!/usr/bin/env bash
# Install bnviz in this checkout, with what it needs that is missing:
#
#   ./install.sh           Qt's system libraries (apt), a virtual environment
#                          .venv here, and bnviz in it; then .venv/bin/bnviz
#   ./install.sh --test    the same, plus the test tools (pytest, pytest-qt);
#                          then .venv/bin/python -m pytest
#   ./install.sh --system  only the system libraries (e.g. before pipx install .)
#
# Safe to run again: it installs only what is missing. System packages come
# from apt (Debian 12, Ubuntu 24.04 and their kin), as root or through sudo;
# on other systems that step is skipped with a note. PYTHON=python3.12
# ./install.sh chooses the interpreter (3.11 or newer).
set -euo pipefail
cd "$(dirname "$0")"

# Qt itself, whatever it draws on (also the tests, --headless and export):
# OpenGL, fonts, keyboard maps, glib, D-Bus.
OFFSCREEN_PACKAGES="libgl1 libegl1 libx11-6 libxkbcommon0 libfontconfig1 libfreetype6 libglib2.0-0 libdbus-1-3 fonts-dejavu-core"
# Qt's X11 platform plugin (xcb): a window on the screen, under Wayland too (XWayland).
WINDOW_PACKAGES="libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1"

extra="" system_only=""
for arg in "$@"; do
    case $arg in
        --test) extra="[test]" ;;
        --system) system_only=1 ;;
        -h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $arg (see ./install.sh --help)" >&2; exit 2 ;;
    esac
done

say() { echo "install.sh: $*" >&2; }
PYTHON=${PYTHON:-python3}

as_root() {  # run a command as root: directly when we are, else through sudo
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else say "need root for: $* (no sudo here; run it as root, then ./install.sh again)"; exit 1
    fi
}

installed() {  # is Debian package $1 installed? (Ubuntu 24.04 renamed some to ...t64)
    local pkg
    for pkg in "$1" "${1}t64"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] && return 0
    done
    return 1
}

apt_install() {  # install the Debian packages "$@" that are not installed yet
    local missing="" pkg
    for pkg in "$@"; do installed "$pkg" || missing="$missing $pkg"; done
    [ -n "$missing" ] || return 0
    say "installing system packages:$missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    local names=""
    for pkg in $missing; do  # Ubuntu 24.04's name for it where it has a ...t64 one
        if apt-cache show "${pkg}t64" >/dev/null 2>&1; then names="$names ${pkg}t64"; else names="$names $pkg"; fi
    done
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $names >/dev/null
}

python_ok() {  # is $PYTHON 3.11 or newer, with venv (python3-venv on Debian)?
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || return 1
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null
}

# 1. System packages.
if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
    wanted="$OFFSCREEN_PACKAGES $WINDOW_PACKAGES"
    if [ -z "$system_only" ] && ! python_ok; then
        wanted="$wanted python3 python3-venv"
    fi
    # shellcheck disable=SC2086
    apt_install $wanted
else
    say "no apt here: install Qt's system libraries yourself (OpenGL, EGL, fontconfig, xkbcommon, glib, D-Bus and the xcb libraries; see README)"
fi
[ -z "$system_only" ] || exit 0

# 2. The virtual environment.
if ! python_ok; then
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        say "bnviz needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1 || echo missing) (PYTHON=python3.12 ./install.sh chooses another)"
    else
        say "$PYTHON has no venv module: install python3-venv"
    fi
    exit 1
fi
if [ -x .venv/bin/python ] && ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say ".venv does not run (made by a Python that is gone?): making it again"
    rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
    say "making the virtual environment .venv"
    rm -rf .venv
    "$PYTHON" -m venv .venv
fi

# 3. bnviz, editable: the checkout's code runs, so a git pull needs no reinstall.
stamp=".venv/.bnviz-installed"
want="$(cksum < pyproject.toml) $extra"
check='import bnviz, numpy, PySide6.QtCore, pyqtgraph, sklearn, tomli_w'
[ -z "$extra" ] || check="$check, pytest, pytestqt"
have=$(cat "$stamp" 2>/dev/null || true)
if { [ "$have" = "$want" ] || [ "$have" = "$want[test]" ]; } && .venv/bin/python -c "$check" 2>/dev/null; then
    say "bnviz$extra is installed in .venv"
else
    say "installing bnviz$extra and its dependencies into .venv (about 150 MB to download: Qt, NumPy, SciPy)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --editable ".$extra"
    echo "$want" > "$stamp"
fi
if [ -z "$extra" ]; then
    say "done in ${SECONDS} s: .venv/bin/bnviz opens the app (.venv/bin/bnviz --help for more)"
else
    say "done in ${SECONDS} s: .venv/bin/python -m pytest runs the tests"
fi
