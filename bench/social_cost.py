"""Social webhooks: time and CPU per delivery, AWS calls per message, and a burst.

Three parts, one run:

1. Through `helpline dev` (a subprocess, calendars open around the clock): signed
   deliveries of each platform, built from the peers' corpora (Chatwoot's Messenger
   and Instagram factories, pywa's WhatsApp update, Zammad's Telegram update and X
   Account Activity event) with fresh ids and senders, signed with the demo secrets in
   dev.json and posted with urllib to /webhooks/meta, /webhooks/telegram and
   /webhooks/x. Each new message starts a ticket and is acknowledged on its platform
   (the stack's fake platform API); then every delivery is posted again, as a platform
   retries. Measured per delivery: the HTTP round trip on loopback (the platform's
   view of "answer 200 fast") and the stack process's CPU (utime + stime from
   /proc/<pid>/stat, read before and after each post).
2. A burst through the same stack: `burst` deliveries over the five platforms of which
   `duplicate_share` are redeliveries of an earlier payload, byte for byte, interleaved
   (some right behind their original, so both are in flight at once, some later),
   posted by a pool of `concurrency` threads. It must make exactly one ticket per
   distinct message: each answer is checked (200; one `created` per message over all
   its deliveries, `duplicate` for the rest), and the tickets are counted in the table
   (`TicketStore.list_tickets`, what `helpline tickets list --json` shows), each found by
   the reference in its text and holding that one message.
   Any mismatch raises BurstMismatchError.
3. AWS calls per message: social_dm's real Chalice routes (chalice.local's gateway)
   in this process under moto's `mock_aws`, every client metered with bench/aws_meter.py
   (calls by operation, DynamoDB write units), as bench/email_cost.py does for mail. A
   botocore hook on the shared session checks no client escaped the meter. The
   container is warm (its first delivery, which also reads the secrets, is reported on
   its own). The handler's CPU is measured here too, without the time moto spends
   answering (moto's botocore stubber is timed and subtracted), which the stack's
   figure cannot separate.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets as random_ids
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from random import Random
from typing import Any

from bench.chat_load import (
    LocalStack,
    Sample,
    calls_table,
    machine,
    median_sample,
    metered_aws,
    open_config,
    summary_ms,
)

COMMAND = "python -m bench.social_cost"
PLATFORMS = ("messenger", "instagram", "whatsapp", "telegram", "x")
PATHS = {
    "messenger": "/webhooks/meta",
    "instagram": "/webhooks/meta",
    "whatsapp": "/webhooks/meta",
    "telegram": "/webhooks/telegram",
    "x": "/webhooks/x",
}
# what each customer writes (the ticket's language and queue follow from it)
TEXTS = {
    "messenger": "Hola, mi pedido llegó roto. ¿Qué puedo hacer ahora?",
    "instagram": "Hello, the jacket I ordered is the wrong size. Can I exchange it?",
    "whatsapp": "Olá, a minha encomenda ainda não chegou. Podem verificar, por favor?",
    "telegram": "Здравствуйте! Не могу войти в личный кабинет с самого утра.",
    "x": "Hi, I was charged twice for my last order. Could you look into it?",
}
# the demo config's accounts (infra/config/demo.yaml, social:)
MESSENGER_PAGE = "117172741761305"
INSTAGRAM_ACCOUNT = "17841400000000001"
# what the fake platform answers a send with in part 3 (one body fits all five)
SENT = {
    "recipient_id": "1",
    "message_id": "m_sent_by_us",
    "messaging_product": "whatsapp",
    "messages": [{"id": "wamid.SENTBYUS"}],
    "ok": True,
    "result": {"message_id": 77, "chat": {"id": 1}},
    "data": {"dm_conversation_id": "1-2", "dm_event_id": "1800000000000000001"},
}
CORPUS_FILES = (
    ("chatwoot", "spec", "factories_as_json", "incoming_fb_text_message.json"),
    ("chatwoot", "spec", "factories_as_json", "instagram_test_text_event.json"),
    ("pywa", "tests", "data", "updates", "message.json"),
    ("zammad", "test", "data", "telegram", "private", "text.json"),
    ("zammad", "test", "data", "twitter", "webhook_events", "direct_message-incoming.yml"),
)


BURST_IDS = 100_000  # the burst's platform ids start here, clear of part 1's


class BurstMismatchError(AssertionError):
    """The burst did not make exactly one ticket per distinct message."""


# -- signed deliveries ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Post:
    """One signed delivery, ready to send again byte for byte."""

    platform: str
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    reference: str  # written at the start of the text, so the ticket can be found


def missing_corpora() -> list[str]:
    from tests.helpers import corpus

    return ["/".join(parts) for parts in CORPUS_FILES if not corpus(*parts).is_file()]


def reference(run: str, n: int) -> str:
    return f"Ref {run}-{n:05d}"


def payload(platform: str, n: int, text: str, now: float) -> dict[str, Any]:
    """The corpus payload of `platform` as a new message `n` from a new sender."""
    from tests.unit.channels.payloads import (
        chatwoot,
        page_delivery,
        pywa,
        zammad_telegram,
        zammad_twitter,
    )

    sender = str(7_100_000_000_000 + n)
    if platform == "messenger":
        event = copy.deepcopy(chatwoot("incoming_fb_text_message")["messaging"])
        event["sender"]["id"] = sender
        event["message"] = {"mid": f"m_bench_{n}_{sender}", "text": text}
        event["timestamp"] = int(now * 1000)
        return page_delivery(event, page=MESSENGER_PAGE)
    if platform == "instagram":
        delivery = copy.deepcopy(chatwoot("instagram_test_text_event"))
        delivery["object"] = "instagram"
        entry = delivery["entry"][0]
        entry["id"], entry["time"] = INSTAGRAM_ACCOUNT, int(now * 1000)
        event = entry["messaging"][0]
        event["sender"]["id"], event["recipient"]["id"] = sender, INSTAGRAM_ACCOUNT
        event["timestamp"] = int(now * 1000)
        event["message"] = {"mid": f"ig_bench_{n}_{sender}", "text": text}
        return delivery
    if platform == "whatsapp":
        delivery = copy.deepcopy(pywa("message", "text"))
        value = delivery["entry"][0]["changes"][0]["value"]
        value["contacts"][0]["wa_id"] = sender
        message = value["messages"][0]
        message.update({"from": sender, "id": f"wamid.bench{n}x{sender}"})
        message["timestamp"] = str(int(now))
        message["text"]["body"] = text
        return delivery
    if platform == "telegram":
        update = copy.deepcopy(zammad_telegram("private", "text"))
        update["update_id"] = 500_000_000 + n
        chat_id = int(sender)
        update["message"].update({"message_id": n + 1, "date": int(now), "text": text})
        update["message"]["from"]["id"] = chat_id
        update["message"]["chat"]["id"] = chat_id
        return update
    if platform == "x":
        events = copy.deepcopy(zammad_twitter("direct_message-incoming"))
        dm = events["direct_message_events"][0]
        old_sender = dm["message_create"]["sender_id"]
        dm["id"] = str(1_800_000_000_000_000_000 + n)
        dm["created_timestamp"] = str(int(now * 1000))
        dm["message_create"]["sender_id"] = sender
        dm["message_create"]["message_data"]["text"] = text
        user = dict(events["users"].pop(old_sender))
        events["users"][sender] = {**user, "id": sender, "screen_name": f"bench{n}"}
        return events
    raise ValueError(f"unknown platform {platform!r}")


def sign(platform: str, body: bytes, secrets: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The headers the platform sends: its signature over the raw body, or its token."""
    if platform in ("messenger", "instagram", "whatsapp"):
        key = secrets["meta_app_secret"].encode()
        digest = hmac.new(key, body, hashlib.sha256).hexdigest()
        return (("X-Hub-Signature-256", "sha256=" + digest),)
    if platform == "telegram":
        return (("X-Telegram-Bot-Api-Secret-Token", secrets["telegram_secret_token"]),)
    key = secrets["x_consumer_secret"].encode()
    signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    return (("x-twitter-webhooks-signature", "sha256=" + signature),)


def signed_post(platform: str, n: int, ref: str, secrets: Mapping[str, str]) -> Post:
    """Message `n` (its ids and sender derive from n) with `ref` at the start of its text."""
    body = json.dumps(payload(platform, n, f"{ref}: {TEXTS[platform]}", time.time())).encode()
    return Post(platform, PATHS[platform], body, sign(platform, body, secrets), ref)


def post_http(base_url: str, post: Post, timeout: float = 60.0) -> tuple[int, Any, float]:
    """(status, parsed body, seconds) of one delivery posted like the platform does."""
    request = urllib.request.Request(
        base_url + post.path,
        data=post.body,
        headers={"Content-Type": "application/json", **dict(post.headers)},
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    elapsed = time.perf_counter() - start
    try:
        return status, json.loads(raw), elapsed
    except ValueError:
        return status, raw.decode("utf-8", "replace"), elapsed


# -- the burst plan ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planned:
    message: int  # which distinct message (0..distinct-1)
    redelivery: bool


def plan_burst(total: int, duplicate_share: float, *, concurrency: int, seed: int) -> list[Planned]:
    """`total` deliveries: distinct messages in order, and round(total * share) of them
    delivered a second time, each after its original: half of them within
    `concurrency` places (in flight together in the pool), the rest up to 100 places
    later, as a platform's retry would."""
    duplicates = round(total * duplicate_share)
    distinct = total - duplicates
    if not 0 <= duplicates <= distinct:
        raise ValueError("duplicate_share must be between 0 and 0.5")
    rng = Random(seed)
    originals = rng.sample(range(distinct), duplicates)
    places: list[tuple[float, Planned]] = [(float(m), Planned(m, False)) for m in range(distinct)]
    for i, original in enumerate(originals):
        near = i % 2 == 0
        gap = rng.randint(1, max(concurrency - 1, 1)) if near else rng.randint(concurrency, 100)
        places.append((original + gap - 0.5, Planned(original, True)))
    places.sort(key=lambda place: place[0])
    return [planned for _, planned in places]


def platform_of(message: int) -> str:
    return PLATFORMS[message % len(PLATFORMS)]


def burst_problems(
    plan: Sequence[Planned],
    answers: Sequence[tuple[int, Any]],
    tickets: Sequence[Mapping[str, Any]],
) -> list[str]:
    """What is wrong: answers[i] is (status, body) of plan[i]; `tickets` are the tickets
    carrying this burst's references, as `helpline tickets list --json` shows them,
    each with the message number parsed from its reference (`message`) and, when
    known, how many messages it holds (`messages`: a redelivery must add none)."""
    problems = []
    created: Counter[int] = Counter()
    duplicate: Counter[int] = Counter()
    deliveries: Counter[int] = Counter(p.message for p in plan)
    for planned, (status, body) in zip(plan, answers, strict=True):
        outcomes = body.get("outcomes", {}) if isinstance(body, dict) else {}
        if status != 200 or set(outcomes) - {"created", "duplicate"}:
            problems.append(f"message {planned.message}: {status} {body}")
        created[planned.message] += outcomes.get("created", 0)
        duplicate[planned.message] += outcomes.get("duplicate", 0)
    for message, count in sorted(deliveries.items()):
        if created[message] != 1 or duplicate[message] != count - 1:
            problems.append(
                f"message {message}: {count} deliveries answered created {created[message]}, "
                f"duplicate {duplicate[message]}"
            )
    found: Counter[int] = Counter(int(t["message"]) for t in tickets)
    for message in sorted(deliveries):
        if found[message] != 1:
            problems.append(f"message {message} made {found[message]} tickets")
    for ticket in tickets:
        message = int(ticket["message"])
        if message not in deliveries:
            problems.append(f"ticket {ticket['id']} names message {message}, never sent")
        elif ticket.get("messages", 1) != 1:
            problems.append(f"ticket {ticket['id']} holds {ticket['messages']} messages, not 1")
        elif ticket["channel"] != platform_of(message):
            problems.append(
                f"ticket {ticket['id']} is {ticket['channel']}, not {platform_of(message)}"
            )
    return problems


# -- part 1 and 2: through the local stack -------------------------------------------------------


def _deliveries_through_stack(stack: LocalStack, samples: int, run: str) -> dict[str, Any]:
    """New-ticket deliveries and their redeliveries, platforms taking turns."""
    url, secrets = stack.info["http_url"], stack.info
    counter = iter(range(10**6))
    for platform in PLATFORMS:  # warm: templates compiled, secrets read, connections open
        n = next(counter)
        status, body, _ = post_http(url, signed_post(platform, n, reference(run, n), secrets))
        if status != 200:
            raise RuntimeError(f"{platform} warm-up delivery answered {status}: {body}")
    idle = stack.idle_cpu_per_second(5.0)
    figures: dict[str, Any] = {}
    posts = {
        p: [signed_post(p, n, reference(run, n), secrets) for n in islice(counter, samples)]
        for p in PLATFORMS
    }
    for kind, expected in (("new", "created"), ("duplicate", "duplicate")):
        seconds: dict[str, list[float]] = {p: [] for p in PLATFORMS}
        cpu: dict[str, float] = dict.fromkeys(PLATFORMS, 0.0)
        for i in range(samples):
            for platform in PLATFORMS:
                before = stack.cpu_seconds()
                status, body, elapsed = post_http(url, posts[platform][i])
                cpu[platform] += stack.cpu_seconds() - before
                outcomes = body.get("outcomes") if isinstance(body, dict) else None
                if status != 200 or outcomes != {expected: 1}:
                    raise BurstMismatchError(
                        f"{platform} {kind} delivery answered {status} {body}, not {expected}"
                    )
                seconds[platform].append(elapsed)
        for platform in PLATFORMS:
            wall = sum(seconds[platform])
            figures.setdefault(platform, {})[kind] = {
                **summary_ms(seconds[platform]),
                "cpu_ms": 1000 * cpu[platform] / samples,
                "net_cpu_ms": 1000 * max(cpu[platform] - idle * wall, 0) / samples,
            }
    return {"idle_cpu_per_second": idle, "platforms": figures}


def stack_tickets(stack: LocalStack) -> list[dict[str, Any]]:
    """Every ticket in the stack's table: what `helpline tickets list --json` reads
    (`TicketStore.list_tickets`), through a client that waits for moto. The CLI's own
    clients carry the functions' 10 s read timeout, which moto's query of a table this
    size, on a busy machine, can exceed."""
    import boto3
    from botocore.config import Config

    from functions.core.store import TicketStore
    from infra.local.state import local_aws_environment

    info = stack.info
    credentials = local_aws_environment(info["aws_endpoint"], info["region"])
    client = boto3.session.Session().client(
        "dynamodb",
        endpoint_url=info["aws_endpoint"],
        region_name=info["region"],
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        config=Config(read_timeout=300, retries={"mode": "standard", "max_attempts": 2}),
    )
    store = TicketStore(info["resources"]["table"], client)
    return [
        {"id": t.id, "channel": t.channel.value, "subject": t.subject, "messages": t.message_count}
        for t in store.list_tickets(limit=1_000_000)
    ]


def _burst_through_stack(
    stack: LocalStack, *, total: int, duplicate_share: float, concurrency: int, run: str
) -> dict[str, Any]:
    plan = plan_burst(total, duplicate_share, concurrency=concurrency, seed=20261124)
    url, secrets = stack.info["http_url"], stack.info
    distinct = sorted({p.message for p in plan})
    burst_run = run + "b"
    posts = {
        m: signed_post(platform_of(m), BURST_IDS + m, reference(burst_run, m), secrets)
        for m in distinct
    }
    before = len(stack_tickets(stack))
    cpu, start = stack.cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda p: post_http(url, posts[p.message]), plan, timeout=600))
    wall, cpu_used = time.perf_counter() - start, stack.cpu_seconds() - cpu
    listed = stack_tickets(stack)
    prefix = f"Ref {burst_run}-"
    ours = []
    for ticket in listed:
        subject = str(ticket.get("subject") or "")
        if subject.startswith(prefix):
            number = subject[len(prefix) :].split(":", 1)[0]
            ours.append({**ticket, "message": int(number)})
    problems = burst_problems(plan, [(s, b) for s, b, _ in results], ours)
    if len(listed) - before != len(distinct):
        problems.append(f"the table has {len(listed) - before} new tickets, not {len(distinct)}")
    if problems:
        raise BurstMismatchError(
            f"{len(problems)} problems in the burst, e.g.:\n" + "\n".join(problems[:20])
        )
    duplicates = sum(p.redelivery for p in plan)
    return {
        "deliveries": len(plan),
        "distinct": len(distinct),
        "duplicates": duplicates,
        "concurrent_duplicates": sum(
            1
            for i, p in enumerate(plan)
            if p.redelivery
            and any(q.message == p.message for q in plan[max(i - concurrency + 1, 0) : i])
        ),
        "tickets": len(ours),
        "by_channel": dict(sorted(Counter(t["channel"] for t in ours).items())),
        "concurrency": concurrency,
        "wall_seconds": wall,
        "per_second": len(plan) / wall,
        "cpu_ms_per_delivery": 1000 * cpu_used / len(plan),
        "latency": summary_ms([s for _, _, s in results]),
    }


# -- part 3: AWS calls per message, in-process under moto ------------------------------------------


def _calls_in_process(repeat: int) -> dict[str, Any]:
    from chalice.config import Config
    from chalice.local import LocalGateway

    from functions.core.config import load_config
    from functions.social_dm import app as social_app
    from functions.social_dm import wiring as social_wiring
    from infra.local.resources import config_with_fake_platforms, create_demo_secrets
    from tests.unit.channels.fake_platform import Answer, FakePlatform

    workdir = Path(tempfile.mkdtemp(prefix="bench-social-"))
    platform = FakePlatform(default=Answer(200, SENT)).start()
    config = config_with_fake_platforms(
        open_config(workdir / "open"), workdir / "fake", platform.url
    )
    try:
        with metered_aws(config) as aws:
            values = create_demo_secrets(aws.session, load_config(config))
            secrets = {
                "meta_app_secret": values["ssm:/helpline/dev/meta-app-secret"],
                "telegram_secret_token": values["ssm:/helpline/dev/telegram-secret-token"],
                "x_consumer_secret": values["ssm:/helpline/dev/x-consumer-secret"],
            }
            social_wiring.use(None)
            gateway = LocalGateway(social_app.app, Config.create(chalice_app=social_app.app))
            counter = iter(range(10**6))

            def deliver(post: Post, expected: str) -> Sample:
                response, sample = aws.measure(
                    lambda: gateway.handle_request(
                        method="POST",
                        path=post.path,
                        headers={"content-type": "application/json", **dict(post.headers)},
                        body=post.body,
                    )
                )
                body = json.loads(response.get("body") or "{}")
                if response["statusCode"] != 200 or body.get("outcomes") != {expected: 1}:
                    raise BurstMismatchError(f"{post.platform}: {response}")
                return sample

            first: dict[str, Any] = {}
            for name in PLATFORMS:  # a cold container's first delivery of each route
                n = next(counter)
                sample = deliver(signed_post(name, n, f"Ref {n}", secrets), "created")
                first[name] = {"calls": sample.calls, "by_operation": sample.by_operation}
            warm: dict[str, Any] = {}
            for name in PLATFORMS:
                posts = [signed_post(name, n, f"Ref {n}", secrets) for n in islice(counter, repeat)]
                for kind, expected in (("new", "created"), ("duplicate", "duplicate")):
                    samples = [deliver(post, expected) for post in posts]
                    warm.setdefault(name, {})[kind] = median_sample(samples)
            sends = len(platform.requests)
    finally:
        social_wiring.use(None)
        platform.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"first": first, "warm": warm, "platform_sends": sends}


# -- the run --------------------------------------------------------------------------------------


def run(
    *,
    samples: int = 20,
    burst: int = 1000,
    duplicate_share: float = 0.10,
    concurrency: int = 8,
    repeat: int = 5,
) -> dict[str, Any]:
    from datetime import UTC, datetime

    missing = missing_corpora()
    if missing:
        raise RuntimeError(
            "the corpora are needed for real payloads and are missing: "
            + ", ".join(missing)
            + " (set HELPLINE_CORPORA or fetch ../shared/corpora)"
        )
    began = time.perf_counter()
    run_id = random_ids.token_hex(3)
    workdir = Path(tempfile.mkdtemp(prefix="bench-social-stack-"))
    try:
        with LocalStack(open_config(workdir / "config"), workdir / "state") as stack:
            deliveries = _deliveries_through_stack(stack, samples, run_id)
            burst_figures = _burst_through_stack(
                stack,
                total=burst,
                duplicate_share=duplicate_share,
                concurrency=concurrency,
                run=run_id,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    calls = _calls_in_process(repeat)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "samples": samples,
        "repeat": repeat,
        "command": f"{COMMAND} --samples {samples} --burst {burst} "
        f"--duplicates {duplicate_share:g} --concurrency {concurrency} --repeat {repeat}",
        "total_seconds": time.perf_counter() - began,
        "stack": deliveries,
        "burst": burst_figures,
        "calls": calls,
    }


def markdown(result: dict[str, Any]) -> str:
    from bench.peers_common import table

    stack, burst, calls = result["stack"], result["burst"], result["calls"]
    rows = []
    for name in PLATFORMS:
        new, dup = stack["platforms"][name]["new"], stack["platforms"][name]["duplicate"]
        rows.append(
            [
                name,
                f"{new['p50_ms']:.0f}",
                f"{new['p99_ms']:.0f}",
                f"{new['cpu_ms']:.0f}",
                f"{dup['p50_ms']:.0f}",
                f"{dup['p99_ms']:.0f}",
                f"{dup['cpu_ms']:.0f}",
            ]
        )
    slowest = max(stack["platforms"][name]["new"]["p99_ms"] for name in PLATFORMS)
    call_rows = [
        (f"{name}: {label}", calls["warm"][name][kind])
        for name in PLATFORMS
        for kind, label in (
            ("new", "new ticket, with acknowledgement"),
            ("duplicate", "duplicate delivery"),
        )
    ]
    cold = []
    for name in PLATFORMS:
        first, warm = calls["first"][name], calls["warm"][name]["new"]["by_operation"]
        extra = {
            op: n - warm.get(op, 0)
            for op, n in first["by_operation"].items()
            if n > warm.get(op, 0)
        }
        more = ", ".join(f"{op} {n}" for op, n in extra.items()) or "nothing more"
        cold.append(f"{name} {first['calls']} ({more})")
    lines = [
        "## social_dm: webhook time, CPU and AWS calls per delivery, and a burst with duplicates",
        "",
        f"`{result['command']}` (`bench/social_cost.py`), {result['date']}; {result['machine']}.",
        "",
        "Through `helpline dev` (a subprocess; calendars open around the clock): deliveries built",
        "from the peers' corpora (Chatwoot's Messenger and Instagram factories, pywa's WhatsApp",
        "update, Zammad's Telegram update and X event) with fresh ids and senders, signed with",
        "dev.json's demo secrets and posted with urllib. Every new message makes a ticket and is",
        "acknowledged on its platform (the stack's fake platform API); every delivery is then",
        f"posted again, as a platform retries. {result['samples']} of each per platform, taking turns;",
        "time is the HTTP round trip on loopback, CPU the stack process's (utime + stime, read",
        "around each post: the handler, the embedded moto server and the fake platform API).",
        "",
        *table(
            [
                "platform",
                "new: p50 ms",
                "p99 ms",
                "CPU ms",
                "duplicate: p50 ms",
                "p99 ms",
                "CPU ms",
            ],
            rows,
        ),
        "",
        f"Slowest p99 of a new-ticket delivery: **{slowest:.0f} ms**, against the answer limits"
        " of X (3 s) and",
        "Meta (20 s). Idle stack CPU (its schedules and stream poller): "
        f"{1000 * stack['idle_cpu_per_second']:.0f} ms/s.",
        "",
        f"### Burst: {burst['deliveries']} deliveries, {burst['duplicates']} of them redeliveries",
        "",
        f"{burst['distinct']} distinct messages over the five platforms and "
        f"{burst['duplicates']} redeliveries of them, byte for byte and interleaved "
        f"({burst['concurrent_duplicates']} within {burst['concurrency']} places of their "
        f"original, so both were in flight at once), posted by {burst['concurrency']} threads.",
        "Checked: every answer 200, one `created` per message over all its deliveries and",
        "`duplicate` for the rest, and in the table (read with `TicketStore.list_tickets`, as",
        "`helpline tickets list --json` does) exactly one ticket per message, found by the",
        "reference in its text, on the right channel and holding that one message, and no",
        "other new ticket.",
        "",
        f"- tickets made: **{burst['tickets']}** for {burst['distinct']} distinct messages "
        f"({', '.join(f'{k} {v}' for k, v in burst['by_channel'].items())})",
        f"- {burst['deliveries']} deliveries in {burst['wall_seconds']:.1f} s: "
        f"**{burst['per_second']:.1f} deliveries/s**; stack CPU "
        f"{burst['cpu_ms_per_delivery']:.0f} ms per delivery",
        f"- round trip under the burst: p50 {burst['latency']['p50_ms']:.0f} ms, "
        f"p99 {burst['latency']['p99_ms']:.0f} ms (X's answer limit: 3 s)",
        "",
        "### AWS calls per message",
        "",
        "social_dm's Chalice routes in-process under moto, every client metered (`bench/aws_meter.py`),",
        f"a warm container; medians of {result['repeat']} deliveries. Write units as in the email",
        "table. Handler CPU is the calling thread's, without moto's own work answering the calls",
        "(timed and subtracted: that part is AWS's in production), so it includes botocore's",
        "request building and parsing and the acknowledgement's send to a fake platform API on",
        "loopback.",
        "",
        *calls_table(call_rows),
        "",
        "A cold container's first delivery of each platform, in AWS calls (the secrets are read",
        f"once, then cached): {'; '.join(cold)}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=20, help="deliveries per platform and kind")
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--duplicates", type=float, default=0.10, help="share of redeliveries")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5, help="metered deliveries per scenario")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    result = run(
        samples=args.samples,
        burst=args.burst,
        duplicate_share=args.duplicates,
        concurrency=args.concurrency,
        repeat=args.repeat,
    )
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
