"""Module boundaries: the core loads no platform SDK, and adapters load no Q&A engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE_MODULES = [
    "briefbot.articles", "briefbot.briefing", "briefbot.cli", "briefbot.config",
    "briefbot.conversation", "briefbot.daily.delivery", "briefbot.qa", "briefbot.render",
    "briefbot.daily.schedule", "briefbot.store", "briefbot.daily.subscriptions", "briefbot.text",
    "briefbot.adapters.console_adapter", "briefbot.commands", "briefbot.messages",
    "briefbot.respond", "briefbot.ports", "briefbot.platforms", "briefbot.config_schema",
    "briefbot.render.layout", "briefbot.render.telegram", "briefbot.render.discord",
    "briefbot.render.plain", "briefbot.adapters.telegram_config",
    "briefbot.adapters.discord_config",
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


# What a platform's adapter may load of briefbot: the seams, and its own dialect and schema.
SEAMS = {
    "briefbot", "briefbot.adapters", "briefbot.messages", "briefbot.ports", "briefbot.errors",
    "briefbot.logs", "briefbot.commands", "briefbot.respond", "briefbot.render",
    "briefbot.render.layout", "briefbot.render.split", "briefbot.text", "briefbot.config_schema",
}
ADAPTERS = {
    "briefbot.adapters.console_adapter": {"briefbot.render.plain"},
    "briefbot.adapters.telegram_adapter": {"briefbot.render.telegram",
                                           "briefbot.adapters.telegram_config"},
    "briefbot.adapters.discord_adapter": {"briefbot.render.discord",
                                          "briefbot.adapters.discord_config"},
}


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_an_adapter_loads_no_engine_articles_store_or_delivery(adapter: str) -> None:
    """An adapter translates and sends; answering, storing and scheduling stay in the core."""
    core = ("briefbot.qa", "briefbot.articles", "briefbot.store", "briefbot.delivery",
            "briefbot.daily", "briefbot.schedule", "briefbot.subscriptions",
            "briefbot.conversation")
    loaded = sorted(m for m in _modules_loaded_by(adapter)
                    if m.startswith(core) or m == "briefbot.config")
    assert loaded == []


@pytest.mark.parametrize("adapter", sorted(ADAPTERS))
def test_an_adapter_loads_only_the_seams_its_dialect_and_its_schema(adapter: str) -> None:
    ours = {m for m in _modules_loaded_by(adapter) if m.split(".")[0] == "briefbot"}
    assert ours - {adapter} <= SEAMS | ADAPTERS[adapter]


def test_the_ports_are_a_leaf_beside_messages() -> None:
    added = _modules_loaded_by("briefbot.ports") - _modules_loaded_by("sys")
    assert {m for m in added if m.split(".")[0] == "briefbot"} == {
        "briefbot", "briefbot.ports", "briefbot.messages"}
    assert {m.split(".")[0] for m in added} - {"briefbot"} <= sys.stdlib_module_names
