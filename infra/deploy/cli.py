"""The deployment commands of `helpline`: package, deploy, destroy, config plan.

infra/cli.py calls `register(sub, parents)` from its `build_parser()`; everything the
commands do is in this package. AWS credentials and region come from the standard
configuration (environment, profile, instance role) through boto3; nothing is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_STAGE = "dev"


def _session(region: str | None) -> Any:
    import boto3

    return boto3.session.Session(region_name=region) if region else boto3.session.Session()


def _fail(command: str, message: object) -> int:
    print(f"helpline {command}: {message}", file=sys.stderr)
    return 1


def cmd_package(args: argparse.Namespace) -> int:
    from infra.deploy import deploy, functions, package

    try:
        deploy.check_stage(args.stage)
        config_path = deploy.stage_config_path(args.stage, args.config)
        deploy.load_checked_config(config_path)
        specs = functions.select(args.only)
        built = package.package_all(
            specs,
            stage=args.stage,
            config_path=config_path,
            out_dir=Path(args.out).resolve(),
            region=args.region or "us-east-1",
            progress=print,
        )
    except (
        deploy.DeployError,
        package.PackagingError,
        LookupError,
        RuntimeError,
        ValueError,
    ) as exc:
        return _fail("package", exc)
    print(f"{'FUNCTION':<14} {'ZIP':>9} {'UNPACKED':>10}  TEMPLATE")
    for item in built:
        print(
            f"{item.spec.name:<14} {package.human_size(item.zip_bytes):>9} "
            f"{package.human_size(item.unpacked_bytes()):>10}  {item.template_path}"
        )
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from infra.deploy import deploy
    from infra.deploy.stacks import StackError

    try:
        deploy.check_stage(args.stage)
        options = deploy.DeployOptions(
            stage=args.stage,
            config_path=deploy.stage_config_path(args.stage, args.config),
            out_dir=Path(args.out).resolve(),
            region=args.region,
            only=tuple(args.only or ()),
            dry_run=args.dry_run,
            alert_email=args.alert_email or "",
            log_level=args.log_level or "",
            mail_recipients=tuple(args.receive_mail_for or ()),
            public_url=args.public_url or "",
            check_only=args.check,
        )
        deploy.Deployer(_session(args.region)).deploy(options)
    except (deploy.DeployError, StackError) as exc:
        return _fail("deploy", exc)
    except Exception as exc:  # credentials, network: say what, without a traceback
        if type(exc).__module__.startswith("botocore"):
            return _fail("deploy", f"{type(exc).__name__}: {exc}")
        raise
    return 0


def cmd_destroy(args: argparse.Namespace) -> int:
    from infra.deploy import deploy
    from infra.deploy.stacks import StackError

    if not args.yes:
        what = "the function stacks" + (" and the shared stack" if args.shared else "")
        if not sys.stdin.isatty():
            return _fail(
                "destroy", f"this removes {what} of stage {args.stage}; pass --yes to confirm"
            )
        answer = input(f"Remove {what} of stage {args.stage}? Type the stage name to confirm: ")
        if answer.strip() != args.stage:
            return _fail("destroy", "not confirmed; nothing was removed")
    try:
        removed = deploy.Deployer(_session(args.region)).destroy(
            args.stage, only=args.only or (), shared=args.shared
        )
    except (deploy.DeployError, StackError, LookupError) as exc:
        return _fail("destroy", exc)
    print(f"removed {len(removed)} stack(s)" + (": " + ", ".join(removed) if removed else ""))
    if args.shared:
        print(
            f"kept (DeletionPolicy Retain): the table helpline-{args.stage}-tickets and the "
            f"mail bucket helpline-{args.stage}-mail-*, with their data; the next "
            f"`helpline deploy --stage {args.stage}` takes them back; delete them by hand to "
            "erase the data"
        )
    return 0


def cmd_config_plan(args: argparse.Namespace) -> int:
    from infra.deploy import deploy, functions
    from infra.deploy.plan import print_plan

    try:
        deploy.check_stage(args.stage)
        config = deploy.load_checked_config(Path(args.file))
        specs = [functions.spec(name) for name in args.only] if args.only else None
    except (deploy.DeployError, LookupError) as exc:
        return _fail("config plan", exc)
    if getattr(args, "json", False):
        from infra.deploy.plan import plan_data

        print(json.dumps(plan_data(config, stage=args.stage, specs=specs), indent=2))
        return 0
    print(f"{args.file}: valid; stage {args.stage}\n")
    print_plan(config, stage=args.stage, specs=specs)
    return 0


def _find_config_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser | None:
    choices: Mapping[str, argparse.ArgumentParser] = sub.choices
    return choices.get("config")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: Mapping[str, argparse.ArgumentParser] | None = None,
) -> None:
    """Add package, deploy, destroy and `config plan` to the `helpline` parser.

    `sub` is infra/cli.py's subparsers; `config plan` joins its existing `config`
    command. `parents` are its shared option parsers ("state", "json"): these commands
    talk to AWS, not to the local stack, so only "json" is used (by `config plan`)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stage", default=DEFAULT_STAGE, help="stage name (default dev)")
    common.add_argument("--region", help="AWS region (default: the standard AWS configuration)")
    common.add_argument(
        "--only", action="append", metavar="FUNCTION", help="just this function (repeatable)"
    )
    build = argparse.ArgumentParser(add_help=False)
    build.add_argument(
        "--config", help="the stage's config file (default infra/config/<stage>.yaml)"
    )
    build.add_argument(
        "--out", default="dist/deploy", help="where packages go (default dist/deploy)"
    )

    package = sub.add_parser(
        "package", parents=[common, build], help="build each function's zip and template, offline"
    )
    package.set_defaults(func=cmd_package)

    deploy = sub.add_parser(
        "deploy",
        parents=[common, build],
        help="check, package, upload and deploy the shared and function stacks by change sets",
    )
    deploy.add_argument("--dry-run", action="store_true", help="show the change sets and stop")
    deploy.add_argument(
        "--check",
        action="store_true",
        help="check the account (secrets, concurrency quota, SES) and stop: nothing is uploaded",
    )
    deploy.add_argument(
        "--alert-email",
        help="subscribe this address to the alarm topic (kept on later deploys without it)",
    )
    deploy.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="the functions' log level (default: as deployed before, INFO for a new stage)",
    )
    deploy.add_argument(
        "--public-url",
        metavar="URL",
        help="the REST APIs' public address, a custom domain such as https://help.example.com "
        "(default: each API's own execute-api URL)",
    )
    deploy.add_argument(
        "--receive-mail-for",
        action="append",
        metavar="ADDRESS",
        help="deploy the SES receipt rule for this address or domain (repeatable)",
    )
    deploy.set_defaults(func=cmd_deploy)

    destroy = sub.add_parser(
        "destroy",
        parents=[common],
        help="remove function stacks (and with --shared the shared one)",
    )
    destroy.add_argument(
        "--shared",
        action="store_true",
        help="also remove the shared and mail stacks (the table and bucket are kept)",
    )
    destroy.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    destroy.set_defaults(func=cmd_destroy)

    config = _find_config_parser(sub)
    if config is not None:
        actions = [a for a in config._actions if isinstance(a, argparse._SubParsersAction)]
        if actions:
            as_json = [parents["json"]] if parents and "json" in parents else []
            plan = actions[0].add_parser(
                "plan",
                parents=as_json,
                help="what each function will use: env, secrets, resources, permissions",
            )
            plan.add_argument("file")
            plan.add_argument("--stage", default=DEFAULT_STAGE)
            plan.add_argument("--only", action="append", metavar="FUNCTION")
            plan.set_defaults(func=cmd_config_plan)
