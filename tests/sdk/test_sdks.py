"""The official OpenAI and Anthropic Python SDKs, unchanged, against a running sluice.

Run through `tests/sdk/run.sh`, which starts the relay in its demo mode (embedded simulator)
and sets SLUICE_URL and SLUICE_TOKEN.
"""

import json
import os

import anthropic
import openai
import pytest

URL = os.environ.get("SLUICE_URL", "http://127.0.0.1:8080")
TOKEN = os.environ.get("SLUICE_TOKEN", "sk-sluice-demo")
CHAT_MODELS = ["gpt-4o-mini", "claude-sonnet-4-20250514", "grok-3"]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def oai():
    return openai.OpenAI(base_url=f"{URL}/v1", api_key=TOKEN, max_retries=0, timeout=20)


@pytest.fixture(scope="module")
def ant():
    return anthropic.Anthropic(base_url=URL, api_key=TOKEN, max_retries=0, timeout=20)


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_openai_chat(oai, model):
    r = oai.chat.completions.create(
        model=model, max_tokens=6, messages=[{"role": "user", "content": "Hello"}]
    )
    assert r.choices[0].message.content
    assert r.usage.completion_tokens == 6
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_openai_chat_stream(oai, model):
    full = oai.chat.completions.create(
        model=model, max_tokens=6, messages=[{"role": "user", "content": "Hello"}]
    )
    stream = oai.chat.completions.create(
        model=model,
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Hello"}],
    )
    text, usage = "", None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
    assert text == full.choices[0].message.content
    assert usage is not None and usage.completion_tokens == 6


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_openai_tool_calls(oai, model):
    r = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
    )
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] == "sim"


def test_openai_embeddings_default_base64(oai):
    r = oai.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(r.data) == 2
    assert all(isinstance(x, float) for x in r.data[0].embedding)


def test_openai_completions(oai):
    r = oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once", max_tokens=4)
    assert r.choices[0].text


def test_openai_models(oai):
    ids = {m.id for m in oai.models.list()}
    assert set(CHAT_MODELS) <= ids
    assert oai.models.retrieve("grok-3").id == "grok-3"


def test_openai_errors_are_sdk_exceptions(oai):
    bad = openai.OpenAI(base_url=f"{URL}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x <<sim:status=429>>"}]
        )
    with pytest.raises(openai.InternalServerError):
        oai.chat.completions.create(
            model="claude-sonnet-4-20250514",
            messages=[{"role": "user", "content": "x <<sim:status=529>>"}],
        )
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="gpt-4o-mini", messages="not a list")


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_anthropic_messages(ant, model):
    m = ant.messages.create(
        model=model, max_tokens=5, messages=[{"role": "user", "content": "Hello"}]
    )
    assert m.content[0].type == "text" and m.content[0].text
    assert m.usage.output_tokens == 5
    assert m.stop_reason == "max_tokens"


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_anthropic_stream(ant, model):
    full = ant.messages.create(
        model=model, max_tokens=5, messages=[{"role": "user", "content": "Hello"}]
    )
    with ant.messages.stream(
        model=model, max_tokens=5, messages=[{"role": "user", "content": "Hello"}]
    ) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == full.content[0].text
    assert final.usage.output_tokens == 5


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_anthropic_tool_use(ant, model):
    m = ant.messages.create(
        model=model,
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[
            {
                "name": "get_weather",
                "description": "Weather",
                "input_schema": WEATHER_TOOL["function"]["parameters"],
            }
        ],
    )
    block = next(b for b in m.content if b.type == "tool_use")
    assert block.name == "get_weather" and block.input["city"] == "sim"
    assert m.stop_reason == "tool_use"


def test_anthropic_models(ant):
    ids = {m.id for m in ant.models.list()}
    assert "claude-sonnet-4-20250514" in ids


def test_anthropic_errors_are_sdk_exceptions(ant):
    bad = anthropic.Anthropic(base_url=URL, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(
            model="claude-sonnet-4-20250514", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.NotFoundError):
        ant.messages.create(model="claude-nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.RateLimitError):
        ant.messages.create(
            model="claude-sonnet-4-20250514",
            max_tokens=5,
            messages=[{"role": "user", "content": "x <<sim:status=429>>"}],
        )
    with pytest.raises(anthropic.APIStatusError) as e:
        ant.messages.create(
            model="claude-sonnet-4-20250514",
            max_tokens=5,
            messages=[{"role": "user", "content": "x <<sim:status=529>>"}],
        )
    assert e.value.status_code == 529
