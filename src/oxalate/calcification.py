"""Soft-tissue calcification: a catalogue of disorders and of where the chemistry applies.

The catalogue lists more than 60 disorders that deposit calcium salts in soft tissue, in
the nine groups of the project's seed document (genetic, metabolic and endocrine,
autoimmune, infectious, neoplastic, vascular, neurological, trauma and iatrogenic,
idiopathic), the seed's further examples (sarcoidosis, mitochondrial disorders, genetic
disorders of phosphate metabolism) and primary hyperoxaluria. For each it records the
mechanism, the fluid chemistry that drives it (if any), the gene, the mineral, the
library calculation that speaks to it, and a source that resolves in
``oxalate/data/calcification.bib``. A second, small table lists the body's normal calcium
compartments.

The point of the catalogue is to say where a saturation calculation is meaningful. It is
for *metastatic* calcification, driven by raised calcium, phosphate or oxalate in a body
fluid. It cannot predict *dystrophic* calcification, which happens at normal serum
chemistry in damaged or locally abnormal tissue.

Notes
-----
The columns use fixed vocabularies.

``groups`` (:data:`GROUPS`)
    The seed's nine groups plus ``"other"``. A disorder the seed lists in two groups
    (primary familial brain calcification, idiopathic basal ganglia calcification,
    Mönckeberg's arteriosclerosis) appears once, with both.
``mechanism`` (:data:`MECHANISMS`)
    ``"metastatic"``
        Deposits in normal tissue driven by raised calcium, phosphate or oxalate in a
        body fluid (plasma, or urine for nephrocalcinosis).
    ``"dystrophic"``
        Deposits at normal serum calcium, phosphate and oxalate, in tissue that is damaged,
        necrotic or locally abnormal. The catalogue counts here the inherited loss of a
        calcification inhibitor or transporter (PXE, GACI, CD73 deficiency, primary
        familial brain calcification): none is metastatic, and a plasma saturation
        calculation predicts none of them.
    ``"ossification"``
        Bone formed by cells outside the skeleton; not a precipitate.
    ``"idiopathic"``
        Mechanism unknown, or not established by the cited source; each entry's ``note``
        says which.
    ``"mixed"``
        The literature documents both a fluid-driven and a local, tissue-driven part
        (chronic kidney disease, calciphylaxis, Mönckeberg's arteriosclerosis,
        hypophosphatasia, iatrogenic calcinosis cutis).
``chemistry`` (:data:`CHEMISTRY`)
    Which raised fluid concentrations drive the deposit: ``"calcium"``, ``"phosphate"``,
    ``"oxalate"``, or ``"none"`` alone for normal serum chemistry.
``calculation`` (:data:`CALCULATIONS`)
    The library calculation that speaks to the disorder: ``"calcium_phosphate_product"``
    for calcium- and phosphate-driven disease, ``"plasma_oxalate_threshold"`` for oxalosis,
    or ``None``.

The data are read with the standard :mod:`csv` module on first use and cached; nothing
is read at import, and pandas is needed only by :func:`to_dataframe`.

References
----------
Kumar V, Abbas AK, Aster JC. Robbins and Cotran Pathologic Basis of Disease, 10th ed.
Elsevier, 2020 (``robbins2020``). Reiter N et al. Calcinosis cutis: part I. J Am Acad
Dermatol 2011;65:1-12, https://doi.org/10.1016/j.jaad.2010.08.038 (``reiter2011``).
Every row's own sources are in its ``source`` field.
"""

from __future__ import annotations

import csv
import difflib
import io
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import astuple, dataclass, fields
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CALCULATIONS",
    "CHEMISTRY",
    "GROUPS",
    "MECHANISMS",
    "Compartment",
    "Disorder",
    "calculation_for",
    "compartments",
    "disorder",
    "disorders",
    "to_dataframe",
]

#: Groups of the seed document, in its order, plus ``"other"``.
GROUPS: tuple[str, ...] = (
    "genetic",
    "metabolic_endocrine",
    "autoimmune",
    "infectious",
    "neoplastic",
    "vascular",
    "neurological",
    "trauma_iatrogenic",
    "idiopathic",
    "other",
)

#: Mechanisms of calcification (see the module notes for their meaning here).
MECHANISMS: tuple[str, ...] = ("dystrophic", "metastatic", "ossification", "idiopathic", "mixed")

#: Raised fluid concentrations that drive a deposit; ``"none"`` means normal chemistry.
CHEMISTRY: tuple[str, ...] = ("calcium", "phosphate", "oxalate", "none")

#: Names of the library calculations a disorder can be linked to.
CALCULATIONS: tuple[str, ...] = ("calcium_phosphate_product", "plasma_oxalate_threshold")

_DISORDER_FILE = "calcification.csv"
_COMPARTMENT_FILE = "calcium_compartments.csv"


@dataclass(frozen=True)
class Disorder:
    """One disorder of the catalogue (a row of ``data/calcification.csv``).

    Columns holding a ``;``-separated list in the file are tuples here.

    Attributes
    ----------
    id : str
        Stable snake_case identifier.
    seed_order : int
        Position in the seed document's list; entries outside its nine groups follow.
    name : str
        Name as the seed gives it.
    aliases : tuple of str
        Other names accepted by :func:`disorder` and the ``name`` filter.
    groups : tuple of str
        Groups from :data:`GROUPS`.
    mechanism : str
        One of :data:`MECHANISMS`.
    chemistry : tuple of str
        Driving fluid chemistry from :data:`CHEMISTRY`; ``("none",)`` for normal chemistry.
    gene : tuple of str
        Causal genes, empty where there is none.
    mineral : str or None
        Deposited mineral, ``None`` where the sources do not say.
    calculation : str or None
        Linked library calculation from :data:`CALCULATIONS`, or ``None`` where no fluid
        calculation speaks to the disorder.
    source : tuple of str
        Citation keys in ``data/calcification.bib``.
    note : str
        Free-text note: mechanism details and judgement calls.
    """

    id: str
    seed_order: int
    name: str
    aliases: tuple[str, ...]
    groups: tuple[str, ...]
    mechanism: str
    chemistry: tuple[str, ...]
    gene: tuple[str, ...]
    mineral: str | None
    calculation: str | None
    source: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Compartment:
    """One normal calcium compartment (a row of ``data/calcium_compartments.csv``).

    Attributes
    ----------
    id : str
        Stable snake_case identifier.
    compartment : str
        Name of the compartment.
    share : str
        Its share of body calcium, or its kind of role where no share applies.
    role : str
        What the calcium there does.
    source : tuple of str
        Citation keys in ``data/calcification.bib``.
    """

    id: str
    compartment: str
    share: str
    role: str
    source: tuple[str, ...]


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())


def _normalized(text: str) -> str:
    """Case-, accent-, dash- and apostrophe-insensitive form of a name."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212":
        plain = plain.replace(dash, "-")
    plain = plain.replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(plain.casefold().split())


def _read_rows(filename: str, required: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    text = (resources.files("oxalate") / "data" / filename).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = sorted(set(required) - set(reader.fieldnames or ()))
    if missing:
        raise ValueError(f"{filename}: missing column(s) {', '.join(missing)}")
    # line numbers count the header as line 1
    return [(number, row) for number, row in enumerate(reader, start=2)]


def _checked(values: tuple[str, ...], accepted: tuple[str, ...], what: str) -> tuple[str, ...]:
    unknown = [value for value in values if value not in accepted]
    if unknown or not values:
        raise ValueError(f"{what} {values!r}: expected values from {', '.join(accepted)}")
    return values


def _parse_disorder(number: int, row: Mapping[str, str]) -> Disorder:
    where = f"{_DISORDER_FILE} line {number} (id={row['id']!r})"
    chemistry = _checked(_split(row["chemistry"]), CHEMISTRY, f"{where}: chemistry")
    if "none" in chemistry and len(chemistry) > 1:
        raise ValueError(f"{where}: chemistry 'none' cannot be combined with {chemistry!r}")
    calculation = row["calculation"].strip() or None
    if calculation is not None:
        _checked((calculation,), CALCULATIONS, f"{where}: calculation")
    source = _split(row["source"])
    if not source:
        raise ValueError(f"{where}: no source")
    try:
        seed_order = int(row["seed_order"])
    except ValueError:
        raise ValueError(f"{where}: seed_order {row['seed_order']!r} is not an integer") from None
    return Disorder(
        id=row["id"].strip(),
        seed_order=seed_order,
        name=row["name"].strip(),
        aliases=_split(row["aliases"]),
        groups=_checked(_split(row["groups"]), GROUPS, f"{where}: groups"),
        mechanism=_checked((row["mechanism"].strip(),), MECHANISMS, f"{where}: mechanism")[0],
        chemistry=chemistry,
        gene=_split(row["gene"]),
        mineral=row["mineral"].strip() or None,
        calculation=calculation,
        source=source,
        note=row["note"].strip(),
    )


@cache
def _catalogue() -> tuple[Disorder, ...]:
    columns = [field.name for field in fields(Disorder)]
    items = [_parse_disorder(n, row) for n, row in _read_rows(_DISORDER_FILE, columns)]
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"{_DISORDER_FILE}: duplicate id {item.id!r}")
        seen.add(item.id)
    return tuple(sorted(items, key=lambda item: item.seed_order))


@cache
def _by_id() -> Mapping[str, Disorder]:
    return MappingProxyType({item.id: item for item in _catalogue()})


@cache
def _name_index() -> Mapping[str, tuple[str, ...]]:
    """Normalized id, name or alias -> ids of the disorders that carry it."""
    index: dict[str, list[str]] = {}
    for item in _catalogue():
        for label in {item.id, item.name, *item.aliases}:
            ids = index.setdefault(_normalized(label), [])
            if item.id not in ids:
                ids.append(item.id)
    return MappingProxyType({key: tuple(ids) for key, ids in index.items()})


def _vocabulary_value(argument: str, value: str | None, accepted: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str or None, not {type(value).__name__}")
    key = value.strip().lower()
    if key not in accepted:
        raise ValueError(
            f"unknown {argument}={value!r}; accepted values are {', '.join(accepted)}"
        )
    return key


def disorders(
    *,
    group: str | None = None,
    mechanism: str | None = None,
    chemistry: str | None = None,
    name: str | None = None,
) -> tuple[Disorder, ...]:
    """Disorders of the catalogue, optionally filtered, in the seed document's order.

    Filters combine with AND; a filter left at ``None`` does not restrict.

    Parameters
    ----------
    group : str, optional
        Keep disorders in this group, one of :data:`GROUPS`.
    mechanism : str, optional
        Keep disorders with this mechanism, one of :data:`MECHANISMS`.
    chemistry : str, optional
        Keep disorders whose driving chemistry includes this value, one of
        :data:`CHEMISTRY`; ``"none"`` keeps the ones at normal serum chemistry.
    name : str, optional
        Keep disorders whose name or an alias contains this text, ignoring case, accents
        and the kind of dash or apostrophe.

    Returns
    -------
    tuple of Disorder
        The matching disorders, ordered by ``seed_order``.

    Raises
    ------
    ValueError
        If ``group``, ``mechanism`` or ``chemistry`` is not in its vocabulary; the message
        names the argument and lists the accepted values.
    TypeError
        If a filter is neither a str nor None.

    Notes
    -----
    A fluid saturation calculation speaks only to the ``"metastatic"`` entries and the
    fluid-driven part of the ``"mixed"`` ones; see the module notes.

    Examples
    --------
    >>> from oxalate.calcification import disorders
    >>> [d.name for d in disorders(chemistry="oxalate")]
    ['Primary hyperoxaluria']
    >>> for d in disorders(group="neurological"):
    ...     print(d.id, d.groups)
    primary_familial_brain_calcification ('genetic', 'neurological')
    idiopathic_basal_ganglia_calcification ('genetic', 'neurological')
    neurocysticercosis ('neurological',)
    >>> [d.name for d in disorders(mechanism="metastatic", chemistry="phosphate")][:3]
    ['Secondary hyperparathyroidism', 'Vitamin D toxicity', 'Tumoral calcinosis']
    >>> [d.name for d in disorders(name="monckeberg")]
    ["Mönckeberg's arteriosclerosis"]
    """
    wanted_group = _vocabulary_value("group", group, GROUPS)
    wanted_mechanism = _vocabulary_value("mechanism", mechanism, MECHANISMS)
    wanted_chemistry = _vocabulary_value("chemistry", chemistry, CHEMISTRY)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, not {type(name).__name__}")
    text = None if name is None else _normalized(name)
    return tuple(
        item
        for item in _catalogue()
        if (wanted_group is None or wanted_group in item.groups)
        and (wanted_mechanism is None or item.mechanism == wanted_mechanism)
        and (wanted_chemistry is None or wanted_chemistry in item.chemistry)
        and (text is None or any(text in _normalized(s) for s in (item.name, *item.aliases)))
    )


def disorder(id_or_name: str) -> Disorder:
    """Look one disorder up by its id, its name or one of its aliases.

    Parameters
    ----------
    id_or_name : str
        An exact ``id``, or a name or alias, matched whole and ignoring case, accents and
        the kind of dash or apostrophe.

    Returns
    -------
    Disorder

    Raises
    ------
    KeyError
        If nothing matches (the message suggests close matches), or if a name is shared by
        more than one disorder.
    TypeError
        If `id_or_name` is not a str.

    Examples
    --------
    >>> from oxalate.calcification import disorder
    >>> d = disorder("primary_hyperoxaluria")
    >>> d.mechanism, d.chemistry, d.calculation
    ('metastatic', ('oxalate',), 'plasma_oxalate_threshold')
    >>> disorder("Fahr's disease").id
    'primary_familial_brain_calcification'
    >>> disorder("Ehlers-Danlos syndrome").name
    'Ehlers–Danlos syndrome'
    """
    if not isinstance(id_or_name, str):
        raise TypeError(f"id_or_name must be a str, not {type(id_or_name).__name__}")
    by_id = _by_id()
    if id_or_name in by_id:
        return by_id[id_or_name]
    index = _name_index()
    ids = index.get(_normalized(id_or_name), ())
    if len(ids) == 1:
        return by_id[ids[0]]
    if ids:
        raise KeyError(f"{id_or_name!r} is ambiguous: it names {', '.join(ids)}")
    close = difflib.get_close_matches(_normalized(id_or_name), index, n=5, cutoff=0.6)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise KeyError(f"no disorder {id_or_name!r} in the catalogue{hint}")


@cache
def _compartments() -> tuple[Compartment, ...]:
    columns = [field.name for field in fields(Compartment)]
    result = []
    for number, row in _read_rows(_COMPARTMENT_FILE, columns):
        source = _split(row["source"])
        if not source:
            raise ValueError(f"{_COMPARTMENT_FILE} line {number}: no source")
        result.append(
            Compartment(
                id=row["id"].strip(),
                compartment=row["compartment"].strip(),
                share=row["share"].strip(),
                role=row["role"].strip(),
                source=source,
            )
        )
    return tuple(result)


def compartments() -> tuple[Compartment, ...]:
    """The body's normal calcium compartments, from bone to mitochondria.

    Returns
    -------
    tuple of Compartment
        Bone and teeth (about 99% of body calcium); plasma and interstitial fluid; muscle
        sarcoplasmic reticulum; nerve; endocrine (parathyroid); mitochondria.

    Examples
    --------
    >>> from oxalate.calcification import compartments
    >>> [c.id for c in compartments()][:2]
    ['bone_and_teeth', 'plasma_and_interstitial_fluid']
    >>> compartments()[0].share
    'about 99% of body calcium'
    """
    return _compartments()


def to_dataframe(selection: Iterable[Disorder] | None = None) -> pd.DataFrame:
    """The catalogue, or a selection of it, as a pandas DataFrame indexed by ``id``.

    pandas is an optional dependency (``pip install 'oxalate[pandas]'``); it is imported
    only here.

    Parameters
    ----------
    selection : iterable of Disorder, optional
        Disorders to include, e.g. the result of :func:`disorders`; all by default.

    Returns
    -------
    pandas.DataFrame
        One row per disorder and one column per :class:`Disorder` field; list-valued
        fields hold tuples.

    Raises
    ------
    ImportError
        If pandas is not installed.

    Examples
    --------
    >>> from oxalate.calcification import disorders, to_dataframe
    >>> frame = to_dataframe(disorders(mechanism="metastatic"))  # doctest: +SKIP
    >>> frame.loc["primary_hyperoxaluria", "mineral"]  # doctest: +SKIP
    'calcium oxalate'
    """
    try:
        import pandas as pd
    except ImportError as error:
        raise ImportError(
            "to_dataframe() needs pandas, an optional dependency of oxalate; "
            "install it with: pip install 'oxalate[pandas]'"
        ) from error
    items = _catalogue() if selection is None else tuple(selection)
    columns = [field.name for field in fields(Disorder)]
    records: list[tuple[Any, ...]] = [astuple(item) for item in items]
    frame: pd.DataFrame = pd.DataFrame.from_records(records, columns=columns)
    return frame.set_index("id")


def calculation_for(entry: Disorder | str) -> Callable[..., Any] | None:
    """The library function behind a disorder's ``calculation`` field.

    ``"calcium_phosphate_product"`` is :func:`oxalate.indices.calcium_phosphate_product`
    and ``"plasma_oxalate_threshold"`` is
    :func:`oxalate.indices.plasma_oxalate_threshold`; disorders with no linked
    calculation (normal chemistry) give ``None``.

    Parameters
    ----------
    entry : Disorder or str
        A disorder, or its id or name as accepted by :func:`disorder`.

    Returns
    -------
    callable or None

    Examples
    --------
    >>> from oxalate.calcification import calculation_for
    >>> calculation_for("primary hyperoxaluria").__name__
    'plasma_oxalate_threshold'
    >>> calculation_for("pseudoxanthoma elasticum") is None
    True
    """
    item = entry if isinstance(entry, Disorder) else disorder(entry)
    if item.calculation is None:
        return None
    from . import indices

    function: Callable[..., Any] = getattr(indices, item.calculation)
    return function
