"""Glue between EmoLLM and LLaVA (llava-torch). The only package here that imports llava."""
