"""Benchmarks: ingress, time to accept, monitor capacity (``python -m bench.<name>``).

Not tests: they print tables and are not collected by pytest (``testpaths = tests``).
"""
