#!/usr/bin/env sh
# Install DMTL Studio for the current user; needs no root and no network.
#
#   ./install.sh            copy this folder to ~/.local/opt/dmtl-studio, add a menu entry and a
#                           `dmtl-studio` command in ~/.local/bin
#   ./install.sh --help
#
# Honours XDG_DATA_HOME for the menu entry and icon. Installing again replaces the previous version; projects
# and settings are never touched (they live in your project folders and ~/.local/share/dmtl-studio).
set -eu

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}
case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    "") ;;
    *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
esac

: "${HOME:?is not set: run me as the user to install for, whose HOME names their home folder}"
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
if [ ! -x "$here/dmtl-studio" ] || [ ! -d "$here/_internal" ]; then
    echo "install.sh: run me from the unpacked dmtl-studio folder (dmtl-studio and _internal/ next to me)" >&2
    exit 1
fi

prefix="$HOME/.local/opt/dmtl-studio"
bin_dir="$HOME/.local/bin"
# As the XDG specification says (and the application reads it): an empty or relative XDG_DATA_HOME is ignored.
case "${XDG_DATA_HOME:-}" in
    /*) data_dir=$XDG_DATA_HOME ;;
    *) data_dir="$HOME/.local/share" ;;
esac
apps_dir="$data_dir/applications"
icon_dir="$data_dir/icons/hicolor/256x256/apps"

if [ "$here" = "$prefix" ]; then
    echo "install.sh: already installed in $prefix" >&2
    exit 1
fi

# The copy needs the bundle's size free beside the old version (which goes only after the copy): say so before
# starting rather than stop half-way with cp's "No space left on device".
existing=$(dirname -- "$prefix")
while [ ! -d "$existing" ]; do existing=$(dirname -- "$existing"); done
need_kb=$(du -sk "$here" | cut -f1)
free_kb=$(df -Pk "$existing" | awk 'NR == 2 { print $4 }')
if [ -n "$free_kb" ] && [ "$free_kb" -lt "$need_kb" ]; then
    echo "install.sh: installing needs $(( need_kb / 1048576 + 1 )) GiB free in $existing; only" \
        "$(( free_kb / 1048576 )) GiB are free. Nothing was changed; free some space and run me again." >&2
    exit 1
fi

echo "Installing DMTL Studio into $prefix"
if ! mkdir -p "$(dirname -- "$prefix")" "$bin_dir" "$apps_dir" "$icon_dir"; then
    echo "install.sh: cannot create the folders above under $HOME (a ~/.local owned by another user, from" \
        "'sudo pip install --user' perhaps: 'ls -ld ~/.local' shows its owner). Nothing was installed." >&2
    exit 1
fi
# Copy next to the old version first, then swap, so a failed copy leaves the previous install working. A copy
# that fails half-way (a disk quota, which the free-space check cannot see) is removed, as are the leftovers of an
# earlier run stopped by force.
for left in "$prefix".new.*; do
    [ -d "$left" ] && rm -rf "$left"
done
staging="$prefix.new.$$"
trap 'rm -rf "$staging"' EXIT
trap 'exit 130' INT TERM
if ! cp -R "$here" "$staging"; then
    echo "install.sh: the copy into $staging failed (see above); it was removed and the previous" \
        "installation, if any, is unchanged." >&2
    exit 1
fi
rm -rf "$prefix"
mv "$staging" "$prefix"
trap - EXIT INT TERM

ln -sfn "$prefix/dmtl-studio" "$bin_dir/dmtl-studio"
cp "$here/dmtl-studio.png" "$icon_dir/dmtl-studio.png"
# The menu entry names the program as the Desktop Entry specification asks: Exec's argument in double quotes
# (a home folder with a space), with \ " ` $ escaped and % doubled; TryExec a plain string (\ escaped).
program="$prefix/dmtl-studio"
exec_arg=$(printf '%s' "$program" | sed -e 's/\\/\\\\\\\\/g' -e 's/["`$]/\\\\&/g' -e 's/%/%%/g')
try_exec=$(printf '%s' "$program" | sed -e 's/\\/\\\\/g')
DESKTOP_EXEC="\"$exec_arg\" %f" DESKTOP_TRY="$try_exec" awk '
    /^Exec=/ { print "Exec=" ENVIRON["DESKTOP_EXEC"]; next }
    /^TryExec=/ { print "TryExec=" ENVIRON["DESKTOP_TRY"]; next }
    { print }
' "$here/dmtl-studio.desktop" > "$apps_dir/dmtl-studio.desktop"
chmod 644 "$apps_dir/dmtl-studio.desktop"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$apps_dir" >/dev/null 2>&1 || true
fi

echo "Done. Start it from the applications menu (DMTL Studio) or with: $bin_dir/dmtl-studio"
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) echo "Note: $bin_dir is not on your PATH; add it to use the plain 'dmtl-studio' command." ;;
esac
echo "Check the installation with: $bin_dir/dmtl-studio --self-test"
echo "Uninstall with: $prefix/uninstall.sh"
