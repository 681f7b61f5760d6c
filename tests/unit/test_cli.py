import pytest

from ccx.cli import main


def test_config_show(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCX_API_PORT", "9100")
    assert main(["config"]) == 0
    assert "api.port = 9100" in capsys.readouterr().out


def test_config_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--markdown"]) == 0
    assert "`CCX_MONGO_URI`" in capsys.readouterr().out


def test_bad_setting_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCX_API_PORT", "x")
    assert main(["config"]) == 2
    assert "CCX_API_PORT" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out
