"""Lambda event filtering for the local stack's event source mappings.

In AWS, an event source mapping with ``FilterCriteria`` drops every stream record that
no filter pattern matches before the function is invoked. The local stack emulates the
mapping of the ticket table's stream, so it has to drop the same records: a record the
deployed filter discards (a REMOVE by TTL, a write to a message item) must not reach the
function locally either, or local runs exercise code paths AWS never does.

Lambda applies the patterns to the record exactly as it delivers it (for DynamoDB: the
whole record, ``eventName``, ``dynamodb.NewImage`` in DynamoDB JSON and so on), with the
syntax and rules of Amazon EventBridge event patterns. This module follows:

- AWS Lambda Developer Guide, "Control which events Lambda sends to your function"
  (invocation-eventfiltering) and "Using event filtering with a DynamoDB event source"
  (with-ddb-filtering): filters are ORed, ``exists`` only works on leaf nodes;
- Amazon EventBridge User Guide, "Amazon EventBridge event patterns", "Arrays in event
  patterns", "Matching null values and empty strings" and "Content filtering"
  (eb-event-patterns-content-based-filtering, eb-create-pattern-operators);
- aws/event-ruler, the matcher behind both, where the guides are silent or out of date:
  a number in a pattern matches numerically (300 matches 300.0, although older guide
  pages say otherwise), a missing field is not null, ``anything-but`` needs the field
  to be present, and fields from different elements of one array never combine.

Standard library only: it runs in the local stack and in unit tests, never in AWS.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

__all__ = ["FilterCriteria", "FilterPatternError", "matches", "parse_pattern"]

# Lambda's limit on one Filter's Pattern string (API reference, Filter.Pattern).
MAX_PATTERN_LENGTH: Final = 4096

_OR: Final = "$or"
_NUMERIC_OPERATORS: Final = frozenset({"=", "<", "<=", ">", ">="})
# the operators anything-but may wrap in an object ({"anything-but": {"prefix": "x"}})
_ANYTHING_BUT_OBJECT_OPERATORS: Final = ("prefix", "suffix", "equals-ignore-case", "wildcard")


class FilterPatternError(ValueError):
    """A filter pattern (or FilterCriteria) Lambda would refuse to create."""


class _Missing:
    """The value of a key the event does not have: not null, not an empty string."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Final = _Missing()


# --- validation ------------------------------------------------------------------------


def parse_pattern(text: str) -> dict[str, Any]:
    """Parse and validate one filter pattern (a ``Filters[].Pattern`` string).

    Raises FilterPatternError, with the path of the offending field, for text that is
    not JSON or a pattern Lambda would refuse, so a bad template fails when the stack
    starts rather than silently matching nothing (or everything).
    """
    if not isinstance(text, str):
        raise FilterPatternError(f"a filter pattern is a JSON string, not {type(text).__name__}")
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterPatternError(
            f"the filter pattern is {len(text)} characters; Lambda allows {MAX_PATTERN_LENGTH}"
        )
    try:
        pattern = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise FilterPatternError(f"the filter pattern is not valid JSON: {error}") from error
    if not isinstance(pattern, dict):
        raise FilterPatternError(
            f"a filter pattern is a JSON object, not {type(pattern).__name__}: {text.strip()}"
        )
    _check_object(pattern, "")
    return pattern


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (and so Lambda) does not
    raise FilterPatternError(f"the filter pattern is not valid JSON: {name} is not a JSON value")


def _check_object(node: object, where: str) -> None:
    if not isinstance(node, Mapping):
        raise FilterPatternError(f"{where or 'the pattern'}: expected an object")
    if not node:
        raise FilterPatternError(f"{where or 'the pattern'}: empty objects are not allowed")
    for key, value in node.items():
        field = f"{where}.{key}" if where else str(key)
        if key == _OR:
            _check_or(value, field)
        elif isinstance(value, Mapping):
            _check_object(value, field)
        elif isinstance(value, list | tuple):
            _check_leaf(value, field)
        elif key in _CHECKS:
            # {"status": {"prefix": "x"}}: the operator has lost its array
            raise FilterPatternError(
                f"{field}: an operator goes inside the array of allowed values, "
                f'as in {{"{where.rsplit(".", 1)[-1] or "field"}": [{{"{key}": ...}}]}}'
            )
        else:
            raise FilterPatternError(
                f"{field}: must be an object or an array of allowed values, "
                f"not {_show(value)} (write [{_show(value)}])"
            )


def _check_or(value: object, field: str) -> None:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise FilterPatternError(f"{field}: $or takes an array of at least two patterns")
    for index, alternative in enumerate(value):
        _check_object(alternative, f"{field}[{index}]")


def _check_leaf(values: Sequence[object], field: str) -> None:
    if not values:
        raise FilterPatternError(f"{field}: empty arrays are not allowed (they match nothing)")
    for value in values:
        _check_rule(value, field)


def _check_rule(rule: object, field: str) -> None:
    if rule is None or isinstance(rule, str | bool):
        return
    if _is_number(rule):
        _check_finite(rule, field)
        return
    if isinstance(rule, Mapping):
        if len(rule) != 1:
            raise FilterPatternError(
                f"{field}: a match expression has exactly one operator, not {_show(rule)}"
            )
        ((operator, argument),) = rule.items()
        check = _CHECKS.get(operator)
        if check is None:
            raise FilterPatternError(
                f"{field}: unknown operator {operator!r} (Lambda knows {', '.join(_CHECKS)})"
            )
        check(argument, f"{field}: {operator}")
        return
    raise FilterPatternError(
        f"{field}: an allowed value is a string, number, true, false, null or an "
        f"{{operator: argument}} object, not {_show(rule)}"
    )


def _check_string(argument: object, where: str) -> str:
    if not isinstance(argument, str):
        raise FilterPatternError(f"{where} takes a string, not {_show(argument)}")
    return argument


def _check_affix(argument: object, where: str) -> None:
    # {"prefix": "x"} or {"prefix": {"equals-ignore-case": "x"}}
    if isinstance(argument, Mapping):
        if list(argument) != ["equals-ignore-case"]:
            raise FilterPatternError(
                f'{where} takes a string or {{"equals-ignore-case": "..."}}, not {_show(argument)}'
            )
        _check_string(argument["equals-ignore-case"], f"{where}: equals-ignore-case")
        return
    _check_string(argument, where)


def _check_wildcard(argument: object, where: str) -> None:
    _wildcard_regex_checked(_check_string(argument, where), where)


def _check_cidr(argument: object, where: str) -> None:
    cidr = _check_string(argument, where)
    if "/" not in cidr:
        raise FilterPatternError(f"{where}: {cidr!r} is not a CIDR block (one '/' required)")
    try:
        ipaddress.ip_network(cidr, strict=False)
    except ValueError as error:
        raise FilterPatternError(f"{where}: {cidr!r} is not a CIDR block: {error}") from error


def _check_exists(argument: object, where: str) -> None:
    if not isinstance(argument, bool):
        raise FilterPatternError(f"{where} takes true or false, not {_show(argument)}")


def _check_numeric(argument: object, where: str) -> None:
    shape = 'an array like ["=", 5], ["<", 10] or [">", 0, "<=", 5]'
    if not isinstance(argument, list | tuple) or len(argument) not in (2, 4):
        raise FilterPatternError(f"{where} takes {shape}, not {_show(argument)}")
    operators, bounds = argument[0::2], argument[1::2]
    for operator, bound in zip(operators, bounds, strict=True):
        if operator not in _NUMERIC_OPERATORS:
            raise FilterPatternError(
                f"{where}: unknown comparison {_show(operator)} (use =, <, <=, > or >=)"
            )
        if not _is_number(bound):
            raise FilterPatternError(f"{where}: {operator} needs a number, not {_show(bound)}")
        _check_finite(bound, where)
    if len(argument) == 4:
        # a range is a lower bound then an upper one, the lower below the upper
        if operators[0] not in (">", ">=") or operators[1] not in ("<", "<="):
            raise FilterPatternError(f"{where}: a range is [> or >=, low, < or <=, high]")
        if not bounds[0] < bounds[1]:
            raise FilterPatternError(f"{where}: the range's low bound must be below its high one")


def _check_anything_but(argument: object, where: str) -> None:
    if isinstance(argument, Mapping):
        if len(argument) != 1 or next(iter(argument)) not in _ANYTHING_BUT_OBJECT_OPERATORS:
            raise FilterPatternError(
                f"{where} wraps one of {', '.join(_ANYTHING_BUT_OBJECT_OPERATORS)}, "
                f"not {_show(argument)}"
            )
        ((operator, inner),) = argument.items()
        inner_where = f"{where}: {operator}"
        values = inner if isinstance(inner, list | tuple) else [inner]
        if not values:
            raise FilterPatternError(f"{inner_where}: empty arrays are not allowed")
        for value in values:
            text = _check_string(value, inner_where)
            if operator in ("prefix", "suffix") and not text:
                raise FilterPatternError(f"{inner_where}: an empty {operator} is not allowed")
            if operator == "wildcard":
                _wildcard_regex_checked(text, inner_where)
        return
    values = argument if isinstance(argument, list | tuple) else [argument]
    if not values:
        raise FilterPatternError(f"{where}: empty arrays are not allowed")
    for value in values:
        if not isinstance(value, str) and not _is_number(value):
            raise FilterPatternError(
                f"{where} takes strings or numbers (not true, false, null or objects), "
                f"not {_show(value)}"
            )
        if _is_number(value):
            _check_finite(value, where)
    kinds = {isinstance(value, str) for value in values}
    if len(kinds) > 1:
        raise FilterPatternError(f"{where}: a list may not mix strings and numbers")


def _check_finite(number: object, where: str) -> None:
    if isinstance(number, float) and not math.isfinite(number):
        raise FilterPatternError(f"{where}: {number} is not a JSON number")


_CHECKS: Final[dict[str, Callable[[object, str], object]]] = {
    "prefix": _check_affix,
    "suffix": _check_affix,
    "equals-ignore-case": _check_string,
    "anything-but": _check_anything_but,
    "numeric": _check_numeric,
    "exists": _check_exists,
    "wildcard": _check_wildcard,
    "cidr": _check_cidr,
}


def _show(value: object) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


# --- matching --------------------------------------------------------------------------


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` (a record as Lambda delivers it) matches one filter pattern.

    ``pattern`` is a parsed pattern (see parse_pattern); it is validated here too, and
    FilterPatternError raised for one Lambda would refuse.
    """
    _check_object(pattern, "")
    return _match_fields(pattern, event)


def _match_fields(pattern: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    # every key of the pattern must match (AND); keys the pattern does not name are ignored
    for key, expected in pattern.items():
        if key == _OR:
            if not any(_match_fields(alternative, node) for alternative in expected):
                return False
        elif isinstance(expected, Mapping):
            if not _match_object(expected, node.get(key, _MISSING)):
                return False
        elif not _match_leaf(expected, node.get(key, _MISSING)):
            return False
    return True


def _match_object(pattern: Mapping[str, Any], value: object) -> bool:
    # A nested pattern descends into an object, or into each object of an array: the
    # whole sub-pattern must match within one element (event-ruler's array consistency),
    # so {"a": "1"} in one element and {"b": "2"} in another do not add up to a match.
    # Where there is no object at all, every field below is missing (exists: false holds).
    objects = [element for element in _flatten(value) if isinstance(element, Mapping)]
    if not objects:
        return _match_fields(pattern, {})
    return any(_match_fields(pattern, element) for element in objects)


def _match_leaf(rules: Sequence[Any], value: object) -> bool:
    # The leaf values are the scalars here, or in the array here: an array matches when
    # any element does. An object (an intermediate node) or an empty array gives none,
    # which is why exists only works on leaf nodes.
    values = [element for element in _flatten(value) if not isinstance(element, Mapping)]
    return any(_match_rule(rule, values) for rule in rules)  # allowed values are ORed


def _match_rule(rule: object, values: list[object]) -> bool:
    if isinstance(rule, Mapping):
        ((operator, argument),) = rule.items()
        if operator == "exists":
            return bool(values) is argument
        test = _TESTS[operator]
        return any(test(argument, value) for value in values)
    return any(_same(rule, value) for value in values)


def _flatten(value: object) -> Iterator[object]:
    if value is _MISSING:
        return
    if isinstance(value, list | tuple):
        for element in value:
            yield from _flatten(element)
    else:
        yield value


def _is_number(value: object) -> bool:
    # bool is an int in Python but true is not 1 in JSON
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _same(expected: object, actual: object) -> bool:
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual == expected
    if _is_number(expected):
        # numerically, as event-ruler does: 300 matches 300.0 (never the string "300")
        return _is_number(actual) and actual == expected
    return isinstance(actual, str) and actual == expected


def _test_prefix(argument: object, value: object) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, Mapping):
        return value.lower().startswith(str(argument["equals-ignore-case"]).lower())
    return value.startswith(str(argument))


def _test_suffix(argument: object, value: object) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, Mapping):
        return value.lower().endswith(str(argument["equals-ignore-case"]).lower())
    return value.endswith(str(argument))


def _test_equals_ignore_case(argument: object, value: object) -> bool:
    return isinstance(value, str) and value.lower() == str(argument).lower()


def _test_wildcard(argument: object, value: object) -> bool:
    return isinstance(value, str) and _wildcard_regex(str(argument)).fullmatch(value) is not None


def _test_cidr(argument: object, value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address in _network(str(argument))  # False across IPv4 and IPv6


def _test_numeric(argument: Sequence[Any], value: object) -> bool:
    # numeric only matches JSON numbers: DynamoDB's {"N": "5"} is a string and never does
    if not _is_number(value):
        return False
    return all(
        _compare(operator, value, bound)
        for operator, bound in zip(argument[0::2], argument[1::2], strict=True)
    )


def _compare(operator: str, value: Any, bound: Any) -> bool:
    if operator == "=":
        return bool(value == bound)
    if operator == "<":
        return bool(value < bound)
    if operator == "<=":
        return bool(value <= bound)
    if operator == ">":
        return bool(value > bound)
    return bool(value >= bound)


def _test_anything_but(argument: object, value: object) -> bool:
    # Reached only for a value that is present (null included): anything-but never
    # matches a missing field. The object forms only rule out strings.
    if isinstance(argument, Mapping):
        ((operator, inner),) = argument.items()
        excluded = inner if isinstance(inner, list | tuple) else [inner]
        test = _TESTS[operator]
        return not any(test(item, value) for item in excluded)
    excluded = argument if isinstance(argument, list | tuple) else [argument]
    return not any(_same(item, value) for item in excluded)


_TESTS: Final[dict[str, Callable[[Any, object], bool]]] = {
    "prefix": _test_prefix,
    "suffix": _test_suffix,
    "equals-ignore-case": _test_equals_ignore_case,
    "anything-but": _test_anything_but,
    "numeric": _test_numeric,
    "wildcard": _test_wildcard,
    "cidr": _test_cidr,
}


def _wildcard_regex_checked(text: str, where: str) -> None:
    try:
        _wildcard_regex(text)
    except ValueError as error:
        raise FilterPatternError(f"{where}: {error}") from error


@lru_cache(maxsize=256)
def _wildcard_regex(text: str) -> re.Pattern[str]:
    # * matches any run of characters (none included); \* is a literal *, \\ a literal \
    parts: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            escaped = text[index + 1 : index + 2]
            if escaped not in ("*", "\\"):
                raise ValueError(f"in {text!r} a backslash may only escape * or \\")
            parts.append(re.escape(escaped))
            index += 2
            continue
        if char == "*":
            if parts and parts[-1] == ".*":
                raise ValueError(f"{text!r} has consecutive wildcard characters")
            parts.append(".*")
        else:
            parts.append(re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


@lru_cache(maxsize=256)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


# --- FilterCriteria --------------------------------------------------------------------


class FilterCriteria:
    """An event source mapping's FilterCriteria: which records reach the function."""

    __slots__ = ("_patterns",)

    def __init__(self, patterns: Sequence[Mapping[str, Any]] = ()) -> None:
        for index, pattern in enumerate(patterns):
            try:
                _check_object(pattern, "")
            except FilterPatternError as error:
                raise FilterPatternError(f"filter {index}: {error}") from error
        self._patterns: tuple[Mapping[str, Any], ...] = tuple(patterns)

    @classmethod
    def from_template(cls, value: Mapping[str, Any] | None) -> FilterCriteria:
        """From the CloudFormation/SAM ``FilterCriteria`` property (None: no filtering).

        ``{"Filters": [{"Pattern": "<JSON>"}, ...]}``; an empty object or Filters list
        filters nothing, as in Lambda.
        """
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise FilterPatternError(
                f'FilterCriteria is {{"Filters": [{{"Pattern": "..."}}]}}, not {_show(value)}'
            )
        unknown = set(value) - {"Filters"}
        if unknown:
            raise FilterPatternError(f"FilterCriteria has only Filters, not {sorted(unknown)}")
        filters = value.get("Filters") or []
        if not isinstance(filters, list | tuple):
            raise FilterPatternError(f"FilterCriteria.Filters is a list, not {_show(filters)}")
        patterns: list[dict[str, Any]] = []
        for index, item in enumerate(filters):
            where = f"FilterCriteria.Filters[{index}]"
            if not isinstance(item, Mapping) or set(item) != {"Pattern"}:
                raise FilterPatternError(f'{where} is {{"Pattern": "<JSON>"}}, not {_show(item)}')
            pattern = item["Pattern"]
            if not isinstance(pattern, str):
                raise FilterPatternError(
                    f"{where}.Pattern is a JSON string (as CloudFormation requires), "
                    f"not {_show(pattern)}"
                )
            try:
                patterns.append(parse_pattern(pattern))
            except FilterPatternError as error:
                raise FilterPatternError(f"{where}.Pattern: {error}") from error
        return cls(patterns)

    @property
    def patterns(self) -> tuple[Mapping[str, Any], ...]:
        return self._patterns

    def accepts(self, record: Mapping[str, Any]) -> bool:
        """Whether Lambda would hand ``record`` to the function: with no filters, always;
        otherwise when any filter matches (Lambda ORs them)."""
        return not self._patterns or any(_match_fields(p, record) for p in self._patterns)

    def __repr__(self) -> str:
        return f"FilterCriteria({[json.dumps(p) for p in self._patterns]})"
