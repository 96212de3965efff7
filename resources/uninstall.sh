#!/bin/sh
# Remove what install.sh installed for the current user: the app folder, the launcher, the menu
# entry and the icons (as listed in the install manifest). Settings, chats and the API key in the OS
# keyring are kept: the script says where they are, for whoever wants to remove them too.
# Honours the same CHATBOT_PREFIX and XDG_DATA_HOME as install.sh.
set -eu

prefix=${CHATBOT_PREFIX:-$HOME/.local}
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
app_dir=$prefix/lib/chatbot-gui
manifest=$app_dir/install-manifest.txt

if [ ! -d "$app_dir" ]; then
    echo "uninstall.sh: Chatbot is not installed in $app_dir." >&2
    exit 1
fi
if [ -f "$manifest" ]; then
    while IFS= read -r path; do
        [ -n "$path" ] || continue
        case $path in
            "$prefix"/*|"$data_home"/*) ;;
            *) echo "uninstall.sh: skipping $path (outside $prefix and $data_home)" >&2; continue ;;
        esac
        if [ -L "$path" ]; then
            # The launcher: only if it still points at this app.
            case $(readlink "$path") in "$app_dir"/*) rm -f "$path" ;; esac
        elif [ -f "$path" ]; then
            rm -f "$path"
            # The icon's size folders, if this left them empty (rmdir removes only empty ones).
            case $path in "$data_home"/icons/*) rmdir "$(dirname -- "$path")" "$(dirname -- "$(dirname -- "$path")")" 2>/dev/null || true ;; esac
        fi
    done < "$manifest"
fi
rm -rf "$app_dir"
update-desktop-database "$data_home/applications" >/dev/null 2>&1 || true
if [ -f "$data_home/icons/hicolor/icon-theme.cache" ]; then
    gtk-update-icon-cache -q -t "$data_home/icons/hicolor" >/dev/null 2>&1 || true
fi

config_home=${XDG_CONFIG_HOME:-$HOME/.config}
state_home=${XDG_STATE_HOME:-$HOME/.local/state}
echo "Chatbot removed. Kept (delete them yourself if you want them gone):"
echo "  settings and personas: $config_home/chatbot-gui/"
echo "  chats:                 $data_home/chatbot-gui/"
echo "  logs:                  $state_home/chatbot-gui/"
echo "  the API key:           your OS keyring, service \"chatbot-gui\" (e.g. seahorse, or secret-tool clear service chatbot-gui username <profile>)"
