"""A local Functions host for Switchboard: runs function_app.py without Core Tools."""
