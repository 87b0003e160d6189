"""`helpline deploy` and `helpline destroy`: the shared stack, then each function stack.

Order of a deploy, and why:

1. Offline checks, so bad input stops before anything is uploaded: the stage name, the
   config file (`load_config`), every team having a routing queue in infra/shared.yaml,
   the functions asked for.
2. The secrets the functions' config sections reference exist in SSM / Secrets
   Manager (metadata only: the values are never read).
3. Packaging, then cfn-lint over the shared template, the SES receiving template and
   every function template. Any error stops here.
4. Upload: each zip and each function template (the SAM transform applied here, see
   sam.py) to the stage's artifacts bucket, by content hash.
5. Change sets: the shared stack's, shown, applied; then each function's, shown,
   applied. `--dry-run` shows them all and removes them again. Function stacks import
   the shared stack's exports, so while the shared stack does not exist yet a dry run
   lists the function templates' resources instead, and says so.
6. The endpoints people and platforms need, from the stacks' outputs.

Credentials and region come from the standard AWS configuration (environment,
profile, instance role); nothing is written anywhere but the artifacts bucket.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.deploy import cfn, functions, lint, package, preflight, routing, sam
from infra.deploy.functions import FunctionSpec
from infra.deploy.stacks import Plan, StackError, Stacks, Waits, planned_from_template, show_all

STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")  # infra/shared.yaml's AllowedPattern
SES_RECEIVING_TEMPLATE = functions.REPO_ROOT / "infra" / "ses-receiving.yaml"
CONFIG_DIR = functions.REPO_ROOT / "infra" / "config"
Printer = Callable[[str], None]


class DeployError(RuntimeError):
    """Stops a deploy with a reason; nothing after the failing step has happened."""


@dataclass(frozen=True)
class DeployOptions:
    stage: str
    config_path: Path
    out_dir: Path
    region: str | None = None
    only: tuple[str, ...] = ()
    dry_run: bool = False
    alert_email: str = ""  # empty: keep what the stack has (none for a new one)
    log_level: str = ""  # empty: keep what the stacks have (INFO for new ones)
    # the public address of the REST APIs (a custom domain, https://help.example.com);
    # empty: each function derives its API Gateway URL
    public_url: str = ""
    check_only: bool = False  # the preflight, then stop: nothing is uploaded
    # addresses or domains SES receives for (infra/ses-receiving.yaml); none: no mail stack
    mail_recipients: tuple[str, ...] = ()


@dataclass
class DeployResult:
    plans: list[Plan] = field(default_factory=list)
    endpoints: list[tuple[str, str]] = field(default_factory=list)
    packaged: list[package.PackagedFunction] = field(default_factory=list)
    preflight: preflight.Preflight | None = None


# -- offline checks -----------------------------------------------------------------------


def check_stage(stage: str) -> None:
    if not STAGE_PATTERN.match(stage):
        raise DeployError(
            f"stage {stage!r} is not a valid name: use 1-20 lower-case letters, digits and "
            "hyphens, starting with a letter (it becomes part of every resource name)"
        )


def stage_config_path(stage: str, given: str | None) -> Path:
    if given:
        return Path(given).resolve()
    path = CONFIG_DIR / f"{stage}.yaml"
    if not path.is_file():
        raise DeployError(
            f"no config for stage {stage}: write {path.relative_to(functions.REPO_ROOT)} "
            "(start from infra/config/demo.yaml) or pass --config FILE"
        )
    return path


def load_checked_config(path: Path) -> Any:
    from functions.core.config import load_config
    from functions.core.errors import ConfigError

    try:
        config = load_config(path)
    except ConfigError as exc:
        raise DeployError(f"{path}: {exc}") from exc
    known = {spec.name for spec in functions.FUNCTIONS}
    for name in config.deployment.reserved_concurrency:
        if name not in known:
            raise DeployError(
                f"{path}: deployment.reserved_concurrency.{name}: no such function "
                f"(the functions are {', '.join(sorted(known))})"
            )
    try:
        routing.template(config.teams)
    except routing.RoutingError as exc:
        raise DeployError(f"{path}: teams: {exc}") from exc
    return config


def secret_references(config: Any, specs: Sequence[FunctionSpec]) -> list[Any]:
    found: list[Any] = []
    for spec in specs:
        for ref in package.function_secret_refs(config, spec):
            if ref not in found:
                found.append(ref)
    return found


def missing_secrets(session: Any, refs: Sequence[Any]) -> list[Any]:
    """References with no SSM parameter or Secrets Manager secret behind them."""
    missing = []
    ssm_names = [ref for ref in refs if ref.scheme == "ssm"]
    if ssm_names:
        ssm = session.client("ssm")
        present: set[str] = set()
        for start in range(0, len(ssm_names), 10):
            chunk = ssm_names[start : start + 10]
            response = ssm.describe_parameters(
                ParameterFilters=[
                    {"Key": "Name", "Option": "Equals", "Values": [r.name for r in chunk]}
                ],
                MaxResults=50,
            )
            present |= {p["Name"] for p in response.get("Parameters", [])}
        missing += [ref for ref in ssm_names if ref.name not in present]
    manager_refs = [ref for ref in refs if ref.scheme == "secretsmanager"]
    if manager_refs:
        manager = session.client("secretsmanager")
        for ref in manager_refs:
            try:
                manager.describe_secret(SecretId=ref.name)
            except manager.exceptions.ResourceNotFoundException:
                missing.append(ref)
    return missing


def lint_all(templates: Sequence[Path]) -> None:
    errors = []
    for path in templates:
        errors += [f for f in lint.lint_file(path) if f.rule.startswith("E")]
    if errors:
        shown = "\n  ".join(str(f) for f in errors[:20])
        raise DeployError(f"cfn-lint rejects the templates:\n  {shown}")


# -- the deploy ---------------------------------------------------------------------------------


def artifacts_bucket_name(stage: str, account: str, region: str) -> str:
    return f"helpline-{stage}-artifacts-{account}-{region}"


class Deployer:
    def __init__(self, session: Any, *, out: Printer = print, waits: Waits | None = None) -> None:
        self.session = session
        self.out = out
        self.stacks = Stacks(session.client("cloudformation"), out=out, waits=waits)

    @property
    def region(self) -> str:
        region = self.session.region_name
        if not region:
            raise DeployError("no AWS region: pass --region or set AWS_REGION / a profile region")
        return str(region)

    def deploy(self, options: DeployOptions) -> DeployResult:
        check_stage(options.stage)
        config = load_checked_config(options.config_path)
        try:
            specs = functions.select(options.only)
        except (functions.UnknownFunctionError, functions.UndeclaredFunctionError) as exc:
            raise DeployError(str(exc)) from exc
        self._check_requirements(options, specs)
        refs = secret_references(config, specs)
        self.out(f"config {options.config_path}: valid; {len(refs)} secret reference(s) found")
        try:
            built = package.package_all(
                specs,
                stage=options.stage,
                config_path=options.config_path,
                out_dir=options.out_dir,
                region=self.region,
                progress=self.out,
            )
        except (package.PackagingError, ValueError) as exc:
            raise DeployError(str(exc)) from exc

        # 1. the account, before anything is uploaded
        checks = self.preflight(options, config, built, refs)
        if options.check_only:
            self.out("preflight only: nothing was uploaded or changed")
            return DeployResult(packaged=built, preflight=checks)
        lint_all(
            [package.SHARED_TEMPLATE, SES_RECEIVING_TEMPLATE, *(b.template_path for b in built)]
        )
        self.out("cfn-lint: every template passes")
        for item in built:
            self.out(f"  {item.spec.name}: {package.human_size(item.zip_bytes)} zip")

        bucket = self._artifacts_bucket(options.stage)
        result = DeployResult(packaged=built, preflight=checks)
        stacks = _StageStacks(options.stage)
        shared_parameters = {"Stage": options.stage}
        if options.alert_email:
            shared_parameters["AlertEmail"] = options.alert_email
        shared_template = cfn.load(package.SHARED_TEMPLATE)
        if checks.retained and not options.dry_run:
            self._take_back(
                stacks.shared, shared_template, checks.retained, shared_parameters, bucket
            )
        shared_plan = self.stacks.plan(
            stacks.shared,
            template_url=self._upload_template(bucket, "shared", shared_template),
            parameters=shared_parameters,
            tags=_tags(options.stage),
            keep=_SHARED_KEPT,
        )
        result.plans.append(shared_plan)
        shared_exists = shared_plan.change_type == "UPDATE"
        mail_parameters = {"Stage": options.stage, "Recipients": ",".join(options.mail_recipients)}
        teams = sorted(config.teams)
        if options.dry_run:
            self._dry_run(
                options,
                result,
                bucket=bucket,
                shared_exists=shared_exists,
                teams=teams,
                built=built,
                mail_parameters=mail_parameters,
            )
            return result

        self.stacks.show(shared_plan)
        self.stacks.apply(shared_plan)
        # 2. the teams' queues: new ones first, so the functions can route to them
        current = self._routing_teams(stacks.routing)
        self._apply_routing(stacks.routing, sorted(set(current) | set(teams)), options, bucket)
        every_queue = self._queue_urls(options.stage)
        # what the functions route to: the config's teams (a dropped team's queue stays
        # until it is empty, but nothing is sent there any more)
        queue_urls = {
            name: url
            for name, url in every_queue.items()
            if name in config.teams or name == "escalation"
        }
        # 3. the functions, each updated in place: no stack is deleted to change a URL
        for item in built:
            template = self._function_template(bucket, item)
            plan = self.stacks.plan(
                item.spec.stack_name(options.stage),
                template_url=self._upload_template(bucket, item.spec.name, template),
                parameters=self._function_parameters(options, config, item.spec, queue_urls),
                tags=_tags(options.stage),
                keep=("LogLevel", "PublicBaseUrl"),
            )
            result.plans.append(plan)
            self.stacks.show(plan)
            self.stacks.apply(plan)
        # 4. a team dropped from the config: its queue goes once nothing routes to it
        gone = sorted(set(current) - set(teams))
        if gone:
            kept = [team for team in gone if self._queue_holds_messages(every_queue.get(team))]
            for team in kept:
                self.out(
                    f"team {team} left the config, but its queue still holds messages: it is "
                    "kept until they are taken (deploy again to remove it then)"
                )
            self._apply_routing(stacks.routing, sorted(set(teams) | set(kept)), options, bucket)
        if options.mail_recipients:
            mail_plan = self.stacks.plan(
                stacks.mail,
                template_url=self._upload_template(
                    bucket, "mail", cfn.load(SES_RECEIVING_TEMPLATE)
                ),
                parameters=mail_parameters,
                tags=_tags(options.stage),
            )
            result.plans.append(mail_plan)
            self.stacks.show(mail_plan)
            self.stacks.apply(mail_plan)
        result.endpoints = self.endpoints(options.stage, specs)
        if result.endpoints:
            self.out("endpoints:")
            for label, url in result.endpoints:
                self.out(f"  {label:<18} {url}")
        return result

    def preflight(
        self,
        options: DeployOptions,
        config: Any,
        built: Sequence[package.PackagedFunction],
        refs: Sequence[Any],
    ) -> preflight.Preflight:
        reservations = dict(config.deployment.reserved_concurrency)
        names = {item.spec.name: function_names(item.template(), options.stage) for item in built}
        checks = preflight.run(
            self.session,
            stage=options.stage,
            region=self.region,
            missing_secrets=missing_secrets(self.session, refs),
            reservations={n: c for n, c in reservations.items() if n in names},
            function_names=names,
            receives_mail=bool(options.mail_recipients),
            rule_set=f"helpline-{options.stage}",
        )
        self.out("preflight:")
        for finding in checks.findings:
            mark = "ok" if finding.ok else ("FAILED" if finding.blocking else "warning")
            self.out(f"  {mark:<7} {finding.check}: {finding.message}")
        if checks.failed:
            raise DeployError(
                "the account is not ready; nothing was uploaded:\n  "
                + "\n  ".join(f"{f.check}: {f.message}" for f in checks.failed)
            )
        return checks

    def _take_back(
        self,
        stack_name: str,
        shared_template: Mapping[str, Any],
        retained: Mapping[str, str],
        parameters: Mapping[str, str],
        bucket: str,
    ) -> None:
        """The table and bucket a removed shared stack kept, taken into the new one as
        they are (a CloudFormation import), data and all; the rest of the stack is then
        created by the usual change set."""
        identifiers = {"TicketTable": "TableName", "MailBucket": "BucketName"}
        resources = {name: shared_template["Resources"][name] for name in retained}
        template = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "Helpline shared resources: taking back what a removed stack kept",
            "Parameters": shared_template.get("Parameters", {}),
            "Resources": resources,
        }
        plan = self.stacks.plan(
            stack_name,
            template_url=self._upload_template(bucket, "shared-import", template),
            parameters=parameters,
            tags=_tags(parameters["Stage"]),
            to_import=[
                {
                    "ResourceType": resources[name]["Type"],
                    "LogicalResourceId": name,
                    "ResourceIdentifier": {identifiers[name]: physical},
                }
                for name, physical in sorted(retained.items())
            ],
        )
        self.out(f"taking back {', '.join(sorted(retained.values()))} into {stack_name}")
        self.stacks.show(plan)
        self.stacks.apply(plan)

    def _check_requirements(self, options: DeployOptions, specs: Sequence[FunctionSpec]) -> None:
        chosen = {spec.name for spec in specs}
        for spec in specs:
            for needed in spec.requires:
                if needed in chosen:
                    continue
                stack = functions.spec(needed).stack_name(options.stage)
                if self.stacks.status(stack) is None:
                    raise DeployError(
                        f"{spec.name} imports the exports of {needed}; deploy {needed} first "
                        f"({stack} does not exist)"
                    )

    def _function_parameters(
        self,
        options: DeployOptions,
        config: Any,
        spec: FunctionSpec,
        queue_urls: Mapping[str, str],
    ) -> dict[str, str]:
        parameters = {
            "Stage": options.stage,
            "RoutingQueueUrls": json.dumps(dict(queue_urls), sort_keys=True),
            "ReservedConcurrency": str(config.deployment.reserved_concurrency.get(spec.name, -1)),
        }
        if options.log_level:
            parameters["LogLevel"] = options.log_level
        if options.public_url:
            parameters["PublicBaseUrl"] = options.public_url.rstrip("/")
        return parameters

    # -- the teams' queues ---------------------------------------------------------------

    def _routing_teams(self, stack: str) -> list[str]:
        if self.stacks.status(stack) is None:
            return []
        teams = self.stacks.outputs(stack).get("Teams", "")
        return [team for team in teams.split(",") if team]

    def _apply_routing(
        self, stack: str, teams: Sequence[str], options: DeployOptions, bucket: str
    ) -> None:
        plan = self.stacks.plan(
            stack,
            template_url=self._upload_template(bucket, "routing", routing.template(teams)),
            parameters={"Stage": options.stage},
            tags=_tags(options.stage),
            keep=("QueueMaxReceiveCount",),
        )
        self.stacks.show(plan)
        self.stacks.apply(plan)

    def _queue_urls(self, stage: str) -> dict[str, str]:
        escalation = self.stacks.outputs(f"helpline-{stage}-shared")["EscalationQueueUrl"]
        return dict(
            json.loads(
                routing.queue_urls_parameter(
                    self.stacks.outputs(routing.stack_name(stage)), escalation
                )
            )
        )

    def _queue_holds_messages(self, url: str | None) -> bool:
        if not url:
            return False
        attributes = self.session.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return any(int(value) > 0 for value in attributes.values())

    def _dry_run(
        self,
        options: DeployOptions,
        result: DeployResult,
        *,
        bucket: str,
        shared_exists: bool,
        teams: Sequence[str],
        built: Sequence[package.PackagedFunction],
        mail_parameters: Mapping[str, str],
    ) -> None:
        stacks = _StageStacks(options.stage)
        routing_template = routing.template(teams)
        result.plans.append(
            self.stacks.plan(
                stacks.routing,
                template_url=self._upload_template(bucket, "routing", routing_template),
                parameters={"Stage": options.stage},
                tags=_tags(options.stage),
            )
            if shared_exists
            else planned_from_template(
                stacks.routing,
                routing_template,
                f"planned from the template: {stacks.shared} does not exist yet",
            )
        )
        if options.mail_recipients:
            mail_template = cfn.load(SES_RECEIVING_TEMPLATE)
            result.plans.append(
                self.stacks.plan(
                    stacks.mail,
                    template_url=self._upload_template(bucket, "mail", mail_template),
                    parameters=dict(mail_parameters),
                    tags=_tags(options.stage),
                )
                if shared_exists
                else planned_from_template(
                    stacks.mail,
                    mail_template,
                    f"planned from the template: {stacks.shared} does not exist yet",
                )
            )
        routing_exists = shared_exists and self.stacks.status(stacks.routing) is not None
        queue_urls = self._queue_urls(options.stage) if routing_exists else {}
        config = load_checked_config(options.config_path)
        for item in built:
            template = self._function_template(bucket, item)
            name = item.spec.stack_name(options.stage)
            if routing_exists:
                plan = self.stacks.plan(
                    name,
                    template_url=self._upload_template(bucket, item.spec.name, template),
                    parameters=self._function_parameters(options, config, item.spec, queue_urls),
                    tags=_tags(options.stage),
                    keep=("LogLevel", "PublicBaseUrl"),
                )
            else:
                plan = planned_from_template(
                    name,
                    template,
                    f"planned from the template: {stacks.shared} and {stacks.routing} do not "
                    "exist yet, so CloudFormation cannot resolve this stack's imports until they do",
                )
            result.plans.append(plan)
        show_all(self.stacks, result.plans)
        for plan in result.plans:
            self.stacks.discard(plan)
        self.out("dry run: nothing was changed")

    def _artifacts_bucket(self, stage: str) -> str:
        account = self.session.client("sts").get_caller_identity()["Account"]
        name = artifacts_bucket_name(stage, account, self.region)
        s3 = self.session.client("s3")
        try:
            s3.head_bucket(Bucket=name)
            return name
        except s3.exceptions.ClientError:
            pass
        request: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**request)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.out(f"created the artifacts bucket {name}")
        return name

    def _upload(self, bucket: str, key: str, body: bytes) -> str:
        self.session.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{key}"

    def _function_template(self, bucket: str, item: package.PackagedFunction) -> dict[str, Any]:
        code = item.zip_path.read_bytes()
        key = f"{item.spec.name}/{hashlib.sha256(code).hexdigest()}.zip"
        self._upload(bucket, key, code)
        return sam.translate(item.template(), code_bucket=bucket, code_key=key, region=self.region)

    def _upload_template(self, bucket: str, name: str, template: dict[str, Any]) -> str:
        body = json.dumps(template, indent=1).encode("utf-8")
        key = f"{name}/{hashlib.sha256(body).hexdigest()}.template.json"
        return self._upload(bucket, key, body)

    def endpoints(self, stage: str, specs: Sequence[FunctionSpec]) -> list[tuple[str, str]]:
        found = []
        for spec in specs:
            if not spec.endpoints:
                continue
            outputs = self.stacks.outputs(spec.stack_name(stage))
            for endpoint in spec.endpoints:
                base = outputs.get(endpoint.output)
                if base:
                    url = base if not endpoint.path else base.rstrip("/") + "/" + endpoint.path
                    found.append((endpoint.label, url))
        return found

    # -- destroy ---------------------------------------------------------------------------

    def destroy(self, stage: str, *, only: Sequence[str] = (), shared: bool = False) -> list[str]:
        check_stage(stage)
        chosen = [functions.spec(name) for name in only] if only else list(functions.FUNCTIONS)
        removed = []
        # reverse table order: a stack that imports another's exports goes first
        for spec in reversed(chosen):
            name = spec.stack_name(stage)
            self.out(f"removing {name}")
            if self.stacks.remove(name):
                removed.append(name)
            else:
                self.out(f"  {name} does not exist")
        if shared:
            stacks = _StageStacks(stage)
            # the mail receiving stack imports the shared exports: it goes first
            if self.stacks.status(stacks.mail) is not None:
                self._deactivate_rule_set(stage)
                self.out(f"removing {stacks.mail}")
                self.stacks.remove(stacks.mail)
                removed.append(stacks.mail)
            if self.stacks.status(stacks.routing) is not None:
                self.out(f"removing {stacks.routing} (the teams' queues)")
                self.stacks.remove(stacks.routing)
                removed.append(stacks.routing)
            name = stacks.shared
            self.out(f"removing {name} (the ticket table and the mail bucket are kept)")
            if self.stacks.remove(name):
                removed.append(name)
        return removed

    def _deactivate_rule_set(self, stage: str) -> None:
        """SES will not delete the active receipt rule set: when Helpline's is the active
        one, it is deactivated first (no set is then active; another set of yours was
        never touched)."""
        ses = self.session.client("ses")
        active = (ses.describe_active_receipt_rule_set().get("Metadata") or {}).get("Name")
        if active == f"helpline-{stage}":
            self.out(f"deactivating the receipt rule set {active} (SES keeps no mail for it now)")
            ses.set_active_receipt_rule_set()


def _tags(stage: str) -> dict[str, str]:
    return {"app": "helpline", "helpline-stage": stage}


# shared stack parameters a redeploy keeps unless given again
_SHARED_KEPT = ("AlertEmail", "RawMailRetentionDays", "QueueMaxReceiveCount")


@dataclass(frozen=True)
class _StageStacks:
    stage: str

    @property
    def shared(self) -> str:
        return f"helpline-{self.stage}-shared"

    @property
    def routing(self) -> str:
        return routing.stack_name(self.stage)

    @property
    def mail(self) -> str:
        return f"helpline-{self.stage}-mail"


def function_names(template: Mapping[str, Any], stage: str) -> list[str]:
    """The Lambda function names a packaged template creates for a stage."""
    names = []
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            name = resource["Properties"]["FunctionName"]
            text = name["Fn::Sub"] if isinstance(name, dict) else str(name)
            names.append(text.replace("${Stage}", stage))
    return names


__all__ = [
    "DeployError",
    "DeployOptions",
    "DeployResult",
    "Deployer",
    "StackError",
    "check_stage",
    "load_checked_config",
    "missing_secrets",
    "stage_config_path",
]
