from pathlib import Path
from typing import Any

import pytest

from switchboard.agent import END_CALL, TRANSFER_CALL, Agent, greeting_instruction

FRONT_DESK = Path(__file__).resolve().parents[2] / "agents" / "front_desk.toml"


def tool_names(config: dict[str, Any]) -> list[str]:
    return [tool["name"] for tool in config["tools"]]


def test_the_sample_front_desk_loads_with_departments_and_an_after_hours_variant() -> None:
    agent = Agent.load(FRONT_DESK)
    open_config = agent.session_config("gpt-realtime")
    assert open_config["model"] == "gpt-realtime"
    assert tool_names(open_config) == [TRANSFER_CALL, END_CALL, "order_status"]
    department = open_config["tools"][0]["parameters"]["properties"]["department"]
    assert department["enum"] == ["sales", "support"]
    assert "existing orders" in department["description"]
    closed = agent.session_config("gpt-realtime", after_hours=True)
    assert tool_names(closed) == [END_CALL, "order_status"]  # HTTP tools after hours too
    assert "outside business hours" in closed["instructions"]
    assert agent.greeting_for(after_hours=True) != agent.greeting_for(after_hours=False)


def test_the_default_agent_has_both_tools_and_no_department_list() -> None:
    config = Agent().session_config("m")
    assert tool_names(config) == [TRANSFER_CALL, END_CALL]
    assert "enum" not in config["tools"][0]["parameters"]["properties"]["department"]
    assert config["audio"]["input"]["transcription"]["model"] == "whisper-1"
    assert Agent().greeting_for(after_hours=True) == Agent().greeting


def test_an_agent_without_tools_does_not_offer_any() -> None:
    config = Agent.from_definition({"tools": [], "transcription_model": "off"}).session_config("m")
    assert (config["tools"], config["tool_choice"]) == ([], "none")
    assert "input" not in config["audio"]


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        ({"instructions": 3}, "'instructions' to be a non-empty string"),
        ({"greeting": "  "}, "'greeting' to be a non-empty string"),
        ({"voice": "robot"}, "'voice' to be one of"),
        ({"tools": ["launch_rockets"]}, "'tools' to be a list drawn from"),
        ({"tool": ["end_call"]}, "unknown keys ['tool']"),
        ({"after_hours": {"greetings": "x"}}, "unknown [after_hours] keys ['greetings']"),
        ({"departments": ["sales"]}, "to be tables"),
    ],
)
def test_bad_definitions_say_what_is_wrong(definition: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        Agent.from_definition(definition)


def test_a_file_that_is_not_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text("instructions = 'unterminated", encoding="utf-8")
    with pytest.raises(ValueError, match="is not valid TOML"):
        Agent.load(path)


def test_the_greeting_line_guards_against_greeting_twice() -> None:
    line = greeting_instruction("Hello, Contoso here.")
    assert line.startswith("Greet the caller by saying: Hello, Contoso here.")
    assert "already greeted" in line  # a re-run first slice must not greet again


def test_department_names_are_case_insensitive_in_the_agent_file() -> None:
    agent = Agent.from_definition({"departments": {"Sales": "orders", "SUPPORT": "problems"}})
    assert dict(agent.departments) == {"sales": "orders", "support": "problems"}
    tool = agent.session_config("gpt-realtime")["tools"][0]
    assert tool["parameters"]["properties"]["department"]["enum"] == ["sales", "support"]
    with pytest.raises(ValueError, match="names department 'sales' twice"):
        Agent.from_definition({"departments": {"Sales": "a", "sales": "b"}})
