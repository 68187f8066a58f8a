"""bench/accuracy.py: corpus loading, the false-banned check, recall and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.accuracy import (
    CorpusError,
    Line,
    accepted_makers,
    load_corpus,
    main,
    render,
    run,
)
from camscan.fingerprints import shipped_database

VOCAB = shipped_database().vocabulary
SRC = "https://github.com/rapid7/recog/blob/main/xml/http_servers.xml"


def line(key: str, value: str, maker: str, video: bool) -> Line:
    return Line(key=key, value=value, maker=maker, video=video, source=SRC, where="t:1")


def write(tmp_path: Path, *rows: dict[str, object]) -> Path:
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_www_authenticate_gives_its_realm_and_set_cookie_its_name() -> None:
    obs = line("http.www_authenticate", 'Basic realm="DVR"', "none", True).observations()
    assert [(o.key, o.value) for o in obs] == [("http.www_authenticate", 'Basic realm="DVR"'),
                                               ("http.realm", "DVR")]
    obs = line("http.set_cookie", "DhWebClientSessionID=1; path=/", "Dahua", True).observations()
    assert [(o.key, o.value) for o in obs] == [("http.cookie", "DhWebClientSessionID")]


def test_also_adds_what_the_same_device_showed(tmp_path: Path) -> None:
    (ln,) = load_corpus([write(tmp_path, {
        "key": "http.favicon.mmh3", "value": "-1", "maker": "Hikvision", "video": True,
        "also": [["http.header.server", "DNVRS-Webs"], ["http.www_authenticate",
                                                        'Basic realm="NVR"']],
        "source": SRC})])
    assert [(o.key, o.value) for o in ln.observations()] == [
        ("http.favicon.mmh3", "-1"), ("http.header.server", "DNVRS-Webs"),
        ("http.www_authenticate", 'Basic realm="NVR"'), ("http.realm", "NVR")]
    assert run([ln]).results[0].named_right


def test_accepted_makers_follow_affiliates_and_oem_labels() -> None:
    assert {"Hikvision", "Hikmicro", "Hikrobot"} <= accepted_makers("Hikvision", VOCAB)
    assert "Dahua" in accepted_makers("Lorex", VOCAB)
    assert "Hikvision" in accepted_makers("EZVIZ", VOCAB)
    assert accepted_makers("none", VOCAB) == frozenset()
    assert "Hikvision" not in accepted_makers("Axis", VOCAB)


def test_a_covered_maker_named_on_another_makers_banner_is_false_banned() -> None:
    report = run([line("http.header.server", "DNVRS-Webs", "Axis", True),
                  line("http.header.server", "DNVRS-Webs", "Hikvision", True),
                  line("http.header.server", "DNVRS-Webs", "LTS", True)])
    wrong, right, oem = report.results
    assert wrong.false_banned and any("named Hikvision" in p for p in wrong.false_banned)
    assert right.false_banned == () and right.named_right
    assert oem.false_banned == ()
    assert "false-banned: 1" in render(report)


def test_recall_counts_the_maker_named_right() -> None:
    report = run([line("http.header.server", "DNVRS-Webs", "Hikvision", True),
                  line("http.header.server", "Netwave IP Camera", "Netwave", True),
                  line("http.header.server", "camera", "none", True),
                  line("http.header.server", "HP-ChaiServer/2.2", "HP", False)])
    assert report.recall() == {"Hikvision": (1, 1), "Netwave": (0, 1)}
    assert [r.line.value for r in report.generic] == ["camera"]
    assert report.generic[0].netted
    assert report.non_video_netted == [] and report.false_banned == []
    text = render(report)
    assert "maker-less video lines given review under every policy: 1/1" in text
    assert "rules fired:" in text


def test_unnamed_video_line_kept_is_reported() -> None:
    # a made-up server header no rule knows, said to be a camera: the net missed it
    report = run([line("http.header.server", "zz-made-up-httpd/0.1", "Acme", True)])
    assert report.video_kept_unnamed == report.results
    assert "video lines kept with no maker named: 1" in render(report)


@pytest.mark.parametrize(("row", "message"), [
    ({"key": "http.title", "value": "x", "maker": "none", "source": SRC}, "expected key"),
    ({"key": "http.title", "value": "", "maker": "none", "video": True, "source": SRC},
     "non-empty"),
    ({"key": "http.title", "value": "x", "maker": "none", "video": "yes", "source": SRC},
     "true or false"),
    ({"key": "http.set_cookie", "value": "a[b]=1", "maker": "none", "video": False,
      "source": SRC}, "no observation"),
    ({"key": "http.title", "value": "x", "also": [["http.title"]], "maker": "none",
      "video": False, "source": SRC}, "also is a list"),
])
def test_malformed_lines_are_refused_with_the_line(tmp_path: Path, row: dict[str, object],
                                                   message: str) -> None:
    with pytest.raises(CorpusError, match=message) as err:
        load_corpus([write(tmp_path, row)])
    assert "c.jsonl:1" in str(err.value)


def test_main_prints_the_table_and_exits_1_on_a_false_ban(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, {"key": "http.header.server", "value": "DNVRS-Webs",
                            "maker": "Hikvision", "video": True, "source": SRC})
    assert main([str(good)]) == 0
    assert "Hikvision" in capsys.readouterr().out
    bad = write(tmp_path, {"key": "http.header.server", "value": "DNVRS-Webs",
                           "maker": "Axis", "video": True, "source": SRC})
    assert main([str(bad)]) == 1
    (tmp_path / "x.jsonl").write_text("{", encoding="utf-8")
    assert main([str(tmp_path / "x.jsonl")]) == 2
    assert "not JSON" in capsys.readouterr().err
