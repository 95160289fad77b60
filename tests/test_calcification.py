"""Tests of oxalate.calcification, the soft-tissue calcification catalogue.

The catalogue is checked three ways: against the project's seed list (written out below
literally, so dropping a disorder fails a test), against its own vocabularies and
bibliography (read from the raw files, independently of the loader), and through the
query functions.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
import re
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import pytest

from oxalate import calcification
from oxalate.calcification import (
    CALCULATIONS,
    CHEMISTRY,
    GROUPS,
    MECHANISMS,
    Disorder,
    compartments,
    disorder,
    disorders,
    to_dataframe,
)

# --- the seed document's list, literally ------------------------------------------------
# (name as the seed gives it, id in the catalogue), group by group, in the seed's order.

SEED: dict[str, list[tuple[str, str]]] = {
    "genetic": [
        ("Pseudoxanthoma elasticum", "pseudoxanthoma_elasticum"),
        (
            "Generalized arterial calcification of infancy",
            "generalized_arterial_calcification_of_infancy",
        ),
        (
            "Arterial calcification due to CD73 deficiency",
            "arterial_calcification_cd73_deficiency",
        ),
        ("Fibrodysplasia ossificans progressiva", "fibrodysplasia_ossificans_progressiva"),
        ("Osteogenesis imperfecta", "osteogenesis_imperfecta"),
        ("Ehlers–Danlos syndrome", "ehlers_danlos_syndrome"),
        ("Marfan syndrome", "marfan_syndrome"),
        ("Loeys–Dietz syndrome", "loeys_dietz_syndrome"),
        ("Alkaptonuria", "alkaptonuria"),
        ("Mucopolysaccharidoses (Hurler, Hunter)", "mucopolysaccharidoses"),
        ("Primary familial brain calcification", "primary_familial_brain_calcification"),
        ("Idiopathic basal ganglia calcification", "idiopathic_basal_ganglia_calcification"),
        ("Congenital contractural arachnodactyly", "congenital_contractural_arachnodactyly"),
        ("Stickler syndrome", "stickler_syndrome"),
        ("Hypermobility spectrum disorders", "hypermobility_spectrum_disorders"),
    ],
    "metabolic_endocrine": [
        ("Chronic kidney disease", "chronic_kidney_disease"),
        ("Secondary hyperparathyroidism", "secondary_hyperparathyroidism"),
        ("Primary hyperparathyroidism", "primary_hyperparathyroidism"),
        ("Vitamin D toxicity", "vitamin_d_toxicity"),
        ("Milk-alkali syndrome", "milk_alkali_syndrome"),
        ("Tumoral calcinosis", "tumoral_calcinosis"),
        ("Hyperphosphatemia", "hyperphosphatemia"),
        ("Hypophosphatasia", "hypophosphatasia"),
        ("Diabetes mellitus (Mönckeberg's arteriosclerosis)", "monckeberg_arteriosclerosis"),
        ("Wilson's disease", "wilsons_disease"),
    ],
    "autoimmune": [
        ("Systemic sclerosis", "systemic_sclerosis"),
        ("Dermatomyositis", "dermatomyositis"),
        ("Polymyositis", "polymyositis"),
        ("Systemic lupus erythematosus", "systemic_lupus_erythematosus"),
        ("Mixed connective tissue disease", "mixed_connective_tissue_disease"),
        ("Rheumatoid arthritis", "rheumatoid_arthritis"),
        ("Sjögren's syndrome", "sjogrens_syndrome"),
        ("CREST syndrome", "crest_syndrome"),
    ],
    "infectious": [
        ("Cysticercosis", "cysticercosis"),
        ("Tuberculosis", "tuberculosis"),
        ("Congenital toxoplasmosis", "congenital_toxoplasmosis"),
        ("Cytomegalovirus infection", "cytomegalovirus_infection"),
        ("Rubella", "rubella"),
        ("Schistosomiasis", "schistosomiasis"),
    ],
    "neoplastic": [
        ("Osteosarcoma", "osteosarcoma"),
        ("Synovial osteochondromatosis", "synovial_osteochondromatosis"),
        ("Calcifying epithelial odontogenic tumor", "calcifying_epithelial_odontogenic_tumor"),
        ("Pilomatricoma", "pilomatricoma"),
        ("Calcifying fibrous tumor", "calcifying_fibrous_tumor"),
    ],
    "vascular": [
        ("Atherosclerosis", "atherosclerosis"),
        ("Mönckeberg's arteriosclerosis", "monckeberg_arteriosclerosis"),
        ("Calciphylaxis", "calciphylaxis"),
        ("Chronic venous insufficiency", "chronic_venous_insufficiency"),
        ("Phleboliths", "phleboliths"),
    ],
    "neurological": [
        ("Primary familial brain calcification", "primary_familial_brain_calcification"),
        ("Idiopathic basal ganglia calcification", "idiopathic_basal_ganglia_calcification"),
        ("Neurocysticercosis", "neurocysticercosis"),
    ],
    "trauma_iatrogenic": [
        ("Myositis ossificans", "myositis_ossificans"),
        ("Heterotopic ossification", "heterotopic_ossification"),
        ("Injection granulomas", "injection_granulomas"),
        ("Iatrogenic calcinosis cutis", "iatrogenic_calcinosis_cutis"),
    ],
    "idiopathic": [
        ("Idiopathic scrotal calcinosis", "idiopathic_scrotal_calcinosis"),
        ("Subepidermal calcified nodule", "subepidermal_calcified_nodule"),
        ("Osteoma cutis", "osteoma_cutis"),
        ("Calcific tendinitis", "calcific_tendinitis"),
        ("Diffuse idiopathic skeletal hyperostosis", "diffuse_idiopathic_skeletal_hyperostosis"),
        ("Calcinosis cutis", "calcinosis_cutis"),
    ],
}

#: The seed's examples outside the nine groups, and the disorder the library adds.
EXTRAS: dict[str, tuple[str, ...]] = {
    "sarcoidosis": ("other",),
    "mitochondrial_disorders": ("other",),
    "genetic_phosphate_metabolism_disorders": ("other",),
    "primary_hyperoxaluria": ("genetic", "metabolic_endocrine"),
}

#: Seed names that are not the catalogue's name but must still find the entry.
SEED_ALIASES: dict[str, str] = {
    "Fahr's disease": "primary_familial_brain_calcification",
    "Beals syndrome": "congenital_contractural_arachnodactyly",
    "diabetes mellitus": "monckeberg_arteriosclerosis",
    "Hurler syndrome": "mucopolysaccharidoses",
    "Hunter syndrome": "mucopolysaccharidoses",
}

SEED_CASES = [(group, name, ident) for group, items in SEED.items() for name, ident in items]


def _seed_groups() -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for group, name, ident in SEED_CASES:
        del name
        groups.setdefault(ident, []).append(group)
    return {ident: tuple(sorted(g, key=GROUPS.index)) for ident, g in groups.items()}


SEED_GROUPS = _seed_groups()

DATA = resources.files("oxalate") / "data"
CSV_COLUMNS = [
    "id", "seed_order", "name", "aliases", "groups", "mechanism", "chemistry", "gene",
    "mineral", "calculation", "source", "note",
]  # fmt: skip


def _raw_rows(filename: str) -> list[dict[str, str]]:
    text = (DATA / filename).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _bib_entries() -> dict[str, str]:
    """Citation key -> entry text of calcification.bib, parsed with a plain regex."""
    text = (DATA / "calcification.bib").read_text(encoding="utf-8")
    heads = list(re.finditer(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", text))
    keys = [m.group(2) for m in heads]
    assert len(keys) == len(set(keys)), "duplicate keys in calcification.bib"
    ends = [m.start() for m in heads[1:]] + [len(text)]
    return {m.group(2): text[m.start() : end] for m, end in zip(heads, ends, strict=True)}


BIB = _bib_entries()
RAW = _raw_rows("calcification.csv")
RAW_COMPARTMENTS = _raw_rows("calcium_compartments.csv")


# --- the seed list ----------------------------------------------------------------------


def test_seed_list_has_the_expected_size() -> None:
    assert [len(items) for items in SEED.values()] == [15, 10, 8, 6, 5, 5, 3, 4, 6]
    assert len(SEED_GROUPS) == 59  # 62 items, three of them listed in two groups


@pytest.mark.parametrize(("group", "seed_name", "ident"), SEED_CASES)
def test_seed_disorder_is_present_in_its_group(group: str, seed_name: str, ident: str) -> None:
    entry = disorder(seed_name)
    assert entry.id == ident
    assert group in entry.groups
    assert entry in disorders(group=group)


@pytest.mark.parametrize("ident", sorted(SEED_GROUPS))
def test_seed_disorder_has_exactly_the_seed_groups(ident: str) -> None:
    assert disorder(ident).groups == SEED_GROUPS[ident]


@pytest.mark.parametrize(
    ("ident", "groups"),
    [
        ("primary_familial_brain_calcification", ("genetic", "neurological")),
        ("idiopathic_basal_ganglia_calcification", ("genetic", "neurological")),
        ("monckeberg_arteriosclerosis", ("metabolic_endocrine", "vascular")),
    ],
)
def test_disorders_listed_twice_in_the_seed_appear_once(
    ident: str, groups: tuple[str, ...]
) -> None:
    assert [d.id for d in disorders()].count(ident) == 1
    assert disorder(ident).groups == groups


@pytest.mark.parametrize(("ident", "groups"), sorted(EXTRAS.items()))
def test_extra_entries(ident: str, groups: tuple[str, ...]) -> None:
    assert disorder(ident).groups == groups


def test_catalogue_is_the_seed_plus_the_extras() -> None:
    assert {d.id for d in disorders()} == set(SEED_GROUPS) | set(EXTRAS)


@pytest.mark.parametrize(("alias", "ident"), sorted(SEED_ALIASES.items()))
def test_seed_alternative_names_find_the_entry(alias: str, ident: str) -> None:
    assert disorder(alias).id == ident


def test_seed_order_follows_the_seed() -> None:
    first_seen: list[str] = []
    for _, _, ident in SEED_CASES:
        if ident not in first_seen:
            first_seen.append(ident)
    in_catalogue = [d.id for d in disorders() if d.id in SEED_GROUPS]
    assert in_catalogue == first_seen
    assert [d.id for d in disorders()][-len(EXTRAS) :] == list(EXTRAS)


def test_primary_hyperoxaluria_is_the_oxalate_disorder() -> None:
    ph = disorder("primary_hyperoxaluria")
    assert ph.mechanism == "metastatic"
    assert ph.chemistry == ("oxalate",)
    assert ph.gene == ("AGXT", "GRHPR", "HOGA1")
    assert ph.mineral == "calcium oxalate"
    assert ph.calculation == "plasma_oxalate_threshold"


# --- the raw files: columns, vocabularies, sources ---------------------------------------


def test_csv_columns() -> None:
    text = (DATA / "calcification.csv").read_text(encoding="utf-8")
    assert next(csv.reader(io.StringIO(text))) == CSV_COLUMNS
    assert [f.name for f in dataclasses.fields(Disorder)] == CSV_COLUMNS


@pytest.mark.parametrize("row", RAW, ids=[row["id"] for row in RAW])
def test_row_fields_are_valid(row: dict[str, str]) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]*", row["id"])
    assert row["name"].strip() and row["note"].strip()
    groups = _split(row["groups"])
    assert groups and set(groups) <= set(GROUPS)
    assert len(groups) == len(set(groups))
    assert row["mechanism"] in MECHANISMS
    chemistry = _split(row["chemistry"])
    assert chemistry and set(chemistry) <= set(CHEMISTRY)
    assert chemistry == ["none"] or "none" not in chemistry
    assert row["calculation"] in {"", *CALCULATIONS}
    assert all(re.fullmatch(r"[A-Z0-9][A-Z0-9-]*", gene) for gene in _split(row["gene"]))


@pytest.mark.parametrize("row", RAW + RAW_COMPARTMENTS, ids=lambda row: row["id"])
def test_every_source_key_resolves_in_the_bib_file(row: dict[str, str]) -> None:
    keys = _split(row["source"])
    assert keys, "every row needs a source"
    missing = [key for key in keys if key not in BIB]
    assert not missing, f"{row['id']}: {missing} not in calcification.bib"


def test_package_bibliography_loader_sees_these_entries() -> None:
    """oxalate.database.bibliography() reads every data/*.bib; no other file shadows a key."""
    from oxalate.database import bibliography

    loaded = bibliography()
    for key, entry in BIB.items():
        title = re.search(r"^\s*title\s*=.*$", entry, flags=re.MULTILINE)
        assert title is not None, key
        assert title.group(0) in loaded.get(key, ""), key


@pytest.mark.parametrize("key", sorted(BIB))
def test_bib_entries_are_complete(key: str) -> None:
    assert key == key.lower()
    entry = BIB[key]
    assert re.search(r"\btitle\s*=", entry)
    assert re.search(r"\byear\s*=\s*\{\d{4}\}", entry)
    assert re.search(r"\b(author|editor)\s*=", entry)


def test_ids_names_and_seed_orders_are_unique() -> None:
    ids = [row["id"] for row in RAW]
    assert len(ids) == len(set(ids))
    orders = [int(row["seed_order"]) for row in RAW]
    assert sorted(orders) == list(range(1, len(RAW) + 1))
    names = [row["name"].casefold() for row in RAW]
    assert len(names) == len(set(names))


def test_every_name_and_alias_finds_its_own_entry() -> None:
    for item in disorders():
        for label in (item.id, item.name, *item.aliases):
            assert disorder(label) is item, label
            assert disorder(label.upper()) is item, label


def test_loaded_entries_match_the_raw_file() -> None:
    by_id = {row["id"]: row for row in RAW}
    for item in disorders():
        row = by_id[item.id]
        assert item.groups == tuple(_split(row["groups"]))
        assert item.chemistry == tuple(_split(row["chemistry"]))
        assert item.source == tuple(_split(row["source"]))
        assert item.calculation == (row["calculation"] or None)
        assert item.mineral == (row["mineral"] or None)


# --- mechanism, chemistry and calculation agree -------------------------------------------

METASTATIC_PHOSPHATE = [d.id for d in disorders(mechanism="metastatic", chemistry="phosphate")]
OXALATE = [d.id for d in disorders(chemistry="oxalate")]


@pytest.mark.parametrize("ident", METASTATIC_PHOSPHATE)
def test_metastatic_phosphate_links_to_calcium_phosphate_product(ident: str) -> None:
    assert disorder(ident).calculation == "calcium_phosphate_product"


@pytest.mark.parametrize("ident", OXALATE)
def test_oxalate_links_to_plasma_oxalate_threshold(ident: str) -> None:
    assert disorder(ident).calculation == "plasma_oxalate_threshold"


def test_the_invariant_cases_exist() -> None:
    assert len(METASTATIC_PHOSPHATE) >= 4
    assert OXALATE == ["primary_hyperoxaluria"]


@pytest.mark.parametrize("item", disorders(), ids=lambda d: d.id)
def test_mechanism_chemistry_and_calculation_are_consistent(item: Disorder) -> None:
    fluid_driven = item.mechanism in ("metastatic", "mixed")
    assert fluid_driven == (item.chemistry != ("none",))
    if item.calculation is not None:
        assert fluid_driven
    if item.calculation == "plasma_oxalate_threshold":
        assert "oxalate" in item.chemistry
    if item.calculation == "calcium_phosphate_product":
        assert {"calcium", "phosphate"} & set(item.chemistry)


# --- compartments --------------------------------------------------------------------------


def test_compartments_follow_the_seed() -> None:
    assert [c.id for c in compartments()] == [
        "bone_and_teeth",
        "plasma_and_interstitial_fluid",
        "muscle_sarcoplasmic_reticulum",
        "nerve",
        "endocrine_parathyroid",
        "mitochondria",
    ]
    assert "99%" in compartments()[0].share
    assert all(c.source and c.role for c in compartments())


# --- queries -------------------------------------------------------------------------------


def test_disorders_returns_the_catalogue_in_seed_order() -> None:
    everything = disorders()
    assert isinstance(everything, tuple)
    assert len(everything) == len(RAW) == 63
    assert [d.seed_order for d in everything] == sorted(d.seed_order for d in everything)


@pytest.mark.parametrize("group", GROUPS)
def test_group_filter(group: str) -> None:
    found = disorders(group=group)
    assert found
    assert found == tuple(d for d in disorders() if group in d.groups)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_mechanism_filter(mechanism: str) -> None:
    found = disorders(mechanism=mechanism)
    assert found
    assert all(d.mechanism == mechanism for d in found)


def test_mechanisms_partition_the_catalogue() -> None:
    assert sum(len(disorders(mechanism=m)) for m in MECHANISMS) == len(disorders())


@pytest.mark.parametrize("chemistry", CHEMISTRY)
def test_chemistry_filter(chemistry: str) -> None:
    found = disorders(chemistry=chemistry)
    assert found
    assert all(chemistry in d.chemistry for d in found)


def test_filters_combine_with_and() -> None:
    found = disorders(group="metabolic_endocrine", mechanism="metastatic", chemistry="calcium")
    expected = tuple(
        d
        for d in disorders()
        if "metabolic_endocrine" in d.groups
        and d.mechanism == "metastatic"
        and "calcium" in d.chemistry
    )
    assert found == expected
    assert [d.id for d in found] == [
        "secondary_hyperparathyroidism",
        "primary_hyperparathyroidism",
        "vitamin_d_toxicity",
        "milk_alkali_syndrome",
        "wilsons_disease",
    ]
    assert disorders(group="infectious", mechanism="metastatic") == ()


@pytest.mark.parametrize(
    ("text", "ident"),
    [
        ("HYPEROXALURIA", "primary_hyperoxaluria"),
        ("sjogren", "sjogrens_syndrome"),
        ("Ehlers-Danlos", "ehlers_danlos_syndrome"),
        ("fahr", "primary_familial_brain_calcification"),
        ("monckeberg", "monckeberg_arteriosclerosis"),
    ],
)
def test_name_filter_is_a_case_insensitive_substring_match(text: str, ident: str) -> None:
    assert ident in [d.id for d in disorders(name=text)]


def test_name_filter_combines_with_the_others() -> None:
    assert [d.id for d in disorders(name="calcinosis", mechanism="idiopathic")] == [
        "idiopathic_scrotal_calcinosis",
        "calcinosis_cutis",
    ]
    assert disorders(name="no such disorder") == ()


def test_filter_values_ignore_case() -> None:
    assert disorders(group="Genetic") == disorders(group="genetic")


@pytest.mark.parametrize(
    ("argument", "value", "accepted"),
    [
        ("group", "cardiac", GROUPS),
        ("mechanism", "metastatic calcification", MECHANISMS),
        ("chemistry", "magnesium", CHEMISTRY),
    ],
)
def test_unknown_filter_value_raises_naming_the_argument(
    argument: str, value: str, accepted: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match=rf"^unknown {argument}=") as info:
        disorders(**{argument: value})
    assert all(word in str(info.value) for word in accepted)


@pytest.mark.parametrize("argument", ["group", "mechanism", "chemistry", "name"])
def test_non_string_filter_raises_type_error(argument: str) -> None:
    with pytest.raises(TypeError, match=argument):
        disorders(**{argument: 3})  # type: ignore[arg-type]


def test_disorder_lookup_by_id_name_and_alias() -> None:
    by_id = disorder("crest_syndrome")
    assert disorder("CREST syndrome") is by_id
    assert disorder("limited cutaneous systemic sclerosis") is by_id
    assert disorder("  crest   SYNDROME ") is by_id


def test_unknown_disorder_raises_key_error() -> None:
    with pytest.raises(KeyError, match="nonexistent"):
        disorder("nonexistent")


def test_key_error_suggests_close_matches() -> None:
    with pytest.raises(KeyError, match="primary hyperoxaluria"):
        disorder("primary hyperoxalria")


def test_disorder_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="id_or_name"):
        disorder(None)  # type: ignore[arg-type]


def test_disorder_is_frozen() -> None:
    item = disorder("calciphylaxis")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.mechanism = "dystrophic"  # type: ignore[misc]


# --- pandas is optional ---------------------------------------------------------------------


def test_to_dataframe() -> None:
    pytest.importorskip("pandas")
    frame = to_dataframe()
    assert frame.index.name == "id"
    assert frame.shape == (len(disorders()), len(CSV_COLUMNS) - 1)
    assert frame.loc["primary_hyperoxaluria", "mineral"] == "calcium oxalate"
    assert frame.loc["primary_hyperoxaluria", "groups"] == ("genetic", "metabolic_endocrine")
    selected = to_dataframe(disorders(mechanism="mixed"))
    assert list(selected.index) == [d.id for d in disorders(mechanism="mixed")]


def test_to_dataframe_without_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match=r"pip install 'oxalate\[pandas\]'"):
        to_dataframe()


# --- no side effects at import ----------------------------------------------------------------


def test_import_reads_no_data_and_imports_no_pandas() -> None:
    package_parent = Path(calcification.__file__).resolve().parents[1]
    code = textwrap.dedent(
        """
        import importlib.resources as resources
        import sys

        import oxalate

        calls = []
        original = resources.files
        resources.files = lambda *a, **k: (calls.append(a), original(*a, **k))[1]
        had_pandas = "pandas" in sys.modules

        import oxalate.calcification as c

        assert calls == [], calls
        assert c._catalogue.cache_info().currsize == 0
        assert c._compartments.cache_info().currsize == 0
        assert had_pandas or "pandas" not in sys.modules
        c.disorders()
        assert calls, "the catalogue is read on first use"
        assert c._catalogue.cache_info().currsize == 1
        """
    )
    path = os.pathsep.join(p for p in (str(package_parent), os.environ.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- the documentation page stays in step with the data -----------------------------------------

DOCS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "calcification.rst"


def _code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, content) of every ``.. code-block::`` directive, in order."""
    blocks = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"\.\. code-block:: *(\w+)", line)
        if not match:
            continue
        body = []
        for following in lines[i + 1 :]:
            if following.strip() and not following.startswith("   "):
                break
            body.append(following)
        blocks.append((match.group(1), textwrap.dedent("\n".join(body)).strip("\n")))
    return blocks


def _run(code: str) -> str:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, str(DOCS_PAGE), "exec"), {})
    return output.getvalue()


@pytest.mark.skipif(not DOCS_PAGE.is_file(), reason="docs/ not present")
def test_docs_code_runs_and_listing_matches() -> None:
    blocks = _code_blocks(DOCS_PAGE.read_text(encoding="utf-8"))
    python = [code for language, code in blocks if language == "python"]
    assert len(python) >= 3
    for code in python:
        _run(code)
    pairs = [
        (code, blocks[i + 1][1])
        for i, (language, code) in enumerate(blocks[:-1])
        if language == "python" and blocks[i + 1][0] == "text"
    ]
    assert len(pairs) == 1, "the by-mechanism listing and its output"
    code, expected = pairs[0]
    assert _run(code).rstrip("\n") == expected


@pytest.mark.parametrize(
    "entry", [d for d in calcification.disorders() if d.calculation is not None], ids=str
)
def test_every_linked_calculation_is_a_library_function(entry: calcification.Disorder) -> None:
    function = calcification.calculation_for(entry)
    assert callable(function)
    assert function.__name__ == entry.calculation


def test_linked_calculations_compute() -> None:
    ca_x_p = calcification.calculation_for("chronic kidney disease")
    assert ca_x_p is not None
    # 10 mg/dL calcium x 4.5 mg/dL phosphorus = 45 mg2/dL2, by hand
    assert ca_x_p("10 mg/dL", "4.5 mg/dL as P") == pytest.approx(45.0, rel=1e-12)
    oxalosis = calcification.calculation_for("primary hyperoxaluria")
    assert oxalosis is not None
    # the clinical figures put saturation of plasma between 20 and 50 umol/L (REFERENCE 6)
    assert 20.0 < float(oxalosis().m_as("umol/L")) < 60.0
