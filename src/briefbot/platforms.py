"""The platforms briefbot serves, in the order config.yaml, the command line and logs name them.

Outside a platform's own modules (adapters/NAME_adapter.py, adapters/NAME_config.py and
render/NAME.py), this list is the one place that names it.
"""

from __future__ import annotations

from briefbot.adapters import discord_config, telegram_config
from briefbot.ports import Platform

PLATFORMS: tuple[Platform, ...] = (telegram_config.PLATFORM, discord_config.PLATFORM)
