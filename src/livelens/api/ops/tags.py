"""connect TagResource, UntagResource, ListTagsForResource (instances and rules)."""

from __future__ import annotations

from typing import Any

from livelens.api.context import RequestContext
from livelens.api.routing import operation
from livelens.contacts.tags import TagBook

Params = dict[str, Any]


def _book(ctx: RequestContext) -> TagBook:
    assert ctx.services.tags is not None
    return ctx.services.tags


@operation("connect", "TagResource")
def tag_resource(ctx: RequestContext, params: Params) -> dict[str, Any]:
    _book(ctx).tag(params["resourceArn"], params["tags"])
    return {}


@operation("connect", "UntagResource")
def untag_resource(ctx: RequestContext, params: Params) -> dict[str, Any]:
    _book(ctx).untag(params["resourceArn"], params["tagKeys"])
    return {}


@operation("connect", "ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: Params) -> dict[str, Any]:
    return {"tags": _book(ctx).list_tags(params["resourceArn"]) or None}  # TagMap: at least one entry
