"""SearchFilters as engine-neutral conditions: what each filter means, said once; each store
adapter only spells the conditions in its engine's types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from knowledge.models import SearchFilters


@dataclass(frozen=True)
class Condition:
    kind: Literal["any", "substring", "range"]
    key: str
    values: tuple[str, ...] = ()
    gte: int | None = None
    lte: int | None = None


def _day(d: str | None) -> int | None:
    return int(d.replace("-", "")) if d else None


def filter_groups(filters: SearchFilters | None) -> list[list[Condition]]:
    """Groups that must all hold, each true when any of its conditions is."""
    if filters is None:
        return []
    groups: list[list[Condition]] = []
    if filters.laws:
        laws = tuple(filters.laws)
        groups.append([Condition("any", "law_zh", laws), Condition("any", "law", laws)])
    for key, values in (
        ("level", filters.levels),
        ("lang", filters.langs),
        ("doc_class", filters.doc_classes),
    ):
        # An empty list of document classes admits nothing; other empty lists are no filter.
        if values or (key == "doc_class" and values is not None):
            groups.append([Condition("any", key, tuple(values or ()))])
    if filters.categories:
        # A category filter matches part of the path (銀行 in 行政＞金融監督管理委員會＞銀行目).
        groups.append([Condition("substring", "category", (c,)) for c in filters.categories])
    if filters.amended_from or filters.amended_to:
        since, until = _day(filters.amended_from), _day(filters.amended_to)
        groups.append([Condition("range", "amended_int", gte=since, lte=until)])
    return groups
