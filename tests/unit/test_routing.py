from livelens.api import ops  # noqa: F401
from livelens.api.routing import Router, load_service_models, registry


def test_routes_come_from_the_service_models() -> None:
    router = Router(registry.build(load_service_models()))
    match = router.match("POST", "/contact/list-real-time-analysis-segments-v2/inst/con%2F1")
    assert match is not None
    assert match.operation.name == "ListRealtimeContactAnalysisSegmentsV2"
    assert match.path_params == {"InstanceId": "inst", "ContactId": "con/1"}
    v1 = router.match("POST", "/realtime-contact-analysis/analysis-segments")
    assert v1.operation.service == "connect-contact-lens"
    assert router.match("GET", "/instance/abc").operation.name == "DescribeInstance"
    assert router.match("GET", "/instance").operation.name == "ListInstances"
    assert router.match("PUT", "/instance").operation.name == "CreateInstance"
    assert router.match("POST", "/participant/message").operation.name == "SendMessage"
    assert router.match("GET", "/nowhere") is None
    assert router.allows("/instance/abc") == ["DELETE", "GET"]
