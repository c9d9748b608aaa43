from livelens.contacts.tokens import CONNECTION, PARTICIPANT, TokenIssuer


def test_tokens_name_their_participant_and_kind() -> None:
    issuer = TokenIssuer(b"s" * 32)
    token = issuer.issue(PARTICIPANT, "p-1")
    assert issuer.participant_id(PARTICIPANT, token) == "p-1"
    assert issuer.participant_id(CONNECTION, token) is None
    assert TokenIssuer(b"t" * 32).participant_id(PARTICIPANT, token) is None
    assert issuer.participant_id(PARTICIPANT, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert issuer.participant_id(PARTICIPANT, "P1.!!!.x") is None


def test_every_connection_token_is_fresh_and_names_its_participant() -> None:
    issuer = TokenIssuer(b"s" * 32)
    (first, one), (second, two) = issuer.issue_connection("p-1"), issuer.issue_connection("p-1")
    assert first != second and one != two
    assert issuer.participant_id(CONNECTION, first) == "p-1"
    assert issuer.connection_id(first) == one
    assert issuer.connection_id(issuer.issue(PARTICIPANT, "p-1")) is None
