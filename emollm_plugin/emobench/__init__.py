"""EmoBench: the benchmark definition, its records, scoring and data tooling (no LLaVA, no lmms-eval)."""
