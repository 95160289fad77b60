"""Shared fixtures: a minimal PHREEQC database and runner, hypothesis profiles.

PHREEQC cross-checks use USGS PHREEQC 3.8.6 through the ``phreeqc`` package
(pip install phreeqc==1.1.1, in the ``test`` extra).  The database is written
here by hand, not generated from oxalate's tables: no species has a
``-gamma`` line, so PHREEQC applies its Davies equation (REFERENCE §2), and
the gram formula weights of the master species are oxalate's molar masses
(REFERENCE §4), because PHREEQC uses them to turn mmol/L and mg/L into
mol/kg of water.  Tests that use :func:`run_phreeqc` carry
``@pytest.mark.phreeqc`` and are skipped when the package is missing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles, chosen with the HYPOTHESIS_PROFILE environment variable:
#
#   ci (the default)  50 examples a test: the property tests take a few seconds each
#                     on two cores, and the whole suite stays well inside CI's time;
#   thorough          500 examples a test, for a longer local run before a release or
#                     after a change to a solver: HYPOTHESIS_PROFILE=thorough pytest.
#
# The first call of a function pays for pint's registry, the CSV files and (numba)
# the kernel cache; hypothesis must not count that as a slow example, hence no
# deadline.  print_blob: a CI failure prints the @reproduce_failure line to rerun it.
# Tests that set max_examples themselves (the PHREEQC cross-checks) keep their own.
settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    settings.get_profile("ci"),
    max_examples=500,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: log10(2.3e-9): the default COM solubility product at 25 °C (REFERENCE §1).
LOG_KSP_COM = math.log10(2.3e-9)

_MASTER = """\
SOLUTION_MASTER_SPECIES
H        H+      -1   H        1.008
H(1)     H+      -1   0
E        e-       0   0        0
O        H2O      0   O        16.0
O(-2)    H2O      0   0
Na       Na+      0   Na       22.98977
K        K+       0   K        39.0983
Cl       Cl-      0   Cl       35.453
Ca       Ca+2     0   Ca       40.078
Ox       Ox-2     0   Ox       88.019
"""

_SPECIES = """\
SOLUTION_SPECIES
H+ = H+
e- = e-
H2O = H2O
Na+ = Na+
{sodium_gamma}
K+ = K+
Cl- = Cl-
Ca+2 = Ca+2
Ox-2 = Ox-2
2 H+ + 2 e- = H2
  log_k -3.15
2 H2O = O2 + 4 H+ + 4 e-
  log_k -86.08
H2O = OH- + H+
  log_k -13.997
  delta_h 55.81 kJ
{species}
"""

# Dissolution reactions of REFERENCE §1/§3 (default constant set), written out
# here from the reference, not read from oxalate's tables.
_PHASES = f"""\
PHASES
Whewellite
  CaOx:H2O = Ca+2 + Ox-2 + H2O
  log_k {LOG_KSP_COM:.15f}
  delta_h 21.5 kJ
Weddellite
  CaOx:2H2O = Ca+2 + Ox-2 + 2H2O
  log_k -8.30
  delta_h 25.2 kJ
Caoxite
  CaOx:3H2O = Ca+2 + Ox-2 + 3H2O
  log_k -8.19
  delta_h 29.7 kJ
"""


def phreeqc_database(*, sodium_gamma: str = "", species: str = "") -> str:
    """The text of a minimal PHREEQC database (Na, K, Cl, Ca, oxalate; no ion pairs).

    Parameters
    ----------
    sodium_gamma : str
        An optional ``-gamma a b`` line for Na+ (otherwise Davies).
    species : str
        Extra SOLUTION_SPECIES text, e.g. a neutral ion pair.
    """
    return _MASTER + _SPECIES.format(sodium_gamma=sodium_gamma, species=species) + _PHASES


RunPhreeqc = Callable[..., dict[str, np.ndarray]]


@pytest.fixture(scope="session")
def run_phreeqc() -> RunPhreeqc:
    """Run PHREEQC on some SOLUTION blocks and return the USER_PUNCH columns.

    ``run_phreeqc(solutions, {"mu": "MU", "lg": 'LG("Na+")'}, sodium_gamma=...,
    species=..., knobs=True)`` returns ``{"mu": array, "lg": array}``, one
    entry per punched line.  PHREEQC never raises: the error count and
    ``GetErrorString()`` are checked here.
    """
    phreeqc = pytest.importorskip("phreeqc")

    def run(
        solutions: str,
        punch: dict[str, str],
        *,
        sodium_gamma: str = "",
        species: str = "",
        knobs: bool = True,
    ) -> dict[str, np.ndarray]:
        p = phreeqc.Phreeqc()
        p.LoadDatabaseString(phreeqc_database(sodium_gamma=sodium_gamma, species=species))
        assert not p.GetErrorString(), p.GetErrorString()
        text = ""
        if knobs:  # tight convergence for reference runs (REFERENCE §5)
            text += "KNOBS\n  -convergence_tolerance 1e-15\n"
        text += (
            "SELECTED_OUTPUT\n  -reset false\nUSER_PUNCH\n"
            f"  -headings {' '.join(punch)}\n"
            f"  10 PUNCH {', '.join(punch.values())}\n"
        )
        text += solutions + "\nEND\n"
        nerr = p.RunString(text)
        assert nerr == 0, p.GetErrorString()
        out = p.GetSelectedOutput()
        return {k: np.asarray(out[k], dtype=np.float64) for k in punch}

    return run


# OXALATE_TEST_FORCE_NDARRAY_LIKE=1 runs the tests as after `import pint_xarray`, which
# turns this setting of pint's application registry on for the whole process
# (tests/test_threads.py runs some modules so): oxalate's results must not change.
if os.environ.get("OXALATE_TEST_FORCE_NDARRAY_LIKE"):
    import pint

    pint.get_application_registry().force_ndarray_like = True
