"""`qa-app web`: the command line that starts the Streamlit web app from any directory.

`streamlit run` reads `.streamlit/config.toml` from the working directory only, so started anywhere
else the app would lose its upload limit and have telemetry on. This module passes those options as
flags instead, and the settings given to `qa-app web` (data dir, collection, reader, ...) as `QA_*`
variables, which the app reads like every other entry point. It builds the command; it does not
import streamlit (only `ui/` does).
"""

from __future__ import annotations

from typing import Any, Mapping

from qa_app.config import PROJECT_ROOT, Settings

APP_SCRIPT = PROJECT_ROOT / "ui" / "app.py"


def streamlit_options(settings: Settings, *, port: int, address: str) -> dict[str, Any]:
    """The options of `.streamlit/config.toml`, with the upload limit taken from the settings."""
    return {
        "server.port": port,
        "server.address": address,
        "server.headless": True,  # no browser opened by the server; the command prints the URL
        "server.maxUploadSize": int(settings.store.max_file_mb),  # the widget's limit = the loader's limit
        "browser.gatherUsageStats": False,
        "client.toolbarMode": "minimal",
    }


def web_command(python: str, settings: Settings, *, port: int, address: str) -> list[str]:
    flags: list[str] = []
    for name, value in streamlit_options(settings, port=port, address=address).items():
        flags += [f"--{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    return [python, "-m", "streamlit", "run", str(APP_SCRIPT), *flags]


def web_environment(environ: Mapping[str, str], overrides: Mapping[str, Any]) -> dict[str, str]:
    """The environment of the app: the caller's, plus one `QA_<FIELD>` per setting given on the command line."""
    env = dict(environ)
    for key, value in overrides.items():
        if value is not None:
            env[f"QA_{key.upper()}"] = str(value)
    return env
