"""The fault matrix in `make test`: every place each handler calls AWS, failed once, and
regressions for what the full matrix (bench/fault_matrix.py) found.

For each scenario the fast subset takes one cell per call site (operation and caller),
the fault kinds in turn, so every site and every kind is exercised; the bench runs every
position with every kind.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults import harness
from tests.faults.harness import LOST_ANSWER, Fault, Recording


@pytest.fixture(scope="module")
def recording() -> Callable[[str], Recording]:
    """Each scenario's clean run, recorded once for the module (it also proves the clean
    run keeps every invariant: `record` raises otherwise)."""
    recorded: dict[str, Recording] = {}

    def get(scenario: str) -> Recording:
        if scenario not in recorded:
            recorded[scenario] = harness.record(scenario)
        return recorded[scenario]

    return get


# -- the fast subset -----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(harness.SCENARIOS))
def test_every_aws_call_site_failing_once_loses_and_doubles_nothing(recording, scenario) -> None:
    recorded = recording(scenario)
    cells = list(recorded.sites())
    assert cells, f"{scenario}: the clean run made no AWS call"
    failed = [
        result.explain()
        for result in (harness.run_cell(scenario, fault, recorded.facts) for fault in cells)
        if not result.passed
    ]
    assert not failed, "\n".join(failed)


# -- regressions: the bugs the full matrix found ---------------------------------------------------


def _cell(recording: Recording, operation: str, made_by: str, kind: str) -> harness.CellResult:
    fault = Fault(recording.find(operation, made_by), kind)
    return harness.run_cell(recording.scenario, fault, recording.facts)


@pytest.mark.parametrize("scenario", ["chat", "chat-after-hours"])
def test_chat_a_resent_message_is_routed(recording, scenario) -> None:
    # the routing publish failed after the commit; the resend is a "duplicate" that
    # used to be acked and dropped, leaving the chat unrouted
    result = _cell(
        recording(scenario), "sqs.SendMessage", "< pipeline._publish_and_reply", harness.THROTTLE
    )
    assert result.passed, result.explain()


@pytest.mark.parametrize("scenario", ["chat", "chat-after-hours"])
def test_chat_a_failed_attach_is_finished_by_the_resend(recording, scenario) -> None:
    # the ack used to go out before the session was attached and routed, so the widget
    # never resent and the chat stayed unrouted
    result = _cell(
        recording(scenario),
        "dynamodb.PutItem",
        "chatstore.put_session < service._customer_message",
        harness.SERVER_ERROR,
    )
    assert result.passed, result.explain()


def test_chat_a_failed_assignment_gives_the_agents_slot_back(recording) -> None:
    # the claimed slot used to stay taken by no chat
    result = _cell(
        recording("chat"),
        "dynamodb.PutItem",
        "chatstore.put_session < service._assign",
        harness.THROTTLE,
    )
    assert not [p for p in result.problems if "chat slots" in p], result.explain()


def test_survey_an_ambiguous_send_timeout_never_sends_a_second_survey(recording) -> None:
    # a read timeout after SES accepted the mail used to give the survey back for a resend
    result = _cell(recording("survey"), "sesv2.SendEmail", "service._send_once", LOST_ANSWER)
    assert result.passed, result.explain()


def test_survey_a_lost_answer_on_the_sending_claim_still_sends_it(recording) -> None:
    # the claim landed but its answer was lost: the survey used to stay 'sending' for good
    result = _cell(
        recording("survey"), "dynamodb.PutItem", "surveystore.move < service._claim", LOST_ANSWER
    )
    assert result.passed, result.explain()
