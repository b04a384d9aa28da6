"""Test data shared by every test area."""
