#!/usr/bin/env bash
# A new user's first hour, scripted: clone this repository into a temporary folder, make a
# virtual environment, run the README's install and test commands exactly, then the app's
# system-library check. Exits non-zero at the first step that fails.
#   bash scripts/check_fresh_install.sh            (keeps nothing; KEEP=1 keeps the folder)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
echo "== clone into $work"
git clone --quiet "$repo" "$work/wnet-annotator"
cd "$work/wnet-annotator"
echo "== venv ($(python3 --version))"
python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
python -m pip install --quiet --upgrade pip
echo "== README: install"
start=$(date +%s)
pip install -e ".[dev]"                                   # the README's install line
echo "   installed in $(( $(date +%s) - start )) s; environment $(du -sh "$work/venv" | cut -f1)"
echo "== README: test"
QT_QPA_PLATFORM=offscreen python -m pytest -q             # the README's test line
echo "== the app's library check"
wnet-gui --check
echo "== fresh install OK"
