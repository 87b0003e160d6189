"""Run `chalice package` for one function, in a process of its own.

`python -m infra.deploy.chalice_run PROJECT_DIR OUT_DIR --stage S --merge-template M
[--feature WEBSOCKETS]` does what `chalice package --pkg-format cloudformation
--template-format json --merge-template M` does, through Chalice's own CLI factory.
Chalice loads the app by importing a module named `app` from the project directory, so
each function is packaged in a fresh interpreter (two apps in one process would
collide). `--feature` opts the app into an experimental Chalice feature it uses, as
the function table declares (chat_ws uses WebSockets).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import MutableMapping, Sequence
from typing import Any


def package(
    project_dir: str, out_dir: str, *, stage: str, merge_template: str, features: Sequence[str]
) -> None:
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import validate

    class Factory(CLIFactory):
        def load_chalice_app(
            self,
            environment_variables: MutableMapping[str, Any] | None = None,
            validate_feature_flags: bool | None = True,
        ) -> Any:
            app = super().load_chalice_app(environment_variables, validate_feature_flags=False)
            app.experimental_feature_flags.update(features)
            if validate_feature_flags:
                validate.validate_feature_flags(app)
            return app

    factory = Factory(project_dir, debug=False)
    config = factory.create_config_obj(stage)
    validate.validate_lambda_architecture(config)
    packager = factory.create_app_packager(
        config, factory.create_package_options(), "cloudformation", "json", merge_template
    )
    packager.package_app(config, out_dir, stage)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chalice_run")
    parser.add_argument("project_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--stage", required=True)
    parser.add_argument("--merge-template", required=True)
    parser.add_argument("--feature", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        package(
            args.project_dir,
            args.out_dir,
            stage=args.stage,
            merge_template=args.merge_template,
            features=args.feature,
        )
    except Exception as exc:  # reported to the parent process, which names the function
        print(f"chalice package failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
