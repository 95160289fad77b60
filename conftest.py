"""Collection rules for the whole repository (tests, doctests in src/ and docs/).

The doctests of the modules and pages of an optional extra need that extra:
without it they are left out of the collection instead of failing on an import.
The README's test command installs every extra, so CI runs all of them.
"""

from __future__ import annotations

from importlib.util import find_spec

collect_ignore: list[str] = []
if find_spec("xarray") is None or find_spec("dask") is None:
    # the xarray extra: xarray, pint-xarray, dask, distributed
    collect_ignore += ["src/oxalate/xarray.py", "src/oxalate/dask.py", "docs/scale.rst"]
