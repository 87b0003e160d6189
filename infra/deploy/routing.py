"""The routing queues: one per team of the stage's config, in a stack of their own.

A team is a line in the config, so its queue comes from the config too: this renders
the `helpline-<stage>-routing` stack's template from the teams (a queue with its
dead-letter queue per team, and alarms on both). Its `RoutingQueueUrls` output is not
an export: the function stacks receive the URLs as a parameter (with the escalation
queue's, from the shared stack), because CloudFormation refuses to change an export
another stack imports, and adding a team must not need every function stack deleted
first.

A team is added by a redeploy: the routing stack gains the queue, then each function
stack is updated in place with the new URLs and a policy that names the queue. A team
is removed the other way round: the functions stop routing to it first, and its queue
goes only when it is empty (what is still in it would be lost).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from infra.deploy import cfn

QUEUE_NAME = "helpline-${Stage}-route-%s"
DEAD_LETTER_NAME = "helpline-${Stage}-route-%s-dlq"
# a routing message older than this has waited too long for a team's tools to take it
OLDEST_MESSAGE_ALARM_SECONDS = 900


class RoutingError(ValueError):
    pass


def stack_name(stage: str) -> str:
    return f"helpline-{stage}-routing"


def logical_name(team: str) -> str:
    """`spanish-b2b` -> `SpanishB2b`: a CloudFormation logical id part."""
    return "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", team) if part)


def queue_names(teams: Iterable[str]) -> tuple[str, ...]:
    """The queues' names as templates (with ${Stage}), for the functions' policies."""
    return tuple(QUEUE_NAME % team for team in teams)


def template(teams: Iterable[str]) -> dict[str, Any]:
    teams = sorted(set(teams))
    if not teams:
        raise RoutingError("the config defines no team, so there is no queue to route to")
    seen: dict[str, str] = {}
    resources: dict[str, Any] = {}
    urls = []
    for team in teams:
        name = logical_name(team)
        if name in seen:
            raise RoutingError(
                f"teams {seen[name]} and {team} differ only in punctuation; rename one"
            )
        seen[name] = team
        resources.update(_team_resources(team, name))
        urls.append(f'"{team}": "${{{name}Queue}}"')
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "Helpline routing queues: one per team of the stage's config, each with a "
            "dead-letter queue. Rendered by infra/deploy/routing.py from the config."
        ),
        "Parameters": {
            "Stage": {
                "Type": "String",
                "AllowedPattern": "^[a-z][a-z0-9-]{0,19}$",
            },
            "QueueMaxReceiveCount": {"Type": "Number", "Default": 5, "MinValue": 1},
        },
        "Resources": resources,
        "Outputs": {
            # team -> queue URL; the function stacks get it as a parameter, not an import
            "RoutingQueueUrls": {"Value": cfn.sub("{" + ", ".join(urls) + "}")},
            "Teams": {"Value": ",".join(teams)},
        },
    }


def _team_resources(team: str, name: str) -> dict[str, Any]:
    alarm_topic = {"Fn::ImportValue": cfn.sub("helpline-${Stage}-AlarmTopicArn")}
    return {
        f"{name}DeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": cfn.sub(DEAD_LETTER_NAME % team),
                "MessageRetentionPeriod": 1209600,
                "SqsManagedSseEnabled": True,
                "Tags": [{"Key": "app", "Value": "helpline"}, {"Key": "team", "Value": team}],
            },
        },
        f"{name}Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": cfn.sub(QUEUE_NAME % team),
                "VisibilityTimeout": 300,
                "MessageRetentionPeriod": 1209600,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": cfn.get_att(f"{name}DeadLetterQueue", "Arn"),
                    "maxReceiveCount": cfn.ref("QueueMaxReceiveCount"),
                },
                "Tags": [{"Key": "app", "Value": "helpline"}, {"Key": "team", "Value": team}],
            },
        },
        f"{name}DeadLetterAlarm": _alarm(
            f"helpline-${{Stage}}-route-{team}-dlq-not-empty",
            f"Routing messages for team {team} failed every delivery.",
            "ApproximateNumberOfMessagesVisible",
            cfn.get_att(f"{name}DeadLetterQueue", "QueueName"),
            threshold=0,
            topic=alarm_topic,
        ),
        f"{name}AgeAlarm": _alarm(
            f"helpline-${{Stage}}-route-{team}-waiting",
            f"A routing message for team {team} has waited over "
            f"{OLDEST_MESSAGE_ALARM_SECONDS // 60} minutes: is its consumer running?",
            "ApproximateAgeOfOldestMessage",
            cfn.get_att(f"{name}Queue", "QueueName"),
            threshold=OLDEST_MESSAGE_ALARM_SECONDS,
            topic=alarm_topic,
        ),
    }


def _alarm(
    name: str, description: str, metric: str, queue: Any, *, threshold: int, topic: Any
) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": cfn.sub(name),
            "AlarmDescription": description,
            "Namespace": "AWS/SQS",
            "MetricName": metric,
            "Dimensions": [{"Name": "QueueName", "Value": queue}],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [topic],
        },
    }


def queue_urls_parameter(routing_outputs: Mapping[str, str], escalation_url: str) -> str:
    """The functions' HELPLINE_QUEUE_URLS: every team's queue and the escalation queue."""
    import json

    urls = json.loads(routing_outputs["RoutingQueueUrls"])
    return json.dumps({**urls, "escalation": escalation_url}, sort_keys=True)
