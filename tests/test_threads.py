"""Threads and pint's global settings (issue 16).

* pint builds its application registry lazily, and two threads doing that at once
  saw it half-built ("'mmol' is not defined", hgrecco/pint#2039; 5 of 5 runs);
* ``import pint_xarray`` turns on ``force_ndarray_like`` for the whole process, after
  which scalar inputs gave 0-d arrays (3 tests failed);
* the compiled kernels release the GIL: calls from a thread pool give the same bits
  as serial calls, and only the main thread starts numba's own threads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import oxalate

ROOT = Path(__file__).resolve().parent.parent

_FIRST_USE = """
import threading
import oxalate
barrier = threading.Barrier(2)
errors = []

def work(text):
    barrier.wait()
    try:
        oxalate.Solution(calcium=text, oxalate="0.3 mmol/L", pH=6.0)
    except Exception as err:
        errors.append(repr(err))

threads = [threading.Thread(target=work, args=(t,)) for t in ("4 mmol/L", "2.5 mmol/kg")]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("errors", errors)
"""


@pytest.mark.parametrize("attempt", range(5))
def test_first_use_of_units_from_two_threads(attempt: int) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_USE], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "errors []", out.stdout + out.stderr


def test_results_do_not_change_with_force_ndarray_like() -> None:
    # the modules whose scalar results changed once pint-xarray was imported, run again
    # with the setting on (see tests/conftest.py)
    env = {**os.environ, "OXALATE_TEST_FORCE_NDARRAY_LIKE": "1"}
    out = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "tests/test_saturation.py", "tests/test_fluids.py", "docs/clinic.rst",
            "tests/test_units.py",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:]


def _batch(n: int, seed: int) -> oxalate.Solution:
    rng = np.random.default_rng(seed)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n) * 1e-3

    totals = {"Ca": u(2, 8), "Mg": u(2, 5), "Na": u(100, 200), "Cl": u(100, 200),
              "Ox": u(0.1, 0.6), "Cit": u(1, 4), "PO4": u(10, 30)}  # fmt: skip
    return oxalate.Solution.from_arrays(totals, pH=rng.uniform(5, 7, n), temperature_kelvin=310.15)


def test_thread_pool_gives_the_serial_bits() -> None:
    pytest.importorskip("numba")
    batches = [_batch(5000, seed) for seed in range(4)]
    serial = [oxalate.speciate(b).molality.tobytes() for b in batches]
    with ThreadPoolExecutor(2) as pool:
        threaded = list(pool.map(lambda b: oxalate.speciate(b).molality.tobytes(), batches))
    assert threaded == serial


def test_only_the_main_thread_starts_numba_threads() -> None:
    numba = pytest.importorskip("numba")
    from oxalate._engines import compiled

    if numba.get_num_threads() < 2:
        pytest.skip("one numba thread: nothing to start")
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(compiled.blocks(1_000_000)))
    worker.start()
    worker.join()
    assert seen == [0]  # a worker thread runs its rows itself: no nested pool
    assert compiled.blocks(1_000_000) > 0  # the main thread splits big batches
