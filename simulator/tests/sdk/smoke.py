"""Smoke test of the simulator with the official OpenAI and Anthropic Python SDKs.

Run: simulator/tests/sdk/run.sh (with smoke_genai.py), or by hand:
sluice-sim --listen 127.0.0.1:9000 &  python smoke.py http://127.0.0.1:9000
(needs `pip install openai anthropic`; not part of `cargo test`).
"""
import json
import sys

import anthropic
import openai

addr = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9000"

oa = openai.OpenAI(base_url=f"{addr}/openai/v1", api_key="sk-test", max_retries=0)
r = oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 5, r
chunks = list(oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                          stream=True, stream_options={"include_usage": True}))
assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + 12
tools = [{"type": "function", "function": {"name": "w", "parameters": {"type": "object",
          "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
r = oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], tools=tools)
assert json.loads(r.choices[0].message.tool_calls[0].function.arguments) == {"city": "sim"}
e = oa.embeddings.create(model="text-embedding-3-small", input=["a b", "c"])  # base64 by default
assert len(e.data) == 2 and len(e.data[0].embedding) == 1536, len(e.data[0].embedding)
assert abs(sum(x * x for x in e.data[0].embedding) - 1) < 1e-3
c = oa.completions.create(model="davinci-002", prompt="x", max_tokens=3)
assert c.choices[0].finish_reason == "length"
assert any(m.id == "gpt-4o" for m in oa.models.list())
assert oa.models.retrieve("gpt-4o").id == "gpt-4o"
try:
    openai.OpenAI(base_url=f"{addr}/openai/v1", api_key="bad", max_retries=0).models.list()
    raise SystemExit("bad key accepted")
except openai.AuthenticationError:
    pass
try:
    oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}],
                               extra_headers={"x-sim-fault": "status=429, retry-after=0"})
    raise SystemExit("no 429")
except openai.RateLimitError:
    pass
try:
    list(oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True,
                                    extra_headers={"x-sim-fault": "error-event"}))
    raise SystemExit("no stream error")
except openai.APIError:
    pass

xa = openai.OpenAI(base_url=f"{addr}/xai/v1", api_key="xai-test", max_retries=0)
r = xa.chat.completions.create(model="grok-3-mini", messages=[{"role": "user", "content": "hi"}])
assert r.choices[0].message.model_extra.get("reasoning_content"), r

an = anthropic.Anthropic(base_url=f"{addr}/anthropic", api_key="sk-ant-test", max_retries=0)
m = an.messages.create(model="claude-sonnet-4-20250514", max_tokens=7, messages=[{"role": "user", "content": "hi"}])
assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 7, m
with an.messages.stream(model="claude-sonnet-4-20250514", max_tokens=9,
                        messages=[{"role": "user", "content": "hi"}]) as s:
    text = "".join(s.text_stream)
    final = s.get_final_message()
assert len(text.split()) == 9 and final.usage.output_tokens == 9
m = an.messages.create(model="claude-3-5-haiku-20241022", max_tokens=50, messages=[{"role": "user", "content": "hi"}],
                       tools=[{"name": "w", "input_schema": {"type": "object", "properties": {"n": {"type": "number"}},
                                                             "required": ["n"]}}])
assert m.stop_reason == "tool_use" and m.content[0].input == {"n": 1}
with an.messages.stream(model="claude-3-5-haiku-20241022", max_tokens=50, messages=[{"role": "user", "content": "hi"}],
                        tools=[{"name": "w", "input_schema": {"type": "object"}}]) as s:
    final = s.get_final_message()
assert final.content[0].type == "tool_use"
assert an.messages.count_tokens(model="claude-sonnet-4-20250514", messages=[{"role": "user", "content": "a b"}]).input_tokens == 5
assert len(an.models.list().data) >= 1
try:
    an.messages.create(model="claude-sonnet-4-20250514", max_tokens=5, messages=[{"role": "user", "content": "x"}],
                       extra_headers={"x-sim-fault": "status=529"})
    raise SystemExit("no 529")
except anthropic.InternalServerError as err:
    assert err.status_code == 529 and err.body["error"]["type"] == "overloaded_error"
try:
    with an.messages.stream(model="claude-sonnet-4-20250514", max_tokens=5, messages=[{"role": "user", "content": "x"}],
                            extra_headers={"x-sim-fault": "error-event"}) as s:
        s.get_final_message()
    raise SystemExit("no stream error")
except anthropic.APIStatusError as err:
    assert "overloaded" in str(err).lower(), err
print("sdk smoke: ok")
