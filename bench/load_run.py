"""The load run: mail over SMTP, live chats and social deliveries, all at the same time,
through one local stack; afterwards, every message must be in exactly one ticket and
nothing may sit in a dead-letter queue.

Full size (the issue's): 10,000 mails, 1,000 chats, 5,000 social deliveries with 10%
duplicates. `scale` shrinks all three together (0.05 is 500 / 50 / 250), because on a
laptop the embedded AWS (moto) is the bottleneck, not Helpline: the figures are those
of the local stack, a floor for what Lambda and DynamoDB do, not a forecast of them.

`python -m bench --only load` (a twentieth of the full size), `python -m bench --only load --long` (full).
"""

from __future__ import annotations

import asyncio
import json
import random
import smtplib
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from bench.chat_load import LocalStack, machine, open_config, summary_ms
from bench.social_cost import PLATFORMS, post_http, signed_post, stack_tickets

FULL = {"mails": 10_000, "chats": 1_000, "social": 5_000}
# a loaded stack answers slowly: no client-side keepalive deadline may close a chat that
# is only waiting (a browser's WebSocket has none either)
OPEN_KWARGS: dict[str, Any] = {"open_timeout": 120, "ping_interval": None, "max_size": 2**20}
DUPLICATE_SHARE = 0.10


class LoadMismatchError(AssertionError):
    """Something was lost, doubled or dead-lettered under load."""


def _mails(stack: LocalStack, count: int, latencies: list[float], deadline: float) -> int:
    info = stack.info
    sent = 0
    with smtplib.SMTP(info["smtp_host"], info["smtp_port"], timeout=60) as smtp:
        for n in range(count):
            if time.monotonic() > deadline:
                break
            mail = EmailMessage()
            mail["From"] = f"load{n}@customers.example"
            mail["To"] = info["support_address"]
            mail["Subject"] = f"load mail {n}"
            mail["Message-ID"] = make_msgid(domain="customers.example")
            mail.set_content(f"Hello, this is load mail number {n}; my order has not arrived yet.")
            started = time.monotonic()
            smtp.send_message(mail)
            latencies.append(time.monotonic() - started)
            sent += 1
    return sent


def _social(
    stack: LocalStack, count: int, latencies: list[float], deadline: float
) -> tuple[int, int]:
    secrets = {
        k: stack.info[k] for k in ("meta_app_secret", "telegram_secret_token", "x_consumer_secret")
    }
    posts = [
        signed_post(PLATFORMS[n % len(PLATFORMS)], 900_000 + n, f"load-{n}", secrets)
        for n in range(count)
    ]
    rng = random.Random(7)
    duplicates = rng.sample(posts, int(len(posts) * DUPLICATE_SHARE))
    plan = posts + duplicates
    rng.shuffle(plan)
    failures = 0
    base = stack.info["http_url"]

    def one(post: Any) -> None:
        nonlocal failures
        if time.monotonic() > deadline:
            return
        status, _, seconds = post_http(base, post)
        latencies.append(seconds)
        if status != 200:
            failures += 1

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, plan))
    return len(posts), failures


@dataclass
class ChatTally:
    """What the chat clients saw: acks, the waits, and every reconnect by its cause."""

    acked: int = 0
    latencies: list[float] = field(default_factory=list)  # the first send until the ack
    waits: list[float] = field(default_factory=list)  # the chat's start until the ack
    retries: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # a chat that gave up on an error
    sessions_lost: int = 0  # a resume that got another session (a second ticket)

    def count(self, kind: dict[str, int], error: BaseException) -> None:
        name = type(error).__name__
        kind[name] = kind.get(name, 0) + 1


async def _chats(stack: LocalStack, count: int, deadline: float, tally: ChatTally) -> None:
    """Each chat behaves as the widget does: a session (resumed with its token after a
    failure), a socket, `hello`, the message; when the session request or the socket
    fails, it reconnects with backoff and resends the message with the same `client_id`
    (stored once). Unlike the widget it waits for the ack as long as its socket is open:
    the widget reconnects after 15 s without one, which on a laptop stack whose acks
    queue for minutes would multiply the load it measures."""
    import http.client

    import websockets

    rng = random.Random(11)
    # what a loaded stack or a dropped connection can raise; anything else is a bug
    reconnect_on = (OSError, TimeoutError, http.client.HTTPException, websockets.WebSocketException)

    async def one(n: int) -> None:
        client_id = f"c{n}"
        message = json.dumps(
            {
                "action": "message",
                "text": f"load chat {n}: my invoice is wrong",
                "client_id": client_id,
            }
        )
        token: str | None = None
        session_id: str | None = None
        begun = time.monotonic()  # the customer writes at once; it goes out once connected
        sent: float | None = None
        backoff = 0.5  # the widget's: 0.5 s doubling to 30 s, reset once connected
        while time.monotonic() < deadline:
            try:
                # every chat is open at once, as the 1,000 concurrent chats are
                session = await asyncio.to_thread(
                    stack.post_json,
                    "/chat/session",
                    {"locale": "en-GB", **({"token": token} if token else {})},
                )
                if session_id and session["session_id"] != session_id:
                    tally.sessions_lost += 1
                token, session_id = session["token"], session["session_id"]
                async with websockets.connect(
                    session["ws_url"] + "?token=" + session["token"], **OPEN_KWARGS
                ) as socket:
                    backoff = 0.5
                    await socket.send(json.dumps({"action": "hello", "locale": "en-GB"}))
                    sent = sent or time.monotonic()
                    await socket.send(message)
                    while True:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return
                        frame = json.loads(await asyncio.wait_for(socket.recv(), left))
                        if frame.get("type") == "ack" and frame.get("client_id") == client_id:
                            now = time.monotonic()
                            tally.latencies.append(now - sent)
                            tally.waits.append(now - begun)
                            tally.acked += 1
                            return
            except reconnect_on as error:
                if time.monotonic() >= deadline:
                    return
                tally.count(tally.retries, error)
                pause = backoff / 2 + rng.random() * backoff / 2
                await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                backoff = min(30.0, backoff * 2)

    outcomes = await asyncio.gather(*(one(n) for n in range(count)), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            tally.count(tally.errors, outcome)


def _dead_letters(stack: LocalStack) -> dict[str, int]:
    import boto3

    from infra.local.state import local_aws_environment

    info = stack.info
    env = local_aws_environment(info["aws_endpoint"], info["region"])
    sqs = boto3.session.Session().client(
        "sqs",
        endpoint_url=info["aws_endpoint"],
        region_name=info["region"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    counts = {}
    for url in sqs.list_queues().get("QueueUrls", []):
        if url.endswith("-dlq"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            counts[url.rsplit("/", 1)[1]] = int(
                attributes["Attributes"]["ApproximateNumberOfMessages"]
            )
    return counts


def run(
    *, scale: float = 1.0, timeout: float = 3600.0, sizes: dict[str, int] | None = None
) -> dict[str, Any]:
    """`sizes` (mails, chats, social) instead of `scale` runs one channel's share alone."""
    chosen = sizes is not None
    sizes = sizes or {name: max(1, int(count * scale)) for name, count in FULL.items()}
    _allow_sockets(sizes["chats"])
    with tempfile.TemporaryDirectory(prefix="helpline-load-") as folder:
        config = open_config(
            Path(folder) / "config",
            agents=20,
            max_chats=max(10, sizes["chats"] // 20 + 1),
            actions_per_second=100,
        )
        with LocalStack(config, Path(folder) / "state") as stack:
            deadline = time.monotonic() + timeout
            latencies: dict[str, list[float]] = {
                "email": [],
                "chat": [],
                "chat_wait": [],
                "social": [],
            }
            results: dict[str, Any] = {}
            agents_ready = threading.Event()

            def agents() -> None:
                asyncio.run(_agents_online(stack, 20, agents_ready, deadline))

            threading.Thread(target=agents, daemon=True).start()
            if not agents_ready.wait(timeout=120):
                raise LoadMismatchError("the bench agents did not come online within 120 s")
            started = time.monotonic()
            cpu_before = stack.cpu_seconds()

            def mails() -> None:
                results["mails_sent"] = _mails(stack, sizes["mails"], latencies["email"], deadline)

            def social() -> None:
                results["social_distinct"], results["social_refused"] = _social(
                    stack, sizes["social"], latencies["social"], deadline
                )

            tally = ChatTally(latencies=latencies["chat"], waits=latencies["chat_wait"])

            def chats() -> None:
                asyncio.run(_chats(stack, sizes["chats"], deadline, tally))

            threads = [threading.Thread(target=job) for job in (mails, social, chats)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=timeout)
            sent_at = time.monotonic()
            results.update(
                chats_acked=tally.acked,
                chat_retries=tally.retries,
                chat_errors=tally.errors,
                chat_sessions_lost=tally.sessions_lost,
            )
            expected = (
                results.get("mails_sent", 0)
                + results.get("social_distinct", 0)
                + results.get("chats_acked", 0)
            )
            tickets: list[dict[str, Any]] = []
            # reading every ticket costs the stack about a second per 5,000 (moto's
            # serializer): the full run polls less often, so the count does not slow
            # the processing it waits for
            pause = max(5.0, expected / 500)
            while True:  # mail is processed asynchronously, as SES -> SNS -> Lambda
                tickets = stack_tickets(stack)  # read once even when the deadline has passed
                if len(tickets) >= expected or time.monotonic() >= deadline:
                    break
                time.sleep(pause)
            elapsed = time.monotonic() - started
            cpu = stack.cpu_seconds() - cpu_before
            by_channel: dict[str, int] = {}
            doubled = 0
            for ticket in tickets:
                by_channel[ticket["channel"]] = by_channel.get(ticket["channel"], 0) + 1
                doubled += ticket["messages"] != 1
            dead = _dead_letters(stack)
            stack_log = stack.log_tail()
    social_tickets = sum(by_channel.get(p, 0) for p in PLATFORMS)
    problems = []
    if by_channel.get("email", 0) != results.get("mails_sent", 0):
        problems.append(
            f"{results.get('mails_sent')} mails sent, {by_channel.get('email', 0)} email tickets"
        )
    if social_tickets != results.get("social_distinct", 0):
        problems.append(
            f"{results.get('social_distinct')} social messages, {social_tickets} tickets"
        )
    if by_channel.get("chat", 0) != results.get("chats_acked", 0):
        problems.append(
            f"{results.get('chats_acked')} chats acknowledged, {by_channel.get('chat', 0)} tickets"
            f" (client retries: {results.get('chat_retries') or 'none'})"
        )
    if results.get("chat_errors"):
        problems.append(f"chat clients failed: {results['chat_errors']}")
    if results.get("chat_sessions_lost"):
        problems.append(f"{results['chat_sessions_lost']} chat resumes got another session")
    if doubled:
        problems.append(f"{doubled} tickets hold other than one message")
    if any(dead.values()):
        problems.append(f"dead letters: {dead}")
    result = {
        "machine": machine(),
        "scale": scale,
        "sizes": sizes,
        "chosen_sizes": chosen,
        "results": results,
        "tickets_by_channel": by_channel,
        "dead_letters": dead,
        "elapsed_seconds": round(elapsed, 1),
        "sending_seconds": round(sent_at - started, 1),
        "stack_cpu_seconds": round(cpu, 1),
        "latency": {name: summary_ms(values) for name, values in latencies.items() if values},
        "problems": problems,
    }
    if problems:
        raise LoadMismatchError(
            "; ".join(problems)
            + f"\n{json.dumps(result, indent=2)}\nthe stack's last lines:\n{stack_log}"
        )
    return result


def _allow_sockets(chats: int) -> None:
    """Each open chat holds a socket in this process and one in the stack's (a child,
    which inherits the limit): raise the soft limit on open files as far as allowed."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, 4 * chats + 1024)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def _agents_online(
    stack: LocalStack, count: int, ready: threading.Event, deadline: float
) -> None:
    """Agents who take every chat they are given (the chats' acks are what is measured)."""
    import websockets

    sockets = []
    for n in range(count):
        signed = await asyncio.to_thread(
            stack.post_json, "/api/agents/token", {"email": f"bench{n:03d}@helpline.test"}
        )
        socket = await websockets.connect(
            signed["ws_url"] + "?agent_token=" + signed["token"], **OPEN_KWARGS
        )
        await socket.send(json.dumps({"action": "status", "status": "online"}))
        sockets.append(socket)
    ready.set()

    async def drain(socket: Any) -> None:
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(socket.recv(), 30)
            except TimeoutError:
                continue
            except Exception:
                return

    await asyncio.gather(*(drain(s) for s in sockets), return_exceptions=True)


# The default run (scale 0.05) with the functions inside the stack's own process, as the
# local stack ran them until issue 15: `python -m bench --only load` at commit 7975ff4,
# 2026-12-08 01:11 UTC, on the machine the figures after it come from.
IN_PROCESS = {
    "commit": "7975ff4",
    "measured": "2026-12-08 01:11 UTC",
    "sizes": {"mails": 500, "chats": 50, "social": 250},
    "throughput": {"email": 5.6, "chat": 0.6, "social": 2.8},
    "p50_ms": {"email": 157, "chat": 13888, "social": 1616},
    "p99_ms": {"email": 601, "chat": 18921, "social": 5539},
    "elapsed_seconds": 98,
    "stack_cpu_seconds": 102,
}


def before_after(result: dict[str, Any]) -> list[str]:
    """The in-process run next to this one, when the sizes are the same."""
    before = IN_PROCESS
    if result["sizes"] != before["sizes"]:
        return []
    sending = max(result["sending_seconds"], 0.001)
    sent = {
        "email": result["results"].get("mails_sent", 0),
        "chat": result["results"].get("chats_acked", 0),
        "social": result["results"].get("social_distinct", 0),
    }
    lines = [
        "",
        "### Before and after the functions left the stack's process",
        "",
        "Until issue 15 the local stack ran the functions' source tree inside its own process;",
        "now each runs from its packaged zip in worker processes of its own, so the stack uses",
        f"both cores. The same run, measured at commit {before['commit']} ({before['measured']})",
        "and now:",
        "",
        "| | in the stack's process | packaged, own processes | after / before |",
        "|---|---:|---:|---:|",
    ]
    for channel in ("email", "chat", "social"):
        old = before["throughput"][channel]
        new = sent[channel] / sending
        lines.append(f"| {channel} throughput /s | {old:.1f} | {new:.1f} | {new / old:.2f}x |")
        for mark in ("p50_ms", "p99_ms"):
            old_ms = before[mark][channel]
            new_ms = result["latency"].get(channel, {}).get(mark, 0)
            label = mark.replace("_ms", "")
            lines.append(
                f"| {channel} {label} ms | {old_ms:,.0f} | {new_ms:,.0f} | {new_ms / old_ms:.2f}x |"
            )
    lines += [
        f"| every ticket in the table after | {before['elapsed_seconds']} s | "
        f"{result['elapsed_seconds']:.0f} s | "
        f"{result['elapsed_seconds'] / before['elapsed_seconds']:.2f}x |",
        f"| the stack's CPU | {before['stack_cpu_seconds']} s | {result['stack_cpu_seconds']:.0f} s | "
        f"{result['stack_cpu_seconds'] / before['stack_cpu_seconds']:.2f}x |",
    ]
    return lines


def markdown(result: dict[str, Any]) -> str:
    sizes, results = result["sizes"], result["results"]
    full = sizes == FULL
    if result.get("chosen_sizes"):
        command = "python -m bench.load_run " + " ".join(f"--{k} {v}" for k, v in sizes.items())
        size = "chosen sizes of the full run"
    else:
        command = "python -m bench --only load" + (" --long" if full else "")
        size = "the full run" if full else f"scale {result['scale']:g} of the full run"
    lines = [
        "## Load: mail, chat and social at the same time, through the local stack",
        "",
        f"`{command}` (bench/load_run.py), {size} "
        f"({FULL['mails']:,} mails over SMTP, {FULL['chats']:,} chats, {FULL['social']:,} social deliveries "
        f"with {DUPLICATE_SHARE:.0%} duplicates): {sizes['mails']:,} / {sizes['chats']:,} / {sizes['social']:,}, "
        f"all started together (every chat open at once) on {result['machine']}.",
        "",
        "| channel | sent | tickets | throughput /s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    by_channel = result["tickets_by_channel"]
    social = sum(v for k, v in by_channel.items() if k not in ("email", "chat"))
    sending = max(result["sending_seconds"], 0.001)
    rows = [
        (
            "email (SMTP accepted)",
            results.get("mails_sent", 0),
            by_channel.get("email", 0),
            "email",
        ),
        ("chat (message to ack)", results.get("chats_acked", 0), by_channel.get("chat", 0), "chat"),
        ("social (webhook answered)", results.get("social_distinct", 0), social, "social"),
    ]
    for name, sent, tickets, key in rows:
        latency = result["latency"].get(key, {})
        lines.append(
            f"| {name} | {sent:,} | {tickets:,} | {sent / sending:.1f} | "
            f"{latency.get('p50_ms', 0):.0f} | {latency.get('p99_ms', 0):.0f} |"
        )
    retries = results.get("chat_retries") or {}
    kinds = ", ".join(f"{n:,} {name}" for name, n in sorted(retries.items())) or "none"
    wait = result["latency"].get("chat_wait", {})
    lines += [
        "",
        f"Chat clients reconnect and resend as the widget does (reconnects: {kinds}); a",
        "resend is stored once. The chat latency counts from the message's first send; from",
        "the chat's start (the customer writes at once; the widget sends once connected) the",
        f"wait for the ack was p50 {wait.get('p50_ms', 0):,.0f} ms, p99 {wait.get('p99_ms', 0):,.0f} ms.",
    ]
    unacked = sizes["chats"] - results.get("chats_acked", 0)
    if unacked:
        lines += [
            "",
            f"{unacked:,} of the {sizes['chats']:,} chats got no acknowledgement before the run's",
            "deadline: no ticket holds their message (the check below), and their widgets",
            "still hold it to resend.",
        ]
    refused = results.get("social_refused", 0)
    if refused:
        lines += [
            "",
            f"{refused:,} social deliveries were refused (not 200); the platform resends.",
        ]
    lines += [
        "",
        "Every message is in exactly one ticket, each ticket holds one message, and no dead-letter",
        f"queue holds anything ({', '.join(f'{k} {v}' for k, v in result['dead_letters'].items())}).",
        f"All tickets were in the table {result['elapsed_seconds']:.0f} s after the start; the stack used",
        f"{result['stack_cpu_seconds']:.0f} s of CPU (its process and the functions' worker processes).",
        "Mail latency is the SMTP session (SES answers as soon as it has the mail; the ticket",
        "follows asynchronously), chat latency the customer's message until its acknowledgement,",
        "social latency the webhook's HTTP answer.",
        *before_after(result),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.load_run --mails 1 --chats 1000 --social 1`: chosen sizes."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.load_run")
    for name, full in FULL.items():
        parser.add_argument(f"--{name}", type=int, default=full)
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)
    sizes = {name: max(1, getattr(args, name)) for name in FULL}
    result = run(sizes=sizes, timeout=args.timeout)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
