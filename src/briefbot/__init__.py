"""briefbot: news briefings and cited answers for Telegram and Discord."""

__version__ = "0.1.0"
