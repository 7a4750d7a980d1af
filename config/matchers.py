"""Label matchers: one meaning shared by silences, bindings, channel routes and alert filters.

A matcher is (label name, op, value) with op one of `=`, `!=`, `=~`, `!~`. Regexes are RE2
(config.regex) and anchored: `=~prod|staging` matches "prod", not "preprod".

The one rule, Alertmanager's: **a label the alert does not carry is the empty string.** So
`env=""` and `env=~|dev` select alerts without `env` too; `env!=prod` and `env!~.+` select
alerts without `env`; `env=prod` and `env=~.+` never do.

Each place keeps its own syntax, parsed here into Matchers:

- silences: `[{"name": "env", "op": "!=", "value": "prod"}]` (from_dicts);
- bindings and channel routes: `{env: prod, team: "~db|web"}`, a value starting with `~` is
  a regex (`=~`), any other an equality (from_map);
- the API and dashboard filters: `env=prod`, `env!=prod`, `env=~p.*`, `env!~p.*` (parse).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from config import regex

OPS = ("=", "!=", "=~", "!~")
_FILTER = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)(=~|!~|!=|=)(.*)$", re.DOTALL)
FILTER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*(=~|!~|!=|=).*$"  # the same, for the OpenAPI document


class MatcherError(ValueError):
    """A matcher that cannot be used: unknown op or a regex RE2 refuses (message says why)."""


@dataclass(frozen=True)
class Matcher:
    """One label test. Build it with `validated` (or a parse function) from user input;
    the plain constructor also takes stored matchers, whose regex may predate RE2."""

    name: str
    op: str
    value: str

    @classmethod
    def validated(cls, name: str, op: str, value: str) -> Matcher:
        """A matcher whose op is known and whose regex compiles.

        Raises:
            MatcherError: unknown op, or the regex is invalid (the message says why).
        """
        if op not in OPS:
            raise MatcherError(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
        if op in ("=~", "!~"):
            try:
                regex.compile_label_regex(value)
            except regex.RegexError as exc:
                raise MatcherError(str(exc)) from None
        return cls(name, op, value)

    def accepts(self, value: str) -> bool:
        """Whether a label value passes (pass "" for a label the alert lacks)."""
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        try:
            found = regex.fullmatch(self.value, value)
        except regex.RegexError:
            # Stored before RE2 (say, a lookahead): it matches nothing rather than everything.
            return False
        return found if self.op == "=~" else not found

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.accepts(labels.get(self.name, ""))

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value}"


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether every matcher holds for these labels (no matchers: True)."""
    return all(m.matches(labels) for m in matchers)


def matches_empty(matcher: Matcher) -> bool:
    """Whether the matcher accepts "", hence alerts without its label: SQL over a table of
    label rows must then also take alerts that have no row for that name."""
    return matcher.accepts("")


def from_map(mapping: Mapping[str, str]) -> list[Matcher]:
    """Bindings' and channels' `{label: value}`: a value starting with `~` is a regex
    (`~~x` is the regex `~x`), any other must equal the label value.

    Raises:
        MatcherError: a regex RE2 refuses; the message names the label.
    """
    out = []
    for name, wanted in mapping.items():
        op, value = ("=~", wanted[1:]) if wanted.startswith("~") else ("=", wanted)
        try:
            out.append(Matcher.validated(name, op, value))
        except MatcherError as exc:
            raise MatcherError(f"label {name!r}: {value!r}: {exc}") from None
    return out


def from_stored_map(mapping: Mapping[str, str]) -> list[Matcher]:
    """from_map without validation, for matchers read back from the database (an invalid
    regex stored long ago then matches nothing, see Matcher.accepts)."""
    return [Matcher(name, "=~", v[1:]) if v.startswith("~") else Matcher(name, "=", v) for name, v in mapping.items()]


def from_dicts(raw: Iterable[Mapping[str, str]]) -> list[Matcher]:
    """Silences' stored `[{"name", "op", "value"}]` (validated when the silence was made)."""
    return [Matcher(m["name"], m.get("op", "="), m["value"]) for m in raw]


def parse(text: str) -> Matcher:
    """A filter string: `team=db`, `host!=web-1`, `host=~web-.*`, `env!~dev|test`.

    Raises:
        MatcherError: not of that form, or a regex RE2 refuses (the message says why).
    """
    found = _FILTER.match(text)
    if not found:
        raise MatcherError(f"expected label=value, label!=value, label=~regex or label!~regex, got {text[:100]!r}")
    name, op, value = found.groups()
    try:
        return Matcher.validated(name, op, value)
    except MatcherError as exc:
        raise MatcherError(f"{name}{op}: {exc}") from None
