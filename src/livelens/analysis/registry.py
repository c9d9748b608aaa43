"""The component registry: named analysers with declared configs.

Modelled on spaCy's ``@Language.factory(name, default_config=, assigns=,
requires=)``. A component is registered by name with

* ``default_config`` – every key it accepts and its default value. User
  config is merged over it; an unknown key is a ``ValueError`` naming it, so a
  typo in an instance setting fails at startup rather than being ignored.
* ``validate`` – optional check of the merged values (e.g. allowed enums).
* ``assigns`` / ``requires`` – the :class:`~livelens.analysis.types.TurnAnalysis`
  attributes the component writes and reads. :func:`check_order` refuses a
  pipeline where a component requires something no earlier one assigns, like
  spaCy's ``analyze_pipes``.
* ``per_turn`` – ``False`` for contact-level analysers (the summary), which
  are configured here too but cannot be placed in the per-turn pipeline.

The factory receives the merged config and returns a callable
``(TurnContext) -> None`` that fills in ``context.analysis``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from livelens.analysis.context import TurnContext

ComponentFn = Callable[["TurnContext"], None]
BatchFn = Callable[[Sequence["TurnContext"]], None]
EmbeddingTextsFn = Callable[["TurnContext"], list[str]]
Factory = Callable[[Mapping[str, Any]], ComponentFn]
Validator = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    factory: Factory | None
    default_config: Mapping[str, Any]
    assigns: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    per_turn: bool = True
    validate: Validator | None = None
    doc: str = ""


_REGISTRY: dict[str, ComponentSpec] = {}


class BatchedComponent:
    """A component that can also run over many turns at once (``pipe``), like spaCy's ``Pipe.pipe``.

    The pipeline's ``analyze_many`` calls ``pipe`` with every turn of a batch;
    ``analyze`` calls the component on one turn. Both must give the same result.

    ``embedding_texts(ctx)``, if given, names texts besides the turn's own that the component will
    embed with MiniLM (the issue detector's sentences); ``analyze_many`` embeds them together with
    the batch's turns in one ONNX run and hands them over in ``TurnContext.text_vectors``.
    """

    def __init__(self, one: ComponentFn, many: BatchFn, embedding_texts: EmbeddingTextsFn | None = None) -> None:
        self.one = one
        self.pipe = many
        self.embedding_texts = embedding_texts

    def __call__(self, ctx: TurnContext) -> None:
        self.one(ctx)


def batched(one: ComponentFn, many: BatchFn, embedding_texts: EmbeddingTextsFn | None = None) -> ComponentFn:
    """``one`` with a batch form ``many`` (see :class:`BatchedComponent`)."""
    return BatchedComponent(one, many, embedding_texts)


def component(
    name: str,
    *,
    default_config: Mapping[str, Any] | None = None,
    assigns: Sequence[str] = (),
    requires: Sequence[str] = (),
    per_turn: bool = True,
    validate: Validator | None = None,
) -> Callable[[Factory], Factory]:
    """Register ``factory`` as the component ``name`` (decorator)."""

    def register(factory: Factory) -> Factory:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ValueError(f"component {name!r} is already registered")
        _REGISTRY[name] = ComponentSpec(
            name=name,
            factory=factory,
            default_config=dict(default_config or {}),
            assigns=tuple(assigns),
            requires=tuple(requires),
            per_turn=per_turn,
            validate=validate,
            doc=(factory.__doc__ or "").strip().split("\n")[0],
        )
        return factory

    return register


def unregister(name: str) -> None:
    """Remove a component (for tests that register throwaway ones)."""
    _REGISTRY.pop(name, None)


def registered() -> dict[str, ComponentSpec]:
    """A snapshot of the registry, by name."""
    _ensure_builtins()
    return dict(_REGISTRY)


def get_spec(name: str) -> ComponentSpec:
    _ensure_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown analysis component {name!r} (known: {known})") from None


def resolve_config(config: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Merge ``config`` over every component's defaults and validate it.

    Returns one merged dict per registered component (also those not in the
    per-turn pipeline, since ``redact`` and ``summarize`` are always there).
    """
    _ensure_builtins()
    config = config or {}
    for section in config:
        if section not in _REGISTRY:
            known = ", ".join(sorted(_REGISTRY))
            raise ValueError(f"unknown analysis config section {section!r} (known: {known})")
    merged: dict[str, dict[str, Any]] = {}
    for name, spec in _REGISTRY.items():
        user = config.get(name) or {}
        if not isinstance(user, Mapping):
            raise ValueError(f"analysis config {name!r} must be a mapping, got {type(user).__name__}")
        for key in user:
            if key not in spec.default_config:
                allowed = ", ".join(sorted(spec.default_config)) or "none"
                raise ValueError(f"unknown config key {name}.{key} (allowed: {allowed})")
        values = copy.deepcopy(dict(spec.default_config))
        values.update(copy.deepcopy(dict(user)))
        if spec.validate is not None:
            spec.validate(values)
        merged[name] = values
    return merged


def check_order(components: Sequence[str]) -> None:
    """Refuse unknown, repeated, contact-level or badly ordered components."""
    seen: set[str] = set()
    assigned: set[str] = set()
    for name in components:
        spec = get_spec(name)
        if name in seen:
            raise ValueError(f"analysis component {name!r} is listed twice")
        if not spec.per_turn:
            raise ValueError(f"{name!r} runs once per contact, not per turn; do not list it in components")
        missing = [r for r in spec.requires if r not in assigned]
        if missing:
            raise ValueError(
                f"analysis component {name!r} requires {', '.join(missing)}, which no earlier component assigns"
            )
        seen.add(name)
        assigned.update(spec.assigns)


def _ensure_builtins() -> None:
    """Import the built-in analysers so that their decorators have run."""
    from livelens.analysis import issues, redaction, sentiment, summary  # noqa: F401
