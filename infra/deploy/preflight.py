"""What `helpline deploy` checks in the account before anything is uploaded.

Each check reads the account as it is (nothing is changed) and, when the deploy would
fail or mail would not flow, says exactly what to do:

- the secrets the config references exist (metadata only, values are never read);
- Lambda concurrency: what the config reserves for the functions must leave the 100
  unreserved executions AWS requires, within the account's quota (new accounts often
  have 10, so no reservation is possible there at all);
- SES receiving, when mail is received: the region offers it, and which receipt rule
  set is active (one per region: activating Helpline's would switch off another's);
- the SES sandbox: while the region is in it, replies reach only verified addresses;
- what an earlier deploy left behind: the retained table and mail bucket of a stage
  whose shared stack was removed (a new shared stack cannot create them again: the
  deploy takes them back into the stack instead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# AWS requires this many concurrent executions to stay unreserved in an account
MIN_UNRESERVED = 100
# the regions AWS documents an inbound-smtp endpoint for (AWS General Reference, "Amazon
# Simple Email Service endpoints and quotas", Email Receiving); others may have been
# added since: they are a warning, not a refusal
RECEIVING_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1"})


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    message: str
    blocking: bool = True  # a failed blocking check stops the deploy


@dataclass
class Preflight:
    findings: list[Finding] = field(default_factory=list)
    # filled in for the deploy: what the account already holds
    active_rule_set: str | None = None
    retained: dict[str, str] = field(default_factory=dict)  # logical id -> physical name

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok and f.blocking]

    def add(self, check: str, ok: bool, message: str, *, blocking: bool = True) -> None:
        self.findings.append(Finding(check, ok, message, blocking))


def run(
    session: Any,
    *,
    stage: str,
    region: str,
    missing_secrets: Sequence[Any],
    reservations: Mapping[str, int],
    function_names: Mapping[str, Sequence[str]],
    receives_mail: bool,
    rule_set: str,
) -> Preflight:
    """Every check; `reservations` is spec name -> concurrency per handler, and
    `function_names` spec name -> the Lambda function names its stack creates."""
    result = Preflight()
    _secrets(result, missing_secrets, region)
    _concurrency(result, session, reservations, function_names)
    if receives_mail:
        _receiving(result, session, region, rule_set)
    _sandbox(result, session, region)
    _retained(result, session, stage, region)
    return result


def _secrets(result: Preflight, missing: Sequence[Any], region: str) -> None:
    if not missing:
        result.add("secrets", True, "every secret the config references exists")
        return
    commands = []
    for ref in missing:
        if ref.scheme == "ssm":
            commands.append(
                f"aws ssm put-parameter --type SecureString --name {ref.name} --value ..."
            )
        else:
            commands.append(
                f"aws secretsmanager create-secret --name {ref.name} --secret-string ..."
            )
    result.add(
        "secrets",
        False,
        f"the config references secrets that do not exist in {region}: "
        + ", ".join(str(ref) for ref in missing)
        + "; create each, e.g. "
        + "; ".join(commands),
    )


def _concurrency(
    result: Preflight,
    session: Any,
    reservations: Mapping[str, int],
    function_names: Mapping[str, Sequence[str]],
) -> None:
    wanted = {name: count for name, count in reservations.items() if count > 0}
    client = session.client("lambda")
    limits = client.get_account_settings()["AccountLimit"]
    quota = int(limits["ConcurrentExecutions"])
    unreserved = int(limits["UnreservedConcurrentExecutions"])
    if not wanted:
        result.add(
            "concurrency",
            True,
            f"no reserved concurrency (account quota {quota}, {unreserved} unreserved)",
        )
        return
    # what our functions hold already comes back when their stacks are updated
    held = 0
    for names in function_names.values():
        for name in names:
            try:
                current = client.get_function_concurrency(FunctionName=name)
            except client.exceptions.ResourceNotFoundException:
                continue
            held += int(current.get("ReservedConcurrentExecutions") or 0)
    needed = sum(count * len(function_names.get(spec, ())) for spec, count in wanted.items())
    left = unreserved + held - needed
    if left >= MIN_UNRESERVED:
        result.add(
            "concurrency",
            True,
            f"reserving {needed} of the account's {quota} leaves {left} unreserved",
        )
        return
    listed = ", ".join(f"{spec} {count}" for spec, count in sorted(wanted.items()))
    result.add(
        "concurrency",
        False,
        f"the config reserves concurrency ({listed}: {needed} in all over "
        f"{sum(len(function_names.get(s, ())) for s in wanted)} handlers), but the account's "
        f"Lambda quota is {quota} with {unreserved} unreserved, and AWS keeps "
        f"{MIN_UNRESERVED} unreserved: the first function stack would roll back. Remove "
        "deployment.reserved_concurrency from the config (or lower it), or ask for a higher "
        "quota: Service Quotas > AWS Lambda > Concurrent executions",
    )


def _receiving(result: Preflight, session: Any, region: str, rule_set: str) -> None:
    if region not in RECEIVING_REGIONS:
        result.add(
            "ses-receiving",
            False,
            f"SES receives mail only in some regions ({', '.join(sorted(RECEIVING_REGIONS))} "
            f"for certain); {region} may not: check the SES console's Email receiving page "
            "there, or deploy to one of those regions (the MX record names the region)",
            blocking=False,
        )
    active = session.client("ses").describe_active_receipt_rule_set().get("Metadata") or {}
    name = active.get("Name")
    result.active_rule_set = name
    if name is None:
        result.add(
            "ses-receiving",
            True,
            f"no receipt rule set is active in {region}: activate {rule_set} after the "
            f"deploy (aws ses set-active-receipt-rule-set --rule-set-name {rule_set})",
        )
    elif name == rule_set:
        result.add("ses-receiving", True, f"{rule_set} is the active receipt rule set")
    else:
        result.add(
            "ses-receiving",
            False,
            f"the active receipt rule set in {region} is {name}, not Helpline's {rule_set}: one "
            "set is active per region, so activating Helpline's would stop that one's rules. "
            f"Either add Helpline's rule to {name} (see docs/deploy.md, 'Receiving mail when "
            "another rule set is active'), or activate "
            f"{rule_set} knowingly once the deploy is done",
            blocking=False,
        )


def _sandbox(result: Preflight, session: Any, region: str) -> None:
    account = session.client("sesv2").get_account()
    if account.get("ProductionAccessEnabled"):
        result.add("ses-sandbox", True, f"SES in {region} has production access")
        return
    result.add(
        "ses-sandbox",
        False,
        f"SES in {region} is in the sandbox: acknowledgements, replies and surveys reach "
        "only verified addresses, and at most 200 a day. Ask for production access "
        "(SES console > Account dashboard > Request production access, or `aws sesv2 "
        "put-account-details --production-access-enabled --mail-type TRANSACTIONAL "
        "--website-url ... --use-case-description ...`)",
        blocking=False,
    )


def _retained(result: Preflight, session: Any, stage: str, region: str) -> None:
    """The table and bucket a removed shared stack kept (DeletionPolicy Retain)."""
    cloudformation = session.client("cloudformation")
    shared = f"helpline-{stage}-shared"
    try:
        status = cloudformation.describe_stacks(StackName=shared)["Stacks"][0]["StackStatus"]
    except cloudformation.exceptions.ClientError:
        status = None
    if status is not None and status != "REVIEW_IN_PROGRESS":
        return
    account = session.client("sts").get_caller_identity()["Account"]
    table = f"helpline-{stage}-tickets"
    bucket = f"helpline-{stage}-mail-{account}-{region}"
    try:
        session.client("dynamodb").describe_table(TableName=table)
        result.retained["TicketTable"] = table
    except session.client("dynamodb").exceptions.ResourceNotFoundException:
        pass
    s3 = session.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        result.retained["MailBucket"] = bucket
    except s3.exceptions.ClientError:
        pass
    if result.retained:
        result.add(
            "retained",
            True,
            "an earlier deploy of this stage kept "
            + " and ".join(sorted(result.retained.values()))
            + ": the new shared stack takes them over (a CloudFormation import) with their data",
            blocking=False,
        )
