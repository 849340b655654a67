"""Functions glue: the HTTP ingress, the call orchestration and the operator API."""
