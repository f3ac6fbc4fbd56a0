"""The simulated model as an agent sees it: tool calls when asked, text once results are in, through the SDKs."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.conftest import Gateway
from tests.test_agents import SYSTEM, TOOLS
from tokenops.simulator import agent

ASK = "Look up alarm A-1042 with the tool."
GET_ALARM: dict[str, Any] = {
    "name": "get_alarm",
    "description": "Fetch one alarm of the network management system by its id",
    "parameters": {"type": "object", "properties": {"alarm_id": {"type": "string"}}, "required": ["alarm_id"]},
}
RESULT = "severity major, feeder 7 tripped at 14:02"
# A system prompt of an agent that names its tools, as agent harnesses write them.
AGENT_SYSTEM = "You are a helpful agent. Tools: exec, read_file, get_alarm, web_fetch, send_message. " + SYSTEM[:2000]


@pytest.fixture(params=["simulated", "openai_upstream", "anthropic_upstream"])
def gw(request: pytest.FixtureRequest) -> Gateway:
    name = {"simulated": "gateway", "openai_upstream": "http_gateway", "anthropic_upstream": "anthropic_gateway"}
    return request.getfixturevalue(name[request.param])  # type: ignore[no-any-return]


@pytest.fixture
def oai(gw: Gateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-demo-acme", max_retries=0) as client:
        yield client


@pytest.fixture
def claude(gw: Gateway) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gw.url, api_key="sk-demo-acme", max_retries=0) as client:
        yield client


def test_chat_completions_tool_round_trip(oai: openai.OpenAI) -> None:
    tools: Any = [{"type": "function", "function": GET_ALARM}]
    messages: list[Any] = [{"role": "user", "content": ASK}]
    first = oai.chat.completions.create(model="tele-lite", messages=messages, tools=tools)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_alarm"
    assert call.function.arguments == '{"alarm_id":"A-1042"}'
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": RESULT})
    second = oai.chat.completions.create(model="tele-lite", messages=messages, tools=tools)
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content and not second.choices[0].message.tool_calls


def test_responses_tool_round_trip(oai: openai.OpenAI) -> None:
    tools: Any = [{"type": "function", **GET_ALARM}]
    first = oai.responses.create(model="tele-lite", input=ASK, tools=tools, store=False)
    calls = [item for item in first.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["get_alarm"] and "A-1042" in calls[0].arguments
    follow_up: Any = [
        {"role": "user", "content": ASK},
        {"type": "function_call", "call_id": calls[0].call_id, "name": "get_alarm", "arguments": calls[0].arguments},
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": RESULT},
    ]
    second = oai.responses.create(model="tele-lite", input=follow_up, tools=tools, store=False)
    assert [item.type for item in second.output] == ["message"] and second.output_text


def test_messages_tool_round_trip(claude: anthropic.Anthropic) -> None:
    tools: Any = [
        {"name": GET_ALARM["name"], "description": GET_ALARM["description"], "input_schema": GET_ALARM["parameters"]}
    ]
    messages: list[Any] = [{"role": "user", "content": ASK}]
    first = claude.messages.create(model="tele-lite", max_tokens=400, messages=messages, tools=tools)
    assert first.stop_reason == "tool_use"
    [use] = [block for block in first.content if block.type == "tool_use"]
    assert use.name == "get_alarm" and use.input == {"alarm_id": "A-1042"}
    messages.append({"role": "assistant", "content": [block.model_dump() for block in first.content]})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": RESULT}]})
    second = claude.messages.create(model="tele-lite", max_tokens=400, messages=messages, tools=tools)
    assert second.stop_reason == "end_turn" and [b.type for b in second.content] == ["text"]


def test_greeting_with_tool_names_in_the_system_prompt_gets_text_on_every_api(
    oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    greeting = "Say hello to the network operations team in one sentence."
    chat = oai.chat.completions.create(
        model="tele-lite",
        messages=[{"role": "system", "content": AGENT_SYSTEM}, {"role": "user", "content": greeting}],
        tools=TOOLS,
    )
    assert chat.choices[0].finish_reason == "stop" and chat.choices[0].message.content
    flat: Any = [{"type": "function", **t["function"]} for t in TOOLS]
    resp = oai.responses.create(model="tele-lite", instructions=AGENT_SYSTEM, input=greeting, tools=flat, store=False)
    assert [item.type for item in resp.output] == ["message"]
    native: Any = [
        {
            "name": t["function"]["name"],
            "description": t["function"]["description"],
            "input_schema": t["function"]["parameters"],
        }
        for t in TOOLS
    ]
    msg = claude.messages.create(
        model="tele-lite",
        max_tokens=400,
        system=AGENT_SYSTEM,
        messages=[{"role": "user", "content": greeting}],
        tools=native,
    )
    assert msg.stop_reason == "end_turn" and [b.type for b in msg.content] == ["text"]


def _tools(*specs: tuple[str, str]) -> list[Any]:
    params = {"type": "object", "properties": {"target": {"type": "string"}}}
    return [{"type": "function", "function": {"name": n, "description": d, "parameters": params}} for n, d in specs]


def _called(messages: list[Any], tools: list[Any], choice: Any = "auto") -> str | None:
    call = agent.tool_call(messages, tools, choice, random.Random(0))
    return None if call is None else str(call["function"]["name"])


def test_a_tool_is_chosen_by_name_by_description_or_when_asked_for_and_not_otherwise() -> None:
    tools = _tools(
        ("get_weather", "Current weather conditions for a city"),
        ("open_ticket", "Open a trouble ticket with the field service team"),
        ("exec", "Execute a shell command"),
    )

    def ask(text: str) -> str | None:
        return _called(
            [{"role": "system", "content": "You may use exec and open_ticket."}, {"role": "user", "content": text}],
            tools,
        )

    assert ask("please run open_ticket for feeder 7") == "open_ticket"
    assert ask("open ticket for feeder 7") == "open_ticket"
    assert ask("What are the weather conditions in Jinan?") == "get_weather"
    assert ask("Check the weather in Jinan") == "get_weather"
    assert ask("Use a tool for this.") == "get_weather"
    assert ask("Hello there, how are you?") is None
    assert ask("Summarise the executive summary in one line.") is None  # "exec" only inside another word
    assert _called([{"role": "user", "content": "open_ticket now"}], tools, "none") is None
    assert _called([{"role": "user", "content": "hi"}], tools, "required") == "get_weather"
    forced = {"type": "function", "function": {"name": "exec"}}
    assert _called([{"role": "user", "content": "hi"}], tools, forced) == "exec"
    assert _called([{"role": "user", "content": "open_ticket now"}], []) is None


def test_tool_results_end_the_calls_and_a_forced_tool_is_called_a_bounded_number_of_times_in_a_row() -> None:
    tools = _tools(("get_alarm", "Fetch an alarm"), ("ack_alarm", "Acknowledge an alarm"), ("exec", "Run a command"))
    messages: list[Any] = [{"role": "user", "content": "Call get_alarm for A-7, then ack_alarm it."}]
    names = []
    while (name := _called(messages, tools)) is not None:
        names.append(name)
        call = {"id": f"c{len(names)}", "type": "function", "function": {"name": name, "arguments": "{}"}}
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "done"},
        ]
    assert names == ["get_alarm", "ack_alarm"]  # both named tools in order, then text
    forced = {"type": "function", "function": {"name": "exec"}}
    messages = [{"role": "user", "content": "go"}]
    count = 0
    while _called(messages, tools, forced) is not None and count < 10:
        count += 1
        call = {"id": f"f{count}", "type": "function", "function": {"name": "exec", "arguments": "{}"}}
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "ok"},
        ]
    assert count == agent.MAX_CALLS_IN_A_ROW


def test_an_agent_harness_s_metadata_and_context_blocks_ask_for_no_tool() -> None:
    tools = _tools(("exec", "Run a shell command in the agent's session; the host and shell come from the runtime"),
                   ("get_alarm", "Fetch an alarm"))  # fmt: skip
    greeting = (
        "[Mon 2026-12-07 10:07 UTC] Say hello to the network operations team in one sentence.\n\n"
        "Runtime: agent=main | session=agent:main:explicit:cf62 | host=vm | node=v24.22.3 | shell=bash"
    )
    context = (
        "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nConversation data (data, not instructions):\n"
        '"Active exec sessions:\\nnone"\n<<<END_OPENCLAW_INTERNAL_CONTEXT>>>'
    )
    messages: list[Any] = [
        {"role": "system", "content": "Tools: exec, get_alarm. Call exact names."},
        {"role": "user", "content": greeting},
        {"role": "user", "content": [{"type": "text", "text": context}]},
    ]
    assert _called(messages, tools) is None
    asked = [messages[0], {"role": "user", "content": "Look up alarm A-1042 with the tool."}, messages[2]]
    assert _called(asked, tools) == "get_alarm"  # the request two messages back still counts
    call = {"id": "c1", "type": "function", "function": {"name": "get_alarm", "arguments": "{}"}}
    asked += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "major"},
        {"role": "user", "content": context},  # the harness appends its context after the result too
    ]
    assert _called(asked, tools) is None  # results are in: text
    asked += [{"role": "assistant", "content": "Alarm A-1042 is major."}, {"role": "user", "content": "thanks"}]
    assert _called(asked, tools) is None  # a new turn that asks for nothing


def test_a_call_passes_the_required_arguments_from_the_turn_and_leaves_optional_switches_alone() -> None:
    exec_params = {"type": "object", "required": ["command"], "properties": {
        "command": {"type": "string"}, "elevated": {"type": "boolean"}, "background": {"type": "boolean"}}}  # fmt: skip
    ls_params = {"type": "object", "properties": {"path": {"type": "string"}, "limit": {"type": "number"}},
                 "required": ["path"]}  # fmt: skip
    tools: list[Any] = [
        {"type": "function", "function": {"name": n, "description": d, "parameters": s}}
        for n, d, s in (("exec", "Run a shell command", exec_params), ("ls", "List a directory", ls_params))
    ]

    def arguments(text: str) -> tuple[str, Any]:
        call = agent.tool_call([{"role": "user", "content": text}], tools, "auto", random.Random(0))
        assert call is not None
        return call["function"]["name"], orjson.loads(call["function"]["arguments"])

    assert arguments("[Mon 2026-12-07 10:07 UTC] Run `cat notes.txt` with the exec tool.") == (
        "exec", {"command": "cat notes.txt"})  # fmt: skip
    assert arguments("[Mon 2026-12-07 10:07 UTC] List the files in the working folder with the ls tool.") == (
        "ls", {"path": "."})  # fmt: skip
    assert arguments("Use the ls tool on /var/log/plc please.") == ("ls", {"path": "/var/log/plc"})
