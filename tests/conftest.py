"""Fixtures shared by every test area (the sandbox API server fixture lives here once it exists)."""
