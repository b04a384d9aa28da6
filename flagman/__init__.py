"""Flagman's command-line entry point: dispatches `flagman <deployable> ...` to the deployable's own CLI."""
