"""python -m specs.conformance --issuer URL --config FILE [--plan ...] [--only PATTERN]
[--report-dir DIR]: runs the plans against the ASPSP at URL, writes report.json, junit.xml and
report.html, and exits 1 when a check fails (2 on a usage error)."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from . import VERSION
from .engine import FAIL, Context, Progress, run, select, summary
from .plans import PLANNED, PLANS, checks_of
from .reports import write_reports


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m specs.conformance", description=__doc__)
    p.add_argument("--issuer", required=True, help="the ASPSP's issuer identifier (base URL)")
    p.add_argument("--config", required=True, help="JSON: the TPP's directory or client, the "
                   "redirect URI, the customer who approves (see specs/conformance/README.md)")
    p.add_argument("--plan", action="append", default=None,
                   help=f"plan to run, repeatable or comma-separated: {', '.join(PLANS)} or all "
                   "(default all" + (f"; planned, not built yet: {', '.join(PLANNED)}"
                                     if PLANNED else "") + ")")
    p.add_argument("--only", help="run only the checks whose id matches this glob (or contains "
                   "it); comma-separated alternatives")
    p.add_argument("--report-dir", default="conformance-report", help="where the reports go")
    return p


def main(argv: list[str] | None = None, *, stream=None) -> int:
    args = parser().parse_args(argv)
    names = [n.strip() for arg in (args.plan or ["all"]) for n in arg.split(",") if n.strip()]
    try:
        checks = select(checks_of(names), args.only)
        with open(args.config, encoding="utf-8") as handle:
            config = json.load(handle)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not checks:
        print("error: no check matches", file=sys.stderr)
        return 2
    ctx = Context(issuer=args.issuer.rstrip("/"), config=config)
    meta = {"issuer": ctx.issuer, "plans": list(dict.fromkeys(c.plan for c in checks)),
            "only": args.only, "version": VERSION,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    results = run(checks, ctx, Progress(len(checks), stream=stream))
    meta["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    paths = write_reports(results, meta, args.report_dir)
    counts = summary(results)
    out = stream if stream is not None else sys.stderr
    for r in results:
        if r.status == FAIL:
            out.write(f"FAIL {r.plan}/{r.id}: {r.message.splitlines()[0] if r.message else ''}\n")
    out.write(f"{counts['total']} checks: {counts['pass']} passed, {counts['fail']} failed, "
              f"{counts['skip']} skipped. Reports: {', '.join(str(p) for p in paths.values())}\n")
    return 1 if counts[FAIL] else 0


if __name__ == "__main__":
    sys.exit(main())
