"""Rendering of Flagger query templates (Go ``text/template`` with Flagger's function map).

Flagger renders MetricTemplate queries, inline ``query`` metrics and its builtin queries with Go's
``text/template``, the model exposed as functions called without a dot (``{{ namespace }}``,
``{{ variables.key }}``) and ``missingkey=error``. Queries use nothing else in practice, so this is
a small faithful subset rather than a template engine: plain actions naming one of the functions,
field access on ``variables``, ``index variables "key"`` for keys that are not identifiers, the
``{{-``/``-}}`` trim markers and ``{{/* comments */}}``. Anything else is a render error that says
what was not understood, worded like Go's (``template: tmpl:3: function "foo" not defined``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.errors import AnalysisError

#: Flagger's default analysis window for a metric without ``interval``.
DEFAULT_METRIC_INTERVAL = "1m"

_TEMPLATE_NAME = "tmpl"
_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_FIELD_CHAIN = re.compile(rf"^({_IDENTIFIER})((?:\.{_IDENTIFIER})*)$")
_INDEX_CALL = re.compile(rf'^index\s+({_IDENTIFIER})\s+"((?:[^"\\]|\\.)*)"$')
_COMMENT = re.compile(r"^/\*.*\*/$", re.DOTALL)


class TemplateRenderError(AnalysisError):
    """A query template could not be parsed or executed."""


@dataclass(frozen=True)
class TemplateModel:
    """The values a query template can read (Flagger's ``MetricTemplateModel``)."""

    name: str
    namespace: str
    target: str
    service: str
    ingress: str
    route: str
    interval: str
    variables: Mapping[str, str] = field(default_factory=dict)

    def functions(self) -> dict[str, str | Mapping[str, str]]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "target": self.target,
            "service": self.service,
            "ingress": self.ingress,
            "route": self.route,
            "interval": self.interval,
            "variables": self.variables,
        }


def _line_of(template: str, offset: int) -> int:
    return template.count("\n", 0, offset) + 1


def _evaluate(action: str, model: TemplateModel, template: str, offset: int) -> str:
    """Evaluate the body of one ``{{ }}`` action."""
    line = _line_of(template, offset)
    functions = model.functions()
    where = f"template: {_TEMPLATE_NAME}:{line}"

    index_call = _INDEX_CALL.match(action)
    if index_call is not None:
        function_name, raw_key = index_call.group(1), index_call.group(2)
        value = _call(function_name, functions, where)
        if not isinstance(value, Mapping):
            raise TemplateRenderError(
                f'{where}: executing "{_TEMPLATE_NAME}" at <index {function_name}>: '
                f"error calling index: cannot index slice/array with type string"
            )
        key = bytes(raw_key, "utf-8").decode("unicode_escape")
        # Go's index returns the zero value for a missing map key.
        return str(value.get(key, ""))

    chain = _FIELD_CHAIN.match(action)
    if chain is None:
        if action.startswith("."):
            raise TemplateRenderError(
                f'{where}: executing "{_TEMPLATE_NAME}" at <{action}>: query templates have no data; '
                f"call the function without a dot, e.g. {{{{ {action.lstrip('.').split('.')[0]} }}}}"
            )
        raise TemplateRenderError(f"{where}: unsupported template action {{{{ {action} }}}}")
    function_name, fields = chain.group(1), chain.group(2)
    value = _call(function_name, functions, where)
    path = function_name
    for field_name in [part for part in fields.split(".") if part]:
        if not isinstance(value, Mapping):
            raise TemplateRenderError(
                f'{where}: executing "{_TEMPLATE_NAME}" at <{path}.{field_name}>: '
                f"can't evaluate field {field_name} in type string"
            )
        if field_name not in value:
            raise TemplateRenderError(
                f'{where}: executing "{_TEMPLATE_NAME}" at <{path}.{field_name}>: '
                f'map has no entry for key "{field_name}"'
            )
        value = value[field_name]
        path = f"{path}.{field_name}"
    if isinstance(value, Mapping):
        # Go prints a map as map[k:v ...]; a query never wants that, but match Go rather than guess.
        return "map[" + " ".join(f"{k}:{value[k]}" for k in sorted(value)) + "]"
    return value


def _call(
    function_name: str, functions: Mapping[str, str | Mapping[str, str]], where: str
) -> str | Mapping[str, str]:
    if function_name not in functions:
        raise TemplateRenderError(f'{where}: function "{function_name}" not defined')
    return functions[function_name]


def render_query(template: str, model: TemplateModel) -> str:
    """Render ``template`` with ``model``; raises :class:`TemplateRenderError` with Go-like wording."""
    pieces: list[str] = []
    position = 0
    for match in _ACTION.finditer(template):
        text = template[position : match.start()]
        if match.group(1):
            text = text.rstrip(" \t\r\n")
        pieces.append(text)
        body = match.group(2).strip()
        if not _COMMENT.match(body):
            if not body:
                line = _line_of(template, match.start())
                raise TemplateRenderError(f"template: {_TEMPLATE_NAME}:{line}: missing value for command")
            pieces.append(_evaluate(body, model, template, match.start()))
        position = match.end()
        if match.group(3):
            remainder = template[position:]
            position += len(remainder) - len(remainder.lstrip(" \t\r\n"))
    tail = template[position:]
    if "{{" in tail:
        line = _line_of(template, position + tail.index("{{"))
        raise TemplateRenderError(f"template: {_TEMPLATE_NAME}:{line}: unclosed action")
    pieces.append(tail)
    return "".join(pieces)


_WHITESPACE_RUN = re.compile(r"\s+")


def collapse_whitespace(query: str) -> str:
    """Collapse every whitespace run to one space, as Flagger does before sending a query.

    Leading and trailing whitespace become one space too (Flagger's builtin queries start with one).
    """
    return _WHITESPACE_RUN.sub(" ", query)
