"""What the local stack runs: the packages `helpline package` builds, unpacked.

`build` packages every function for the stage with the stack's config (the code build
comes from the packaging cache when nothing that goes into it changed, so an unchanged
tree starts in about a second and a changed one rebuilds in parallel), translates each
template as `helpline deploy` does (`sam.translate`), and unpacks each zip where its
worker processes will find it, as Lambda unpacks it into /var/task.

`runtime_site` is the other half of a Lambda environment: the packages Lambda's Python
runtime provides besides the zip (boto3, botocore and what they need), copied from this
environment, and nothing else.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from infra.deploy import functions as function_table
from infra.deploy import package, sam
from infra.deploy.functions import FunctionSpec

# what AWS's python3.11 runtime has on its path besides the standard library
LAMBDA_RUNTIME_DISTRIBUTIONS = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
)


@dataclass(frozen=True)
class Artifact:
    spec: FunctionSpec
    packaged: package.PackagedFunction
    template: dict[str, Any]  # translated: plain CloudFormation, as deployed
    task_root: Path  # the unpacked zip


def runtime_site(cache_dir: Path = package.CACHE_DIR) -> Path:
    """A folder holding only the Lambda runtime's own packages, built once per versions."""
    versions = [f"{name}=={metadata.version(name)}" for name in LAMBDA_RUNTIME_DISTRIBUTIONS]
    key = hashlib.sha256("\n".join(versions).encode()).hexdigest()[:16]
    target = cache_dir / f"lambda-runtime-{key}"
    if (target / ".done").is_file():
        return target
    building = target.with_name(target.name + f".building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    copy_runtime(building)
    (building / ".done").write_text("\n".join(versions), encoding="utf-8")
    try:
        building.rename(target)
    except OSError:  # another process got there first
        shutil.rmtree(building, ignore_errors=True)
    return target


def copy_runtime(building: Path) -> Path:
    """The Lambda runtime's packages, copied from this environment into `building`,
    with their bytecode."""
    building.mkdir(parents=True, exist_ok=True)
    for name in LAMBDA_RUNTIME_DISTRIBUTIONS:
        distribution = metadata.distribution(name)
        for entry in distribution.files or []:
            parts = Path(str(entry)).parts
            if not parts or parts[0] == ".." or "__pycache__" in parts:
                continue
            source = Path(str(distribution.locate_file(entry)))
            if source.is_file():
                destination = building.joinpath(*parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
    import compileall
    import py_compile

    compileall.compile_dir(
        str(building),
        quiet=1,
        workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    return building


def unpack(zip_path: Path, target: Path) -> Path:
    """The zip as Lambda unpacks it (files only, their permission bits kept)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target)
    return target


def build(
    *,
    stage: str,
    region: str,
    config_path: Path,
    out_dir: Path,
    only: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> list[Artifact]:
    specs = function_table.select(list(only) or None)
    built = package.package_all(
        specs,
        stage=stage,
        config_path=config_path,
        out_dir=out_dir / "packages",
        region=region,
        progress=progress,
    )
    artifacts = []
    for item in built:
        translated = sam.translate(
            item.template(),
            code_bucket="local",
            code_key=f"{item.spec.name}.zip",
            region=region,
        )
        task_root = unpack(item.zip_path, out_dir / "task" / item.spec.name)
        artifacts.append(Artifact(item.spec, item, translated, task_root))
    return artifacts
