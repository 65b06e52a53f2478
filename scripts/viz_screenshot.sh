#!/usr/bin/env bash
# A PNG of the kedro-viz flowchart of the `fixres` pipeline, to look at without a browser.
#
#   scripts/viz_screenshot.sh [OUT.png] [DATASET]
#
# Builds the static site (`kedro viz build --include-previews`, into ./build), serves it on
# 127.0.0.1 and takes a 1600x1000 screenshot with headless Chromium (Debian: apt-get install
# chromium), the three runs' namespaces expanded. With DATASET (e.g. model_comparison_plot,
# initial_metrics) that dataset is selected, so its preview panel shows. OUT defaults to
# build/fixres_dag.png. KEDRO_ENV picks the configuration environment (default: local/base).
# Chromium may reach 127.0.0.1 only: every other host name fails to resolve.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-build/fixres_dag.png}
DATASET=${2:-}
export KEDRO_DISABLE_TELEMETRY=1

if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[[ -n $CHROMIUM ]] || { echo "chromium not found (apt-get install -y chromium)" >&2; exit 1; }

# kedro viz build exits 0 even when it fails: read what it says.
log=$(mktemp)
work=$(mktemp -d)
server_pid=""
cleanup() {
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
    rm -rf "$work" "$log" build/_screenshot.html
}
trap cleanup EXIT

"$PYTHON" -m kedro viz build --include-previews >"$log" 2>&1 || true
if ! grep -q "Success!" "$log" || grep -q "ERROR" "$log"; then
    cat "$log" >&2
    echo "kedro viz build failed" >&2
    exit 1
fi

# kedro-viz shows a "feature hints" tour on a fresh profile; this page, on the same origin,
# turns it off in localStorage before opening the flowchart.
query="pid=fixres&expandAllPipelines=true"
[[ -n $DATASET ]] && query="$query&sn=$DATASET"
cat >build/_screenshot.html <<EOF
<!DOCTYPE html>
<script>
localStorage.setItem("KedroViz", JSON.stringify({showFeatureHints: false}));
location.replace("./?$query");
</script>
EOF

port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory build >"$work/http.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
    "$PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
    sleep 0.1
done

mkdir -p "$(dirname "$OUT")"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --disable-dev-shm-usage \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" \
    --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
    --hide-scrollbars --window-size=1600,1000 --virtual-time-budget=15000 \
    --run-all-compositor-stages-before-draw \
    --screenshot="$(realpath -m "$OUT")" "http://127.0.0.1:$port/_screenshot.html" \
    >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log" >&2; exit 1; }
[[ -s $OUT ]] || { cat "$work/chromium.log" >&2; echo "no screenshot written" >&2; exit 1; }
grep -q '"GET /api/pipelines/fixres' "$work/http.log" || {
    echo "the page did not load the fixres pipeline" >&2
    exit 1
}
echo "$OUT"
