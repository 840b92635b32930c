"""Module boundaries: the core loads no platform SDK, and adapters load no Q&A engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE_MODULES = [
    "briefbot.articles", "briefbot.briefing", "briefbot.cli", "briefbot.config",
    "briefbot.conversation", "briefbot.delivery", "briefbot.qa", "briefbot.render",
    "briefbot.schedule", "briefbot.store", "briefbot.subscriptions", "briefbot.text",
    "briefbot.adapters.console_adapter", "briefbot.commands", "briefbot.messages",
    "briefbot.respond",
]


def test_importing_the_core_loads_neither_platform_sdk() -> None:
    code = (
        "import sys\n"
        f"for name in {CORE_MODULES!r}: __import__(name)\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('telegram', 'discord'))\n"
        "print(','.join(leaked))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def _modules_loaded_by(module: str) -> set[str]:
    """Every module in sys.modules after importing `module` in a fresh interpreter."""
    code = f"import sys\nimport {module}\nprint('\\n'.join(sorted(sys.modules)))\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("adapter", [
    "briefbot.adapters.console_adapter", "briefbot.adapters.telegram_adapter",
    "briefbot.adapters.discord_adapter",
])
def test_importing_an_adapter_loads_no_qa_engine(adapter: str) -> None:
    """An adapter translates messages; it needs their types, not the engine that makes them."""
    loaded = _modules_loaded_by(adapter)
    assert adapter in loaded
    assert not {m for m in loaded if m == "briefbot.qa" or m.startswith("briefbot.qa.")}
    assert "briefbot.conversation" not in loaded and "briefbot.articles" not in loaded


@pytest.mark.parametrize("leaf", ["briefbot.messages", "briefbot.commands"])
def test_what_every_adapter_reads_is_a_leaf_of_the_standard_library(leaf: str) -> None:
    """Every adapter imports it, so it must pull in nothing else of ours and no package."""
    added = _modules_loaded_by(leaf) - _modules_loaded_by("sys")
    assert {m for m in added if m.split(".")[0] == "briefbot"} == {"briefbot", leaf}
    assert {m.split(".")[0] for m in added} - {"briefbot"} <= sys.stdlib_module_names
