"""A packaged model (``base``) is joined from its parts once, verified against its digest
before anything can load it, put in place atomically and privately; small fake parts here."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from tests.helpers import load_plugin_module

packaged = load_plugin_module("transcriber", "packaged")
models = load_plugin_module("transcriber", "models")
ModelError = models.ModelError

PART1, PART2 = "fake-whisper-part1", "fake-whisper-part2"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Two fake packages (through the test hook) and a ``base`` entry that describes them."""
    packages = tmp_path / "packages"
    part1 = os.urandom(5000) + b"first"
    part2 = os.urandom(3000) + b"second"
    vocabulary = "\n".join(["a", "b", "<|en|>", "<|fr|>"]) + "\n"
    contents = {
        (PART1, "model.bin.part1"): part1,
        (PART2, "model.bin.part2"): part2,
        (PART1, "config.json"): json.dumps({"lang_ids": [2, 3]}).encode(),
        (PART1, "tokenizer.json"): b"{}",
        (PART1, "vocabulary.txt"): vocabulary.encode(),
    }
    for (package, name), data in contents.items():
        folder = packages / package.replace("-", "_") / "data"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)

    def entry(package: str, name: str):
        data = contents[package, name]
        return packaged.PackagedFile(package, name, len(data), digest(data))

    model = packaged.PackagedModel(
        name="base",
        extra="multilingual",
        parts=(entry(PART1, "model.bin.part1"), entry(PART2, "model.bin.part2")),
        size=len(part1 + part2),
        sha256=digest(part1 + part2),
        files=tuple(entry(PART1, n) for n in ("config.json", "tokenizer.json", "vocabulary.txt")),
        languages="2 languages",
    )
    monkeypatch.setattr(packaged, "PACKAGED", {"base": model})
    monkeypatch.setenv(packaged.PACKAGES_DIR_ENV, str(packages))
    fake = type("Fake", (), {})()
    fake.model, fake.packages, fake.joined = model, packages, part1 + part2
    fake.models_dir = tmp_path / "data" / "models"
    return fake


def part_file(fake, package: str, name: str) -> Path:
    return fake.packages / package.replace("-", "_") / "data" / name


def test_the_parts_are_joined_verified_and_put_in_place(fake):
    seen: list[tuple[int, int]] = []
    spec = models.resolve_model(
        "base", models_dir=fake.models_dir, on_progress=lambda *a: seen.append(a)
    )
    assert spec.name == "base"
    assert spec.path == fake.models_dir / f"base-{fake.model.sha256[:12]}"
    assert (spec.path / "model.bin").read_bytes() == fake.joined
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (spec.path / name).read_bytes() == part_file(fake, PART1, name).read_bytes()
    marker = json.loads((spec.path / "verified.json").read_text())
    assert marker["sha256"] == fake.model.sha256
    assert marker["files"]["model.bin"][0] == len(fake.joined)
    # Progress goes up to the whole size, never past it.
    assert seen[-1] == (len(fake.joined), len(fake.joined))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    # Nothing but the folder and the lock file is left.
    assert {p.name for p in fake.models_dir.iterdir()} == {"base.lock", spec.path.name}
    # A second call finds it verified without a new assembly.
    again: list[tuple[int, int]] = []
    assert (
        models.resolve_model(
            "base", models_dir=fake.models_dir, on_progress=lambda *a: again.append(a)
        ).path
        == spec.path
    )
    assert again == []


def test_files_and_folders_are_private_whatever_the_umask(fake):
    old = os.umask(0o022)
    try:
        folder = packaged.prepare("base", fake.models_dir)
    finally:
        os.umask(old)
    assert fake.models_dir.stat().st_mode & 0o777 == 0o700
    assert fake.models_dir.parent.stat().st_mode & 0o777 == 0o700  # made on the way, 0700 too
    assert folder.stat().st_mode & 0o777 == 0o700
    for path in [*folder.iterdir(), fake.models_dir / "base.lock"]:
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_a_flipped_byte_is_refused_with_the_package_the_digests_and_the_fix(fake):
    damaged = part_file(fake, PART2, "model.bin.part2")
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0x01
    damaged.write_bytes(bytes(data))
    found = digest(fake.joined[:5005] + bytes(data))
    with pytest.raises(ModelError) as caught:
        models.resolve_model("base", models_dir=fake.models_dir)
    message = str(caught.value)
    assert f"from {PART2} does not match its digest" in message
    assert PART1 not in message  # the intact part is not blamed
    assert f"{fake.model.sha256[:12]}... expected, {found[:12]}... found" in message
    assert "pip install --force-reinstall 'butler-ls[multilingual]'" in message
    # Nothing that a later call (or the worker) could load is left behind.
    assert [p.name for p in fake.models_dir.iterdir()] == ["base.lock"]
    assert packaged.assembled(fake.model, fake.models_dir) is None


def test_a_part_of_the_wrong_size_is_refused_before_any_copy(fake):
    part_file(fake, PART1, "model.bin.part1").write_bytes(b"short")
    with pytest.raises(ModelError, match=rf"model.bin.part1 of the package {PART1} is 5 bytes"):
        packaged.prepare("base", fake.models_dir)
    assert [p.name for p in fake.models_dir.iterdir()] == ["base.lock"]


def test_a_missing_package_says_to_install_the_extra(fake, tmp_path: Path, monkeypatch):
    monkeypatch.setenv(packaged.PACKAGES_DIR_ENV, str(tmp_path / "nothing-installed"))
    with pytest.raises(ModelError) as caught:
        models.resolve_model("base", models_dir=fake.models_dir)
    assert "needs the optional extra butler-ls[multilingual]" in str(caught.value)
    assert "pip install 'butler-ls[multilingual]'" in str(caught.value)
    assert "set model.name to tiny.en" in str(caught.value)
    assert packaged.installed(fake.model) is False


def test_a_crash_between_writing_and_renaming_leaves_nothing_that_resolves(fake):
    pid = os.fork()
    if pid == 0:  # the child dies the hard way just before the rename: no cleanup runs
        try:
            packaged._fsync = lambda folder: os._exit(3) if folder.name.startswith(".") else None
            packaged.prepare("base", fake.models_dir)
        finally:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 3
    left = [p.name for p in fake.models_dir.iterdir()]
    assert any(name.startswith(".base-") for name in left)  # the half-done folder
    assert not (fake.models_dir / fake.model.folder_name).exists()
    assert packaged.assembled(fake.model, fake.models_dir) is None
    # The next call cleans up after it and assembles afresh.
    folder = packaged.prepare("base", fake.models_dir)
    assert (folder / "model.bin").read_bytes() == fake.joined
    assert {p.name for p in fake.models_dir.iterdir()} == {"base.lock", folder.name}


def test_a_changed_model_bin_is_verified_again_and_replaced_when_wrong(fake, monkeypatch):
    folder = packaged.prepare("base", fake.models_dir)
    model_bin = folder / "model.bin"
    joins = []
    real_join = packaged._join
    monkeypatch.setattr(packaged, "_join", lambda *a: joins.append(1) or real_join(*a))

    # Touched, same bytes: hashed again (progress shows it), kept, marker renewed.
    os.utime(model_bin, ns=(1, 1))
    assert packaged.assembled(fake.model, fake.models_dir) is None
    checked: list[tuple[int, int]] = []
    assert packaged.prepare("base", fake.models_dir, lambda *a: checked.append(a)) == folder
    assert checked[-1] == (len(fake.joined), len(fake.joined))
    assert joins == []  # hashed in place, not assembled again
    assert packaged.assembled(fake.model, fake.models_dir) == folder

    # Altered in place: the marker no longer holds, the hash fails, it is assembled anew.
    data = bytearray(model_bin.read_bytes())
    data[7] ^= 0xFF
    model_bin.write_bytes(bytes(data))
    assert packaged.prepare("base", fake.models_dir) == folder
    assert model_bin.read_bytes() == fake.joined
    assert joins == [1]


def test_concurrent_assemblies_take_turns_and_assemble_once(fake, monkeypatch):
    joins = []
    real_join = packaged._join

    def slow_join(*args, **kwargs):
        joins.append(threading.get_ident())
        return real_join(*args, **kwargs)

    monkeypatch.setattr(packaged, "_join", slow_join)
    results: list[Path | BaseException] = []

    def run() -> None:
        try:
            results.append(packaged.prepare("base", fake.models_dir))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 4 and len(set(results)) == 1, results
    assert isinstance(results[0], Path)
    assert (results[0] / "model.bin").read_bytes() == fake.joined
    assert len(joins) == 1


def test_installed_models_say_what_is_offered_without_hashing(fake):
    listed = {m["name"]: m for m in models.installed_models(fake.models_dir)}
    assert listed["tiny.en"] == {
        "name": "tiny.en",
        "source": "bundled",
        "state": "installed",
        "languages": ["en"],
    }
    assert listed["base"]["state"] == "not yet assembled"
    assert listed["base"]["source"] == "butler-ls[multilingual]"
    packaged.prepare("base", fake.models_dir)
    listed = {m["name"]: m for m in models.installed_models(fake.models_dir)}
    assert listed["base"]["state"] == "assembled"


def test_languages_come_from_the_vocabulary_without_the_weights(tmp_path: Path):
    assert models.model_languages(None, "small.en") == ["en"]
    assert models.model_languages(None, "x") is None
    bundled = models.resolve_model("tiny.en").path
    assert models.model_languages(bundled, "") == ["en"]  # 51,864 tokens: English only
    real = packaged.PACKAGED["base"]
    folder = packaged.package_folder(real)
    if folder is None:
        pytest.skip("the multilingual extra is not installed")
    languages = models.model_languages(folder, "base")
    assert len(languages) == 99 and languages[:3] == ["en", "zh", "de"]
    assert {"fr", "es", "ja", "sw"} <= set(languages)
