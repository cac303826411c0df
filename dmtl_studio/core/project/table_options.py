"""What a user names when importing a table of texts: its delimiter and its columns, checked before anything of
the table is read into a project."""

from __future__ import annotations

from collections.abc import Sequence

from dmtl_studio.core.project.errors import ProjectError

_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}


def parse_delimiter(value: str) -> str:
    """The one character a delimiter written as ``value`` stands for: itself, or ``tab`` / ``\\t``, ``comma``,
    ``semicolon``, ``pipe``, ``space`` (as typed in a shell, where a tab is hard to type).

    Raises
    ------
    ProjectError
        ``value`` is none of these (empty, several characters, a quote or a line break).
    """
    chosen = _DELIMITER_NAMES.get(value.strip().casefold() if len(value) > 1 else value, value)
    if len(chosen) != 1 or chosen in '"\r\n':
        raise ProjectError(
            f"delimiter {value!r} is not one character; give it as a character (',' ';' '|') or as tab, comma, "
            "semicolon, pipe or space"
        )
    return chosen


def check_columns(
    name: str,
    columns: Sequence[str],
    text_column: str | None,
    label_column: str | None = None,
    split_column: str | None = None,
    id_column: str | None = None,
) -> None:
    """Check that the columns named are among the table ``name``'s ``columns`` (its header), each named once.

    Raises
    ------
    ProjectError
        A named column is not in the table (the message lists its columns), or one column is named for two
        roles (text and label).
    """
    named = [
        (role, column)
        for role, column in (
            ("text", text_column),
            ("label", label_column),
            ("split", split_column),
            ("id", id_column),
        )
        if column is not None
    ]
    for i, (role, column) in enumerate(named):
        for other, same in named[:i]:
            if same == column:
                raise ProjectError(
                    f"{name}: column '{column}' cannot be both the {other} and the {role} column; name "
                    "another column for one of them. Nothing was imported from it"
                )
    for role, column in named:
        if column not in columns:
            shown = ", ".join(f"'{c}'" for c in columns[:20]) or "none"
            raise ProjectError(
                f"{name} has no {role} column '{column}'; its columns are: {shown}. Nothing was imported from it"
            )


def header_advice(warning: str, predicting: bool = False) -> str:
    """The whole message for a table whose first line looks like a row of data (``warning``:
    :attr:`~dmtl_studio.core.project.text_tables.TablePreview.header_warning`): what happens to it, what to do."""
    done, verb = ("predicted", "predict") if predicting else ("imported", "import")
    return (
        f"{warning}: it is read as the header and is not {done}; if it is a row, {verb} again with the file read "
        "as having no header line (--no-header; in the column dialog, 'The file has no header line'), or add a "
        "header line naming the columns (for example text,label)"
    )
