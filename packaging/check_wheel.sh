#!/usr/bin/env bash
# Build the wheel and prove it runs on its own: a fresh venv (reusing this machine's
# installed dependencies through --system-site-packages, so no 5 GB torch download),
# the wheel installed without the checkout, then detection on the bundled sample.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist build /tmp/wnet-wheel-venv
python3 -m pip install --quiet build
python3 -m build --wheel --outdir dist .
python3 -m venv --system-site-packages /tmp/wnet-wheel-venv
/tmp/wnet-wheel-venv/bin/pip install --quiet --no-deps --force-reinstall dist/*.whl
cd /tmp
/tmp/wnet-wheel-venv/bin/python - <<'PY'
import wnet_gui, pathlib
from wnet_gui.models.zoo import zoo_dir, list_cards
assert "site-packages" in wnet_gui.__file__, wnet_gui.__file__
print("package:", wnet_gui.__file__)
print("zoo:", zoo_dir(), [c.name for c in list_cards()])
PY
SAMPLE=$(/tmp/wnet-wheel-venv/bin/python -c "from wnet_gui.gui.main_window import sample_path; print(sample_path())")
/tmp/wnet-wheel-venv/bin/wnet detect "$SAMPLE" -o /tmp/wnet-wheel-check.geojson
/tmp/wnet-wheel-venv/bin/wnet-gui --version
QT_QPA_PLATFORM=offscreen /tmp/wnet-wheel-venv/bin/wnet-gui sample --auto-detect --screenshot /tmp/wnet-wheel-check.png --quit
ls -la "$OLDPWD"/dist/*.whl /tmp/wnet-wheel-check.geojson /tmp/wnet-wheel-check.png
echo "wheel OK"
