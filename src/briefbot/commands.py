"""The bot's commands, listed once for /help, dispatch and each platform's command menu."""

from __future__ import annotations

COMMANDS: tuple[tuple[str, str], ...] = (
    ("latest", "the newest briefing"),
    ("list", "the articles I know"),
    ("brief", "ID: the briefing for one article"),
    ("ask", "QUESTION: ask about the article (or just type the question)"),
    ("subscribe", "HH:MM [Area/City]: a daily briefing here (admins)"),
    ("unsubscribe", "stop the daily briefing (admins)"),
    ("status", "when the next daily briefing comes"),
    ("help", "this list"),
)
