"""The commands, listed once for /help, dispatch, Telegram's menu and Discord's slash commands."""

# Standard library only, like messages.py: adapters read this list to build their menus.

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Argument:
    """One argument of a command: a word after it in a chat, an option in a Discord command."""

    name: str  # the Discord option's name
    usage: str  # how /help shows it: "ID", "HH:MM"
    description: str  # the Discord option's description
    max_length: int  # what a Discord option accepts; a chat message is cut by the core anyway
    required: bool = True


@dataclass(frozen=True, slots=True)
class Command:
    """A command: its name, what it does, its arguments, who may run it, what answers it."""

    name: str
    about: str  # what it does, lower-case, as /help says it after the name
    handler: str  # the Conversation method that answers it
    arguments: tuple[Argument, ...] = ()
    admin_only: bool = False  # checked by the service that runs it; said in every listing

    @property
    def usage(self) -> str:
        """The arguments as a chat types them: "HH:MM [Area/City]"."""
        return " ".join(a.usage if a.required else f"[{a.usage}]" for a in self.arguments)

    @property
    def summary(self) -> str:
        """What it does, and for whom: "a daily briefing here (admins)"."""
        return self.about + (" (admins)" if self.admin_only else "")

    @property
    def description(self) -> str:
        """The summary as a menu shows it (Discord, whose options carry the arguments)."""
        return _capitalised(self.summary)

    @property
    def usage_and_summary(self) -> str:
        """The arguments, then the summary: "HH:MM [Area/City]: a daily briefing here (admins)"."""
        return f"{self.usage}: {self.summary}" if self.arguments else self.summary

    @property
    def menu_line(self) -> str:
        """Telegram's menu entry: the arguments too, since a chat has no option fields."""
        return _capitalised(self.usage_and_summary)

    @property
    def help_line(self) -> str:
        """The line in /help: "/subscribe HH:MM [Area/City]: a daily briefing here (admins)"."""
        return f"/{self.name} {self.usage_and_summary}"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


COMMANDS: tuple[Command, ...] = (
    Command("latest", "the newest briefing", "cmd_latest"),
    Command("list", "the articles I can brief you on", "cmd_list"),
    Command("brief", "the briefing for one article", "cmd_brief", (
        Argument("id", "ID", "The article id, from /list", max_length=100),
    )),
    Command("ask", "ask about the news (or just type the question)", "cmd_ask", (
        Argument("question", "QUESTION", "e.g. who was at the talks?", max_length=500),
    )),
    Command("subscribe", "a daily briefing here", "cmd_subscribe", (
        Argument("time", "HH:MM", "Local time, e.g. 07:30", max_length=10),
        Argument("timezone", "Area/City", "e.g. Europe/Berlin", max_length=64, required=False),
    ), admin_only=True),
    Command("unsubscribe", "stop the daily briefing here", "cmd_unsubscribe", admin_only=True),
    Command("status", "when the next daily briefing comes", "cmd_status"),
    Command("help", "what I can do", "cmd_help"),
)
# Names that run a listed command without being listed themselves (Telegram sends /start first).
ALIASES = {"start": "help"}
BY_NAME = {command.name: command for command in COMMANDS}
BY_NAME |= {alias: BY_NAME[name] for alias, name in ALIASES.items()}


def find(name: str) -> Command | None:
    """The command a name (or alias) stands for, ignoring case."""
    return BY_NAME.get(name.lower())
