"""Surveys: the settings, who is asked what and when, scores, comments and links."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from functions.core.errors import ConfigError, RejectedInput
from functions.core.models import Channel, TicketStatus
from functions.core.secrets import SecretRef
from functions.core.surveys import (
    DEFAULT_CHANNELS,
    MAX_HISTORY,
    Choice,
    Response,
    ScoreChange,
    Survey,
    SurveyDecision,
    SurveyFacts,
    SurveySettings,
    clean_comment,
    decide_survey,
    invalid_link_reason,
    is_low_score,
    is_survey_id,
    needs_follow_up,
    parse_choices,
    parse_score,
    parse_surveys,
    read_survey_token,
    survey_id,
    survey_links,
    survey_token,
    survey_url,
)
from functions.core.tokens import sign

SECTION = """
surveys:
  enabled: true
  csat: {enabled: true}
  nps: {enabled: true, every_days: 90}
  delay_minutes: 1440
  quiet_period_days: 14
  token_secret: ssm:/helpline/dev/survey-token-secret
  link_ttl_days: 30
  base_url: https://support.example.com/
  channels: [email, chat, messenger, instagram, telegram, whatsapp]
  low_score_follow_up: true
  comment_max_chars: 5000
"""
SOLVED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SECRET = b"survey-secret-for-tests"


def _section(**changes: Any) -> dict[str, Any]:
    node: dict[str, Any] = yaml.safe_load(SECTION)["surveys"]
    for key, value in changes.items():
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    return node


SETTINGS = parse_surveys(_section())
# a customer who was asked NPS recently, so the default is a CSAT survey
RECENT_NPS = SOLVED - timedelta(days=30)


def _facts(**changes: Any) -> SurveyFacts:
    fields: dict[str, Any] = {
        "ticket_id": "K7Q2M4XD9A",
        "channel": Channel.EMAIL,
        "status": TicketStatus.SOLVED,
        "solved_at": SOLVED,
        "solved_by": "agent",
        "last_nps_at": RECENT_NPS,
    }
    fields.update(changes)
    return SurveyFacts(**fields)


# --- settings ----------------------------------------------------------------------------


def test_the_documented_section_parses() -> None:
    settings = parse_surveys(_section())
    assert settings == SurveySettings(
        enabled=True,
        csat_enabled=True,
        nps_enabled=True,
        nps_every_days=90,
        nps_with_csat=False,
        delay_minutes=1440,
        quiet_period_days=14,
        token_secret=SecretRef("ssm", "/helpline/dev/survey-token-secret"),
        link_ttl_days=30,
        base_url="https://support.example.com",
        channels=(
            Channel.EMAIL,
            Channel.CHAT,
            Channel.MESSENGER,
            Channel.INSTAGRAM,
            Channel.TELEGRAM,
            Channel.WHATSAPP,
        ),
        low_score_follow_up=True,
        comment_max_chars=5000,
    )
    assert SETTINGS.delay == timedelta(hours=24)
    assert SETTINGS.link_ttl == timedelta(days=30)


def test_a_missing_section_turns_surveys_off() -> None:
    assert parse_surveys(None).enabled is False


def test_defaults_ask_on_every_channel() -> None:
    # X too: its question is a list, answered by typing the number (filter 65)
    settings = parse_surveys(_section(channels=None))
    assert settings.channels == DEFAULT_CHANNELS == tuple(Channel)


def test_the_local_demo_can_send_without_delay() -> None:
    assert parse_surveys(_section(delay_minutes=0)).delay == timedelta(0)


def test_disabled_surveys_need_no_secret_or_url() -> None:
    settings = parse_surveys({"enabled": False})
    assert settings.enabled is False
    assert settings.token_secret is None


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"delay_minutes": -5}, "surveys.delay_minutes", "at least 0"),
        ({"delay_minutes": "soon"}, "surveys.delay_minutes", "whole number"),
        ({"delay_minutes": 50_000}, "surveys.delay_minutes", "at most"),
        ({"quiet_period_days": 1.5}, "surveys.quiet_period_days", "whole number"),
        ({"nps": {"every_days": 0}}, "surveys.nps.every_days", "at least 1"),
        ({"nps": {"enabled": "yes"}}, "surveys.nps.enabled", "true or false"),
        ({"nps": {"evry_days": 30}}, "surveys.nps.evry_days", "unknown field"),
        (
            {"csat": {"enabled": False}, "nps": {"enabled": False}},
            "surveys.csat.enabled",
            "both off",
        ),
        ({"token_secret": "hunter2"}, "surveys.token_secret", "secret reference"),
        ({"token_secret": None}, "surveys.token_secret", "required"),
        ({"base_url": "support.example.com"}, "surveys.base_url", "not a URL"),
        ({"base_url": "ftp://support.example.com"}, "surveys.base_url", "not a URL"),
        ({"base_url": "https://x.example/?a=1"}, "surveys.base_url", "query"),
        ({"link_ttl_days": 0}, "surveys.link_ttl_days", "at least 1"),
        ({"link_ttl_days": 400}, "surveys.link_ttl_days", "at most 365"),
        ({"channels": ["email", "fax"]}, "surveys.channels[1]", "unknown channel 'fax'"),
        ({"channels": ["email", "email"]}, "surveys.channels[1]", "listed twice"),
        ({"channels": []}, "surveys.channels", "at least one channel"),
        ({"channels": "email"}, "surveys.channels", "must be a list"),
        ({"comment_max_chars": 0}, "surveys.comment_max_chars", "at least 1"),
        ({"comment_max_chars": 10**6}, "surveys.comment_max_chars", "at most"),
        ({"low_score_follow_up": "true"}, "surveys.low_score_follow_up", "true or false"),
        ({"reminder": True}, "surveys.reminder", "unknown field"),
    ],
)
def test_a_bad_setting_names_its_field(changes: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_surveys(_section(**changes))
    assert caught.value.field == field
    assert problem in caught.value.problem


def test_the_section_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_surveys(["enabled"])
    assert caught.value.field == "surveys"


# --- the decision: who is not asked ---------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "facts", "reason"),
    [
        (replace(SETTINGS, enabled=False), _facts(), "Surveys are turned off."),
        (SETTINGS, _facts(channel=Channel.X), "Surveys are not sent on the x channel."),
        (
            SETTINGS,
            _facts(status=TicketStatus.OPEN),
            "The ticket was reopened after it was solved; its next solve brings a new survey.",
        ),
        (
            SETTINGS,
            _facts(reopened_since_solved=True),
            "The ticket was reopened after it was solved; its next solve brings a new survey.",
        ),
        (
            SETTINGS,
            _facts(solved_by="automatic"),
            "The ticket was solved automatically, not by an agent.",
        ),
        (
            SETTINGS,
            _facts(customer_is_auto_responder=True),
            "The customer is an auto-responder: every message from them was automatic.",
        ),
        (
            SETTINGS,
            _facts(customer_undeliverable=True),
            "The customer cannot be reached on email: earlier sends failed.",
        ),
    ],
    ids=[
        "off",
        "x",
        "open-again",
        "reopened-and-solved-again",
        "automatic",
        "auto-responder",
        "undeliverable",
    ],
)
def test_no_survey(settings: SurveySettings, facts: SurveyFacts, reason: str) -> None:
    decision = decide_survey(settings, facts, now=SOLVED)

    assert decision.send is False
    assert decision.kind is None
    assert decision.kinds == ()
    assert decision.reason == reason
    assert not decision.is_due(SOLVED + timedelta(days=2))


def test_a_solved_ticket_is_asked_csat_after_the_delay() -> None:
    decision = decide_survey(SETTINGS, _facts(), now=SOLVED)

    assert decision == SurveyDecision(
        True, "csat", "A CSAT survey is sent at 2026-11-25 10:00 UTC.", SOLVED + timedelta(days=1)
    )
    assert not decision.is_due(SOLVED + timedelta(hours=23))
    assert decision.is_due(SOLVED + timedelta(hours=24))


def test_a_closed_ticket_is_still_asked() -> None:
    decision = decide_survey(SETTINGS, _facts(status=TicketStatus.CLOSED), now=SOLVED)
    assert decision.send is True


def test_the_decision_made_again_when_due_says_now() -> None:
    due = SOLVED + timedelta(days=1)
    decision = decide_survey(SETTINGS, _facts(), now=due)

    assert decision.reason == "A CSAT survey is sent now."
    assert decision.is_due(due)


def test_a_ticket_reopened_during_the_delay_is_not_asked_when_due() -> None:
    at_solve = decide_survey(SETTINGS, _facts(), now=SOLVED)
    when_due = decide_survey(SETTINGS, _facts(status=TicketStatus.OPEN), now=at_solve.send_at)

    assert at_solve.send is True
    assert when_due.send is False
    assert "reopened" in when_due.reason


# --- quiet period ---------------------------------------------------------------------------


def test_a_customer_surveyed_within_the_quiet_period_is_not_asked() -> None:
    last = SOLVED - timedelta(days=10)
    decision = decide_survey(SETTINGS, _facts(last_survey_at=last), now=SOLVED)

    assert decision.send is False
    assert decision.reason == (
        "The customer was surveyed on 2026-11-14 10:00 UTC, within the 14-day quiet period."
    )


def test_the_quiet_period_is_judged_at_the_send_time() -> None:
    # 13.5 days before the solve, 14.5 days before the delayed send: allowed
    last = SOLVED - timedelta(days=13, hours=12)
    decision = decide_survey(SETTINGS, _facts(last_survey_at=last), now=SOLVED)
    assert decision.send is True


def test_a_quiet_period_of_zero_days_never_blocks() -> None:
    settings = replace(SETTINGS, quiet_period_days=0, delay_minutes=0)
    decision = decide_survey(
        settings, _facts(last_survey_at=SOLVED - timedelta(seconds=1)), now=SOLVED
    )
    assert decision.send is True


# --- CSAT or NPS ----------------------------------------------------------------------------


def test_nps_replaces_csat_when_never_asked() -> None:
    decision = decide_survey(SETTINGS, _facts(last_nps_at=None), now=SOLVED)

    assert decision.kind == "nps"
    assert decision.kinds == ("nps",)
    assert decision.reason == (
        "An NPS survey is sent at 2026-11-25 10:00 UTC instead of CSAT: NPS is due "
        "(never asked, at most every 90 days)."
    )


def test_nps_is_due_again_after_its_interval() -> None:
    last = SOLVED - timedelta(days=89)  # 90 days at the delayed send time
    decision = decide_survey(SETTINGS, _facts(last_nps_at=last), now=SOLVED)

    assert decision.kind == "nps"
    assert "last asked 2026-08-27 10:00 UTC" in decision.reason


def test_nps_is_not_asked_twice_within_its_interval() -> None:
    last = SOLVED - timedelta(days=80)
    assert decide_survey(SETTINGS, _facts(last_nps_at=last), now=SOLVED).kind == "csat"


def test_both_when_configured() -> None:
    settings = replace(SETTINGS, nps_with_csat=True)
    decision = decide_survey(settings, _facts(last_nps_at=None), now=SOLVED)

    assert decision.kind == "both"
    assert decision.kinds == ("csat", "nps")


def test_nps_only_when_csat_is_off() -> None:
    settings = replace(SETTINGS, csat_enabled=False)

    due = decide_survey(settings, _facts(last_nps_at=None), now=SOLVED)
    not_due = decide_survey(settings, _facts(), now=SOLVED)

    assert due.kind == "nps"
    assert "instead of CSAT" not in due.reason
    assert not_due.send is False
    assert not_due.reason == (
        "CSAT is off and the customer was asked NPS on 2026-10-25 10:00 UTC "
        "(at most every 90 days)."
    )


def test_csat_only_when_nps_is_off() -> None:
    settings = replace(SETTINGS, nps_enabled=False)
    assert decide_survey(settings, _facts(last_nps_at=None), now=SOLVED).kind == "csat"


# --- WhatsApp's window ------------------------------------------------------------------------


def test_whatsapp_is_brought_forward_into_the_window() -> None:
    wrote = SOLVED - timedelta(hours=2)
    decision = decide_survey(
        SETTINGS, _facts(channel=Channel.WHATSAPP, whatsapp_last_inbound_at=wrote), now=SOLVED
    )

    assert decision.send is True
    # the window closes 24 h after the customer's message; 15 minutes of margin
    assert decision.send_at == wrote + timedelta(hours=23, minutes=45)
    assert decision.send_at < SOLVED + SETTINGS.delay


def test_whatsapp_waits_the_delay_when_the_window_allows() -> None:
    settings = replace(SETTINGS, delay_minutes=60)
    decision = decide_survey(
        settings,
        _facts(channel=Channel.WHATSAPP, whatsapp_last_inbound_at=SOLVED - timedelta(minutes=5)),
        now=SOLVED,
    )
    assert decision.send_at == SOLVED + timedelta(minutes=60)


def test_whatsapp_outside_the_window_is_not_sent_and_says_why() -> None:
    wrote = SOLVED - timedelta(hours=30)
    decision = decide_survey(
        SETTINGS, _facts(channel=Channel.WHATSAPP, whatsapp_last_inbound_at=wrote), now=SOLVED
    )

    assert decision.send is False
    assert decision.reason == (
        "The customer's 24-hour WhatsApp window closed at 2026-11-24 04:00 UTC; "
        "outside it only approved templates may be sent."
    )


def test_whatsapp_window_closing_in_the_margin_is_not_sent() -> None:
    wrote = SOLVED - timedelta(hours=23, minutes=50)
    decision = decide_survey(
        SETTINGS, _facts(channel=Channel.WHATSAPP, whatsapp_last_inbound_at=wrote), now=SOLVED
    )
    assert decision.send is False


def test_whatsapp_without_any_inbound_is_not_sent() -> None:
    decision = decide_survey(SETTINGS, _facts(channel=Channel.WHATSAPP), now=SOLVED)
    assert decision.send is False
    assert "never wrote on WhatsApp" in decision.reason


def test_whatsapp_window_is_checked_again_when_due() -> None:
    wrote = SOLVED - timedelta(hours=2)
    planned = decide_survey(
        SETTINGS, _facts(channel=Channel.WHATSAPP, whatsapp_last_inbound_at=wrote), now=SOLVED
    )
    late = decide_survey(
        SETTINGS,
        _facts(channel=Channel.WHATSAPP, whatsapp_last_inbound_at=wrote),
        now=planned.send_at + timedelta(minutes=20),  # the scheduler ran late
    )
    assert late.send is False


def test_facts_refuse_naive_times_and_unknown_solvers() -> None:
    with pytest.raises(ValueError, match="aware"):
        _facts(solved_at=datetime(2026, 11, 24, 10, 0))
    with pytest.raises(ValueError, match="solved_by"):
        _facts(solved_by="bot")


# --- scores -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "score"),
    [
        ("csat", "1", 1),
        ("csat", "5", 5),
        ("csat", 4, 4),
        ("csat", " 3 ", 3),
        ("nps", "0", 0),
        ("nps", "10", 10),
        ("nps", 7, 7),
        ("nps", "٩", 9),  # Arabic-Indic digit typed on a phone
        ("csat", "５", 5),  # full-width digit from a Japanese keyboard
        ("nps", "05", 5),
    ],
)
def test_a_valid_score(kind: str, raw: Any, score: int) -> None:
    assert parse_score(kind, raw) == score


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("csat", "0"),
        ("csat", "6"),
        ("csat", 6),
        ("csat", -1),
        ("nps", "11"),
        ("nps", "-1"),
        ("nps", 11),
        ("csat", "4.0"),
        ("csat", 4.0),
        ("csat", True),
        ("nps", False),
        ("csat", ""),
        ("csat", "five"),
        ("csat", None),
        ("csat", ["4"]),
        ("nps", "1e1"),
        ("nps", "9" * 5000),
        ("csat", "½"),
    ],
)
def test_a_bad_score_is_refused_with_a_clear_reason(kind: str, raw: Any) -> None:
    with pytest.raises(RejectedInput) as caught:
        parse_score(kind, raw)
    assert caught.value.code == "bad_score"
    assert caught.value.status == 400
    expected = "from 1 to 5" if kind == "csat" else "from 0 to 10"
    assert expected in caught.value.reason


def test_an_unknown_kind_is_our_bug() -> None:
    with pytest.raises(ValueError):
        parse_score("ces", "3")


@pytest.mark.parametrize(
    ("kind", "low", "not_low"),
    [("csat", [1, 2], [3, 4, 5]), ("nps", [0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 10])],
)
def test_low_scores(kind: str, low: list[int], not_low: list[int]) -> None:
    assert all(is_low_score(kind, s) for s in low)
    assert not any(is_low_score(kind, s) for s in not_low)


def test_a_follow_up_needs_a_low_score_and_a_comment() -> None:
    assert needs_follow_up(SETTINGS, "csat", 1, "Nobody called me back")
    assert not needs_follow_up(SETTINGS, "csat", 1, "  ")
    assert not needs_follow_up(SETTINGS, "csat", 3, "fine")
    assert needs_follow_up(SETTINGS, "nps", 6, "meh")
    assert not needs_follow_up(replace(SETTINGS, low_score_follow_up=False), "csat", 1, "bad")


# --- comments ---------------------------------------------------------------------------------


def test_html_in_a_comment_is_kept_as_text() -> None:
    comment = '<script>alert("x")</script> <b>rude</b> & late'
    assert clean_comment(comment, 5000) == comment


def test_control_characters_and_bidi_overrides_are_removed() -> None:
    raw = "  Great\x00 help\x1b[31m\u202e thanks\r\nreally\ttruly\ufeff  "
    assert clean_comment(raw, 5000) == "Great help[31m thanks\nreally\ttruly"


def test_lone_surrogates_are_removed_and_text_is_nfc() -> None:
    assert clean_comment("cafe\u0301 \ud800ok", 5000) == "café ok"


def test_right_to_left_marks_and_joiners_stay() -> None:
    text = "شكرًا\u200f جزيلًا 👩\u200d💻"
    assert clean_comment(text, 5000) == text


def test_a_comment_at_the_limit_is_accepted() -> None:
    assert len(clean_comment("é" * 5000, 5000)) == 5000


def test_a_comment_over_the_limit_is_refused_not_cut() -> None:
    with pytest.raises(RejectedInput) as caught:
        clean_comment("x" * 5001, 5000)
    assert caught.value.code == "comment_too_long"
    assert caught.value.reason == "the comment has 5001 characters; at most 5000 are accepted"


def test_a_comment_that_is_not_text_is_refused() -> None:
    with pytest.raises(RejectedInput) as caught:
        clean_comment({"text": "hi"}, 5000)
    assert caught.value.code == "bad_comment"


# --- records ------------------------------------------------------------------------------------


def _survey(**changes: Any) -> Survey:
    fields: dict[str, Any] = {
        "id": survey_id("K7Q2M4XD9A", SOLVED, "csat"),
        "ticket_id": "K7Q2M4XD9A",
        "customer_id": "C0123456789AB",
        "channel": Channel.EMAIL,
        "kind": "csat",
        "language": "de",
        "team": "german",
        "agent": "sam@acme.example",
        "sent_at": SOLVED + timedelta(days=1),
        "expires_at": SOLVED + timedelta(days=31),
    }
    fields.update(changes)
    return Survey(**fields)


def test_survey_ids_are_stable_per_solve_and_kind() -> None:
    first = survey_id("K7Q2M4XD9A", SOLVED, "csat")

    assert first == survey_id("K7Q2M4XD9A", SOLVED, "csat")  # a retried record
    assert first != survey_id("K7Q2M4XD9A", SOLVED, "nps")
    assert first != survey_id("K7Q2M4XD9A", SOLVED + timedelta(days=3), "csat")  # solved again
    assert is_survey_id(first)
    assert not is_survey_id("K7Q2M4XD9A")


def test_a_second_click_changes_the_score_and_keeps_the_history() -> None:
    t1, t2, t3 = (SOLVED + timedelta(days=1, minutes=m) for m in (0, 5, 9))
    response = Response.first("S1", 2, t1).with_score(5, t2).with_score(4, t3)

    assert response.score == 4
    assert response.at == t3
    assert response.history == (ScoreChange(2, t1), ScoreChange(5, t2))


def test_the_same_link_clicked_a_hundred_times_is_one_answer() -> None:
    response = Response.first("S1", 4, SOLVED)
    for n in range(100):
        response = response.with_score(4, SOLVED + timedelta(seconds=n))
    assert response == Response.first("S1", 4, SOLVED)


def test_the_history_is_bounded() -> None:
    response = Response.first("S1", 1, SOLVED)
    for n in range(1, 400):
        response = response.with_score(1 + n % 5, SOLVED + timedelta(seconds=n))
    assert len(response.history) == MAX_HISTORY
    assert response.history[-1].at == SOLVED + timedelta(seconds=398)


def test_a_comment_is_added_to_the_response() -> None:
    response = Response.first("S1", 1, SOLVED).with_comment(
        "Call me", SOLVED + timedelta(minutes=1)
    )
    assert response.comment == "Call me"
    assert response.comment_at == SOLVED + timedelta(minutes=1)
    assert response.score == 1


# --- tokens and links -------------------------------------------------------------------------------


def test_a_link_token_carries_the_survey_and_expires_with_it() -> None:
    survey = _survey()
    now = survey.sent_at
    token = survey_token(survey, secret=SECRET, now=now)

    assert read_survey_token(token, secret=SECRET, now=now) == survey.id
    assert read_survey_token(token, secret=SECRET, now=survey.expires_at - timedelta(seconds=1))
    with pytest.raises(RejectedInput) as caught:
        read_survey_token(token, secret=SECRET, now=survey.expires_at)
    assert caught.value.code == "expired_token"
    assert invalid_link_reason(caught.value) == "expired"
    assert survey.is_expired(survey.expires_at)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: t + "x" * 5000,
        lambda t: "<script>." + t,
    ],
    ids=["bad-signature", "no-signature", "empty", "huge", "garbage"],
)
def test_a_tampered_token_is_refused(mangle: Any) -> None:
    survey = _survey()
    token = survey_token(survey, secret=SECRET, now=survey.sent_at)
    with pytest.raises(RejectedInput) as caught:
        read_survey_token(mangle(token), secret=SECRET, now=survey.sent_at)
    assert caught.value.code == "bad_token"
    assert invalid_link_reason(caught.value) == "invalid"


def test_a_token_signed_with_another_secret_or_purpose_is_refused() -> None:
    survey = _survey()
    now = survey.sent_at
    other_secret = survey_token(survey, secret=b"another", now=now)
    chat = sign("chat", {"sid": survey.id}, secret=SECRET, now=now, ttl=timedelta(hours=1))
    no_survey = sign("survey", {"sid": "../../etc"}, secret=SECRET, now=now, ttl=timedelta(hours=1))

    for token in (other_secret, chat, no_survey):
        with pytest.raises(RejectedInput) as caught:
            read_survey_token(token, secret=SECRET, now=now)
        assert caught.value.code == "bad_token"


def test_an_expired_survey_gets_no_token() -> None:
    survey = _survey()
    with pytest.raises(ValueError):
        survey_token(survey, secret=SECRET, now=survey.expires_at)


def test_one_click_links() -> None:
    choices = (Choice(1, "Very poor"), Choice(5, "Excellent"))
    links = survey_links("https://support.example.com/", "abc.def", choices)

    assert links == [
        {
            "score": 1,
            "url": "https://support.example.com/survey/abc.def?score=1",
            "label": "Very poor",
        },
        {
            "score": 5,
            "url": "https://support.example.com/survey/abc.def?score=5",
            "label": "Excellent",
        },
    ]
    assert survey_url("https://support.example.com", "abc.def") == (
        "https://support.example.com/survey/abc.def"
    )


def test_choices_need_one_short_label_per_score() -> None:
    assert parse_choices("csat", "Very poor\nPoor\n\nOkay\nGood\nExcellent\n") == (
        Choice(1, "Very poor"),
        Choice(2, "Poor"),
        Choice(3, "Okay"),
        Choice(4, "Good"),
        Choice(5, "Excellent"),
    )
    with pytest.raises(ValueError, match="5 labels"):
        parse_choices("csat", "Bad\nGood\n")
    with pytest.raises(ValueError, match="over 20"):
        parse_choices("csat", "1\n2\n3\n4\nAbsolutely extraordinary service\n")


def test_base_url_may_be_left_to_the_deployment() -> None:
    """Left out, the survey function makes links from its API's deployed address."""
    settings = parse_surveys(_section(base_url=None))
    assert settings.enabled and settings.base_url == ""
