"""The messaging windows: what may go out, how, and what the agent is told when not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from functions.core.channels.windows import decide
from functions.core.models import Channel

NOW = datetime(2025, 11, 25, 12, 0, tzinfo=UTC)


def _ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


@pytest.mark.parametrize("channel", [Channel.MESSENGER, Channel.INSTAGRAM])
class TestMetaThreads:
    def test_any_reply_within_24_hours_is_a_response(self, channel: Channel) -> None:
        for human in (True, False):
            decision = decide(
                channel,
                last_inbound_at=_ago(hours=23, minutes=59),
                now=NOW,
                human=human,
                whatsapp_template=None,
            )
            assert (decision.allowed, decision.mode) == (True, "response")
            assert decision.headers == {"messaging_type": "RESPONSE"}

    def test_a_person_may_answer_until_7_days_with_the_human_agent_tag(
        self, channel: Channel
    ) -> None:
        for elapsed in (timedelta(hours=24), timedelta(days=3), timedelta(days=6, hours=23)):
            decision = decide(
                channel, last_inbound_at=NOW - elapsed, now=NOW, human=True, whatsapp_template=None
            )
            assert (decision.allowed, decision.mode) == (True, "human_agent"), elapsed
            assert decision.headers == {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}

    def test_an_automatic_reply_after_24_hours_is_refused_with_a_reason(
        self, channel: Channel
    ) -> None:
        decision = decide(
            channel, last_inbound_at=_ago(hours=30), now=NOW, human=False, whatsapp_template=None
        )
        assert not decision.allowed
        assert decision.headers == {}
        assert "30 hours ago" in decision.reason
        assert "only accepts replies written by a person" in decision.reason

    def test_nothing_goes_out_after_7_days(self, channel: Channel) -> None:
        decision = decide(
            channel, last_inbound_at=_ago(days=7), now=NOW, human=True, whatsapp_template=None
        )
        assert not decision.allowed
        assert "7 days ago" in decision.reason and "another channel" in decision.reason

    def test_a_customer_who_never_wrote_cannot_be_messaged(self, channel: Channel) -> None:
        decision = decide(
            channel, last_inbound_at=None, now=NOW, human=True, whatsapp_template=None
        )
        assert not decision.allowed
        assert "has not written" in decision.reason

    def test_a_customer_clock_slightly_ahead_still_counts_as_just_now(
        self, channel: Channel
    ) -> None:
        decision = decide(
            channel,
            last_inbound_at=NOW + timedelta(seconds=30),
            now=NOW,
            human=False,
            whatsapp_template=None,
        )
        assert decision.allowed


class TestWhatsApp:
    def test_free_text_within_24_hours(self) -> None:
        decision = decide(
            Channel.WHATSAPP,
            last_inbound_at=_ago(hours=2),
            now=NOW,
            human=False,
            whatsapp_template="support_follow_up",
        )
        assert (decision.allowed, decision.mode, decision.headers) == (
            True,
            "response",
            {"messaging_type": "RESPONSE"},
        )

    def test_outside_24_hours_only_the_configured_template(self) -> None:
        decision = decide(
            Channel.WHATSAPP,
            last_inbound_at=_ago(hours=25),
            now=NOW,
            human=True,
            whatsapp_template="support_follow_up",
            whatsapp_template_language="pt_BR",
        )
        assert (decision.allowed, decision.mode) == (True, "template")
        assert decision.headers == {
            "whatsapp_template": "support_follow_up",
            "whatsapp_template_language": "pt_BR",
        }
        assert "support_follow_up" in decision.reason

    def test_outside_24_hours_without_a_template_is_refused_naming_the_setting(self) -> None:
        decision = decide(
            Channel.WHATSAPP,
            last_inbound_at=_ago(days=2),
            now=NOW,
            human=True,
            whatsapp_template=None,
        )
        assert not decision.allowed
        assert "social.meta.whatsapp.template" in decision.reason
        assert "2 days ago" in decision.reason

    def test_a_customer_who_never_wrote_gets_the_template_or_nothing(self) -> None:
        assert (
            decide(
                Channel.WHATSAPP, last_inbound_at=None, now=NOW, human=True, whatsapp_template="t"
            ).mode
            == "template"
        )
        assert not decide(
            Channel.WHATSAPP, last_inbound_at=None, now=NOW, human=True, whatsapp_template=None
        ).allowed


@pytest.mark.parametrize("channel", [Channel.TELEGRAM, Channel.X, Channel.EMAIL, Channel.CHAT])
def test_channels_without_a_window_always_allow(channel: Channel) -> None:
    decision = decide(
        channel, last_inbound_at=_ago(days=400), now=NOW, human=False, whatsapp_template=None
    )
    assert (decision.allowed, decision.mode, decision.headers) == (True, "none", {})


def test_the_reason_says_how_long_ago_in_words_a_person_reads() -> None:
    def reason(**delta: float) -> str:
        return decide(
            Channel.WHATSAPP,
            last_inbound_at=_ago(**delta),
            now=NOW,
            human=True,
            whatsapp_template=None,
        ).reason

    assert "wrote just now" in reason(seconds=20)
    assert "wrote 1 minute ago" in reason(minutes=1, seconds=5)
    assert "wrote 45 minutes ago" in reason(minutes=45)
    assert "wrote 5 hours ago" in reason(hours=5, minutes=10)
    assert "last wrote 47 hours ago" in reason(hours=47)
    assert "last wrote 3 days ago" in reason(days=3, hours=5)
