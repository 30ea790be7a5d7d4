"""setup.cfg lists packages explicitly (two are mapped folders find: cannot see): keep it complete."""

from __future__ import annotations

import configparser

from tests.conftest import REPO


def test_every_package_folder_is_listed_in_setup_cfg():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    mapped = {line.split("=")[0].strip(): line.split("=")[1].strip()
              for line in config["options"]["package_dir"].strip().splitlines()}
    found = set()
    for init in (REPO / "emollm_plugin").rglob("__init__.py"):
        found.add(".".join(init.parent.relative_to(REPO).parts))
    for package, folder in mapped.items():
        for init in (REPO / folder).rglob("__init__.py"):
            found.add(".".join([package, *init.parent.relative_to(REPO / folder).parts]))
    assert found == listed, f"missing from setup.cfg: {sorted(found - listed)}; stale: {sorted(listed - found)}"


def test_mapped_folders_import_from_the_package():
    import emollm_plugin.eval_tasks
    import emollm_plugin.patches

    assert emollm_plugin.patches.__file__.startswith(str(REPO / "patches"))
    assert emollm_plugin.eval_tasks.__file__.startswith(str(REPO / "eval_tasks"))
