#!/usr/bin/env bash
# Launch the installed Longhand from its desktop entry under Xvfb and take a screenshot.
#   launch_from_desktop.sh OUT.png HOME_DIR [seconds] [xdotool keys...]
# The command is the Exec line of /usr/share/applications/longhand.desktop (as a menu would
# run it; gtk-launch is not installed here), field codes (%f) dropped.
set -euo pipefail
out="$1"; home="$2"; wait="${3:-30}"; shift 3 || true
desktop=/usr/share/applications/longhand.desktop
cmd=$(sed -n 's/^Exec=//p' "$desktop" | head -n1 | sed 's/ %[fFuUick]//g')
echo "Exec from $desktop: $cmd"
disp=:$((70 + RANDOM % 20))
Xvfb "$disp" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & xpid=$!
sleep 3
mkdir -p "$home"
( export DISPLAY="$disp" HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_DATA_HOME="$home/.local/share" \
         XDG_STATE_HOME="$home/.local/state" XDG_CACHE_HOME="$home/.cache"
  unset LONGHAND_MODELS_DIR QT_QPA_PLATFORM
  eval "exec $cmd" ) > "$out.log" 2>&1 & apid=$!
sleep "$wait"
if [ $# -gt 0 ]; then
  wid=$(DISPLAY="$disp" xdotool search --name "— Longhand" | head -n1); DISPLAY="$disp" xdotool windowfocus --sync "$wid" || true
  for k in "$@"; do DISPLAY="$disp" xdotool key "$k"; sleep 2; done
  sleep "${AFTER_KEYS:-20}"
fi
DISPLAY="$disp" xwininfo -root -tree | grep -E '"[^"]+"' | grep -v "has no name" | head -20 || true
DISPLAY="$disp" import -window root "$out"
kill "$apid" 2>/dev/null || true; sleep 2; kill -9 "$apid" 2>/dev/null || true
kill "$xpid" 2>/dev/null || true
echo "screenshot: $out"
