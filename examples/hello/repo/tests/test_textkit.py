"""Tests of textkit: 12 tests, 2-3 per function."""

from textkit import char_histogram, compress_runs, is_palindrome, title_case, word_count


def test_word_count_simple():
    assert word_count("hello world") == 2


def test_word_count_mixed_whitespace():
    assert word_count("  several   spaces\tand\nnewlines  ") == 4


def test_word_count_empty():
    assert word_count("") == 0
    assert word_count("   ") == 0


def test_is_palindrome_simple():
    assert is_palindrome("racecar")
    assert is_palindrome("level")


def test_is_palindrome_rejects():
    assert not is_palindrome("hello")


def test_is_palindrome_ignores_case_and_punctuation():
    assert is_palindrome("A man, a plan, a canal: Panama")
    assert is_palindrome("No 'x' in Nixon")


def test_char_histogram_counts():
    assert char_histogram("aab") == {"a": 2, "b": 1}


def test_char_histogram_ignores_case_and_non_letters():
    assert char_histogram("Hi, hi!") == {"h": 2, "i": 2}
    assert char_histogram("123 !?") == {}


def test_title_case_simple():
    assert title_case("hello world") == "Hello World"


def test_title_case_apostrophes_and_mixed_case():
    assert title_case("don't STOP  me") == "Don't Stop  Me"


def test_compress_runs_mixed():
    assert compress_runs("aaabccdddd") == "a3bc2d4"
    assert compress_runs("abc") == "abc"


def test_compress_runs_empty_and_long_run():
    assert compress_runs("") == ""
    assert compress_runs("zzzzzzzzzzzz") == "z12"
