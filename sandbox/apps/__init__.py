"""Demo applications the sandbox runtime starts for well-known images (podinfo)."""
