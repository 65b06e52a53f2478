"""The project's layers: no module imports one of a higher layer, there is no import
cycle, and nothing starts a Keras backend before a node that trains or evaluates runs.

Bottom up: the protocol's names (and the package root); the FixRes core (``fixres/``);
the typed parameters and records and their helpers; datasets and pipelines; the
registry, hooks, tracking and CLI; the settings.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest



PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fixres_kedro"
LAYERS = [
    ("fixres_kedro", "fixres_kedro.protocol"),
    ("fixres_kedro.fixres",),
    ("fixres_kedro.metrics", "fixres_kedro.errors", "fixres_kedro.environment",
     "fixres_kedro.workers", "fixres_kedro.console"),
    ("fixres_kedro.datasets",),
    # The parameters check a split against tfds' slicing, which the photo source owns.
    ("fixres_kedro.parameters", "fixres_kedro.pipelines"),
    ("fixres_kedro.pipeline_registry", "fixres_kedro.hooks", "fixres_kedro.tracking", "fixres_kedro.cli",
     "fixres_kedro.prune", "fixres_kedro.__main__", "fixres_kedro.runners", "fixres_kedro.session"),
    ("fixres_kedro.settings",),
]


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    best = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (level, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def _imports(path: Path) -> set[str]:
    """The project modules ``path`` imports, anywhere in it (a function's imports too)."""
    found = set()
    for statement in ast.walk(ast.parse(path.read_text())):
        if isinstance(statement, ast.Import):
            found |= {alias.name for alias in statement.names}
        elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
            found.add(statement.module)
            found |= {f"{statement.module}.{alias.name}" for alias in statement.names}
    modules = {_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules}


GRAPH = {_name(path): _imports(path) - {_name(path)} for path in PACKAGE.rglob("*.py")}


def test_no_module_imports_a_higher_layer():
    upward = [f"{module} ({_layer(module)}) imports {target} ({_layer(target)})"
              for module, targets in GRAPH.items() for target in targets
              if _layer(target) > _layer(module) and target != "fixres_kedro"]
    assert upward == []


def test_there_is_no_import_cycle():
    # A package's __init__ re-exporting its own modules is not a cycle of modules.
    edges = {module: {t for t in targets if not module.startswith(t + ".")} for module, targets in GRAPH.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target):], target]) if target in trail else target)
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_graph_sees_the_layers_it_checks():
    """A check that found no imports would pass on anything."""
    assert "fixres_kedro.pipelines.training.pipeline" in GRAPH["fixres_kedro.pipelines.variants.pipeline"]
    assert _layer("fixres_kedro.hooks") > _layer("fixres_kedro.pipelines.seeds.nodes") > _layer("fixres_kedro.fixres.model")


STARTS_NO_BACKEND = """
import sys
from pathlib import Path
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
bootstrap_project(Path.cwd())
from kedro.framework.project import pipelines
with KedroSession.create(project_path=Path.cwd(), env="smoke") as session:
    context = session.load_context()
    catalog = context.catalog  # validates every pipeline's typed parameters
    assert len(pipelines["study"].nodes) > 50
    import fixres_kedro.cli, fixres_kedro.tracking  # noqa: E401
started = sorted(m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules)
print("started:", started)
"""


def test_registering_checking_and_cataloguing_start_no_backend():
    done = subprocess.run([sys.executable, "-c", STARTS_NO_BACKEND], cwd=PACKAGE.parents[1],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "started: []"


def test_every_node_functions_type_hints_resolve():
    """Kedro reads each node function's hints (to validate its parameters): a name imported
    only for type checking is a warning on every run."""
    import typing  # noqa: PLC0415

    from fixres_kedro.pipeline_registry import register_pipelines  # noqa: PLC0415

    functions = {node.func for pipeline in register_pipelines().values() for node in pipeline.nodes}
    assert functions
    unresolved = {}
    for function in functions:
        try:
            typing.get_type_hints(function)
        except NameError as error:
            unresolved[function.__qualname__] = str(error)
    assert unresolved == {}


REGISTERS_WITHOUT_LIBRARIES = """
import sys
from pathlib import Path
from kedro.framework.startup import bootstrap_project
bootstrap_project(Path.cwd())
from kedro.framework.project import pipelines
assert len(pipelines["study"].nodes) > 50
loaded = sorted(name for name in ("pandas", "matplotlib", "matplotlib.figure", "keras")
                if type(sys.modules.get(name)).__name__ == "module")
print("loaded:", loaded)
"""


def test_registering_the_pipelines_loads_no_pandas_nor_matplotlib():
    """``kedro registry list``, ``kedro run --help`` and the one-line errors register the
    pipelines and run nothing: pandas and matplotlib (half a second) load when a node runs."""
    done = subprocess.run([sys.executable, "-c", REGISTERS_WITHOUT_LIBRARIES], cwd=PACKAGE.parents[1],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "loaded: []"
