"""The official OpenAI, Anthropic and Google Gen AI Python SDKs, unchanged, against a running sluice.

Run through `tests/sdk/run.sh`, which starts the relay in its demo mode (embedded simulator)
and sets SLUICE_URL and SLUICE_TOKEN.
"""

import json
import os

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

URL = os.environ.get("SLUICE_URL", "http://127.0.0.1:8080")
TOKEN = os.environ.get("SLUICE_TOKEN", "sk-sluice-demo")
CHAT_MODELS = ["gpt-4o-mini", "claude-sonnet-4-20250514", "grok-3"]
# Served by the demo's Gemini channel: natively to Google's SDK, through the bridges to the others.
GEMINI_MODEL = "gemini-2.5-flash"
GEMINI_EMBEDDING = "gemini-embedding-001"
VERTEX_MODEL = "gemini-2.0-flash-vertex"
# A Gemini model that does not think, so usage counts are the answer's alone.
BRIDGED = "gemini-2.0-flash"
# Every chat test also runs on the Gemini-served model (through the bridges).
SDK_CHAT_MODELS = CHAT_MODELS + [BRIDGED]
# Google's SDK on OpenAI- and Anthropic-served models (through the Gemini-client bridges).
GOOGLE_ON_OTHERS = ["gpt-4o-mini", "claude-sonnet-4-20250514", "grok-3"]
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


@pytest.mark.parametrize("model", SDK_CHAT_MODELS)
def test_openai_chat(oai, model):
    r = oai.chat.completions.create(
        model=model, max_tokens=6, messages=[{"role": "user", "content": "Hello"}]
    )
    assert r.choices[0].message.content
    assert r.usage.completion_tokens == 6
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


@pytest.mark.parametrize("model", SDK_CHAT_MODELS)
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


@pytest.mark.parametrize("model", SDK_CHAT_MODELS)
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


@pytest.mark.parametrize("model", SDK_CHAT_MODELS)
def test_anthropic_messages(ant, model):
    m = ant.messages.create(
        model=model, max_tokens=5, messages=[{"role": "user", "content": "Hello"}]
    )
    assert m.content[0].type == "text" and m.content[0].text
    assert m.usage.output_tokens == 5
    assert m.stop_reason == "max_tokens"


@pytest.mark.parametrize("model", SDK_CHAT_MODELS)
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


@pytest.mark.parametrize("model", SDK_CHAT_MODELS)
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


# --- Google Gen AI SDK (google-genai), on the native Gemini routes ------------------------

GEMINI_VERSIONS = ["v1beta", "v1"]
NO_THINKING = genai_types.ThinkingConfig(thinking_budget=0)


_GOOGLE = {}


def google(api_version, key=TOKEN):
    # Kept: a Client closes its HTTP client when it is collected, even with a call in flight.
    if (api_version, key) not in _GOOGLE:
        _GOOGLE[(api_version, key)] = new_google(api_version, key)
    return _GOOGLE[(api_version, key)]


def new_google(api_version, key):
    return genai.Client(
        api_key=key,
        http_options=genai_types.HttpOptions(
            base_url=URL,
            api_version=api_version,
            timeout=20_000,
            retry_options=genai_types.HttpRetryOptions(attempts=1),
        ),
    )


def short(**kw):
    return genai_types.GenerateContentConfig(max_output_tokens=6, thinking_config=NO_THINKING, **kw)


@pytest.mark.parametrize("version", GEMINI_VERSIONS)
def test_google_generate_content(version):
    r = google(version).models.generate_content(model=GEMINI_MODEL, contents="Hello", config=short())
    assert r.text
    assert r.usage_metadata.candidates_token_count == 6
    assert r.candidates[0].finish_reason == genai_types.FinishReason.MAX_TOKENS


@pytest.mark.parametrize("version", GEMINI_VERSIONS)
def test_google_generate_content_stream(version):
    client = google(version)
    full = client.models.generate_content(model=GEMINI_MODEL, contents="Hello", config=short())
    chunks = list(
        client.models.generate_content_stream(model=GEMINI_MODEL, contents="Hello", config=short())
    )
    assert len(chunks) > 1
    assert "".join(c.text or "" for c in chunks) == full.text
    assert chunks[-1].usage_metadata.candidates_token_count == 6


@pytest.mark.parametrize("version", GEMINI_VERSIONS)
def test_google_on_vertex(version):
    # The demo's Vertex AI channel (an exchanged OAuth token upstream), the same native routes.
    client = google(version)
    full = client.models.generate_content(model=VERTEX_MODEL, contents="Hello", config=short())
    assert full.text and full.usage_metadata.candidates_token_count == 6
    chunks = list(
        client.models.generate_content_stream(model=VERTEX_MODEL, contents="Hello", config=short())
    )
    assert "".join(c.text or "" for c in chunks) == full.text
    assert client.models.count_tokens(model=VERTEX_MODEL, contents="a b c").total_tokens > 0


@pytest.mark.parametrize("version", GEMINI_VERSIONS)
def test_google_function_calling(version):
    weather = genai_types.FunctionDeclaration(
        name="get_weather",
        description="Weather for a city",
        parameters_json_schema=WEATHER_TOOL["function"]["parameters"],
    )
    r = google(version).models.generate_content(
        model=GEMINI_MODEL,
        contents="Weather in Paris?",
        config=genai_types.GenerateContentConfig(
            tools=[genai_types.Tool(function_declarations=[weather])],
            thinking_config=NO_THINKING,
        ),
    )
    call = r.function_calls[0]
    assert call.name == "get_weather"
    assert call.args["city"]


@pytest.mark.parametrize("version", GEMINI_VERSIONS)
def test_google_count_tokens(version):
    r = google(version).models.count_tokens(model=GEMINI_MODEL, contents="one two three")
    assert r.total_tokens > 0


@pytest.mark.parametrize("version", GEMINI_VERSIONS)
def test_google_embed_content(version):
    r = google(version).models.embed_content(
        model=GEMINI_EMBEDDING,
        contents=["a", "b"],
        config=genai_types.EmbedContentConfig(output_dimensionality=8),
    )
    assert len(r.embeddings) == 2
    assert len(r.embeddings[0].values) == 8


@pytest.mark.parametrize("version", GEMINI_VERSIONS)
def test_google_models(version):
    client = google(version)
    names = {m.name for m in client.models.list()}
    assert f"models/{GEMINI_MODEL}" in names
    assert client.models.get(model=GEMINI_MODEL).name == f"models/{GEMINI_MODEL}"


def test_google_errors_are_sdk_exceptions():
    client = google("v1beta")
    with pytest.raises(genai_errors.ClientError) as e:
        google("v1beta", key="sk-wrong").models.generate_content(
            model=GEMINI_MODEL, contents="x", config=short()
        )
    assert e.value.code == 401
    with pytest.raises(genai_errors.ClientError) as e:
        client.models.generate_content(model="gemini-nope", contents="x", config=short())
    assert e.value.code == 404
    with pytest.raises(genai_errors.ClientError) as e:
        client.models.generate_content(
            model=GEMINI_MODEL, contents="x <<sim:status=429>>", config=short()
        )
    assert e.value.code == 429 and e.value.status == "RESOURCE_EXHAUSTED"
    with pytest.raises(genai_errors.ServerError) as e:
        client.models.generate_content(
            model=GEMINI_MODEL, contents="x <<sim:status=503>>", config=short()
        )
    assert e.value.code == 503
    with pytest.raises(genai_errors.APIError):
        list(
            client.models.generate_content_stream(
                model=GEMINI_MODEL, contents="x <<sim:error-event=1>>", config=short()
            )
        )


@pytest.mark.parametrize("model", GOOGLE_ON_OTHERS)
def test_google_on_other_providers(model):
    client = google("v1beta")
    full = client.models.generate_content(model=model, contents="Hello", config=short())
    assert full.text and full.usage_metadata.candidates_token_count == 6
    chunks = list(client.models.generate_content_stream(model=model, contents="Hello", config=short()))
    assert "".join(c.text or "" for c in chunks) == full.text
    weather = genai_types.FunctionDeclaration(
        name="get_weather",
        description="Weather for a city",
        parameters_json_schema=WEATHER_TOOL["function"]["parameters"],
    )
    r = client.models.generate_content(
        model=model,
        contents="Weather in Paris?",
        config=genai_types.GenerateContentConfig(
            tools=[genai_types.Tool(function_declarations=[weather])]
        ),
    )
    assert r.function_calls[0].name == "get_weather"
    assert r.function_calls[0].args["city"] == "sim"


def test_google_embed_content_on_openai():
    r = google("v1beta").models.embed_content(model="text-embedding-3-small", contents=["a", "b"])
    assert len(r.embeddings) == 2 and r.embeddings[0].values


# --- OpenAI and Anthropic SDKs on the Gemini-served model -------


def test_openai_embeddings_on_gemini(oai):
    r = oai.embeddings.create(model=GEMINI_EMBEDDING, input=["a", "b"])
    assert len(r.data) == 2
    assert all(isinstance(x, float) for x in r.data[0].embedding)
