"""pytest setup for the SDK suite: the `needs_bridges` marker.

Tests marked `needs_bridges` call Gemini-served models through the OpenAI and Anthropic SDKs,
which the OpenAI/Anthropic -> Gemini bridges serve; they are skipped unless
SLUICE_SDK_BRIDGES=1 (the lead turns this on when the bridges are merged).
"""

import os

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_bridges: needs the OpenAI/Anthropic -> Gemini bridges"
    )


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SLUICE_SDK_BRIDGES") == "1":
        return
    skip = pytest.mark.skip(reason="needs the Gemini bridges: set SLUICE_SDK_BRIDGES=1")
    for item in items:
        if "needs_bridges" in item.keywords:
            item.add_marker(skip)
