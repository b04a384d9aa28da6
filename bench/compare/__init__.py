"""Flagger and Flagman side by side on the same API server: behaviour and cost (`python -m bench.compare`)."""
