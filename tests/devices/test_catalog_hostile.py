"""Catalog folders that are not folders, and device files that are not device files (issue 13)."""

from __future__ import annotations

import pytest

from dse.catalog import catalog_dir
from dse.cli import main
from dse.devices import Catalog
from dse.errors import SpecError


def test_a_missing_catalog_folder_exits_2_naming_it(capsys, tmp_path):
    assert main(["devices", "--catalog", str(tmp_path / "nonexistent")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nonexistent'}: expected a catalog folder" in err
    assert "found no such folder" in err and "Traceback" not in err


def test_a_file_as_catalog_folder_and_a_nul_byte_are_problems(tmp_path):
    file = tmp_path / "ncs2.yaml"
    file.write_text("name: ncs2\n")
    with pytest.raises(SpecError) as info:
        Catalog(file, "a\0b")
    assert [str(p) for p in info.value.problems] == [
        f"{file}: expected a catalog folder (devices/*.yaml, links/, platforms/, runtimes/), "
        "found a file",
        "a\\0b: expected a catalog folder, got a path with a NUL byte"]


def test_a_directory_named_like_a_device_file_is_a_problem(tmp_path):
    (tmp_path / "dev.yaml").mkdir()
    with pytest.raises(SpecError, match=r"dev.yaml: expected a regular file, found a directory"):
        Catalog(tmp_path)


def test_a_base_that_is_not_a_name_is_a_problem(tmp_path):
    (tmp_path / "dev.yaml").write_text("base: [ncs2]\nname: dev\n")
    with pytest.raises(SpecError, match=r"dev.yaml: base: expected the name of a catalog "
                                        r"device, got list"):
        Catalog(tmp_path)


def test_duplicate_keys_and_yaml_1_1_sexagesimals_in_a_device_file(tmp_path):
    (tmp_path / "dev.yaml").write_text("base: ncs2\nname: dev\nprice_usd: 1\nprice_usd: 2\n")
    with pytest.raises(SpecError) as info:
        Catalog(tmp_path)
    assert [str(p) for p in info.value.problems] == [
        f"{tmp_path / 'dev.yaml'}: line 4, column 1: duplicate key 'price_usd'; expected each "
        "key once"]
    # YAML 1.1 read 1:30 as 90 (sexagesimal); it is text now, and not a price
    (tmp_path / "dev.yaml").write_text("base: ncs2\nname: dev\nprice_usd: 1:30\n")
    with pytest.raises(SpecError, match=r"dev.yaml: price_usd: .*got '1:30'"):
        Catalog(catalog_dir("devices"), tmp_path)


def test_a_key_with_a_line_break_keeps_its_problem_on_one_line(tmp_path):
    (tmp_path / "dev.yaml").write_text('base: ncs2\nname: dev\n"a\\nb": 1\n')
    with pytest.raises(SpecError) as info:
        Catalog(catalog_dir("devices"), tmp_path)
    assert all("\n" not in str(p) for p in info.value.problems)
    assert any(p.path == "'a\\nb'" for p in info.value.problems)


def test_a_source_id_that_is_a_list_is_a_validation_problem_not_a_crash(tmp_path):
    (tmp_path / "dev.yaml").write_text("base: ncs2\nname: dev\nsources: [{id: [1]}]\n")
    with pytest.raises(SpecError, match=r"dev.yaml: sources\.0"):
        Catalog(catalog_dir("devices"), tmp_path)
