"""The cache of checked packs (policy.loader._cached): a pack file read once is read next
time from a pickle named by its bytes and the code that reads it; never in its place when
the file changed, and never an error of its own."""

from pathlib import Path

import pytest

from gongji.errors import PolicyError
from gongji.policy import load_file
from gongji.policy.loader import PACKS_DIR

KAIFENG = (PACKS_DIR / "kaifeng.yaml").read_text(encoding="utf-8")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "gongji" / "packs"


def pack_file(tmp_path: Path, text: str = KAIFENG) -> Path:
    path = tmp_path / "kaifeng.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_second_reading_is_the_cached_pack_and_equal(tmp_path, cache):
    path = pack_file(tmp_path)
    first = load_file(path)
    [entry] = cache.glob("*.pickle")
    second = load_file(path)
    assert second == first and second is not first
    assert list(cache.glob("*.pickle")) == [entry]  # read, not written again


def test_a_changed_file_is_read_again(tmp_path, cache):
    path = pack_file(tmp_path)
    before = load_file(path)
    pack_file(tmp_path, KAIFENG.replace("name: 开封市", "name: 开封"))
    after = load_file(path)
    assert (before.name, after.name) == ("开封市", "开封")
    assert len(list(cache.glob("*.pickle"))) == 2


def test_a_broken_entry_is_read_past(tmp_path, cache):
    path = pack_file(tmp_path)
    expected = load_file(path)
    [entry] = cache.glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    assert load_file(path) == expected
    assert load_file(path) == expected  # and written again whole


def test_no_cache_folder_is_no_error(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert load_file(pack_file(tmp_path)).region == "kaifeng"


def test_a_bad_pack_is_refused_every_time_and_never_cached(tmp_path, cache):
    path = pack_file(tmp_path, KAIFENG.replace("admdvs: ", "admdvs: x", 1))
    for _ in range(2):
        with pytest.raises(PolicyError, match="admdvs"):
            load_file(path)
    assert not list(cache.glob("*"))


def test_overrides_are_read_from_the_file(tmp_path, cache):
    path = pack_file(tmp_path)
    load_file(path)
    changed = load_file(path, {"general.annual_cap.employee": "3000"})
    assert changed != load_file(path)
