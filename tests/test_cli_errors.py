"""The CLI turns bad input into a one-line error, but lets a bug (TypeError) show its traceback."""

from __future__ import annotations

import pytest

from fastscan import cli


def _fail_with(exc: Exception):
    def run(args):
        raise exc

    return run


def test_bad_input_is_one_line_and_a_bug_is_not(monkeypatch, capsys) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["simulate"])

    class Parser:
        def parse_args(self, argv):
            return args

    monkeypatch.setattr(cli, "build_parser", lambda: Parser())
    args.func = _fail_with(ValueError("image 'x.png' not found\nsecond line"))
    assert cli.main([]) == 2
    assert capsys.readouterr().err == "fastscan: error: image 'x.png' not found\n"
    args.func = _fail_with(TypeError("unsupported operand type(s) for +: 'int' and 'str'"))
    with pytest.raises(TypeError, match="unsupported operand"):
        cli.main([])
