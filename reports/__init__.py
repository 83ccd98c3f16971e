"""Risk reports rendered from run results (never refits a model)."""
