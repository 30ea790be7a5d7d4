"""Version gates shared by the patches: a patch runs only on the versions it was tested with."""

from __future__ import annotations

import os
from importlib import metadata

from packaging.specifiers import SpecifierSet
from packaging.version import Version

#: Set to 1 to apply patches on untested versions anyway (at your own risk).
OVERRIDE_ENV = "EMOLLM_ALLOW_UNTESTED_VERSIONS"


class UntestedVersionError(RuntimeError):
    """A patch met a package version it was not written for."""


def installed_version(package: str) -> Version | None:
    try:
        return Version(metadata.version(package))
    except metadata.PackageNotFoundError:
        return None


def check_versions(patch: str, tested: dict[str, str]) -> None:
    """Raise :class:`UntestedVersionError` unless every package is inside its tested range."""
    if os.environ.get(OVERRIDE_ENV) == "1":
        return
    for package, spec in tested.items():
        found = installed_version(package)
        if found is None:
            raise UntestedVersionError(f"patch {patch!r} needs {package}{spec}, which is not installed")
        if found not in SpecifierSet(spec):
            raise UntestedVersionError(
                f"patch {patch!r} was tested with {package}{spec}, found {package}=={found}. "
                f"Install the versions in constraints.txt (bash scripts/setup.sh), or set {OVERRIDE_ENV}=1 "
                "to apply it anyway."
            )


def mark_patched(owner: object, attribute: str) -> bool:
    """Record on ``owner`` that ``attribute`` was patched; False when it already was (idempotence)."""
    flag = f"__emollm_patched_{attribute}"
    if getattr(owner, flag, False):
        return False
    setattr(owner, flag, True)
    return True


def replace_once(patch: str, tested: dict[str, str], owner: object, flag: str, **replacements: object) -> bool:
    """Set each of ``replacements`` on ``owner`` once per process, and only on tested versions.

    ``flag`` names the change for :func:`mark_patched`; returns False when it was already made.
    """
    if getattr(owner, f"__emollm_patched_{flag}", False):
        return False
    check_versions(patch, tested)
    mark_patched(owner, flag)
    for name, value in replacements.items():
        setattr(owner, name, value)
    return True
