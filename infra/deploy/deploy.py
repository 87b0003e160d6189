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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.deploy import cfn, functions, lint, package, sam
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
    alert_email: str = ""
    log_level: str = "INFO"
    # addresses or domains SES receives for (infra/ses-receiving.yaml); none: no mail stack
    mail_recipients: tuple[str, ...] = ()


@dataclass
class DeployResult:
    plans: list[Plan] = field(default_factory=list)
    endpoints: list[tuple[str, str]] = field(default_factory=list)
    packaged: list[package.PackagedFunction] = field(default_factory=list)


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
    queues = package.routing_teams()
    missing = sorted(set(config.teams) - queues)
    if missing:
        raise DeployError(
            f"{path}: team {missing[0]} has no routing queue in infra/shared.yaml "
            f"(it has: {', '.join(sorted(queues))}); add the queue pair and its RoutingQueueUrls entry"
        )
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
        absent = missing_secrets(self.session, refs)
        if absent:
            names = ", ".join(str(ref) for ref in absent)
            raise DeployError(
                f"the config references secrets that do not exist in {self.region}: {names} "
                "(create each, e.g. `aws ssm put-parameter --type SecureString --name NAME --value ...`)"
            )
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
        lint_all(
            [package.SHARED_TEMPLATE, SES_RECEIVING_TEMPLATE, *(b.template_path for b in built)]
        )
        self.out("cfn-lint: every template passes")
        for item in built:
            self.out(f"  {item.spec.name}: {package.human_size(item.zip_bytes)} zip")

        bucket = self._artifacts_bucket(options.stage)
        result = DeployResult(packaged=built)
        shared_name = f"helpline-{options.stage}-shared"
        shared_parameters = {"Stage": options.stage}
        if options.alert_email:
            shared_parameters["AlertEmail"] = options.alert_email
        shared_plan = self.stacks.plan(
            shared_name,
            template_url=self._upload_template(bucket, "shared", cfn.load(package.SHARED_TEMPLATE)),
            parameters=shared_parameters,
            tags=_tags(options.stage),
        )
        result.plans.append(shared_plan)
        shared_exists = shared_plan.change_type == "UPDATE"
        mail_name = f"helpline-{options.stage}-mail"
        mail_parameters = {"Stage": options.stage, "Recipients": ",".join(options.mail_recipients)}
        if options.dry_run:
            if options.mail_recipients:
                mail_template = cfn.load(SES_RECEIVING_TEMPLATE)
                result.plans.append(
                    self.stacks.plan(
                        mail_name,
                        template_url=self._upload_template(bucket, "mail", mail_template),
                        parameters=mail_parameters,
                        tags=_tags(options.stage),
                    )
                    if shared_exists
                    else planned_from_template(
                        mail_name,
                        mail_template,
                        f"planned from the template: {shared_name} does not exist yet",
                    )
                )
            for item in built:
                template = self._function_template(bucket, item)
                name = item.spec.stack_name(options.stage)
                if shared_exists:
                    plan = self.stacks.plan(
                        name,
                        template_url=self._upload_template(bucket, item.spec.name, template),
                        parameters=self._function_parameters(options),
                        tags=_tags(options.stage),
                    )
                else:
                    plan = planned_from_template(
                        name,
                        template,
                        f"planned from the template: {shared_name} does not exist yet, so "
                        "CloudFormation cannot resolve this stack's imports until it does",
                    )
                result.plans.append(plan)
            show_all(self.stacks, result.plans)
            for plan in result.plans:
                self.stacks.discard(plan)
            self.out("dry run: nothing was changed")
            return result

        self.stacks.show(shared_plan)
        self.stacks.apply(shared_plan)
        if options.mail_recipients:
            mail_plan = self.stacks.plan(
                mail_name,
                template_url=self._upload_template(
                    bucket, "mail", cfn.load(SES_RECEIVING_TEMPLATE)
                ),
                parameters=mail_parameters,
                tags=_tags(options.stage),
            )
            result.plans.append(mail_plan)
            self.stacks.show(mail_plan)
            self.stacks.apply(mail_plan)
        for item in built:
            template = self._function_template(bucket, item)
            plan = self.stacks.plan(
                item.spec.stack_name(options.stage),
                template_url=self._upload_template(bucket, item.spec.name, template),
                parameters=self._function_parameters(options),
                tags=_tags(options.stage),
            )
            result.plans.append(plan)
            self.stacks.show(plan)
            self.stacks.apply(plan)
        result.endpoints = self.endpoints(options.stage, specs)
        if result.endpoints:
            self.out("endpoints:")
            for label, url in result.endpoints:
                self.out(f"  {label:<18} {url}")
        return result

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

    def _function_parameters(self, options: DeployOptions) -> dict[str, str]:
        return {"Stage": options.stage, "LogLevel": options.log_level}

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
            # the mail receiving stack imports the shared exports: it goes first
            mail = f"helpline-{stage}-mail"
            if self.stacks.status(mail) is not None:
                self.out(f"removing {mail}")
                self.stacks.remove(mail)
                removed.append(mail)
            name = f"helpline-{stage}-shared"
            self.out(f"removing {name} (the ticket table and the mail bucket are kept)")
            if self.stacks.remove(name):
                removed.append(name)
        return removed


def _tags(stage: str) -> dict[str, str]:
    return {"app": "helpline", "helpline-stage": stage}


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
