"""The official OpenAI Python SDK's multipart uploads through a running sluice: image edits
(files and a mask) and variations, transcriptions of a real WAV in every response format and
streamed, translations, and an upload over OpenAI's 25 MiB limit.

Run through `tests/sdk/run.sh`, which starts the relay in its demo mode (embedded simulator)
and sets SLUICE_URL and SLUICE_TOKEN.
"""

import io
import os
import struct
import wave
import zlib

import openai
import pytest

URL = os.environ.get("SLUICE_URL", "http://127.0.0.1:8080")
TOKEN = os.environ.get("SLUICE_TOKEN", "sk-sluice-demo")
# OpenAI's audio upload limit, in bytes.
AUDIO_LIMIT = 26_214_400


@pytest.fixture(scope="module")
def oai():
    return openai.OpenAI(base_url=f"{URL}/v1", api_key=TOKEN, max_retries=0, timeout=60)


def wav_bytes(seconds: float, rate: int = 16_000) -> bytes:
    """`seconds` of a quiet 440 Hz tone, 16-bit mono, as a real WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = int(seconds * rate)
        tone = b"".join(struct.pack("<h", (i * 7) % 200 - 100) for i in range(rate // 10))
        w.writeframes((tone * (frames // (rate // 10) + 1))[: frames * 2])
    return buf.getvalue()


def png_bytes(w: int, h: int) -> bytes:
    """A real RGBA PNG of `w`x`h` (all transparent)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + b"\x00" * (4 * w) for _ in range(h))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_images_edit_with_files_and_a_mask(oai):
    image = png_bytes(64, 64)
    r = oai.images.edit(
        model="gpt-image-1",
        image=[("a.png", image, "image/png"), ("b.png", image, "image/png")],
        mask=("mask.png", png_bytes(64, 64), "image/png"),
        prompt="a lighthouse at dusk",
    )
    assert len(r.data) == 1
    assert r.data[0].b64_json
    assert r.usage.input_tokens > 0


def test_images_create_variation(oai):
    r = oai.images.create_variation(
        model="dall-e-2", image=("a.png", png_bytes(256, 256), "image/png"), n=2, size="256x256"
    )
    assert len(r.data) == 2


@pytest.mark.parametrize("fmt", ["json", "text", "srt", "vtt", "verbose_json"])
def test_audio_transcriptions_in_every_format(oai, fmt):
    r = oai.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", wav_bytes(3.0), "audio/wav"), response_format=fmt
    )
    if fmt == "json":
        assert r.text
    elif fmt == "verbose_json":
        assert r.duration == pytest.approx(3.0, abs=0.01)
        assert r.text
    elif fmt == "vtt":
        assert r.startswith("WEBVTT")
    elif fmt == "srt":
        assert r.startswith("1\n")
    else:
        assert isinstance(r, str) and r


def test_audio_transcriptions_stream(oai):
    stream = oai.audio.transcriptions.create(
        model="gpt-4o-transcribe",
        file=("speech.wav", wav_bytes(2.0), "audio/wav"),
        stream=True,
    )
    kinds = [e.type for e in stream]
    assert "transcript.text.delta" in kinds
    assert kinds[-1] == "transcript.text.done"


def test_audio_translations(oai):
    r = oai.audio.translations.create(
        model="whisper-1", file=("speech.wav", wav_bytes(2.0), "audio/wav")
    )
    assert r.text


def test_an_upload_over_the_limit_is_a_413(oai):
    too_long = wav_bytes(AUDIO_LIMIT / 32_000 + 1)
    assert len(too_long) > AUDIO_LIMIT
    with pytest.raises(openai.APIStatusError) as e:
        oai.audio.transcriptions.create(
            model="whisper-1", file=("long.wav", too_long, "audio/wav")
        )
    assert e.value.status_code == 413
    assert e.value.body["type"] == "server_error"
    assert e.value.body["message"].startswith(f"Maximum content size limit ({AUDIO_LIMIT}) exceeded (")
