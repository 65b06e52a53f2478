#!/usr/bin/env bash
# A copy of src/ with the input pipeline's per-image code as it was before the
# performance changes (commit 293bc17): transforms.py, InputPipeline.preprocess and
# ImageBatches.__getitem__; everything else (decoding, the data sources) as at f0f92e8
# (2026-11-27), the tree those figures were measured against. For the before/after
# figures of docs/benchmarks.md:
#
#   benchmarks/before_tree.sh /tmp/before_src
#   PYTHONPATH=/tmp/before_src .venv/bin/python benchmarks/input_pipeline.py --archive ... --impls ours
set -euo pipefail
dest=${1:?usage: benchmarks/before_tree.sh DEST}
cd "$(dirname "$0")/.."
rm -rf "$dest" && mkdir -p "$dest"
git archive f0f92e8 src/fixres_kedro | tar -x -C "$dest" --strip-components=1
git show 293bc17:src/fixres_kedro/fixres/transforms.py > "$dest/fixres_kedro/fixres/transforms.py"
git show 293bc17:src/fixres_kedro/fixres/input_pipeline.py > "$dest/old_input_pipeline.py"
python3 - "$dest" <<'PY'
import sys
from pathlib import Path

dest = Path(sys.argv[1])
old = (dest / "old_input_pipeline.py").read_text()
path = dest / "fixres_kedro/fixres/input_pipeline.py"
new = path.read_text()


def block(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i : text.index(end, i)]


for start, end in [
    ("    def preprocess(", "def decode_image("),
    ("        chosen = self.batches[index]", "        return inputs, self.labels[chosen]"),
]:
    new = new.replace(block(new, start, end), block(old, start, end))
path.write_text(new)
(dest / "old_input_pipeline.py").unlink()
PY
echo "before tree in $dest"
