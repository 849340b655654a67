"""Activity functions: one module each, thin glue from Durable inputs to ``switchboard`` code."""
