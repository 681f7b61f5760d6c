from pathlib import Path

import pytest

from ccx.config import ConfigError, Settings, describe, load_settings, markdown_table


def test_defaults_without_env_or_file() -> None:
    settings = load_settings(env={})
    assert settings == Settings()
    assert settings.api.port == 8000
    assert settings.mongo.uri.startswith("mongodb://127.0.0.1")


def test_env_overrides_file_overrides_default(tmp_path: Path) -> None:
    cfg = tmp_path / "ccx.toml"
    cfg.write_text('[api]\nport = 9001\nhost = "0.0.0.0"\n[log]\njson = false\n')
    settings = load_settings(cfg, env={"CCX_API_PORT": "9002"})
    assert settings.api.port == 9002  # env wins
    assert settings.api.host == "0.0.0.0"  # file
    assert settings.log.json is False
    assert settings.redis.url == Settings().redis.url  # default


def test_config_path_from_env(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[redis]\nurl = "redis://10.0.0.1:6380/1"\n')
    assert load_settings(env={"CCX_CONFIG": str(cfg)}).redis.url == "redis://10.0.0.1:6380/1"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"CCX_API_PORT": "eighty"}, "CCX_API_PORT"),
        ({"CCX_LOG_JSON": "maybe"}, "CCX_LOG_JSON"),
        ({"CCX_REDIS_TIMEOUT_S": "fast"}, "CCX_REDIS_TIMEOUT_S"),
    ],
)
def test_bad_env_values_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env=env)


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[nope]\nx = 1\n", "unknown config section"),
        ("[api]\nportt = 1\n", "portt"),
        ("[api]\nport = true\n", "api.port"),
        ("api = 3\n", "must be a table"),
        ("[api\n", "cannot read"),
    ],
)
def test_bad_files_are_reported(tmp_path: Path, toml: str, fragment: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError, match=fragment):
        load_settings(cfg, env={})


def test_readme_settings_table_is_current() -> None:
    """The README embeds `ccx config --markdown` verbatim; regenerate it when settings change."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start, end = "<!-- settings:start -->\n", "\n<!-- settings:end -->"
    embedded = readme[readme.index(start) + len(start) : readme.index(end)]
    assert embedded == markdown_table()
    assert all(doc for _, _, _, doc in describe())
