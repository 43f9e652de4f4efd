"""The data-folder rule of a session request: which csv paths a server on the network may
read, case by case (relative, absolute, ``..``, links, several folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.engine.request import OutsideDataFolders, confine_csv_files


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "data", tmp_path / "more"
    for folder in (first, second):
        folder.mkdir()
    (first / "btc.csv").write_text("x")
    (second / "btc.csv").write_text("x")
    (second / "eth.csv").write_text("x")
    (tmp_path / "outside.csv").write_text("x")
    return first, second


def test_a_file_name_is_looked_up_in_each_folder_and_the_first_wins(folders):
    first, second = folders
    assert confine_csv_files({"BTC": "btc.csv", "ETH": "eth.csv"}, folders) == {
        "BTC": str(first / "btc.csv"), "ETH": str(second / "eth.csv")}


def test_an_absolute_path_inside_a_folder_is_kept(folders):
    _, second = folders
    assert confine_csv_files({"ETH": str(second / "eth.csv")}, folders) == {
        "ETH": str(second / "eth.csv")}


@pytest.mark.parametrize("path", ["../outside.csv", "../../etc/passwd", "/etc/passwd",
                                  "{tmp}/outside.csv", "{tmp}/missing.csv"])
def test_a_path_that_leads_out_of_the_folders_is_refused_naming_them(folders, tmp_path, path):
    with pytest.raises(OutsideDataFolders) as refused:
        confine_csv_files({"BTC": path.format(tmp=tmp_path)}, folders)
    assert str(folders[0]) in str(refused.value) and "data folders" in str(refused.value)


def test_a_link_that_leads_out_is_refused(folders, tmp_path):
    first, _ = folders
    (first / "link.csv").symlink_to(tmp_path / "outside.csv")
    with pytest.raises(OutsideDataFolders):
        confine_csv_files({"BTC": "link.csv"}, folders)


def test_a_missing_file_inside_the_folders_is_a_plain_parameter_error(folders):
    with pytest.raises(ParameterError, match=r"no such file sol\.csv") as missing:
        confine_csv_files({"SOL": "sol.csv"}, folders)
    assert not isinstance(missing.value, OutsideDataFolders)


def test_on_loopback_a_bare_name_is_looked_up_in_the_folders_and_other_paths_kept(
        folders, tmp_path):
    """A bare name with no file where the server runs is the data folders' file; any other
    path (absolute, relative with a folder, or missing everywhere) is left for the feed to
    open or refuse, as a caller on the server's own machine may name any file."""
    from velocitas_desktop.engine.request import find_bare_names

    first, second = folders
    elsewhere = tmp_path / "outside.csv"
    assert find_bare_names({"BTC": "btc.csv", "ETH": "eth.csv", "SOL": "sol.csv",
                            "XRP": str(elsewhere), "ADA": "more/eth.csv"}, folders) == {
        "BTC": str(first / "btc.csv"), "ETH": str(second / "eth.csv"), "SOL": "sol.csv",
        "XRP": str(elsewhere), "ADA": "more/eth.csv"}
