"""The command line on big files: time, peak memory, and that rows in = rows out.

Builds a CSV of N rows by repeating the bundled table of 500 synthetic 24-hour
urines (:func:`oxalate.tables.example_csv`, four spoiled rows in every 500,
with fresh patient ids), then runs ``oxalate speciate FILE -o OUT`` as a
subprocess and reports its wall time, rows/s, the child's peak resident memory
(``ru_maxrss``), the summary it printed on stderr, and the line counts of the
input and output files.

Usage::

    python benchmarks/bench_cli.py --rows 1e5 1e7 [--chunk-rows 100000]

Benchmarks are never timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from oxalate import tables


def build(path: Path, rows: int) -> None:
    base = pd.read_csv(tables.example_csv())
    with open(path, "w", encoding="utf-8") as out:
        written = 0
        block = 0
        while written < rows:
            part = base.iloc[: rows - written].copy()
            part["patient_id"] = [f"B{block:05d}-{i:03d}" for i in range(len(part))]
            part.to_csv(out, index=False, header=written == 0)
            written += len(part)
            block += 1


def lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", type=float, default=[1e5])
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=None, help="where to write the files")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="oxalate-bench-cli-"))
    for n in (int(r) for r in args.rows):
        source, target = folder / f"urines_{n}.csv", folder / f"results_{n}.csv"
        t0 = time.perf_counter()
        build(source, n)
        built = time.perf_counter() - t0
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "oxalate", "speciate", str(source), "-o", str(target),
             "--chunk-rows", str(args.chunk_rows)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(f"\nN = {n:,} rows ({source.stat().st_size / 1e6:,.0f} MB, built in {built:.0f} s)")
        print(f"exit status {done.returncode}; {seconds:.1f} s, {n / seconds:,.0f} rows/s")
        note = "" if peak > before else " (an earlier run's; this one was smaller)"
        print(f"peak RSS of the command: {max(peak, before) / 1024:,.0f} MB{note}")
        print(f"lines in {lines(source):,}, lines out {lines(target):,} (header included)")
        print("stderr:\n" + done.stderr.strip())
        source.unlink()
        target.unlink()


if __name__ == "__main__":
    main()
