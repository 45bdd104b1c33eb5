"""textkit: a few small text utilities.

Every function below is a stub; the task is to implement them so that
`python -m pytest -q` passes.
"""


def word_count(text: str) -> int:
    """Return the number of whitespace-separated words in `text`."""
    raise NotImplementedError


def is_palindrome(text: str) -> bool:
    """Return True if `text` reads the same both ways, ignoring case and
    every character that is not a letter or a digit."""
    raise NotImplementedError


def char_histogram(text: str) -> dict[str, int]:
    """Count the letters of `text`, case-insensitively (keys are lowercase);
    characters that are not letters are ignored."""
    raise NotImplementedError


def title_case(text: str) -> str:
    """Upper-case the first character of each space-separated word and
    lower-case the rest; spacing is kept as it is."""
    raise NotImplementedError


def compress_runs(text: str) -> str:
    """Run-length encode `text`: each run of a repeated character becomes the
    character followed by the run length; a run of length 1 is written as the
    bare character ("aaabcc" -> "a3bc2")."""
    raise NotImplementedError
