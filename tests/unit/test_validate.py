import botocore.session
import pytest

from livelens.api.validate import ShapeValidator, summarize


@pytest.fixture(scope="module")
def v2_input():
    model = botocore.session.get_session().get_service_model("connect")
    return model.operation_model("ListRealtimeContactAnalysisSegmentsV2").input_shape


def test_valid_request_has_no_errors(v2_input) -> None:
    request = {"InstanceId": "i", "ContactId": "c", "OutputType": "Raw", "SegmentTypes": ["Transcript"]}
    assert ShapeValidator().errors(v2_input, request) == []


def test_each_problem_names_its_field(v2_input) -> None:
    request = {"InstanceId": "i", "OutputType": "Cooked", "SegmentTypes": ["Transcript"] * 8, "MaxResults": 101}
    errors = ShapeValidator().errors(v2_input, request)
    text = summarize(errors)
    assert text.startswith("4 validation errors detected:")
    assert "at 'ContactId' failed to satisfy constraint: Member must not be null" in text
    assert "'Cooked' at 'OutputType'" in text and "enum value set: [Raw, Redacted]" in text
    assert "at 'SegmentTypes' failed to satisfy constraint: Member must have length less than or equal to" in text
    assert "'101' at 'MaxResults'" in text


def test_wrong_types_are_reported_not_raised(v2_input) -> None:
    request = {
        "InstanceId": 5, "ContactId": ["x"], "OutputType": None, "SegmentTypes": "Transcript", "MaxResults": True
    }
    errors = ShapeValidator().errors(v2_input, request)
    assert any("'InstanceId'" in e and "string" in e for e in errors)
    assert any("'SegmentTypes'" in e and "list" in e for e in errors)
    assert any("'MaxResults'" in e and "integer" in e for e in errors)
    assert any("'OutputType'" in e and "null" in e for e in errors)
