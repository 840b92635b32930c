"""The core stays platform-neutral: only adapters import the Telegram and Discord SDKs."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "briefbot.articles", "briefbot.briefing", "briefbot.cli", "briefbot.config",
    "briefbot.conversation", "briefbot.delivery", "briefbot.qa", "briefbot.render",
    "briefbot.schedule", "briefbot.store", "briefbot.subscriptions", "briefbot.text",
    "briefbot.adapters.console_adapter",
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
