"""docs/observations.md is generated from the probe registry (python -m camscan.probes.docs)."""

from __future__ import annotations

from camscan.probes import docs, registry


def test_committed_doc_is_the_generated_one() -> None:
    assert docs.DOC.read_text(encoding="utf-8") == docs.render(), (
        "docs/observations.md is out of date: run python -m camscan.probes.docs")
    assert docs.main(["--check"]) == 0


def test_doc_lists_every_key_and_probe() -> None:
    text = docs.render()
    for spec in registry.SPECS:
        assert f"| {spec.name} | {spec.transport} |" in text
        for key in spec.keys:
            assert f"| `{key.key}` |" in text
