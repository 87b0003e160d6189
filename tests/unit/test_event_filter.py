"""Lambda event filtering in the local stack (infra/local/event_filter.py): the survey
function's real filters against ticket-table stream records, each operator of the
EventBridge pattern syntax, and the patterns Lambda refuses."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.local.event_filter import FilterCriteria, FilterPatternError, matches, parse_pattern

# --- the survey function's filters (infra/functions/survey.yaml) ------------------------

NEW_TICKET = '{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["ticket"]}}}}'
SOLVED_OR_CLOSED = (
    '{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"type": {"S": ["ticket"]}, '
    '"status": {"S": ["solved", "closed"]}}, '
    '"OldImage": {"status": {"S": [{"anything-but": ["solved", "closed"]}]}}}}'
)
FIRST_RESPONSE = (
    '{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"type": {"S": ["ticket"]}, '
    '"first_response_at": {"S": [{"exists": true}]}}, '
    '"OldImage": {"first_response_at": {"S": [{"exists": false}]}}}}'
)
MESSAGE_REMOVED = (
    '{"eventName": ["REMOVE"], "dynamodb": {"OldImage": {"type": {"S": ["message"]}}}}'
)
SURVEY_FILTERS = [NEW_TICKET, SOLVED_OR_CLOSED, FIRST_RESPONSE, MESSAGE_REMOVED]
SURVEY = FilterCriteria.from_template({"Filters": [{"Pattern": p} for p in SURVEY_FILTERS]})

STREAM_ARN = (
    "arn:aws:dynamodb:eu-west-1:123456789012:table/helpline-dev/stream/2026-11-24T09:00:00.000"
)
CREATED = "2026-11-24T10:00:00Z"
ANSWERED = "2026-11-24T10:05:00Z"


def _ticket(status: str, **extra: str) -> dict[str, Any]:
    """A ticket item in DynamoDB JSON, as the stream carries it (None fields left out,
    as functions/core/store.py writes them)."""
    item: dict[str, Any] = {
        "PK": {"S": "TICKET#T1"},
        "SK": {"S": "TICKET"},
        "type": {"S": "ticket"},
        "id": {"S": "T1"},
        "channel": {"S": "email"},
        "subject": {"S": "Invoice 4711 charged twice"},
        "customer_id": {"S": "C9"},
        "status": {"S": status},
        "priority": {"S": "normal"},
        "tags": {"L": [{"S": "billing"}, {"S": "vip"}]},
        "participants": {"L": []},
        "created_at": {"S": CREATED},
        "updated_at": {"S": "2026-11-24T10:06:00Z"},
        "message_count": {"N": "2"},
        "version": {"N": "3"},
        "GSI1PK": {"S": "CUSTOMER#C9"},
        "GSI2PK": {"S": f"TICKETS#{status}#3"},
    }
    item.update({name: {"S": value} for name, value in extra.items()})
    return item


def _message() -> dict[str, Any]:
    return {
        "PK": {"S": "TICKET#T1"},
        "SK": {"S": "MSG#2026-11-24T10:00:00Z#M1"},
        "type": {"S": "message"},
        "id": {"S": "M1"},
        "ticket_id": {"S": "T1"},
        "direction": {"S": "inbound"},
        "attachments": {"L": [{"M": {"key": {"S": "att/M1/1"}, "name": {"S": "invoice.pdf"}}}]},
        "expires_at": {"N": "1795000000"},
    }


def _record(
    event_name: str,
    *,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    ttl: bool = False,
) -> dict[str, Any]:
    """A stream record as Lambda delivers it to the function (and filters it)."""
    image = new if new is not None else old
    assert image is not None
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1764000000.0,
        "Keys": {"PK": image["PK"], "SK": image["SK"]},
        "SequenceNumber": "4421584500000000017450439091",
        "SizeBytes": 412,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    record: dict[str, Any] = {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


def _matching(record: dict[str, Any]) -> list[int]:
    """Which of the survey filters match the record."""
    return [i for i, text in enumerate(SURVEY_FILTERS) if matches(parse_pattern(text), record)]


def test_a_new_ticket_reaches_the_survey_function():
    record = _record("INSERT", new=_ticket("new"))
    assert _matching(record) == [0]
    assert SURVEY.accepts(record)


def test_a_ticket_moving_into_solved_or_closed_reaches_it():
    assert _matching(_record("MODIFY", old=_ticket("open"), new=_ticket("solved"))) == [1]
    assert _matching(_record("MODIFY", old=_ticket("pending"), new=_ticket("closed"))) == [1]


def test_a_solved_ticket_being_closed_does_not_reach_it():
    # anything-but: OldImage.status was already solved
    record = _record("MODIFY", old=_ticket("solved"), new=_ticket("closed"))
    assert _matching(record) == []
    assert not SURVEY.accepts(record)


def test_a_reopened_ticket_does_not_reach_it():
    assert not SURVEY.accepts(_record("MODIFY", old=_ticket("solved"), new=_ticket("open")))


def test_a_ticket_update_that_changes_nothing_it_counts_does_not_reach_it():
    record = _record("MODIFY", old=_ticket("open"), new=_ticket("pending", agent="ana"))
    assert not SURVEY.accepts(record)


def test_a_change_to_an_item_that_is_not_a_ticket_does_not_reach_it():
    old = {"PK": {"S": "CUSTOMER#C9"}, "SK": {"S": "PROFILE"}, "type": {"S": "customer"}}
    new = {**old, "status": {"S": "solved"}, "first_response_at": {"S": ANSWERED}}
    assert not SURVEY.accepts(_record("MODIFY", old=old, new=new))
    assert not SURVEY.accepts(_record("INSERT", new=_message()))


def test_the_first_response_reaches_it():
    record = _record("MODIFY", old=_ticket("open"), new=_ticket("open", first_response_at=ANSWERED))
    assert _matching(record) == [2]


def test_a_later_update_of_an_answered_ticket_does_not_reach_it():
    record = _record(
        "MODIFY",
        old=_ticket("open", first_response_at=ANSWERED),
        new=_ticket("pending", first_response_at=ANSWERED),
    )
    assert _matching(record) == []


def test_an_answer_that_also_solves_the_ticket_matches_both_filters():
    record = _record(
        "MODIFY", old=_ticket("new"), new=_ticket("solved", first_response_at=ANSWERED)
    )
    assert _matching(record) == [1, 2]


def test_a_message_removed_by_its_ttl_reaches_it_so_its_files_go_too():
    record = _record("REMOVE", old=_message(), ttl=True)
    assert record["userIdentity"]["principalId"] == "dynamodb.amazonaws.com"
    assert _matching(record) == [3]
    assert SURVEY.accepts(record)


def test_a_ticket_removed_does_not_reach_it():
    assert not SURVEY.accepts(_record("REMOVE", old=_ticket("closed"), ttl=True))


def test_the_constants_here_are_the_filters_the_survey_template_deploys():
    from infra.deploy import cfn, functions

    template = cfn.load(functions.spec("survey").merge_template)
    source = template["Resources"]["OnTicketChange"]["Properties"]["Events"][
        "OnTicketChangeDynamodbEventSource"
    ]["Properties"]
    deployed = FilterCriteria.from_template(source["FilterCriteria"])
    assert list(deployed.patterns) == [json.loads(p) for p in SURVEY_FILTERS]


# --- FilterCriteria ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, {}, {"Filters": []}])
def test_without_filters_every_record_is_accepted(value):
    criteria = FilterCriteria.from_template(value)
    assert criteria.patterns == ()
    assert criteria.accepts(_record("REMOVE", old=_message(), ttl=True))


def test_filters_are_ored():
    criteria = FilterCriteria.from_template(
        {
            "Filters": [
                {"Pattern": '{"eventName": ["INSERT"]}'},
                {"Pattern": '{"eventName": ["REMOVE"]}'},
            ]
        }
    )
    assert criteria.accepts({"eventName": "INSERT"})
    assert criteria.accepts({"eventName": "REMOVE"})
    assert not criteria.accepts({"eventName": "MODIFY"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([{"Pattern": "{}"}], "FilterCriteria is"),
        ({"Filter": []}, "only Filters"),
        ({"Filters": {"Pattern": "{}"}}, "Filters is a list"),
        ({"Filters": [{"pattern": '{"a": [1]}'}]}, "Filters[0] is"),
        ({"Filters": [{"Pattern": {"eventName": ["INSERT"]}}]}, "Filters[0].Pattern is a JSON"),
        (
            {"Filters": [{"Pattern": '{"a": [1]}'}, {"Pattern": '{"eventName": "INSERT"}'}]},
            "Filters[1].Pattern: eventName",
        ),
    ],
)
def test_a_malformed_filter_criteria_fails_with_where_it_is(value, message):
    with pytest.raises(FilterPatternError, match=re.escape(message)):
        FilterCriteria.from_template(value)


def test_filter_criteria_built_from_patterns_validates_them():
    assert FilterCriteria([{"a": ["x"]}]).accepts({"a": "x"})
    with pytest.raises(FilterPatternError, match="filter 1"):
        FilterCriteria([{"a": ["x"]}, {"a": "x"}])


# --- matching: values, AND, OR ----------------------------------------------------------


def test_every_key_of_a_pattern_must_match_and_other_event_keys_are_ignored():
    pattern = {"eventName": ["MODIFY"], "awsRegion": ["eu-west-1"]}
    assert matches(pattern, {"eventName": "MODIFY", "awsRegion": "eu-west-1", "x": 1})
    assert not matches(pattern, {"eventName": "MODIFY", "awsRegion": "us-east-1"})
    assert not matches(pattern, {"eventName": "MODIFY"})


def test_the_values_of_a_leaf_are_ored():
    pattern = {"status": ["solved", "closed"]}
    assert matches(pattern, {"status": "closed"})
    assert not matches(pattern, {"status": "open"})


def test_strings_match_exactly_and_case_sensitively():
    assert not matches({"status": ["Solved"]}, {"status": "solved"})
    assert not matches({"status": ["solved"]}, {"status": "solved "})


def test_nested_objects_descend_into_the_event():
    pattern = {"dynamodb": {"Keys": {"PK": {"S": ["TICKET#T1"]}}}}
    assert matches(pattern, _record("INSERT", new=_ticket("new")))
    assert not matches(pattern, _record("INSERT", new=_message() | {"PK": {"S": "TICKET#T2"}}))
    # a nested pattern where the event has a string: the fields below it are missing
    assert not matches(pattern, {"dynamodb": "not an object"})


def test_numbers_compare_as_numbers_but_never_equal_strings():
    assert matches({"SizeBytes": [300]}, {"SizeBytes": 300.0})
    assert matches({"SizeBytes": [3.0e2]}, {"SizeBytes": 300})
    assert not matches({"SizeBytes": [300]}, {"SizeBytes": "300"})
    assert not matches({"SizeBytes": ["300"]}, {"SizeBytes": 300})
    # a DynamoDB number attribute is a string in the stream record
    assert matches({"version": {"N": ["3"]}}, {"version": {"N": "3"}})
    assert not matches({"version": {"N": [3]}}, {"version": {"N": "3"}})


def test_booleans_are_not_numbers():
    assert matches({"BOOL": [True]}, {"BOOL": True})
    assert not matches({"BOOL": [True]}, {"BOOL": 1})
    assert not matches({"n": [1]}, {"n": True})
    assert not matches({"BOOL": [False]}, {"BOOL": 0})


def test_null_matches_a_null_value_but_not_a_missing_key():
    assert matches({"agent": [None]}, {"agent": None})
    assert not matches({"agent": [None]}, {})
    assert not matches({"agent": [None]}, {"agent": ""})


def test_an_empty_string_matches_only_an_empty_string():
    assert matches({"agent": [""]}, {"agent": ""})
    assert not matches({"agent": [""]}, {"agent": None})
    assert not matches({"agent": [""]}, {})
    assert not matches({"agent": [""]}, {"agent": "ana"})


def test_or_combines_whole_patterns():
    pattern = {
        "eventSource": ["aws:dynamodb"],
        "$or": [
            {"eventName": ["INSERT"]},
            {"dynamodb": {"NewImage": {"status": {"S": ["solved"]}}}},
        ],
    }
    assert matches(pattern, _record("INSERT", new=_ticket("new")))
    assert matches(pattern, _record("MODIFY", old=_ticket("open"), new=_ticket("solved")))
    assert not matches(pattern, _record("MODIFY", old=_ticket("new"), new=_ticket("open")))
    assert not matches(
        pattern | {"eventSource": ["aws:kinesis"]}, _record("INSERT", new=_ticket("new"))
    )


def test_or_works_inside_a_nested_object():
    pattern = {
        "dynamodb": {"NewImage": {"$or": [{"agent": {"S": ["ana"]}}, {"queue": {"S": ["vip"]}}]}}
    }
    assert matches(
        pattern, _record("MODIFY", old=_ticket("open"), new=_ticket("open", queue="vip"))
    )
    assert not matches(pattern, _record("MODIFY", old=_ticket("open"), new=_ticket("open")))


# --- matching: arrays in the event ------------------------------------------------------


def test_a_leaf_matches_when_any_element_of_an_event_array_does():
    assert matches(
        {"recipients": ["b@example.org"]}, {"recipients": ["a@example.org", "b@example.org"]}
    )
    assert not matches({"recipients": ["c@example.org"]}, {"recipients": ["a@example.org"]})
    assert matches({"ids": [2]}, {"ids": [[1], [2, 3]]})  # nested arrays flatten
    assert not matches({"ids": [2]}, {"ids": []})


def test_a_nested_pattern_descends_into_the_objects_of_an_array():
    # a DynamoDB list attribute: tags.L is an array of {"S": ...}
    pattern = {"dynamodb": {"NewImage": {"tags": {"L": {"S": ["vip"]}}}}}
    assert matches(pattern, _record("INSERT", new=_ticket("new")))
    untagged = _ticket("new") | {"tags": {"L": [{"S": "billing"}]}}
    assert not matches(pattern, _record("INSERT", new=untagged))


def test_fields_from_different_elements_of_one_array_do_not_combine():
    pattern = {"attachments": {"name": ["invoice.pdf"], "type": ["application/pdf"]}}
    same = {"attachments": [{"name": "invoice.pdf", "type": "application/pdf"}]}
    split = {
        "attachments": [{"name": "invoice.pdf", "type": "text/plain"}, {"type": "application/pdf"}]
    }
    assert matches(pattern, same)
    assert not matches(pattern, split)


def test_anything_but_matches_an_array_with_any_other_element():
    pattern = {"tags": [{"anything-but": "spam"}]}
    assert matches(pattern, {"tags": ["spam", "billing"]})
    assert not matches(pattern, {"tags": ["spam"]})


# --- matching: content filters ----------------------------------------------------------


def test_prefix():
    assert matches({"SK": [{"prefix": "MSG#"}]}, {"SK": "MSG#2026-11-24T10:00:00Z#M1"})
    assert not matches({"SK": [{"prefix": "MSG#"}]}, {"SK": "msg#2026"})
    assert not matches({"n": [{"prefix": "3"}]}, {"n": 300})  # strings only
    assert matches({"SK": [{"prefix": ""}]}, {"SK": "anything"})


def test_prefix_ignoring_case():
    pattern = {"subject": [{"prefix": {"equals-ignore-case": "re:"}}]}
    assert matches(pattern, {"subject": "RE: Invoice 4711"})
    assert not matches(pattern, {"subject": "Fwd: RE: Invoice"})


def test_suffix_with_and_without_case():
    assert matches({"name": [{"suffix": ".pdf"}]}, {"name": "invoice.pdf"})
    assert not matches({"name": [{"suffix": ".pdf"}]}, {"name": "invoice.PDF"})
    assert matches({"name": [{"suffix": {"equals-ignore-case": ".pdf"}}]}, {"name": "invoice.PDF"})
    assert not matches(
        {"name": [{"suffix": {"equals-ignore-case": ".pdf"}}]}, {"name": "invoice.pdf.exe"}
    )


def test_equals_ignore_case():
    pattern = {"channel": [{"equals-ignore-case": "EMAIL"}]}
    assert matches(pattern, {"channel": "Email"})
    assert not matches(pattern, {"channel": "e-mail"})
    assert not matches(pattern, {"channel": ["chat", None, 5]})


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ("solved", "open", True),
        ("solved", "solved", False),
        (["solved", "closed"], "pending", True),
        (["solved", "closed"], "closed", False),
        ("solved", None, True),  # a null is present, and it is not "solved"
        ([100, 200], 100.0, False),
        ([100, 200], 150, True),
        ({"prefix": "TICKET#"}, "CUSTOMER#C9", True),
        ({"prefix": "TICKET#"}, "TICKET#T1", False),
        ({"prefix": ["TICKET#", "MSG#"]}, "MSG#1", False),
        ({"suffix": ".exe"}, "invoice.pdf", True),
        ({"suffix": ".exe"}, "setup.exe", False),
        ({"equals-ignore-case": "SOLVED"}, "Solved", False),
        ({"equals-ignore-case": ["solved", "closed"]}, "Open", True),
        ({"wildcard": "*/lib/*"}, "/usr/lib/x", False),
        ({"wildcard": "*/lib/*"}, "/usr/bin/x", True),
        ({"prefix": "TICKET#"}, 5, True),  # the object forms only rule out strings
    ],
)
def test_anything_but(rule, value, expected):
    assert matches({"field": [{"anything-but": rule}]}, {"field": value}) is expected


def test_anything_but_never_matches_a_missing_key():
    pattern = {
        "dynamodb": {"OldImage": {"status": {"S": [{"anything-but": ["solved", "closed"]}]}}}
    }
    assert matches(pattern, _record("MODIFY", old=_ticket("open"), new=_ticket("solved")))
    assert not matches(pattern, _record("INSERT", new=_ticket("solved")))


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        ([">", 0, "<=", 5], 0, False),
        ([">", 0, "<=", 5], 0.5, True),
        ([">", 0, "<=", 5], 5, True),
        ([">", 0, "<=", 5], 5.000001, False),
        ([">=", 0, "<", 5], 0, True),
        ([">=", 0, "<", 5], 5, False),
        (["<", 10], -3, True),
        (["<", 10], 10, False),
        (["=", 300], 300.0, True),
        (["=", 300], 301, False),
        ([">", 0], "5", False),  # only JSON numbers: a DynamoDB {"N": "5"} never matches
        ([">", 0], True, False),
        ([">", 0], None, False),
    ],
)
def test_numeric(rule, value, expected):
    assert matches({"n": [{"numeric": rule}]}, {"n": value}) is expected


def test_numeric_over_an_array_matches_when_any_element_is_in_range():
    assert matches({"n": [{"numeric": [">", 10]}]}, {"n": [1, 2, 11]})
    assert not matches({"n": [{"numeric": [">", 10]}]}, {"n": [1, 2, 10]})


def test_exists():
    assert matches({"agent": [{"exists": True}]}, {"agent": "ana"})
    assert matches({"agent": [{"exists": True}]}, {"agent": None})  # null is a value
    assert not matches({"agent": [{"exists": True}]}, {})
    assert matches({"agent": [{"exists": False}]}, {})
    assert not matches({"agent": [{"exists": False}]}, {"agent": ""})


def test_exists_only_works_on_leaf_nodes():
    # first_response_at is {"S": "..."}: an intermediate node, never "existing" itself
    new = _ticket("open", first_response_at=ANSWERED)
    record = _record("MODIFY", old=_ticket("open"), new=new)
    assert not matches(
        {"dynamodb": {"NewImage": {"first_response_at": [{"exists": True}]}}}, record
    )
    assert matches({"dynamodb": {"NewImage": {"first_response_at": [{"exists": False}]}}}, record)
    assert matches(
        {"dynamodb": {"NewImage": {"first_response_at": {"S": [{"exists": True}]}}}}, record
    )
    # an empty array holds no leaf value either
    assert matches({"dynamodb": {"NewImage": {"participants": {"L": [{"exists": False}]}}}}, record)


def test_exists_false_under_a_missing_parent_matches():
    # an INSERT has no OldImage at all
    pattern = {"dynamodb": {"OldImage": {"first_response_at": {"S": [{"exists": False}]}}}}
    assert matches(pattern, _record("INSERT", new=_ticket("new")))


def test_exists_alongside_a_value_is_ored_like_any_other_allowed_value():
    pattern = {"agent": ["ana", {"exists": False}]}
    assert matches(pattern, {"agent": "ana"})
    assert matches(pattern, {})
    assert not matches(pattern, {"agent": "ben"})


@pytest.mark.parametrize(
    ("wildcard", "value", "expected"),
    [
        ("TICKET#*", "TICKET#T1", True),
        ("TICKET#*", "TICKET#", True),  # * matches nothing too
        ("*#M1", "MSG#2026#M1", True),
        ("att/*/invoice.pdf", "att/M1/invoice.pdf", True),
        ("att/*/invoice.pdf", "att/M1/invoiceXpdf", False),  # . is literal
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "aXXcYYb", False),
        (r"5\*", "5*", True),
        (r"5\*", "55", False),
        ("TICKET#*", 5, False),
    ],
)
def test_wildcard(wildcard, value, expected):
    assert matches({"field": [{"wildcard": wildcard}]}, {"field": value}) is expected


@pytest.mark.parametrize(
    ("cidr", "value", "expected"),
    [
        ("10.0.0.0/24", "10.0.0.33", True),
        ("10.0.0.0/24", "10.0.1.33", False),
        ("10.0.0.0/24", "not an address", False),
        ("10.0.0.0/24", "2001:db8::1", False),
        ("2001:db8::/32", "2001:db8::1", True),
    ],
)
def test_cidr(cidr, value, expected):
    assert matches({"sourceIp": [{"cidr": cidr}]}, {"sourceIp": value}) is expected


# --- parsing: what Lambda refuses -------------------------------------------------------


def test_parse_pattern_returns_the_pattern():
    assert parse_pattern(FIRST_RESPONSE)["dynamodb"]["OldImage"] == {
        "first_response_at": {"S": [{"exists": False}]}
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"eventName": ["INSERT"]', "not valid JSON"),
        ('{"n": [NaN]}', "not valid JSON"),
        ('{"n": [1e400]}', "not a JSON number"),
        ('["INSERT"]', "a filter pattern is a JSON object"),
        ("{}", "empty objects"),
        ('{"dynamodb": {}}', "dynamodb: empty objects"),
        (
            '{"eventName": "INSERT"}',
            'eventName: must be an object or an array .*write \\["INSERT"\\]',
        ),
        ('{"eventName": []}', "eventName: empty arrays"),
        ('{"eventName": [["INSERT"]]}', "allowed value is a string"),
        ('{"status": [{"prefx": "sol"}]}', "status: unknown operator 'prefx'"),
        ('{"status": {"prefix": "sol"}}', "status.prefix: an operator goes inside the array"),
        ('{"status": [{"prefix": "s", "suffix": "d"}]}', "exactly one operator"),
        ('{"status": [{"prefix": 5}]}', "prefix takes a string"),
        ('{"status": [{"prefix": {"ignore-case": "s"}}]}', "equals-ignore-case"),
        ('{"status": [{"suffix": {"equals-ignore-case": 5}}]}', "takes a string"),
        ('{"status": [{"equals-ignore-case": ["a"]}]}', "takes a string"),
        ('{"n": [{"numeric": [">", "0"]}]}', "needs a number"),
        ('{"n": [{"numeric": ["~", 0]}]}', "unknown comparison"),
        ('{"n": [{"numeric": [">", 0, "<"]}]}', "takes an array like"),
        ('{"n": [{"numeric": 5}]}', "takes an array like"),
        ('{"n": [{"numeric": ["<", 5, ">", 0]}]}', "a range is"),
        ('{"n": [{"numeric": [">", 5, "<", 5]}]}', "low bound must be below"),
        ('{"n": [{"numeric": [">", true]}]}', "needs a number"),
        ('{"a": [{"exists": "true"}]}', "exists takes true or false"),
        ('{"a": [{"anything-but": ["x", 1]}]}', "may not mix strings and numbers"),
        ('{"a": [{"anything-but": [null]}]}', "strings or numbers"),
        ('{"a": [{"anything-but": []}]}', "empty arrays"),
        ('{"a": [{"anything-but": {"numeric": [">", 1]}}]}', "wraps one of"),
        ('{"a": [{"anything-but": {"prefix": ""}}]}', "an empty prefix"),
        ('{"a": [{"anything-but": {"suffix": [1]}}]}', "takes a string"),
        ('{"a": [{"wildcard": "a**b"}]}', "consecutive wildcard"),
        ('{"a": [{"wildcard": "a\\\\b"}]}', "backslash may only escape"),
        ('{"a": [{"cidr": "10.0.0.0"}]}', "not a CIDR block"),
        ('{"a": [{"cidr": "10.0.0.300/24"}]}', "not a CIDR block"),
        ('{"$or": [{"a": ["x"]}]}', "at least two patterns"),
        ('{"$or": [{"a": ["x"]}, {}]}', r"\$or\[1\]: empty objects"),
        ('{"$or": {"a": ["x"]}}', "at least two patterns"),
    ],
)
def test_parse_pattern_refuses_what_lambda_refuses(text, message):
    with pytest.raises(FilterPatternError, match=message):
        parse_pattern(text)


def test_a_pattern_longer_than_lambda_allows_is_refused():
    text = json.dumps({"eventName": ["INSERT"] + ["x" * 10] * 400})
    assert len(text) > 4096
    with pytest.raises(FilterPatternError, match="4096"):
        parse_pattern(text)


def test_filter_pattern_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_pattern("not json")


def test_matches_refuses_an_invalid_pattern_rather_than_guessing():
    with pytest.raises(FilterPatternError, match="unknown operator"):
        matches({"status": [{"starts-with": "sol"}]}, {"status": "solved"})
