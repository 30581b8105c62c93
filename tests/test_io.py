"""Reading and writing tables: formats by extension, sniffed delimiters, plain errors for plain problems."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from seedgen.errors import UserInputError
from seedgen.io import read_table, write_table


@pytest.fixture()
def caplog(caplog):
    """caplog that also sees the `seedgen` logger (it does not propagate once the CLI set it up)."""
    logger = logging.getLogger("seedgen")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.WARNING, logger="seedgen")
    yield caplog
    logger.removeHandler(caplog.handler)


def test_csv_tsv_parquet_round_trip(tmp_path):
    df = pd.DataFrame({"a": ["1.50", "2.25"], "b": ["x", "y"]})
    for name in ("t.csv", "t.tsv", "t.parquet"):
        path = tmp_path / name
        write_table(df, path)
        assert not (tmp_path / (name + ".tmp")).exists()  # written atomically
        table = read_table(path)
        assert list(table.data.columns) == ["a", "b"]
        assert table.data["b"].tolist() == ["x", "y"]
        assert table.raw["a"].tolist()[0] in ("1.50", "1.5")
    assert "\t" in (tmp_path / "t.tsv").read_text()


def test_append(tmp_path):
    path = tmp_path / "t.csv"
    write_table(pd.DataFrame({"a": [1]}), path)
    write_table(pd.DataFrame({"a": [2]}), path, append=True)
    assert read_table(path).data["a"].tolist() == [1, 2]


def test_semicolon_delimiter_sniffed(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b\n1;x\n2;y\n")
    table = read_table(path)
    assert list(table.data.columns) == ["a", "b"] and table.delimiter == ";"


def test_decimal_commas_of_a_semicolon_file_are_numbers(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("date;co;n;station\n10/03/2004;2,6;12;A,1\n11/03/2004;-0,75;7;B\n12/03/2004;11;3;C\n")
    table = read_table(path)
    assert table.data["co"].tolist() == [2.6, -0.75, 11.0]
    assert table.raw["co"].tolist() == ["2.6", "-0.75", "11"]  # formats are learned from a point
    assert table.data["station"].tolist() == ["A,1", "B", "C"]  # not a number: left as written
    assert table.data["date"].tolist()[0] == "10/03/2004"


def test_a_file_writing_decimal_points_keeps_its_commas_as_text(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("a;b\n1,5;2.5\n2,5;3.5\n")
    table = read_table(path)
    assert table.data["a"].tolist() == ["1,5", "2,5"] and table.data["b"].tolist() == [2.5, 3.5]


def test_uci_style_spaces_and_question_marks(tmp_path):
    """UCI tables separate fields with ", " and mark missing values with "?", in number columns too."""
    path = tmp_path / "uci.csv"
    path.write_text("age, chol, work\n39, 212.5, State-gov\n50, ?, ?\n38, 199, Private\n")
    table = read_table(path)
    assert table.data["chol"].tolist()[::2] == [212.5, 199.0] and pd.isna(table.data["chol"][1])
    assert table.data["work"].tolist()[::2] == ["State-gov", "Private"]
    assert table.null_spellings == {"chol": "?", "work": "?"}


def test_missing_values_are_written_back_as_the_file_spelled_them(tmp_path):
    from seedgen.schema import coerce, infer_schema, render

    path = tmp_path / "r.csv"
    path.write_text("x,y,z\n1.5,a,\nNA,NA,2\n2.5,b,3\n")
    table = read_table(path)
    specs = infer_schema(table)
    assert [c.null_text for c in specs] == ["NA", "NA", None]
    back = render(coerce(table.data, specs), specs)
    assert back.iloc[1].tolist() == ["NA", "NA", "2"] and back["z"].isna().tolist() == [True, False, False]


def test_infinite_numbers_are_read_as_missing_with_a_warning(tmp_path, caplog):
    path = tmp_path / "inf.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\r\n1.5,inf\r\n2.5,-inf\r\n3.5,4\r\n")
    with caplog.at_level(logging.WARNING, logger="seedgen"):
        table = read_table(path)
    assert list(table.data.columns) == ["a", "b"]  # the byte-order mark is not part of the name
    assert table.data["b"].isna().tolist() == [True, True, False]
    assert "2 infinite value(s) read as missing" in caplog.text


def test_latin1_is_read_with_a_warning(tmp_path, caplog):
    path = tmp_path / "latin.csv"
    path.write_bytes("name,v\nJos\xe9,1\nRen\xe9e,2\n".encode("latin-1"))
    table = read_table(path)
    assert table.data["name"].tolist() == ["José", "Renée"]
    assert "latin-1" in caplog.text


def test_duplicate_columns_renamed_with_a_warning(tmp_path, caplog):
    path = tmp_path / "dup.csv"
    path.write_text("a,a,b\n1,2,3\n")
    table = read_table(path)
    assert list(table.data.columns) == ["a", "a_1", "b"]
    assert "duplicate" in caplog.text


def test_year_labels_of_a_wide_table_are_a_header(tmp_path):
    """Column labels 1960, 1961, ... (a World Bank style export) are a header, not a first row of data."""
    path = tmp_path / "wide.csv"
    path.write_text("country,1960,1961,1962,1963\nAruba,4.82,4.65,,4.27\nChad,6.2,6.3,6.3,6.4\n")
    table = read_table(path)
    assert list(table.data.columns) == ["country", "1960", "1961", "1962", "1963"] and len(table.data) == 2


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", "", "empty"),
        ("header.csv", "a,b\n", "no rows"),
        ("noheader.csv", "1,2\n3,4\n", "looks like data"),
        ("t.xlsx", "a\n1\n", "unknown table format"),
        ("bad.parquet", "not parquet", "Parquet"),
    ],
)
def test_bad_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UserInputError, match=message):
        read_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(UserInputError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_zone_aware_parquet_dates_run_through_profile_synthesize_and_filter(tmp_path):
    """A Parquet timestamp with a zone is read as the wall-clock time it shows (the filter's range rule
    once failed comparing zoned and plain times)."""
    from click.testing import CliRunner

    from seedgen.cli import main

    n = 300
    at = pd.date_range("2021-01-01", periods=n, freq="h", tz="Europe/Paris")
    path = tmp_path / "events.parquet"
    pd.DataFrame({"at": at, "v": np.arange(n) % 7, "c": ["a", "b", "c"] * 100}).to_parquet(path)
    data = read_table(path).data
    assert data["at"].dt.tz is None and data["at"].iloc[0] == pd.Timestamp("2021-01-01 00:00")
    run = CliRunner().invoke
    seeds, raw, out = tmp_path / "s.json", tmp_path / "raw.parquet", tmp_path / "ok.parquet"
    for args in (
        ["profile", str(path), "-o", str(seeds), "-q"],
        ["synthesize", str(seeds), "-n", "60", "-o", str(raw), "--mode", "sampler", "-q"],
        ["filter", str(raw), "--seeds", str(seeds), "-o", str(out), "-q"],
    ):
        result = run(main, args)
        assert result.exit_code == 0, result.output
    accepted = pd.to_datetime(pd.read_parquet(out)["at"])
    assert len(accepted) > 50 and accepted.between(data["at"].min(), data["at"].max()).all()
