"""Size of the source: modules, lines, pipeline folders and the longest functions of
src/fixres_kedro at each commit given (read with git, measured with the AST).

    python benchmarks/code_metrics.py 0f60c3a HEAD
"""

import ast, subprocess, sys
def files(commit):
    out = subprocess.run(["git","ls-tree","-r","--name-only",commit,"src/fixres_kedro"],capture_output=True,text=True).stdout.split()
    return [f for f in out if f.endswith(".py")]
def stats(commit):
    fs = files(commit); funcs=[]; lines=0; pipeline_dirs=set()
    for f in fs:
        src = subprocess.run(["git","show",f"{commit}:{f}"],capture_output=True,text=True).stdout
        lines += len(src.splitlines())
        if "/pipelines/" in f: pipeline_dirs.add(f.split("/pipelines/")[1].split("/")[0])
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node,(ast.FunctionDef,ast.AsyncFunctionDef)):
                funcs.append((node.end_lineno-node.lineno+1, f.replace("src/fixres_kedro/",""), node.name))
    funcs.sort(reverse=True)
    return len(fs), lines, len(pipeline_dirs - {"__init__.py"}), funcs[:6]
for c in sys.argv[1:]:
    n, l, p, top = stats(c)
    print(c, "modules", n, "lines", l, "pipeline folders", p)
    for t in top: print("   ", t)
