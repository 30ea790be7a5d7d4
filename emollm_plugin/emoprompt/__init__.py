"""EmoPrompt: conversation templates, ground-truth-guided rationales and exemplars."""
