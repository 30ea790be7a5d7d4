"""What the autoload hook does inside lmms-eval (``emollm_plugin.autoload``), version-gated to 0.7.3.

- :func:`register_task_folder` (once ``lmms_eval.tasks`` is imported): every ``TaskManager`` that
  indexes lmms-eval's own tasks also indexes the EmoBench folder, so
  ``python -m lmms_eval --tasks emobench`` needs no ``--include_path``. lmms-eval's own plugin
  switch cannot do this alone in 0.7.3: ``LMMS_EVAL_PLUGINS=<pkg>`` adds ``<pkg>.tasks`` to the
  include path only after the run's ``TaskManager`` was built.
- :func:`default_llava_conv_template` (once lmms-eval's ``llava`` wrapper is imported): its
  ``conv_template`` defaults to ``vicuna_v1``; for a checkpoint that records the template it was
  trained with (``emollm_version`` in its config) that template is used unless one is given.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

TESTED = {"lmms-eval": "==0.7.3"}
_FLAG = "__emollm_activated"


def _tested() -> bool:
    from emollm_plugin.patches._versions import UntestedVersionError, check_versions

    try:
        check_versions(__name__, TESTED)
    except UntestedVersionError as exc:
        print(f"emollm-plugin: lmms-eval not activated ({exc})", file=sys.stderr)
        return False
    return True


def _paths(include_path) -> list[str]:
    if include_path is None:
        return []
    return [include_path] if isinstance(include_path, str) else list(include_path)


def with_task_folder(include_path, folder: Path) -> list[str]:
    """``include_path`` plus ``folder``, unless it (or the folder above it) is already there."""
    paths = _paths(include_path)
    wanted = {folder.resolve(), folder.resolve().parent}
    if not any(Path(p).expanduser().resolve() in wanted for p in paths):
        paths.append(str(folder))
    return paths


def register_task_folder(module=None) -> bool:
    """Make lmms-eval's ``TaskManager`` index the EmoBench tasks (idempotent); False when already done or refused."""
    from lmms_eval.tasks import TaskManager

    from emollm_plugin.lmms_glue.evaluate import tasks_dir

    if getattr(TaskManager.initialize_tasks, _FLAG, False) or not _tested():
        return False
    original = TaskManager.initialize_tasks

    @functools.wraps(original)
    def initialize_tasks(self, include_path=None, include_defaults=True):
        if include_defaults:  # a caller that skips lmms-eval's own tasks chose its folders itself
            include_path = with_task_folder(include_path, tasks_dir())
        return original(self, include_path=include_path, include_defaults=include_defaults)

    setattr(initialize_tasks, _FLAG, True)
    TaskManager.initialize_tasks = initialize_tasks
    return True


def checkpoint_template(pretrained: str) -> str | None:
    """The conversation template an EmoLLM checkpoint was trained with (its config's ``emollm_version``)."""
    try:
        config = json.loads((Path(pretrained) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    template = config.get("emollm_version") if isinstance(config, dict) else None
    return template if isinstance(template, str) and template else None


def default_llava_conv_template(module) -> bool:
    """Give lmms-eval's ``llava`` wrapper the checkpoint's own template by default (idempotent)."""
    cls = getattr(module, "Llava", None)
    if cls is None or getattr(cls.__init__, _FLAG, False) or not _tested():
        return False
    original = cls.__init__

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        pretrained = kwargs.get("pretrained", args[0] if args else None)
        if "conv_template" not in kwargs and len(args) < 8 and pretrained:  # conv_template is the 8th parameter
            template = checkpoint_template(str(pretrained))
            if template:
                from loguru import logger

                logger.info(f"emollm-plugin: conv_template={template} from {pretrained}/config.json (emollm_version)")
                kwargs["conv_template"] = template
        original(self, *args, **kwargs)

    setattr(__init__, _FLAG, True)
    cls.__init__ = __init__
    return True
