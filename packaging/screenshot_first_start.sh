#!/usr/bin/env bash
# First start of a Longhand build as a new user sees it: a fresh home, a virtual X display
# (Xvfb, the xcb platform plugin as on a desktop), a screenshot after a while.
#   screenshot_first_start.sh OUT.png SECONDS COMMAND [ARGS...]
# e.g. screenshot_first_start.sh /tmp/appimage.png 40 /tmp/Longhand.AppDir/AppRun
# The home is OUT.png's name + .home (left for inspection: the log is in .local/state/longhand/log);
# the command's output goes to OUT.png.log, the window list to OUT.png.windows.
set -euo pipefail
out="$(readlink -f "$1")"; wait="$2"; shift 2
home="$out.home"
rm -rf "$home"; mkdir -p "$home"
disp=:$((60 + RANDOM % 30))
Xvfb "$disp" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & xpid=$!
trap 'kill "$xpid" 2>/dev/null || true' EXIT
sleep 3
( export DISPLAY="$disp" HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
         XDG_STATE_HOME="$home/.local/state" XDG_CACHE_HOME="$home/.cache"
  unset LONGHAND_MODELS_DIR LONGHAND_MODEL QT_QPA_PLATFORM WAYLAND_DISPLAY
  exec "$@" ) > "$out.log" 2>&1 & apid=$!
sleep "$wait"
DISPLAY="$disp" xwininfo -root -tree | grep -E '"[^"]+"' | grep -v "has no name" > "$out.windows" || true
DISPLAY="$disp" import -window root "$out"
kill "$apid" 2>/dev/null || true; sleep 2; kill -9 "$apid" 2>/dev/null || true
echo "screenshot: $out"
