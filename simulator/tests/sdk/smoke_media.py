"""Smoke test of the simulator's media endpoints with the official OpenAI Python SDK.

By hand (not part of CI or run.sh): sluice-sim --listen 127.0.0.1:9000 &
python smoke_media.py http://127.0.0.1:9000 DIR   (needs `pip install openai`; DIR for files).
"""
import base64
import io
import struct
import sys
import wave
import zlib

import openai

addr = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9000"
work = sys.argv[2] if len(sys.argv) > 2 else "/tmp"
oa = openai.OpenAI(base_url=f"{addr}/openai/v1", api_key="sk-test", max_retries=0)


def png(w, h):
    raw = b"".join(b"\x00" + b"\x80\x80\x80\xff" * w for _ in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def is_png(b):
    return b.startswith(b"\x89PNG\r\n\x1a\n")


def wav(secs):
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(b"\x00\x01" * int(16000 * secs))
    return buf.getvalue()


# images.generate: url (then fetch it) and b64_json, and a GPT image stream.
r = oa.images.generate(model="dall-e-2", prompt="a fox", n=2)
assert len(r.data) == 2 and r.data[0].url.startswith("http"), r
import urllib.request
assert is_png(urllib.request.urlopen(r.data[0].url).read())
r = oa.images.generate(model="dall-e-3", prompt="a fox", response_format="b64_json")
assert is_png(base64.b64decode(r.data[0].b64_json)) and r.data[0].revised_prompt
r = oa.images.generate(model="gpt-image-1", prompt="a fox", quality="low")
assert is_png(base64.b64decode(r.data[0].b64_json)) and r.usage.output_tokens == 272, r.usage
events = list(oa.images.generate(model="gpt-image-1", prompt="a fox", stream=True, partial_images=2))
assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"], events
assert events[-1].usage.total_tokens > 0

# images.edit with files (several, as image[]) and a mask; create_variation.
img = png(8, 8)
r = oa.images.edit(model="gpt-image-1", image=[("a.png", img, "image/png"), ("b.png", img, "image/png")],
                   mask=("m.png", img, "image/png"), prompt="add a hat")
assert is_png(base64.b64decode(r.data[0].b64_json)) and r.usage.input_tokens_details.image_tokens == 170
r = oa.images.edit(model="dall-e-2", image=img, prompt="add a hat")
assert r.data[0].url
events = list(oa.images.edit(model="gpt-image-1", image=img, prompt="hat", stream=True, partial_images=1))
assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"], events
r = oa.images.create_variation(image=("a.png", png(16, 16)), n=2, response_format="b64_json")
assert len(r.data) == 2

# audio.speech, streamed to a file, in every format; sse.
for fmt in ["mp3", "opus", "aac", "flac", "wav", "pcm"]:
    path = f"{work}/speech.{fmt}"
    with oa.audio.speech.with_streaming_response.create(model="gpt-4o-mini-tts", voice="alloy",
                                                        input="Hello from the simulator.",
                                                        response_format=fmt) as resp:
        resp.stream_to_file(path)
    data = open(path, "rb").read()
    assert len(data) > 40, (fmt, len(data))
with wave.open(f"{work}/speech.wav") as w:
    assert w.getframerate() == 24000 and w.getnframes() == 24 * 1500, w.getnframes()
r = oa.audio.speech.create(model="tts-1", voice="nova", input="hi")
assert r.content[:2] == b"\xff\xfb"

# transcriptions with a real WAV in each format, and stream; translations.
clip = ("speech.wav", wav(4.0), "audio/wav")
t = oa.audio.transcriptions.create(model="whisper-1", file=clip)
assert len(t.text.split()) == 10 and t.usage.seconds == 4, t
v = oa.audio.transcriptions.create(model="whisper-1", file=clip, response_format="verbose_json",
                                   timestamp_granularities=["word", "segment"])
assert v.duration == 4.0 and len(v.words) == 10 and len(v.segments) == 2, v
for fmt in ["text", "srt", "vtt"]:
    s = oa.audio.transcriptions.create(model="whisper-1", file=clip, response_format=fmt)
    assert isinstance(s, str) and s, (fmt, s)
stream = oa.audio.transcriptions.create(model="gpt-4o-transcribe", file=clip, stream=True)
events = list(stream)
assert events[-1].type == "transcript.text.done" and events[-1].text == t.text, events[-1]
tr = oa.audio.translations.create(model="whisper-1", file=clip)
assert tr.text == t.text

# moderations.
m = oa.moderations.create(input=["a calm day", "I will kill it"])
assert [x.flagged for x in m.results] == [False, True]

# media errors as the SDK's exception types.
try:
    oa.images.generate(model="gpt-image-1", prompt="x", response_format="url")
    raise SystemExit("response_format accepted")
except openai.BadRequestError as e:
    assert e.param == "response_format", e
try:
    oa.images.generate(model="gpt-image-1", prompt="x", extra_headers={"x-sim-fault": "moderation-blocked"})
    raise SystemExit("not blocked")
except openai.BadRequestError as e:
    assert e.code == "moderation_blocked", e
try:
    oa.audio.transcriptions.create(model="whisper-1", file=("notes.txt", b"hi", "text/plain"))
    raise SystemExit("bad format accepted")
except openai.BadRequestError as e:
    assert "Invalid file format" in e.message
try:
    oa.audio.transcriptions.create(model="whisper-1", file=clip, extra_headers={"x-sim-fault": "status=429, retry-after=0"})
    raise SystemExit("no 429")
except openai.RateLimitError:
    pass
try:
    oa.audio.transcriptions.create(model="whisper-1", file=("big.wav", b"\0" * 26_214_401, "audio/wav"))
    raise SystemExit("no 413")
except openai.APIStatusError as e:
    assert e.status_code == 413 and "Maximum content size limit (26214400)" in e.message, e
print("media smoke ok")
