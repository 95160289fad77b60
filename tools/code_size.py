"""Longest source files and functions of oxalate.

Prints every file above ``--file-limit`` lines (default 1,500) and every
function or method above ``--function-limit`` lines (default 150), counted from
its ``def`` line to its last line, docstring included.

Run: ``python tools/code_size.py``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "oxalate"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file-limit", type=int, default=1500)
    parser.add_argument("--function-limit", type=int, default=150)
    args = parser.parse_args()
    files = []
    functions = []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT)
        files.append((len(text.splitlines()), str(rel)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                functions.append((length, f"{rel}:{node.lineno} {node.name}"))
    files.sort(reverse=True)
    functions.sort(reverse=True)
    print(f"largest file: {files[0][1]} ({files[0][0]} lines)")
    print(f"longest function: {functions[0][1]} ({functions[0][0]} lines)")
    over_f = [f for f in files if f[0] > args.file_limit]
    over_g = [f for f in functions if f[0] > args.function_limit]
    for n, name in over_f:
        print(f"file over {args.file_limit}: {name} ({n} lines)")
    for n, name in over_g:
        print(f"function over {args.function_limit}: {name} ({n} lines)")
    print(f"{len(over_f)} file(s), {len(over_g)} function(s) over the limits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
