"""The runtime needs none of the test-only packages: statsmodels and lifelines are references
for tests and benchmarks (``tests/reference_refits.py``, ``benchmarks/``), declared in the
``test`` extra; the image installs only the runtime part of the lock, so no module of
``bipdask`` or ``flows`` may import them, not even inside a function."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
TEST_ONLY = {"statsmodels", "lifelines", "pytest", "hypothesis", "moto", "wildboottest"}


def _imported_top_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_runtime_module_imports_a_test_only_package():
    offenders = {str(p.relative_to(ROOT)): sorted(_imported_top_names(p) & TEST_ONLY)
                 for pkg in ("bipdask", "flows") for p in sorted((ROOT / pkg).rglob("*.py"))}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_test_only_packages_are_declared_in_the_test_extra_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {Requirement(r).name for r in project["dependencies"]}
    test = {Requirement(r).name for r in project["optional-dependencies"]["test"]}
    assert runtime & TEST_ONLY == set()
    assert {"statsmodels", "lifelines"} <= test
