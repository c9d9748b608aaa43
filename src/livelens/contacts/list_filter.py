"""``ListFilter`` of the segment lists: categories filtered by the tags of the rules that made them.

AWS documents ``RealTimeContactAnalysisSegmentsFilter.CategoriesAttributeFilter``
as tag-based access control over the categories a caller may see, so it is
applied to every ``Categories`` segment of a page (V1 always, V2 when
``SegmentTypes`` includes ``Categories``):

- a category (one ``MatchedDetails`` entry, and its name in V1's
  ``MatchedCategories``) stays when the *current* tags of the rule named by its
  ``RuleId`` satisfy the filter; a category whose rule no longer exists, or
  which carries no ``RuleId``, fails every filter (fail closed);
- a ``Categories`` segment left with no category is not returned at all.

The filter has exactly one of ``TagCondition`` (one key, optionally a value),
``AndCondition`` (all of its ``TagConditions``) and ``OrConditions`` (any of
its AND conditions). ``ComparisonType`` (V1 only) is ``EQUALS`` (the rule has
the key, with ``TagValue`` when one is given) or ``NOT_EQUALS`` (its negation).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from livelens.errors import InvalidRequestException

Tags = Mapping[str, str]
#: The tags of a rule by RuleId, or ``None`` when the rule does not exist.
TagLookup = Callable[[str], Tags | None]


@dataclass(frozen=True)
class TagTest:
    key: str
    value: str | None
    equal: bool = True

    def holds(self, tags: Tags) -> bool:
        present = self.key in tags and (self.value is None or tags[self.key] == self.value)
        return present if self.equal else not present


@dataclass(frozen=True)
class CategoryFilter:
    """Disjunctive normal form: the filter holds when every test of some clause holds."""

    clauses: tuple[tuple[TagTest, ...], ...]
    fingerprint: str

    def allows(self, tags: Tags | None) -> bool:
        if tags is None:
            return False
        return any(all(test.holds(tags) for test in clause) for clause in self.clauses)

    def apply(self, body: Mapping[str, Any], tags_of: TagLookup) -> dict[str, Any] | None:
        """The ``Categories`` body with only the allowed categories; ``None`` when none is left."""
        details = body.get("MatchedDetails") or {}
        kept = {
            name: detail
            for name, detail in details.items()
            if isinstance(detail, Mapping) and detail.get("RuleId") and self.allows(tags_of(str(detail["RuleId"])))
        }
        if not kept:
            return None
        out: dict[str, Any] = dict(body)
        out["MatchedDetails"] = kept
        if "MatchedCategories" in body:
            out["MatchedCategories"] = [name for name in body["MatchedCategories"] if name in kept]
        return out


def _test(condition: Any, where: str) -> TagTest:
    if not isinstance(condition, Mapping):
        raise InvalidRequestException(f"{where} must be a TagCondition object.")
    key = condition.get("TagKey")
    if not isinstance(key, str) or not key:
        raise InvalidRequestException(f"{where}.TagKey is required.")
    value = condition.get("TagValue")
    comparison = condition.get("ComparisonType", "EQUALS")
    if comparison not in ("EQUALS", "NOT_EQUALS"):
        raise InvalidRequestException(f"{where}.ComparisonType must be EQUALS or NOT_EQUALS.")
    return TagTest(key, value if isinstance(value, str) else None, comparison == "EQUALS")


def _and(condition: Any, where: str) -> tuple[TagTest, ...]:
    if not isinstance(condition, Mapping):
        raise InvalidRequestException(f"{where} must be an object with TagConditions.")
    tests = condition.get("TagConditions")
    if not isinstance(tests, Sequence) or not tests:
        raise InvalidRequestException(f"{where}.TagConditions must list at least one TagCondition.")
    return tuple(_test(t, f"{where}.TagConditions.{i}") for i, t in enumerate(tests, 1))


def parse_list_filter(list_filter: Mapping[str, Any] | None) -> CategoryFilter | None:
    """The ``ListFilter`` of a request as a :class:`CategoryFilter` (``None``: no filter)."""
    if not list_filter:
        return None
    attribute_filter = list_filter.get("CategoriesAttributeFilter")
    if attribute_filter is None:
        return None
    where = "ListFilter.CategoriesAttributeFilter"
    if not isinstance(attribute_filter, Mapping):
        raise InvalidRequestException(f"{where} must be an object.")
    given = [k for k in ("TagCondition", "AndCondition", "OrConditions") if attribute_filter.get(k) is not None]
    if len(given) != 1:
        raise InvalidRequestException(
            f"{where} must have exactly one of TagCondition, AndCondition or OrConditions"
            + (f" (got {', '.join(given)})." if given else ".")
        )
    kind = given[0]
    if kind == "TagCondition":
        clauses: tuple[tuple[TagTest, ...], ...] = ((_test(attribute_filter[kind], f"{where}.TagCondition"),),)
    elif kind == "AndCondition":
        clauses = (_and(attribute_filter[kind], f"{where}.AndCondition"),)
    else:
        ors = attribute_filter[kind]
        if not isinstance(ors, Sequence) or not ors:
            raise InvalidRequestException(f"{where}.OrConditions must list at least one AND condition.")
        clauses = tuple(_and(c, f"{where}.OrConditions.{i}") for i, c in enumerate(ors, 1))
    canonical = json.dumps(
        [[[t.key, t.value, t.equal] for t in clause] for clause in clauses], separators=(",", ":"), ensure_ascii=False
    )
    return CategoryFilter(clauses, hashlib.sha256(canonical.encode()).hexdigest()[:32])
