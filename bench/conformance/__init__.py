"""Conformance of the sandbox API emulator, measured against a real kube-apiserver.

``make conformance`` records the requests a chosen set of test modules sends to the emulator (a JSONL
corpus, see ``sandbox/apiserver/recording.py``), replays every recorded session against a real control plane
(``sandbox.controlplane``) in fresh namespaces, and compares what a client would read from both answers.
See ``bench/README.md`` (Conformance) for the figure and how to read it.
"""
