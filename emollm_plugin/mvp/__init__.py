"""Pure-torch Multi-perspective Visual Projection (MVP)."""
