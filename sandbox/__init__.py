"""The local Kubernetes stand-in: an API server emulator and a runtime that runs pods as processes."""
