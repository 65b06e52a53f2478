"""Size of the source: modules, lines, pipeline folders and the longest functions of
src/fixres_kedro at each commit given (read with git, measured with the AST).

    python benchmarks/code_metrics.py 0f60c3a HEAD [--longest 6]
"""

# ruff: noqa: T201  (a script that prints)

from __future__ import annotations

import argparse
import ast
import subprocess

import harness

PACKAGE = "src/fixres_kedro"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=harness.ROOT).stdout


def stats(commit: str, longest: int) -> dict:
    files = [f for f in _git("ls-tree", "-r", "--name-only", commit, PACKAGE).split() if f.endswith(".py")]
    functions, lines, pipelines = [], 0, set()
    for file in files:
        source = _git("show", f"{commit}:{file}")
        lines += len(source.splitlines())
        if "/pipelines/" in file:
            pipelines.add(file.split("/pipelines/")[1].split("/")[0])
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((node.end_lineno - node.lineno + 1, file.removeprefix(PACKAGE + "/"), node.name))
    functions.sort(reverse=True)
    return {"modules": len(files), "lines": lines, "pipeline_folders": len(pipelines - {"__init__.py"}),
            "longest": functions[:longest]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commits", nargs="+")
    parser.add_argument("--longest", type=int, default=6, help="how many of the longest functions to list")
    args = parser.parse_args()
    for commit in args.commits:
        figures = stats(commit, args.longest)
        print(f"{commit}: {figures['modules']} modules, {figures['lines']} lines, "
              f"{figures['pipeline_folders']} pipeline folders; the longest functions:")
        harness.print_table(["lines", "module", "function"], [[str(n), m, f] for n, m, f in figures["longest"]])
        print()


if __name__ == "__main__":
    main()
