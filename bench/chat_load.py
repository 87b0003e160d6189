"""Concurrent chats through `helpline dev`, every customer message echoed by an agent.

The local stack runs as a subprocess (`python -m infra.cli dev` on free ports, with a
config whose calendars are open around the clock, so no result depends on the hour),
and this process is its clients: the `websockets` asyncio client speaking
docs/chat-protocol.md, as the widget and the agent console do.

- `agents` English agents (`max_chats` each) connect with tokens from
  `POST /api/agents/token` and go online.
- `chats` customers open a session (`POST /chat/session`), connect with its token and
  say `hello`; they stay connected, so all chats are open at the same time.
- Opening: every customer sends message 0 at once; routing assigns each chat to an
  agent, who gets it in the `history` that follows `assigned` and echoes it back.
- Relay: every customer sends messages 1..N (a unique `client_id` and the sequence
  number in the text), at most `window` of its own unanswered at a time; the agent
  echoes each `message` frame; the customer receives the echo.

Checked, and the run fails (DeliveryCheckError) otherwise: every customer message
reached the agent of its own chat exactly once and in order, every echo reached its
customer exactly once and in order, no `error`, `queued`, `bot` or `after_hours` frame.

Measured: relay latency per direction (customer send -> agent receives, agent send ->
customer receives; both clocks are this process's), wall time and throughput, and the
stack process's CPU (utime + stime from /proc/<pid>/stat) per relayed message. That
process runs everything local: the aiohttp bridge, the chat_ws handlers, and the
embedded moto server that stands in for DynamoDB and the Management API, so its CPU is
an upper bound on the handlers' own. Its idle CPU (schedules, stream poller), measured
with every chat connected before the messages start, is reported and subtracted for
the net figure. This process shares the machine's cores with the stack.

`bench/social_cost.py` reuses the helpers in the first part of this module (the stack
as a subprocess, CPU from /proc, percentiles).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import os
import re
import shutil
import statistics
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from infra.local.process import DevProcess

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "infra" / "config" / "demo.yaml"
COMMAND = "python -m bench.chat_load"
T = TypeVar("T")
LOCALHOST = "127.0.0.1"


class DeliveryCheckError(AssertionError):
    """A message was lost, doubled, reordered or misrouted, or the stack refused one."""


# -- measuring helpers (also used by bench/social_cost.py) ---------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks
    (numpy's default), so p50 of an even count is the mean of the middle two."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not between 0 and 100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of durations given in seconds, in milliseconds."""
    return {
        "n": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": max(seconds) * 1000,
    }


def parse_proc_stat(text: str) -> int:
    """utime + stime, in clock ticks, from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces or ')', so the
    fields are counted from the last ')': utime and stime are fields 14 and 15."""
    after_name = text[text.rindex(")") + 2 :].split()
    # after_name[0] is field 3 (state); field n is after_name[n - 3]
    return int(after_name[14 - 3]) + int(after_name[15 - 3])


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) the process and every process under it
    have used so far: the local stack runs each function in worker processes, so its
    cost is the whole tree's (live workers, and those it already reaped)."""
    ticks = 0
    parents: dict[int, int] = {}
    stats: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text(encoding="ascii")
        except OSError:
            continue  # gone meanwhile
        stats[int(entry.name)] = text
        parents[int(entry.name)] = int(text[text.rindex(")") + 2 :].split()[4 - 3])
    for other, text in stats.items():
        ancestor = other
        while ancestor not in (0, 1, pid) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == pid:
            ticks += parse_proc_stat(text)
    own = stats.get(pid)
    if own is not None:
        fields = own[own.rindex(")") + 2 :].split()
        ticks += int(fields[16 - 3]) + int(fields[17 - 3])  # cutime + cstime: reaped children
    return ticks / os.sysconf("SC_CLK_TCK")


def open_config(
    folder: Path,
    *,
    agents: int = 0,
    max_chats: int = 10,
    actions_per_second: int | None = None,
) -> Path:
    """The demo config with every calendar open 00:00-24:00 every day and no holidays
    or closures; with `agents`, the agents are replaced by that many English agents
    taking `max_chats` each, and the FAQ bot is off (so every chat goes to a person)."""
    import yaml

    config = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    for calendar in config["calendars"].values():
        calendar["hours"] = {"mon-sun": ["00:00-24:00"]}
        calendar.pop("holidays", None)
        calendar.pop("closures", None)
    if agents:
        config["agents"] = [
            {
                "email": f"bench{i:03d}@helpline.test",
                "name": f"Bench agent {i}",
                "languages": ["en"],
                "max_chats": max_chats,
            }
            for i in range(agents)
        ]
        config["chat"].pop("faq", None)
    if actions_per_second is not None:
        config["chat"]["max_actions_per_second"] = actions_per_second
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    shutil.copy(DEMO.with_name("demo.holidays.json"), folder / "bench.holidays.json")
    return path


class LocalStack(DevProcess):
    """`helpline dev` with a benchmark's config, and what the benchmarks read from it."""

    def __init__(self, config: Path, state_dir: Path, *, ready_timeout: float = 120.0) -> None:
        super().__init__(state_dir, config=config, ready_timeout=ready_timeout)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def idle_cpu_per_second(self, seconds: float) -> float:
        """The stack's CPU use while nobody talks to it (its schedules, the poller)."""
        before, start = self.cpu_seconds(), time.perf_counter()
        time.sleep(seconds)
        return (self.cpu_seconds() - before) / (time.perf_counter() - start)

    def post_json(self, path: str, body: Mapping[str, Any], timeout: float = 60.0) -> Any:
        request = urllib.request.Request(
            self.info["http_url"] + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())


def machine() -> str:
    import platform

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


# functions' clients that are metered; a call through any other one fails the measurement
METERED_SERVICES = ("dynamodb", "s3", "sqs", "ssm", "secretsmanager", "sesv2", "sns")


@dataclass(frozen=True)
class Sample:
    """What one handler call cost in AWS terms, and in CPU of the calling thread."""

    calls: int
    by_operation: dict[str, int]
    write_units: int
    cpu_seconds: float  # without moto's answers: what the function itself spends
    moto_seconds: float  # moto answering the calls: AWS's work in production


@dataclass
class MeteredAws:
    """The functions' shared boto3 clients under moto's in-process `mock_aws`, metered
    with bench/aws_meter.py; a hook on their session sees every call, so a client the
    meter does not know about is noticed rather than silently uncounted."""

    session: Any
    resources: Any
    meter: Any
    reader: Any
    moto_cpu: list[float]
    every_call: Counter[str]

    def measure(self, call: Callable[[], Any]) -> tuple[Any, Sample]:
        self.meter.reset()
        self.every_call.clear()
        moto_before, cpu_before = self.moto_cpu[0], time.thread_time()
        value = call()
        cpu = time.thread_time() - cpu_before
        moto = self.moto_cpu[0] - moto_before
        if sum(self.every_call.values()) != self.meter.total_calls:
            raise RuntimeError(f"a client escaped the meter: {dict(self.every_call)}")
        self.meter.settle(self.reader)
        return value, Sample(
            calls=self.meter.total_calls,
            by_operation=dict(sorted(self.meter.calls.items())),
            write_units=self.meter.write_units,
            cpu_seconds=cpu - moto,
            moto_seconds=moto,
        )


@contextlib.contextmanager
def metered_aws(config: Path) -> Iterator[MeteredAws]:
    """The shared resources (from infra/shared.yaml) under `mock_aws`, the functions'
    environment pointing at `config`, and their clients metered, until the block ends."""
    import warnings

    import boto3
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    from bench.aws_meter import Meter
    from functions.core import aws as aws_clients
    from infra.local import moto_patches
    from infra.local.resources import create_shared_stack

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    for name in [n for n in os.environ if n.startswith(("AWS_ENDPOINT_URL", "HELPLINE_"))]:
        del os.environ[name]
    moto_patches.install()
    moto_cpu = [0.0]
    every_call: Counter[str] = Counter()
    answer = BotocoreStubber.__call__

    def timed_answer(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return answer(self, *args, **kwargs)
        finally:
            moto_cpu[0] += time.thread_time() - start

    def see_every_call(session: Any) -> None:
        def seen(model: Any, **_: Any) -> None:
            every_call[f"{model.service_model.service_name}.{model.name}"] += 1

        session.events.register("before-parameter-build", seen)

    BotocoreStubber.__call__ = timed_answer  # type: ignore[method-assign]
    try:
        with warnings.catch_warnings(), mock_aws():
            warnings.simplefilter("ignore")
            session = boto3.session.Session(region_name="us-east-1")
            resources = create_shared_stack(session, stage="bench")
            os.environ.update(resources.environment(config_path=config))
            aws_clients.reset_clients()
            aws_clients.add_session_hook(see_every_call)
            meter = Meter()
            meter.attach(aws_clients.client(s) for s in METERED_SERVICES)
            yield MeteredAws(
                session, resources, meter, session.client("dynamodb"), moto_cpu, every_call
            )
    finally:
        BotocoreStubber.__call__ = answer  # type: ignore[method-assign]
        aws_clients.clear_session_hooks()
        aws_clients.reset_clients()


def median_sample(samples: Sequence[Sample]) -> dict[str, Any]:
    """Medians of the figures; the operations of the sample with the median call count."""
    middle = sorted(samples, key=lambda s: s.calls)[len(samples) // 2]
    return {
        "calls": statistics.median(s.calls for s in samples),
        "write_units": statistics.median(s.write_units for s in samples),
        "by_operation": middle.by_operation,
        "cpu_ms": 1000 * statistics.median(s.cpu_seconds for s in samples),
        "moto_cpu_ms": 1000 * statistics.median(s.moto_seconds for s in samples),
    }


def calls_table(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """The AWS calls table, in the email table's style (operations left-aligned)."""
    lines = [
        "| scenario | AWS calls | write units | handler CPU ms | moto CPU ms | calls by operation |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, figures in rows:
        ops = ", ".join(f"{op} {n}" for op, n in figures["by_operation"].items())
        lines.append(
            f"| {name} | {figures['calls']:g} | {figures['write_units']:g} | "
            f"{figures['cpu_ms']:.1f} | {figures['moto_cpu_ms']:.1f} | {ops} |"
        )
    return lines


# -- the delivery check --------------------------------------------------------------------------


def delivery_problems(
    expected: Mapping[int, Sequence[int]], received: Mapping[int, Sequence[int]], *, what: str
) -> list[str]:
    """What is wrong with `received` (per chat: sequence numbers in arrival order) when
    every chat must get exactly the sequence `expected`, each once, in that order."""
    problems = []
    for chat, want in sorted(expected.items()):
        got = list(received.get(chat, ()))
        counts = Counter(got)
        missing = [seq for seq in want if seq not in counts]
        doubled = sorted(seq for seq, n in counts.items() if n > 1)
        unexpected = sorted(seq for seq in counts if seq not in set(want))
        if missing:
            problems.append(f"{what}: chat {chat} never got {missing}")
        if doubled:
            problems.append(f"{what}: chat {chat} got {doubled} more than once")
        if unexpected:
            problems.append(f"{what}: chat {chat} got {unexpected}, which it never sent")
        first_seen = list(dict.fromkeys(seq for seq in got if seq in counts and seq in set(want)))
        if first_seen != [seq for seq in want if seq in counts]:
            problems.append(f"{what}: chat {chat} got them out of order: {got}")
    for chat in sorted(set(received) - set(expected)):
        problems.append(f"{what}: chat {chat} does not exist but got {list(received[chat])}")
    return problems


# -- the run --------------------------------------------------------------------------------------

CUSTOMER_TEXT = (
    "Hello, this is bench chat {chat} with message {seq}. "
    "I would like some help with the settings of my account, please."
)
ECHO_PREFIX = "Thank you, I have read: "
SEQUENCE = re.compile(r"bench chat (\d+) with message (\d+)\.")


def numbers(text: str) -> tuple[int, int] | None:
    """(chat, seq) named in a customer message or its echo."""
    found = SEQUENCE.search(text)
    return (int(found.group(1)), int(found.group(2))) if found else None


@dataclass
class Ledger:
    """Everything both sides sent and received, with this process's clock."""

    session_of: dict[int, str] = field(default_factory=dict)
    sent: dict[tuple[int, int], float] = field(default_factory=dict)
    at_agent: dict[int, list[int]] = field(default_factory=dict)
    at_agent_time: dict[tuple[int, int], float] = field(default_factory=dict)
    echo_sent: dict[tuple[int, int], float] = field(default_factory=dict)
    at_customer: dict[int, list[int]] = field(default_factory=dict)
    at_customer_time: dict[tuple[int, int], float] = field(default_factory=dict)
    agent_of: dict[int, str] = field(default_factory=dict)
    assigned: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    echoes: dict[tuple[int, int], asyncio.Future[None]] = field(default_factory=dict)

    def echo_arrived(self, chat: int, seq: int) -> asyncio.Future[None]:
        key = (chat, seq)
        if key not in self.echoes:
            self.echoes[key] = asyncio.get_running_loop().create_future()
        return self.echoes[key]


class Agent:
    def __init__(self, email: str, socket: Any, ledger: Ledger) -> None:
        self.email = email
        self.socket = socket
        self.ledger = ledger
        self.chat_of: dict[str, int] = {}

    async def listen(self) -> None:
        async for raw in self.socket:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "history":
                arrived = [m for m in frame.get("messages", []) if m.get("from") == "customer"]
            elif kind == "message":
                arrived = [frame["message"]] if frame["message"].get("from") == "customer" else []
            else:
                arrived = []
                if kind == "error" or (kind == "ack" and frame.get("delivery") != "sent"):
                    self.ledger.problems.append(f"agent {self.email} got {frame}")
            for message in arrived:
                await self._echo(str(frame.get("session_id")), str(message.get("text", "")))

    async def _echo(self, session_id: str, text: str) -> None:
        now = time.perf_counter()
        named = numbers(text)
        if named is None:
            self.ledger.problems.append(f"agent {self.email} got a message it cannot read: {text}")
            return
        chat, seq = named
        if self.ledger.session_of.get(chat) != session_id:
            self.ledger.problems.append(f"chat {chat}'s message {seq} reached session {session_id}")
            return
        self.ledger.agent_of.setdefault(chat, self.email)
        self.ledger.at_agent.setdefault(chat, []).append(seq)
        self.ledger.at_agent_time.setdefault((chat, seq), now)
        self.ledger.echo_sent.setdefault((chat, seq), time.perf_counter())
        await self.socket.send(
            json.dumps(
                {
                    "action": "message",
                    "session_id": session_id,
                    "text": ECHO_PREFIX + text,
                    "client_id": f"echo-{chat}-{seq}",
                }
            )
        )


class Customer:
    def __init__(self, chat: int, socket: Any, ledger: Ledger, window: int) -> None:
        self.chat = chat
        self.socket = socket
        self.ledger = ledger
        self.room = asyncio.Semaphore(window)

    async def listen(self) -> None:
        async for raw in self.socket:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message" and frame["message"].get("from") == "agent":
                now = time.perf_counter()
                named = numbers(frame["message"].get("text", ""))
                if named is None or named[0] != self.chat:
                    self.ledger.problems.append(f"chat {self.chat} got someone else's {frame}")
                    continue
                seq = named[1]
                self.ledger.at_customer.setdefault(self.chat, []).append(seq)
                self.ledger.at_customer_time.setdefault((self.chat, seq), now)
                future = self.ledger.echo_arrived(self.chat, seq)
                if not future.done():
                    future.set_result(None)
                    self.room.release()
            elif kind == "assigned":
                self.ledger.assigned.add(self.chat)
            elif kind in ("error", "queued", "bot", "after_hours", "closed", "message"):
                self.ledger.problems.append(f"chat {self.chat} got {frame}")

    async def send(self, seq: int) -> None:
        await self.room.acquire()
        self.ledger.echo_arrived(self.chat, seq)
        self.ledger.sent[(self.chat, seq)] = time.perf_counter()
        await self.socket.send(
            json.dumps(
                {
                    "action": "message",
                    "text": CUSTOMER_TEXT.format(chat=self.chat, seq=seq),
                    "client_id": f"c{self.chat}-{seq}",
                }
            )
        )


async def _limited(limit: int, jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the jobs, at most `limit` at a time (connection storms are not the test)."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def _expect(socket: Any, kind: str, timeout: float) -> dict[str, Any]:
    """Read frames until one of `kind` (setup only: nothing else is expected yet)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame: dict[str, Any] = json.loads(
            await asyncio.wait_for(socket.recv(), max(deadline - loop.time(), 0.01))
        )
        if frame.get("type") == kind:
            return frame
        if frame.get("type") == "error":
            raise DeliveryCheckError(f"waiting for {kind}: {frame}")


def where_they_are(ledger: Ledger, keys: Sequence[tuple[int, int]]) -> dict[str, int]:
    """How far each of these messages got: the stage a timeout report counts them in."""
    stages: Counter[str] = Counter()
    for chat, seq in keys:
        if (chat, seq) not in ledger.sent:
            stages["not sent"] += 1
        elif (chat, seq) not in ledger.at_agent_time:
            assigned = chat in ledger.assigned
            stages["sent, not at the agent" + ("" if assigned else " (chat not assigned)")] += 1
        elif (chat, seq) not in ledger.at_customer_time:
            stages["echoed, not back at the customer"] += 1
        else:
            stages["back at the customer"] += 1
    return dict(stages)


async def _wait_echoes(ledger: Ledger, keys: Sequence[tuple[int, int]], timeout: float) -> None:
    pending = [ledger.echo_arrived(*key) for key in keys]
    _, missing = await asyncio.wait(pending, timeout=timeout)
    if missing:
        late = [key for key in keys if not ledger.echo_arrived(*key).done()]
        raise DeliveryCheckError(
            f"{len(late)} of {len(keys)} echoes did not arrive within {timeout:.0f} s "
            f"({where_they_are(ledger, late)}), e.g. {late[:10]}; "
            f"problems seen: {ledger.problems[:10]}"
        )


async def _chats(
    stack: LocalStack,
    *,
    chats: int,
    messages: int,
    agents: int,
    window: int,
    solo: int,
    baseline_seconds: float,
    phase_timeout: float,
) -> dict[str, Any]:
    import websockets

    ledger = Ledger()
    open_kwargs: dict[str, Any] = {"open_timeout": 60, "max_size": 2**20, "ping_interval": None}

    async def agent(i: int) -> Agent:
        email = f"bench{i:03d}@helpline.test"
        signed = await asyncio.to_thread(stack.post_json, "/api/agents/token", {"email": email})
        socket = await websockets.connect(
            signed["ws_url"] + "?agent_token=" + signed["token"], **open_kwargs
        )
        await socket.send(json.dumps({"action": "status", "status": "online"}))
        await _expect(socket, "status", 60)
        return Agent(email, socket, ledger)

    async def customer(chat: int) -> Customer:
        session = await asyncio.to_thread(stack.post_json, "/chat/session", {"locale": "en-GB"})
        ledger.session_of[chat] = session["session_id"]
        socket = await websockets.connect(
            session["ws_url"] + "?token=" + session["token"], **open_kwargs
        )
        await socket.send(
            json.dumps(
                {"action": "hello", "locale": "en-GB", "page": {"url": "https://shop.example/"}}
            )
        )
        await _expect(socket, "welcome", 60)
        return Customer(chat, socket, ledger, window)

    started = time.perf_counter()
    staff = await _limited(10, [functools.partial(agent, i) for i in range(agents)])
    people = await _limited(20, [functools.partial(customer, c) for c in range(chats)])
    setup_seconds = time.perf_counter() - started
    everyone: list[Agent | Customer] = [*staff, *people]
    listeners = [asyncio.create_task(p.listen()) for p in everyone]
    try:
        idle = await asyncio.to_thread(stack.idle_cpu_per_second, baseline_seconds)

        # opening: message 0 of every chat at once; routing assigns each to an agent
        cpu, start = stack.cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(p.send(0) for p in people))
        await _wait_echoes(ledger, [(c, 0) for c in range(chats)], phase_timeout)
        opening_wall, opening_cpu = time.perf_counter() - start, stack.cpu_seconds() - cpu

        # relay: messages 1..N of every chat, at most `window` unanswered per chat
        async def talk(person: Customer) -> None:
            for seq in range(1, messages + 1):
                await person.send(seq)

        cpu, start = stack.cpu_seconds(), time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(talk(p) for p in people)), phase_timeout)
        keys = [(c, s) for c in range(chats) for s in range(1, messages + 1)]
        await _wait_echoes(ledger, keys, phase_timeout)
        relay_wall, relay_cpu = time.perf_counter() - start, stack.cpu_seconds() - cpu

        # alone: chat 0 goes on talking while the others stay connected and quiet
        solo_seqs = range(messages + 1, messages + 1 + solo)
        cpu, start = stack.cpu_seconds(), time.perf_counter()
        for seq in solo_seqs:
            await people[0].send(seq)
            await _wait_echoes(ledger, [(0, seq)], phase_timeout)
        solo_wall, solo_cpu = time.perf_counter() - start, stack.cpu_seconds() - cpu
        await asyncio.sleep(1.0)  # time for a doubled frame to show up before the check
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        await asyncio.gather(*(p.socket.close() for p in everyone), return_exceptions=True)

    expected = {c: list(range(messages + 1)) for c in range(chats)}
    expected[0] = list(range(messages + 1 + solo))
    problems = [
        *ledger.problems,
        *delivery_problems(expected, ledger.at_agent, what="customer -> agent"),
        *delivery_problems(expected, ledger.at_customer, what="agent -> customer"),
    ]
    if problems:
        raise DeliveryCheckError(
            f"{len(problems)} delivery problems, e.g.:\n" + "\n".join(problems[:20])
        )

    def latencies(
        seqs: range,
        sent: Mapping[Any, float],
        got: Mapping[Any, float],
        among: range = range(chats),
    ) -> list[float]:
        return [got[(c, s)] - sent[(c, s)] for c in among for s in seqs]

    relay_seqs = range(1, messages + 1)
    relayed = 2 * chats * messages
    per_agent = Counter(ledger.agent_of.values())
    return {
        "setup_seconds": setup_seconds,
        "idle_cpu_per_second": idle,
        "opening": {
            "wall_seconds": opening_wall,
            "cpu_seconds": opening_cpu,
            "cpu_ms_per_chat": 1000 * opening_cpu / chats,
            "net_cpu_ms_per_chat": 1000 * max(opening_cpu - idle * opening_wall, 0) / chats,
            "to_agent": summary_ms(latencies(range(1), ledger.sent, ledger.at_agent_time)),
            "to_customer": summary_ms(
                latencies(range(1), ledger.echo_sent, ledger.at_customer_time)
            ),
        },
        "relay": {
            "wall_seconds": relay_wall,
            "messages": relayed,
            "per_second": relayed / relay_wall,
            "cpu_seconds": relay_cpu,
            "cpu_ms_per_message": 1000 * relay_cpu / relayed,
            "net_cpu_ms_per_message": 1000 * max(relay_cpu - idle * relay_wall, 0) / relayed,
            "to_agent": summary_ms(latencies(relay_seqs, ledger.sent, ledger.at_agent_time)),
            "to_customer": summary_ms(
                latencies(relay_seqs, ledger.echo_sent, ledger.at_customer_time)
            ),
            "round_trip": summary_ms(latencies(relay_seqs, ledger.sent, ledger.at_customer_time)),
        },
        "solo": {
            "messages": 2 * solo,
            "wall_seconds": solo_wall,
            "cpu_seconds": solo_cpu,
            "cpu_ms_per_message": 1000 * solo_cpu / (2 * solo),
            "net_cpu_ms_per_message": 1000 * max(solo_cpu - idle * solo_wall, 0) / (2 * solo),
            "to_agent": summary_ms(
                latencies(solo_seqs, ledger.sent, ledger.at_agent_time, range(1))
            ),
            "to_customer": summary_ms(
                latencies(solo_seqs, ledger.echo_sent, ledger.at_customer_time, range(1))
            ),
            "round_trip": summary_ms(
                latencies(solo_seqs, ledger.sent, ledger.at_customer_time, range(1))
            ),
        },
        "delivered": {
            "to_agent": sum(len(v) for v in ledger.at_agent.values()),
            "to_customer": sum(len(v) for v in ledger.at_customer.values()),
        },
        "chats_per_agent": {"min": min(per_agent.values()), "max": max(per_agent.values())},
        "agents_used": len(per_agent),
    }


def _calls_in_process(chats: int, messages: int) -> dict[str, Any]:
    """AWS calls and handler CPU per chat action: ChatService.handle (what $default
    calls) under moto, pushes answered by a fake Management API and counted as the
    PostToConnection calls they are in production."""
    from dataclasses import replace

    from functions.chat_ws import wiring as chat_wiring
    from functions.core import wiring
    from functions.core.config import load_config
    from infra.local.resources import create_demo_secrets
    from tests.functional.chat_harness import FakeManagementApi

    workdir = Path(tempfile.mkdtemp(prefix="bench-chat-calls-"))
    config = open_config(workdir, agents=1, max_chats=chats, actions_per_second=1000)
    samples: dict[str, list[Sample]] = {"opening": [], "customer": [], "agent": []}
    try:
        with metered_aws(config) as aws:
            create_demo_secrets(aws.session, load_config(config))
            api = FakeManagementApi()
            components = wiring.build(
                wiring.Settings.from_env(), clients={"apigatewaymanagementapi": api}
            )
            service = chat_wiring.build(components, ws_url="wss://chat.example/bench")

            def pushes() -> int:
                return sum(len(frames) for frames in api.frames.values())

            def act(connection: str, frame: dict[str, Any]) -> Sample:
                before = pushes()
                _, sample = aws.measure(lambda: service.handle(connection, json.dumps(frame)))
                pushed = pushes() - before
                operations = {
                    **sample.by_operation,
                    "apigatewaymanagementapi.PostToConnection": pushed,
                }
                return replace(
                    sample,
                    calls=sample.calls + pushed,
                    by_operation=dict(sorted(operations.items())),
                )

            agent = "agent-connection="
            token = service.agent_token("bench000@helpline.test")
            if service.connect(agent, {"agent_token": token}) != 200:
                raise DeliveryCheckError("the agent could not connect")
            service.handle(agent, json.dumps({"action": "status", "status": "online"}))
            people = []
            for chat in range(chats):
                session = service.open_session({"locale": "en-GB"})
                connection = f"customer-{chat}="
                if service.connect(connection, {"token": session["token"]}) != 200:
                    raise DeliveryCheckError(f"customer {chat} could not connect")
                service.handle(connection, json.dumps({"action": "hello", "locale": "en-GB"}))
                people.append((connection, session["session_id"]))
            for seq in range(messages + 1):
                for chat, (connection, session_id) in enumerate(people):
                    text = CUSTOMER_TEXT.format(chat=chat, seq=seq)
                    said = {"action": "message", "text": text, "client_id": f"c{chat}-{seq}"}
                    samples["customer" if seq else "opening"].append(act(connection, said))
                    echo = {
                        "action": "message",
                        "session_id": session_id,
                        "text": ECHO_PREFIX + text,
                        "client_id": f"echo-{chat}-{seq}",
                    }
                    samples["agent"].append(act(agent, echo))
            at_agent: dict[int, list[int]] = {}
            for frame in api.frames[agent]:
                shown = frame.get("messages") if frame["type"] == "history" else None
                if frame["type"] == "message":
                    shown = [frame["message"]]
                for message in shown or []:
                    named = numbers(message.get("text", ""))
                    if named and message.get("from") == "customer":
                        at_agent.setdefault(named[0], []).append(named[1])
            at_customer: dict[int, list[int]] = {}
            for chat, (connection, _) in enumerate(people):
                for frame in api.frames[connection]:
                    if frame["type"] == "message" and frame["message"].get("from") == "agent":
                        named = numbers(frame["message"].get("text", ""))
                        at_customer.setdefault(chat, []).append(named[1] if named else -1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    expected = {chat: list(range(messages + 1)) for chat in range(chats)}
    problems = [
        *delivery_problems(expected, at_agent, what="in-process customer -> agent"),
        *delivery_problems(expected, at_customer, what="in-process agent -> customer"),
    ]
    if problems:
        raise DeliveryCheckError("\n".join(problems[:20]))
    return {"chats": chats, **{kind: median_sample(found) for kind, found in samples.items()}}


def _with_log(stack: LocalStack, chats: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the chats; a failed check also shows what the stack last logged."""
    try:
        return asyncio.run(chats())
    except DeliveryCheckError as exc:
        raise DeliveryCheckError(f"{exc}\n-- the stack's last output:\n{stack.log_tail()}") from exc


def run(
    *,
    chats: int = 200,
    messages: int = 1,
    agents: int = 20,
    max_chats: int = 10,
    window: int = 1,
    solo: int = 5,
    calls_chats: int = 5,
    baseline_seconds: float = 15.0,
    phase_timeout: float = 600.0,
) -> dict[str, Any]:
    """Start the local stack, run the chats, stop it; DeliveryCheckError if anything
    was lost, doubled, reordered or refused. Every wait is bounded by `phase_timeout`."""
    if chats < 1 or messages < 1 or solo < 1 or window < 1:
        raise ValueError("chats, messages, solo and window are at least 1")
    if agents * max_chats < chats:
        raise ValueError(f"{agents} agents x {max_chats} chats cannot take {chats} chats at once")
    from datetime import UTC, datetime

    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    try:
        # each agent echoes up to max_chats chats on one connection: far above a person's
        # pace, so the per-connection flood limit is raised for the bench
        config = open_config(
            workdir / "config",
            agents=agents,
            max_chats=max_chats,
            actions_per_second=max(50, 10 * max_chats),
        )
        with LocalStack(config, workdir / "state") as stack:
            figures = _with_log(
                stack,
                lambda: _chats(
                    stack,
                    chats=chats,
                    messages=messages,
                    agents=agents,
                    window=window,
                    solo=solo,
                    baseline_seconds=baseline_seconds,
                    phase_timeout=phase_timeout,
                ),
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    calls = _calls_in_process(calls_chats, messages)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "chats": chats,
        "messages": messages,
        "agents": agents,
        "max_chats": max_chats,
        "window": window,
        "solo_messages": solo,
        "command": f"{COMMAND} --chats {chats} --messages {messages} --agents {agents} "
        f"--max-chats {max_chats} --window {window} --solo {solo}",
        "total_seconds": time.perf_counter() - began,
        **figures,
        "calls": calls,
    }


# The same run with the functions inside the stack's own process (the source tree, as
# the local stack ran them until issue 15): `python -m bench --only chat` at commit
# 7975ff4, 2026-12-08 01:10 UTC, on the machine the figures after it come from.
IN_PROCESS = {
    "commit": "7975ff4",
    "measured": "2026-12-08 01:10 UTC",
    "relay_per_second": 8.4,
    "round_trip_p50_ms": 34480,
    "round_trip_p99_ms": 47212,
    "solo_round_trip_p50_ms": 224,
    "solo_round_trip_p99_ms": 271,
    "opening_seconds": 69.7,
    "net_cpu_ms_per_message": 121.1,
    "net_cpu_ms_per_chat": 358.4,
    "idle_cpu_ms_per_second": 21,
    "total_seconds": 165,
}


def before_after(result: dict[str, Any]) -> list[str]:
    """The in-process figures next to this run's, for the same command (only for the
    default sizes, which the in-process run used)."""
    from bench.peers_common import table

    if result["chats"] != 200 or result["messages"] != 1:
        return []
    before = IN_PROCESS
    relay, solo, opening = result["relay"], result["solo"], result["opening"]

    def row(label: str, old: float, new: float, unit: str, digits: int = 0) -> list[str]:
        return [
            label,
            f"{old:,.{digits}f} {unit}",
            f"{new:,.{digits}f} {unit}",
            f"{new / old:.2f}x",
        ]

    return [
        "",
        "### Before and after the functions left the stack's process",
        "",
        f"Until issue 15 the local stack ran the functions' source tree inside its own process "
        f"(one Python, one core for everything); now each runs from its packaged zip in worker "
        f"processes of its own. The same command, measured at commit {before['commit']} "
        f"({before['measured']}) and now:",
        "",
        *table(
            ["", "in the stack's process", "packaged, own processes", "after / before"],
            [
                row(
                    "relay throughput, all talking",
                    before["relay_per_second"],
                    relay["per_second"],
                    "msg/s",
                    1,
                ),
                row(
                    "round trip p50, all talking",
                    before["round_trip_p50_ms"],
                    relay["round_trip"]["p50_ms"],
                    "ms",
                ),
                row(
                    "round trip p99, all talking",
                    before["round_trip_p99_ms"],
                    relay["round_trip"]["p99_ms"],
                    "ms",
                ),
                row(
                    "round trip p50, one talking",
                    before["solo_round_trip_p50_ms"],
                    solo["round_trip"]["p50_ms"],
                    "ms",
                ),
                row(
                    "opening 200 chats",
                    before["opening_seconds"],
                    opening["wall_seconds"],
                    "s",
                    1,
                ),
                row(
                    "CPU per relayed message, net of idle",
                    before["net_cpu_ms_per_message"],
                    relay["net_cpu_ms_per_message"],
                    "ms",
                    1,
                ),
                row(
                    "CPU per opened chat, net of idle",
                    before["net_cpu_ms_per_chat"],
                    opening["net_cpu_ms_per_chat"],
                    "ms",
                    1,
                ),
                row(
                    "idle CPU",
                    before["idle_cpu_ms_per_second"],
                    1000 * result["idle_cpu_per_second"],
                    "ms/s",
                ),
                row("whole run", before["total_seconds"], result["total_seconds"], "s"),
            ],
        ),
    ]


def markdown(result: dict[str, Any]) -> str:
    from bench.peers_common import table

    opening, relay, solo = result["opening"], result["relay"], result["solo"]
    calls = result["calls"]
    own = (calls["customer"]["cpu_ms"] + calls["agent"]["cpu_ms"]) / 2
    moto = (calls["customer"]["moto_cpu_ms"] + calls["agent"]["moto_cpu_ms"]) / 2
    everyone = f"all {result['chats']} talking"
    alone = f"one talking, {result['chats'] - 1} quiet"

    def ms(block: Mapping[str, float]) -> list[str]:
        return [f"{block['p50_ms']:.0f}", f"{block['p99_ms']:.0f}", f"{block['max_ms']:.0f}"]

    waits = (
        "each customer waits for the echo before sending the next"
        if result["window"] == 1
        else f"each customer keeps up to {result['window']} of its messages unanswered"
    )
    lines = [
        f"## chat_ws: {result['chats']} concurrent chats with echo, through the local stack",
        "",
        f"`{result['command']}` (`bench/chat_load.py`), {result['date']}; {result['machine']}.",
        "",
        f"`helpline dev` as a subprocess (calendars open around the clock, {result['agents']} English",
        f"agents with `max_chats` {result['max_chats']}, no FAQ bot, the per-connection flood limit",
        "raised because one agent connection echoes for many chats) and real `websockets` clients",
        f"in one asyncio process: {result['chats']} customers connected at once, each sending an",
        f"opening message (routed and assigned to an agent) and then {result['messages']} more "
        f"({waits}), and at the end chat 0 alone sends {result['solo_messages']} more, one at a time;",
        "the agent echoes every message back. Checked: every message reached the agent of its",
        "chat exactly once and in order, and every echo its customer exactly once and in order",
        f"({result['delivered']['to_agent']} and {result['delivered']['to_customer']} delivered; "
        "any loss, double, reorder or error frame fails the run).",
        "",
        *table(
            ["relay latency (ms)", "p50", "p99", "max"],
            [
                [f"{everyone}: customer -> agent", *ms(relay["to_agent"])],
                [f"{everyone}: agent -> customer", *ms(relay["to_customer"])],
                [f"{everyone}: round trip (send -> echo received)", *ms(relay["round_trip"])],
                [f"{alone}: customer -> agent", *ms(solo["to_agent"])],
                [f"{alone}: agent -> customer", *ms(solo["to_customer"])],
                [f"{alone}: round trip", *ms(solo["round_trip"])],
                [
                    f"opening, all {result['chats']} at once: first message -> agent "
                    "(routing + assignment)",
                    *ms(opening["to_agent"]),
                ],
                ["opening: its echo -> customer", *ms(opening["to_customer"])],
            ],
        ),
        "",
        *table(
            ["stack process CPU", "total s", "ms each", "net of idle, ms each"],
            [
                [
                    f"{everyone}: per relayed message ({relay['messages']})",
                    f"{relay['cpu_seconds']:.1f}",
                    f"{relay['cpu_ms_per_message']:.1f}",
                    f"{relay['net_cpu_ms_per_message']:.1f}",
                ],
                [
                    f"{alone}: per relayed message ({solo['messages']})",
                    f"{solo['cpu_seconds']:.1f}",
                    f"{solo['cpu_ms_per_message']:.1f}",
                    f"{solo['net_cpu_ms_per_message']:.1f}",
                ],
                [
                    f"opening: per chat ({result['chats']}; message, routing, assignment, echo)",
                    f"{opening['cpu_seconds']:.1f}",
                    f"{opening['cpu_ms_per_chat']:.1f}",
                    f"{opening['net_cpu_ms_per_chat']:.1f}",
                ],
            ],
        ),
        "",
        f"- relay: {relay['messages']} messages in {relay['wall_seconds']:.1f} s, "
        f"**{relay['per_second']:.1f} messages/s**; opening {result['chats']} chats took "
        f"{opening['wall_seconds']:.1f} s",
        f"- setup (agents online, {result['chats']} sessions opened and connected): "
        f"{result['setup_seconds']:.1f} s; whole run with the stack's start and stop: "
        f"{result['total_seconds']:.0f} s",
        f"- chats per agent: {result['chats_per_agent']['min']} to "
        f"{result['chats_per_agent']['max']} over {result['agents_used']} agents",
        f"- idle stack CPU (schedules, stream poller, all chats connected): "
        f"{1000 * result['idle_cpu_per_second']:.0f} ms/s",
        "",
        "CPU is the whole stack's (utime + stime from /proc, of its process and every process",
        "under it): the aiohttp WebSocket bridge and the embedded moto server standing in for",
        "DynamoDB and the Management API in the stack's process, and chat_ws's packaged handlers",
        "in their worker processes, so it bounds the handlers' own CPU from above. The clients",
        "share the same cores, and latencies include waiting for them.",
        "",
        f"With every chat talking, the latencies are queueing: the stack is CPU-bound at "
        f"{relay['per_second']:.1f} relayed",
        f"messages/s, so {result['chats']} customers who each wait for their echo wait about "
        f"2 x {result['chats']} / {relay['per_second']:.1f} = "
        f"{2 * result['chats'] / relay['per_second']:.0f} s for a round trip (Little's law). The",
        "agent side lags more because the local bridge runs one connection's frames one at a",
        f"time and each agent connection carries up to {result['max_chats']} chats' echoes. The "
        "one-talking rows are",
        "the relay itself, on the same stack and table.",
        "",
        "### chat_ws: AWS calls per chat action",
        "",
        "`ChatService.handle` (what the `$default` route calls) in the bench process under moto's",
        f"`mock_aws`, {calls['chats']} chats with one agent, every client metered (`bench/aws_meter.py`);",
        "pushes go to a fake Management API and are counted as the `PostToConnection` calls they",
        "are in production. Medians; write units as in the email table. Handler CPU is the",
        "calling thread's without moto's own work answering the calls (AWS's, in production).",
        "",
        *calls_table(
            [
                (
                    "opening message: ticket, routing, assignment, history to the agent",
                    calls["opening"],
                ),
                ("customer message in an assigned chat", calls["customer"]),
                ("agent reply", calls["agent"]),
            ]
        ),
        "",
        f"Of the stack's {relay['net_cpu_ms_per_message']:.0f} ms per relayed message (net of idle), "
        f"the handlers' own CPU is about **{own:.0f} ms** (the mean of a customer message and an",
        f"agent reply); moto answering their calls takes {moto:.0f} ms in-process, and more as a",
        "server behind HTTP in the stack, with the bridge and the Management API on the same process.",
        *before_after(result),
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1, help="per chat, after the opening one")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--max-chats", type=int, default=10)
    parser.add_argument(
        "--window", type=int, default=1, help="unanswered messages a customer may have"
    )
    parser.add_argument(
        "--solo", type=int, default=5, help="messages chat 0 sends alone at the end"
    )
    parser.add_argument(
        "--phase-timeout", type=float, default=600.0, help="seconds each phase may take at most"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    result = run(
        chats=args.chats,
        messages=args.messages,
        agents=args.agents,
        max_chats=args.max_chats,
        window=args.window,
        solo=args.solo,
        phase_timeout=args.phase_timeout,
    )
    if args.json:
        print(json.dumps(result, indent=2))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
