"""CloudFormation stacks through change sets: plan, show, apply with progress, remove.

Every change goes through a change set, so what is printed before applying is what
CloudFormation will do. A stack that does not exist yet is planned as a CREATE change
set (which leaves the stack in REVIEW_IN_PROGRESS until executed, or is removed again
after a dry run). A failed apply names the first resource that failed and why;
CloudFormation has already rolled the stack back by then.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

Printer = Callable[[str], None]

_CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
_DONE = ("_COMPLETE", "_FAILED")
_FAILED_STACK = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "DELETE_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
}
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class StackError(RuntimeError):
    """A stack could not be planned, applied or removed; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Change:
    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    resource_type: str
    replacement: str  # True | False | Conditional | "" (not a modification)


@dataclass
class Plan:
    stack_name: str
    change_set_id: str | None
    change_type: str  # CREATE | UPDATE
    changes: list[Change] = field(default_factory=list)
    note: str = ""

    @property
    def empty(self) -> bool:
        return self.change_set_id is None


@dataclass
class Waits:
    """How long to wait, polling; a test against moto polls fast."""

    delay_seconds: float = 5.0
    timeout_seconds: float = 3600.0


class Stacks:
    def __init__(
        self, cloudformation: Any, *, out: Printer = print, waits: Waits | None = None
    ) -> None:
        self.cfn = cloudformation
        self.out = out
        self.waits = waits or Waits()

    # -- reading ------------------------------------------------------------------------------

    def status(self, stack_name: str) -> str | None:
        try:
            stacks = self.cfn.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        return stacks[0]["StackStatus"] if stacks else None

    def outputs(self, stack_name: str) -> dict[str, str]:
        stack = self.cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    # -- planning -----------------------------------------------------------------------------

    def plan(
        self,
        stack_name: str,
        *,
        template_url: str | None = None,
        template_body: str | None = None,
        parameters: Mapping[str, str],
        tags: Mapping[str, str] | None = None,
        keep: Sequence[str] = (),
        to_import: Sequence[Mapping[str, Any]] = (),
    ) -> Plan:
        """A change set for the stack. Parameters named in `keep` and not given keep the
        value the stack has (UsePreviousValue), so a redeploy without --alert-email does
        not drop the alarm subscription."""
        status = self.status(stack_name)
        if status == "ROLLBACK_COMPLETE":
            raise StackError(
                f"{stack_name} failed to create and was rolled back; remove it first "
                "(`helpline destroy`) and deploy again"
            )
        if status is not None and status.endswith("_FAILED"):
            raise StackError(
                f"{stack_name} is {status}; resolve it first (for UPDATE_ROLLBACK_FAILED: "
                "`aws cloudformation continue-update-rollback`), then deploy again"
            )
        if (
            status is not None
            and not status.endswith("_COMPLETE")
            and status != "REVIEW_IN_PROGRESS"
        ):
            raise StackError(f"{stack_name} is {status}; wait until it settles")
        change_type = "UPDATE" if status not in (None, "REVIEW_IN_PROGRESS") else "CREATE"
        if to_import:
            change_type = "IMPORT"  # resources that exist, taken into the stack as they are
        name = f"helpline-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}"
        request: dict[str, Any] = {
            "StackName": stack_name,
            "ChangeSetName": name,
            "ChangeSetType": change_type,
            "Capabilities": _CAPABILITIES,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
            + [
                {"ParameterKey": name, "UsePreviousValue": True}
                for name in self._previous(stack_name, keep, status)
                if name not in parameters
            ],
            "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        }
        if to_import:
            request["ResourcesToImport"] = [dict(entry) for entry in to_import]
        if template_url:
            request["TemplateURL"] = template_url
        else:
            request["TemplateBody"] = template_body
        try:
            change_set_id = self.cfn.create_change_set(**request)["Id"]
        except ClientError as exc:
            raise StackError(f"{stack_name}: cannot plan the change: {_message(exc)}") from exc
        described = self._wait_for_change_set(stack_name, change_set_id)
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason", "")
            self._delete_change_set(stack_name, change_set_id)
            if any(marker in reason for marker in _NO_CHANGES):
                return Plan(stack_name, None, change_type, note="no changes")
            raise StackError(f"{stack_name}: the change set failed: {reason}")
        changes = [
            _change(entry) for entry in _all_changes(self.cfn, stack_name, change_set_id, described)
        ]
        if change_type == "UPDATE" and not changes:
            # parameters kept as they were (UsePreviousValue) and the same template
            self._delete_change_set(stack_name, change_set_id)
            return Plan(stack_name, None, change_type, note="no changes")
        return Plan(stack_name, change_set_id, change_type, changes)

    def _previous(self, stack_name: str, names: Sequence[str], status: str | None) -> list[str]:
        """Of `names`, the parameters the existing stack has (a new one has none)."""
        if not names or status in (None, "REVIEW_IN_PROGRESS"):
            return []
        stack = self.cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        present = {p["ParameterKey"] for p in stack.get("Parameters", [])}
        return [name for name in names if name in present]

    def parameters(self, stack_name: str) -> dict[str, str]:
        stack = self.cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}

    def _wait_for_change_set(self, stack_name: str, change_set_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + min(self.waits.timeout_seconds, 600)
        while True:
            described = self.cfn.describe_change_set(
                ChangeSetName=change_set_id, StackName=stack_name
            )
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return dict(described)
            if time.monotonic() > deadline:
                raise StackError(f"{stack_name}: the change set is still {described['Status']}")
            time.sleep(min(self.waits.delay_seconds, 2))

    def _delete_change_set(self, stack_name: str, change_set_id: str) -> None:
        with contextlib.suppress(ClientError):  # already gone: nothing to clean up
            self.cfn.delete_change_set(ChangeSetName=change_set_id, StackName=stack_name)

    def discard(self, plan: Plan) -> None:
        """After a dry run: remove the change set, and the empty stack a CREATE made."""
        if plan.change_set_id is None:
            return
        self._delete_change_set(plan.stack_name, plan.change_set_id)
        if plan.change_type == "CREATE" and self.status(plan.stack_name) == "REVIEW_IN_PROGRESS":
            self.cfn.delete_stack(StackName=plan.stack_name)

    def show(self, plan: Plan) -> None:
        if plan.empty:
            self.out(f"{plan.stack_name}: {plan.note or 'no changes'}")
            return
        verb = "create" if plan.change_type == "CREATE" else "update"
        self.out(
            f"{plan.stack_name}: {verb}, {len(plan.changes)} change(s){' — ' + plan.note if plan.note else ''}"
        )
        self.out(f"  {'ACTION':<8} {'RESOURCE':<48} {'TYPE':<40} REPLACEMENT")
        for change in plan.changes:
            self.out(
                f"  {change.action:<8} {change.logical_id:<48} {change.resource_type:<40} "
                f"{change.replacement or '-'}"
            )

    # -- applying -------------------------------------------------------------------------

    def apply(self, plan: Plan) -> None:
        """Execute the change set and print the stack's events until it settles."""
        if plan.change_set_id is None:
            return
        since = datetime.now(UTC)
        try:
            self.cfn.execute_change_set(ChangeSetName=plan.change_set_id, StackName=plan.stack_name)
        except ClientError as exc:
            raise StackError(
                f"{plan.stack_name}: cannot apply the change set: {_message(exc)}"
            ) from exc
        final = self._follow(plan.stack_name, since)
        if final in _FAILED_STACK:
            failure = self._first_failure(plan.stack_name, since)
            raise StackError(f"{plan.stack_name} ended {final}: {failure}")

    def remove(self, stack_name: str) -> bool:
        """Delete a stack, with progress; False when there was none."""
        status = self.status(stack_name)
        if status is None:
            return False
        since = datetime.now(UTC)
        self.cfn.delete_stack(StackName=stack_name)
        final = self._follow(stack_name, since, deleting=True)
        if final == "DELETE_FAILED":
            raise StackError(
                f"{stack_name} ended DELETE_FAILED: {self._first_failure(stack_name, since)}"
            )
        return True

    def _follow(self, stack_name: str, since: datetime, *, deleting: bool = False) -> str:
        seen: set[str] = set()
        deadline = time.monotonic() + self.waits.timeout_seconds
        while True:
            for event in reversed(self._events(stack_name, since)):
                if event["EventId"] in seen:
                    continue
                seen.add(event["EventId"])
                reason = (
                    f"  {event['ResourceStatusReason']}"
                    if event.get("ResourceStatusReason")
                    else ""
                )
                self.out(
                    f"  {event['Timestamp']:%H:%M:%S} {event['LogicalResourceId']:<44} "
                    f"{event['ResourceStatus']}{reason}"
                )
            status = self.status(stack_name)
            if status is None:
                return "DELETE_COMPLETE" if deleting else "MISSING"
            if status.endswith(_DONE) and "IN_PROGRESS" not in status:
                return status
            if time.monotonic() > deadline:
                raise StackError(
                    f"{stack_name} is still {status} after {self.waits.timeout_seconds:.0f} s"
                )
            time.sleep(self.waits.delay_seconds)

    def _events(self, stack_name: str, since: datetime) -> list[dict[str, Any]]:
        try:
            events = self.cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
        except ClientError:
            return []
        return [e for e in events if _aware(e["Timestamp"]) >= since.replace(microsecond=0)]

    def _first_failure(self, stack_name: str, since: datetime) -> str:
        failed = [
            e
            for e in reversed(self._events(stack_name, since))
            if e["ResourceStatus"].endswith("_FAILED") and e["LogicalResourceId"] != stack_name
        ]
        if not failed:
            return "no resource reported a failure (see the stack's events)"
        first = failed[0]
        return (
            f"{first['LogicalResourceId']} ({first.get('ResourceType', '?')}): "
            f"{first.get('ResourceStatusReason', 'no reason given')}"
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _all_changes(
    cfn: Any, stack_name: str, change_set_id: str, first: Mapping[str, Any]
) -> list[Any]:
    changes = list(first.get("Changes", []))
    token = first.get("NextToken")
    pages = 0
    while token and pages < 100:
        page = cfn.describe_change_set(
            ChangeSetName=change_set_id, StackName=stack_name, NextToken=token
        )
        changes.extend(page.get("Changes", []))
        token = page.get("NextToken")
        pages += 1
    return changes


def _change(entry: Mapping[str, Any]) -> Change:
    detail = entry.get("ResourceChange", {})
    return Change(
        action=detail.get("Action", "?"),
        logical_id=detail.get("LogicalResourceId", "?"),
        resource_type=detail.get("ResourceType", "?"),
        replacement=detail.get("Replacement", "") if detail.get("Action") == "Modify" else "",
    )


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message") or exc)


def planned_from_template(stack_name: str, template: Mapping[str, Any], note: str) -> Plan:
    """A CREATE plan read from the template itself, for when CloudFormation cannot plan
    yet (the stack imports exports of a stack this same run would create)."""
    changes = [
        Change("Add", logical_id, str(resource.get("Type", "?")), "")
        for logical_id, resource in sorted(template.get("Resources", {}).items())
    ]
    return Plan(stack_name, None, "CREATE", changes, note=note)


def show_all(stacks: Stacks, plans: Sequence[Plan]) -> None:
    for plan in plans:
        if plan.change_set_id is None and plan.changes:
            stacks.out(f"{plan.stack_name}: create, {len(plan.changes)} resource(s) — {plan.note}")
            stacks.out(f"  {'ACTION':<8} {'RESOURCE':<48} {'TYPE':<40} REPLACEMENT")
            for change in plan.changes:
                stacks.out(
                    f"  {change.action:<8} {change.logical_id:<48} {change.resource_type:<40} -"
                )
        else:
            stacks.show(plan)
