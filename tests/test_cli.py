"""The command line (issue 11), run as a subprocess on real files.

Each test writes a CSV or Parquet file, runs ``oxalate`` (the console script) or
``python -m oxalate`` on it, and reads what it wrote.  The numbers are compared
with the Python API on the same table (oxalate.tables), and with EQUIL2's
keyword call.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oxalate
from oxalate import tables

pytest.importorskip("click")

HEADERS = (
    "patient_id,visit,calcium [mg/d],oxalate [mg/d],citrate [mg/d],magnesium [mg/d],"
    "sodium [mEq/d],potassium [mEq/d],chloride [mEq/d],phosphate [mg/d as P],"
    "sulfate [mmol/d],volume [L/d],pH"
)
ROWS = [
    "P-01,1,180,25,650,100,150,60,150,900,18,2.4,6.2",
    "P-02,1,320,48,300,80,200,45,190,1100,25,-1.1,5.6",  # negative volume
    "P-03,2,250,40,500,90,170,50,160,1000,20,1.6,",  # empty pH
    "P-04,1,210,30,400,95,160,55,150,950,22,2.0,5.8",
    "P-05,3,150,20,700,110,140,70,140,800,15,1.8,6.6",
]


def run(
    *args: str, stdin: str | None = None, module: bool = False
) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "oxalate"
    command = [sys.executable, "-m", "oxalate"] if module or not script.exists() else [str(script)]
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, text=True, timeout=600,
        env={**os.environ, "COLUMNS": "100"},
    )  # fmt: skip


@pytest.fixture
def urines(tmp_path: Path) -> Path:
    path = tmp_path / "urines.csv"
    path.write_text("\n".join([HEADERS, *ROWS]) + "\n", encoding="utf-8")
    return path


def test_speciate_keeps_every_row_and_column(urines: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    done = run("speciate", str(urines), "-o", str(out))
    assert done.returncode == 0, done.stderr
    result = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert len(result) == len(ROWS)  # rows in = rows out, in order
    assert list(result["patient_id"]) == ["P-01", "P-02", "P-03", "P-04", "P-05"]
    assert list(result.columns[:13]) == HEADERS.split(",")  # input columns pass through
    assert list(result["converged"]) == [True, False, False, True, True]
    assert result.loc[1, "reason"] == "invalid input: volume not positive"
    assert result.loc[2, "reason"] == "invalid input: pH missing"
    # the summary on stderr
    assert "5 rows in, 5 rows out, 3 computed, 2 failed" in done.stderr
    # the same numbers as the Python API on the same table
    frame = pd.read_csv(urines).set_index("patient_id")
    with pytest.warns(oxalate.OxalateInputWarning):
        batch = tables.read_solution(frame, on_invalid="nan", missing="zero")
    with pytest.warns(oxalate.OxalateRowWarning):
        ref = oxalate.speciate(batch)
    np.testing.assert_allclose(result["SI_COM"], ref.saturation_index["COM"], rtol=1e-12)
    np.testing.assert_allclose(result["omega_COD"], ref.supersaturation["COD"], rtol=1e-12)


def test_chunks_give_the_same_output(urines: Path, tmp_path: Path) -> None:
    whole, parts = tmp_path / "whole.csv", tmp_path / "parts.csv"
    assert run("speciate", str(urines), "-o", str(whole), "-q").returncode == 0
    assert (
        run("speciate", str(urines), "-o", str(parts), "--chunk-rows", "2", "-q").returncode == 0
    )
    assert whole.read_text() == parts.read_text()


def test_parquet_in_and_out(urines: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    source = tmp_path / "urines.parquet"
    pd.read_csv(urines).to_parquet(source, index=False)
    out = tmp_path / "out.parquet"
    done = run("precipitate", str(source), "-o", str(out), "--phases", "COM,brushite")
    assert done.returncode == 0, done.stderr
    result = pd.read_parquet(out)
    assert len(result) == len(ROWS)
    assert {"amount_COM", "amount_brushite", "converged", "reason"} <= set(result.columns)
    ref = oxalate.precipitate(
        tables.read_solution(pd.read_csv(urines).iloc[[0, 3, 4]], missing="zero"),
        phases=("COM", "brushite"),
    )
    np.testing.assert_allclose(result["amount_COM"].iloc[[0, 3, 4]], ref.amount["COM"], rtol=1e-12)


def test_stdin_to_stdout_with_python_m(urines: Path) -> None:
    done = run("speciate", "-", "--outputs", "SI_COM", "-q", stdin=urines.read_text(), module=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 + len(ROWS)
    assert lines[0].endswith("SI_COM,converged,reason")
    assert done.stderr == ""


def test_column_and_unit_options(tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    path.write_text("sample,Ca_mM,Ox_mM,ph\nA,4.0,0.3,6.0\nB,2.0,0.2,6.5\n", encoding="utf-8")
    done = run(
        "speciate", str(path), "--column", "Ca_mM=calcium [mmol/L]", "--column", "Ox_mM=oxalate",
        "--unit", "oxalate=mmol/L", "--missing", "zero", "--temperature", "25 degC", "-q",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = pd.read_csv(pd.io.common.StringIO(done.stdout))
    calcium = oxalate.Quantity([4.0, 2.0], "mmol/L")
    oxalate_ = oxalate.Quantity([0.3, 0.2], "mmol/L")
    s = oxalate.Solution(
        calcium=calcium, oxalate=oxalate_, pH=np.array([6.0, 6.5]), temperature="25 degC"
    )
    ref = oxalate.speciate(s)
    np.testing.assert_allclose(result["SI_COM"], ref.saturation_index["COM"], rtol=1e-12)


def test_threshold_and_equil2(urines: Path, tmp_path: Path) -> None:
    done = run("threshold", str(urines), "--vary", "Oxalate", "--phase", "whewellite", "-q")
    assert done.returncode == 0, done.stderr
    result = pd.read_csv(pd.io.common.StringIO(done.stdout))
    assert result["converged"].tolist() == [True, False, False, True, True]
    path = tmp_path / "equil2.csv"
    path.write_text(
        "id,sodium [mmol/L],potassium [mmol/L],calcium [mg/dL],magnesium [mg/dL],"
        "ammonium [ug/dL as NH3],chloride [mmol/L],phosphate [mmol/L],sulfate [mmol/L],"
        "oxalate [mg/L],citrate [mg/L],urate [mg/dL],pH\n"
        "R,45,55,15,15,10,75,32.285,10,10,400,50,5.5\n",
        encoding="utf-8",
    )
    done = run("equil2", str(path), "-q")
    assert done.returncode == 0, done.stderr
    result = pd.read_csv(pd.io.common.StringIO(done.stdout))
    assert result.loc[0, "ss_calcium_oxalate"] == pytest.approx(3.10, abs=0.005)  # R port sample


def test_unusable_input_fails(tmp_path: Path) -> None:
    done = run("speciate", str(tmp_path / "nonsuch.csv"))
    assert done.returncode != 0 and "does not exist" in done.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("calcum [mg/d],pH\n1,6\n", encoding="utf-8")
    done = run("speciate", str(bad))
    assert done.returncode != 0 and "'calcum' is not an analyte" in done.stderr
    # no known column at all: refused, not computed as pure water
    none = tmp_path / "none.csv"
    none.write_text("a,b\n1,2\n", encoding="utf-8")
    done = run("speciate", str(none))
    assert done.returncode != 0 and "no column names an analyte" in done.stderr
    done = run("speciate", "-", stdin="a,b\n1,2\n")
    assert done.returncode != 0 and "no column names an analyte" in done.stderr


def test_help_shows_a_worked_example() -> None:
    done = run("speciate", "--help")
    assert done.returncode == 0
    assert "calcium [mg/d]" in done.stdout and "oxalate speciate urines.csv" in done.stdout


def test_the_worked_example_runs(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[1] / "examples" / "urine_table.py"
    out = tmp_path / "results.csv"
    done = subprocess.run(
        [sys.executable, str(script), "--output", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "500 patients in, 500 out, 496 computed" in done.stdout
    result = pd.read_csv(out)
    assert len(result) == 500 and result["reason"].notna().sum() == 4


def test_scheduler_threads_and_local_cluster_equal_the_plain_mode(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    data = Path(oxalate.__file__).parent / "data" / "urines_24h_synthetic.csv"
    plain, threaded, cluster = (
        tmp_path / "plain.csv",
        tmp_path / "dask.csv",
        tmp_path / "out.parquet",
    )
    done = run("speciate", str(data), "-o", str(plain), "--missing", "zero", "-q")
    assert done.returncode == 0, done.stderr
    done = run("speciate", str(data), "-o", str(threaded), "--missing", "zero",
               "--scheduler", "threads", "--chunk-rows", "40")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "500 rows in, 500 rows out" in done.stderr
    assert "partitions" in done.stderr  # more than one: the chunking is exercised
    assert int(done.stderr.split(" partitions")[0].rsplit(",", 1)[1].strip()) > 1
    expected = pd.read_csv(plain)
    # every input column and every result, in the same order, bit for bit
    pd.testing.assert_frame_equal(pd.read_csv(threaded), expected, check_exact=True)

    done = run("precipitate", str(data), "-o", str(cluster), "--missing", "zero",
               "--scheduler", "local", "--chunk-rows", "150")  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = pd.read_parquet(cluster)  # a folder of parts, read in order
    with pytest.warns(oxalate.OxalateWarning):  # the 4 spoiled rows
        reference = tables.read_solution(pd.read_csv(data), missing="zero", on_invalid="nan",
                                         temperature="37 degC")  # fmt: skip
        amount = oxalate.precipitate(reference).amount["COM"]
    np.testing.assert_array_equal(got["amount_COM"].to_numpy(), amount)
    assert len(got) == 500
    assert int((~got["converged"]).sum()) == 4  # the spoiled rows, kept


def test_scheduler_refuses_what_it_cannot_do(urines: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    done = run("speciate", str(urines), "--scheduler", "threads")  # no -o
    assert done.returncode != 0
    assert "-o FILE" in done.stderr
    done = run("speciate", str(urines), "-o", str(tmp_path / "x.csv"), "--scheduler", "thread")
    assert done.returncode != 0
    assert "--scheduler thread: not known" in done.stderr
