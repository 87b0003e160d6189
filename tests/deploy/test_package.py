"""The packages: what is in each zip, what is not, and that it imports on Lambda's
runtime with nothing but the runtime's own packages."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from bench.deploy_sizes import import_once, lambda_runtime_site, unpack
from infra.deploy import package
from infra.local.resources import DEMO_CONFIG

REPO = Path(__file__).resolve().parents[2]


def _names(item):
    with zipfile.ZipFile(item.zip_path) as archive:
        return archive.namelist()


def test_each_zip_holds_the_app_core_its_package_templates_config_and_runtime_dependencies(
    packaged,
):
    for item in packaged:
        names = set(_names(item))
        top = {name.split("/")[0] for name in names}
        assert "app.py" in names
        assert "functions/core/pipeline.py" in names
        assert f"functions/{item.spec.name}/__init__.py" in names
        assert f"functions/{item.spec.name}/app.py" not in names  # the top-level app.py is it
        assert "config/helpline.yaml" in names and "config/helpline.holidays.json" in names
        assert any(n.startswith("templates/email/") and n.endswith(".j2") for n in names)
        for module in (
            "aws_lambda_powertools",
            "jinja2",
            "markupsafe",
            "langdetect",
            "holidays",
            "yaml",
            "nh3",
            "chalice",
        ):
            assert module in top, (item.spec.name, module)
        assert {"boto3", "botocore", "s3transfer"}.isdisjoint(top)


def test_no_zip_holds_tests_caches_or_dev_tools(packaged):
    for item in packaged:
        for name in _names(item):
            parts = name.split("/")
            assert "tests" not in parts[:-1] and not name.endswith(".pyi"), name
            assert parts[0] not in package.FORBIDDEN_TOP_LEVEL, name
        package.check_zip(item.zip_path)


def test_every_module_ships_with_its_bytecode_for_the_runtime(packaged, tmp_path):
    # /var/task is read-only: without bytecode every cold start compiles every module
    tag = sys.implementation.cache_tag
    for item in packaged:
        names = _names(item)
        sources = [n for n in names if n.endswith(".py")]
        compiled = {n for n in names if n.endswith(".pyc")}
        assert sources
        for source in sources:
            folder, _, module = source.rpartition("/")
            cached = f"{folder}/__pycache__/{module[:-3]}.{tag}.pyc".lstrip("/")
            assert cached in compiled, (item.spec.name, source)
        assert all(f".{tag}." in n and "/__pycache__/" in f"/{n}" for n in compiled)
    # and the interpreter uses it without reading the source: sources that would fail
    # to import change nothing
    runtime = lambda_runtime_site(tmp_path / "runtime")
    task = unpack(packaged[0].zip_path, tmp_path / "task")
    for source in [task / "app.py", *(task / "functions").rglob("*.py")]:
        source.write_text("raise ImportError('the source was compiled')\n", encoding="utf-8")
    assert import_once([str(task), str(runtime)], "app")["modules"] > 0


def test_stray_bytecode_is_refused(tmp_path):
    stray = tmp_path / "stray.zip"
    with zipfile.ZipFile(stray, "w") as archive:
        archive.writestr("app.py", "")
        archive.writestr("__pycache__/gone.cpython-311.pyc", b"")  # no gone.py beside it
    with pytest.raises(package.PackagingError, match="gone"):
        package.check_zip(stray)


def test_the_chat_widget_ships_with_chat(by_name):
    assert "functions/chat_ws/widget/helpline-chat.js" in _names(by_name["chat_ws"])


def test_vendor_is_cleaned_up_and_git_ignores_it(packaged):
    for item in packaged:
        assert not (item.spec.app_dir / "vendor").exists()
        # nor does Chalice's copy of each zip pile up in the working tree
        assert not list((item.spec.app_dir / ".chalice" / "deployments").glob("*.zip"))
    assert "vendor/" in (REPO / ".gitignore").read_text(encoding="utf-8").split()


def test_each_packaged_app_imports_with_only_the_lambda_runtimes_packages(packaged, tmp_path):
    runtime = lambda_runtime_site(tmp_path / "runtime")
    for item in packaged:
        task = unpack(item.zip_path, tmp_path / item.spec.name)
        result = import_once([str(task), str(runtime)], "app")
        assert result["modules"] > 0
        # the shipped config is the one the function is told to read
        from functions.core.config import load_config

        assert load_config(task / "config" / "helpline.yaml").brand.name == "Helpline Demo"


def test_a_zip_with_boto3_or_tests_is_refused(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("app.py", "")
        archive.writestr("boto3/__init__.py", "")
    try:
        package.check_zip(bad)
    except package.PackagingError as exc:
        assert "boto3/__init__.py" in str(exc)
    else:
        raise AssertionError("a zip with boto3 was accepted")


def test_the_routing_queues_are_the_configs_teams():
    from functions.core.config import load_config
    from infra.deploy.functions import spec

    context = package.assembly_context(load_config(DEMO_CONFIG), spec("email_ingest"))
    assert context.routing_queue_names == tuple(
        f"helpline-${{Stage}}-route-{t}" for t in ("arabic", "english", "russian", "spanish")
    )
    assert context.escalation_queue_name == "helpline-${Stage}-escalation"


def test_helpline_package_writes_a_template_and_zip_per_function_and_reports_sizes(
    tmp_path, capsys
):
    from infra.cli import main
    from infra.local.resources import DEMO_CONFIG

    code = main(
        [
            "package",
            "--stage",
            "test",
            "--config",
            str(DEMO_CONFIG),
            "--out",
            str(tmp_path),
            "--only",
            "email_ingest",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "email_ingest" / "template.yaml").is_file()
    assert (tmp_path / "email_ingest" / "email_ingest.zip").is_file()
    [row] = [line for line in out.splitlines() if line.startswith("email_ingest ")]
    assert " MB " in row and str(tmp_path / "email_ingest" / "template.yaml") in row


def test_an_app_without_an_entry_in_the_function_table_cannot_be_deployed(tmp_path):
    import pytest

    from infra.deploy import functions

    (tmp_path / "email_ingest").mkdir()
    (tmp_path / "email_ingest" / "app.py").write_text("", encoding="utf-8")
    (tmp_path / "faxes").mkdir()
    (tmp_path / "faxes" / "app.py").write_text("", encoding="utf-8")
    with pytest.raises(
        functions.UndeclaredFunctionError, match=r"functions/faxes/app\.py has no entry"
    ):
        functions.discover(tmp_path)
    (tmp_path / "faxes" / "app.py").unlink()
    assert [f.name for f in functions.discover(tmp_path)] == ["email_ingest"]
