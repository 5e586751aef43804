"""The code version of a run: bipdask's version, a digest of the source that computes it, and
the git commit (provenance only); :func:`version_key` is the part the run key depends on."""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import subprocess
from pathlib import Path

import bipdask

SOURCE_PACKAGES = ("bipdask", "flows")
SOURCE_SUFFIXES = (".py", ".toml", ".json")


def source_digest() -> str:
    """sha256 over the source of the packages that compute a run (paths and bytes, sorted).

    The run key depends on it, not on a git commit: an uncommitted edit changes the key (its
    results are not those of the commit), and the same code installed in a container image or
    a wheel gives the same key as the checkout it was built from.
    """
    h = hashlib.sha256()
    for package in SOURCE_PACKAGES:
        base = Path(importlib.import_module(package).__file__).parent
        for path in sorted(p for p in base.rglob("*") if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts):
            h.update(f"{package}/{path.relative_to(base).as_posix()}\0".encode("utf-8"))
            h.update(path.read_bytes())
    return h.hexdigest()


def code_version() -> dict[str, str | None]:
    """bipdask's version, the digest of its source, and the git commit when run from a checkout
    (for the reader; the run key uses the version and the digest)."""
    sha = None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(bipdask.__file__).parent,
                             capture_output=True, text=True, timeout=5, check=False)
        if out.returncode == 0:
            sha = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"bipdask": bipdask.__version__, "source_sha256": source_digest(), "git_sha": sha}


PACKAGES = ("numpy", "pandas", "pyarrow", "scipy", "dask", "distributed", "prefect", "prefect-dask", "fsspec", "s3fs",
            "matplotlib")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """The installed versions of the libraries a run computes with (in this process), for the
    manifest and the report's data section; provenance only, not part of the run key."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def version_key(version: dict) -> str:
    """The part of :func:`code_version` that decides results: the package version and the
    source digest (``git_sha`` is provenance only)."""
    return f"{version.get('bipdask')}+{version.get('source_sha256') or version.get('git_sha')}"
