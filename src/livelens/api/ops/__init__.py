"""Thin handlers, one snake_case function per operation, grouped by service.

Importing this package registers every handler with :data:`livelens.api.routing.registry`.
"""

from livelens.api.ops import connect, contact_lens, extraction, native, participant, rules, search, tags

__all__ = ["connect", "contact_lens", "extraction", "native", "participant", "rules", "search", "tags"]
