"""The call orchestration's steps: shared helpers, operator commands, admission, transfers."""
