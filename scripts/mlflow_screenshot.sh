#!/usr/bin/env bash
# A PNG of the MLflow UI's page of this project's experiment, as a run's closing line links
# to it: the model-training view (runs named `<env> · <pipelines>`), not MLflow 3's GenAI view.
#
#   scripts/mlflow_screenshot.sh [OUT.png]
#
# Serves the project's store (./mlflow.db, or MLFLOW_TRACKING_URI's file store) with
# `mlflow server` on 127.0.0.1, opens the experiment `fixres_kedro` with headless Chromium
# (Debian: apt-get install chromium) at 1600x1000 and writes OUT (default
# build/mlflow_experiment.png). Chromium may reach 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-build/mlflow_experiment.png}
STORE=${STORE:-sqlite:///$PWD/mlflow.db}
export MLFLOW_DISABLE_TELEMETRY=true
if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[[ -n $CHROMIUM ]] || { echo "chromium not found (apt-get install -y chromium)" >&2; exit 1; }
[[ $STORE != sqlite:///* || -f ${STORE#sqlite:///} ]] || { echo "no MLflow store at $STORE: run kedro run first" >&2; exit 1; }

port=$("$PYTHON" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
profile=$(mktemp -d)
"$PYTHON" -m mlflow server --backend-store-uri "$STORE" --host 127.0.0.1 --port "$port" --workers 1 \
    >"$profile/server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$profile"' EXIT
for _ in $(seq 120); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 1
done
experiment=$("$PYTHON" -c "
from mlflow.tracking import MlflowClient
from fixres_kedro.tracking import ui_link
found = MlflowClient('$STORE').get_experiment_by_name('fixres_kedro')
print(found.experiment_id if found else '')")
[[ -n $experiment ]] || { echo "the store holds no experiment fixres_kedro" >&2; exit 1; }
url=$("$PYTHON" -c "from fixres_kedro.tracking import ui_link; print(ui_link('http://127.0.0.1:$port', '$experiment'))")

mkdir -p "$(dirname "$OUT")"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$profile/chromium" --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
    --window-size=1600,1000 --virtual-time-budget=20000 --hide-scrollbars \
    --screenshot="$PWD/$OUT" "$url" 2>/dev/null
echo "$OUT: $url"
