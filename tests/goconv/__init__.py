"""Tests of the shared Go-conventions package."""
