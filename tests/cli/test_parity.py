"""Side by side: ``livelens`` and the real ``aws`` CLI against one live server print the same output."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.cli.conftest import Run, v1_args, v2_args

OUTPUTS = ["json", "text", "table"]
QUERIES = [
    "Segments[].Transcript.Content",
    "Segments[?Transcript].Transcript.[ParticipantRole, Sentiment]",
    "Segments[-1]",
]


def same(livelens: Run, aws: Run, args: list[str]) -> str:
    mine = livelens(*args)
    theirs = aws(*args)
    assert theirs.returncode == 0, theirs.stderr
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout == theirs.stdout, f"livelens and aws differ for {' '.join(args)}"
    assert mine.stderr == ""
    return mine.stdout


@pytest.mark.parametrize("output", OUTPUTS)
def test_v2_same_output_as_aws(livelens: Run, aws: Run, instance_id: str, chat_contact: str, output: str) -> None:
    for output_type in ("Raw", "Redacted"):
        printed = same(livelens, aws, [*v2_args(instance_id, chat_contact, output_type), "--output", output])
        assert "Transcript" in printed or "TRANSCRIPT" in printed


@pytest.mark.parametrize("output", OUTPUTS)
def test_v1_same_output_as_aws(livelens: Run, aws: Run, instance_id: str, voice_contact: str, output: str) -> None:
    same(livelens, aws, [*v1_args(instance_id, voice_contact), "--output", output])


@pytest.mark.parametrize("output", OUTPUTS)
def test_query_same_output_as_aws(livelens: Run, aws: Run, instance_id: str, chat_contact: str, voice_contact: str,
                                  output: str) -> None:
    for query in QUERIES:
        same(livelens, aws, [*v2_args(instance_id, chat_contact), "--query", query, "--output", output])
    if output == "text":
        same(livelens, aws, [*v1_args(instance_id, voice_contact), "--query", QUERIES[1], "--output", output])


def test_single_page_same_as_aws(livelens: Run, aws: Run, instance_id: str, chat_contact: str) -> None:
    # A page of 2 with a NextToken, and the next page from that token: byte for byte what aws prints.
    first = same(livelens, aws, [*v2_args(instance_id, chat_contact), "--max-results", "2", "--no-paginate"])
    token = json.loads(first)["NextToken"]
    same(livelens, aws, [*v2_args(instance_id, chat_contact), "--max-results", "2", "--next-token", token,
                         "--no-paginate"])


def test_default_output_is_json_like_aws(livelens: Run, aws: Run, instance_id: str, voice_contact: str) -> None:
    same(livelens, aws, v1_args(instance_id, voice_contact))


def test_color_options_like_aws(livelens: Run, aws: Run, instance_id: str, voice_contact: str) -> None:
    for color in ("on", "off", "auto"):
        same(livelens, aws, [*v1_args(instance_id, voice_contact), "--output", "table", "--color", color])


def test_global_options_accepted_like_aws(livelens: Run, aws: Run, instance_id: str, voice_contact: str) -> None:
    same(livelens, aws, [*v1_args(instance_id, voice_contact), "--region", "eu-west-2", "--cli-read-timeout", "30",
                         "--cli-connect-timeout", "10", "--no-verify-ssl", "--output", "text"])
    # v2-only options aws v1 lacks: accepted by livelens, output unchanged.
    reference = aws(*v1_args(instance_id, voice_contact)).stdout
    mine = livelens(*v1_args(instance_id, voice_contact), "--no-cli-pager", "--cli-binary-format", "base64",
                    "--no-cli-auto-prompt")
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout == reference


def test_yaml_is_aws_v2_yaml(livelens: Run, aws: Run, instance_id: str, chat_contact: str) -> None:
    reference = json.loads(aws(*v2_args(instance_id, chat_contact, "Redacted"), "--output", "json").stdout)
    printed = livelens(*v2_args(instance_id, chat_contact, "Redacted"), "--output", "yaml")
    assert printed.returncode == 0, printed.stderr
    assert yaml.safe_load(printed.stdout) == reference
    # aws v2's YAML: block style, keys sorted, unicode kept, sequences not indented under their key.
    assert printed.stdout == yaml.safe_dump(reference, default_flow_style=False, allow_unicode=True, sort_keys=True)
    assert printed.stdout.startswith("Channel: CHAT\nSegments:\n- ")
    assert "{" not in printed.stdout.splitlines()[2]
    stream = livelens(*v2_args(instance_id, chat_contact, "Redacted"), "--output", "yaml-stream")
    assert yaml.safe_load(stream.stdout) == [reference]
    assert stream.stdout.startswith("- Channel: CHAT\n")


def test_yaml_query(livelens: Run, aws: Run, instance_id: str, voice_contact: str) -> None:
    query = "Segments[].Transcript.Content"
    reference = json.loads(aws(*v1_args(instance_id, voice_contact), "--query", query).stdout)
    printed = livelens(*v1_args(instance_id, voice_contact), "--query", query, "--output", "yaml")
    assert yaml.safe_load(printed.stdout) == reference
    assert printed.stdout.startswith("- ")


def test_skeletons_like_aws(livelens: Run, aws: Run) -> None:
    # livelens reads the service models of the installed botocore (as the server does); aws v1 reads the
    # copy vendored inside awscli, which may be older. Members both know come out identical, in order.
    import botocore.session
    from botocore.utils import ArgumentGenerator

    models = botocore.session.get_session()
    for service, operation, args in (
        ("connect-contact-lens", "ListRealtimeContactAnalysisSegments",
         ["connect-contact-lens", "list-realtime-contact-analysis-segments"]),
        ("connect", "ListRealtimeContactAnalysisSegmentsV2", ["connect", "list-realtime-contact-analysis-segments-v2"]),
    ):
        shape = models.get_service_model(service).operation_model(operation).input_shape
        for extra in ([], ["input"]):
            mine = livelens(*args, "--generate-cli-skeleton", *extra)
            theirs = aws(*args, "--generate-cli-skeleton", *extra)
            assert mine.returncode == 0 and theirs.returncode == 0, mine.stderr + theirs.stderr
            skeleton = json.loads(mine.stdout)
            assert list(skeleton) == list(ArgumentGenerator().generate_skeleton(shape))
            assert mine.stdout == json.dumps(skeleton, indent=4) + "\n"
            reference = json.loads(theirs.stdout)
            assert [k for k in skeleton if k in reference] == list(reference)
            # (enum values in a skeleton are picked at random by botocore's ArgumentGenerator)
            assert {k: type(v) for k, v in skeleton.items() if k in reference} == {
                k: type(v) for k, v in reference.items()}
        required = ["--instance-id", "i", "--contact-id", "c"]
        if service == "connect":
            required += ["--output-type", "Raw", "--segment-types", "Transcript"]
        mine = livelens(*args, "--generate-cli-skeleton", "output", *required)
        assert mine.returncode == 0, mine.stderr
        output_shape = models.get_service_model(service).operation_model(operation).output_shape
        sample = json.loads(mine.stdout)
        expected = ArgumentGenerator(use_member_names=True).generate_skeleton(output_shape)
        assert list(sample) == list(expected)
        assert list(sample["Segments"][0]) == list(expected["Segments"][0])
        theirs = aws(*args, "--generate-cli-skeleton", "output", *required)
        if service == "connect-contact-lens":
            assert set(json.loads(theirs.stdout)) == set(sample)
        else:
            # aws v1 cannot: botocore's Stubber rejects its own sample of the V2 segment (a tagged union).
            assert theirs.returncode != 0 and "tagged union" in theirs.stderr


def test_yaml_input_skeleton(livelens: Run) -> None:
    printed = livelens("connect", "list-realtime-contact-analysis-segments-v2", "--generate-cli-skeleton",
                       "yaml-input")
    assert printed.returncode == 0, printed.stderr
    skeleton = yaml.safe_load(printed.stdout)
    import botocore.session

    shape = botocore.session.get_session().get_service_model("connect").operation_model(
        "ListRealtimeContactAnalysisSegmentsV2").input_shape
    assert list(skeleton) == list(shape.members)
    assert "InstanceId: ''  # [REQUIRED]" in printed.stdout
    assert "Valid values are: Raw, Redacted" in printed.stdout


def test_cli_input_json_and_yaml(livelens: Run, aws: Run, instance_id: str, chat_contact: str, tmp_path) -> None:
    parameters = {"InstanceId": instance_id, "ContactId": chat_contact, "OutputType": "Redacted",
                  "SegmentTypes": ["Transcript", "Issues"]}
    as_json = tmp_path / "input.json"
    as_json.write_text(json.dumps(parameters))
    base = ["connect", "list-realtime-contact-analysis-segments-v2"]
    reference = same(livelens, aws, [*base, "--cli-input-json", f"file://{as_json}"])
    same(livelens, aws, [*base, "--cli-input-json", json.dumps(parameters)])
    as_yaml = tmp_path / "input.yaml"
    as_yaml.write_text(yaml.safe_dump(parameters))
    for value in (f"file://{as_yaml}", yaml.safe_dump(parameters)):
        mine = livelens(*base, "--cli-input-yaml", value)
        assert mine.returncode == 0, mine.stderr
        assert mine.stdout == reference
    # The command line overrides the input file, as with --cli-input-json.
    raw = livelens(*base, "--cli-input-yaml", f"file://{as_yaml}", "--output-type", "Raw")
    assert raw.stdout == aws(*base, "--cli-input-json", f"file://{as_json}", "--output-type", "Raw").stdout
    both = livelens(*base, "--cli-input-yaml", f"file://{as_yaml}", "--cli-input-json", f"file://{as_json}")
    assert both.returncode == 252 and both.stderr.count("\n") == 1


def test_other_connect_operations_come_free(livelens: Run, aws: Run, instance_id: str, chat_contact: str) -> None:
    same(livelens, aws, ["connect", "describe-contact", "--instance-id", instance_id, "--contact-id", chat_contact,
                         "--query", "Contact.[Channel, InitiationMethod]", "--output", "text"])


def test_version(livelens: Run) -> None:
    printed = livelens("connect-contact-lens", "list-realtime-contact-analysis-segments", "--version")
    assert printed.returncode == 0
    assert printed.stdout.startswith("livelens/") and "botocore/" in printed.stdout
