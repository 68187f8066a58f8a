"""The TOML config: strict validation with one-line errors naming the key, XDG defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from camscan.config import (
    ConfigError,
    default_config_path,
    default_db_path,
    load_config,
    parse_config,
)

GOOD = """
db = "inventory.db"
gone_after = 3
log_file = "~/camscan.jsonl"
policy = "ndaa-889"
rate = 200
credentials = "/etc/camscan/credentials.toml"

[sites.hq]
targets = ["10.1.0.0/24", "10.1.5.10-40"]
excludes = ["10.1.0.1"]
rate = 50.5

[sites.branch-2]
targets = "10.2.0.0/24"
policy = "canada-2025"
credentials = "branch.toml"
"""


def test_good_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = parse_config(GOOD, tmp_path / "etc" / "config.toml")
    assert cfg.db == tmp_path / "etc" / "inventory.db", "relative to the config file"
    assert cfg.log_file == tmp_path / "home" / "camscan.jsonl", "~ expanded"
    assert cfg.gone_after == 3 and cfg.rate == 200.0 and cfg.policy == "ndaa-889"
    assert list(cfg.sites) == ["hq", "branch-2"], "file order kept"
    hq, br = cfg.site("hq"), cfg.site("branch-2")
    assert hq.targets == ("10.1.0.0/24", "10.1.5.10-40") and hq.excludes == ("10.1.0.1",)
    assert cfg.rate_for(hq) == 50.5 and cfg.rate_for(br) == 200.0
    assert cfg.policy_for(hq) == "ndaa-889" and cfg.policy_for(br) == "canada-2025"
    assert br.targets == ("10.2.0.0/24",), "a single string is one target"
    assert cfg.credentials_for(hq) == Path("/etc/camscan/credentials.toml")
    assert cfg.credentials_for(br) == tmp_path / "etc" / "branch.toml"
    assert [s.name for s in cfg.selected(None)] == ["hq", "branch-2"]
    assert [s.name for s in cfg.selected("hq")] == ["hq"]
    with pytest.raises(ConfigError, match=r"no site named 'x' \(sites: branch-2, hq\)"):
        cfg.selected("x")


def test_empty_config_is_valid(tmp_path: Path) -> None:
    cfg = parse_config("", tmp_path / "c.toml")
    assert cfg.sites == {} and cfg.db is None and cfg.gone_after is None


@pytest.mark.parametrize("text, message", [
    ("dbb = 'x'", r"dbb: unknown key \(allowed here: db, gone_after"),
    ("[sites.hq]\ntargets = ['10.0.0.1']\nrte = 5", r"sites\.hq\.rte: unknown key"),
    ("gone_after = '2'", "gone_after: expected an integer, got string"),
    ("gone_after = 2.5", "gone_after: expected an integer, got number"),
    ("gone_after = true", "gone_after: expected an integer, got boolean"),
    ("gone_after = 0", r"gone_after: 0 is out of range \(1 to 1000\)"),
    ("rate = 'fast'", "rate: expected a number, got string"),
    ("db = 5", "db: expected a string, got integer"),
    ("db = ''", "db: must not be empty"),
    ("sites = 3", "sites: expected a table of sites, got integer"),
    ("[sites.hq]\nexcludes = ['10.0.0.1']", r"sites\.hq\.targets: required"),
    ("[sites.hq]\ntargets = []", r"sites\.hq\.targets: required"),
    ("[sites.hq]\ntargets = ['10.0.0.1', 7]", r"sites\.hq\.targets\[1\]: expected a string"),
    ("[sites.hq]\ntargets = {a = 1}", r"sites\.hq\.targets: expected an array of strings"),
    ("[sites.hq]\ntargets = ['10.0.0.1']\nrate = -1", r"sites\.hq\.rate: -1 is out of range"),
    ('[sites."h q"]\ntargets = ["10.0.0.1"]', r"sites\.h q: site names are"),
    ("sites = {hq = 1}", r"sites\.hq: expected a table, got integer"),
    ("[sites.hq\ntargets = 1", "not valid TOML"),
    # values that only fail at sweep time today name their key too
    ("[sites.hq]\ntargets = ['10.1.0.0/24', '10.1.0.999']",
     r"sites\.hq\.targets\[1\]: 10\.1\.0\.999: not an IPv4 address, CIDR or range$"),
    ("[sites.plant-a]\ntargets = ['10.0.0.1, 10.0.0.300']",
     r"sites\.plant-a\.targets\[0\]: 10\.0\.0\.300: not an IPv4"),
    ("[sites.hq]\ntargets = ['10.0.0.1']\nexcludes = ['fe80::1']",
     r"sites\.hq\.excludes\[0\]: fe80::1: IPv6 targets are not supported"),
    ("[sites.hq]\ntargets = ['10.0.0.1']\npolicy = 'ndaa889'",
     r"sites\.hq\.policy: unknown policy 'ndaa889' \(shipped: .*ndaa-889"),
    ("policy = 'canada'", r"^\S+: policy: unknown policy 'canada'"),
    ("policy = 'mine.yaml'", r"policy: policy file \S+mine\.yaml not found"),
    ("[inventory]\nuri = 'x'", r"inventory\.uri: unknown key \(allowed here: url, "),
    ("[inventory]\nurl = 'mysql://h/db'", r"inventory\.url: expected a postgresql:// URL"),
    ("db = 'x.db'\n[inventory]\nurl = 'postgresql://h/db'", r"inventory\.url: give db .*not both"),
    ("[inventory]\nsensor = 'a b'", r"inventory\.sensor: sensor names are"),
    ("inventory = 1", r"inventory: expected a table, got integer"),
])
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_inventory_table(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[inventory]\nurl = "postgresql://camscan@inv.example/camscan?sslmode='
                    'verify-full"\npassword_file = "pw"\nsensor = "north-1"\nspool = "sp"\n')
    cfg = load_config(path)
    assert cfg is not None and cfg.db is None
    assert cfg.url == "postgresql://camscan@inv.example/camscan?sslmode=verify-full"
    assert (cfg.password_file, cfg.sensor, cfg.spool) == (tmp_path / "pw", "north-1",
                                                          tmp_path / "sp")
    from camscan.config import resolve_db

    assert resolve_db(None, cfg) == cfg.url and resolve_db(tmp_path / "x.db", cfg) == (
        tmp_path / "x.db")


def test_missing_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "none.toml")
    assert load_config(tmp_path / "none.toml", required=False) is None
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"db = '\xff\xfe'")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (1024 * 1024 + 10))
    with pytest.raises(ConfigError, match="larger than"):
        load_config(big)


def test_xdg_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert default_config_path() == tmp_path / ".config" / "camscan" / "config.toml"
    assert default_db_path() == tmp_path / ".local" / "share" / "camscan" / "inventory.db"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_config_path() == tmp_path / "cfg" / "camscan" / "config.toml"
    assert default_db_path() == tmp_path / "data" / "camscan" / "inventory.db"
    # the default config is optional
    assert load_config(None, required=False) is None


def test_config_targets_and_policy_files_that_are_fine(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\n")
    cfg = parse_config("policy = 'mine.yaml'\n[sites.hq]\n"
                       "targets = ['cam-17.example.internal', '@more.txt', '10.0.0.1-40']\n",
                       tmp_path / "config.toml")
    assert cfg.policy == str(tmp_path / "mine.yaml"), "a policy file is relative to the config"
    assert cfg.site("hq").targets[0] == "cam-17.example.internal", "no DNS at load time"
