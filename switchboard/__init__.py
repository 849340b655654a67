"""Switchboard's domain code: plain Python that knows nothing of the Functions host.

The Functions glue (``blueprints/``, ``activities/``) imports from here; nothing here imports
``azure.functions`` or ``azure.durable_functions``.
"""
