"""Go conventions shared by the deployables (controller, load tester, sandbox), as Flagger's Go code has them.

* :mod:`goconv.durations`: ``time.ParseDuration`` and ``Duration.String()``;
* :mod:`goconv.strconv`: ``strconv.ParseBool`` (and Go's ``%q``);
* :mod:`goconv.flags`: the ``flag`` package's command-line syntax, and flag tables with environment
  fallbacks that settings are built from;
* :mod:`goconv.zap`: zap's production JSON log lines and its level names.

Its own small package because the layering rule keeps ``controller``, ``loadtester`` and ``sandbox``
from importing each other; it imports none of them (import-linter checks it).
"""
