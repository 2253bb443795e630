"""The settings the server reads before its app exists are the app's own."""
from __future__ import annotations


def test_serve_reads_its_settings_as_the_app_does_instance_config_then_environment(tmp_path, monkeypatch):
    """``graphfraud serve``'s arbiter decides some things before any app exists (the client timeout, the
    engine refresher, whether its ring refresher detects the first rings): from the same settings the
    workers' app reads, the instance folder's ``config.py`` included, the environment over it."""
    from flask import Flask

    from webui import app_settings

    (tmp_path / "config.py").write_text("UI_AUTO_RINGS = False\nCLIENT_TIMEOUT = 2.5\nENGINE_REFRESH_EVERY = 7\n")
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(tmp_path))
    for name in ("UI_AUTO_RINGS", "CLIENT_TIMEOUT", "ENGINE_REFRESH_EVERY"):
        monkeypatch.delenv(f"GRAPHFRAUD_{name}", raising=False)
    cfg = app_settings()
    assert cfg["UI_AUTO_RINGS"] is False and cfg["CLIENT_TIMEOUT"] == 2.5 and cfg["ENGINE_REFRESH_EVERY"] == 7.0
    monkeypatch.setenv("GRAPHFRAUD_CLIENT_TIMEOUT", "4")
    assert app_settings()["CLIENT_TIMEOUT"] == 4.0
