"""The command line starts TensorFlow without its C++ start-up lines, unless asked."""

import os
import subprocess
import sys
import textwrap


def _run(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )


def test_an_error_after_the_start_is_the_only_line(tmp_path):
    missing = str(tmp_path / "no_run")
    run = _run(f"from tfp_realnvp.cli import main; main(['evaluate', '--logdir', {missing!r}])")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"tfp-realnvp evaluate: error: argument --logdir: {missing!r} is not a directory"
    ]


def test_what_was_held_back_is_shown_when_the_start_fails():
    run = _run(
        """
        import os
        from tfp_realnvp.cli.quiet_start import held_back_stderr
        with held_back_stderr():
            os.write(2, b"quiet unless it fails\\n")
        try:
            with held_back_stderr():
                os.write(2, b"shown: the start failed\\n")
                raise RuntimeError("no start")
        except RuntimeError:
            pass
        """
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == ["shown: the start failed"]


def test_the_user_asks_for_the_lines_with_the_environment_or_verbose_2(monkeypatch):
    from argparse import Namespace

    from tfp_realnvp.cli.quiet_start import wants_start_up_lines

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    assert not wants_start_up_lines(Namespace(verbose=1))
    assert wants_start_up_lines(Namespace(verbose=2))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    assert wants_start_up_lines(Namespace())
