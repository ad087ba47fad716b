"""render.py on its own: the checks that keep bad values out of a rendered sync_deps.py."""

from __future__ import annotations

import pytest

from xla_tasks.pins import sync_deps_script as render

SHA = "0123456789abcdef0123456789abcdef01234567"
URL = "https://github.com/openxla/xla.git"


def test_empty_pins_render_the_template_block_verbatim() -> None:
    text = render.render_sync_deps_script({}, {}, {}, {})
    assert text.startswith(f"{render.SHEBANG}\n{render.HEADER}\n")
    block = text[text.index(render.BEGIN_MARKER) : text.index(render.END_MARKER)]
    assert block.splitlines()[1:] == [
        "PINNED_VERSIONS = {}",
        "ORIGINS = {}",
        "SUBMODULES = {}",
        "BRANCHES = {}",
        "EXCLUDE_SUBMODULES = {}",
    ]
    assert text.count(render.BEGIN_MARKER) == 1
    assert text.endswith('if __name__ == "__main__":\n    sys.exit(main())\n')


def test_only_flagged_submodules_are_listed() -> None:
    text = render.render_sync_deps_script(
        {"a": SHA, "b": SHA}, {"a": URL, "b": URL}, {"a": True, "b": 0}, {}
    )
    assert "SUBMODULES = {\n    'a': 1,\n}" in text


@pytest.mark.parametrize(
    ("pinned", "origins", "submodules", "branches", "message"),
    [
        ({"xla": "abc"}, {"xla": URL}, {}, {}, "invalid rev"),
        ({"xla": SHA.upper()}, {"xla": URL}, {}, {}, "invalid rev"),
        ({"../x": SHA}, {"../x": URL}, {}, {}, "invalid name"),
        ({"xla": SHA}, {}, {}, {}, "has no URL"),
        ({"xla": SHA}, {"xla": "--upload-pack=touch /tmp/x"}, {}, {}, "must not start with '-'"),
        ({"xla": SHA}, {"xla": "ext::sh -c touch% /tmp/x"}, {}, {}, "transport"),
        ({"xla": SHA}, {"xla": URL, "jax": URL}, {}, {}, "origins names deps that are not pinned"),
        ({"xla": SHA}, {"xla": URL}, {"jax": 1}, {}, "submodules names deps"),
        ({"xla": SHA}, {"xla": URL}, {"xla": 2}, {}, "must be 0 or 1"),
        ({"xla": SHA}, {"xla": URL}, {}, {"xla": "-main"}, "invalid branch"),
    ],
)
def test_bad_values_never_reach_a_rendered_script(
    pinned: dict[str, str],
    origins: dict[str, str],
    submodules: dict[str, int],
    branches: dict[str, str],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        render.render_sync_deps_script(pinned, origins, submodules, branches)


def test_a_template_without_markers_is_a_bug_not_a_silent_render() -> None:
    with pytest.raises(RuntimeError, match="markers"):
        render._split_template(f"{render.SHEBANG}\nprint('no block')\n")


def test_the_template_module_imports_with_empty_pins() -> None:
    from xla_tasks.pins import script_template as sync_deps_template

    assert sync_deps_template.PINNED_VERSIONS == {}
    assert sync_deps_template.main.__module__ == "xla_tasks.pins.script_template"
