#!/usr/bin/env bash
# Build the frozen application into dist/dmtl-studio/ and, on Linux, the tarball installer
# dist/dmtl-studio-<version>-linux-<arch>.tar.gz (what `make package` runs).
#
#   packaging/build.sh               bundle + tarball
#   packaging/build.sh --no-tarball  bundle only (what the smoke test needs)
#
# DMTL_STUDIO_CPU_ONLY=1 builds the CPU variant (see packaging/dmtl-studio.spec), tarball suffix -cpu.
# PYTHON selects the interpreter of the environment to freeze (default .venv/bin/python); it needs the
# `package` extra: pip install -e '.[package]'.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
tarball=1
case "${1:-}" in
    --no-tarball) tarball=0 ;;
    "") ;;
    *) echo "build.sh: unknown option '$1'" >&2; exit 2 ;;
esac

version=$("$PY" -c 'import dmtl_studio; print(dmtl_studio.__version__)')
bundle=dist/dmtl-studio
started=$(date +%s)
# The torch hook imports every torch submodule to find its imports; their deprecation notices are noise here.
PYTHONWARNINGS=ignore "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/dmtl-studio.spec
built=$(date +%s)

case "$(uname -s)" in
    Linux)
        cp packaging/linux/install.sh packaging/linux/uninstall.sh packaging/linux/dmtl-studio.desktop \
            packaging/linux/INSTALL.txt packaging/icons/dmtl-studio.png "$bundle/"
        ;;
    *) tarball=0 ;;  # Windows and macOS: see docs/packaging.md
esac

size=$(du -sh "$bundle" | cut -f1)
files=$(find "$bundle" -type f | wc -l)
echo "bundle: $bundle, $size in $files files, frozen in $((built - started)) s"

if [ "$tarball" = 1 ]; then
    variant=""
    [ "${DMTL_STUDIO_CPU_ONLY:-0}" = 1 ] && variant="-cpu"
    archive="dist/dmtl-studio-$version-linux-$(uname -m)$variant.tar.gz"
    # gzip -1: every Linux can unpack it; higher levels take several times longer for a few percent
    # (figures in docs/performance.md). pigz is used when present.
    compressor="gzip -1"
    command -v pigz >/dev/null 2>&1 && compressor="pigz -1"
    tar -C dist -cf - dmtl-studio | $compressor > "$archive.part"
    mv "$archive.part" "$archive"
    echo "tarball: $archive, $(du -sh "$archive" | cut -f1), written in $(($(date +%s) - built)) s"
fi
