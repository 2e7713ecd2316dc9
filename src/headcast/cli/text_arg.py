"""Text given on the command line: the text itself, ``-`` for stdin or ``@FILE``.

A transcript read this way may be a subtitle (``.srt``, ``.vtt``) or ``.stm`` file: the
phone analysis tells the formats apart by their content and uses their times.
"""

from __future__ import annotations

import sys
from pathlib import Path

from headcast.errors import InputError


def read_text_argument(value: str) -> str:
    """The text ``value`` stands for: itself, standard input for ``-``, a UTF-8 file for ``@FILE``."""
    if value == "-":
        return sys.stdin.read()
    if value.startswith("@") and len(value) > 1:
        path = Path(value[1:])
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"text file '{path}' not found") from None
        except UnicodeDecodeError:
            raise InputError(f"text file '{path}' is not UTF-8 text") from None
        except OSError as exc:
            raise InputError(f"cannot read text file '{path}': {exc.strerror or exc}") from None
    return value
