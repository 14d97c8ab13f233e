"""Benchmark mode: fio's JSON output turned into a table (IOPS, p99 completion latency,
system CPU per I/O) and a bar chart (SVG, written here; PNG too when matplotlib is
installed)."""

import json
import os
import re
import shutil

from . import payload

_NAME = re.compile(r"bench-(?P<engine>[a-z]+)-(?P<target>[a-z]+)\.json$")


def row_from_fio(data, engine, target):
    """One fio run (its --output-format=json document) as a row."""
    job = data["jobs"][0]
    io = job["read"] if job["read"]["total_ios"] else job["write"]
    ios = io["total_ios"]
    # fio's sys_cpu is the job's system time over its whole run time (stat.c), in %.
    runtime_ms = job.get("job_runtime") or io.get("runtime") or 0
    pct = io.get("clat_ns", {}).get("percentile", {})
    p99 = pct.get("99.000000")
    sys_s = job.get("sys_cpu", 0.0) / 100.0 * runtime_ms / 1000.0
    return {
        "engine": engine,
        "target": target,
        "iops": io["iops"],
        "p99_us": p99 / 1000.0 if p99 is not None else None,
        "sys_us_per_io": sys_s * 1e6 / ios if ios else None,
        "ios": ios,
        "fio": data.get("fio version", "?"),
    }


def rows_from_files(paths):
    rows = []
    for p in paths:
        m = _NAME.search(os.path.basename(p))
        engine, target = (m.group("engine"), m.group("target")) if m else (os.path.basename(p), "?")
        with open(p) as f:
            text = f.read()
        # fio may print notes before the JSON document.
        rows.append(row_from_fio(json.loads(text[text.index("{"):]), engine, target))
    return sorted(rows, key=lambda r: (r["target"], r["engine"]))


def _fmt(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


def table(rows):
    """A Markdown table."""
    out = ["| target | engine | IOPS | p99 latency (µs) | system CPU per I/O (µs) |", "|---|---|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['target']} | {r['engine']} | {_fmt(r['iops'], 0)} | {_fmt(r['p99_us'])} | {_fmt(r['sys_us_per_io'], 2)} |")
    return "\n".join(out)


def svg(rows, metric="iops", title="IOPS, 4 KiB random reads"):
    """A grouped bar chart of one metric, as an SVG document."""
    targets = sorted({r["target"] for r in rows})
    engines = sorted({r["engine"] for r in rows})
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    vals = [r[metric] or 0 for r in rows] or [1]
    top = max(vals) or 1
    w, h, left, bottom, bar = 120 + 60 * len(targets) * (len(engines) + 1), 320, 70, 40, 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>']
    x = left
    for t in targets:
        for i, e in enumerate(engines):
            r = next((r for r in rows if r["target"] == t and r["engine"] == e), None)
            v = (r or {}).get(metric) or 0
            bh = (h - bottom - 40) * v / top
            parts.append(f'<rect x="{x}" y="{h - bottom - bh:.1f}" width="{bar}" height="{bh:.1f}" fill="{colours[i % 4]}"/>')
            parts.append(f'<text x="{x + bar / 2}" y="{h - bottom - bh - 4:.1f}" text-anchor="middle">{v:,.0f}</text>')
            parts.append(f'<text x="{x + bar / 2}" y="{h - bottom + 14}" text-anchor="middle">{e}</text>')
            x += bar + 10
        parts.append(f'<text x="{x - (bar + 10) * len(engines) / 2}" y="{h - bottom + 30}" text-anchor="middle" font-weight="bold">{t}</text>')
        x += 40
    parts.append(f'<line x1="{left - 5}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="black"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def plot(rows, stem):
    """Writes stem.svg (always) and stem.png (when matplotlib is there); returns what
    was written."""
    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    written = []
    with open(stem + ".svg", "w") as f:
        f.write(svg(rows))
    written.append(stem + ".svg")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    targets = sorted({r["target"] for r in rows})
    engines = sorted({r["engine"] for r in rows})
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (metric, label) in zip(axes, [("iops", "IOPS"), ("p99_us", "p99 latency (µs)"), ("sys_us_per_io", "system CPU per I/O (µs)")]):
        for i, e in enumerate(engines):
            vals = [next((r[metric] or 0 for r in rows if r["target"] == t and r["engine"] == e), 0) for t in targets]
            ax.bar([j + i * 0.25 for j in range(len(targets))], vals, width=0.25, label=e)
        ax.set_xticks([j + 0.25 for j in range(len(targets))], targets)
        ax.set_title(label)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(stem + ".png", dpi=100)
    written.append(stem + ".png")
    return written


def run(out, image, progress=print, boot_timeout=900, run_timeout=3600):
    """Boots the guest with the payload and runs guest/bench.sh there; returns
    (status, rows) and writes bench.md and the plots into `out`."""
    from . import run as vmrun

    pdir = os.path.join(out, "payload")
    payload.assemble(pdir, progress=progress)
    shutil.copyfile(os.path.join(payload.HERE, "..", "guest", "bench.sh"), os.path.join(pdir, "bench.sh"))
    status, report = vmrun.run(out, image, boot_timeout=boot_timeout, run_timeout=run_timeout, progress=progress,
                               payload_dir=pdir, script="bench.sh")
    res = os.path.join(out, "linuxaio-out")
    jsons = sorted(os.path.join(res, f) for f in os.listdir(res) if f.endswith(".json")) if os.path.isdir(res) else []
    rows = rows_from_files(jsons)
    text = table(rows)
    with open(os.path.join(out, "bench.md"), "w") as f:
        f.write(f"fio in a FreeBSD guest ({report.info.get('uname', '?')}), 4 KiB random reads\n\n{text}\n")
    progress(text)
    progress("plots: " + ", ".join(plot(rows, os.path.join(out, "bench"))))
    return status, rows
