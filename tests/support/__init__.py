"""Test support: a local Durable Functions host for running the app without Core Tools."""
