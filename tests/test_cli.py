"""The command line, run as a user would: the contract other tools depend on."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fakes.telegram_html import parse_html

ROOT = Path(__file__).resolve().parent.parent


def briefbot(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    return subprocess.run(
        [sys.executable, "-m", "briefbot", *args],
        cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60, env=env,
    )


def test_ask_json_prints_one_object_a_line(content_dir: Path) -> None:
    result = briefbot("ask", "--content", str(content_dir), "--json",
                      "where were the ferries built?", "how many troops were there?")
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert set(first) == {"question", "found", "answer", "source", "article", "engine"}
    assert first["found"] is True and "Bergen" in first["answer"] and first["article"] == "harbour"
    assert first["engine"] == "offline"  # no qa.reader configured
    assert second["found"] is False


def test_ask_about_the_sample_article_names_grynkewich() -> None:
    result = briefbot("ask", "--article", "seed", "--json", "who was at the talks?")
    answer = json.loads(result.stdout)
    assert answer["found"] is True and "Grynkewich" in answer["answer"]


def test_ask_with_an_unknown_article_is_a_usage_error(content_dir: Path) -> None:
    result = briefbot("ask", "--content", str(content_dir), "--article", "nope", "who?")
    assert result.returncode == 2
    assert "no article 'nope'" in result.stderr


def test_check_names_each_broken_file_and_exits_1_while_ask_still_answers(content_dir: Path) -> None:
    (content_dir / "empty.txt").write_text("")
    (content_dir / "bad.md").write_text("---\ntitle: [oops\n---\nx\n")
    (content_dir / "binary.txt").write_bytes(b"\xff\xfe\x00garbage")
    config = content_dir.parent / "config.yaml"
    config.write_text("content_dir: content\n")

    check = briefbot("--config", str(config), "check")
    assert check.returncode == 1
    for name in ("empty.txt", "bad.md", "binary.txt"):
        assert name in check.stdout
    assert "2 articles loaded" in check.stdout

    ask = briefbot("--config", str(config), "ask", "--json", "who is the mayor of harbour city?")
    assert ask.returncode == 0
    assert "Vos" in json.loads(ask.stdout)["answer"]


def test_check_on_good_content_exits_0(content_dir: Path) -> None:
    config = content_dir.parent / "config.yaml"
    config.write_text("content_dir: content\n")
    result = briefbot("--config", str(config), "check")
    assert result.returncode == 0, result.stdout
    assert "0 problems" in result.stdout


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("timezone: Narnia/Cair_Paravel\n")
    result = briefbot("--config", str(config), "check")
    assert result.returncode == 2
    assert "timezone" in result.stderr and "IANA" in result.stderr


def test_preview_for_telegram_prints_html_telegram_accepts() -> None:
    result = briefbot("preview", "seed", "--platform", "telegram")
    assert result.returncode == 0, result.stderr
    visible, _entities = parse_html(result.stdout.strip())
    assert "Grynkewich" in visible or "military" in visible
    assert len(visible) <= 4096


def test_preview_for_discord_prints_embed_json() -> None:
    result = briefbot("preview", "seed", "--platform", "discord")
    (message,) = json.loads(result.stdout)
    (embed,) = message["embeds"]
    assert "Russia" in embed["title"] and len(embed["title"]) <= 256


def test_chat_from_a_pipe_prints_both_replies_and_exits_0(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {ROOT / 'content'}\ndatabase: {tmp_path / 'db.sqlite3'}\n")
    result = briefbot("--config", str(config), "chat", stdin="/latest\nwho was at the talks?\n")
    assert result.returncode == 0, result.stderr
    assert "Russia" in result.stdout  # the briefing
    assert "Grynkewich" in result.stdout  # the answer


def test_help_in_words_in_the_console_chat_prints_the_command_list(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {ROOT / 'content'}\ndatabase: {tmp_path / 'db.sqlite3'}\n")
    words = briefbot("--config", str(config), "chat", stdin="help me\n")
    slash = briefbot("--config", str(config), "chat", stdin="/help\n")
    assert words.returncode == 0, words.stderr
    assert "/subscribe" in words.stdout and words.stdout == slash.stdout


def test_run_without_a_token_falls_back_to_the_console_chat(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {ROOT / 'content'}\ndatabase: {tmp_path / 'db.sqlite3'}\n")
    result = briefbot("--config", str(config), "run", stdin="/latest\n")
    assert result.returncode == 0, result.stderr
    assert "console chat" in result.stderr
    assert "Russia" in result.stdout


def test_run_logs_each_skipped_content_file_once_with_why(content_dir: Path) -> None:
    """The running bot named no skipped file (only `check` did); `run` without a token, which
    falls back to the console chat, now says each one once, as check does."""
    (content_dir / "notes.docx").write_bytes(b"PK\x03\x04")
    config = content_dir.parent / "config.yaml"
    config.write_text("content_dir: content\n")
    result = briefbot("--config", str(config), "run", stdin="/latest\n")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "notes.docx" in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].endswith(
        "content: notes.docx: skipped: not an article; only .txt and .md files are read")
    assert "WARNING" in lines[0]


def test_an_unwritable_database_is_a_config_error_in_check_and_chat(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {ROOT / 'content'}\ndatabase: {blocker / 'db.sqlite3'}\n")
    check = briefbot("--config", str(config), "check")
    assert check.returncode == 2 and "database:" in check.stderr
    chat = briefbot("--config", str(config), "chat", stdin="/latest\n")
    assert chat.returncode == 2 and "database:" in chat.stderr
    assert "Traceback" not in chat.stderr


@pytest.mark.parametrize("database", ["data", "."])
def test_a_database_that_names_a_folder_is_a_config_error_in_check_too(
    tmp_path: Path, database: str
) -> None:
    """`database: data` (or `.`, the config's own folder) names a folder, which every other
    command refuses; check said "config: OK" and exited 0."""
    (tmp_path / "data").mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {ROOT / 'content'}\ndatabase: {database}\n")
    check = briefbot("--config", str(config), "check")
    assert check.returncode == 2, check.stdout
    assert "database:" in check.stderr and "is a folder" in check.stderr
    assert "OK" not in check.stdout
    chat = briefbot("--config", str(config), "chat", stdin="/latest\n")
    assert chat.returncode == 2 and "database:" in chat.stderr


def test_check_names_a_missing_content_folder_by_its_path(tmp_path: Path) -> None:
    """It said "content/content: error: the content folder does not exist", which reads as
    a folder inside the content folder."""
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: content\ndatabase: {tmp_path / 'db.sqlite3'}\n")
    check = briefbot("--config", str(config), "check")
    assert check.returncode == 1
    assert (f"{tmp_path / 'content'}: error: the content folder does not exist; create it or "
            "set content_dir") in check.stdout.splitlines()
    assert "content/content" not in check.stdout


def test_send_due_with_a_platform_down_exits_3_so_cron_runs_it_again(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "config.yaml"
    config.write_text(
        f"content_dir: {ROOT / 'content'}\ndatabase: {tmp_path / 'db.sqlite3'}\n"
        f"telegram:\n  base_url: http://127.0.0.1:{port}/bot\n"
        '  channels: [{chat_id: "@news", time: "07:30", timezone: Europe/Berlin}]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    env["TELEGRAM_BOT_TOKEN"] = "123456789:AAHunreachableunreachableunreach"
    result = subprocess.run(
        [sys.executable, "-m", "briefbot", "--config", str(config), "send-due",
         "--at", "2026-11-25T07:31:00+01:00"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert result.returncode == 3, result.stderr
    assert "stay due" in result.stderr
    assert "AAHunreachable" not in result.stdout + result.stderr


def test_send_due_without_any_token_exits_2_naming_the_variables(tmp_path: Path) -> None:
    """Cron would otherwise run it every 5 minutes, deliver nothing and see success."""
    config = tmp_path / "config.yaml"
    config.write_text(
        f"content_dir: {ROOT / 'content'}\ndatabase: {tmp_path / 'db.sqlite3'}\n"
        'telegram:\n  channels: [{chat_id: "@news", time: "07:30", timezone: Europe/Berlin}]\n'
    )
    result = briefbot("--config", str(config), "send-due", "--at", "2026-11-25T07:31:00+01:00")
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in result.stderr and "DISCORD_BOT_TOKEN" in result.stderr
    assert "briefbot.env" in result.stderr and "Traceback" not in result.stderr


def test_preview_into_a_closed_pipe_exits_quietly() -> None:
    """`briefbot preview | head`: the reader left; no BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte, every time
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "briefbot", "preview", "seed", "--platform", "telegram"],
            cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, env=env,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 0
    assert result.stderr == ""


def test_ctrl_d_in_the_console_chat_ends_the_prompt_line(tmp_path: Path) -> None:
    """In a terminal, Ctrl+D after `you> ` must leave the shell's next prompt on its own line."""
    import pty
    import select
    import time

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_BOT_TOKEN")}
    env["HOME"] = str(tmp_path)  # the console's history file goes here
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {ROOT / 'content'}\ndatabase: {tmp_path / 'db.sqlite3'}\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "briefbot", "--config", str(config), "chat"],
        stdin=slave, stdout=slave, stderr=subprocess.DEVNULL, env=env, close_fds=True,
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"you> " not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 1.0)[0]:
                seen += os.read(master, 4096)
        assert b"you> " in seen, seen
        os.write(master, b"\x04")
        assert process.wait(timeout=30) == 0
        with contextlib.suppress(OSError):  # EIO once the child closed the terminal
            while select.select([master], [], [], 0.5)[0]:
                chunk = os.read(master, 4096)
                if not chunk:
                    break
                seen += chunk
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert seen.endswith(b"you> \r\n"), seen[-40:]


def test_check_says_plainly_an_undated_article_never_goes_out_daily(content_dir: Path) -> None:
    (content_dir / "note.md").write_text(
        "---\ntitle: Undated note\n---\nThe council met on Tuesday to talk about the bridge.\n")
    config = content_dir.parent / "config.yaml"
    config.write_text("content_dir: content\n")
    check = briefbot("--config", str(config), "check")
    assert check.returncode == 1
    assert "note.md: no date, so daily briefings will never send it" in check.stdout


def test_check_names_each_file_it_skips_and_reads_an_upper_case_extension(
    content_dir: Path,
) -> None:
    """A Story.TXT or a notes.docx dropped into the folder never showed, and check said
    nothing about either."""
    (content_dir / "Story.TXT").write_text(
        "UPPER CASE STORY\n- Ana\n- March 9, 2026\n\nThe ferry ran late.\n")
    (content_dir / "notes.docx").write_bytes(b"PK\x03\x04")
    (content_dir / ".hidden.txt~").write_text("an editor's backup")
    config = content_dir.parent / "config.yaml"
    config.write_text("content_dir: content\n")
    check = briefbot("--config", str(config), "check")
    assert check.returncode == 0, check.stdout  # a skipped file is not a broken article
    assert ("content/notes.docx: skipped: not an article; only .txt and .md files are read"
            in check.stdout.splitlines())
    assert "3 articles loaded" in check.stdout and "1 file skipped" in check.stdout
    assert "hidden" not in check.stdout
    preview = briefbot("--config", str(config), "preview", "Story")
    assert preview.returncode == 0 and "Upper case story" in preview.stdout


def test_check_warns_about_a_date_far_ahead_naming_the_file_and_the_date(
    content_dir: Path,
) -> None:
    (content_dir / "typo.md").write_text("---\ntitle: Typo\ndate: 9999-12-31\n---\nBody.\n")
    config = content_dir.parent / "config.yaml"
    config.write_text("content_dir: content\n")
    check = briefbot("--config", str(config), "check")
    assert check.returncode == 1  # a warning, as for an unreadable date
    assert ("content/typo.md: warning: the date 9999-12-31 is more than a day ahead, so this "
            "article is the newest until then; fix the date if it is a typo"
            in check.stdout.splitlines())
    assert "3 articles loaded" in check.stdout


def test_ask_with_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = briefbot("ask", "--content", str(tmp_path / "nowhere"), "--json", "who?")
    assert result.returncode == 2
    assert "no article folder" in result.stderr and result.stdout == ""


def test_check_lists_a_second_name_for_one_article_file_as_skipped(content_dir: Path) -> None:
    """A link to an article in the same folder was served as a second article; check now names
    it among the skipped files, with which file it is, and exits 0 (nothing is broken)."""
    (content_dir / "harbour-alias.txt").symlink_to("harbour.txt")
    config = content_dir.parent / "config.yaml"
    config.write_text("content_dir: content\n")
    check = briefbot("--config", str(config), "check")
    assert check.returncode == 0, check.stdout
    assert ("content/harbour-alias.txt: skipped: same file as harbour.txt; a file is read once, "
            "under one name" in check.stdout.splitlines())
    assert "2 articles loaded" in check.stdout and "1 file skipped" in check.stdout


def test_check_names_a_symlink_out_of_the_folder_and_no_command_serves_it(
    content_dir: Path,
) -> None:
    outside = content_dir.parent / "secret.txt"
    outside.write_text("SECRET\n- Ana\n- March 9, 2026\n\nThe vault code is 4711.\n")
    (content_dir / "passwd.txt").symlink_to(outside)
    os.mkfifo(content_dir / "pipe.md")
    config = content_dir.parent / "config.yaml"
    config.write_text("content_dir: content\n")

    check = briefbot("--config", str(config), "check")
    assert check.returncode == 1
    assert f"content/passwd.txt: error: is a symlink to {outside.resolve()}, outside the " \
        "content folder; it is not served" in check.stdout
    assert "content/pipe.md: error: is a named pipe (FIFO)" in check.stdout
    assert "2 articles loaded" in check.stdout

    preview = briefbot("--config", str(config), "preview", "passwd")
    assert preview.returncode == 2 and "no article 'passwd'" in preview.stderr
    ask = briefbot("ask", "--content", str(content_dir), "--article", "passwd", "what is the code?")
    assert ask.returncode == 2 and "4711" not in ask.stdout + ask.stderr


def test_a_token_pasted_into_the_wrong_key_is_not_printed_back(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("timezone: '123456789:AAHfakefakefakefakefakefakefake12'\n")
    result = briefbot("--config", str(config), "check")
    assert result.returncode == 2
    assert "timezone:" in result.stderr and "AAHfake" not in result.stderr


def test_fetch_with_no_feeds_configured_is_not_an_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("content_dir: content\ndatabase: data/b.sqlite3\n")
    (tmp_path / "content").mkdir()
    result = briefbot("--config", str(config), "fetch")
    assert result.returncode == 0, result.stderr
    assert "no feeds" in result.stdout


def test_preview_of_an_unknown_article_is_a_usage_error_like_ask(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"content_dir: {ROOT / 'content'}\n")
    result = briefbot("--config", str(config), "preview", "nope")
    assert result.returncode == 2
    assert "no article 'nope' (known: seed" in result.stderr


def test_a_bare_city_as_time_zone_gets_the_iana_name_suggested(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("timezone: Berlin\n")
    result = briefbot("--config", str(config), "check")
    assert result.returncode == 2 and "like Europe/Berlin" in result.stderr
    config.write_text("timezone: Tokyo\n")
    assert "like Asia/Tokyo" in briefbot("--config", str(config), "check").stderr


def test_chat_outside_a_project_folder_leaves_no_data_folder_behind(tmp_path: Path) -> None:
    """With no config.yaml the database goes to the user's state folder, not ./data/."""
    home = tmp_path / "home"
    work = tmp_path / "elsewhere"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_BOT_TOKEN") and k != "XDG_STATE_HOME"}
    env["HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT / "src")
    result = subprocess.run([sys.executable, "-m", "briefbot", "chat"], cwd=work, input="/help\n",
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert not (work / "data").exists()
    assert (home / ".local" / "state" / "briefbot" / "briefbot.sqlite3").exists()


def test_ask_with_an_empty_question_is_a_usage_error() -> None:
    result = briefbot("ask", "--article", "seed", "")
    assert result.returncode == 2 and "empty question" in result.stderr


def test_an_unquoted_question_gets_a_hint_to_quote_it() -> None:
    """`ask who was at the talks?` asked five one-word questions and answered "was", "at" and
    "the" with "the article doesn't say", with no word on why."""
    result = briefbot("ask", "--article", "seed", "who", "was", "at", "the", "talks?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Q: ") == 5  # each argument is still one question
    assert 'asked 5 one-word questions; to ask one, quote it: ask "who was at the talks?"' in (
        result.stderr)
    quoted = briefbot("ask", "--article", "seed", "who?", "when?")
    assert "quote it" not in quoted.stderr
