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

Three rules of CloudFormation that a deploy must live with, and moto does not enforce
or offer, are added the way CloudFormation behaves: an export another stack imports
cannot change or disappear (the update fails and rolls back, naming both); an IMPORT
change set takes existing resources into a stack instead of creating them; and an
AWS::SES::ReceiptRuleSet is a real rule set, which SES refuses to delete while it is
the active one (the stack's deletion fails).
"""

from __future__ import annotations

from typing import Any

_installed = False
_KEPT: list[Any] = []


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
        if change_set is not None and change_set.change_set_type == "IMPORT":
            _execute_import(self, original, change_set, change_set_name, stack_name)
        else:
            before = (
                {e.name: e.value for e in self.stacks[change_set.stack_id].exports}
                if (change_set is not None)
                else {}
            )
            original(self, change_set_name, stack_name)
            if change_set is not None:
                _check_imported_exports(self, self.stacks[change_set.stack_id], before)
        if change_set is None:
            return
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.output_map = stack._create_output_map()
        for export in stack.exports:
            self.exports[export.name] = export

    _install_rest_api_body()
    _install_receipt_rule_sets()
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


def _imports_of(stack: Any) -> set[str]:
    """The export names a stack's template imports (Fn::Sub resolved with its parameters)."""
    names: set[str] = set()
    parameters = {**stack.stack_parameters}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "Fn::ImportValue" in value:
                target = value["Fn::ImportValue"]
                text = target.get("Fn::Sub") if isinstance(target, dict) else target
                if isinstance(text, str):
                    for key, replacement in parameters.items():
                        text = text.replace("${" + key + "}", str(replacement))
                    names.add(text)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(getattr(stack, "template_dict", {}) or {})
    return names


def _check_imported_exports(backend: Any, stack: Any, before: dict[str, str]) -> None:
    """CloudFormation: "Export X cannot be updated as it is in use by Y"."""
    stack._parse_template()
    stack.output_map = stack._create_output_map()
    after = {e.name: e.value for e in stack.exports}
    changed = [name for name, value in before.items() if after.get(name) != value]
    for name in changed:
        users = [
            other.name
            for other in backend.stacks.values()
            if other is not stack
            and other.status not in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS")
            and name in _imports_of(other)
        ]
        if users:
            reason = (
                f"Export {name} cannot be updated as it is in use by {', '.join(sorted(users))}"
            )
            from moto.cloudformation.models import Event

            stack.status = "UPDATE_ROLLBACK_COMPLETE"
            stack.events.append(
                Event(
                    stack_id=stack.stack_id,
                    stack_name=stack.name,
                    logical_resource_id=name,
                    physical_resource_id=name,
                    resource_type="AWS::CloudFormation::Export",
                    resource_status="UPDATE_FAILED",
                    resource_status_reason=reason,
                    resource_properties=None,
                )
            )
            stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            return


def _execute_import(
    backend: Any, original: Any, change_set: Any, change_set_name: str, stack_name: str | None
) -> None:
    """An IMPORT change set: its resources exist already and are taken as they are."""
    from moto.cloudformation import parsing
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends

    wanted = {
        entry["LogicalResourceId"]: entry["ResourceIdentifier"]
        for entry in getattr(change_set, "resources_to_import", [])
    }
    account, region = backend.account_id, backend.region_name

    def existing(logical_id: str) -> Any:
        identifier = wanted[logical_id]
        if "TableName" in identifier:
            return dynamodb_backends[account][region].get_table(identifier["TableName"])
        if "BucketName" in identifier:
            return s3_backends[account]["global"].get_bucket(identifier["BucketName"])
        raise NotImplementedError(f"importing {identifier}")

    real = parsing.parse_and_create_resource

    def adopt(logical_id: str, *args: Any, **kwargs: Any) -> Any:
        if logical_id in wanted:
            return existing(logical_id)
        return real(logical_id, *args, **kwargs)

    parsing.parse_and_create_resource = adopt  # type: ignore[assignment]
    change_set.change_set_type = "CREATE"
    try:
        original(backend, change_set_name, stack_name)
    finally:
        parsing.parse_and_create_resource = real  # type: ignore[assignment]
        change_set.change_set_type = "IMPORT"
    backend.stacks[change_set.stack_id].status = "IMPORT_COMPLETE"


def _install_receipt_rule_sets() -> None:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.common_models import CloudFormationModel
    from moto.ses.models import ses_backends

    original_response = CloudFormationResponse.create_change_set

    def create_change_set(self: Any) -> Any:
        """Keep ResourcesToImport on the change set (moto's response drops it)."""
        imports = self._get_param("ResourcesToImport", [])
        result = original_response(self)
        if imports:
            name = self._get_param("ChangeSetName")
            backend = self.cloudformation_backend
            for change_set in backend.change_sets.values():
                if change_set.change_set_name == name:
                    change_set.resources_to_import = imports
        return result

    CloudFormationResponse.create_change_set = create_change_set  # type: ignore[method-assign]

    class ReceiptRuleSet(CloudFormationModel):
        def __init__(self, name: str) -> None:
            self.name = name

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::SES::ReceiptRuleSet"

        @staticmethod
        def cloudformation_name_type() -> str:
            return "RuleSetName"

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> ReceiptRuleSet:
            name = cloudformation_json["Properties"].get("RuleSetName") or resource_name
            ses_backends[account_id][region_name].create_receipt_rule_set(name)
            return cls(name)

        def delete(self, account_id: str, region_name: str) -> None:
            # SES refuses to delete the active set: the stack's deletion fails on it
            ses_backends[account_id][region_name].delete_receipt_rule_set(self.name)

    from moto.cloudformation import parsing
    from moto.cloudformation.models import CloudFormationBackend, Event
    from moto.ses.exceptions import CannotDelete

    original_delete = CloudFormationBackend.delete_stack

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        """CloudFormation's DELETE_FAILED: a resource that refused (an active rule set)."""
        try:
            original_delete(self, name_or_stack_id)
        except CannotDelete as exc:
            stack = next(
                s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id)
            )
            stack.status = "DELETE_FAILED"
            stack.events.append(
                Event(
                    stack_id=stack.stack_id,
                    stack_name=stack.name,
                    logical_resource_id="ReceiptRuleSet",
                    physical_resource_id="",
                    resource_type="AWS::SES::ReceiptRuleSet",
                    resource_status="DELETE_FAILED",
                    resource_status_reason=str(exc),
                    resource_properties=None,
                )
            )

    CloudFormationBackend.delete_stack = delete_stack  # type: ignore[method-assign]
    _KEPT.append(ReceiptRuleSet)  # __subclasses__ holds weak references
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()
