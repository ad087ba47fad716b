"""set_requirement_version: surgical rewrites of requirements text, refusals with line numbers."""

from __future__ import annotations

import pytest

from xla_tasks.errors import ConfigError
from xla_tasks.roll.requirements import RequirementChange, set_requirement_version

PATH = "requirements.txt"


def test_pin_is_replaced_and_other_lines_kept_byte_for_byte():
    text = (
        "# Pinned by xla-tasks roll\n"
        "-r base.txt\n"
        "--index-url https://pypi.org/simple\n"
        "-f https://storage.googleapis.com/jax-releases/jax_nightly_releases.html\n"
        "\n"
        "numpy==1.26.4\n"
        "jaxlib==0.4.1\n"
        "ml_dtypes>=0.2\n"
    )

    new_text, change = set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    assert new_text == text.replace("jaxlib==0.4.1\n", "jaxlib==0.4.10\n")
    assert change == RequirementChange("jaxlib", "0.4.1", "0.4.10", appended=False)


def test_markers_comments_extras_and_indentation_are_kept():
    text = (
        '  jax[cpu] == 0.4.1 ; python_version >= "3.9"  # nightly\n'
        'jax[cuda12]==0.4.1;sys_platform=="linux"\n'
    )

    new_text, change = set_requirement_version(text, "jax", "0.4.30", PATH)

    assert new_text == (
        '  jax[cpu] == 0.4.30 ; python_version >= "3.9"  # nightly\n'
        'jax[cuda12]==0.4.30;sys_platform=="linux"\n'
    )
    assert change.old == "0.4.1"


def test_crlf_file_keeps_crlf_and_appends_with_crlf():
    text = "numpy==1.26.4\r\njaxlib==0.4.1\r\n"

    rewritten, _ = set_requirement_version(text, "jaxlib", "0.4.10", PATH)
    appended, change = set_requirement_version(text, "jax", "0.4.30", PATH)

    assert rewritten == "numpy==1.26.4\r\njaxlib==0.4.10\r\n"
    assert appended == "numpy==1.26.4\r\njaxlib==0.4.1\r\njax==0.4.30\r\n"
    assert change == RequirementChange("jax", None, "0.4.30", appended=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("numpy==1.26.4\n", "numpy==1.26.4\njaxlib==0.4.10\n"),
        ("numpy==1.26.4", "numpy==1.26.4\njaxlib==0.4.10\n"),  # no final newline
        ("", "jaxlib==0.4.10\n"),
        (
            "# jaxlib==0.4.1 is commented out\n",
            "# jaxlib==0.4.1 is commented out\njaxlib==0.4.10\n",
        ),
    ],
)
def test_missing_requirement_is_appended_on_its_own_line(text: str, expected: str):
    new_text, change = set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    assert new_text == expected
    assert change == RequirementChange("jaxlib", None, "0.4.10", appended=True)


@pytest.mark.parametrize("spelling", ["JAXLIB", "JaxLib", "jaxlib"])
def test_name_matches_case_insensitively(spelling: str):
    new_text, change = set_requirement_version(f"{spelling}==0.4.1\n", "jaxlib", "0.4.10", PATH)

    assert new_text == f"{spelling}==0.4.10\n"
    assert change.old == "0.4.1"


def test_name_matches_after_pep503_normalisation_of_separators():
    """`_`, `-` and `.` runs are one separator: iree_base.compiler is iree-base-compiler."""
    text = "iree_base.compiler==3.0.0\niree-base-runtime==3.0.0\n"

    new_text, change = set_requirement_version(text, "IREE-Base_Compiler", "3.1.0", PATH)

    assert new_text == "iree_base.compiler==3.1.0\niree-base-runtime==3.0.0\n"
    assert change == RequirementChange("IREE-Base_Compiler", "3.0.0", "3.1.0", appended=False)


def test_a_longer_name_sharing_the_prefix_is_not_matched():
    text = "jax==0.4.1\njax-cuda12-plugin==0.4.1\n"

    new_text, _ = set_requirement_version(text, "jax", "0.4.30", PATH)

    assert new_text == "jax==0.4.30\njax-cuda12-plugin==0.4.1\n"


def test_already_pinned_returns_identical_text():
    text = "jaxlib==0.4.10  # keep\r\n"

    new_text, change = set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    assert new_text == text
    assert change.old == change.new == "0.4.10"
    assert not change.appended


def test_equal_version_spelled_differently_is_left_as_written():
    """0.4.10.0 is 0.4.10 under PEP 440: nothing to change, `old` shows what is written."""
    text = "jaxlib==0.4.10.0\n"

    new_text, change = set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    assert new_text == text
    assert change.old == "0.4.10.0"


def test_every_matching_line_is_rewritten_and_old_is_the_first():
    text = 'jaxlib==0.4.1 ; sys_platform == "linux"\njaxlib==0.4.2 ; sys_platform == "darwin"\n'

    new_text, change = set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    assert new_text == (
        'jaxlib==0.4.10 ; sys_platform == "linux"\njaxlib==0.4.10 ; sys_platform == "darwin"\n'
    )
    assert change.old == "0.4.1"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("jaxlib\n", "jaxlib==0.4.10\n"),
        ("jaxlib[cuda]  # any\n", "jaxlib[cuda]==0.4.10  # any\n"),
        ('jaxlib; python_version < "3.13"\n', 'jaxlib==0.4.10; python_version < "3.13"\n'),
        ("jaxlib>=0.4.1\n", "jaxlib==0.4.10\n"),
        ("jaxlib >= 0.4.1 # floor\n", "jaxlib == 0.4.10 # floor\n"),
        ("jaxlib>0.4\n", "jaxlib==0.4.10\n"),
    ],
)
def test_unpinned_and_floor_requirements_become_exact_pins(line: str, expected: str):
    new_text, change = set_requirement_version(line, "jaxlib", "0.4.10", PATH)

    assert new_text == expected
    assert change == RequirementChange("jaxlib", None, "0.4.10", appended=False)


def test_arbitrary_equality_becomes_a_plain_pin():
    new_text, change = set_requirement_version("jaxlib===0.4.1\n", "jaxlib", "0.4.10", PATH)

    assert new_text == "jaxlib==0.4.10\n"
    assert change.old == "0.4.1"


@pytest.mark.parametrize(
    "line", ["jaxlib~=0.4.1", "jaxlib<0.5", "jaxlib!=0.4.2", "jaxlib>=0.4,<0.5"]
)
def test_ranges_are_refused_with_the_line_and_a_fix(line: str):
    text = f"numpy==1.26.4\n{line}\n"

    with pytest.raises(ConfigError) as caught:
        set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    message = str(caught.value)
    assert message.startswith(f"{PATH}:2: {line} limits the version; roll only rewrites")
    assert "write jaxlib==VERSION" in message


def test_hashed_requirement_is_refused_with_its_line_number():
    text = "numpy==1.26.4 --hash=sha256:aa\njaxlib==0.4.1 --hash=sha256:bb\n"

    with pytest.raises(ConfigError) as caught:
        set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    message = str(caught.value)
    assert message.startswith(f"{PATH}:2: jaxlib carries --hash; hashed requirements can't be")
    assert "pip-compile" in message
    assert "remove the hashes" in message


def test_hash_on_a_continuation_line_is_refused():
    text = "numpy==1.26.4\njaxlib==0.4.1 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"

    with pytest.raises(ConfigError, match=rf"^{PATH}:2: jaxlib carries --hash"):
        set_requirement_version(text, "jaxlib", "0.4.10", PATH)


def test_hashes_on_other_packages_do_not_stop_the_rewrite():
    text = "numpy==1.26.4 \\\n    --hash=sha256:aa\njaxlib==0.4.1\n"

    new_text, _ = set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    assert new_text == "numpy==1.26.4 \\\n    --hash=sha256:aa\njaxlib==0.4.10\n"


def test_a_hash_inside_a_comment_is_only_a_comment():
    new_text, _ = set_requirement_version(
        "jaxlib==0.4.1  # was --hash=sha256:aa\n", "jaxlib", "0.4.10", PATH
    )

    assert new_text == "jaxlib==0.4.10  # was --hash=sha256:aa\n"


def test_marker_on_a_continuation_line_is_kept():
    text = 'jaxlib==0.4.1 \\\n    ; python_version >= "3.10"\n'

    new_text, _ = set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    assert new_text == 'jaxlib==0.4.10 \\\n    ; python_version >= "3.10"\n'


def test_direct_reference_is_refused():
    text = "jaxlib @ https://example.com/jaxlib-0.4.1-py3-none-any.whl\n"

    with pytest.raises(ConfigError, match=rf"^{PATH}:1: jaxlib is a direct reference"):
        set_requirement_version(text, "jaxlib", "0.4.10", PATH)


def test_option_lines_naming_the_package_are_left_alone():
    text = (
        "-e git+https://github.com/google/jax#egg=jaxlib\n"
        "--find-links https://example.com/jaxlib/\n"
        "./jaxlib\n"
    )

    new_text, change = set_requirement_version(text, "jaxlib", "0.4.10", PATH)

    assert new_text == text + "jaxlib==0.4.10\n"
    assert change.appended


def test_invalid_version_is_a_caller_bug():
    with pytest.raises(ValueError, match="not-a-version"):
        set_requirement_version("jaxlib==0.4.1\n", "jaxlib", "not-a-version", PATH)
