"""oxalate: calcium oxalate supersaturation, speciation and precipitation.

Vectorised over numpy arrays, unit-aware at the edges (pint), checked against
USGS PHREEQC.  Importing the package reads no data and changes no pint
setting; the constant tables load on first use.

Examples
--------
>>> import oxalate
>>> round(float(oxalate.saturation_index("4 mmol/L", "0.3 mmol/L", temperature="37 degC",
...                                      background="150 mmol/L NaCl")), 3)
1.586
"""

from __future__ import annotations

from . import calcification as calcification
from . import equil2 as equil2
from . import fluids as fluids
from . import indices as indices
from . import kernels as kernels
from . import kinetics as kinetics
from . import nephron as nephron
from . import tables as tables
from ._errors import (
    OxalateEngineWarning,
    OxalateInputWarning,
    OxalateRangeWarning,
    OxalateRowWarning,
    OxalateWarning,
)
from .activity import ACTIVITY_MODELS, activity_coefficient, ionic_strength
from .crystallization import Crystallization, crystallize
from .database import CONSTANT_SETS, ConstantSet, constant_set
from .precipitation import (
    Dilution,
    Precipitation,
    Threshold,
    Titration,
    dilution_for,
    mix,
    precipitate,
    threshold,
    titrate,
)
from .saturation import saturation_index, solubility, solubility_product, supersaturation
from .solution import Solution
from .speciation import Speciation, speciate
from .thermo import debye_huckel_a, debye_huckel_b, log_k
from .units import Quantity, expressed_as, ureg

compile = kernels.compile

__version__ = "0.1.0"

__all__ = [
    "ACTIVITY_MODELS",
    "CONSTANT_SETS",
    "ConstantSet",
    "Crystallization",
    "Dilution",
    "OxalateEngineWarning",
    "OxalateInputWarning",
    "OxalateRangeWarning",
    "OxalateRowWarning",
    "OxalateWarning",
    "Precipitation",
    "Quantity",
    "Solution",
    "Speciation",
    "Threshold",
    "Titration",
    "__version__",
    "activity_coefficient",
    "compile",
    "constant_set",
    "crystallize",
    "debye_huckel_a",
    "debye_huckel_b",
    "dilution_for",
    "expressed_as",
    "ionic_strength",
    "log_k",
    "mix",
    "precipitate",
    "saturation_index",
    "solubility",
    "solubility_product",
    "speciate",
    "supersaturation",
    "threshold",
    "titrate",
    "ureg",
]
