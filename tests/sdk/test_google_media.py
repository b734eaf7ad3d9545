"""The official OpenAI Python SDK, unchanged, on Google's media through a running sluice:
images from a Gemini image model and from Imagen on Vertex AI, speech from a Gemini TTS model.

Run through `tests/sdk/run.sh` (which starts the relay in its demo mode and sets SLUICE_URL and
SLUICE_TOKEN), e.g. `tests/sdk/run.sh tests/sdk/test_google_media.py`.
"""

import base64
import io
import os
import struct
import wave

import openai
import pytest

URL = os.environ.get("SLUICE_URL", "http://127.0.0.1:8080")
TOKEN = os.environ.get("SLUICE_TOKEN", "sk-sluice-demo")
# Served by the demo's Gemini channel (generateContent) and Vertex AI channel (:predict).
IMAGE_MODEL = "gemini-2.5-flash-image"
TTS_MODEL = "gemini-2.5-flash-preview-tts"
IMAGEN = "imagen-4.0-generate-001"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def oai():
    return openai.OpenAI(base_url=f"{URL}/v1", api_key=TOKEN, max_retries=0, timeout=20)


def png_size(data):
    assert data.startswith(PNG_MAGIC)
    return struct.unpack(">II", data[16:24])


def test_images_generate_on_a_gemini_image_model(oai):
    r = oai.images.generate(model=IMAGE_MODEL, prompt="a red fox in snow", size="1024x1024")
    assert len(r.data) == 1
    width, height = png_size(base64.b64decode(r.data[0].b64_json))
    assert width == height
    assert r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens


def test_images_generate_on_imagen(oai):
    r = oai.images.generate(model=IMAGEN, prompt="a lighthouse", n=2, size="1792x1024")
    assert len(r.data) == 2
    for d in r.data:
        width, height = png_size(base64.b64decode(d.b64_json))
        assert width > height


def test_speech_as_wav_on_a_gemini_tts_model(oai):
    r = oai.audio.speech.create(
        model=TTS_MODEL, voice="alloy", input="Hello from the relay.", response_format="wav"
    )
    assert r.response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(r.content)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        frames = w.readframes(w.getnframes())
    pcm = oai.audio.speech.create(
        model=TTS_MODEL, voice="alloy", input="Hello from the relay.", response_format="pcm"
    )
    assert frames == pcm.content


def test_what_google_cannot_give_is_a_bad_request(oai):
    with pytest.raises(openai.BadRequestError) as e:
        oai.audio.speech.create(model=TTS_MODEL, voice="alloy", input="hi", response_format="mp3")
    assert "mp3 is not available" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        oai.images.generate(model=IMAGE_MODEL, prompt="a fox", n=2)
    assert "n > 1 is not available" in e.value.message
