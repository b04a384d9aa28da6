"""The node agent for the real control plane: see `agent`."""
