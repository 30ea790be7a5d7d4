"""``emollm serve``: an OpenAI-compatible chat endpoint over a checkpoint (see ``apps.serve``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from emollm_plugin.apps.serve import LOOPBACK, make_server
from emollm_plugin.apps.serve import __doc__ as serve_doc

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = serve_doc
    parser.add_argument("--model-path", required=True, help="EmoLLM/LLaVA checkpoint folder")
    parser.add_argument("--model-base", help="base model for LoRA or projector-only checkpoints")
    parser.add_argument("--model-name", help="name reported by /v1/models and in replies (default: folder name)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--conv-mode", help="LLaVA conversation template (default: the checkpoint's)")
    parser.add_argument("--num-frames", type=int, default=8, help="frames per video the runner expects (default 8)")
    parser.add_argument("--api-key-env", help="NAME of an env variable whose value clients must send as Bearer key")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(f"error: ${args.api_key_env} is empty or unset", file=sys.stderr)
            return 2
    if args.host not in LOOPBACK and not api_key:
        log.warning("listening on %s without --api-key-env: anyone who can reach it can use the model", args.host)
    from emollm_plugin.llava_glue.inference import CheckpointError, load_runner

    try:
        runner = load_runner(args.model_path, model_base=args.model_base, device=args.device,
                             conv_mode=args.conv_mode, num_frames=args.num_frames)
    except (CheckpointError, OSError, ValueError) as exc:
        print(f"error: cannot load {args.model_path}: {exc}", file=sys.stderr)
        return 2
    name = args.model_name or os.path.basename(os.path.normpath(args.model_path))
    try:
        server = make_server(runner, args.host, args.port, model_name=name, api_key=api_key)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc}); pick another --port", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    print(f"serving {name} at http://{host}:{port}/v1 (chat/completions, models); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0

