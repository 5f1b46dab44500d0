"""The OBIE Functional Conformance Suite's manifests, read with the FCS's own semantics (pure:
no HTTP). The Go sources of `OpenBankingUK/conformance-suite` (release 1.9.x) define them:

- `pkg/manifest/script.go`: a script's fields; `parameters` resolved against the run's context,
  `data.json`'s bodies and `$fn:` macros (`processParameters`); `apiVersion` ranges
  (`filterScriptsByVersion`, semver ranges); the scripts kept for the endpoints a bank
  implements (`FilterTestsBasedOnDiscoveryEndpoints`: a script runs when its URI, `$` and a
  trailing `/foobar` removed, is an implemented endpoint; `/foobar` itself always runs);
  payment POSTs are signed (`x-jws-signature`) and carry an idempotency key.
- `pkg/manifest/permx.go`: account scripts with `permissions` share one consent per
  compatible permission set (`TokenStore.createOrUpdate`); scripts without `permissions` get
  no token; payment scripts with `requestConsent: "true"` are consent jobs whose consent the
  customer authorises, and the scripts naming that consent in `consentId` use its token
  (`GetPaymentPermissions`, `requiresAuthCodeToken`).
- `pkg/model/macro.go`: `$fn:` macros; `pkg/model/match.go` and `model.go`: what an assertion
  checks (status code, header present, header value, JSON path present / absent / equal to a
  value, in gjson path syntax), `asserts` all must hold, `asserts_one_of` at least one,
  `asserts_last_if_all` the last one when all the others hold, and `keepContextOnSuccess`
  stores a JSON value of a passing response for later scripts.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

MANIFESTS = Path(__file__).resolve().parent / "manifests" / "manifests"
VARIABLE = re.compile(r"\$([A-Za-z0-9_\-]+)")
FUNCTION = re.compile(r"^\$fn:(\w+)\(([^)]*)\)$")


class ManifestError(ValueError):
    """A manifest the interpreter cannot read (an unknown assertion or macro, a bad range)."""


# --- loading ---------------------------------------------------------------------------
@lru_cache(maxsize=None)
def load_scripts(name: str) -> tuple[dict, ...]:
    return tuple(json.loads((MANIFESTS / name).read_text())["scripts"])


# Where an official assertion checks another field than the one it names, and so fails every
# bank: the manifests stay unchanged, the correction is made here, said in the README, tested.
# OB3GLOAssertFinalPaymentAmount ("Expected FinalPaymentAmount to be present", used by
# OB-301-DOP-1015002 "Fails when NumberOfPayments, FinalPaymentDateTime are not specified and
# FinalPaymentAmount is specified") looks at Data.Initiation.FirstPaymentAmount, which every
# standing order has: read literally, every open-ended standing order would have to be
# refused. The FCS's own tests of asserts_last_if_all (pkg/model/model_test.go) check
# FinalPaymentAmount.
CORRECTIONS = {"OB3GLOAssertFinalPaymentAmount": ("Data.Initiation.FirstPaymentAmount",
                                                  "Data.Initiation.FinalPaymentAmount")}


def corrected_assertions(script: dict) -> list[str]:
    """The script's assertions that CORRECTIONS changes (named in its evidence)."""
    named = [*(script.get("asserts") or []), *(script.get("asserts_one_of") or []),
             *(script.get("asserts_last_if_all") or [])]
    return [name for name in named if name in CORRECTIONS]


@lru_cache(maxsize=None)
def references() -> dict:
    """assertions.json and data.json's references in one map, as the FCS loads them, with the
    CORRECTIONS made."""
    refs = dict(json.loads((MANIFESTS / "assertions.json").read_text())["references"])
    refs.update(json.loads((MANIFESTS / "data.json").read_text())["references"])
    for name, (wrong, right) in CORRECTIONS.items():
        for match in refs[name]["expect"]["matches"]:
            if match.get("JSON") == wrong:
                match["JSON"] = right
    return refs


def body_data(name: str, refs: dict | None = None) -> str | None:
    """The JSON text of a data.json reference's body (what `$postData` resolves to)."""
    ref = (refs if refs is not None else references()).get(name)
    if ref and ref.get("body") not in (None, ""):
        return json.dumps(ref["body"], indent=4)
    return None


# --- versions (blang/semver ranges) ------------------------------------------------------
def _version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", text)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


_COMPARATORS: dict[str, Callable[[tuple, tuple], bool]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    "<": lambda a, b: a < b, "!=": lambda a, b: a != b, "==": lambda a, b: a == b,
    "=": lambda a, b: a == b, "": lambda a, b: a == b}


def version_in_range(version: str, spec: str) -> bool:
    """`spec` as a semver range: comparators joined by spaces (all hold) or `||` (any)."""
    if not spec:
        return True
    wanted = _version(version)
    for alternative in spec.split("||"):
        ok = True
        for term in alternative.split():
            match = re.fullmatch(r"(>=|<=|!=|==|>|<|=)?(\d+(?:\.\d+){0,2})", term)
            if not match:
                raise ManifestError(f"apiVersion {spec!r} is not a version range")
            ok = ok and _COMPARATORS[match.group(1) or ""](wanted, _version(match.group(2)))
        if ok:
            return True
    return False


# --- which scripts run for the endpoints a bank implements --------------------------------
def _template_pattern(template: str) -> str:
    return "^" + re.sub(r"\\\{[^/]+?\\\}", "[a-zA-Z0-9_{}-]+", re.escape(template)) + "$"


def endpoint_of(script: dict, templates: list[str]) -> str | None:
    """The implemented endpoint template a script exercises (the FCS's discovery filter), or
    None when the FCS would not run it: its URI with `$` dropped must match an endpoint; a
    URI with `/foobar` (the invalid-endpoint scripts) is matched without it; `/foobar`
    itself always runs."""
    uri = script["uri"]
    stripped = uri.replace("$", "")
    candidates = [stripped]
    if "foobar" in stripped:
        if uri == "/foobar":
            return "/foobar"
        candidates.insert(0, stripped.replace("/foobar", ""))
    for candidate in candidates:
        for template in templates:
            if re.match(_template_pattern(template), candidate):
                return template
    return None


# --- consent grouping (pkg/manifest/permx.go) ------------------------------------------
@dataclass
class PermissionGroup:
    name: str
    ids: list[str]
    permissions: list[str]
    excluded: list[str] = field(default_factory=list)


def group_permissions(scripts: list[dict]) -> list[PermissionGroup]:
    """One consent per compatible permission set, in script order: a script joins the first
    group whose permissions it does not exclude and whose exclusions it does not need (the
    union of both is the group's); scripts without `permissions` are in no group (they run
    without a token). The FCS keeps a joining script's exclusions only when the group
    already had some (a quirk of `addPermToGathererItem`); here they are always kept, so a
    script never runs with a permission it excludes."""
    groups: list[PermissionGroup] = []
    for script in scripts:
        perms = list(script.get("permissions") or [])
        excluded = list(script.get("permissions-excluded") or [])
        if not perms:
            continue
        for group in groups:
            if set(group.permissions) & set(excluded) or set(group.excluded) & set(perms):
                continue
            group.ids.append(script["id"])
            group.permissions += [p for p in perms if p not in group.permissions]
            group.excluded += [p for p in excluded if p not in group.excluded]
            break
        else:
            groups.append(PermissionGroup(f"accountToken{len(groups) + 1:04d}", [script["id"]],
                                          perms, excluded))
    return groups


# --- $fn: macros (pkg/model/macro.go) -----------------------------------------------------
_GO_LAYOUT = (("2006", "%Y"), ("Z07:00", "Z07:00"), ("-07:00", "-07:00"), ("01", "%m"),
              ("02", "%d"), ("15", "%H"), ("04", "%M"), ("05", "%S"))


def go_format(moment: datetime, layout: str) -> str:
    """A UTC time in a Go reference layout (the subset the manifests use)."""
    out, i = [], 0
    while i < len(layout):
        for token, meaning in _GO_LAYOUT:
            if layout.startswith(token, i):
                if token == "Z07:00":
                    out.append("Z")
                elif token == "-07:00":
                    out.append("+00:00")
                else:
                    out.append(moment.strftime(meaning))
                i += len(token)
                break
        else:
            out.append(layout[i])
            i += 1
    return "".join(out)


def _now() -> datetime:
    return datetime.now(timezone.utc)


MACROS: dict[str, Callable[..., str]] = {
    "instructionIdentificationID": lambda: uuid.uuid4().hex,
    "currentDateTime": lambda layout: go_format(_now(), layout),
    "nextDayDateTime": lambda layout: go_format(_now() + timedelta(days=1), layout),
    "previousDayDateTime": lambda layout: go_format(_now() - timedelta(days=1), layout),
    "nextDayDate": lambda layout: go_format(
        (_now() + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0), layout),
}


def call_macro(value: str) -> str:
    match = FUNCTION.match(value.strip())
    if not match:
        raise ManifestError(f"{value!r} is not a $fn: call")
    name, raw = match.group(1), match.group(2)
    if name not in MACROS:
        raise ManifestError(f"unknown macro {name}")
    args = [a for a in raw.split(",")] if raw else []
    try:
        return MACROS[name](*args)
    except TypeError as exc:
        raise ManifestError(f"macro {name} called with {len(args)} arguments") from exc


# --- parameters and substitution --------------------------------------------------------
class Unresolved(LookupError):
    """A `$variable` nothing defines (a value an earlier script should have kept)."""


def substitute(text: str, variables: dict[str, str], *, strict: bool = True) -> str:
    """`$name` replaced by its value, repeatedly (a value may name another variable)."""
    for _ in range(5):
        missing = []

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            missing.append(name)
            return match.group(0)

        new = VARIABLE.sub(replace, text)
        if new == text:
            if strict and missing:
                raise Unresolved(", ".join(f"${m}" for m in dict.fromkeys(missing)))
            return new
        text = new
    return text


def resolve_parameters(script: dict, context: dict[str, str], refs: dict | None = None) -> dict:
    """The script's variables: `$fn:` calls made, `$name` looked up in the run's context then
    data.json (a body), else left for later (a value a previous script keeps). The context is
    updated with them, as the FCS puts every script's parameters into the run's context."""
    refs = refs if refs is not None else references()
    local: dict[str, str] = {}
    params = script.get("parameters") or {}
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("$fn:"):
            local[key] = call_macro(value)
    for key, value in params.items():
        if key in local:
            continue
        name = "tokenScope" if key == "tokenRequestScope" else key
        if isinstance(value, str) and value.startswith("$") and key != "consentId":
            ref = value[1:]
            if ref in local:
                local[name] = local[ref]
            elif ref in context:
                local[name] = context[ref]
            elif body_data(ref, refs) is not None:
                local[name] = body_data(ref, refs)
            else:
                local[name] = value
        else:
            local[name] = value
    context.update({k: v for k, v in local.items() if not str(v).startswith("$")})
    return local


# --- gjson paths (the subset the manifests use) --------------------------------------------
_MISSING = object()


def _segments(path: str) -> list[str]:
    out, buf, depth, quoted = [], "", 0, False
    for ch in path:
        if ch == '"':
            quoted = not quoted
        if not quoted and ch == "[":
            depth += 1
        if not quoted and ch == "]":
            depth -= 1
        if ch == "." and depth == 0 and not quoted:
            out.append(buf)
            buf = ""
        else:
            buf += ch
    out.append(buf)
    return out


def _query(item: Any, condition: str) -> bool:
    match = re.fullmatch(r'\s*([\w.]+)\s*(==|=|!=)\s*(?:"([^"]*)"|(\S+))\s*', condition)
    if not match:
        raise ManifestError(f"JSON query [{condition}] is not supported")
    found = json_get(item, match.group(1))
    if found is _MISSING:
        return False
    equal = as_string(found) == (match.group(3) if match.group(3) is not None else match.group(4))
    return equal if match.group(2) != "!=" else not equal


def json_get(document: Any, path: str) -> Any:
    """The value at a gjson path (`a.b`, `a.0`, `a.#` count, `a.#.b` every b, `a.#[k="v"]` the
    first element matching, `a.#[k="v"]#` every one), or _MISSING."""
    node = document
    segments = _segments(path)
    for index, segment in enumerate(segments):
        rest = ".".join(segments[index + 1:])
        if segment == "#":
            if not isinstance(node, list):
                return _MISSING
            if not rest:
                return len(node)
            values = [json_get(item, rest) for item in node]
            return [v for v in values if v is not _MISSING]
        query = re.fullmatch(r"#\[(.*)\](#?)", segment)
        if query:
            if not isinstance(node, list):
                return _MISSING
            hits = [item for item in node if _query(item, query.group(1))]
            if query.group(2):
                values = [json_get(h, rest) if rest else h for h in hits]
                return [v for v in values if v is not _MISSING]
            if not hits:
                return _MISSING
            node = hits[0]
            continue
        if isinstance(node, dict):
            if segment not in node:
                return _MISSING
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return _MISSING
    return node


def as_string(value: Any) -> str:
    """gjson's Result.String(): JSON text for objects and arrays, true/false, numbers as
    written, strings as they are."""
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


# --- assertions (pkg/model/match.go, model.go) -------------------------------------------
@dataclass
class Response:
    """What an assertion sees of an HTTP response."""
    status: int
    headers: dict[str, str]
    body: str

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else _MISSING
        except ValueError:
            return _MISSING


def _field(match: dict, name: str) -> Any:
    for key, value in match.items():
        if key.lower() == name.lower():
            return value
    return None


def check_match(match: dict, response: Response, variables: dict[str, str]) -> str | None:
    """None when the match holds, else why not."""
    header = _field(match, "header")
    present = _field(match, "header-present")
    path = _field(match, "JSON")
    absent = _field(match, "JSON-NOT-PRESENT")
    value = _field(match, "value")
    if isinstance(value, str) and value.startswith("$"):
        value = substitute(value, variables, strict=False)
    if header:
        got = response.header(header)
        if value is not None and got != value:
            return f"header {header} is {got!r}, expected {value!r}"
        return None
    if present:
        if response.header(present) is None:
            return f"header {present} is missing"
        return None
    if absent:
        found = json_get(response.json(), absent)
        if found is not _MISSING and found != []:
            return f"JSON {absent} is present ({as_string(found)[:80]}), expected absent"
        return None
    if path:
        found = json_get(response.json(), path)
        if found is _MISSING or found == []:
            return f"JSON {path} is not in the body"
        if value is not None and as_string(found) != str(value):
            return f"JSON {path} is {as_string(found)[:80]!r}, expected {value!r}"
        return None
    return f"unknown match {match}"


def check_expect(expect: dict, response: Response, variables: dict[str, str]) -> list[str]:
    """The problems of one named assertion: its status code, then its matches."""
    status = expect.get("status-code")
    if isinstance(status, int) and status > 0 and status != response.status:
        return [f"status {response.status}, expected {status}"]
    problems = []
    for match in expect.get("matches") or []:
        problem = check_match(match, response, variables)
        if problem:
            problems.append(problem)
    return problems


def _expect(name: str, refs: dict) -> dict:
    if name not in refs or "expect" not in refs[name]:
        raise ManifestError(f"assertion {name} is not in assertions.json")
    return refs[name]["expect"]


def evaluate(script: dict, response: Response, variables: dict[str, str],
             refs: dict | None = None) -> list[str]:
    """Every problem of a response for a script's assertions (empty: the script passes).
    `asserts`: merged as the FCS does (the last status code named wins, every match holds);
    `asserts_one_of`: at least one holds; `asserts_last_if_all`: when every one but the last
    holds, the last must too."""
    refs = refs if refs is not None else references()
    problems: list[str] = []
    merged: dict = {"matches": []}
    for name in script.get("asserts") or []:
        expect = _expect(name, refs)
        if expect.get("status-code"):
            merged["status-code"] = expect["status-code"]
        merged["matches"] += expect.get("matches") or []
    problems += check_expect(merged, response, variables)
    one_of = script.get("asserts_one_of") or []
    if one_of:
        outcomes = {name: check_expect(_expect(name, refs), response, variables)
                    for name in one_of}
        if all(outcomes.values()):
            problems.append("none of " + ", ".join(one_of) + " holds: " + "; ".join(
                f"{name}: {', '.join(p)}" for name, p in outcomes.items()))
    last_if_all = script.get("asserts_last_if_all") or []
    if last_if_all:
        *conditions, last = last_if_all
        if all(not check_expect(_expect(n, refs), response, variables) for n in conditions):
            failed = check_expect(_expect(last, refs), response, variables)
            if failed:
                problems.append(f"{', '.join(conditions)} hold, so {last} must: "
                                + ", ".join(failed))
    return problems


def kept_value(script: dict, response: Response) -> tuple[str, str] | None:
    """keepContextOnSuccess: the (name, value) a passing script keeps for later ones."""
    keep = script.get("keepContextOnSuccess") or {}
    if not keep.get("name") or not keep.get("value"):
        return None
    found = json_get(response.json(), keep["value"])
    if found is _MISSING:
        return None
    return keep["name"], as_string(found)
