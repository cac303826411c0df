#!/usr/bin/env sh
# Remove DMTL Studio installed by install.sh for the current user.
#
#   ~/.local/opt/dmtl-studio/uninstall.sh           remove the program, its menu entry, icon and command
#   ~/.local/opt/dmtl-studio/uninstall.sh --purge   also remove the app's own data (~/.local/share/dmtl-studio:
#                                                   the demo project and settings)
#
# Your projects and images are never removed: they live where you created them.
set -eu

purge=0
case "${1:-}" in
    --purge) purge=1 ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "uninstall.sh: unknown option '$1'" >&2; exit 2 ;;
esac

prefix="$HOME/.local/opt/dmtl-studio"
bin_link="$HOME/.local/bin/dmtl-studio"
data_dir="${XDG_DATA_HOME:-$HOME/.local/share}"

# Only remove the command if it is ours (a symbolic link into the install folder).
if [ -L "$bin_link" ] && [ "$(readlink "$bin_link")" = "$prefix/dmtl-studio" ]; then
    rm -f "$bin_link"
fi
rm -f "$data_dir/applications/dmtl-studio.desktop" "$data_dir/icons/hicolor/256x256/apps/dmtl-studio.png"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$data_dir/applications" >/dev/null 2>&1 || true
fi
# This script may run from inside $prefix: the shell keeps reading its open file after it is deleted.
rm -rf "$prefix"
if [ "$purge" = 1 ]; then
    rm -rf "$data_dir/dmtl-studio"
fi
echo "DMTL Studio was removed."
if [ "$purge" = 0 ] && [ -d "$data_dir/dmtl-studio" ]; then
    echo "Its own data (demo project, settings) is still in $data_dir/dmtl-studio; --purge removes it."
fi
