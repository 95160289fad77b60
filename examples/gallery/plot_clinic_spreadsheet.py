"""
The clinic's spreadsheet: Ω of 500 24-hour urines
=================================================

The bundled table of 500 synthetic 24-hour urines (daily excretions with their
units in the headers, four spoiled rows) read with :mod:`oxalate.tables`, speciated,
and the SI of calcium oxalate monohydrate shown over the batch.  Failed rows stay in
the result, NaN with a reason.
"""

import warnings

import pandas as pd

import oxalate
from oxalate import plot, tables

table = pd.read_csv(tables.example_csv()).set_index("patient_id")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", oxalate.OxalateWarning)
    urine = tables.read_solution(table, on_invalid="nan")
    result = oxalate.speciate(urine)
print(result)
plot.saturation_histogram(result, "COM")
