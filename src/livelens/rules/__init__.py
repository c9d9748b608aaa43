"""Category rules: the condition language, the incremental evaluator and alerts.

    parser.py   the ``Function`` language: grammar, AST, errors with positions
    engine.py   per-contact, per-rule state; ``on_turn`` / ``on_end`` decide what fires
    text.py     word matching (case-insensitive, word boundaries, inflection)
    alerts.py   the "Realtime Rules Matched" event, HMAC signing, delivery with backoff

Nothing here knows HTTP or SQL: state and pending alerts are plain JSON
records the domain (:mod:`livelens.contacts.rule_runner`) persists.
"""

from livelens.rules.parser import RuleSyntaxError, parse

__all__ = ["RuleSyntaxError", "parse"]
