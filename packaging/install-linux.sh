#!/usr/bin/env bash
# Install the frozen Longhand for the current user (no root needed):
#   the app       -> ~/.local/opt/longhand/
#   the command   -> ~/.local/bin/longhand (and longhand-gui: always the window)
#   menu entry    -> ~/.local/share/applications/longhand.desktop
#   icons         -> ~/.local/share/icons/hicolor/<size>/apps/longhand.png (+ scalable svg)
# Usage: install-linux.sh [BUNDLE_DIR]      (default: the folder this script is in, if it is
#                                            a build, else packaging/dist/Longhand)
#        install-linux.sh --uninstall       (removes the above; never your models/projects)
# PREFIX=/some/where overrides ~/.local.
set -euo pipefail

PREFIX="${PREFIX:-$HOME/.local}"
APP_DEST="$PREFIX/opt/longhand"
BIN="$PREFIX/bin/longhand"
GUI_BIN="$PREFIX/bin/longhand-gui"
APPS="$PREFIX/share/applications"
ICONS="$PREFIX/share/icons/hicolor"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" || true
}

if [[ "${1:-}" == "--uninstall" ]]; then
    rm -rf "$APP_DEST"
    rm -f "$BIN" "$GUI_BIN" "$APPS/longhand.desktop"
    find "$ICONS" -name longhand.png -path '*/apps/*' -delete 2>/dev/null || true
    rm -f "$ICONS/scalable/apps/longhand.svg"
    refresh
    echo "Longhand removed (your settings, models and projects are kept)."
    exit 0
fi

if [[ -n "${1:-}" ]]; then SRC="$(cd "$1" && pwd)"
elif [[ -x "$HERE/Longhand" ]]; then SRC="$HERE"
else SRC="$HERE/dist/Longhand"; fi
if [[ ! -x "$SRC/Longhand" ]]; then
    echo "No Longhand build in $SRC. Build it first: python packaging/build.py" >&2
    exit 1
fi
RES="$SRC/_internal/longhand/resources"
[[ -d "$RES" ]] || { echo "The build in $SRC has no resources folder ($RES)." >&2; exit 1; }

# copy next to the old install, then swap, so a failed copy leaves the old one working
mkdir -p "$PREFIX/opt"
rm -rf "$APP_DEST.new"
cp -a "$SRC" "$APP_DEST.new"
rm -rf "$APP_DEST"
mv "$APP_DEST.new" "$APP_DEST"

mkdir -p "$(dirname "$BIN")"
ln -sfn "$APP_DEST/Longhand" "$BIN"
ln -sfn "$APP_DEST/Longhand" "$GUI_BIN"

for png in "$RES"/icons/longhand-*.png; do
    size="$(basename "$png" .png)"; size="${size#longhand-}"
    install -Dm644 "$png" "$ICONS/${size}x${size}/apps/longhand.png"
done
install -Dm644 "$RES/longhand.svg" "$ICONS/scalable/apps/longhand.svg"

mkdir -p "$APPS"
sed -e "s|^Exec=.*|Exec=\"$APP_DEST/Longhand\" %f|" -e "s|^Icon=.*|Icon=longhand|" \
    "$RES/longhand.desktop" > "$APPS/longhand.desktop"
chmod 644 "$APPS/longhand.desktop"
refresh

echo "Longhand installed in $APP_DEST"
echo "  menu entry: $APPS/longhand.desktop"
echo "  command:    $BIN (make sure $(dirname "$BIN") is on your PATH)"
