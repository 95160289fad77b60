"""The ``oxalate`` command line: a table of solutions in, the same table with results out.

Installed with the ``cli`` extra (``pip install "oxalate[cli]"``; Parquet also
needs ``pyarrow``, the ``parquet`` extra).  Run ``oxalate --help`` or
``python -m oxalate --help``.

Every input column passes through and the result columns are appended, one
output row per input row, in order.  Rows that cannot be computed keep their
place with ``converged`` False and a ``reason``; the exit status is 0 when the
run completed, even with failed rows, and non-zero when the input cannot be
used at all (no such file, no known column).  Files are read and written in
chunks (``--chunk-rows``), so a file of any length runs in bounded memory.
Headers follow :mod:`oxalate.tables` (``calcium [mg/d]``, ``pH``); other
headers are mapped with ``--column`` and ``--unit``.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import click
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'the oxalate command line needs click (and tqdm): pip install "oxalate[cli]"'
    ) from err

import numpy as np

from ._errors import OxalateRowWarning

__all__ = ["main"]

EXAMPLE = """
\b
Example (a spreadsheet of 24-hour urines, saved as CSV):
  patient_id,calcium [mg/d],oxalate [mg/d],citrate [mg/d],volume [L/d],pH
  P-01,180,25,650,2.4,6.2
\b
  oxalate speciate urines.csv -o results.csv --missing zero
  oxalate speciate urines.parquet -o results.parquet --outputs SI_COM,omega_COM
  cat urines.csv | oxalate equil2 - > equil2.csv
  oxalate threshold plasma.csv --vary oxalate --phase COM
"""


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f"{item!r}: write it as NAME=VALUE", param_hint=option)
        out[key.strip()] = value.strip()
    return out


def _is_parquet(path: str, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "parquet"
    return path.lower().endswith((".parquet", ".pq"))


def _read_chunks(path: str, fmt: str | None, rows: int) -> Iterator[Any]:
    """The input table, ``rows`` rows at a time, with a running row index."""
    import pandas as pd

    if _is_parquet(path, fmt):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise click.ClickException(
                'reading Parquet needs pyarrow: pip install "oxalate[parquet]"'
            ) from None
        source = sys.stdin.buffer if path == "-" else path
        start = 0
        for batch in pq.ParquetFile(source).iter_batches(batch_size=rows):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame
        return
    source_csv: Any = sys.stdin if path == "-" else path
    yield from pd.read_csv(source_csv, chunksize=rows)


class _Writer:
    """Writes chunks to CSV or Parquet, to a file or to stdout, header once."""

    def __init__(self, path: str | None, fmt: str | None) -> None:
        self.path = path or "-"
        self.parquet = _is_parquet(self.path, fmt)
        self._writer: Any = None
        self._schema: Any = None
        self._first = True

    def write(self, frame: Any) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            if self._writer is None:
                self._schema = table.schema
                sink = sys.stdout.buffer if self.path == "-" else self.path
                self._writer = pq.ParquetWriter(sink, self._schema)
            self._writer.write_table(table)
            return
        target: Any = sys.stdout if self.path == "-" else self.path
        frame.to_csv(target, index=False, header=self._first, mode="w" if self._first else "a")
        self._first = False

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _needs_compiling(kernel: str) -> bool:
    """True when numba is there but this machine has not compiled ``kernel`` yet."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    from .kernels import cache_folder

    try:
        folder = cache_folder()
    except OSError:
        return False
    stem = "oxalate_kernel_" if kernel == "speciate" else "oxalate_reaction_"
    return not any(folder.glob(f"{stem}*.py"))


def _run(
    what: str,
    input_path: str,
    output: str | None,
    fmt: str | None,
    out_fmt: str | None,
    options: dict[str, Any],
    compute: Callable[[Any, dict[str, Any]], Any],
    kernel: str | None,
    table: Callable[[Any, dict[str, Any]], Any] | None = None,
) -> None:
    """Read, compute and write chunk by chunk; the summary goes to stderr.

    With ``--scheduler`` (commands that give ``table``, the dask form of
    ``compute``) the whole table runs on dask instead (:func:`_run_dask`).
    """
    if options.get("scheduler"):
        assert table is not None and kernel is not None
        _run_dask(what, input_path, output, fmt, options, table, kernel)
        return
    options.pop("scheduler", None)
    from . import tables

    start = time.perf_counter()
    rows_in = rows_out = converged = 0
    reasons: Counter[str] = Counter()
    notes: dict[str, None] = {}
    writer = _Writer(output, out_fmt)
    quiet = options.pop("quiet")
    # the command says it itself, once, below (and -q means quiet)
    logging.getLogger("oxalate").setLevel(logging.ERROR)
    if kernel and not quiet and _needs_compiling(kernel):
        click.echo(
            f"oxalate: compiling the {kernel} kernel for this machine, once "
            f"(about {'10' if kernel == 'speciate' else '60'} s; `oxalate compile` does it "
            "ahead of time)",
            err=True,
        )
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with the cli extra
        tqdm = None
    show = tqdm is not None and sys.stderr.isatty() and not quiet
    bar = tqdm(unit=" rows", file=sys.stderr, desc=what) if show and tqdm is not None else None
    read = {k: options.pop(k) for k in ("columns", "units", "missing", "on_invalid", "rows")}
    try:
        for chunk in _read_chunks(input_path, fmt, read["rows"]):
            with warnings.catch_warnings(record=True) as caught:  # summarised instead
                warnings.simplefilter("always")
                try:
                    result = compute(chunk, {**read, **options})
                except (ValueError, TypeError, KeyError) as err:
                    raise click.ClickException(str(err)) from None
            for w in caught:  # per-row failures are counted below; the rest said once
                text = str(w.message)
                if not issubclass(w.category, OxalateRowWarning) and "row(s) are NaN" not in text:
                    notes.setdefault(text, None)
            frame = result.to_dataframe()
            frame.index = chunk.index
            ok = np.asarray(frame["converged"], dtype=bool)
            converged += int(ok.sum())
            reasons.update(str(r) for r in np.asarray(frame["reason"])[~ok])
            clash = [c for c in frame.columns if c in chunk.columns]
            frame = frame.rename(columns={c: f"{c}_out" for c in clash})
            import pandas as pd

            writer.write(pd.concat([chunk, frame], axis=1))
            rows_in += len(chunk)
            rows_out += len(frame)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        writer.close()
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    if not quiet:
        failed = rows_in - converged
        lines = [
            f"oxalate {what}: {rows_in:,} rows in, {rows_out:,} rows out, {converged:,} "
            f"computed, {failed:,} failed, {seconds:.1f} s"
        ]
        lines += [f"  {n:>9,}  {reason}" for reason, n in reasons.most_common()]
        lines += [f"  note: {text}" for text in list(notes)[:5]]
        click.echo("\n".join(lines), err=True)
    _ = tables  # imported above so that a missing pandas fails before reading


def _scheduler(name: str) -> tuple[Any, Any]:
    """(dask config context, client or None) for ``--scheduler``."""
    import contextlib
    import os

    try:
        import dask
    except ImportError:
        raise click.ClickException(
            '--scheduler needs dask: pip install "oxalate[xarray]"'
        ) from None
    if name in ("threads", "processes", "sync"):
        return dask.config.set(scheduler=name), None
    if name != "local" and ":" not in name:
        raise click.ClickException(
            f"--scheduler {name}: not known; give threads, processes, sync, local or a "
            "scheduler's address (tcp://host:8786)"
        )
    try:
        import distributed as _distributed
    except ImportError:
        raise click.ClickException(
            f'--scheduler {name} needs dask.distributed: pip install "oxalate[xarray]"'
        ) from None
    distributed: Any = _distributed  # untyped
    if name == "local":
        cluster = distributed.LocalCluster(
            n_workers=os.cpu_count() or 1, threads_per_worker=1, dashboard_address=None
        )
        client = distributed.Client(cluster)
    else:
        try:
            client = distributed.Client(name, timeout="20s")
        except (OSError, TimeoutError, ValueError) as err:
            raise click.ClickException(
                f"--scheduler {name}: no dask scheduler answered there ({err}); give "
                "threads, processes, sync, local or a scheduler's address (tcp://host:8786)"
            ) from None
    return contextlib.nullcontext(), client


def _run_dask(
    what: str,
    input_path: str,
    output: str | None,
    fmt: str | None,
    options: dict[str, Any],
    table: Callable[[Any, dict[str, Any]], Any],
    kernel: str,
) -> None:
    """``--scheduler``: the whole table as a dask DataFrame, written by the workers."""
    import dask as _dask
    import dask.dataframe as dd

    dask: Any = _dask  # untyped
    start = time.perf_counter()
    scheduler = options.pop("scheduler")
    quiet = options.pop("quiet")
    if input_path == "-" or output in (None, "-"):
        raise click.ClickException(
            "--scheduler reads a named file and writes -o FILE (a .csv file, or a folder of "
            "Parquet parts for .parquet); standard input and output are for the plain mode"
        )
    assert output is not None
    rows = options.pop("rows")
    read = {k: options.pop(k) for k in ("columns", "units", "missing", "on_invalid")}
    read["columns"] = _pairs(read["columns"], "--column")
    read["units"] = _pairs(read["units"], "--unit")
    if _is_parquet(input_path, fmt):
        frame = dd.read_parquet(input_path)
    else:
        import pandas as pd

        with open(input_path, "rb") as handle:  # partitions of about --chunk-rows rows
            head = handle.readlines(1 << 20)
        per_row = max(1.0, sum(map(len, head[1:])) / max(1, len(head) - 1))
        # dtypes from the first rows, as the plain mode infers them, but nullable, so that
        # a later partition with an empty cell does not break dask's fixed dtypes
        sample = pd.read_csv(input_path, nrows=1000)
        kinds = {"i": "Int64", "u": "Int64", "f": "float64", "b": "boolean"}
        dtypes = {c: kinds.get(t.kind, "object") for c, t in sample.dtypes.items()}
        frame = dd.read_csv(input_path, blocksize=max(int(rows * per_row), 1 << 12),
                            dtype=dtypes)  # fmt: skip
    context, client = _scheduler(scheduler)
    try:
        with context:
            if client is not None:
                from .dask import prepare

                prepare(client, (kernel,))
            try:
                out = table(frame, {**read, **options})
            except (ValueError, TypeError, KeyError) as err:
                raise click.ClickException(str(err)) from None
            if _is_parquet(output, None):
                write = out.to_parquet(output, write_index=False, compute=False)
            else:
                write = out.to_csv(output, single_file=True, index=False, compute=False)
            failed_reasons = out["reason"][~out["converged"]].value_counts()
            _, n_rows, reasons = dask.compute(write, out.shape[0], failed_reasons)
    finally:
        if client is not None:
            client.close()
    if not quiet:
        failed = int(reasons.sum())
        lines = [
            f"oxalate {what}: {int(n_rows):,} rows in, {int(n_rows):,} rows out, "
            f"{int(n_rows) - failed:,} computed, {failed:,} failed, "
            f"{time.perf_counter() - start:.1f} s on dask ({scheduler}, "
            f"{frame.npartitions} partitions)"
        ]
        lines += [f"  {n:>9,}  {reason}" for reason, n in reasons.items()]
        click.echo("\n".join(lines), err=True)


_SCHEDULER_HELP = (
    "Run on dask instead of chunk by chunk here: threads, processes, sync, local (a "
    "LocalCluster, one worker per core) or a scheduler's address (tcp://host:8786). "
    "Needs the xarray extra and -o; .parquet output is a folder of parts."
)


def _table_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The options every table subcommand shares."""
    decorators = [
        click.argument(
            "input_path",
            metavar="INPUT",
            type=click.Path(allow_dash=True, dir_okay=False, exists=True),
        ),
        click.option(
            "-o",
            "--output",
            type=click.Path(allow_dash=True, dir_okay=False),
            help="Output file (.csv or .parquet); default: CSV to stdout.",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(["csv", "parquet"]),
            help="Input format when the name does not say (e.g. stdin).",
        ),
        click.option(
            "--output-format",
            "out_fmt",
            type=click.Choice(["csv", "parquet"]),
            help="Output format when the name does not say.",
        ),
        click.option(
            "--column",
            "columns",
            multiple=True,
            metavar="HEADER=NAME",
            help="Map a header to an analyte, e.g. --column 'Ca_mg_d=calcium [mg/d]'.",
        ),
        click.option(
            "--unit",
            "units",
            multiple=True,
            metavar="NAME=UNIT",
            help="Unit of a column without one, e.g. --unit calcium=mg/d.",
        ),
        click.option(
            "--missing",
            type=click.Choice(["warn", "zero", "raise"]),
            default="warn",
            show_default=True,
            help="Analyte without a column: warn, zero or refuse.",
        ),
        click.option(
            "--on-invalid",
            type=click.Choice(["nan", "raise"]),
            default="nan",
            show_default=True,
            help="A bad row: kept as NaN with a reason, or stop.",
        ),
        click.option(
            "--chunk-rows",
            "rows",
            type=click.IntRange(min=1),
            default=100_000,
            show_default=True,
            help="Rows read, computed and written at a time.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No summary, no progress bar."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def _chemistry_options(function: Callable[..., Any]) -> Callable[..., Any]:
    decorators = [
        click.option("--temperature", default="37 degC", show_default=True,
                     help="When the table has no temperature column."),
        click.option("--constants", default="default", show_default=True,
                     help="Constant set (default, thermochimie, nist46)."),
        click.option("--activity-model", default="davies", show_default=True),
        click.option("--engine", type=click.Choice(["auto", "numpy", "numba"]), default="auto",
                     show_default=True),
    ]  # fmt: skip
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def _dask_kw(o: dict[str, Any]) -> dict[str, Any]:
    """The keywords of oxalate.dask's table functions, from the command's options."""
    keys = ("columns", "units", "missing", "on_invalid", "temperature", "activity_model",
            "constants", "engine")  # fmt: skip
    return {"keep_input": True, "suffix": "_out", **{k: o[k] for k in keys}}


def _solution(chunk: Any, o: dict[str, Any]) -> Any:
    from . import tables

    return tables.read_solution(
        chunk, columns=_pairs(o["columns"], "--column"), units=_pairs(o["units"], "--unit"),
        missing=o["missing"], on_invalid=o["on_invalid"], temperature=o["temperature"],
    )  # fmt: skip


@click.group(epilog=EXAMPLE, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="oxalate")
def main() -> None:
    """Calcium oxalate chemistry on tables of solutions: speciation, precipitation,
    thresholds and EQUIL2 supersaturation, one output row per input row."""


_OUTPUTS_HELP = (
    "Comma-separated results to keep, e.g. SI_COM,omega_COM,ionic_strength,pH "
    "(default: I, pH, SI and Ω of every phase)."
)


@main.command(epilog=EXAMPLE)
@_table_options
@_chemistry_options
@click.option("--outputs", default=None, help=_OUTPUTS_HELP)  # fmt: skip
@click.option("--scheduler", default=None, metavar="NAME|ADDRESS", help=_SCHEDULER_HELP)
def speciate(input_path: str, output: str | None, fmt: str | None, out_fmt: str | None,
             **options: Any) -> None:  # fmt: skip
    """Speciate every row: ionic strength, pH, SI and Ω of every phase."""
    from . import speciation
    from .database import constant_set

    wanted = options.pop("outputs")
    if wanted:
        names = [w.strip() for w in wanted.split(",") if w.strip()]
    else:
        phases = constant_set(options["constants"]).phases
        names = ["ionic_strength", "pH", *(f"SI_{p}" for p in phases),
                 *(f"omega_{p}" for p in phases)]  # fmt: skip

    def compute(chunk: Any, o: dict[str, Any]) -> Any:
        return speciation.speciate(
            _solution(chunk, o), activity_model=o["activity_model"], constants=o["constants"],
            engine=o["engine"], outputs=names,
        )  # fmt: skip

    def table(frame: Any, o: dict[str, Any]) -> Any:
        from .dask import speciate_dataframe

        return speciate_dataframe(frame, outputs=names, **_dask_kw(o))

    _run("speciate", input_path, output, fmt, out_fmt, options, compute, "speciate", table)


@main.command(epilog=EXAMPLE)
@_table_options
@_chemistry_options
@click.option("--phases", default="COM", show_default=True, help="Comma-separated solids.")
@click.option("--ph-mode", type=click.Choice(["closed", "fixed"]), default=None,
              help="Closed (pH follows) or fixed pH; default: closed.")  # fmt: skip
@click.option("--scheduler", default=None, metavar="NAME|ADDRESS", help=_SCHEDULER_HELP)
def precipitate(input_path: str, output: str | None, fmt: str | None, out_fmt: str | None,
                **options: Any) -> None:  # fmt: skip
    """Equilibrate every row with solids: the amount that precipitates."""
    from . import precipitation

    phases = tuple(p.strip() for p in options.pop("phases").split(",") if p.strip())
    ph_mode = options.pop("ph_mode")

    def compute(chunk: Any, o: dict[str, Any]) -> Any:
        kwargs = {} if ph_mode is None else {"ph_mode": ph_mode}
        return precipitation.precipitate(
            _solution(chunk, o), phases=phases, activity_model=o["activity_model"],
            constants=o["constants"], engine=o["engine"], **kwargs,
        )  # fmt: skip

    def table(frame: Any, o: dict[str, Any]) -> Any:
        from .dask import precipitate_dataframe

        return precipitate_dataframe(frame, phases=phases, ph_mode=ph_mode or "closed",
                                     **_dask_kw(o))  # fmt: skip

    _run("precipitate", input_path, output, fmt, out_fmt, options, compute, "precipitate", table)


@main.command(epilog=EXAMPLE)
@_table_options
@_chemistry_options
@click.option("--vary", default="oxalate", show_default=True, help="The total searched for.")
@click.option("--phase", default="COM", show_default=True)
@click.option("--target", type=float, default=1.0, show_default=True, help="The Ω reached.")
@click.option("--scheduler", default=None, metavar="NAME|ADDRESS", help=_SCHEDULER_HELP)
def threshold(input_path: str, output: str | None, fmt: str | None, out_fmt: str | None,
              **options: Any) -> None:  # fmt: skip
    """The total of one analyte at which Ω of a phase reaches a target, row by row."""
    from . import searches

    vary, phase, target = options.pop("vary"), options.pop("phase"), options.pop("target")

    def compute(chunk: Any, o: dict[str, Any]) -> Any:
        return searches.threshold(
            _solution(chunk, o), vary, target, phase, activity_model=o["activity_model"],
            constants=o["constants"], engine=o["engine"],
        )  # fmt: skip

    def table(frame: Any, o: dict[str, Any]) -> Any:
        from .dask import threshold_dataframe

        return threshold_dataframe(frame, vary=vary, target=target, phase=phase, **_dask_kw(o))

    _run("threshold", input_path, output, fmt, out_fmt, options, compute, "precipitate", table)


@main.command(epilog=EXAMPLE)
@_table_options
@click.option("--iteration", type=click.Choice(["equil2", "converged"]), default="equil2",
              show_default=True, help="Stop where EQUIL2 stops, or iterate to 1e-12.")  # fmt: skip
@click.option("--divisors", type=click.Choice(["mayo", "standard"]), default="mayo",
              show_default=True, help="How mg/dL become mol/L.")  # fmt: skip
def equil2(input_path: str, output: str | None, fmt: str | None, out_fmt: str | None,
           **options: Any) -> None:  # fmt: skip
    """EQUIL2's supersaturation (SS and DG) of every urine, as the stone clinic reports it."""
    from . import tables

    iteration, divisors = options.pop("iteration"), options.pop("divisors")
    options.pop("missing")

    def compute(chunk: Any, o: dict[str, Any]) -> Any:
        return tables.equil2(
            chunk, columns=_pairs(o["columns"], "--column"), units=_pairs(o["units"], "--unit"),
            on_invalid=o["on_invalid"], iteration=iteration, divisors=divisors,
        )  # fmt: skip

    options["missing"] = "warn"
    _run("equil2", input_path, output, fmt, out_fmt, options, compute, None)


@main.command(name="compile")
def compile_kernels() -> None:
    """Build the compiled kernels now (needs numba), so no later run waits for them."""
    from .kernels import cache_folder
    from .kernels import compile as build

    try:
        built = build()
    except ImportError as err:
        raise click.ClickException(str(err)) from None
    for kernel, seconds in built.items():
        click.echo(f"{kernel}: {seconds:.1f} s", err=True)
    click.echo(f"cached in {Path(cache_folder())}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
