"""The `billing-bot` command: answers the same way as the Slack app, without Slack.

Heavy imports (Slack, SQLite, uvicorn) stay inside the commands that need them, so
`billing-bot ask` starts fast.
"""

from __future__ import annotations

import gc
import sys
import time
from datetime import date
from typing import ClassVar

import click

from bot import __version__, render


class ConfigProblem(click.ClickException):
    """A setting to fix (environment or .env): like bad usage, exit status 2."""

    exit_code = 2


class _Ctx:
    """Settings and the answerer, built once per command run and only when needed."""

    def __init__(self):
        self._settings = None
        self._answerer = None
        self._log = None
        self.logging = False

    def log(self, answer, surface: str, latency_ms: float) -> None:
        """Record the question in the query log (off the answer path: a background writer)."""
        if not self.logging:
            return
        from bot.storage.querylog import QueryRecord

        self.querylog().record_query(QueryRecord.from_answer(answer, surface=surface, latency_ms=latency_ms))

    def querylog(self):
        """The SQLite file's writer (query log, follow-up state), started on first use."""
        if self._log is None:
            from bot.config import prepare_db_folder
            from bot.storage.querylog import QueryLog

            s = self.settings
            prepare_db_folder(s)
            # A short busy timeout and no state to load: a locked file costs the command nothing.
            self._log = QueryLog(
                s.db_path, store_text=s.store_text, purge_days=s.purge_days, busy_timeout=0.25
            ).start(load_state=False)
        return self._log

    def close(self) -> None:
        """Drain the query log before the process ends. If the database can't be written, give up
        at once: the answer is already printed, and `close` warns (once) what was lost."""
        if self._log is not None:
            self._log.close(timeout=5, wait_for_disk=False)
            self._log = None

    @property
    def settings(self):
        if self._settings is None:
            from bot.config import load_settings

            try:
                self._settings = load_settings()
            except ValueError as exc:
                raise ConfigProblem(str(exc)) from None
        return self._settings

    def answerer(self, rule: str | None = None):
        if self._answerer is None:
            from bot.core.answer import Answerer
            from bot.core.errors import BillingBotError

            try:
                kind = _with_overlay(Answerer, self.settings.db_path)
                self._answerer = kind.from_knowledge(default_rule=rule or self.settings.rule)
            except BillingBotError as exc:
                raise click.ClickException(str(exc)) from None
        return self._answerer


def _with_overlay(answerer_class, db_path):
    """The reviewers' overlay (links, approved entries and edits, verifications) applied, as
    the Slack app applies it: `review link` / `approve` say "it answers from now on", and
    `ask` must agree. The matcher is only built (and the database only read) on the first
    question that needs it; a missing database is no overlay."""
    from pathlib import Path

    if not Path(db_path).exists():
        return answerer_class

    class _Overlaid(answerer_class):
        @property
        def matcher(self):
            matcher = super().matcher
            if not getattr(self, "_overlay_applied", False):
                self._overlay_applied = True
                from bot.storage.overlay import apply_overlay

                apply_overlay(db_path, matcher)
            return matcher

    return _Overlaid


pass_ctx = click.make_pass_decorator(_Ctx, ensure=True)


class _LazyGroup(click.Group):
    """Loads the `log` and `review` commands (bot/cli_log.py, which needs SQLite) only when used,
    so `billing-bot ask` doesn't pay for importing them."""

    lazy: ClassVar[dict[str, str]] = {"log": "log_group", "review": "review_group"}

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx, name):
        if name in self.lazy:
            from bot.cli import log_commands as cli_log

            return getattr(cli_log, self.lazy[name])
        return super().get_command(ctx, name)


def _db_help() -> str:
    from bot.config import default_db_path

    return str(default_db_path())


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="\b\nQuestions are logged (redacted) to BILLING_BOT_DB, by default\n"
                    f"  {_db_help()}\n"
                    "Exit status: 0 answered, 2 bad usage or settings (an unknown option, id or\n"
                    "token), 1 a failure of the program (Slack unreachable, a bad knowledge base).")
@click.version_option(__version__, prog_name="billing-bot")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              envvar="BILLING_BOT_LOG_LEVEL", help="Default: info for serve, warning otherwise "
              "(env BILLING_BOT_LOG_LEVEL).")
@click.option("--log-format", type=click.Choice(["text", "json"], case_sensitive=False),
              envvar="BILLING_BOT_LOG_FORMAT", default="text", show_default=True,
              help="json: one object a line, for log shippers (env BILLING_BOT_LOG_FORMAT).")
@click.pass_context
def cli(ctx, log_level: str | None, log_format: str):
    """billing-bot: 15-minute billing units and massage-therapy billing questions.

    \b
    Examples:
      billing-bot ask "40 min 97140"
      billing-bot ask --json "25 min manual therapy + 20 min NMR"
      billing-bot ask --json - < notes.txt
      billing-bot codes
    """
    from bot.logsetup import configure

    service = ctx.invoked_subcommand in ("serve", "run")
    configure((log_level or ("info" if service else "warning")).lower(), log_format.lower(), service=service)


class _MessageCommand(click.Command):
    """`ask "-10 min 97124"`: a word starting with '-' and a digit is message text, not an
    option (there are no numeric options). Options may come before or after the message."""

    def parse_args(self, ctx, args):
        for i, arg in enumerate(args):
            if arg == "--":
                break
            if len(arg) > 1 and arg[0] == "-" and (arg[1].isdigit() or arg[1] in ".$"):
                args = [*args[:i], "--", *args[i:]]
                break
        return super().parse_args(ctx, args)


def _check_rule(ctx, param, value):
    if value is None:
        return None
    from bot.core.codes import load_rule_book

    book = load_rule_book()
    rule = book.get(value)
    if rule is None:
        raise click.BadParameter(f"unknown rule {value!r}; choose one of: {', '.join(book.names())}")
    return rule.name


@cli.command(cls=_MessageCommand)
@click.argument("message", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.option("--rule", callback=_check_rule, metavar="cms|ama|NAME",
              help="Unit rule or payer profile (default: BILLING_BOT_RULE or cms).")
@click.option("--log/--no-log", "log", default=None,
              help="Log the questions to the query log. Default: yes for a message or the chat "
                   "(unless BILLING_BOT_LOG_CLI=0), no for a batch from standard input.")
@pass_ctx
def ask(obj: _Ctx, message: tuple[str, ...], as_json: bool, rule: str | None, log: bool | None):
    """Answer a message: a unit sum or a billing question.

    With `-` as the message, answer each line of standard input (one output line per input
    line). With no message and a terminal, open a small chat.

    A batch is a check of a file of notes: it is not logged unless you pass --log.

    \b
    Examples:
      billing-bot ask "40 min 97140"
      billing-bot ask "1h15 97124" --rule ama
      billing-bot ask "can I bill 97124 and 97140 together?"
      billing-bot ask -- "-10 min 97124"
      printf '40 min 97140\\n97010\\n' | billing-bot ask --json -
    """
    batch = message == ("-",) or (not message and not sys.stdin.isatty())
    obj.logging = (not batch and obj.settings.log_cli) if log is None else log
    if not obj.logging:
        obj.answerer(rule).logged_note = ""  # a decline must not promise that the question was logged
    collecting = gc.isenabled()
    try:
        if batch:
            _batch(obj, as_json, rule)
        elif not message:
            _chat(obj, rule)
        else:
            # One answer: the cyclic garbage collector would walk the FAQ index's ~150,000 just-loaded
            # objects again at each full pass (as the query log's imports allocate) to find the
            # little cyclic garbage one answer leaves; reference counting frees the rest as usual.
            gc.disable()
            answer = _answer(obj, " ".join(message), rule, surface="cli")
            click.echo(_render(answer, as_json))
    finally:
        obj.close()
        if collecting:
            gc.enable()


def _answer(obj: _Ctx, text: str, rule: str | None, surface: str, conversation=None):
    """One answer, logged. `conversation` is (store, key) in the chat: the message may follow up."""
    answerer = obj.answerer(rule)
    started = time.perf_counter()
    if conversation is None:
        answer = answerer.answer(text, rule=rule)
    else:
        store, key = conversation
        answer = answerer.answer(text, rule=rule, previous=store.get(key), conversation=True)
        if answer.state is not None:
            store.put(key, answer.state)
    obj.log(answer, surface, (time.perf_counter() - started) * 1000)
    return answer


def _render(answer, as_json: bool, one_line: bool = False) -> str:
    if as_json:
        return render.to_json(answer)
    text = render.to_text(answer)
    return " | ".join(line.strip() for line in text.splitlines() if line.strip()) if one_line else text


def _batch(obj: _Ctx, as_json: bool, rule: str | None) -> None:
    """One answer line per input line, whatever the line holds (blank -> help, undecodable -> error)."""
    from bot.cli.batch import answer_stream

    obj.answerer(rule)  # load before any worker is forked

    def write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def answer_line(text: str) -> str:
        return _render(_answer(obj, text, rule, surface="cli"), as_json, one_line=True)

    answer_stream(sys.stdin.fileno(), write, answer_line, parallel=not obj.logging)


def _banner(obj: _Ctx) -> str:
    """Why this is a local chat and how to connect; what happens to what's typed."""
    s = obj.settings
    why = ("no Slack tokens are set (SLACK_BOT_TOKEN is empty)" if not s.slack_configured
           else "`billing-bot ask` always answers here")
    logged = (f"Questions are logged, redacted, to {s.db_path}." if obj.logging
              else "Questions are not logged.")
    return (
        f"billing-bot {__version__}: a local chat in this terminal, not Slack: {why}.\n"
        "To connect to Slack, see \"Connect to Slack\" in README.md, then `make run`.\n"
        f"{logged} Type a question or `help`; Up/Down recall earlier lines; Ctrl-D to quit."
    )


def _chat(obj: _Ctx, rule: str | None) -> None:
    """The terminal chat: one conversation, so "what about ama?" follows up the last units answer."""
    import os

    from bot.storage.conversations import Conversations

    try:
        import readline  # noqa: F401 - input() gets line editing and history where available
    except ImportError:
        pass
    answerer = obj.answerer(rule)
    conversation = (Conversations(obj.querylog(), store_text=obj.settings.store_text),
                    f"cli:{os.getpid()}:{time.time_ns()}")
    click.echo(_banner(obj))
    click.echo(f"Default rule: {answerer.resolve_rule(rule).title}.")
    while True:
        try:
            text = input("you> ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not text.strip():
            continue  # an empty Enter answers nothing
        if text.strip().lower() in ("quit", "exit", ":q"):
            return
        click.echo(_render(_answer(obj, text, rule, surface="cli", conversation=conversation), False))
        click.echo()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def codes(as_json: bool):
    """List the code table: timed or untimed, names therapists use, retired codes.

    \b
    Example:
      billing-bot codes
    """
    import json
    from dataclasses import asdict

    from bot.core.codes import load_code_table

    table = load_code_table()
    if as_json:
        click.echo(json.dumps({
            "codes": [asdict(c) for c in table.codes.values()],
            "retired": [asdict(r) for r in table.retired.values()],
        }, indent=2))
        return
    for c in table.codes.values():
        kind = "timed  " if c.timed else "untimed"
        names = f"  ({', '.join(c.aliases[:4])})" if c.aliases else ""
        click.echo(f"{c.code}  {kind}  {c.name}{names}")
    click.echo("\nNot current codes (deleted, or never a CPT code), and what to use instead:")
    for r in table.retired.values():
        click.echo(f"{r.code}  -> {', '.join(r.replacements)}: {r.note}")
    click.echo("\nCPT codes are maintained by the AMA; the names above are our own plain-language summaries.")


@cli.group()
def kb():
    """Knowledge-base tools."""


@kb.command("check")
def kb_check():
    """Validate knowledge/: schema, duplicate keys, ids and phrasings, dates, unknown codes.

    Exits 1 when there is any problem (the program's own data is broken), printing each as
    file:line: message.

    \b
    Example:
      billing-bot kb check
    """
    from bot.core.asked import check_asked
    from bot.core.codes import KNOWLEDGE_DIR, load_code_table
    from bot.core.errors import KnowledgeError
    from bot.core.kb import check_duplicate_keys, check_kb, check_phrasings, load_kb
    from bot.core.schema import check_tables

    problems: list = [
        p for path in sorted(KNOWLEDGE_DIR.rglob("*.yaml")) for p in check_duplicate_keys(path)
    ] + check_tables(KNOWLEDGE_DIR)
    if not problems:
        try:
            table = load_code_table()
        except KnowledgeError as exc:
            problems.append(str(exc))
        else:
            problems += check_kb(KNOWLEDGE_DIR / "faq", known_codes=table.known, today=date.today())
            if not problems:
                ids = [e.id for e in load_kb(KNOWLEDGE_DIR / "faq", known_codes=table.known).entries]
                problems += check_phrasings(KNOWLEDGE_DIR / "phrasings.yaml", ids)
                problems += check_asked(KNOWLEDGE_DIR / "asked", ids)
    for p in problems:
        click.echo(str(p))
    if problems:
        click.echo(f"{len(problems)} problem(s).", err=True)
        sys.exit(1)
    click.echo("knowledge base OK")


@cli.command()
@click.option("--http", "force_http", is_flag=True, help="Use HTTP even when SLACK_APP_TOKEN is set.")
@click.option("--port", type=int, default=None, help="HTTP port (default: PORT or 3000).")
@pass_ctx
def serve(obj: _Ctx, force_http: bool, port: int | None):
    """Run the Slack app: Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP.

    \b
    Examples:
      billing-bot serve            # Socket Mode with SLACK_APP_TOKEN, else HTTP on :3000
      billing-bot serve --http --port 8080
    """
    from bot.slack.serve import ConfigError, SlackUnreachable, run_server

    try:
        code = run_server(obj.settings, force_http=force_http, port=port)
    except ConfigError as exc:
        raise ConfigProblem(f"{exc} (see \"Connect to Slack\" in README.md)") from None
    except SlackUnreachable as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code or 0)


@cli.command()
@click.pass_context
def run(ctx):
    """Start the bot: the Slack app when tokens are configured, otherwise the local chat.

    Any Slack setting present means Slack was meant: a partial configuration is an error
    that says what each mode still needs, not a silent chat. With standard input from a
    pipe (and no Slack settings), answers each line and exits.

    \b
    Example:
      printf '40 min 97140\\n' | billing-bot run
    """
    obj = ctx.ensure_object(_Ctx)
    s = obj.settings
    if s.slack_bot_token or s.slack_app_token or s.slack_signing_secret:
        ctx.invoke(serve)
    else:
        ctx.invoke(ask)


def main() -> None:
    cli(prog_name="billing-bot")
