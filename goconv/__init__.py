"""Go conventions shared by the deployables (controller, load tester): Go's duration syntax.

Its own small package because the layering rule keeps ``controller``, ``loadtester`` and ``sandbox``
from importing each other; it imports none of them.
"""
