"""Test support: what tests share besides the app host (log checks)."""
