"""One platform-neutral conversation: an Incoming message in, a list of Reply out."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from briefbot import commands
from briefbot.articles import Library, is_valid_article_id
from briefbot.briefing import headline_of, make_briefing
from briefbot.commands import COMMANDS
from briefbot.messages import Answer, Briefing
from briefbot.messages import ChatKind as ChatKind  # re-exported: defined in the leaf module
from briefbot.messages import Incoming as Incoming
from briefbot.messages import Notice as Notice
from briefbot.messages import Reply as Reply
from briefbot.qa import QAIndex
from briefbot.text import visible_text

# Types only: httpx, which the reader needs, loads only when a reader is configured, and the
# conversation loads no database driver.
if TYPE_CHECKING:
    from briefbot.qa.reader import Reader
    from briefbot.store.protocols import ChatMemory

log = logging.getLogger(__name__)


class SubscriptionCommands(Protocol):
    """/subscribe, /unsubscribe and /status, provided by the daily-briefing service."""

    async def subscribe(self, incoming: Incoming, args: str) -> Sequence[Reply]: ...

    async def unsubscribe(self, incoming: Incoming) -> Sequence[Reply]: ...

    async def status(self, incoming: Incoming) -> Sequence[Reply]: ...


class InMemoryChatMemory:
    """ChatMemory for the console and tests; a store (`briefbot.store`) keeps it across
    restarts."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], str] = {}

    def last_briefed(self, platform: str, chat_id: str) -> str | None:
        return self._last.get((platform, chat_id))

    def remember_briefed(self, platform: str, chat_id: str, article_id: str) -> None:
        self._last[(platform, chat_id)] = article_id


# What a command's method looks like: the message, and the text after the command's name.
CommandHandler = Callable[[Incoming, str], Awaitable[list[Reply]]]
NO_SUBSCRIPTIONS = Notice("Daily briefings are not set up on this bot.", is_error=True)
MAX_QUESTION_CHARS = 1000
LIST_LIMIT = 20

_COMMAND = re.compile(r"^/([A-Za-z_]+)(?:@\S+)?(?:\s+(.*))?$", re.DOTALL)
# People's messages lose bidi overrides and control characters (one shared rule, text.py).
clean_text = visible_text


# Small talk is answered as such, never looked up in an article ("thanks" is not a question).
_GREETINGS = frozenset(
    "hi hello hey hiya yo howdy hallo hola greetings morning evening".split()
) | {"good morning", "good afternoon", "good evening", "hi there", "hello there", "hey there"}
_THANKS = frozenset("thanks thx ty cheers ta merci danke".split()) | {
    "thank you", "thanks a lot", "many thanks", "thank you very much", "thanks so much"
}
_ACKNOWLEDGEMENTS = frozenset(
    "ok okay k kk cool great nice lol wow sure fine bye goodbye yes no yep nope alright".split()
) | {"got it", "see you", "good night", "ok thanks", "ok thank you", "all good", "sounds good"}
# Asking how the bot is, or what it is: not a question about an article.
_HOW_ARE_YOU = frozenset({
    "how are you", "how are you doing", "how are you today", "how r u", "how s it going",
    "how is it going", "how do you do", "what s up", "whats up", "sup", "wassup",
    "how are things", "you ok", "are you ok", "are you there",
})
# Asking who the bot is, or for help, in words ("who are you", "help me", "help pls", "can you
# help?", "how do I use this bot?", "what are the commands?") is /help. Only as the whole
# message: "how did the volunteers help?", "can the fund help small shops?" and "help me
# understand the fares" are about the news.
_PLEASE = r"(?:please|pls|plz|pleez)"
_HELP_REQUEST = re.compile(
    rf"(?:(?:hi|hey|hello) )?(?:{_PLEASE} )?"
    rf"(?:(?:i )?need (?:some )?|(?:can|could|would|will) you )?help(?: me)?(?: out)?"
    rf"(?: {_PLEASE})?"
    r"|what (?:can|do|else can) you do(?: for me)?(?: here)?"
    r"|how (?:do|can|should) i use (?:this|you|the bot|this bot|briefbot)(?: bot)?"
    r"|how (?:does|do) (?:this|you|the bot|this bot|briefbot) work"
    r"|(?:what are |show me |list )?(?:the |your |all )?commands(?: are there)?"
    r"|who are you|what are you|are you a bot|what is this"
)
# A command's name typed without the slash ("latest", "help please") is that command.
_PLAIN_COMMAND = re.compile(r"(?:please )?(help|latest|list|status|start)(?: please)?")
# How close (rapidfuzz WRatio, 0-100) a typo must be to a command or article id to be offered
# as "did you mean": "lates" -> latest scores 91, "habour" -> harbour 92, "sed" -> seed 86;
# unrelated words stay below 70.
SUGGEST_SCORE = 80
# Asking for the gist rather than a fact: the briefing answers that best.
_GIST = re.compile(
    r"(?:please )?"
    r"(?:(?:give me (?:a |the )?)?(?:summary|summarise|summarize|tl ?dr|gist|news|headlines?)"
    r"|what(?: s| is)? (?:the )?(?:news|story|latest)(?: today)?"
    r"|what happened(?: today)?|what(?: s| is) (?:this|it|that) about|tell me more"
    r"|(?:any )?news(?: today)?)(?: please)?"
)


def _words_only(text: str) -> str:
    """Lower-case words of a message, punctuation and emoji dropped: what small talk is keyed on."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def help_notice(intro: str | None = None) -> Notice:
    return Notice(
        title="briefbot",
        text=intro or "I brief you on the news and answer questions about it.",
        items=(
            *(command.help_line for command in COMMANDS),
            "Or just ask, e.g. \u201cwho was at the talks?\u201d",
        ),
    )


def _closest(typed: str, choices: Sequence[str]) -> str | None:
    """The one choice a typo most likely meant, or None when none is close enough."""
    from rapidfuzz import fuzz, process, utils  # loaded on the first typo only

    if not typed or not choices:
        return None
    found = process.extractOne(typed.lower(), choices, scorer=fuzz.WRatio,
                               processor=utils.default_process, score_cutoff=SUGGEST_SCORE)
    return None if found is None else str(found[0])


def format_date(date: dt.date) -> str:
    """February 11, 2026 (no leading zero, whatever the locale)."""
    return f"{date:%B} {date.day}, {date:%Y}"


class Conversation:
    """Every command and question, the same for every platform."""

    def __init__(
        self,
        library: Library,
        qa: QAIndex,
        memory: ChatMemory | None = None,
        subscriptions: SubscriptionCommands | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.library = library
        self.qa = qa
        self.reader = reader  # qa.reader: asked about the article the offline engine picked
        self.memory: ChatMemory = memory or InMemoryChatMemory()
        self.subscriptions = subscriptions
        self._synced_version = -1

    def sync(self) -> None:
        """Bring the Q&A index up to date with the library (cheap when nothing changed)."""
        if self._synced_version != self.library.version:
            self.qa.update(self.library.articles)
            self._synced_version = self.library.version

    async def handle(self, incoming: Incoming) -> list[Reply]:
        self.sync()
        text = clean_text(incoming.text)
        if not text:
            return [help_notice("Send a command or a question.")]
        match = _COMMAND.match(text)
        if match is None:
            return [await self._chat(incoming, text)]
        name, args = match.group(1).lower(), (match.group(2) or "").strip()
        command = commands.find(name)
        if command is None:
            guess = _closest(name, [c.name for c in COMMANDS])
            hint = f" Did you mean /{guess}?" if guess else ""
            return [help_notice(f"I don't know the command /{name[:32]}.{hint}")]
        handler: CommandHandler = getattr(self, command.handler)
        return await handler(incoming, args)

    # --- one method a command, named by its `handler` in briefbot.commands ------------------

    async def cmd_help(self, incoming: Incoming, args: str) -> list[Reply]:
        return [help_notice()]

    async def cmd_latest(self, incoming: Incoming, args: str) -> list[Reply]:
        return [self._latest(incoming)]

    async def cmd_list(self, incoming: Incoming, args: str) -> list[Reply]:
        return [self._list()]

    async def cmd_brief(self, incoming: Incoming, args: str) -> list[Reply]:
        return [self._brief(incoming, args)]

    async def cmd_ask(self, incoming: Incoming, args: str) -> list[Reply]:
        if not args:
            return [Notice("Ask me something after /ask, e.g. /ask who was at the talks?")]
        return [await self._ask(incoming, args)]

    async def cmd_subscribe(self, incoming: Incoming, args: str) -> list[Reply]:
        if self.subscriptions is None:
            return [NO_SUBSCRIPTIONS]
        return list(await self.subscriptions.subscribe(incoming, args))

    async def cmd_unsubscribe(self, incoming: Incoming, args: str) -> list[Reply]:
        if self.subscriptions is None:
            return [NO_SUBSCRIPTIONS]
        return list(await self.subscriptions.unsubscribe(incoming))

    async def cmd_status(self, incoming: Incoming, args: str) -> list[Reply]:
        if self.subscriptions is None:
            return [NO_SUBSCRIPTIONS]
        return list(await self.subscriptions.status(incoming))

    def _briefing_for(self, incoming: Incoming, article_id: str) -> Briefing | Notice:
        article = self.library.find(article_id)
        if article is None:
            guess = _closest(article_id, [a.id for a in self.library.articles])
            hint = f" Did you mean /brief {guess}?" if guess else ""
            return self._list(f"I have no article {article_id!r}.{hint}")
        self.memory.remember_briefed(incoming.platform, incoming.chat_id, article.id)
        return make_briefing(article)

    def _latest(self, incoming: Incoming) -> Briefing | Notice:
        article = self.library.latest()
        if article is None:
            return Notice("There are no articles yet. Check back soon.")
        return self._briefing_for(incoming, article.id)

    def _brief(self, incoming: Incoming, args: str) -> Briefing | Notice:
        if not args:
            return self._list("Which article? Send /brief followed by an id from this list.")
        whole = args.strip()
        if self.library.find(whole) is not None:
            # An id is a file name, which may hold spaces or accents: what /list shows, /brief
            # takes (the typed id is only looked up, never used as a path).
            return self._briefing_for(incoming, whole)
        article_id = args.split()[0]
        if not is_valid_article_id(article_id):
            return self._list("That is not an article id. Pick one from this list.", error=True)
        return self._briefing_for(incoming, article_id)

    def _list(self, intro: str | None = None, *, error: bool = False) -> Notice:
        articles = self.library.articles
        if not articles:
            return Notice(intro or "There are no articles yet.", is_error=error)
        items = tuple(
            f"{a.id} \u2014 {headline_of(a)}" + (f" ({format_date(a.date)})" if a.date else "")
            for a in articles[:LIST_LIMIT]
        )
        more = len(articles) - LIST_LIMIT
        text = intro or "Articles, newest first. Send /brief ID for one."
        if more > 0:
            text += f" ({more} older ones not shown.)"
        return Notice(text, items=items, title=None, is_error=error)

    async def _chat(self, incoming: Incoming, text: str) -> Reply:
        """Plain words: small talk gets a short reply, "what happened?" the briefing, else Q&A."""
        said = _words_only(text)
        if not said:
            return help_notice("Ask me about the news in words, or send a command.")
        if said in _GREETINGS:
            return help_notice("Hello! I brief you on the news and answer questions about it.")
        if said in _THANKS:
            return Notice("You're welcome! Ask another question, or send /latest.")
        if said in _ACKNOWLEDGEMENTS:
            return Notice("\U0001f44d Send /latest for the newest briefing, or ask me about it.")
        if said in _HOW_ARE_YOU:
            return Notice("All good here, thanks! Send /latest for the newest briefing, or ask "
                          "me about the news.")
        if _HELP_REQUEST.fullmatch(said):
            return help_notice()  # what /help answers
        plain = _PLAIN_COMMAND.fullmatch(said)
        if plain is not None:
            return (await self.handle(replace(incoming, text="/" + plain.group(1))))[0]
        if _GIST.fullmatch(said):
            last = self.memory.last_briefed(incoming.platform, incoming.chat_id)
            article = self.library.find(last) if last else self.library.latest()
            if article is not None:
                return self._briefing_for(incoming, article.id)
        return await self._ask(incoming, text)

    async def _ask(self, incoming: Incoming, question: str) -> Answer:
        question = question[:MAX_QUESTION_CHARS]
        last = self.memory.last_briefed(incoming.platform, incoming.chat_id)
        # In a worker thread: a slow answer (a long article, a hard question) must not hold up
        # the event loop, and with it every other chat's reply. The index is safe to read there.
        answer = await asyncio.to_thread(self.qa.ask, question, last_briefed=last)
        article = self.library.find(answer.article_id) if answer.article_id else None
        if self.reader is not None and article is not None:
            answer = await self.reader.improve(answer, article, working=incoming.working)
        if answer.found and article is not None:
            # Say which article the quote is from: the chat may have been briefed on another.
            answer = replace(answer, headline=headline_of(article))
            # And follow-ups ("what did he say?") go to the article just quoted (a write only
            # when that changes: most follow-ups stay on the same article).
            if article.id != last:
                self.memory.remember_briefed(incoming.platform, incoming.chat_id, article.id)
        return answer
