"""The compiled kernels' cache: concurrent first use, unusable folders, unsafe folders.

Reproducers of issue 10, items 1-3:

* 8 threads calling ``speciate(engine="numba")`` at once on a fresh cache raised
  ``FileNotFoundError`` in 5 of 8 runs, and a stress test of the loader saw 51 of 240
  calls raise and 3 import a half-written module;
* with no writable cache folder ``speciate()`` raised ``RuntimeError: cannot cache
  function``, and every process recompiled into a new temporary folder;
* the cache holds code and pickles that run in the process, and its owner and
  permissions were never checked.

Each case runs in a fresh interpreter (``subprocess``), where nothing is loaded yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import oxalate
from oxalate._engines import cache

pytest.importorskip("numba")

SRC = Path(oxalate.__file__).resolve().parent


def _run(code: str, env: dict[str, str], timeout: float = 300) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    full = {**os.environ, **env}
    for key in [k for k, v in env.items() if v is None]:  # pragma: no cover - unused
        full.pop(key, None)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, env=full, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


_THREADS = """
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
        errors.append(repr(err))

threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"errors": errors, "same": len({r for r in results if r}) == 1,
                  "done": sum(r is not None for r in results)}))
"""


def test_eight_threads_on_a_fresh_cache(tmp_path: Path) -> None:
    # the reproducer of issue 10 item 1, on an empty cache folder: every thread
    # gets the kernel, compiled once, and the same bits
    report = _run(_THREADS, {"OXALATE_CACHE_DIR": str(tmp_path / "cache")})
    assert report == {"errors": [], "same": True, "done": 8}
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert not [f for f in files if f.endswith(".tmp")], files


_LOADER = """
import json, os, sys, threading
from oxalate._engines import cache

source = "VALUE = 42\\n" + "# padding\\n" * 20000
barrier = threading.Barrier(12)
seen, errors = [], []

def work():
    barrier.wait()
    for _ in range(20):
        try:
            module, path, _ = cache.load(source, "oxalate_stress")
            seen.append(module.VALUE)
            sys.modules.pop(module.__name__, None)  # load it again next time
        except Exception as err:
            errors.append(repr(err))

threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"errors": errors, "values": sorted(set(seen)), "n": len(seen)}))
"""


def test_loader_under_threads_and_processes(tmp_path: Path) -> None:
    # 3 processes x 12 threads x 20 loads of one module into one fresh folder
    env = {"OXALATE_CACHE_DIR": str(tmp_path / "cache")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _LOADER],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        report = json.loads(out.strip().splitlines()[-1])
        assert report == {"errors": [], "values": [42], "n": 240}
    left = [p.name for p in (tmp_path / "cache").iterdir() if p.name.endswith(".tmp")]
    assert left == []


_NO_CACHE = """
import json, os, warnings
import numpy as np
import oxalate

s = oxalate.Solution(calcium="4 mmol/L", oxalate="0.3 mmol/L", sodium="10 mmol/L",
                     chloride="18 mmol/L", pH=6.0)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    auto = oxalate.speciate(s)
    again = oxalate.precipitate(s)
numpy_si = oxalate.speciate(s, engine="numpy").saturation_index["COM"]
try:
    oxalate.speciate(s, engine="numba")
    refused = ""
except RuntimeError as err:
    refused = str(err)
print(json.dumps({
    "warnings": [(w.category.__name__, str(w.message)) for w in caught],
    "same": bool(auto.saturation_index["COM"] == numpy_si),
    "precipitated": bool(again.converged),
    "refused": refused,
    "tmp": sorted(p for p in os.listdir(os.environ["TMPDIR"]) if "oxalate" in p),
}))
"""


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"OXALATE_CACHE_DIR": "/dev/null/oxalate"}, id="named-folder-unusable"),
        pytest.param({"HOME": "/proc/no-home", "XDG_CACHE_HOME": ""}, id="no-home"),
    ],
)
def test_no_usable_folder_falls_back_to_numpy_once(tmp_path: Path, env: dict[str, str]) -> None:
    full = {**env, "TMPDIR": str(tmp_path)}
    if "OXALATE_CACHE_DIR" not in env:
        full["OXALATE_CACHE_DIR"] = ""
    report = _run(_NO_CACHE, full)
    # one warning of the library's own class, naming the folder; numpy's results
    assert [w[0] for w in report["warnings"]] == ["OxalateEngineWarning"]  # type: ignore[index,union-attr]
    assert "numpy engine" in report["warnings"][0][1]  # type: ignore[index]
    assert report["same"] and report["precipitated"]
    assert "needs a folder for its compiled kernels" in str(report["refused"])
    assert report["tmp"] == []  # no temporary kernel folders left behind


def test_no_compiled_code_is_written_into_the_package() -> None:
    # numba caches next to the module it compiles: only the generated modules in the
    # kernel cache are compiled, never a module of the installed package
    s = oxalate.Solution(calcium="4 mmol/kg", oxalate="1 mmol/kg", pH=6.0)
    oxalate.speciate(s, engine="numba")
    oxalate.precipitate(s, engine="numba")
    assert not list(SRC.rglob("*.nbi")) and not list(SRC.rglob("*.nbc"))


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX permissions")
def test_a_folder_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    report = _run(_NO_CACHE, {"OXALATE_CACHE_DIR": str(shared), "TMPDIR": str(tmp_path)})
    message = report["warnings"][0][1]  # type: ignore[index]
    assert "writable by other users" in message and str(shared) in message
    assert list(shared.iterdir()) == []  # nothing written into it, nothing loaded from it


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)  # nobody
    with pytest.raises(cache.KernelCacheError, match="belongs to another user"):
        os.environ["OXALATE_CACHE_DIR"] = str(theirs)
        try:
            cache.cache_dir()
        finally:
            del os.environ["OXALATE_CACHE_DIR"]


def test_cache_folder_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OXALATE_CACHE_DIR", str(tmp_path / "new" / "cache"))
    folder = oxalate.kernels.cache_folder()
    assert folder == tmp_path / "new" / "cache"
    assert folder.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("numba_cache_dir", [False, True], ids=["beside", "NUMBA_CACHE_DIR"])
def test_the_first_compilation_says_so_once(tmp_path: Path, numba_cache_dir: bool) -> None:
    """A fresh cache: one notice on stderr, naming the cache; the second process is silent.

    Also when numba keeps its compiled code in ``$NUMBA_CACHE_DIR`` (a read-only
    site-packages, a shared image), where the notice used to come every time.
    """
    pytest.importorskip("numba")
    code = (
        "import oxalate; s = oxalate.Solution(calcium='2 mmol/kg', oxalate='0.2 mmol/kg', pH=6);"
        "oxalate.speciate(s, engine='numba'); oxalate.speciate(s, engine='numba')"
    )
    env = {**os.environ, "OXALATE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("NUMBA_CACHE_DIR", None)
    if numba_cache_dir:
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("compiling the") == 1
    assert str(tmp_path / "cache") in first.stderr
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert second.returncode == 0 and "compiling" not in second.stderr
