"""Thin handlers, one snake_case function per operation, grouped by service.

Importing this package registers every handler with :data:`livelens.api.routing.registry`.
"""

from livelens.api.ops import (
    connect,
    connect_rules,
    contact_lens,
    extraction,
    native,
    participant,
    search,
    tags,
)

__all__ = ["connect", "connect_rules", "contact_lens", "extraction", "native", "participant", "search", "tags"]
