"""``livelens rules convert``: readable <-> AWS JSON Rules Function language."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from livelens.cli.rule_commands import rules


def test_convert_both_ways_and_from_a_file(tmp_path: Path) -> None:
    runner = CliRunner()
    readable = 'customer said any ("refund", "money back") and attribute "queue" = "billing"'
    to_json = runner.invoke(rules, ["convert", readable])
    assert to_json.exit_code == 0, to_json.output
    document = json.loads(to_json.output)
    assert document["Version"] == "2022-11-25"
    assert document["RuleFunction"]["Operands"][0]["ComparisonValue"] == (
        "$.ContactLens.RealTimeChat.ExactMatch.Transcript"
    )
    path = tmp_path / "function.json"
    path.write_text(to_json.output)
    back = runner.invoke(rules, ["convert", f"@{path}"])
    assert back.exit_code == 0, back.output
    assert back.output.strip() == readable


def test_convert_names_what_has_no_form() -> None:
    result = CliRunner().invoke(rules, ["convert", "--channel", "voice", 'customer means "cancel my plan"'])
    assert result.exit_code == 1
    assert "semantic matching" in result.output


def test_rules_test_dry_runs_an_aws_json_function(tmp_path: Path) -> None:
    transcript = tmp_path / "turns.json"
    transcript.write_text(json.dumps([
        {"ParticipantRole": "CUSTOMER", "Content": "I would like my money back."},
        {"ParticipantRole": "AGENT", "Content": "Of course."},
    ]))
    function = json.dumps({"Version": "2022-11-25", "RuleFunction": {"Operator": "AND", "Operands": [
        {"Operator": "CONTAINS_ANY", "Operands": ["money back"],
         "ComparisonValue": "$.ContactLens.RealTimeChat.ExactMatch.Transcript",
         "FilterClause": {"LogicOperator": "AND", "Filters": [{"Type": "ParticipantRole", "Data": "CUSTOMER"}]}}]}})
    result = CliRunner().invoke(rules, ["test", "--function", function, "--transcript", str(transcript), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["Matched"] is True
