"""The CLI's progress display: plain lines with counts off a terminal, rich bars on one, and the progress
of an in-process Dagster run read from its event log (what `oee demo` shows while a step runs)."""

import io
import re

import dagster as dg
import pytest

from oee_pipelines.cli.progress import MODE_VARIABLE, ProgressDisplay, progress_mode, report
from oee_pipelines.cli.run_progress import execute_with_progress
from oee_pipelines.domain.progress import Progress, is_milestone

PLAIN_LINE = re.compile(r"^  \[ *\d+\.\d s\] ")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def days(done: int, points: int) -> Progress:
    return Progress("historian_points", done, 3, "days", counts={"points fetched": points}, detail="day x")


def test_off_a_terminal_progress_is_plain_lines_with_counts_first_and_last_always(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MODE_VARIABLE, raising=False)
    out = io.StringIO()
    with ProgressDisplay(out, interval=3600) as display:
        assert display.mode == "plain"
        display.note("[1/2] historian_backfill_job: backfilling")
        for done, points in [(0, 0), (1, 1_000), (2, 2_500), (3, 4_000)]:
            display.update(days(done, points))
    lines = out.getvalue().splitlines()
    # Within the interval only the first report and the finished one are printed.
    assert lines[0] == "[1/2] historian_backfill_job: backfilling"
    assert [PLAIN_LINE.sub("", line) for line in lines[1:]] == [
        "historian_points 0/3 days; 0 points fetched - day x",
        "historian_points 3/3 days; 4,000 points fetched - day x",
    ]
    assert all(PLAIN_LINE.match(line) for line in lines[1:])
    assert "\x1b[" not in out.getvalue()  # no terminal control codes in a log


def test_with_no_interval_every_change_is_a_line_and_repeats_are_not() -> None:
    out = io.StringIO()
    with ProgressDisplay(out, mode="plain", interval=0) as display:
        for progress in [days(1, 10), days(1, 10), days(2, 20)]:
            display.update(progress)
        display.update(Progress("import big.csv", 50_000, None, "rows checked"))
    texts = [PLAIN_LINE.sub("", line) for line in out.getvalue().splitlines()]
    assert texts == [
        "historian_points 1/3 days; 10 points fetched - day x",
        "historian_points 2/3 days; 20 points fetched - day x",
        "import big.csv 50,000 rows checked",
    ]


def test_on_a_terminal_progress_is_a_rich_bar_and_no_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MODE_VARIABLE, raising=False)
    terminal = FakeTerminal()
    with ProgressDisplay(terminal, interval=0) as display:
        assert display.mode == "rich"
        display.note("[5/8] historian_backfill_job: backfilling")
        for done in range(4):
            display.update(days(done, done * 1_000))
    output = terminal.getvalue()
    assert "\x1b[" in output  # drawn with terminal control codes
    assert "━" in output  # rich's bar
    assert "historian_points (days)" in output and "3/3" in output and "3,000 points fetched" in output
    assert output.count("[5/8] historian_backfill_job: backfilling") == 1
    assert not any(PLAIN_LINE.match(line) for line in output.splitlines())


def test_the_environment_forces_a_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert progress_mode(FakeTerminal(), environ={}) == "rich"
    assert progress_mode(io.StringIO(), environ={}) == "plain"
    assert progress_mode(FakeTerminal(), environ={MODE_VARIABLE: "plain"}) == "plain"
    assert progress_mode(io.StringIO(), environ={MODE_VARIABLE: "RICH"}) == "rich"
    monkeypatch.setenv(MODE_VARIABLE, "off")
    out = io.StringIO()
    with ProgressDisplay(out, interval=0) as display:
        display.update(days(3, 1))
        display.note("a note")
    assert out.getvalue() == ""


def test_report_goes_to_the_display_a_command_opened_and_nowhere_outside_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    report(days(1, 1))  # no display open: nothing
    with ProgressDisplay(out, mode="plain", interval=0):
        report(days(2, 2))
    report(days(3, 3))
    assert capsys.readouterr().out == ""
    assert [PLAIN_LINE.sub("", line) for line in out.getvalue().splitlines()] == [
        "historian_points 2/3 days; 2 points fetched - day x"
    ]


def test_milestones_are_the_first_the_last_and_about_ten_between() -> None:
    reported = [done for done in range(1, 73) if is_milestone(done, 72)]
    assert reported[0] == 1 and reported[-1] == 72
    assert 10 <= len(reported) <= 13
    assert [done for done in range(1, 4) if is_milestone(done, 3)] == [1, 2, 3]


@dg.asset
def counted_things(context: dg.AssetExecutionContext) -> None:
    for done in (1, 2):
        context.log.info(Progress("counted_things", done, 2, "things", counts={"points": done * 5}).message())
    context.log.info("an ordinary line, not progress")


@dg.asset(deps=[counted_things])
def after_things() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"files": 3})  # as the published files' assets report them


def test_a_runs_progress_is_read_from_its_event_log_while_it_runs() -> None:
    job = dg.Definitions(
        assets=[counted_things, after_things],
        jobs=[dg.define_asset_job("things_job", selection=[counted_things, after_things])],
    ).resolve_job_def("things_job")
    out = io.StringIO()
    with dg.instance_for_test() as instance, ProgressDisplay(out, mode="plain", interval=0):
        result = execute_with_progress(job, instance)
        logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert result.success
    texts = [PLAIN_LINE.sub("", line) for line in out.getvalue().splitlines()]
    # The last line says where the job ended: every step done, both assets materialized, the files
    # written, and the asset's last progress line (the ordinary line is not progress).
    assert texts[-1] == (
        "things_job 2/2 steps; 2 materializations, 3 files written - counted_things 2/2 things; 10 points"
    )
    assert all(text.startswith("things_job ") for text in texts)
    assert "progress: counted_things 1/2 things; 5 points" in logged
