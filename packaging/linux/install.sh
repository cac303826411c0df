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

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
if [ ! -x "$here/dmtl-studio" ] || [ ! -d "$here/_internal" ]; then
    echo "install.sh: run me from the unpacked dmtl-studio folder (dmtl-studio and _internal/ next to me)" >&2
    exit 1
fi

prefix="$HOME/.local/opt/dmtl-studio"
bin_dir="$HOME/.local/bin"
data_dir="${XDG_DATA_HOME:-$HOME/.local/share}"
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
mkdir -p "$(dirname -- "$prefix")" "$bin_dir" "$apps_dir" "$icon_dir"
# Copy next to the old version first, then swap, so a failed copy leaves the previous install working.
staging="$prefix.new.$$"
rm -rf "$staging"
cp -R "$here" "$staging"
rm -rf "$prefix"
mv "$staging" "$prefix"

ln -sfn "$prefix/dmtl-studio" "$bin_dir/dmtl-studio"
cp "$here/dmtl-studio.png" "$icon_dir/dmtl-studio.png"
sed "s|@EXEC@|$prefix/dmtl-studio|g" "$here/dmtl-studio.desktop" > "$apps_dir/dmtl-studio.desktop"
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
