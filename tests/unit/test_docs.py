"""The README documents every setting and every operation livelens serves."""

from pathlib import Path

from livelens.api import ops  # noqa: F401
from livelens.api.routing import registry
from livelens.config import SETTINGS

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    for setting in SETTINGS:
        assert f"`{setting.name}`" in README, setting.name
        assert f"LIVELENS_{setting.name.upper()}" in README, setting.name


def test_every_operation_is_documented() -> None:
    for service, name, *_ in registry._declared:
        if service == "livelens":
            continue
        assert name in README, f"{service} {name}"
