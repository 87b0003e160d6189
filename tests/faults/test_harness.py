"""The fault plumbing itself: a planned fault fails exactly its call, once, the way AWS
fails it, and a lost answer means the work was done. If these did not hold, a green
matrix would prove nothing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from tests.faults import harness
from tests.faults.harness import Call, Fault, FaultPlan


def _put(client, table: str, key: str) -> None:
    client.put_item(TableName=table, Item={"PK": {"S": key}, "SK": {"S": "FAULT"}})


def _stored(env, key: str) -> bool:
    item = env.client("dynamodb").get_item(
        TableName=env.resources.table, Key={"PK": {"S": key}, "SK": {"S": "FAULT"}}
    )
    return "Item" in item


def _three_puts(plan: FaultPlan) -> tuple[list[object], list[bool]]:
    """Three PutItems through the functions' own client, in one try; what each raised,
    and which items are in the table afterwards."""
    from functions.core import aws as aws_clients

    outcomes: list[object] = []
    with harness.environment(plan) as env:
        client = aws_clients.client("dynamodb")
        with plan.trying():
            for n in (1, 2, 3):
                try:
                    _put(client, env.resources.table, f"item-{n}")
                    outcomes.append(None)
                except Exception as exc:
                    outcomes.append(exc)
        stored = [_stored(env, f"item-{n}") for n in (1, 2, 3)]
    return outcomes, stored


def test_a_throttle_fails_only_the_planned_call_once_with_dynamodbs_own_error() -> None:
    plan = FaultPlan(Fault(Call("dynamodb.PutItem", 2), harness.THROTTLE))
    outcomes, stored = _three_puts(plan)
    first, second, third = outcomes
    assert first is None and third is None
    assert isinstance(second, ClientError)
    assert second.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert stored == [True, False, True]  # a throttled request did nothing
    assert plan.fired and [str(c) for c in plan.first_try_calls()] == [
        "dynamodb.PutItem #1",
        "dynamodb.PutItem #2",
        "dynamodb.PutItem #3",
    ]


def test_a_5xx_and_a_timeout_before_sending_do_nothing() -> None:
    outcomes, stored = _three_puts(
        FaultPlan(Fault(Call("dynamodb.PutItem", 1), harness.SERVER_ERROR))
    )
    assert isinstance(outcomes[0], ClientError)
    assert outcomes[0].response["Error"]["Code"] == "InternalServerError"
    assert outcomes[0].response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert stored == [False, True, True]
    outcomes, stored = _three_puts(FaultPlan(Fault(Call("dynamodb.PutItem", 3), harness.TIMEOUT)))
    assert isinstance(outcomes[2], ReadTimeoutError)
    assert stored == [True, True, False]


def test_a_lost_answer_does_the_work_and_then_times_out() -> None:
    outcomes, stored = _three_puts(
        FaultPlan(Fault(Call("dynamodb.PutItem", 2), harness.LOST_ANSWER))
    )
    assert isinstance(outcomes[1], ReadTimeoutError)
    assert stored == [True, True, True]  # the caller cannot tell it from a lost request


def test_faults_fire_only_in_the_first_try_and_nothing_is_recorded_while_disarmed() -> None:
    from functions.core import aws as aws_clients

    plan = FaultPlan(Fault(Call("dynamodb.PutItem", 2), harness.THROTTLE))
    with harness.environment(plan) as env:
        client = aws_clients.client("dynamodb")
        _put(client, env.resources.table, "set-up")  # disarmed: not a call of the run
        with plan.trying():
            _put(client, env.resources.table, "first")
        with plan.trying():
            _put(client, env.resources.table, "retry")  # PutItem #2, but in the second try
    assert not plan.fired
    assert plan.calls == [(1, Call("dynamodb.PutItem", 1)), (2, Call("dynamodb.PutItem", 2))]


def test_the_management_api_throttles_with_429_and_a_410_closes_the_connection_for_good() -> None:
    from tests.functional.chat_harness import FakeManagementApi

    fake = FakeManagementApi()
    plan = FaultPlan(Fault(Call(harness.POST_TO_CONNECTION, 2), harness.GONE))
    api = plan.management_api(fake)
    data = json.dumps({"type": "ack"}).encode()
    with plan.trying():
        api.post_to_connection(ConnectionId="c1", Data=data)
        with pytest.raises(ClientError) as gone:
            api.post_to_connection(ConnectionId="c1", Data=data)
        with pytest.raises(ClientError) as again:  # API Gateway never brings it back
            api.post_to_connection(ConnectionId="c1", Data=data)
    assert gone.value.response["Error"]["Code"] == "GoneException"
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert again.value.response["Error"]["Code"] == "GoneException"
    assert fake.frames["c1"] == [{"type": "ack"}]

    throttled = FaultPlan(Fault(Call(harness.POST_TO_CONNECTION, 1), harness.THROTTLE))
    with throttled.trying(), pytest.raises(ClientError) as limit:
        throttled.management_api(FakeManagementApi()).post_to_connection(
            ConnectionId="c1", Data=data
        )
    assert limit.value.response["Error"]["Code"] == "LimitExceededException"
    assert limit.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_a_410_is_a_kind_only_for_the_management_api() -> None:
    assert harness.GONE in harness.kinds_for(Call(harness.POST_TO_CONNECTION, 1))
    assert harness.GONE not in harness.kinds_for(Call("sqs.SendMessage", 1))
    assert Call.parse("dynamodb.TransactWriteItems #2") == Call("dynamodb.TransactWriteItems", 2)


def test_the_environment_is_thrown_away_and_the_process_environment_restored() -> None:
    import os

    before = dict(os.environ)
    with harness.environment(FaultPlan()) as env:
        _put(env.client("dynamodb"), env.resources.table, "gone-after")
        assert os.environ["HELPLINE_TABLE"] == env.resources.table
    assert dict(os.environ) == before
    with harness.environment(FaultPlan()) as fresh:
        assert not _stored(fresh, "gone-after")
