"""The guest's report: marker lines in a console log, parsed and judged.

The guest runner (guest/run.sh) prints every result as a line starting with MARKER.
Kernel messages can land in the middle of a console line, so a marker is looked for
anywhere in a line and a line that does not parse is ignored, not fatal.
"""

import dataclasses
import json
import re

MARKER = "@@LINUXAIO@@"
_LINE = re.compile(re.escape(MARKER) + r" (BEGIN|INFO|RULE|RESULT|END)(?: (.*))?$")
STATUSES = ("PASS", "FAIL", "SKIP", "TIMEOUT")


@dataclasses.dataclass
class Result:
    suite: str
    name: str
    status: str
    seconds: int
    detail: str = ""


@dataclasses.dataclass
class Report:
    payload_id: str | None = None
    info: dict = dataclasses.field(default_factory=dict)
    rules: dict = dataclasses.field(default_factory=dict)  # program -> {rule: value}
    results: list = dataclasses.field(default_factory=list)
    end: tuple | None = None  # (passed, failed, skipped) as the guest counted them

    @property
    def complete(self):
        """The guest got to its last line."""
        return self.end is not None

    def failures(self, allowed_harness=None):
        """Results that failed, but for libaio harness cases whose outcome is the one
        `allowed_harness` (case -> outcome, parse_harness_differences) lists."""
        allowed_harness = allowed_harness or {}
        return [r for r in self.results if r.status not in ("PASS", "SKIP") and not is_allowed(r, allowed_harness)]

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


def parse(text):
    """Parses the marker lines of a console log (or results.txt) into a Report."""
    report = Report()
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        at = line.find(MARKER)
        if at < 0:
            continue
        m = _LINE.match(line[at:])
        if not m:
            continue
        kind, rest = m.group(1), m.group(2) or ""
        if kind == "BEGIN":
            report.payload_id = rest.strip()
        elif kind == "INFO":
            key, _, value = rest.partition(" ")
            report.info[key] = value
        elif kind == "RULE":
            program, _, rule = rest.partition(" ")
            name, eq, value = rule.partition("=")
            if eq:
                report.rules.setdefault(program, {})[name] = value
        elif kind == "RESULT":
            words = rest.split(" ", 4)
            if len(words) < 4 or words[2] not in STATUSES or not words[3].isdigit():
                continue
            report.results.append(Result(words[0], words[1], words[2], int(words[3]), words[4] if len(words) > 4 else ""))
        elif kind == "END":
            words = rest.split()
            if len(words) == 3 and all(w.isdigit() for w in words):
                report.end = tuple(int(w) for w in words)
    return report


def parse_differences(text):
    """The rule names of tests/conformance/differences.txt (allowed to differ)."""
    names = set()
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            names.add(line.split()[0])
    return names


def parse_harness_differences(text):
    """tests/thirdparty/libaio-harness-differences.txt: case -> the outcome it may have
    instead of Linux's (PASS)."""
    allowed = {}
    for line in text.splitlines():
        words = line.split()
        if words and not line.startswith("#") and len(words) >= 2:
            allowed[words[0]] = words[1]
    return allowed


def is_allowed(result, allowed_harness):
    """A libaio harness case with exactly the outcome its listed difference gives."""
    return result.suite == "harness" and allowed_harness.get(result.name) == result.status


def compare_rules(report, expected, allowed):
    """Conformance: each program's rules on FreeBSD against Linux's (expected:
    program -> {rule: value}). Returns Results, one per program, FAIL listing the rules
    that differ outside `allowed`."""
    out = []
    for program in sorted(expected):
        got = report.rules.get(program, {})
        want = expected[program]
        differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k) and k not in allowed)
        if not got:
            out.append(Result("rules", program, "FAIL", 0, "no rules reported"))
        elif differ:
            shown = ", ".join(f"{k}: Linux {want.get(k)} FreeBSD {got.get(k)}" for k in differ[:8])
            out.append(Result("rules", program, "FAIL", 0, f"{len(differ)} rules differ: {shown}"))
        else:
            out.append(Result("rules", program, "PASS", 0, f"{len(want)} rules as on Linux"))
    return out


def parse_rules_file(text):
    """A conformance program's native output: rule=value lines."""
    rules = {}
    for line in text.splitlines():
        name, eq, value = line.partition("=")
        if eq:
            rules[name] = value
    return rules


def verdict(report, rule_results, allowed_harness=None):
    """Exit status for a run: 0 only when the guest finished, nothing failed but the
    listed harness differences, and every result the guest counted was read (a result
    line garbled on the way, by a kernel message in the middle of it, must not turn a
    failure into a pass)."""
    if not report.complete:
        return 1
    if report.failures(allowed_harness) or any(r.status != "PASS" for r in rule_results):
        return 1
    failed_read = len([r for r in report.results if r.status not in ("PASS", "SKIP")])
    if report.end[1] != failed_read or sum(report.end) != len(report.results):
        return 1
    return 0


def table(report, rule_results, allowed_harness=None):
    """A plain-text table of every result."""
    rows = [("suite", "name", "status", "s", "detail")]
    for r in report.results + rule_results:
        detail = ("listed difference; " if is_allowed(r, allowed_harness or {}) else "") + r.detail
        rows.append((r.suite, r.name, r.status, str(r.seconds), detail[:100]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(row[i].ljust(widths[i]) for i in range(4)) + "  " + row[4] for row in rows]
    if not report.complete:
        lines.append("the guest did not finish: no END line in the console log")
    return "\n".join(lines)
