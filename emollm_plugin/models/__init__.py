"""``LMMS_EVAL_PLUGINS=emollm_plugin``: lmms-eval's older plugin switch, which reads ``AVAILABLE_MODELS``
here and indexes the folder of ``emollm_plugin.tasks`` (``eval_tasks/`` shipped under that name).

The entry point ``lmms_eval.models: emollm`` and the autoload hook already make ``--model emollm``
and ``--tasks emobench`` work; this package makes the documented switch work as well, also with
``EMOLLM_AUTOLOAD=0``. lmms-eval 0.7.3 adds a plugin's task folder only after it has built the
run's ``TaskManager``, so importing this package (which lmms-eval does first) registers the
EmoBench folder with ``TaskManager`` itself.
"""

from __future__ import annotations

from emollm_plugin.lmms_glue.activate import register_task_folder

#: model name -> class name in ``emollm_plugin.models.<model name>`` (lmms-eval's legacy plugin layout)
AVAILABLE_MODELS = {"emollm": "EmoLLM"}

register_task_folder()
