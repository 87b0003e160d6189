"""What moto's CloudFormation lacks that a deploy through change sets needs.

moto builds a stack's outputs and registers its exports only in CreateStack and
UpdateStack; a stack created or updated by executing a change set (how `helpline
deploy` works, as CloudFormation intends) keeps the outputs of its empty start and
never publishes its exports; and a stack that a CREATE change set starts is given no
view of the other stacks' exports, so its Fn::ImportValue fails. These patches, for
the in-process moto server of these tests only, do what CreateStack and UpdateStack
do: hand the new stack the exports, and rebuild outputs and exports after execution.

moto's AWS::ApiGateway::RestApi ignores `Body` (Chalice's Swagger 2.0 definition), so
the API has no methods and its deployment fails; the third patch builds the
definition's resources, methods and integrations through moto's own API calls.
"""

from __future__ import annotations

from typing import Any

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set
    original_create = CloudFormationBackend.create_change_set

    def create_change_set(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_create(self, *args, **kwargs)
        for stack in self.stacks.values():
            if stack.status == "REVIEW_IN_PROGRESS":
                stack.cross_stack_resources = self.exports
                stack.resource_map.cross_stack_resources = self.exports
        return result

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
        )
        original(self, change_set_name, stack_name)
        if change_set is None:
            return
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        for export in stack.exports:
            self.exports[export.name] = export

    _install_rest_api_body()
    CloudFormationBackend.create_change_set = create_change_set  # type: ignore[method-assign]
    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]
    _installed = True


def _install_rest_api_body() -> None:
    from moto.apigateway.models import RestAPI, apigateway_backends

    original = RestAPI.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        api = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        body = cloudformation_json["Properties"].get("Body") or {}
        backend = apigateway_backends[account_id][region_name]
        for path, verbs in (body.get("paths") or {}).items():
            parent = api.default
            for part in [p for p in path.split("/") if p]:
                existing = next(
                    (
                        r
                        for r in api.resources.values()
                        if r.parent_id == parent.id and r.path_part == part
                    ),
                    None,
                )
                parent = existing or backend.create_resource(api.id, parent.id, part)
            for verb, operation in verbs.items():
                integration = operation.get("x-amazon-apigateway-integration", {})
                backend.put_method(api.id, parent.id, verb.upper(), "NONE")
                backend.put_integration(
                    api.id,
                    parent.id,
                    verb.upper(),
                    integration.get("type", "mock").upper(),
                    str(integration.get("uri", "")),
                    integration.get("httpMethod", "POST"),
                )
        return api

    RestAPI.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]
