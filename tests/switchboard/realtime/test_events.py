import json

from switchboard.realtime.events import (
    AgentTranscript,
    AudioStopped,
    CallerTranscript,
    Keypress,
    Malformed,
    ResponseDone,
    ResponseStarted,
    ServerError,
    SpeechStarted,
    parse_event,
)


def test_events_the_monitor_ignores_are_not_parsed_further() -> None:
    assert parse_event('{"type": "response.output_audio_transcript.delta", "delta": "Hi"}') is None
    assert parse_event('{"type": "something.new"}') is None


def test_transcripts_and_audio_stop() -> None:
    caller = {"type": "conversation.item.input_audio_transcription.completed", "transcript": "hi"}
    assert parse_event(json.dumps(caller)) == CallerTranscript("hi")
    agent = {
        "type": "response.output_audio_transcript.done",
        "response_id": "r1",
        "transcript": "yo",
    }
    assert parse_event(json.dumps(agent)) == AgentTranscript("r1", "yo")
    stopped = {"type": "output_audio_buffer.stopped", "response_id": "r1"}
    assert parse_event(json.dumps(stopped)) == AudioStopped("r1")


def test_turn_boundaries_for_the_silence_limit_are_parsed_by_type_alone() -> None:
    started = {"type": "input_audio_buffer.speech_started", "audio_start_ms": 10, "item_id": "i"}
    assert parse_event(json.dumps(started)) == SpeechStarted()
    assert parse_event('{"type": "response.created", "response": {}}') == ResponseStarted()


def test_response_done_carries_usage_and_function_calls() -> None:
    done = {
        "type": "response.done",
        "response": {
            "id": "resp_1",
            "status": "completed",
            "output": [
                {"type": "message", "content": []},
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "transfer_call",
                    "arguments": '{"department": "sales"}',
                },
            ],
            "usage": {
                "input_tokens": 100,
                "output_tokens": 40,
                "input_token_details": {"cached_tokens": 64, "text_tokens": 20, "audio_tokens": 80},
                "output_token_details": {"text_tokens": 10, "audio_tokens": 30},
            },
        },
    }
    event = parse_event(json.dumps(done))
    assert isinstance(event, ResponseDone)
    assert event.usage.input_tokens == 100
    assert event.usage.cached_tokens == 64
    assert event.usage.output_audio_tokens == 30
    assert [c.name for c in event.function_calls] == ["transfer_call"]
    assert event.function_calls[0].parsed_arguments() == {"department": "sales"}


def test_bad_messages_become_malformed_events_not_exceptions() -> None:
    assert isinstance(parse_event("{not json"), Malformed)
    assert isinstance(parse_event("[]"), Malformed)
    assert isinstance(parse_event('{"type": "response.done"}'), Malformed)
    assert isinstance(
        parse_event('{"type": "response.done", "response": {"output": [1]}}'), Malformed
    )
    error = parse_event('{"type": "error", "error": {"code": "bad", "message": "nope"}}')
    assert error == ServerError("bad", "nope")


def test_keypad_presses_are_parsed_and_a_bad_key_is_malformed() -> None:
    press = {"type": "input_audio_buffer.dtmf_event_received", "event": "#", "received_at": 1}
    assert parse_event(json.dumps(press)) == Keypress("#")
    for bad in ("12", "x", 5, ""):
        assert isinstance(parse_event(json.dumps(press | {"event": bad})), Malformed)
