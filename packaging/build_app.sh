#!/usr/bin/env bash
# Build the one-folder Linux app with PyInstaller, then prove it starts and detects on the
# bundled sample without the checkout on its path.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet "pyinstaller>=6.10"
# --clean only on request: reusing packaging/build/ cuts a rebuild from ~40 to a few minutes
python3 -m PyInstaller --noconfirm ${CLEAN:+--clean} --distpath packaging/dist --workpath packaging/build packaging/wnet-annotator.spec
APP=packaging/dist/wnet-annotator
cp resources/wnet-annotator.desktop "$APP/"
cd /tmp
"$OLDPWD/$APP/wnet" --version
SAMPLE=$(ls "$OLDPWD/$APP"/_internal/wnet_gui/_data/resources/samples/*.tif | head -1)
"$OLDPWD/$APP/wnet" detect "$SAMPLE" -o /tmp/wnet-app-check.geojson
QT_QPA_PLATFORM=offscreen "$OLDPWD/$APP/wnet-gui" sample --auto-detect --screenshot /tmp/wnet-app-check.png --quit
du -sh "$OLDPWD/$APP"
echo "app bundle OK: $APP"
