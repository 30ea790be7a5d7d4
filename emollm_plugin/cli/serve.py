"""``emollm serve``: an OpenAI-compatible chat server and demo page over a checkpoint (see ``apps.serve``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from emollm_plugin.apps.serve import LOOPBACK, MAX_BODY_BYTES, Limits

log = logging.getLogger("emollm.serve")

DESCRIPTION = """OpenAI-compatible chat server and demo page over an EmoLLM/LLaVA checkpoint.

POST /v1/chat/completions (streaming, multi-turn, one image or video per conversation),
GET /v1/models, and the demo page at /. Loopback only unless --host says otherwise; then
set --api-key-env. The module emollm_plugin.apps.serve documents the protocol and the limits.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = DESCRIPTION
    parser.add_argument("--model-path", "--model", dest="model_path", required=True,
                        help="EmoLLM/LLaVA checkpoint folder")
    parser.add_argument("--model-base", help="base model for LoRA or projector-only checkpoints")
    parser.add_argument("--model-name", help="name reported by /v1/models and required in requests "
                        "(default: the folder name)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--dtype", help="torch dtype (default float16 on cuda, float32 on cpu)")
    parser.add_argument("--conv-mode", help="LLaVA conversation template (default: the checkpoint's)")
    parser.add_argument("--num-frames", type=int, default=8, help="frames sampled from an uploaded video (default 8)")
    parser.add_argument("--max-fps", type=float, help="at most this many frames per second of video")
    parser.add_argument("--api-key-env", help="NAME of an environment variable whose value clients must send "
                        "as a Bearer key")
    parser.add_argument("--max-batch", type=int, default=8, help="requests answered together (default 8)")
    parser.add_argument("--batch-window-ms", type=float, default=100.0,
                        help="longest a batch waits for requests its recent clients are about to send (default 100)")
    parser.add_argument("--max-body-mb", type=float, default=MAX_BODY_BYTES / 2**20,
                        help="largest request body in MiB (default 64)")
    parser.add_argument("--read-timeout", type=float, default=30.0,
                        help="seconds a client has to send its request body (default 30)")


def _limits(args: argparse.Namespace) -> Limits:
    for name, value, low in (("--max-batch", args.max_batch, 1), ("--num-frames", args.num_frames, 1),
                             ("--max-body-mb", args.max_body_mb, 0.001), ("--read-timeout", args.read_timeout, 0.001),
                             ("--batch-window-ms", args.batch_window_ms, 0)):
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    return Limits(max_body_bytes=int(args.max_body_mb * 2**20), read_timeout_s=args.read_timeout,
                  max_batch=args.max_batch, batch_window_s=args.batch_window_ms / 1000)


def run(args: argparse.Namespace) -> int:
    from emollm_plugin.apps.serve import ChatService, api_key_from_env, bind, make_server

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        limits = _limits(args)
        api_key = api_key_from_env(args.api_key_env)
    except ValueError as exc:
        print(f"emollm serve: error: {exc}", file=sys.stderr)
        return 2
    if args.host not in LOOPBACK and not api_key:
        log.warning("listening on %s without --api-key-env: anyone who can reach it can use the model", args.host)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"emollm serve: error: cannot listen on {args.host}:{args.port} ({exc}); pick another --port",
              file=sys.stderr)
        return 2
    from emollm_plugin.llava_glue.inference import CheckpointError, load_runner

    try:
        runner = load_runner(args.model_path, model_base=args.model_base, device=args.device, conv_mode=args.conv_mode,
                             num_frames=args.num_frames, max_fps=args.max_fps, dtype=args.dtype)
    except (CheckpointError, OSError, ValueError) as exc:
        sock.close()
        print(f"emollm serve: error: cannot load {args.model_path}: {exc}", file=sys.stderr)
        return 2
    name = args.model_name or os.path.basename(os.path.normpath(args.model_path))
    service = ChatService(runner, name, api_key=api_key, limits=limits)
    server = make_server(service)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"emollm serve: {name} at http://{shown}:{port}/ (page) and http://{shown}:{port}/v1 "
          "(chat/completions, models); Ctrl-C stops", flush=True)
    server.run(sockets=[sock])
    return 0
