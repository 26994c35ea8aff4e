"""The Server-Sent Events parser behind ``listen``."""

import pytest
from watchword_authenticator.client import parse_challenge
from watchword_authenticator.sse import EventStreamParser, ServerEvent, parse_event_stream


def test_events_comments_and_multi_line_data_parse_as_the_standard_says():
    lines = [": keep-alive", "", "event: challenge", 'data: {"a":', "data:1}", "id: 7", "", "data: plain", ""]

    assert list(parse_event_stream(lines)) == [ServerEvent(event="challenge", data='{"a":\n1}', id="7"),
                                               ServerEvent(event="message", data="plain", id="7")]


def test_line_endings_are_stripped_and_an_event_without_data_is_dropped():
    lines = ["event: challenge\r\n", "\r\n", "event: challenge\r\n", "data: x\r\n", "\r\n"]

    assert list(parse_event_stream(lines)) == [ServerEvent(event="challenge", data="x")]


def test_unknown_fields_are_ignored():
    parser = EventStreamParser()
    for line in ["retry: 3000", "colour: blue", "data: x"]:
        assert parser.feed(line) is None

    assert parser.feed("") == ServerEvent(event="message", data="x")


def test_a_challenge_event_gives_its_fields():
    challenge = parse_challenge('{"challenge_id": "ch_1", "account": "adele@contoso.example", "app": "Contoso sign-in",'
                                ' "ip": "203.0.113.7", "location": "Reading", "created": 1764282000,'
                                ' "expires": 1764282060}')

    assert (challenge.challenge_id, challenge.app, challenge.expires) == ("ch_1", "Contoso sign-in", 1764282060)


@pytest.mark.parametrize("data", ["not json", "[]", '{"created": 1, "expires": 2}',
                                  '{"challenge_id": "ch_1", "created": "yesterday", "expires": 2}'])
def test_a_malformed_challenge_is_refused(data):
    with pytest.raises(ValueError):
        parse_challenge(data)
