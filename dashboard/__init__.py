"""Visibility for people: the analysis report (`flagman report`) and the web dashboard (`flagman dashboard`).

Both read what the controller publishes (the analysis history ConfigMap, docs/visibility.md) with the
user's kubeconfig; this package imports nothing from the controller (import-linter keeps it so): the
history is a JSON contract, parsed here by :mod:`dashboard.history`.
"""
