#!/bin/sh
# Install Chatbot for the current user (no root): the app folder, a launcher on PATH, a menu entry
# with its icon. Run it from the unpacked release folder:  ./install.sh
#
#   app        ~/.local/lib/chatbot-gui/          (the one-folder app; replaced on upgrade)
#   launcher   ~/.local/bin/chatbot-gui           (a symbolic link to the app's executable)
#   menu       ~/.local/share/applications/chatbot.desktop
#   icons      ~/.local/share/icons/hicolor/{scalable,16x16,...,256x256}/apps/chatbot.{svg,png}
#
# CHATBOT_PREFIX (default ~/.local) moves the app and the launcher; XDG_DATA_HOME (default
# ~/.local/share) moves the menu entry and icons. Settings, chats and the key are not touched.
# ~/.local/lib/chatbot-gui/uninstall.sh removes exactly what this script installed.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
prefix=${CHATBOT_PREFIX:-$HOME/.local}
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
app_dir=$prefix/lib/chatbot-gui
bin_dir=$prefix/bin
launcher=$bin_dir/chatbot-gui
desktop_file=$data_home/applications/chatbot.desktop
icons_dir=$data_home/icons/hicolor

if [ ! -x "$here/Chatbot/Chatbot" ]; then
    echo "install.sh: $here/Chatbot/Chatbot not found: run this script from the unpacked release folder." >&2
    exit 1
fi
if ! "$here/Chatbot/Chatbot" --version >/dev/null 2>&1; then
    echo "install.sh: the app does not start on this system ($here/Chatbot/Chatbot --version failed)." >&2
    echo "It needs glibc $(cat "$here/GLIBC" 2>/dev/null || echo '(see README.txt)') or newer; see README.txt." >&2
    exit 1
fi

# The app folder: copied beside the old one, then swapped in, so a failed copy leaves the old app.
mkdir -p "$prefix/lib"
rm -rf "$app_dir.new"
cp -R "$here/Chatbot" "$app_dir.new"
cp "$here/uninstall.sh" "$app_dir.new/uninstall.sh"
chmod 755 "$app_dir.new/uninstall.sh"
rm -rf "$app_dir.old"
if [ -e "$app_dir" ]; then mv "$app_dir" "$app_dir.old"; fi
mv "$app_dir.new" "$app_dir"
rm -rf "$app_dir.old"
manifest=$app_dir/install-manifest.txt
: > "$manifest"

# The launcher on PATH.
mkdir -p "$bin_dir"
ln -sfn "$app_dir/Chatbot" "$launcher"
echo "$launcher" >> "$manifest"

# The menu entry, pointing at the installed executable (a desktop session's PATH may lack ~/.local/bin).
exec_path=$app_dir/Chatbot
case $exec_path in
    *[!A-Za-z0-9_./-]*) exec_line="\"$(printf '%s' "$exec_path" | sed 's/[\\"`$]/\\\\&/g')\"" ;;
    *) exec_line=$exec_path ;;
esac
sed_escaped=$(printf '%s' "$exec_line" | sed 's/[&|\\]/\\&/g')
try_escaped=$(printf '%s' "$exec_path" | sed 's/[&|\\]/\\&/g')
mkdir -p "$(dirname -- "$desktop_file")"
sed -e "s|^Exec=.*|Exec=$sed_escaped|" -e "s|^TryExec=.*|TryExec=$try_escaped|" \
    "$here/chatbot.desktop" > "$desktop_file.tmp"
mv "$desktop_file.tmp" "$desktop_file"
echo "$desktop_file" >> "$manifest"

# The icons.
for icon in "$here"/icons/hicolor/*/apps/chatbot.*; do
    size=$(basename "$(dirname "$(dirname "$icon")")")
    mkdir -p "$icons_dir/$size/apps"
    cp "$icon" "$icons_dir/$size/apps/"
    echo "$icons_dir/$size/apps/$(basename "$icon")" >> "$manifest"
done

# Menus and icon caches pick the new files up (best effort: these tools are optional).
update-desktop-database "$data_home/applications" >/dev/null 2>&1 || true
# An icon cache is refreshed only where one exists (a stale cache hides new icons; none is needed).
if [ -f "$icons_dir/icon-theme.cache" ]; then gtk-update-icon-cache -q -t "$icons_dir" >/dev/null 2>&1 || true; fi

echo "Chatbot $("$app_dir/Chatbot" --version | sed 's/^Chatbot //') installed for $(id -un 2>/dev/null || echo you):"
echo "  app:       $app_dir"
echo "  launcher:  $launcher"
echo "  menu:      $desktop_file"
echo "Start it from the applications menu, or run: chatbot-gui"
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) echo "Note: $bin_dir is not on your PATH; add it (e.g. in ~/.profile) to run chatbot-gui from a terminal." ;;
esac
echo "Uninstall: $app_dir/uninstall.sh"
