"""A chat's rating is the CSAT of an answer someone gave: chats nobody answered cannot be
rated, and a chat is rated once. Ten anonymous after-hours chats rating 1 once took the
chat CSAT to 8% and put ten low-score follow-ups on the team's queue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.functional.chat_harness import build

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)


@pytest.fixture
def chat(aws):
    return build(aws, TUESDAY)


def _csat(chat) -> dict:
    from functions.core import reports
    from functions.core.surveystore import SurveyStore

    cells = SurveyStore(chat.components.store.table_name, chat.components.store.client).cells(
        "channel", "2026-11-01", "2026-12-31"
    )
    return reports.build_report(cells, by="channel", granularity="day").to_dict()["total"]


def test_chats_nobody_answered_cannot_be_rated(chat, aws):
    chat.clock.now = SATURDAY  # after hours: only the automatic after-hours reply
    for n in range(10):
        customer = chat.customer()
        customer.send("message", text=f"Is anyone there? This is chat number {n}.", client_id="1")
        assert customer.last("after_hours")
        customer.send("close")
        customer.send("rate", score=1, comment="Nobody answered")
        assert customer.last("error")["code"] == "nothing_to_rate"
        assert not customer.of("rated")
    total = _csat(chat)
    assert total["surveys_sent"] == 0 and total["csat_scores"]["1"] == 0
    assert aws.queue_messages("english") == [] or all(
        m["event"] != "low_score_follow_up" for m in aws.queue_messages("english")
    )


def test_an_answered_chat_is_rated_once(chat):
    agent = chat.agent("emma@helpline.test")
    customer = chat.customer()
    customer.send("message", text="I cannot change my password on the account page", client_id="1")
    session = agent.last("assigned")["session_id"]
    agent.send("message", session_id=session, text="I have reset it for you now.", client_id="a")
    customer.send("close")
    customer.send("rate", score=5)
    assert customer.last("rated")["score"] == 5
    customer.send("rate", score=1)
    assert customer.last("error")["code"] == "already_rated"
    total = _csat(chat)
    assert total["csat_scores"]["5"] == 1 and total["csat_scores"]["1"] == 0
