"""The kernel cache under concurrent first use: 8 threads x N runs, each on a fresh cache.

Each run starts a new interpreter with an empty ``OXALATE_CACHE_DIR`` in which 8
threads call ``oxalate.speciate(engine="numba")`` at the same moment (behind a
barrier), and reports how many threads raised and whether the ones that returned
got the same bits.  Point ``PYTHONPATH`` at another checkout's ``src`` to run the
same test on other code.

Usage::

    python tools/cache_race.py --runs 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CODE = """
import json, threading
import numpy as np
import oxalate

rng = np.random.default_rng(1)
n = 64
totals = {"Ca": rng.uniform(1e-3, 5e-3, n), "Ox": rng.uniform(1e-4, 5e-4, n),
          "Na": np.full(n, 0.1), "Cl": np.full(n, 0.1)}
s = oxalate.Solution.from_molalities(totals, pH=6.0, temperature_kelvin=310.15)
barrier = threading.Barrier(8)
results, errors = [None] * 8, []

def work(i):
    barrier.wait()
    try:
        results[i] = oxalate.speciate(s, engine="numba").molality.tobytes()
    except Exception as err:
        errors.append(type(err).__name__)

threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"errors": errors, "distinct": len({r for r in results if r})}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    failed_runs = 0
    failed_threads = 0
    kinds: dict[str, int] = {}
    t0 = time.perf_counter()
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            env = {**os.environ, "OXALATE_CACHE_DIR": os.path.join(folder, "cache")}
            out = subprocess.run(
                [sys.executable, "-c", CODE], env=env, capture_output=True, text=True
            )
            if out.returncode != 0:
                failed_runs += 1
                kinds["crash"] = kinds.get("crash", 0) + 1
                continue
            report = json.loads(out.stdout.strip().splitlines()[-1])
            if report["errors"] or report["distinct"] != 1:
                failed_runs += 1
            failed_threads += len(report["errors"])
            for kind in report["errors"]:
                kinds[kind] = kinds.get(kind, 0) + 1
    print(
        f"{args.runs} runs x 8 threads on a fresh cache: {failed_runs} run(s) failed, "
        f"{failed_threads} thread(s) raised {kinds or ''} ({time.perf_counter() - t0:.0f} s)"
    )
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
