"""The official OpenAI Python SDK, unchanged, on sluice's video API: a Sora channel and a Kling
channel behind the same `/v1/videos` routes (create, create_and_poll, retrieve, list,
download_content, remix, delete), and the errors the SDK raises for a stranger's id and for a
remix a provider does not offer.

Run through `tests/sdk/run.sh` (`tests/sdk/run.sh -k test_videos` for these alone), which starts
the relay in its demo mode (embedded simulator, a temporary SQLite store) and sets SLUICE_URL
and SLUICE_TOKEN.
"""

import os
import struct

import openai
import pytest

# The SDK marks its video methods deprecated (Sora's announced end); the API is what is tested.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

URL = os.environ.get("SLUICE_URL", "http://127.0.0.1:8080")
TOKEN = os.environ.get("SLUICE_TOKEN", "sk-sluice-demo")
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def oai():
    return openai.OpenAI(base_url=f"{URL}/v1", api_key=TOKEN, max_retries=0, timeout=30)


def mp4_boxes(data):
    """The top-level box types of an MP4, each box's size checked against the file."""
    at, kinds = 0, []
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        assert size >= 8 and at + size <= len(data), (at, size, len(data))
        kinds.append(data[at + 4 : at + 8].decode("latin-1"))
        at += size
    return kinds


@pytest.mark.parametrize("model", ["sora-2", "kling-v1"])
def test_create_and_poll_then_download(oai, model):
    video = oai.videos.create_and_poll(model=model, prompt="a paper boat on a river", seconds="4")
    assert video.status == "completed", video
    assert video.progress == 100
    assert video.id.startswith("video_")
    assert video.model == model
    again = oai.videos.retrieve(video.id)
    assert again.id == video.id and again.status == "completed"
    content = oai.videos.download_content(video.id)
    data = content.read()
    boxes = mp4_boxes(data)
    assert boxes[0] == "ftyp" and "moov" in boxes, boxes


def test_create_returns_a_queued_video_and_list_pages_it(oai):
    made = [oai.videos.create(model="sora-2", prompt=f"clip {i}") for i in range(3)]
    for v in made:
        assert v.status in ("queued", "in_progress"), v
        assert v.object == "video"
    page = oai.videos.list(limit=2)
    assert len(page.data) == 2 and page.has_more
    ids = [v.id for v in oai.videos.list(limit=100).data]
    for v in made:
        assert v.id in ids


def test_an_input_reference_file_is_uploaded(oai):
    v = oai.videos.create(
        model="sora-2",
        prompt="animate this",
        input_reference=("frame.png", PNG_1X1, "image/png"),
        size="1280x720",
    )
    done = oai.videos.poll(v.id)
    assert done.status == "completed"
    assert done.size == "1280x720"


def test_remix_on_sora_and_refused_on_kling(oai):
    source = oai.videos.create_and_poll(model="sora-2", prompt="a lighthouse at dusk")
    remix = oai.videos.remix(source.id, prompt="the same at dawn")
    assert remix.remixed_from_video_id == source.id
    assert oai.videos.poll(remix.id).status == "completed"
    kling = oai.videos.create_and_poll(model="kling-v1", prompt="a kite")
    with pytest.raises(openai.BadRequestError):
        oai.videos.remix(kling.id, prompt="a bigger kite")


def test_delete_and_unknown_ids(oai):
    v = oai.videos.create(model="kling-v1", prompt="to be deleted")
    deleted = oai.videos.delete(v.id)
    assert deleted.deleted and deleted.id == v.id
    with pytest.raises(openai.NotFoundError):
        oai.videos.retrieve(v.id)
    with pytest.raises(openai.NotFoundError):
        oai.videos.retrieve("video_doesnotexist")


def test_a_failed_task_says_why(oai):
    v = oai.videos.create_and_poll(model="sora-2", prompt="this one fails [sim:task-fail]")
    assert v.status == "failed"
    assert v.error is not None and v.error.message
