"""Smoke test of the simulator's Gemini API and Vertex AI with the official Google Gen AI SDK.

Run: simulator/tests/sdk/run.sh   (starts the simulator with the test service account's key;
or by hand: python smoke_genai.py http://127.0.0.1:9000 against a simulator started with
--google-service-account EMAIL=fixtures/google/test-only-service-account.pub.pem).
Needs `pip install google-genai` (tests/sdk/requirements.txt); not part of `cargo test`.
"""
import json
import os
import sys
import urllib.request

from google import genai
from google.genai import errors, types
from google.oauth2 import credentials as oauth_credentials
from google.oauth2 import service_account

addr = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9000"
here = os.path.dirname(os.path.abspath(__file__))
key_file = os.path.join(here, "..", "..", "..", "fixtures", "google", "test-only-service-account.json")
HELLO = [{"role": "user", "parts": [{"text": "hello"}]}]


def fault(spec):
    return {"http_options": {"headers": {"x-sim-fault": spec}}}


def stats():
    with urllib.request.urlopen(f"{addr}/__sim/stats", timeout=5) as r:
        return json.load(r)


# --- Gemini API (the SDK's default version, v1, and v1beta) ---
for version in (None, "v1beta"):
    options = {"base_url": f"{addr}/gemini"}
    if version:
        options["api_version"] = version
    gm = genai.Client(api_key="AIzaSmokeTest", http_options=options)
    r = gm.models.generate_content(model="gemini-2.0-flash", contents="hello",
                                   config={"max_output_tokens": 5})
    assert r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS, r
    assert len(r.text.split()) == 5 and r.usage_metadata.candidates_token_count == 5, r
    assert r.usage_metadata.total_token_count == r.usage_metadata.prompt_token_count + 5

gm = genai.Client(api_key="AIzaSmokeTest", http_options={"base_url": f"{addr}/gemini"})
whole = gm.models.generate_content(model="gemini-2.5-flash", contents=HELLO)
chunks = list(gm.models.generate_content_stream(model="gemini-2.5-flash", contents=HELLO))
assert len(chunks) == 12 and "".join(c.text for c in chunks) == whole.text, chunks
assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
assert chunks[-1].usage_metadata.thoughts_token_count == whole.usage_metadata.thoughts_token_count == 8
assert chunks[-1].usage_metadata.total_token_count == whole.usage_metadata.total_token_count

weather = types.FunctionDeclaration(
    name="get_weather", description="Weather for a city",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]))
cfg = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[weather])],
                                  automatic_function_calling={"disable": True})
r = gm.models.generate_content(model="gemini-2.0-flash", contents="weather in Paris?", config=cfg)
assert r.function_calls[0].name == "get_weather" and r.function_calls[0].args == {"city": "sim"}, r
stream = list(gm.models.generate_content_stream(model="gemini-2.0-flash", contents="weather?", config=cfg))
assert stream[-1].function_calls[0].name == "get_weather"

n = gm.models.count_tokens(model="gemini-2.0-flash", contents="a b c")
assert n.total_tokens == 3 + 3, n
e = gm.models.embed_content(model="gemini-embedding-001", contents=["a b", "c"],
                            config={"output_dimensionality": 64})
assert len(e.embeddings) == 2 and len(e.embeddings[0].values) == 64
assert abs(sum(x * x for x in e.embeddings[0].values) - 1) < 1e-3
names = [m.name for m in gm.models.list(config={"page_size": 3})]  # the pager follows nextPageToken
assert len(names) == 8 and "models/gemini-2.5-pro" in names, names
assert gm.models.get(model="gemini-2.0-flash").name == "models/gemini-2.0-flash"

blocked = gm.models.generate_content(model="gemini-2.0-flash", contents="SIM_BLOCK_PROMPT")
assert blocked.prompt_feedback.block_reason == types.BlockedReason.SAFETY and not blocked.candidates
r = gm.models.generate_content(model="gemini-2.0-flash", contents="tell SIM_FINISH_SAFETY")
assert r.candidates[0].finish_reason == types.FinishReason.SAFETY

bad = genai.Client(api_key="not-a-key", http_options={"base_url": f"{addr}/gemini"})  # keep it alive
try:
    bad.models.generate_content(model="gemini-2.0-flash", contents="x")
    raise SystemExit("bad key accepted")
except errors.ClientError as err:
    assert err.code == 400 and err.status == "INVALID_ARGUMENT", err
    assert err.details["error"]["details"][0]["reason"] == "API_KEY_INVALID", err.details
try:
    gm.models.generate_content(model="gemini-2.0-flash", contents="x", config=fault("status=429, retry-after=7"))
    raise SystemExit("no 429")
except errors.ClientError as err:
    assert err.code == 429 and err.status == "RESOURCE_EXHAUSTED", err
    assert any(d.get("retryDelay") == "7s" for d in err.details["error"]["details"]), err.details
for code, word in ((500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED")):
    try:
        gm.models.generate_content(model="gemini-2.0-flash", contents="x", config=fault(f"status={code}"))
        raise SystemExit(f"no {code}")
    except errors.ServerError as err:
        assert err.code == code and err.status == word, err
try:
    gm.models.generate_content(model="chat-bison-001", contents="x")
    raise SystemExit("unknown model accepted")
except errors.ClientError as err:
    assert err.code == 404 and err.status == "NOT_FOUND", err
try:
    gm.models.generate_content(model="gemini-2.0-flash",
                               contents=[{"role": "assistant", "parts": [{"text": "x"}]}])
    raise SystemExit("bad role accepted")
except errors.ClientError as err:
    assert err.code == 400 and "valid role" in err.message, err
got = []
try:
    for c in gm.models.generate_content_stream(model="gemini-2.0-flash", contents="x", config=fault("error-event=3")):
        got.append(c.text)
    raise SystemExit("no stream error")
except errors.ServerError as err:
    assert err.code == 503 and len(got) == 3, (err, got)

# --- Vertex AI, with a service account whose token_uri is the simulator ---
before = stats()["tokens_issued"]
info = json.load(open(key_file))
info["token_uri"] = f"{addr}/google-oauth/token"
creds = service_account.Credentials.from_service_account_info(
    info, scopes=["https://www.googleapis.com/auth/cloud-platform"])
vx = genai.Client(vertexai=True, project=info["project_id"], location="us-central1", credentials=creds,
                  http_options={"base_url": f"{addr}/vertex"})
r = vx.models.generate_content(model="gemini-2.0-flash", contents="hello", config={"max_output_tokens": 4})
assert r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS and len(r.text.split()) == 4, r
chunks = list(vx.models.generate_content_stream(model="gemini-2.0-flash", contents=HELLO))
assert len(chunks) == 12 and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
assert stats()["tokens_issued"] == before + 1, "one token exchange, then the cached token"
assert vx.models.count_tokens(model="gemini-2.0-flash", contents="a b").total_tokens == 5
e = vx.models.embed_content(model="text-embedding-005", contents=["a", "b"])
assert len(e.embeddings) == 2 and len(e.embeddings[0].values) == 768
e = vx.models.embed_content(model="gemini-embedding-001", contents="a", config={"output_dimensionality": 8})
assert len(e.embeddings[0].values) == 8
forged = genai.Client(vertexai=True, project="p", location="us-central1",
                      credentials=oauth_credentials.Credentials(token="ya29.forged"),
                      http_options={"base_url": f"{addr}/vertex"})
try:
    forged.models.generate_content(model="gemini-2.0-flash", contents="x")
    raise SystemExit("forged token accepted")
except errors.ClientError as err:
    assert err.code == 401 and err.status == "UNAUTHENTICATED", err
try:
    vx.models.generate_content(model="gemini-2.0-flash", contents="x", config=fault("status=429"))
    raise SystemExit("no 429")
except errors.ClientError as err:
    assert err.code == 429 and err.status == "RESOURCE_EXHAUSTED", err
print("google-genai smoke: ok")
