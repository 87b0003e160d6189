"""The SAM transform, run here: a function template becomes plain CloudFormation.

Chalice writes AWS::Serverless::* resources. Translating them locally (with
aws-sam-translator, the library behind CloudFormation's own AWS::Serverless
transform) means the change set shows the resources that will really exist (the
Lambda functions, permissions, event source mappings, subscriptions), needs no
CAPABILITY_AUTO_EXPAND, and runs unchanged against moto, which has no transforms.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any


class TransformError(RuntimeError):
    pass


def translate(
    template: Mapping[str, Any],
    *,
    code_bucket: str,
    code_key: str,
    region: str,
    parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`template` with its SAM resources expanded; every function's code at s3://bucket/key."""
    try:
        from samtranslator.model.exceptions import InvalidDocumentException
        from samtranslator.parser.parser import Parser
        from samtranslator.translator.translator import Translator
    except ImportError as exc:
        raise TransformError(
            "the SAM transform needs aws-sam-translator: pip install aws-sam-translator"
        ) from exc
    document = copy.deepcopy(dict(template))
    for resource in document.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = {"Bucket": code_bucket, "Key": code_key}
    # the translator reads the region for its ARNs from the environment, like boto3
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region
    try:
        translator = Translator(managed_policy_map={}, sam_parser=Parser())
        return dict(
            translator.translate(sam_template=document, parameter_values=dict(parameters or {}))
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(str(cause) for cause in exc.causes)
        raise TransformError(f"the SAM transform refused the template: {causes}") from exc
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous
