"""The measuring helpers of bench/chat_load.py and bench/social_cost.py: percentiles,
CPU read from /proc, the exactly-once/in-order check of chat deliveries, the bench
config, the duplicate-burst plan and its ticket check, and the signed deliveries
(real corpus payloads, which the project's own verifiers and normalizers accept)."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from random import Random
from typing import Any

import pytest

from bench.chat_load import (
    delivery_problems,
    numbers,
    open_config,
    parse_proc_stat,
    percentile,
    process_cpu_seconds,
    summary_ms,
)
from bench.social_cost import (
    PLATFORMS,
    Planned,
    burst_problems,
    missing_corpora,
    plan_burst,
    platform_of,
    reference,
    signed_post,
)
from functions.core.channels import meta, signatures, telegram, x
from functions.core.config import load_config
from functions.core.models import Channel

# -- percentiles ------------------------------------------------------------------------------


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.5
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order of the input does not matter


def test_percentiles_agree_with_the_standard_library_inclusive_method() -> None:
    rng = Random(7)
    for size in (2, 5, 37, 200):
        values = [rng.expovariate(1 / 40) for _ in range(size)]
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        for q in (1, 25, 50, 90, 99):
            assert percentile(values, q) == pytest.approx(cuts[q - 1])


def test_a_percentile_of_nothing_or_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summaries_are_in_milliseconds() -> None:
    assert summary_ms([0.010, 0.020, 0.030]) == {
        "n": 3,
        "p50_ms": pytest.approx(20.0),
        "p99_ms": pytest.approx(29.8),
        "max_ms": pytest.approx(30.0),
    }


# -- CPU from /proc ---------------------------------------------------------------------------


def test_proc_stat_is_read_past_a_command_name_with_spaces_and_parentheses() -> None:
    fields = ["S", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "250", "50", "0", "0"]
    line = "4242 (python -m (dev) x) " + " ".join(fields) + " 20 0 12 0"
    assert parse_proc_stat(line) == 300


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_process_cpu_grows_while_the_process_computes() -> None:
    before = process_cpu_seconds(os.getpid())
    end = time.process_time() + 0.1
    while time.process_time() < end:
        sum(i * i for i in range(1000))
    assert process_cpu_seconds(os.getpid()) > before


# -- exactly once, in order -------------------------------------------------------------------


def test_every_message_once_and_in_order_is_no_problem() -> None:
    assert delivery_problems({0: [0, 1, 2], 1: [0, 1]}, {0: [0, 1, 2], 1: [0, 1]}, what="w") == []


def test_a_lost_message_is_named() -> None:
    [problem] = delivery_problems({3: [0, 1, 2]}, {3: [0, 2]}, what="to agent")
    assert "to agent" in problem and "chat 3 never got [1]" in problem


def test_a_doubled_message_is_named_even_when_the_order_holds() -> None:
    [problem] = delivery_problems({0: [0, 1, 2]}, {0: [0, 1, 1, 2]}, what="w")
    assert "[1] more than once" in problem


def test_a_reordered_chat_is_named() -> None:
    [problem] = delivery_problems({0: [0, 1, 2]}, {0: [0, 2, 1]}, what="w")
    assert "out of order" in problem


def test_a_message_never_sent_and_a_chat_that_does_not_exist_are_named() -> None:
    problems = delivery_problems({0: [0, 1]}, {0: [0, 1, 9], 5: [0]}, what="w")
    assert any("[9], which it never sent" in p for p in problems)
    assert any("chat 5 does not exist" in p for p in problems)


def test_a_chat_that_got_nothing_is_named() -> None:
    [problem] = delivery_problems({0: [0, 1]}, {}, what="w")
    assert "never got [0, 1]" in problem


def test_chat_and_sequence_are_read_from_a_message_and_its_echo() -> None:
    from bench.chat_load import CUSTOMER_TEXT, ECHO_PREFIX

    text = CUSTOMER_TEXT.format(chat=17, seq=4)
    assert numbers(text) == (17, 4)
    assert numbers(ECHO_PREFIX + text) == (17, 4)
    assert numbers("Hello!") is None


# -- the bench config -------------------------------------------------------------------------


def test_the_bench_config_is_valid_open_at_any_hour_and_has_the_agents(tmp_path: Any) -> None:
    config = load_config(open_config(tmp_path, agents=20, max_chats=10, actions_per_second=100))
    assert len(config.agents) == 20 and {a.max_chats for a in config.agents} == {10}
    assert {a.languages for a in config.agents} == {("en",)}
    assert not any(config.chat.faq.values())  # no bot answers in place of an agent
    assert config.chat.max_actions_per_second == 100
    moments = [
        datetime(2026, 12, 25, 3, 0, tzinfo=UTC),  # a holiday, at night
        datetime(2026, 11, 29, 23, 59, tzinfo=UTC),  # a Sunday, just before midnight
        datetime(2027, 1, 1, 0, 0, tzinfo=UTC),
    ]
    for team in config.teams:
        calendar = config.calendar_for_team(team)
        assert all(calendar.is_open(moment) for moment in moments), team


def test_without_agents_the_demo_agents_stay(tmp_path: Any) -> None:
    config = load_config(open_config(tmp_path))
    assert [a.email for a in config.agents] == [a.email for a in load_config().agents]


# -- the duplicate burst ----------------------------------------------------------------------


def test_a_burst_has_the_asked_share_of_redeliveries_each_after_its_original() -> None:
    plan = plan_burst(1000, 0.10, concurrency=8, seed=1)
    assert len(plan) == 1000
    redeliveries = [p for p in plan if p.redelivery]
    originals = [p for p in plan if not p.redelivery]
    assert len(redeliveries) == 100
    assert sorted(p.message for p in originals) == list(range(900))
    assert len({p.message for p in redeliveries}) == 100  # each message redelivered once at most
    first = {p.message: i for i, p in reversed(list(enumerate(plan)))}
    for i, p in enumerate(plan):
        if p.redelivery:
            assert i > first[p.message]


def test_some_redeliveries_are_in_flight_with_their_original_and_some_come_later() -> None:
    plan = plan_burst(1000, 0.10, concurrency=8, seed=2)
    position = {p.message: i for i, p in enumerate(plan) if not p.redelivery}
    gaps = [i - position[p.message] for i, p in enumerate(plan) if p.redelivery]
    near = [g for g in gaps if g < 8]
    assert len(near) >= 40 and len(gaps) - len(near) >= 40


def test_a_burst_plan_is_the_same_for_the_same_seed() -> None:
    assert plan_burst(200, 0.1, concurrency=4, seed=5) == plan_burst(
        200, 0.1, concurrency=4, seed=5
    )
    assert plan_burst(200, 0.1, concurrency=4, seed=5) != plan_burst(
        200, 0.1, concurrency=4, seed=6
    )


def test_a_burst_spreads_its_messages_over_the_five_platforms() -> None:
    plan = plan_burst(1000, 0.1, concurrency=8, seed=3)
    counts = Counter(platform_of(p.message) for p in plan if not p.redelivery)
    assert set(counts) == set(PLATFORMS) and set(counts.values()) == {180}


def test_more_redeliveries_than_originals_is_refused() -> None:
    with pytest.raises(ValueError):
        plan_burst(100, 0.6, concurrency=8, seed=1)


def _answers(plan: list[Planned]) -> list[tuple[int, Any]]:
    return [(200, {"outcomes": {"duplicate" if p.redelivery else "created": 1}}) for p in plan]


def _tickets(messages: range) -> list[dict[str, Any]]:
    return [{"id": f"T{m}", "message": m, "channel": platform_of(m)} for m in messages]


def test_the_burst_check_accepts_one_ticket_per_message() -> None:
    plan = plan_burst(50, 0.1, concurrency=4, seed=4)
    assert burst_problems(plan, _answers(plan), _tickets(range(45))) == []


def test_the_burst_check_accepts_a_redelivery_that_won_the_race() -> None:
    plan = [Planned(0, False), Planned(0, True)]
    answers = [(200, {"outcomes": {"duplicate": 1}}), (200, {"outcomes": {"created": 1}})]
    assert burst_problems(plan, answers, _tickets(range(1))) == []


def test_the_burst_check_names_a_second_ticket_a_lost_one_and_a_wrong_channel() -> None:
    plan = [Planned(0, False), Planned(1, False), Planned(0, True), Planned(2, False)]
    answers = [(200, {"outcomes": {"created": 1}})] * 4  # the redelivery created again
    tickets = [*_tickets(range(2)), {"id": "T0b", "message": 0, "channel": "messenger"}]
    tickets.append({"id": "T9", "message": 9, "channel": "x"})
    tickets[1] = {**tickets[1], "channel": "telegram"}
    problems = burst_problems(plan, answers, tickets)
    assert any("message 0: 2 deliveries answered created 2" in p for p in problems)
    assert any("message 0 made 2 tickets" in p for p in problems)
    assert any("message 2 made 0 tickets" in p for p in problems)
    assert any("T9 names message 9, never sent" in p for p in problems)
    assert any("T1 is telegram, not instagram" in p for p in problems)


def test_the_burst_check_names_a_ticket_a_redelivery_added_a_message_to() -> None:
    plan = [Planned(0, False), Planned(0, True)]
    answers = [(200, {"outcomes": {"created": 1}}), (200, {"outcomes": {"duplicate": 1}})]
    [ticket] = _tickets(range(1))
    problems = burst_problems(plan, answers, [{**ticket, "messages": 2}])
    assert problems == ["ticket T0 holds 2 messages, not 1"]


def test_the_burst_check_names_a_refused_delivery() -> None:
    plan = [Planned(0, False)]
    problems = burst_problems(plan, [(500, {"code": "oops"})], _tickets(range(1)))
    assert any("message 0: 500" in p for p in problems)


# -- signed deliveries from the corpora --------------------------------------------------------

SECRETS = {
    "meta_app_secret": "meta-secret",
    "telegram_secret_token": "telegram-token",
    "x_consumer_secret": "x-secret",
}
NORMALIZE = {
    "messenger": meta.normalize_meta,
    "instagram": meta.normalize_meta,
    "whatsapp": meta.normalize_meta,
    "telegram": telegram.normalize,
    "x": x.normalize,
}


def _verify(platform: str, body: bytes, headers: dict[str, str]) -> None:
    if platform == "telegram":
        signatures.verify_telegram_secret(
            headers["X-Telegram-Bot-Api-Secret-Token"], SECRETS["telegram_secret_token"]
        )
    elif platform == "x":
        signatures.verify_x_signature(
            body, headers["x-twitter-webhooks-signature"], SECRETS["x_consumer_secret"].encode()
        )
    else:
        signatures.verify_meta_signature(
            body, headers["X-Hub-Signature-256"], SECRETS["meta_app_secret"].encode()
        )


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_bench_delivery_is_signed_and_reads_as_one_new_message(platform: str) -> None:
    if missing_corpora():
        pytest.skip(f"corpora absent: {missing_corpora()} (set HELPLINE_CORPORA)")
    ref = reference("t1", 3)
    post = signed_post(platform, 3, ref, SECRETS)
    _verify(platform, post.body, dict(post.headers))
    account = {"telegram": "helpline_demo_bot", "x": "1111111111"}.get(platform, "")
    delivery = NORMALIZE[platform](
        json.loads(post.body), received_at=datetime.now(UTC), account=account
    )
    [message] = delivery.messages
    assert message.channel is Channel(platform)
    assert message.text.startswith(ref + ": ")
    other = NORMALIZE[platform](
        json.loads(signed_post(platform, 4, ref, SECRETS).body),
        received_at=datetime.now(UTC),
        account=account,
    ).messages[0]
    # another message number is another message from another customer
    assert other.external_id != message.external_id and other.sender != message.sender


def test_a_tampered_bench_delivery_fails_the_signature_check() -> None:
    if missing_corpora():
        pytest.skip(f"corpora absent: {missing_corpora()} (set HELPLINE_CORPORA)")
    post = signed_post("messenger", 1, "Ref t", SECRETS)
    with pytest.raises(Exception, match=r"(?i)signature"):
        _verify("messenger", post.body.replace(b"Hola", b"Hole"), dict(post.headers))
