#!/usr/bin/env sh
# Remove DMTL Studio installed by install.sh for the current user.
#
#   ~/.local/opt/dmtl-studio/uninstall.sh           remove the program, its menu entry, icon and command
#   ~/.local/opt/dmtl-studio/uninstall.sh --purge   also remove the app's own data in ~/.local/share/dmtl-studio
#                                                   (or DMTL_STUDIO_HOME): the demo projects, settings, caches
#                                                   and logs; your imported weights and text encoders are kept
#
# Your projects and images are never removed: they live where you created them.
set -eu

purge=0
case "${1:-}" in
    --purge) purge=1 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "uninstall.sh: unknown option '$1'" >&2; exit 2 ;;
esac
: "${HOME:?is not set: run me as the user who installed DMTL Studio}"

prefix="$HOME/.local/opt/dmtl-studio"
bin_link="$HOME/.local/bin/dmtl-studio"
# As install.sh and the application read it: an empty or relative XDG_DATA_HOME is ignored.
case "${XDG_DATA_HOME:-}" in
    /*) data_dir=$XDG_DATA_HOME ;;
    *) data_dir="$HOME/.local/share" ;;
esac
app_data="${DMTL_STUDIO_HOME:-$data_dir/dmtl-studio}"

installed=0
[ -d "$prefix" ] && installed=1
# Only remove the command if it is ours (a symbolic link into the install folder).
if [ -L "$bin_link" ] && [ "$(readlink "$bin_link")" = "$prefix/dmtl-studio" ]; then
    rm -f "$bin_link"
fi
rm -f "$data_dir/applications/dmtl-studio.desktop" "$data_dir/icons/hicolor/256x256/apps/dmtl-studio.png"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$data_dir/applications" >/dev/null 2>&1 || true
fi
# This script may run from inside $prefix: the shell keeps reading its open file after it is deleted. The
# staging copies of an install that failed or was stopped by force go too.
rm -rf "$prefix"
for left in "$prefix".new.*; do
    [ -d "$left" ] && rm -rf "$left"
done
if [ "$purge" = 1 ] && [ -d "$app_data" ]; then
    # What the application made for itself; the weights and encoders a user imported may exist nowhere else.
    rm -rf "$app_data/demo-project" "$app_data/demo-text-project" "$app_data/cache" "$app_data/logs"
    rm -f "$app_data/settings.ini"
    rmdir "$app_data" 2>/dev/null || true
fi
if [ "$installed" = 1 ]; then
    echo "DMTL Studio was removed."
else
    echo "DMTL Studio was not installed in $prefix; its menu entry and command, if any were left, are removed."
fi
if [ "$purge" = 1 ] && [ -d "$app_data" ]; then
    echo "Kept your imported weights and text encoders in $app_data (remove that folder by hand if you no" \
        "longer need them)."
elif [ "$purge" = 0 ] && [ -d "$app_data" ]; then
    echo "Its own data (demo projects, settings, imported weights) is still in $app_data; --purge removes all but" \
        "the imported weights and encoders."
fi
