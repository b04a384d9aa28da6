"""Kubernetes API server emulator: real kubectl, helm and the Python clients talk to it over HTTP."""
