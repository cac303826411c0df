#!/usr/bin/env bash
# Smoke test of the frozen application (what `make package-smoke` runs): offscreen, and with no network at all
# when the system allows an unprivileged network namespace (unshare -rn).
#
#   1. --version, then --self-test: torch, bundled weights, spawned DataLoader workers, onnxruntime over an
#      exported backbone, safetensors, project database, the bundled text encoder and WordNet, the dataset map's
#      t-SNE in a spawned process, Qt platform plugins
#   2. start to the main window and quit: first with --demo (generates the demo project with the bundled
#      generator), then once cold (the bundle's files dropped from the page cache), then SMOKE_STARTS times
#      warm; the cold time and the warm median are the start-up figures of docs/performance.md
#   3. import the demo pictures twice: once with stdout and stderr closed (what a windowed build sees), once
#      normally
#   4. train 1 epoch at 128 px on the CPU with 2 DataLoader workers, predict every picture, check the CSV;
#      export the run to ONNX and predict again with it (onnxruntime): the same labels
#   5. a text project: new --kind text, import a CSV of 24 labelled texts, train on the bundled sentence encoder
#      (frozen, 8 contrastive steps, then 1 epoch), check the run's checkpoint names the encoder
#   6. (Linux installer) install.sh into a temporary HOME, run the installed command, uninstall.sh
#
# usage: packaging/smoke_test.sh [BUNDLE_DIR]        (default: dist/dmtl-studio)
# env:   SMOKE_STARTS=5   SMOKE_INSTALL=1 (0 skips step 6)   SMOKE_KEEP=1 (keep the work folder)
set -euo pipefail

bundle=$(cd "${1:-dist/dmtl-studio}" && pwd)
exe="$bundle/dmtl-studio"
starts=${SMOKE_STARTS:-5}
[ -x "$exe" ] || { echo "smoke test: no executable $exe; build it with 'make package'" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dmtl-smoke.XXXXXX")
cleanup() {
    if [ "${SMOKE_KEEP:-0}" = 1 ]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
log="$work/log.txt"

# The bundle must need nothing from the build environment.
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV
export QT_QPA_PLATFORM=offscreen
export DMTL_STUDIO_HOME="$work/app-home"
cd "$work"

isolate=()
if unshare -rn true 2>/dev/null; then
    isolate=(unshare -rn)
    network="none (network namespace)"
else
    network="not isolated (unshare -rn is not permitted here)"
fi

fail() {
    echo "smoke test FAILED: $*" >&2
    echo "--- last lines of $log:" >&2
    tail -n 40 "$log" >&2 || true
    exit 1
}
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
frozen() { "${isolate[@]}" "$exe" "$@"; }

echo "smoke test of $bundle ($(du -sh "$bundle" | cut -f1)); network: $network"
total_start=$(now)

# 1. version and self-test ----------------------------------------------------------------------------------
frozen --version >>"$log" 2>&1 || fail "--version"
t=$(now)
frozen --self-test >"$work/self-test.txt" 2>>"$log" || { cat "$work/self-test.txt" >>"$log"; fail "--self-test"; }
self_test_s=$(since "$t")
cat "$work/self-test.txt"
grep -q "frozen bundle" "$work/self-test.txt" || fail "the self-test did not run from the bundle"
grep -q "^self-test passed" "$work/self-test.txt" || fail "--self-test did not report success"

# 2. start to the window ------------------------------------------------------------------------------------
# Drop the bundle's files from the page cache (this file set only, nothing system-wide), so that one start is
# measured as after a reboot: everything read from disk.
evict_bundle() {
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$bundle" <<'PY'
import os, sys
for root, _, names in os.walk(sys.argv[1]):
    for name in names:
        path = os.path.join(root, name)
        if os.path.isfile(path) and not os.path.islink(path):
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
PY
    else
        find "$bundle" -type f -exec dd if={} iflag=nocache count=0 status=none \;
    fi
}
start_window() {  # prints the seconds from launch to the window shown and closed
    local t out
    t=$(now)
    out=$(DMTL_STUDIO_EXIT_WHEN_SHOWN=1 frozen "$@" 2>>"$log") || fail "start to the window ($*)"
    [[ "$out" == *"window shown"* ]] || fail "start ($*): the window was not shown"
    since "$t"
}
demo_start_s=$(start_window --demo)
images="$DMTL_STUDIO_HOME/demo-project/images"
[ -d "$images/circle" ] || fail "--demo did not generate the demo pictures in $images"
evict_bundle
cold_start_s=$(start_window)
times=()
for _ in $(seq 1 "$starts"); do
    times+=("$(start_window)")
done
start_median_s=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
echo "start to the window: cold (bundle not in the page cache) ${cold_start_s} s; warm ${times[*]} s" \
    "(median ${start_median_s} s); first start with --demo (generates the demo project) ${demo_start_s} s"

# 3. import --------------------------------------------------------------------------------------------------
frozen import "$work/closed-streams" "$images" </dev/null >&- 2>&- || fail "import with stdout and stderr closed"
[ -f "$work/closed-streams/project.dmtl.sqlite" ] || fail "import with closed streams wrote no project"
t=$(now)
frozen import "$work/project" "$images" --json >"$work/import.txt" 2>>"$log" || fail "import"
import_s=$(since "$t")
picture_count=$(find "$images" -name '*.png' | wc -l)
grep -q "\"scanned\": $picture_count," "$work/import.txt" || fail "import did not scan $picture_count pictures"
head -n 4 "$work/import.txt"

# 4. train and predict ---------------------------------------------------------------------------------------
t=$(now)
frozen train "$work/project" --epochs 1 --input-size 128 --device cpu --workers 2 --json \
    >"$work/train.txt" 2>>"$log" || fail "train"
train_s=$(since "$t")
summary=$(tail -n 1 "$work/train.txt")
[[ "$summary" == *'"status": "completed"'* ]] || fail "training did not complete: $summary"
run_dir=$(printf '%s' "$summary" | sed -n 's/.*"run_dir": "\([^"]*\)".*/\1/p')
[ -f "$run_dir/model.safetensors" ] && [ -f "$run_dir/model.json" ] || fail "no checkpoint in '$run_dir'"
echo "trained: $(head -n 1 "$work/train.txt")"

t=$(now)
frozen predict "$run_dir" "$images" --out "$work/predictions.csv" >>"$log" 2>&1 || fail "predict"
predict_s=$(since "$t")
header=$(head -n 1 "$work/predictions.csv" | tr -d '\r')
[ "$header" = "path,predicted_label,confidence,p_circle,p_square,p_triangle,error,note" ] || fail "CSV header: $header"
rows=$(($(wc -l <"$work/predictions.csv") - 1))
[ "$rows" = "$picture_count" ] || fail "$rows predictions for $picture_count pictures"
awk -F, 'NR > 1 && ($2 !~ /^(circle|square|triangle)$/ || $3 < 0 || $3 > 1) { bad++ } END { exit bad > 0 }' \
    "$work/predictions.csv" || fail "a prediction has an unknown class or a confidence outside [0, 1]"
accuracy=$(awk -F, 'NR > 1 { n = split($1, p, "/"); if (p[n - 1] ~ /^(circle|square|triangle)$/) {
    total++; if (p[n - 1] == $2) right++ } } END { printf "%.2f", right / total }' "$work/predictions.csv")
echo "predicted $rows pictures; accuracy on the labelled ones after 1 epoch: $accuracy"

# The run exported to ONNX predicts the same labels through the bundled onnxruntime.
frozen export "$run_dir" --format onnx --out "$work/model.onnx" >>"$log" 2>&1 || fail "export to ONNX"
frozen predict "$work/model.onnx" "$images" --out "$work/predictions-onnx.csv" >>"$log" 2>&1 \
    || fail "predict with the ONNX export"
# Both ran in onnxruntime: neither the run's predict nor a feature pass fell back to PyTorch.
if grep -E "predicts in PyTorch|feature pass runs in PyTorch" "$log"; then fail "onnxruntime was not used"; fi
# Same pictures, no error, same class probabilities (columns 4-6) within 1e-3 (8 columns a row).
tr -d '\r' <"$work/predictions.csv" | LC_ALL=C sort >"$work/run-sorted.csv"  # the CSV ends lines with CRLF
tr -d '\r' <"$work/predictions-onnx.csv" | LC_ALL=C sort >"$work/onnx-sorted.csv"
largest=$(paste -d, "$work/run-sorted.csv" "$work/onnx-sorted.csv" | awk -F, -v n=8 '
    $1 != $(n + 1) { print "different pictures: " $1 " and " $(n + 1); bad = 1; exit }
    $1 != "path" && ($7 != "" || $(n + 7) != "") { print "an error for " $1; bad = 1; exit }
    $1 != "path" { for (c = 4; c <= 6; c++) { d = $c - $(n + c); if (d < 0) d = -d; if (d > m) m = d } }
    END { if (bad) exit 1; printf "%.1e", m + 0; exit !(m + 0 <= 1e-3) }') \
    || fail "the ONNX export's predictions differ from the run's: $largest"
echo "exported to ONNX; its $rows predictions match the run's (largest probability difference $largest)"

# 5. text project ----------------------------------------------------------------------------------------------
# Two classes of short maintenance notes; the header names the columns the import guesses.
texts="$work/texts.csv"
{
    echo "text,label"
    for note in "The pump works perfectly after the repair" "Great service and a quick friendly technician" \
        "The new valve fixed the leak completely" "Everything runs smoothly since the update" \
        "Excellent result and the machine is quiet now" "The team solved the problem in one visit" \
        "Very happy with the fast response" "The sensor readings are stable and accurate" \
        "Clean installation and clear instructions" "The replacement part fits and works well" \
        "Smooth start this morning with no alarms" "The operators praised the new interface"; do
        echo "$note.,positive"
    done
    for note in "The pump failed again overnight" "Terrible delay and nobody answered the ticket" \
        "The valve still leaks after the repair" "The update broke the control panel" \
        "Loud grinding noise from the motor" "The technician never showed up" \
        "Readings drift and the alarm keeps ringing" "The part arrived broken and late" \
        "Instructions were wrong and the install failed" "The machine overheats within an hour" \
        "Another shutdown caused by the same fault" "The display freezes every few minutes"; do
        echo "$note.,negative"
    done
} >"$texts"
frozen new "$work/text-project" --kind text >>"$log" 2>&1 || fail "new --kind text"
t=$(now)
frozen import "$work/text-project" "$texts" --json >"$work/import-text.txt" 2>>"$log" || fail "import of texts"
text_import_s=$(since "$t")
summary=$(tail -n 1 "$work/import-text.txt")
[[ "$summary" == *'"kind": "text"'* && "$summary" == *'"added": 24,'* && "$summary" == *'"labelled": 24,'* ]] \
    || fail "import of 24 labelled texts: $summary"
t=$(now)
# 8 steps of the default contrastive step (its full 200 take minutes here; the path is what is checked).
frozen train "$work/text-project" --epochs 1 --contrastive-steps 8 --device cpu --json \
    >"$work/train-text.txt" 2>>"$log" || fail "train on texts"
text_train_s=$(since "$t")
summary=$(tail -n 1 "$work/train-text.txt")
[[ "$summary" == *'"status": "completed"'* && "$summary" == *'"epochs_completed": 1,'* ]] \
    || fail "text training did not complete its epoch: $summary"
run_dir=$(printf '%s' "$summary" | sed -n 's/.*"run_dir": "\([^"]*\)".*/\1/p')
[ -f "$run_dir/model.safetensors" ] || fail "no text checkpoint in '$run_dir'"
grep -q '"encoder": "all-MiniLM-L6-v2"' "$run_dir/model.json" || fail "the text checkpoint does not name its encoder"
grep -q "contrastive fine-tuning (SetFit).* 8 steps" "$log" \
    || fail "the text run did not take its 8 contrastive steps"
echo "text project: 24 texts imported (${text_import_s} s), 8 contrastive steps and 1 epoch on all-MiniLM-L6-v2" \
    "trained (${text_train_s} s), checkpoint in $run_dir"

# 6. installer -------------------------------------------------------------------------------------------------
install_s="skipped"
install_unit=""
if [ "${SMOKE_INSTALL:-1}" = 1 ] && [ -x "$bundle/install.sh" ]; then
    t=$(now)
    home="$work/home"
    mkdir -p "$home"
    HOME="$home" XDG_DATA_HOME="" "$bundle/install.sh" >>"$log" 2>&1 || fail "install.sh"
    installed="$home/.local/opt/dmtl-studio"
    desktop="$home/.local/share/applications/dmtl-studio.desktop"
    [ -x "$installed/dmtl-studio" ] || fail "install.sh did not install $installed/dmtl-studio"
    [ -f "$home/.local/share/icons/hicolor/256x256/apps/dmtl-studio.png" ] || fail "install.sh: no icon"
    grep -qxF "Exec=\"$installed/dmtl-studio\" %f" "$desktop" || fail "install.sh: bad Exec line in $desktop"
    if command -v desktop-file-validate >/dev/null 2>&1; then
        desktop-file-validate "$desktop" >>"$log" 2>&1 || fail "desktop-file-validate $desktop"
    fi
    version_out=$("${isolate[@]}" "$home/.local/bin/dmtl-studio" --version 2>>"$log") || fail "installed command"
    [[ "$version_out" == "DMTL Studio "* ]] || fail "installed command printed '$version_out'"
    HOME="$home" XDG_DATA_HOME="" "$installed/uninstall.sh" >>"$log" 2>&1 || fail "uninstall.sh"
    for path in "$installed" "$desktop" "$home/.local/bin/dmtl-studio"; do
        [ ! -e "$path" ] && [ ! -L "$path" ] || fail "uninstall.sh left $path"
    done
    install_s=$(since "$t")
    install_unit=" s"
    echo "install.sh, installed command, uninstall.sh: ok (${install_s} s)"
fi

echo "smoke test passed in $(since "$total_start") s: self-test ${self_test_s} s, start to window cold" \
    "${cold_start_s} s / warm median ${start_median_s} s (with --demo ${demo_start_s} s), import ${import_s} s," \
    "train ${train_s} s, predict ${predict_s} s, text import ${text_import_s} s, text train ${text_train_s} s," \
    "install+uninstall ${install_s}${install_unit}"
