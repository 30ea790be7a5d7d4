"""Glue between EmoLLM and lmms-eval."""
