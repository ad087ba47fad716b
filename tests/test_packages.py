"""find_latest_version against a real simple index served on 127.0.0.1."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from simple_index import (  # noqa: F401 (fixtures: pytest finds them in this module)
    JSON_TYPE,
    TLS_CERT,
    IndexProxy,
    SimpleIndex,
    fixture_closed_port,
    fixture_index_proxy,
    fixture_index_server,
    fixture_silent_port,
    fixture_simple_index,
    fixture_tls_index,
)

from xla_tasks.errors import PackageIndexError
from xla_tasks.roll.packages import PackageChoice, find_latest_version


def test_newest_stable_release_is_chosen_by_version_not_by_text(simple_index: SimpleIndex):
    """Given 0.4.1, 0.4.9, 0.4.10, an rc and a yanked 0.6.0, then 0.4.10 wins."""
    choice = find_latest_version("jaxlib", index_url=simple_index.index_url)

    assert choice == PackageChoice("jaxlib", "0.4.10", simple_index.index_url)


def test_pre_allows_release_candidates_but_never_yanked_files(simple_index: SimpleIndex):
    choice = find_latest_version("jaxlib", index_url=simple_index.index_url, pre=True)

    assert choice.version == "0.5.0rc1"


def test_name_is_matched_after_pep503_normalisation(simple_index: SimpleIndex):
    """Asked as `IREE_Base.Compiler`, the index page is iree-base-compiler/ with wheels
    spelled iree_base_compiler and an sdist spelled iree-base-compiler."""
    choice = find_latest_version("IREE_Base.Compiler", index_url=simple_index.index_url)

    assert choice == PackageChoice("IREE_Base.Compiler", "3.1.0", simple_index.index_url)
    assert any(path == "/simple/iree-base-compiler/" for path, _ in simple_index.served)


def test_json_project_page_is_negotiated_and_skips_yanked(simple_index: SimpleIndex):
    """jax exists only as PEP 691 JSON, so finding it proves the JSON path is used."""
    stable = find_latest_version("jax", index_url=simple_index.index_url)
    nightly = find_latest_version("jax", index_url=simple_index.index_url, pre=True)

    assert stable.version == "0.4.30"
    assert nightly.version == "0.5.0.dev20261101"
    assert ("/simple/jax/", JSON_TYPE) in simple_index.served


def test_find_links_alone_reads_only_that_page(simple_index: SimpleIndex):
    """No index_url with find_links: PyPI is not consulted; other packages' wheels ignored."""
    choice = find_latest_version("jaxlib", find_links=[simple_index.nightly_url], pre=True)

    assert choice == PackageChoice("jaxlib", "0.5.1.dev20261102", simple_index.nightly_url)
    assert [path for path, _ in simple_index.served] == ["/nightly.html"]


def test_nightly_only_page_without_pre_says_how_to_allow_them(simple_index: SimpleIndex):
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", find_links=[simple_index.nightly_url])

    assert str(caught.value) == (
        f"jaxlib: no release on {simple_index.nightly_url} "
        "(pre-releases excluded; set pre = true to allow them)"
    )


def test_newest_across_index_and_find_links_names_its_source(simple_index: SimpleIndex):
    """Index has 0.4.10 and 0.5.0rc1, the nightly page 0.5.1.dev: each wins in its mode."""
    sources = {"index_url": simple_index.index_url, "find_links": [simple_index.nightly_url]}

    stable = find_latest_version("jaxlib", **sources)
    newest = find_latest_version("jaxlib", pre=True, **sources)

    assert (stable.version, stable.source) == ("0.4.10", simple_index.index_url)
    assert (newest.version, newest.source) == ("0.5.1.dev20261102", simple_index.nightly_url)


def test_only_yanked_and_pre_releases_is_an_error_naming_package_and_url(
    simple_index: SimpleIndex,
):
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("onlypre", index_url=simple_index.index_url)

    assert str(caught.value) == (
        f"onlypre: no release on {simple_index.index_url} "
        "(pre-releases excluded; set pre = true to allow them)"
    )
    assert find_latest_version("onlypre", index_url=simple_index.index_url, pre=True).version == (
        "0.1.0rc1"
    )


def test_unknown_project_is_a_one_line_error_naming_it(simple_index: SimpleIndex):
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("no-such-project", index_url=simple_index.index_url)

    message = str(caught.value)
    assert message.startswith(f"no-such-project: not found on {simple_index.index_url} (HTTP 404")
    assert "\n" not in message


def test_project_only_on_find_links_is_found_although_the_index_lacks_it(
    simple_index: SimpleIndex,
):
    """As pip does: the index's 404 is no error when a find-links page may have it."""
    choice = find_latest_version(
        "jaxlib_cuda12_plugin",
        index_url=simple_index.index_url,
        find_links=[simple_index.nightly_url],
        pre=True,
    )
    assert choice.version == "9.0.0.dev20261102"
    assert choice.source == simple_index.nightly_url
    with pytest.raises(PackageIndexError, match="jaxlib_cuda12_plugin: not found on"):
        find_latest_version("jaxlib_cuda12_plugin", index_url=simple_index.index_url, pre=True)


def test_invalid_json_page_is_one_line_error(simple_index: SimpleIndex):
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("badjson", index_url=simple_index.index_url)

    message = str(caught.value)
    assert message.startswith(f"badjson: cannot read {simple_index.index_url}: ")
    assert "validation error" in message
    assert "\n" not in message


def test_password_in_index_url_is_masked_in_results_and_errors(simple_index: SimpleIndex):
    url = simple_index.index_url.replace("http://", "http://ci:s3cret@")
    shown = simple_index.index_url.replace("http://", "http://***@")  # engine.redact's form

    choice = find_latest_version("jaxlib", index_url=url)
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("no-such-project", index_url=url)

    assert choice.source == shown
    assert str(caught.value).startswith(f"no-such-project: not found on {shown} (HTTP 404")
    assert "s3cret" not in str(caught.value)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_credentials_in_the_index_url_are_sent_as_basic_auth(simple_index: SimpleIndex):
    """A private index in `https://user:token@host/simple`, as pip takes it."""
    url = simple_index.index_url.replace("http://", "http://ci:s3%2Fcret@")

    find_latest_version("jaxlib", index_url=url)

    assert simple_index.authorizations == [("/simple/jaxlib/", _basic("ci", "s3/cret"))]


def test_credentials_stay_behind_when_a_redirect_leaves_the_host(simple_index: SimpleIndex):
    url = f"{simple_index.base_url}/elsewhere/simple".replace("http://", "http://ci:s3cret@")

    assert find_latest_version("jaxlib", index_url=url).version == "0.4.10"
    assert simple_index.authorizations == [
        ("/elsewhere/simple/jaxlib/", _basic("ci", "s3cret")),
        ("/simple/jaxlib/", None),  # on localhost: another host to the client
    ]


def test_netrc_credentials_are_sent_to_their_host(
    simple_index: SimpleIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login ci password from-netrc\n")
    monkeypatch.setenv("NETRC", str(netrc))

    find_latest_version("jaxlib", find_links=[simple_index.nightly_url], pre=True)

    assert simple_index.authorizations == [("/nightly.html", _basic("ci", "from-netrc"))]


def test_redirected_index_is_read_where_it_moved(simple_index: SimpleIndex):
    url = f"{simple_index.base_url}/moved/simple"

    assert find_latest_version("jaxlib", index_url=url) == PackageChoice("jaxlib", "0.4.10", url)
    assert [path for path, _ in simple_index.served][-1] == "/simple/jaxlib/"


def _use_proxy(monkeypatch: pytest.MonkeyPatch, proxy: str, no_proxy: str | None) -> None:
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        if no_proxy is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, no_proxy)


def test_proxy_from_the_environment_is_used_with_its_credentials(
    index_proxy: IndexProxy, monkeypatch: pytest.MonkeyPatch
):
    """As pip and requests: HTTP_PROXY carries the request, `user:pass@` authenticates."""
    _use_proxy(monkeypatch, index_proxy.url.replace("http://", "http://pu:pp@"), None)

    choice = find_latest_version("jaxlib", index_url="http://index.invalid/simple")

    assert choice.version == "7.7.7"
    assert index_proxy.seen == [("http://index.invalid/simple/jaxlib/", _basic("pu", "pp"))]


def test_no_proxy_networks_and_names_bypass_the_proxy(
    simple_index: SimpleIndex, index_proxy: IndexProxy, monkeypatch: pytest.MonkeyPatch
):
    for no_proxy in ("10.0.0.0/8, 127.0.0.0/8", "example.com,127.0.0.1"):
        _use_proxy(monkeypatch, index_proxy.url, no_proxy)

        assert find_latest_version("jaxlib", index_url=simple_index.index_url).version == ("0.4.10")
    assert index_proxy.seen == []


def test_tls_is_verified_and_a_ca_bundle_from_the_environment_is_trusted(
    tls_index: SimpleIndex, monkeypatch: pytest.MonkeyPatch
):
    """No CA store trusts the test certificate; REQUESTS_CA_BUNDLE (as pip) makes it trusted."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", index_url=tls_index.index_url)
    assert str(caught.value).startswith(f"jaxlib: cannot read {tls_index.index_url}: [SSL: ")
    assert "certificate verify failed" in str(caught.value)

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(TLS_CERT))
    assert find_latest_version("jaxlib", index_url=tls_index.index_url).version == "0.4.10"


def test_newer_major_api_version_is_refused(simple_index: SimpleIndex):
    """PEP 629: version 2 pages may mean something else; guessing could pick a wrong file."""
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("future", index_url=simple_index.index_url)

    assert str(caught.value) == (
        f"future: cannot read {simple_index.index_url}: "
        "repository version 2.0 is newer than the 1.x this reader knows"
    )


def test_server_error_names_url_and_status(simple_index: SimpleIndex):
    url = f"{simple_index.base_url}/status/500/simple"

    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", index_url=url)

    assert str(caught.value) == f"jaxlib: cannot read {url}: HTTP 500 Internal Server Error"


def test_missing_find_links_page_names_url(simple_index: SimpleIndex):
    url = f"{simple_index.base_url}/gone.html"

    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", find_links=[url])

    assert str(caught.value) == f"jaxlib: cannot read {url}: HTTP 404 File not found"


def test_one_failing_source_fails_the_lookup(simple_index: SimpleIndex, closed_port: int):
    """A newest version that depends on which server was up would not be reproducible."""
    dead = f"http://127.0.0.1:{closed_port}/nightly.html"

    with pytest.raises(PackageIndexError, match=f"^jaxlib: cannot read {dead}: "):
        find_latest_version("jaxlib", index_url=simple_index.index_url, find_links=[dead])


def test_unreachable_index_names_url_and_reason(closed_port: int):
    url = f"http://127.0.0.1:{closed_port}/simple"

    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", index_url=url)

    assert str(caught.value) == f"jaxlib: cannot read {url}: [Errno 111] Connection refused"


def test_silent_server_fails_at_the_deadline_when_that_comes_first(silent_port: int):
    url = f"http://127.0.0.1:{silent_port}/simple"

    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", index_url=url, timeout=30, deadline=0.3)

    assert str(caught.value) == f"jaxlib: cannot read {url}: not read within 0.3 s"


def test_timeout_is_honoured(silent_port: int):
    """A server that accepts and never answers: the error comes after `timeout` seconds."""
    url = f"http://127.0.0.1:{silent_port}/simple"

    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", index_url=url, timeout=0.2)

    assert str(caught.value) == f"jaxlib: cannot read {url}: no answer within 0.2 s"


def test_file_index_directory_is_read_like_a_served_one(simple_index: SimpleIndex):
    url = simple_index.file_index_url

    assert find_latest_version("Jaxlib", index_url=url) == PackageChoice("Jaxlib", "0.4.10", url)
    with pytest.raises(PackageIndexError, match=r"^nope: not found on file://"):
        find_latest_version("nope", index_url=url)


def test_file_find_links_directory_lists_its_files(simple_index: SimpleIndex):
    url = simple_index.wheel_dir.as_uri()

    assert find_latest_version("jaxlib", find_links=[url]).version == "0.7.0"
    assert find_latest_version("jaxlib", find_links=[url], pre=True).version == "0.7.1.dev1"


def test_file_find_links_page_and_missing_file(simple_index: SimpleIndex):
    page = (simple_index.root / "nightly.html").as_uri()
    missing = (simple_index.root / "absent.html").as_uri()

    assert find_latest_version("jaxlib", find_links=[page], pre=True).version == (
        "0.5.1.dev20261102"
    )
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", find_links=[missing])
    assert str(caught.value) == f"jaxlib: cannot read {missing}: No such file or directory"


@pytest.mark.parametrize("url", ["ftp://example.com/simple", "/abs/path/simple"])
def test_unsupported_url_scheme_is_refused(url: str):
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version("jaxlib", index_url=url)

    assert str(caught.value) == (
        f"jaxlib: cannot read {url}: only http://, https:// and file:// URLs are supported"
    )


@pytest.mark.parametrize("name", ["../etc", "jaxlib\n", "-jaxlib", ""])
def test_invalid_package_name_is_refused_before_any_request(name: str):
    with pytest.raises(PackageIndexError) as caught:
        find_latest_version(name, index_url="http://127.0.0.1:9/simple")

    assert str(caught.value) == f"{name!r}: not a valid Python package name (PEP 508)"
