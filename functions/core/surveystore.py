"""The survey and report records in the ticket table.

Key shapes (the ticket side is in store.py; docs/architecture.md has the whole map):

    PK                       SK                 what
    SURVEY#<id>              SURVEY             a survey: ticket, kind, channel, state
                                                (due index while scheduled: SURVEYDUE#<n> / <send_at>#<id>)
    SURVEY#<id>              RESPONSE           the customer's answer: score, comment, history
    CUSTOMER#<id>            SURVEYED           when they were last surveyed, last asked NPS
    STATS#<dimension>        <day>#<value>      a report cell: counters, only ever ADDed to
    COUNTED#<event>          COUNTED            an event already counted (TTL), so a retried
                                                stream record never counts twice

A report reads `STATS#<dimension>` with one Query per dimension over a day range: its
cost follows the days and values asked for, not the number of tickets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from functions.core.models import Channel
from functions.core.reports import Cell
from functions.core.store import deserialize, serialize
from functions.core.surveys import Response, ScoreChange, Survey
from functions.core.timeutil import from_iso, maybe_from_iso, maybe_iso, to_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SURVEY_DUE_SHARDS = 4
COUNTED_TTL = timedelta(days=8)  # longer than a stream keeps records (24 h) and DLQ replays


def _survey_key(survey_id: str) -> dict[str, str]:
    return {"PK": f"SURVEY#{survey_id}", "SK": "SURVEY"}


def _response_key(survey_id: str) -> dict[str, str]:
    return {"PK": f"SURVEY#{survey_id}", "SK": "RESPONSE"}


def _shard(survey_id: str) -> str:
    return f"SURVEYDUE#{sum(survey_id.encode()) % SURVEY_DUE_SHARDS}"


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


@dataclass(frozen=True, slots=True)
class SurveyRecord:
    survey: Survey
    state: str  # scheduled | sending | sent | unconfirmed (a send that may have gone) | skipped | failed
    send_at: datetime
    detail: str = ""
    token: str | None = None


def _survey_item(record: SurveyRecord) -> dict[str, Any]:
    survey = record.survey
    item: dict[str, Any] = {
        **_survey_key(survey.id),
        "type": "survey",
        "id": survey.id,
        "ticket_id": survey.ticket_id,
        "customer_id": survey.customer_id,
        "channel": survey.channel.value,
        "kind": survey.kind,
        "language": survey.language,
        "team": survey.team,
        "agent": survey.agent,
        "sent_at": to_iso(survey.sent_at),
        "expires_at_iso": to_iso(survey.expires_at),
        "state": record.state,
        "send_at": to_iso(record.send_at),
        "detail": record.detail or None,
        # a customer's surveys, for export and erasure
        "GSI1PK": f"CUSTOMER#{survey.customer_id}#SURVEYS",
        "GSI1SK": f"{to_iso(survey.sent_at)}#{survey.id}",
    }
    if record.state == "scheduled":
        item["SlaShard"] = _shard(survey.id)
        item["SlaDue"] = f"{to_iso(record.send_at)}#{survey.id}"
    return item


def _survey_from_item(item: Mapping[str, Any]) -> SurveyRecord:
    survey = Survey(
        id=item["id"],
        ticket_id=item["ticket_id"],
        customer_id=item["customer_id"],
        channel=Channel(item["channel"]),
        kind=item["kind"],
        language=item.get("language") or "en",
        team=item.get("team"),
        agent=item.get("agent"),
        sent_at=from_iso(item["sent_at"]),
        expires_at=from_iso(item["expires_at_iso"]),
    )
    return SurveyRecord(
        survey=survey,
        state=item.get("state", "scheduled"),
        send_at=from_iso(item["send_at"]),
        detail=item.get("detail") or "",
    )


def _response_item(response: Response, survey: Survey) -> dict[str, Any]:
    return {
        **_response_key(response.survey_id),
        "type": "survey_response",
        "survey_id": response.survey_id,
        "ticket_id": survey.ticket_id,
        "customer_id": survey.customer_id,
        "kind": survey.kind,
        "score": response.score,
        "comment": response.comment or None,
        "at": to_iso(response.at),
        "comment_at": maybe_iso(response.comment_at),
        "followed_up_at": maybe_iso(response.followed_up_at),
        "history": [{"score": h.score, "at": to_iso(h.at)} for h in response.history],
    }


def _response_from_item(item: Mapping[str, Any]) -> Response:
    return Response(
        survey_id=item["survey_id"],
        score=int(item["score"]),
        comment=item.get("comment") or "",
        at=from_iso(item["at"]),
        history=tuple(
            ScoreChange(int(h["score"]), from_iso(h["at"])) for h in item.get("history") or []
        ),
        comment_at=maybe_from_iso(item.get("comment_at")),
        followed_up_at=maybe_from_iso(item.get("followed_up_at")),
    )


class SurveyStore:
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        client_factory: Callable[[], DynamoDBClient] | None = None,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._client_factory = client_factory

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                import boto3

                self._client = boto3.client("dynamodb")
        return self._client

    def _get(self, key: Mapping[str, str]) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=serialize(key), ConsistentRead=True
        )
        item = response.get("Item")
        return deserialize(item) if item else None

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        args = {"TableName": self.table_name, **kwargs}
        while True:
            response = self.client.query(**args)
            for raw in response.get("Items", []):
                yield deserialize(raw)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            args["ExclusiveStartKey"] = last

    # -- surveys -------------------------------------------------------------------------

    def create(self, record: SurveyRecord) -> bool:
        """Write a survey once: False when its (stable) id exists, so a retried stream
        record never makes, or sends, a second survey."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(_survey_item(record)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def get(self, survey_id: str) -> SurveyRecord | None:
        item = self._get(_survey_key(survey_id))
        return _survey_from_item(item) if item else None

    def move(self, record: SurveyRecord, *, from_state: str, to: SurveyRecord) -> bool:
        """Change a survey's state only from `from_state` (claims for sending)."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=serialize(_survey_item(to)),
                ConditionExpression="#s = :from",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues=serialize({":from": from_state}),
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def due(self, until: datetime) -> list[SurveyRecord]:
        found = []
        for shard in range(SURVEY_DUE_SHARDS):
            for item in self._query(
                IndexName="SlaDue",
                KeyConditionExpression="SlaShard = :shard AND SlaDue <= :until",
                ExpressionAttributeValues=serialize(
                    {":shard": f"SURVEYDUE#{shard}", ":until": f"{to_iso(until)}#~"}
                ),
            ):
                found.append(_survey_from_item(item))
        return found

    def customer_surveys(self, customer_id: str) -> list[SurveyRecord]:
        return [
            _survey_from_item(item)
            for item in self._query(
                IndexName="GSI1",
                KeyConditionExpression="GSI1PK = :pk",
                ExpressionAttributeValues=serialize({":pk": f"CUSTOMER#{customer_id}#SURVEYS"}),
            )
        ]

    # -- when a customer was last asked ------------------------------------------------------

    def last_surveyed(self, customer_id: str) -> tuple[datetime | None, datetime | None]:
        item = self._get({"PK": f"CUSTOMER#{customer_id}", "SK": "SURVEYED"})
        if item is None:
            return None, None
        return maybe_from_iso(item.get("last_survey_at")), maybe_from_iso(item.get("last_nps_at"))

    def mark_surveyed(self, customer_id: str, *, kind: str, at: datetime) -> None:
        sets = ["last_survey_at = :at", "#t = :type"]
        if kind == "nps":
            sets.append("last_nps_at = :at")
        self.client.update_item(
            TableName=self.table_name,
            Key=serialize({"PK": f"CUSTOMER#{customer_id}", "SK": "SURVEYED"}),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames={"#t": "type"},
            ExpressionAttributeValues=serialize({":at": to_iso(at), ":type": "surveyed"}),
        )

    # -- responses -------------------------------------------------------------------------

    def response(self, survey_id: str) -> Response | None:
        item = self._get(_response_key(survey_id))
        return _response_from_item(item) if item else None

    def put_response(
        self,
        response: Response,
        survey: Survey,
        *,
        previous: Response | None,
        day: str | None = None,
        dimensions: Mapping[str, str] | None = None,
        delta: Mapping[str, int] | None = None,
    ) -> bool:
        """Write the answer if it is still the one read (`previous`), and move the report
        counters with it in the same transaction; False on a race."""
        put: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": serialize(_response_item(response, survey)),
        }
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(PK)"
        else:
            put["ConditionExpression"] = "#at = :at AND score = :score"
            put["ExpressionAttributeNames"] = {"#at": "at"}
            put["ExpressionAttributeValues"] = serialize(
                {":at": to_iso(previous.at), ":score": previous.score}
            )
        items: list[dict[str, Any]] = [{"Put": put}]
        if delta and day and dimensions:
            items += self._additions(day, dimensions, delta)
        try:
            self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def _additions(
        self, day: str, dimensions: Mapping[str, str], delta: Mapping[str, int]
    ) -> list[dict[str, Any]]:
        names = {f"#c{i}": name for i, name in enumerate(delta)}
        values = {f":v{i}": value for i, value in enumerate(delta.values())}
        expression = "ADD " + ", ".join(f"#c{i} :v{i}" for i in range(len(delta)))
        return [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": serialize({"PK": f"STATS#{dimension}", "SK": f"{day}#{value}"}),
                    "UpdateExpression": expression + " SET #type = :type",
                    "ExpressionAttributeNames": {**names, "#type": "type"},
                    "ExpressionAttributeValues": serialize({**values, ":type": "stats"}),
                }
            }
            for dimension, value in dimensions.items()
        ]

    # -- report counters ---------------------------------------------------------------------

    def count(
        self,
        event_key: str | None,
        day: str,
        dimensions: Mapping[str, str],
        delta: Mapping[str, int],
        *,
        now: datetime,
    ) -> bool:
        """Add `delta` to the day's cell of every dimension, once per `event_key`:
        the claim and the additions are one transaction, so a retried event adds
        nothing. False when the event was already counted."""
        if not delta:
            return True
        items: list[dict[str, Any]] = []
        if event_key is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": serialize(
                            {
                                "PK": f"COUNTED#{event_key}",
                                "SK": "COUNTED",
                                "type": "counted",
                                "expires_at": int((now + COUNTED_TTL).timestamp()),
                            }
                        ),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        items += self._additions(day, dimensions, delta)
        try:
            self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if (
                event_key is not None
                and reasons
                and reasons[0].get("Code") == "ConditionalCheckFailed"
            ):
                return False
            raise
        return True

    def cells(
        self, dimension: str, first_day: str, last_day: str
    ) -> dict[tuple[str, str, str], Cell]:
        """The report cells of one dimension for the days first_day..last_day."""
        found = {}
        for item in self._query(
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues=serialize(
                {":pk": f"STATS#{dimension}", ":lo": f"{first_day}#", ":hi": f"{last_day}#~"}
            ),
        ):
            day, _, value = str(item["SK"]).partition("#")
            found[(day, dimension, value)] = Cell.from_counters(item)
        return found
