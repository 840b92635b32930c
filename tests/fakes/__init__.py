"""Fake platform servers (Telegram Bot API, Discord REST + gateway) on 127.0.0.1 for tests."""
