"""Put a captured `oee demo` run into the README: `make demo` tees its output, this rewrites the block.

`python -m oee_pipelines.cli.demo_transcript OUTPUT README.md --root DIR` keeps the first
`PROGRESS_LINES` lines of the run's progress and its whole summary (from `warehouse rows`), writes
them between `<!-- demo-output:start -->` and `<!-- demo-output:end -->`, and leaves the rest of the
README as it is. The checkout's absolute path (`--root`) becomes `.`, so the block reads the same on
every machine; nothing else is changed, so the block is the run's own output, not typed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

START_MARKER = "<!-- demo-output:start -->"
END_MARKER = "<!-- demo-output:end -->"
SUMMARY_START = "warehouse rows"
PROGRESS_LINES = 15
_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class TranscriptError(ValueError):
    """The output holds no demo summary, or the README has no block to rewrite."""


def excerpt(output: str, root: str | None = None, progress_lines: int = PROGRESS_LINES) -> list[str]:
    """The first `progress_lines` lines before the summary, a line counting the others, the summary."""
    text = _TERMINAL_CODES.sub("", output)
    if root:
        text = text.replace(root.rstrip("/") + "/", "./").replace(root.rstrip("/"), ".")
    lines = [line.rstrip() for line in text.splitlines()]
    starts = [index for index, line in enumerate(lines) if line.startswith(SUMMARY_START)]
    if not starts:
        raise TranscriptError(f"no `{SUMMARY_START}` summary in the demo output: did the demo finish?")
    progress = [line for line in lines[: starts[0]] if line]
    summary = lines[starts[0] :]
    while summary and not summary[-1]:
        summary.pop()
    shown = progress[:progress_lines]
    more = len(progress) - len(shown)
    omitted = [f"... ({more} more progress lines)"] if more else []
    return [*shown, *omitted, "", *summary]


def rewrite_block(readme: str, lines: list[str]) -> str:
    """`readme` with the text between the markers replaced by `lines` in a text code block."""
    start, end = readme.find(START_MARKER), readme.find(END_MARKER)
    if start < 0 or end < start:
        raise TranscriptError(f"the README has no {START_MARKER} ... {END_MARKER} block")
    block = "\n".join([START_MARKER, "```text", *lines, "```", ""])
    return readme[:start] + block + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the captured output of `oee demo`")
    parser.add_argument("readme", type=Path, help="the README holding the demo-output block")
    parser.add_argument("--root", help="the checkout's absolute path, shown as `.`")
    args = parser.parse_args(argv)
    try:
        lines = excerpt(args.output.read_text(encoding="utf-8", errors="replace"), args.root)
        readme = args.readme.read_text(encoding="utf-8")
        args.readme.write_text(rewrite_block(readme, lines), encoding="utf-8")
    except (OSError, TranscriptError) as exc:
        print(f"demo transcript: {exc}", file=sys.stderr)
        return 1
    print(f"updated the demo run in {args.readme} ({len(lines)} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
