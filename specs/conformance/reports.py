"""The reports of a run: JSON for machines, JUnit XML for CI, and one self-contained HTML page
for people (no script, no external resource; everything the ASPSP sent is escaped)."""
from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from .engine import FAIL, PASS, SKIP, Result, summary


def to_json(results: list[Result], meta: dict) -> str:
    return json.dumps({"meta": meta, "summary": summary(results),
                       "results": [r.as_dict() for r in results]}, indent=2, sort_keys=False)


def to_junit(results: list[Result], meta: dict) -> str:
    suites = ET.Element("testsuites", name="invisible-bank-conformance",
                        tests=str(len(results)),
                        failures=str(sum(r.status == FAIL for r in results)),
                        skipped=str(sum(r.status == SKIP for r in results)))
    for plan in dict.fromkeys(r.plan for r in results):
        mine = [r for r in results if r.plan == plan]
        suite = ET.SubElement(suites, "testsuite", name=plan, tests=str(len(mine)),
                              failures=str(sum(r.status == FAIL for r in mine)),
                              skipped=str(sum(r.status == SKIP for r in mine)),
                              errors="0", time=f"{sum(r.duration for r in mine):.3f}")
        ET.SubElement(ET.SubElement(suite, "properties"), "property",
                      name="issuer", value=str(meta.get("issuer", "")))
        for r in mine:
            case = ET.SubElement(suite, "testcase", classname=f"conformance.{plan}", name=r.id,
                                 time=f"{r.duration:.3f}")
            if r.status == FAIL:
                ET.SubElement(case, "failure", message=r.message.splitlines()[0] if r.message
                              else "failed", type=r.clause).text = r.message
            elif r.status == SKIP:
                ET.SubElement(case, "skipped", message=r.message)
            ET.SubElement(case, "system-out").text = (
                f"{r.title}\nclause: {r.clause}\n" + json.dumps(r.evidence, indent=1))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.5rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left}
.bar{display:flex;height:1.4rem;border-radius:4px;overflow:hidden;margin:.5rem 0 1rem}
.bar span{display:block}.pass{background:#1d7a3a}.fail{background:#b3261e}.skip{background:#8a8a8a}
.badge{color:#fff;border-radius:3px;padding:0 .4rem;font-size:.8rem;font-weight:600}
details{border:1px solid #ddd;border-radius:4px;margin:.4rem 0;padding:.3rem .6rem}
summary{cursor:pointer}pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;
padding:.5rem;font-size:.8rem;max-height:30rem;overflow:auto}.clause{color:#444}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _check_html(r: Result) -> str:
    parts = [f'<details{" open" if r.status == FAIL else ""} id="{_e(r.plan)}-{_e(r.id)}">',
             f'<summary><span class="badge {_e(r.status)}">{_e(r.status.upper())}</span> '
             f'<code>{_e(r.plan)}/{_e(r.id)}</code> {_e(r.title)}</summary>',
             f'<p class="clause">Clause: {_e(r.clause)}</p>']
    if r.message:
        parts.append(f"<p><strong>Result:</strong></p><pre>{_e(r.message)}</pre>")
    for n, item in enumerate(r.evidence, 1):
        if "note" in item:
            parts.append(f"<p>Note {n}:</p><pre>{_e(item['note'])}</pre>")
            continue
        req, resp = item["request"], item["response"]
        parts.append(f"<p>Exchange {n}: <code>{_e(req['method'])} {_e(req['url'])}</code> "
                     f"&rarr; <strong>{_e(resp['status'])}</strong></p>"
                     f"<pre>{_e(json.dumps(item, indent=1, ensure_ascii=False))}</pre>")
    parts.append("</details>")
    return "\n".join(parts)


def to_html(results: list[Result], meta: dict) -> str:
    counts = summary(results)
    total = max(counts["total"], 1)
    bar = "".join(f'<span class="{k}" style="width:{100 * counts[k] / total:.2f}%" '
                  f'title="{counts[k]} {k}"></span>' for k in (PASS, FAIL, SKIP) if counts[k])
    rows = "".join(
        f"<tr><td>{_e(plan)}</td>" + "".join(
            f"<td>{sum(r.plan == plan and r.status == k for r in results)}</td>"
            for k in (PASS, FAIL, SKIP)) + "</tr>"
        for plan in dict.fromkeys(r.plan for r in results))
    checks = "\n".join(_check_html(r) for r in results)
    verdict = "FAILED" if counts[FAIL] else "PASSED"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conformance report: {_e(meta.get('issuer', ''))}</title><style>{STYLE}</style></head>
<body><h1>Conformance report: {verdict}</h1>
<p>Issuer <code>{_e(meta.get('issuer', ''))}</code>, plans {_e(', '.join(meta.get('plans', [])))},
started {_e(meta.get('started', ''))}, suite version {_e(meta.get('version', ''))}.</p>
<p>{counts['total']} checks: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped.</p>
<div class="bar" role="img" aria-label="{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped">{bar}</div>
<table><tr><th>plan</th><th>pass</th><th>fail</th><th>skip</th></tr>{rows}</table>
<h2>Checks</h2>
{checks}
<p>Secrets (tokens, assertions, passwords, codes, keys) are redacted from the evidence.</p>
</body></html>
"""


def write_reports(results: list[Result], meta: dict, directory: str | Path) -> dict[str, Path]:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "junit": out / "junit.xml", "html": out / "report.html"}
    paths["json"].write_text(to_json(results, meta), encoding="utf-8")
    paths["junit"].write_text(to_junit(results, meta), encoding="utf-8")
    paths["html"].write_text(to_html(results, meta), encoding="utf-8")
    return paths
