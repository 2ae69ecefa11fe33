"""The README's demo-output block is rewritten from a captured `oee demo` run: first progress lines,
then the whole summary, the checkout's path shown as `.`; the rest of the README untouched."""

from pathlib import Path

import pytest

from oee_pipelines.cli.demo_transcript import END_MARKER, START_MARKER, TranscriptError, excerpt, main

ROOT = "/home/someone/oee"
OUTPUT = "\n".join(
    [
        "simulated source systems: http://127.0.0.1:8701",
        "[1/8] plant model: applying the plant model file and templates",
        *[f"  [  {n}.0 s] historian_backfill_job 0/1 steps; {n} materializations" for n in range(1, 21)],
        "\x1b[33mran historian_backfill_job in 20.0 s\x1b[0m",
        "",
        "warehouse rows (organization demo):",
        "  machines                           16",
        "",
        "outputs:",
        f"  lake       {ROOT}/data/lake",
        "",
        "",
    ]
)


def test_the_excerpt_keeps_the_first_progress_lines_and_the_whole_summary() -> None:
    lines = excerpt(OUTPUT, ROOT, progress_lines=3)
    assert lines == [
        "simulated source systems: http://127.0.0.1:8701",
        "[1/8] plant model: applying the plant model file and templates",
        "  [  1.0 s] historian_backfill_job 0/1 steps; 1 materializations",
        "... (20 more progress lines)",
        "",
        "warehouse rows (organization demo):",
        "  machines                           16",
        "",
        "outputs:",
        "  lake       ./data/lake",
    ]


def test_the_readme_block_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    output, readme = tmp_path / "demo-output.txt", tmp_path / "README.md"
    output.write_text(OUTPUT)
    readme.write_text(f"# title\n\nbefore\n\n{START_MARKER}\nold run\n{END_MARKER}\n\nafter\n")
    assert main([str(output), str(readme), "--root", ROOT]) == 0
    first = readme.read_text()
    assert main([str(output), str(readme), "--root", ROOT]) == 0
    assert readme.read_text() == first  # re-running on the same output changes nothing
    before, block = first.split(START_MARKER)
    block, after = block.split(END_MARKER)
    assert before == "# title\n\nbefore\n\n" and after == "\n\nafter\n"
    assert "old run" not in block
    assert block.startswith("\n```text\nsimulated source systems") and block.endswith("./data/lake\n```\n")
    assert "\x1b[" not in block and ROOT not in block


def test_an_unfinished_run_or_a_readme_without_the_block_changes_nothing(tmp_path: Path) -> None:
    with pytest.raises(TranscriptError, match="did the demo finish"):
        excerpt("[1/8] plant model: applying\noee demo: historian_backfill_job failed\n")
    output, readme = tmp_path / "demo-output.txt", tmp_path / "README.md"
    output.write_text(OUTPUT)
    readme.write_text("# no block here\n")
    assert main([str(output), str(readme)]) == 1
    assert readme.read_text() == "# no block here\n"
