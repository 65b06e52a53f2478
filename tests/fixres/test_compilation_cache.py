"""The persistent compilation cache: compiled programs land in a folder of their versions,
and a new process reads them back instead of compiling."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import pytest

from fixres_kedro.fixres.compilation_cache import cache_folder

pytestmark = pytest.mark.keras  # exercises the Keras backend: run on every backend

BACKEND = keras.backend.backend()

COMPILE = textwrap.dedent(
    """
    import sys, time
    import keras, numpy as np
    from fixres_kedro.fixres.compilation_cache import enable_compilation_cache
    enable_compilation_cache(sys.argv[1])
    keras.utils.set_random_seed(0)
    inputs = keras.layers.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    start = time.perf_counter()
    model.fit(np.zeros((8, 16, 16, 3)), np.zeros((8, 2)), epochs=1, verbose=0)
    print(f"seconds {time.perf_counter() - start:.3f}")
    """
)


def test_the_folder_names_the_backend_and_the_versions(tmp_path):
    folder = cache_folder(tmp_path)
    assert folder.parent == tmp_path
    assert folder.name.startswith(BACKEND if BACKEND != "tensorflow" else "tensorflow-")
    assert f"keras-{keras.__version__}" in folder.name


@pytest.mark.skipif(BACKEND != "jax", reason="JAX keeps its own persistent cache")
def test_a_second_process_reads_the_compiled_programs_back(tmp_path):
    def run() -> set[str]:
        result = subprocess.run([sys.executable, "-c", COMPILE, str(tmp_path)], capture_output=True,
                                text=True, timeout=300, check=False, env={**os.environ})
        assert result.returncode == 0, result.stderr[-3000:]
        return {p.name for p in cache_folder(tmp_path).rglob("*") if p.is_file()}

    first = run()
    assert first, "nothing was written to the cache"
    second = run()
    # The same programs: read back, none compiled anew (so none written).
    assert {name for name in second if not name.endswith("-atime")} == {
        name for name in first if not name.endswith("-atime")}
