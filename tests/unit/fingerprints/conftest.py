"""The fixture shared by the camscan.fingerprints tests."""

from __future__ import annotations

import pytest

from camscan.fingerprints import Vocabulary, default_dir, load_vocabulary


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_vocabulary(default_dir() / "vocabulary.yaml")
