"""Discord adapter: slash commands and mentions in, rendered replies out, via discord.py."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import yarl

with warnings.catch_warnings():
    # discord.py imports the stdlib `audioop` for voice (deprecated since Python 3.11); briefbot
    # has no voice, and the warning would fail test runs that turn warnings into errors.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands

from briefbot import commands
from briefbot.adapters.discord_config import DISCORD, DISCORD_TOKEN_ENV, DiscordConfig
from briefbot.commands import Command
from briefbot.errors import (
    ChatUnavailable,
    ConfigError,
    DeliveryError,
    RateLimited,
    TemporaryFailure,
)
from briefbot.logs import register_secret
from briefbot.messages import Incoming, Notice, Reply
from briefbot.ports import ChatEvents, Handler
from briefbot.render.discord import DiscordMessage, render_discord
from briefbot.respond import respond

log = logging.getLogger(__name__)

# briefbot has no voice, so discord.py's start-up warnings about voice libraries are only noise.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

PLATFORM = DISCORD
# Discord drops an interaction not answered within 3 s; past this we show "thinking..." first.
DEFER_AFTER_SECONDS = 1.5
# discord.py's smallest allowed value: a longer rate limit raises instead of freezing a delivery.
MAX_RATELIMIT_SECONDS = 30.0
READY_TIMEOUT_SECONDS = 60.0
NO_PINGS = discord.AllowedMentions.none()


def point_discord_py_at(api_base_url: str | None, gateway_url: str | None) -> Callable[[], None]:
    """Send discord.py's REST calls and gateway connection to other URLs; returns the undo.

    discord.py has no setting for either URL: every REST route (interaction callbacks and
    webhooks too) is built from the class attribute `Route.BASE`, and the gateway comes from
    `DiscordWebSocket.DEFAULT_GATEWAY`. Both are undocumented but stable through 2.x and
    process-wide, so this is the one place that writes them and `stop()` restores them.
    """
    route, websocket = discord.http.Route, discord.gateway.DiscordWebSocket
    saved_base, saved_gateway = route.BASE, websocket.DEFAULT_GATEWAY
    if api_base_url:
        route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        websocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    def restore() -> None:
        route.BASE = saved_base
        websocket.DEFAULT_GATEWAY = saved_gateway

    return restore


def _intents(message_content: bool) -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True  # channel and role cache, for permission checks
    intents.guild_messages = True
    intents.dm_messages = True
    # Privileged, and only needed to read questions that reply to the bot without mentioning it.
    intents.message_content = message_content
    return intents


def _is_admin(permissions: discord.Permissions) -> bool:
    return permissions.administrator or permissions.manage_guild or permissions.manage_channels


class _Client(discord.Client):
    """discord.Client whose events go to the adapter, and whose failures are only logged."""

    def __init__(self, adapter: DiscordAdapter, *, message_content: bool) -> None:
        super().__init__(
            intents=_intents(message_content),
            allowed_mentions=NO_PINGS,
            max_ratelimit_timeout=MAX_RATELIMIT_SECONDS,
            guild_ready_timeout=adapter.guild_ready_timeout,
        )
        self.adapter = adapter
        self.tree = _Tree(self)
        adapter.add_commands(self.tree)

    async def setup_hook(self) -> None:
        await self.adapter.sync_commands(self.tree)

    async def on_ready(self) -> None:
        log.info("Discord: connected as %s (%s guilds)", self.user, len(self.guilds))
        self.adapter.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        await self.adapter.on_message(message)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("Discord: handling %s failed; the bot carries on", event_method)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # Discord allows one IDENTIFY per 5 s; discord.py waits that long before a re-identify.
        if not initial:
            await asyncio.sleep(self.adapter.reidentify_delay)


class _Tree(app_commands.CommandTree[_Client]):
    async def on_error(
        self, interaction: discord.Interaction[_Client], error: app_commands.AppCommandError, /
    ) -> None:
        name = interaction.command.name if interaction.command else "?"
        log.error(
            "Discord: /%s from user %s in channel %s failed",
            name, interaction.user.id, interaction.channel_id, exc_info=error,
        )
        await tell_privately(
            interaction, "Sorry, that went wrong on my side. Please try again in a minute."
        )


async def tell_privately(interaction: discord.Interaction[_Client], text: str) -> None:
    """An ephemeral note to the person who ran the command, whatever state the answer is in."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
    except discord.HTTPException as error:
        log.warning("Discord: could not answer interaction %s: %s", interaction.id, error)


def slash_command(
    command: Command, run: Callable[[discord.Interaction[_Client], str], Awaitable[None]]
) -> app_commands.Command[Any, ..., None]:
    """`command` as a slash command whose options are its arguments; `run` gets its chat text.

    discord.py reads a command's options from its callback's signature, so the one callback
    gets a signature built from the arguments: each a string of bounded length, the optional
    ones None when left out. The chat text is the same the person could type: "/brief seed".
    """

    async def callback(interaction: discord.Interaction[_Client], **options: str | None) -> None:
        words = [options.get(argument.name) for argument in command.arguments]
        await run(interaction, " ".join([f"/{command.name}", *(w for w in words if w)]))

    parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=discord.Interaction)]
    for argument in command.arguments:
        text = app_commands.Range[str, 1, argument.max_length]
        parameters.append(inspect.Parameter(
            argument.name, inspect.Parameter.KEYWORD_ONLY,
            annotation=text if argument.required else text | None,
            default=inspect.Parameter.empty if argument.required else None,
        ))
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    described = app_commands.describe(**{a.name: a.description for a in command.arguments})
    return app_commands.Command(
        name=command.name, description=command.description, callback=described(callback)
    )


class DiscordAdapter:
    """The bot on Discord: one discord.Client driven by hand inside the shared event loop."""

    platform = PLATFORM

    def __init__(
        self,
        config: DiscordConfig,
        handler: Handler,
        events: ChatEvents | None = None,
        *,
        receive: bool = True,
        guild_ready_timeout: float = 0.5,
        reidentify_delay: float = 5.0,
    ) -> None:
        """`receive=False` logs in over REST only (for `send-due`); the delays are for tests."""
        self.config = config
        self.handler = handler
        self.events = events
        self.receive = receive
        self.guild_ready_timeout = guild_ready_timeout
        self.reidentify_delay = reidentify_delay
        self.ready = asyncio.Event()
        self._client: _Client | None = None
        self._gateway: asyncio.Task[None] | None = None
        self._restore_urls: Callable[[], None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.config.token is None:
            raise ConfigError(
                f"{DISCORD_TOKEN_ENV} is not set; put the bot token from the Developer Portal there"
            )
        register_secret(self.config.token.reveal())
        self._restore_urls = point_discord_py_at(self.config.api_base_url, self.config.gateway_url)
        try:
            self._client = await self._login(message_content=True)
            if self.receive:
                self._gateway = asyncio.create_task(self._run_gateway(), name="discord-gateway")
                await self._wait_until_ready()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        client, self._client = self._client, None
        gateway, self._gateway = self._gateway, None
        if client is not None:
            await client.close()
        if gateway is not None:
            gateway.cancel()
            await asyncio.gather(gateway, return_exceptions=True)
        if self._restore_urls is not None:
            self._restore_urls()
            self._restore_urls = None

    async def _login(self, *, message_content: bool) -> _Client:
        assert self.config.token is not None
        client = _Client(self, message_content=message_content)
        try:
            await client.login(self.config.token.reveal())
        except discord.LoginFailure:
            await client.close()
            raise ConfigError(
                f"Discord refused the token in {DISCORD_TOKEN_ENV}; copy it again from the "
                "Developer Portal (Bot > Reset Token)"
            ) from None
        except (aiohttp.ClientError, OSError, discord.HTTPException) as exc:
            await client.close()
            where = self.config.api_base_url or "https://discord.com/api"
            raise TemporaryFailure(
                f"cannot reach Discord at {where} ({type(exc).__name__}: {exc}); check the "
                "network and discord.api_base_url"
            ) from None
        except BaseException:
            await client.close()
            raise
        return client

    async def _run_gateway(self) -> None:
        while self._client is not None:
            try:
                await self._client.connect(reconnect=True)
                return
            except discord.PrivilegedIntentsRequired:
                if not self._client.intents.message_content:
                    raise
                log.warning(
                    "Discord: the Message Content intent is not enabled for this bot, so it will "
                    "only answer slash commands, mentions and DMs. To answer replies too, enable "
                    "it in the Developer Portal under Bot > Privileged Gateway Intents."
                )
                await self._client.close()
                self._client = await self._login(message_content=False)

    async def _wait_until_ready(self) -> None:
        assert self._gateway is not None
        waiter = asyncio.ensure_future(self.ready.wait())
        done, _ = await asyncio.wait(
            {waiter, self._gateway}, timeout=READY_TIMEOUT_SECONDS,
            return_when=asyncio.FIRST_COMPLETED,
        )
        waiter.cancel()
        if self._gateway in done:
            error = self._gateway.exception()
            if isinstance(error, discord.ConnectionClosed) and error.code == 4004:
                raise ConfigError(f"Discord refused the token in {DISCORD_TOKEN_ENV}") from None
            raise error or RuntimeError("the Discord gateway closed before the bot was ready")
        if not done:
            log.warning("Discord: not ready after %.0f s; still trying", READY_TIMEOUT_SECONDS)
        self._gateway.add_done_callback(_log_gateway_end)

    # --- slash commands ----------------------------------------------------------------------

    def add_commands(self, tree: app_commands.CommandTree[_Client]) -> None:
        """The slash commands: each command of briefbot.commands, run as its chat text."""
        for command in commands.COMMANDS:
            tree.add_command(slash_command(command, self.on_slash))

    async def sync_commands(self, tree: app_commands.CommandTree[_Client]) -> None:
        """Guild commands appear at once; global ones can take a while to reach every client."""
        if not self.receive:
            return
        if not self.config.guilds:
            await tree.sync()
            return
        for guild_id in self.config.guilds:
            guild = discord.Object(guild_id)
            tree.copy_global_to(guild=guild)
            try:
                await tree.sync(guild=guild)
            except discord.Forbidden:
                log.warning(
                    "Discord: cannot add slash commands to server %s; invite the bot with the "
                    "applications.commands scope (see the README)", guild_id,
                )

    async def on_slash(self, interaction: discord.Interaction[_Client], text: str) -> None:
        """Answer at once when the core is quick, else show "thinking..." and follow up."""
        in_server = interaction.guild_id is not None
        deferral: asyncio.Task[Any] | None = None

        async def defer() -> None:
            # Once, whoever asks first: the core when it starts slow work, or the clock below.
            nonlocal deferral
            task = deferral or asyncio.ensure_future(interaction.response.defer(thinking=True))
            deferral = task
            await asyncio.shield(task)

        incoming = Incoming(
            platform=PLATFORM,
            chat_id=str(interaction.channel_id),
            user_id=str(interaction.user.id),
            text=text,
            chat_kind="group" if in_server else "private",
            admin_check=_async_value(_is_admin(interaction.permissions)) if in_server else None,
            working=defer,
        )

        replied: list[int] = []

        async def answer(incoming: Incoming) -> Sequence[Reply]:
            # The core's replies, with "thinking…" shown once they take a while.
            work = asyncio.ensure_future(self.handler(incoming))
            try:
                done, _ = await asyncio.wait({work}, timeout=DEFER_AFTER_SECONDS)
                if not done:
                    await defer()
                replies = await work
                replied.append(len(replies))
                return replies
            finally:
                work.cancel()  # only matters when deferring failed: the answer can't be shown
                if deferral is not None:
                    # The first part must follow the "thinking…", not race it. A deferral that
                    # failed leaves the interaction open: the answer is then sent as the response.
                    with contextlib.suppress(discord.HTTPException):
                        await deferral

        failure = await respond(incoming, answer, self.render, _responder(interaction),
                                self.events)
        if replied == [0]:
            # The core stayed silent (a user over their message budget): a slash command must
            # still be acknowledged, or Discord shows "The application did not respond".
            await tell_privately(interaction, "You're sending commands faster than I can "
                                              "answer; try again in a minute.")
        if isinstance(failure, ChatUnavailable):
            await tell_privately(
                interaction, "I may not post in this channel; ask an admin to check my permissions."
            )

    # --- messages ----------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        """DMs, and in servers only messages that mention the bot or reply to it."""
        client = self._client
        if message.author.bot or client is None or client.user is None:
            return
        me = client.user
        text = message.content
        if message.guild is not None:
            bot_role = message.guild.self_role
            mentioned = any(user.id == me.id for user in message.mentions) or (
                bot_role is not None and bot_role.id in message.raw_role_mentions
            )
            reference = message.reference
            replied = (
                reference is not None
                and isinstance(reference.resolved, discord.Message)
                and reference.resolved.author.id == me.id
            )
            if not (mentioned or replied):
                return
            own = rf"<@!?{me.id}>" + (rf"|<@&{bot_role.id}>" if bot_role is not None else "")
            text = re.sub(own, " ", text).strip()
        incoming = Incoming(
            platform=PLATFORM,
            chat_id=str(message.channel.id),
            user_id=str(message.author.id),
            text=text,
            chat_kind="private" if message.guild is None else "group",
            admin_check=None if message.guild is None else _async_value(_member_is_admin(message)),
            working=_typing(message.channel),
        )
        await respond(incoming, self.handler, self.render, _replier(message), self.events)

    # --- rendering and delivery --------------------------------------------------------------

    def render(self, reply: Reply) -> Sequence[DiscordMessage]:
        return render_discord(reply)

    async def send_part(
        self, chat_id: str, part: DiscordMessage, *, thread_id: str | None = None
    ) -> None:
        """Post one rendered message to a channel over REST (no gateway needed).

        `thread_id` is unused: a Discord thread is a channel of its own, with its own id.
        """
        if self._client is None:
            raise RuntimeError("DiscordAdapter.send_part before start()")
        if not chat_id.isdigit():
            raise ChatUnavailable(chat_id, "not a Discord channel id (a number)")
        channel = self._client.get_partial_messageable(int(chat_id))
        try:
            await channel.send(_content(part), embeds=_embeds(part), allowed_mentions=NO_PINGS)
        except discord.Forbidden as error:
            raise _refused(chat_id, error) from None
        except discord.NotFound:
            raise ChatUnavailable(chat_id, "no such channel, or the bot was removed") from None
        except discord.RateLimited as error:
            raise RateLimited(
                f"Discord rate limit for {error.retry_after:.0f} s on channel {chat_id}",
                float(error.retry_after),
            ) from None
        except discord.HTTPException as error:
            if error.status >= 500:
                raise TemporaryFailure(f"Discord failed with {error.status}; try later") from None
            raise DeliveryError(
                f"Discord rejected the message for channel {chat_id}: {error.text}"
            ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise TemporaryFailure(f"cannot reach Discord: {type(error).__name__}") from None


def _responder(
    interaction: discord.Interaction[_Client],
) -> Callable[[Reply, DiscordMessage], Awaitable[None]]:
    """Sends the parts of the replies to a slash command: the first as the interaction's response
    (unless "thinking…" already is), the rest as follow-ups; an error only to the asker."""
    chat_id = str(interaction.channel_id)

    async def send(reply: Reply, part: DiscordMessage) -> None:
        ephemeral = isinstance(reply, Notice) and reply.is_error
        content, embeds = _content(part), _embeds(part)
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(
                    content, embeds=embeds, ephemeral=ephemeral, allowed_mentions=NO_PINGS
                )
            else:
                await interaction.followup.send(
                    content or discord.utils.MISSING, embeds=embeds, ephemeral=ephemeral,
                    allowed_mentions=NO_PINGS,
                )
        except discord.Forbidden as error:
            raise _refused(chat_id, error) from None

    return send


def _replier(message: discord.Message) -> Callable[[Reply, DiscordMessage], Awaitable[None]]:
    """Sends the parts of the replies to `message`: the first as a reply to it, so the thread of
    talk stays clear."""
    chat_id = str(message.channel.id)
    reference = message.to_reference(fail_if_not_exists=False)

    async def send(_reply: Reply, part: DiscordMessage) -> None:
        nonlocal reference
        try:
            await message.channel.send(
                _content(part), embeds=_embeds(part), allowed_mentions=NO_PINGS,
                reference=reference,
            )
        except discord.Forbidden as error:
            raise _refused(chat_id, error) from None
        reference = discord.utils.MISSING

    return send


def _refused(chat_id: str, error: discord.HTTPException) -> ChatUnavailable:
    """A 403 from Discord: the bot was removed, or lacks a permission in the channel."""
    reason = f"the bot may not post there: {error.text or error.status} (code {error.code})"
    return ChatUnavailable(chat_id, reason)


def _content(part: DiscordMessage) -> str | None:
    return part.content or None


def _embeds(part: DiscordMessage) -> list[discord.Embed]:
    return [discord.Embed.from_dict(embed.to_dict()) for embed in part.embeds]


def _member_is_admin(message: discord.Message) -> bool:
    author, channel = message.author, message.channel
    if isinstance(author, discord.Member) and isinstance(
        channel, (discord.abc.GuildChannel, discord.Thread)
    ):
        return _is_admin(channel.permissions_for(author))
    return False


def _typing(channel: discord.abc.Messageable) -> Callable[[], Awaitable[None]]:
    """Shows "briefbot is typing…" in the channel (for 10 s, or until the bot's next message)."""

    async def typing() -> None:
        await channel.typing()

    return typing


def _async_value(value: bool) -> Callable[[], Awaitable[bool]]:
    async def answer() -> bool:
        return value

    return answer


def _log_gateway_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Discord: the gateway connection ended", exc_info=task.exception())
