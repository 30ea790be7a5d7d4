"""Build step for the autoload hook; everything else about the package is in setup.cfg.

``emollm_plugin-autoload.pth`` must land in site-packages, where Python reads ``.pth`` files at
start-up (its one line calls ``emollm_plugin.autoload.install()``; see that module). ``build_py``
below puts it at the root of what becomes site-packages: ``build_lib`` for a wheel
(``pip install .``), and for an editable wheel (``pip install -e .``, setuptools >= 64) the
wheel's own root, which setuptools hands to the build as ``install_lib`` (an editable wheel
otherwise ships only its import finder, and setuptools skips ``data_files`` there). Either way the
file is in the wheel's RECORD, so ``pip uninstall`` removes it. ``tests/test_autoload.py`` checks
the installed copy.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "emollm_plugin-autoload.pth"


class BuildPyWithAutoload(build_py):
    def run(self) -> None:
        super().run()
        root = self.get_finalized_command("install").install_lib if self.editable_mode else self.build_lib
        self.mkpath(root)
        self.copy_file(PTH, os.path.join(root, PTH))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        return outputs if self.editable_mode else [*outputs, os.path.join(self.build_lib, PTH)]


setup(cmdclass={"build_py": BuildPyWithAutoload})
