"""The README's example runs and prints what its comments say.

A guard against drift between the README and the library, not a validation test: the
figures themselves are validated against PHREEQC in test_speciation_phreeqc.py.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_prints_its_comments() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.S)
    assert block, "README.md has no python example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block.group(1), "README.md", "exec"), {})
    printed = out.getvalue().split("\n")
    assert printed[0] == "1.5 L/d 8.6"
    assert printed[1] == "2.5 L/d 4.9"
    assert printed[2] == "[0.04 0.21 0.63 1.04 2.08]"
    for line in printed[:3]:
        assert line.split(" ")[-1].strip("[]") in block.group(1)
