"""`helpline package`: one Chalice deployment (zip + template) per function, offline.

Chalice ships only `app.py`, `chalicelib/`, `vendor/` and pip requirements, and does
not follow symlinks. So for each function this copies into the `vendor/` of a copy of
its project: `functions/__init__.py`, `functions/core/`, the function's own package,
`templates/` and the runtime dependencies, taken from this environment's installed
distributions rather than pip-installed, so packaging needs no network. boto3 and
botocore come from the Lambda runtime and are never vendored; neither are tests, caches
or dev tools.

Then `chalice package --merge-template infra/functions/<name>.yaml` runs (in its own
process, see chalice_run.py) and the zip gets its bytecode: Lambda's /var/task is
read-only, so a package without .pyc files compiles every module on every cold start.
Chalice deploys for the Python that runs it, so the bytecode is compiled by this
interpreter, for that runtime, with unchecked hashes (a zip's timestamps say nothing);
a copy of our sources is kept next to it for tracebacks.

That code build depends only on the sources, so it is kept in a cache keyed by their
hash (`.helpline/build-cache/`): `helpline dev` and the tests rebuild a function only
when something that goes into its zip changed. Last, the stage's config file (with its
precomputed holiday table) is added to a copy of the zip as `config/helpline.yaml`,
`assemble` applies the rules every function follows to Chalice's template, and
DIR/<name>/ receives `template.yaml` and `<name>.zip`.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from infra.deploy import cfn
from infra.deploy.assemble import AssemblyContext, assemble
from infra.deploy.functions import REPO_ROOT, FunctionSpec

SHARED_TEMPLATE = REPO_ROOT / "infra" / "shared.yaml"
TEMPLATES_DIR = REPO_ROOT / "templates"
DEFAULT_OUT = REPO_ROOT / "dist" / "deploy"

# what the functions import at run time, besides the standard library and boto3
RUNTIME_DISTRIBUTIONS = (
    "aws-lambda-powertools",
    "jinja2",
    "langdetect",
    "holidays",
    "PyYAML",
    "nh3",
)
# shipped when installed: the IANA time zones, for runtimes without /usr/share/zoneinfo
OPTIONAL_DISTRIBUTIONS = ("tzdata",)
# the Lambda Python runtime provides these; vendoring them would only add megabytes
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# never in a package: caches, tests, type stubs, dev tooling
_EXCLUDED_PARTS = frozenset({"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache"})
_EXCLUDED_NAMES = ("*.pyc", "*.pyo", "*.pyi", "py.typed", ".DS_Store")
# top-level names a package must not contain (checked on the built zip)
FORBIDDEN_TOP_LEVEL = frozenset(
    {
        "boto3",
        "botocore",
        "s3transfer",
        "pytest",
        "_pytest",
        "moto",
        "cfnlint",
        "mypy",
        "ruff",
        "samtranslator",
        "tests",
        "infra",
        "bench",
    }
)


class PackagingError(RuntimeError):
    pass


@dataclass(frozen=True)
class PackagedFunction:
    spec: FunctionSpec
    directory: Path
    template_path: Path
    zip_path: Path

    @property
    def zip_bytes(self) -> int:
        return self.zip_path.stat().st_size

    def unpacked_bytes(self) -> int:
        with zipfile.ZipFile(self.zip_path) as archive:
            return sum(info.file_size for info in archive.infolist())

    def template(self) -> dict[str, Any]:
        return cfn.load(self.template_path)


# -- what the shared stack and the config give every template ----------------------------


def escalation_queue_name(template: dict[str, Any] | None = None) -> str:
    """The escalation queue's name template, from infra/shared.yaml."""
    template = template or cfn.load(SHARED_TEMPLATE)
    return str(template["Resources"]["EscalationQueue"]["Properties"]["QueueName"]["Fn::Sub"])


def function_secret_refs(config: Any, spec: FunctionSpec) -> tuple[Any, ...]:
    """The secret references in the config sections this function reads."""
    from infra.local.resources import secret_refs

    found: list[Any] = []
    for section in spec.secret_sections:
        value = getattr(config, section, None)
        if value is None:
            continue
        for ref in secret_refs(value):
            if ref not in found:
                found.append(ref)
    return tuple(found)


def lambda_architecture() -> str:
    """Compiled dependencies (nh3, PyYAML's libyaml) are this machine's wheels."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86_64"
    if machine in ("aarch64", "arm64"):
        return "arm64"
    raise PackagingError(f"cannot build Lambda packages on a {machine} machine")


def assembly_context(config: Any, spec: FunctionSpec) -> AssemblyContext:
    """What a function's template is made of besides its app: the config's teams (their
    queues are in the routing stack), its secrets, the sender's domain."""
    from infra.deploy import routing

    return AssemblyContext(
        architecture=lambda_architecture(),
        sender_domain=config.brand.support_address.split("@", 1)[1],
        secret_refs=function_secret_refs(config, spec),
        routing_queue_names=routing.queue_names(sorted(config.teams)),
        escalation_queue_name=escalation_queue_name(),
    )


# -- vendor/ -------------------------------------------------------------------------------


def _ignored(directory: str, names: list[str]) -> set[str]:
    return {
        name
        for name in names
        if name in _EXCLUDED_PARTS or any(fnmatch.fnmatch(name, p) for p in _EXCLUDED_NAMES)
    }


def _copy_tree(source: Path, target: Path, *, skip: Sequence[str] = ()) -> None:
    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = _ignored(directory, names)
        if Path(directory) == source:
            ignored |= {name for name in names if name in skip}
        return ignored

    shutil.copytree(source, target, ignore=ignore)


def runtime_closure(roots: Sequence[str] = RUNTIME_DISTRIBUTIONS) -> list[metadata.Distribution]:
    """The installed distributions the runtime needs: roots and their requirements,
    without extras and without what the Lambda runtime provides."""
    from packaging.requirements import Requirement

    found: dict[str, metadata.Distribution] = {}
    pending = [*roots, *(name for name in OPTIONAL_DISTRIBUTIONS if _installed(name))]
    while pending:
        name = pending.pop()
        key = _canonical(name)
        if key in found or key in RUNTIME_PROVIDED:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise PackagingError(
                f"the runtime dependency {name} is not installed in this environment "
                "(packaging copies it from here: run `make venv`)"
            ) from exc
        found[key] = distribution
        for line in distribution.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not marker.evaluate({"extra": ""}):
                continue
            pending.append(requirement.name)
    return sorted(found.values(), key=lambda d: _canonical(d.metadata["Name"]))


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _copy_distribution(distribution: metadata.Distribution, vendor: Path) -> None:
    for entry in distribution.files or []:
        parts = Path(str(entry)).parts
        if not parts or parts[0] == ".." or _EXCLUDED_PARTS.intersection(parts):
            continue  # scripts in bin/, caches, the package's own tests
        if any(fnmatch.fnmatch(parts[-1], p) for p in _EXCLUDED_NAMES):
            continue
        source = Path(str(distribution.locate_file(entry)))
        if not source.is_file():
            continue
        target = vendor.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def project_copy(spec: FunctionSpec, root: Path) -> Path:
    """The function's Chalice project (app.py, .chalice/config.json) with a filled
    vendor/, in `root`: the working tree is never written, so packagings of one
    function in several processes at once cannot collide."""
    project = root / spec.name
    (project / ".chalice").mkdir(parents=True)
    shutil.copy2(spec.app_dir / "app.py", project / "app.py")
    shutil.copy2(spec.app_dir / ".chalice" / "config.json", project / ".chalice" / "config.json")
    vendor = project / "vendor"
    package_root = vendor / "functions"
    package_root.mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "functions" / "__init__.py", package_root / "__init__.py")
    _copy_tree(REPO_ROOT / "functions" / "core", package_root / "core")
    # the app's own package; its app.py is the package's top-level app.py already
    _copy_tree(spec.app_dir, package_root / spec.name, skip=("vendor", ".chalice", "app.py"))
    _copy_tree(TEMPLATES_DIR, vendor / "templates")
    for distribution in runtime_closure():
        _copy_distribution(distribution, vendor)
    return project


def config_files(config_path: Path) -> list[tuple[str, Path]]:
    """(name in the zip, file) of the stage's config and its precomputed holiday table."""
    files = [("config/helpline.yaml", config_path)]
    holidays = config_path.with_name(config_path.stem + ".holidays.json")
    if holidays.is_file():
        files.append(("config/helpline.holidays.json", holidays))
    return files


def with_config(code_zip: Path, target: Path, config_path: Path) -> None:
    """`target`: the code zip with the stage's config added (what Lambda unpacks)."""
    shutil.copyfile(code_zip, target)
    with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as archive:
        for name, source in config_files(config_path):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, source.read_bytes())


# -- the code build and its cache ---------------------------------------------------------

CACHE_DIR = REPO_ROOT / ".helpline" / "build-cache"
KEEP_BUILDS = 3  # per function: an older checkout's build is often wanted again soon
# the packaging code itself: a change to how zips are made must make new zips
_BUILD_SOURCES = ("infra/deploy/package.py", "infra/deploy/chalice_run.py")


@dataclass(frozen=True)
class CodeBuild:
    """A function's zip without its config, and the template Chalice wrote for it."""

    spec: FunctionSpec
    zip_path: Path
    chalice_template: Path


def _tree_files(root: Path, *, skip: Sequence[str] = ()) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if not path.is_file() or (relative[:1] and relative[0] in skip):
            continue
        if _EXCLUDED_PARTS.intersection(relative) or any(
            fnmatch.fnmatch(path.name, p) for p in _EXCLUDED_NAMES
        ):
            continue
        found.append(path)
    return found


def code_key(spec: FunctionSpec, stage: str, region: str) -> str:
    """The hash of everything that goes into a function's code zip and Chalice template."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                "python": sys.version,
                "machine": platform.machine(),
                "stage": stage,
                "region": region,
                "features": list(spec.experimental_features),
                "distributions": [f"{d.metadata['Name']}=={d.version}" for d in runtime_closure()]
                + [f"chalice=={metadata.version('chalice')}"],
            },
            sort_keys=True,
        ).encode()
    )
    files = [
        REPO_ROOT / "functions" / "__init__.py",
        *_tree_files(REPO_ROOT / "functions" / "core"),
        *_tree_files(spec.app_dir, skip=("vendor",)),
        *_tree_files(TEMPLATES_DIR),
        spec.merge_template,
        *(REPO_ROOT / name for name in _BUILD_SOURCES),
    ]
    for path in files:
        if path.parent.name == "deployments":  # Chalice's own leftovers
            continue
        digest.update(str(path.relative_to(REPO_ROOT)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_code(
    spec: FunctionSpec, *, stage: str, region: str, cache_dir: Path | None = CACHE_DIR
) -> CodeBuild:
    """The function's code zip (bytecode in, config not yet) and Chalice's template,
    from the cache when nothing that goes into them changed."""
    if not spec.merge_template.is_file():
        raise PackagingError(f"{spec.name}: no merge template at {spec.merge_template}")
    if (spec.app_dir / "requirements.txt").exists():
        # Chalice would pip-install it, from the network: dependencies come from here
        raise PackagingError(
            f"functions/{spec.name}/requirements.txt exists; packaging copies the runtime "
            "dependencies from this environment instead: add the distribution to "
            "RUNTIME_DISTRIBUTIONS in infra/deploy/package.py and remove the file"
        )
    if cache_dir is None:
        target = Path(tempfile.mkdtemp(prefix=f"helpline-{spec.name}-"))
        return _build_code(spec, stage=stage, region=region, target=target)
    key = code_key(spec, stage, region)
    target = cache_dir / f"{spec.name}-{key}"
    with _lock(cache_dir / f".{spec.name}-{key}.lock"):
        if not (target / "done").is_file():
            if target.exists():
                shutil.rmtree(target)
            _build_code(spec, stage=stage, region=region, target=target)
            (target / "done").write_text(key, encoding="utf-8")
    _prune(cache_dir, spec.name)
    return _cached(spec, target)


def _cached(spec: FunctionSpec, target: Path) -> CodeBuild:
    template = next(target.glob("sam.*"))
    return CodeBuild(spec, target / "code.zip", template)


def _build_code(spec: FunctionSpec, *, stage: str, region: str, target: Path) -> CodeBuild:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="helpline-chalice-") as tmp:
        project = project_copy(spec, Path(tmp) / "projects")
        built = Path(tmp) / "out"
        _run_chalice(spec, project, stage, built, region)
        # Chalice writes sam.yaml when the merge template is YAML, sam.json otherwise
        written = next(built.glob("sam.*"), None)
        if written is None:
            raise PackagingError(f"{spec.name}: chalice package wrote no template")
        shutil.move(written, target / written.name)
        shutil.move(built / "deployment.zip", target / "code.zip")
    add_bytecode(target / "code.zip")
    check_zip(target / "code.zip")
    return _cached(spec, target)


def _prune(cache_dir: Path, name: str) -> None:
    """Keep the newest builds of a function; older ones only take disk."""
    builds = sorted(
        (p for p in cache_dir.glob(f"{name}-*") if (p / "done").is_file()),
        key=lambda p: (p / "done").stat().st_mtime,
        reverse=True,
    )
    for old in builds[KEEP_BUILDS:]:
        shutil.rmtree(old, ignore_errors=True)


# -- chalice package and assembly ------------------------------------------------------------


def _run_chalice(spec: FunctionSpec, project: Path, stage: str, out: Path, region: str) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HELPLINE_", "AWS_ENDPOINT_URL"))
    }
    env["AWS_DEFAULT_REGION"] = region
    # the app reads its topic's name at import; the merge template imports the real ARN
    env["HELPLINE_INBOUND_TOPIC"] = f"helpline-{stage}-inbound-mail"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "infra.deploy.chalice_run", str(project), str(out)]
    command += ["--stage", stage, "--merge-template", str(spec.merge_template)]
    for feature in spec.experimental_features:
        command += ["--feature", feature]
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise PackagingError(f"{spec.name}: {detail[-1] if detail else 'chalice package failed'}")


PYC_MODE = ("--invalidation-mode", "unchecked-hash")  # a zip's timestamps say nothing
LAMBDA_TASK_ROOT = "/var/task"
BYTECODE_TAG = sys.implementation.cache_tag  # cpython-311: the runtime chalice targets


def add_bytecode(path: Path) -> int:
    """Rewrite the zip with each module's bytecode for the runtime; the count added."""
    with tempfile.TemporaryDirectory(prefix="helpline-pyc-") as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(path) as archive:
            archive.extractall(root)
            modes = {info.filename: info.external_attr for info in archive.infolist()}
        # in a process of its own with a fixed hash seed: set and frozenset constants are
        # marshalled in hash order, and the same sources must give the same zip (or every
        # deploy would update every function)
        result = subprocess.run(
            [
                *(sys.executable, "-m", "compileall", "-q", "-j", "1", *PYC_MODE),
                # file names as Lambda unpacks them, not this build's temporary folder
                *("-s", str(root), "-p", LAMBDA_TASK_ROOT, str(root)),
            ],
            env={**os.environ, "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            problem = (result.stdout or result.stderr).strip().splitlines()[-1:]
            raise PackagingError(f"{path.name}: a module did not compile: {problem}")
        written = path.with_suffix(".tmp")
        count = 0
        with zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(p for p in root.rglob("*") if p.is_file()):
                name = file.relative_to(root).as_posix()
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = modes.get(name, 0o644 << 16)
                archive.writestr(info, file.read_bytes())
                count += name.endswith(".pyc")
        written.replace(path)
    return count


def _is_our_bytecode(parts: Sequence[str]) -> bool:
    return (
        len(parts) >= 2
        and parts[-2] == "__pycache__"
        and parts[-1].endswith(f".{BYTECODE_TAG}.pyc")
        and not _EXCLUDED_PARTS.difference({"__pycache__"}).intersection(parts)
    )


def check_zip(path: Path) -> None:
    """A package holds no tests, caches, dev tools or the runtime's own boto3; its only
    bytecode is the runtime's, next to its source."""
    offenders = []
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        for name in names:
            parts = name.split("/")
            forbidden = (
                parts[0] in FORBIDDEN_TOP_LEVEL or parts[0].split("-")[0] in FORBIDDEN_TOP_LEVEL
            )
            if _is_our_bytecode(parts):
                source = "/".join([*parts[:-2], parts[-1].split(".")[0] + ".py"])
                cached = source not in names
            else:
                cached = bool(_EXCLUDED_PARTS.intersection(parts[:-1])) or name.endswith(
                    (".pyc", ".pyo")
                )
            if forbidden or cached:
                offenders.append(name)
    if offenders:
        shown = ", ".join(offenders[:5])
        raise PackagingError(f"{path.name} holds what a package must not: {shown}")


def package_function(
    spec: FunctionSpec,
    *,
    stage: str,
    config_path: Path,
    out_dir: Path,
    region: str,
    config: Any,
    cache_dir: Path | None = CACHE_DIR,
) -> PackagedFunction:
    code = build_code(spec, stage=stage, region=region, cache_dir=cache_dir)
    target = out_dir / spec.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    zip_path = target / f"{spec.name}.zip"
    with_config(code.zip_path, zip_path, config_path)
    template = assemble(
        cfn.load(code.chalice_template),
        spec,
        assembly_context(config, spec),
        merge_template=cfn.load(spec.merge_template),
        code_uri=f"./{zip_path.name}",
    )
    template_path = target / "template.yaml"
    cfn.dump(template, template_path)
    return PackagedFunction(spec, target, template_path, zip_path)


def package_all(
    specs: Sequence[FunctionSpec],
    *,
    stage: str,
    config_path: Path,
    out_dir: Path,
    region: str = "us-east-1",
    progress: Any = None,
    cache_dir: Path | None = CACHE_DIR,
) -> list[PackagedFunction]:
    from functions.core.config import load_config

    config = load_config(config_path)
    if progress:
        progress(f"packaging {', '.join(spec.name for spec in specs)}")

    def one(spec: FunctionSpec) -> PackagedFunction:
        return package_function(
            spec,
            stage=stage,
            config_path=config_path,
            out_dir=out_dir,
            region=region,
            config=config,
            cache_dir=cache_dir,
        )

    # each build is two subprocesses (chalice package, compileall): one per core
    with ThreadPoolExecutor(max_workers=max(1, min(len(specs), os.cpu_count() or 1))) as pool:
        return list(pool.map(one, specs))


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"
