"""The official OpenAI Python SDK, unchanged, on sluice's JSON-bodied media endpoints: image
generations (url, b64_json, streamed partial images), speech streamed to a file (mp3 and wav),
moderations, and media errors as the SDK's exception types.

Run through `tests/sdk/run.sh` (`tests/sdk/run.sh -k test_media` for these alone), which starts
the relay in its demo mode (embedded simulator) and sets SLUICE_URL and SLUICE_TOKEN.
"""

import base64
import os
import struct
import urllib.request
import zlib

import openai
import pytest

URL = os.environ.get("SLUICE_URL", "http://127.0.0.1:8080")
TOKEN = os.environ.get("SLUICE_TOKEN", "sk-sluice-demo")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def oai():
    return openai.OpenAI(base_url=f"{URL}/v1", api_key=TOKEN, max_retries=0, timeout=20)


def png_size(data):
    """Width and height of a PNG, decoded: every chunk's CRC checked, the image data inflated
    to exactly one filtered row per line (8-bit grey, RGB or RGBA)."""
    assert data.startswith(PNG_MAGIC)
    at, idat, ihdr = 8, b"", None
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        at += 12 + length
    width, height, depth, color = ihdr
    assert depth == 8 and color in (0, 2, 6), ihdr
    channels = {0: 1, 2: 3, 6: 4}[color]
    assert len(zlib.decompress(idat)) == height * (1 + width * channels)
    return width, height


def test_images_generate_url(oai):
    r = oai.images.generate(model="dall-e-3", prompt="a red fox in snow", size="1024x1024")
    assert len(r.data) == 1
    assert r.data[0].revised_prompt
    with urllib.request.urlopen(r.data[0].url, timeout=10) as f:
        assert min(png_size(f.read())) > 0


def test_images_generate_b64_json(oai):
    r = oai.images.generate(
        model="dall-e-2", prompt="a lighthouse", n=2, size="256x256", response_format="b64_json"
    )
    assert len(r.data) == 2
    for item in r.data:
        assert min(png_size(base64.b64decode(item.b64_json))) > 0


def test_images_generate_gpt_image_usage(oai):
    r = oai.images.generate(model="gpt-image-1", prompt="a quiet harbour", size="1024x1024")
    assert min(png_size(base64.b64decode(r.data[0].b64_json))) > 0
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens


def test_images_generate_stream_partial_images(oai):
    stream = oai.images.generate(
        model="gpt-image-1", prompt="a kite", size="1024x1024", stream=True, partial_images=2
    )
    events = list(stream)
    types = [e.type for e in events]
    assert types == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    done = events[-1]
    assert min(png_size(base64.b64decode(done.b64_json))) > 0
    assert done.usage.output_tokens > 0


@pytest.mark.parametrize("fmt", ["mp3", "wav"])
def test_speech_streamed_to_file(oai, tmp_path, fmt):
    path = tmp_path / f"speech.{fmt}"
    with oai.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="alloy",
        input="The relay passes audio through as it is spoken.",
        response_format=fmt,
    ) as response:
        assert response.headers["content-type"] == ("audio/mpeg" if fmt == "mp3" else "audio/wav")
        response.stream_to_file(path)
    data = path.read_bytes()
    if fmt == "wav":
        assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and data[12:16] == b"fmt "
        (riff,) = struct.unpack("<I", data[4:8])
        assert riff + 8 == len(data), "the whole file arrived"
        channels, rate = struct.unpack("<HI", data[22:28])
        assert channels == 1 and rate == 24000
    else:
        assert data[:3] == b"ID3" or data[0] == 0xFF, data[:4]
        assert len(data) > 1000


def test_moderations_create(oai):
    r = oai.moderations.create(model="omni-moderation-latest", input=["a kind word", "another"])
    assert len(r.results) == 2
    for result in r.results:
        assert isinstance(result.flagged, bool)
        assert isinstance(result.category_scores.violence, float)


def test_media_errors_are_sdk_exceptions(oai):
    with pytest.raises(openai.BadRequestError) as e:
        oai.images.generate(model="gpt-image-1", prompt="<<sim:moderation-blocked>> a picture")
    assert e.value.code == "moderation_blocked"
    with pytest.raises(openai.BadRequestError) as e:
        oai.images.generate(model="dall-e-3", prompt="<<sim:moderation-blocked>> a picture")
    assert e.value.code == "content_policy_violation"
    with pytest.raises(openai.NotFoundError):
        oai.images.generate(model="dall-e-nope", prompt="a picture")
    with pytest.raises(openai.NotFoundError):
        oai.audio.speech.create(model="tts-nope", voice="alloy", input="hi")
    with pytest.raises(openai.RateLimitError):
        oai.moderations.create(
            model="omni-moderation-latest", input="x <<sim:status=429, retry-after=0>>"
        )
    with pytest.raises(openai.InternalServerError):
        oai.audio.speech.create(
            model="tts-1", voice="alloy", input="x <<sim:status=503, retry-after=0>>"
        )
