"""EmoLLM in LLaVA's and lmms-eval's own entry points, with no code change: a post-import hook.

The plugin installs ``emollm-autoload.pth`` into site-packages; Python runs its one line at
start-up, which calls :func:`install`. That only puts :class:`_Finder` at the front of
``sys.meta_path`` (standard library only, no other import), so a process that never imports
LLaVA or lmms-eval pays nothing more. When one of the watched modules finishes importing, the
finder runs its activation:

- ``llava``: :func:`emollm_plugin.register` (the patches, the ``mvp`` projector, the EmoPrompt
  templates, config-driven bases, and the plugin's train flags, dataset and run checks on
  ``llava.train.train``), so ``python -m llava.train.train``, ``train_mem.py``,
  ``load_pretrained_model`` and everything built on them know EmoLLM.
- ``lmms_eval.tasks``: lmms-eval's ``TaskManager`` also indexes the EmoBench task folder, so
  ``python -m lmms_eval --tasks emobench`` needs no ``--include_path``.
- ``lmms_eval.models.simple.llava``: lmms-eval's own ``--model llava`` prompts an EmoLLM
  checkpoint with the conversation template it was trained with, unless ``conv_template`` is given.

``python -m llava.train.train`` runs LLaVA's module as ``__main__``, a second copy whose globals
no patch of ``llava.train.train`` reaches. For that one run the finder hands ``runpy`` code that
activates the plugin, imports ``llava.train.train`` as a module and calls its ``train()``: what
``train_mem.py`` does, so both stock doors run the same function. (Activation waits for that code
rather than running when ``runpy`` imports the parent package ``llava``: importing the module
before ``runpy`` executes it would make Python warn about "unpredictable behaviour".)

Opt out with ``EMOLLM_AUTOLOAD=0``. Activation is version-gated like ``patches/``: on versions the
patches were not tested with it is skipped with a one-line warning (``emollm_plugin.register()``
then raises the full error).
"""

from __future__ import annotations

import importlib.abc
import os
import sys

ENV = "EMOLLM_AUTOLOAD"
OFF_VALUES = ("0", "false", "no", "off")
TRAIN_MODULE = "llava.train.train"
#: module name -> "module:function" run once that module has been executed.
HOOKS: dict[str, str] = {
    "llava": "emollm_plugin:activate_llava",
    "lmms_eval.tasks": "emollm_plugin.lmms_glue.activate:register_task_folder",
    "lmms_eval.models.simple.llava": "emollm_plugin.lmms_glue.activate:default_llava_conv_template",
}
#: What ``python -m llava.train.train`` executes as ``__main__`` (see the module docstring).
MAIN_STUB = (
    "import emollm_plugin as _emollm_plugin\n"
    "_emollm_plugin.activate_llava()\n"
    "from llava.train import train as _llava_train\n"
    "if __name__ == '__main__':\n"
    "    _llava_train.train()\n"
)


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether autoloading is on (``EMOLLM_AUTOLOAD`` unset or not one of 0/false/no/off)."""
    value = (os.environ if environ is None else environ).get(ENV, "")
    return value.strip().lower() not in OFF_VALUES


def module_run_with_dash_m(argv: list[str]) -> str | None:
    """The module of ``python [options] -m MODULE ...`` from ``sys.orig_argv``; None for scripts and ``-c``."""
    args = iter(argv[1:])
    for arg in args:
        if arg == "--check-hash-based-pycs":
            next(args, None)
            continue
        if not arg.startswith("-") or arg in ("-", "--"):
            return None  # a script (or stdin): no -m
        if arg.startswith("--"):
            continue
        letters = arg[1:]
        for i, letter in enumerate(letters):
            if letter in "cWX":  # options that take a value: the rest of this argument or the next one
                if letter == "c":
                    return None
                if i == len(letters) - 1:
                    next(args, None)
                break
            if letter == "m":
                return letters[i + 1:] or next(args, None)
    return None


def locating_main_module(name: str) -> bool:
    """True while ``runpy`` is locating ``name`` to run it as ``__main__`` (``python -m name``).

    Python sets ``sys.argv[0]`` to ``"-m"`` for exactly that phase.
    """
    return sys.argv[:1] == ["-m"] and module_run_with_dash_m(list(getattr(sys, "orig_argv", []))) == name


def _run_hook(target: str, module) -> None:
    import importlib

    module_name, _, function = target.partition(":")
    getattr(importlib.import_module(module_name), function)(module)


class _HookedLoader(importlib.abc.Loader):
    """The real loader, plus a hook after the module has executed (and the ``__main__`` stub for LLaVA's train)."""

    def __init__(self, loader, name: str, main_stub: bool = False):
        self._loader = loader
        self._name = name
        self._main_stub = main_stub

    def __getattr__(self, attribute: str):
        return getattr(self._loader, attribute)

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create else None

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        hook = HOOKS.get(self._name)
        if hook and not (self._name == "llava" and locating_main_module(TRAIN_MODULE)):
            _run_hook(hook, module)

    def get_code(self, fullname: str):
        if self._main_stub:  # runpy asks for the code it runs as __main__
            return compile(MAIN_STUB, f"<emollm autoload: {fullname} as __main__>", "exec")
        return self._loader.get_code(fullname)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds watched modules with the other finders and wraps their loader in :class:`_HookedLoader`."""

    def find_spec(self, fullname: str, path=None, target=None):
        main_stub = fullname == TRAIN_MODULE and locating_main_module(TRAIN_MODULE)
        if fullname not in HOOKS and not main_stub:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _HookedLoader(spec.loader, fullname, main_stub=main_stub)
                return spec
        return None


def installed() -> bool:
    return any(isinstance(finder, _Finder) for finder in sys.meta_path)


def install() -> bool:
    """Put the hook in place (idempotent); False when ``EMOLLM_AUTOLOAD`` turns it off.

    A watched module imported before this call is activated now.
    """
    if not enabled():
        return False
    if not installed():
        sys.meta_path.insert(0, _Finder())
    for name, hook in HOOKS.items():
        if name in sys.modules:
            _run_hook(hook, sys.modules[name])
    return True
