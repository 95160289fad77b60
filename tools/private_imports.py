"""Count private names that one public module of oxalate imports from another.

A public module is one whose file name does not start with an underscore
(``speciation.py``); a private name is one that starts with an underscore.
Importing a private *module* (``oxalate._engines``) is the intended way to
share code between public modules and is not counted.

Run: ``python tools/private_imports.py`` (prints each import and the total).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "oxalate"


def _public(path: Path) -> bool:
    rel = path.relative_to(ROOT)
    return not any(part.startswith("_") and part != "__init__.py" for part in rel.parts)


def main() -> int:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if not _public(path):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level == 0 or node.module is None:
                continue
            target = node.module.split(".")[0]
            if target.startswith("_"):
                continue  # a private module: a shared home
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(
                        f"{path.relative_to(ROOT)}: from .{node.module} import {alias.name}"
                    )
    for line in found:
        print(line)
    print(f"{len(found)} private name(s) imported across public modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
